//! `ce destroy [--stack S] [--yes] [--lift-termination-protection]`: shows what goes and what
//! stays, asks, then deletes the env's stacks in reverse dependency order (see
//! [`crate::destroy`]).
//!
//! The plan and the results are data (stdout); the prompt, progress and the reason for a
//! refusal or failure are diagnostics (stderr). Exit codes: 0 deleted (or nothing deployed),
//! 1 refused or failed, 3 only a confirmation was missing (no terminal and no `--yes`).
//!
//! # JSON form (`format_version: 1`)
//! `format_version`, `env`, `region`, `outcome` (`destroyed` | `nothing_to_destroy` |
//! `refused` | `declined` | `failed`), `reason` (a sentence, or null), `stacks` (in deletion
//! order: `stack_name`, `status`, `termination_protection`, `deleted` and `retained`
//! resources: `logical_id`, `resource_type`, `physical_id`, `policy`), `not_deployed`,
//! `blockers` (`export`, `stack_name`, `importers`), `results` (`stack_name`, `result`:
//! `deleted` (with `seconds`) | `failed` (with `reason`) | `not_attempted`).

use std::io::Write;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::{FORMAT_VERSION, Ui};
use crate::aws::{self, Aws};
use crate::cli::Format;
use crate::deploy::approval::Answers;
use crate::deploy::sdk::Cfn;
use crate::destroy::{self, Consent, DestroyPlan, DestroyReport, Gate, StackResult};
use crate::{Status, config, live};

/// `ce destroy`.
pub fn run_destroy(
    ui: &Ui,
    out: &mut dyn Write,
    stack: Option<&str>,
    yes: bool,
    lift_protection: bool,
) -> Result<Status> {
    let env = config::load(&ui.envs_dir, &ui.env)?;
    let only = stack.map(live::parse_stack).transpose()?;
    let consent = Consent {
        yes,
        interactive: ui.interactive,
        protected: env.file.protected,
        lift_protection,
        env: env.name.to_string(),
    };
    // A protected env that cannot be confirmed here is refused before any AWS call.
    if let Some(Gate::Refuse { status, reason }) = destroy::protection_gate(&consent) {
        eprintln!("error: {reason}");
        if ui.format == Format::Json {
            let doc = json!({"format_version": FORMAT_VERSION, "env": consent.env,
                "region": env.file.region, "outcome": "refused", "reason": reason});
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        return Ok(status);
    }
    let target = aws::target(ui.local)?;
    let runtime = aws::runtime().context("starting the async runtime")?;
    runtime.block_on(async {
        let aws = Aws::connect(&env.file.region, target).await;
        eprintln!("destroy {}: reading its stacks", env.name);
        let plan = destroy::plan(&aws, &env, only).await?;
        if ui.format != Format::Json {
            write_plan(out, &plan)?;
            out.flush()?;
        }
        let (outcome, reason, report, status) = match destroy::gate(&plan, &consent) {
            Gate::Nothing => ("nothing_to_destroy", None, None, Status::Success),
            Gate::Refuse { status, reason } => ("refused", Some(reason), None, status),
            Gate::Ask(question) => {
                let answer = Answers::Terminal
                    .ask(&destroy::prompt(question, &plan))
                    .await
                    .context("reading the answer")?;
                if destroy::approves(question, &answer, &plan.env) {
                    run(&aws, &plan, lift_protection).await
                } else {
                    let reason = "nothing was deleted: not confirmed".to_owned();
                    ("declined", Some(reason), None, Status::Failure)
                }
            }
            Gate::Proceed => run(&aws, &plan, lift_protection).await,
        };
        if ui.format == Format::Json {
            let doc = json_doc(&plan, outcome, reason.as_deref(), report.as_ref());
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        } else if let Some(report) = &report {
            write_results(out, report)?;
        }
        out.flush()?;
        match (&reason, outcome) {
            (_, "nothing_to_destroy") => {
                eprintln!("destroy {}: no stack of it is deployed", plan.env)
            }
            (Some(reason), _) => eprintln!("error: {reason}"),
            (None, _) => {}
        }
        Ok(status)
    })
}

/// Deletes the plan's stacks: the outcome's name, the first failure's sentence, the report and
/// the status.
async fn run(
    aws: &Aws,
    plan: &DestroyPlan,
    lift_protection: bool,
) -> (&'static str, Option<String>, Option<DestroyReport>, Status) {
    let api = Cfn::new(aws);
    let mut log = |line: String| eprintln!("{line}");
    let report = destroy::execute(&api, plan, lift_protection, aws.is_local(), &mut log).await;
    let failure = report.results.iter().find_map(|(_, r)| match r {
        StackResult::Failed { reason } => Some(reason.clone()),
        _ => None,
    });
    match failure {
        None => ("destroyed", None, Some(report), Status::Success),
        Some(reason) => ("failed", Some(reason), Some(report), Status::Failure),
    }
}

/// What goes, in order, and what stays.
fn write_plan(out: &mut dyn Write, plan: &DestroyPlan) -> std::io::Result<()> {
    if plan.stacks.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "Destroy {} ({}): {} stack{}, deleted in this order:",
        plan.env,
        plan.region,
        plan.stacks.len(),
        if plan.stacks.len() == 1 { "" } else { "s" }
    )?;
    for s in &plan.stacks {
        let protection = if s.termination_protection {
            ", termination protection on"
        } else {
            ""
        };
        writeln!(
            out,
            "  {:<24} {} ({} resources deleted, {} retained{protection})",
            s.stack_name,
            s.status,
            s.deleted.len(),
            s.retained.len()
        )?;
    }
    if !plan.not_deployed.is_empty() {
        writeln!(out, "Not deployed: {}", plan.not_deployed.join(", "))?;
    }
    let mut retained = plan.retained().peekable();
    if retained.peek().is_some() {
        writeln!(
            out,
            "Retained (their DeletionPolicy keeps them and their data in the account, outside \
             any stack):"
        )?;
        for (stack, r) in retained {
            writeln!(
                out,
                "  {:<24} {} ({}) {}{}",
                stack,
                r.logical_id,
                r.resource_type,
                r.physical_id.as_deref().unwrap_or("(no physical id)"),
                match r.policy {
                    crate::diff::Policy::Snapshot => ", deleted after a final snapshot",
                    _ => "",
                }
            )?;
        }
    }
    Ok(())
}

/// One line per stack: deleted, failed or not attempted.
fn write_results(out: &mut dyn Write, report: &DestroyReport) -> std::io::Result<()> {
    for (stack, result) in &report.results {
        match result {
            StackResult::Deleted { seconds } => writeln!(out, "{stack}: deleted ({seconds:.1} s)")?,
            StackResult::Failed { .. } => writeln!(out, "{stack}: FAILED (see the error below)")?,
            StackResult::NotAttempted => writeln!(out, "{stack}: not attempted")?,
        }
    }
    Ok(())
}

/// The JSON form documented at the top of this module.
fn json_doc(
    plan: &DestroyPlan,
    outcome: &str,
    reason: Option<&str>,
    report: Option<&DestroyReport>,
) -> Value {
    let results: Vec<Value> = report
        .map(|r| {
            r.results
                .iter()
                .map(|(stack, result)| {
                    let mut entry = serde_json::to_value(result).unwrap_or(Value::Null);
                    entry["stack_name"] = json!(stack);
                    entry
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "format_version": FORMAT_VERSION,
        "env": plan.env,
        "region": plan.region,
        "outcome": outcome,
        "reason": reason,
        "stacks": plan.stacks,
        "not_deployed": plan.not_deployed,
        "blockers": plan.blockers,
        "results": results,
    })
}
