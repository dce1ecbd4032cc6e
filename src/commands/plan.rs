//! `ce plan --out FILE [--stack S]` and `ce plan --show FILE`: the diff, plus a CloudFormation
//! change set per changed stack, kept for review and recorded in a plan file that
//! `ce deploy --plan FILE` executes exactly.
//!
//! The change sets' own word (Replacement, Details) refines the offline prediction, marked
//! "confirmed by change set". An empty change set is deleted and the stack reported unchanged.
//! The exit code is the diff's: 0 no changes, 2 changes, 3 changes that need approval.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
use serde::Serialize;
use serde_json::Value;

use super::deploy::{fill_live_state, jobs_from_live, upload_large};
use super::diff::DiffReport;
use super::{Context, Purpose, Report};
use crate::Status;
use crate::architecture::{self, StackId};
use crate::config::Env;
use crate::deploy::api::StackApi;
use crate::deploy::deployed::{self, DeployedEnv};
use crate::deploy::plan_file::{
    PLAN_FORMAT_VERSION, PlanFile, PlannedAction, PlannedStack, Verdict,
};
use crate::deploy::planning::{self, PlanTarget, StackPlan};
use crate::deploy::progress::{Mode, Progress, now_ms};
use crate::deploy::sdk::Cfn;
use crate::deploy::timing::Timing;
use crate::deploy::{StackJob, changeset, policy};
use crate::diff::blocked::BlockedExport;
use crate::diff::{DiffClass, format};
use crate::graph::change::ChangeDiagram;
use crate::printer::Styles;

/// `ce plan`.
pub fn run_plan(
    ctx: &Context,
    file: Option<&Path>,
    show: Option<&Path>,
    only: Option<StackId>,
) -> Result<Status> {
    if let Some(path) = show {
        let plan = PlanFile::load(path)?;
        ctx.printer.report(&PlanReport(&plan))?;
        return Ok(DiffClass::from(plan.class).status());
    }
    let Some(path) = file else {
        bail!("give --out FILE to make a plan, or --show FILE to print one");
    };
    let remote = ctx.remote(ctx.env()?, Purpose::Render)?;
    let env = &remote.env;
    let timing = Timing::start();
    let progress = Progress::new(Mode::Lines, Box::new(ctx.printer.stderr()));
    let change_set_name = changeset::name("plan", now_ms() / 1000);
    let (plan, lock_note) = remote.block_on(async {
        let aws = remote.aws().await;
        // The release lock is read alongside the deployed stacks.
        let live = async { anyhow::Ok(deployed::diff_env(aws, env, only).await?) };
        let (lock_note, mut live) =
            tokio::try_join!(release_lock_note(aws, env.name.as_str()), live)?;
        // A plan deploy would be refused for it: no change set is made.
        if let Some(reason) = deployed::origin_lock_too_early(aws, &live).await? {
            bail!("{reason}; no plan was made");
        }
        let mut jobs = jobs_from_live(env, &live);
        fill_live_state(aws, &live, &mut jobs).await?;
        upload_large(aws, env, &mut jobs, &timing, &progress).await?;
        let api = Cfn::new(aws);
        let missing = missing_dependencies(&api, &live).await?;
        let targets: Vec<PlanTarget<'_>> = live
            .stacks
            .iter()
            .zip(&live.diff.stacks)
            .zip(&jobs)
            .map(|((stack, diff), job)| PlanTarget {
                job,
                deployed: stack.deployed.as_ref(),
                diff,
                missing_dependencies: missing.get(&stack.id).cloned().unwrap_or_default(),
            })
            .collect();
        let made =
            planning::make_change_sets(&api, &timing, &env.file.region, &change_set_name, &targets)
                .await;
        drop(targets);
        let mut stack_plans = Vec::with_capacity(made.len());
        for result in made {
            stack_plans.push(result.context(
                "making the plan's change sets (those already made are left unexecuted)",
            )?);
        }
        for stack_plan in &stack_plans {
            if let Some(evidence) = &stack_plan.evidence {
                live.refine(stack_plan.id, evidence)?;
            }
        }
        Ok::<_, anyhow::Error>((build_plan(env, &live, &jobs, &stack_plans)?, lock_note))
    })?;
    plan.save(path)?;
    ctx.printer.report(&PlanReport(&plan))?;
    if let Some(note) = lock_note {
        ctx.printer.note(format_args!("note: {note}"))?;
    }
    ctx.printer.note(format_args!(
        "plan written to {}; deploy exactly this with `ce deploy --plan {}`",
        path.display(),
        path.display()
    ))?;
    Ok(DiffClass::from(plan.class).status())
}

