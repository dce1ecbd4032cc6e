//! `ce diff` against a moto server of the test's own: an empty account, an account holding an
//! older render of the env, and one holding the current render.
//!
//! Each test starts its own moto and envs directory (see `common::sandbox`) and stops it when done.

mod common;

use ce_infra::{config, render};
use common::{RunCe, Sandbox};
use serde_json::Value;
use tempfile::TempDir;

/// The stack entry of the JSON form with this name.
fn stack<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["stacks"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stack_name"] == name))
        .unwrap_or_else(|| panic!("no stack {name} in {doc}"))
}

/// The resource entry of a stack entry with this logical id.
fn resource<'a>(stack: &'a Value, id: &str) -> &'a Value {
    stack["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["logical_id"] == id))
        .unwrap_or_else(|| panic!("no resource {id} in {}", stack["stack_name"]))
}

#[test]
fn an_empty_account_diffs_to_every_stack_created_with_all_its_resources() {
    let sandbox = Sandbox::start();
    let env = config::load(sandbox.envs.path(), "staging").expect("env");
    let rendered = render::render_env(&env).expect("render");

    let run = sandbox.ce(&["--format", "json", "diff"]);

    let doc = run.json();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["env"], "staging");
    assert_eq!(run.code, doc["exit_code"].as_i64().map(|c| c as i32));
    assert_eq!(doc["stacks"].as_array().map(Vec::len), Some(5));
    for r in &rendered {
        let template: Value = serde_json::from_str(&r.text).expect("rendered JSON");
        let expected = template["Resources"].as_object().expect("resources").len();
        let entry = stack(&doc, &r.stack_name);
        assert_eq!(entry["exists"], false, "{}", r.stack_name);
        assert_eq!(entry["stack_status"], Value::Null);
        assert_eq!(entry["summary"]["add"], expected, "{}", r.stack_name);
        let resources = entry["resources"].as_array().expect("resources");
        assert!(
            resources
                .iter()
                .all(|r| r["action"] == "add" && r["impact"] == "create")
        );
    }
    // A first deploy deletes and replaces nothing; what needs approval is only the security
    // groups opened to the world, which a bootstrap adds like any other broadening.
    let reasons: Vec<&str> = doc["approval_reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.ends_with("security permissions broadened")),
        "{reasons:?}"
    );
    assert!(stack(&doc, "ce-staging-storage")["data_loss"] == Value::Array(vec![]));
}

#[test]
fn an_unchanged_env_has_no_changes_and_exits_0() {
    let sandbox = Sandbox::with_current_env();

    let run = sandbox.ce(&["diff"]);

    assert_eq!(run.code, Some(0), "{}", run.describe());
    for name in ["network", "storage", "compute", "edge", "monitoring"] {
        assert!(
            run.stdout
                .contains(&format!("ce-staging-{name}: no changes\n")),
            "{}",
            run.describe()
        );
    }
    assert!(
        run.stderr
            .contains("diff staging: reading 5 stacks from the sandbox"),
        "progress goes to stderr: {}",
        run.describe()
    );
}

