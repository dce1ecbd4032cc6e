//! The local sandbox and the AWS edge against it.
//!
//! Every test starts its own moto server on a free port, with its own state directory, and
//! stops it when done; none touches the user's sandbox (see `common::sandbox`).

mod common;

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ce_infra::aws::errors::AwsError;
use ce_infra::aws::{AccountError, Aws, Parameter, SANDBOX_ACCOUNT, Target};
use common::sandbox::{DelayingProxy, aws_at, runtime};
use common::{Moto, Run, RunCe, venv};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A template of one SNS topic, exporting its ARN, with a NoEcho parameter.
fn topic_template(export: &str, import: Option<&str>) -> Value {
    let mut topic =
        json!({"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Name"}}});
    if let Some(import) = import {
        topic["Properties"]["DisplayName"] = json!({"Fn::ImportValue": import});
    }
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "Name": {"Type": "String"},
            "Secret": {"Type": "String", "NoEcho": true}
        },
        "Resources": {"Topic": topic},
        "Outputs": {
            "TopicArn": {"Value": {"Ref": "Topic"}, "Export": {"Name": export}}
        }
    })
}

fn create_stack(runtime: &tokio::runtime::Runtime, aws: &Aws, name: &str, template: &Value) {
    use aws_sdk_cloudformation::types::{Parameter as CfnParameter, Tag};
    let param = |k: &str, v: &str| {
        CfnParameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    runtime
        .block_on(
            aws.cloudformation()
                .client()
                .create_stack()
                .stack_name(name)
                .template_body(template.to_string())
                .parameters(param("Name", &format!("{name}-topic")))
                .parameters(param("Secret", "hunter2"))
                .tags(Tag::builder().key("Site").value("CompilerExplorer").build())
                .send(),
        )
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
}

#[test]
fn fetch_stacks_returns_a_stack_with_its_template_and_none_for_a_missing_one() {
    let moto = Moto::start();
    let runtime = runtime();
    let aws = moto.aws(&runtime);
    let template = topic_template("ce-test-network-TopicArn", None);
    create_stack(&runtime, &aws, "ce-test-network", &template);

    let cfn = aws.cloudformation();
    let stacks = runtime
        .block_on(cfn.fetch_stacks(["ce-test-network", "ce-test-absent"]))
        .expect("fetch");

    assert_eq!(stacks.len(), 2);
    let stack = stacks[0].as_ref().expect("the created stack exists");
    assert_eq!(stack.name, "ce-test-network");
    assert_eq!(stack.status, "CREATE_COMPLETE");
    assert!(stack.stack_id.contains(":stack/ce-test-network/"));
    assert_eq!(stack.template, template);
    assert_eq!(
        stack.parameters["Name"],
        Parameter::Value("ce-test-network-topic".into())
    );
    assert_eq!(stack.tags["Site"], "CompilerExplorer");
    let output = &stack.outputs["TopicArn"];
    assert!(output.value.starts_with("arn:aws:sns:us-east-1:"));
    assert_eq!(
        output.export_name.as_deref(),
        Some("ce-test-network-TopicArn")
    );
    assert_eq!(stacks[1], None, "a missing stack is None, not an error");
}

#[test]
fn a_no_echo_parameter_never_comes_back_from_the_sandbox() {
    let moto = Moto::start();
    let runtime = runtime();
    let aws = moto.aws(&runtime);
    create_stack(
        &runtime,
        &aws,
        "ce-test-secret",
        &topic_template("x-Arn", None),
    );

    let stack = runtime
        .block_on(aws.cloudformation().fetch_stack("ce-test-secret"))
        .expect("fetch")
        .expect("exists");

    assert_eq!(stack.parameters["Secret"], Parameter::Hidden);
    assert!(!format!("{stack:?}").contains("hunter2"));
}

#[test]
fn stacks_are_fetched_concurrently() {
    let moto = Moto::start();
    let runtime = runtime();
    let aws = moto.aws(&runtime);
    let names: Vec<String> = (0..4).map(|i| format!("ce-test-s{i}")).collect();
    for name in &names {
        create_stack(
            &runtime,
            &aws,
            name,
            &topic_template(&format!("{name}-Arn"), None),
        );
    }
    // Every answer through this proxy is held back; one after another, 4 stacks x 2 calls
    // would take 8 delays.
    let delay = Duration::from_millis(400);
    let proxy = DelayingProxy::start(&moto.endpoint(), delay);
    let slow = aws_at(&runtime, &proxy.endpoint);

    let begun = Instant::now();
    let stacks = runtime
        .block_on(slow.cloudformation().fetch_stacks(names.clone()))
        .expect("fetch");
    let took = begun.elapsed();

    assert!(stacks.iter().all(Option::is_some));
    assert!(
        took < delay * 4,
        "fetching 4 stacks took {took:?}; concurrent fetches take about one delay ({delay:?})"
    );
}

#[test]
fn check_account_passes_for_the_sandbox_account_and_names_both_on_a_mismatch() {
    let moto = Moto::start();
    let runtime = runtime();
    let aws = moto.aws(&runtime);

    let account = runtime
        .block_on(aws.check_account(SANDBOX_ACCOUNT))
        .expect("same account");
    assert_eq!(account, SANDBOX_ACCOUNT);

    let err = runtime
        .block_on(aws.check_account("111122223333"))
        .expect_err("another account");
    assert!(matches!(err, AccountError::Mismatch { .. }));
    let text = err.to_string();
    assert!(
        text.contains("111122223333") && text.contains(SANDBOX_ACCOUNT),
        "{text}"
    );
}

#[test]
fn list_imports_is_empty_for_an_unimported_export_and_names_importers() {
    let moto = Moto::start();
    let runtime = runtime();
    let aws = moto.aws(&runtime);
    create_stack(
        &runtime,
        &aws,
        "ce-test-a",
        &topic_template("ce-test-a-Arn", None),
    );
    create_stack(
        &runtime,
        &aws,
        "ce-test-b",
        &topic_template("ce-test-b-Arn", Some("ce-test-a-Arn")),
    );
    let cfn = aws.cloudformation();

    let unimported = runtime.block_on(cfn.list_imports("ce-test-b-Arn"));
    let imported = runtime.block_on(cfn.list_imports("ce-test-a-Arn"));
    let exports = runtime.block_on(cfn.list_exports()).expect("exports");

    assert_eq!(unimported.expect("list"), Vec::<String>::new());
    assert_eq!(imported.expect("list"), vec!["ce-test-b".to_owned()]);
    let mut names: Vec<_> = exports.iter().map(|e| e.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["ce-test-a-Arn", "ce-test-b-Arn"]);
}

#[test]
fn a_stopped_sandbox_is_unreachable_with_a_sentence_saying_what_to_check() {
    let runtime = runtime();
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let aws = runtime.block_on(Aws::connect(
        "us-east-1",
        Target::Sandbox {
            endpoint: format!("http://127.0.0.1:{port}"),
        },
    ));

    let err = runtime
        .block_on(aws.caller_account())
        .expect_err("nothing listens");

    assert!(matches!(err, AwsError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("ce sandbox status"));
}

/// Runs in a child process with a scrubbed environment, since the credential chain reads it.
#[test]
fn without_credentials_the_error_says_how_to_provide_them() {
    if std::env::var_os("CE_TEST_NO_CREDENTIALS").is_none() {
        let home = TempDir::new().expect("temp dir");
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "without_credentials_the_error_says_how_to_provide_them",
                "--nocapture",
            ])
            .env_clear()
            .env("CE_TEST_NO_CREDENTIALS", "1")
            .env("HOME", home.path())
            .env("AWS_CONFIG_FILE", home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                home.path().join("credentials"),
            )
            // Never ask the instance metadata service: this is no EC2 instance.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .output()
            .expect("run the test binary");
        let out = Run::from(out);
        assert_eq!(out.code, Some(0), "{}", out.describe());
        return;
    }
    let runtime = runtime();
    let aws = runtime.block_on(Aws::connect("us-east-1", Target::Account));
    let err = runtime
        .block_on(aws.caller_account())
        .expect_err("no credentials");
    assert_eq!(err, AwsError::NoCredentials);
    let text = err.to_string();
    assert!(
        text.contains("AWS_PROFILE") && text.contains("--local"),
        "{text}"
    );
}