/// A plan is read-only, so a release holding the env's release lock does not stop it; but
/// `ce deploy --plan` would be refused while it does, which the operator is told.
async fn release_lock_note(aws: &crate::aws::Aws, env: &str) -> Result<Option<String>> {
    let refused = "`ce deploy --plan` of this plan is refused until the release ends";
    match crate::ops::release::release_guard(aws, env, refused).await {
        Ok(lapsed) => Ok(lapsed),
        Err(crate::ops::OpsError::Release(e))
            if matches!(*e, crate::ops::release::ReleaseError::DuringRelease { .. }) =>
        {
            Ok(Some(e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// For each stack, the stacks it imports from that do not exist (or hold no resources) yet.
async fn missing_dependencies(
    api: &Cfn,
    live: &DeployedEnv,
) -> Result<BTreeMap<StackId, Vec<String>>> {
    let mut exists: BTreeMap<StackId, bool> = BTreeMap::new();
    let mut missing = BTreeMap::new();
    for stack in &live.stacks {
        for &dep in stack.id.depends_on() {
            let present = match exists.get(&dep) {
                Some(known) => *known,
                None => {
                    let present = match live.stack(dep) {
                        Some(s) => s.baseline().is_some(),
                        None => {
                            let name = architecture::stack_name(live.env.as_str(), dep);
                            api.stack_status(&name).await?.is_some_and(|s| {
                                !matches!(
                                    s.status.as_str(),
                                    "REVIEW_IN_PROGRESS" | "ROLLBACK_COMPLETE"
                                )
                            })
                        }
                    };
                    exists.insert(dep, present);
                    present
                }
            };
            if !present {
                missing
                    .entry(stack.id)
                    .or_insert_with(Vec::new)
                    .push(architecture::stack_name(live.env.as_str(), dep));
            }
        }
    }
    Ok(missing)
}

/// The plan file's content from the refined diff and what planning found.
fn build_plan(
    env: &Env,
    live: &DeployedEnv,
    jobs: &[StackJob],
    stack_plans: &[StackPlan],
) -> Result<PlanFile> {
    let report = DiffReport::new(live, false);
    let mut stacks = Vec::with_capacity(live.stacks.len());
    let mut approval_reasons = Vec::new();
    for (index, (stack, job)) in live.stacks.iter().zip(jobs).enumerate() {
        let Some(found) = stack_plans.iter().find(|p| p.id == stack.id) else {
            continue;
        };
        let diff = &live.diff.stacks[index];
        let class = if found.action == PlannedAction::NoChanges {
            DiffClass::NoChanges
        } else {
            diff.class()
        };
        // The plan's class of the stack: an empty change set overrules the prediction.
        let mut entry = report.stacks[index].clone();
        entry.diff.class = class;
        let entry = serde_json::to_value(entry).context("recording the stack's diff")?;
        let mut text = Vec::new();
        if found.action == PlannedAction::NoChanges && diff.has_changes() {
            writeln!(
                text,
                "{}: no changes (CloudFormation's change set was empty)",
                stack.name
            )?;
        } else {
            format::write_stack_text(&mut text, diff, false)?;
            if class == DiffClass::NeedsApproval {
                let reasons = diff.approval_reasons();
                for reason in &reasons {
                    writeln!(text, "  needs approval: {reason}")?;
                }
                approval_reasons.extend(reasons);
            }
        }
        let creating = found.action == PlannedAction::Create;
        let deployed = stack.deployed.as_ref();
        stacks.push(PlannedStack {
            stack: stack.id.to_string(),
            stack_name: stack.name.clone(),
            action: found.action,
            reason: found.reason.clone(),
            stack_id: found.stack_id.clone(),
            status: if creating {
                Some("REVIEW_IN_PROGRESS".into())
            } else {
                deployed.map(|d| d.status.clone())
            },
            last_updated: deployed.and_then(|d| d.last_updated.clone()),
            deployed_template_sha256: if creating {
                None
            } else {
                deployed.map(|d| planning::template_fingerprint(&d.template))
            },
            change_set: found.change_set.clone(),
            template_sha256: job.sha256.clone(),
            template_bytes: job.body.len(),
            parameters: planning::redacted_parameters(job),
            class: class.into(),
            diff: entry,
            diff_text: String::from_utf8_lossy(&text).into_owned(),
        });
    }
    let class = stacks
        .iter()
        .map(|s| s.class)
        .max()
        .unwrap_or(Verdict::NoChanges);
    let created_at = DateTime::from_millis(now_ms())
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default();
    Ok(PlanFile {
        format_version: PLAN_FORMAT_VERSION,
        tool_version: policy::VERSION.into(),
        env: env.name.to_string(),
        region: env.file.region.clone(),
        account_id: env.file.account_id.clone(),
        created_at,
        class,
        exit_code: DiffClass::from(class).exit_code(),
        change_diagram: planned_diagram(live, &stacks)?,
        blocked_exports: live.diff.blocked_exports_ways(&live.importers),
        approval_reasons,
        stacks,
    })
}

/// The change diagram of the stacks a change set will change; a stack whose change set came
/// back empty changes nothing.
fn planned_diagram(live: &DeployedEnv, stacks: &[PlannedStack]) -> Result<Option<ChangeDiagram>> {
    let mut diff = live.diff.clone();
    diff.stacks.retain(|d| {
        stacks
            .iter()
            .any(|s| s.stack_name == d.stack_name && s.action != PlannedAction::NoChanges)
    });
    let diagram = super::diff::change_diagram(live, &diff)?;
    Ok((!diagram.is_empty()).then_some(diagram))
}

/// A plan, shown: the diff of each stack with its change set, or why it has none. Its JSON
/// form is the plan file itself, which carries its own `format_version`.
#[derive(Serialize)]
#[serde(transparent)]
struct PlanReport<'a>(&'a PlanFile);

impl Report for PlanReport<'_> {
    const ENVELOPE: bool = false;

    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        let plan = self.0;
        writeln!(
            out,
            "plan of {} ({}) made {} by ce {}",
            plan.env, plan.region, plan.created_at, plan.tool_version
        )?;
        for stack in &plan.stacks {
            out.write_all(stack.diff_text.as_bytes())?;
            match (&stack.change_set, stack.action) {
                (Some(cs), action) => writeln!(
                    out,
                    "  change set {} ({}): {}",
                    cs.name,
                    if action == PlannedAction::Create {
                        "create"
                    } else {
                        "update"
                    },
                    cs.id
                )?,
                (None, PlannedAction::Deferred) => writeln!(
                    out,
                    "  no change set yet: {}",
                    stack.reason.as_deref().unwrap_or("deferred")
                )?,
                (None, _) => {}
            }
        }
        format::write_ways_forward(out, &plan.blocked_exports)
    }

    /// The diff's markdown report, from the diffs the plan recorded.
    fn write_markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        #[derive(Serialize)]
        struct Diffs<'a> {
            env: &'a str,
            class: Verdict,
            exit_code: u8,
            approval_reasons: &'a [String],
            blocked_exports: &'a [BlockedExport],
            stacks: Vec<&'a Value>,
            diagram: Option<String>,
        }
        let plan = self.0;
        let diffs = Diffs {
            env: &plan.env,
            class: plan.class,
            exit_code: plan.exit_code,
            approval_reasons: &plan.approval_reasons,
            blocked_exports: &plan.blocked_exports,
            stacks: plan.stacks.iter().map(|s| &s.diff).collect(),
            diagram: plan.change_diagram.as_ref().map(ChangeDiagram::to_mermaid),
        };
        let text = super::diff::markdown(&diffs).map_err(io::Error::other)?;
        out.write_all(text.as_bytes())
    }
}
