//! `ce diff` against a moto server of the test's own: an empty account, an account holding an
//! older render of the env, and one holding the current render.
//!
//! Each test starts its own moto (state in a temp dir, which `ce --local` is pointed at through
//! `CE_STATE_DIR`) and stops it when done. The env is a copy of `envs/staging.toml` in a temp
//! envs directory, with the load balancer's certificate set to one the test creates in moto's
//! ACM, since moto's load balancer refuses a certificate it does not hold.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ce_infra::aws::{Aws, Target};
use ce_infra::sandbox::{self, Paths};
use ce_infra::{config, render};
use common::{Run, crate_root};
use serde_json::Value;
use tempfile::TempDir;

/// The shared venv with the pinned moto, installed once per test run.
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = std::env::var_os("CE_SANDBOX_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate_root().join(".venv"));
        sandbox::ensure_venv(&venv, "python3").expect("install moto into the test venv");
        venv
    })
}

/// A moto server and an envs directory of the test's own; the server stops when dropped.
struct Sandbox {
    paths: Paths,
    endpoint: String,
    state: TempDir,
    envs: TempDir,
}

impl Sandbox {
    fn start() -> Sandbox {
        let state = TempDir::new().expect("temp dir");
        let paths = Paths {
            state: state.path().to_owned(),
            venv: venv().to_owned(),
            python: "python3".into(),
        };
        let started = sandbox::start(&paths, None).expect("start moto");
        Sandbox {
            endpoint: started.record().endpoint(),
            paths,
            state,
            envs: TempDir::new().expect("temp dir"),
        }
    }

    /// Runs `ce --local --envs-dir <envs> <args>` against this server.
    fn ce(&self, args: &[&str]) -> Run {
        let mut cmd = common::ce(&["--local", "--envs-dir"]);
        cmd.arg(self.envs.path())
            .args(args)
            .env("CE_STATE_DIR", self.state.path())
            .env("CE_SANDBOX_VENV", venv())
            .env_remove("CE_LOCAL");
        let output = cmd.output().expect("the ce binary runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Writes `<envs>/staging.toml`: the committed staging env, with the load balancer
    /// certificate moto holds, passed through `edit`.
    fn write_env(&self, certificate: &str, edit: impl Fn(String) -> String) {
        let text = std::fs::read_to_string(common::envs_dir().join("staging.toml"))
            .expect("envs/staging.toml");
        let line = text
            .lines()
            .find(|l| l.starts_with("certificate_arn = "))
            .expect("staging sets domain.certificate_arn")
            .to_owned();
        let text = text.replace(
            &line,
            &format!("{line}\nalb_certificate_arn = \"{certificate}\""),
        );
        std::fs::write(self.envs.path().join("staging.toml"), edit(text)).expect("write env");
    }

    /// Creates every stack of the env now in the envs directory, in dependency order.
    fn create_stacks(&self) {
        let env = config::load(self.envs.path(), "staging").expect("the test env loads");
        let stacks = render::render_env(&env).expect("the test env renders");
        let runtime = ce_infra::aws::runtime().expect("tokio runtime");
        let target = Target::Sandbox {
            endpoint: self.endpoint.clone(),
        };
        let aws = runtime.block_on(Aws::connect("us-east-1", target));
        let client = aws.cloudformation().client().clone();
        for stack in stacks {
            runtime
                .block_on(
                    client
                        .create_stack()
                        .stack_name(&stack.stack_name)
                        .template_body(&stack.text)
                        .send(),
                )
                .unwrap_or_else(|e| panic!("create {}: {e:?}", stack.stack_name));
            wait_for_create(&runtime, &client, &stack.stack_name);
        }
    }

    /// A certificate in moto's ACM, for the load balancer's HTTPS listener.
    fn certificate(&self) -> String {
        let script = "import boto3, sys\n\
            acm = boto3.client('acm', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                               aws_access_key_id='testing', aws_secret_access_key='testing')\n\
            print(acm.request_certificate(DomainName='staging.godbolt.org')['CertificateArn'])\n";
        let out = Command::new(venv().join("bin/python"))
            .args(["-c", script, &self.endpoint])
            .output()
            .expect("run the venv's python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// An account holding the current staging render.
    fn with_current_env() -> Sandbox {
        let sandbox = Sandbox::start();
        let certificate = sandbox.certificate();
        sandbox.write_env(&certificate, |t| t);
        sandbox.create_stacks();
        sandbox
    }

    /// An account holding an older render: a fourth zone since dropped, a logs bucket since
    /// renamed, and a bigger instance type; the envs directory then holds the current env.
    fn with_older_env() -> Sandbox {
        let sandbox = Sandbox::start();
        let certificate = sandbox.certificate();
        sandbox.write_env(&certificate, |t| {
            t.replace(
                "instance_type = \"m5.large\"",
                "instance_type = \"m5.xlarge\"",
            )
            .replace(
                "logs = \"compiler-explorer-staging-logs\"",
                "logs = \"compiler-explorer-staging-logs-old\"",
            )
            .replace(
                "[domain]",
                "[[network.zones]]\nname = \"us-east-1d\"\ncidr = \"172.29.3.0/24\"\n\n[domain]",
            )
        });
        sandbox.create_stacks();
        sandbox.write_env(&certificate, |t| t);
        sandbox
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = sandbox::stop(&self.paths);
    }
}

/// moto creates synchronously, but a real service would not: wait as a client should.
fn wait_for_create(
    runtime: &tokio::runtime::Runtime,
    client: &aws_sdk_cloudformation::Client,
    name: &str,
) {
    for _ in 0..50 {
        let out = runtime
            .block_on(client.describe_stacks().stack_name(name).send())
            .unwrap_or_else(|e| panic!("describe {name}: {e:?}"));
        let status = out
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        match status.as_str() {
            "CREATE_COMPLETE" => return,
            "CREATE_IN_PROGRESS" => std::thread::sleep(std::time::Duration::from_millis(100)),
            other => panic!("{name} ended {other}"),
        }
    }
    panic!("{name} never reached CREATE_COMPLETE");
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.describe()))
}

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
    sandbox.write_env(
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
        |t| t,
    );
    let env = config::load(sandbox.envs.path(), "staging").expect("env");
    let rendered = render::render_env(&env).expect("render");

    let run = sandbox.ce(&["--format", "json", "diff"]);

    let doc = json_of(&run);
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
    let doc = json_of(&run);
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
    assert_eq!(stack(&doc, "ce-staging-edge")["class"], "no_changes");
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
        "Imported by:\n",
        "  ce-staging-network-SubnetIds: ce-staging-compute, ce-staging-storage\n",
        "  ce-staging-storage-LogsBucketName: ce-staging-compute, ce-staging-edge\n",
    ] {
        assert!(
            text.contains(line),
            "missing {line:?} in\n{}",
            run.describe()
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
    assert!(
        run.stderr.contains(
            "error: unknown stack \"database\"; the stacks are: network, storage, compute, edge, monitoring"
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
        .env_remove("CE_LOCAL")
        .output()
        .expect("the ce binary runs");

    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: no AWS credentials found; set AWS_PROFILE"),
        "{stderr}"
    );
}
