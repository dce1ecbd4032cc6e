//! `AWS::AutoScaling::*` resource types: the web nodes' Auto Scaling group (single launch
//! template or a mixed on-demand/spot policy) and its scaling policies.
//!
//! CloudFormation types a few numeric group properties (`MinSize`, `MaxSize`,
//! `DesiredCapacity`, `Cooldown`) as strings; the structs keep them numeric and serialise them
//! the way CloudFormation documents them.

use serde::{Serialize, Serializer};

use super::{Expr, ResourceProperties, Tag};

fn number_as_string<S: Serializer>(n: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(n)
}

fn optional_number_as_string<S: Serializer>(n: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => s.collect_str(n),
        None => s.serialize_none(),
    }
}

/// How the group decides an instance is unhealthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum HealthCheckType {
    /// EC2 status checks only.
    #[serde(rename = "EC2")]
    Ec2,
    /// Also the load balancer's target health: a node whose app is down is replaced.
    #[serde(rename = "ELB")]
    Elb,
}

/// `LaunchTemplateSpecification`: a launch template and the version to launch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplateSpecification {
    /// Launch template id (give this or the name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_id: Option<Expr>,
    /// Launch template name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template_name: Option<Expr>,
    /// Version number, `$Latest` or `$Default`.
    pub version: Expr,
}

/// One entry of `LaunchTemplate.Overrides` in a mixed instances policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchTemplateOverrides {
    /// Instance type used instead of the launch template's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Capacity units one instance of this type counts as (a string of 1-999).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted_capacity: Option<String>,
}

/// `LaunchTemplate` of a mixed instances policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MixedLaunchTemplate {
    /// The launch template all types share.
    pub launch_template_specification: LaunchTemplateSpecification,
    /// Instance types, in order of preference for on-demand.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<LaunchTemplateOverrides>,
}

/// `InstancesDistribution`: the on-demand/spot split of a mixed policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstancesDistribution {
    /// `prioritized` (override order) or `lowest-price`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_demand_allocation_strategy: Option<String>,
    /// On-demand instances launched before any spot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_demand_base_capacity: Option<u32>,
    /// Percentage of on-demand above the base (0-100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_demand_percentage_above_base_capacity: Option<u32>,
    /// `price-capacity-optimized`, `capacity-optimized`, `lowest-price`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_allocation_strategy: Option<String>,
    /// Pools used by the `lowest-price` strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_instance_pools: Option<u32>,
    /// Highest spot price paid; unset: the on-demand price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_max_price: Option<String>,
}

/// `MixedInstancesPolicy`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MixedInstancesPolicy {
    /// The purchase split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances_distribution: Option<InstancesDistribution>,
    /// The launch template and instance type overrides.
    pub launch_template: MixedLaunchTemplate,
}

/// `MetricsCollection`: group metrics sent to CloudWatch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricsCollection {
    /// Always `1Minute`.
    pub granularity: String,
    /// Metric names (`GroupInServiceInstances`, …); empty: all of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
}

/// A tag of an Auto Scaling group, which may be copied to the instances it launches.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupTag {
    /// Tag key.
    pub key: String,
    /// Copy the tag to launched instances.
    pub propagate_at_launch: bool,
    /// Tag value.
    pub value: Expr,
}

impl GroupTag {
    /// Group tags from resource tags, all with the same propagation.
    pub fn from_tags(tags: Vec<Tag>, propagate_at_launch: bool) -> Vec<GroupTag> {
        tags.into_iter()
            .map(|t| GroupTag {
                key: t.key,
                value: t.value,
                propagate_at_launch,
            })
            .collect()
    }
}

/// `AWS::AutoScaling::AutoScalingGroup`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutoScalingGroup {
    /// Physical name (create-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_name: Option<Expr>,
    /// Replace spot instances at elevated interruption risk before they are reclaimed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_rebalance: Option<bool>,
    /// Seconds between simple-scaling activities.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_number_as_string"
    )]
    pub cooldown: Option<u32>,
    /// Seconds a new instance warms up before its metrics count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_instance_warmup: Option<u32>,
    /// Instances wanted; unset leaves the number to scaling policies (and to a live group's
    /// current value on update).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_number_as_string"
    )]
    pub desired_capacity: Option<u32>,
    /// Seconds after launch before health checks count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period: Option<u32>,
    /// EC2 or ELB health checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_type: Option<HealthCheckType>,
    /// Launch template of a single-type group (exclusive with a mixed policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateSpecification>,
    /// Seconds after which an instance is replaced (at least 86400).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_instance_lifetime: Option<u32>,
    /// Most instances.
    #[serde(serialize_with = "number_as_string")]
    pub max_size: u32,
    /// Group metrics sent to CloudWatch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics_collection: Vec<MetricsCollection>,
    /// Fewest instances: a number as a string, or an expression choosing one (a blue/green
    /// group's minimum depends on whether its colour is live).
    pub min_size: Expr,
    /// Several instance types and spot (exclusive with `launch_template`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mixed_instances_policy: Option<MixedInstancesPolicy>,
    /// Tags of the group, optionally propagated to instances.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<GroupTag>,
    /// Target groups instances are registered with.
    #[serde(rename = "TargetGroupARNs", skip_serializing_if = "Vec::is_empty")]
    pub target_group_arns: Vec<Expr>,
    /// Which instances scale-in removes first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub termination_policies: Vec<String>,
    /// Subnet ids, as a list expression (`Expr::List` or `Fn::Split` of an import).
    #[serde(rename = "VPCZoneIdentifier", skip_serializing_if = "Option::is_none")]
    pub vpc_zone_identifier: Option<Expr>,
}
impl ResourceProperties for AutoScalingGroup {
    const TYPE: &'static str = "AWS::AutoScaling::AutoScalingGroup";
}

