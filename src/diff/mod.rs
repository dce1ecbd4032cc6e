//! The pure core of `ce diff`: compares a deployed CloudFormation template (absent when the
//! stack does not exist yet) with a freshly rendered one and says, per resource, what changes,
//! how badly, and what is at risk, without any AWS call.
//!
//! The steps, each in its own module: [`normalise`] both templates so that only real changes
//! differ (lists that are [`sets`] compared without order); `compute` the differences
//! section by section; predict each resource's [`impact`] from the replacement table and
//! spread replacement along references; let a change set's evidence ([`changeset`]) confirm
//! or correct that; collect [`security`] changes and data at risk; [`format`] the result as
//! text, JSON or a unified text diff. The data types live in [`model`].

pub mod changeset;
mod compute;
mod coverage;
pub mod format;
pub mod impact;
pub mod model;
pub mod normalise;
mod notes;
pub mod security;
pub mod sets;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub use changeset::ChangeSetEvidence;
pub use model::{
    Action, Basis, Change, DataLoss, DataOutcome, DiffClass, EnvDiff, ExportChange, ExportDiff,
    Impact, Location, OutputDiff, ParameterDiff, Policy, ResourceDiff, StackDiff, Summary,
};
pub use security::SecurityDiff;

use normalise::{NormTemplate, normalise_template};

/// A template the diff cannot read.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The whole template is not a JSON object.
    #[error("the {side} template is not a JSON object")]
    NotAnObject {
        /// `deployed` or `rendered`.
        side: &'static str,
    },
    /// A section that must be an object (`Resources`, `Parameters`, `Outputs`) is not.
    #[error("the {section} section of the {side} template is not an object")]
    BadSection {
        /// `deployed` or `rendered`.
        side: &'static str,
        /// The section's name.
        section: String,
    },
    /// A resource is not an object.
    #[error("resource {logical_id} of the {side} template is not an object")]
    BadResource {
        /// `deployed` or `rendered`.
        side: &'static str,
        /// Its logical id.
        logical_id: String,
    },
}

/// Everything the diff of one stack needs.
#[derive(Clone, Copy, Debug)]
pub struct StackInput<'a> {
    /// `ce-<env>-<stack>`; also fills in `${AWS::StackName}` in export names.
    pub stack_name: &'a str,
    /// The template from GetTemplate, or `None` when the stack does not exist.
    pub deployed: Option<&'a Value>,
    /// The freshly rendered template.
    pub rendered: &'a Value,
    /// Export names other stacks import: changing or removing one blocks the deploy.
    pub imported_exports: &'a BTreeSet<String>,
    /// What a change set said, when one was created.
    pub change_set: Option<&'a ChangeSetEvidence>,
}

impl<'a> StackInput<'a> {
    /// The input for a plain offline diff (no change set).
    pub fn new(
        stack_name: &'a str,
        deployed: Option<&'a Value>,
        rendered: &'a Value,
        imported_exports: &'a BTreeSet<String>,
    ) -> Self {
        StackInput {
            stack_name,
            deployed,
            rendered,
            imported_exports,
            change_set: None,
        }
    }

    /// The same input with change-set evidence.
    pub fn with_change_set(self, evidence: &'a ChangeSetEvidence) -> Self {
        StackInput {
            change_set: Some(evidence),
            ..self
        }
    }
}

/// Diffs one stack.
pub fn diff_stack(input: &StackInput<'_>) -> Result<StackDiff, DiffError> {
    let old = match input.deployed {
        Some(t) => normalise_template(t, "deployed")?,
        None => NormTemplate::default(),
    };
    let new = normalise_template(input.rendered, "rendered")?;

    let mut resources = compute::resources(&old, &new);
    if let Some(evidence) = input.change_set {
        changeset::refine(&mut resources, evidence, &old, &new);
    }
    impact::spread(&old, &new, &mut resources);
    let resources: Vec<ResourceDiff> = resources
        .into_values()
        .filter(|r| r.impact != Impact::NoChange)
        .collect();

    let replaced: BTreeSet<&str> = resources
        .iter()
        .filter(|r| r.action == Action::Replace)
        .map(|r| r.logical_id.as_str())
        .collect();
    let outputs = compute::outputs(&old, &new, &replaced);
    let exports = compute::exports(
        &old,
        &new,
        input.stack_name,
        &replaced,
        input.imported_exports,
    );
    let template = if input.deployed.is_some() {
        compute::sections(&old, &new)
    } else {
        Vec::new()
    };
    Ok(StackDiff {
        stack_name: input.stack_name.to_owned(),
        exists: input.deployed.is_some(),
        parameters: compute::parameters(&old, &new),
        outputs,
        exports,
        template,
        data_loss: impact::data_loss(&resources),
        security: SecurityDiff::between(&old, &new),
        resources,
    })
}

/// Diffs several stacks of one environment, inputs in deploy order.
pub fn diff_env(env: &str, inputs: &[StackInput<'_>]) -> Result<EnvDiff, DiffError> {
    let stacks = inputs
        .iter()
        .map(diff_stack)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EnvDiff {
        env: env.to_owned(),
        stacks,
    })
}

/// Each changed resource's impact by logical id, for quick assertions and summaries.
pub fn impacts(diff: &StackDiff) -> BTreeMap<String, Impact> {
    diff.resources
        .iter()
        .map(|r| (r.logical_id.clone(), r.impact))
        .collect()
}