#[test]
fn an_older_deployment_diffs_to_modify_replace_and_remove_with_their_impacts() {
    let sandbox = Sandbox::with_older_env();

    let run = sandbox.ce(&["--format", "json", "diff"]);

    assert_eq!(run.code, Some(3), "{}", run.describe());
    let doc = run.json();
    assert_eq!(doc["class"], "needs_approval");

    let network = stack(&doc, "ce-staging-network");
    assert_eq!(network["stack_status"], "CREATE_COMPLETE");
    let subnet = resource(network, "SubnetUsEast1d");
    assert_eq!(subnet["action"], "remove");
    assert_eq!(subnet["impact"], "destroy");

    let storage = stack(&doc, "ce-staging-storage");
    let bucket = resource(storage, "LogsBucket");
    assert_eq!(bucket["action"], "replace");
    assert_eq!(bucket["changes"][0]["path"], "BucketName");
    assert_eq!(bucket["changes"][0]["impact"], "replace");
    assert_eq!(resource(storage, "MountTargetUsEast1d")["action"], "remove");
    assert_eq!(
        storage["data_loss"],
        serde_json::json!([{"logical_id": "LogsBucket", "resource_type": "AWS::S3::Bucket",
            "impact": "replace", "policy": "Retain", "outcome": "retained"}])
    );

    let compute = stack(&doc, "ce-staging-compute");
    let template = resource(compute, "NodeLaunchTemplate");
    assert_eq!(template["action"], "modify");
    assert_eq!(template["impact"], "update");
    assert_eq!(
        template["changes"][0]["path"],
        "LaunchTemplateData.InstanceType"
    );
    assert_eq!(template["changes"][0]["old"], "m5.xlarge");
    assert_eq!(template["changes"][0]["new"], "m5.large");
    // The launch template's new version reaches both colours' groups; with no rolling update
    // no node is replaced (the next release's nodes boot the new version).
    for id in ["NodeAutoScalingGroup", "GreenAutoScalingGroup"] {
        let group = resource(compute, id);
        assert_eq!(group["impact"], "update", "{id}");
        assert_eq!(
            group["causes"][0],
            "LaunchTemplate.Version reads NodeLaunchTemplate.LatestVersionNumber, which changes",
            "{id}"
        );
        assert!(
            group["consequences"]
                .as_array()
                .is_none_or(|c| c.iter().all(|c| c["kind"] != "rolling_replacement")),
            "{id}: {}",
            group["consequences"]
        );
    }
    // The renamed bucket's export reaches the distribution, which waits for it.
    let distribution = resource(stack(&doc, "ce-staging-edge"), "Distribution");
    assert_eq!(distribution["impact"], "update");
    assert_eq!(
        distribution["blocked_by"],
        serde_json::json!(["ce-staging-storage-LogsBucketName"])
    );
    // The remaining zones keep their subnets: their mount targets are untouched.
    let storage_ids: Vec<&str> = storage["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["logical_id"].as_str())
        .collect();
    assert!(
        !storage_ids.contains(&"MountTargetUsEast1a"),
        "{storage_ids:?}"
    );
    let ways = doc["blocked_exports"].as_array().expect("blocked exports");
    assert_eq!(ways.len(), 2);
    assert_eq!(ways[0]["export"], "ce-staging-network-SubnetIds");
    assert_eq!(ways[0]["steps"].as_array().map(Vec::len), Some(3));
}

#[test]
fn exports_that_change_while_imported_are_blockers_naming_their_importers() {
    let sandbox = Sandbox::with_older_env();

    let run = sandbox.ce(&["diff"]);

    assert_eq!(run.code, Some(3), "{}", run.describe());
    let text = &run.stdout;
    for line in [
        "  ~ ce-staging-network-SubnetIds  BLOCKER: imported by another stack\n",
        "  Data at risk\n    LogsBucket (AWS::S3::Bucket) replace: data retained (UpdateReplacePolicy Retain)\n",
        "Needs approval:\n",
        "  ce-staging-storage: replace LogsBucket (data retained)\n",
        "Blocked: ce-staging-network-SubnetIds of ce-staging-network (imported by ce-staging-compute, ce-staging-storage)\n",
        "Blocked: ce-staging-storage-LogsBucketName of ce-staging-storage (imported by ce-staging-compute, ce-staging-edge)\n",
        "  2. Deploy ce-staging-network: ce-staging-network-SubnetIds takes its new value.\n",
        "  ~ Distribution (AWS::CloudFront::Distribution) update BLOCKED [predicted]\n",
    ] {
        assert!(
            text.contains(line),
            "missing {line:?} in\n{}",
            run.describe()
        );
    }
}

#[test]
fn a_plan_keeps_the_steps_of_its_blocked_exports_and_shows_them_in_text_and_markdown() {
    let sandbox = Sandbox::with_older_env();
    let dir = TempDir::new().expect("temp dir");
    let plan = dir.path().join("plan.json");
    let plan = plan.to_str().expect("utf-8 path");

    let planned = sandbox.ce(&["plan", "--out", plan]);
    let text = sandbox.ce(&["plan", "--show", plan]);
    let markdown = sandbox.ce(&["--format", "markdown", "plan", "--show", plan]);

    assert_eq!(planned.code, Some(3), "{}", planned.describe());
    for run in [&planned, &text] {
        assert_eq!(run.code, Some(3), "{}", run.describe());
        for line in [
            "Blocked: ce-staging-network-SubnetIds of ce-staging-network (imported by \
             ce-staging-compute, ce-staging-storage)\n  1. Stop importing \
             ce-staging-network-SubnetIds in ce-staging-compute, ce-staging-storage",
            "  2. Deploy ce-staging-network: ce-staging-network-SubnetIds takes its new value.\n",
            "Blocked: ce-staging-storage-LogsBucketName of ce-staging-storage (imported by \
             ce-staging-compute, ce-staging-edge)\n",
        ] {
            assert!(
                run.stdout.contains(line),
                "missing {line:?} in\n{}",
                run.describe()
            );
        }
    }
    assert_eq!(markdown.code, Some(3), "{}", markdown.describe());
    for part in [
        "> [!IMPORTANT]\n> `ce-staging-network-SubnetIds` of `ce-staging-network` cannot change \
         while `ce-staging-compute`, `ce-staging-storage` import it. Steps CloudFormation \
         accepts:\n> - Stop importing ce-staging-network-SubnetIds in ce-staging-compute, \
         ce-staging-storage",
        "> - Deploy ce-staging-network: ce-staging-network-SubnetIds takes its new value.\n",
        "> `ce-staging-storage-LogsBucketName` of `ce-staging-storage` cannot change while \
         `ce-staging-compute`, `ce-staging-edge` import it.",
    ] {
        assert!(
            markdown.stdout.contains(part),
            "missing {part:?} in\n{}",
            markdown.stdout
        );
    }
}

#[test]
fn the_markdown_report_renders_the_diff() {
    let sandbox = Sandbox::with_older_env();

    let run = sandbox.ce(&["--format", "markdown", "diff"]);

    assert_eq!(run.code, Some(3), "{}", run.describe());
    let md = &run.stdout;
    for part in [
        "### ce diff `staging`: changes that need approval\n",
        "| `ce-staging-storage` | CREATE_COMPLETE | 0 | 0 | 2 | 1 |\n",
        "| ± | `LogsBucket` | `AWS::S3::Bucket` | replace | `BucketName`: compiler-explorer-staging-logs-old → compiler-explorer-staging-logs **(replaces)**",
        "- `LogsBucket` (AWS::S3::Bucket) replace: data **retained** (Retain)\n",
        "**blocked: imported by `ce-staging-compute`, `ce-staging-storage`**",
    ] {
        assert!(md.contains(part), "missing {part:?} in\n{md}");
    }
    assert!(!md.contains("&#x"), "nothing is HTML-escaped: {md}");
}

#[test]
fn unified_shows_a_hunk_of_the_changed_template_only() {
    let sandbox = Sandbox::with_older_env();

    let run = sandbox.ce(&["diff", "--unified", "--stack", "compute"]);

    assert_eq!(run.code, Some(2), "{}", run.describe());
    let text = &run.stdout;
    assert!(
        text.starts_with("--- deployed/ce-staging-compute\n+++ rendered/ce-staging-compute\n@@ "),
        "{}",
        run.describe()
    );
    assert!(text.contains("-          \"InstanceType\": \"m5.xlarge\",\n"));
    assert!(text.contains("+          \"InstanceType\": \"m5.large\",\n"));
    assert!(
        !text.contains("ce-staging-network"),
        "only the stack asked for"
    );
}

#[test]
fn an_unknown_stack_is_refused_with_the_stack_names() {
    let run = common::run_ce(["diff", "--stack", "database"]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    // clap parses --stack into a StackId, so the message is clap's line with the stack's.
    assert!(
        run.stderr
            .starts_with("error: invalid value 'database' for '--stack <STACK>': "),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains(
            "unknown stack \"database\"; the stacks are: network, storage, compute, edge, monitoring"
        ),
        "{}",
        run.describe()
    );
}

#[test]
fn without_credentials_the_error_says_how_to_provide_them() {
    let home = TempDir::new().expect("temp dir");
    let mut cmd = common::ce(&["diff"]);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    let missing = home.path().join("missing");
    let run = cmd
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", &missing)
        .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .run();

    let stderr = &run.stderr;
    assert_eq!(run.code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error: no AWS credentials found; set AWS_PROFILE"),
        "{stderr}"
    );
}
