//! Running `ce` in a test: [`ce`] builds the command (the built binary, from the crate root,
//! without the caller's `CE_*` settings or colour) and [`RunCe::run`] runs it to a [`Run`].
//!
//! Every harness in `tests/common` (the sandbox, the fault rig) starts `ce` through [`ce`], so
//! a setting every run needs is made here once. [`run_in_process`] runs a command in-process
//! through the library's entry instead, with both streams captured in buffers.

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A `ce` command run from the crate root, untouched by the caller's `CE_*` settings, without a
/// terminal on stdin.
pub fn ce(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ce"));
    cmd.args(args)
        .current_dir(super::crate_root())
        .env_remove("CE_ENV")
        .env_remove("CE_ENVS_DIR")
        .env_remove("CE_LOCAL")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Runs `ce` with the given arguments (some are temp paths, hence `OsStr`).
pub fn run_ce<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ce(&[]).args(args).run()
}

/// What one run of `ce` did.
#[derive(Clone, Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output as text.
    pub stdout: String,
    /// Standard error as text.
    pub stderr: String,
}

impl Run {
    /// Both streams, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Standard output parsed as JSON; panics with the whole run when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.describe()))
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs a command made by [`ce`] (or a harness built on it) to completion.
pub trait RunCe {
    /// Runs it, capturing both streams.
    fn run(&mut self) -> Run;
}

impl RunCe for Command {
    fn run(&mut self) -> Run {
        self.output().expect("the ce binary runs").into()
    }
}

/// Runs `ce` in-process through the library's entry (the one `main` uses), with both streams
/// captured in buffers, as cfn-guard's command tests do: no process to start, and a panic
/// shows its backtrace in the test. The run sees the test process's environment and working
/// directory (the crate root under `cargo test`); nothing is a terminal, so there is no colour
/// and no prompt. A `--local` run finds the sandbox through the process's `CE_STATE_DIR`, so in
/// a binary of several tests, each with a sandbox of its own, such runs belong to [`run_ce`].
pub fn run_in_process<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
{
    let (stdout, stderr) = (Capture::default(), Capture::default());
    let args =
        std::iter::once(std::ffi::OsString::from("ce")).chain(args.into_iter().map(Into::into));
    let status = ce_infra::run(args, Box::new(stdout.clone()), Box::new(stderr.clone()));
    Run {
        code: Some(i32::from(status.code())),
        stdout: stdout.text(),
        stderr: stderr.text(),
    }
}

/// A buffer an in-process run writes to while the test keeps a handle on it.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}
