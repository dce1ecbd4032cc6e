//! Blue/green releases end to end: the real `ce` binary bootstraps an env into a moto server of
//! the test's own (the shared sandbox harness in `tests/common`), then releases, rolls back,
//! cleans up and deploys again, and after each step the listener's target group, both groups'
//! sizes, the colour pointers, the versions log and the static bucket are read back through
//! the AWS APIs.
//!
//! moto reports every registered target healthy at once and runs no HTTP on its instances, so
//! here the gate's node checks are skipped (`--skip-node-checks`) and its service check goes
//! to a local HTTP server standing in for CloudFront; the paths where a node stays unhealthy,
//! a check answers 500 or times out, the listener switch fails or Ctrl-C arrives are tested
//! against fakes of the same interfaces (`src/ops/bluegreen/release_tests.rs`).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ce_infra::architecture::{Colour, LIVE_ROUTE_OUTPUT, group_output, target_group_output};
use ce_infra::aws::Aws;
use ce_infra::ops::Resources;
use ce_infra::ops::bluegreen::edge::AwsPlatform;
use ce_infra::ops::bluegreen::{LiveChange, Platform, Sizes};
use ce_infra::ops::bucket::BuildsBucket;
use ce_infra::ops::statics;
use ce_infra::ops::versionslog::VersionsLog;
use common::{Run, RunCe};
use serde_json::Value;

const ENV: &str = "staging";

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

/// The test env: the committed staging env without a fixed desired capacity (releases own
/// the groups' sizes), with short waits, passed through `edit`.
fn env_text(text: String, edit: impl Fn(String) -> String) -> String {
    edit(
        text.replace("desired_capacity = 1\n", "")
        // Short waits: the sandbox answers at once.
        + "\n[release]\npoll_interval = 1\nready_timeout = 60\ngate_timeout = 30\n",
    )
}

/// An xz-compressed static tarball of `files` (path, content), as CI uploads it.
fn static_tarball(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, body) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, path, body.as_bytes())
            .expect("tar");
    }
    let tar = builder.into_inner().expect("tar");
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut std::io::BufReader::new(tar.as_slice()), &mut xz).expect("xz");
    xz
}

/// The sandbox with the test env, and the SDK configuration to read it back with.
struct Site {
    sandbox: common::Sandbox,
    runtime: tokio::runtime::Runtime,
    aws: Aws,
}

impl Site {
    fn start() -> Site {
        let sandbox = common::Sandbox::start();
        sandbox.write_env(|t| env_text(t, |t| t));
        let runtime = common::sandbox::runtime();
        let aws = sandbox.moto.aws(&runtime);
        Site {
            sandbox,
            runtime,
            aws,
        }
    }

