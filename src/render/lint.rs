//! The tool's own rules for rendered templates, checked offline by `ce validate`.
//!
//! cfn-lint knows every resource schema; these rules know the architecture: references resolve,
//! imports come from an earlier stack's exports, stateful resources are retained, templates fit
//! CloudFormation's limits, and every accepted checkov finding says why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::architecture::{Stack, StackId};
use crate::model::Template;
use crate::model::template::INLINE_TEMPLATE_LIMIT;

/// Resource types holding data that must survive stack deletion and replacement.
pub const STATEFUL_TYPES: [&str; 3] = [
    "AWS::EFS::FileSystem",
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
];

/// CloudFormation's per-template limits.
const MAX_RESOURCES: usize = 500;
const MAX_OUTPUTS: usize = 200;
const MAX_PARAMETERS: usize = 200;

/// One broken rule in a rendered template.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// `ce-<env>-<stack>`.
    pub stack: String,
    /// Where in the template (`Resources.Vpc`, `Outputs.VpcId`, the whole template: empty).
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.stack, self.message)
        } else {
            write!(f, "{}: {}: {}", self.stack, self.location, self.message)
        }
    }
}

/// Checks all stacks of one env together (imports are matched against the env's exports).
pub fn check_env(stacks: &[Stack]) -> Vec<Finding> {
    let mut findings = Vec::new();
    // export name → (stack that exports it)
    let mut exports: BTreeMap<String, StackId> = BTreeMap::new();
    for stack in stacks {
        let mut add = |location: String, message: String| {
            findings.push(Finding {
                stack: stack.name.clone(),
                location,
                message,
            })
        };
        // The rules read properties as JSON: each resource's is built once for all of them.
        let properties: Vec<serde_json::Value> = stack
            .template
            .resources
            .values()
            .map(|r| r.properties.to_value())
            .collect();
        check_template(&stack.template, &properties, &mut add);
        for (location, name) in imports_of(&stack.template, &properties) {
            match exports.get(&name) {
                Some(from) if stack.id.depends_on().contains(from) => {}
                Some(from) => add(
                    location,
                    format!("imports {name} from the {from} stack, which it does not depend on"),
                ),
                None => add(
                    location,
                    format!("imports {name}, which no earlier stack of this env exports"),
                ),
            }
        }
        for (output_name, output) in &stack.template.outputs {
            let Some(export) = &output.export else {
                continue;
            };
            let Some(name) = export.name.as_literal() else {
                add(
                    format!("Outputs.{output_name}"),
                    "export name must be a literal".into(),
                );
                continue;
            };
            if let Some(previous) = exports.insert(name.to_owned(), stack.id) {
                add(
                    format!("Outputs.{output_name}"),
                    format!("export {name} is also exported by the {previous} stack"),
                );
            }
        }
    }
    findings
}

