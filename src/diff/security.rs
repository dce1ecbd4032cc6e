//! The security view of a diff: IAM statements (of roles, policies, and the resource policies
//! of buckets, topics and EFS file systems) and security-group rules, flattened into
//! comparable items and compared as sets across the whole stack.
//!
//! Flattening first means a rule moving from a group's inline `SecurityGroupIngress` to a
//! standalone `AWS::EC2::SecurityGroupIngress`, or a statement split across two policies, is
//! no security change at all; what is left answers "are permissions broadened?": a new Allow
//! statement, a removed Deny, a newly attached managed policy or a new security-group rule.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::normalise::{NormTemplate, expr_text, intrinsic};
use super::{coverage, notes};

/// One IAM policy statement, with every list sorted and every value as short text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct IamStatement {
    /// Logical id of the role or policy resource that holds it.
    pub resource: String,
    /// Where in that resource: `AssumeRolePolicyDocument`, `Policies.<name>`, `PolicyDocument`.
    pub source: String,
    /// `Allow` or `Deny`.
    pub effect: String,
    /// Principals as `Kind:value` (`Service:ec2.amazonaws.com`), or `*`.
    pub principals: Vec<String>,
    /// `Action` entries.
    pub actions: Vec<String>,
    /// `NotAction` entries.
    pub not_actions: Vec<String>,
    /// `Resource` entries.
    pub resources: Vec<String>,
    /// `NotResource` entries.
    pub not_resources: Vec<String>,
    /// The `Condition` block as compact JSON, if any.
    pub condition: Option<String>,
    /// Whether an action, resource or principal is a wildcard (`*`, `s3:*`).
    pub wildcard: bool,
}

/// A managed policy attached to a role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ManagedPolicy {
    /// Logical id of the role.
    pub role: String,
    /// Policy ARN as short text.
    pub arn: String,
}

/// Traffic direction of a security-group rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Inbound.
    Ingress,
    /// Outbound.
    Egress,
}

/// One security-group rule (its description left out: renaming a rule changes nothing).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SgRule {
    /// The group: its logical id when in this template, else the id expression as text.
    pub group: String,
    /// Ingress or egress.
    pub direction: Direction,
    /// `tcp`, `udp`, `icmp`, `all`, or a protocol number.
    pub protocol: String,
    /// `443`, `1024-65535` or `all`.
    pub ports: String,
    /// The other side: a CIDR, `sg <group>`, or `pl <prefix list>`.
    pub peer: String,
    /// Whether the peer is the whole internet (`0.0.0.0/0`, `::/0`).
    pub open_to_world: bool,
}

/// The security changes of one stack.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SecurityDiff {
    /// Whether anything grants more than before.
    pub broadened: bool,
    /// Statements only in the rendered template.
    pub statements_added: Vec<IamStatement>,
    /// Statements only in the deployed template.
    pub statements_removed: Vec<IamStatement>,
    /// Managed policies newly attached.
    pub managed_policies_added: Vec<ManagedPolicy>,
    /// Managed policies detached.
    pub managed_policies_removed: Vec<ManagedPolicy>,
    /// Security-group rules only in the rendered template.
    pub rules_added: Vec<SgRule>,
    /// Security-group rules only in the deployed template.
    pub rules_removed: Vec<SgRule>,
    /// What the change means for traffic, where the items cannot say it (see `notes`).
    pub notes: Vec<String>,
    /// Whether the change locks the load balancer to the origin header for the first time
    /// (one of the `notes`): a deploy then checks that the distribution sends it.
    #[serde(skip)]
    pub origin_lock_begins: bool,
}

impl SecurityDiff {
    /// Whether nothing security-relevant changes.
    pub fn is_empty(&self) -> bool {
        self.statements_added.is_empty()
            && self.statements_removed.is_empty()
            && self.managed_policies_added.is_empty()
            && self.managed_policies_removed.is_empty()
            && self.rules_added.is_empty()
            && self.rules_removed.is_empty()
    }

