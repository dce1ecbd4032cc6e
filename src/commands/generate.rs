//! `ce completions SHELL` and `ce man`: what a packager installs next to the binary, generated
//! from the same flag definitions the parser uses, so they never disagree with it.

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

/// `ce man`: the manual page, in roff, on stdout; every subcommand has its section.
pub fn run_man(ctx: &Context) -> Result<Status> {
    let command = Cli::command();
    clap_mangen::Man::new(command)
        .render(&mut ctx.printer.stdout())
        .context("writing the manual page")?;
    Ok(Status::Success)
}
