//! Comparing two canonical templates section by section: resources property by property,
//! parameters, outputs and exports, and the remaining top-level sections.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::impact::property_impact;
use super::model::{
    Action, Basis, Change, ExportChange, ExportDiff, Impact, Location, OutputDiff, ParameterDiff,
    Policy, ResourceDiff,
};
use super::normalise::{NormResource, NormTemplate, PropertyPath, expr_text, intrinsic};
use super::sets::is_set_path;
use super::spread::{ChangedImports, ListElements, value_causes};

/// One differing value before it is classified.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RawChange {
    /// Where.
    pub path: PropertyPath,
    /// Deployed value.
    pub old: Option<Value>,
    /// Rendered value.
    pub new: Option<Value>,
}

/// Collects the differences between two canonical values of a resource of type `ty`.
///
/// Objects are compared key by key and ordered lists index by index; a set-like list yields
/// one change per element only on one side, at the list's path. Intrinsic functions are
/// leaves: `VpcId: ${A} → ${B}`, never `VpcId.Ref: A → B`.
pub(crate) fn diff_values(
    ty: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    path: &PropertyPath,
    out: &mut Vec<RawChange>,
) {
    if old == new {
        return;
    }
    let leaf = |out: &mut Vec<RawChange>| {
        out.push(RawChange {
            path: path.clone(),
            old: old.cloned(),
            new: new.cloned(),
        })
    };
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b)))
            if intrinsic(a).is_none() && intrinsic(b).is_none() =>
        {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                diff_values(ty, a.get(k), b.get(k), &path.key(k), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) if is_set_path(ty, &path.keys()) => {
            for gone in a.iter().filter(|x| !b.contains(x)) {
                out.push(RawChange {
                    path: path.clone(),
                    old: Some(gone.clone()),
                    new: None,
                });
            }
            for came in b.iter().filter(|x| !a.contains(x)) {
                out.push(RawChange {
                    path: path.clone(),
                    old: None,
                    new: Some(came.clone()),
                });
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                diff_values(ty, a.get(i), b.get(i), &path.index(i), out);
            }
        }
        _ => leaf(out),
    }
}

/// The diff of every resource on either side whose own template text differs.
pub(crate) fn resources(old: &NormTemplate, new: &NormTemplate) -> BTreeMap<String, ResourceDiff> {
    let ids: BTreeSet<&String> = old.resources.keys().chain(new.resources.keys()).collect();
    ids.into_iter()
        .filter_map(|id| {
            resource(id, old.resources.get(id), new.resources.get(id)).map(|d| (id.clone(), d))
        })
        .collect()
}

fn resource(
    id: &str,
    old: Option<&NormResource>,
    new: Option<&NormResource>,
) -> Option<ResourceDiff> {
    let policy =
        |r: Option<&NormResource>, key: &str| Policy::parse(r.and_then(|r| r.attributes.get(key)));
    let mut diff = ResourceDiff {
        logical_id: id.to_owned(),
        resource_type: new.or(old).map(|r| r.ty.clone()).unwrap_or_default(),
        action: Action::Modify,
        impact: Impact::NoChange,
        basis: Basis::Predicted,
        changes: Vec::new(),
        causes: Vec::new(),
        reads: Vec::new(),
        consequences: Vec::new(),
        blocked_by: Vec::new(),
        deletion_policy: policy(old, "DeletionPolicy"),
        update_replace_policy: policy(new, "UpdateReplacePolicy"),
        predicted_impact: None,
    };
    let (old, new) = match (old, new) {
        (None, None) => return None,
        (None, Some(_)) => {
            diff.action = Action::Add;
            diff.impact = Impact::Create;
            return Some(diff);
        }
        (Some(_), None) => {
            diff.action = Action::Remove;
            diff.impact = match diff.deletion_policy {
                Policy::Retain | Policy::RetainExceptOnCreate => Impact::Orphan,
                Policy::Delete | Policy::Snapshot => Impact::Destroy,
            };
            return Some(diff);
        }
        (Some(old), Some(new)) => (old, new),
    };
    if old.ty != new.ty {
        diff.changes.push(Change {
            path: "Type".into(),
            location: Location::Attribute,
            old: Some(Value::String(old.ty.clone())),
            new: Some(Value::String(new.ty.clone())),
            impact: Impact::Replace,
        });
        diff.causes
            .push(format!("the type changes from {} to {}", old.ty, new.ty));
    }
    let mut raw = Vec::new();
    diff_values(
        &new.ty,
        Some(&old.properties),
        Some(&new.properties),
        &PropertyPath::default(),
        &mut raw,
    );
    diff.changes.extend(raw.into_iter().map(|c| {
        let impact = if old.ty == new.ty {
            property_impact(&new.ty, &c.path.keys())
        } else {
            Impact::Replace
        };
        classify(c, Location::Property, impact)
    }));
    diff.changes.extend(
        map_changes("", &old.attributes, &new.attributes)
            .into_iter()
            .map(|c| classify(c, Location::Attribute, Impact::Update)),
    );
    diff.impact = diff.changes.iter().map(|c| c.impact).max()?;
    diff.settle_action();
    Some(diff)
}

