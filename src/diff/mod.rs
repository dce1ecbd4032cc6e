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

pub mod attributes;
pub mod blocked;
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
pub mod spread;
pub mod update_policy;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub use blocked::BlockedExport;
pub use changeset::ChangeSetEvidence;
pub use model::{
    Action, Basis, Change, Consequence, DataLoss, DataOutcome, DiffClass, EnvDiff, ExportChange,
    ExportDiff, GroupSize, Impact, Location, OutputDiff, ParameterDiff, Policy, Read, ReadChange,
    ResourceDiff, StackDiff, Summary,
};
pub use notes::sends_origin_header;
pub use security::SecurityDiff;
pub use spread::{ChangedImports, ImportedChange, ListElements};

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
    /// Exports of earlier stacks whose value changes, which this stack may import.
    pub changed_imports: Option<&'a ChangedImports>,
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
            changed_imports: None,
        }
    }

    /// The same input, told which exports of earlier stacks change value.
    pub fn with_changed_imports(self, changed: &'a ChangedImports) -> Self {
        StackInput {
            changed_imports: Some(changed),
            ..self
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

    let no_imports = ChangedImports::new();
    let imports = input.changed_imports.unwrap_or(&no_imports);
    let mut resources = compute::resources(&old, &new);
    if let Some(evidence) = input.change_set {
        changeset::refine(&mut resources, evidence, &old, &new);
    }
    spread::spread(&old, &new, &mut resources, imports);
    // A replacing update policy replaces the group, which spreads like any replacement and
    // may update further groups; the policies are read again until none replaces anything.
    while update_policy::apply(&new, &mut resources) {
        spread::spread(&old, &new, &mut resources, imports);
    }
    let outputs = compute::outputs(&old, &new, &resources, imports);
    let exports = compute::exports(
        &old,
        &new,
        input.stack_name,
        &resources,
        imports,
        input.imported_exports,
    );
    let resources: Vec<ResourceDiff> = resources
        .into_values()
        .filter(|r| r.impact != Impact::NoChange)
        .collect();
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

/// Diffs several stacks of one environment, inputs in deploy order, so that an export that
/// changes value reaches the later stacks that import it.
pub fn diff_env(env: &str, inputs: &[StackInput<'_>]) -> Result<EnvDiff, DiffError> {
    let mut changed = ChangedImports::new();
    let mut stacks = Vec::with_capacity(inputs.len());
    for input in inputs {
        let diff = diff_stack(&input.with_changed_imports(&changed))?;
        record_changed_exports(&diff, &mut changed);
        stacks.push(diff);
    }
    Ok(EnvDiff {
        env: env.to_owned(),
        stacks,
    })
}

/// Adds the exports of `diff` that change value to `changed`, for the stacks after it.
pub fn record_changed_exports(diff: &StackDiff, changed: &mut ChangedImports) {
    for export in &diff.exports {
        if export.change == ExportChange::ValueChanged {
            changed.insert(
                export.name.clone(),
                ImportedChange {
                    exporter: diff.stack_name.clone(),
                    cause: export.causes.join("; "),
                    blocked: export.blocker,
                    elements: export.elements.clone(),
                },
            );
        }
    }
}

/// Each changed resource's impact by logical id, for quick assertions and summaries.
pub fn impacts(diff: &StackDiff) -> BTreeMap<String, Impact> {
    diff.resources
        .iter()
        .map(|r| (r.logical_id.clone(), r.impact))
        .collect()
}
