//! Every committed template passes cfn-lint, AWS's own CloudFormation linter, which knows the
//! schema of every resource type: a wrong property name or type fails here, offline, instead
//! of at deploy time.
//!
//! Policy: findings of error level (rule ids `E…`) fail the test, each one listed. Warnings
//! (`W…`) and informational findings (`I…`) are printed but do not fail: they flag style and
//! best-practice choices (an unused parameter, a hard-coded partition) that the architecture
//! may make on purpose; the bar set by DESIGN.md is zero errors.
//!
//! cfn-lint comes from the pinned venv that `scripts/python-tools.sh` builds; the test installs
//! it when it is missing and never skips.

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{crate_root, python_tools_bin, stacks_dir};
use serde_json::Value;

/// Region cfn-lint checks a template against when its env cannot tell.
const DEFAULT_REGION: &str = "us-east-1";

/// One cfn-lint finding.
struct Finding {
    file: String,
    line: u64,
    rule: String,
    path: String,
    message: String,
}

impl Finding {
    fn is_error(&self) -> bool {
        self.rule.starts_with('E')
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} at {}: {}",
            self.file, self.line, self.rule, self.path, self.message
        )
    }
}

/// Runs cfn-lint over `files` for `region` and returns its findings. Panics when cfn-lint
/// itself fails (its exit code is a bit set: 2 error, 4 warning, 8 informational; anything
/// else means it did not lint).
fn cfn_lint(files: &[PathBuf], region: &str) -> Vec<Finding> {
    let bin = python_tools_bin().join("cfn-lint");
    let output = Command::new(&bin)
        .current_dir(crate_root())
        .args(["--format", "json", "--regions", region, "--"])
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code().unwrap_or(-1);
    let parsed: Vec<Value> = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("cfn-lint (exit {code}) printed no JSON findings ({e})\nstdout:\n{stdout}\nstderr:\n{stderr}")
    });
    assert!(
        (0..16).contains(&code) && code & 1 == 0,
        "cfn-lint failed to run (exit {code})\nstderr:\n{stderr}"
    );
    let findings: Vec<Finding> = parsed.iter().map(finding).collect();
    assert_eq!(
        code & 2 != 0,
        findings.iter().any(Finding::is_error),
        "cfn-lint's exit code {code} disagrees with its findings\nstdout:\n{stdout}"
    );
    findings
}

fn finding(v: &Value) -> Finding {
    let text = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let path = v
        .pointer("/Location/Path")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_default();
    Finding {
        file: text("/Filename"),
        line: v
            .pointer("/Location/Start/LineNumber")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        rule: text("/Rule/Id"),
        path,
        message: text("/Message"),
    }
}

/// The committed templates, `stacks/<env>/*.json` relative to the crate root, grouped by the
/// region of their env (cfn-lint checks resource types and values per region).
fn committed_templates_by_region() -> BTreeMap<String, Vec<PathBuf>> {
    let mut by_region: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for rel in common::rendered_files(&stacks_dir()).into_keys() {
        let env = rel
            .iter()
            .next()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
            .to_owned();
        let region = ce_infra::config::load(&common::envs_dir(), &env)
            .map(|e| e.file.region)
            .unwrap_or_else(|_| DEFAULT_REGION.to_owned());
        by_region
            .entry(region)
            .or_default()
            .push(Path::new("stacks").join(rel));
    }
    by_region
}

#[test]
fn committed_templates_have_no_cfn_lint_errors() {
    let by_region = committed_templates_by_region();
    assert!(
        !by_region.is_empty(),
        "no templates under {}; run `cargo run -- render --all` and commit them",
        stacks_dir().display()
    );
    let mut errors = Vec::new();
    let mut linted = 0;
    for (region, files) in &by_region {
        linted += files.len();
        for f in cfn_lint(files, region) {
            if f.is_error() {
                errors.push(f.to_string());
            } else {
                // Shown with `cargo test -- --nocapture`, and whenever the test fails.
                println!("cfn-lint warning (not failing): {f}");
            }
        }
    }
    assert!(
        errors.is_empty(),
        "cfn-lint found {} error(s) in {linted} template(s):\n  {}",
        errors.len(),
        errors.join("\n  ")
    );
}

#[test]
fn a_broken_template_is_reported_as_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.json");
    // A misspelt property and an impossible CIDR: the kinds of mistake the real check is for.
    let broken = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Resources": {
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketNam": "x"}},
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/99"}}
  }
}
"#;
    std::fs::write(&path, broken).expect("write template");
    let findings = cfn_lint(&[path], DEFAULT_REGION);
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.to_string())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Resources.Bucket.Properties")),
        "the misspelt property is not reported: {errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Resources.Vpc.Properties.CidrBlock")),
        "the invalid CIDR is not reported: {errors:#?}"
    );
}

#[test]
fn cfn_lint_is_the_pinned_version() {
    let requirements =
        std::fs::read_to_string(crate_root().join("scripts/python-requirements.txt"))
            .expect("scripts/python-requirements.txt is readable");
    let pinned = requirements
        .lines()
        .find_map(|l| l.trim().strip_prefix("cfn-lint=="))
        .expect("cfn-lint is pinned with ==");
    let bin = python_tools_bin().join("cfn-lint");
    let output = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("cfn-lint runs");
    let version = String::from_utf8_lossy(&output.stdout);
    assert_eq!(version.trim(), format!("cfn-lint {pinned}"));
}
