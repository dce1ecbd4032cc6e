//! The attribute model: which values a resource hands to others (`Ref` and each `Fn::GetAtt`
//! attribute) change when the resource is updated in place, and which only when it is
//! replaced.
//!
//! Replacement changes every value a resource hands out, and the diff already spreads it. An
//! in-place update changes only some: a launch template's `LatestVersionNumber` moves on every
//! change to its data, so an Auto Scaling group reading it is updated too, although its own
//! template text is unchanged (a change set lists it with `ChangeSource: ResourceAttribute`).
//! [`ATTRIBUTE_TABLE`] records this per modelled resource type, from the "Return values"
//! sections of the AWS resource reference. `Ref` of every modelled type is an id or a name
//! fixed at creation. An attribute the table does not list is assumed to change on any update:
//! the diff would rather show a change that does not happen than hide one that does.

use serde_json::Value;

use super::normalise::{PropertyPath, intrinsic};

/// When a value a resource hands out changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangesOn {
    /// Only when the resource is replaced (ids, ARNs, names, create-only properties).
    Replacement,
    /// On any in-place update of its properties.
    AnyUpdate,
    /// When a property at or below one of these top-level keys changes.
    UpdateOf(&'static [&'static str]),
}

/// The attributes of one resource type that change on an in-place update.
#[derive(Clone, Copy, Debug)]
pub struct AttributeRule {
    /// CloudFormation resource type.
    pub resource_type: &'static str,
    /// Every documented `Fn::GetAtt` attribute and when it changes.
    pub attributes: &'static [(&'static str, ChangesOn)],
}

const fn attrs(
    resource_type: &'static str,
    attributes: &'static [(&'static str, ChangesOn)],
) -> AttributeRule {
    AttributeRule {
        resource_type,
        attributes,
    }
}

use ChangesOn::{AnyUpdate, Replacement, UpdateOf};

