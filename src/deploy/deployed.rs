//! What is deployed against what is rendered: the step `ce diff`, `ce plan` and `ce deploy`
//! share, so all three read the account the same way and reach the same verdict.
//!
//! [`diff_env`] renders the env, fetches every stack (and its template) at once, diffs them
//! with the pure core in [`crate::diff`], and only then asks who imports the exports that would
//! change or disappear, since an imported export is what makes CloudFormation refuse an update.
//! An unchanged env therefore costs one round trip. A stack that is busy or broken is not an
//! error here: its status travels with it, and [`status_note`] says what it means.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::architecture::{self, StackId, UserDataError};
use crate::aws::cloudformation::{DeployedStack, FetchError};
use crate::aws::{AccountError, Aws, joined};
use crate::config::Env;
use crate::diff::{
    self, ChangeSetEvidence, ChangedImports, DiffError, EnvDiff, ExportChange, StackDiff,
};
use crate::drift::StackDriftStatus;
use crate::render::{self, RenderedStack};

/// One stack of the env: its fresh render and, if it exists, what CloudFormation has.
#[derive(Clone, Debug)]
pub struct StackPair {
    /// Which stack.
    pub id: StackId,
    /// `ce-<env>-<stack>`.
    pub name: String,
    /// The rendered template as text, with its size.
    pub rendered: RenderedStack,
    /// The rendered template, parsed.
    pub rendered_json: Value,
    /// The stack as deployed; `None` when it does not exist.
    pub deployed: Option<DeployedStack>,
}

impl StackPair {
    /// The deployed template the diff compares against: `None` when no resource of the stack is
    /// live (absent, a creation that rolled back, or a stack only a change set ever created).
    pub fn baseline(&self) -> Option<&Value> {
        let deployed = self.deployed.as_ref()?;
        if holds_no_resources(&deployed.status) {
            None
        } else {
            Some(&deployed.template)
        }
    }

    /// The deployed stack's status, e.g. `UPDATE_COMPLETE`.
    pub fn status(&self) -> Option<&str> {
        self.deployed.as_ref().map(|d| d.status.as_str())
    }

    /// What an unusual status means for the user, with CloudFormation's reason when it gave one.
    pub fn status_note(&self) -> Option<String> {
        let deployed = self.deployed.as_ref()?;
        status_note(&deployed.status, deployed.status_reason.as_deref())
    }

    /// What the last drift detection found, when it found drift: a sentence for the diff.
    pub fn drift_note(&self) -> Option<String> {
        let deployed = self.deployed.as_ref()?;
        (deployed.drift == Some(StackDriftStatus::Drifted)).then(|| {
            let when = deployed
                .drift_checked
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default();
            format!(
                "its last drift detection{when} found resources changed outside \
                 CloudFormation, which this diff does not see; `ce drift` shows them"
            )
        })
    }

    /// Whether the stack exists only as the remains of a failed creation and has to be deleted
    /// before it can be created again.
    pub fn must_be_recreated(&self) -> bool {
        self.status()
            .is_some_and(|s| s == "ROLLBACK_COMPLETE" || s == "ROLLBACK_FAILED")
    }
}

/// Statuses in which the stack holds none of its template's resources.
fn holds_no_resources(status: &str) -> bool {
    matches!(status, "ROLLBACK_COMPLETE" | "REVIEW_IN_PROGRESS")
}

/// What a stack status means, in a sentence, for the statuses that need one; `None` for the
/// healthy `*_COMPLETE` states.
pub fn status_note(status: &str, reason: Option<&str>) -> Option<String> {
    let because = reason
        .filter(|r| !r.is_empty())
        .map(|r| format!(" (CloudFormation: {r})"))
        .unwrap_or_default();
    let note = match status {
        "REVIEW_IN_PROGRESS" => {
            "a change set created it but none was executed; it holds no resources yet".to_owned()
        }
        "ROLLBACK_COMPLETE" => format!(
            "its creation failed and was rolled back{because}; it holds no resources and must \
             be deleted before it can be created again"
        ),
        "ROLLBACK_FAILED" => format!(
            "its creation failed and so did the rollback{because}; delete it (resources it \
             still holds may need deleting by hand) before creating it again"
        ),
        "UPDATE_ROLLBACK_FAILED" => format!(
            "an update failed and its rollback failed too{because}; fix the cause, then run \
             `aws cloudformation continue-update-rollback --stack-name <stack>` before deploying"
        ),
        "UPDATE_ROLLBACK_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS" => {
            format!("its last update failed and was rolled back{because}")
        }
        "DELETE_FAILED" => format!(
            "a deletion failed{because}; some resources are still there and the stack can only \
             be deleted again"
        ),
        s if s.ends_with("_IN_PROGRESS") => {
            "an operation is running on it; a deploy has to wait until it finishes".to_owned()
        }
        s if s.ends_with("_FAILED") => format!("its last operation failed{because}"),
        _ => return None,
    };
    Some(note)
}

