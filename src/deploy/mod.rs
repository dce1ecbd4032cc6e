//! Applying an env: change sets, stacks in dependency order, approval, progress and failures.
//!
//! This is the edge that mutates AWS, kept apart from the pure core (render, diff, plan file).
//! Each stack goes through a change set: created, shown as a diff (refined by what the change
//! set says), approved, executed and watched until CloudFormation is done. The engine talks to
//! CloudFormation only through [`api::StackApi`], so the states the sandbox cannot produce are
//! tested against a fake; [`sdk::Cfn`] is the real implementation.
//!
//! - [`jobs`]: what is deployed per stack; [`report`]: what happened.
//! - [`order`]: which stacks may deploy at the same time.
//! - [`changeset`]: creating change sets and recognising empty ones.
//! - [`approval`]: who has to agree, and how.
//! - [`progress`]: the live view or event lines, and polling back-off.
//! - [`failure`]: reading statuses, the first failure, rollback outcomes.
//! - [`policy`]: tags, IAM capabilities, the stack policy of protected envs.
//! - [`artifacts`]: the bucket for templates too large to send inline.
//! - [`deployed`]: the deployed stacks read and diffed against fresh renders (diff, plan, deploy).
//! - [`plan_file`]: the [`plan_file::PlanFile`] of `ce plan --out` and `ce deploy --plan`.
//! - [`planning`]: making a plan's change sets, and checking a plan is still current.
//! - [`destroy`]: deleting an env's stacks in reverse order, with a [`destroy::DestroyPreview`] first.
//! - [`timing`]: the tool's own time against time spent waiting.

pub mod api;
pub mod approval;
pub mod artifacts;
pub mod changeset;
pub mod deployed;
pub mod destroy;
mod engine;
#[cfg(test)]
mod engine_tests;
pub mod failure;
#[cfg(test)]
mod fake;
pub mod jobs;
pub mod order;
pub mod plan_file;
pub mod planning;
pub mod policy;
pub mod progress;
pub mod report;
pub mod sdk;
pub mod timing;

pub use approval::{Answers, Approval, RequireApproval};
pub use engine::{Engine, Recheck};
pub use jobs::{Planned, Settings, StackJob, job, sha256_hex};
pub use report::{DeployReport, Outcome, StackReport};

use crate::aws::AwsError;
use crate::diff::DiffError;

/// Why one stack could not be deployed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// An AWS call failed; its sentence (which names the stack where it matters) says what to do.
    #[error("{error}")]
    Aws {
        /// The stack.
        stack: String,
        /// The classified AWS error.
        error: AwsError,
    },
    /// CloudFormation could not make the change set.
    #[error("the change set for {stack} failed: {reason}{hint}")]
    ChangeSetFailed {
        /// The stack.
        stack: String,
        /// CloudFormation's reason.
        reason: String,
        /// What to do about it, when known (starts with "; ").
        hint: String,
    },
    /// The stack's state or the plan does not allow the deploy; the sentence says why.
    #[error("{0}")]
    Blocked(String),
    /// The templates could not be compared.
    #[error("comparing the templates of {stack}: {error}")]
    Diff {
        /// The stack.
        stack: String,
        /// Why.
        error: DiffError,
    },
    /// A prompt could not be read.
    #[error("reading the answer: {0}")]
    Prompt(#[from] std::io::Error),
}

impl DeployError {
    /// An AWS error on a stack.
    pub fn aws(stack: &str, error: AwsError) -> Self {
        DeployError::Aws {
            stack: stack.to_owned(),
            error,
        }
    }
}