// ---- the `ce sandbox` command ----

/// `ce <args>` with the sandbox's state in `state`.
fn ce(state: &Path, args: &[&str]) -> Run {
    common::ce(args)
        .env("CE_STATE_DIR", state)
        .env("CE_SANDBOX_VENV", venv())
        .run()
}

/// Stops the sandbox of a state dir even when an assertion fails first.
struct StopOnDrop<'a>(&'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = ce(self.0, &["sandbox", "stop"]);
    }
}

#[test]
fn ce_sandbox_start_status_stop_round_trip() {
    let state = TempDir::new().expect("temp dir");
    let _stop = StopOnDrop(state.path());

    let started = ce(state.path(), &["sandbox", "start", "--format", "json"]);
    assert_eq!(started.code, Some(0), "{}", started.describe());
    let started = started.json();
    assert_eq!(started["format_version"], 1);
    assert_eq!(started["state"], "running");
    assert_eq!(started["action"], "started");
    let endpoint = started["endpoint"].as_str().expect("endpoint").to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    assert!(state.path().join("sandbox.json").is_file());

    let again = ce(state.path(), &["sandbox", "start", "--format", "json"]).json();
    assert_eq!(again["action"], "already running");
    assert_eq!(again["endpoint"], endpoint.as_str());

    let status = ce(state.path(), &["sandbox", "status"]);
    assert_eq!(status.code, Some(0), "{}", status.describe());
    let text = &status.stdout;
    assert!(
        text.starts_with(&format!("running at {endpoint} (pid ")),
        "{text}"
    );

    let stopped = ce(state.path(), &["sandbox", "stop", "--format", "json"]);
    assert_eq!(stopped.code, Some(0), "{}", stopped.describe());
    assert_eq!(stopped.json()["state"], "stopped");
    assert!(!state.path().join("sandbox.json").exists());
    let port: u16 = endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "server still up"
    );

    let status = ce(state.path(), &["sandbox", "status", "--format", "json"]);
    assert_eq!(status.code, Some(1), "status exits 1 when stopped");
    assert_eq!(status.json()["state"], "stopped");
}

