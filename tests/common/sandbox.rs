//! The local sandbox in tests: the venv holding the pinned moto, a moto server of a test's own
//! ([`Moto`]), and an account with an envs directory that `ce --local` is pointed at
//! ([`Sandbox`]).
//!
//! Every server runs on a free port with its state in a temp dir, and stops when its holder is
//! dropped, even when an assertion fails first; none touches the user's sandbox. `ce --local`
//! finds a server through `CE_STATE_DIR`, the directory holding its `sandbox.json`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ce_infra::aws::sandbox::{self, Paths, Record};
use ce_infra::aws::{Aws, Target};
use ce_infra::printer::Printer;
use ce_infra::{config, render};
use tempfile::TempDir;

use super::envs::EnvDir;
use super::runner::{Run, RunCe, ce};

/// The venv holding the pinned moto: `$CE_SANDBOX_VENV`, else the repository's `.venv`,
/// installed on first use (with `$PYTHON`, else `python3`), once per test process.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = std::env::var_os("CE_SANDBOX_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| super::crate_root().join(".venv"));
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        sandbox::ensure_venv(&venv, &python, &Printer::standard())
            .unwrap_or_else(|e| panic!("install moto into the test venv: {e}"));
        venv
    })
}

/// A single-threaded tokio runtime, as `ce` uses.
pub fn runtime() -> tokio::runtime::Runtime {
    ce_infra::aws::runtime().expect("tokio runtime")
}

/// A moto server of the test's own, stopped when dropped.
pub struct Moto {
    paths: Paths,
    record: Record,
    _state: TempDir,
}

impl Moto {
    /// Starts a server on a free port.
    pub fn start() -> Moto {
        let state = TempDir::new().expect("temp dir");
        let paths = Paths {
            state: state.path().to_owned(),
            venv: venv().to_owned(),
            python: "python3".into(),
        };
        let record = sandbox::start(&paths, None, &Printer::standard())
            .unwrap_or_else(|e| panic!("start moto: {e}"))
            .record()
            .clone();
        Moto {
            paths,
            record,
            _state: state,
        }
    }

    /// The server's URL.
    pub fn endpoint(&self) -> String {
        self.record.endpoint()
    }

    /// The server's record (pid, port, start time).
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The state directory holding its `sandbox.json`: `CE_STATE_DIR` for `ce --local`.
    pub fn state_dir(&self) -> &Path {
        &self.paths.state
    }

    /// The SDK configuration `ce --local` would use against this server, made in `runtime`.
    pub fn aws(&self, runtime: &tokio::runtime::Runtime) -> Aws {
        aws_at(runtime, &self.endpoint())
    }

    /// `ce --local <args>` against this server.
    pub fn ce(&self, args: &[&str]) -> Command {
        let mut cmd = ce(&["--local"]);
        cmd.args(args)
            .env("CE_STATE_DIR", self.state_dir())
            .env("CE_SANDBOX_VENV", venv());
        cmd
    }

    /// Forgets every resource the server holds (`POST /moto-api/reset`).
    pub fn reset(&self) {
        let port = self.record.port;
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to moto");
        let request = format!(
            "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).expect("reset moto");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "moto reset: {answer}");
    }

    /// Runs a Python script with boto3 against this server (`sys.argv[1]` is the endpoint);
    /// returns its output, trimmed.
    pub fn python(&self, script: &str) -> String {
        let out = Command::new(venv().join("bin/python"))
            .args(["-c", script, &self.endpoint()])
            .output()
            .expect("run the venv's python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = sandbox::stop(&self.paths, &Printer::standard());
    }
}

/// The SDK configuration `ce --local` would use against `endpoint`.
pub fn aws_at(runtime: &tokio::runtime::Runtime, endpoint: &str) -> Aws {
    let target = Target::Sandbox {
        endpoint: endpoint.to_owned(),
    };
    runtime.block_on(Aws::connect("us-east-1", target))
}

/// A moto server and an envs directory of the test's own, holding a copy of the committed
/// staging env; the server stops when dropped.
pub struct Sandbox {
    /// The server.
    pub moto: Moto,
    /// The envs directory `ce` is pointed at.
    pub envs: EnvDir,
}

impl Sandbox {
    /// Starts a server; the envs directory holds the committed staging env.
    pub fn start() -> Sandbox {
        let sandbox = Sandbox {
            moto: Moto::start(),
            envs: EnvDir::new(),
        };
        sandbox.write_env(|t| t);
        sandbox
    }

    /// The server's URL.
    pub fn endpoint(&self) -> String {
        self.moto.endpoint()
    }

    /// `ce --local --envs-dir <envs> <args>` against this server (add settings, then run).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.moto.ce(&["--envs-dir", self.envs.arg()]);
        cmd.args(args);
        cmd
    }

    /// Runs `ce --local --envs-dir <envs> <args>` against this server, without a terminal.
    pub fn ce(&self, args: &[&str]) -> Run {
        self.command(args).run()
    }

    /// Writes `<envs>/staging.toml`: the committed staging env passed through `edit`.
    pub fn write_env(&self, edit: impl Fn(String) -> String) {
        self.envs.write_committed("staging", edit);
    }

    /// Creates every stack of the staging env now in the envs directory, in dependency order,
    /// as `ce --local` renders it (certificates swapped for ones the sandbox holds), straight
    /// through CloudFormation: what the tests create is exactly what the commands compare
    /// against, independent of `ce deploy`.
    pub fn create_stacks(&self) {
        let runtime = runtime();
        let target = Target::Sandbox {
            endpoint: self.endpoint(),
        };
        let env = config::load(self.envs.path(), "staging").expect("the test env loads");
        let aws = runtime.block_on(Aws::connect("us-east-1", target));
        let env = runtime
            .block_on(ce_infra::aws::local::env_for_target(env, &aws))
            .expect("sandbox certificates");
        let stacks = render::render_env(&env).expect("the test env renders");
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
            wait_created(&runtime, &aws, &stack.stack_name);
        }
    }

