//! `ce deploy` and `ce plan` against a moto server of the test's own.
//!
//! Each test starts its own moto (state in a temp dir that `ce --local` is pointed at through
//! `CE_STATE_DIR`) and stops it when done. The env is a copy of `envs/staging.toml` in a temp
//! envs directory with the load balancer's certificate set to one the test creates in moto's
//! ACM (moto's load balancer refuses a certificate it does not hold). Failure states moto cannot
//! produce are covered by the engine's unit tests against a fake (`src/deploy/engine_tests.rs`).

mod common;

use ce_infra::aws::{Aws, SANDBOX_ACCOUNT};
use ce_infra::deploy::api::{ChangeSetKind, ChangeSetRequest, TemplateSource};
use ce_infra::deploy::artifacts::{self, Artifacts};
use ce_infra::deploy::changeset::{self, Prepared};
use ce_infra::deploy::sdk::Cfn;
use ce_infra::deploy::timing::Timing;
use ce_infra::deploy::{policy, sha256_hex};
use common::Run;
use serde_json::{Value, json};
use tempfile::TempDir;

const STACKS: [&str; 5] = ["network", "storage", "compute", "edge", "monitoring"];

/// A moto server and an envs directory of the test's own, with a certificate moto's ACM
/// holds; the server stops when dropped.
struct Sandbox {
    inner: common::Sandbox,
    endpoint: String,
    certificate: String,
}

impl Sandbox {
    /// A running moto with `<envs>/staging.toml` written (nothing deployed).
    fn start() -> Sandbox {
        let inner = common::Sandbox::start();
        let certificate = inner.moto.python(
            "import boto3, sys\n\
             acm = boto3.client('acm', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                                aws_access_key_id='testing', aws_secret_access_key='testing')\n\
             print(acm.request_certificate(DomainName='staging.godbolt.org')['CertificateArn'])\n",
        );
        let sandbox = Sandbox {
            endpoint: inner.endpoint(),
            inner,
            certificate,
        };
        sandbox.write_env(|t| t);
        sandbox
    }

    /// A moto holding the staging env, deployed by `ce deploy --yes`.
    fn bootstrapped() -> Sandbox {
        let sandbox = Sandbox::start();
        let run = sandbox.ce(&["--env", "staging", "deploy", "--yes"]);
        assert_eq!(run.code, Some(0), "bootstrap: {}", run.describe());
        sandbox
    }

    /// The envs directory `ce` is pointed at.
    fn envs(&self) -> &common::EnvDir {
        &self.inner.envs
    }

    /// Runs `ce --local --envs-dir <envs> <args>` against this server, without a terminal.
    fn ce(&self, args: &[&str]) -> Run {
        self.inner.ce(args)
    }

    /// Writes `<envs>/staging.toml`: the committed staging env with the certificate moto holds,
    /// passed through `edit`.
    fn write_env(&self, edit: impl Fn(String) -> String) {
        let certificate = &self.certificate;
        self.inner.write_env(|text| {
            let line = text
                .lines()
                .find(|l| l.starts_with("certificate_arn = "))
                .expect("staging sets domain.certificate_arn")
                .to_owned();
            let text = text.replace(
                &line,
                &format!("{line}\nalb_certificate_arn = \"{certificate}\""),
            );
            edit(text)
        });
    }

    /// Runs a Python script with boto3 against this server (argv[1] is the endpoint); returns
    /// its output, trimmed.
    fn python(&self, script: &str) -> String {
        self.inner.moto.python(script)
    }

    /// The status of every stack, by stack name.
    fn statuses(&self) -> Value {
        serde_json::from_str(&self.python(
            "import boto3, sys, json\n\
             cfn = boto3.client('cloudformation', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                                aws_access_key_id='testing', aws_secret_access_key='testing')\n\
             print(json.dumps({s['StackName']: s['StackStatus'] for s in cfn.describe_stacks()['Stacks']}))\n",
        ))
        .expect("statuses as JSON")
    }

