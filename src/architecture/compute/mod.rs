//! The compute stack: the web nodes' IAM role, launch template (with the boot script of
//! `user_data`), the internet-facing load balancer with its HTTP→HTTPS redirect and HTTPS
//! listener, the target group, and the Auto Scaling group with its rolling update and CPU
//! scaling policies.
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
use crate::model::elbv2::{
    Action, Certificate, Listener, LoadBalancer, Matcher, TargetGroup, TargetType, attributes,
};
use crate::model::iam::{InstanceProfile, Policy, PolicyDocument, Principal, Role, Statement};
use crate::model::template::{AutoScalingRollingUpdate, AutoScalingScheduledAction, UpdatePolicy};
use crate::model::{Expr, LogicalId, Template};

use super::network::NODE_HTTP_PORT;
use super::{Ctx, Export, UserDataError, user_data};

/// TLS policy of the HTTPS listener: TLS 1.3 and 1.2 with forward-secret ciphers only.
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// Root device of the AMI (Ubuntu's).
const ROOT_DEVICE: &str = "/dev/sda1";
/// AWS-managed policies the nodes need: Session Manager and the CloudWatch agent.
const MANAGED_POLICIES: [&str; 2] = [
    "AmazonSSMManagedInstanceCore",
    "CloudWatchAgentServerPolicy",
];
/// Auto Scaling processes that would fight a rolling update.
const SUSPENDED_DURING_UPDATE: [&str; 5] = [
    "HealthCheck",
    "ReplaceUnhealthy",
    "AZRebalance",
    "AlarmNotification",
    "ScheduledActions",
];

/// Logical ids of the stack, shared with tests and (by output name) the operations commands.
mod ids {
    pub const ROLE: &str = "NodeRole";
    pub const PROFILE: &str = "NodeInstanceProfile";
    pub const LAUNCH_TEMPLATE: &str = "NodeLaunchTemplate";
    pub const TARGET_GROUP: &str = "NodeTargetGroup";
    pub const LOAD_BALANCER: &str = "LoadBalancer";
    pub const HTTP_LISTENER: &str = "HttpListener";
    pub const HTTPS_LISTENER: &str = "HttpsListener";
    pub const GROUP: &str = "NodeAutoScalingGroup";
    pub const CPU_POLICY: &str = "CpuScalingPolicy";
}

