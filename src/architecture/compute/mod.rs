//! The compute stack: the web nodes' IAM role (`node_role`), launch template (with the boot
//! script of `user_data`), the internet-facing load balancer with its HTTPS listener that
//! serves CloudFront only (`listeners`), the target group, and the Auto Scaling group with its
//! rolling update and CPU scaling policies.
//!
//! Everything the nodes need from other stacks (subnets, security groups, file system,
//! buckets, links table) is imported; the exports are what the edge and monitoring stacks
//! need: the load balancer's DNS name and the CloudWatch dimensions.

use crate::config::Compute;
use crate::model::autoscaling::{
    AutoScalingGroup, GroupTag, HealthCheckType, InstancesDistribution, LaunchTemplateOverrides,
    LaunchTemplateSpecification, MetricsCollection, MixedInstancesPolicy, MixedLaunchTemplate,
    ScalingPolicy,
};
use crate::model::ec2::{
    BlockDeviceMapping, Ebs, IamInstanceProfileSpecification, LaunchTemplate, LaunchTemplateData,
    LaunchTemplateTagSpecification, MetadataOptions, Monitoring,
};
use crate::model::elbv2::{LoadBalancer, Matcher, TargetGroup, TargetType, attributes};
use crate::model::template::{AutoScalingRollingUpdate, AutoScalingScheduledAction, UpdatePolicy};
use crate::model::{Expr, LogicalId, Template};

use super::network::NODE_HTTP_PORT;
use super::{Ctx, Export, UserDataError, user_data};

mod listeners;
mod node_role;

/// TLS policy of the HTTPS listener: TLS 1.3 and 1.2 with forward-secret ciphers only.
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// Root device of the AMI (Ubuntu's).
const ROOT_DEVICE: &str = "/dev/sda1";
/// Auto Scaling processes that would fight a rolling update.
const SUSPENDED_DURING_UPDATE: [&str; 5] = [
    "HealthCheck",
    "ReplaceUnhealthy",
    "AZRebalance",
    "AlarmNotification",
    "ScheduledActions",
];

/// Logical ids of the stack, shared with tests and (by output name) the operations commands.
pub(super) mod ids {
    pub const ROLE: &str = "NodeRole";
    pub const PROFILE: &str = "NodeInstanceProfile";
    pub const LAUNCH_TEMPLATE: &str = "NodeLaunchTemplate";
    pub const TARGET_GROUP: &str = "NodeTargetGroup";
    pub const LOAD_BALANCER: &str = "LoadBalancer";
    pub const HTTPS_LISTENER: &str = "HttpsListener";
    pub const ORIGIN_RULE: &str = "OriginListenerRule";
    pub const GROUP: &str = "NodeAutoScalingGroup";
    pub const CPU_POLICY: &str = "CpuScalingPolicy";
}

pub(super) fn build(ctx: &Ctx<'_>) -> Result<Template, UserDataError> {
    let mut t = Template::new(format!(
        "ce {} compute: node role, launch template, load balancer, Auto Scaling group",
        ctx.env_name()
    ));
    let (role, profile) = node_role::add_node_role(ctx, &mut t);
    let launch_template = add_launch_template(ctx, &mut t, &profile)?;
    let target_group = add_target_group(ctx, &mut t);
    let load_balancer = add_load_balancer(ctx, &mut t);
    let https = listeners::add_listeners(ctx, &mut t, &load_balancer, &target_group);
    let group = add_group(ctx, &mut t, &launch_template, &target_group, &https);

    ctx.export(
        &mut t,
        Export::LoadBalancerDnsName,
        "Public DNS name of the load balancer",
        Expr::get_att(&load_balancer, "DNSName"),
    );
    // `app/<name>/<id>`: the tail of the load balancer's ARN after `loadbalancer/`.
    ctx.export(
        &mut t,
        Export::LoadBalancerFullName,
        "Load balancer dimension of CloudWatch metrics (app/<name>/<id>)",
        Expr::select(
            1,
            Expr::split("loadbalancer/", Expr::reference(&load_balancer)),
        ),
    );
    // `targetgroup/<name>/<id>`: the sixth `:`-separated field of the target group's ARN
    // (`arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`).
    ctx.export(
        &mut t,
        Export::TargetGroupFullName,
        "Target group dimension of CloudWatch metrics (targetgroup/<name>/<id>)",
        Expr::select(5, Expr::split(":", Expr::reference(&target_group))),
    );
    ctx.export(
        &mut t,
        Export::AutoScalingGroupName,
        "Name of the web nodes' Auto Scaling group",
        Expr::reference(&group),
    );
    // Read by the operations commands, not by other stacks: not exported.
    t.output(
        "TargetGroupArn",
        "ARN of the nodes' target group",
        Expr::reference(&target_group),
    );
    t.output(
        "HttpsListenerArn",
        "ARN of the HTTPS listener",
        Expr::reference(&https),
    );
    t.output(
        "LaunchTemplateId",
        "Id of the nodes' launch template",
        Expr::reference(&launch_template),
    );
    t.output(
        "NodeRoleName",
        "Name of the nodes' IAM role",
        Expr::reference(&role),
    );
    Ok(t)
}

