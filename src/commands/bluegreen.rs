//! `ce release` and `ce blue-green status|deploy|switch|rollback|cleanup`: the glue between
//! the flags, the env's AWS resources and the blue/green core in `ops::bluegreen`. Progress
//! goes to stderr, the outcome to stdout (text, or JSON with a `format_version`).

use std::io::{self, Write};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::operate::{self, Session};
use super::{Context, Report};
use crate::Status;
use crate::cli::{BlueGreenAction, ReleaseArgs};
use crate::ops::bluegreen::edge::AwsPlatform;
use crate::ops::bluegreen::probe::HttpProbe;
use crate::ops::bluegreen::{Gate, Platform, control, release};
use crate::ops::bucket::BuildsBucket;
use crate::ops::builds::{self, Wanted};
use crate::ops::instances::version_label;
use crate::printer::Styles;

/// Runs `ce release`.
pub fn run_release(ctx: &Context, args: &ReleaseArgs) -> Result<Status> {
    let remote = operate::remote(ctx)?;
    remote.block_on(async {
        let session = operate::connect(&remote).await?;
        release_in(ctx, &session, args).await
    })
}

/// Runs one `ce blue-green` action.
pub fn run(ctx: &Context, action: &BlueGreenAction) -> Result<Status> {
    if let BlueGreenAction::Deploy(args) = action {
        return run_release(ctx, args);
    }
    let remote = operate::remote(ctx)?;
    remote.block_on(async {
        let session = operate::connect(&remote).await?;
        let by = crate::ops::operator();
        // The live colour's minimum, as the compute template and a release give it.
        let env_min = session.env.file.compute.min_size;
        match action {
            BlueGreenAction::Status | BlueGreenAction::Deploy(_) => {
                let platform = AwsPlatform::new(&session.aws, &session.resources, "")?;
                let (env_key, history) = super::instances::boot_record(&session).await?;
                let status = control::status(&platform, env_key.as_deref(), &history).await?;
                ctx.printer
                    .report(&Shown::new("status", &status, status.text()))?;
                Ok(Status::Success)
            }
            BlueGreenAction::Switch { colour, yes } => {
                let question = format!("{}: send all traffic to {colour}", session.env.name);
                if !operate::confirm(ctx, &session.env, *yes, &question)? {
                    return Ok(Status::NeedsApproval);
                }
                let platform = connect_for_change(&session).await?;
                let switched = control::switch(&platform, *colour, env_min, &by).await?;
                switched_out(ctx, "switch", &switched)
            }
            BlueGreenAction::Rollback { yes } => {
                let question = format!(
                    "{}: send all traffic back to the other colour",
                    session.env.name
                );
                if !operate::confirm(ctx, &session.env, *yes, &question)? {
                    return Ok(Status::NeedsApproval);
                }
                let platform = connect_for_change(&session).await?;
                let switched = control::rollback(&platform, env_min, &by).await?;
                switched_out(ctx, "rollback", &switched)
            }
            BlueGreenAction::Cleanup { yes } => {
                let question = format!(
                    "{}: scale the idle colour to zero (no rollback to it afterwards)",
                    session.env.name
                );
                if !operate::confirm(ctx, &session.env, *yes, &question)? {
                    return Ok(Status::NeedsApproval);
                }
                let platform = connect_for_change(&session).await?;
                let cleaned = control::cleanup(&platform).await?;
                let text = format!(
                    "{} ({}) scaled to zero from {} node(s)\n",
                    cleaned.colour, cleaned.group, cleaned.had
                );
                ctx.printer.report(&Shown::new("cleanup", &cleaned, text))?;
                Ok(Status::Success)
            }
        }
    })
}

/// The account guard, then the platform with the caller's identity for the versions log.
async fn connect_for_change(session: &Session) -> Result<AwsPlatform> {
    operate::guard(session).await?;
    let principal = crate::ops::principal(&session.aws).await?;
    Ok(AwsPlatform::new(
        &session.aws,
        &session.resources,
        &principal,
    )?)
}

