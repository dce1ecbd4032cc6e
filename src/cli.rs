//! Command-line flags, as parsed by clap, before anything is read or resolved.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::architecture::StackId;

/// Builds, shows and applies the AWS infrastructure of a Compiler Explorer-shaped service.
///
/// A command that needs a subcommand and gets none is clap's `MissingSubcommand` error, which
/// names the command (`arg_required_else_help` is off: it would print the whole help instead,
/// with no `error:` line); the binary's name is fixed so that error names `ce` however the
/// binary was called.
#[derive(Debug, Parser)]
#[command(
    name = "ce",
    bin_name = "ce",
    version,
    about,
    long_about = None,
    arg_required_else_help = false
)]
pub struct Cli {
    /// Environment to act on (a file envs/<ENV>.toml).
    #[arg(long, global = true, env = "CE_ENV", default_value = "staging")]
    pub env: String,

    /// Output format of data written to stdout (mermaid and dot: `ce graph` only).
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Directory holding the env files.
    #[arg(long, global = true, env = "CE_ENVS_DIR", default_value = "envs")]
    pub envs_dir: PathBuf,

    /// Talk to the local sandbox (moto on 127.0.0.1) with dummy credentials instead of AWS;
    /// starts it if needed.
    #[arg(long, global = true, env = "CE_LOCAL", value_parser = clap::builder::BoolishValueParser::new())]
    pub local: bool,

    /// More detail on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The values of `--format`, the form of stdout: the three every command's report speaks, and
/// two diagram languages only `ce graph` draws. One flag keeps one meaning, and a command that
/// cannot write a format says so instead of silently printing another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON with a `format_version`, for scripts and CI.
    Json,
    /// A markdown report, e.g. for a pull-request comment.
    Markdown,
    /// A mermaid flowchart (`ce graph`).
    Mermaid,
    /// A Graphviz DOT digraph (`ce graph`).
    Dot,
}

impl Format {
    /// Whether this is a diagram language rather than a report format.
    pub fn is_diagram(self) -> bool {
        matches!(self, Format::Mermaid | Format::Dot)
    }

    /// The value as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Mermaid => "mermaid",
            Format::Dot => "dot",
        }
    }
}

/// The commands.
///
/// Each command's arguments are built only when it is the one run (`defer`, here and on the
/// action enums): building the whole tree before parsing was half of `ce --version`'s work.
/// Code that inspects arguments (completions, man pages) builds the tree first with
/// `Command::build`. The commands with actions are newtype variants so that the names of
/// their actions are registered at once (for the help and the missing-command error) and each
/// variant's own about and `arg_required_else_help = false` are applied after the action
/// enum's, as without deferral.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Write each stack's CloudFormation template to <out>/<env>/<stack>.json.
    Render {
        /// Render every env in the envs directory.
        #[arg(long)]
        all: bool,
        /// Write nothing; fail (exit 1) naming every file that differs from a fresh render.
        #[arg(long)]
        check: bool,
        /// Root directory of the rendered stacks.
        #[arg(long, default_value = "stacks")]
        out: PathBuf,
    },
    /// Check env files and rendered templates against the tool's rules; no AWS calls.
    Validate {
        /// Validate every env in the envs directory.
        #[arg(long)]
        all: bool,
    },
    /// Compare the deployed stacks with fresh renders: exit 0 no changes, 2 changes, 3 changes
    /// that need approval.
    Diff {
        /// Only this stack: network, storage, compute, edge or monitoring.
        #[arg(long)]
        stack: Option<StackId>,
        /// Print a unified diff of each changed stack's template JSON instead of the analysis.
        #[arg(long)]
        unified: bool,
    },
    /// Diff, and create a CloudFormation change set per changed stack, kept for review; exit
    /// like diff (0 no changes, 2 changes, 3 changes that need approval).
    Plan {
        /// Write the plan to this file (for `ce deploy --plan`).
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "show",
            conflicts_with = "show"
        )]
        out: Option<PathBuf>,
        /// Print a plan file again instead of planning.
        #[arg(long, value_name = "FILE")]
        show: Option<PathBuf>,
        /// Only this stack: network, storage, compute, edge or monitoring.
        #[arg(long)]
        stack: Option<StackId>,
    },
    /// Apply the rendered stacks through change sets, in dependency order, with approval.
    Deploy {
        /// Approve what `--require-approval` leaves to a plain yes (for CI).
        #[arg(long)]
        yes: bool,
        /// Execute exactly the change sets of this plan (from `ce plan --out`).
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Only this stack: network, storage, compute, edge or monitoring.
        #[arg(long)]
        stack: Option<StackId>,
        /// Which changes need an approval typed at a terminal, which --yes does not give
        /// [default: risky; never against the local sandbox].
        #[arg(long, value_enum)]
        require_approval: Option<crate::deploy::RequireApproval>,
        /// Delete a stack whose creation failed (ROLLBACK_COMPLETE) and create it again.
        #[arg(long)]
        recreate_failed: bool,
    },
    /// The env's web nodes: which build each runs; replace them to run the live one.
    #[command(subcommand, arg_required_else_help = false)]
    Instances(InstancesAction),
    /// The env's builds: list them, put one live, its history, the lock.
    #[command(subcommand, arg_required_else_help = false)]
    Builds(BuildsAction),
    /// Put VERSION (or `latest`) live on fresh nodes of the idle colour: bring them up, check
    /// them, switch the load balancer. The same as `ce blue-green deploy VERSION`.
    Release(ReleaseArgs),
    /// The env's two node groups: which is live, switching between them, rollback, cleanup.
    #[command(name = "blue-green")]
    #[command(subcommand, arg_required_else_help = false)]
    BlueGreen(BlueGreenAction),
    /// Show the env's stacks: status, last change, drift when checked, outputs.
    Status,
    /// Detect drift of the env's stacks and show it like a diff: exit 0 in sync, 2 drifted.
    Drift {
        /// Only this stack: network, storage, compute, edge or monitoring.
        #[arg(long)]
        stack: Option<StackId>,
    },
    /// Delete the env's stacks in reverse dependency order; stateful resources are retained.
    Destroy {
        /// Only this stack: network, storage, compute, edge or monitoring.
        #[arg(long)]
        stack: Option<StackId>,
        /// Delete without asking (a protected env still needs its name typed at a terminal).
        #[arg(long)]
        yes: bool,
        /// Turn termination protection off before deleting; needed for protected envs and for
        /// any stack that has it on.
        #[arg(long)]
        lift_termination_protection: bool,
    },
    /// How two envs differ, read from their rendered stacks with env-specific names and ids
    /// normalised away; offline. Exit 0 equal, 2 different, 3 a `must_match` setting differs.
    Compare {
        /// The first env (the "before" side).
        env_a: String,
        /// The second env (the "after" side).
        env_b: String,
    },
    /// The env's resources grouped by stack, with references and cross-stack imports as
    /// edges and stateful resources marked; `--format mermaid` or `dot` draws it.
    Graph,
    /// Print a shell completion script, e.g. `ce completions bash > ~/.local/share/bash-completion/completions/ce`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `ce man > ce.1 && man -l ce.1`; with --out, write
    /// it and one page per command (ce-deploy.1, ...) into a directory.
    Man {
        /// Write ce.1 and a page per command into this directory instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Run the local AWS emulator that --local talks to.
    #[command(subcommand, arg_required_else_help = false)]
    Sandbox(SandboxAction),
}

