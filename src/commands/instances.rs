//! `ce instances list|restart`: the env's web nodes, which build each runs, and replacing the
//! ones that predate the live build.

use std::io::{self, Write};
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

use super::operate::{self, Session};
use super::{Context, Report};
use crate::Status;
use crate::architecture::Colour;
use crate::cli::InstancesAction;
use crate::ops::bluegreen::Platform;
use crate::ops::bluegreen::edge::AwsPlatform;
use crate::ops::bucket::BuildsBucket;
use crate::ops::fleet::AwsFleet;
use crate::ops::instances::{self, Freshness, Group, NodeView, Pointer, version_label};
use crate::ops::roll::{self, Cancel, Fleet, RollPlan, RollReport};
use crate::ops::versionslog::{Entry, Head, VersionsLog};
use crate::printer::Styles;

/// Between looks at the group while new nodes boot.
const POLL: Duration = Duration::from_secs(10);
/// Added to the group's grace period for the default wait per step.
const EXTRA_WAIT: Duration = Duration::from_secs(600);

/// Runs one `ce instances` action.
pub fn run(ctx: &Context, action: &InstancesAction) -> Result<Status> {
    let remote = operate::remote(ctx)?;
    remote.block_on(async {
        let session = operate::connect(&remote).await?;
        match action {
            InstancesAction::List => list(ctx, &session).await,
            InstancesAction::Restart {
                batch,
                dry_run,
                yes,
                timeout,
            } => restart(ctx, &session, *batch, *dry_run, *yes, *timeout).await,
        }
    })
}

/// The live colour's group, the pointer with its history, and the log's head, read at once.
/// A restart rolls the live colour: the idle one serves no traffic and is replaced wholesale
/// by the next release.
async fn look(s: &Session) -> Result<(AwsFleet, Group, Pointer, Option<Head>)> {
    let platform = AwsPlatform::new(&s.aws, &s.resources, "")?;
    let colour = platform.live().await?.ok_or_else(|| {
        anyhow::anyhow!(
            "the HTTPS listener forwards to neither colour; `ce --env {} blue-green status` \
             shows both",
            s.resources.env
        )
    })?;
    let fleet = platform.fleet(colour).clone();
    let log = VersionsLog::new(&s.aws, &s.resources.versions_table, &s.resources.env);
    let (group, colour_key, booted, head) = tokio::join!(
        fleet.group(),
        platform.pointer(colour),
        boot_record(s),
        log.head()
    );
    let (key, history) = booted?;
    let pointer = instances::colour_pointer(colour, colour_key?, key, &history);
    Ok((fleet, group?, pointer, head?))
}

/// What tells, beside a colour's own pointer, which build its nodes booted: the env's pointer
/// (which a colour no release has pointed boots) and the versions log's changes.
pub(super) async fn boot_record(s: &Session) -> Result<(Option<String>, Vec<Entry>)> {
    let bucket = BuildsBucket::new(&s.aws, &s.resources.builds_bucket);
    let log = VersionsLog::new(&s.aws, &s.resources.versions_table, &s.resources.env);
    let (key, history) = tokio::join!(bucket.pointer(&s.resources.env), log.history(None));
    Ok((key?, history?))
}

async fn list(ctx: &Context, s: &Session) -> Result<Status> {
    let (_, group, pointer, _) = look(s).await?;
    let platform = AwsPlatform::new(&s.aws, &s.resources, "")?;
    let live = platform.live().await?;
    let idle = live.map(Colour::other);
    // The idle colour's nodes run what its own pointer named when they booted.
    let idle_group = match idle {
        Some(colour) => {
            let (group, colour_key, booted) = tokio::join!(
                platform.group(colour),
                platform.pointer(colour),
                boot_record(s),
            );
            let (key, history) = booted?;
            let pointer = instances::colour_pointer(colour, colour_key?, key, &history);
            Some((group?, pointer))
        }
        None => None,
    };
    // The live colour's nodes first; the idle colour's (kept for rollback) after them.
    let views = instances::view(&group, &pointer);
    let idle_views = idle_group
        .as_ref()
        .map(|(g, p)| instances::view(g, p))
        .unwrap_or_default();
    ctx.printer.report(&ListReport {
        env: &s.resources.env,
        live_colour: live,
        group: GroupSizes {
            name: &group.name,
            colour: live,
            desired: group.desired,
            min: group.min,
            max: group.max,
        },
        live: LiveBuild {
            key: pointer.key.as_deref(),
            set_at: pointer.set_at.as_ref(),
        },
        instances: &views,
        idle: idle_group.as_ref().map(|(g, _)| IdleGroup {
            group: GroupSizes {
                name: &g.name,
                colour: idle,
                desired: g.desired,
                min: g.min,
                max: g.max,
            },
            instances: &idle_views,
        }),
    })?;
    let stale = views
        .iter()
        .filter(|v| v.freshness == Freshness::Stale)
        .count();
    if stale > 0 {
        ctx.printer.note(format_args!(
            "{stale} of {} nodes predate the live build {}: `ce --env {} instances restart` \
             replaces them",
            views.len(),
            pointer
                .key
                .as_deref()
                .map(version_label)
                .unwrap_or_default(),
            s.resources.env
        ))?;
    } else if pointer.key.is_some() && pointer.set_at.is_none() {
        ctx.printer.note(
            "the live build was set outside ce, so which nodes run it cannot be told (Restart ?)",
        )?;
    }
    Ok(Status::Success)
}

