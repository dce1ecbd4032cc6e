//! Reading stack statuses: what a stack's state allows before a deploy, when an operation has
//! ended, and, when it failed, which failure to show first and what the rollback left behind.
//!
//! A failed CloudFormation operation produces dozens of events, most of them consequences
//! ("Resource creation cancelled"); the first real failure is what the user needs, then the
//! outcome of the rollback and the exact command that gets the stack out of a stuck state.

use super::api::StackEvent;

/// How a deploy may begin, given the stack's current status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// The stack does not exist (or only a change set created it): a `CREATE` change set.
    Create,
    /// The stack is settled: an `UPDATE` change set.
    Update,
    /// A creation failed and rolled back; `--recreate-failed` deletes the stack first.
    Recreate,
    /// An operation is running: wait for it, never start a second one.
    Wait,
    /// The stack cannot be deployed as it is; the sentence says why and what to do.
    Blocked(String),
}

/// How a deploy may begin on a stack with `status` (`None`: no stack).
pub fn start(stack: &str, region: &str, status: Option<&str>, recreate_failed: bool) -> Start {
    let Some(status) = status else {
        return Start::Create;
    };
    match status {
        "REVIEW_IN_PROGRESS" => Start::Create,
        "ROLLBACK_COMPLETE" if recreate_failed => Start::Recreate,
        "ROLLBACK_COMPLETE" => Start::Blocked(format!(
            "{stack} is ROLLBACK_COMPLETE: its creation failed and was rolled back, so it holds \
             no resources and CloudFormation cannot update it. Fix the cause, then run `ce \
             deploy --recreate-failed` to delete it and create it again"
        )),
        s if s.ends_with("_IN_PROGRESS") => Start::Wait,
        "UPDATE_ROLLBACK_FAILED" => Start::Blocked(continue_rollback(stack, region)),
        "ROLLBACK_FAILED" | "CREATE_FAILED" => Start::Blocked(format!(
            "{stack} is {status}: its creation failed and could not be cleaned up. Delete it \
             (`aws cloudformation delete-stack --stack-name {stack} --region {region}`, deleting \
             by hand whatever it reports it cannot), then deploy again"
        )),
        "DELETE_FAILED" => Start::Blocked(format!(
            "{stack} is DELETE_FAILED: a deletion stopped half way, and the stack can only be \
             deleted again (`aws cloudformation delete-stack --stack-name {stack} --region \
             {region}`)"
        )),
        "UPDATE_FAILED" | "IMPORT_ROLLBACK_FAILED" => Start::Blocked(format!(
            "{stack} is {status}; look at its events (`aws cloudformation describe-stack-events \
             --stack-name {stack} --region {region}`) and bring it back to a settled state first"
        )),
        _ => Start::Update,
    }
}

/// The guidance for a stack whose update rollback failed.
pub fn continue_rollback(stack: &str, region: &str) -> String {
    format!(
        "{stack} is UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback, and \
         CloudFormation accepts no update until the rollback is finished. Fix what stopped the \
         rollback (the failure above), then run\n    aws cloudformation continue-update-rollback \
         --stack-name {stack} --region {region}\n  (add `--resources-to-skip <LogicalId>` for a \
         resource that cannot be rolled back), wait for UPDATE_ROLLBACK_COMPLETE, and deploy again"
    )
}

/// Where a running operation has got to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still running.
    Running,
    /// Finished as asked.
    Succeeded,
    /// Finished otherwise (rolled back, or stuck).
    Failed,
}

/// Where an operation on a stack is, from its status.
pub fn outcome(status: &str) -> Outcome {
    match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" | "DELETE_COMPLETE" => {
            Outcome::Succeeded
        }
        // Cleanup after a successful update changes nothing the deploy cares about.
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" => Outcome::Succeeded,
        "REVIEW_IN_PROGRESS" => Outcome::Failed,
        s if s.ends_with("_IN_PROGRESS") => Outcome::Running,
        _ => Outcome::Failed,
    }
}

/// The first event that explains a failure: the earliest resource that failed for a reason of
/// its own, not because another one did ("cancelled"); else the earliest failure at all.
pub fn first_failure(events: &[StackEvent]) -> Option<&StackEvent> {
    let failed = || {
        events
            .iter()
            .filter(|e| e.status.ends_with("_FAILED") && !e.is_stack_level())
    };
    failed()
        .find(|e| {
            !e.reason
                .as_deref()
                .unwrap_or_default()
                .to_ascii_lowercase()
                .contains("cancelled")
        })
        .or_else(|| failed().next())
}

