//! When a new security item grants nothing the old template did not: a narrowed rule or
//! statement shows up in the set difference as "added", and would read as broadening without
//! this.
//!
//! A security-group rule is covered by an old rule of the same group and direction whose
//! protocol, ports and peer contain it (`0.0.0.0/0` contains a prefix list or a group). An IAM
//! Allow statement is covered by an old Allow of the same holder and principals whose actions,
//! resources and conditions contain it (an added condition only narrows), or by a managed
//! policy the old template attached and whose actions the tool knows.

use ipnet::IpNet;

use super::security::{IamStatement, ManagedPolicy, SgRule};

/// AWS-managed policies whose grants the tool knows: name → actions, all on every resource.
const KNOWN_MANAGED: &[(&str, &[&str])] = &[(
    "AmazonSSMManagedInstanceCore",
    &[
        "ssm:DescribeAssociation",
        "ssm:GetDeployablePatchSnapshotForInstance",
        "ssm:GetDocument",
        "ssm:DescribeDocument",
        "ssm:GetManifest",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:ListAssociations",
        "ssm:ListInstanceAssociations",
        "ssm:PutInventory",
        "ssm:PutComplianceItems",
        "ssm:PutConfigurePackageResult",
        "ssm:UpdateAssociationStatus",
        "ssm:UpdateInstanceAssociationStatus",
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
        "ec2messages:AcknowledgeMessage",
        "ec2messages:DeleteMessage",
        "ec2messages:FailMessage",
        "ec2messages:GetEndpoint",
        "ec2messages:GetMessages",
        "ec2messages:SendReply",
    ],
)];

/// Whether `new` admits nothing `old` did not.
pub fn rule_covered(new: &SgRule, old: &SgRule) -> bool {
    new.group == old.group
        && new.direction == old.direction
        && (old.protocol == "all" || old.protocol == new.protocol)
        && ports_within(&new.ports, &old.ports)
        && peer_within(&new.peer, &old.peer)
}

fn port_range(ports: &str) -> Option<(u32, u32)> {
    match ports.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => {
            let p = ports.parse().ok()?;
            Some((p, p))
        }
    }
}

fn ports_within(new: &str, old: &str) -> bool {
    if old == "all" || new == old {
        return true;
    }
    match (port_range(new), port_range(old)) {
        (Some((a, b)), Some((c, d))) => c <= a && b <= d,
        _ => false,
    }
}

fn peer_within(new: &str, old: &str) -> bool {
    if new == old {
        return true;
    }
    let cidr = |s: &str| s.parse::<IpNet>().ok();
    match (cidr(new), cidr(old)) {
        (Some(n), Some(o)) => o.contains(&n),
        // A prefix list or a group: its members are somewhere in the whole internet (the
        // CloudFront origin-facing list is IPv4, groups hold instances of either family).
        (None, Some(o)) => o.prefix_len() == 0,
        _ => false,
    }
}

/// Whether the Allow statement `new` grants nothing the old Allow statement `old` did not.
pub fn statement_covered(new: &IamStatement, old: &IamStatement) -> bool {
    new.effect == "Allow"
        && old.effect == "Allow"
        && new.resource == old.resource
        && new.principals == old.principals
        && old.not_actions.is_empty()
        && old.not_resources.is_empty()
        && new.not_actions.is_empty()
        && new.not_resources.is_empty()
        && new
            .actions
            .iter()
            .all(|a| old.actions.iter().any(|o| action_within(a, o)))
        && new
            .resources
            .iter()
            .all(|r| old.resources.iter().any(|o| resource_within(r, o)))
        && (old.condition.is_none() || old.condition == new.condition)
}

