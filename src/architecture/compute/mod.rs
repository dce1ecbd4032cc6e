//! The compute stack: the web nodes' IAM role (`node_role`), launch template (with the boot
//! script of `user_data`), the internet-facing load balancer with its HTTPS listener that
//! serves CloudFront only (`listeners`), and two node groups, blue and green, each an Auto
//! Scaling group with its own target group and CPU scaling policy, sharing the launch template.
//!
//! Which colour is live and how big the groups are belong to the release commands
//! (`ce release`, `ce blue-green`), not to this template. The listener's origin rule forwards
//! to the colour the `LiveColour` parameter names, which `ce deploy` fills from the rule as it
//! stands, so a deploy leaves traffic where it is; the groups carry no desired capacity, so a
//! deploy never resizes them (CloudFormation keeps a live group's number when the template has
//! none); the live colour's minimum is the env's and the idle one's zero, which is what a
//! release leaves behind. No rolling update policy: a launch template change reaches nodes
//! through the next release's fresh nodes, never by CloudFormation replacing the live colour's
//! nodes.
//!
//! The blue colour keeps the logical ids, names and exports of the single group that came
//! before it, so migrating an env from one group to two is an in-place update that keeps its
//! nodes serving, and adds green beside it.
//!
//! Everything the nodes need from other stacks (subnets, security groups, file system,
//! buckets, links table) is imported; the exports are what the edge and monitoring stacks
//! need: the load balancer's DNS name and the CloudWatch dimensions of both colours.

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
use crate::model::template::{AutoScalingScheduledAction, Parameter, UpdatePolicy};
use crate::model::{Condition, Expr, LogicalId, Tag, Template};

use super::network::NODE_HTTP_PORT;
use super::{COLOUR_TAG, Colour, Ctx, Export, LIVE_COLOUR_PARAMETER, UserDataError, user_data};

mod listeners;
mod node_role;

/// TLS policy of the HTTPS listener: TLS 1.3 and 1.2 with forward-secret ciphers only.
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// Root device of the AMI (Ubuntu's).
const ROOT_DEVICE: &str = "/dev/sda1";
/// The condition true when the blue colour is live.
const BLUE_IS_LIVE: &str = "BlueIsLive";
/// Output naming what the release commands modify to move traffic: the HTTPS listener's
/// origin rule, by ARN.
pub const LIVE_ROUTE_OUTPUT: &str = "LiveRouteArn";

/// Output holding a colour's Auto Scaling group name.
pub fn group_output(colour: Colour) -> String {
    format!("{}GroupName", colour.title())
}

/// Output holding a colour's target group ARN.
pub fn target_group_output(colour: Colour) -> String {
    format!("{}TargetGroupArn", colour.title())
}

/// Logical ids of the stack, shared with tests and (by output name) the operations commands.
pub(super) mod ids {
    pub const ROLE: &str = "NodeRole";
    pub const PROFILE: &str = "NodeInstanceProfile";
    pub const LAUNCH_TEMPLATE: &str = "NodeLaunchTemplate";
    pub const LOAD_BALANCER: &str = "LoadBalancer";
    pub const HTTPS_LISTENER: &str = "HttpsListener";
    pub const ORIGIN_RULE: &str = "OriginListenerRule";

    use super::Colour;

    /// Blue keeps the single group's ids, so the migration updates rather than replaces.
    pub fn target_group(colour: Colour) -> &'static str {
        match colour {
            Colour::Blue => "NodeTargetGroup",
            Colour::Green => "GreenTargetGroup",
        }
    }

    pub fn group(colour: Colour) -> &'static str {
        match colour {
            Colour::Blue => "NodeAutoScalingGroup",
            Colour::Green => "GreenAutoScalingGroup",
        }
    }

    pub fn cpu_policy(colour: Colour) -> &'static str {
        match colour {
            Colour::Blue => "CpuScalingPolicy",
            Colour::Green => "GreenCpuScalingPolicy",
        }
    }
}

/// The name suffix of a colour's resources: blue keeps the single group's `nodes`.
fn name_suffix(colour: Colour) -> &'static str {
    match colour {
        Colour::Blue => "nodes",
        Colour::Green => "nodes-green",
    }
}