/// `properties`: each resource's properties as JSON, in the template's order.
fn check_template(
    t: &Template,
    properties: &[serde_json::Value],
    add: &mut impl FnMut(String, String),
) {
    let size = t.to_compact_json().len();
    if size > INLINE_TEMPLATE_LIMIT {
        add(
            String::new(),
            format!(
                "template is {size} bytes, over CloudFormation's {INLINE_TEMPLATE_LIMIT}-byte inline limit (deploy must upload it to S3)"
            ),
        );
    }
    if t.resources.is_empty() {
        add(String::new(), "template has no resources".into());
    }
    for (what, count, max) in [
        ("resources", t.resources.len(), MAX_RESOURCES),
        ("outputs", t.outputs.len(), MAX_OUTPUTS),
        ("parameters", t.parameters.len(), MAX_PARAMETERS),
    ] {
        if count > max {
            add(
                String::new(),
                format!("{count} {what}, over CloudFormation's limit of {max}"),
            );
        }
    }

    let known: BTreeSet<&str> = t
        .resources
        .keys()
        .map(|id| id.as_str())
        .chain(t.parameters.keys().map(String::as_str))
        .collect();
    for ((id, resource), properties) in t.resources.iter().zip(properties) {
        let location = format!("Resources.{id}");
        if !id.is_valid() {
            add(
                location.clone(),
                "logical id must be 1-255 ASCII letters and digits".into(),
            );
        }
        for dep in &resource.depends_on {
            if !t.resources.contains_key(dep) {
                add(
                    location.clone(),
                    format!("DependsOn names unknown resource {dep}"),
                );
            }
        }
        if let Some(cond) = &resource.condition
            && !t.conditions.contains_key(cond)
        {
            add(location.clone(), format!("condition {cond} is not defined"));
        }
        for waiver in resource.metadata.iter().flat_map(|m| &m.checkov.skip) {
            if let Some(problem) = waiver_problem(&waiver.id, &waiver.comment) {
                add(
                    location.clone(),
                    format!("checkov waiver {}: {problem}", waiver.id),
                );
            }
        }
        if STATEFUL_TYPES.contains(&resource.kind) && !resource.is_retained() {
            add(
                location.clone(),
                format!(
                    "{} holds data: DeletionPolicy and UpdateReplacePolicy must both be Retain",
                    resource.kind
                ),
            );
        }
        for name in references_in_json(properties) {
            if !is_pseudo(&name) && !known.contains(name.as_str()) {
                add(
                    location.clone(),
                    format!("refers to unknown resource or parameter {name}"),
                );
            } else if name == id.as_str() {
                add(location.clone(), "refers to itself".into());
            }
        }
    }
    for (name, output) in &t.outputs {
        let mut refs = Vec::new();
        output.value.references(&mut refs);
        for r in refs {
            if !is_pseudo(&r) && !known.contains(r.as_str()) {
                add(
                    format!("Outputs.{name}"),
                    format!("refers to unknown resource or parameter {r}"),
                );
            }
        }
    }
}

/// Longest waiver reason: one line a reviewer reads at a glance.
const MAX_WAIVER_REASON: usize = 160;

