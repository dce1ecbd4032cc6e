//! The diff as data: what changes in each stack, how badly, and why.
//!
//! Everything here is plain values with stable serde names, so the text and JSON formatters
//! (and the caller's markdown report) read one structure and never recompute a verdict.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Status;

use super::security::SecurityDiff;
use super::spread::ListElements;

/// How much a change disturbs a resource, ordered so the worst of several is their `max`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// Nothing changes.
    #[default]
    NoChange,
    /// A new resource is created.
    Create,
    /// Updated in place.
    Update,
    /// Replaced only under some conditions (or the tool cannot tell).
    MayReplace,
    /// A new physical resource replaces the old one.
    Replace,
    /// Removed from the stack; the physical resource is kept (`DeletionPolicy: Retain`).
    Orphan,
    /// Removed from the stack and deleted.
    Destroy,
}

impl Impact {
    /// A short lowercase name for text output.
    pub fn label(self) -> &'static str {
        match self {
            Impact::NoChange => "no change",
            Impact::Create => "create",
            Impact::Update => "update",
            Impact::MayReplace => "may replace",
            Impact::Replace => "replace",
            Impact::Orphan => "orphan",
            Impact::Destroy => "destroy",
        }
    }
}

/// What happens to a resource as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Only in the rendered template.
    Add,
    /// Only in the deployed template.
    Remove,
    /// In both, updated in place (or possibly replaced).
    Modify,
    /// In both, certainly replaced.
    Replace,
}

/// Where an impact verdict came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Worked out offline from the templates and the replacement table.
    #[default]
    Predicted,
    /// A CloudFormation change set said so.
    ConfirmedByChangeSet,
}

/// Whether a changed value sits in a resource's properties or in one of its attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// Under `Properties`; the path is relative to it.
    Property,
    /// A resource attribute (`DependsOn`, `DeletionPolicy`, `UpdatePolicy`, `Type`, ...).
    Attribute,
    /// A template section (`Description`, `Conditions`, ...), or a field of a parameter or
    /// output.
    Template,
}

/// One changed value: `old → new`, either side absent when added or removed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// Dotted path with list indices, e.g. `LaunchTemplateData.InstanceType` or `Tags`.
    pub path: String,
    /// Properties, attributes, or a template section.
    pub location: Location,
    /// The deployed value (normalised), absent when added.
    pub old: Option<Value>,
    /// The rendered value (normalised), absent when removed.
    pub new: Option<Value>,
    /// What this change alone does to the resource.
    pub impact: Impact,
}

/// `DeletionPolicy` / `UpdateReplacePolicy` as read from a template; CloudFormation's
/// default for the modelled types is `Delete`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Policy {
    /// The physical resource and its data are deleted.
    #[default]
    Delete,
    /// The physical resource is kept outside the stack.
    Retain,
    /// A final snapshot is taken, then the resource is deleted.
    Snapshot,
    /// Kept only if the resource still exists in CloudFormation's view after rollback
    /// (`RetainExceptOnCreate`); counts as retained for an existing resource.
    RetainExceptOnCreate,
}

impl Policy {
    /// Reads a policy attribute value; anything unknown is treated as the default.
    pub fn parse(value: Option<&Value>) -> Self {
        match value.and_then(Value::as_str) {
            Some("Retain") => Policy::Retain,
            Some("Snapshot") => Policy::Snapshot,
            Some("RetainExceptOnCreate") => Policy::RetainExceptOnCreate,
            _ => Policy::Delete,
        }
    }
}

/// One resource that differs between the deployed and the rendered template.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResourceDiff {
    /// Logical id.
    pub logical_id: String,
    /// Resource type (the rendered one, or the deployed one when removed).
    pub resource_type: String,
    /// Added, removed, modified or replaced.
    pub action: Action,
    /// The worst of its changes, its type change and what spreads from resources it refers to.
    pub impact: Impact,
    /// Predicted offline or confirmed by a change set.
    pub basis: Basis,
    /// The offline prediction, present only when a change set overruled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_impact: Option<Impact>,
    /// Changed values (empty for additions and removals).
    pub changes: Vec<Change>,
    /// Why the impact is worse than the resource's own changes, in words.
    pub causes: Vec<String>,
    /// Properties that read a value which changes although their text does not.
    pub reads: Vec<Read>,
    /// What the resource's policies make of the change (e.g. a rolling replacement of nodes).
    pub consequences: Vec<Consequence>,
    /// Exports whose change CloudFormation refuses while this stack imports them: this
    /// resource's change happens only once they can change.
    pub blocked_by: Vec<String>,
    /// The deployed template's `DeletionPolicy`.
    #[serde(skip)]
    pub deletion_policy: Policy,
    /// The rendered template's `UpdateReplacePolicy`, which governs the old resource.
    #[serde(skip)]
    pub update_replace_policy: Policy,
}

