//! The real parsers the diagram and workflow tests check output with: Graphviz's `dot`,
//! mermaid's own parser and actionlint. Each is installed by a script under `scripts/` the
//! first time a test needs it (the scripts are locked, so parallel tests install once), and a
//! checker that cannot be installed fails the test with the install command — never a skip.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::common::crate_root;

/// Runs an install script from `scripts/`, failing the test when it fails.
fn install(script: &str, how: &str) {
    let path = crate_root().join("scripts").join(script);
    let status = Command::new("bash")
        .arg(&path)
        .current_dir(crate_root())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        status.success(),
        "{} failed ({status}); see its messages above, or install by hand: {how}",
        path.display()
    );
}

/// The directory with the pinned Node.js checkers.
pub fn node_tools() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        install(
            "node-tools.sh",
            "scripts/node-tools.sh (needs node and npm)",
        );
        crate_root().join(".node-tools")
    })
}

/// Graphviz's `dot` is on PATH.
pub fn graphviz() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| install("graphviz.sh", "apt-get install -y graphviz"));
}

/// What a checker said.
pub struct Checked {
    /// It accepted the input.
    pub ok: bool,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error, as text.
    pub stderr: String,
}

fn run(mut cmd: Command, input: Option<&[u8]>) -> Checked {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let Some(input) = input {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write to the checker");
    }
    let out = child.wait_with_output().expect("checker finishes");
    Checked {
        ok: out.status.success(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `dot -Tsvg` of a DOT text.
pub fn dot_svg(dot: &str) -> Checked {
    graphviz();
    let mut cmd = Command::new("dot");
    cmd.arg("-Tsvg");
    run(cmd, Some(dot.as_bytes()))
}

/// Mermaid's parser on each text, written to files in a temp dir; one result per text.
pub fn mermaid_parse(texts: &[&str]) -> Vec<Checked> {
    let dir = node_tools();
    let tmp = tempfile::tempdir().expect("temp dir");
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let file = tmp.path().join(format!("diagram{i}.mmd"));
            std::fs::write(&file, text).expect("write diagram");
            let mut cmd = Command::new("node");
            cmd.arg(dir.join("mermaid-parse.mjs")).arg(&file);
            run(cmd, None)
        })
        .collect()
}

/// actionlint on a workflow file.
pub fn actionlint(file: &Path) -> Checked {
    let mut cmd = Command::new("node");
    cmd.arg(node_tools().join("actionlint.mjs")).arg(file);
    run(cmd, None)
}

/// The body of the first fenced block of `lang` in a markdown text.
pub fn fenced<'a>(markdown: &'a str, lang: &str) -> Option<&'a str> {
    let open = format!("```{lang}\n");
    let start = markdown.find(&open)? + open.len();
    let len = markdown[start..].find("```")?;
    Some(&markdown[start..start + len])
}
