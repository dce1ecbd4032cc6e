//! Secrets never appear in anything `ce` prints or writes.
//!
//! Each test plants distinctive values where a careless tool could pick them up (the AWS secret
//! key and session token in the environment, a NoEcho parameter of a deployed stack) and then
//! runs the commands that exist, on their success and error paths, in every output format,
//! and checks that neither stdout, stderr nor any file written holds a planted value. The AWS
//! commands run against a moto server of the test's own, behind the fault proxy (which also
//! lets a test force error answers): with `--local`, and without it through `AWS_ENDPOINT_URL`,
//! where the planted credentials are the ones the SDK really signs with.

mod common;

use std::path::Path;
use std::process::Command;

use ce_infra::aws::Parameter;
use common::fault_proxy::{Fault, FaultPlan, FaultRig};
use common::{Run, RunCe};
use serde_json::json;
use tempfile::TempDir;

const ACCESS_KEY_ID: &str = "AKIAPLANTEDKEY7Q2ZX9";
const SECRET_KEY: &str = "planted-secret-key-7f3a9c1e55";
const SESSION_TOKEN: &str = "planted-session-token-b81e44d0aa";
const NO_ECHO_VALUE: &str = "planted-noecho-value-d41d8c0f";

/// Every planted secret (the access key id is not secret, but it has no business in output).
const PLANTED: [&str; 4] = [ACCESS_KEY_ID, SECRET_KEY, SESSION_TOKEN, NO_ECHO_VALUE];

/// Fails naming the secret and where it showed up.
fn assert_clean(what: &str, text: &str) {
    for secret in PLANTED {
        assert!(
            !text.contains(secret),
            "{what} contains the planted secret {secret}:\n{text}"
        );
    }
}

fn assert_run_clean(what: &str, run: &Run) {
    assert_clean(&format!("stdout of {what}"), &run.stdout);
    assert_clean(&format!("stderr of {what}"), &run.stderr);
}

/// Every file under `dir`, checked as bytes.
fn assert_tree_clean(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            assert_tree_clean(&path);
        } else if let Ok(bytes) = std::fs::read(&path) {
            assert_clean(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
        }
    }
}

/// Plants the credentials in a command's environment, isolated from the user's AWS files.
fn plant<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env("HOME", home)
}

/// A template with NoEcho parameters declared three ways CloudFormation accepts. It exports
/// nothing: checking an export's importers needs ListImports, which moto lacks, so a diff
/// without `--local` would stop there.
fn no_echo_template() -> serde_json::Value {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "DbPassword": {"Type": "String", "NoEcho": true},
            "ApiToken": {"Type": "String", "NoEcho": "true"},
            "OtherToken": {"Type": "String", "NoEcho": "True"},
            "Plain": {"Type": "String"}
        },
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic",
                                "Properties": {"DisplayName": {"Ref": "Plain"}}}}
    })
}

