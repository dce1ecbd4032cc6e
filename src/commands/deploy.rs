//! `ce deploy [--yes] [--plan FILE] [--stack S] [--require-approval never|any-change|risky]
//! [--recreate-failed]`: the rendered stacks applied through change sets.
//!
//! Before anything mutating the credentials' account is checked against the env file's. Without
//! a plan the env is diffed first; a run that could not get approval anyway (no terminal, no
//! `--yes`) stops there, showing the diff, before a single change set exists. With a plan, every
//! planned change set is checked to still be what was reviewed before the first one runs.
//! A release holding the env's release lock refuses the deploy before anything changes, and
//! again before each change set that executes after the run has waited (at a prompt, or for
//! an earlier stack's change set): the release may have begun meanwhile.
//! An env deployed before origin protection is refused a compute change that would lock the
//! load balancer before its distribution sends the header (see
//! [`deployed::origin_lock_too_early`]).
//! Ctrl-C stops the waiting, not CloudFormation: the message says what carries on and that
//! running `ce deploy` again picks it up.
//!
//! # JSON form (`format_version: 1`)
//! `env`, `result` (`deployed` | `no_changes` | `refused` | `failed` | `interrupted`),
//! `exit_code`, `stacks` (each: `stack_name`, `outcome` (`created` | `updated` | `no_changes` |
//! `refused` | `declined` | `failed` | `not_started`), `status`, `change_set_id`, `class`,
//! `diff`, `messages`), `messages`, `timing` (`total_ms`, `waiting_ms`, `prompt_ms`,
//! `tool_ms`, `aws_calls`).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;
use serde_json::Value;

use crate::architecture::{Colour, LIVE_COLOUR_PARAMETER};
use crate::ops::bluegreen::edge::live_colour_of;

use super::{Context, Purpose, Report};
use crate::Status;
use crate::architecture::StackId;
use crate::aws::Aws;
use crate::config::Env;
use crate::deploy::api::{ChangeSetKind, TemplateSource};
use crate::deploy::approval::Decision;
use crate::deploy::artifacts::Artifacts;
use crate::deploy::deployed::{self, DeployedEnv};
use crate::deploy::plan_file::{PlanFile, PlannedAction};
use crate::deploy::progress::{Mode, Progress};
use crate::deploy::sdk::Cfn;
use crate::deploy::timing::{Timing, TimingReport};
use crate::deploy::{
    Answers, Approval, DeployReport, Engine, Outcome, Planned, RequireApproval, Settings, StackJob,
    StackReport, changeset, job, planning,
};
use crate::diff::{EnvDiff, format};
use crate::model::template::INLINE_TEMPLATE_LIMIT;
use crate::printer::Styles;
use crate::render;

/// The flags of `ce deploy`.
#[derive(Clone, Debug)]
pub struct DeployArgs<'a> {
    /// `--yes`.
    pub yes: bool,
    /// `--plan`.
    pub plan: Option<&'a Path>,
    /// `--stack`.
    pub stack: Option<StackId>,
    /// `--require-approval`, when given.
    pub require_approval: Option<RequireApproval>,
    /// `--recreate-failed`.
    pub recreate_failed: bool,
}

/// How a deploy ended before or after the engine ran.
enum Ended {
    /// Refused before any change set was made; the diff was shown.
    Refused { status: Status, reason: String },
    /// The engine ran.
    Ran(DeployReport),
}

