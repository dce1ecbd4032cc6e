//! `ce status` and `ce destroy` against a moto server of the test's own (see `common::sandbox`),
//! and the refusals that need no AWS at all.
//!
//! moto deletes stacks at once, answers DeleteStack of the network stack with a
//! DependencyViolation (it cannot delete a VPC whose stack holds a route table), and has no
//! termination protection; the paths it cannot produce are unit-tested in `src/destroy_tests.rs`.

mod common;

use common::Sandbox;

/// Stack name → whether `ce status` says it is deployed.
fn deployed(sandbox: &Sandbox) -> Vec<(String, bool)> {
    let run = sandbox.ce(&["--format", "json", "status"]);
    assert_eq!(run.code, Some(0), "{}", run.describe());
    run.json()["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .map(|s| {
            (
                s["stack_name"].as_str().unwrap_or_default().to_owned(),
                s["deployed"] == true,
            )
        })
        .collect()
}

fn all_deployed(sandbox: &Sandbox) -> bool {
    deployed(sandbox).iter().all(|(_, d)| *d)
}

// ---- status ---------------------------------------------------------------------------

#[test]
fn status_of_an_empty_account_lists_every_stack_as_not_deployed() {
    let sandbox = Sandbox::start();

    let run = sandbox.ce(&["status"]);

    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        run.stdout
            .starts_with("env staging (us-east-1): 0 of 5 stacks deployed\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout
            .contains("ce-staging-monitoring    not deployed\n")
    );
}

#[test]
fn status_shows_each_stack_with_its_state_and_outputs() {
    let sandbox = Sandbox::with_current_env();

    let run = sandbox.ce(&["--format", "json", "status"]);

    assert_eq!(run.code, Some(0), "{}", run.describe());
    let doc = run.json();
    assert_eq!(doc["format_version"], 1);
    let network = &doc["stacks"][0];
    assert_eq!(network["stack_name"], "ce-staging-network");
    assert_eq!(network["status"], "CREATE_COMPLETE");
    assert!(
        network["created"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(network["status_note"].is_null());
    let vpc = &network["outputs"]["VpcId"];
    assert!(vpc["value"].as_str().is_some_and(|v| v.starts_with("vpc-")));
    assert_eq!(vpc["export_name"], "ce-staging-network-VpcId");

    let text = sandbox.ce(&["status"]).stdout;
    assert!(
        text.contains("ce-staging-storage       CREATE_COMPLETE      created "),
        "{text}"
    );
    assert!(text.contains("drift not checked"), "{text}");
    assert!(
        text.contains("    BuildsBucketName = compiler-explorer-staging-builds  (export ce-staging-storage-BuildsBucketName)\n"),
        "{text}"
    );
}

// ---- destroy --------------------------------------------------------------------------

#[test]
fn destroy_without_a_terminal_or_yes_shows_the_plan_and_deletes_nothing() {
    let sandbox = Sandbox::with_current_env();

    let run = sandbox.ce(&["destroy"]);

    assert_eq!(run.code, Some(3), "{}", run.describe());
    let plan = &run.stdout;
    let order: Vec<usize> = ["monitoring", "edge", "compute", "storage", "network"]
        .iter()
        .map(|s| {
            plan.find(&format!("\n  ce-staging-{s} "))
                .unwrap_or_else(|| panic!("{s} in {plan}"))
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "reverse order: {plan}"
    );
    assert!(plan.starts_with("Destroy staging (us-east-1): 5 stacks, deleted in this order:\n"));
    for line in [
        "Retained (their DeletionPolicy keeps them and their data in the account, outside any stack):\n",
        "  ce-staging-storage       BuildsBucket (AWS::S3::Bucket) compiler-explorer-staging-builds\n",
        "  ce-staging-storage       LinksTable (AWS::DynamoDB::Table) ce-staging-links\n",
        "  ce-staging-storage       FileSystem (AWS::EFS::FileSystem) fs-",
    ] {
        assert!(plan.contains(line), "missing {line:?} in\n{plan}");
    }
    assert!(
        run.stderr
            .contains("error: nothing was deleted: there is no terminal to confirm at; pass --yes"),
        "{}",
        run.describe()
    );
    assert!(all_deployed(&sandbox), "nothing was deleted");
}

#[test]
fn destroying_a_stack_whose_exports_are_still_imported_is_blocked() {
    let sandbox = Sandbox::with_current_env();

    let run = sandbox.ce(&["destroy", "--stack", "storage", "--yes"]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains(
            "export ce-staging-storage-BuildsBucketName of ce-staging-storage is imported by ce-staging-compute"
        ),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("Destroy the importing stacks first, or the whole env")
    );
    assert!(all_deployed(&sandbox), "nothing was deleted");
}

#[test]
fn destroying_one_stack_nobody_imports_from_deletes_only_it() {
    let sandbox = Sandbox::with_current_env();

    let run = sandbox.ce(&["destroy", "--stack", "monitoring", "--yes"]);

    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains("ce-staging-monitoring: deleted ("),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("ce-staging-monitoring: deleting\n"));
    let state = deployed(&sandbox);
    assert_eq!(
        state.iter().filter(|(_, d)| !*d).collect::<Vec<_>>(),
        [&("ce-staging-monitoring".to_owned(), false)]
    );
}

#[test]
fn destroy_yes_deletes_in_reverse_order_and_explains_the_stack_that_cannot_go() {
    let sandbox = Sandbox::with_current_env();

    let run = sandbox.ce(&["--format", "json", "destroy", "--yes"]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    let doc = run.json();
    assert_eq!(doc["outcome"], "failed");
    let results: Vec<(&str, &str)> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["stack_name"].as_str().unwrap_or_default(),
                r["result"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("ce-staging-monitoring", "deleted"),
            ("ce-staging-edge", "deleted"),
            ("ce-staging-compute", "deleted"),
            ("ce-staging-storage", "deleted"),
            ("ce-staging-network", "failed"),
        ]
    );
    let reason = doc["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with(
            "ce-staging-network could not be deleted: DeleteStack failed: The vpc vpc-"
        ) && reason.contains("(DependencyViolation)"),
        "{reason}"
    );
    assert!(
        reason.contains("cannot delete the VPC of a stack that holds a route table"),
        "{reason}"
    );
    assert!(run.stderr.contains(&format!("error: {reason}")));
    let retained = doc["stacks"][3]["retained"].as_array().expect("retained");
    assert!(
        retained.iter().any(
            |r| r["physical_id"] == "compiler-explorer-staging-logs" && r["policy"] == "Retain"
        )
    );
}

#[test]
fn destroy_with_nothing_deployed_has_nothing_to_do() {
    let sandbox = Sandbox::start();

    let run = sandbox.ce(&["destroy", "--yes"]);

    assert_eq!(run.code, Some(0), "{}", run.describe());
    assert!(run.stdout.is_empty(), "{}", run.describe());
    assert!(
        run.stderr
            .contains("destroy staging: no stack of it is deployed")
    );
}

#[test]
fn a_protected_env_is_refused_before_any_aws_call() {
    // No sandbox and no credentials: the refusal must come first.
    let run = common::run_ce(["--env", "prod", "destroy", "--yes"]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains(
            "error: nothing was deleted: env prod is protected (protected = true in its env file): destroying it needs --lift-termination-protection"
        ),
        "{}",
        run.describe()
    );

    let run = common::run_ce([
        "--env",
        "prod",
        "destroy",
        "--yes",
        "--lift-termination-protection",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains(
            "its name has to be typed at a terminal to destroy it, which --yes does not do"
        ),
        "{}",
        run.describe()
    );
}