/// What is wrong with a checkov waiver, if anything: the id must be a check id and the reason
/// one line of real text, so a finding is never silenced without saying why.
pub fn waiver_problem(id: &str, reason: &str) -> Option<String> {
    let id_ok = ["CKV_AWS_", "CKV2_AWS_"].iter().any(|prefix| {
        id.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    let reason = reason.trim();
    if !id_ok {
        Some("is not a checkov check id such as CKV_AWS_18".into())
    } else if reason.is_empty() {
        Some("has no reason; say in one line why the finding is accepted".into())
    } else if reason.contains('\n') {
        Some("reason must be one line".into())
    } else if reason.len() > MAX_WAIVER_REASON {
        Some(format!(
            "reason is {} characters; keep it to one line of at most {MAX_WAIVER_REASON}",
            reason.len()
        ))
    } else {
        None
    }
}

fn is_pseudo(name: &str) -> bool {
    name.starts_with("AWS::")
}

/// Names referred to by `Ref`, `Fn::GetAtt` and `Fn::Sub` anywhere in a JSON value.
pub fn references_in_json(value: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_refs(value, &mut out);
    out
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        Value::Object(map) if map.len() == 1 => {
            let (key, arg) = map.iter().next().expect("one entry");
            match (key.as_str(), arg) {
                ("Ref", Value::String(name)) => out.push(name.clone()),
                ("Fn::GetAtt", Value::Array(parts)) => {
                    if let Some(Value::String(name)) = parts.first() {
                        out.push(name.clone());
                    }
                }
                ("Fn::Sub", Value::String(text)) => {
                    out.extend(crate::model::intrinsics::sub_variables(text))
                }
                ("Fn::Sub", Value::Array(parts)) => {
                    let vars = parts.get(1).and_then(Value::as_object);
                    if let Some(Value::String(text)) = parts.first() {
                        out.extend(
                            crate::model::intrinsics::sub_variables(text)
                                .filter(|v| vars.is_none_or(|m| !m.contains_key(v))),
                        );
                    }
                    if let Some(vars) = vars {
                        vars.values().for_each(|v| collect_refs(v, out));
                    }
                }
                _ => collect_refs(arg, out),
            }
        }
        Value::Object(map) => map.values().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Every `Fn::ImportValue` with a literal name in a template, with where it is.
fn imports_of(t: &Template, properties: &[serde_json::Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (id, properties) in t.resources.keys().zip(properties) {
        let mut names = Vec::new();
        collect_imports(properties, &mut names);
        out.extend(names.into_iter().map(|n| (format!("Resources.{id}"), n)));
    }
    for (name, output) in &t.outputs {
        let mut names = Vec::new();
        collect_imports(&output.value.to_json(), &mut names);
        out.extend(names.into_iter().map(|n| (format!("Outputs.{name}"), n)));
    }
    out
}

/// The literal export names a value imports.
pub(crate) fn collect_imports(value: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_imports(v, out)),
        Value::Object(map) => {
            if let (1, Some(Value::String(name))) = (map.len(), map.get("Fn::ImportValue")) {
                out.push(name.clone());
            } else {
                map.values().for_each(|v| collect_imports(v, out));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ec2::{Subnet, Vpc};
    use crate::model::{Expr, LogicalId};

    #[derive(Clone, Debug, serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Bucket {
        bucket_name: Expr,
    }
    impl crate::model::ResourceProperties for Bucket {
        const TYPE: &'static str = "AWS::S3::Bucket";
    }

    fn stack(id: StackId, template: Template) -> Stack {
        Stack {
            id,
            name: format!("ce-t-{id}"),
            template,
        }
    }

    fn vpc_template() -> Template {
        let mut t = Template::new("t");
        t.add(
            &LogicalId::new("Vpc"),
            Vpc {
                cidr_block: "10.0.0.0/16".into(),
                ..Default::default()
            },
        );
        t
    }

    fn messages(findings: &[Finding]) -> Vec<String> {
        findings.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_sound_template_has_no_findings() {
        let mut t = vpc_template();
        t.export("VpcId", "v", Expr::Ref("Vpc".into()), "ce-t-network-VpcId");
        assert_eq!(check_env(&[stack(StackId::Network, t)]), vec![]);
    }

    #[test]
    fn unknown_references_are_reported_with_their_resource() {
        let mut t = vpc_template();
        t.add(
            &LogicalId::new("Subnet"),
            Subnet {
                vpc_id: Expr::Ref("Vcp".into()),
                cidr_block: Expr::sub("${Nope.CidrBlock}"),
                ..Default::default()
            },
        );
        let m = messages(&check_env(&[stack(StackId::Network, t)]));
        assert!(
            m.iter()
                .any(|m| m.contains("Resources.Subnet") && m.contains("Vcp")),
            "{m:?}"
        );
        assert!(m.iter().any(|m| m.contains("Nope")), "{m:?}");
    }

    #[test]
    fn pseudo_parameters_are_known() {
        let mut t = vpc_template();
        t.add(
            &LogicalId::new("Subnet"),
            Subnet {
                vpc_id: Expr::Ref("Vpc".into()),
                cidr_block: Expr::sub("${AWS::Region}"),
                ..Default::default()
            },
        );
        assert_eq!(check_env(&[stack(StackId::Network, t)]), vec![]);
    }

    #[test]
    fn a_checkov_waiver_needs_a_check_id_and_a_one_line_reason() {
        let mut t = vpc_template();
        t.resources
            .get_mut(&LogicalId::new("Vpc"))
            .unwrap()
            .waive("CKV_AWS_18", "")
            .waive("CKV2_AWS_11", "Flow logs cost more than they tell here")
            .waive("checkov-18", "reason");
        let findings = check_env(&[stack(StackId::Network, t)]);
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "checkov waiver CKV_AWS_18: has no reason; say in one line why the finding is accepted",
                "checkov waiver checkov-18: is not a checkov check id such as CKV_AWS_18",
            ]
        );
        assert!(findings.iter().all(|f| f.location == "Resources.Vpc"));
        assert!(waiver_problem("CKV_AWS_18", "two\nlines").is_some());
        assert!(waiver_problem("CKV_AWS_18", &"x".repeat(161)).is_some());
    }

    #[test]
    fn stateful_resources_must_be_retained() {
        let mut t = Template::new("t");
        t.add(
            &LogicalId::new("Loose"),
            Bucket {
                bucket_name: "a".into(),
            },
        );
        t.add(
            &LogicalId::new("Kept"),
            Bucket {
                bucket_name: "b".into(),
            },
        )
        .retain();
        let m = messages(&check_env(&[stack(StackId::Storage, t)]));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("Resources.Loose") && m[0].contains("Retain"));
    }

    #[test]
    fn imports_need_an_export_from_a_stack_depended_on() {
        let mut network = vpc_template();
        network.export("VpcId", "v", Expr::Ref("Vpc".into()), "ce-t-network-VpcId");
        let mut storage = Template::new("t");
        storage.add(
            &LogicalId::new("Subnet"),
            Subnet {
                vpc_id: Expr::import("ce-t-network-VpcId"),
                cidr_block: Expr::import("ce-t-network-Missing"),
                ..Default::default()
            },
        );
        let m = messages(&check_env(&[
            stack(StackId::Network, network.clone()),
            stack(StackId::Storage, storage.clone()),
        ]));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("ce-t-network-Missing"));

        // Network does not depend on storage, so importing from it is wrong even if it exists.
        let mut storage_exporting = Template::new("t");
        storage_exporting
            .add(
                &LogicalId::new("B"),
                Bucket {
                    bucket_name: "b".into(),
                },
            )
            .retain();
        storage_exporting.export("B", "b", Expr::Ref("B".into()), "ce-t-storage-B");
        let mut network_importing = vpc_template();
        network_importing.output("X", "x", Expr::import("ce-t-storage-B"));
        let m = messages(&check_env(&[
            stack(StackId::Storage, storage_exporting),
            stack(StackId::Network, network_importing),
        ]));
        assert!(m.iter().any(|m| m.contains("does not depend on")), "{m:?}");
    }

    #[test]
    fn duplicate_exports_are_reported() {
        let mut a = vpc_template();
        a.export("VpcId", "v", Expr::Ref("Vpc".into()), "same");
        let mut b = Template::new("t");
        b.add(
            &LogicalId::new("K"),
            Bucket {
                bucket_name: "k".into(),
            },
        )
        .retain();
        b.export("Other", "v", Expr::Ref("K".into()), "same");
        let m = messages(&check_env(&[
            stack(StackId::Network, a),
            stack(StackId::Storage, b),
        ]));
        assert!(m.iter().any(|m| m.contains("also exported")), "{m:?}");
    }

    #[test]
    fn bad_logical_ids_dependencies_and_size_are_reported() {
        let mut t = Template::new("t");
        t.add(
            &LogicalId::new("Bad-Id"),
            Vpc {
                cidr_block: "x".repeat(INLINE_TEMPLATE_LIMIT).into(),
                ..Default::default()
            },
        )
        .depends_on(&LogicalId::new("Ghost"));
        let m = messages(&check_env(&[stack(StackId::Network, t)]));
        assert!(m.iter().any(|m| m.contains("logical id")), "{m:?}");
        assert!(
            m.iter()
                .any(|m| m.contains("DependsOn") && m.contains("Ghost")),
            "{m:?}"
        );
        assert!(m.iter().any(|m| m.contains("inline limit")), "{m:?}");
    }

    #[test]
    fn empty_templates_are_reported() {
        let m = messages(&check_env(&[stack(StackId::Edge, Template::new("t"))]));
        assert!(m[0].contains("no resources"));
    }
}
