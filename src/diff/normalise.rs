//! Canonical forms of template values, so the diff reports what CloudFormation would see as a
//! change and nothing else.
//!
//! A template fetched with GetTemplate comes back as it was submitted, possibly written by
//! another tool: `"10"` where we render `10`, `DependsOn: "A"` where we render `["A"]`,
//! `Fn::GetAtt: "A.B"` where we render `["A", "B"]`, lists in another order. Both sides are
//! brought to one form before comparing:
//! - scalars become strings (CloudFormation stringifies numbers and booleans), numbers in
//!   their shortest form as JavaScript prints them (`10.0` → `"10"`); a string stays as
//!   written (`"10.0"` is not `"10"`);
//! - object keys are sorted;
//! - `DependsOn` becomes a sorted list without duplicates;
//! - `Fn::GetAtt` takes its list form, `Fn::Sub` without variables its string form;
//! - lists CloudFormation treats as sets ([`SET_LIKE`](super::sets::SET_LIKE), plus every IAM
//!   policy document's statements, actions, resources, principals and condition values) are
//!   sorted, duplicates dropped.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::DiffError;
use super::sets::{POLICY_KEYS, is_set_like};

/// One step of a path into a value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// A list position.
    Index(usize),
}

/// A path into a value, e.g. `LaunchTemplateData.BlockDeviceMappings[0].Ebs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PropertyPath(pub Vec<Segment>);

impl PropertyPath {
    /// The object keys, list indices left out: what the replacement and set tables match.
    pub fn keys(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|s| match s {
                Segment::Key(k) => Some(k.as_str()),
                Segment::Index(_) => None,
            })
            .collect()
    }

    /// This path extended by a key.
    pub fn key(&self, key: &str) -> PropertyPath {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.to_owned()));
        p
    }

    /// This path extended by a list index.
    pub fn index(&self, index: usize) -> PropertyPath {
        let mut p = self.clone();
        p.0.push(Segment::Index(index));
        p
    }
}

impl fmt::Display for PropertyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A resource in canonical form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NormResource {
    /// Resource type.
    pub ty: String,
    /// Canonical properties (an object, possibly empty).
    pub properties: Value,
    /// Every other attribute (`DependsOn`, `DeletionPolicy`, `Condition`, ...), canonical.
    pub attributes: BTreeMap<String, Value>,
}

/// A template in canonical form, split into the sections the diff treats differently.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NormTemplate {
    /// Resources by logical id.
    pub resources: BTreeMap<String, NormResource>,
    /// Parameter declarations by name (NoEcho defaults masked).
    pub parameters: BTreeMap<String, Value>,
    /// Outputs by name.
    pub outputs: BTreeMap<String, Value>,
    /// Every other top-level section (`Description`, `Conditions`, `Mappings`, ...).
    pub sections: BTreeMap<String, Value>,
}

/// What a NoEcho parameter's default is shown as.
pub const MASK: &str = "****";

/// Brings a whole template to canonical form; `side` names it in errors.
pub fn normalise_template(template: &Value, side: &'static str) -> Result<NormTemplate, DiffError> {
    let top = template
        .as_object()
        .ok_or(DiffError::NotAnObject { side })?;
    let mut norm = NormTemplate::default();
    for (section, value) in top {
        match section.as_str() {
            "Resources" => {
                let resources = value.as_object().ok_or_else(|| DiffError::BadSection {
                    side,
                    section: section.clone(),
                })?;
                for (id, resource) in resources {
                    let resource =
                        normalise_resource(resource).ok_or_else(|| DiffError::BadResource {
                            side,
                            logical_id: id.clone(),
                        })?;
                    norm.resources.insert(id.clone(), resource);
                }
            }
            "Parameters" | "Outputs" => {
                let entries = value.as_object().ok_or_else(|| DiffError::BadSection {
                    side,
                    section: section.clone(),
                })?;
                for (name, entry) in entries {
                    let mut entry = normalise_value(entry);
                    if section == "Parameters" {
                        mask_no_echo(&mut entry);
                        norm.parameters.insert(name.clone(), entry);
                    } else {
                        norm.outputs.insert(name.clone(), entry);
                    }
                }
            }
            _ => {
                norm.sections
                    .insert(section.clone(), normalise_value(value));
            }
        }
    }
    // An absent version means the only one there is.
    norm.sections
        .entry("AWSTemplateFormatVersion".into())
        .or_insert_with(|| Value::String("2010-09-09".into()));
    Ok(norm)
}