async fn release_in(ctx: &Context, session: &Session, args: &ReleaseArgs) -> Result<Status> {
    let env = &session.env;
    let bucket = BuildsBucket::new(&session.aws, &session.resources.builds_bucket);
    let lookup = AwsPlatform::new(&session.aws, &session.resources, "")?;
    let live_colour = lookup.live().await?;
    let live_build = match live_colour {
        Some(colour) => lookup.pointer(colour).await?,
        None => None,
    };
    let found = bucket.builds(None).await?;
    let mut build = builds::resolve(
        &found,
        &Wanted::parse(&args.version),
        args.branch.as_deref(),
        live_build.as_deref(),
    )?
    .clone();
    // Complete means a tarball and its hash: the `.txt` must be readable and not empty.
    bucket.read_hashes(std::slice::from_mut(&mut build)).await?;
    if build.hash.as_deref().is_none_or(str::is_empty) {
        anyhow::bail!(
            "build {} has no git hash in {}; it is incomplete and cannot go live",
            build.label(),
            build.info_key()
        );
    }
    let c = &env.file.compute;
    let plan = release::plan(
        &lookup,
        build,
        args.capacity,
        c.desired_capacity.unwrap_or(c.min_size),
        c.min_size,
    )
    .await?;
    if !operate::confirm(
        ctx,
        env,
        args.yes,
        &format!("{}: {}", env.name, plan.describe()),
    )? {
        return Ok(Status::NeedsApproval);
    }
    let platform = connect_for_change(session).await?;
    let mut gate = Gate::from_env(env);
    if let Some(url) = &args.service_url {
        gate.service_url = Some(url.clone());
    }
    if args.skip_node_checks {
        gate.node_checks = false;
    }
    let probe = HttpProbe::new().map_err(anyhow::Error::msg)?;
    let printer = ctx.printer.clone();
    let progress = move |line: &str| {
        // Progress is best effort: a closed stderr must not stop a release half way.
        let _ = printer.note(format_args!("release: {line}"));
    };
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler: never interrupt.
            std::future::pending::<()>().await;
        }
    };
    let by = crate::ops::operator();
    let started = std::time::Instant::now();
    let outcome = release::run(&platform, &probe, &plan, &gate, &by, &progress, ctrl_c).await;
    match outcome {
        Ok(released) => {
            let previous = match &released.previous_build {
                Some(key) => format!("(build {})", version_label(key)),
                None => "(no build recorded)".to_owned(),
            };
            let text = format!(
                "{} is live on {} ({} node(s)) after {:.1} s; {} keeps its nodes {previous} \
                 for `ce blue-green rollback` until `ce blue-green cleanup`\n",
                plan.build.label(),
                released.colour,
                released.capacity,
                started.elapsed().as_secs_f64(),
                released.previous,
            );
            ctx.printer
                .report(&Shown::new("release", &released, text))?;
            Ok(Status::Success)
        }
        Err(failed) => Err(anyhow::Error::new(failed)).context(format!(
            "release of {} to {} did not go live",
            plan.build.label(),
            plan.idle
        )),
    }
}

fn switched_out(ctx: &Context, kind: &'static str, switched: &control::Switched) -> Result<Status> {
    let text = if switched.unchanged {
        format!("{} is live already; nothing changed\n", switched.to)
    } else {
        format!(
            "traffic moved from {} to {} (build {})\n",
            switched
                .from
                .map_or("neither colour".to_owned(), |c| c.to_string()),
            switched.to,
            switched.build.as_deref().unwrap_or("unknown"),
        )
    };
    for note in &switched.notes {
        ctx.printer.note(format_args!("note: {note}"))?;
    }
    ctx.printer.report(&Shown::new(kind, switched, text))?;
    Ok(Status::Success)
}

/// A result as a report: `{format_version, <kind>: value}` in JSON, `text` otherwise.
struct Shown<'a, T> {
    kind: &'static str,
    value: &'a T,
    text: String,
}

impl<'a, T: Serialize> Shown<'a, T> {
    fn new(kind: &'static str, value: &'a T, text: String) -> Self {
        Shown { kind, value, text }
    }
}

impl<T: Serialize> Serialize for Shown<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.kind, self.value)?;
        map.end()
    }
}

impl<T: Serialize> Report for Shown<'_, T> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        out.write_all(self.text.as_bytes())
    }
}
