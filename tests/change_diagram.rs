//! The markdown report of `ce diff` and `ce plan --show` draws the change: the changed
//! resources coloured by impact and what they reach, in a mermaid block that mermaid's own
//! parser accepts. Runs against a moto server of the test's own holding an older render of
//! the staging env (see `common::sandbox`).

mod checkers;
mod common;

use checkers::{fenced, mermaid_parse};
use common::Sandbox;

/// The parts every diagram of the older-env change has.
fn assert_draws_the_change(diagram: &str) {
    for part in [
        "flowchart LR\n",
        // The replaced logs bucket is a red cylinder; the dropped subnet is destroyed.
        "storage_LogsBucket[(\"LogsBucket<br/>AWS::S3::Bucket<br/>replace\")]",
        "network_SubnetUsEast1d[\"SubnetUsEast1d<br/>AWS::EC2::Subnet<br/>destroy\"]",
        "  class network_SubnetUsEast1d",
        "  classDef replace fill:#ffebe9",
        // The launch template's update reaches the unchanged... or changed group that reads it.
        "compute_NodeLaunchTemplate",
        // Unchanged readers collapse into one dashed box per stack.
        "unchanged<br/>",
        "  classDef unchanged ",
    ] {
        assert!(diagram.contains(part), "missing {part:?} in\n{diagram}");
    }
    assert!(
        !diagram.contains("network_Vpc["),
        "an unchanged resource that reads nothing changed stays out:\n{diagram}"
    );
    let checked = mermaid_parse(&[diagram]);
    assert!(
        checked[0].ok,
        "mermaid refused the diagram: {}\n{diagram}",
        checked[0].stderr
    );
}

#[test]
fn the_markdown_diff_draws_the_changed_resources_and_what_they_reach() {
    let sandbox = Sandbox::with_older_env();

    let run = sandbox.ce(&["--format", "markdown", "diff"]);

    assert_eq!(run.code, Some(3), "{}", run.describe());
    let diagram =
        fenced(&run.stdout, "mermaid").unwrap_or_else(|| panic!("no diagram in\n{}", run.stdout));
    assert_draws_the_change(diagram);
    assert!(
        run.stdout
            .contains("What the change reaches — green create"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_plan_keeps_its_diagram_and_shows_it_in_markdown() {
    let sandbox = Sandbox::with_older_env();
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = dir.path().join("plan.json");
    let plan = plan.to_str().expect("utf-8 path");

    let planned = sandbox.ce(&["plan", "--out", plan]);
    assert_eq!(planned.code, Some(3), "{}", planned.describe());
    let shown = sandbox.ce(&["--format", "markdown", "plan", "--show", plan]);

    assert_eq!(shown.code, Some(3), "{}", shown.describe());
    let diagram = fenced(&shown.stdout, "mermaid")
        .unwrap_or_else(|| panic!("no diagram in\n{}", shown.stdout));
    assert_draws_the_change(diagram);
}

#[test]
fn an_unchanged_env_has_no_diagram() {
    let sandbox = Sandbox::with_current_env();

    let run = sandbox.ce(&["--format", "markdown", "diff"]);

    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(!run.stdout.contains("```mermaid"), "{}", run.stdout);
}