/// Deploys the NoEcho template as `ce-staging-network` on the rig's moto, past the proxy.
fn deploy_no_echo_stack(rig: &FaultRig) {
    let runtime = common::sandbox::runtime();
    let aws = rig.moto().aws(&runtime);
    let param = |k: &str, v: &str| {
        aws_sdk_cloudformation::types::Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    runtime
        .block_on(
            aws.cloudformation()
                .client()
                .create_stack()
                .stack_name("ce-staging-network")
                .template_body(no_echo_template().to_string())
                .parameters(param("DbPassword", NO_ECHO_VALUE))
                .parameters(param("ApiToken", NO_ECHO_VALUE))
                .parameters(param("OtherToken", NO_ECHO_VALUE))
                .parameters(param("Plain", "plain-value"))
                .send(),
        )
        .unwrap_or_else(|e| panic!("create the NoEcho stack: {e:?}"));
}

#[test]
fn offline_commands_print_and_write_no_planted_secret() {
    let home = TempDir::new().expect("temp dir");
    let out = TempDir::new().expect("temp dir");
    let out_dir = out.path().to_str().expect("utf-8 temp path");
    let runs: &[&[&str]] = &[
        &["render", "--all", "--out", out_dir],
        &["-v", "render", "--all", "--check", "--out", out_dir],
        &["validate", "--all"],
        &["--format", "json", "validate", "--all"],
        &["--env", "no-such-env", "validate"],
        &["--local", "sandbox", "status"],
        &["--format", "json", "sandbox", "status"],
    ];
    for args in runs {
        let mut cmd = common::ce(args);
        cmd.env("CE_STATE_DIR", home.path().join("state"));
        let result = plant(&mut cmd, home.path()).run();
        assert!(result.code.is_some(), "{args:?}: {}", result.describe());
        assert_run_clean(&format!("ce {}", args.join(" ")), &result);
    }
    assert_tree_clean(out.path());
    assert_tree_clean(home.path());
}

#[test]
fn diff_with_local_never_shows_a_no_echo_value_or_the_environments_credentials() {
    let rig = FaultRig::start(FaultPlan::none());
    deploy_no_echo_stack(&rig);
    let home = TempDir::new().expect("temp dir");
    let runs: &[&[&str]] = &[
        &["--env", "staging", "diff"],
        &["--env", "staging", "-v", "diff", "--format", "json"],
        &["--env", "staging", "diff", "--format", "markdown"],
        &["--env", "staging", "diff", "--unified"],
        &[
            "--env", "staging", "diff", "--stack", "network", "--format", "json",
        ],
    ];
    for args in runs {
        let result = {
            let mut cmd = rig.command(args);
            plant(&mut cmd, home.path()).run()
        };
        assert!(
            matches!(result.code, Some(0..=3)),
            "{args:?}: {}",
            result.describe()
        );
        assert_run_clean(&format!("ce --local {}", args.join(" ")), &result);
    }
    // A plan file, and showing it again, hold none of them either.
    let plan = home.path().join("plan.json");
    let plan = plan.to_str().expect("utf-8 temp path");
    let plan_runs: &[&[&str]] = &[
        &["--env", "staging", "plan", "--out", plan],
        &["--env", "staging", "plan", "--show", plan],
        &[
            "--env", "staging", "--format", "json", "plan", "--show", plan,
        ],
    ];
    for args in plan_runs {
        let result = {
            let mut cmd = rig.command(args);
            plant(&mut cmd, home.path()).run()
        };
        assert!(
            matches!(result.code, Some(0..=3)),
            "{args:?}: {}",
            result.describe()
        );
        assert_run_clean(&format!("ce --local {}", args.join(" ")), &result);
    }
    assert!(
        Path::new(plan).is_file(),
        "ce plan --out wrote no plan file"
    );
    // The stack is really there and its parameters are part of what was compared.
    let json = {
        let mut cmd = rig.command(&["--env", "staging", "diff", "--format", "json"]);
        plant(&mut cmd, home.path()).run()
    };
    assert!(
        json.stdout.contains("ce-staging-network"),
        "{}",
        json.describe()
    );
    assert_tree_clean(home.path());
    assert_tree_clean(rig.ce_state());
}

/// `ce` without `--local`, sent to the rig's proxy by `AWS_ENDPOINT_URL`, signing with the
/// planted credentials.
fn ce_with_planted_credentials(rig: &FaultRig, home: &Path, args: &[&str]) -> Run {
    let mut cmd = common::ce(args);
    cmd.env("AWS_ENDPOINT_URL", rig.proxy().endpoint())
        .env("CE_STATE_DIR", home.join("state"))
        .env_remove("CE_LOCAL");
    plant(&mut cmd, home).run()
}

#[test]
fn diff_against_an_endpoint_with_planted_credentials_prints_none_of_them() {
    let rig = FaultRig::start(FaultPlan::none());
    deploy_no_echo_stack(&rig);
    let home = TempDir::new().expect("temp dir");
    for args in [
        &["--env", "staging", "diff"][..],
        &["--env", "staging", "-v", "diff", "--format", "json"],
    ] {
        let result = ce_with_planted_credentials(&rig, home.path(), args);
        assert!(
            matches!(result.code, Some(0 | 2 | 3)),
            "{args:?}: {}",
            result.describe()
        );
        assert_run_clean(&format!("ce {}", args.join(" ")), &result);
    }
    assert!(
        rig.proxy().counts().forwarded > 0,
        "no request reached the endpoint"
    );
}

#[test]
fn aws_errors_print_none_of_the_planted_credentials() {
    let rig = FaultRig::start(FaultPlan::none());
    let home = TempDir::new().expect("temp dir");
    for kind in [Fault::Throttle, Fault::Internal, Fault::Drop] {
        rig.proxy().set_plan(FaultPlan::only_kind(kind, 1.0));
        let result = ce_with_planted_credentials(
            &rig,
            home.path(),
            &["--env", "staging", "-v", "diff", "--stack", "network"],
        );
        assert_eq!(result.code, Some(1), "{kind}: {}", result.describe());
        assert!(
            result.stderr.contains("error:"),
            "{kind}: {}",
            result.describe()
        );
        assert_run_clean(&format!("ce diff under {kind}"), &result);
    }
    assert_tree_clean(home.path());
}

#[test]
fn a_fetched_stack_keeps_no_no_echo_value_however_no_echo_is_written() {
    let rig = FaultRig::start(FaultPlan::none());
    deploy_no_echo_stack(&rig);
    let runtime = common::sandbox::runtime();
    let aws = common::sandbox::aws_at(&runtime, &rig.proxy().endpoint());

    let stack = runtime
        .block_on(aws.cloudformation().fetch_stack("ce-staging-network"))
        .expect("fetch")
        .expect("the stack exists");

    for key in ["DbPassword", "ApiToken", "OtherToken"] {
        assert_eq!(stack.parameters[key], Parameter::Hidden, "{key}");
    }
    assert_eq!(
        stack.parameters["Plain"],
        Parameter::Value("plain-value".into())
    );
    assert_clean("the stack's debug form", &format!("{stack:?}"));
    assert_clean(
        "the stack's JSON form",
        &serde_json::to_string(&stack).expect("serialise"),
    );
}
