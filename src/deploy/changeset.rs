//! Change sets: creating one, waiting until CloudFormation has worked it out, and recognising
//! the one that changes nothing.
//!
//! A change set that "didn't contain changes" comes back as `FAILED`; that is an answer, not an
//! error: it is deleted and the stack is reported unchanged.

use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};

use super::DeployError;
use super::api::{ChangeSetDescription, ChangeSetRequest, CreatedChangeSet, StackApi};
use super::progress::Backoff;
use super::timing::Timing;
use crate::aws::errors::is_no_changes;

/// Polls of a change set being created before giving up (about ten minutes at the longest
/// delay); CloudFormation normally needs seconds.
const MAX_POLLS: usize = 64;

/// A change set once CloudFormation has worked it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prepared {
    /// It would change nothing; it has been deleted.
    Empty,
    /// It lists changes and can be executed.
    Ready(ChangeSetDescription),
}

/// A change set name unique per stack and second: `ce-<purpose>-20250102T030405Z`.
pub fn name(purpose: &str, unix_secs: i64) -> String {
    let stamp = DateTime::from_secs(unix_secs)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default();
    let stamp: String = stamp.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("ce-{purpose}-{stamp}")
}

/// Whether a change set's status means "nothing to change".
pub fn is_empty(description: &ChangeSetDescription) -> bool {
    description.status == "FAILED"
        && description
            .status_reason
            .as_deref()
            .is_some_and(is_no_changes)
}

/// Creates the change set, waits until it is worked out, and deletes it if it is empty.
pub async fn prepare<A: StackApi>(
    api: &A,
    timing: &Timing,
    request: &ChangeSetRequest,
) -> Result<(CreatedChangeSet, Prepared), DeployError> {
    let stack = &request.stack_name;
    let created = timing
        .aws(api.create_change_set(request))
        .await
        .map_err(|source| DeployError::aws(stack, source))?;
    let description = wait_worked_out(api, timing, stack, &created.id).await?;
    if is_empty(&description) {
        timing
            .aws(api.delete_change_set(&created.id))
            .await
            .map_err(|source| DeployError::aws(stack, source))?;
        return Ok((created, Prepared::Empty));
    }
    if description.status != "CREATE_COMPLETE" {
        let reason = description
            .status_reason
            .clone()
            .unwrap_or_else(|| format!("status {}", description.status));
        return Err(DeployError::ChangeSetFailed {
            stack: stack.clone(),
            hint: hint(&reason),
            reason,
        });
    }
    Ok((created, Prepared::Ready(description)))
}

/// Polls DescribeChangeSet until the change set is no longer being created.
pub async fn wait_worked_out<A: StackApi>(
    api: &A,
    timing: &Timing,
    stack: &str,
    id: &str,
) -> Result<ChangeSetDescription, DeployError> {
    let mut backoff = Backoff::new();
    for _ in 0..MAX_POLLS {
        timing.sleep(backoff.next_delay()).await;
        let description = timing
            .aws(api.describe_change_set(id))
            .await
            .map_err(|source| DeployError::aws(stack, source))?;
        if !matches!(
            description.status.as_str(),
            "CREATE_PENDING" | "CREATE_IN_PROGRESS"
        ) {
            return Ok(description);
        }
    }
    Err(DeployError::ChangeSetFailed {
        stack: stack.to_owned(),
        reason: format!("change set {id} was still being created after ten minutes"),
        hint: String::new(),
    })
}

/// What to do about a change set CloudFormation refused, when the reason is a known one.
fn hint(reason: &str) -> String {
    if reason.contains("No export named") {
        "; a stack this one imports from is missing or does not export that yet: deploy the \
         stacks it depends on first (`ce deploy` without --stack deploys them in order)"
            .to_owned()
    } else if reason.contains("Requires capabilities") {
        "; this is a bug in ce's capability detection".to_owned()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_change_set_names_with_a_utc_stamp() {
        assert_eq!(name("deploy", 1_735_787_045), "ce-deploy-20250102T030405Z");
    }

    #[test]
    fn a_change_set_without_changes_is_empty_not_failed() {
        let empty = ChangeSetDescription {
            status: "FAILED".into(),
            status_reason: Some(
                "The submitted information didn't contain changes. Submit different information \
                 to create a change set."
                    .into(),
            ),
            ..Default::default()
        };
        assert!(is_empty(&empty));
        let failed = ChangeSetDescription {
            status: "FAILED".into(),
            status_reason: Some("No export named ce-beta-network-VpcId found".into()),
            ..Default::default()
        };
        assert!(!is_empty(&failed));
        assert!(hint(failed.status_reason.as_deref().unwrap()).contains("deploy the stacks"));
    }
}
