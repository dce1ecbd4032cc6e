//! Helpers shared by the integration tests: running `ce` (the real binary from the crate root,
//! or in-process with captured output), reading trees of rendered files, and making sure the pinned Python tools are installed.
//!
//! Each test binary compiles this module separately and uses only part of it.
#![allow(dead_code)]

pub mod fault_proxy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate root: the working directory every `ce` run in the tests uses.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A `ce` command run from the crate root, untouched by the caller's `CE_*` settings.
pub fn ce(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ce"));
    cmd.args(args)
        .current_dir(crate_root())
        .env_remove("CE_ENV")
        .env_remove("CE_ENVS_DIR")
        .env("NO_COLOR", "1");
    cmd
}

/// What one run of `ce` did.
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
}

/// Runs `ce` with the given arguments (some are temp paths, hence `OsStr`).
pub fn run_ce<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = ce(&[]);
    cmd.args(args);
    let output: Output = cmd.output().expect("the ce binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `ce` in-process through the library's entry (the one `main` uses), with both streams
/// captured in buffers, as cfn-guard's command tests do: no process to start, and a panic
/// shows its backtrace in the test. The run sees the test process's environment and working
/// directory (the crate root under `cargo test`); nothing is a terminal, so there is no colour
/// and no prompt. Commands that start the sandbox (`--local`) belong to [`run_ce`].
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

/// The committed stacks directory.
pub fn stacks_dir() -> PathBuf {
    crate_root().join("stacks")
}

/// The committed env files directory.
pub fn envs_dir() -> PathBuf {
    crate_root().join("envs")
}

/// Names of the envs (`envs/*.toml` stems), sorted.
pub fn env_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(envs_dir())
        .expect("envs/ is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    names
}

/// Every `<root>/<env>/*.json`, keyed by its path relative to `root`, with its bytes.
pub fn rendered_files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let Ok(envs) = std::fs::read_dir(root) else {
        return files;
    };
    for env in envs.filter_map(|e| e.ok().map(|e| e.path())) {
        let Ok(entries) = std::fs::read_dir(&env) else {
            continue;
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.extension().is_some_and(|x| x == "json") {
                let bytes = std::fs::read(&path).expect("rendered file is readable");
                let rel = path.strip_prefix(root).expect("under root").to_owned();
                files.insert(rel, bytes);
            }
        }
    }
    files
}

/// Copies a directory tree (regular files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy target");
    for entry in std::fs::read_dir(from).expect("copy source is readable") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// The `.venv/bin` directory with the pinned cfn-lint and moto. Runs the install script every
/// time: it returns at once when the venv matches `scripts/python-requirements.txt`, installs
/// when cfn-lint is missing or the pins changed, and is locked, so parallel tests may all call it.
pub fn python_tools_bin() -> PathBuf {
    let script = crate_root().join("scripts").join("python-tools.sh");
    let status = Command::new("bash")
        .arg(&script)
        .current_dir(crate_root())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        status.success(),
        "{} failed ({status}); see its messages above",
        script.display()
    );
    let bin = crate_root().join(".venv").join("bin");
    assert!(
        bin.join("cfn-lint").is_file(),
        "{} did not install cfn-lint",
        script.display()
    );
    bin
}