/// `PredefinedMetricSpecification` of a target-tracking policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PredefinedMetricSpecification {
    /// `ASGAverageCPUUtilization`, `ALBRequestCountPerTarget`, …
    pub predefined_metric_type: String,
    /// For `ALBRequestCountPerTarget`: `<lb full name>/<target group full name>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<Expr>,
}

/// `TargetTrackingConfiguration` of a scaling policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetTrackingConfiguration {
    /// Only ever scale out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_scale_in: Option<bool>,
    /// The metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predefined_metric_specification: Option<PredefinedMetricSpecification>,
    /// The value the metric is kept at.
    pub target_value: f64,
}

/// `AWS::AutoScaling::ScalingPolicy`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingPolicy {
    /// The group scaled (create-only).
    pub auto_scaling_group_name: Expr,
    /// Seconds a new instance warms up; unset: the group's `DefaultInstanceWarmup`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_instance_warmup: Option<u32>,
    /// `TargetTrackingScaling`, `StepScaling`, `SimpleScaling` or `PredictiveScaling`.
    pub policy_type: String,
    /// The target of a `TargetTrackingScaling` policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_tracking_configuration: Option<TargetTrackingConfiguration>,
}
impl ResourceProperties for ScalingPolicy {
    const TYPE: &'static str = "AWS::AutoScaling::ScalingPolicy";
}

impl ScalingPolicy {
    /// Keeps the group's average CPU at `percent`.
    pub fn average_cpu(group: Expr, percent: f64) -> Self {
        ScalingPolicy {
            auto_scaling_group_name: group,
            policy_type: "TargetTrackingScaling".into(),
            estimated_instance_warmup: None,
            target_tracking_configuration: Some(TargetTrackingConfiguration {
                target_value: percent,
                predefined_metric_specification: Some(PredefinedMetricSpecification {
                    predefined_metric_type: "ASGAverageCPUUtilization".into(),
                    resource_label: None,
                }),
                disable_scale_in: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> LaunchTemplateSpecification {
        LaunchTemplateSpecification {
            launch_template_id: Some(Expr::Ref("Lt".into())),
            launch_template_name: None,
            version: Expr::GetAtt("Lt".into(), "LatestVersionNumber".into()),
        }
    }

    #[test]
    fn sizes_and_cooldown_render_as_strings() {
        let v = serde_json::to_value(AutoScalingGroup {
            min_size: Expr::from("2"),
            max_size: 40,
            desired_capacity: Some(3),
            cooldown: Some(180),
            health_check_grace_period: Some(240),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v["MinSize"], "2");
        assert_eq!(v["MaxSize"], "40");
        assert_eq!(v["DesiredCapacity"], "3");
        assert_eq!(v["Cooldown"], "180");
        assert_eq!(v["HealthCheckGracePeriod"], 240);
    }

    #[test]
    fn unset_desired_capacity_is_absent() {
        let v = serde_json::to_value(AutoScalingGroup::default()).unwrap();
        assert!(v.get("DesiredCapacity").is_none());
        assert!(v.get("Cooldown").is_none());
    }

    #[test]
    fn acronym_properties_use_cloudformation_spelling() {
        let v = serde_json::to_value(AutoScalingGroup {
            health_check_type: Some(HealthCheckType::Elb),
            vpc_zone_identifier: Some(Expr::split(",", Expr::import("s"))),
            target_group_arns: vec![Expr::Ref("Tg".into())],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v["HealthCheckType"], "ELB");
        assert_eq!(v["VPCZoneIdentifier"]["Fn::Split"][0], ",");
        assert_eq!(v["TargetGroupARNs"], json!([{"Ref": "Tg"}]));
    }

    #[test]
    fn mixed_policy_nests_template_overrides_and_distribution() {
        let v = serde_json::to_value(MixedInstancesPolicy {
            launch_template: MixedLaunchTemplate {
                launch_template_specification: spec(),
                overrides: vec![LaunchTemplateOverrides {
                    instance_type: Some("m5.large".into()),
                    weighted_capacity: None,
                }],
            },
            instances_distribution: Some(InstancesDistribution {
                on_demand_base_capacity: Some(0),
                on_demand_percentage_above_base_capacity: Some(0),
                spot_allocation_strategy: Some("price-capacity-optimized".into()),
                ..Default::default()
            }),
        })
        .unwrap();
        assert_eq!(
            v,
            json!({
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {
                        "LaunchTemplateId": {"Ref": "Lt"},
                        "Version": {"Fn::GetAtt": ["Lt", "LatestVersionNumber"]}
                    },
                    "Overrides": [{"InstanceType": "m5.large"}]
                },
                "InstancesDistribution": {
                    "OnDemandBaseCapacity": 0,
                    "OnDemandPercentageAboveBaseCapacity": 0,
                    "SpotAllocationStrategy": "price-capacity-optimized"
                }
            })
        );
    }

    #[test]
    fn group_tags_carry_propagation() {
        let tags = GroupTag::from_tags(vec![Tag::new("Environment", "prod")], true);
        assert_eq!(
            serde_json::to_value(tags).unwrap(),
            json!([{"Key": "Environment", "Value": "prod", "PropagateAtLaunch": true}])
        );
    }

    #[test]
    fn cpu_policy_tracks_the_predefined_metric() {
        let v = serde_json::to_value(ScalingPolicy::average_cpu(Expr::Ref("Asg".into()), 25.0))
            .unwrap();
        assert_eq!(
            v,
            json!({
                "AutoScalingGroupName": {"Ref": "Asg"},
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingConfiguration": {
                    "TargetValue": 25.0,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ASGAverageCPUUtilization"
                    }
                }
            })
        );
    }
}
