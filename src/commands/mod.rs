//! The commands: the glue between the parsed flags and the work, kept thin.
//!
//! # Adding a command
//! A command is a function `fn run_x(ctx: &Context, <its flags>) -> Result<Status>` in a
//! module of its own, dispatched from [`run`]. It
//! 1. takes what it needs from the [`Context`]: `ctx.env()` / `ctx.envs(all)` offline, or
//!    `ctx.remote(env, Purpose::…)` for a [`Remote`] that reaches the deployed env
//!    (`remote.block_on(async { let aws = remote.aws().await; … })`);
//! 2. does the work in the library (`deploy/`, `ops/`, `render/`…), which returns data;
//! 3. builds a typed report, a struct that derives `Serialize` (its JSON form; the printer
//!    adds `format_version`) and implements [`Report`] (its text form, and markdown where it
//!    has one), and hands it to `ctx.printer.report(&report)`;
//! 4. writes progress and diagnostics with `ctx.printer.note(…)` / `detail(…)` (stderr), and
//!    returns the [`Status`] that becomes the exit code. Errors are returned, never printed:
//!    `error:` and its `caused by:` lines are written in one place.
//!
//! Nothing here calls `println!`/`eprintln!` (clippy denies them), matches on the format, or
//! builds JSON by hand.

mod bluegreen;
mod builds;
mod compare;
mod context;
mod deploy;
mod destroy;
mod diff;
mod drift;
mod generate;
mod graph;
mod instances;
mod operate;
mod plan;
mod render;
mod sandbox;
mod status;

use anyhow::{Result, bail};

pub use crate::printer::Report;
pub use context::{Context, Purpose, Remote};

use crate::Status;
use crate::cli::{Cli, Command};

/// Runs the command the flags name.
pub fn run(cli: &Cli, ctx: &Context) -> Result<Status> {
    if cli.format.is_diagram() && !matches!(cli.command, Command::Graph) {
        bail!(
            "--format {} draws a diagram, which only `ce graph` does; this command prints text, json or markdown",
            cli.format.as_str()
        );
    }
    match &cli.command {
        Command::Render {
            all,
            check,
            out: root,
        } => render::run_render(ctx, *all, *check, root),
        Command::Validate { all } => render::run_validate(ctx, *all),
        Command::Diff { stack, unified } => diff::run_diff(ctx, *stack, *unified),
        Command::Plan {
            out: file,
            show,
            stack,
        } => plan::run_plan(ctx, file.as_deref(), show.as_deref(), *stack),
        Command::Deploy {
            yes,
            plan,
            stack,
            require_approval,
            recreate_failed,
        } => deploy::run_deploy(
            ctx,
            &deploy::DeployArgs {
                yes: *yes,
                plan: plan.as_deref(),
                stack: *stack,
                require_approval: *require_approval,
                recreate_failed: *recreate_failed,
            },
        ),
        Command::Status => status::run_status(ctx),
        Command::Drift { stack } => drift::run_drift(ctx, *stack),
        Command::Destroy {
            stack,
            yes,
            lift_termination_protection,
        } => destroy::run_destroy(ctx, *stack, *yes, *lift_termination_protection),
        Command::Compare { env_a, env_b } => compare::run_compare(ctx, env_a, env_b),
        Command::Graph => graph::run_graph(ctx),
        Command::Sandbox(action) => sandbox::run_sandbox(ctx, action),
        Command::Instances(action) => instances::run(ctx, action),
        Command::Builds(action) => builds::run(ctx, action),
        Command::Release(args) => bluegreen::run_release(ctx, args),
        Command::BlueGreen(action) => bluegreen::run(ctx, action),
        Command::Completions { shell } => generate::run_completions(ctx, *shell),
        Command::Man { out } => generate::run_man(ctx, out.as_deref()),
    }
}