pub(super) fn build(ctx: &Ctx<'_>) -> Result<Template, UserDataError> {
    let mut t = Template::new(format!(
        "ce {} compute: node role, launch template, load balancer, blue and green node groups",
        ctx.env_name()
    ));
    add_live_colour(&mut t);
    let (role, profile) = node_role::add_node_role(ctx, &mut t);
    let launch_template = add_launch_template(ctx, &mut t, &profile)?;
    let blue = add_target_group(ctx, &mut t, Colour::Blue);
    let green = add_target_group(ctx, &mut t, Colour::Green);
    let load_balancer = add_load_balancer(ctx, &mut t);
    let live = Expr::if_(
        BLUE_IS_LIVE,
        Expr::reference(&blue),
        Expr::reference(&green),
    );
    let (https, origin_rule) = listeners::add_listeners(ctx, &mut t, &load_balancer, live);
    let blue_group = add_group(ctx, &mut t, Colour::Blue, &launch_template, &blue, &https);
    let green_group = add_group(ctx, &mut t, Colour::Green, &launch_template, &green, &https);

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
    let full_name = |tg: &LogicalId| Expr::select(5, Expr::split(":", Expr::reference(tg)));
    ctx.export(
        &mut t,
        Export::TargetGroupFullName,
        "Blue target group dimension of CloudWatch metrics (targetgroup/<name>/<id>)",
        full_name(&blue),
    );
    ctx.export(
        &mut t,
        Export::GreenTargetGroupFullName,
        "Green target group dimension of CloudWatch metrics (targetgroup/<name>/<id>)",
        full_name(&green),
    );
    ctx.export(
        &mut t,
        Export::AutoScalingGroupName,
        "Name of the blue node group",
        Expr::reference(&blue_group),
    );
    ctx.export(
        &mut t,
        Export::GreenAutoScalingGroupName,
        "Name of the green node group",
        Expr::reference(&green_group),
    );
    // Read by the release and operations commands, not by other stacks: not exported.
    for (colour, tg, group) in [
        (Colour::Blue, &blue, &blue_group),
        (Colour::Green, &green, &green_group),
    ] {
        t.output(
            &target_group_output(colour),
            &format!("ARN of the {colour} nodes' target group"),
            Expr::reference(tg),
        );
        t.output(
            &group_output(colour),
            &format!("Name of the {colour} nodes' Auto Scaling group"),
            Expr::reference(group),
        );
    }
    t.output(
        "HttpsListenerArn",
        "ARN of the HTTPS listener",
        Expr::reference(&https),
    );
    t.output(
        LIVE_ROUTE_OUTPUT,
        "What a release modifies to move traffic: the listener rule forwarding verified requests",
        Expr::reference(&origin_rule),
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

/// The `LiveColour` parameter and the condition the origin rule and group sizes read.
fn add_live_colour(t: &mut Template) {
    t.parameters.insert(
        LIVE_COLOUR_PARAMETER.to_owned(),
        Parameter {
            kind: "String".into(),
            description: Some(
                "The colour the HTTPS listener forwards verified requests to. Owned by the \
                 release commands: ce deploy passes the colour the listener forwards to now."
                    .into(),
            ),
            default: Some(Colour::Blue.as_str().into()),
            allowed_values: Colour::ALL.iter().map(|c| c.as_str().to_owned()).collect(),
            no_echo: false,
        },
    );
    t.conditions.insert(
        BLUE_IS_LIVE.to_owned(),
        Condition::Equals(
            Expr::reference(&LogicalId::new(LIVE_COLOUR_PARAMETER)),
            Expr::from(Colour::Blue.as_str()),
        ),
    );
}

/// A colour's tags: the env's, its `Name` (`ce-<env>-<name>`, green's with `-green`, blue's
/// as the single group's was), and `Colour`.
fn colour_tags(ctx: &Ctx<'_>, colour: Colour, name: &str) -> Vec<Tag> {
    let name = match colour {
        Colour::Blue => name.to_owned(),
        Colour::Green => format!("{name}-green"),
    };
    let mut tags = ctx.tags(&name);
    tags.push(Tag::new(COLOUR_TAG, colour.as_str()));
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    tags
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

fn add_target_group(ctx: &Ctx<'_>, t: &mut Template, colour: Colour) -> LogicalId {
    let c = &ctx.env.file.compute;
    let hc = &c.health_check;
    let id = LogicalId::new(ids::target_group(colour));
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
            tags: colour_tags(ctx, colour, "nodes"),
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
    colour: Colour,
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
    // The live colour keeps the env's minimum, the idle one none: what a release leaves.
    let (when_blue, when_green) = match colour {
        Colour::Blue => (c.min_size, 0),
        Colour::Green => (0, c.min_size),
    };
    let min_size = Expr::if_(
        BLUE_IS_LIVE,
        Expr::from(when_blue.to_string()),
        Expr::from(when_green.to_string()),
    );
    let id = LogicalId::new(ids::group(colour));
    t.add(
        &id,
        AutoScalingGroup {
            auto_scaling_group_name: Some(ctx.resource_name(name_suffix(colour)).into()),
            min_size,
            max_size: c.max_size,
            // Never in the template: the release commands own the number (and the scaling
            // policy between releases); on update CloudFormation keeps the live number.
            desired_capacity: None,
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
            // The node reads its Environment and Colour tags from instance metadata: the
            // colour picks its build pointer.
            tags: GroupTag::from_tags(colour_tags(ctx, colour, "node"), true),
        },
    )
    // Until the HTTPS listener exists the target group serves no load balancer, and ELB
    // health checks of the first instances would mean nothing.
    .depends_on(https)
    .update_policy(update_policy());

    if let Some(percent) = c.cpu_target_percent {
        t.add(
            &LogicalId::new(ids::cpu_policy(colour)),
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

/// No `AutoScalingRollingUpdate`: with one, a launch template change would have
/// CloudFormation replace the live colour's nodes behind a release's back. New launch template
/// versions reach nodes as a release brings the idle colour up. Scheduled actions (none today)
/// must not reset sizes the release commands set either.
fn update_policy() -> UpdatePolicy {
    UpdatePolicy {
        auto_scaling_rolling_update: None,
        auto_scaling_scheduled_action: Some(AutoScalingScheduledAction {
            ignore_unmodified_group_size_properties: true,
        }),
    }
}

#[cfg(test)]
mod tests;