fn add_launch_template(
    ctx: &Ctx<'_>,
    t: &mut Template,
    profile: &LogicalId,
) -> Result<LogicalId, UserDataError> {
    let c = &ctx.env.file.compute;
    let node_tags = |resource_type: &str| LaunchTemplateTagSpecification {
        resource_type: resource_type.into(),
        tags: ctx.tags("node"),
    };
    let id = LogicalId::new(ids::LAUNCH_TEMPLATE);
    t.add(
        &id,
        LaunchTemplate {
            launch_template_name: Some(ctx.resource_name("node").into()),
            launch_template_data: LaunchTemplateData {
                image_id: Some(c.ami.as_str().into()),
                instance_type: Some(c.instance_type.as_str().into()),
                iam_instance_profile: Some(IamInstanceProfileSpecification {
                    arn: Expr::get_att(profile, "Arn"),
                }),
                security_group_ids: vec![ctx.import(Export::NodeSecurityGroupId)],
                key_name: c.key_name.as_deref().map(Expr::from),
                user_data: Some(user_data::user_data(ctx)?),
                ebs_optimized: Some(true),
                metadata_options: Some(MetadataOptions::imdsv2_with_tags()),
                block_device_mappings: vec![BlockDeviceMapping {
                    device_name: ROOT_DEVICE.into(),
                    ebs: Ebs {
                        volume_size: c.root_volume_gib,
                        volume_type: "gp3".into(),
                        encrypted: true,
                        delete_on_termination: true,
                    },
                }],
                // Target tracking reacts a lot faster on one-minute CPU metrics.
                monitoring: c.cpu_target_percent.map(|_| Monitoring { enabled: true }),
                tag_specifications: vec![node_tags("instance"), node_tags("volume")],
            },
            tag_specifications: vec![LaunchTemplateTagSpecification {
                resource_type: "launch-template".into(),
                tags: ctx.tags("node"),
            }],
        },
    );
    Ok(id)
}

fn add_target_group(ctx: &Ctx<'_>, t: &mut Template) -> LogicalId {
    let c = &ctx.env.file.compute;
    let hc = &c.health_check;
    let id = LogicalId::new(ids::TARGET_GROUP);
    t.add(
        &id,
        TargetGroup {
            port: Some(NODE_HTTP_PORT as u16),
            protocol: Some("HTTP".into()),
            vpc_id: Some(ctx.import(Export::VpcId)),
            target_type: Some(TargetType::Instance),
            health_check_enabled: Some(true),
            health_check_protocol: Some("HTTP".into()),
            health_check_port: Some("traffic-port".into()),
            health_check_path: Some(hc.path.clone()),
            health_check_interval_seconds: Some(hc.interval),
            health_check_timeout_seconds: Some(hc.timeout),
            healthy_threshold_count: Some(hc.healthy_threshold),
            unhealthy_threshold_count: Some(hc.unhealthy_threshold),
            matcher: Some(Matcher {
                http_code: Some("200".into()),
                grpc_code: None,
            }),
            target_group_attributes: attributes([
                (
                    "deregistration_delay.timeout_seconds",
                    c.deregistration_delay.to_string(),
                ),
                // Compiles vary from milliseconds to many seconds: count, don't rotate.
                (
                    "load_balancing.algorithm.type",
                    "least_outstanding_requests".to_owned(),
                ),
            ]),
            tags: ctx.tags("nodes"),
            ..Default::default()
        },
    );
    id
}

fn add_load_balancer(ctx: &Ctx<'_>, t: &mut Template) -> LogicalId {
    let c = &ctx.env.file.compute;
    let flag = |on: bool| Expr::from(if on { "true" } else { "false" });
    let id = LogicalId::new(ids::LOAD_BALANCER);
    t.add(
        &id,
        LoadBalancer {
            kind: Some("application".into()),
            scheme: Some("internet-facing".into()),
            ip_address_type: Some("ipv4".into()),
            subnets: Some(Expr::split(",", ctx.import(Export::SubnetIds))),
            security_groups: vec![ctx.import(Export::AlbSecurityGroupId)],
            load_balancer_attributes: attributes([
                (
                    "idle_timeout.timeout_seconds",
                    Expr::from(c.idle_timeout.to_string()),
                ),
                // The storage stack's policy on the logs bucket lets ELB log delivery write here.
                ("access_logs.s3.enabled", flag(true)),
                ("access_logs.s3.bucket", ctx.import(Export::LogsBucketName)),
                ("access_logs.s3.prefix", Expr::from("elb")),
                ("deletion_protection.enabled", flag(ctx.env.file.protected)),
                (
                    "routing.http.drop_invalid_header_fields.enabled",
                    flag(true),
                ),
            ]),
            tags: ctx.tags("alb"),
            ..Default::default()
        },
    );
    id
}

