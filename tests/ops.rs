//! `ce builds` and `ce instances` against an env deployed into a moto server of the test's own.
//!
//! Each test starts its own server, deploys the env's network, storage and compute stacks from
//! the rendered templates straight through CloudFormation (independent of `ce deploy`), seeds
//! fake builds, then runs the real `ce` binary with `--local` pointed at that server (through
//! `CE_STATE_DIR`). moto launches the group's instances and registers them in the target
//! group, which it reports healthy; the unhealthy and timeout paths of the roll are covered by
//! the unit tests against a fake group.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, StackStatus};
use ce_infra::aws::sandbox::{self, Paths};
use ce_infra::aws::{Aws, Target};
use ce_infra::ops::Resources;
use ce_infra::ops::bucket::BuildsBucket;
use ce_infra::ops::builds::Wanted;
use ce_infra::ops::release::{self, Prepared};
use ce_infra::ops::versionslog::{ClaimError, VersionsLog};
use serde_json::Value;
use tempfile::TempDir;

const ENV: &str = "opstest";
const OPERATOR: &str = "test-operator";
const HASH_3965: &str = "969925a1b2c3d4e5f60718293a4b5c6d7e8b69c5";
const HASH_3979: &str = "9410c2f00dfeedbeef0123456789abcdeffbc044";

/// The shared venv with the pinned moto, installed once per test run.
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = std::env::var_os("CE_SANDBOX_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| common::crate_root().join(".venv"));
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        sandbox::ensure_venv(&venv, &python).expect("install moto into the test venv");
        venv
    })
}

/// Stops the test's moto server when dropped, even when an assertion fails first.
struct Moto {
    paths: Paths,
    _state: TempDir,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = sandbox::stop(&self.paths);
    }
}

/// A moto server with the test env deployed into it.
struct Deployed {
    envs: TempDir,
    runtime: tokio::runtime::Runtime,
    aws: Aws,
    resources: Resources,
    // Last, so the server stops after everything that talks to it.
    moto: Moto,
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
        let state = TempDir::new().expect("temp dir");
        let paths = Paths {
            state: state.path().to_owned(),
            venv: venv().to_owned(),
            python: "python3".into(),
        };
        let started = sandbox::start(&paths, None).expect("start moto");
        let endpoint = started.record().endpoint();
        let moto = Moto {
            paths,
            _state: state,
        };
        let runtime = ce_infra::aws::runtime().expect("runtime");
        let aws = runtime.block_on(Aws::connect("us-east-1", Target::Sandbox { endpoint }));
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
        let envs = TempDir::new().expect("temp dir");
        std::fs::write(
            envs.path().join(format!("{ENV}.toml")),
            env_file(&certificate),
        )
        .expect("env file");
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
        let out = Command::new(env!("CARGO_BIN_EXE_ce"))
            .args(["--local", "--env", ENV, "--envs-dir"])
            .arg(self.envs.path())
            .args(args)
            .current_dir(common::crate_root())
            .env("CE_STATE_DIR", &self.moto.paths.state)
            .env("CE_SANDBOX_VENV", venv())
            .env("CE_OPERATOR", OPERATOR)
            .env("NO_COLOR", "1")
            .env_remove("CE_LOCAL")
            .env_remove("CE_ENV")
            .env_remove("CE_ENVS_DIR")
            .output()
            .expect("run ce");
        common::Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ce_ok(&self, args: &[&str]) -> common::Run {
        let run = self.ce(args);
        assert_eq!(run.code, Some(0), "ce {args:?}: {}", run.describe());
        run
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let run = self.ce_ok(&all);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.describe()))
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
        wait_created(runtime, aws, &stack.stack_name);
    }
}

fn wait_created(runtime: &tokio::runtime::Runtime, aws: &Aws, name: &str) {
    for _ in 0..120 {
        let out = runtime
            .block_on(
                aws.cloudformation()
                    .client()
                    .describe_stacks()
                    .stack_name(name)
                    .send(),
            )
            .expect("describe");
        let status = out.stacks().first().and_then(|s| s.stack_status().cloned());
        match status {
            Some(StackStatus::CreateComplete) => return,
            Some(StackStatus::CreateInProgress) | None => {
                std::thread::sleep(Duration::from_millis(250))
            }
            Some(other) => panic!("{name} ended {other:?}"),
        }
    }
    panic!("{name} was not created in time");
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
        ))
        .expect("the first claim wins");
    let lost = env
        .runtime
        .block_on(release::apply(&bucket, &log, ENV, &bob, "bob", "arn:bob"))
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
    // The SDK opens a connection per request in flight and keeps it for reuse.
    let peak = proxy.peak_connections.load(Ordering::SeqCst);
    assert!(
        (2..=16).contains(&peak),
        "{peak} connections at once; expected concurrency bounded by 16"
    );
    assert!(
        took < delay * 12,
        "24 reads took {took:?}: they did not run concurrently"
    );
}

/// A TCP proxy to an endpoint that holds back every chunk of every answer by a delay, and
/// counts the connections open at once.
struct DelayingProxy {
    endpoint: String,
    peak_connections: Arc<AtomicUsize>,
}

impl DelayingProxy {
    fn start(endpoint: &str, delay: Duration) -> Self {
        let upstream = endpoint.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let open = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let peak_connections = Arc::clone(&peak);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (Ok(client_in), Ok(server_out)) = (client.try_clone(), server.try_clone())
                else {
                    continue;
                };
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let open = Arc::clone(&open);
                std::thread::spawn(move || pipe(client_in, server_out, Duration::ZERO));
                std::thread::spawn(move || {
                    pipe(server, client, delay);
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        DelayingProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            peak_connections,
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        std::thread::sleep(delay);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
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
    assert_eq!(
        cells(lines[0]),
        [
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
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    for line in &lines[1..] {
        let row = cells(line);
        assert!(row[0].starts_with("172.28."), "{line}");
        assert!(row[1].starts_with("i-"), "{line}");
        // Launched before any build was set: booted with nothing the log knows of.
        assert_eq!(row[2..5], ["running", "m5.large", "healthy"], "{line}");
        assert_eq!(row[6..], ["(unknown)", "yes"], "{line}");
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
