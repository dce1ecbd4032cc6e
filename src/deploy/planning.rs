//! Plans against CloudFormation: making a plan's change sets, and checking before `deploy
//! --plan` that each is still exactly what was reviewed.
//!
//! Every stack's change set is made at once (making one changes nothing). A stack whose
//! dependencies do not exist yet cannot have one, since its imports would not resolve: it is
//! deferred, and so is a busy or broken stack, each with the reason.

use std::collections::BTreeMap;

use serde_json::Value;

use super::api::{ChangeSetKind, ChangeSetRequest, StackApi};
use super::changeset::{self, Prepared};
use super::failure::{self, Start};
use super::jobs::{StackJob, sha256_hex};
use super::order::Schedule;
use super::timing::Timing;
use super::{DeployError, policy};
use crate::architecture::StackId;
use crate::aws::AwsError;
use crate::aws::cloudformation::DeployedStack;
use crate::deploy::plan_file::{Current, PlanFile, PlannedAction, PlannedChangeSet, REDACTED};
use crate::diff::{ChangeSetEvidence, StackDiff};

/// What planning found for one stack, before the diff is refined.
#[derive(Clone, Debug)]
pub struct StackPlan {
    /// Which stack.
    pub id: StackId,
    /// What the plan does to it.
    pub action: PlannedAction,
    /// Why deferred, or a note.
    pub reason: Option<String>,
    /// The stack's ARN, if it exists (or the change set created it).
    pub stack_id: Option<String>,
    /// The change set kept.
    pub change_set: Option<PlannedChangeSet>,
    /// What the change set said.
    pub evidence: Option<ChangeSetEvidence>,
}

/// One stack to plan: the job and the stack as read by the diff.
pub struct PlanTarget<'a> {
    /// The job (template, tags, ...).
    pub job: &'a StackJob,
    /// The stack as deployed, if it exists.
    pub deployed: Option<&'a DeployedStack>,
    /// The offline diff.
    pub diff: &'a StackDiff,
    /// Stacks it depends on that do not exist (or hold no resources) yet.
    pub missing_dependencies: Vec<String>,
}

