//! `ce instances list|restart`: the env's web nodes, which build each runs, and replacing the
//! ones that predate the live build.

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::json;

use super::operate::{self, Session};
use super::{FORMAT_VERSION, Ui};
use crate::Status;
use crate::cli::{Format, InstancesAction};
use crate::ops::bucket::BuildsBucket;
use crate::ops::fleet::AwsFleet;
use crate::ops::instances::{self, Freshness, Group, Pointer, version_label};
use crate::ops::roll::{self, Cancel, Fleet};
use crate::ops::versionslog::{Head, VersionsLog};

/// Between looks at the group while new nodes boot.
const POLL: Duration = Duration::from_secs(10);
/// Added to the group's grace period for the default wait per step.
const EXTRA_WAIT: Duration = Duration::from_secs(600);

/// Runs one `ce instances` action.
pub fn run(ui: &Ui, action: &InstancesAction, out: &mut dyn Write) -> Result<Status> {
    let (runtime, env, target) = operate::runtime(ui)?;
    runtime.block_on(async {
        let session = operate::connect(env, target).await?;
        match action {
            InstancesAction::List => list(ui, &session, out).await,
            InstancesAction::Restart {
                batch,
                dry_run,
                yes,
                timeout,
            } => restart(ui, &session, *batch, *dry_run, *yes, *timeout, out).await,
        }
    })
}

/// The group, the pointer with its history, and the log's head, read at once.
async fn look(s: &Session) -> Result<(AwsFleet, Group, Pointer, Option<Head>)> {
    let (group_name, target_group) = s.resources.fleet()?;
    let fleet = AwsFleet::new(&s.aws, &group_name, &target_group);
    let bucket = BuildsBucket::new(&s.aws, &s.resources.builds_bucket);
    let log = VersionsLog::new(&s.aws, &s.resources.versions_table, &s.resources.env);
    let (group, key, history, head) = tokio::join!(
        fleet.group(),
        bucket.pointer(&s.resources.env),
        log.history(None),
        log.head()
    );
    let pointer = Pointer::new(key?, history?);
    Ok((fleet, group?, pointer, head?))
}

async fn list(ui: &Ui, s: &Session, out: &mut dyn Write) -> Result<Status> {
    let (_, group, pointer, _) = look(s).await?;
    let views = instances::view(&group, &pointer);
    match ui.format {
        Format::Text | Format::Markdown => {
            out.write_all(instances::list_table(&views).as_bytes())?
        }
        Format::Json => {
            let doc = json!({
                "format_version": FORMAT_VERSION,
                "env": s.resources.env,
                "group": {
                    "name": group.name,
                    "desired": group.desired,
                    "min": group.min,
                    "max": group.max,
                },
                "live": {"key": pointer.key, "set_at": pointer.set_at},
                "instances": views,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
    }
    let stale = views
        .iter()
        .filter(|v| v.freshness == Freshness::Stale)
        .count();
    if stale > 0 {
        eprintln!(
            "{stale} of {} nodes predate the live build {}: `ce --env {} instances restart` \
             replaces them",
            views.len(),
            pointer
                .key
                .as_deref()
                .map(version_label)
                .unwrap_or_default(),
            s.resources.env
        );
    } else if pointer.key.is_some() && pointer.set_at.is_none() {
        eprintln!(
            "the live build was set outside ce, so which nodes run it cannot be told (Restart ?)"
        );
    }
    Ok(Status::Success)
}

async fn restart(
    ui: &Ui,
    s: &Session,
    batch: u32,
    dry_run: bool,
    yes: bool,
    timeout: Option<u64>,
    out: &mut dyn Write,
) -> Result<Status> {
    let env = &s.resources.env;
    let (fleet, group, pointer, head) = look(s).await?;
    let Some(live) = pointer.key.as_deref() else {
        bail!(
            "no build is live in {env}, so new nodes could not boot; \
             `ce --env {env} builds set-current VERSION` first"
        );
    };
    if let Some(lock) = head.and_then(|h| h.lock) {
        bail!(
            "builds of {env} are locked {}; a restart would change what runs, so it waits \
             for `ce --env {env} builds unlock`",
            lock.describe()
        );
    }
    let plan = roll::plan(&group, &pointer, batch);
    if plan.count() == 0 || dry_run {
        match ui.format {
            Format::Json => {
                let doc = json!({
                    "format_version": FORMAT_VERSION,
                    "env": env,
                    "live": live,
                    "plan": plan,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
            }
            Format::Text | Format::Markdown if plan.count() == 0 => writeln!(
                out,
                "every node of {env} was launched after {} went live; nothing to replace",
                version_label(live)
            )?,
            Format::Text | Format::Markdown => out.write_all(plan.describe().as_bytes())?,
        }
        return Ok(Status::Success);
    }
    let question = format!(
        "{}to run {} (nodes are replaced, never stopped first)",
        plan.describe(),
        version_label(live)
    );
    if !operate::confirm(ui, &s.env, yes, &question)? {
        return Ok(Status::NeedsApproval);
    }
    operate::guard(s).await?;
    let options = roll::Options {
        poll: POLL,
        timeout: timeout
            .map(Duration::from_secs)
            .unwrap_or(group.grace + EXTRA_WAIT),
    };
    let mut cancel = Cancel::new(async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed: never cancel, Ctrl-C kills the process as usual.
            std::future::pending::<()>().await;
        }
        eprintln!("\ninterrupted: stopping the roll and putting the group back");
    });
    let begun = std::time::Instant::now();
    let report = roll::run(&fleet, &plan, options, &mut cancel, &mut std::io::stderr()).await;
    match ui.format {
        Format::Json => {
            let doc = json!({
                "format_version": FORMAT_VERSION,
                "env": env,
                "group": plan.group,
                "live": live,
                "report": report,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text | Format::Markdown => {
            let sizes = report
                .sizes
                .map(|(d, min, max)| format!("desired {d}, min {min}, max {max}"))
                .unwrap_or_else(|| "sizes unknown".into());
            match &report.stopped {
                None => writeln!(
                    out,
                    "replaced {} node{} of {} in {} s; {} is at {sizes}",
                    report.replaced.len(),
                    if report.replaced.len() == 1 { "" } else { "s" },
                    env,
                    begun.elapsed().as_secs(),
                    plan.group
                )?,
                Some(stop) => {
                    writeln!(
                        out,
                        "stopped: {}; replaced {} of {}; {} is at {sizes}",
                        stop.describe(),
                        report.replaced.len(),
                        plan.count(),
                        plan.group
                    )?;
                    if !report.remaining.is_empty() {
                        writeln!(
                            out,
                            "still on an older build: {}",
                            report.remaining.join(", ")
                        )?;
                    }
                    for e in &report.cleanup_errors {
                        writeln!(out, "needs a hand: could not {e}")?;
                    }
                }
            }
        }
    }
    Ok(if report.stopped.is_none() {
        Status::Success
    } else {
        Status::Failure
    })
}
