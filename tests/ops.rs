//! `ce builds` and `ce instances` against an env deployed into a moto server of the test's own.
//!
//! Each test starts its own server, deploys the env's network, storage and compute stacks from
//! the rendered templates straight through CloudFormation (independent of `ce deploy`), seeds
//! fake builds, then runs the real `ce` binary with `--local` pointed at that server (through
//! `CE_STATE_DIR`). moto launches the group's instances and registers them in the target
//! group, which it reports healthy; the unhealthy and timeout paths of the roll are covered by
//! the unit tests against a fake group.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::Capability;
use ce_infra::aws::{Aws, Target};
use ce_infra::ops::Resources;
use ce_infra::ops::bucket::BuildsBucket;
use ce_infra::ops::builds::Wanted;
use ce_infra::ops::release::{self, Prepared};
use ce_infra::ops::versionslog::{ClaimError, VersionsLog};
use common::RunCe;
use common::sandbox::DelayingProxy;
use serde_json::Value;

const ENV: &str = "opstest";
const OPERATOR: &str = "test-operator";
const HASH_3965: &str = "969925a1b2c3d4e5f60718293a4b5c6d7e8b69c5";
const HASH_3979: &str = "9410c2f00dfeedbeef0123456789abcdeffbc044";

/// A moto server with the test env deployed into it.
struct Deployed {
    envs: common::EnvDir,
    runtime: tokio::runtime::Runtime,
    aws: Aws,
    resources: Resources,
    // Last, so the server stops after everything that talks to it.
    moto: common::Moto,
}

/// The test env: beta's settings with a fixed group of two at its maximum, so a roll must
/// raise the maximum to launch a replacement first.
fn env_file(certificate: &str) -> String {
    let beta = std::fs::read_to_string(common::envs_dir().join("beta.toml")).expect("beta.toml");
    let line = beta
        .lines()
        .find(|l| l.starts_with("certificate_arn"))
        .expect("beta names a certificate");
    beta.replace(line, &format!("certificate_arn = \"{certificate}\""))
        .replace("min_size = 1", "min_size = 2")
        .replace("max_size = 10", "max_size = 2")
        .replace("compiler-explorer-beta-", "ce-opstest-")
}

impl Deployed {
    fn new() -> Deployed {
        let moto = common::Moto::start();
        let runtime = ce_infra::aws::runtime().expect("runtime");
        let aws = moto.aws(&runtime);
        // The HTTPS listener needs a certificate the sandbox knows.
        let certificate = runtime
            .block_on(
                aws_sdk_acm::Client::new(aws.sdk_config())
                    .request_certificate()
                    .domain_name("opstest.example.com")
                    .send(),
            )
            .expect("request a certificate")
            .certificate_arn
            .expect("certificate ARN");
        let envs = common::EnvDir::new();
        envs.write(ENV, &env_file(&certificate));
        let env = ce_infra::config::load(envs.path(), ENV).expect("the test env loads");
        deploy(&runtime, &aws, &env);
        let resources = runtime
            .block_on(Resources::read(&aws, ENV))
            .expect("the deployed stacks have the outputs ce reads");
        Deployed {
            envs,
            runtime,
            aws,
            resources,
            moto,
        }
    }

    fn bucket(&self) -> BuildsBucket {
        BuildsBucket::new(&self.aws, &self.resources.builds_bucket)
    }

    fn log(&self) -> VersionsLog {
        VersionsLog::new(&self.aws, &self.resources.versions_table, ENV)
    }

    /// Uploads a build: the tarball of `size` bytes, and its `.txt` unless `hash` is `None`.
    fn upload(&self, branch: &str, version: &str, size: usize, hash: Option<&str>) {
        let bucket = self.bucket();
        let base = format!("dist/{branch}/{version}");
        self.runtime
            .block_on(bucket.put(&format!("{base}.tar.xz"), vec![0; size]))
            .expect("upload tarball");
        if let Some(hash) = hash {
            self.runtime
                .block_on(bucket.put(&format!("{base}.txt"), format!("{hash}\n").into_bytes()))
                .expect("upload hash");
        }
    }

    fn seed_builds(&self) {
        self.upload("master", "3965", 1_200_000, Some(HASH_3965));
        self.upload("master", "3979", 1_250_000, Some(HASH_3979));
        self.upload("feature/asm", "3980", 2048, None);
    }

    fn pointer(&self) -> Option<String> {
        self.runtime
            .block_on(self.bucket().pointer(ENV))
            .expect("read pointer")
    }

    /// Runs `ce --local --env opstest ARGS` against this server, as a script would (no
    /// terminal), named `test-operator`.
    fn ce(&self, args: &[&str]) -> common::Run {
        self.moto
            .ce(&["--env", ENV, "--envs-dir", self.envs.arg()])
            .args(args)
            .env("CE_OPERATOR", OPERATOR)
            .run()
    }