fn classify(raw: RawChange, location: Location, impact: Impact) -> Change {
    Change {
        path: raw.path.to_string(),
        location,
        old: raw.old,
        new: raw.new,
        impact,
    }
}

/// Differences between two keyed collections of values, each path starting with its key.
fn map_changes(
    ty: &str,
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
) -> Vec<RawChange> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        diff_values(
            ty,
            old.get(k),
            new.get(k),
            &PropertyPath::default().key(k),
            &mut out,
        );
    }
    out
}

/// Differences in the template sections other than resources, parameters and outputs.
pub(crate) fn sections(old: &NormTemplate, new: &NormTemplate) -> Vec<Change> {
    map_changes("", &old.sections, &new.sections)
        .into_iter()
        .map(|c| classify(c, Location::Template, Impact::Update))
        .collect()
}

/// Parameter declarations added, removed or changed.
pub(crate) fn parameters(old: &NormTemplate, new: &NormTemplate) -> Vec<ParameterDiff> {
    keyed(&old.parameters, &new.parameters)
        .into_iter()
        .map(|(name, action, changes)| ParameterDiff {
            name,
            action,
            changes,
        })
        .collect()
}

/// Outputs added, removed or changed, including outputs whose text is unchanged but whose
/// value reads a resource that is replaced, an attribute that changes or a changed import.
pub(crate) fn outputs(
    old: &NormTemplate,
    new: &NormTemplate,
    resources: &BTreeMap<String, ResourceDiff>,
    imports: &ChangedImports,
) -> Vec<OutputDiff> {
    let mut diffs: BTreeMap<String, OutputDiff> = keyed(&old.outputs, &new.outputs)
        .into_iter()
        .map(|(name, action, changes)| {
            let diff = OutputDiff {
                name: name.clone(),
                action,
                changes,
                causes: Vec::new(),
            };
            (name, diff)
        })
        .collect();
    for (name, output) in &new.outputs {
        if !old.outputs.contains_key(name) {
            continue;
        }
        let causes = value_causes(output.get("Value"), resources, imports);
        if !causes.is_empty() {
            diffs
                .entry(name.clone())
                .or_insert_with(|| OutputDiff {
                    name: name.clone(),
                    action: Action::Modify,
                    changes: Vec::new(),
                    causes: Vec::new(),
                })
                .causes = causes;
        }
    }
    diffs.into_values().collect()
}

fn keyed(
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
) -> Vec<(String, Action, Vec<Change>)> {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (o, n) = (old.get(name), new.get(name));
            let action = match (o, n) {
                (None, _) => Action::Add,
                (_, None) => Action::Remove,
                _ => Action::Modify,
            };
            let mut raw = Vec::new();
            diff_values("", o, n, &PropertyPath::default(), &mut raw);
            let changes: Vec<Change> = match action {
                Action::Modify => raw
                    .into_iter()
                    .map(|c| classify(c, Location::Template, Impact::Update))
                    .collect(),
                _ => Vec::new(),
            };
            (action != Action::Modify || !changes.is_empty())
                .then(|| (name.clone(), action, changes))
        })
        .collect()
}

/// An export's name: literal, or `Fn::Sub` with `${AWS::StackName}` filled in.
pub(crate) fn export_name(value: &Value, stack_name: &str) -> String {
    match value.as_object().and_then(intrinsic) {
        Some(("Fn::Sub", Value::String(text))) => text.replace("${AWS::StackName}", stack_name),
        _ => expr_text(value),
    }
}

fn exports_of<'a>(t: &'a NormTemplate, stack_name: &str) -> BTreeMap<String, &'a Value> {
    t.outputs
        .values()
        .filter_map(|o| {
            let name = o.get("Export")?.get("Name")?;
            Some((
                export_name(name, stack_name),
                o.get("Value").unwrap_or(&Value::Null),
            ))
        })
        .collect()
}

