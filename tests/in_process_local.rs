//! An in-process `--local` run keeps what the sandbox says while it starts with the rest of the
//! run's output: the notes go through the run's printer to the buffer it was given, not to the
//! process's stderr.
//!
//! This test has a binary of its own: `ce_infra::run` finds the sandbox through the process's
//! `CE_STATE_DIR`, which is set here for this process alone, so no other test's `ce` sees it.

mod common;

use std::path::PathBuf;

use ce_infra::aws::sandbox::{self, Paths};
use ce_infra::printer::Printer;
use common::run_in_process;

/// Stops the server the test started, even when an assertion fails first.
struct StopOnDrop(Paths);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = sandbox::stop(&self.0, &Printer::standard());
    }
}

#[test]
fn an_in_process_local_run_captures_the_sandbox_start_up_notes() {
    let state = tempfile::TempDir::new().expect("temp dir");
    let venv: PathBuf = common::venv().to_owned();
    // SAFETY: the one test of this binary sets these before any `ce` run reads them, and no
    // other thread of the process reads the environment meanwhile.
    unsafe {
        std::env::set_var("CE_STATE_DIR", state.path());
        std::env::set_var("CE_SANDBOX_VENV", &venv);
        std::env::remove_var("CE_LOCAL");
        std::env::remove_var("CE_ENV");
        std::env::remove_var("CE_ENVS_DIR");
    }
    let _stop = StopOnDrop(Paths::from_env().expect("the test's state dir"));

    let first = run_in_process(["--local", "status"]);

    assert_eq!(first.code, Some(0), "{}", first.describe());
    let notes: Vec<&str> = first
        .stderr
        .lines()
        .filter(|l| l.starts_with("sandbox: "))
        .collect();
    assert_eq!(notes.len(), 2, "{}", first.describe());
    assert_eq!(
        notes[0],
        "sandbox: not running; starting it (stop it with `ce sandbox stop`)"
    );
    assert!(
        notes[1].starts_with("sandbox: moto listening on http://127.0.0.1:")
            && notes[1].contains(&format!("log {}", state.path().join("moto.log").display())),
        "{}",
        first.describe()
    );
    assert!(
        first.stdout.contains("not deployed"),
        "{}",
        first.describe()
    );

    // Running already: nothing to say about the sandbox.
    let second = run_in_process(["--local", "status"]);
    assert_eq!(second.code, Some(0), "{}", second.describe());
    assert!(!second.stderr.contains("sandbox:"), "{}", second.describe());

    let stopped = run_in_process(["sandbox", "stop"]);
    assert_eq!(stopped.code, Some(0), "{}", stopped.describe());
    assert!(
        stopped.stderr.starts_with("sandbox: pid "),
        "{}",
        stopped.describe()
    );
}