/// `ce sandbox` actions.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SandboxAction {
    /// Start moto on 127.0.0.1 (installing it on first use); it runs until stopped.
    Start {
        /// Port to listen on; a free one by default.
        #[arg(long)]
        port: Option<u16>,
    },
    /// Stop the running sandbox.
    Stop,
    /// Say whether the sandbox runs and where; exits 1 unless it is running.
    Status,
}

/// `ce instances` actions.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum InstancesAction {
    /// Address, id, state, type, target health, launch time and build of every node, marking
    /// those that predate the live build.
    List,
    /// Replace every node that predates the live build, without lowering capacity: launch new
    /// ones, wait until they are healthy, then terminate old ones.
    Restart {
        /// Nodes replaced per step.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        batch: u32,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation (needed when not on a terminal).
        #[arg(long)]
        yes: bool,
        /// Seconds to wait for one step's new nodes to be healthy; default: the group's
        /// health check grace period plus ten minutes.
        #[arg(long)]
        timeout: Option<u64>,
    },
}

/// `ce builds` actions.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum BuildsAction {
    /// Builds in the bucket, newest first, the live one marked.
    List {
        /// Only this branch's builds.
        #[arg(long)]
        branch: Option<String>,
    },
    /// Make VERSION (or `latest`) the build new nodes boot; running nodes keep theirs until
    /// `ce instances restart`.
    #[command(alias = "set_current")]
    SetCurrent {
        /// A version from `ce builds list`, or `latest` (the newest complete build of the
        /// branch given, else of the live build's branch).
        version: String,
        /// The branch the version is on, when several have it.
        #[arg(long)]
        branch: Option<String>,
        /// Do not ask for confirmation (needed when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Who put which build live when, newest first.
    History {
        /// Show at most this many changes.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Forbid changing the live build (e.g. during a conference talk).
    Lock {
        /// Why; shown to whoever meets the lock.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift the lock.
    Unlock,
    /// Delete builds (tarball, hash, static files) that no env sharing the bucket can boot or
    /// go back to: not named by any pointer or colour, not among the last N releases, not
    /// among the N newest of their branch. Shows the list and asks first.
    #[command(alias = "rm_old")]
    RmOld {
        /// Releases of each env, and newest builds of each branch, to keep.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
        keep: u32,
        /// Do not ask for confirmation (needed when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
}

// `ce release` and `ce blue-green deploy`. Not a doc comment: clap would make it the about of
// both commands, over each variant's own, when the deferred arguments are built.
#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    /// A version from `ce builds list`, or `latest` (the newest complete build of the branch
    /// given, else of the live build's branch).
    pub version: String,
    /// The branch the version is on, when several have it.
    #[arg(long)]
    pub branch: Option<String>,
    /// Nodes to bring up; default: as many as the live colour runs.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub capacity: Option<u32>,
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Check the service at this base URL instead of the env's `[release] service_url`.
    #[arg(long)]
    pub service_url: Option<String>,
    /// Skip the direct check of each node (when `ce` runs where it cannot reach the nodes'
    /// private addresses); the service check through the load balancer still runs.
    #[arg(long)]
    pub skip_node_checks: bool,
}

/// `ce blue-green` actions.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum BlueGreenAction {
    /// Both colours: group sizes, target health of each node, the build each boots, which is
    /// live.
    Status,
    /// The same as `ce release VERSION`.
    Deploy(ReleaseArgs),
    /// Send traffic to COLOUR; refuses a colour with no node serving.
    Switch {
        /// `blue` or `green`.
        colour: crate::architecture::Colour,
        /// Do not ask for confirmation (needed when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Send traffic back to the other colour, if it still has nodes serving.
    Rollback {
        /// Do not ask for confirmation (needed when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Scale the idle colour to zero once the live one is healthy (ends the chance to roll
    /// back to it).
    Cleanup {
        /// Do not ask for confirmation (needed when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
}
