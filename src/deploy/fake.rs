//! A fake CloudFormation for the engine's tests, fed with recorded responses
//! (`tests/fixtures/deploy/*.json`, in the API's own JSON shapes).
//!
//! It plays the states the sandbox cannot: an execution that fails and rolls back with
//! resource-level events, an update rollback that fails, an update started by someone else,
//! an obsolete or empty change set. Every call is logged so tests can assert what was (and
//! was never) done, in what order.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};

use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
use serde_json::{Value, json};

use super::api::{
    ChangeSetDescription, ChangeSetKind, ChangeSetRequest, CreatedChangeSet, EventPage, StackApi,
    StackEvent, StackStatus, TemplateSource,
};
use crate::aws::AwsError;
use crate::aws::cloudformation::DeployedStack;
use crate::diff::ChangeSetEvidence;
use crate::diff::changeset::{
    ChangeAction, ChangeDetail, Replacement, RequiresRecreation, ResourceEvidence,
};

/// A recorded operation: the statuses DescribeStacks answered in poll order, and the events.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// Statuses in poll order; the last one stays.
    pub statuses: Vec<StackStatus>,
    /// Events, newest first.
    pub events: Vec<StackEvent>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Reads a fixture with `DescribeStacks` (a list of answers) and `DescribeStackEvents`.
pub fn recording(fixture: &str) -> Recording {
    let doc: Value = serde_json::from_str(fixture).expect("fixture is JSON");
    let statuses = doc["DescribeStacks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|answer| {
            let stack = &answer["Stacks"][0];
            StackStatus {
                stack_id: text(stack, "StackId").unwrap_or_default(),
                status: text(stack, "StackStatus").unwrap_or_default(),
                reason: text(stack, "StackStatusReason"),
            }
        })
        .collect();
    let events = doc["DescribeStackEvents"]["StackEvents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| StackEvent {
            id: text(e, "EventId").unwrap_or_default(),
            at_ms: text(e, "Timestamp")
                .and_then(|t| DateTime::from_str(&t, DateTimeFormat::DateTime).ok())
                .and_then(|t| t.to_millis().ok())
                .unwrap_or(0),
            logical_id: text(e, "LogicalResourceId").unwrap_or_default(),
            resource_type: text(e, "ResourceType").unwrap_or_default(),
            status: text(e, "ResourceStatus").unwrap_or_default(),
            reason: text(e, "ResourceStatusReason"),
        })
        .collect();
    Recording { statuses, events }
}

/// Reads a fixture with a `DescribeChangeSet` answer.
pub fn change_set(fixture: &str) -> ChangeSetDescription {
    let doc: Value = serde_json::from_str(fixture).expect("fixture is JSON");
    let cs = &doc["DescribeChangeSet"];
    let resources = cs["Changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let rc = &c["ResourceChange"];
            let details = rc["Details"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| ChangeDetail {
                    attribute: text(&d["Target"], "Attribute").unwrap_or_default(),
                    name: text(&d["Target"], "Name"),
                    requires_recreation: text(&d["Target"], "RequiresRecreation")
                        .and_then(|r| RequiresRecreation::parse(&r)),
                    causing_entity: text(d, "CausingEntity"),
                })
                .collect();
            let evidence = ResourceEvidence {
                action: ChangeAction::parse(&text(rc, "Action")?)?,
                resource_type: text(rc, "ResourceType").unwrap_or_default(),
                replacement: text(rc, "Replacement").and_then(|r| Replacement::parse(&r)),
                details,
            };
            Some((text(rc, "LogicalResourceId")?, evidence))
        })
        .collect();
    ChangeSetDescription {
        id: text(cs, "ChangeSetId").unwrap_or_default(),
        stack_id: text(cs, "StackId").unwrap_or_default(),
        status: text(cs, "Status").unwrap_or_default(),
        execution_status: text(cs, "ExecutionStatus").unwrap_or_default(),
        status_reason: text(cs, "StatusReason"),
        evidence: ChangeSetEvidence { resources },
    }
}

/// A deployed stack as DescribeStacks and GetTemplate would give it.
pub fn deployed(name: &str, status: &str, template: Value) -> DeployedStack {
    DeployedStack {
        name: name.to_owned(),
        stack_id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1"),
        status: status.to_owned(),
        status_reason: None,
        created: Some("2024-01-01T00:00:00Z".into()),
        last_updated: None,
        parameters: BTreeMap::new(),
        outputs: BTreeMap::new(),
        tags: BTreeMap::new(),
        termination_protection: false,
        drift: None,
        drift_checked: None,
        template,
    }
}

#[derive(Default)]
struct Entry {
    deployed: Option<DeployedStack>,
    script: VecDeque<StackStatus>,
    hidden_events: Vec<StackEvent>,
    events: Vec<StackEvent>,
    on_execute: Option<Recording>,
    deleting: bool,
    policy: Option<String>,
}

struct FakeChangeSet {
    stack: String,
    kind: ChangeSetKind,
    template: Value,
    description: ChangeSetDescription,
}