fn mask_no_echo(param: &mut Value) {
    let Some(obj) = param.as_object_mut() else {
        return;
    };
    if obj.get("NoEcho").and_then(Value::as_str) == Some("true") && obj.contains_key("Default") {
        obj.insert("Default".into(), Value::String(MASK.into()));
    }
}

/// Brings one resource to canonical form; `None` when it is not an object.
pub fn normalise_resource(resource: &Value) -> Option<NormResource> {
    let obj = resource.as_object()?;
    let ty = obj
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let properties = obj
        .get("Properties")
        .map(|p| normalise_properties(&ty, p))
        .unwrap_or_else(|| Value::Object(Map::new()));
    let attributes = obj
        .iter()
        .filter(|(k, _)| *k != "Type" && *k != "Properties")
        .map(|(k, v)| {
            let v = if k == "DependsOn" {
                as_set(normalise_value(v))
            } else {
                normalise_value(v)
            };
            (k.clone(), v)
        })
        .collect();
    Some(NormResource {
        ty,
        properties,
        attributes,
    })
}

/// Canonical properties of a resource of type `ty`.
pub fn normalise_properties(ty: &str, properties: &Value) -> Value {
    walk(ty, properties, &mut Vec::new())
}

/// Canonical form of a value outside any resource (no set-like lists but `Tags`).
pub fn normalise_value(value: &Value) -> Value {
    walk("", value, &mut Vec::new())
}

fn walk(ty: &str, value: &Value, keys: &mut Vec<String>) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(number_text(n)),
        Value::String(s) => Value::String(s.clone()),
        Value::Array(items) => {
            let items: Vec<Value> = items.iter().map(|v| walk(ty, v, keys)).collect();
            let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            if is_set_like(ty, &key_refs) {
                sort_set(items)
            } else {
                Value::Array(items)
            }
        }
        Value::Object(obj) => {
            if let Some((name, args)) = intrinsic(obj) {
                return normalise_intrinsic(ty, name, args, keys);
            }
            let mut entries: Vec<(&String, &Value)> = obj.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut out = Map::new();
            for (k, v) in entries {
                let v = if POLICY_KEYS.contains(&k.as_str()) {
                    policy_document(v)
                } else {
                    keys.push(k.clone());
                    let v = walk(ty, v, keys);
                    keys.pop();
                    v
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
    }
}

fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        // `10.0` and `10` are one number to CloudFormation.
        Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() < 1e15 => {
            format!("{}", f as i64)
        }
        _ => n.to_string(),
    }
}

/// The function name and argument of an intrinsic function object.
pub fn intrinsic(obj: &Map<String, Value>) -> Option<(&str, &Value)> {
    if obj.len() != 1 {
        return None;
    }
    let (name, args) = obj.iter().next()?;
    (name == "Ref" || name.starts_with("Fn::")).then_some((name.as_str(), args))
}

fn normalise_intrinsic(ty: &str, name: &str, args: &Value, keys: &mut Vec<String>) -> Value {
    let args = match (name, args) {
        ("Fn::GetAtt", Value::String(s)) => match s.split_once('.') {
            Some((id, attr)) => Value::Array(vec![id.into(), attr.into()]),
            None => Value::String(s.clone()),
        },
        ("Fn::Sub", Value::Array(parts))
            if parts.len() == 2 && parts[1].as_object().is_some_and(Map::is_empty) =>
        {
            walk(ty, &parts[0], keys)
        }
        // The branches of an `Fn::If` stand where its value stands, so they keep its key path.
        ("Fn::If", Value::Array(parts)) => Value::Array(
            parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    if i == 0 {
                        normalise_value(p)
                    } else {
                        walk(ty, p, keys)
                    }
                })
                .collect(),
        ),
        _ => normalise_value(args),
    };
    let mut out = Map::new();
    out.insert(name.to_owned(), args);
    Value::Object(out)
}

