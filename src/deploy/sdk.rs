//! [`StackApi`] through the AWS SDK: the only place the deploy engine's calls become requests.
//!
//! Every SDK error is classified in [`crate::aws::errors`]; DescribeChangeSet is read across
//! all its pages, so a large change set's evidence is complete.
//!
//! One stand-in for the local sandbox: moto 5.2 applies an executed change set's resources but
//! never wires its outputs or exports, and a stack made by a `CREATE` change set cannot import
//! at all, so a multi-stack env could never be bootstrapped there. Against the sandbox the change
//! set is still created, described and shown exactly as against AWS; only its execution is
//! carried out by the equivalent CreateStack or UpdateStack with the change set's own inputs.
//! Since moto ignores `ClientRequestToken`, a CreateStack whose answer was lost and which the
//! SDK retried is told the stack already exists; the stand-in recognises the stack its own
//! first attempt made instead of failing.
//!
//! Requests that AWS applied but whose answer was lost. CreateChangeSet carries a `ClientToken`
//! and ExecuteChangeSet a `ClientRequestToken`, unique per call, so CloudFormation can tell a
//! retry from a second request. ce does not rely on the token alone (the sandbox ignores both,
//! and a token only lives so long): CreateChangeSet is sent by ce itself rather than retried by
//! the SDK, and after an attempt that may have been applied (no answer, a server fault, "already
//! exists") ce first looks for the change set that attempt made — this run's name on this stack,
//! with this call's token in its description — and carries on with it; only when there is none
//! is the request sent again. An ExecuteChangeSet retry answered `InvalidChangeSetStatus` (or
//! "stack busy") is accepted when DescribeChangeSet shows this run's change set executing or
//! executed: the first attempt started it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
use aws_sdk_cloudformation::types::{
    self as cfn, ChangeSetType, Parameter as CfnParameter, StackStatus as SdkStackStatus, Tag,
};

use super::api::{
    ChangeSetDescription, ChangeSetKind, ChangeSetRequest, CreatedChangeSet, EventPage, StackApi,
    StackEvent, StackStatus, TemplateSource,
};
use crate::aws::cloudformation::{CloudFormation, DeployedStack, FetchError};
use crate::aws::{Aws, AwsError};
use crate::diff::ChangeSetEvidence;
use crate::diff::changeset::{
    ChangeAction, ChangeDetail, Replacement, RequiresRecreation, ResourceEvidence,
};

/// How many times ce sends one CreateChangeSet before reporting its error (the SDK's own
/// retries are off for it; see the module documentation).
const CREATE_ATTEMPTS: u32 = 4;
/// The wait before the second attempt; it doubles for each one after.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);

/// CloudFormation through the SDK.
#[derive(Clone, Debug)]
pub struct Cfn {
    cfn: CloudFormation,
    sandbox: bool,
}

impl Cfn {
    /// A client from the shared configuration.
    pub fn new(aws: &Aws) -> Self {
        Cfn {
            cfn: aws.cloudformation(),
            sandbox: aws.is_local(),
        }
    }

    pub(crate) fn client(&self) -> &Client {
        self.cfn.client()
    }