/// The `Fn::GetAtt` attributes of every modelled resource type.
pub const ATTRIBUTE_TABLE: &[AttributeRule] = &[
    attrs(
        "AWS::EC2::VPC",
        &[
            ("CidrBlock", Replacement),
            ("CidrBlockAssociations", Replacement),
            ("DefaultNetworkAcl", Replacement),
            ("DefaultSecurityGroup", Replacement),
            ("VpcId", Replacement),
        ],
    ),
    attrs(
        "AWS::EC2::Subnet",
        &[
            ("AvailabilityZone", Replacement),
            ("AvailabilityZoneId", Replacement),
            ("CidrBlock", Replacement),
            ("Ipv6CidrBlocks", UpdateOf(&["Ipv6CidrBlock"])),
            ("NetworkAclAssociationId", Replacement),
            ("OutpostArn", Replacement),
            ("SubnetId", Replacement),
            ("VpcId", Replacement),
        ],
    ),
    attrs(
        "AWS::EC2::InternetGateway",
        &[("InternetGatewayId", Replacement)],
    ),
    attrs("AWS::EC2::VPCGatewayAttachment", &[]),
    attrs("AWS::EC2::RouteTable", &[("RouteTableId", Replacement)]),
    attrs("AWS::EC2::Route", &[]),
    attrs(
        "AWS::EC2::SubnetRouteTableAssociation",
        &[("Id", Replacement)],
    ),
    attrs(
        "AWS::EC2::SecurityGroup",
        &[("GroupId", Replacement), ("VpcId", Replacement)],
    ),
    attrs("AWS::EC2::SecurityGroupIngress", &[("Id", Replacement)]),
    attrs(
        "AWS::EC2::LaunchTemplate",
        &[
            ("LaunchTemplateId", Replacement),
            // Every change to the data is a new version, which CloudFormation makes the default.
            ("DefaultVersionNumber", UpdateOf(&["LaunchTemplateData"])),
            ("LatestVersionNumber", UpdateOf(&["LaunchTemplateData"])),
        ],
    ),
    attrs("AWS::AutoScaling::AutoScalingGroup", &[]),
    attrs(
        "AWS::AutoScaling::ScalingPolicy",
        &[("Arn", Replacement), ("PolicyName", Replacement)],
    ),
    attrs(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        &[
            ("CanonicalHostedZoneID", Replacement),
            ("DNSName", Replacement),
            ("LoadBalancerArn", Replacement),
            ("LoadBalancerFullName", Replacement),
            ("LoadBalancerName", Replacement),
            ("SecurityGroups", UpdateOf(&["SecurityGroups"])),
        ],
    ),
    attrs(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        &[
            // Changes when listeners or rules start or stop forwarding to the group.
            ("LoadBalancerArns", AnyUpdate),
            ("TargetGroupArn", Replacement),
            ("TargetGroupFullName", Replacement),
            ("TargetGroupName", Replacement),
        ],
    ),
    attrs(
        "AWS::ElasticLoadBalancingV2::Listener",
        &[("ListenerArn", Replacement)],
    ),
    attrs(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        &[("IsDefault", Replacement), ("RuleArn", Replacement)],
    ),
    attrs(
        "AWS::EFS::FileSystem",
        &[("Arn", Replacement), ("FileSystemId", Replacement)],
    ),
    attrs(
        "AWS::EFS::MountTarget",
        &[("Id", Replacement), ("IpAddress", Replacement)],
    ),
    attrs(
        "AWS::S3::Bucket",
        &[
            ("Arn", Replacement),
            ("DomainName", Replacement),
            ("DualStackDomainName", Replacement),
            ("RegionalDomainName", Replacement),
            ("WebsiteURL", Replacement),
        ],
    ),
    attrs("AWS::S3::BucketPolicy", &[]),
    attrs(
        "AWS::DynamoDB::Table",
        &[
            ("Arn", Replacement),
            ("StreamArn", UpdateOf(&["StreamSpecification"])),
        ],
    ),
    attrs(
        "AWS::CloudFront::Distribution",
        &[("DomainName", Replacement), ("Id", Replacement)],
    ),
    attrs(
        "AWS::CloudFront::OriginAccessControl",
        &[("Id", Replacement)],
    ),
    attrs(
        "AWS::CloudFront::CachePolicy",
        &[("Id", Replacement), ("LastModifiedTime", AnyUpdate)],
    ),
    attrs(
        "AWS::IAM::Role",
        &[("Arn", Replacement), ("RoleId", Replacement)],
    ),
    attrs("AWS::IAM::InstanceProfile", &[("Arn", Replacement)]),
    attrs("AWS::CloudWatch::Alarm", &[("Arn", Replacement)]),
    attrs(
        "AWS::SNS::Topic",
        &[("TopicArn", Replacement), ("TopicName", Replacement)],
    ),
    attrs("AWS::SNS::Subscription", &[]),
    attrs("AWS::SNS::TopicPolicy", &[("Id", Replacement)]),
    attrs(
        "AWS::WAFv2::WebACL",
        &[
            ("Arn", Replacement),
            // The web ACL capacity units its rules use.
            ("Capacity", UpdateOf(&["Rules"])),
            ("Id", Replacement),
            ("LabelNamespace", Replacement),
        ],
    ),
    attrs(
        "AWS::WAFv2::IPSet",
        &[("Arn", Replacement), ("Id", Replacement)],
    ),
    attrs("AWS::Budgets::Budget", &[("Id", Replacement)]),
    attrs("AWS::CloudWatch::Dashboard", &[]),
    attrs(
        "AWS::EC2::VPCEndpoint",
        &[
            ("CreationTimestamp", Replacement),
            ("DnsEntries", UpdateOf(&["SubnetIds", "DnsOptions"])),
            ("Id", Replacement),
            ("NetworkInterfaceIds", UpdateOf(&["SubnetIds"])),
        ],
    ),
    attrs(
        "AWS::EFS::AccessPoint",
        &[("AccessPointId", Replacement), ("Arn", Replacement)],
    ),
    attrs("AWS::SecretsManager::Secret", &[("Id", Replacement)]),
];

/// The attribute rule of a resource type, if it is modelled.
pub fn attribute_rule(resource_type: &str) -> Option<&'static AttributeRule> {
    ATTRIBUTE_TABLE
        .iter()
        .find(|r| r.resource_type == resource_type)
}

/// When `attribute` of a resource of `resource_type` changes; `None` (for `Ref`) is the
/// resource's id or name. Unmodelled attributes count as changing on any update.
pub fn changes_on(resource_type: &str, attribute: Option<&str>) -> ChangesOn {
    let Some(attribute) = attribute else {
        return Replacement;
    };
    attribute_rule(resource_type)
        .and_then(|rule| rule.attributes.iter().find(|(name, _)| *name == attribute))
        .map_or(AnyUpdate, |(_, on)| *on)
}