impl ResourceDiff {
    /// Derives the action from the impact, for resources present on both sides.
    pub(crate) fn settle_action(&mut self) {
        if matches!(self.action, Action::Modify | Action::Replace) {
            self.action = if self.impact >= Impact::Replace {
                Action::Replace
            } else {
                Action::Modify
            };
        }
    }
}

/// Why a value read by a property changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadChange {
    /// The resource read is replaced: every value it hands out is new.
    Replaced,
    /// The resource read may be replaced.
    MayBeReplaced,
    /// The attribute read changes on the resource's in-place update.
    AttributeChanges,
    /// The export imported changes value in another stack.
    ExportChanges,
}

/// A property that reads a value which changes although the property's text does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Read {
    /// The reading property's path, e.g. `LaunchTemplate.Version`.
    pub path: String,
    /// What it reads: `Logical.Attribute`, a logical id (`Ref`), or `the export <name>`.
    pub source: String,
    /// Why that value changes.
    pub change: ReadChange,
    /// What the read does to this resource, given where the property stands.
    pub impact: Impact,
}

/// How many nodes an Auto Scaling group has, as far as the template says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct GroupSize {
    /// `DesiredCapacity`, absent when scaling owns the number.
    pub desired: Option<u32>,
    /// `MinSize`.
    pub min: Option<u32>,
    /// `MaxSize`.
    pub max: Option<u32>,
}

/// Something a resource's policy attributes make of its update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Consequence {
    /// `AutoScalingRollingUpdate`: every node is replaced, a batch at a time.
    RollingReplacement {
        /// The group's size: the nodes replaced.
        nodes: GroupSize,
        /// `MaxBatchSize`: nodes replaced at once.
        batch_size: u32,
        /// Batches needed, when the number of nodes is known.
        batches: Option<u32>,
        /// `MinInstancesInService`.
        min_in_service: u32,
        /// `PauseTime` after each batch.
        pause_time: Option<String>,
        /// `SuspendProcesses` during the update.
        suspended_processes: Vec<String>,
    },
    /// `AutoScalingReplacingUpdate` with `WillReplace`: a new group is created, the old one
    /// deleted once the new one is healthy.
    ReplacingUpdate,
    /// No update policy: running nodes keep the old configuration until scaling replaces them.
    NodesKeepOldConfiguration,
    /// `AutoScalingScheduledAction.IgnoreUnmodifiedGroupSizeProperties`: sizes the template
    /// does not change stay as scaling left them.
    ScaledSizeKept {
        /// The size properties left alone.
        properties: Vec<String>,
    },
}

/// What replacing or removing a stateful resource does to its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataOutcome {
    /// The old resource and its data stay in the account, outside the stack.
    Retained,
    /// A final snapshot is kept.
    Snapshot,
    /// The data is deleted.
    Deleted,
}

impl DataOutcome {
    /// How text output names the outcome; deletion is shouted.
    pub fn label(self) -> &'static str {
        match self {
            DataOutcome::Retained => "retained",
            DataOutcome::Snapshot => "snapshot kept",
            DataOutcome::Deleted => "DELETED",
        }
    }
}

/// A stateful resource (EFS file system, S3 bucket, DynamoDB table) at risk.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataLoss {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// Replace, may replace, orphan or destroy.
    pub impact: Impact,
    /// The policy that decides the outcome (`UpdateReplacePolicy` or `DeletionPolicy`).
    pub policy: Policy,
    /// What happens to the data.
    pub outcome: DataOutcome,
}

/// A template parameter whose declaration changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParameterDiff {
    /// Parameter name.
    pub name: String,
    /// Add, remove or modify.
    pub action: Action,
    /// Changed fields of the declaration (NoEcho defaults masked).
    pub changes: Vec<Change>,
}

/// A template output that changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutputDiff {
    /// Output name.
    pub name: String,
    /// Add, remove or modify.
    pub action: Action,
    /// Changed fields (`Value`, `Export.Name`, `Description`).
    pub changes: Vec<Change>,
    /// Why the value changes although its text does not (a referenced resource is replaced).
    pub causes: Vec<String>,
}

/// How an export changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportChange {
    /// A new export.
    Added,
    /// The export disappears (output removed, export dropped or renamed).
    Removed,
    /// Its value changes (text, or a referenced resource is replaced).
    ValueChanged,
}

/// An export that is added, removed or changes value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportDiff {
    /// Export name, resolved where it is `Fn::Sub` of `${AWS::StackName}`.
    pub name: String,
    /// What happens to it.
    pub change: ExportChange,
    /// Whether another stack imports it (as the caller said).
    pub imported: bool,
    /// CloudFormation refuses to remove or change an imported export: the deploy would fail.
    pub blocker: bool,
    /// Why the value changes, for a value change.
    pub causes: Vec<String>,
    /// Which elements change, when the value is a delimited list on both sides.
    #[serde(skip)]
    pub elements: Option<ListElements>,
    /// The stacks that import it, when the caller looked them up (a diff against deployed
    /// stacks does; the pure diff leaves it empty).
    pub imported_by: Vec<String>,
}

