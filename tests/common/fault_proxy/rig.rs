//! The harness of the fault tests: a moto server of the test's own behind a [`FaultProxy`],
//! `ce --local` pointed at the proxy, and the judging and tallying of a series of runs.

use std::fmt;
use std::path::Path;
use std::process::Command;

use super::{Counts, FaultPlan, FaultProxy};
use crate::common::runner::{Run, RunCe};
use crate::common::sandbox::Moto;

/// A moto server of the test's own with a fault proxy in front, and a state directory that
/// makes `ce --local` talk through the proxy. Everything stops when dropped.
pub struct FaultRig {
    proxy: FaultProxy,
    ce_state: tempfile::TempDir,
    // Last, so the server stops after the proxy in front of it.
    moto: Moto,
}

impl FaultRig {
    /// Starts moto and the proxy with `plan`.
    pub fn start(plan: FaultPlan) -> FaultRig {
        let moto = Moto::start();
        let proxy =
            FaultProxy::in_front_of(moto.record().port, plan).expect("start the fault proxy");
        let ce_state = tempfile::TempDir::new().expect("temp dir");
        let record = serde_json::json!({
            "pid": moto.record().pid,
            "port": proxy.port(),
            "started_at": moto.record().started_at,
        });
        std::fs::write(ce_state.path().join("sandbox.json"), record.to_string())
            .expect("write the sandbox record");
        FaultRig {
            proxy,
            ce_state,
            moto,
        }
    }

    /// The proxy, to change its plan or read its counts.
    pub fn proxy(&self) -> &FaultProxy {
        &self.proxy
    }

    /// The moto server behind the proxy, for setting up state without faults.
    pub fn moto(&self) -> &Moto {
        &self.moto
    }

    /// moto's own URL, for setting up state without faults.
    pub fn moto_endpoint(&self) -> String {
        self.moto.endpoint()
    }

    /// The state directory `ce` runs with.
    pub fn ce_state(&self) -> &Path {
        self.ce_state.path()
    }

    /// Forgets every resource moto holds (`POST /moto-api/reset`, past the proxy).
    pub fn reset_moto(&self) {
        self.moto.reset();
    }

    /// A `ce --local` command that talks through the proxy (add arguments, envs, then run).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = crate::common::ce(&["--local"]);
        cmd.args(args)
            .env("CE_STATE_DIR", self.ce_state.path())
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // If the record were ever judged stale, starting a sandbox must fail at once.
            .env("CE_SANDBOX_VENV", self.ce_state.path().join("no-venv"))
            .env("PYTHON", "/nonexistent/python-for-fault-tests");
        cmd
    }

    /// Runs `ce --local <args>` through the proxy; panics if `ce` bypassed it.
    pub fn ce(&self, args: &[&str]) -> Run {
        Self::through_proxy(self.command(args).run())
    }

    /// Checks that a run of [`FaultRig::command`] went through the proxy; panics if not.
    pub fn through_proxy(run: Run) -> Run {
        assert!(
            !run.stderr.contains("sandbox: not running"),
            "ce judged the proxied sandbox record stale and bypassed the proxy:\n{}",
            run.describe()
        );
        run
    }
}

impl Drop for FaultRig {
    fn drop(&mut self) {
        self.proxy.shut_down();
    }
}

/// How a run under faults ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It finished with the expected exit code and output.
    Completed,
    /// It stopped with exit 1 and one clear `error:` line (the line).
    CleanError(String),
    /// Anything else: a panic, a debug dump, a wrong answer, a wrong exit code (why).
    Bad(String),
}

/// Judges a run: `expected_code` and `expected_stdout` are those of the same run without faults.
pub fn judge(run: &Run, expected_code: i32, expected_stdout: &str) -> Outcome {
    if let Some(why) = debug_dump(&run.stderr) {
        return Outcome::Bad(why);
    }
    if run.stdout.contains("panicked at") {
        return Outcome::Bad("a panic on stdout".into());
    }
    match run.code {
        Some(code) if code == expected_code && run.stdout == expected_stdout => Outcome::Completed,
        Some(code) if code == expected_code => {
            Outcome::Bad("the right exit code with different output".into())
        }
        Some(1) => {
            let errors: Vec<&str> = run
                .stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .collect();
            match errors.as_slice() {
                [line] => Outcome::CleanError(error_text(&run.stderr, line)),
                _ => Outcome::Bad(format!(
                    "exit 1 with {} `error:` lines on stderr, not one",
                    errors.len()
                )),
            }
        }
        code => Outcome::Bad(format!("exit code {code:?}")),
    }
}

/// The `error:` line and any `caused by:` lines under it, joined by " / ".
fn error_text(stderr: &str, first: &str) -> String {
    let causes = stderr
        .lines()
        .skip_while(|l| *l != first)
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("caused by:"))
        .map(str::trim);
    std::iter::once(first)
        .chain(causes)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Why `text` looks like a panic or a Rust debug dump, if it does.
pub fn debug_dump(text: &str) -> Option<String> {
    const MARKS: &[&str] = &[
        "panicked at",
        "RUST_BACKTRACE",
        "SdkError",
        "DispatchFailure",
        "ServiceError {",
        "ConnectorError",
        "Error {",
        "Some(",
        "kind: ",
        "source: ",
    ];
    MARKS
        .iter()
        .find(|m| text.contains(*m))
        .map(|m| format!("output contains {m:?}"))
}

/// The tallies of a series of runs under faults.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Runs tried.
    pub runs: u64,
    /// Runs that completed correctly.
    pub completed: u64,
    /// Runs that stopped with a clean error, with their error lines.
    pub clean_errors: Vec<String>,
    /// Runs that did neither, with why and the run.
    pub bad: Vec<String>,
    /// What the proxy saw during the series.
    pub counts: Counts,
}

impl Tally {
    /// Adds a run's outcome.
    pub fn add(&mut self, outcome: Outcome, run: &Run) {
        self.runs += 1;
        match outcome {
            Outcome::Completed => self.completed += 1,
            Outcome::CleanError(line) => self.clean_errors.push(line),
            Outcome::Bad(why) => self.bad.push(format!("{why}\n{}", run.describe())),
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} runs: {} completed, {} clean errors, {} bad; proxy: {}",
            self.runs,
            self.completed,
            self.clean_errors.len(),
            self.bad.len(),
            self.counts
        )
    }
}