    /// Compares the security items of two templates.
    pub fn between(old: &NormTemplate, new: &NormTemplate) -> Self {
        let (old_template, new_template) = (old, new);
        let (old, new) = (Items::of(old), Items::of(new));
        let statements_added: Vec<_> = new
            .statements
            .difference(&old.statements)
            .cloned()
            .collect();
        let statements_removed: Vec<_> = old
            .statements
            .difference(&new.statements)
            .cloned()
            .collect();
        let managed_policies_added: Vec<_> =
            new.managed.difference(&old.managed).cloned().collect();
        let rules_added: Vec<_> = new.rules.difference(&old.rules).cloned().collect();
        // Added items that grant nothing new (a rule or statement narrowed in place) do not
        // broaden; only what no old item covered does.
        let new_grant = |st: &IamStatement| {
            st.effect == "Allow"
                && !old
                    .statements
                    .iter()
                    .any(|o| coverage::statement_covered(st, o))
                && !old.managed.iter().any(|m| coverage::managed_covers(st, m))
        };
        let broadened = statements_added.iter().any(new_grant)
            || statements_removed.iter().any(|s| s.effect == "Deny")
            || !managed_policies_added.is_empty()
            || rules_added
                .iter()
                .any(|r| !old.rules.iter().any(|o| coverage::rule_covered(r, o)));
        SecurityDiff {
            broadened,
            statements_added,
            statements_removed,
            managed_policies_added,
            managed_policies_removed: old.managed.difference(&new.managed).cloned().collect(),
            rules_added,
            rules_removed: old.rules.difference(&new.rules).cloned().collect(),
            notes: notes::traffic_notes(old_template, new_template),
            origin_lock_begins: notes::origin_lock_begins(old_template, new_template),
        }
    }
}

#[derive(Default)]
struct Items {
    statements: BTreeSet<IamStatement>,
    managed: BTreeSet<ManagedPolicy>,
    rules: BTreeSet<SgRule>,
}

impl Items {
    fn of(template: &NormTemplate) -> Self {
        let mut items = Items::default();
        for (id, res) in &template.resources {
            let props = &res.properties;
            match res.ty.as_str() {
                "AWS::IAM::Role" => {
                    items.document(
                        id,
                        "AssumeRolePolicyDocument",
                        props.get("AssumeRolePolicyDocument"),
                    );
                    for policy in list(props.get("Policies")) {
                        let name = policy.get("PolicyName").map(expr_text).unwrap_or_default();
                        items.document(
                            id,
                            &format!("Policies.{name}"),
                            policy.get("PolicyDocument"),
                        );
                    }
                    for arn in list(props.get("ManagedPolicyArns")) {
                        items.managed.insert(ManagedPolicy {
                            role: id.clone(),
                            arn: expr_text(arn),
                        });
                    }
                }
                "AWS::S3::BucketPolicy"
                | "AWS::SNS::TopicPolicy"
                | "AWS::IAM::Policy"
                | "AWS::IAM::ManagedPolicy" => {
                    items.document(id, "PolicyDocument", props.get("PolicyDocument"));
                }
                // A file system's resource policy sits on the file system itself.
                "AWS::EFS::FileSystem" => {
                    items.document(id, "FileSystemPolicy", props.get("FileSystemPolicy"));
                }
                "AWS::EC2::SecurityGroup" => {
                    for (key, direction) in [
                        ("SecurityGroupIngress", Direction::Ingress),
                        ("SecurityGroupEgress", Direction::Egress),
                    ] {
                        for rule in list(props.get(key)) {
                            items.rules.insert(sg_rule(id.clone(), direction, rule));
                        }
                    }
                }
                "AWS::EC2::SecurityGroupIngress" | "AWS::EC2::SecurityGroupEgress" => {
                    let direction = if res.ty.ends_with("Ingress") {
                        Direction::Ingress
                    } else {
                        Direction::Egress
                    };
                    let group = props
                        .get("GroupId")
                        .or_else(|| props.get("GroupName"))
                        .map(group_name)
                        .unwrap_or_default();
                    items.rules.insert(sg_rule(group, direction, props));
                }
                _ => {}
            }
        }
        items
    }

    fn document(&mut self, resource: &str, source: &str, doc: Option<&Value>) {
        for st in list(doc.and_then(|d| d.get("Statement"))) {
            let texts = |key: &str| -> Vec<String> { list(st.get(key)).map(expr_text).collect() };
            let principals = principals(st.get("Principal"));
            let actions = texts("Action");
            let resources = texts("Resource");
            let wildcard = actions
                .iter()
                .chain(&resources)
                .chain(&principals)
                .any(|a| a == "*" || a.ends_with(":*"));
            self.statements.insert(IamStatement {
                resource: resource.to_owned(),
                source: source.to_owned(),
                effect: st.get("Effect").map(expr_text).unwrap_or_default(),
                principals,
                actions,
                not_actions: texts("NotAction"),
                resources,
                not_resources: texts("NotResource"),
                condition: st.get("Condition").map(Value::to_string),
                wildcard,
            });
        }
    }
}

