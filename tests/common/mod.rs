//! The one harness of the integration tests: running `ce` ([`runner`]), a moto server of a
//! test's own and an env deployed into it ([`sandbox`]), envs directories of a test's own
//! ([`envs`]), the fault-injecting proxy ([`fault_proxy`]), and reading trees of rendered
//! files. Every test file reaches the sandbox, the venv and the `ce` binary through here.
//!
//! Each test binary compiles this module separately and uses only part of it.
#![allow(dead_code)]

pub mod envs;
pub mod fault_proxy;
pub mod runner;
pub mod sandbox;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

// Each test binary uses part of the harness.
#[allow(unused_imports)]
pub use envs::EnvDir;
#[allow(unused_imports)]
pub use runner::{Run, RunCe, ce, run_ce, run_in_process};
#[allow(unused_imports)]
pub use sandbox::{Moto, Sandbox, venv};

/// The crate root: the working directory every `ce` run in the tests uses.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
