//! The commands: each resolves what it needs from the parsed flags, does its job, writes data
//! to `out` and diagnostics to stderr, and returns a [`Status`].

use std::io::Write;

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::{Cli, Command, Format, SandboxAction};
use crate::config::{self, Env};
use crate::{Status, architecture, lint, render, sandbox};

/// Version of every JSON document `ce` prints.
pub const FORMAT_VERSION: u32 = 1;

/// Runs the command the flags name.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<Status> {
    match &cli.command {
        Command::Render {
            all,
            check,
            out: root,
        } => {
            let envs = load_envs(cli, *all)?;
            let mut stacks = Vec::new();
            for env in &envs {
                stacks.extend(render::render_env(env)?);
            }
            for s in stacks.iter().filter(|s| !s.fits_inline()) {
                eprintln!(
                    "warning: {} is {} bytes, over the 51,200-byte inline limit; deploy uploads it to S3",
                    s.stack_name, s.compact_size
                );
            }
            if *check {
                let stale = render::check(root, &stacks)
                    .with_context(|| format!("reading {}", root.display()))?;
                print_check(cli.format, out, &stale, stacks.len())?;
                if !stale.is_empty() {
                    eprintln!(
                        "error: {} rendered file{} stale; run `ce render{}` and commit the result",
                        stale.len(),
                        if stale.len() == 1 { " is" } else { "s are" },
                        if *all { " --all" } else { "" }
                    );
                    return Ok(Status::Failure);
                }
                return Ok(Status::Success);
            }
            let changed = render::write(root, &stacks)
                .with_context(|| format!("writing under {}", root.display()))?;
            print_render(cli.format, out, root, &stacks, &changed)?;
            Ok(Status::Success)
        }
        Command::Validate { all } => {
            let envs = load_envs(cli, *all)?;
            let mut findings = Vec::new();
            for env in &envs {
                let stacks = architecture::build(env)?;
                findings.extend(lint::check_env(&stacks));
            }
            match cli.format {
                Format::Json => {
                    let doc = json!({
                        "format_version": FORMAT_VERSION,
                        "envs": envs.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
                        "problems": findings.iter().map(|f| json!({
                            "stack": f.stack, "location": f.location, "message": f.message,
                        })).collect::<Vec<_>>(),
                    });
                    writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
                }
                Format::Text => {
                    for f in &findings {
                        writeln!(out, "{f}")?;
                    }
                }
            }
            if findings.is_empty() {
                let names: Vec<_> = envs.iter().map(|e| e.name.as_str()).collect();
                eprintln!("ok: {} valid", names.join(", "));
                Ok(Status::Success)
            } else {
                eprintln!("error: {} template problem(s)", findings.len());
                Ok(Status::Failure)
            }
        }
        Command::Sandbox { action } => run_sandbox(cli.format, action, out),
    }
}

fn load_envs(cli: &Cli, all: bool) -> Result<Vec<Env>> {
    Ok(if all {
        config::load_all(&cli.envs_dir)?
    } else {
        vec![config::load(&cli.envs_dir, &cli.env)?]
    })
}

fn print_render(
    format: Format,
    out: &mut dyn Write,
    root: &std::path::Path,
    stacks: &[render::RenderedStack],
    changed: &[std::path::PathBuf],
) -> Result<()> {
    match format {
        Format::Json => {
            let doc = json!({
                "format_version": FORMAT_VERSION,
                "stacks": stacks.iter().map(|s| {
                    let path = root.join(s.relative_path());
                    json!({
                        "env": s.env,
                        "stack": s.id.as_str(),
                        "stack_name": s.stack_name,
                        "path": path.display().to_string(),
                        "bytes": s.compact_size,
                        "changed": changed.contains(&path),
                    })
                }).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text => {
            for s in stacks {
                let path = root.join(s.relative_path());
                let mark = if changed.contains(&path) {
                    "written"
                } else {
                    "unchanged"
                };
                writeln!(out, "{:<10} {}", mark, path.display())?;
            }
        }
    }
    Ok(())
}

fn print_check(
    format: Format,
    out: &mut dyn Write,
    stale: &[(std::path::PathBuf, render::Staleness)],
    checked: usize,
) -> Result<()> {
    match format {
        Format::Json => {
            let doc = json!({
                "format_version": FORMAT_VERSION,
                "checked": checked,
                "stale": stale.iter().map(|(p, why)| json!({
                    "path": p.display().to_string(), "reason": why.describe(),
                })).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text => {
            for (path, why) in stale {
                writeln!(out, "{}: {}", path.display(), why.describe())?;
            }
        }
    }
    Ok(())
}

/// `ce sandbox start|stop|status`: the state on stdout; exits 1 from `status` unless running.
fn run_sandbox(format: Format, action: &SandboxAction, out: &mut dyn Write) -> Result<Status> {
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
        Format::Text => match &state {
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