    /// The sandbox's stand-in for ExecuteChangeSet (see the module documentation): the change
    /// set is dropped and its inputs applied by CreateStack (after removing the empty
    /// `REVIEW_IN_PROGRESS` stack the change set made) or UpdateStack.
    async fn execute_on_sandbox(&self, id: &str, r: &ChangeSetRequest) -> Result<(), AwsError> {
        let name = r.stack_name.as_str();
        self.delete_change_set(id).await?;
        let parameters: Vec<CfnParameter> = r
            .parameters
            .iter()
            .map(|(k, v)| {
                CfnParameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        let capabilities: Vec<cfn::Capability> = r
            .capabilities
            .iter()
            .map(|c| cfn::Capability::from(c.as_str()))
            .collect();
        let tags: Vec<Tag> = r
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let (body, url) = match &r.template {
            TemplateSource::Body(body) => (Some(body.clone()), None),
            TemplateSource::Url(url) => (None, Some(url.clone())),
        };
        match r.kind {
            ChangeSetKind::Create => {
                self.delete_stack(name).await?;
                let sent_at = DateTime::from(SystemTime::now());
                let created = self
                    .client()
                    .create_stack()
                    .stack_name(name)
                    .set_template_body(body.clone())
                    .set_template_url(url)
                    .set_parameters(Some(parameters))
                    .set_capabilities(Some(capabilities))
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| AwsError::from_sdk("CreateStack", Some(name), e));
                match created {
                    Err(e) if e.is_already_exists() => {
                        if self
                            .made_by_this_call(name, sent_at, body.as_deref())
                            .await?
                        {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    }
                    other => other,
                }
            }
            ChangeSetKind::Update => self
                .client()
                .update_stack()
                .stack_name(name)
                .set_template_body(body)
                .set_template_url(url)
                .set_parameters(Some(parameters))
                .set_capabilities(Some(capabilities))
                .set_tags(Some(tags))
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsError::from_sdk("UpdateStack", Some(name), e)),
        }
    }
}

impl Cfn {
    /// The change set an earlier attempt of this CreateChangeSet call made, if there is one:
    /// this run's name on this stack, with this call's `mark` in its description. ListChangeSets
    /// rather than DescribeChangeSet by name, since the sandbox looks a name up across all
    /// stacks (every stack of a run has the same change-set name). A failed look finds nothing;
    /// the request is then sent again.
    async fn change_set_made_by(
        &self,
        request: &ChangeSetRequest,
        mark: &str,
    ) -> Option<CreatedChangeSet> {
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client()
                .list_change_sets()
                .stack_name(&request.stack_name)
                .set_next_token(next.take())
                .send()
                .await
                .ok()?;
            let found = out.summaries().iter().find(|s| {
                s.stack_name() == Some(request.stack_name.as_str())
                    && s.change_set_name() == Some(request.change_set_name.as_str())
                    && s.description().is_some_and(|d| d.ends_with(mark))
            });
            if let Some(s) = found {
                return Some(CreatedChangeSet {
                    id: s.change_set_id()?.to_owned(),
                    stack_id: s.stack_id()?.to_owned(),
                });
            }
            match out.next_token {
                Some(token) if !token.is_empty() => next = Some(token),
                _ => return None,
            }
        }
    }

    /// Whether the stack CreateStack was told "already exists" is the one this very call made:
    /// the first attempt was applied but its answer lost, and the SDK's retry found its work.
    /// It is when the stack was created no earlier than the call was sent and holds the
    /// template sent (a URL-sourced template is judged by the time alone). The stack this run
    /// deleted just before (the change set's empty one) cannot be it.
    async fn made_by_this_call(
        &self,
        name: &str,
        sent_at: DateTime,
        body: Option<&str>,
    ) -> Result<bool, AwsError> {
        let stack = match self.cfn.fetch_stack(name).await {
            Ok(Some(stack)) => stack,
            Ok(None) => return Ok(false),
            Err(FetchError::Aws(e)) => return Err(e),
            Err(_) => return Ok(false),
        };
        let created = stack
            .created
            .as_deref()
            .and_then(|t| DateTime::from_str(t, DateTimeFormat::DateTime).ok());
        // Creation times come back in whole seconds from some endpoints.
        let new_enough = created.is_some_and(|c| c.secs() >= sent_at.secs() - 1);
        let same_template = match body {
            Some(body) => serde_json::from_str::<serde_json::Value>(body)
                .is_ok_and(|sent| sent == stack.template),
            None => true,
        };
        Ok(new_enough
            && same_template
            && stack.status != "REVIEW_IN_PROGRESS"
            && !stack.status.starts_with("DELETE_"))
    }
}

impl StackApi for Cfn {
    async fn describe_stack(&self, name: &str) -> Result<Option<DeployedStack>, AwsError> {
        self.cfn.fetch_stack(name).await.map_err(|e| match e {
            FetchError::Aws(e) => e,
            other => AwsError::Other {
                operation: "GetTemplate".into(),
                code: "unreadable template".into(),
                message: other.to_string(),
            },
        })
    }

