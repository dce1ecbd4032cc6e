//! What the operations commands (`builds`, `instances`) share: reaching a deployed env, and
//! asking the operator before changing it.

use std::io::{BufRead, Write};

use anyhow::{Context, Result};

use super::Ui;
use crate::aws::{self, Aws};
use crate::config::{self, Env};
use crate::ops::Resources;

/// A deployed env, reached.
pub struct Session {
    /// Its env file.
    pub env: Env,
    /// The SDK configuration for its region.
    pub aws: Aws,
    /// Its resources, from its stacks' outputs.
    pub resources: Resources,
}

/// Loads the env named by `--env`, decides where requests go (starting the sandbox for
/// `--local`), and returns the runtime to run the command on with a future that reaches the
/// env's stacks.
pub fn runtime(ui: &Ui) -> Result<(tokio::runtime::Runtime, Env, aws::Target)> {
    let env = config::load(&ui.envs_dir, &ui.env)?;
    let target = aws::target(ui.local)?;
    let runtime = aws::runtime().context("starting the async runtime")?;
    Ok((runtime, env, target))
}

/// Connects to the env's region and reads its stacks.
pub async fn connect(env: Env, target: aws::Target) -> Result<Session> {
    let aws = Aws::connect(&env.file.region, target).await;
    let resources = Resources::read(&aws, env.name.as_str()).await?;
    Ok(Session {
        env,
        aws,
        resources,
    })
}

/// The guard before a change: the env file's account, when it names one.
pub async fn guard(session: &Session) -> Result<()> {
    session
        .aws
        .guard_account(session.env.file.account_id.as_deref())
        .await?;
    Ok(())
}

/// Asks before `what` is done to the env: the env's name typed on a protected env, y/N on any
/// other. `--yes` answers for scripts; without a terminal and without `--yes` the answer is no.
pub fn confirm(ui: &Ui, env: &Env, yes: bool, what: &str) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !ui.interactive {
        eprintln!(
            "error: {what} needs confirmation, and there is no terminal to ask on; re-run with \
             --yes to confirm"
        );
        return Ok(false);
    }
    let name = env.name.as_str();
    let mut stderr = std::io::stderr();
    if env.file.protected {
        write!(
            stderr,
            "{what}\n{name} is a protected env: type its name to confirm: "
        )?;
    } else {
        write!(stderr, "{what}\nproceed? [y/N] ")?;
    }
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let agreed = confirms(env.file.protected, name, &answer);
    if !agreed {
        eprintln!("not confirmed; nothing was changed");
    }
    Ok(agreed)
}

/// Whether `answer` confirms: the env's name on a protected env, `y` or `yes` on another.
fn confirms(protected: bool, env: &str, answer: &str) -> bool {
    let answer = answer.trim();
    if protected {
        answer == env
    } else {
        matches!(answer, "y" | "Y" | "yes")
    }
}

#[cfg(test)]
mod tests {
    use super::confirms;

    #[test]
    fn a_protected_env_is_confirmed_only_by_typing_its_name() {
        assert!(confirms(true, "prod", "prod\n"));
        assert!(!confirms(true, "prod", "y\n"));
        assert!(!confirms(true, "prod", "staging\n"));
    }

    #[test]
    fn another_env_takes_y_and_anything_else_is_no() {
        assert!(confirms(false, "beta", "y\n"));
        assert!(confirms(false, "beta", "yes"));
        assert!(!confirms(false, "beta", "\n"));
        assert!(!confirms(false, "beta", "n"));
    }
}
