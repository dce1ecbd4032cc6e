//! Day-to-day operations on a deployed env: its builds (list, which is live, switching it, the
//! lock, the history) and its instances (list, rolling restart).
//!
//! Everything acts on the resources the tool itself deployed, found through the outputs of the
//! env's `ce-<env>-storage` and `ce-<env>-compute` stacks, never through hard-coded names. The
//! pure parts (key parsing, ordering, the "needs restart" judgement, the roll plan, the tables)
//! live in [`builds`], [`instances`], [`roll`] and [`table`]; the AWS calls in [`bucket`],
//! [`versionslog`] and [`fleet`]; [`release`] puts a build live through both (the older
//! `set-current` path), and [`bluegreen`] releases builds on fresh nodes of the idle colour.

pub mod bluegreen;
pub mod bucket;
pub mod builds;
pub mod fleet;
pub mod instances;
pub mod release;
pub mod retention;
pub mod roll;
pub mod statics;
pub mod table;
pub mod time;
pub mod versionslog;

use std::collections::BTreeMap;

use crate::architecture::{Export, StackId, stack_name};
use crate::aws::cloudformation::FetchError;
use crate::aws::{Aws, AwsError, Output};

/// Why an operation could not run.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A stack the operation needs is not deployed.
    #[error("stack {stack} does not exist; deploy the env first (`ce --env {env} deploy`)")]
    StackMissing {
        /// The stack's name.
        stack: String,
        /// The env.
        env: String,
    },
    /// A deployed stack lacks an output this tool writes: it was deployed by something else or
    /// by an older `ce`.
    #[error("stack {stack} has no output {output}; redeploy it with this version of ce")]
    OutputMissing {
        /// The stack's name.
        stack: String,
        /// The output's name.
        output: String,
    },
    /// The compute stack names a group that does not exist.
    #[error("Auto Scaling group {group} does not exist; is the compute stack deployed?")]
    GroupMissing {
        /// The group's name.
        group: String,
    },
    /// The change was refused (a lock, a change under way, a lost race).
    #[error(transparent)]
    Release(Box<release::ReleaseError>),
    /// The build's static files cannot go up.
    #[error(transparent)]
    Static(#[from] statics::StaticError),
    /// A deploy is changing one of the env's stacks: a release, switch or rollback waits.
    #[error(
        "stack {stack} is {status}: a deploy is changing {env}'s stacks, and a release, switch \
         or rollback must not run beside it (the deploy may resize the groups or move the live \
         route); nothing was changed. Wait for the deploy to end (`ce --env {env} status` \
         shows it) and re-run"
    )]
    Deploying {
        /// The env.
        env: String,
        /// The stack being changed.
        stack: String,
        /// Its `*_IN_PROGRESS` status.
        status: String,
    },
    /// Something AWS answered makes the operation impossible.
    #[error("{0}")]
    Refused(String),
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The stacks could not be read.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// The env's resources the operations act on, read from its stacks' outputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resources {
    /// The env's name.
    pub env: String,
    /// The builds bucket (tarballs and the `version/<env>` pointer).
    pub builds_bucket: String,
    /// The versions log table (deploy history, the change head, the lock).
    pub versions_table: String,
    /// The static files bucket CloudFront serves `static/` from.
    pub static_bucket: Option<String>,
    /// The compute stack's outputs, absent when it is not deployed.
    compute: Option<BTreeMap<String, Output>>,
}

impl Resources {
    /// Reads the storage and compute stacks of `env` (concurrently). The storage stack must
    /// exist; the compute stack only matters to the instance commands.
    pub async fn read(aws: &Aws, env: &str) -> Result<Self, OpsError> {
        let storage = stack_name(env, StackId::Storage);
        let compute = stack_name(env, StackId::Compute);
        let mut stacks = aws
            .cloudformation()
            .fetch_stacks([storage.clone(), compute])
            .await?
            .into_iter();
        let storage_stack = stacks.next().flatten().ok_or(OpsError::StackMissing {
            stack: storage.clone(),
            env: env.to_owned(),
        })?;
        let compute_stack = stacks.next().flatten();
        let output = |name: &str| {
            storage_stack
                .outputs
                .get(name)
                .map(|o| o.value.clone())
                .ok_or_else(|| OpsError::OutputMissing {
                    stack: storage.clone(),
                    output: name.to_owned(),
                })
        };
        Ok(Resources {
            env: env.to_owned(),
            builds_bucket: output(Export::BuildsBucketName.output_name())?,
            versions_table: output(Export::VersionsLogTableName.output_name())?,
            static_bucket: output(Export::StaticBucketName.output_name()).ok(),
            compute: compute_stack.map(|s| s.outputs),
        })
    }

    /// An output of the compute stack.
    pub fn compute_output(&self, name: &str) -> Result<String, OpsError> {
        let stack = stack_name(&self.env, StackId::Compute);
        let outputs = self
            .compute
            .as_ref()
            .ok_or_else(|| OpsError::StackMissing {
                stack: stack.clone(),
                env: self.env.clone(),
            })?;
        outputs
            .get(name)
            .map(|o| o.value.clone())
            .ok_or_else(|| OpsError::OutputMissing {
                stack,
                output: name.to_owned(),
            })
    }
}

/// Who is acting, as recorded in the versions log and on locks: `$CE_OPERATOR` when set (CI
/// jobs name themselves), else `user@host`.
pub fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok();
    operator_from(std::env::var("CE_OPERATOR").ok(), user, &hostname())
}

fn operator_from(named: Option<String>, user: Option<String>, host: &str) -> String {
    match named.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(name) => name.to_owned(),
        None => format!("{}@{host}", user.as_deref().unwrap_or("unknown")),
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The AWS principal acting (STS caller ARN), kept in the log beside the operator's name.
pub async fn principal(aws: &Aws) -> Result<String, AwsError> {
    let identity = aws
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetCallerIdentity", None, e))?;
    Ok(identity.arn.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_is_ce_operator_when_set_else_user_at_host() {
        assert_eq!(
            operator_from(Some(" ci-release ".into()), Some("alice".into()), "admin"),
            "ci-release"
        );
        assert_eq!(
            operator_from(Some(" ".into()), Some("alice".into()), "admin"),
            "alice@admin"
        );
        assert_eq!(operator_from(None, None, "admin"), "unknown@admin");
    }
}