    async fn stack_status(&self, name: &str) -> Result<Option<StackStatus>, AwsError> {
        let answer = self
            .client()
            .describe_stacks()
            .stack_name(name)
            .send()
            .await;
        let stacks = match answer {
            Ok(out) => out.stacks.unwrap_or_default(),
            Err(e) => {
                return match AwsError::from_sdk("DescribeStacks", Some(name), e) {
                    e if e.is_stack_not_found() => Ok(None),
                    e => Err(e),
                };
            }
        };
        Ok(stacks
            .into_iter()
            .find(|s| s.stack_status != Some(SdkStackStatus::DeleteComplete))
            .map(|s| StackStatus {
                stack_id: s.stack_id.unwrap_or_default(),
                status: s
                    .stack_status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                reason: s.stack_status_reason,
            }))
    }

    async fn create_change_set(
        &self,
        request: &ChangeSetRequest,
    ) -> Result<CreatedChangeSet, AwsError> {
        let token = request_token(&request.stack_name, &request.change_set_name);
        let mark = description_mark(&token);
        let mut call = self
            .client()
            .create_change_set()
            .stack_name(&request.stack_name)
            .change_set_name(&request.change_set_name)
            .change_set_type(ChangeSetType::from(request.kind.as_str()))
            .description(format!("{}{mark}", request.description))
            .client_token(&token);
        call = match &request.template {
            TemplateSource::Body(body) => call.template_body(body),
            TemplateSource::Url(url) => call.template_url(url),
        };
        for (key, value) in &request.parameters {
            call = call.parameters(
                CfnParameter::builder()
                    .parameter_key(key)
                    .parameter_value(value)
                    .build(),
            );
        }
        for capability in &request.capabilities {
            call = call.capabilities(cfn::Capability::from(capability.as_str()));
        }
        for (key, value) in &request.tags {
            call = call.tags(Tag::builder().key(key).value(value).build());
        }
        let mut attempt = 1;
        loop {
            let once = aws_sdk_cloudformation::config::Builder::default()
                .retry_config(RetryConfig::disabled());
            let err = match call.clone().customize().config_override(once).send().await {
                Ok(out) => {
                    return Ok(CreatedChangeSet {
                        id: out.id.unwrap_or_default(),
                        stack_id: out.stack_id.unwrap_or_default(),
                    });
                }
                Err(e) => AwsError::from_sdk("CreateChangeSet", Some(&request.stack_name), e),
            };
            let failure = attempt_failure(&err);
            if matches!(
                failure,
                AttemptFailure::MaybeApplied | AttemptFailure::AlreadyExists
            ) && let Some(made) = self.change_set_made_by(request, &mark).await
            {
                return Ok(made);
            }
            if !failure.send_again() || attempt >= CREATE_ATTEMPTS {
                return Err(err);
            }
            tokio::time::sleep(FIRST_RETRY_DELAY * 2u32.pow(attempt - 1)).await;
            attempt += 1;
        }
    }

