//! `ce render` and `ce validate`: the offline commands. Neither builds an AWS client.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::{Context, Report};
use crate::Status;
use crate::architecture::{self, StackId};
use crate::printer::Styles;
use crate::render;
use crate::render::Staleness;
use crate::render::lint::{self, Finding};

/// What a failure to render `env` leaves behind: the envs before it are written already (each
/// complete and current), the rest are not.
fn written_before(env: &crate::config::Env, written: &[WrittenStack]) -> String {
    match earlier_envs(written, env) {
        Some(envs) => format!(
            "rendering env {}; the files of {envs} were written before it (complete and \
             current), those of {} and any env after it were not",
            env.name, env.name
        ),
        None => format!("rendering env {}; no file was written", env.name),
    }
}

/// The envs before `env` whose files are written, as a list to read; `None` before the first.
fn earlier_envs(written: &[WrittenStack], env: &crate::config::Env) -> Option<String> {
    let mut envs: Vec<&str> = written
        .iter()
        .map(|w| w.env.as_str())
        .filter(|&name| name != env.name.as_str())
        .collect();
    envs.dedup();
    (!envs.is_empty()).then(|| envs.join(", "))
}

/// `ce render [--all] [--check] [--out DIR]`.
///
/// One env at a time, one stack at a time: an env's stacks are built, then each is rendered
/// into the same buffer as the one before and checked or written at once, so only one env's
/// model and one template's text are held.
pub fn run_render(ctx: &Context, all: bool, check: bool, root: &Path) -> Result<Status> {
    let envs = ctx.envs(all)?;
    let mut buffers = render::Buffers::default();
    let mut checked = 0;
    let mut stale = Vec::new();
    let mut written = Vec::new();
    for env in &envs {
        let stacks = architecture::build(env).with_context(|| written_before(env, &written))?;
        let mut paths = Vec::with_capacity(stacks.len());
        for stack in &stacks {
            let (text, file) = buffers.render(env.name.as_str(), stack);
            if !text.fits_inline() {
                ctx.printer.note(format_args!(
                    "warning: {} is {} bytes, over the 51,200-byte inline limit; deploy uploads it to S3",
                    text.stack_name, text.compact_size
                ))?;
            }
            let path = root.join(&text.relative_path);
            if check {
                checked += 1;
                if let Some(why) = render::check_stack(&path, text.text, file)
                    .with_context(|| format!("reading {}", root.display()))?
                {
                    stale.push((path.clone(), why));
                }
                paths.push(path);
                continue;
            }
            let changed =
                render::write_stack(&path, text.text, file).with_context(|| match earlier_envs(
                    &written, env,
                ) {
                    Some(envs) => format!(
                        "writing env {}'s files under {}; those of {envs} were written before it",
                        env.name,
                        root.display()
                    ),
                    None => format!("writing env {}'s files under {}", env.name, root.display()),
                })?;
            written.push(WrittenStack {
                changed,
                path: path.display().to_string(),
                env: env.name.to_string(),
                stack: stack.id,
                stack_name: stack.name.clone(),
                bytes: text.compact_size,
            });
        }
        if check {
            let extra = render::extra_files(root, env.name.as_str(), &paths)
                .with_context(|| format!("reading {}", root.display()))?;
            stale.extend(extra.into_iter().map(|p| (p, Staleness::Extra)));
        }
    }
    if check {
        stale.sort();
        ctx.printer.report(&CheckReport {
            checked,
            stale: stale
                .iter()
                .map(|(path, why)| StaleFile {
                    path: path.display().to_string(),
                    reason: why.describe(),
                })
                .collect(),
        })?;
        if !stale.is_empty() {
            ctx.printer.note(format_args!(
                "error: {} rendered file{} stale; run `ce render{}` and commit the result",
                stale.len(),
                if stale.len() == 1 { " is" } else { "s are" },
                if all { " --all" } else { "" }
            ))?;
            return Ok(Status::Failure);
        }
        return Ok(Status::Success);
    }
    ctx.printer.report(&RenderReport { stacks: written })?;
    Ok(Status::Success)
}

/// `ce validate [--all]`: env files (on load) and the tool's template rules.
pub fn run_validate(ctx: &Context, all: bool) -> Result<Status> {
    let envs = ctx.envs(all)?;
    let mut problems = Vec::new();
    for env in &envs {
        let stacks = architecture::build(env)?;
        problems.extend(lint::check_env(&stacks));
    }
    let names: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
    ctx.printer.report(&ValidateReport {
        envs: names.clone(),
        problems: &problems,
    })?;
    if problems.is_empty() {
        ctx.printer
            .note(format_args!("ok: {} valid", names.join(", ")))?;
        Ok(Status::Success)
    } else {
        ctx.printer.note(format_args!(
            "error: {} template problem(s)",
            problems.len()
        ))?;
        Ok(Status::Failure)
    }
}

/// What `ce render` wrote.
#[derive(Serialize)]
struct RenderReport {
    stacks: Vec<WrittenStack>,
}

/// One rendered file.
#[derive(Serialize)]
struct WrittenStack {
    env: String,
    stack: StackId,
    stack_name: String,
    path: String,
    /// The compact size sent to CloudFormation.
    bytes: usize,
    /// Whether the file was written (its content changed).
    changed: bool,
}

impl Report for RenderReport {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        for s in &self.stacks {
            let mark = if s.changed { "written" } else { "unchanged" };
            writeln!(out, "{:<10} {}", mark, s.path)?;
        }
        Ok(())
    }
}

/// What `ce render --check` found.
#[derive(Serialize)]
struct CheckReport {
    checked: usize,
    stale: Vec<StaleFile>,
}

/// A committed file that differs from a fresh render.
#[derive(Serialize)]
struct StaleFile {
    path: String,
    reason: &'static str,
}

impl Report for CheckReport {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        for file in &self.stale {
            writeln!(out, "{}: {}", file.path, file.reason)?;
        }
        Ok(())
    }
}

/// What `ce validate` found.
#[derive(Serialize)]
struct ValidateReport<'a> {
    envs: Vec<&'a str>,
    problems: &'a [Finding],
}

impl Report for ValidateReport<'_> {
    fn write_text(&self, out: &mut dyn Write, _: Styles) -> io::Result<()> {
        for problem in self.problems {
            writeln!(out, "{problem}")?;
        }
        Ok(())
    }
}
