//! What every deployed stack carries besides its template: tags, the IAM capabilities it
//! acknowledges, and for protected envs a stack policy guarding the stateful resources.
//!
//! All of it is read from the rendered template and the env file, so what is acknowledged is
//! exactly what the template declares: `CAPABILITY_IAM` only when it has IAM resources,
//! `CAPABILITY_NAMED_IAM` only when one of them carries an explicit name.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::api::Capability;
use crate::architecture::StackId;
use crate::config::Env;

/// Resource types holding data that a replacement or deletion would lose.
pub const STATEFUL_TYPES: [&str; 3] = [
    "AWS::EFS::FileSystem",
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
];

/// The name properties that make an IAM resource "named" for `CAPABILITY_NAMED_IAM`.
const IAM_NAME_PROPERTIES: [(&str, &str); 5] = [
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::User", "UserName"),
    ("AWS::IAM::Group", "GroupName"),
];

/// The tool's version, as tagged on every stack.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The stack tags: the env's tags plus `ce:env`, `ce:stack` and `ce:version`. CloudFormation
/// propagates stack tags to every resource that supports tags.
pub fn stack_tags(env: &Env, stack: StackId) -> BTreeMap<String, String> {
    let mut tags = env.file.tags.clone();
    tags.insert("ce:env".into(), env.name.to_string());
    tags.insert("ce:stack".into(), stack.to_string());
    tags.insert("ce:version".into(), VERSION.into());
    tags
}

fn resources(template: &Value) -> impl Iterator<Item = (&String, &Value)> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn resource_type(resource: &Value) -> &str {
    resource.get("Type").and_then(Value::as_str).unwrap_or("")
}

/// The capabilities the template needs acknowledged: none, `CAPABILITY_IAM`, or
/// `CAPABILITY_NAMED_IAM` when an IAM resource has an explicit name.
pub fn capabilities(template: &Value) -> Vec<Capability> {
    let mut iam = false;
    for (_, resource) in resources(template) {
        let kind = resource_type(resource);
        if !kind.starts_with("AWS::IAM::") {
            continue;
        }
        iam = true;
        let named = IAM_NAME_PROPERTIES.iter().any(|(t, property)| {
            *t == kind
                && resource
                    .get("Properties")
                    .and_then(|p| p.get(*property))
                    .is_some()
        });
        if named {
            return vec![Capability::NamedIam];
        }
    }
    if iam {
        vec![Capability::Iam]
    } else {
        Vec::new()
    }
}

/// Logical ids of the template's stateful resources (EFS file systems, S3 buckets, DynamoDB
/// tables), sorted.
pub fn stateful_resources(template: &Value) -> Vec<String> {
    let mut ids: Vec<String> = resources(template)
        .filter(|(_, r)| STATEFUL_TYPES.contains(&resource_type(r)))
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    ids
}

/// The stack policy of a protected env: every update is allowed except replacing or deleting
/// the stateful resources. `None` when the stack has none.
pub fn stack_policy(template: &Value) -> Option<String> {
    let guarded = stateful_resources(template);
    if guarded.is_empty() {
        return None;
    }
    let resources: Vec<String> = guarded
        .iter()
        .map(|id| format!("LogicalResourceId/{id}"))
        .collect();
    let policy = json!({
        "Statement": [
            {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["Update:Replace", "Update:Delete"],
                "Principal": "*",
                "Resource": resources
            }
        ]
    });
    Some(policy.to_string())
}

/// The resources a diff (in its JSON form) replaces or removes that the stack's current policy
/// (`None`: no policy) denies, as `LogicalId (Type)`: an update CloudFormation would refuse.
pub fn policy_conflicts(diff: &Value, current_policy: Option<&str>) -> Vec<String> {
    let Some(policy) = current_policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Vec::new();
    };
    let text = |r: &Value, key: &str| r.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    diff.get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| {
            let action = match text(r, "action").as_str() {
                "replace" => "Update:Replace",
                "remove" => "Update:Delete",
                _ => return false,
            };
            denies(&policy, action, &text(r, "logical_id"))
        })
        .map(|r| format!("{} ({})", text(r, "logical_id"), text(r, "resource_type")))
        .collect()
}

