//! `ce render` and `ce validate`: the offline commands. Neither builds an AWS client.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use super::{FORMAT_VERSION, Ui, load_envs};
use crate::cli::Format;
use crate::{Status, architecture, lint, render};

/// `ce render [--all] [--check] [--out DIR]`.
pub fn run_render(
    ui: &Ui,
    out: &mut dyn Write,
    all: bool,
    check: bool,
    root: &Path,
) -> Result<Status> {
    let envs = load_envs(ui, all)?;
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
    if check {
        let stale =
            render::check(root, &stacks).with_context(|| format!("reading {}", root.display()))?;
        print_check(ui.format, out, &stale, stacks.len())?;
        if !stale.is_empty() {
            eprintln!(
                "error: {} rendered file{} stale; run `ce render{}` and commit the result",
                stale.len(),
                if stale.len() == 1 { " is" } else { "s are" },
                if all { " --all" } else { "" }
            );
            return Ok(Status::Failure);
        }
        return Ok(Status::Success);
    }
    let changed = render::write(root, &stacks)
        .with_context(|| format!("writing under {}", root.display()))?;
    print_render(ui.format, out, root, &stacks, &changed)?;
    Ok(Status::Success)
}

/// `ce validate [--all]`: env files (on load) and the tool's template rules.
pub fn run_validate(ui: &Ui, out: &mut dyn Write, all: bool) -> Result<Status> {
    let envs = load_envs(ui, all)?;
    let mut findings = Vec::new();
    for env in &envs {
        let stacks = architecture::build(env)?;
        findings.extend(lint::check_env(&stacks));
    }
    match ui.format {
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
        Format::Text | Format::Markdown => {
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

fn print_render(
    format: Format,
    out: &mut dyn Write,
    root: &Path,
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
        Format::Text | Format::Markdown => {
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
        Format::Text | Format::Markdown => {
            for (path, why) in stale {
                writeln!(out, "{}: {}", path.display(), why.describe())?;
            }
        }
    }
    Ok(())
}