/// An env's stacks, deployed and rendered, and the diff between them.
#[derive(Clone, Debug)]
pub struct DeployedEnv {
    /// The env's name.
    pub env: String,
    /// Its stacks (all, or the one asked for), in deploy order.
    pub stacks: Vec<StackPair>,
    /// Exports that would change or disappear and that some stack imports, with the names of
    /// the stacks importing them, sorted.
    pub importers: BTreeMap<String, Vec<String>>,
    /// The diff, one entry per stack in the order of `stacks`.
    pub diff: EnvDiff,
}

impl DeployedEnv {
    /// Diffs `stacks`, treating the exports in `importers` as imported by other stacks.
    pub fn new(
        env: String,
        stacks: Vec<StackPair>,
        importers: BTreeMap<String, Vec<String>>,
    ) -> Result<Self, DeployedError> {
        let imported: BTreeSet<String> = importers.keys().cloned().collect();
        // In deploy order, so an export that changes value reaches the stacks importing it.
        let mut changed = ChangedImports::new();
        let mut diffs = Vec::with_capacity(stacks.len());
        for s in &stacks {
            let input = diff::StackInput::new(&s.name, s.baseline(), &s.rendered_json, &imported)
                .with_changed_imports(&changed);
            let stack_diff = diff::diff_stack(&input)
                .map(|d| with_importers(d, &importers))
                .map_err(|source| DeployedError::Diff {
                    stack: s.name.clone(),
                    source,
                })?;
            diff::record_changed_exports(&stack_diff, &mut changed);
            diffs.push(stack_diff);
        }
        Ok(DeployedEnv {
            diff: EnvDiff {
                env: env.clone(),
                stacks: diffs,
            },
            env,
            stacks,
            importers,
        })
    }

    /// The stack with this id, if it is part of this diff.
    pub fn stack(&self, id: StackId) -> Option<&StackPair> {
        self.stacks.iter().find(|s| s.id == id)
    }

    /// The diff of the stack with this id, if it is part of this diff.
    pub fn stack_diff(&self, id: StackId) -> Option<&StackDiff> {
        let index = self.stacks.iter().position(|s| s.id == id)?;
        self.diff.stacks.get(index)
    }

    /// Every export that some stack imports, among those that would change or disappear.
    pub fn imported_exports(&self) -> BTreeSet<String> {
        self.importers.keys().cloned().collect()
    }

    /// Diffs one stack again with what its change set said, replacing the offline prediction.
    pub fn refine(
        &mut self,
        id: StackId,
        evidence: &ChangeSetEvidence,
    ) -> Result<(), DeployedError> {
        let index = self.stacks.iter().position(|s| s.id == id).ok_or_else(|| {
            DeployedError::NotInDiff {
                stack: id.to_string(),
            }
        })?;
        let imported = self.imported_exports();
        let mut changed = ChangedImports::new();
        for earlier in &self.diff.stacks[..index] {
            diff::record_changed_exports(earlier, &mut changed);
        }
        let stack = &self.stacks[index];
        let input = diff::StackInput::new(
            &stack.name,
            stack.baseline(),
            &stack.rendered_json,
            &imported,
        )
        .with_change_set(evidence)
        .with_changed_imports(&changed);
        let refined = diff::diff_stack(&input).map_err(|source| DeployedError::Diff {
            stack: stack.name.clone(),
            source,
        })?;
        self.diff.stacks[index] = with_importers(refined, &self.importers);
        Ok(())
    }
}

