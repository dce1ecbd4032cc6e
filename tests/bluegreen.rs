//! Blue/green releases end to end: the real `ce` binary bootstraps an env into a moto server of
//! the test's own, then releases, rolls back, cleans up and deploys again, and after each step
//! the listener's target group, both groups' sizes, the colour pointers and the versions log
//! are read back through the AWS APIs.
//!
//! moto reports every registered target healthy at once and runs no HTTP on its instances, so
//! here the gate's node checks are skipped (`--skip-node-checks`) and its service check goes
//! to a local HTTP server standing in for CloudFront; the paths where a node stays unhealthy,
//! a check answers 500 or times out, the listener switch fails or Ctrl-C arrives are tested
//! against fakes of the same interfaces (`src/ops/bluegreen/release_tests.rs`).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use ce_infra::architecture::{Colour, LIVE_ROUTE_OUTPUT, group_output, target_group_output};
use ce_infra::aws::sandbox::{self, Paths};
use ce_infra::aws::{Aws, Target};
use ce_infra::ops::Resources;
use ce_infra::ops::bucket::BuildsBucket;
use ce_infra::ops::versionslog::VersionsLog;
use common::Run;
use serde_json::Value;
use tempfile::TempDir;

const ENV: &str = "bgtest";

fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = std::env::var_os("CE_SANDBOX_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| common::crate_root().join(".venv"));
        sandbox::ensure_venv(&venv, "python3").expect("install moto into the test venv");
        venv
    })
}

/// A local HTTP server answering 200 to everything, recording each request's head.
struct Service {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Service {
    fn start() -> Service {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0u8; 4096];
                let n = stream.read(&mut buf).unwrap_or(0);
                seen.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                );
            }
        });
        Service { url, requests }
    }
}

