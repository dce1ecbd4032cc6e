//! The plan file: what `ce plan --out plan.json` decided, so `ce deploy --plan plan.json` can
//! execute exactly that and nothing else.
//!
//! A plan records, per stack, the change set it created (kept for review), the SHA-256 of the
//! template that change set was made from, the parameters (NoEcho values redacted), and what the
//! stack looked like when planned (id, last-updated time, a fingerprint of its deployed
//! template). Deploying checks all of that again: a plan for another env, a template that
//! renders differently now, a stack changed since, or a change set CloudFormation no longer
//! offers (`OBSOLETE`) are refused with a sentence saying to plan again. Pure data and checks;
//! no AWS calls.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diff::DiffClass;

/// Version of the plan file's layout.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// How a redacted (NoEcho) parameter value is written.
pub const REDACTED: &str = "****";

/// A plan's verdict, as the diff's class (with the same exit codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Exit 0.
    NoChanges,
    /// Exit 2.
    Changes,
    /// Exit 3.
    NeedsApproval,
}

impl From<DiffClass> for Verdict {
    fn from(class: DiffClass) -> Self {
        match class {
            DiffClass::NoChanges => Verdict::NoChanges,
            DiffClass::Changes => Verdict::Changes,
            DiffClass::NeedsApproval => Verdict::NeedsApproval,
        }
    }
}

impl From<Verdict> for DiffClass {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::NoChanges => DiffClass::NoChanges,
            Verdict::Changes => DiffClass::Changes,
            Verdict::NeedsApproval => DiffClass::NeedsApproval,
        }
    }
}

/// What the plan does to one stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedAction {
    /// A `CREATE` change set.
    Create,
    /// An `UPDATE` change set.
    Update,
    /// Nothing to change (or the change set was empty and deleted).
    NoChanges,
    /// No change set could be made now (a stack it imports from does not exist yet, or the
    /// stack is busy or broken); the reason says which. Plan again after deploying.
    Deferred,
}

/// A change set the plan created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChangeSet {
    /// Its ARN.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// One stack of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedStack {
    /// The short name: `network`, `storage`, ...
    pub stack: String,
    /// `ce-<env>-<stack>`.
    pub stack_name: String,
    /// What the plan does to it.
    pub action: PlannedAction,
    /// Why it is deferred, or a note about an empty change set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The stack's ARN (from CreateChangeSet for a new stack); `None` when deferred and absent.
    pub stack_id: Option<String>,
    /// Its status when planned.
    pub status: Option<String>,
    /// Its last-updated time when planned (RFC 3339).
    pub last_updated: Option<String>,
    /// SHA-256 of its deployed template when planned (canonical JSON); `None` if no template.
    pub deployed_template_sha256: Option<String>,
    /// The change set, when one was kept.
    pub change_set: Option<PlannedChangeSet>,
    /// SHA-256 of the template the change set was made from (compact JSON, as sent).
    pub template_sha256: String,
    /// Its size in bytes.
    pub template_bytes: usize,
    /// Parameter values; NoEcho values are [`REDACTED`].
    pub parameters: BTreeMap<String, String>,
    /// The diff's class.
    pub class: Verdict,
    /// The diff in its JSON form (see `ce diff --format json`), refined by the change set.
    pub diff: Value,
    /// The diff as text, as it was printed.
    pub diff_text: String,
}

/// A plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// The `ce` version that made it.
    pub tool_version: String,
    /// The env.
    pub env: String,
    /// The env's region.
    pub region: String,
    /// The env's account, when its file names one.
    pub account_id: Option<String>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The worst class of its stacks.
    pub class: Verdict,
    /// The exit code `ce plan` ended with.
    pub exit_code: u8,
    /// Why its changes need approval, one line each.
    #[serde(default)]
    pub approval_reasons: Vec<String>,
    /// Its stacks, in deploy order.
    pub stacks: Vec<PlannedStack>,
    /// The changed resources and what they reach, drawn in the markdown report; absent in
    /// plans without changes (and in plans made before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_diagram: Option<crate::graph::change::ChangeDiagram>,
    /// The export changes that importing stacks block, each with the steps that carry it
    /// out (as `ce diff` gives them); absent when there are none (and in plans made before
    /// they were recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_exports: Vec<crate::diff::BlockedExport>,
}