    async fn describe_change_set(&self, id: &str) -> Result<ChangeSetDescription, AwsError> {
        let mut description: Option<ChangeSetDescription> = None;
        let mut changes = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client()
                .describe_change_set()
                .change_set_name(id)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeChangeSet", None, e))?;
            changes.extend(out.changes.unwrap_or_default());
            // Every page repeats the change set's own fields; the first page's are kept.
            description.get_or_insert_with(|| ChangeSetDescription {
                id: out.change_set_id.unwrap_or_else(|| id.to_owned()),
                stack_id: out.stack_id.unwrap_or_default(),
                status: out
                    .status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                execution_status: out
                    .execution_status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                status_reason: out.status_reason,
                evidence: ChangeSetEvidence::default(),
            });
            match out.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => break,
            }
        }
        let mut description = description.unwrap_or_default();
        description.evidence = evidence(changes);
        Ok(description)
    }

    async fn execute_change_set(
        &self,
        id: &str,
        made_from: &ChangeSetRequest,
    ) -> Result<(), AwsError> {
        if self.sandbox {
            return self.execute_on_sandbox(id, made_from).await;
        }
        let token = request_token(&made_from.stack_name, id);
        let executed = self
            .client()
            .execute_change_set()
            .change_set_name(id)
            .client_request_token(&token)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("ExecuteChangeSet", Some(&made_from.stack_name), e));
        match executed {
            Err(e) if refuses_execution(&e) => {
                // The SDK's retry of an attempt whose answer was lost finds the change set
                // already executing: this run's own change set, started by that attempt.
                match self.describe_change_set(id).await {
                    Ok(d) if execution_started(&d.execution_status) => Ok(()),
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    async fn delete_change_set(&self, id: &str) -> Result<(), AwsError> {
        self.client()
            .delete_change_set()
            .change_set_name(id)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("DeleteChangeSet", None, e))
    }

    async fn stack_events(&self, stack: &str, page: Option<&str>) -> Result<EventPage, AwsError> {
        let out = self
            .client()
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(page.map(str::to_owned))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeStackEvents", Some(stack), e))?;
        let events = out
            .stack_events
            .unwrap_or_default()
            .into_iter()
            .map(|e| StackEvent {
                id: e.event_id.unwrap_or_default(),
                at_ms: e.timestamp.and_then(|t| t.to_millis().ok()).unwrap_or(0),
                logical_id: e.logical_resource_id.unwrap_or_default(),
                resource_type: e.resource_type.unwrap_or_default(),
                status: e
                    .resource_status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                reason: e.resource_status_reason,
            })
            .collect();
        Ok(EventPage {
            events,
            next: out.next_token.filter(|t| !t.is_empty()),
        })
    }

    async fn delete_stack(&self, name: &str) -> Result<(), AwsError> {
        self.client()
            .delete_stack()
            .stack_name(name)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("DeleteStack", Some(name), e))
    }

    async fn stack_policy(&self, name: &str) -> Result<Option<String>, AwsError> {
        let out = self
            .client()
            .get_stack_policy()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetStackPolicy", Some(name), e))?;
        Ok(out.stack_policy_body.filter(|b| !b.trim().is_empty()))
    }

    async fn set_stack_policy(&self, name: &str, policy: &str) -> Result<(), AwsError> {
        self.client()
            .set_stack_policy()
            .stack_name(name)
            .stack_policy_body(policy)
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsError::from_sdk("SetStackPolicy", Some(name), e))
    }

    async fn set_termination_protection(&self, name: &str, enabled: bool) -> Result<(), AwsError> {
        let call = self
            .client()
            .update_termination_protection()
            .stack_name(name)
            .enable_termination_protection(enabled);
        let sent = if self.sandbox {
            // moto 5.2 does not implement the call and answers HTTP 500 without an error code,
            // which the SDK takes for a passing server fault: tried once, not four times with
            // backoff (several seconds per stack of a protected env).
            let once = aws_sdk_cloudformation::config::Builder::default()
                .retry_config(RetryConfig::disabled());
            call.customize().config_override(once).send().await
        } else {
            call.send().await
        };
        sent.map(drop)
            .map_err(|e| AwsError::from_sdk("UpdateTerminationProtection", Some(name), e))
    }
}

/// What the error of one CreateChangeSet attempt says about the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttemptFailure {
    /// Refused: not applied, and sending it again would be refused again.
    Refused,
    /// Throttled: not applied; send it again.
    NotApplied,
    /// No answer, an unreadable one, or a server fault: it may have been applied. Look for its
    /// work, and send it again only if there is none.
    MaybeApplied,
    /// "Already exists": an earlier attempt's work, or someone else's. Look; never resend.
    AlreadyExists,
}

impl AttemptFailure {
    /// Whether the request may be sent again (after looking for its work where that applies).
    fn send_again(self) -> bool {
        matches!(
            self,
            AttemptFailure::NotApplied | AttemptFailure::MaybeApplied
        )
    }
}

/// Classifies the error of one attempt.
pub(crate) fn attempt_failure(err: &AwsError) -> AttemptFailure {
    match err {
        AwsError::Throttled { .. } => AttemptFailure::NotApplied,
        AwsError::Unreachable { .. } | AwsError::Unhandled { .. } => AttemptFailure::MaybeApplied,
        e if e.is_already_exists() => AttemptFailure::AlreadyExists,
        AwsError::Other { code, message, .. }
            if is_server_fault(code) || message.starts_with("unreadable response") =>
        {
            AttemptFailure::MaybeApplied
        }
        _ => AttemptFailure::Refused,
    }
}