/// Per-action resource counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources added.
    pub add: usize,
    /// Resources modified in place (or possibly replaced).
    pub modify: usize,
    /// Resources certainly replaced.
    pub replace: usize,
    /// Resources removed.
    pub remove: usize,
}

/// The class of a diff's result, which maps to the documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffClass {
    /// Exit 0.
    NoChanges,
    /// Exit 2.
    Changes,
    /// Exit 3: stateful replacement or removal, security broadening, or an export blocker.
    NeedsApproval,
}

impl DiffClass {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        self.status().code()
    }

    /// The command status this class ends with.
    pub fn status(self) -> Status {
        match self {
            DiffClass::NoChanges => Status::Success,
            DiffClass::Changes => Status::Changes,
            DiffClass::NeedsApproval => Status::NeedsApproval,
        }
    }
}

/// Everything that differs in one stack.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StackDiff {
    /// `ce-<env>-<stack>`.
    pub stack_name: String,
    /// False when there is no deployed stack: everything is a creation.
    pub exists: bool,
    /// Differing resources, by logical id.
    pub resources: Vec<ResourceDiff>,
    /// Differing parameter declarations.
    pub parameters: Vec<ParameterDiff>,
    /// Differing outputs.
    pub outputs: Vec<OutputDiff>,
    /// Exports added, removed or changing value.
    pub exports: Vec<ExportDiff>,
    /// Other template sections that differ (`Description`, `Conditions`, `Mappings`, ...).
    pub template: Vec<Change>,
    /// Stateful resources whose data is at risk.
    pub data_loss: Vec<DataLoss>,
    /// IAM statements and security-group rules added or removed.
    pub security: SecurityDiff,
}

impl StackDiff {
    /// Whether deploying would change anything.
    pub fn has_changes(&self) -> bool {
        !(self.resources.is_empty()
            && self.parameters.is_empty()
            && self.outputs.is_empty()
            && self.exports.is_empty()
            && self.template.is_empty()
            && self.security.is_empty())
    }

    /// The worst resource impact.
    pub fn max_impact(&self) -> Impact {
        self.resources
            .iter()
            .map(|r| r.impact)
            .max()
            .unwrap_or_default()
    }

    /// Resource counts per action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for r in &self.resources {
            match r.action {
                Action::Add => s.add += 1,
                Action::Remove => s.remove += 1,
                Action::Modify => s.modify += 1,
                Action::Replace => s.replace += 1,
            }
        }
        s
    }

    /// Exports whose removal or change CloudFormation would refuse.
    pub fn blockers(&self) -> impl Iterator<Item = &ExportDiff> {
        self.exports.iter().filter(|e| e.blocker)
    }

    /// Why this stack's changes need approval, one line each; empty when they do not.
    pub fn approval_reasons(&self) -> Vec<String> {
        let mut reasons: Vec<String> = self
            .data_loss
            .iter()
            .map(|d| {
                format!(
                    "{}: {} {} (data {})",
                    self.stack_name,
                    d.impact.label(),
                    d.logical_id,
                    d.outcome.label()
                )
            })
            .collect();
        if self.security.broadened {
            reasons.push(format!(
                "{}: security permissions broadened",
                self.stack_name
            ));
        }
        reasons.extend(self.blockers().map(|e| {
            format!(
                "{}: export {} is imported by another stack",
                self.stack_name, e.name
            )
        }));
        reasons
    }

    /// No changes, changes, or changes needing approval.
    pub fn class(&self) -> DiffClass {
        if !self.approval_reasons().is_empty() {
            DiffClass::NeedsApproval
        } else if self.has_changes() {
            DiffClass::Changes
        } else {
            DiffClass::NoChanges
        }
    }
}

/// The diffs of several stacks of one environment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnvDiff {
    /// Environment name.
    pub env: String,
    /// One diff per stack, in deploy order.
    pub stacks: Vec<StackDiff>,
}

impl EnvDiff {
    /// The worst class of its stacks.
    pub fn class(&self) -> DiffClass {
        self.stacks
            .iter()
            .map(StackDiff::class)
            .max()
            .unwrap_or(DiffClass::NoChanges)
    }

    /// Every stack's approval reasons.
    pub fn approval_reasons(&self) -> Vec<String> {
        self.stacks
            .iter()
            .flat_map(StackDiff::approval_reasons)
            .collect()
    }

    /// Names of imported exports that some stack removes or changes.
    pub fn blocked_exports(&self) -> BTreeSet<&str> {
        self.stacks
            .iter()
            .flat_map(StackDiff::blockers)
            .map(|e| e.name.as_str())
            .collect()
    }
}
