//! The narrow seam between the deploy engine and CloudFormation.
//!
//! The engine only ever talks to CloudFormation through [`StackApi`], so the states the local
//! emulator cannot produce (a creation rolled back with resource-level events, a failed update
//! rollback, an update started by someone else, an obsolete change set) are exercised against a
//! fake fed with recorded responses, while [`super::sdk::Cfn`] is the one implementation that
//! calls AWS. The types here are the few fields the engine reads, not the SDK's shapes.

use std::collections::BTreeMap;

use crate::aws::AwsError;
use crate::aws::cloudformation::DeployedStack;
use crate::diff::ChangeSetEvidence;

/// Whether a change set creates the stack or updates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSetKind {
    /// `CREATE`: the stack does not exist yet (or exists only in `REVIEW_IN_PROGRESS`).
    Create,
    /// `UPDATE`: the stack exists.
    Update,
}

impl ChangeSetKind {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeSetKind::Create => "CREATE",
            ChangeSetKind::Update => "UPDATE",
        }
    }
}

/// Where CloudFormation reads the template from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateSource {
    /// `TemplateBody`: the compact JSON itself (at most 51,200 bytes).
    Body(String),
    /// `TemplateURL`: an object in the artifacts bucket, for larger templates.
    Url(String),
}

/// An IAM capability a template needs acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    /// `CAPABILITY_IAM`: the template creates IAM resources.
    Iam,
    /// `CAPABILITY_NAMED_IAM`: it creates IAM resources with explicit names.
    NamedIam,
}

impl Capability {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Iam => "CAPABILITY_IAM",
            Capability::NamedIam => "CAPABILITY_NAMED_IAM",
        }
    }
}

/// Everything a CreateChangeSet call sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeSetRequest {
    /// `ce-<env>-<stack>`.
    pub stack_name: String,
    /// The change set's name, unique per stack.
    pub change_set_name: String,
    /// Create or update.
    pub kind: ChangeSetKind,
    /// The template, inline or by URL.
    pub template: TemplateSource,
    /// Parameter values by name.
    pub parameters: BTreeMap<String, String>,
    /// Acknowledged capabilities.
    pub capabilities: Vec<Capability>,
    /// Stack tags, which CloudFormation propagates to the resources.
    pub tags: BTreeMap<String, String>,
    /// The change set's description.
    pub description: String,
}

/// What CreateChangeSet answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedChangeSet {
    /// The change set's ARN.
    pub id: String,
    /// The stack's ARN (a new one for a `CREATE` change set).
    pub stack_id: String,
}

/// A change set as DescribeChangeSet reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSetDescription {
    /// The change set's ARN.
    pub id: String,
    /// Its stack's ARN.
    pub stack_id: String,
    /// `CREATE_PENDING`, `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `FAILED`, ...
    pub status: String,
    /// `AVAILABLE`, `UNAVAILABLE`, `OBSOLETE`, `EXECUTE_COMPLETE`, ...
    pub execution_status: String,
    /// Why it has that status, when CloudFormation says.
    pub status_reason: Option<String>,
    /// The resource changes it lists, as evidence for the diff.
    pub evidence: ChangeSetEvidence,
}

/// A stack's status without its template: what the engine polls while waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackStatus {
    /// The stack's ARN.
    pub stack_id: String,
    /// E.g. `UPDATE_IN_PROGRESS`.
    pub status: String,
    /// Why it has that status, when CloudFormation says.
    pub reason: Option<String>,
}

/// One stack event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackEvent {
    /// `EventId`, unique per stack.
    pub id: String,
    /// When it happened, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The resource's logical id (the stack's name for stack-level events).
    pub logical_id: String,
    /// The resource's type (`AWS::CloudFormation::Stack` for stack-level events).
    pub resource_type: String,
    /// E.g. `CREATE_FAILED`.
    pub status: String,
    /// Why, when CloudFormation says.
    pub reason: Option<String>,
}

impl StackEvent {
    /// Whether the event is about the stack itself rather than one of its resources.
    pub fn is_stack_level(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// One page of DescribeStackEvents, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventPage {
    /// The events, newest first.
    pub events: Vec<StackEvent>,
    /// The token of the next (older) page, if any.
    pub next: Option<String>,
}

/// The CloudFormation calls the deploy engine makes.
///
/// The futures need not be `Send`: the engine runs on the single-threaded runtime of one
/// command and never spawns them.
#[allow(async_fn_in_trait)]
pub trait StackApi {
    /// The stack with its template; `None` when it does not exist.
    async fn describe_stack(&self, name: &str) -> Result<Option<DeployedStack>, AwsError>;
    /// The stack's status alone (one DescribeStacks); `None` when it does not exist.
    async fn stack_status(&self, name: &str) -> Result<Option<StackStatus>, AwsError>;
    /// CreateChangeSet.
    async fn create_change_set(
        &self,
        request: &ChangeSetRequest,
    ) -> Result<CreatedChangeSet, AwsError>;
    /// DescribeChangeSet, all pages of changes.
    async fn describe_change_set(&self, id: &str) -> Result<ChangeSetDescription, AwsError>;
    /// ExecuteChangeSet of change set `id`, which was made from `made_from` (the real service
    /// needs only the id; the sandbox's stand-in needs the inputs, see [`super::sdk`]).
    async fn execute_change_set(
        &self,
        id: &str,
        made_from: &ChangeSetRequest,
    ) -> Result<(), AwsError>;
    /// DeleteChangeSet.
    async fn delete_change_set(&self, id: &str) -> Result<(), AwsError>;
    /// One page of DescribeStackEvents, newest first; `page` is a previous page's `next`.
    async fn stack_events(&self, stack: &str, page: Option<&str>) -> Result<EventPage, AwsError>;
    /// DeleteStack.
    async fn delete_stack(&self, name: &str) -> Result<(), AwsError>;
    /// GetStackPolicy: the policy body, `None` when the stack has none.
    async fn stack_policy(&self, name: &str) -> Result<Option<String>, AwsError>;
    /// SetStackPolicy.
    async fn set_stack_policy(&self, name: &str, policy: &str) -> Result<(), AwsError>;
    /// UpdateTerminationProtection.
    async fn set_termination_protection(&self, name: &str, enabled: bool) -> Result<(), AwsError>;
}