/// Whether a managed policy the old template attached to the statement's role grants all of it.
pub fn managed_covers(new: &IamStatement, old: &ManagedPolicy) -> bool {
    let Some((_, actions)) = KNOWN_MANAGED
        .iter()
        .find(|(name, _)| old.arn.ends_with(&format!("policy/{name}")))
    else {
        return false;
    };
    new.effect == "Allow"
        && new.resource == old.role
        && new.principals.is_empty()
        && new.not_actions.is_empty()
        && new.not_resources.is_empty()
        && new
            .actions
            .iter()
            .all(|a| actions.iter().any(|m| m.eq_ignore_ascii_case(a)))
}

fn action_within(new: &str, old: &str) -> bool {
    if old == "*" || new.eq_ignore_ascii_case(old) {
        return true;
    }
    old.strip_suffix('*').is_some_and(|prefix| {
        new.to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase())
    })
}

fn resource_within(new: &str, old: &str) -> bool {
    old == "*" || new == old || old.strip_suffix('*').is_some_and(|p| new.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::super::security::Direction;
    use super::*;

    fn rule(ports: &str, peer: &str) -> SgRule {
        SgRule {
            group: "Alb".into(),
            direction: Direction::Ingress,
            protocol: "tcp".into(),
            ports: ports.into(),
            peer: peer.into(),
            open_to_world: peer == "0.0.0.0/0" || peer == "::/0",
        }
    }

    #[test]
    fn a_prefix_list_or_a_smaller_range_is_within_the_whole_internet() {
        assert!(rule_covered(
            &rule("443", "pl pl-3b927c52"),
            &rule("443", "0.0.0.0/0")
        ));
        assert!(rule_covered(
            &rule("443", "10.1.0.0/16"),
            &rule("443", "10.0.0.0/8")
        ));
        assert!(rule_covered(
            &rule("443", "10.1.0.0/16"),
            &rule("1-1024", "10.0.0.0/8")
        ));
        assert!(!rule_covered(
            &rule("80", "pl pl-3b927c52"),
            &rule("443", "0.0.0.0/0")
        ));
        assert!(!rule_covered(
            &rule("443", "0.0.0.0/0"),
            &rule("443", "pl pl-3b927c52")
        ));
        assert!(!rule_covered(
            &rule("443", "11.0.0.0/8"),
            &rule("443", "10.0.0.0/8")
        ));
    }

    fn statement(actions: &[&str], resources: &[&str], condition: Option<&str>) -> IamStatement {
        IamStatement {
            resource: "NodeRole".into(),
            source: "Policies.p".into(),
            effect: "Allow".into(),
            principals: vec![],
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            not_actions: vec![],
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            not_resources: vec![],
            condition: condition.map(str::to_owned),
            wildcard: false,
        }
    }

    #[test]
    fn an_added_condition_or_fewer_actions_only_narrow_a_statement() {
        let old = statement(&["s3:ListBucket", "s3:GetObject"], &["bucket"], None);
        let new = statement(
            &["s3:ListBucket"],
            &["bucket"],
            Some(r#"{"StringLike":{}}"#),
        );
        assert!(statement_covered(&new, &old));
        assert!(!statement_covered(&old, &new));
        let other = statement(&["s3:ListBucket"], &["other-bucket"], None);
        assert!(!statement_covered(&other, &old));
        assert!(statement_covered(&new, &statement(&["s3:*"], &["*"], None)));
    }

    #[test]
    fn the_managed_session_manager_policy_covers_its_own_actions_only() {
        let core = ManagedPolicy {
            role: "NodeRole".into(),
            arn: "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore".into(),
        };
        let session = statement(
            &[
                "ssm:UpdateInstanceInformation",
                "ssmmessages:OpenDataChannel",
            ],
            &["*"],
            None,
        );
        assert!(managed_covers(&session, &core));
        let by_path = statement(&["ssm:GetParametersByPath"], &["*"], None);
        assert!(!managed_covers(&by_path, &core));
        let other = ManagedPolicy {
            role: "NodeRole".into(),
            arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        };
        assert!(!managed_covers(&session, &other));
    }
}
