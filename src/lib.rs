//! ce-infra: the typed model of a Compiler Explorer-shaped AWS deployment, its renderer, and
//! the commands that show and apply it.
//!
//! `main` parses flags, runs one command, and maps its [`Status`] (or error) to an exit code
//! in one place; commands never exit the process themselves.

pub mod architecture;
pub mod aws;
pub mod cli;
pub mod compare;
pub mod config;
pub mod deploy;
pub mod destroy;
pub mod diff;
pub mod drift;
pub mod graph;
pub mod lint;
pub mod live;
pub mod model;
pub mod ops;
pub mod plan;
pub mod render;
pub mod sandbox;

mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// How a command ended, as the documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 0: success, or nothing to change.
    Success,
    /// 1: an error, or a check that failed (`render --check`, `validate`).
    Failure,
    /// 2: changes are present (diff, plan).
    Changes,
    /// 3: changes that need explicit approval.
    NeedsApproval,
}

impl Status {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Failure => 1,
            Status::Changes => 2,
            Status::NeedsApproval => 3,
        }
    }
}

/// Runs `ce` with the process's arguments.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = commands::run(&cli, &mut out);
    let _ = out.flush();
    match result {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let mut text = format!("error: {err}");
            for cause in err.chain().skip(1) {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
            eprintln!("{text}");
            ExitCode::from(Status::Failure.code())
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
