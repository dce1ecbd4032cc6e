//! The settled values a command works with, resolved once from the parsed flags (ripgrep's
//! parse-then-resolve): the printer, whether a person can answer prompts, and the env — and,
//! for commands that talk to AWS, a [`Remote`] that carries the sequence every one of them
//! needs, written once: load the env, decide the target (starting the sandbox for `--local`),
//! start the runtime, swap in the sandbox's certificates when the env is rendered for it, and
//! connect to the env's region.
//!
//! Offline commands (render, validate, completions) never ask for a [`Remote`], so they never
//! start a runtime nor build an SDK configuration.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;

use crate::aws::{self, Aws, Target};
use crate::cli::Cli;
use crate::config::{self, Env};
use crate::printer::Printer;

/// What a run knows once its flags are parsed.
#[derive(Clone, Debug)]
pub struct Context {
    /// Where output goes, in which format, with or without colour.
    pub printer: Printer,
    /// A person can answer prompts: stdin and stderr are terminals.
    pub interactive: bool,
    /// `--local`: talk to the sandbox instead of AWS.
    pub local: bool,
    env: String,
    envs_dir: PathBuf,
}

/// What a command does with the deployed env, which decides how the env is prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Reads or changes what is deployed, but renders nothing (status, destroy, operations).
    Operate,
    /// Renders the env to compare with or deploy to its stacks: against the sandbox, its
    /// certificates are swapped for ones the sandbox holds (see [`crate::aws::local`]).
    Render,
}

impl Context {
    /// The context of a run with these flags.
    pub fn new(cli: &Cli, printer: Printer, interactive: bool) -> Self {
        Context {
            printer,
            interactive,
            local: cli.local,
            env: cli.env.clone(),
            envs_dir: cli.envs_dir.clone(),
        }
    }

    /// Loads the env named by `--env`.
    pub fn env(&self) -> Result<Env> {
        self.env_named(&self.env)
    }

    /// Loads another env of the envs directory (`ce compare` takes two).
    pub fn env_named(&self, name: &str) -> Result<Env> {
        Ok(config::load(&self.envs_dir, name)?)
    }

    /// The env named by `--env`, or every env with `all`.
    pub fn envs(&self, all: bool) -> Result<Vec<Env>> {
        Ok(if all {
            config::load_all(&self.envs_dir)?
        } else {
            vec![self.env()?]
        })
    }

    /// Reaches `env`'s deployed stacks: the target (the sandbox is started for `--local`), a
    /// runtime, and for [`Purpose::Render`] the env as it renders for that target.
    pub fn remote(&self, env: Env, purpose: Purpose) -> Result<Remote> {
        let target = aws::target(self.local, &self.printer)?;
        let runtime = aws::runtime().context("starting the async runtime")?;
        let mut remote = Remote {
            env,
            runtime,
            target,
            aws: OnceCell::new(),
        };
        if purpose == Purpose::Render && remote.is_local() {
            let env = remote.block_on(async {
                let aws = remote.aws().await;
                aws::local::env_for_target(remote.env.clone(), aws).await
            })?;
            remote.env = env;
        }
        Ok(remote)
    }
}

/// An env whose deployed stacks a command reads or changes, and the means to reach them.
#[derive(Debug)]
pub struct Remote {
    /// The env, as it renders for the target.
    pub env: Env,
    runtime: Runtime,
    target: Target,
    aws: OnceCell<Aws>,
}

impl Remote {
    /// Runs `work` on this command's runtime.
    pub fn block_on<F: Future>(&self, work: F) -> F::Output {
        self.runtime.block_on(work)
    }

    /// The SDK configuration for the env's region, loaded on first use.
    pub async fn aws(&self) -> &Aws {
        self.aws
            .get_or_init(|| Aws::connect(&self.env.file.region, self.target.clone()))
            .await
    }

    /// Whether requests go to the local sandbox.
    pub fn is_local(&self) -> bool {
        matches!(self.target, Target::Sandbox { .. })
    }

    /// Where the stacks are read from, for progress lines.
    pub fn describe_target(&self) -> String {
        match &self.target {
            Target::Account => format!("AWS ({})", self.env.file.region),
            Target::Sandbox { endpoint } => format!("the sandbox at {endpoint}"),
        }
    }

    /// Stops the runtime without waiting longer than `wait` for its tasks (a prompt's reader
    /// thread may still wait on stdin, and must not keep the process alive); returns the env.
    pub fn shut_down(self, wait: Duration) -> Env {
        self.runtime.shutdown_timeout(wait);
        self.env
    }
}