/// The env's nodes.
#[derive(Serialize)]
struct ListReport<'a> {
    env: &'a str,
    /// The colour the listener forwards to.
    live_colour: Option<Colour>,
    /// The live colour's group.
    group: GroupSizes<'a>,
    live: LiveBuild<'a>,
    /// The live colour's nodes.
    instances: &'a [NodeView],
    /// The other colour: its group and nodes (kept for rollback until cleanup).
    idle: Option<IdleGroup<'a>>,
}

/// The idle colour's group and nodes.
#[derive(Serialize)]
struct IdleGroup<'a> {
    #[serde(flatten)]
    group: GroupSizes<'a>,
    instances: &'a [NodeView],
}

/// An Auto Scaling group's sizes.
#[derive(Serialize)]
struct GroupSizes<'a> {
    name: &'a str,
    colour: Option<Colour>,
    desired: u32,
    min: u32,
    max: u32,
}

/// The build new nodes boot, and since when.
#[derive(Serialize)]
struct LiveBuild<'a> {
    key: Option<&'a str>,
    set_at: Option<&'a crate::ops::time::Timestamp>,
}

impl Report for ListReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        let idle: &[NodeView] = self.idle.as_ref().map_or(&[], |i| i.instances);
        let rows: Vec<NodeView> = self.instances.iter().chain(idle).cloned().collect();
        let colours: Vec<Option<Colour>> = self
            .instances
            .iter()
            .map(|_| self.live_colour)
            .chain(idle.iter().map(|_| self.live_colour.map(Colour::other)))
            .collect();
        writeln!(
            out,
            "live colour: {}",
            self.live_colour
                .map_or("none".to_owned(), |c| c.to_string())
        )?;
        out.write_all(
            instances::list_table_with_colours(&rows, &colours, self.live_colour).as_bytes(),
        )
    }
}

async fn restart(
    ctx: &Context,
    s: &Session,
    batch: u32,
    dry_run: bool,
    yes: bool,
    timeout: Option<u64>,
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
        ctx.printer.report(&PlanReport {
            env,
            live,
            plan: &plan,
        })?;
        return Ok(Status::Success);
    }
    // A release owns the live group: it pinned its size, and may be switching traffic.
    let guard = crate::ops::release::release_guard(&s.aws, env, "no node was replaced");
    if let Some(note) = guard.await? {
        ctx.printer.note(note)?;
    }
    let question = format!(
        "{}to run {} (nodes are replaced, never stopped first)",
        plan.describe(),
        version_label(live)
    );
    if !operate::confirm(ctx, &s.env, yes, &question)? {
        return Ok(Status::NeedsApproval);
    }
    operate::guard(s).await?;
    let options = roll::Options {
        poll: POLL,
        timeout: timeout
            .map(Duration::from_secs)
            .unwrap_or(group.grace + EXTRA_WAIT),
    };
    let printer = &ctx.printer;
    let mut cancel = Cancel::new(async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No handler could be installed: never cancel, Ctrl-C kills the process as usual.
            std::future::pending::<()>().await;
        }
        let _ = printer.note("\ninterrupted: stopping the roll and putting the group back");
    });
    let begun = std::time::Instant::now();
    let report = roll::run(&fleet, &plan, options, &mut cancel, &mut printer.stderr()).await;
    let status = if report.stopped.is_none() {
        Status::Success
    } else {
        Status::Failure
    };
    ctx.printer.report(&RestartReport {
        env,
        group: &plan.group,
        live,
        report: &report,
        planned: plan.count(),
        seconds: begun.elapsed().as_secs(),
    })?;
    Ok(status)
}

/// The roll `--dry-run` would do, or that there is nothing to do.
#[derive(Serialize)]
struct PlanReport<'a> {
    env: &'a str,
    live: &'a str,
    plan: &'a RollPlan,
}

impl Report for PlanReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        if self.plan.count() == 0 {
            writeln!(
                out,
                "every node of {} was launched after {} went live; nothing to replace",
                self.env,
                version_label(self.live)
            )
        } else {
            out.write_all(self.plan.describe().as_bytes())
        }
    }
}

/// How the roll went.
#[derive(Serialize)]
struct RestartReport<'a> {
    env: &'a str,
    group: &'a str,
    live: &'a str,
    report: &'a RollReport,
    #[serde(skip)]
    planned: usize,
    #[serde(skip)]
    seconds: u64,
}

impl Report for RestartReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        let report = self.report;
        let sizes = report
            .sizes
            .map(|(d, min, max)| format!("desired {d}, min {min}, max {max}"))
            .unwrap_or_else(|| "sizes unknown".into());
        let Some(stop) = &report.stopped else {
            return writeln!(
                out,
                "replaced {} node{} of {} in {} s; {} is at {sizes}",
                report.replaced.len(),
                if report.replaced.len() == 1 { "" } else { "s" },
                self.env,
                self.seconds,
                self.group
            );
        };
        writeln!(
            out,
            "stopped: {}; replaced {} of {}; {} is at {sizes}",
            stop.describe(),
            report.replaced.len(),
            self.planned,
            self.group
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
        Ok(())
    }
}
