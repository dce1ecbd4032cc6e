//! Offline replacement prediction: which property changes force a new physical resource, and
//! what replacing or removing a stateful resource does to its data. How a change spreads to
//! the resources that read the changed one is [`super::spread`]'s job.
//!
//! [`REPLACEMENT_TABLE`] is a superset of the `createOnlyProperties` of CloudFormation's
//! registry schemas for every resource type the architecture uses (a test checks it against
//! the schemas cfn-lint ships). The schemas miss some replacements; the extra entries are
//! marked "beyond the schema" below. A change set, when there is one, refines all of this.

use super::model::{Action, Basis, DataLoss, DataOutcome, Impact, Policy, ResourceDiff};
use super::normalise::NormTemplate;

/// The properties whose change replaces a resource of one type.
#[derive(Clone, Copy, Debug)]
pub struct ReplacementRule {
    /// CloudFormation resource type.
    pub resource_type: &'static str,
    /// Key paths (dotted, list indices left out) whose change always replaces.
    pub always: &'static [&'static str],
    /// Key paths whose change replaces only in some cases.
    pub conditional: &'static [&'static str],
}

const fn rule(
    resource_type: &'static str,
    always: &'static [&'static str],
    conditional: &'static [&'static str],
) -> ReplacementRule {
    ReplacementRule {
        resource_type,
        always,
        conditional,
    }
}

/// Replacement-forcing properties of every modelled resource type.
pub const REPLACEMENT_TABLE: &[ReplacementRule] = &[
    rule(
        "AWS::EC2::VPC",
        &[
            "CidrBlock",
            "Ipv4IpamPoolId",
            "Ipv4NetmaskLength",
            "VpcEncryptionControl",
        ],
        // Beyond the schema: dedicated → default is in place, any other tenancy change replaces.
        &["InstanceTenancy"],
    ),
    rule(
        "AWS::EC2::Subnet",
        &[
            "AvailabilityZone",
            "AvailabilityZoneId",
            "CidrBlock",
            "Ipv4IpamPoolId",
            "Ipv4NetmaskLength",
            "Ipv6IpamPoolId",
            "Ipv6Native",
            "Ipv6NetmaskLength",
            "OutpostArn",
            "VpcId",
        ],
        &[],
    ),
    rule("AWS::EC2::InternetGateway", &[], &[]),
    rule("AWS::EC2::VPCGatewayAttachment", &["VpcId"], &[]),
    rule("AWS::EC2::RouteTable", &["VpcId"], &[]),
    rule(
        "AWS::EC2::Route",
        &[
            "DestinationCidrBlock",
            "DestinationIpv6CidrBlock",
            "DestinationPrefixListId",
            "RouteTableId",
        ],
        &[],
    ),
    rule(
        "AWS::EC2::SubnetRouteTableAssociation",
        &["RouteTableId", "SubnetId"],
        &[],
    ),
    rule(
        "AWS::EC2::SecurityGroup",
        &["GroupDescription", "GroupName", "VpcId"],
        &[],
    ),
    rule(
        "AWS::EC2::SecurityGroupIngress",
        &[
            "CidrIp",
            "CidrIpv6",
            "FromPort",
            "GroupId",
            "GroupName",
            "IpProtocol",
            "SourcePrefixListId",
            "SourceSecurityGroupId",
            "SourceSecurityGroupName",
            "SourceSecurityGroupOwnerId",
            "ToPort",
        ],
        &[],
    ),
    rule("AWS::EC2::LaunchTemplate", &["LaunchTemplateName"], &[]),
    rule(
        "AWS::AutoScaling::AutoScalingGroup",
        &["AutoScalingGroupName", "InstanceId"],
        &[],
    ),
    rule(
        "AWS::AutoScaling::ScalingPolicy",
        &["AutoScalingGroupName"],
        &[],
    ),
    rule(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        &["Name", "Scheme", "Type"],
        &[],
    ),
    rule(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        &[
            "IpAddressType",
            "Name",
            "Port",
            "Protocol",
            "ProtocolVersion",
            "TargetType",
            "VpcId",
        ],
        &[],
    ),
    rule(
        "AWS::ElasticLoadBalancingV2::Listener",
        &["LoadBalancerArn"],
        &[],
    ),
    rule(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        &["ListenerArn"],
        &[],
    ),
    rule(
        "AWS::EFS::FileSystem",
        &[
            "AvailabilityZoneName",
            "Encrypted",
            "KmsKeyId",
            "PerformanceMode",
        ],
        &[],
    ),
    rule(
        "AWS::EFS::MountTarget",
        &[
            "FileSystemId",
            "IpAddress",
            "IpAddressType",
            "Ipv6Address",
            "SubnetId",
        ],
        &[],
    ),
    rule(
        "AWS::S3::Bucket",
        &["BucketName", "BucketNamePrefix", "BucketNamespace"],
        &[],
    ),
    rule("AWS::S3::BucketPolicy", &["Bucket"], &[]),
    rule(
        "AWS::DynamoDB::Table",
        // Beyond the schema: a new key schema or local index set means a new table.
        &[
            "ImportSourceSpecification",
            "KeySchema",
            "LocalSecondaryIndexes",
            "TableName",
        ],
        &[],
    ),
    rule("AWS::CloudFront::Distribution", &[], &[]),
    rule("AWS::CloudFront::OriginAccessControl", &[], &[]),
    rule("AWS::CloudFront::CachePolicy", &[], &[]),
    rule("AWS::IAM::Role", &["Path", "RoleName"], &[]),
    rule(
        "AWS::IAM::InstanceProfile",
        &["InstanceProfileName", "Path"],
        &[],
    ),
    rule("AWS::CloudWatch::Alarm", &["AlarmName"], &[]),
    rule("AWS::SNS::Topic", &["FifoTopic", "TopicName"], &[]),
    rule(
        "AWS::SNS::Subscription",
        &["Endpoint", "Protocol", "TopicArn"],
        &[],
    ),
    rule("AWS::SNS::TopicPolicy", &[], &[]),
    rule("AWS::WAFv2::WebACL", &["Name", "Scope"], &[]),
    rule("AWS::WAFv2::IPSet", &["Name", "Scope"], &[]),
    rule(
        "AWS::Budgets::Budget",
        &["Budget.BudgetName", "NotificationsWithSubscribers"],
        &[],
    ),
    rule("AWS::CloudWatch::Dashboard", &["DashboardName"], &[]),
    rule(
        "AWS::EC2::VPCEndpoint",
        &[
            "DnsOptions.PrivateDnsPreference",
            "DnsOptions.PrivateDnsSpecifiedDomains",
            "ResourceConfigurationArn",
            "ServiceName",
            "ServiceNetworkArn",
            "ServiceRegion",
            "VpcEndpointType",
            "VpcId",
        ],
        &[],
    ),
    rule(
        "AWS::EFS::AccessPoint",
        &["ClientToken", "FileSystemId", "PosixUser", "RootDirectory"],
        &[],
    ),
    rule("AWS::SecretsManager::Secret", &["Name"], &[]),
];