/// Exports added, removed, or changing value; a removal or change of an export another stack
/// imports is a blocker, because CloudFormation refuses it.
pub(crate) fn exports(
    old: &NormTemplate,
    new: &NormTemplate,
    stack_name: &str,
    diffs: &BTreeMap<String, ResourceDiff>,
    imports: &ChangedImports,
    imported: &BTreeSet<String>,
) -> Vec<ExportDiff> {
    let (before, after) = (exports_of(old, stack_name), exports_of(new, stack_name));
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let mut elements = None;
            let (change, causes) = match (before.get(name), after.get(name)) {
                (None, Some(_)) => (ExportChange::Added, Vec::new()),
                (Some(_), None) => (ExportChange::Removed, Vec::new()),
                (Some(o), Some(n)) => {
                    let mut causes = value_causes(Some(n), diffs, imports);
                    if o != n {
                        causes.insert(0, "its value is written differently".to_owned());
                    }
                    if causes.is_empty() {
                        return None;
                    }
                    elements = list_elements(o, n, diffs, imports);
                    (ExportChange::ValueChanged, causes)
                }
                _ => return None,
            };
            let is_imported = imported.contains(name);
            Some(ExportDiff {
                name: name.clone(),
                change,
                imported: is_imported,
                blocker: is_imported && change != ExportChange::Added,
                causes,
                elements,
                imported_by: Vec::new(),
            })
        })
        .collect()
}

/// `Fn::Join [delimiter, [items]]` as its delimiter and items.
fn joined(value: &Value) -> Option<(&str, &Vec<Value>)> {
    let ("Fn::Join", Value::Array(args)) = value.as_object().and_then(intrinsic)? else {
        return None;
    };
    match args.as_slice() {
        [Value::String(delimiter), Value::Array(items)] => Some((delimiter, items)),
        _ => None,
    }
}

/// Which elements of an exported list change, when both values join a list with one
/// delimiter, so that importers selecting an unchanged element are left alone.
fn list_elements(
    old: &Value,
    new: &Value,
    diffs: &BTreeMap<String, ResourceDiff>,
    imports: &ChangedImports,
) -> Option<ListElements> {
    let ((d_old, before), (d_new, after)) = (joined(old)?, joined(new)?);
    if d_old != d_new {
        return None;
    }
    let changes = after
        .iter()
        .enumerate()
        .map(|(i, item)| {
            if before.get(i) != Some(item) {
                return Some("the element is written differently".to_owned());
            }
            let causes = value_causes(Some(item), diffs, imports);
            (!causes.is_empty()).then(|| causes.join("; "))
        })
        .collect();
    Some(ListElements {
        delimiter: d_new.to_owned(),
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn changes(ty: &str, old: Value, new: Value) -> Vec<(String, Option<Value>, Option<Value>)> {
        let mut out = Vec::new();
        diff_values(
            ty,
            Some(&old),
            Some(&new),
            &PropertyPath::default(),
            &mut out,
        );
        out.into_iter()
            .map(|c| (c.path.to_string(), c.old, c.new))
            .collect()
    }

    #[test]
    fn nested_change_is_reported_at_its_path() {
        let got = changes(
            "AWS::EC2::LaunchTemplate",
            json!({"LaunchTemplateData": {"InstanceType": "t3.small", "ImageId": "a"}}),
            json!({"LaunchTemplateData": {"InstanceType": "t3.large", "ImageId": "a"}}),
        );
        assert_eq!(
            got,
            [(
                "LaunchTemplateData.InstanceType".into(),
                Some(json!("t3.small")),
                Some(json!("t3.large"))
            )]
        );
    }

    #[test]
    fn intrinsic_is_a_leaf() {
        let got = changes(
            "T",
            json!({"VpcId": {"Ref": "A"}}),
            json!({"VpcId": {"Ref": "B"}}),
        );
        assert_eq!(got[0].0, "VpcId");
    }

    #[test]
    fn set_like_list_reports_elements_on_one_side_only() {
        let got = changes(
            "AWS::AutoScaling::AutoScalingGroup",
            json!({"VPCZoneIdentifier": ["a", "b"]}),
            json!({"VPCZoneIdentifier": ["b", "c"]}),
        );
        assert_eq!(
            got,
            [
                ("VPCZoneIdentifier".into(), Some(json!("a")), None),
                ("VPCZoneIdentifier".into(), None, Some(json!("c"))),
            ]
        );
    }

    #[test]
    fn ordered_list_reports_by_index() {
        let got = changes("T", json!({"L": ["a", "b"]}), json!({"L": ["a", "c", "d"]}));
        let paths: Vec<_> = got.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(paths, ["L[1]", "L[2]"]);
    }

    #[test]
    fn export_name_fills_in_the_stack_name() {
        let v = json!({"Fn::Sub": "${AWS::StackName}-VpcId"});
        assert_eq!(export_name(&v, "ce-prod-network"), "ce-prod-network-VpcId");
    }
}
