//! What a deploy did, per stack and in all: the outcome, the last status, the diff and the
//! messages a user needs, and the exit status they add up to.

use serde::Serialize;
use serde_json::Value;

use crate::Status;
use crate::diff::DiffClass;

/// How one stack's deploy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The stack was created.
    Created,
    /// The stack was updated.
    Updated,
    /// Nothing to change.
    NoChanges,
    /// Not executed: approval was needed and could not be given here.
    Refused,
    /// Not executed: the person at the terminal said no.
    Declined,
    /// It failed; the messages say how.
    Failed,
    /// Never started, because a stack before it did not succeed.
    NotStarted,
}

impl Outcome {
    /// Its name in text output: `created`, `no changes`, `not started`...
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::NoChanges => "no changes",
            Outcome::Refused => "refused",
            Outcome::Declined => "declined",
            Outcome::Failed => "failed",
            Outcome::NotStarted => "not started",
        }
    }

    /// Whether stacks depending on this one may go ahead.
    pub fn ok(self) -> bool {
        matches!(
            self,
            Outcome::Created | Outcome::Updated | Outcome::NoChanges
        )
    }
}

/// What happened to one stack.
#[derive(Clone, Debug, Serialize)]
pub struct StackReport {
    /// `ce-<env>-<stack>`.
    pub stack_name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Its last CloudFormation status, when read.
    pub status: Option<String>,
    /// The change set made or executed.
    pub change_set_id: Option<String>,
    /// The diff's class, when a diff was made.
    pub class: Option<DiffClass>,
    /// The diff in its JSON form.
    pub diff: Option<Value>,
    /// What the user needs to know: the first failure, the rollback outcome, a refusal.
    pub messages: Vec<String>,
    /// The exit status this stack asks for.
    #[serde(skip)]
    pub exit: Status,
}

impl StackReport {
    /// A report for a stack that has got nowhere yet.
    pub(crate) fn new(name: &str) -> Self {
        StackReport {
            stack_name: name.to_owned(),
            outcome: Outcome::NoChanges,
            status: None,
            change_set_id: None,
            class: None,
            diff: None,
            messages: Vec::new(),
            exit: Status::Success,
        }
    }

    /// A stack never started.
    pub fn not_started(name: &str) -> Self {
        StackReport {
            outcome: Outcome::NotStarted,
            ..Self::new(name)
        }
    }
}

/// What happened to every stack of a deploy.
#[derive(Clone, Debug, Serialize)]
pub struct DeployReport {
    /// The env.
    pub env: String,
    /// One report per stack, in deploy order.
    pub stacks: Vec<StackReport>,
}

impl DeployReport {
    /// The exit status: 1 when anything failed or was declined, else 3 or 1 for a refusal,
    /// else 0.
    pub fn status(&self) -> Status {
        let failed = self
            .stacks
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Failed | Outcome::Declined));
        if failed {
            return Status::Failure;
        }
        self.stacks
            .iter()
            .filter(|s| s.outcome == Outcome::Refused)
            .map(|s| s.exit)
            .max_by_key(|s| s.code())
            .unwrap_or(Status::Success)
    }
}