/// Whether an in-place update that changes the properties at `changed` (dotted paths) changes
/// the value of `attribute`.
pub fn changes_with(resource_type: &str, attribute: Option<&str>, changed: &[String]) -> bool {
    if changed.is_empty() {
        return false;
    }
    match changes_on(resource_type, attribute) {
        Replacement => false,
        AnyUpdate => true,
        UpdateOf(keys) => changed.iter().any(|path| {
            keys.iter().any(|k| {
                path.strip_prefix(k)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
        }),
    }
}

/// What a value reads from elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// `Ref` (attribute `None`), `Fn::GetAtt` or a `Fn::Sub` variable of a resource (or of a
    /// parameter: callers look the id up among resources).
    Resource {
        /// Logical id.
        id: String,
        /// The attribute, `None` for `Ref`.
        attribute: Option<String>,
    },
    /// `Fn::ImportValue` of a literal export name.
    Import(String),
    /// One element of an imported list: `Fn::Select [index, Fn::Split [delimiter,
    /// Fn::ImportValue export]]`, which changes only when that element does.
    ImportElement {
        /// The export's name.
        export: String,
        /// The `Fn::Split` delimiter.
        delimiter: String,
        /// The `Fn::Select` index.
        index: usize,
    },
}

impl Source {
    /// How causes name the source: `Lt.LatestVersionNumber`, `Vpc`, or the export.
    pub fn describe(&self) -> String {
        match self {
            Source::Resource {
                id,
                attribute: Some(a),
            } => format!("{id}.{a}"),
            Source::Resource {
                id,
                attribute: None,
            } => id.clone(),
            Source::Import(name) => format!("the export {name}"),
            Source::ImportElement { export, index, .. } => {
                format!("element {index} of the export {export}")
            }
        }
    }
}

/// Every value `value` reads, with the path where the read stands, through any intrinsic
/// function (`Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::If`, ...). Pseudo parameters are left
/// out; the condition name of an `Fn::If` is not a read.
pub fn reads(value: &Value, path: &PropertyPath, out: &mut Vec<(PropertyPath, Source)>) {
    reads_at(value, path, false, out);
}

/// `in_function`: inside an intrinsic function's arguments, whose lists are not property
/// lists, so the reads keep the path of the function's value.
fn reads_at(
    value: &Value,
    path: &PropertyPath,
    in_function: bool,
    out: &mut Vec<(PropertyPath, Source)>,
) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let here = if in_function {
                    path.clone()
                } else {
                    path.index(i)
                };
                reads_at(item, &here, in_function, out);
            }
        }
        Value::Object(obj) => match intrinsic(obj) {
            Some(("Ref", Value::String(id))) => push(path, id, None, out),
            Some(("Fn::GetAtt", Value::Array(parts))) => {
                if let (Some(Value::String(id)), attribute) = (parts.first(), parts.get(1)) {
                    push(path, id, attribute.and_then(Value::as_str), out);
                }
            }
            Some(("Fn::GetAtt", Value::String(dotted))) => {
                let (id, attribute) = dotted
                    .split_once('.')
                    .map_or((dotted.as_str(), None), |(i, a)| (i, Some(a)));
                push(path, id, attribute, out);
            }
            Some(("Fn::Select", Value::Array(parts))) if imported_element(parts).is_some() => {
                if let Some(source) = imported_element(parts) {
                    out.push((path.clone(), source));
                }
            }
            Some(("Fn::ImportValue", Value::String(name))) => {
                out.push((path.clone(), Source::Import(name.clone())));
            }
            Some(("Fn::Sub", args)) => {
                let (text, vars) = match args {
                    Value::Array(parts) => (parts.first(), parts.get(1).and_then(Value::as_object)),
                    other => (Some(other), None),
                };
                if let Some(Value::String(text)) = text {
                    for var in sub_references(text) {
                        let (id, attribute) = var
                            .split_once('.')
                            .map_or((var, None), |(i, a)| (i, Some(a)));
                        if !vars.is_some_and(|v| v.contains_key(id)) {
                            push(path, id, attribute, out);
                        }
                    }
                }
                for var in vars.into_iter().flat_map(|v| v.values()) {
                    reads_at(var, path, true, out);
                }
            }
            // The condition name of an `Fn::If` is not a read; its branches are.
            Some(("Fn::If", Value::Array(parts))) => {
                for branch in parts.iter().skip(1) {
                    reads_at(branch, path, true, out);
                }
            }
            Some((_, args)) => reads_at(args, path, true, out),
            None => {
                for (k, v) in obj {
                    reads_at(v, &path.key(k), in_function, out);
                }
            }
        },
        _ => {}
    }
}

/// `[index, {"Fn::Split": [delimiter, {"Fn::ImportValue": export}]}]` as an element read.
fn imported_element(select: &[Value]) -> Option<Source> {
    let [index, list] = select else {
        return None;
    };
    let index = match index {
        Value::String(s) => s.parse().ok()?,
        Value::Number(n) => usize::try_from(n.as_u64()?).ok()?,
        _ => return None,
    };
    let split = list.as_object().and_then(intrinsic)?;
    let ("Fn::Split", Value::Array(split)) = split else {
        return None;
    };
    let [Value::String(delimiter), imported] = split.as_slice() else {
        return None;
    };
    let Some(("Fn::ImportValue", Value::String(export))) = imported.as_object().and_then(intrinsic)
    else {
        return None;
    };
    Some(Source::ImportElement {
        export: export.clone(),
        delimiter: delimiter.clone(),
        index,
    })
}