/// The codes AWS answers a fault of its own with (which the SDK would retry).
fn is_server_fault(code: &str) -> bool {
    matches!(
        code,
        "InternalFailure"
            | "InternalError"
            | "InternalServiceError"
            | "ServiceUnavailable"
            | "RequestTimeout"
            | "RequestTimeoutException"
    )
}

/// Whether ExecuteChangeSet was refused because the change set cannot be executed (any more),
/// or its stack is busy: what a retry is told when its first attempt started the execution.
pub(crate) fn refuses_execution(err: &AwsError) -> bool {
    match err {
        AwsError::Other { code, .. } => code == "InvalidChangeSetStatus",
        AwsError::InProgress { .. } => true,
        _ => false,
    }
}

/// Whether a change set's execution status says it was executed (successfully or not).
pub(crate) fn execution_started(execution_status: &str) -> bool {
    matches!(
        execution_status,
        "EXECUTE_IN_PROGRESS" | "EXECUTE_COMPLETE" | "EXECUTE_FAILED"
    )
}

/// A token for one call, unique to it: `ce` and 30 hex digits, within what CloudFormation takes
/// for `ClientToken` and `ClientRequestToken` (1–128 characters, a letter first, then letters,
/// digits and hyphens). Uniqueness, not secrecy, is what it needs: a digest of what the call is
/// about, the time, the process and a counter.
fn request_token(stack: &str, what: &str) -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{stack}/{what}/{:?}/{}/{}",
        SystemTime::now(),
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    );
    format!("ce{}", &super::sha256_hex(&seed)[..30])
}

/// The end of a change set's description that names the call which made it.
fn description_mark(token: &str) -> String {
    format!(" (request {token})")
}