/// The test env: staging's settings, one node, buckets of its own.
struct Sandbox {
    paths: Paths,
    envs: TempDir,
    runtime: tokio::runtime::Runtime,
    aws: Aws,
    _state: TempDir,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = sandbox::stop(&self.paths);
    }
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
        let endpoint = started.record().endpoint();
        let runtime = ce_infra::aws::runtime().expect("runtime");
        let aws = runtime.block_on(Aws::connect("us-east-1", Target::Sandbox { endpoint }));
        let envs = TempDir::new().expect("temp dir");
        let staging =
            std::fs::read_to_string(common::envs_dir().join("staging.toml")).expect("staging.toml");
        let text = staging
            .replace("compiler-explorer-staging-", "ce-bgtest-")
            .replace("desired_capacity = 1\n", "")
            // Short waits: the sandbox answers at once.
            + "\n[release]\npoll_interval = 1\nready_timeout = 60\ngate_timeout = 30\n";
        std::fs::write(envs.path().join(format!("{ENV}.toml")), text).expect("env file");
        Sandbox {
            paths,
            envs,
            runtime,
            aws,
            _state: state,
        }
    }

    fn ce(&self, args: &[&str]) -> Run {
        let mut cmd = common::ce(&["--local", "--env", ENV, "--envs-dir"]);
        cmd.arg(self.envs.path())
            .args(args)
            .env("CE_STATE_DIR", &self.paths.state)
            .env("CE_SANDBOX_VENV", venv())
            .env("CE_OPERATOR", "release-test")
            .env_remove("CE_LOCAL")
            .stdin(std::process::Stdio::null());
        let out = cmd.output().expect("run ce");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ce_ok(&self, args: &[&str]) -> Run {
        let run = self.ce(args);
        assert_eq!(run.code, Some(0), "ce {args:?}: {}", run.describe());
        run
    }

    fn resources(&self) -> Resources {
        self.runtime
            .block_on(Resources::read(&self.aws, ENV))
            .expect("stacks")
    }

    fn upload_build(&self, version: &str) {
        let bucket = BuildsBucket::new(&self.aws, &self.resources().builds_bucket);
        let base = format!("dist/gh/main/{version}");
        self.runtime
            .block_on(bucket.put(&format!("{base}.tar.xz"), vec![0; 1024]))
            .expect("tarball");
        self.runtime
            .block_on(bucket.put(&format!("{base}.txt"), format!("{version:0>40}\n").into()))
            .expect("hash");
    }

    /// Uploads `version`'s static tarball: one file, `main.<version>.js`.
    fn upload_static(&self, version: &str) {
        let body = format!("console.log({version});");
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_data(&mut header, format!("main.{version}.js"), body.as_bytes())
            .expect("tar");
        let tar = builder.into_inner().expect("tar");
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut std::io::BufReader::new(tar.as_slice()), &mut xz).expect("xz");
        let bucket = BuildsBucket::new(&self.aws, &self.resources().builds_bucket);
        self.runtime
            .block_on(bucket.put(&format!("dist/gh/main/{version}.static.tar.xz"), xz))
            .expect("static tarball");
    }

    /// The `sha256` metadata of a static bucket object, `None` when it is missing.
    fn static_file(&self, key: &str) -> Option<Option<String>> {
        let bucket = BuildsBucket::new(
            &self.aws,
            self.resources()
                .static_bucket
                .as_deref()
                .expect("static bucket"),
        );
        self.runtime
            .block_on(bucket.hashes_of(vec![key.to_owned()]))
            .expect("head")
            .remove(key)
    }

    /// The colour the live route (the listener's origin rule) forwards to, read through ELB.
    fn live(&self) -> Colour {
        let r = self.resources();
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(self.aws.sdk_config());
        let route = r.compute_output(LIVE_ROUTE_OUTPUT).expect("route");
        assert!(route.contains(":listener-rule/"), "{route}");
        let out = self
            .runtime
            .block_on(elb.describe_rules().rule_arns(route).send())
            .expect("describe rules");
        let rule = &out.rules()[0];
        assert_eq!(rule.priority(), Some("100"));
        let target = rule.actions()[0]
            .target_group_arn()
            .expect("forward")
            .to_owned();
        Colour::ALL
            .into_iter()
            .find(|c| r.compute_output(&target_group_output(*c)).expect("tg") == target)
            .expect("the origin rule forwards to a colour")
    }

    /// (min, max, desired, instances) of a colour's group, read through Auto Scaling.
    fn sizes(&self, colour: Colour) -> (i32, i32, i32, usize) {
        let name = self
            .resources()
            .compute_output(&group_output(colour))
            .expect("group");
        let asg = aws_sdk_autoscaling::Client::new(self.aws.sdk_config());
        let out = self
            .runtime
            .block_on(
                asg.describe_auto_scaling_groups()
                    .auto_scaling_group_names(name)
                    .send(),
            )
            .expect("describe groups");
        let g = &out.auto_scaling_groups()[0];
        (
            g.min_size().unwrap_or(-1),
            g.max_size().unwrap_or(-1),
            g.desired_capacity().unwrap_or(-1),
            g.instances().len(),
        )
    }

    fn pointer(&self, colour: Colour) -> Option<String> {
        let bucket = BuildsBucket::new(&self.aws, &self.resources().builds_bucket);
        self.runtime
            .block_on(bucket.colour_pointer(ENV, colour))
            .expect("pointer")
    }

    fn rules(&self) -> usize {
        let r = self.resources();
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(self.aws.sdk_config());
        let out = self
            .runtime
            .block_on(
                elb.describe_rules()
                    .listener_arn(r.compute_output("HttpsListenerArn").expect("listener"))
                    .send(),
            )
            .expect("describe rules");
        // The default rule is always listed, and the template's origin rule stays.
        out.rules()
            .iter()
            .filter(|r| r.is_default() != Some(true) && r.priority() != Some("100"))
            .count()
    }

    fn history(&self) -> Vec<ce_infra::ops::versionslog::Entry> {
        let log = VersionsLog::new(&self.aws, &self.resources().versions_table, ENV);
        self.runtime.block_on(log.history(None)).expect("history")
    }
}