/// An IAM policy document in canonical form: statements, and inside them actions, resources,
/// principals and condition values, are sets; a lone string is a one-element set.
pub fn policy_document(doc: &Value) -> Value {
    let Value::Object(mut obj) = normalise_value(doc) else {
        return normalise_value(doc);
    };
    if let Some(statements) = obj.remove("Statement") {
        let statements = match statements {
            Value::Array(items) => items,
            single => vec![single],
        };
        let statements = statements.into_iter().map(statement).collect();
        obj.insert("Statement".into(), sort_set(statements));
    }
    Value::Object(obj)
}

fn statement(st: Value) -> Value {
    let Value::Object(mut obj) = st else {
        return st;
    };
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(v) = obj.remove(key) {
            obj.insert(key.into(), as_set(v));
        }
    }
    for key in ["Principal", "NotPrincipal"] {
        if let Some(Value::Object(p)) = obj.get_mut(key) {
            for v in p.values_mut() {
                *v = as_set(v.take());
            }
        }
    }
    if let Some(Value::Object(ops)) = obj.get_mut("Condition") {
        for op in ops.values_mut() {
            if let Value::Object(conds) = op {
                for v in conds.values_mut() {
                    *v = as_set(v.take());
                }
            }
        }
    }
    Value::Object(obj)
}

/// A value as a sorted, duplicate-free list (a lone value is a one-element list).
pub fn as_set(value: Value) -> Value {
    match value {
        Value::Array(items) => sort_set(items),
        Value::Null => Value::Array(Vec::new()),
        single => Value::Array(vec![single]),
    }
}