    fn ce_ok(&self, args: &[&str]) -> common::Run {
        let run = self.ce(args);
        assert_eq!(run.code, Some(0), "ce {args:?}: {}", run.describe());
        run
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        self.ce_ok(&all).json()
    }
}

/// Creates network, storage and compute from the rendered templates, in order.
fn deploy(runtime: &tokio::runtime::Runtime, aws: &Aws, env: &ce_infra::config::Env) {
    let stacks = ce_infra::render::render_env(env).expect("render");
    let cfn = aws.cloudformation();
    for stack in stacks.iter().take(3) {
        runtime
            .block_on(
                cfn.client()
                    .create_stack()
                    .stack_name(&stack.stack_name)
                    .template_body(&stack.text)
                    .capabilities(Capability::CapabilityNamedIam)
                    .send(),
            )
            .unwrap_or_else(|e| panic!("create {}: {e:?}", stack.stack_name));
        common::sandbox::wait_created(runtime, aws, &stack.stack_name);
    }
}

// ---- builds ----

#[test]
fn builds_list_shows_every_build_newest_first_with_the_live_one_marked() {
    let env = Deployed::new();
    env.seed_builds();
    env.ce_ok(&["builds", "set-current", "3965", "--yes"]);

    let run = env.ce_ok(&["builds", "list"]);

    assert_eq!(
        run.stdout,
        "\
Live  Branch       Version  Size    Hash
      feature/asm  3980     2.0KiB  (incomplete)
      master       3979     1.2MiB  9410c2..fbc044
 -->  master       3965     1.1MiB  969925..8b69c5
"
    );
    let only_master = env.ce_ok(&["builds", "list", "--branch", "master"]);
    assert!(
        !only_master.stdout.contains("feature/asm"),
        "{}",
        only_master.stdout
    );
}

#[test]
fn builds_list_as_json_carries_keys_hashes_and_the_live_build() {
    let env = Deployed::new();
    env.seed_builds();
    env.ce_ok(&["builds", "set-current", "3979", "--yes"]);

    let doc = env.json(&["builds", "list"]);

    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["live"], "dist/master/3979.tar.xz");
    let builds = doc["builds"].as_array().expect("builds");
    assert_eq!(builds.len(), 3);
    assert_eq!(builds[1]["version"], "3979");
    assert_eq!(builds[1]["live"], true);
    assert_eq!(builds[1]["hash"], HASH_3979);
    assert_eq!(builds[1]["size"], 1_250_000);
    assert_eq!(builds[0]["complete"], false);
}

#[test]
fn set_current_writes_the_pointer_and_history_records_who_when_from_and_to() {
    let env = Deployed::new();
    env.seed_builds();

    let first = env.ce_ok(&["builds", "set-current", "3965", "--yes"]);
    assert_eq!(
        first.stdout,
        "opstest now runs 3965 (master) for new nodes (was none)\n"
    );
    env.ce_ok(&["builds", "set_current", "latest", "--yes"]);

    assert_eq!(env.pointer().as_deref(), Some("dist/master/3979.tar.xz"));
    let history = env.json(&["builds", "history"]);
    let changes = history["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["to"], "dist/master/3979.tar.xz");
    assert_eq!(changes[0]["from"], "dist/master/3965.tar.xz");
    assert_eq!(changes[0]["by"], OPERATOR);
    assert_eq!(changes[0]["state"], "done");
    assert_eq!(changes[0]["seq"], 2);
    assert_eq!(changes[1]["from"], Value::Null);
    assert!(changes[0]["at"].as_str() > changes[1]["at"].as_str());
    let text = env.ce_ok(&["builds", "history"]).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("When (UTC)"), "{text}");
    assert!(
        lines[1].contains("3979 (master)  3965 (master)  test-operator"),
        "{text}"
    );

    let again = env.ce_ok(&["builds", "set-current", "3979", "--yes"]);
    assert_eq!(again.stdout, "3979 (master) is already live in opstest\n");
}

#[test]
fn set_current_refuses_a_missing_build_an_incomplete_one_and_an_unconfirmed_change() {
    let env = Deployed::new();
    env.seed_builds();

    let missing = env.ce(&["builds", "set-current", "4000", "--yes"]);
    assert_eq!(missing.code, Some(1), "{}", missing.describe());
    assert!(
        missing.stderr.contains("no build 4000"),
        "{}",
        missing.stderr
    );

    let incomplete = env.ce(&["builds", "set-current", "3980", "--yes"]);
    assert_eq!(incomplete.code, Some(1), "{}", incomplete.describe());
    assert!(
        incomplete
            .stderr
            .contains("dist/feature/asm/3980.txt does not"),
        "{}",
        incomplete.stderr
    );

    let unconfirmed = env.ce(&["builds", "set-current", "3979"]);
    assert_eq!(unconfirmed.code, Some(3), "{}", unconfirmed.describe());
    assert!(
        unconfirmed.stderr.contains("--yes"),
        "{}",
        unconfirmed.stderr
    );

    assert_eq!(env.pointer(), None, "nothing was changed");
    assert!(
        env.json(&["builds", "history"])["changes"]
            .as_array()
            .expect("changes")
            .is_empty()
    );
}