/// Whether a stack policy has a `Deny` statement covering `action` on the resource.
fn denies(policy: &Value, action: &str, logical_id: &str) -> bool {
    let list = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    };
    let matches = |pattern: &str, value: &str| match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    };
    let resource = format!("LogicalResourceId/{logical_id}");
    policy
        .get("Statement")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|st| st.get("Effect").and_then(Value::as_str) == Some("Deny"))
        .any(|st| {
            list(st.get("Action")).iter().any(|a| matches(a, action))
                && list(st.get("Resource"))
                    .iter()
                    .any(|r| matches(r, &resource))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unnamed_iam_resources_need_capability_iam_only() {
        let t = json!({"Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
            "Topic": {"Type": "AWS::SNS::Topic"}}});
        assert_eq!(capabilities(&t), vec![Capability::Iam]);
    }

    #[test]
    fn a_named_role_needs_capability_named_iam() {
        let t = json!({"Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "ce-prod-node"}}}});
        assert_eq!(capabilities(&t), vec![Capability::NamedIam]);
    }

    #[test]
    fn a_template_without_iam_needs_no_capability() {
        let t = json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}});
        assert!(capabilities(&t).is_empty());
    }

    #[test]
    fn the_stack_policy_denies_replacing_and_deleting_stateful_resources_by_logical_id() {
        let t = json!({"Resources": {
            "FileSystem": {"Type": "AWS::EFS::FileSystem"},
            "LinksTable": {"Type": "AWS::DynamoDB::Table"},
            "BuildsBucket": {"Type": "AWS::S3::Bucket"},
            "MountTarget": {"Type": "AWS::EFS::MountTarget"}}});
        let policy: Value = serde_json::from_str(&stack_policy(&t).unwrap()).unwrap();
        let deny = &policy["Statement"][1];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Action"], json!(["Update:Replace", "Update:Delete"]));
        assert_eq!(
            deny["Resource"],
            json!([
                "LogicalResourceId/BuildsBucket",
                "LogicalResourceId/FileSystem",
                "LogicalResourceId/LinksTable"
            ])
        );
        assert_eq!(policy["Statement"][0]["Action"], "Update:*");
    }

    fn diff() -> Value {
        json!({"resources": [
            {"logical_id": "LinksTable", "resource_type": "AWS::DynamoDB::Table", "action": "replace"},
            {"logical_id": "LogsBucket", "resource_type": "AWS::S3::Bucket", "action": "modify"},
            {"logical_id": "Topic", "resource_type": "AWS::SNS::Topic", "action": "remove"},
            {"logical_id": "FileSystem", "resource_type": "AWS::EFS::FileSystem", "action": "remove"}]})
    }

    #[test]
    fn the_tools_stack_policy_refuses_replacing_or_removing_what_it_guards() {
        let template = json!({"Resources": {
            "LinksTable": {"Type": "AWS::DynamoDB::Table"},
            "LogsBucket": {"Type": "AWS::S3::Bucket"},
            "FileSystem": {"Type": "AWS::EFS::FileSystem"},
            "Topic": {"Type": "AWS::SNS::Topic"}}});
        let policy = stack_policy(&template).unwrap();
        assert_eq!(
            policy_conflicts(&diff(), Some(&policy)),
            [
                "LinksTable (AWS::DynamoDB::Table)",
                "FileSystem (AWS::EFS::FileSystem)"
            ]
        );
    }

    #[test]
    fn a_lifted_or_absent_policy_refuses_nothing() {
        let open = r#"{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}]}"#;
        assert!(policy_conflicts(&diff(), Some(open)).is_empty());
        assert!(policy_conflicts(&diff(), None).is_empty());
    }

    #[test]
    fn a_wildcard_deny_covers_every_resource_and_action() {
        let all = r#"{"Statement":[{"Effect":"Deny","Action":"Update:*","Principal":"*","Resource":"LogicalResourceId/*"}]}"#;
        assert_eq!(policy_conflicts(&diff(), Some(all)).len(), 3);
    }

    #[test]
    fn a_stack_without_stateful_resources_gets_no_policy() {
        assert_eq!(
            stack_policy(&json!({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}})),
            None
        );
    }
}