fn add_group(
    ctx: &Ctx<'_>,
    t: &mut Template,
    launch_template: &LogicalId,
    target_group: &LogicalId,
    https: &LogicalId,
) -> LogicalId {
    let c = &ctx.env.file.compute;
    let template_spec = LaunchTemplateSpecification {
        launch_template_id: Some(Expr::reference(launch_template)),
        launch_template_name: None,
        version: Expr::get_att(launch_template, "LatestVersionNumber"),
    };
    let (single, mixed) = match &c.spot {
        None => (Some(template_spec), None),
        Some(spot) => (
            None,
            Some(MixedInstancesPolicy {
                launch_template: MixedLaunchTemplate {
                    launch_template_specification: template_spec,
                    overrides: spot
                        .instance_types
                        .iter()
                        .map(|ty| LaunchTemplateOverrides {
                            instance_type: Some(ty.clone()),
                            weighted_capacity: None,
                        })
                        .collect(),
                },
                instances_distribution: Some(InstancesDistribution {
                    on_demand_base_capacity: Some(spot.on_demand_base_capacity),
                    on_demand_percentage_above_base_capacity: Some(
                        spot.on_demand_percentage_above_base,
                    ),
                    spot_allocation_strategy: Some(spot.allocation_strategy.clone()),
                    ..Default::default()
                }),
            }),
        ),
    };
    let id = LogicalId::new(ids::GROUP);
    t.add(
        &id,
        AutoScalingGroup {
            auto_scaling_group_name: Some(ctx.resource_name("nodes").into()),
            min_size: c.min_size,
            max_size: c.max_size,
            // Left out unless the env sets it: the scaling policy owns the number, and a
            // deploy that wrote it would reset a scaled-out group back to it.
            desired_capacity: c.desired_capacity,
            cooldown: Some(c.cooldown),
            default_instance_warmup: Some(warmup_seconds(c)),
            health_check_type: Some(HealthCheckType::Elb),
            health_check_grace_period: Some(c.health_check_grace_period),
            launch_template: single,
            capacity_rebalance: mixed.as_ref().map(|_| true),
            mixed_instances_policy: mixed,
            vpc_zone_identifier: Some(Expr::split(",", ctx.import(Export::SubnetIds))),
            target_group_arns: vec![Expr::reference(target_group)],
            metrics_collection: vec![MetricsCollection {
                granularity: "1Minute".into(),
                metrics: vec![],
            }],
            termination_policies: vec![],
            max_instance_lifetime: None,
            // The node reads its Environment tag from instance metadata.
            tags: GroupTag::from_tags(ctx.tags("node"), true),
        },
    )
    // Until the HTTPS listener exists the target group serves no load balancer, and ELB
    // health checks of the first instances would mean nothing.
    .depends_on(https)
    .update_policy(rolling_update(c));

    if let Some(percent) = c.cpu_target_percent {
        t.add(
            &LogicalId::new(ids::CPU_POLICY),
            ScalingPolicy::average_cpu(Expr::reference(&id), percent),
        );
    }
    id
}

/// Seconds before a new node's metrics count: its health check grace plus a little, as the
/// live site does.
fn warmup_seconds(c: &Compute) -> u32 {
    c.health_check_grace_period + 30
}

/// Replace nodes one at a time when the launch template changes: every new node reads its
/// compilers from EFS as it boots, and a batch of them at once is the boot storm that drained
/// the burst credits in 2023. The pause covers a boot (the grace period) plus a minute.
fn rolling_update(c: &Compute) -> UpdatePolicy {
    UpdatePolicy {
        auto_scaling_rolling_update: Some(AutoScalingRollingUpdate {
            // Below max_size, so CloudFormation has room to launch a replacement first.
            min_instances_in_service: c.min_size.min(c.max_size.saturating_sub(1)),
            max_batch_size: 1,
            pause_time: format!("PT{}S", c.health_check_grace_period + 60),
            wait_on_resource_signals: false,
            suspend_processes: SUSPENDED_DURING_UPDATE
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
        }),
        auto_scaling_scheduled_action: Some(AutoScalingScheduledAction {
            ignore_unmodified_group_size_properties: true,
        }),
    }
}

#[cfg(test)]
mod tests;