/// The diff's evidence from a change set's resource changes; anything it cannot read is left
/// out, so the prediction stands for it.
pub fn evidence(changes: Vec<cfn::Change>) -> ChangeSetEvidence {
    let resources = changes
        .into_iter()
        .filter_map(|c| c.resource_change)
        .filter_map(|rc| {
            let action = ChangeAction::parse(rc.action.as_ref()?.as_str())?;
            let details = rc
                .details
                .unwrap_or_default()
                .into_iter()
                .filter_map(|d| {
                    let target = d.target?;
                    Some(ChangeDetail {
                        attribute: target.attribute?.as_str().to_owned(),
                        name: target.name,
                        requires_recreation: target
                            .requires_recreation
                            .and_then(|r| RequiresRecreation::parse(r.as_str())),
                        causing_entity: d.causing_entity,
                    })
                })
                .collect();
            let evidence = ResourceEvidence {
                action,
                resource_type: rc.resource_type.unwrap_or_default(),
                replacement: rc.replacement.and_then(|r| Replacement::parse(r.as_str())),
                details,
            };
            Some((rc.logical_resource_id?, evidence))
        })
        .collect();
    ChangeSetEvidence { resources }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::{
        Change, ResourceAttribute, ResourceChange, ResourceChangeDetail, ResourceTargetDefinition,
    };

    #[test]
    fn a_change_sets_replacement_and_details_become_evidence() {
        let change = Change::builder()
            .resource_change(
                ResourceChange::builder()
                    .action(cfn::ChangeAction::Modify)
                    .logical_resource_id("LinksTable")
                    .resource_type("AWS::DynamoDB::Table")
                    .replacement(cfn::Replacement::True)
                    .details(
                        ResourceChangeDetail::builder()
                            .target(
                                ResourceTargetDefinition::builder()
                                    .attribute(ResourceAttribute::Properties)
                                    .name("KeySchema")
                                    .requires_recreation(cfn::RequiresRecreation::Always)
                                    .build(),
                            )
                            .causing_entity("Other")
                            .build(),
                    )
                    .build(),
            )
            .build();

        let evidence = evidence(vec![change]);

        let table = &evidence.resources["LinksTable"];
        assert_eq!(table.action, ChangeAction::Modify);
        assert_eq!(table.replacement, Some(Replacement::True));
        assert_eq!(
            table.details,
            vec![ChangeDetail {
                attribute: "Properties".into(),
                name: Some("KeySchema".into()),
                requires_recreation: Some(RequiresRecreation::Always),
                causing_entity: Some("Other".into()),
            }]
        );
    }

    fn other(code: &str, message: &str) -> AwsError {
        AwsError::Other {
            operation: "CreateChangeSet".into(),
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn a_create_attempt_that_may_have_been_applied_is_looked_for_before_it_is_sent_again() {
        let lost = AwsError::Unreachable {
            operation: "CreateChangeSet".into(),
            detail: "connection closed before message completed".into(),
        };
        assert_eq!(attempt_failure(&lost), AttemptFailure::MaybeApplied);
        let unreadable = other("HTTP 200", "unreadable response: body truncated");
        assert_eq!(attempt_failure(&unreadable), AttemptFailure::MaybeApplied);
        let fault = other("InternalFailure", "internal error");
        assert_eq!(attempt_failure(&fault), AttemptFailure::MaybeApplied);
        let no_code = AwsError::Unhandled {
            operation: "CreateChangeSet".into(),
            http_status: 502,
        };
        assert_eq!(attempt_failure(&no_code), AttemptFailure::MaybeApplied);
        assert!(AttemptFailure::MaybeApplied.send_again());

        let exists = other(
            "AlreadyExistsException",
            "ChangeSet ce-deploy-x already exists",
        );
        assert_eq!(attempt_failure(&exists), AttemptFailure::AlreadyExists);
        assert!(!AttemptFailure::AlreadyExists.send_again());

        let throttled = AwsError::Throttled {
            operation: "CreateChangeSet".into(),
            code: "Throttling".into(),
        };
        assert_eq!(attempt_failure(&throttled), AttemptFailure::NotApplied);
        assert!(AttemptFailure::NotApplied.send_again());

        for refused in [
            other("ValidationError", "Template format error"),
            other("InsufficientCapabilitiesException", "Requires capabilities"),
            AwsError::AccessDenied {
                operation: "CreateChangeSet".into(),
                code: "AccessDenied".into(),
                message: "no".into(),
            },
            AwsError::InProgress {
                stack: Some("ce-beta-compute".into()),
                status: "UPDATE_IN_PROGRESS".into(),
            },
        ] {
            assert_eq!(
                attempt_failure(&refused),
                AttemptFailure::Refused,
                "{refused}"
            );
            assert!(!AttemptFailure::Refused.send_again());
        }
    }

    #[test]
    fn an_execution_refused_because_it_already_runs_is_this_runs_own() {
        let refused = other(
            "InvalidChangeSetStatus",
            "ChangeSet [arn] cannot be executed in its current status of [EXECUTE_IN_PROGRESS]",
        );
        assert!(refuses_execution(&refused));
        assert!(refuses_execution(&AwsError::InProgress {
            stack: None,
            status: "UPDATE_IN_PROGRESS".into(),
        }));
        assert!(!refuses_execution(&other("ValidationError", "bad")));
        for started in ["EXECUTE_IN_PROGRESS", "EXECUTE_COMPLETE", "EXECUTE_FAILED"] {
            assert!(execution_started(started), "{started}");
        }
        // Never executed: the refusal stands (obsolete, failed to create, still available).
        for not_started in ["AVAILABLE", "UNAVAILABLE", "OBSOLETE", ""] {
            assert!(!execution_started(not_started), "{not_started}");
        }
    }

    #[test]
    fn request_tokens_are_unique_and_fit_cloudformations_pattern() {
        let a = request_token("ce-beta-network", "ce-deploy-20261130T010203Z");
        let b = request_token("ce-beta-network", "ce-deploy-20261130T010203Z");
        assert_ne!(a, b);
        for token in [&a, &b] {
            assert_eq!(token.len(), 32);
            assert!(token.starts_with("ce"));
            assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
        }
        assert_eq!(description_mark(&a), format!(" (request {a})"));
    }

    #[test]
    fn a_change_without_a_logical_id_or_action_is_left_out() {
        let change = Change::builder()
            .resource_change(ResourceChange::builder().logical_resource_id("X").build())
            .build();
        assert!(evidence(vec![change]).resources.is_empty());
    }
}
