//! Which lists CloudFormation treats as sets, so that their order is no change.
//!
//! The table is per resource type and lists key paths (object keys, list indices left out).
//! IAM policy documents are recognised wherever they appear, by the property that holds them.

/// List-valued properties whose order CloudFormation ignores, as `(resource type, key paths)`.
/// Type `*` lists names that are sets at any depth of every type (`Tags` inside
/// `TagSpecifications` too).
pub const SET_LIKE: &[(&str, &[&str])] = &[
    ("*", &["Tags"]),
    (
        "AWS::EC2::SecurityGroup",
        &["SecurityGroupIngress", "SecurityGroupEgress"],
    ),
    (
        "AWS::EC2::LaunchTemplate",
        &[
            "LaunchTemplateData.SecurityGroupIds",
            "LaunchTemplateData.SecurityGroups",
            "LaunchTemplateData.TagSpecifications",
            "LaunchTemplateData.NetworkInterfaces.Groups",
            "TagSpecifications",
        ],
    ),
    (
        "AWS::AutoScaling::AutoScalingGroup",
        &[
            "VPCZoneIdentifier",
            "AvailabilityZones",
            "TargetGroupARNs",
            "LoadBalancerNames",
            "MetricsCollection",
            "MetricsCollection.Metrics",
            "NotificationConfigurations",
            "NotificationConfigurations.NotificationTypes",
            "TerminationPolicies",
        ],
    ),
    (
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        &[
            "Subnets",
            "SubnetMappings",
            "SecurityGroups",
            "LoadBalancerAttributes",
        ],
    ),
    (
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        &["TargetGroupAttributes", "Targets"],
    ),
    ("AWS::ElasticLoadBalancingV2::Listener", &["Certificates"]),
    (
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        &[
            "Conditions",
            "Conditions.Values",
            "Conditions.HostHeaderConfig.Values",
            "Conditions.PathPatternConfig.Values",
        ],
    ),
    ("AWS::EFS::FileSystem", &["FileSystemTags"]),
    ("AWS::EFS::MountTarget", &["SecurityGroups"]),
    (
        "AWS::S3::Bucket",
        &[
            "LifecycleConfiguration.Rules",
            "BucketEncryption.ServerSideEncryptionConfiguration",
        ],
    ),
    (
        "AWS::DynamoDB::Table",
        &[
            "AttributeDefinitions",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
        ],
    ),
    (
        "AWS::CloudFront::Distribution",
        // Not `CacheBehaviors` itself: its order is the order paths are matched in.
        &[
            "DistributionConfig.Aliases",
            "DistributionConfig.Origins",
            "DistributionConfig.CustomErrorResponses",
            "DistributionConfig.Restrictions.GeoRestriction.Locations",
            "DistributionConfig.DefaultCacheBehavior.AllowedMethods",
            "DistributionConfig.DefaultCacheBehavior.CachedMethods",
            "DistributionConfig.CacheBehaviors.AllowedMethods",
            "DistributionConfig.CacheBehaviors.CachedMethods",
        ],
    ),
    (
        "AWS::CloudFront::CachePolicy",
        &[
            "CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.Headers",
            "CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.CookiesConfig.Cookies",
            "CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.QueryStringsConfig.QueryStrings",
        ],
    ),
    ("AWS::IAM::Role", &["ManagedPolicyArns", "Policies"]),
    ("AWS::IAM::InstanceProfile", &["Roles"]),
    (
        "AWS::CloudWatch::Alarm",
        &[
            "AlarmActions",
            "OKActions",
            "InsufficientDataActions",
            "Dimensions",
        ],
    ),
    ("AWS::SNS::TopicPolicy", &["Topics"]),
];

/// Properties holding IAM policy documents, whatever the resource type.
pub const POLICY_KEYS: &[&str] = &[
    "PolicyDocument",
    "AssumeRolePolicyDocument",
    "FileSystemPolicy",
];

/// Whether the list at `keys` (indices left out) is a set for resources of type `ty`.
pub fn is_set_like(ty: &str, keys: &[&str]) -> bool {
    SET_LIKE.iter().any(|(t, paths)| {
        paths.iter().any(|path| match *t {
            "*" => keys.last() == Some(path),
            _ => *t == ty && path.split('.').eq(keys.iter().copied()),
        })
    })
}

/// Whether the list at `keys` is compared as a set: listed in [`SET_LIKE`], a resource's
/// `DependsOn`, or one of a policy document's statements, actions, resources, principals or
/// condition values.
pub fn is_set_path(ty: &str, keys: &[&str]) -> bool {
    if is_set_like(ty, keys) || keys == ["DependsOn"] {
        return true;
    }
    let Some(doc) = keys.iter().rposition(|k| POLICY_KEYS.contains(k)) else {
        return false;
    };
    matches!(
        &keys[doc + 1..],
        ["Statement"]
            | [
                "Statement",
                "Action" | "NotAction" | "Resource" | "NotResource"
            ]
            | ["Statement", "Principal" | "NotPrincipal", _]
            | ["Statement", "Condition", _, _]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_paths_are_sets_only_for_their_type() {
        let asg = "AWS::AutoScaling::AutoScalingGroup";
        assert!(is_set_like(asg, &["VPCZoneIdentifier"]));
        assert!(!is_set_like("AWS::EC2::Subnet", &["VPCZoneIdentifier"]));
        assert!(!is_set_like(
            asg,
            &["MixedInstancesPolicy", "LaunchTemplate", "Overrides"]
        ));
    }

    #[test]
    fn tags_are_sets_at_any_depth() {
        let lt = "AWS::EC2::LaunchTemplate";
        assert!(is_set_like(
            lt,
            &["LaunchTemplateData", "TagSpecifications", "Tags"]
        ));
        assert!(is_set_like("AWS::Anything::New", &["Tags"]));
    }

    #[test]
    fn policy_document_lists_are_sets_wherever_the_document_is() {
        let keys = ["Policies", "PolicyDocument", "Statement", "Action"];
        assert!(is_set_path("AWS::IAM::Role", &keys));
        let keys = [
            "AssumeRolePolicyDocument",
            "Statement",
            "Principal",
            "Service",
        ];
        assert!(is_set_path("AWS::IAM::Role", &keys));
        assert!(!is_set_path(
            "AWS::IAM::Role",
            &["PolicyDocument", "Version"]
        ));
    }
}