/// `ce deploy`.
pub fn run_deploy(ctx: &Context, args: &DeployArgs<'_>) -> Result<Status> {
    let begun = Instant::now();
    let env = ctx.env()?;
    let only = args.stack;
    let plan = args.plan.map(PlanFile::load).transpose()?;
    if let Some(plan) = &plan
        && let Some(why) = plan.wrong_env(env.name.as_str(), &env.file.region)
    {
        bail!("{why}");
    }
    let remote = ctx.remote(env, Purpose::Render)?;
    let env = &remote.env;
    let timing = Timing::started_at(begun);
    let mode = if ctx.printer.draws_live_view() {
        Mode::Live
    } else {
        Mode::Lines
    };
    let progress = Progress::new(mode, Box::new(ctx.printer.stderr()));
    let settings = Settings {
        env: env.name.to_string(),
        region: env.file.region.clone(),
        protected: env.file.protected,
        recreate_failed: args.recreate_failed,
        approval: Approval {
            policy: policy(args.require_approval, ctx.local),
            yes: args.yes,
            interactive: ctx.interactive,
            protected: env.file.protected,
            env: env.name.to_string(),
        },
        change_set_name: changeset::name("deploy", unix_now()),
        show_text: ctx.printer.shows_interim(),
        colour: ctx.printer.stdout().styles().colour(),
        local: ctx.local,
    };
    let answers = Answers::Terminal(ctx.printer.stderr());
    let outcome = remote.block_on(async {
        let work = async {
            let aws = remote.aws().await;
            // A running release owns the live colour and the group sizes it pinned. The check
            // runs alongside the first read, and nothing is changed before it has passed.
            let guard = async {
                let guard = crate::ops::release::release_guard(
                    aws,
                    env.name.as_str(),
                    "nothing was deployed",
                );
                anyhow::Ok(timing.aws(guard).await?)
            };
            let api = Cfn::new(aws);
            let jobs = match &plan {
                Some(plan) => {
                    let account = async {
                        timing
                            .aws(aws.guard_account(env.file.account_id.as_deref()))
                            .await?;
                        anyhow::Ok(())
                    };
                    let (note, ()) = tokio::try_join!(guard, account)?;
                    if let Some(note) = note {
                        ctx.printer.note(note)?;
                    }
                    let jobs = planned_jobs(ctx, &api, &timing, env, plan, only).await?;
                    timing
                        .aws(refuse_moved_traffic(aws, env, plan, &jobs))
                        .await?;
                    jobs
                }
                // The diff checks the account alongside its first read.
                None => {
                    let live =
                        async { anyhow::Ok(timing.aws(deployed::diff_env(aws, env, only)).await?) };
                    let (note, live) = tokio::try_join!(guard, live)?;
                    if let Some(note) = note {
                        ctx.printer.note(note)?;
                    }
                    if let Some(reason) = timing
                        .aws(deployed::origin_lock_too_early(aws, &live))
                        .await?
                    {
                        ctx.printer.interim(&Preflight(&live.diff))?;
                        return Ok(Ended::Refused {
                            status: Status::Failure,
                            reason,
                        });
                    }
                    if let Some((status, reason)) = refused_up_front(&settings, &live) {
                        ctx.printer.interim(&Preflight(&live.diff))?;
                        return Ok(Ended::Refused { status, reason });
                    }
                    let mut jobs = jobs_from_live(env, &live);
                    timing.aws(fill_live_state(aws, &live, &mut jobs)).await?;
                    upload_large(aws, env, &mut jobs, &timing, &progress).await?;
                    jobs
                }
            };
            // A release may take the lock while the run waits (at a prompt, or for an earlier
            // stack): after a wait, each change set is checked again before it executes.
            let engine = Engine::new(
                &api,
                &settings,
                &progress,
                &timing,
                &answers,
                Box::new(ctx.printer.stdout()),
            )
            .with_recheck(Box::new(|| {
                Box::pin(crate::ops::release::recheck_release_lock(
                    aws,
                    env.name.as_str(),
                ))
            }));
            let report = tokio::select! {
                report = engine.run(&jobs) => report,
                never = progress.tick() => match never {},
            };
            anyhow::Ok(Ended::Ran(report))
        };
        tokio::select! {
            ended = work => Some(ended),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    // A prompt's reader thread may still wait on stdin; it must not keep the process alive.
    let env = remote.shut_down(Duration::from_millis(100));
    progress.clear();
    let Some(ended) = outcome else {
        return interrupted(ctx, &env, &progress, &timing);
    };
    let ended = ended?;
    finish(ctx, &env, ended, &timing)
}

/// `--require-approval`, defaulting to risky; the local sandbox holds nothing of value, so
/// there `--yes` covers every change unless the flag says otherwise.
fn policy(given: Option<RequireApproval>, local: bool) -> RequireApproval {
    match given {
        Some(policy) => policy,
        None if local => RequireApproval::Never,
        None => RequireApproval::Risky,
    }
}

fn unix_now() -> i64 {
    crate::deploy::progress::now_ms() / 1000
}

/// The refusal a run without a terminal gets before any change set is made, if it would get one.
fn refused_up_front(settings: &Settings, live: &DeployedEnv) -> Option<(Status, String)> {
    if settings.approval.interactive {
        return None;
    }
    match settings.approval.decide(live.diff.class()) {
        Decision::Refuse { status, reason } => Some((status, reason)),
        Decision::Proceed | Decision::Ask(_) => None,
    }
}

/// The diff a refused run shows, before its outcome: the same as `ce diff`.
#[derive(Serialize)]
#[serde(transparent)]
struct Preflight<'a>(&'a EnvDiff);

impl Report for Preflight<'_> {
    fn write_text(&self, out: &mut dyn Write, styles: Styles) -> io::Result<()> {
        format::write_text(out, self.0, styles.colour())
    }
}

/// One job per stack of the diff.
pub(super) fn jobs_from_live(env: &Env, live: &DeployedEnv) -> Vec<StackJob> {
    let imported = live.imported_exports();
    live.stacks
        .iter()
        .map(|s| job(env, s.id, &s.name, &s.rendered_json, imported.clone()))
        .collect()
}

/// Fills the parameters that follow live state: the compute stack's live colour is the one its
/// listener forwards to now, so a deploy never moves traffic. A stack from before the two
/// colours (no colour outputs yet) forwards to its one group, which becomes blue.
pub(super) async fn fill_live_state(
    aws: &Aws,
    live: &DeployedEnv,
    jobs: &mut [StackJob],
) -> Result<()> {
    for (stack, job) in live.stacks.iter().zip(jobs.iter_mut()) {
        if job.rendered["Parameters"]
            .get(LIVE_COLOUR_PARAMETER)
            .is_none()
        {
            continue;
        }
        let previous =
            stack
                .deployed
                .as_ref()
                .and_then(|d| match d.parameters.get(LIVE_COLOUR_PARAMETER) {
                    Some(crate::aws::cloudformation::Parameter::Value(v)) => {
                        v.parse::<Colour>().ok()
                    }
                    _ => None,
                });
        let now = match &stack.deployed {
            Some(d) => live_colour_of(aws, &d.outputs)
                .await
                .with_context(|| format!("{}: reading which colour is live", stack.name))?,
            None => None,
        };
        let colour = now.or(previous).unwrap_or(Colour::Blue);
        job.parameters
            .insert(LIVE_COLOUR_PARAMETER.to_owned(), colour.to_string());
    }
    Ok(())
}

/// A planned change set carries the live colour of when it was planned; executed after a
/// release switched colour, it would move traffic back. Such a plan is stale.
async fn refuse_moved_traffic(
    aws: &Aws,
    env: &Env,
    plan: &PlanFile,
    jobs: &[StackJob],
) -> Result<()> {
    for job in jobs {
        let Some(planned) = plan
            .stacks
            .iter()
            .find(|s| s.stack_name == job.name)
            .and_then(|s| s.parameters.get(LIVE_COLOUR_PARAMETER))
        else {
            continue;
        };
        let deployed = aws
            .cloudformation()
            .fetch_stacks([job.name.clone()])
            .await?
            .into_iter()
            .next()
            .flatten();
        let Some(deployed) = deployed else { continue };
        if let Some(now) = live_colour_of(aws, &deployed.outputs).await?
            && now.as_str() != planned
        {
            bail!(
                "{}: the plan was made while {planned} was live, and {now} is live now (a \
                 release or switch since); executing it would move traffic back. Nothing \
                 was executed: plan again (`ce --env {} plan --out FILE`)",
                job.name,
                env.name
            );
        }
    }
    Ok(())
}

/// Puts every template over the inline limit in the artifacts bucket (created on first need)
/// and points its job at the URL.
pub(super) async fn upload_large(
    aws: &Aws,
    env: &Env,
    jobs: &mut [StackJob],
    timing: &Timing,
    progress: &Progress,
) -> Result<()> {
    if jobs.iter().all(|j| j.body.len() <= INLINE_TEMPLATE_LIMIT) {
        return Ok(());
    }
    let account = timing.aws(aws.caller_account()).await?;
    let artifacts = Artifacts::new(aws, &account, &env.file.region);
    for job in jobs
        .iter_mut()
        .filter(|j| j.body.len() > INLINE_TEMPLATE_LIMIT)
    {
        let url = timing
            .aws(artifacts.upload(env.name.as_str(), job.id.as_str(), &job.sha256, &job.body))
            .await?;
        progress.note(&format!(
            "{}: the template is {} bytes, over the {INLINE_TEMPLATE_LIMIT}-byte inline limit; \
             uploaded to the artifacts bucket {}",
            job.name,
            job.body.len(),
            artifacts.bucket()
        ));
        job.template = TemplateSource::Url(url);
    }
    Ok(())
}

/// The jobs of a plan, once every planned change set is checked to be what was reviewed.
async fn planned_jobs(
    ctx: &Context,
    api: &Cfn,
    timing: &Timing,
    env: &Env,
    plan: &PlanFile,
    only: Option<StackId>,
) -> Result<Vec<StackJob>> {
    let rendered = render::render_env(env)?;
    let mut fresh: BTreeMap<String, StackJob> = BTreeMap::new();
    for stack in rendered {
        let value: Value = serde_json::from_str(&stack.text)
            .with_context(|| format!("re-reading the rendered template of {}", stack.stack_name))?;
        let job = job(env, stack.id, &stack.stack_name, &value, Default::default());
        fresh.insert(stack.stack_name, job);
    }
    let hashes = fresh
        .iter()
        .map(|(name, job)| (name.clone(), job.sha256.clone()))
        .collect();
    let only_name = only.map(StackId::as_str);
    let reasons = planning::stale_reasons(api, timing, plan, only_name, &hashes).await?;
    if !reasons.is_empty() {
        bail!(
            "the plan can no longer be deployed as it was reviewed; nothing was executed:\n  - {}\n\
             Plan again (`ce plan --out FILE`), review, and deploy the new plan",
            reasons.join("\n  - ")
        );
    }
    for deferred in plan
        .stacks
        .iter()
        .filter(|s| s.action == PlannedAction::Deferred)
    {
        ctx.printer.note(format_args!(
            "note: the plan has no change set for {} ({}); plan again after this deploy",
            deferred.stack_name,
            deferred.reason.as_deref().unwrap_or("deferred")
        ))?;
    }
    let mut jobs = Vec::new();
    for planned in plan.executable() {
        if only_name.is_some_and(|s| s != planned.stack) {
            continue;
        }
        let (Some(change_set), Some(mut job)) =
            (&planned.change_set, fresh.remove(&planned.stack_name))
        else {
            continue;
        };
        let kind = match planned.action {
            PlannedAction::Create => ChangeSetKind::Create,
            _ => ChangeSetKind::Update,
        };
        job.planned = Some(Planned {
            change_set_id: change_set.id.clone(),
            kind,
            class: planned.class.into(),
            diff: planned.diff.clone(),
            diff_text: planned.diff_text.clone(),
        });
        jobs.push(job);
    }
    Ok(jobs)
}

/// What Ctrl-C leaves behind, said plainly.
fn interrupted(ctx: &Context, env: &Env, progress: &Progress, timing: &Timing) -> Result<Status> {
    let running = progress.in_flight();
    let message = if running.is_empty() {
        "interrupted: nothing is running in CloudFormation; a change set made for review may be \
         left behind, which is harmless. Run `ce deploy` again to continue"
            .to_owned()
    } else {
        let stacks: Vec<String> = running
            .iter()
            .map(|(stack, status)| {
                if status.is_empty() {
                    stack.clone()
                } else {
                    format!("{stack} ({status})")
                }
            })
            .collect();
        format!(
            "interrupted: stopped waiting, but CloudFormation carries on with {}. Run `ce \
             deploy` again to pick it up: it waits for a running operation before doing \
             anything else",
            stacks.join(", ")
        )
    };
    if ctx.interactive {
        // The ^C was echoed after whatever was on the line, a prompt perhaps.
        ctx.printer.note("")?;
    }
    ctx.printer.note(&message)?;
    ctx.printer.report(&DeployOutcome {
        env: env.name.as_str(),
        result: DeployResult::Interrupted,
        exit_code: Status::Failure.code(),
        stacks: Vec::new(),
        messages: vec![message],
        timing: timing.report(),
    })?;
    Ok(Status::Failure)
}

/// Prints the outcome and returns the exit status.
fn finish(ctx: &Context, env: &Env, ended: Ended, timing: &Timing) -> Result<Status> {
    let (status, result, stacks, messages) = match ended {
        Ended::Refused { status, reason } => {
            ctx.printer.note(format_args!("{}: {reason}", env.name))?;
            (status, DeployResult::Refused, Vec::new(), vec![reason])
        }
        Ended::Ran(report) => {
            let status = report.status();
            let result = DeployResult::of(&report);
            (status, result, report.stacks, Vec::new())
        }
    };
    let timing = timing.report();
    let line = timing.line();
    ctx.printer.report(&DeployOutcome {
        env: env.name.as_str(),
        result,
        exit_code: status.code(),
        stacks,
        messages,
        timing,
    })?;
    ctx.printer.detail(line)?;
    Ok(status)
}

/// How `ce deploy` ended: the JSON form documented at the top of this module. The text form
/// lists each stack's outcome; what ended the run otherwise (a refusal, an interruption) is
/// said on stderr as it happens, and its messages are the JSON form's `messages`.
#[derive(Serialize)]
struct DeployOutcome<'a> {
    env: &'a str,
    result: DeployResult,
    exit_code: u8,
    stacks: Vec<StackReport>,
    messages: Vec<String>,
    timing: TimingReport,
}

