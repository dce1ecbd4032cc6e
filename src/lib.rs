//! ce-infra: the typed model of a Compiler Explorer-shaped AWS deployment, its renderer, and
//! the commands that show and apply it.
//!
//! `main` parses flags, runs one command, and maps its [`Status`] (or error) to an exit code
//! in one place; commands never exit the process themselves. All output goes through the
//! [`printer`]; printing macros are denied everywhere else.

#![cfg_attr(not(test), deny(clippy::print_stdout, clippy::print_stderr))]

pub mod architecture;
pub mod aws;
pub mod cli;
pub mod compare;
pub mod config;
pub mod deploy;
pub mod diff;
pub mod drift;
pub mod graph;
pub mod model;
pub mod ops;
pub mod printer;
pub mod render;

mod commands;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use printer::{Printer, Stream, escape_control};

/// How a command ended, as the documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 0: success, or nothing to change.
    Success,
    /// 1: an error (usage errors included), or a check that failed (`render --check`,
    /// `validate`).
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

/// Runs `ce` with the process's arguments and terminals; the status is the exit code.
pub fn main() -> Status {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    run_on(
        std::env::args_os().collect(),
        Stream::stdout(),
        Stream::stderr(),
        interactive,
    )
}

/// Runs `ce` in-process with `args` (the first is the program's name), writing data to
/// `stdout` and diagnostics to `stderr`, and returns how it ended. Nothing is a terminal here,
/// so prompts are answered "no" and colour is off (unless `CLICOLOR_FORCE` says otherwise).
pub fn run<I, T>(args: I, stdout: Box<dyn Write + Send>, stderr: Box<dyn Write + Send>) -> Status
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args = args.into_iter().map(Into::into).collect();
    run_on(args, Stream::buffer(stdout), Stream::buffer(stderr), false)
}

/// Parses, resolves and runs one command; every outcome becomes a [`Status`] here and only
/// here.
fn run_on(args: Vec<OsString>, stdout: Stream, stderr: Stream, interactive: bool) -> Status {
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => return usage(err, &args, stdout, stderr),
    };
    // A diagram format is written only by `ce graph`; `commands::run` refuses it for every
    // other command before any work is done.
    let printer = Printer::new(cli.format, cli.verbose, stdout, stderr);
    let context = commands::Context::new(&cli, printer.clone(), interactive);
    let result = commands::run(&cli, &context);
    let _ = printer.stdout().flush();
    match result {
        Ok(status) => status,
        Err(err) if is_broken_pipe(&err) => Status::Success,
        Err(err) => {
            let _ = writeln!(printer.stderr(), "{}", error_text(&err));
            Status::Failure
        }
    }
}

/// What clap had to say: `--help` and `--version` on stdout with exit 0; anything else is a
/// usage error with exit 1, since clap's own 2 would read as "changes are present" to CI.
fn usage(err: clap::Error, args: &[OsString], mut stdout: Stream, mut stderr: Stream) -> Status {
    let (stream, status) = match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => (&mut stdout, Status::Success),
        ErrorKind::MissingSubcommand => {
            let _ = writeln!(stderr, "{}", missing_command(&err));
            let _ = stderr.flush();
            return Status::Failure;
        }
        _ => (&mut stderr, Status::Failure),
    };
    let err = escaped_usage_error(err, args);
    let rendered = err.render();
    let text = if stream.styles().colour() {
        rendered.ansi().to_string()
    } else {
        rendered.to_string()
    };
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
    status
}

/// `ce` or `ce builds` without its command: clap would print its usage under the error. One
/// line instead, naming the commands to choose from and where the help is. clap's error
/// carries the command's path (`ce builds`, as its "invalid subcommand") and the names it
/// takes; the choices listed are that command's visible subcommands, without aliases.
fn missing_command(err: &clap::Error) -> String {
    let path = match err.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(path)) => path.as_str(),
        _ => "ce",
    };
    let root = <cli::Cli as clap::CommandFactory>::command();
    let command = path
        .split(' ')
        .skip(1)
        .try_fold(&root, |parent, name| parent.find_subcommand(name));
    let commands: Vec<&str> = match command {
        Some(command) => command
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(clap::Command::get_name)
            .collect(),
        None => match err.get(ContextKind::ValidSubcommand) {
            Some(ContextValue::Strings(names)) => names.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        },
    };
    format!(
        "error: `{path}` needs a command, one of: {}; see `{path} --help`",
        commands.join(", ")
    )
}

/// clap quotes a bad value as it was given; with a control character in it (a newline could
/// start a second `error:` line), the same error is reported for the arguments with their
/// control characters escaped.
fn escaped_usage_error(err: clap::Error, args: &[OsString]) -> clap::Error {
    let has_control = |a: &OsString| a.to_string_lossy().chars().any(char::is_control);
    if !args.iter().any(has_control) {
        return err;
    }
    let escaped = args
        .iter()
        .map(|a| OsString::from(escape_control(&a.to_string_lossy()).into_owned()));
    match cli::Cli::try_parse_from(escaped) {
        Err(again) if again.kind() == err.kind() => again,
        _ => err,
    }
}

/// `error: …` and one `caused by: …` line per cause. A message that spans lines (a list of
/// problems) has its later lines indented, so the only line that starts with `error:` is the
/// first; other control characters are escaped.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut text = format!("error: {}", one_message(&err.to_string()));
    for cause in err.chain().skip(1) {
        text.push_str(&format!(
            "\n  caused by: {}",
            one_message(&cause.to_string())
        ));
    }
    text
}

fn one_message(message: &str) -> String {
    message
        .split('\n')
        .enumerate()
        .map(|(i, line)| {
            let line = escape_control(line);
            if i == 0 || line.starts_with("  ") {
                line.into_owned()
            } else {
                format!("  {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_one_error_line_and_its_causes() {
        let err = anyhow::anyhow!("reading envs/x.toml")
            .context("unknown env \"x\nerror: y\"\n  known envs: beta");

        let text = error_text(&err);

        assert_eq!(
            text,
            "error: unknown env \"x\n  error: y\"\n  known envs: beta\n  caused by: reading envs/x.toml"
        );
        assert_eq!(text.lines().filter(|l| l.starts_with("error:")).count(), 1);
    }

    #[test]
    fn a_list_in_a_message_keeps_its_lines_but_never_starts_one_with_error() {
        let err = anyhow::anyhow!("stale:\n  - network changed\nerror: plan again\r");
        assert_eq!(
            error_text(&err),
            "error: stale:\n  - network changed\n  error: plan again\\r"
        );
    }
}