/// Resource types that hold data a replacement or removal can lose.
pub const STATEFUL_TYPES: &[&str] = &[
    "AWS::EFS::FileSystem",
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
];

/// The replacement rule of a resource type, if it is modelled.
pub fn replacement_rule(resource_type: &str) -> Option<&'static ReplacementRule> {
    REPLACEMENT_TABLE
        .iter()
        .find(|r| r.resource_type == resource_type)
}

/// What changing the property at `keys` does to a resource of `resource_type`.
///
/// A change at or below a listed path replaces; a change above one (a whole parent object
/// added or removed) may. Types outside the table may always be replaced: the tool does not
/// know them.
pub fn property_impact(resource_type: &str, keys: &[&str]) -> Impact {
    let Some(rule) = replacement_rule(resource_type) else {
        return Impact::MayReplace;
    };
    let mut impact = Impact::Update;
    for (paths, full) in [
        (rule.always, Impact::Replace),
        (rule.conditional, Impact::MayReplace),
    ] {
        for path in paths {
            let listed: Vec<&str> = path.split('.').collect();
            if keys.starts_with(&listed) {
                impact = impact.max(full);
            } else if listed.starts_with(keys) {
                impact = impact.max(Impact::MayReplace);
            }
        }
    }
    impact
}

/// The diff entry of a resource whose own template text is unchanged.
pub(crate) fn untouched(
    id: &str,
    ty: &str,
    old: &NormTemplate,
    new: &NormTemplate,
) -> ResourceDiff {
    ResourceDiff {
        logical_id: id.to_owned(),
        resource_type: ty.to_owned(),
        action: Action::Modify,
        impact: Impact::NoChange,
        basis: Basis::Predicted,
        changes: Vec::new(),
        causes: Vec::new(),
        reads: Vec::new(),
        consequences: Vec::new(),
        blocked_by: Vec::new(),
        deletion_policy: Policy::parse(
            old.resources
                .get(id)
                .and_then(|r| r.attributes.get("DeletionPolicy")),
        ),
        update_replace_policy: Policy::parse(
            new.resources
                .get(id)
                .and_then(|r| r.attributes.get("UpdateReplacePolicy")),
        ),
        predicted_impact: None,
    }
}

/// A data-loss line for every stateful resource that is (or may be) replaced or removed.
///
/// A replacement is governed by the rendered template's `UpdateReplacePolicy`, a removal by
/// the deployed template's `DeletionPolicy`.
pub(crate) fn data_loss(resources: &[ResourceDiff]) -> Vec<DataLoss> {
    resources
        .iter()
        .filter(|r| STATEFUL_TYPES.contains(&r.resource_type.as_str()))
        .filter_map(|r| {
            let policy = match r.impact {
                Impact::MayReplace | Impact::Replace => r.update_replace_policy,
                Impact::Orphan | Impact::Destroy => r.deletion_policy,
                _ => return None,
            };
            let outcome = match policy {
                Policy::Retain | Policy::RetainExceptOnCreate => DataOutcome::Retained,
                Policy::Snapshot => DataOutcome::Snapshot,
                Policy::Delete => DataOutcome::Deleted,
            };
            Some(DataLoss {
                logical_id: r.logical_id.clone(),
                resource_type: r.resource_type.clone(),
                impact: r.impact,
                policy,
                outcome,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_property_replaces_and_others_update() {
        assert_eq!(
            property_impact("AWS::EC2::VPC", &["CidrBlock"]),
            Impact::Replace
        );
        assert_eq!(
            property_impact("AWS::EC2::VPC", &["EnableDnsSupport"]),
            Impact::Update
        );
        assert_eq!(
            property_impact("AWS::EC2::VPC", &["InstanceTenancy"]),
            Impact::MayReplace
        );
    }

    #[test]
    fn change_below_a_listed_path_replaces() {
        let keys = ["KeySchema", "AttributeName"];
        assert_eq!(
            property_impact("AWS::DynamoDB::Table", &keys),
            Impact::Replace
        );
    }

    #[test]
    fn unknown_type_may_be_replaced() {
        assert_eq!(property_impact("AWS::Foo::Bar", &["X"]), Impact::MayReplace);
    }

    #[test]
    fn every_modelled_type_is_in_the_table_once() {
        let mut types: Vec<_> = REPLACEMENT_TABLE.iter().map(|r| r.resource_type).collect();
        let before = types.len();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), before);
        assert_eq!(before, 37);
    }
}