/// The fake.
#[derive(Default)]
pub struct Fake {
    stacks: RefCell<BTreeMap<String, Entry>>,
    change_sets: RefCell<BTreeMap<String, FakeChangeSet>>,
    next_change_set: RefCell<VecDeque<ChangeSetDescription>>,
    calls: RefCell<Vec<String>>,
    counter: Cell<u32>,
    failing_status_reads: Cell<u32>,
}

impl Fake {
    /// A stack that exists.
    pub fn with_stack(self, stack: DeployedStack) -> Self {
        self.stacks.borrow_mut().insert(
            stack.name.clone(),
            Entry {
                deployed: Some(stack),
                ..Entry::default()
            },
        );
        self
    }

    /// The next `n` status reads fail as throttled (after the SDK's retries, as it were).
    pub fn with_failing_status_reads(self, n: u32) -> Self {
        self.failing_status_reads.set(n);
        self
    }

    /// The stack's current stack policy.
    pub fn with_policy(self, name: &str, policy: &str) -> Self {
        self.stacks
            .borrow_mut()
            .entry(name.to_owned())
            .or_default()
            .policy = Some(policy.to_owned());
        self
    }

    /// An operation someone else runs on the stack: polls answer `recording` from now on.
    pub fn with_running(self, name: &str, recording: Recording) -> Self {
        {
            let mut stacks = self.stacks.borrow_mut();
            let entry = stacks.entry(name.to_owned()).or_default();
            entry.script = recording.statuses.into();
            entry.hidden_events = recording.events;
        }
        self
    }

    /// What executing a change set on the stack plays back.
    pub fn on_execute(self, name: &str, recording: Recording) -> Self {
        self.stacks
            .borrow_mut()
            .entry(name.to_owned())
            .or_default()
            .on_execute = Some(recording);
        self
    }

    /// A change set that exists already (one a plan kept), made from `template`.
    pub fn with_change_set(self, description: ChangeSetDescription, template: Value) -> Self {
        let stack = description
            .stack_id
            .split('/')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        self.change_sets.borrow_mut().insert(
            description.id.clone(),
            FakeChangeSet {
                stack,
                kind: ChangeSetKind::Update,
                template,
                description,
            },
        );
        self
    }

    /// How the next change set created turns out (default: available, no changes listed).
    pub fn next_change_set(self, description: ChangeSetDescription) -> Self {
        self.next_change_set.borrow_mut().push_back(description);
        self
    }

    /// Every call so far, as `Operation stack [detail]`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    /// Calls of one operation.
    pub fn calls_of(&self, operation: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.split(' ').next() == Some(operation))
            .collect()
    }

    fn log(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }

    fn change_set_by_id(&self, id: &str) -> Result<(), AwsError> {
        if self.change_sets.borrow().contains_key(id) {
            Ok(())
        } else {
            Err(AwsError::StackNotFound {
                stack: Some(id.to_owned()),
            })
        }
    }
}

impl StackApi for Fake {
    async fn describe_stack(&self, name: &str) -> Result<Option<DeployedStack>, AwsError> {
        self.log(format!("DescribeStacks+GetTemplate {name}"));
        let stacks = self.stacks.borrow();
        Ok(stacks.get(name).and_then(|e| e.deployed.clone()))
    }

    async fn stack_status(&self, name: &str) -> Result<Option<StackStatus>, AwsError> {
        if self.failing_status_reads.get() > 0 {
            self.failing_status_reads
                .set(self.failing_status_reads.get() - 1);
            self.log(format!("DescribeStacks {name} throttled"));
            return Err(AwsError::Throttled {
                operation: "DescribeStacks".into(),
                code: "Throttling".into(),
            });
        }
        let mut stacks = self.stacks.borrow_mut();
        let Some(entry) = stacks.get_mut(name) else {
            self.log(format!("DescribeStacks {name} absent"));
            return Ok(None);
        };
        if entry.deleting {
            entry.deployed = None;
            entry.deleting = false;
        }
        if let Some(next) = entry.script.pop_front() {
            let revealed = std::mem::take(&mut entry.hidden_events);
            entry.events.splice(0..0, revealed);
            if let Some(d) = entry.deployed.as_mut() {
                next.status.clone_into(&mut d.status);
                d.status_reason.clone_from(&next.reason);
            }
        }
        let status = entry.deployed.as_ref().map(|d| StackStatus {
            stack_id: d.stack_id.clone(),
            status: d.status.clone(),
            reason: d.status_reason.clone(),
        });
        let shown = status.as_ref().map_or("absent", |s| s.status.as_str());
        self.log(format!("DescribeStacks {name} {shown}"));
        Ok(status)
    }

