//! `ce sandbox start|stop|status`: the local AWS emulator behind `--local`.

use std::io::{self, Write};

use anyhow::Result;
use serde::Serialize;

use super::{Context, Report};
use crate::Status;
use crate::aws::sandbox::{self, Record, Started, State, Stopped};
use crate::cli::SandboxAction;
use crate::printer::Styles;

/// `ce sandbox start|stop|status`: the state on stdout; exits 1 from `status` unless running.
pub fn run_sandbox(ctx: &Context, action: &SandboxAction) -> Result<Status> {
    let paths = sandbox::Paths::from_env()?;
    let (state, action_note) = match action {
        SandboxAction::Start { port } => match sandbox::start(&paths, *port, &ctx.printer)? {
            Started::New(r) => (State::Running(r), Some("started")),
            Started::AlreadyRunning(r) => (State::Running(r), Some("already running")),
        },
        SandboxAction::Status => (sandbox::status(&paths)?, None),
        SandboxAction::Stop => match sandbox::stop(&paths, &ctx.printer)? {
            Stopped::Stopped(r) => (State::Stopped, Some(gone(ctx, &r, "stopped")?)),
            Stopped::StaleRemoved(r) => (
                State::Stopped,
                Some(gone(ctx, &r, "removed a stale record")?),
            ),
            Stopped::NotRunning => (State::Stopped, Some("was not running")),
        },
    };
    let server = match &state {
        State::Running(r) | State::Stale(r) => Some(Server {
            endpoint: r.endpoint(),
            pid: r.pid,
            port: r.port,
            started_at: r.started_at_rfc3339(),
        }),
        State::Stopped => None,
    };
    ctx.printer.report(&SandboxReport {
        state: state.name(),
        log: paths.log().display().to_string(),
        action: action_note,
        server,
    })?;
    let running = matches!(state, State::Running(_));
    Ok(if running || !matches!(action, SandboxAction::Status) {
        Status::Success
    } else {
        Status::Failure
    })
}

/// Names the server a stop ended, on stderr, and returns the note for stdout.
fn gone(ctx: &Context, record: &Record, note: &'static str) -> Result<&'static str> {
    ctx.printer.note(format_args!(
        "sandbox: pid {} on {} is gone",
        record.pid,
        record.endpoint()
    ))?;
    Ok(note)
}

/// The sandbox's state, and what this command did to it.
#[derive(Serialize)]
struct SandboxReport {
    /// `running`, `stale` or `stopped`.
    state: &'static str,
    /// The server's log file.
    log: String,
    /// What was done: `started`, `already running`, `stopped`, ...; absent for `status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    /// The recorded server, when there is one.
    #[serde(flatten)]
    server: Option<Server>,
}

/// Where a recorded server is.
#[derive(Serialize)]
struct Server {
    endpoint: String,
    pid: u32,
    port: u16,
    started_at: String,
}

impl Report for SandboxReport {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        match (self.state, &self.server) {
            ("running", Some(r)) => {
                let note = self.action.map(|n| format!("; {n}")).unwrap_or_default();
                writeln!(
                    out,
                    "running at {} (pid {}, since {}){note}",
                    r.endpoint, r.pid, r.started_at
                )
            }
            ("stale", Some(r)) => writeln!(
                out,
                "stale: pid {} no longer serves {}; `ce sandbox start` replaces it",
                r.pid, r.endpoint
            ),
            (_, _) => match self.action {
                None | Some("stopped") => writeln!(out, "stopped"),
                Some(note) => writeln!(out, "stopped ({note})"),
            },
        }
    }
}