/// The `${Name}` and `${Name.Attribute}` references of a `Fn::Sub` string, escapes skipped.
fn sub_references(text: &str) -> impl Iterator<Item = &str> {
    text.split("${").skip(1).filter_map(|rest| {
        let (name, _) = rest.split_once('}')?;
        (!name.starts_with('!')).then_some(name)
    })
}

fn push(
    path: &PropertyPath,
    id: &str,
    attribute: Option<&str>,
    out: &mut Vec<(PropertyPath, Source)>,
) {
    if !id.starts_with("AWS::") {
        out.push((
            path.clone(),
            Source::Resource {
                id: id.to_owned(),
                attribute: attribute.map(str::to_owned),
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn found(v: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        reads(v, &PropertyPath::default(), &mut out);
        out.iter()
            .map(|(p, s)| (p.to_string(), s.describe()))
            .collect()
    }

    #[test]
    fn reads_name_the_attribute_through_every_intrinsic() {
        let v = json!({
            "A": {"Fn::GetAtt": ["Lt", "LatestVersionNumber"]},
            "B": {"Fn::Sub": "${Bucket.Arn}/* ${AWS::Region} ${!Literal}"},
            "C": {"Fn::Join": ["", [{"Ref": "Vpc"}, "x"]]},
            "D": {"Fn::Select": [0, {"Fn::GetAtt": "Lb.SecurityGroups"}]},
            "E": {"Fn::If": ["IsProd", {"Ref": "Topic"}, {"Ref": "AWS::NoValue"}]},
            "F": {"Fn::ImportValue": "ce-prod-network-VpcId"},
            "G": {"Fn::Select": ["1", {"Fn::Split": [",", {"Fn::ImportValue": "ce-prod-network-SubnetIds"}]}]},
            "H": {"Fn::Split": [",", {"Fn::ImportValue": "ce-prod-network-SubnetIds"}]},
        });
        assert_eq!(
            found(&v),
            [
                ("A".to_owned(), "Lt.LatestVersionNumber".to_owned()),
                ("B".to_owned(), "Bucket.Arn".to_owned()),
                ("C".to_owned(), "Vpc".to_owned()),
                ("D".to_owned(), "Lb.SecurityGroups".to_owned()),
                ("E".to_owned(), "Topic".to_owned()),
                (
                    "F".to_owned(),
                    "the export ce-prod-network-VpcId".to_owned()
                ),
                (
                    "G".to_owned(),
                    "element 1 of the export ce-prod-network-SubnetIds".to_owned()
                ),
                (
                    "H".to_owned(),
                    "the export ce-prod-network-SubnetIds".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_launch_template_version_changes_with_its_data_and_its_id_does_not() {
        let ty = "AWS::EC2::LaunchTemplate";
        let data = ["LaunchTemplateData.InstanceType".to_owned()];
        assert!(changes_with(ty, Some("LatestVersionNumber"), &data));
        assert!(!changes_with(ty, None, &data));
        assert!(!changes_with(ty, Some("LaunchTemplateId"), &data));
        let tags = ["TagSpecifications[0].Tags".to_owned()];
        assert!(!changes_with(ty, Some("LatestVersionNumber"), &tags));
    }

    #[test]
    fn a_security_group_id_changes_only_on_replacement() {
        let rules = ["SecurityGroupIngress".to_owned()];
        assert!(!changes_with(
            "AWS::EC2::SecurityGroup",
            Some("GroupId"),
            &rules
        ));
    }

    #[test]
    fn an_unmodelled_attribute_is_assumed_to_change_on_update() {
        let any = ["X".to_owned()];
        assert!(changes_with("AWS::S3::Bucket", Some("NewAttribute"), &any));
        assert!(!changes_with("AWS::S3::Bucket", Some("NewAttribute"), &[]));
    }

    #[test]
    fn every_type_of_the_replacement_table_has_an_attribute_rule_once() {
        for rule in super::super::impact::REPLACEMENT_TABLE {
            let count = ATTRIBUTE_TABLE
                .iter()
                .filter(|a| a.resource_type == rule.resource_type)
                .count();
            assert_eq!(count, 1, "{}", rule.resource_type);
        }
        assert_eq!(
            ATTRIBUTE_TABLE.len(),
            super::super::impact::REPLACEMENT_TABLE.len()
        );
    }

    #[test]
    fn update_of_matches_whole_keys_only() {
        let ty = "AWS::DynamoDB::Table";
        assert!(changes_with(
            ty,
            Some("StreamArn"),
            &["StreamSpecification.StreamViewType".into()]
        ));
        assert!(!changes_with(
            ty,
            Some("StreamArn"),
            &["StreamSpecificationX".into()]
        ));
    }
}