impl Report for DeployOutcome<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        for stack in &self.stacks {
            let status = stack
                .status
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            writeln!(
                out,
                "{}: {}{status}",
                stack.stack_name,
                stack.outcome.word()
            )?;
        }
        Ok(())
    }
}

/// The run's `result`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum DeployResult {
    /// At least one stack was created or updated, and none failed.
    Deployed,
    /// Nothing needed changing.
    NoChanges,
    /// Stopped before a change executed: approval not given, a release holding the env's
    /// lock, an origin lock the deployed distribution cannot pass yet, an export other stacks
    /// import, or a stack policy.
    Refused,
    /// A stack failed or its change was declined.
    Failed,
    /// Ctrl-C stopped the waiting.
    Interrupted,
}

impl DeployResult {
    /// The result of a run of the engine.
    fn of(report: &DeployReport) -> Self {
        let outcomes: Vec<Outcome> = report.stacks.iter().map(|s| s.outcome).collect();
        if outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Failed | Outcome::Declined))
        {
            DeployResult::Failed
        } else if outcomes.contains(&Outcome::Refused) {
            DeployResult::Refused
        } else if outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Created | Outcome::Updated))
        {
            DeployResult::Deployed
        } else {
            DeployResult::NoChanges
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Format;
    use crate::printer::printed;

    fn interrupted() -> DeployOutcome<'static> {
        DeployOutcome {
            env: "beta",
            result: DeployResult::Interrupted,
            exit_code: Status::Failure.code(),
            stacks: Vec::new(),
            messages: vec!["interrupted: nothing is running in CloudFormation".to_owned()],
            timing: Timing::start().report(),
        }
    }

    #[test]
    fn an_interrupted_run_reports_its_result_and_message_in_json() {
        let json: Value =
            serde_json::from_str(&printed(&interrupted(), Format::Json)).expect("JSON");

        assert_eq!(json["format_version"], 1);
        assert_eq!(json["result"], "interrupted");
        assert_eq!(json["exit_code"], 1);
        assert_eq!(
            json["messages"],
            serde_json::json!(["interrupted: nothing is running in CloudFormation"])
        );
    }

    #[test]
    fn an_interrupted_run_prints_no_stack_lines_in_text_its_message_being_on_stderr() {
        assert_eq!(printed(&interrupted(), Format::Text), "");
        assert_eq!(printed(&interrupted(), Format::Markdown), "");
    }

    #[test]
    fn the_result_of_a_run_is_its_worst_stack_outcome() {
        let run = |outcomes: &[Outcome]| {
            DeployResult::of(&DeployReport {
                env: "beta".into(),
                stacks: outcomes
                    .iter()
                    .map(|&outcome| {
                        let mut stack = StackReport::new("ce-beta-network");
                        stack.outcome = outcome;
                        stack
                    })
                    .collect(),
            })
        };
        assert_eq!(run(&[Outcome::NoChanges]), DeployResult::NoChanges);
        assert_eq!(
            run(&[Outcome::Updated, Outcome::NoChanges]),
            DeployResult::Deployed
        );
        assert_eq!(
            run(&[Outcome::Updated, Outcome::Refused]),
            DeployResult::Refused
        );
        assert_eq!(
            run(&[Outcome::Refused, Outcome::Declined]),
            DeployResult::Failed
        );
    }
}
