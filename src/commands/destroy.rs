//! `ce destroy [--stack S] [--yes] [--lift-termination-protection]`: shows what goes and what
//! stays (a [`DestroyPreview`]), asks, then deletes the env's stacks in reverse dependency order (see
//! [`crate::deploy::destroy`]).
//!
//! The preview and the results are data (stdout); the prompt, progress and the reason for a
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

use std::io::{self, Write};

use anyhow::{Context as _, Result};
use serde::{Serialize, Serializer};

use super::{Context, Purpose, Report};
use crate::Status;
use crate::architecture::StackId;
use crate::deploy::approval::Answers;
use crate::deploy::destroy::{self, Consent, DestroyPreview, DestroyReport, Gate, StackResult};
use crate::deploy::sdk::Cfn;
use crate::printer::Styles;

/// `ce destroy`.
pub fn run_destroy(
    ctx: &Context,
    only: Option<StackId>,
    yes: bool,
    lift_protection: bool,
) -> Result<Status> {
    let env = ctx.env()?;
    let consent = Consent {
        yes,
        interactive: ctx.interactive,
        protected: env.file.protected,
        lift_protection,
        env: env.name.to_string(),
    };
    // A protected env that cannot be confirmed here is refused before any AWS call.
    if let Some(Gate::Refuse { status, reason }) = destroy::protection_gate(&consent) {
        ctx.printer.note(format_args!("error: {reason}"))?;
        ctx.printer.report(&Outcome {
            env: &consent.env,
            region: &env.file.region,
            outcome: "refused",
            reason: Some(&reason),
            details: None,
        })?;
        return Ok(status);
    }
    let remote = ctx.remote(env, Purpose::Operate)?;
    remote.block_on(async {
        let aws = remote.aws().await;
        ctx.printer.note(format_args!(
            "destroy {}: reading its stacks",
            remote.env.name
        ))?;
        let preview = destroy::preview(aws, &remote.env, only).await?;
        ctx.printer.interim(&PreviewText(&preview))?;
        let (outcome, reason, results, status) = match destroy::gate(&preview, &consent) {
            Gate::Nothing => ("nothing_to_destroy", None, None, Status::Success),
            Gate::Refuse { status, reason } => ("refused", Some(reason), None, status),
            Gate::Ask(question) => {
                let answer = Answers::Terminal(ctx.printer.stderr())
                    .ask(&destroy::prompt(question, &preview))
                    .await
                    .context("reading the answer")?;
                if destroy::approves(question, &answer, &preview.env) {
                    run(ctx, aws, &preview, lift_protection).await
                } else {
                    let reason = "nothing was deleted: not confirmed".to_owned();
                    ("declined", Some(reason), None, Status::Failure)
                }
            }
            Gate::Proceed => run(ctx, aws, &preview, lift_protection).await,
        };
        ctx.printer.report(&Outcome {
            env: &preview.env,
            region: &preview.region,
            outcome,
            reason: reason.as_deref(),
            details: Some(Details {
                preview: &preview,
                results: results.as_ref(),
            }),
        })?;
        match (&reason, outcome) {
            (_, "nothing_to_destroy") => ctx.printer.note(format_args!(
                "destroy {}: no stack of it is deployed",
                preview.env
            ))?,
            (Some(reason), _) => ctx.printer.note(format_args!("error: {reason}"))?,
            (None, _) => {}
        }
        Ok(status)
    })
}

/// Deletes the previewed stacks: the outcome's name, the first failure's sentence, the results
/// and the status.
async fn run(
    ctx: &Context,
    aws: &crate::aws::Aws,
    preview: &DestroyPreview,
    lift_protection: bool,
) -> (&'static str, Option<String>, Option<DestroyReport>, Status) {
    let api = Cfn::new(aws);
    let mut log = |line: String| {
        let _ = ctx.printer.note(line);
    };
    let report = destroy::execute(&api, preview, lift_protection, aws.is_local(), &mut log).await;
    let failure = report.results.iter().find_map(|(_, r)| match r {
        StackResult::Failed { reason } => Some(reason.clone()),
        _ => None,
    });
    match failure {
        None => ("destroyed", None, Some(report), Status::Success),
        Some(reason) => ("failed", Some(reason), Some(report), Status::Failure),
    }
}

/// How `ce destroy` ended: the JSON form documented at the top of this module.
#[derive(Serialize)]
struct Outcome<'a> {
    env: &'a str,
    region: &'a str,
    outcome: &'static str,
    reason: Option<&'a str>,
    /// Absent when the env was refused before its stacks were read.
    #[serde(flatten)]
    details: Option<Details<'a>>,
}

/// What was read, and what became of each stack.
#[derive(Serialize)]
struct Details<'a> {
    #[serde(flatten)]
    preview: &'a DestroyPreview,
    #[serde(serialize_with = "results")]
    results: Option<&'a DestroyReport>,
}

/// `[{"stack_name": …, "result": …}]`, in deletion order; empty when nothing was attempted.
fn results<S: Serializer>(report: &Option<&DestroyReport>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Entry<'a> {
        #[serde(flatten)]
        result: &'a StackResult,
        stack_name: &'a str,
    }
    let entries = report.map(|r| r.results.as_slice()).unwrap_or_default();
    s.collect_seq(
        entries
            .iter()
            .map(|(stack_name, result)| Entry { result, stack_name }),
    )
}

impl Report for Outcome<'_> {
    /// The preview was shown before the question; the text form is the results alone.
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        match self.details.as_ref().and_then(|d| d.results) {
            Some(report) => write_results(out, report),
            None => Ok(()),
        }
    }
}

/// The preview in text, shown before the question.
#[derive(Serialize)]
struct PreviewText<'a>(&'a DestroyPreview);

impl Report for PreviewText<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        write_preview(out, self.0)
    }
}

/// What goes, in order, and what stays.
fn write_preview(out: &mut dyn Write, plan: &DestroyPreview) -> std::io::Result<()> {
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
