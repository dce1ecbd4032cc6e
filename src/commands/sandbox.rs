//! `ce sandbox start|stop|status`: the local AWS emulator behind `--local`.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::FORMAT_VERSION;
use crate::cli::{Format, SandboxAction};
use crate::{Status, sandbox};

/// `ce sandbox start|stop|status`: the state on stdout; exits 1 from `status` unless running.
pub fn run_sandbox(format: Format, action: &SandboxAction, out: &mut dyn Write) -> Result<Status> {
    use sandbox::{Started, State, Stopped};
    let paths = sandbox::Paths::from_env()?;
    let (state, note) = match action {
        SandboxAction::Start { port } => match sandbox::start(&paths, *port)? {
            Started::New(r) => (State::Running(r), "started"),
            Started::AlreadyRunning(r) => (State::Running(r), "already running"),
        },
        SandboxAction::Status => (sandbox::status(&paths)?, ""),
        SandboxAction::Stop => match sandbox::stop(&paths)? {
            Stopped::Stopped(r) => (State::Stopped, stopped_note(&r, "stopped")),
            Stopped::StaleRemoved(r) => {
                (State::Stopped, stopped_note(&r, "removed a stale record"))
            }
            Stopped::NotRunning => (State::Stopped, "was not running"),
        },
    };
    match format {
        Format::Json => {
            let mut doc = json!({
                "format_version": FORMAT_VERSION,
                "state": state.name(),
                "log": paths.log().display().to_string(),
            });
            if !note.is_empty() {
                doc["action"] = json!(note);
            }
            if let State::Running(r) | State::Stale(r) = &state {
                doc["endpoint"] = json!(r.endpoint());
                doc["pid"] = json!(r.pid);
                doc["port"] = json!(r.port);
                doc["started_at"] = json!(r.started_at_rfc3339());
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text | Format::Markdown => match &state {
            State::Running(r) => {
                let since = r.started_at_rfc3339();
                let note = if note.is_empty() {
                    String::new()
                } else {
                    format!("; {note}")
                };
                writeln!(
                    out,
                    "running at {} (pid {}, since {since}){note}",
                    r.endpoint(),
                    r.pid
                )?
            }
            State::Stale(r) => writeln!(
                out,
                "stale: pid {} no longer serves {}; `ce sandbox start` replaces it",
                r.pid,
                r.endpoint()
            )?,
            State::Stopped if note.is_empty() || note == "stopped" => writeln!(out, "stopped")?,
            State::Stopped => writeln!(out, "stopped ({note})")?,
        },
    }
    let running = matches!(state, State::Running(_));
    Ok(if running || !matches!(action, SandboxAction::Status) {
        Status::Success
    } else {
        Status::Failure
    })
}

/// Names the server a stop ended, on stderr, and returns the note for stdout.
fn stopped_note(record: &sandbox::Record, note: &'static str) -> &'static str {
    eprintln!(
        "sandbox: pid {} on {} is gone",
        record.pid,
        record.endpoint()
    );
    note
}
