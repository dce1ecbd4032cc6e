//! A moto server and an envs directory of a test's own, and the staging env created in it,
//! for the tests of the commands that read and change live stacks (diff, status, destroy).
//!
//! The server's state lives in a temp dir that `ce --local` is pointed at through
//! `CE_STATE_DIR`; it stops when the [`Sandbox`] is dropped. Stacks are created with the SDK
//! from the env as `ce --local` renders it (certificates swapped for ones the sandbox holds),
//! so what the tests create is exactly what the commands compare against.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ce_infra::aws::sandbox::{self, Paths};
use ce_infra::aws::{Aws, Target};
use ce_infra::{config, render};
use tempfile::TempDir;

use crate::common::{self, Run, crate_root};

/// The shared venv with the pinned moto, installed once per test run.
pub fn venv() -> &'static Path {
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
pub struct Sandbox {
    paths: Paths,
    /// The server's URL.
    pub endpoint: String,
    state: TempDir,
    /// The envs directory `ce` is pointed at.
    pub envs: TempDir,
}

impl Sandbox {
    /// Starts a server; the envs directory holds the committed staging env.
    pub fn start() -> Sandbox {
        let state = TempDir::new().expect("temp dir");
        let paths = Paths {
            state: state.path().to_owned(),
            venv: venv().to_owned(),
            python: "python3".into(),
        };
        let started = sandbox::start(&paths, None).expect("start moto");
        let sandbox = Sandbox {
            endpoint: started.record().endpoint(),
            paths,
            state,
            envs: TempDir::new().expect("temp dir"),
        };
        sandbox.write_env(|t| t);
        sandbox
    }

    /// Runs `ce --local --envs-dir <envs> <args>` against this server, without a terminal.
    pub fn ce(&self, args: &[&str]) -> Run {
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

    /// Writes `<envs>/staging.toml`: the committed staging env passed through `edit`.
    pub fn write_env(&self, edit: impl Fn(String) -> String) {
        let text = std::fs::read_to_string(common::envs_dir().join("staging.toml"))
            .expect("envs/staging.toml");
        std::fs::write(self.envs.path().join("staging.toml"), edit(text)).expect("write env");
    }

    /// Creates every stack of the env now in the envs directory, in dependency order, as
    /// `ce --local` renders it.
    pub fn create_stacks(&self) {
        let runtime = ce_infra::aws::runtime().expect("tokio runtime");
        let target = Target::Sandbox {
            endpoint: self.endpoint.clone(),
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
            wait_for_create(&runtime, &client, &stack.stack_name);
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