#[test]
fn a_lock_blocks_set_current_and_restart_with_its_reason_until_unlocked() {
    let env = Deployed::new();
    env.seed_builds();
    env.ce_ok(&["builds", "set-current", "3965", "--yes"]);

    let locked = env.ce_ok(&["builds", "lock", "--reason", "CppCon keynote"]);
    assert!(
        locked
            .stdout
            .starts_with("locked builds of opstest by test-operator since ")
    );
    let twice = env.ce(&["builds", "lock"]);
    assert_eq!(twice.code, Some(1));
    assert!(
        twice.stderr.contains("already locked by test-operator"),
        "{}",
        twice.stderr
    );

    let refused = env.ce(&["builds", "set-current", "3979", "--yes"]);
    assert_eq!(refused.code, Some(1), "{}", refused.describe());
    assert!(
        refused.stderr.contains("locked by test-operator since")
            && refused.stderr.contains("CppCon keynote"),
        "{}",
        refused.stderr
    );
    let restart = env.ce(&["instances", "restart", "--yes"]);
    assert_eq!(restart.code, Some(1), "{}", restart.describe());
    assert!(
        restart.stderr.contains("CppCon keynote"),
        "{}",
        restart.stderr
    );
    assert_eq!(env.pointer().as_deref(), Some("dist/master/3965.tar.xz"));

    let unlocked = env.ce_ok(&["builds", "unlock"]);
    assert!(
        unlocked.stdout.contains("CppCon keynote"),
        "{}",
        unlocked.stdout
    );
    env.ce_ok(&["builds", "set-current", "3979", "--yes"]);
    assert_eq!(env.pointer().as_deref(), Some("dist/master/3979.tar.xz"));
    assert_eq!(
        env.ce_ok(&["builds", "unlock"]).stdout,
        "builds of opstest were not locked\n"
    );
}

#[test]
fn of_two_operators_racing_one_wins_and_the_other_is_told_who_and_writes_nothing() {
    let env = Deployed::new();
    env.seed_builds();
    let (bucket, log) = (env.bucket(), env.log());
    let prepare = |version: &str| match env
        .runtime
        .block_on(release::prepare(
            &bucket,
            &log,
            ENV,
            &Wanted::parse(version),
            None,
        ))
        .expect("prepare")
    {
        Prepared::Change(pending) => pending,
        other => panic!("{other:?}"),
    };
    // Both read the same state, then both confirm.
    let alice = prepare("3965");
    let bob = prepare("3979");

    let won = env
        .runtime
        .block_on(release::apply(
            &bucket,
            &log,
            ENV,
            &alice,
            "alice",
            "arn:alice",
            None,
        ))
        .expect("the first claim wins");
    let lost = env
        .runtime
        .block_on(release::apply(
            &bucket, &log, ENV, &bob, "bob", "arn:bob", None,
        ))
        .expect_err("the second claim loses");

    let message = lost.to_string();
    assert!(
        matches!(lost, release::ReleaseError::Claim(ClaimError::Raced(_))),
        "{lost:?}"
    );
    assert!(
        message.starts_with(&format!(
            "someone else changed the build from (none) to dist/master/3965.tar.xz at {} (by alice)",
            won.at
        )),
        "{message}"
    );
    assert!(message.contains("re-run"), "{message}");
    assert_eq!(env.pointer().as_deref(), Some("dist/master/3965.tar.xz"));
    let history = env.runtime.block_on(log.history(None)).expect("history");
    assert_eq!(history.len(), 1, "only the winner is logged: {history:?}");
    assert_eq!(history[0].by, "alice");
}