fn sort_set(items: Vec<Value>) -> Value {
    let mut keyed: Vec<(String, Value)> = items.into_iter().map(|v| (v.to_string(), v)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.dedup_by(|a, b| a.0 == b.0);
    Value::Array(keyed.into_iter().map(|(_, v)| v).collect())
}

/// A short text for a value as CloudFormation would compute it: `${Vpc}` for a `Ref`,
/// `${Lb.DNSName}` for a `GetAtt`, the pattern of a `Fn::Sub`, the parts of a `Fn::Join`
/// joined; anything else as compact JSON.
pub fn expr_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => value.to_string(),
        Value::Object(obj) => match intrinsic(obj) {
            Some(("Ref", Value::String(id))) => format!("${{{id}}}"),
            Some(("Fn::GetAtt", Value::Array(parts))) => {
                let parts: Vec<String> = parts.iter().map(expr_text).collect();
                format!("${{{}}}", parts.join("."))
            }
            Some(("Fn::GetAtt", Value::String(s))) => format!("${{{s}}}"),
            Some(("Fn::Sub", Value::String(s))) => s.clone(),
            Some(("Fn::Sub", Value::Array(parts))) => match parts.as_slice() {
                [text, vars] if vars.as_object().is_some_and(Map::is_empty) => expr_text(text),
                [text, vars] => format!("{} {}", expr_text(text), vars),
                _ => value.to_string(),
            },
            Some(("Fn::Join", Value::Array(parts))) => match parts.as_slice() {
                [Value::String(delim), Value::Array(items)] => {
                    items.iter().map(expr_text).collect::<Vec<_>>().join(delim)
                }
                _ => value.to_string(),
            },
            Some(("Fn::ImportValue", name)) => format!("${{Import:{}}}", expr_text(name)),
            _ => value.to_string(),
        },
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(ty: &str, v: Value) -> Value {
        normalise_properties(ty, &v)
    }

    #[test]
    fn numbers_booleans_and_strings_compare_as_text() {
        let a = props("AWS::X::Y", json!({"Port": 80, "On": true, "Ratio": 1.0}));
        let b = props(
            "AWS::X::Y",
            json!({"Port": "80", "On": "true", "Ratio": "1"}),
        );
        assert_eq!(a, b);
    }

    #[test]
    fn get_att_string_form_equals_list_form() {
        let a = normalise_value(&json!({"Fn::GetAtt": "Db.Endpoint.Address"}));
        let b = normalise_value(&json!({"Fn::GetAtt": ["Db", "Endpoint.Address"]}));
        assert_eq!(a, b);
    }

    #[test]
    fn sub_without_variables_equals_its_string_form() {
        let a = normalise_value(&json!({"Fn::Sub": ["${AWS::StackName}-x", {}]}));
        assert_eq!(a, json!({"Fn::Sub": "${AWS::StackName}-x"}));
    }

    #[test]
    fn depends_on_string_and_unordered_list_are_one_set() {
        let a = normalise_resource(&json!({"Type": "T", "DependsOn": ["B", "A", "B"]})).unwrap();
        let b = normalise_resource(&json!({"Type": "T", "DependsOn": ["A", "B"]})).unwrap();
        let c = normalise_resource(&json!({"Type": "T", "DependsOn": "A"})).unwrap();
        assert_eq!(a, b);
        assert_eq!(c.attributes["DependsOn"], json!(["A"]));
    }

    #[test]
    fn set_like_lists_ignore_order_but_ordered_lists_do_not() {
        let ty = "AWS::AutoScaling::AutoScalingGroup";
        let a = props(
            ty,
            json!({"VPCZoneIdentifier": ["s1", "s2"], "Overrides": [1, 2]}),
        );
        let b = props(
            ty,
            json!({"VPCZoneIdentifier": ["s2", "s1"], "Overrides": [1, 2]}),
        );
        let c = props(
            ty,
            json!({"VPCZoneIdentifier": ["s1", "s2"], "Overrides": [2, 1]}),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn tags_are_a_set_on_every_type() {
        let a = props(
            "AWS::Any::Thing",
            json!({"Tags": [{"Key": "a"}, {"Key": "b"}]}),
        );
        let b = props(
            "AWS::Any::Thing",
            json!({"Tags": [{"Key": "b"}, {"Key": "a"}]}),
        );
        assert_eq!(a, b);
    }

    #[test]
    fn policy_statements_actions_and_principals_are_sets() {
        let a = props(
            "AWS::IAM::Role",
            json!({"AssumeRolePolicyDocument": {"Statement": {
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": "ec2.amazonaws.com"}}}}),
        );
        let b = props(
            "AWS::IAM::Role",
            json!({"AssumeRolePolicyDocument": {"Statement": [{
                "Effect": "Allow", "Action": ["sts:AssumeRole"],
                "Principal": {"Service": ["ec2.amazonaws.com"]}}]}}),
        );
        assert_eq!(a, b);
        let c = props(
            "AWS::S3::BucketPolicy",
            json!({"PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": ["s3:Put", "s3:Get"], "Resource": "x"},
                {"Effect": "Deny", "Action": "s3:*", "Resource": "x"}]}}),
        );
        let d = props(
            "AWS::S3::BucketPolicy",
            json!({"PolicyDocument": {"Statement": [
                {"Effect": "Deny", "Action": ["s3:*"], "Resource": ["x"]},
                {"Effect": "Allow", "Action": ["s3:Get", "s3:Put"], "Resource": ["x"]}]}}),
        );
        assert_eq!(c, d);
    }

    #[test]
    fn paths_print_with_dots_and_indices() {
        let p = PropertyPath::default()
            .key("LaunchTemplateData")
            .key("BlockDeviceMappings")
            .index(0)
            .key("Ebs");
        assert_eq!(
            p.to_string(),
            "LaunchTemplateData.BlockDeviceMappings[0].Ebs"
        );
        assert_eq!(
            p.keys(),
            ["LaunchTemplateData", "BlockDeviceMappings", "Ebs"]
        );
    }

    #[test]
    fn expressions_print_as_short_text() {
        assert_eq!(expr_text(&json!({"Ref": "Vpc"})), "${Vpc}");
        assert_eq!(
            expr_text(&json!({"Fn::GetAtt": ["Lb", "DNSName"]})),
            "${Lb.DNSName}"
        );
        assert_eq!(
            expr_text(&json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}]]})),
            "arn:${AWS::Partition}"
        );
    }

    #[test]
    fn no_echo_defaults_are_masked() {
        let t = normalise_template(
            &json!({"Parameters": {"Secret": {"Type": "String", "NoEcho": true, "Default": "hunter2"}}}),
            "rendered",
        )
        .unwrap();
        assert_eq!(t.parameters["Secret"]["Default"], MASK);
    }
}