#[test]
fn a_stale_record_is_reported_and_replaced_by_start() {
    let state = TempDir::new().expect("temp dir");
    let _stop = StopOnDrop(state.path());
    // A pid that is surely not a moto server: this test process's own.
    let record = json!({"pid": std::process::id(), "port": 1, "started_at": 0});
    std::fs::write(state.path().join("sandbox.json"), record.to_string()).expect("write");

    let status = ce(state.path(), &["sandbox", "status", "--format", "json"]);
    assert_eq!(status.code, Some(1));
    assert_eq!(status.json()["state"], "stale");

    let started = ce(state.path(), &["sandbox", "start", "--format", "json"]);
    assert_eq!(started.code, Some(0), "{}", started.describe());
    assert_eq!(started.json()["state"], "running");
}

#[test]
fn start_on_a_port_in_use_says_so() {
    let state = TempDir::new().expect("temp dir");
    let _stop = StopOnDrop(state.path());
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();

    let out = ce(state.path(), &["sandbox", "start", "--port", &port]);

    assert_eq!(out.code, Some(1));
    let stderr = &out.stderr;
    assert!(
        stderr.contains(&format!("port {port} on 127.0.0.1 is in use")),
        "{stderr}"
    );
}

#[test]
fn a_failed_moto_install_shows_one_line_and_names_the_log_holding_pips_output() {
    let state = TempDir::new().expect("temp dir");
    let venv = state.path().join("venv");

    // No index at all: pip fails at once, offline, after the venv is made.
    let out = common::ce(&["sandbox", "start"])
        .env("CE_STATE_DIR", state.path())
        .env("CE_SANDBOX_VENV", &venv)
        .env("PIP_NO_INDEX", "1")
        .env_remove("PIP_FIND_LINKS")
        .run();

    assert_eq!(out.code, Some(1), "{}", out.describe());
    let lines: Vec<&str> = out.stderr.lines().collect();
    let log = state.path().join("venv.install.log");
    assert_eq!(lines.len(), 2, "{}", out.describe());
    assert!(
        lines[0].starts_with("sandbox: installing moto[server]==") && lines[0].ends_with("failed"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("error: installing moto[server]==")
            && lines[1].contains(&log.display().to_string()),
        "{}",
        lines[1]
    );
    let pip_output = std::fs::read_to_string(&log).expect("the install log is kept");
    assert!(
        pip_output.contains("from versions: none"),
        "pip's own words are in the log: {pip_output}"
    );
    let last = pip_output.lines().rev().find(|l| !l.trim().is_empty());
    assert!(
        last.is_some_and(|l| lines[1].contains(l.trim())),
        "the error quotes pip's last line: {}",
        lines[1]
    );
}

#[test]
fn a_missing_python_is_named_with_what_to_install() {
    let state = TempDir::new().expect("temp dir");

    let out = common::ce(&["sandbox", "start"])
        .env("CE_STATE_DIR", state.path())
        .env_remove("CE_SANDBOX_VENV")
        .env("PYTHON", "/nonexistent/python3")
        .run();

    assert_eq!(out.code, Some(1));
    let stderr = &out.stderr;
    assert!(
        stderr.contains("/nonexistent/python3 not found") && stderr.contains("python3-venv"),
        "{stderr}"
    );
}

#[test]
fn commands_that_never_call_aws_do_not_start_the_sandbox_even_with_local() {
    let state = TempDir::new().expect("temp dir");
    let out = common::ce(&["--local", "validate", "--all"])
        .env("CE_STATE_DIR", state.path())
        .run();

    assert!(out.code.is_some(), "{}", out.describe());
    assert!(
        std::fs::read_dir(state.path())
            .expect("state dir")
            .next()
            .is_none(),
        "validate --local wrote to the state dir"
    );
}
