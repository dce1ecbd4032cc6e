//! The commands: each resolves what it needs from the parsed flags, does its job, writes data
//! to `out` and diagnostics to stderr, and returns a [`Status`]. Commands that never talk to
//! AWS (render, validate) never build an SDK client or a runtime.

mod builds;
mod compare;
mod deploy;
mod destroy;
mod diff;
mod drift;
mod graph;
mod instances;
mod operate;
mod plan;
mod render;
mod sandbox;
mod status;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::Status;
use crate::cli::{Cli, Command, Format};
use crate::config::{self, Env};

/// Version of every JSON document `ce` prints.
pub const FORMAT_VERSION: u32 = 1;

/// Settings every command shares, resolved once from the flags and the terminal.
#[derive(Clone, Debug)]
pub struct Ui {
    /// Output format of stdout.
    pub format: Format,
    /// Colour on stdout: only on a terminal, never with `NO_COLOR`.
    pub color: bool,
    /// A person can answer prompts: stdin and stderr are terminals.
    pub interactive: bool,
    /// More detail on stderr.
    pub verbose: bool,
    /// `--local`: talk to the sandbox instead of AWS.
    pub local: bool,
    /// The env named by `--env`.
    pub env: String,
    /// Where env files live.
    pub envs_dir: PathBuf,
}

impl Ui {
    /// Resolves the shared settings from the flags and the process's terminals.
    pub fn from_cli(cli: &Cli) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ui {
            // A diagram format reaches only `ce graph`, which reads it from the flags; `run`
            // refuses it for every other command before this value is used.
            format: cli.format.report().unwrap_or(Format::Text),
            color: !no_color && std::io::stdout().is_terminal(),
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            verbose: cli.verbose,
            local: cli.local,
            env: cli.env.clone(),
            envs_dir: cli.envs_dir.clone(),
        }
    }
}

/// Runs the command the flags name.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Status> {
    let ui = Ui::from_cli(cli);
    if cli.format.report().is_none() && !matches!(cli.command, Command::Graph) {
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
        } => render::run_render(&ui, out, *all, *check, root),
        Command::Validate { all } => render::run_validate(&ui, out, *all),
        Command::Diff { stack, unified } => diff::run_diff(&ui, out, stack.as_deref(), *unified),
        Command::Plan {
            out: file,
            show,
            stack,
        } => plan::run_plan(&ui, out, file.as_deref(), show.as_deref(), stack.as_deref()),
        Command::Deploy {
            yes,
            plan,
            stack,
            require_approval,
            recreate_failed,
        } => deploy::run_deploy(
            &ui,
            out,
            &deploy::DeployArgs {
                yes: *yes,
                plan: plan.as_deref(),
                stack: stack.as_deref(),
                require_approval: *require_approval,
                recreate_failed: *recreate_failed,
            },
        ),
        Command::Status => status::run_status(&ui, out),
        Command::Drift { stack } => drift::run_drift(&ui, out, stack.as_deref()),
        Command::Destroy {
            stack,
            yes,
            lift_termination_protection,
        } => destroy::run_destroy(
            &ui,
            out,
            stack.as_deref(),
            *yes,
            *lift_termination_protection,
        ),
        Command::Compare { env_a, env_b } => compare::run_compare(&ui, out, env_a, env_b),
        Command::Graph => graph::run_graph(&ui, cli.format, out),
        Command::Sandbox { action } => sandbox::run_sandbox(ui.format, action, out),
        Command::Instances { action } => instances::run(&ui, action, out),
        Command::Builds { action } => builds::run(&ui, action, out),
    }
}

/// The env named by `--env`, or every env with `--all`.
pub fn load_envs(ui: &Ui, all: bool) -> Result<Vec<Env>> {
    Ok(if all {
        config::load_all(&ui.envs_dir)?
    } else {
        vec![config::load(&ui.envs_dir, &ui.env)?]
    })
}