/// Why a plan file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// It could not be read or written.
    #[error("{action} plan file {path}: {source}")]
    Io {
        /// `reading` or `writing`.
        action: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a plan. The advice names a new file: the one given may be anything,
    /// a committed template included, and must not be overwritten on our word.
    #[error(
        "{path} is not a ce plan file ({source}); make a plan with `ce plan --out plan.json`, \
         then deploy it with `ce deploy --plan plan.json`"
    )]
    NotAPlan {
        /// The file.
        path: String,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// It is a CloudFormation template (a rendered stack, say), not a plan.
    #[error(
        "{path} is a CloudFormation template, not a ce plan file; make a plan with \
         `ce plan --out plan.json`, then deploy it with `ce deploy --plan plan.json`"
    )]
    Template {
        /// The file.
        path: String,
    },
    /// A plan layout this `ce` does not know.
    #[error(
        "{path} has plan format {found}, this ce reads format {PLAN_FORMAT_VERSION}; plan again \
         with this version"
    )]
    Version {
        /// The file.
        path: String,
        /// Its `format_version`.
        found: u32,
    },
}

/// What a planned stack looks like now, for [`PlannedStack::stale_reasons`].
#[derive(Clone, Debug, Default)]
pub struct Current<'a> {
    /// SHA-256 of the template rendered now.
    pub template_sha256: &'a str,
    /// The stack's ARN now; `None` if it does not exist.
    pub stack_id: Option<&'a str>,
    /// Its status now.
    pub status: Option<&'a str>,
    /// Its last-updated time now.
    pub last_updated: Option<&'a str>,
    /// SHA-256 of its deployed template now.
    pub deployed_template_sha256: Option<&'a str>,
    /// The change set's `ExecutionStatus` now; `None` if it is gone.
    pub execution_status: Option<&'a str>,
}

impl PlannedStack {
    /// Every reason the planned change set may no longer be executed; empty when it may.
    pub fn stale_reasons(&self, now: &Current<'_>) -> Vec<String> {
        let name = &self.stack_name;
        let mut reasons = Vec::new();
        if now.template_sha256 != self.template_sha256 {
            reasons.push(format!(
                "{name}: its template renders differently now than when planned (env file or \
                 ce changed)"
            ));
        }
        if self.stack_id.is_some() && now.stack_id != self.stack_id.as_deref() {
            reasons.push(match now.stack_id {
                Some(_) => format!("{name}: the stack was deleted and created again since"),
                None => format!("{name}: the stack no longer exists"),
            });
        }
        let fingerprint_changed = self.deployed_template_sha256.is_some()
            && now.deployed_template_sha256 != self.deployed_template_sha256.as_deref();
        if now.last_updated != self.last_updated.as_deref() || fingerprint_changed {
            reasons.push(format!(
                "{name}: the stack was updated after the plan was made"
            ));
        }
        // A planned creation finds the stack as its change set left it, holding nothing yet.
        if self.action == PlannedAction::Create
            && now.stack_id.is_some()
            && now.status != Some("REVIEW_IN_PROGRESS")
        {
            reasons.push(format!(
                "{name}: the stack was created after the plan was made"
            ));
        }
        match now.execution_status {
            Some("AVAILABLE") => {}
            Some("OBSOLETE") => reasons.push(format!(
                "{name}: CloudFormation marks its change set OBSOLETE (the stack changed since)"
            )),
            Some(other) => {
                reasons.push(format!("{name}: its change set is {other}, not AVAILABLE"))
            }
            None => reasons.push(format!("{name}: its change set no longer exists")),
        }
        reasons
    }
}

impl PlanFile {
    /// Why this plan is not for `env` in `region`, if it is not.
    pub fn wrong_env(&self, env: &str, region: &str) -> Option<String> {
        if self.env != env {
            Some(format!(
                "the plan is for env {}, not {env}; run with --env {} or plan {env} again",
                self.env, self.env
            ))
        } else if self.region != region {
            Some(format!(
                "the plan is for region {}, but env {env} is in {region} now; plan again",
                self.region
            ))
        } else {
            None
        }
    }