    fn runtime_and_aws(&self) -> (tokio::runtime::Runtime, Aws) {
        let runtime = common::sandbox::runtime();
        let aws = self.inner.moto.aws(&runtime);
        (runtime, aws)
    }
}

/// Each stack's outcome in a deploy's JSON form, by stack name.
fn outcomes(doc: &Value) -> Vec<(String, String)> {
    doc["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .map(|s| {
            (
                s["stack_name"].as_str().unwrap_or_default().to_owned(),
                s["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn bigger_instances(text: String) -> String {
    text.replace(
        "instance_type = \"m5.large\"",
        "instance_type = \"m5.xlarge\"",
    )
}

#[test]
fn a_bootstrap_creates_every_stack_wired_by_imports_and_a_second_deploy_changes_nothing() {
    let sandbox = Sandbox::start();

    let run = sandbox.ce(&["--env", "staging", "--format", "json", "deploy", "--yes"]);

    assert_eq!(run.code, Some(0), "{}", run.describe());
    let doc = run.json();
    assert_eq!(doc["result"], "deployed");
    let expected: Vec<(String, String)> = STACKS
        .iter()
        .map(|s| (format!("ce-staging-{s}"), "created".to_owned()))
        .collect();
    assert_eq!(outcomes(&doc), expected);
    let statuses = sandbox.statuses();
    for stack in STACKS {
        assert_eq!(statuses[format!("ce-staging-{stack}")], "CREATE_COMPLETE");
    }
    // Both colours' target groups' VPC is the network stack's export, through Fn::ImportValue.
    let wired = sandbox.python(
        "import boto3, sys\n\
         kw = dict(endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                   aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         exports = {e['Name']: e.get('Value') for e in boto3.client('cloudformation', **kw).list_exports()['Exports']}\n\
         groups = boto3.client('elbv2', **kw).describe_target_groups()['TargetGroups']\n\
         print(exports['ce-staging-network-VpcId'], ' '.join(g['VpcId'] for g in groups))\n",
    );
    let mut values = wired.split(' ');
    let exported = values.next().expect("the export");
    let imported: Vec<&str> = values.collect();
    assert!(exported.starts_with("vpc-"), "{wired}");
    assert_eq!(
        imported.len(),
        2,
        "blue's and green's target groups: {wired}"
    );
    assert!(
        imported.iter().all(|v| *v == exported),
        "the import resolved to the export: {wired}"
    );
    assert!(doc["timing"]["total_ms"].as_u64().is_some_and(|t| t > 0));
    let diff = sandbox.ce(&["--env", "staging", "diff"]);
    assert_eq!(
        diff.code,
        Some(0),
        "nothing left to diff: {}",
        diff.describe()
    );

    let again = sandbox.ce(&["--env", "staging", "--format", "json", "deploy", "--yes"]);

    assert_eq!(again.code, Some(0), "{}", again.describe());
    let doc = again.json();
    assert_eq!(doc["result"], "no_changes");
    assert!(outcomes(&doc).iter().all(|(_, o)| o == "no_changes"));
    let stacks = doc["stacks"].as_array().expect("stacks");
    assert!(stacks.iter().all(|s| s["change_set_id"].is_null()), "{doc}");
}

/// Forced past the tool's own "nothing differs" check, the change set of an unchanged stack
/// comes back empty from CloudFormation: an answer, not an error.
#[test]
fn an_empty_change_set_is_recognised_and_deleted() {
    let sandbox = Sandbox::start();
    let (runtime, aws) = sandbox.runtime_and_aws();
    let client = aws.cloudformation().client().clone();
    let template = json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}).to_string();
    runtime
        .block_on(
            client
                .create_stack()
                .stack_name("ce-staging-network")
                .template_body(&template)
                .send(),
        )
        .expect("create a stack");
    let cfn = Cfn::new(&aws);
    let request = ChangeSetRequest {
        stack_name: "ce-staging-network".into(),
        change_set_name: "ce-test-empty".into(),
        kind: ChangeSetKind::Update,
        template: TemplateSource::Body(template),
        parameters: Default::default(),
        capabilities: Vec::new(),
        tags: Default::default(),
        description: "nothing".into(),
    };

    let (_, prepared) = runtime
        .block_on(changeset::prepare(&cfn, &Timing::start(), &request))
        .expect("an empty change set is no error");

    assert_eq!(prepared, Prepared::Empty);
    let left = runtime
        .block_on(
            client
                .list_change_sets()
                .stack_name("ce-staging-network")
                .send(),
        )
        .expect("list change sets");
    assert!(left.summaries().is_empty(), "deleted: {left:?}");
}

#[test]
fn an_env_change_is_refused_without_yes_then_updates_only_the_affected_stack() {
    let sandbox = Sandbox::bootstrapped();
    sandbox.write_env(bigger_instances);

    let refused = sandbox.ce(&["--env", "staging", "deploy"]);

    assert_eq!(refused.code, Some(1), "{}", refused.describe());
    assert!(
        refused.stderr.contains("pass --yes"),
        "{}",
        refused.describe()
    );
    assert!(
        refused
            .stdout
            .contains("LaunchTemplateData.InstanceType: m5.large → m5.xlarge"),
        "the diff is shown: {}",
        refused.describe()
    );
    let left = sandbox.python(
        "import boto3, sys\n\
         cfn = boto3.client('cloudformation', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                            aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         print(len(cfn.list_change_sets(StackName='ce-staging-compute')['Summaries']))\n",
    );
    assert_eq!(left, "0", "not even a change set was made");
    let diff = sandbox.ce(&["--env", "staging", "diff"]);
    assert_eq!(diff.code, Some(2), "still to deploy: {}", diff.describe());

    let run = sandbox.ce(&["--env", "staging", "--format", "json", "deploy", "--yes"]);

    assert_eq!(run.code, Some(0), "{}", run.describe());
    let doc = run.json();
    let expected: Vec<(String, String)> = STACKS
        .iter()
        .map(|s| {
            let outcome = if *s == "compute" {
                "updated"
            } else {
                "no_changes"
            };
            (format!("ce-staging-{s}"), outcome.to_owned())
        })
        .collect();
    assert_eq!(outcomes(&doc), expected);
    assert_eq!(sandbox.statuses()["ce-staging-compute"], "UPDATE_COMPLETE");
    let diff = sandbox.ce(&["--env", "staging", "diff"]);
    assert_eq!(diff.code, Some(0), "{}", diff.describe());
}

#[test]
fn a_bootstrap_without_yes_is_refused_with_exit_3_and_creates_nothing() {
    let sandbox = Sandbox::start();

    let run = sandbox.ce(&["--env", "staging", "deploy"]);

    assert_eq!(run.code, Some(3), "{}", run.describe());
    assert!(run.stdout.contains("Needs approval:"), "{}", run.describe());
    assert_eq!(sandbox.statuses(), json!({}));
}

#[test]
fn a_plan_is_deployed_exactly_and_a_stale_plan_is_refused() {
    let sandbox = Sandbox::bootstrapped();
    sandbox.write_env(bigger_instances);
    let dir = TempDir::new().expect("temp dir");
    let plan_file = dir.path().join("plan.json");
    let plan_path = plan_file.to_str().expect("utf-8 path");

    let planned = sandbox.ce(&["--env", "staging", "plan", "--out", plan_path]);

    assert_eq!(planned.code, Some(2), "{}", planned.describe());
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).expect("plan written"))
            .expect("plan is JSON");
    assert_eq!(plan["env"], "staging");
    let compute = &plan["stacks"][2];
    assert_eq!(compute["stack_name"], "ce-staging-compute");
    assert_eq!(compute["action"], "update");
    assert!(
        compute["change_set"]["id"]
            .as_str()
            .is_some_and(|id| id.contains(":changeSet/"))
    );
    assert_eq!(compute["template_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(plan["stacks"][0]["action"], "no_changes");
    let shown = sandbox.ce(&["--env", "staging", "plan", "--show", plan_path]);
    assert_eq!(shown.code, Some(2));
    assert!(
        shown.stdout.contains("change set ce-plan-"),
        "{}",
        shown.describe()
    );

    let applied = sandbox.ce(&[
        "--env", "staging", "--format", "json", "deploy", "--plan", plan_path, "--yes",
    ]);

    assert_eq!(applied.code, Some(0), "{}", applied.describe());
    let doc = applied.json();
    assert_eq!(
        outcomes(&doc),
        [("ce-staging-compute".to_owned(), "updated".to_owned())]
    );
    assert_eq!(
        doc["stacks"][0]["change_set_id"],
        compute["change_set"]["id"]
    );
    assert_eq!(sandbox.ce(&["--env", "staging", "diff"]).code, Some(0));

    // A new plan; then the stack is updated by a plain deploy before the plan is deployed.
    sandbox.write_env(|t| bigger_instances(t).replace("max_size = 4", "max_size = 5"));
    let replanned = sandbox.ce(&["--env", "staging", "plan", "--out", plan_path]);
    assert_eq!(replanned.code, Some(2), "{}", replanned.describe());
    let direct = sandbox.ce(&["--env", "staging", "deploy", "--yes"]);
    assert_eq!(direct.code, Some(0), "{}", direct.describe());

    let stale = sandbox.ce(&["--env", "staging", "deploy", "--plan", plan_path, "--yes"]);

    assert_eq!(stale.code, Some(1), "{}", stale.describe());
    assert!(
        stale
            .stderr
            .contains("ce-staging-compute: the stack was updated after the plan was made"),
        "{}",
        stale.describe()
    );
    assert!(stale.stderr.contains("Plan again"), "{}", stale.describe());
}

#[test]
fn a_plan_for_another_env_is_refused_before_any_aws_call() {
    let dir = TempDir::new().expect("temp dir");
    let plan_file = dir.path().join("plan.json");
    let plan = json!({
        "format_version": 1, "tool_version": policy::VERSION, "env": "prod",
        "region": "us-east-1", "account_id": null, "created_at": "2025-01-01T00:00:00Z",
        "class": "changes", "exit_code": 2, "stacks": []
    });
    std::fs::write(&plan_file, plan.to_string()).expect("write plan");

    let run = common::run_ce([
        "--env",
        "staging",
        "deploy",
        "--yes",
        "--plan",
        plan_file.to_str().expect("utf-8"),
    ]);

    assert_eq!(run.code, Some(1), "{}", run.describe());
    assert!(
        run.stderr.contains("the plan is for env prod, not staging"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_template_over_the_inline_limit_goes_through_a_private_encrypted_bucket() {
    let sandbox = Sandbox::start();
    let (runtime, aws) = sandbox.runtime_and_aws();
    let artifacts = Artifacts::new(&aws, SANDBOX_ACCOUNT, "us-east-1");
    let template = json!({
        "Description": "x".repeat(60_000),
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}
    });
    let body = template.to_string();
    assert!(body.len() > 51_200);
    let sha = sha256_hex(&body);

    let url = runtime
        .block_on(artifacts.upload("staging", "monitoring", &sha, &body))
        .expect("upload");

    assert_eq!(
        url,
        format!(
            "https://ce-artifacts-{SANDBOX_ACCOUNT}-us-east-1.s3.us-east-1.amazonaws.com/\
             templates/staging/monitoring/{sha}.json"
        )
    );
    let bucket = artifacts::bucket_name(SANDBOX_ACCOUNT, "us-east-1");
    let settings = sandbox.python(&format!(
        "import boto3, sys\n\
         s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                           aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         block = s3.get_public_access_block(Bucket='{bucket}')['PublicAccessBlockConfiguration']\n\
         sse = s3.get_bucket_encryption(Bucket='{bucket}')['ServerSideEncryptionConfiguration']\n\
         rule = s3.get_bucket_lifecycle_configuration(Bucket='{bucket}')['Rules'][0]\n\
         print(all(block.values()), sse['Rules'][0]['ApplyServerSideEncryptionByDefault']['SSEAlgorithm'],\n\
               rule['Expiration']['Days'], rule['Filter']['Prefix'])\n"
    ));
    assert_eq!(settings, "True AES256 30 templates/");
    assert!(
        !runtime.block_on(artifacts.ensure()).expect("ensure"),
        "the bucket is made once"
    );

    let cfn = Cfn::new(&aws);
    let request = ChangeSetRequest {
        stack_name: "ce-staging-monitoring".into(),
        change_set_name: "ce-test-large".into(),
        kind: ChangeSetKind::Create,
        template: TemplateSource::Url(url),
        parameters: Default::default(),
        capabilities: Vec::new(),
        tags: Default::default(),
        description: "large".into(),
    };
    let (_, prepared) = runtime
        .block_on(changeset::prepare(&cfn, &Timing::start(), &request))
        .expect("CloudFormation reads the template from the bucket");
    let Prepared::Ready(description) = prepared else {
        panic!("a change set that adds the topic")
    };
    assert!(description.evidence.resources.contains_key("Topic"));
}

/// Ctrl-C while a change set runs stops the waiting, not CloudFormation: the message names the
/// stack that carries on, and `ce` ends without waiting for another answer. Every answer goes
/// through a delaying proxy, so the signal lands while the execution is outstanding; from just
/// before the signal the proxy delivers no answer at all, so a `ce` that waited for one would
/// never end.
#[test]
fn ctrl_c_stops_the_waiting_and_says_what_carries_on() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    let sandbox = Sandbox::start();
    let proxy =
        common::sandbox::DelayingProxy::start(&sandbox.endpoint, Duration::from_millis(700));
    let mut child = common::ce(&["--envs-dir"])
        .arg(sandbox.envs().path())
        .args([
            "--env",
            "staging",
            "deploy",
            "--yes",
            "--require-approval",
            "never",
        ])
        // The SDK's standard chain, pointed at the proxy: no --local, so no sandbox lookup.
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("CE_LOCAL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start ce");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen
        .iter()
        .any(|l: &String| l.ends_with("ce-staging-network  executing change set"))
    {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("never reached the execution: {seen:#?}"));
        seen.push(line);
    }
    std::thread::sleep(Duration::from_millis(200));
    proxy.withhold_answers();

    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: sends SIGINT to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    // No answer reaches ce any more: it ends on the signal alone, or not at all. The bound
    // only keeps a broken build from hanging the suite.
    let hang_guard = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for ce") {
            break status;
        }
        if Instant::now() > hang_guard {
            let _ = child.kill();
            panic!("ce did not end after Ctrl-C while its answers were withheld");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    // Everything ce wrote before it ended: the reader ends at the end of its stderr.
    let rest: Vec<String> = rx.iter().collect();
    let message = rest
        .iter()
        .find(|l| l.starts_with("interrupted: "))
        .unwrap_or_else(|| panic!("no message in {rest:#?}"));
    assert!(
        message.contains("CloudFormation carries on with ce-staging-network")
            && message.contains("Run `ce deploy` again to pick it up"),
        "{message}"
    );
}

/// An env deployed before origin protection: the load balancer's rule forwards every request
/// and the distribution sends no origin header. Deploying everything at once would lock the
/// load balancer before the distribution sends the header (compute goes before edge), so
/// `ce deploy` and `ce plan` refuse and name the order that loses nothing; `--stack edge`
/// first, then the whole env, goes through.
#[test]
fn the_origin_lock_waits_until_the_distribution_sends_its_header() {
    let sandbox = Sandbox::bootstrapped();
    // What the account held before origin protection, written straight through CloudFormation.
    let templates = |action: &str| {
        sandbox.python(&format!(
            "import boto3, sys, json\n\
             cfn = boto3.client('cloudformation', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                                aws_access_key_id='testing', aws_secret_access_key='testing')\n\
             def body(name):\n\
             \x20   b = cfn.get_template(StackName=name)['TemplateBody']\n\
             \x20   return json.loads(json.dumps(b)) if isinstance(b, dict) else json.loads(b)\n\
             def update(name, template):\n\
             \x20   params = cfn.describe_stacks(StackName=name)['Stacks'][0].get('Parameters', [])\n\
             \x20   cfn.update_stack(StackName=name, TemplateBody=json.dumps(template),\n\
             \x20       Parameters=[{{'ParameterKey': p['ParameterKey'], 'UsePreviousValue': True}} for p in params])\n\
             def locked(t):\n\
             \x20   return any(c.get('HttpHeaderConfig', {{}}).get('HttpHeaderName') == 'X-Origin-Verify'\n\
             \x20       for r in t['Resources'].values() if r['Type'] == 'AWS::ElasticLoadBalancingV2::ListenerRule'\n\
             \x20       for c in r['Properties']['Conditions'])\n\
             def sends(t):\n\
             \x20   return any('OriginCustomHeaders' in o\n\
             \x20       for r in t['Resources'].values() if r['Type'] == 'AWS::CloudFront::Distribution'\n\
             \x20       for o in r['Properties']['DistributionConfig']['Origins'])\n\
             compute, edge = body('ce-staging-compute'), body('ce-staging-edge')\n\
             if '{action}' == 'unprotect':\n\
             \x20   compute['Resources']['OriginListenerRule']['Properties']['Conditions'] = [\n\
             \x20       {{'Field': 'path-pattern', 'PathPatternConfig': {{'Values': ['/*']}}}}]\n\
             \x20   for o in edge['Resources']['Distribution']['Properties']['DistributionConfig']['Origins']:\n\
             \x20       o.pop('OriginCustomHeaders', None)\n\
             \x20   update('ce-staging-compute', compute)\n\
             \x20   update('ce-staging-edge', edge)\n\
             \x20   compute, edge = body('ce-staging-compute'), body('ce-staging-edge')\n\
             print(json.dumps({{'locked': locked(compute), 'sends': sends(edge)}}))\n"
        ))
    };
    let state = |text: String| -> (bool, bool) {
        let v: Value = serde_json::from_str(&text).expect("state as JSON");
        (v["locked"] == json!(true), v["sends"] == json!(true))
    };
    assert_eq!(
        state(templates("unprotect")),
        (false, false),
        "the older account"
    );

    let refused = |run: &Run| {
        assert_eq!(run.code, Some(1), "{}", run.describe());
        assert!(
            run.stderr.contains("does not send it yet")
                && run.stderr.contains(
                    "Deploy in this order: `ce --env staging deploy --stack network`, then \
                     `ce --env staging deploy --stack edge`, then `ce --env staging deploy`"
                ),
            "{}",
            run.describe()
        );
    };
    refused(&sandbox.ce(&["--env", "staging", "deploy", "--yes"]));
    refused(&sandbox.ce(&["--env", "staging", "deploy", "--stack", "compute", "--yes"]));
    let work = TempDir::new().expect("temp dir");
    let plan = work.path().join("all.plan.json");
    let run = sandbox.ce(&[
        "--env",
        "staging",
        "plan",
        "--out",
        plan.to_str().expect("utf-8"),
    ]);
    refused(&run);
    assert!(
        run.stderr.contains("no plan was made"),
        "{}",
        run.describe()
    );
    assert!(!plan.exists(), "a refused plan is not written");
    // Nothing was changed by the refusals.
    assert_eq!(state(templates("read")), (false, false));

    let edge = sandbox.ce(&["--env", "staging", "deploy", "--stack", "edge", "--yes"]);
    assert_eq!(edge.code, Some(0), "{}", edge.describe());
    assert_eq!(state(templates("read")), (false, true), "the header first");
    let all = sandbox.ce(&["--env", "staging", "deploy", "--yes"]);
    assert_eq!(all.code, Some(0), "{}", all.describe());
    assert_eq!(state(templates("read")), (true, true), "then the lock");
}