    /// An account holding the current staging render.
    pub fn with_current_env() -> Sandbox {
        let sandbox = Sandbox::start();
        sandbox.create_stacks();
        sandbox
    }

    /// An account holding an older render: a fourth zone since dropped, a logs bucket since
    /// renamed, and a bigger instance type; the envs directory then holds the current env.
    pub fn with_older_env() -> Sandbox {
        let sandbox = Sandbox::start();
        sandbox.write_env(|t| {
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
        sandbox.write_env(|t| t);
        sandbox
    }
}

/// moto creates synchronously, but a real service would not: waits as a client should for
/// `name` to reach `CREATE_COMPLETE`, and panics on any other end.
pub fn wait_created(runtime: &tokio::runtime::Runtime, aws: &Aws, name: &str) {
    let client = aws.cloudformation().client().clone();
    for _ in 0..120 {
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
            "CREATE_IN_PROGRESS" | "" => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("{name} ended {other}"),
        }
    }
    panic!("{name} never reached CREATE_COMPLETE");
}

/// A TCP proxy in front of an endpoint that holds back every chunk of every answer by a delay,
/// and counts the requests in flight at once. It runs until the test process ends.
pub struct DelayingProxy {
    /// The proxy's URL.
    pub endpoint: String,
    /// The most requests that were in flight at once: a request is in flight from its first byte
    /// until the first byte of its answer is passed on, or its connection ends. (Open
    /// connections would be the wrong measure: the client may open a new connection for the
    /// next request before the one that just finished is back in its pool.) Once answers are
    /// withheld, the requests waiting for them stay counted.
    pub peak_requests: Arc<AtomicUsize>,
    /// Once set, no further chunk of any answer reaches its client.
    withheld: Arc<AtomicBool>,
}

impl DelayingProxy {
    /// Starts a proxy to `endpoint` (`http://127.0.0.1:<port>`) on a free port.
    pub fn start(endpoint: &str, delay: Duration) -> Self {
        let upstream = endpoint.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let peak_requests = Arc::clone(&peak);
        let withheld = Arc::new(AtomicBool::new(false));
        let withhold = Arc::clone(&withheld);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (Ok(client_in), Ok(server_out)) = (client.try_clone(), server.try_clone())
                else {
                    continue;
                };
                // HTTP/1.1 without pipelining: a connection carries one request at a time, and
                // its client sends the next only after reading the whole answer.
                let busy = Arc::new(AtomicBool::new(false));
                let requests = Requests {
                    busy: Arc::clone(&busy),
                    in_flight: Arc::clone(&in_flight),
                    peak: Arc::clone(&peak),
                };
                let answers = Requests {
                    busy,
                    in_flight: Arc::clone(&in_flight),
                    peak: Arc::clone(&peak),
                };
                let never = Arc::new(AtomicBool::new(false));
                // A request still counted when its connection ends (closed or reset by either
                // side, or a write failed) will never be answered: it stops counting then.
                std::thread::spawn(move || {
                    pipe(client_in, server_out, Duration::ZERO, &never, || {
                        requests.sent()
                    });
                    requests.answered();
                });
                let withhold = Arc::clone(&withhold);
                std::thread::spawn(move || {
                    pipe(server, client, delay, &withhold, || answers.answered());
                    answers.answered();
                });
            }
        });
        DelayingProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            peak_requests,
            withheld,
        }
    }

    /// From now on, answers (and the rest of answers under way) are never delivered: a client
    /// that still ends did not wait for one.
    pub fn withhold_answers(&self) {
        self.withheld.store(true, Ordering::SeqCst);
    }
}

/// One connection's side of the proxy's count of requests in flight.
struct Requests {
    /// A request was sent on this connection and its answer has not begun.
    busy: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Requests {
    /// A chunk of a request arrived: the first one of a request counts it.
    fn sent(&self) {
        if !self.busy.swap(true, Ordering::SeqCst) {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
        }
    }

    /// A chunk of an answer is about to be passed on (the first one ends the request's count,
    /// before the client can see it and send its next request), or the connection ended.
    fn answered(&self) {
        if self.busy.swap(false, Ordering::SeqCst) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Copies `from` to `to`, holding back each chunk by `delay` and calling `passing` just before
/// passing it on, until `from` ends; once `withheld` is set, chunks are read but never passed on.
fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    delay: Duration,
    withheld: &AtomicBool,
    passing: impl Fn(),
) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        std::thread::sleep(delay);
        if withheld.load(Ordering::SeqCst) {
            continue;
        }
        passing();
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    if withheld.load(Ordering::SeqCst) {
        // Closing would tell the client the answer ended; it stays open, silent, instead.
        std::mem::forget(to);
    } else {
        let _ = to.shutdown(std::net::Shutdown::Write);
    }
}