/// The elements of a list value (nothing for anything else).
fn list(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

fn principals(principal: Option<&Value>) -> Vec<String> {
    match principal {
        None => Vec::new(),
        Some(Value::Object(kinds)) if intrinsic(kinds).is_none() => kinds
            .iter()
            .flat_map(|(kind, values)| {
                let values: Vec<&Value> = match values {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                values
                    .into_iter()
                    .map(move |v| format!("{kind}:{}", expr_text(v)))
            })
            .collect(),
        Some(other) => vec![expr_text(other)],
    }
}

/// A security group named by its logical id when it is a `Ref` or `GroupId` of one.
fn group_name(value: &Value) -> String {
    if let Some(obj) = value.as_object() {
        match intrinsic(obj) {
            Some(("Ref", Value::String(id))) => return id.clone(),
            Some(("Fn::GetAtt", Value::Array(parts)))
                if parts.get(1).and_then(Value::as_str) == Some("GroupId") =>
            {
                if let Some(Value::String(id)) = parts.first() {
                    return id.clone();
                }
            }
            _ => {}
        }
    }
    expr_text(value)
}

fn sg_rule(group: String, direction: Direction, rule: &Value) -> SgRule {
    let text = |key: &str| rule.get(key).map(expr_text);
    let protocol = match text("IpProtocol")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("-1") | Some("all") => "all".to_owned(),
        Some("6") => "tcp".to_owned(),
        Some("17") => "udp".to_owned(),
        Some("1") => "icmp".to_owned(),
        Some(other) => other.to_owned(),
    };
    let ports = match (text("FromPort"), text("ToPort")) {
        _ if protocol == "all" => "all".to_owned(),
        (Some(from), _) if from == "-1" => "all".to_owned(),
        (Some(from), Some(to)) if from == to => from,
        (Some(from), Some(to)) => format!("{from}-{to}"),
        (Some(port), None) | (None, Some(port)) => port,
        (None, None) => "all".to_owned(),
    };
    let (cidrs, groups, lists): (&[&str], &[&str], &[&str]) = match direction {
        Direction::Ingress => (
            &["CidrIp", "CidrIpv6"],
            &["SourceSecurityGroupId", "SourceSecurityGroupName"],
            &["SourcePrefixListId"],
        ),
        Direction::Egress => (
            &["CidrIp", "CidrIpv6"],
            &["DestinationSecurityGroupId"],
            &["DestinationPrefixListId"],
        ),
    };
    let peer = cidrs
        .iter()
        .find_map(|k| text(k))
        .or_else(|| {
            groups
                .iter()
                .find_map(|k| rule.get(*k))
                .map(|g| format!("sg {}", group_name(g)))
        })
        .or_else(|| {
            lists
                .iter()
                .find_map(|k| text(k))
                .map(|p| format!("pl {p}"))
        })
        .unwrap_or_default();
    SgRule {
        group,
        direction,
        protocol,
        ports,
        open_to_world: peer == "0.0.0.0/0" || peer == "::/0",
        peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::normalise::normalise_template;
    use serde_json::json;

    fn template(resources: Value) -> NormTemplate {
        normalise_template(&json!({ "Resources": resources }), "rendered").unwrap()
    }

    fn sg(ingress: Value) -> NormTemplate {
        template(
            json!({"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "d", "SecurityGroupIngress": ingress}}}),
        )
    }

    #[test]
    fn new_world_open_ingress_broadens_and_is_flagged() {
        let old = sg(json!([]));
        let new =
            sg(json!([{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}]));
        let d = SecurityDiff::between(&old, &new);
        assert!(d.broadened);
        assert_eq!(d.rules_added.len(), 1);
        let rule = &d.rules_added[0];
        assert_eq!((rule.protocol.as_str(), rule.ports.as_str()), ("tcp", "22"));
        assert!(rule.open_to_world);
    }

    #[test]
    fn inline_rule_moved_to_standalone_ingress_is_no_change() {
        let old = sg(
            json!([{"IpProtocol": "6", "FromPort": "2049", "ToPort": 2049,
            "SourceSecurityGroupId": {"Fn::GetAtt": ["Node", "GroupId"]}, "Description": "a"}]),
        );
        let new = template(json!({
            "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "d"}},
            "Nfs": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                "GroupId": {"Ref": "Sg"}, "IpProtocol": "tcp", "FromPort": 2049, "ToPort": 2049,
                "SourceSecurityGroupId": {"Fn::GetAtt": "Node.GroupId"}, "Description": "b"}}}));
        let d = SecurityDiff::between(&old, &new);
        assert!(d.is_empty(), "{d:?}");
        assert!(!d.broadened);
    }

    #[test]
    fn replacing_the_world_with_a_prefix_list_narrows_and_does_not_broaden() {
        let old = sg(json!([
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"},
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv6": "::/0"},
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"}
        ]));
        let new = sg(json!([
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "SourcePrefixListId": "pl-3b927c52"}
        ]));
        let d = SecurityDiff::between(&old, &new);
        assert!(!d.broadened, "{d:?}");
        assert_eq!(d.rules_added.len(), 1);
        assert_eq!(d.rules_removed.len(), 3);
        assert!(SecurityDiff::between(&new, &old).broadened);
    }

    #[test]
    fn conditioning_a_statement_and_dropping_a_managed_policy_do_not_broaden() {
        let core = json!(["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]);
        let old = role(
            json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "b"}]),
            core,
        );
        let new = role(
            json!([
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "b",
                 "Condition": {"StringLike": {"s3:prefix": ["dist/*"]}}},
                {"Effect": "Allow", "Action": ["ssm:UpdateInstanceInformation",
                 "ssmmessages:CreateControlChannel"], "Resource": "*"}
            ]),
            json!([]),
        );
        let d = SecurityDiff::between(&old, &new);
        assert!(!d.broadened, "{d:?}");
        assert_eq!(d.statements_added.len(), 2);
        assert_eq!(d.managed_policies_removed.len(), 1);
        let wider = role(
            json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "other"}]),
            json!([]),
        );
        assert!(SecurityDiff::between(&old, &wider).broadened);
    }

    #[test]
    fn removed_rule_narrows() {
        let old = sg(json!([{"IpProtocol": "-1", "CidrIpv6": "::/0"}]));
        let d = SecurityDiff::between(&old, &sg(json!([])));
        assert!(!d.broadened);
        assert_eq!(d.rules_removed[0].ports, "all");
    }

    fn role(statements: Value, managed: Value) -> NormTemplate {
        template(json!({"Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": managed,
            "Policies": [{"PolicyName": "node", "PolicyDocument": {"Statement": statements}}]}}}))
    }

    #[test]
    fn new_allow_statement_broadens_and_wildcards_are_flagged() {
        let old = role(json!([]), json!([]));
        let new = role(
            json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
            json!([]),
        );
        let d = SecurityDiff::between(&old, &new);
        assert!(d.broadened);
        let st = &d.statements_added[0];
        assert_eq!(st.source, "Policies.node");
        assert!(st.wildcard);
    }

    #[test]
    fn removed_deny_broadens_and_removed_allow_does_not() {
        let deny = json!([{"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]);
        let allow = json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "x"}]);
        let none = json!([]);
        assert!(
            SecurityDiff::between(&role(deny, none.clone()), &role(none.clone(), none.clone()))
                .broadened
        );
        assert!(
            !SecurityDiff::between(&role(allow, none.clone()), &role(none.clone(), none)).broadened
        );
    }

    #[test]
    fn attaching_a_managed_policy_broadens() {
        let d = SecurityDiff::between(
            &role(json!([]), json!([])),
            &role(
                json!([]),
                json!(["arn:aws:iam::aws:policy/AdministratorAccess"]),
            ),
        );
        assert!(d.broadened);
        assert_eq!(d.managed_policies_added[0].role, "Role");
    }

    fn file_system(statements: Value) -> NormTemplate {
        template(
            json!({"FileSystem": {"Type": "AWS::EFS::FileSystem", "Properties": {
            "Encrypted": true,
            "FileSystemPolicy": {"Version": "2012-10-17", "Statement": statements}}}}),
        )
    }

    #[test]
    fn a_file_system_policy_is_compared_like_any_other_policy() {
        let deny_plain = json!({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        let mount = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
            "Action": "elasticfilesystem:ClientMount"});
        let write = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
            "Action": "elasticfilesystem:ClientWrite"});
        let before = file_system(json!([deny_plain.clone(), mount.clone()]));

        let same = SecurityDiff::between(&before, &before);
        assert!(same.is_empty(), "{same:?}");

        let writable = SecurityDiff::between(
            &before,
            &file_system(json!([deny_plain.clone(), mount.clone(), write])),
        );
        assert!(writable.broadened, "{writable:?}");
        let added = &writable.statements_added[0];
        assert_eq!(
            (added.resource.as_str(), added.source.as_str()),
            ("FileSystem", "FileSystemPolicy")
        );
        assert_eq!(added.actions, ["elasticfilesystem:ClientWrite"]);

        let without_tls = SecurityDiff::between(&before, &file_system(json!([mount])));
        assert!(without_tls.broadened, "a removed Deny: {without_tls:?}");
        assert_eq!(without_tls.statements_removed[0].effect, "Deny");

        let unmountable = SecurityDiff::between(&before, &file_system(json!([deny_plain])));
        assert!(!unmountable.broadened, "{unmountable:?}");
        assert_eq!(unmountable.statements_removed.len(), 1);
    }

    #[test]
    fn trust_policy_principals_read_as_kind_and_value() {
        let d = SecurityDiff::between(&NormTemplate::default(), &role(json!([]), json!([])));
        let trust = &d.statements_added[0];
        assert_eq!(trust.source, "AssumeRolePolicyDocument");
        assert_eq!(trust.principals, ["Service:ec2.amazonaws.com"]);
    }
}