/// Makes a change set for every target that needs one, all at once.
pub async fn make_change_sets<A: StackApi>(
    api: &A,
    timing: &Timing,
    region: &str,
    change_set_name: &str,
    targets: &[PlanTarget<'_>],
) -> Vec<Result<StackPlan, DeployError>> {
    let ids: Vec<StackId> = targets.iter().map(|t| t.job.id).collect();
    let everything_at_once = Schedule::with_table(&ids, &|_| Vec::new());
    everything_at_once
        .run(
            |id| {
                let target = targets.iter().find(|t| t.job.id == id);
                async move {
                    match target {
                        Some(t) => plan_stack(api, timing, region, change_set_name, t).await,
                        None => Err(DeployError::Blocked(format!("{id} is not planned"))),
                    }
                }
            },
            |_| true,
        )
        .await
        .into_iter()
        .filter_map(|(_, r)| r)
        .collect()
}

async fn plan_stack<A: StackApi>(
    api: &A,
    timing: &Timing,
    region: &str,
    change_set_name: &str,
    target: &PlanTarget<'_>,
) -> Result<StackPlan, DeployError> {
    let job = target.job;
    let deployed = target.deployed;
    let mut plan = StackPlan {
        id: job.id,
        action: PlannedAction::Deferred,
        reason: None,
        stack_id: deployed.map(|d| d.stack_id.clone()),
        change_set: None,
        evidence: None,
    };
    if !target.missing_dependencies.is_empty() {
        plan.reason = Some(format!(
            "it imports from {}, which {} not exist yet: deploy {} first, then plan again",
            target.missing_dependencies.join(", "),
            if target.missing_dependencies.len() == 1 {
                "does"
            } else {
                "do"
            },
            if target.missing_dependencies.len() == 1 {
                "it"
            } else {
                "them"
            },
        ));
        return Ok(plan);
    }
    let status = deployed.map(|d| d.status.as_str());
    let kind = match failure::start(&job.name, region, status, false) {
        Start::Create => ChangeSetKind::Create,
        Start::Update => ChangeSetKind::Update,
        Start::Wait => {
            plan.reason = Some(format!(
                "{} is {}: an operation is running; plan again when it has finished",
                job.name,
                status.unwrap_or_default()
            ));
            return Ok(plan);
        }
        Start::Blocked(why) => {
            plan.reason = Some(why);
            return Ok(plan);
        }
        Start::Recreate => {
            plan.reason = Some(format!(
                "{} must be deleted and created again: deploy with --recreate-failed",
                job.name
            ));
            return Ok(plan);
        }
    };
    if let (ChangeSetKind::Update, Some(current)) = (kind, deployed)
        && !target.diff.has_changes()
        && !job.differs_outside_template(current)
    {
        plan.action = PlannedAction::NoChanges;
        return Ok(plan);
    }
    let request = ChangeSetRequest {
        stack_name: job.name.clone(),
        change_set_name: change_set_name.to_owned(),
        kind,
        template: job.template.clone(),
        parameters: job.parameters.clone(),
        capabilities: job.capabilities.clone(),
        tags: job.tags.clone(),
        description: format!("ce {} plan of {}", policy::VERSION, job.name),
    };
    match changeset::prepare(api, timing, &request).await {
        Ok((_, Prepared::Empty)) => {
            plan.action = PlannedAction::NoChanges;
            plan.reason = Some("CloudFormation's change set was empty".into());
        }
        Ok((created, Prepared::Ready(description))) => {
            plan.action = match kind {
                ChangeSetKind::Create => PlannedAction::Create,
                ChangeSetKind::Update => PlannedAction::Update,
            };
            plan.stack_id = Some(created.stack_id);
            plan.change_set = Some(PlannedChangeSet {
                id: created.id,
                name: change_set_name.to_owned(),
            });
            plan.evidence = Some(description.evidence);
        }
        Err(DeployError::ChangeSetFailed { reason, .. }) if reason.contains("No export named") => {
            plan.reason = Some(format!(
                "its change set cannot be made before the stacks it imports from are deployed \
                 ({reason}); deploy this plan, then plan again"
            ));
        }
        Err(e) => return Err(e),
    }
    Ok(plan)
}

/// Parameter values for the plan file, NoEcho ones redacted.
pub fn redacted_parameters(job: &StackJob) -> BTreeMap<String, String> {
    let declared = job.rendered.get("Parameters");
    job.parameters
        .iter()
        .map(|(k, v)| {
            let no_echo = declared
                .and_then(|p| p.get(k))
                .and_then(|p| p.get("NoEcho"))
                .is_some_and(|n| n == &Value::Bool(true) || n == "true");
            (k.clone(), if no_echo { REDACTED.into() } else { v.clone() })
        })
        .collect()
}

/// A fingerprint of a deployed template: SHA-256 of its canonical JSON.
pub fn template_fingerprint(template: &Value) -> String {
    sha256_hex(&template.to_string())
}

/// Every reason the plan's change sets may not be executed now, given the templates as
/// rendered now (stack name → SHA-256). Empty when the plan may be deployed.
pub async fn stale_reasons<A: StackApi>(
    api: &A,
    timing: &Timing,
    plan: &PlanFile,
    only: Option<&str>,
    rendered_now: &BTreeMap<String, String>,
) -> Result<Vec<String>, DeployError> {
    let mut reasons = Vec::new();
    for planned in plan.executable() {
        if only.is_some_and(|s| s != planned.stack) {
            continue;
        }
        let Some(change_set) = &planned.change_set else {
            continue;
        };
        let name = &planned.stack_name;
        let deployed = timing
            .aws(api.describe_stack(name))
            .await
            .map_err(|e| DeployError::aws(name, e))?;
        let execution_status = match timing.aws(api.describe_change_set(&change_set.id)).await {
            Ok(d) => Some(d.execution_status),
            Err(e) if change_set_gone(&e) => None,
            Err(e) => return Err(DeployError::aws(name, e)),
        };
        let fingerprint = deployed.as_ref().map(|d| template_fingerprint(&d.template));
        let now = Current {
            template_sha256: rendered_now.get(name).map(String::as_str).unwrap_or(""),
            stack_id: deployed.as_ref().map(|d| d.stack_id.as_str()),
            status: deployed.as_ref().map(|d| d.status.as_str()),
            last_updated: deployed.as_ref().and_then(|d| d.last_updated.as_deref()),
            deployed_template_sha256: fingerprint.as_deref(),
            execution_status: execution_status.as_deref(),
        };
        reasons.extend(planned.stale_reasons(&now));
    }
    Ok(reasons)
}

/// Whether DescribeChangeSet said the change set does not exist.
fn change_set_gone(error: &AwsError) -> bool {
    match error {
        // The sandbox words a missing change set like a missing stack.
        AwsError::StackNotFound { .. } => true,
        AwsError::Other { code, .. } => code.starts_with("ChangeSetNotFound"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::super::fake::{self, Fake};
    use super::super::timing::Timing;
    use super::*;
    use crate::deploy::plan_file::{PLAN_FORMAT_VERSION, PlanFile, PlannedStack, Verdict};

    const OBSOLETE: &str = include_str!("../../tests/fixtures/deploy/change_set_obsolete.json");

    /// A plan of one update of `ce-beta-compute`, made when the stack was `deployed` and
    /// through the change set `change_set_id`, from a template whose SHA-256 is `sha`.
    fn plan_of(deployed: &DeployedStack, change_set_id: &str, sha: &str) -> PlanFile {
        let stack = PlannedStack {
            stack: "compute".into(),
            stack_name: deployed.name.clone(),
            action: PlannedAction::Update,
            reason: None,
            stack_id: Some(deployed.stack_id.clone()),
            status: Some(deployed.status.clone()),
            last_updated: deployed.last_updated.clone(),
            deployed_template_sha256: Some(template_fingerprint(&deployed.template)),
            change_set: Some(PlannedChangeSet {
                id: change_set_id.into(),
                name: "ce-plan-20241014T091500Z".into(),
            }),
            template_sha256: sha.into(),
            template_bytes: 100,
            parameters: BTreeMap::new(),
            class: Verdict::Changes,
            diff: json!({"resources": []}),
            diff_text: String::new(),
        };
        PlanFile {
            format_version: PLAN_FORMAT_VERSION,
            tool_version: "test".into(),
            env: "beta".into(),
            region: "us-east-1".into(),
            account_id: None,
            created_at: "2024-10-14T09:15:00Z".into(),
            class: Verdict::Changes,
            exit_code: 2,
            approval_reasons: Vec::new(),
            stacks: vec![stack],
            change_diagram: None,
            blocked_exports: Vec::new(),
        }
    }

    /// The recorded DescribeChangeSet of a change set CloudFormation marked `OBSOLETE` (someone
    /// updated the stack through another route) makes the plan stale, for that reason alone:
    /// the stack's own id, update time and template still match the plan.
    #[test]
    fn a_planned_change_set_cloudformation_marks_obsolete_makes_the_plan_stale() {
        let change_set = fake::change_set(OBSOLETE);
        assert_eq!(change_set.execution_status, "OBSOLETE");
        let mut stack = fake::deployed(
            "ce-beta-compute",
            "UPDATE_COMPLETE",
            json!({"Resources": {}}),
        );
        stack.stack_id = change_set.stack_id.clone();
        let plan = plan_of(&stack, &change_set.id, "rendered-sha");
        let api = Fake::default()
            .with_stack(stack)
            .with_change_set(change_set, json!({"Resources": {}}));
        let rendered_now = BTreeMap::from([("ce-beta-compute".into(), "rendered-sha".into())]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");

        let reasons = runtime
            .block_on(stale_reasons(
                &api,
                &Timing::start(),
                &plan,
                None,
                &rendered_now,
            ))
            .expect("the plan is checked");

        assert_eq!(
            reasons,
            [
                "ce-beta-compute: CloudFormation marks its change set OBSOLETE (the stack changed \
              since)"
            ]
        );
    }
}
