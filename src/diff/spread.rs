//! How a change reaches resources whose own template text does not change: a property that
//! reads a replaced resource, an attribute that an in-place update moves (the
//! [`attributes`](super::attributes) model), or an export another stack changes.
//!
//! Where the reading property stands decides what the read does: in a replacement-forcing
//! position a value that certainly changes replaces the reader, one that may change may
//! replace it; anywhere else the reader is updated in place. Impacts only rise and reads are
//! only added, so repeating until nothing moves reaches a fixed point. Verdicts confirmed by a
//! change set stay as the change set said.

use std::collections::BTreeMap;

use serde_json::Value;

use super::attributes::{Source, changes_with, reads};
use super::impact::{property_impact, untouched};
use super::model::{Action, Basis, Impact, Location, Read, ReadChange, ResourceDiff};
use super::normalise::{NormTemplate, PropertyPath};

/// An export of an earlier stack whose value changes, as the importing stack sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedChange {
    /// The exporting stack.
    pub exporter: String,
    /// Why the value changes, in words.
    pub cause: String,
    /// CloudFormation refuses the change while the export is imported.
    pub blocked: bool,
    /// When the value is a delimited list on both sides, which elements change.
    pub elements: Option<ListElements>,
}

/// The elements of an exported `Fn::Join` list and why each changes; readers that select one
/// element change only when it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListElements {
    /// The `Fn::Join` delimiter.
    pub delimiter: String,
    /// Per index of the new list: why that element changes, `None` when it does not.
    pub changes: Vec<Option<String>>,
}

/// Exports that change value, by export name.
pub type ChangedImports = BTreeMap<String, ImportedChange>;

/// How the value a read names changes, if it does.
struct ValueChange {
    change: ReadChange,
    certain: bool,
    blocked_by: Option<String>,
    cause: String,
}

/// What happens to the value `source` names, given the stack's diffs so far.
fn value_change(
    source: &Source,
    reader: Option<&str>,
    diffs: &BTreeMap<String, ResourceDiff>,
    imports: &ChangedImports,
) -> Option<ValueChange> {
    match source {
        Source::Resource { id, attribute } => {
            if reader == Some(id.as_str()) {
                return None;
            }
            let d = diffs
                .get(id)
                .filter(|d| matches!(d.action, Action::Modify | Action::Replace))?;
            let (change, certain, cause) = if d.impact >= Impact::Replace {
                (
                    ReadChange::Replaced,
                    true,
                    format!("{id}, which is replaced"),
                )
            } else if d.impact == Impact::MayReplace {
                (
                    ReadChange::MayBeReplaced,
                    false,
                    format!("{id}, which may be replaced"),
                )
            } else if changes_with(&d.resource_type, attribute.as_deref(), &changed_paths(d)) {
                (
                    ReadChange::AttributeChanges,
                    true,
                    format!("{}, which changes", source.describe()),
                )
            } else {
                return None;
            };
            Some(ValueChange {
                change,
                certain,
                blocked_by: None,
                cause,
            })
        }
        Source::ImportElement {
            export,
            delimiter,
            index,
        } => {
            let imported = imports.get(export)?;
            let element_cause = match &imported.elements {
                Some(list) if &list.delimiter == delimiter => match list.changes.get(*index) {
                    Some(None) => return None,
                    Some(Some(cause)) => cause.clone(),
                    None => "the list is shorter now".to_owned(),
                },
                _ => imported.cause.clone(),
            };
            Some(ValueChange {
                change: ReadChange::ExportChanges,
                certain: true,
                blocked_by: imported.blocked.then(|| export.clone()),
                cause: format!(
                    "element {index} of {export} of {}, which changes ({element_cause})",
                    imported.exporter
                ),
            })
        }
        Source::Import(name) => {
            let imported = imports.get(name)?;
            Some(ValueChange {
                change: ReadChange::ExportChanges,
                certain: true,
                blocked_by: imported.blocked.then(|| name.clone()),
                cause: format!(
                    "{name} of {}, whose value changes ({})",
                    imported.exporter, imported.cause
                ),
            })
        }
    }
}

/// The property paths of a resource that change: its own changed properties and the
/// properties that read a changing value.
pub(crate) fn changed_paths(d: &ResourceDiff) -> Vec<String> {
    d.changes
        .iter()
        .filter(|c| c.location == Location::Property)
        .map(|c| c.path.clone())
        .chain(d.reads.iter().map(|r| r.path.clone()))
        .collect()
}

/// Spreads replacement, attribute changes and changed imports to the resources that read
/// them, until nothing changes.
pub(crate) fn spread(
    old: &NormTemplate,
    new: &NormTemplate,
    diffs: &mut BTreeMap<String, ResourceDiff>,
    imports: &ChangedImports,
) {
    // Only resources on both sides keep a physical resource that a changing value can reach.
    let mut found: Vec<(&str, &str, PropertyPath, Source)> = Vec::new();
    for (id, res) in &new.resources {
        if old.resources.get(id).is_some_and(|o| o.ty == res.ty) {
            let mut here = Vec::new();
            reads(&res.properties, &PropertyPath::default(), &mut here);
            found.extend(
                here.into_iter()
                    .map(|(p, s)| (id.as_str(), res.ty.as_str(), p, s)),
            );
        }
    }
    loop {
        let mut moved = false;
        for (id, ty, path, source) in &found {
            let Some(value) = value_change(source, Some(id), diffs, imports) else {
                continue;
            };
            let impact = match (value.certain, property_impact(ty, &path.keys())) {
                (true, Impact::Replace) => Impact::Replace,
                (_, Impact::Replace | Impact::MayReplace) => Impact::MayReplace,
                _ => Impact::Update,
            };
            let verb = match value.change {
                ReadChange::Replaced | ReadChange::MayBeReplaced => "refers to",
                ReadChange::AttributeChanges => "reads",
                ReadChange::ExportChanges => "imports",
            };
            let cause = format!("{path} {verb} {}", value.cause);
            let entry = diffs
                .entry((*id).to_owned())
                .or_insert_with(|| untouched(id, ty, old, new));
            // A change set's verdict already accounts for what the resource reads.
            if entry.basis == Basis::ConfirmedByChangeSet {
                continue;
            }
            let read = Read {
                path: path.to_string(),
                source: source.describe(),
                change: value.change,
                impact,
            };
            if !entry.reads.contains(&read) {
                entry.reads.push(read);
                moved = true;
            }
            if impact > entry.impact {
                entry.impact = impact;
                moved = true;
            }
            if let Some(export) = value.blocked_by
                && !entry.blocked_by.contains(&export)
            {
                entry.blocked_by.push(export);
            }
            if !entry.causes.contains(&cause) {
                entry.causes.push(cause);
            }
            entry.settle_action();
        }
        if !moved {
            break;
        }
    }
}

/// Why a value (an output's) changes although its text does not: one cause per changing
/// value it reads for certain. A value that only may change is not counted.
pub(crate) fn value_causes(
    value: Option<&Value>,
    diffs: &BTreeMap<String, ResourceDiff>,
    imports: &ChangedImports,
) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(v) = value {
        reads(v, &PropertyPath::default(), &mut found);
    }
    let mut causes: Vec<String> = found
        .iter()
        .filter_map(|(_, source)| value_change(source, None, diffs, imports))
        .filter(|v| v.certain)
        .map(|v| match v.change {
            ReadChange::AttributeChanges => format!("the value reads {}", v.cause),
            ReadChange::ExportChanges => format!("the value imports {}", v.cause),
            _ => format!("the value refers to {}", v.cause),
        })
        .collect();
    causes.sort();
    causes.dedup();
    causes
}