/// CPU time (user + system) of the waited-for child processes so far, in seconds.
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Runs a release and prints its figures: wall time, the CPU time of `ce` itself (an upper
/// bound on the tool's own share; the rest is waiting on AWS and the gate) and the switch.
fn release(sandbox: &Sandbox, service: &Service, version: &str) -> (Run, f64) {
    let cpu = children_cpu();
    let started = Instant::now();
    let run = sandbox.ce_ok(&[
        "release",
        version,
        "--yes",
        "--skip-node-checks",
        "--service-url",
        &service.url,
    ]);
    let wall = started.elapsed().as_secs_f64();
    let own = children_cpu() - cpu;
    let switch = run
        .stderr
        .lines()
        .find_map(|l| l.split(" in ").nth(1)?.strip_suffix(" ms"))
        .unwrap_or("?");
    eprintln!(
        "figures: release {version}: wall {wall:.2} s, CPU of ce {own:.3} s ({:.1}%), \
         switch to traffic moved {switch} ms",
        100.0 * own / wall
    );
    (run, wall)
}

#[test]
fn two_releases_a_rollback_a_cleanup_and_a_deploy_move_traffic_only_when_asked() {
    let sandbox = Sandbox::start();
    sandbox.ce_ok(&["deploy", "--yes"]);
    // A fresh env: blue is live with the env's minimum, green is empty.
    assert_eq!(sandbox.live(), Colour::Blue);
    assert_eq!(sandbox.sizes(Colour::Blue), (1, 4, 1, 1));
    assert_eq!(sandbox.sizes(Colour::Green), (0, 4, 0, 0));
    for version in ["100", "101"] {
        sandbox.upload_build(version);
    }
    sandbox.upload_static("100");
    let service = Service::start();

    // First release: green comes up at blue's size and takes the traffic.
    let (run, _) = release(&sandbox, &service, "100");
    assert!(
        run.stdout
            .starts_with("100 (gh/main) is live on green (1 node(s)) after "),
        "{}",
        run.describe()
    );
    assert_eq!(sandbox.live(), Colour::Green);
    assert_eq!(sandbox.sizes(Colour::Green), (1, 4, 1, 1));
    // Blue keeps its node for rollback, its minimum back to zero.
    assert_eq!(sandbox.sizes(Colour::Blue), (0, 4, 1, 1));
    assert_eq!(
        sandbox.pointer(Colour::Green).as_deref(),
        Some("dist/gh/main/100.tar.xz")
    );
    assert_eq!(sandbox.pointer(Colour::Blue), None);
    assert_eq!(sandbox.rules(), 0, "the preview rule is removed");
    let sha = sandbox
        .static_file("static/main.100.js")
        .expect("the build's static file is in the static bucket");
    assert_eq!(sha.map(|s| s.len()), Some(64));
    let requests = service.requests.lock().expect("lock").clone();
    assert!(
        requests.iter().any(|r| r.starts_with("GET /healthcheck ")
            && r.to_ascii_lowercase().contains("x-ce-preview: ")),
        "{requests:?}"
    );
    let history = sandbox.history();
    assert_eq!(history[0].colour, Some(Colour::Green));
    assert_eq!(history[0].to, "dist/gh/main/100.tar.xz");
    assert_eq!(history[0].by, "release-test");
    assert_eq!(format!("{:?}", history[0].state), "Done");

    // A deploy after a release changes nothing and moves no traffic; the diff agrees.
    let diff = sandbox.ce(&["diff"]);
    assert_eq!(diff.code, Some(0), "{}", diff.describe());
    sandbox.ce_ok(&["deploy", "--yes"]);
    assert_eq!(sandbox.live(), Colour::Green);
    assert_eq!(sandbox.sizes(Colour::Green), (1, 4, 1, 1));
    assert_eq!(sandbox.sizes(Colour::Blue), (0, 4, 1, 1));

    // A second release must wait for the old colour to be cleaned up.
    let refused = sandbox.ce(&[
        "release",
        "101",
        "--yes",
        "--skip-node-checks",
        "--service-url",
        &service.url,
    ]);
    assert_eq!(refused.code, Some(1), "{}", refused.describe());
    assert!(
        refused.stderr.contains("ce blue-green cleanup"),
        "{}",
        refused.stderr
    );
    assert_eq!(sandbox.live(), Colour::Green);
    sandbox.ce_ok(&["blue-green", "cleanup", "--yes"]);
    assert_eq!(sandbox.sizes(Colour::Blue), (0, 4, 0, 0));

    // Second release: back to blue, on fresh nodes.
    release(&sandbox, &service, "101");
    assert_eq!(sandbox.live(), Colour::Blue);
    assert_eq!(sandbox.sizes(Colour::Blue), (1, 4, 1, 1));
    assert_eq!(sandbox.sizes(Colour::Green), (0, 4, 1, 1));
    assert_eq!(
        sandbox.pointer(Colour::Blue).as_deref(),
        Some("dist/gh/main/101.tar.xz")
    );
    assert_eq!(
        sandbox.pointer(Colour::Green).as_deref(),
        Some("dist/gh/main/100.tar.xz")
    );

    // Rollback: traffic goes back to green at once, its build unchanged.
    let started = Instant::now();
    let back = sandbox.ce_ok(&["blue-green", "rollback", "--yes"]);
    eprintln!(
        "figures: rollback wall time {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        back.stdout.contains("traffic moved from blue to green"),
        "{}",
        back.describe()
    );
    assert_eq!(sandbox.live(), Colour::Green);
    let history = sandbox.history();
    assert_eq!(history[0].colour, Some(Colour::Green));
    assert!(history[0].switch);
    assert_eq!(history[0].to, "dist/gh/main/100.tar.xz");

    // Status and instances list show both colours and which is live.
    let status: Value = serde_json::from_str(
        &sandbox
            .ce_ok(&["--format", "json", "blue-green", "status"])
            .stdout,
    )
    .expect("json");
    assert_eq!(status["status"]["live"], "green");
    assert_eq!(status["status"]["colours"][0]["group"]["desired"], 1);
    let list = sandbox.ce_ok(&["instances", "list"]).stdout;
    assert!(list.starts_with("live colour: green\n"), "{list}");
    assert!(list.contains("green (live)"), "{list}");

    // Old builds go, except what either colour or the last releases name, and the newest.
    for version in ["90", "91", "92", "102", "103"] {
        sandbox.upload_build(version);
    }
    let bucket = BuildsBucket::new(&sandbox.aws, &sandbox.resources().builds_bucket);
    sandbox
        .runtime
        .block_on(bucket.put("dist/gh/main/90.static.tar.xz", vec![0; 64]))
        .expect("static tarball");
    let rm = sandbox.ce_ok(&["builds", "rm-old", "--keep", "2", "--yes"]);
    assert!(
        rm.stdout.contains("deleted 3 build(s), 7 objects"),
        "{}",
        rm.describe()
    );
    let left: Vec<String> = sandbox
        .runtime
        .block_on(bucket.builds(None))
        .expect("builds")
        .into_iter()
        .map(|b| b.version)
        .collect();
    // 100 is green's (live), 101 blue's and the last release's; 102 and 103 the newest.
    assert_eq!(left, ["103", "102", "101", "100"]);

    // Switching to an empty colour is refused, and traffic stays.
    sandbox.ce_ok(&["blue-green", "cleanup", "--yes"]);
    let empty = sandbox.ce(&["blue-green", "switch", "blue", "--yes"]);
    assert_eq!(empty.code, Some(1), "{}", empty.describe());
    assert!(
        empty.stderr.contains("blue has no node serving"),
        "{}",
        empty.stderr
    );
    assert_eq!(sandbox.live(), Colour::Green);
}

/// The compute stack as rendered before there were two colours (one group, one target group,
/// the origin rule forwarding to it),
/// against today's render: the migration is one deploy, and the diff says what it does.
#[test]
fn migrating_from_one_group_to_two_is_an_in_place_deploy_the_diff_explains() {
    use ce_infra::diff::{Action, EnvDiff, Impact, StackInput, diff_stack, format};
    let old: Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::crate_root().join("tests/fixtures/single-group/staging-compute.json"),
        )
        .expect("fixture"),
    )
    .expect("json");
    let env = ce_infra::config::load(&common::envs_dir(), "staging").expect("staging");
    let stacks = ce_infra::render::render_env(&env).expect("render");
    let compute = stacks
        .iter()
        .find(|s| s.stack_name == "ce-staging-compute")
        .expect("compute");
    let new: Value = serde_json::from_str(&compute.text).expect("json");
    let imported = ["ce-staging-compute-TargetGroupFullName".to_owned()]
        .into_iter()
        .collect();
    let diff = diff_stack(&StackInput::new(
        "ce-staging-compute",
        Some(&old),
        &new,
        &imported,
    ))
    .expect("diff");
    let find = |id: &str| {
        diff.resources
            .iter()
            .find(|r| r.logical_id == id)
            .unwrap_or_else(|| panic!("{id} in the diff"))
    };
    for added in ["GreenAutoScalingGroup", "GreenTargetGroup"] {
        assert_eq!(find(added).action, Action::Add, "{added}");
    }
    // The one group becomes blue in place: its nodes keep serving through the migration.
    let group = find("NodeAutoScalingGroup");
    assert_eq!(group.action, Action::Modify);
    assert!(group.impact < Impact::MayReplace, "{:?}", group.impact);
    assert!(
        diff.resources
            .iter()
            .all(|r| r.logical_id != "NodeTargetGroup" || r.impact < Impact::MayReplace)
    );
    // The origin rule's forward follows `LiveColour`; the listener itself is unchanged.
    assert_eq!(find("OriginListenerRule").action, Action::Modify);
    assert!(
        diff.resources
            .iter()
            .all(|r| r.logical_id != "HttpsListener")
    );
    // The export monitoring imports keeps its value: blue kept the target group.
    assert!(
        diff.exports
            .iter()
            .all(|e| !format!("{e:?}").contains("TargetGroupFullName\"")
                || !format!("{e:?}").contains("Remove")),
        "{:?}",
        diff.exports
    );

    let mut text = Vec::new();
    format::write_text(
        &mut text,
        &EnvDiff {
            env: "staging".into(),
            stacks: vec![diff],
        },
        false,
    )
    .expect("text");
    let text = String::from_utf8(text).expect("utf-8");
    for expected in [
        "GreenAutoScalingGroup",
        "NodeAutoScalingGroup",
        "OriginListenerRule",
        "LiveColour",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    eprintln!("{text}");
}
