//! checkov, the infrastructure security scanner, over every committed template: a finding
//! fails the test unless the resource's `Metadata` waives that check with a reason (checkov
//! reports such findings as skipped, with the reason as `suppress_comment`).
//!
//! The test prints per env how many checks passed, failed and were waived, the figures the
//! README quotes. checkov comes from the pinned venv that `scripts/python-tools.sh` builds; the
//! test installs it when it is missing and never skips.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{crate_root, env_names, python_tools_bin};
use serde_json::Value;

/// What checkov said about one env's templates.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: Vec<String>,
    waived: usize,
    waived_without_reason: Vec<String>,
}

/// The env a finding belongs to, from its file path (`/prod/edge.json`).
fn env_of(result: &Value) -> String {
    result["file_path"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn describe(result: &Value) -> String {
    format!(
        "{} {} ({}): {}",
        result["file_path"].as_str().unwrap_or("?"),
        result["resource"].as_str().unwrap_or("?"),
        result["check_id"].as_str().unwrap_or("?"),
        result["check_name"].as_str().unwrap_or("?"),
    )
}

/// Runs checkov over `stacks/` and tallies its results per env.
fn scan() -> BTreeMap<String, Tally> {
    let bin = python_tools_bin().join("checkov");
    let output = Command::new(&bin)
        .current_dir(crate_root())
        .args([
            "--directory",
            "stacks",
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--compact",
            "--skip-download",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov ({}) printed no JSON report ({e})\nstderr:\n{stderr}",
            output.status
        )
    });
    let results = &report["results"];
    assert!(
        results.is_object() && report["summary"]["parsing_errors"] == 0,
        "checkov could not read every template: {}\nstderr:\n{stderr}",
        report["summary"]
    );
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for result in results["passed_checks"].as_array().into_iter().flatten() {
        tallies.entry(env_of(result)).or_default().passed += 1;
    }
    for result in results["failed_checks"].as_array().into_iter().flatten() {
        tallies
            .entry(env_of(result))
            .or_default()
            .failed
            .push(describe(result));
    }
    for result in results["skipped_checks"].as_array().into_iter().flatten() {
        let tally = tallies.entry(env_of(result)).or_default();
        tally.waived += 1;
        let reason = result["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or_default();
        if reason.trim().is_empty() || reason == "No comment provided" {
            tally.waived_without_reason.push(describe(result));
        }
    }
    tallies
}

#[test]
fn every_checkov_finding_is_fixed_or_waived_with_a_reason() {
    let tallies = scan();
    let envs = env_names();
    assert_eq!(
        tallies.keys().cloned().collect::<Vec<_>>(),
        envs,
        "checkov did not report on every env's templates"
    );
    let mut problems = Vec::new();
    for (env, tally) in &tallies {
        println!(
            "checkov: {env}: {} passed, {} failed, {} waived",
            tally.passed,
            tally.failed.len(),
            tally.waived
        );
        assert!(tally.passed > 0, "{env}: checkov ran no checks");
        problems.extend(tally.failed.iter().map(|f| format!("failed: {f}")));
        problems.extend(
            tally
                .waived_without_reason
                .iter()
                .map(|f| format!("waived without a reason: {f}")),
        );
    }
    assert!(
        problems.is_empty(),
        "fix each finding, or waive it in the resource's Metadata with a one-line reason:\n{}",
        problems.join("\n")
    );
}
