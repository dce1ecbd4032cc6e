//! Command-line flags, as parsed by clap, before anything is read or resolved.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Builds, shows and applies the AWS infrastructure of a Compiler Explorer-shaped service.
#[derive(Debug, Parser)]
#[command(name = "ce", version, about, long_about = None)]
pub struct Cli {
    /// Environment to act on (a file envs/<ENV>.toml).
    #[arg(long, global = true, env = "CE_ENV", default_value = "staging")]
    pub env: String,

    /// Output format of data written to stdout.
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

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON with a `format_version`, for scripts and CI.
    Json,
    /// A markdown report (diff), e.g. for a pull-request comment; other commands print text.
    Markdown,
}

/// The commands.
#[derive(Debug, Subcommand)]
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
        stack: Option<String>,
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
        stack: Option<String>,
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
        stack: Option<String>,
        /// Which changes need an approval typed at a terminal, which --yes does not give
        /// [default: risky; never against the local sandbox].
        #[arg(long, value_enum)]
        require_approval: Option<crate::deploy::RequireApproval>,
        /// Delete a stack whose creation failed (ROLLBACK_COMPLETE) and create it again.
        #[arg(long)]
        recreate_failed: bool,
    },
    /// Run the local AWS emulator that --local talks to.
    Sandbox {
        /// What to do with it.
        #[command(subcommand)]
        action: SandboxAction,
    },
}

/// `ce sandbox` actions.
#[derive(Debug, Subcommand)]
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