/// The diff with each export's importers filled in, as found in the account.
fn with_importers(mut diff: StackDiff, importers: &BTreeMap<String, Vec<String>>) -> StackDiff {
    for export in &mut diff.exports {
        export.imported_by = importers.get(&export.name).cloned().unwrap_or_default();
    }
    diff
}

/// Why the deployed and rendered stacks could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DeployedError {
    /// A stack was asked for that this diff does not hold.
    #[error("stack {stack} is not part of this diff")]
    NotInDiff {
        /// The stack.
        stack: String,
    },
    /// The env could not be rendered.
    #[error("rendering env {env}")]
    Render {
        /// The env.
        env: String,
        /// Why.
        #[source]
        source: UserDataError,
    },
    /// A rendered template did not parse back, which would be a bug in the renderer.
    #[error("the rendered template of {stack} is not JSON; this is a bug in ce")]
    RenderedNotJson {
        /// The stack.
        stack: String,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// The credentials are for another account than the env file's.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The deployed stacks could not be read; the AWS sentence says why and what to do.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Who imports an export could not be found out.
    #[error("finding the stacks that import export {export}")]
    Imports {
        /// The export.
        export: String,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// A template could not be compared.
    #[error("comparing the deployed and rendered templates of {stack}")]
    Diff {
        /// The stack.
        stack: String,
        /// Why.
        #[source]
        source: DiffError,
    },
}

/// Why deploying `live` now would cut the env's traffic, as the user reads it, or `None`: the
/// compute stack's change locks the load balancer to the origin header (an env deployed before
/// origin protection), and the deployed distribution does not send the header yet. Deployed in
/// dependency order compute goes first, so every request through CloudFront would get 403
/// until the edge stack is updated; the order that loses nothing is network, edge, then all.
/// The edge stack is read when `live` does not hold it (`--stack compute`), and only then.
pub async fn origin_lock_too_early(
    aws: &Aws,
    live: &DeployedEnv,
) -> Result<Option<String>, DeployedError> {
    // The diff says whether the lock is new; only then does the edge stack matter.
    let Some((compute, _)) = live
        .stacks
        .iter()
        .zip(&live.diff.stacks)
        .find(|(s, d)| s.id == StackId::Compute && d.security.origin_lock_begins)
    else {
        return Ok(None);
    };
    let edge_name = architecture::stack_name(&live.env, StackId::Edge);
    let fetched;
    let edge = match live.stacks.iter().find(|s| s.id == StackId::Edge) {
        Some(pair) => pair.baseline(),
        None => {
            fetched = aws.cloudformation().fetch_stack(&edge_name).await?;
            fetched
                .as_ref()
                .filter(|d| !holds_no_resources(&d.status))
                .map(|d| &d.template)
        }
    };
    // No deployed distribution: no traffic through CloudFront to cut.
    let Some(edge) = edge else {
        return Ok(None);
    };
    let edge = diff::normalise::normalise_template(edge, "deployed").map_err(|source| {
        DeployedError::Diff {
            stack: edge_name.clone(),
            source,
        }
    })?;
    if diff::sends_origin_header(&edge) {
        return Ok(None);
    }
    let env = &live.env;
    Ok(Some(format!(
        "{} would make the load balancer answer 403 to every request without the {} \
         header, and the deployed distribution ({edge_name}) does not send it yet: deploying \
         compute first would cut the site off until the distribution is updated. Deploy in \
         this order: `ce --env {env} deploy --stack network`, then `ce --env {env} deploy \
         --stack edge`, then `ce --env {env} deploy` (README: Origin protection)",
        compute.name,
        architecture::ORIGIN_HEADER,
    )))
}

/// Renders `env`, reads its stacks (all, or `only`) from CloudFormation at once, and diffs
/// them; exports that would change or vanish are checked for importers.
pub async fn diff_env(
    aws: &Aws,
    env: &Env,
    only: Option<StackId>,
) -> Result<DeployedEnv, DeployedError> {
    let env_name = env.name.to_string();
    let ids: Vec<StackId> = StackId::ALL
        .into_iter()
        .filter(|id| only.is_none_or(|o| o == *id))
        .collect();
    let names: Vec<String> = ids
        .iter()
        .map(|id| architecture::stack_name(&env_name, *id))
        .collect();

    // The account check is one STS call; it runs alongside the fetch instead of before it.
    let guard = {
        let aws = aws.clone();
        let account = env.file.account_id.clone();
        tokio::spawn(async move { aws.guard_account(account.as_deref()).await })
    };
    let fetch = {
        let cfn = aws.cloudformation();
        let names = names.clone();
        tokio::spawn(async move { cfn.fetch_stacks(names).await })
    };
    // Rendering is a few milliseconds of CPU: done on another thread while the requests are out.
    let render = {
        let env = env.clone();
        tokio::task::spawn_blocking(move || render::render_env(&env))
    };
    let rendered: Vec<RenderedStack> = joined(render)
        .await
        .map_err(|source| DeployedError::Render {
            env: env_name.clone(),
            source,
        })?
        .into_iter()
        .filter(|s| ids.contains(&s.id))
        .collect();
    let deployed = joined(fetch).await;
    joined(guard).await?;
    let deployed = deployed?;
    debug_assert!(rendered.iter().map(|r| &r.stack_name).eq(names.iter()));

    let mut stacks = Vec::with_capacity(rendered.len());
    for (rendered, deployed) in rendered.into_iter().zip(deployed) {
        let rendered_json = serde_json::from_str(&rendered.text).map_err(|source| {
            DeployedError::RenderedNotJson {
                stack: rendered.stack_name.clone(),
                source,
            }
        })?;
        stacks.push(StackPair {
            id: rendered.id,
            name: rendered.stack_name.clone(),
            rendered,
            rendered_json,
            deployed,
        });
    }

    let first = DeployedEnv::new(env_name, stacks, BTreeMap::new())?;
    let at_risk: BTreeSet<String> = first
        .diff
        .stacks
        .iter()
        .flat_map(|s| &s.exports)
        .filter(|e| matches!(e.change, ExportChange::Removed | ExportChange::ValueChanged))
        .map(|e| e.name.clone())
        .collect();
    let importers = find_importers(aws, at_risk).await?;
    if importers.is_empty() {
        return Ok(first);
    }
    DeployedEnv::new(first.env, first.stacks, importers)
}

/// Asks, all at once, which stacks import each export; keeps only the imported ones.
async fn find_importers(
    aws: &Aws,
    exports: BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<String>>, DeployedError> {
    let cfn = aws.cloudformation();
    let tasks: Vec<(String, JoinHandle<_>)> = exports
        .into_iter()
        .map(|export| {
            let cfn = cfn.clone();
            let name = export.clone();
            (
                export,
                tokio::spawn(async move { cfn.list_imports(&name).await }),
            )
        })
        .collect();
    let mut importers = BTreeMap::new();
    for (export, task) in tasks {
        let stacks = joined(task)
            .await
            .map_err(|source| DeployedError::Imports {
                export: export.clone(),
                source,
            })?;
        if !stacks.is_empty() {
            importers.insert(export, stacks);
        }
    }
    Ok(importers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_statuses_need_no_note() {
        for status in ["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"] {
            assert_eq!(status_note(status, None), None, "{status}");
        }
    }

    #[test]
    fn a_busy_stack_says_a_deploy_waits() {
        let note = status_note("UPDATE_IN_PROGRESS", None).expect("a note");
        assert!(note.contains("operation is running"), "{note}");
    }

    #[test]
    fn a_failed_update_rollback_says_how_to_continue_and_why() {
        let note = status_note("UPDATE_ROLLBACK_FAILED", Some("Resource Lb failed")).unwrap();
        assert!(note.contains("continue-update-rollback"), "{note}");
        assert!(
            note.contains("(CloudFormation: Resource Lb failed)"),
            "{note}"
        );
    }

    #[test]
    fn a_rolled_back_creation_holds_no_resources() {
        assert!(holds_no_resources("ROLLBACK_COMPLETE"));
        assert!(holds_no_resources("REVIEW_IN_PROGRESS"));
        assert!(!holds_no_resources("UPDATE_ROLLBACK_FAILED"));
        let note = status_note("ROLLBACK_COMPLETE", None).unwrap();
        assert!(note.contains("must be deleted"), "{note}");
    }
}