/// What the final status means after a failed operation, in a sentence with what to do next.
pub fn rollback_outcome(stack: &str, region: &str, status: &str, reason: Option<&str>) -> String {
    let because = reason
        .filter(|r| !r.is_empty())
        .map(|r| format!(" (CloudFormation: {r})"))
        .unwrap_or_default();
    match status {
        "ROLLBACK_COMPLETE" => format!(
            "the creation of {stack} failed and was rolled back{because}: the stack holds no \
             resources and cannot be updated. Fix the cause, then run `ce deploy \
             --recreate-failed` to delete it and create it again"
        ),
        "UPDATE_ROLLBACK_COMPLETE" => format!(
            "the update of {stack} failed and was rolled back{because}: the stack is as it was \
             before this deploy"
        ),
        "UPDATE_ROLLBACK_FAILED" => continue_rollback(stack, region),
        "ROLLBACK_FAILED" | "CREATE_FAILED" => format!(
            "the creation of {stack} failed and so did the cleanup ({status}){because}; delete \
             it (`aws cloudformation delete-stack --stack-name {stack} --region {region}`) and \
             deploy again"
        ),
        "DELETE_FAILED" => format!(
            "{stack} could not be deleted (DELETE_FAILED){because}; delete what blocks it and \
             run `aws cloudformation delete-stack --stack-name {stack} --region {region}`"
        ),
        other => format!("{stack} ended in {other}{because}"),
    }
}

/// The first failure of an event list as a line: `LogicalId (Type) STATUS: reason`.
pub fn failure_line(event: &StackEvent) -> String {
    format!(
        "{} ({}) {}: {}",
        event.logical_id,
        event.resource_type,
        event.status,
        event.reason.as_deref().unwrap_or("no reason given")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(logical: &str, kind: &str, status: &str, reason: &str) -> StackEvent {
        StackEvent {
            id: format!("{logical}-{status}"),
            at_ms: 0,
            logical_id: logical.into(),
            resource_type: kind.into(),
            status: status.into(),
            reason: Some(reason.into()),
        }
    }

    #[test]
    fn the_first_failure_skips_cancellations_caused_by_it() {
        let events = [
            ev(
                "Lb",
                "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "CREATE_FAILED",
                "Resource creation cancelled",
            ),
            ev(
                "Listener",
                "AWS::ElasticLoadBalancingV2::Listener",
                "CREATE_FAILED",
                "Certificate 'arn:aws:acm:x' not found",
            ),
            ev(
                "s",
                "AWS::CloudFormation::Stack",
                "ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed",
            ),
        ];
        let first = first_failure(&events).expect("a failure");
        assert_eq!(first.logical_id, "Listener");
        assert_eq!(
            failure_line(first),
            "Listener (AWS::ElasticLoadBalancingV2::Listener) CREATE_FAILED: Certificate \
             'arn:aws:acm:x' not found"
        );
    }

    #[test]
    fn with_only_cancellations_the_earliest_failure_is_shown() {
        let events = [ev(
            "A",
            "AWS::SNS::Topic",
            "CREATE_FAILED",
            "Resource creation cancelled",
        )];
        assert_eq!(
            first_failure(&events).map(|e| e.logical_id.as_str()),
            Some("A")
        );
    }

    #[test]
    fn a_failed_update_rollback_names_the_exact_continue_command() {
        let text = rollback_outcome(
            "ce-prod-compute",
            "us-east-1",
            "UPDATE_ROLLBACK_FAILED",
            None,
        );
        assert!(
            text.contains(
                "aws cloudformation continue-update-rollback --stack-name ce-prod-compute \
                 --region us-east-1"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_rolled_back_creation_points_to_recreate_failed() {
        let text = rollback_outcome("ce-beta-edge", "us-east-1", "ROLLBACK_COMPLETE", Some("x"));
        assert!(text.contains("--recreate-failed"), "{text}");
        assert!(text.contains("holds no resources"), "{text}");
    }

    #[test]
    fn how_a_deploy_starts_follows_the_status() {
        let s = |status, recreate| start("ce-beta-edge", "us-east-1", status, recreate);
        assert_eq!(s(None, false), Start::Create);
        assert_eq!(s(Some("REVIEW_IN_PROGRESS"), false), Start::Create);
        assert_eq!(s(Some("UPDATE_ROLLBACK_COMPLETE"), false), Start::Update);
        assert_eq!(s(Some("UPDATE_IN_PROGRESS"), false), Start::Wait);
        assert_eq!(
            s(Some("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), false),
            Start::Wait
        );
        assert_eq!(s(Some("ROLLBACK_COMPLETE"), true), Start::Recreate);
        assert!(
            matches!(s(Some("ROLLBACK_COMPLETE"), false), Start::Blocked(t) if t.contains("--recreate-failed"))
        );
        assert!(
            matches!(s(Some("UPDATE_ROLLBACK_FAILED"), true), Start::Blocked(t) if t.contains("continue-update-rollback"))
        );
    }

    #[test]
    fn operations_end_in_success_or_failure() {
        assert_eq!(outcome("UPDATE_IN_PROGRESS"), Outcome::Running);
        assert_eq!(outcome("ROLLBACK_IN_PROGRESS"), Outcome::Running);
        assert_eq!(outcome("CREATE_COMPLETE"), Outcome::Succeeded);
        assert_eq!(
            outcome("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
            Outcome::Succeeded
        );
        assert_eq!(outcome("UPDATE_ROLLBACK_COMPLETE"), Outcome::Failed);
        assert_eq!(outcome("ROLLBACK_COMPLETE"), Outcome::Failed);
    }
}