    /// Reads a plan file.
    pub fn load(path: &Path) -> Result<Self, PlanFileError> {
        // The path came from the command line: keep it on one line.
        let shown = crate::printer::escape_control(&path.display().to_string()).into_owned();
        let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Io {
            action: "reading",
            path: shown.clone(),
            source,
        })?;
        let parsed = serde_json::from_str::<Value>(&text).ok();
        if parsed.as_ref().is_some_and(is_template) {
            return Err(PlanFileError::Template { path: shown });
        }
        let version = parsed.and_then(|v| v.get("format_version")?.as_u64());
        if let Some(found) = version.filter(|v| *v != u64::from(PLAN_FORMAT_VERSION)) {
            return Err(PlanFileError::Version {
                path: shown,
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_str(&text).map_err(|source| PlanFileError::NotAPlan {
            path: shown,
            source,
        })
    }

    /// Writes the plan file atomically (a temporary file, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), PlanFileError> {
        let io = |source| PlanFileError::Io {
            action: "writing",
            path: path.display().to_string(),
            source,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, format!("{text}\n")).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The stacks that have a change set to execute.
    pub fn executable(&self) -> impl Iterator<Item = &PlannedStack> {
        self.stacks.iter().filter(|s| s.change_set.is_some())
    }
}

/// Whether a JSON document is a CloudFormation template rather than a plan.
fn is_template(doc: &Value) -> bool {
    doc.get("format_version").is_none()
        && (doc.get("Resources").is_some() || doc.get("AWSTemplateFormatVersion").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn planned() -> PlannedStack {
        PlannedStack {
            stack: "compute".into(),
            stack_name: "ce-beta-compute".into(),
            action: PlannedAction::Update,
            reason: None,
            stack_id: Some("arn:stack/ce-beta-compute/1".into()),
            status: Some("UPDATE_COMPLETE".into()),
            last_updated: Some("2025-01-02T03:04:05Z".into()),
            deployed_template_sha256: Some("old".into()),
            change_set: Some(PlannedChangeSet {
                id: "arn:changeSet/ce-plan-1/1".into(),
                name: "ce-plan-1".into(),
            }),
            template_sha256: "new".into(),
            template_bytes: 100,
            parameters: BTreeMap::from([("Secret".into(), REDACTED.into())]),
            class: Verdict::Changes,
            diff: json!({"resources": []}),
            diff_text: "ce-beta-compute: 1 to modify\n".into(),
        }
    }

    fn as_planned<'a>(p: &'a PlannedStack) -> Current<'a> {
        Current {
            template_sha256: &p.template_sha256,
            stack_id: p.stack_id.as_deref(),
            status: p.status.as_deref(),
            last_updated: p.last_updated.as_deref(),
            deployed_template_sha256: p.deployed_template_sha256.as_deref(),
            execution_status: Some("AVAILABLE"),
        }
    }

    #[test]
    fn an_unchanged_stack_with_an_available_change_set_is_current() {
        let p = planned();
        assert_eq!(p.stale_reasons(&as_planned(&p)), Vec::<String>::new());
    }

    #[test]
    fn an_obsolete_change_set_is_stale() {
        let p = planned();
        let now = Current {
            execution_status: Some("OBSOLETE"),
            ..as_planned(&p)
        };
        let reasons = p.stale_reasons(&now);
        assert_eq!(reasons.len(), 1);
        assert!(reasons[0].contains("OBSOLETE"), "{reasons:?}");
    }

    #[test]
    fn a_stack_updated_since_is_stale_by_time_or_by_template() {
        let p = planned();
        let later = Current {
            last_updated: Some("2025-01-03T00:00:00Z"),
            ..as_planned(&p)
        };
        assert!(p.stale_reasons(&later)[0].contains("updated after the plan"));
        let other_template = Current {
            deployed_template_sha256: Some("changed"),
            ..as_planned(&p)
        };
        assert!(p.stale_reasons(&other_template)[0].contains("updated after the plan"));
    }

    #[test]
    fn a_planned_creation_is_stale_once_the_stack_was_created_otherwise() {
        let mut p = planned();
        p.action = PlannedAction::Create;
        p.status = Some("REVIEW_IN_PROGRESS".into());
        p.deployed_template_sha256 = None;
        p.last_updated = None;
        let waiting = Current {
            deployed_template_sha256: Some("whatever the review stack holds"),
            ..as_planned(&p)
        };
        assert_eq!(p.stale_reasons(&waiting), Vec::<String>::new());
        let created = Current {
            status: Some("CREATE_COMPLETE"),
            ..as_planned(&p)
        };
        assert!(p.stale_reasons(&created)[0].contains("created after the plan"));
    }

    #[test]
    fn a_template_that_renders_differently_now_is_stale() {
        let p = planned();
        let now = Current {
            template_sha256: "newer",
            ..as_planned(&p)
        };
        assert!(p.stale_reasons(&now)[0].contains("renders differently"));
    }

    #[test]
    fn a_plan_for_another_env_is_refused_naming_both() {
        let plan = PlanFile {
            format_version: PLAN_FORMAT_VERSION,
            tool_version: "0.1.0".into(),
            env: "staging".into(),
            region: "us-east-1".into(),
            account_id: None,
            created_at: "2025-01-02T03:04:05Z".into(),
            class: Verdict::Changes,
            exit_code: 2,
            approval_reasons: Vec::new(),
            stacks: vec![planned()],
            change_diagram: None,
            blocked_exports: Vec::new(),
        };
        let why = plan.wrong_env("prod", "us-east-1").expect("refused");
        assert!(why.contains("staging") && why.contains("prod"), "{why}");
        assert_eq!(plan.wrong_env("staging", "us-east-1"), None);
    }

    #[test]
    fn a_plan_survives_a_round_trip_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let plan = PlanFile {
            format_version: PLAN_FORMAT_VERSION,
            tool_version: "0.1.0".into(),
            env: "beta".into(),
            region: "us-east-1".into(),
            account_id: Some("123456789012".into()),
            created_at: "2025-01-02T03:04:05Z".into(),
            class: Verdict::Changes,
            exit_code: 2,
            approval_reasons: Vec::new(),
            stacks: vec![planned()],
            change_diagram: Some(crate::graph::change::ChangeDiagram {
                changed: vec![crate::graph::change::ChangedNode {
                    id: crate::graph::NodeId::new("storage", "FileSystem"),
                    resource_type: "AWS::EFS::FileSystem".into(),
                    impact: crate::diff::Impact::Replace,
                    stateful: true,
                }],
                ..Default::default()
            }),
            blocked_exports: vec![crate::diff::BlockedExport {
                export: "ce-beta-network-SubnetIds".into(),
                exporter: "ce-beta-network".into(),
                change: crate::diff::ExportChange::ValueChanged,
                importers: vec!["ce-beta-storage".into()],
                waiting: vec!["ce-beta-storage/MountTargetA".into()],
                steps: vec![
                    "Stop importing it.".into(),
                    "Deploy ce-beta-network.".into(),
                ],
            }],
        };
        plan.save(&path).unwrap();
        assert_eq!(PlanFile::load(&path).unwrap(), plan);
        std::fs::write(&path, r#"{"format_version": 99}"#).unwrap();
        assert!(matches!(
            PlanFile::load(&path),
            Err(PlanFileError::Version { found: 99, .. })
        ));
    }

    #[test]
    fn a_template_given_as_a_plan_is_named_as_one_and_the_advice_names_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network.json");
        std::fs::write(
            &path,
            r#"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}"#,
        )
        .unwrap();

        let err = PlanFile::load(&path).unwrap_err();

        assert!(matches!(err, PlanFileError::Template { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("is a CloudFormation template"), "{text}");
        assert!(
            !text.contains(&format!("--out {}", path.display())),
            "{text}"
        );
        assert!(text.contains("`ce plan --out plan.json`"), "{text}");
    }

    #[test]
    fn the_advice_for_a_file_that_is_no_plan_never_names_that_file_as_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "not json").unwrap();

        let text = PlanFile::load(&path).unwrap_err().to_string();

        assert!(text.contains("is not a ce plan file"), "{text}");
        assert!(
            !text.contains(&format!("--out {}", path.display())),
            "{text}"
        );
    }
}