    fn ce(&self, args: &[&str]) -> Run {
        self.sandbox
            .command(&["--env", ENV])
            .args(args)
            .env("CE_OPERATOR", "release-test")
            .run()
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

    fn builds(&self) -> BuildsBucket {
        BuildsBucket::new(&self.aws, &self.resources().builds_bucket)
    }

    fn static_bucket(&self) -> BuildsBucket {
        BuildsBucket::new(
            &self.aws,
            self.resources()
                .static_bucket
                .as_deref()
                .expect("static bucket"),
        )
    }

    fn upload_build(&self, version: &str) {
        let bucket = self.builds();
        let base = format!("dist/gh/main/{version}");
        self.runtime
            .block_on(bucket.put(&format!("{base}.tar.xz"), vec![0; 1024]))
            .expect("tarball");
        self.runtime
            .block_on(bucket.put(&format!("{base}.txt"), format!("{version:0>40}\n").into()))
            .expect("hash");
    }

    /// Uploads `version`'s static tarball holding `files`; returns the files as the static
    /// bucket would hold them.
    fn upload_static(&self, version: &str, files: &[(&str, &str)]) -> Vec<statics::StaticFile> {
        let key = format!("dist/gh/main/{version}.static.tar.xz");
        let xz = static_tarball(files);
        self.runtime
            .block_on(self.builds().put(&key, xz.clone()))
            .expect("static tarball");
        statics::unpack(&key, &xz).expect("unpack")
    }

    /// Puts files in the static bucket as a release does.
    fn put_static(&self, files: &[statics::StaticFile]) {
        let bucket = self.static_bucket();
        for file in files {
            self.runtime
                .block_on(bucket.put_static(file))
                .expect("static file");
        }
    }

    /// The `sha256` metadata of a static bucket object, `None` when it is missing.
    fn static_file(&self, key: &str) -> Option<Option<String>> {
        self.runtime
            .block_on(self.static_bucket().hashes_of(vec![key.to_owned()]))
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

    /// A colour's group, read through Auto Scaling.
    fn group(&self, colour: Colour) -> aws_sdk_autoscaling::types::AutoScalingGroup {
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
        out.auto_scaling_groups()[0].clone()
    }

    /// The instance ids of a colour's group.
    fn instance_ids(&self, colour: Colour) -> Vec<String> {
        self.group(colour)
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect()
    }

    /// (min, max, desired, instances) of a colour's group.
    fn sizes(&self, colour: Colour) -> (i32, i32, i32, usize) {
        let g = self.group(colour);
        (
            g.min_size().unwrap_or(-1),
            g.max_size().unwrap_or(-1),
            g.desired_capacity().unwrap_or(-1),
            g.instances().len(),
        )
    }

    fn pointer(&self, colour: Colour) -> Option<String> {
        self.runtime
            .block_on(self.builds().colour_pointer(ENV, colour))
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

    /// Every node of both colours as `blue-green status` (JSON) shows it, with the build it
    /// booted and its freshness, checked against the instance ids Auto Scaling lists; and
    /// the same nodes' builds as `instances list` (JSON) shows them.
    fn node_builds(&self) -> Vec<(Colour, String, Option<String>, String)> {
        let build = |node: &Value| match &node["build"] {
            Value::Null => None,
            b => Some(b.as_str().expect("a build key").to_owned()),
        };
        let status = self
            .ce_ok(&["--format", "json", "blue-green", "status"])
            .json();
        let mut shown = Vec::new();
        for (i, colour) in Colour::ALL.into_iter().enumerate() {
            let c = &status["status"]["colours"][i];
            assert_eq!(c["colour"], colour.to_string());
            let mut ids = Vec::new();
            for node in c["nodes"].as_array().expect("nodes") {
                let id = node["id"].as_str().expect("id").to_owned();
                ids.push(id.clone());
                let freshness = node["freshness"].as_str().expect("freshness").to_owned();
                shown.push((colour, id, build(node), freshness));
            }
            ids.sort();
            let mut want = self.instance_ids(colour);
            want.sort();
            assert_eq!(ids, want, "{colour}'s nodes in {status:#}");
        }
        shown.sort();
        let list = self
            .ce_ok(&["--format", "json", "instances", "list"])
            .json();
        let mut listed: Vec<(String, Option<String>, String)> = list["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .chain(list["idle"]["instances"].as_array().into_iter().flatten())
            .map(|n| {
                (
                    n["id"].as_str().expect("id").to_owned(),
                    build(n),
                    n["freshness"].as_str().expect("freshness").to_owned(),
                )
            })
            .collect();
        listed.sort();
        let mut from_status: Vec<(String, Option<String>, String)> = shown
            .iter()
            .map(|(_, id, build, freshness)| (id.clone(), build.clone(), freshness.clone()))
            .collect();
        from_status.sort();
        assert_eq!(
            listed, from_status,
            "instances list agrees with status: {list:#}"
        );
        shown
    }

    /// What [`Site::node_builds`] must show: each colour's nodes with `build` (`None`: the log
    /// cannot tell) and `freshness`.
    fn expect_builds(
        &self,
        each: [(Colour, Option<&str>, &str); 2],
    ) -> Vec<(Colour, String, Option<String>, String)> {
        let mut want: Vec<_> = each
            .into_iter()
            .flat_map(|(colour, build, freshness)| {
                self.instance_ids(colour)
                    .into_iter()
                    .map(move |id| (colour, id, build.map(str::to_owned), freshness.to_owned()))
            })
            .collect();
        want.sort();
        want
    }

    fn history(&self) -> Vec<ce_infra::ops::versionslog::Entry> {
        let log = VersionsLog::new(&self.aws, &self.resources().versions_table, ENV);
        self.runtime.block_on(log.history(None)).expect("history")
    }
}

/// Runs `cmd` to the end, returning what it did and its own CPU time (user + system) in
/// seconds, read from that one process's resource usage (other tests' processes running at
/// the same time do not count).
// The child is waited for with `wait4`, which also gives its resource usage.
#[allow(clippy::zombie_processes)]
fn run_with_cpu(cmd: &mut std::process::Command) -> (Run, f64) {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ce");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err);
    let out = reader.join().expect("stdout reader");
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: wait4 writes the status and the usage into the values it is given; the child is
    // ours and not waited for elsewhere (`Child` does not wait when dropped).
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::wait4(pid, &mut status, 0, &mut usage), pid, "wait4");
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let run = Run {
        code,
        stdout: out,
        stderr: err,
    };
    (run, secs(usage.ru_utime) + secs(usage.ru_stime))
}

/// The machine's load average over the last minute, for the figures.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Runs a release and prints its figures: wall time, the CPU time of `ce` itself (an upper
/// bound on the tool's own share; the rest is waiting on AWS and the gate) and the switch.
fn release(site: &Site, service: &Service, version: &str) -> Run {
    let started = Instant::now();
    let (run, own) = run_with_cpu(
        site.sandbox
            .command(&["--env", ENV])
            .args([
                "release",
                version,
                "--yes",
                "--skip-node-checks",
                "--service-url",
                &service.url,
            ])
            .env("CE_OPERATOR", "release-test"),
    );
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(run.code, Some(0), "release {version}: {}", run.describe());
    let switch = run
        .stderr
        .lines()
        .find_map(|l| l.split(" in ").nth(1)?.strip_suffix(" ms"))
        .unwrap_or("?");
    eprintln!(
        "figures: release {version}: wall {wall:.2} s, CPU of ce {own:.3} s ({:.1}%), \
         switch to traffic moved {switch} ms, load {}",
        100.0 * own / wall,
        load()
    );
    run
}

#[test]
fn two_releases_a_rollback_a_cleanup_and_a_deploy_move_traffic_only_when_asked() {
    let site = Site::start();
    site.ce_ok(&["deploy", "--yes"]);
    // A fresh env: blue is live with the env's minimum, green is empty.
    assert_eq!(site.live(), Colour::Blue);
    assert_eq!(site.sizes(Colour::Blue), (1, 4, 1, 1));
    assert_eq!(site.sizes(Colour::Green), (0, 4, 0, 0));
    for version in ["100", "101"] {
        site.upload_build(version);
    }
    // 100's files: its own script, and a library later builds share (same name, same content).
    let files_100 = site.upload_static(
        "100",
        &[("main.100.js", "console.log(100);"), ("vendor.1.js", "lib")],
    );
    let service = Service::start();

    // First release: green comes up at blue's size and takes the traffic.
    let run = release(&site, &service, "100");
    assert!(
        run.stdout
            .starts_with("100 (gh/main) is live on green (1 node(s)) after "),
        "{}",
        run.describe()
    );
    assert_eq!(site.live(), Colour::Green);
    assert_eq!(site.sizes(Colour::Green), (1, 4, 1, 1));
    // Blue keeps its node for rollback, its minimum back to zero.
    assert_eq!(site.sizes(Colour::Blue), (0, 4, 1, 1));
    assert_eq!(
        site.pointer(Colour::Green).as_deref(),
        Some("dist/gh/main/100.tar.xz")
    );
    assert_eq!(site.pointer(Colour::Blue), None);
    assert_eq!(site.rules(), 0, "the preview rule is removed");
    for file in &files_100 {
        assert_eq!(
            site.static_file(&file.key),
            Some(Some(file.sha256.clone())),
            "{} is in the static bucket with its hash",
            file.key
        );
    }
    let requests = service.requests.lock().expect("lock").clone();
    assert!(
        requests.iter().any(|r| r.starts_with("GET /healthcheck ")
            && r.to_ascii_lowercase().contains("x-ce-preview: ")),
        "{requests:?}"
    );
    let history = site.history();
    assert_eq!(history[0].colour, Some(Colour::Green));
    assert_eq!(history[0].to, "dist/gh/main/100.tar.xz");
    assert_eq!(history[0].by, "release-test");
    assert_eq!(format!("{:?}", history[0].state), "Done");
    let scaled_up = history[0].scaled_up.expect("the release's scale-up moment");
    assert!(history[0].at <= scaled_up, "{history:?}");
    // Green's node is one the release launched: it booted 100, even when launched in the
    // second the release took its lock. Blue's node came with the env, before any build was
    // released, and nothing in the log says what it booted.
    const B100: &str = "dist/gh/main/100.tar.xz";
    const B101: &str = "dist/gh/main/101.tar.xz";
    assert_eq!(
        site.node_builds(),
        site.expect_builds([
            (Colour::Blue, None, "unknown"),
            (Colour::Green, Some(B100), "current")
        ])
    );

    // A deploy after a release changes nothing and moves no traffic; the diff agrees.
    let diff = site.ce(&["diff"]);
    assert_eq!(diff.code, Some(0), "{}", diff.describe());
    site.ce_ok(&["deploy", "--yes"]);
    assert_eq!(site.live(), Colour::Green);
    assert_eq!(site.sizes(Colour::Green), (1, 4, 1, 1));
    assert_eq!(site.sizes(Colour::Blue), (0, 4, 1, 1));

    // A second release must wait for the old colour to be cleaned up.
    let refused = site.ce(&[
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
    assert_eq!(site.live(), Colour::Green);
    site.ce_ok(&["blue-green", "cleanup", "--yes"]);
    assert_eq!(site.sizes(Colour::Blue), (0, 4, 0, 0));

    // Second release: back to blue, on fresh nodes.
    release(&site, &service, "101");
    assert_eq!(site.live(), Colour::Blue);
    assert_eq!(site.sizes(Colour::Blue), (1, 4, 1, 1));
    assert_eq!(site.sizes(Colour::Green), (0, 4, 1, 1));
    assert_eq!(
        site.pointer(Colour::Blue).as_deref(),
        Some("dist/gh/main/101.tar.xz")
    );
    assert_eq!(
        site.pointer(Colour::Green).as_deref(),
        Some("dist/gh/main/100.tar.xz")
    );
    let each = [
        (Colour::Blue, Some(B101), "current"),
        (Colour::Green, Some(B100), "current"),
    ];
    assert_eq!(site.node_builds(), site.expect_builds(each));

    // Rollback: traffic goes back to green at once, its build unchanged.
    let started = Instant::now();
    let (back, own) = run_with_cpu(
        site.sandbox
            .command(&["--env", ENV, "blue-green", "rollback", "--yes"])
            .env("CE_OPERATOR", "release-test"),
    );
    eprintln!(
        "figures: rollback: wall {:.2} s, CPU of ce {own:.3} s, load {}",
        started.elapsed().as_secs_f64(),
        load()
    );
    assert_eq!(back.code, Some(0), "{}", back.describe());
    assert!(
        back.stdout.contains("traffic moved from blue to green"),
        "{}",
        back.describe()
    );
    assert_eq!(site.live(), Colour::Green);
    // Green, live again, has the env's minimum; blue keeps its node for rollback, minimum 0:
    // the groups as a release leaves them, so scaling cannot take green to zero.
    assert_eq!(site.sizes(Colour::Green), (1, 4, 1, 1));
    assert_eq!(site.sizes(Colour::Blue), (0, 4, 1, 1));
    let history = site.history();
    assert_eq!(history[0].colour, Some(Colour::Green));
    assert!(history[0].switch);
    assert_eq!(history[0].to, "dist/gh/main/100.tar.xz");
    // A deploy after the rollback (its LiveColour now green) moves nothing and sizes agree.
    site.ce_ok(&["deploy", "--yes"]);
    assert_eq!(site.live(), Colour::Green);
    assert_eq!(site.sizes(Colour::Green), (1, 4, 1, 1));
    assert_eq!(site.sizes(Colour::Blue), (0, 4, 1, 1));
    // A switch sizes the groups the same way, each way round.
    site.ce_ok(&["blue-green", "switch", "blue", "--yes"]);
    assert_eq!(site.live(), Colour::Blue);
    assert_eq!(site.sizes(Colour::Blue), (1, 4, 1, 1));
    assert_eq!(site.sizes(Colour::Green), (0, 4, 1, 1));
    site.ce_ok(&["blue-green", "switch", "green", "--yes"]);
    assert_eq!(site.live(), Colour::Green);
    assert_eq!(site.sizes(Colour::Green), (1, 4, 1, 1));
    assert_eq!(site.sizes(Colour::Blue), (0, 4, 1, 1));

    // Status and instances list show both colours and which is live.
    let status: Value = serde_json::from_str(
        &site
            .ce_ok(&["--format", "json", "blue-green", "status"])
            .stdout,
    )
    .expect("json");
    assert_eq!(status["status"]["live"], "green");
    assert_eq!(status["status"]["colours"][0]["group"]["desired"], 1);
    // Each colour lists the nodes its group has, with the build each booted: a rollback
    // launches no node and changes no pointer.
    assert_eq!(site.node_builds(), site.expect_builds(each));
    let text = site.ce_ok(&["blue-green", "status"]).stdout;
    for colour in Colour::ALL {
        for id in site.instance_ids(colour) {
            assert!(
                text.lines()
                    .any(|l| l.trim_start().starts_with(&id) && l.contains(" build ")),
                "{id} with its build in\n{text}"
            );
        }
    }
    let list = site.ce_ok(&["instances", "list"]).stdout;
    assert!(list.starts_with("live colour: green\n"), "{list}");
    assert!(list.contains("green (live)"), "{list}");

    // Old builds go, except what either colour or the last releases name, and the newest;
    // with them go the static files only they use.
    for version in ["90", "91", "92", "102", "103"] {
        site.upload_build(version);
    }
    // 90 was released once: its files are in the static bucket. Its library is the one 100
    // (green's, live) still uses; its third key holds what someone else put there.
    let files_90 = site.upload_static(
        "90",
        &[
            ("main.90.js", "console.log(90);"),
            ("vendor.1.js", "lib"),
            ("theme.css", "dark"),
        ],
    );
    site.put_static(&files_90[..2]);
    let other =
        statics::unpack("other", &static_tarball(&[("theme.css", "light")])).expect("unpack");
    site.put_static(&other);
    // 92's static tarball was never released: none of its files are in the bucket.
    site.upload_static("92", &[("main.92.js", "console.log(92);")]);
    let static_bucket = site.resources().static_bucket.expect("static bucket");

    // Without --yes and without a terminal nothing goes; the question lists every object.
    let asked = site.ce(&["builds", "rm-old", "--keep", "2"]);
    assert_eq!(asked.code, Some(3), "{}", asked.describe());
    assert!(
        asked.stderr.contains(&format!(
            "delete 3 of 7 build(s) (8 objects) from s3://{} and 1 static file(s) no build \
             that stays uses:\n  90 (gh/main)\n    s3://{static_bucket}/static/main.90.js\n  \
             91 (gh/main)\n  92 (gh/main) needs confirmation",
            site.resources().builds_bucket
        )),
        "{}",
        asked.describe()
    );
    assert!(site.static_file("static/main.90.js").is_some());

    let rm = site
        .ce_ok(&[
            "--format", "json", "builds", "rm-old", "--keep", "2", "--yes",
        ])
        .json();
    assert_eq!(rm["objects_deleted"], 8, "{rm:#}");
    assert_eq!(rm["static_files_deleted"], 1, "{rm:#}");
    let deleted: Vec<(&str, Vec<String>)> = rm["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .map(|d| {
            let files = d["static_files"]
                .as_array()
                .expect("static files")
                .iter()
                .map(|f| {
                    format!(
                        "{}/{}",
                        f["bucket"].as_str().unwrap(),
                        f["key"].as_str().unwrap()
                    )
                })
                .collect();
            (d["build"]["version"].as_str().expect("version"), files)
        })
        .collect();
    assert_eq!(
        deleted,
        [
            ("90", vec![format!("{static_bucket}/static/main.90.js")]),
            ("91", vec![]),
            ("92", vec![]),
        ]
    );
    let left: Vec<String> = site
        .runtime
        .block_on(site.builds().builds(None))
        .expect("builds")
        .into_iter()
        .map(|b| b.version)
        .collect();
    // 100 is green's (live), 101 blue's and the last release's; 102 and 103 the newest.
    assert_eq!(left, ["103", "102", "101", "100"]);
    // Read back from the static bucket: only the file no staying build names is gone; the
    // library 100 shares and the key holding other content stay.
    assert_eq!(site.static_file("static/main.90.js"), None);
    assert_eq!(
        site.static_file("static/vendor.1.js"),
        Some(Some(files_100[1].sha256.clone()))
    );
    assert_eq!(
        site.static_file("static/main.100.js"),
        Some(Some(files_100[0].sha256.clone()))
    );
    assert_eq!(
        site.static_file("static/theme.css"),
        Some(Some(other[0].sha256.clone()))
    );
    assert!(
        site.runtime
            .block_on(site.builds().get_bytes("dist/gh/main/90.static.tar.xz"))
            .expect("read")
            .is_none(),
        "90's static tarball is gone"
    );

    // Switching to an empty colour is refused, and traffic stays.
    site.ce_ok(&["blue-green", "cleanup", "--yes"]);
    let empty = site.ce(&["blue-green", "switch", "blue", "--yes"]);
    assert_eq!(empty.code, Some(1), "{}", empty.describe());
    assert!(
        empty.stderr.contains("blue has no node serving"),
        "{}",
        empty.stderr
    );
    assert_eq!(site.live(), Colour::Green);
}

/// `ce deploy` and `instances restart` while a release holds the env's release lock: refused
/// with who holds it since when, and nothing moves; once the release ends, the same deploy
/// goes ahead.
#[test]
fn a_deploy_or_restart_while_a_release_holds_the_lock_is_refused_and_changes_nothing() {
    let site = Site::start();
    site.ce_ok(&["deploy", "--yes"]);
    // A build live the older way, so `instances restart` has nodes to replace.
    site.upload_build("99");
    site.ce_ok(&["builds", "set-current", "99", "--yes"]);
    let nodes = site.instance_ids(Colour::Blue);
    let platform = AwsPlatform::new(&site.aws, &site.resources(), "arn:test").expect("platform");
    // A release's first two steps: take the lock, pin the live group.
    let claim = site
        .runtime
        .block_on(platform.claim(&LiveChange {
            colour: Colour::Green,
            from: Some("dist/gh/main/99.tar.xz".into()),
            to: "dist/gh/main/100.tar.xz".into(),
            by: "release-test".into(),
            switch: false,
        }))
        .expect("claim the release lock");
    site.runtime
        .block_on(platform.set_sizes(Colour::Blue, Sizes::exactly(1, 1, 1)))
        .expect("pin");
    // A change the deploy would make to the groups: a larger maximum.
    site.sandbox
        .write_env(|t| env_text(t, |t| t.replace("max_size = 4", "max_size = 6")));

    let refused = site.ce(&["deploy", "--yes"]);
    assert_eq!(refused.code, Some(1), "{}", refused.describe());
    let error = refused
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("an error line: {}", refused.describe()));
    for part in [
        "error: release-test holds the release lock of staging: putting \
         dist/gh/main/100.tar.xz live since ",
        "nothing was deployed",
        "ce --env staging blue-green status",
        "lapses by itself at ",
    ] {
        assert!(error.contains(part), "{part:?} in {}", refused.describe());
    }
    assert_eq!(
        refused
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .count(),
        1,
        "{}",
        refused.describe()
    );
    // A plan is read-only and still made, with a note that executing it waits for the release.
    let dir = tempfile::TempDir::new().expect("temp dir");
    let plan_file = dir.path().join("plan.json");
    let plan_path = plan_file.to_str().expect("utf-8 path");
    let plan = site.ce(&["plan", "--out", plan_path]);
    assert_eq!(plan.code, Some(2), "changes planned: {}", plan.describe());
    assert!(plan_file.exists(), "{}", plan.describe());
    let note = plan
        .stderr
        .lines()
        .find(|l| l.starts_with("note: release-test holds the release lock of staging"))
        .unwrap_or_else(|| panic!("a note on the lock: {}", plan.describe()));
    assert!(
        note.contains("putting dist/gh/main/100.tar.xz live since ")
            && note.contains("`ce deploy --plan` of this plan is refused until the release ends"),
        "{note}"
    );
    assert!(!plan.stderr.contains("error:"), "{}", plan.describe());
    let planned = site.ce(&["deploy", "--plan", plan_path, "--yes"]);
    assert_eq!(planned.code, Some(1), "{}", planned.describe());
    assert!(
        planned.stderr.contains("nothing was deployed"),
        "{}",
        planned.describe()
    );
    // Rolling the live colour's nodes is refused the same way.
    let restart = site.ce(&["instances", "restart", "--yes"]);
    assert_eq!(restart.code, Some(1), "{}", restart.describe());
    assert!(
        restart.stderr.contains(
            "error: release-test holds the release lock of staging: putting \
             dist/gh/main/100.tar.xz live since "
        ) && restart.stderr.contains("so no node was replaced"),
        "{}",
        restart.describe()
    );
    assert_eq!(site.sizes(Colour::Blue), (1, 1, 1, 1), "still pinned");
    assert_eq!(site.instance_ids(Colour::Blue), nodes);
    assert_eq!(site.sizes(Colour::Green), (0, 4, 0, 0));
    assert_eq!(site.live(), Colour::Blue);

    // The release ends (here: fails and puts the live group back), and the lock with it.
    site.runtime
        .block_on(platform.set_sizes(
            Colour::Blue,
            Sizes {
                min: Some(1),
                max: Some(4),
                desired: None,
            },
        ))
        .expect("unpin");
    site.runtime
        .block_on(platform.finish(&claim, false))
        .expect("finish");
    site.ce_ok(&["deploy", "--yes"]);
    assert_eq!(site.sizes(Colour::Blue), (1, 6, 1, 1));
    assert_eq!(site.sizes(Colour::Green), (0, 6, 0, 0));
    assert_eq!(site.live(), Colour::Blue);
}

/// A deploy that waits at its approval prompt passed the release-lock check before it asked;
/// a release that takes the lock meanwhile is found when the deploy checks again after the
/// approval, and the approved change is refused with the same error, its change set never
/// executed. Here the engine runs as `ce deploy` runs it, with the answer given in advance
/// and the release's claim made after the deploy's first read.
#[test]
fn a_release_that_starts_while_a_deploy_waits_for_approval_stops_the_approved_change() {
    use ce_infra::architecture::{LIVE_COLOUR_PARAMETER, StackId};
    use ce_infra::deploy::deployed::diff_env;
    use ce_infra::deploy::progress::{Mode, Progress};
    use ce_infra::deploy::sdk::Cfn;
    use ce_infra::deploy::timing::Timing;
    use ce_infra::deploy::{Answers, Approval, Engine, Outcome, RequireApproval, Settings, job};
    use ce_infra::ops::release::recheck_release_lock;

    let site = Site::start();
    site.ce_ok(&["deploy", "--yes"]);
    let stack_name = format!("ce-{ENV}-compute");
    let status = |site: &Site| {
        site.runtime
            .block_on(site.aws.cloudformation().fetch_stacks([stack_name.clone()]))
            .expect("describe")
            .into_iter()
            .next()
            .flatten()
            .map(|s| s.status)
    };
    let before = status(&site);
    // A change the deploy would make to the groups: a larger maximum.
    site.sandbox
        .write_env(|t| env_text(t, |t| t.replace("max_size = 4", "max_size = 6")));
    let env = ce_infra::config::load(site.sandbox.envs.path(), ENV).expect("env");
    let env = site
        .runtime
        .block_on(ce_infra::aws::local::env_for_target(env, &site.aws))
        .expect("sandbox certificates");
    // The deploy's first read, with the lock free.
    assert_eq!(
        site.runtime
            .block_on(ce_infra::ops::release::release_guard(&site.aws, ENV, "x"))
            .expect("no release yet"),
        None
    );
    let live = site
        .runtime
        .block_on(diff_env(&site.aws, &env, Some(StackId::Compute)))
        .expect("diff");
    let stack = &live.stacks[0];
    let mut compute = job(
        &env,
        stack.id,
        &stack.name,
        &stack.rendered_json,
        live.imported_exports(),
    );
    compute
        .parameters
        .insert(LIVE_COLOUR_PARAMETER.to_owned(), "blue".to_owned());
    // While the prompt waits, a release takes the lock.
    let platform = AwsPlatform::new(&site.aws, &site.resources(), "arn:test").expect("platform");
    let claim = site
        .runtime
        .block_on(platform.claim(&LiveChange {
            colour: Colour::Green,
            from: None,
            to: "dist/gh/main/100.tar.xz".into(),
            by: "release-test".into(),
            switch: false,
        }))
        .expect("claim the release lock");
    let settings = Settings {
        env: ENV.into(),
        region: env.file.region.clone(),
        protected: false,
        recreate_failed: false,
        approval: Approval {
            policy: RequireApproval::AnyChange,
            yes: false,
            interactive: true,
            protected: false,
            env: ENV.into(),
        },
        change_set_name: "ce-deploy-recheck".into(),
        show_text: false,
        colour: false,
        local: true,
    };
    let api = Cfn::new(&site.aws);
    let progress = Progress::new(Mode::Lines, Box::new(std::io::sink()));
    let timing = Timing::start();
    let answers = Answers::scripted(["y"]);

    let report = site.runtime.block_on(async {
        Engine::new(
            &api,
            &settings,
            &progress,
            &timing,
            &answers,
            Box::new(std::io::sink()),
        )
        .with_recheck(Box::new(|| Box::pin(recheck_release_lock(&site.aws, ENV))))
        .run(std::slice::from_ref(&compute))
        .await
    });

    assert_eq!(report.stacks.len(), 1);
    let refused = &report.stacks[0];
    assert_eq!(refused.outcome, Outcome::Refused, "{refused:#?}");
    assert_eq!(report.status(), ce_infra::Status::Failure);
    for part in [
        "release-test holds the release lock of staging: putting dist/gh/main/100.tar.xz live \
         since ",
        "so the approved change was not executed: wait for it to end",
        "ce --env staging blue-green status",
    ] {
        assert!(
            refused.messages[0].contains(part),
            "{part:?} in {:#?}",
            refused.messages
        );
    }
    // Nothing ran: the stack is as it was, its groups keep their maximum, no change set is left.
    assert_eq!(status(&site), before);
    assert_eq!(site.sizes(Colour::Blue).1, 4);
    assert_eq!(site.sizes(Colour::Green).1, 4);
    let left = site
        .runtime
        .block_on(
            site.aws
                .cloudformation()
                .client()
                .list_change_sets()
                .stack_name(&stack_name)
                .send(),
        )
        .expect("list change sets");
    assert!(left.summaries().is_empty(), "{left:?}");

    site.runtime
        .block_on(platform.finish(&claim, false))
        .expect("finish");
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