pub(super) fn build(ctx: &Ctx<'_>) -> Result<Template, UserDataError> {
    let mut t = Template::new(format!(
        "ce {} compute: node role, launch template, load balancer, Auto Scaling group",
        ctx.env_name()
    ));
    let (role, profile) = add_node_role(ctx, &mut t);
    let launch_template = add_launch_template(ctx, &mut t, &profile)?;
    let target_group = add_target_group(ctx, &mut t);
    let load_balancer = add_load_balancer(ctx, &mut t);
    let https = add_listeners(ctx, &mut t, &load_balancer, &target_group);
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

/// The nodes' role (read builds, read and write short links, Session Manager, CloudWatch
/// agent) and its instance profile.
fn add_node_role(ctx: &Ctx<'_>, t: &mut Template) -> (LogicalId, LogicalId) {
    let builds = ctx.import(Export::BuildsBucketArn);
    let under_builds = |prefix: &str| {
        Expr::sub_with(
            format!("${{Bucket}}/{prefix}"),
            [("Bucket", builds.clone())],
        )
    };
    let read_builds = PolicyDocument::new(vec![
        Statement::allow(
            &["s3:GetObject"],
            vec![under_builds("dist/*"), under_builds("version/*")],
        )
        .sid("ReadBuildsAndPointers"),
        // Without ListBucket a missing key is a 403; with it, a 404 that says what is wrong.
        // Unconditioned: S3 evaluates that 404 without any s3:prefix to match.
        Statement::allow(&["s3:ListBucket"], vec![builds.clone()]).sid("ListBuilds"),
    ]);
    let links = PolicyDocument::new(vec![
        Statement::allow(
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
            ],
            vec![ctx.import(Export::LinksTableArn)],
        )
        .sid("ReadWriteShortLinks"),
    ]);
    let role = LogicalId::new(ids::ROLE);
    t.add(
        &role,
        Role {
            assume_role_policy_document: PolicyDocument::new(vec![
                Statement::allow(&["sts:AssumeRole"], vec![])
                    .principal(Principal::Service(vec!["ec2.amazonaws.com".into()])),
            ]),
            description: Some(format!("ce {} web nodes", ctx.env_name())),
            managed_policy_arns: MANAGED_POLICIES
                .iter()
                .map(|name| Expr::sub(format!("arn:${{AWS::Partition}}:iam::aws:policy/{name}")))
                .collect(),
            policies: vec![
                Policy {
                    policy_name: "ReadBuilds".into(),
                    policy_document: read_builds,
                },
                Policy {
                    policy_name: "ShortLinks".into(),
                    policy_document: links,
                },
            ],
            path: None,
            tags: ctx.tags("node"),
        },
    );
    let profile = LogicalId::new(ids::PROFILE);
    t.add(
        &profile,
        InstanceProfile {
            roles: vec![Expr::reference(&role)],
            path: None,
        },
    );
    (role, profile)
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

/// HTTP redirects to HTTPS; HTTPS forwards to the nodes. Returns the HTTPS listener.
fn add_listeners(
    ctx: &Ctx<'_>,
    t: &mut Template,
    load_balancer: &LogicalId,
    target_group: &LogicalId,
) -> LogicalId {
    let domain = &ctx.env.file.domain;
    let certificate = domain
        .alb_certificate_arn
        .as_deref()
        .unwrap_or(&domain.certificate_arn);
    t.add(
        &LogicalId::new(ids::HTTP_LISTENER),
        Listener {
            load_balancer_arn: Expr::reference(load_balancer),
            port: Some(80),
            protocol: Some("HTTP".into()),
            ssl_policy: None,
            certificates: vec![],
            default_actions: vec![Action::redirect_to_https()],
        },
    );
    let https = LogicalId::new(ids::HTTPS_LISTENER);
    t.add(
        &https,
        Listener {
            load_balancer_arn: Expr::reference(load_balancer),
            port: Some(443),
            protocol: Some("HTTPS".into()),
            ssl_policy: Some(SSL_POLICY.into()),
            certificates: vec![Certificate {
                certificate_arn: certificate.into(),
            }],
            default_actions: vec![Action::forward(Expr::reference(target_group))],
        },
    );
    https
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
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use super::*;

    fn built(env: &str) -> Value {
        let env = crate::config::load(Path::new("envs"), env).unwrap();
        serde_json::to_value(build(&Ctx { env: &env }).unwrap()).unwrap()
    }

    fn properties<'a>(t: &'a Value, id: &str) -> &'a Value {
        &t["Resources"][id]["Properties"]
    }

    #[test]
    fn launch_template_requires_imdsv2_with_hop_limit_one() {
        let t = built("prod");
        let md = &properties(&t, ids::LAUNCH_TEMPLATE)["LaunchTemplateData"]["MetadataOptions"];
        assert_eq!(md["HttpTokens"], "required");
        assert_eq!(md["HttpPutResponseHopLimit"], 1);
        assert_eq!(md["InstanceMetadataTags"], "enabled");
    }

    #[test]
    fn root_volume_is_encrypted_gp3_of_the_configured_size() {
        let t = built("prod");
        let ebs = &properties(&t, ids::LAUNCH_TEMPLATE)["LaunchTemplateData"]["BlockDeviceMappings"]
            [0]["Ebs"];
        assert_eq!(ebs["VolumeType"], "gp3");
        assert_eq!(ebs["Encrypted"], true);
        assert_eq!(ebs["VolumeSize"], 16);
    }

    #[test]
    fn user_data_is_base64_of_sub_with_variables() {
        let t = built("staging");
        let ud = &properties(&t, ids::LAUNCH_TEMPLATE)["LaunchTemplateData"]["UserData"];
        let sub = &ud["Fn::Base64"]["Fn::Sub"];
        assert!(sub[0].as_str().unwrap().starts_with("#!/bin/bash"));
        assert_eq!(
            sub[1]["FileSystemId"],
            json!({"Fn::ImportValue": "ce-staging-storage-FileSystemId"})
        );
    }

    #[test]
    fn group_uses_elb_health_checks_with_the_grace_period() {
        let t = built("prod");
        let g = properties(&t, ids::GROUP);
        assert_eq!(g["HealthCheckType"], "ELB");
        assert_eq!(g["HealthCheckGracePeriod"], 240);
        assert_eq!(g["TargetGroupARNs"], json!([{"Ref": ids::TARGET_GROUP}]));
        assert_eq!(
            g["VPCZoneIdentifier"],
            json!({"Fn::Split": [",", {"Fn::ImportValue": "ce-prod-network-SubnetIds"}]})
        );
    }

    #[test]
    fn rolling_update_keeps_min_in_service_below_max() {
        let t = built("staging");
        let group = &t["Resources"][ids::GROUP];
        let ru = &group["UpdatePolicy"]["AutoScalingRollingUpdate"];
        assert_eq!(ru["MinInstancesInService"], 1);
        assert_eq!(ru["MaxBatchSize"], 1);
        assert_eq!(ru["PauseTime"], "PT300S");
        assert!(
            ru["SuspendProcesses"]
                .as_array()
                .unwrap()
                .contains(&json!("AZRebalance"))
        );
        assert_eq!(
            group["UpdatePolicy"]["AutoScalingScheduledAction"]["IgnoreUnmodifiedGroupSizeProperties"],
            true
        );
    }

    #[test]
    fn min_in_service_is_capped_when_min_equals_max() {
        let mut env = crate::config::load(Path::new("envs"), "staging").unwrap();
        env.file.compute.min_size = 3;
        env.file.compute.max_size = 3;
        let policy = rolling_update(&env.file.compute);
        let ru = policy.auto_scaling_rolling_update.unwrap();
        assert_eq!(ru.min_instances_in_service, 2);
    }

    #[test]
    fn http_listener_redirects_to_https() {
        let t = built("prod");
        let l = properties(&t, ids::HTTP_LISTENER);
        assert_eq!(l["Port"], 80);
        let action = &l["DefaultActions"][0];
        assert_eq!(action["Type"], "redirect");
        assert_eq!(action["RedirectConfig"]["Protocol"], "HTTPS");
        assert_eq!(action["RedirectConfig"]["StatusCode"], "HTTP_301");
    }

    #[test]
    fn https_listener_uses_modern_tls_and_forwards_to_the_nodes() {
        let t = built("prod");
        let l = properties(&t, ids::HTTPS_LISTENER);
        assert_eq!(l["Protocol"], "HTTPS");
        assert_eq!(l["SslPolicy"], SSL_POLICY);
        assert!(
            l["Certificates"][0]["CertificateArn"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:acm:")
        );
        assert_eq!(
            l["DefaultActions"][0],
            json!({"Type": "forward", "TargetGroupArn": {"Ref": ids::TARGET_GROUP}})
        );
    }

    #[test]
    fn mixed_policy_only_when_spot_is_configured() {
        let prod = built("prod");
        let g = properties(&prod, ids::GROUP);
        let mixed = &g["MixedInstancesPolicy"];
        assert_eq!(
            mixed["LaunchTemplate"]["Overrides"]
                .as_array()
                .unwrap()
                .len(),
            16
        );
        assert_eq!(
            mixed["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"],
            0
        );
        assert_eq!(g["CapacityRebalance"], true);
        assert!(g.get("LaunchTemplate").is_none());

        let staging = built("staging");
        let g = properties(&staging, ids::GROUP);
        assert!(g.get("MixedInstancesPolicy").is_none());
        assert!(g.get("CapacityRebalance").is_none());
        assert_eq!(
            g["LaunchTemplate"]["Version"],
            json!({"Fn::GetAtt": [ids::LAUNCH_TEMPLATE, "LatestVersionNumber"]})
        );
    }

    #[test]
    fn desired_capacity_only_when_configured() {
        assert!(
            properties(&built("prod"), ids::GROUP)
                .get("DesiredCapacity")
                .is_none()
        );
        assert_eq!(
            properties(&built("staging"), ids::GROUP)["DesiredCapacity"],
            "1"
        );
    }

    #[test]
    fn cpu_policy_only_when_a_target_is_set() {
        let prod = built("prod");
        let p = properties(&prod, ids::CPU_POLICY);
        assert_eq!(p["TargetTrackingConfiguration"]["TargetValue"], 25.0);
        assert_eq!(p["AutoScalingGroupName"], json!({"Ref": ids::GROUP}));
        assert!(built("staging")["Resources"].get(ids::CPU_POLICY).is_none());
    }

    #[test]
    fn group_tags_propagate_the_environment() {
        let t = built("prod");
        let tags = properties(&t, ids::GROUP)["Tags"]
            .as_array()
            .unwrap()
            .clone();
        assert!(
            tags.contains(
                &json!({"Key": "Environment", "Value": "prod", "PropagateAtLaunch": true})
            )
        );
        assert!(tags.iter().all(|tag| tag["PropagateAtLaunch"] == true));
    }

    #[test]
    fn load_balancer_logs_and_protection_follow_the_env() {
        let attribute = |t: &Value, key: &str| {
            properties(t, ids::LOAD_BALANCER)["LoadBalancerAttributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["Key"] == key)
                .map(|a| a["Value"].clone())
        };
        let prod = built("prod");
        assert_eq!(
            attribute(&prod, "deletion_protection.enabled"),
            Some(json!("true"))
        );
        assert_eq!(
            attribute(&prod, "access_logs.s3.prefix"),
            Some(json!("elb"))
        );
        assert_eq!(
            attribute(&prod, "access_logs.s3.bucket"),
            Some(json!({"Fn::ImportValue": "ce-prod-storage-LogsBucketName"}))
        );
        assert_eq!(
            attribute(&prod, "routing.http.drop_invalid_header_fields.enabled"),
            Some(json!("true"))
        );
        let staging = built("staging");
        assert_eq!(
            attribute(&staging, "deletion_protection.enabled"),
            Some(json!("false"))
        );
    }

    #[test]
    fn target_group_health_check_and_algorithm_come_from_the_env() {
        let t = built("prod");
        let tg = properties(&t, ids::TARGET_GROUP);
        assert_eq!(tg["Port"], 80);
        assert_eq!(tg["HealthCheckPath"], "/healthcheck");
        assert_eq!(tg["HealthCheckIntervalSeconds"], 10);
        assert_eq!(tg["HealthCheckTimeoutSeconds"], 8);
        assert!(tg["TargetGroupAttributes"].as_array().unwrap().contains(
            &json!({"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"})
        ));
        assert!(
            tg["TargetGroupAttributes"]
                .as_array()
                .unwrap()
                .contains(&json!({"Key": "deregistration_delay.timeout_seconds", "Value": "20"}))
        );
    }

    #[test]
    fn node_role_is_least_privilege() {
        let t = built("prod");
        let role = properties(&t, ids::ROLE);
        for policy in role["Policies"].as_array().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                for action in statement["Action"].as_array().unwrap() {
                    assert!(
                        !action.as_str().unwrap().contains('*'),
                        "wildcard action {action}"
                    );
                }
                assert!(
                    !statement["Resource"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("*"))
                );
            }
        }
        assert_eq!(
            role["ManagedPolicyArns"][0],
            json!({"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"})
        );
        assert_eq!(
            role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"][0],
            "ec2.amazonaws.com"
        );
    }

    #[test]
    fn exports_and_operations_outputs_are_present() {
        let t = built("prod");
        let outputs = &t["Outputs"];
        for export in [
            Export::LoadBalancerDnsName,
            Export::LoadBalancerFullName,
            Export::TargetGroupFullName,
            Export::AutoScalingGroupName,
        ] {
            let name = export.output_name();
            assert_eq!(
                outputs[name]["Export"]["Name"],
                format!("ce-prod-compute-{name}"),
                "{name}"
            );
        }
        for plain in [
            "TargetGroupArn",
            "HttpsListenerArn",
            "LaunchTemplateId",
            "NodeRoleName",
        ] {
            assert!(outputs[plain]["Value"].is_object(), "{plain}");
            assert!(outputs[plain].get("Export").is_none(), "{plain}");
        }
        assert_eq!(
            outputs["LoadBalancerFullName"]["Value"],
            json!({"Fn::Select": ["1", {"Fn::Split": ["loadbalancer/", {"Ref": ids::LOAD_BALANCER}]}]})
        );
        assert_eq!(
            outputs["TargetGroupFullName"]["Value"],
            json!({"Fn::Select": ["5", {"Fn::Split": [":", {"Ref": ids::TARGET_GROUP}]}]})
        );
    }
}
