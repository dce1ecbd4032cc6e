//! `ce completions SHELL` and `ce man`: what a packager installs next to the binary, generated
//! from the same flag definitions the parser uses, so they never disagree with it.

use std::path::Path;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::Context;
use crate::Status;
use crate::cli::Cli;

/// `ce completions SHELL`: the completion script on stdout.
pub fn run_completions(ctx: &Context, shell: Shell) -> Result<Status> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "ce", &mut ctx.printer.stdout());
    Ok(Status::Success)
}

/// `ce man`: the manual page, in roff, on stdout; with `out`, it and one page per command
/// (`ce-deploy.1`, `ce-builds-set-current.1`, ...) written into that directory.
pub fn run_man(ctx: &Context, out: Option<&Path>) -> Result<Status> {
    let command = Cli::command();
    match out {
        None => clap_mangen::Man::new(command)
            .render(&mut ctx.printer.stdout())
            .context("writing the manual page")?,
        Some(dir) => {
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("writing the manual pages into {}", dir.display()))?;
            ctx.printer
                .note(format_args!("manual pages written to {}", dir.display()))?;
        }
    }
    Ok(Status::Success)
}