#[test]
fn hashes_are_read_concurrently_but_at_most_sixteen_at_a_time() {
    let env = Deployed::new();
    for version in 1..=24 {
        env.upload("master", &version.to_string(), 10, Some(HASH_3965));
    }
    let delay = Duration::from_millis(300);
    let endpoint = match env.aws.target() {
        Target::Sandbox { endpoint } => endpoint.clone(),
        Target::Account => unreachable!("the test talks to its sandbox"),
    };
    let proxy = DelayingProxy::start(&endpoint, delay);
    let slow = env.runtime.block_on(Aws::connect(
        "us-east-1",
        Target::Sandbox {
            endpoint: proxy.endpoint.clone(),
        },
    ));
    let bucket = BuildsBucket::new(&slow, &env.resources.builds_bucket);
    let mut builds = env
        .runtime
        .block_on(bucket.builds(None))
        .expect("list builds");

    let begun = Instant::now();
    env.runtime
        .block_on(bucket.read_hashes(&mut builds))
        .expect("read hashes");
    let took = begun.elapsed();

    assert!(builds.iter().all(|b| b.hash.as_deref() == Some(HASH_3965)));
    let peak = proxy.peak_requests.load(Ordering::SeqCst);
    assert!(
        (2..=16).contains(&peak),
        "{peak} requests in flight at once; expected concurrency bounded by 16"
    );
    assert!(
        took < delay * 12,
        "24 reads took {took:?}: they did not run concurrently"
    );
}

// ---- instances ----

/// The cells of a table row (cells never contain two spaces in a row).
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn instances_list_shows_each_node_with_its_build_and_marks_the_ones_to_restart() {
    let env = Deployed::new();
    env.seed_builds();
    env.ce_ok(&["builds", "set-current", "3979", "--yes"]);

    let run = env.ce_ok(&["instances", "list"]);

    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "live colour: blue");
    assert_eq!(
        cells(lines[1]),
        [
            "Colour",
            "Address",
            "Instance Id",
            "State",
            "Type",
            "ELB",
            "Launched",
            "Version",
            "Restart"
        ]
    );
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    for line in &lines[2..] {
        let row = cells(line);
        assert_eq!(row[0], "blue (live)", "{line}");
        assert!(row[1].starts_with("172.28."), "{line}");
        assert!(row[2].starts_with("i-"), "{line}");
        // Launched before any build was set: booted with nothing the log knows of.
        assert_eq!(row[3..6], ["running", "m5.large", "healthy"], "{line}");
        assert_eq!(row[7..], ["(unknown)", "yes"], "{line}");
    }
    assert!(
        run.stderr
            .contains("2 of 2 nodes predate the live build 3979 (master)"),
        "{}",
        run.stderr
    );

    let doc = env.json(&["instances", "list"]);
    assert_eq!(doc["group"]["desired"], 2);
    assert_eq!(doc["live"]["key"], "dist/master/3979.tar.xz");
    assert_eq!(doc["instances"][0]["freshness"], "stale");
    assert_eq!(doc["instances"][0]["lifecycle"], "InService");
}

#[test]
fn a_rolling_restart_replaces_every_node_and_leaves_the_group_at_its_size() {
    let env = Deployed::new();
    env.seed_builds();
    env.ce_ok(&["builds", "set-current", "3979", "--yes"]);
    let before = env.json(&["instances", "list"]);
    let old: Vec<String> = before["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect();
    // Launch times count in whole seconds: new nodes must launch in a later second.
    std::thread::sleep(Duration::from_millis(1100));

    let plan = env.ce_ok(&["instances", "restart", "--dry-run"]);
    assert!(
        plan.stdout.contains("(max 2→3 for the step)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(&format!("terminate {}", old[0])),
        "{}",
        plan.stdout
    );
    assert_eq!(
        env.json(&["instances", "list"])["group"]["max"],
        2,
        "dry run changed nothing"
    );
    let plan = env.json(&["instances", "restart", "--dry-run"]);
    assert_eq!(plan["plan"]["steps"][0][0], old[0].as_str());
    assert_eq!(plan["plan"]["steps"].as_array().map(Vec::len), Some(2));

    let unconfirmed = env.ce(&["instances", "restart"]);
    assert_eq!(unconfirmed.code, Some(3), "{}", unconfirmed.describe());

    let run = env.ce_ok(&["instances", "restart", "--yes"]);
    assert!(
        run.stdout.starts_with("replaced 2 nodes of opstest in "),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("desired 2, min 2, max 2"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("step 2/2"), "{}", run.stderr);

    let after = env.json(&["instances", "list"]);
    let nodes = after["instances"].as_array().expect("instances");
    assert_eq!(nodes.len(), 2);
    for node in nodes {
        assert!(
            !old.contains(&node["id"].as_str().expect("id").to_owned()),
            "{node}"
        );
        assert_eq!(node["freshness"], "current", "{node}");
        assert_eq!(node["build"], "dist/master/3979.tar.xz", "{node}");
    }
    assert_eq!(after["group"]["max"], 2, "the raised maximum is restored");
    assert_eq!(after["group"]["desired"], 2);

    let nothing = env.ce_ok(&["instances", "restart", "--yes"]);
    assert!(
        nothing.stdout.contains("nothing to replace"),
        "{}",
        nothing.stdout
    );
}
