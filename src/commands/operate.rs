//! What the operations commands (`builds`, `instances`) share: reaching a deployed env, and
//! asking the operator before changing it.

use std::io::{BufRead, Write};

use anyhow::Result;

use super::{Context, Purpose, Remote};
use crate::aws::Aws;
use crate::config::Env;
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

/// Reaches the env named by `--env` (starting the sandbox for `--local`).
pub fn remote(ctx: &Context) -> Result<Remote> {
    ctx.remote(ctx.env()?, Purpose::Operate)
}

/// Reads the env's stacks.
pub async fn connect(remote: &Remote) -> Result<Session> {
    let aws = remote.aws().await.clone();
    let resources = Resources::read(&aws, remote.env.name.as_str()).await?;
    Ok(Session {
        env: remote.env.clone(),
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
pub fn confirm(ctx: &Context, env: &Env, yes: bool, what: &str) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !ctx.interactive {
        ctx.printer.note(format_args!(
            "error: {what} needs confirmation, and there is no terminal to ask on; re-run with \
             --yes to confirm"
        ))?;
        return Ok(false);
    }
    let name = env.name.as_str();
    let mut stderr = ctx.printer.stderr();
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
        ctx.printer.note("not confirmed; nothing was changed")?;
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