    async fn create_change_set(
        &self,
        request: &ChangeSetRequest,
    ) -> Result<CreatedChangeSet, AwsError> {
        let name = &request.stack_name;
        self.log(format!("CreateChangeSet {name} {}", request.kind.as_str()));
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let mut stacks = self.stacks.borrow_mut();
        let entry = stacks.entry(name.clone()).or_default();
        match (request.kind, &entry.deployed) {
            (ChangeSetKind::Create, None) => {
                entry.deployed = Some(deployed(name, "REVIEW_IN_PROGRESS", json!({})));
            }
            (ChangeSetKind::Update, None) => {
                return Err(AwsError::StackNotFound {
                    stack: Some(name.clone()),
                });
            }
            _ => {}
        }
        let stack_id = entry
            .deployed
            .as_ref()
            .map(|d| d.stack_id.clone())
            .unwrap_or_default();
        let id = format!(
            "arn:aws:cloudformation:us-east-1:123456789012:changeSet/{}/{n}",
            request.change_set_name
        );
        let template = match &request.template {
            TemplateSource::Body(body) => serde_json::from_str(body).unwrap_or(Value::Null),
            TemplateSource::Url(_) => Value::Null,
        };
        let description = self
            .next_change_set
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| ChangeSetDescription {
                status: "CREATE_COMPLETE".into(),
                execution_status: "AVAILABLE".into(),
                ..ChangeSetDescription::default()
            });
        self.change_sets.borrow_mut().insert(
            id.clone(),
            FakeChangeSet {
                stack: name.clone(),
                kind: request.kind,
                template,
                description: ChangeSetDescription {
                    id: id.clone(),
                    stack_id: stack_id.clone(),
                    ..description
                },
            },
        );
        Ok(CreatedChangeSet { id, stack_id })
    }

    async fn describe_change_set(&self, id: &str) -> Result<ChangeSetDescription, AwsError> {
        self.log(format!("DescribeChangeSet {id}"));
        self.change_set_by_id(id)?;
        Ok(self.change_sets.borrow()[id].description.clone())
    }

    async fn execute_change_set(
        &self,
        id: &str,
        _made_from: &ChangeSetRequest,
    ) -> Result<(), AwsError> {
        self.change_set_by_id(id)?;
        let change_sets = self.change_sets.borrow();
        let cs = &change_sets[id];
        self.log(format!("ExecuteChangeSet {}", cs.stack));
        let mut stacks = self.stacks.borrow_mut();
        let entry = stacks.entry(cs.stack.clone()).or_default();
        let recording = entry.on_execute.take().unwrap_or_else(|| {
            let done = match cs.kind {
                ChangeSetKind::Create => "CREATE_COMPLETE",
                ChangeSetKind::Update => "UPDATE_COMPLETE",
            };
            Recording {
                statuses: vec![StackStatus {
                    stack_id: cs.description.stack_id.clone(),
                    status: done.into(),
                    reason: None,
                }],
                events: vec![StackEvent {
                    id: format!("{id}-{done}"),
                    at_ms: 1_700_000_000_000,
                    logical_id: cs.stack.clone(),
                    resource_type: "AWS::CloudFormation::Stack".into(),
                    status: done.into(),
                    reason: None,
                }],
            }
        });
        let succeeds = recording
            .statuses
            .last()
            .is_some_and(|s| s.status.ends_with("_COMPLETE") && !s.status.contains("ROLLBACK"));
        if succeeds && let Some(d) = entry.deployed.as_mut() {
            d.template = cs.template.clone();
        }
        entry.script = recording.statuses.into();
        entry.hidden_events = recording.events;
        Ok(())
    }

    async fn delete_change_set(&self, id: &str) -> Result<(), AwsError> {
        self.change_set_by_id(id)?;
        let cs = self.change_sets.borrow_mut().remove(id);
        self.log(format!(
            "DeleteChangeSet {}",
            cs.map(|c| c.stack).unwrap_or_default()
        ));
        Ok(())
    }

    async fn stack_events(&self, stack: &str, _page: Option<&str>) -> Result<EventPage, AwsError> {
        let stacks = self.stacks.borrow();
        Ok(EventPage {
            events: stacks
                .get(stack)
                .map(|e| e.events.clone())
                .unwrap_or_default(),
            next: None,
        })
    }

    async fn delete_stack(&self, name: &str) -> Result<(), AwsError> {
        self.log(format!("DeleteStack {name}"));
        if let Some(entry) = self.stacks.borrow_mut().get_mut(name) {
            entry.deleting = true;
        }
        Ok(())
    }

    async fn stack_policy(&self, name: &str) -> Result<Option<String>, AwsError> {
        self.log(format!("GetStackPolicy {name}"));
        Ok(self
            .stacks
            .borrow()
            .get(name)
            .and_then(|e| e.policy.clone()))
    }

    async fn set_stack_policy(&self, name: &str, policy: &str) -> Result<(), AwsError> {
        self.log(format!("SetStackPolicy {name} {policy}"));
        if let Some(entry) = self.stacks.borrow_mut().get_mut(name) {
            entry.policy = Some(policy.to_owned());
        }
        Ok(())
    }

    async fn set_termination_protection(&self, name: &str, enabled: bool) -> Result<(), AwsError> {
        self.log(format!("UpdateTerminationProtection {name} {enabled}"));
        Ok(())
    }
}
