//! Specifications of the compute stack, read from the rendered template of the real envs.

use std::path::Path;

use serde_json::{Value, json};

use super::node_role::SESSION_MANAGER_ACTIONS;
use super::*;
use crate::architecture::Ctx;

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
    let ebs = &properties(&t, ids::LAUNCH_TEMPLATE)["LaunchTemplateData"]["BlockDeviceMappings"][0]
        ["Ebs"];
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
    let g = properties(&t, ids::group(Colour::Blue));
    assert_eq!(g["HealthCheckType"], "ELB");
    assert_eq!(g["HealthCheckGracePeriod"], 240);
    assert_eq!(
        g["TargetGroupARNs"],
        json!([{"Ref": ids::target_group(Colour::Blue)}])
    );
    assert_eq!(
        g["VPCZoneIdentifier"],
        json!({"Fn::Split": [",", {"Fn::ImportValue": "ce-prod-network-SubnetIds"}]})
    );
}

#[test]
fn no_rolling_update_replaces_the_live_colours_nodes() {
    let t = built("staging");
    for colour in Colour::ALL {
        let policy = &t["Resources"][ids::group(colour)]["UpdatePolicy"];
        assert!(policy.get("AutoScalingRollingUpdate").is_none(), "{colour}");
        assert_eq!(
            policy["AutoScalingScheduledAction"]["IgnoreUnmodifiedGroupSizeProperties"],
            true
        );
    }
}

#[test]
fn the_live_colour_parameter_picks_the_origin_rule_target_and_the_minimums() {
    let t = built("prod");
    assert_eq!(
        t["Parameters"][LIVE_COLOUR_PARAMETER]["AllowedValues"],
        json!(["blue", "green"])
    );
    assert_eq!(
        t["Conditions"][BLUE_IS_LIVE],
        json!({"Fn::Equals": [{"Ref": LIVE_COLOUR_PARAMETER}, "blue"]})
    );
    assert_eq!(
        properties(&t, ids::ORIGIN_RULE)["Actions"][0]["TargetGroupArn"],
        json!({"Fn::If": [BLUE_IS_LIVE, {"Ref": "NodeTargetGroup"}, {"Ref": "GreenTargetGroup"}]})
    );
    assert_eq!(
        properties(&t, ids::group(Colour::Blue))["MinSize"],
        json!({"Fn::If": [BLUE_IS_LIVE, "2", "0"]})
    );
    assert_eq!(
        properties(&t, ids::group(Colour::Green))["MinSize"],
        json!({"Fn::If": [BLUE_IS_LIVE, "0", "2"]})
    );
}

#[test]
fn the_live_route_is_the_origin_rule() {
    let t = built("prod");
    assert_eq!(
        t["Outputs"][LIVE_ROUTE_OUTPUT]["Value"],
        json!({"Ref": ids::ORIGIN_RULE})
    );
    // The preview priorities a release takes (1 to 49) come before it.
    assert_eq!(properties(&t, ids::ORIGIN_RULE)["Priority"], 100);
}

#[test]
fn each_colour_has_its_own_group_target_group_and_scaling_policy() {
    let t = built("prod");
    for colour in Colour::ALL {
        let g = properties(&t, ids::group(colour));
        assert_eq!(
            g["TargetGroupARNs"],
            json!([{"Ref": ids::target_group(colour)}])
        );
        assert!(g["Tags"].as_array().unwrap().contains(
            &json!({"Key": "Colour", "Value": colour.as_str(), "PropagateAtLaunch": true})
        ));
        assert!(
            properties(&t, ids::target_group(colour))["Tags"]
                .as_array()
                .unwrap()
                .contains(&json!({"Key": "Colour", "Value": colour.as_str()}))
        );
        assert_eq!(
            properties(&t, ids::cpu_policy(colour))["AutoScalingGroupName"],
            json!({"Ref": ids::group(colour)})
        );
    }
    assert_eq!(
        properties(&t, ids::group(Colour::Blue))["AutoScalingGroupName"],
        "ce-prod-nodes"
    );
    assert_eq!(
        properties(&t, ids::group(Colour::Green))["AutoScalingGroupName"],
        "ce-prod-nodes-green"
    );
}

#[test]
fn https_listener_uses_modern_tls_and_refuses_what_did_not_come_through_cloudfront() {
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
    let default = &l["DefaultActions"][0];
    assert_eq!(default["Type"], "fixed-response");
    assert_eq!(default["FixedResponseConfig"]["StatusCode"], "403");
    assert!(
        t["Resources"].get("HttpListener").is_none(),
        "nothing may listen on port 80"
    );
}

#[test]
fn origin_rule_forwards_only_requests_carrying_the_current_secret() {
    let t = built("prod");
    let rule = properties(&t, ids::ORIGIN_RULE);
    assert_eq!(rule["ListenerArn"], json!({"Ref": ids::HTTPS_LISTENER}));
    assert_eq!(rule["Priority"], 100);
    assert_eq!(
        rule["Conditions"],
        json!([{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "X-Origin-Verify",
            "Values": ["{{resolve:secretsmanager:ce-prod/origin-verify}}"]
        }}])
    );
    assert_eq!(rule["Actions"][0]["Type"], "forward");
}

#[test]
fn during_a_rotation_the_rule_accepts_the_pinned_and_the_previous_version() {
    let mut env = crate::config::load(Path::new("envs"), "staging").unwrap();
    let (new, old) = (
        "a1b2c3d4-0000-4000-8000-000000000002",
        "a1b2c3d4-0000-4000-8000-000000000001",
    );
    env.file.edge.origin_secret_version = Some(new.into());
    env.file.edge.origin_previous_secret_version = Some(old.into());
    let t = serde_json::to_value(build(&Ctx { env: &env }).unwrap()).unwrap();
    let values = &properties(&t, ids::ORIGIN_RULE)["Conditions"][0]["HttpHeaderConfig"]["Values"];
    assert_eq!(
        values,
        &json!([
            format!("{{{{resolve:secretsmanager:ce-staging/origin-verify:SecretString:::{new}}}}}"),
            format!("{{{{resolve:secretsmanager:ce-staging/origin-verify:SecretString:::{old}}}}}")
        ])
    );
}

#[test]
fn mixed_policy_only_when_spot_is_configured() {
    let prod = built("prod");
    let g = properties(&prod, ids::group(Colour::Blue));
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
    let g = properties(&staging, ids::group(Colour::Blue));
    assert!(g.get("MixedInstancesPolicy").is_none());
    assert!(g.get("CapacityRebalance").is_none());
    assert_eq!(
        g["LaunchTemplate"]["Version"],
        json!({"Fn::GetAtt": [ids::LAUNCH_TEMPLATE, "LatestVersionNumber"]})
    );
}

#[test]
fn no_group_has_a_desired_capacity_in_the_template() {
    for env in ["prod", "staging"] {
        let t = built(env);
        for colour in Colour::ALL {
            assert!(
                properties(&t, ids::group(colour))
                    .get("DesiredCapacity")
                    .is_none(),
                "{env} {colour}"
            );
        }
    }
}

#[test]
fn cpu_policy_only_when_a_target_is_set() {
    let prod = built("prod");
    let p = properties(&prod, ids::cpu_policy(Colour::Blue));
    assert_eq!(p["TargetTrackingConfiguration"]["TargetValue"], 25.0);
    assert_eq!(
        p["AutoScalingGroupName"],
        json!({"Ref": ids::group(Colour::Blue)})
    );
    assert!(
        built("staging")["Resources"]
            .get(ids::cpu_policy(Colour::Blue))
            .is_none()
    );
}

#[test]
fn group_tags_propagate_the_environment() {
    let t = built("prod");
    let tags = properties(&t, ids::group(Colour::Blue))["Tags"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        tags.contains(&json!({"Key": "Environment", "Value": "prod", "PropagateAtLaunch": true}))
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
    let tg = properties(&t, ids::target_group(Colour::Blue));
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
            let actions: Vec<&str> = statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert!(actions.iter().all(|a| !a.contains('*')), "{actions:?}");
            if statement["Resource"]
                .as_array()
                .unwrap()
                .contains(&json!("*"))
            {
                // Session Manager's calls take no resource ARN; nothing else may use "*".
                assert_eq!(statement["Sid"], "SessionManager");
                assert!(actions.iter().all(|a| SESSION_MANAGER_ACTIONS.contains(a)));
            }
        }
    }
    assert_eq!(
        role["ManagedPolicyArns"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/CloudWatchAgentServerPolicy"}])
    );
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"][0],
        "ec2.amazonaws.com"
    );
}

fn statement<'a>(t: &'a Value, sid: &str) -> &'a Value {
    properties(t, ids::ROLE)["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
}

#[test]
fn parameters_are_readable_only_under_the_envs_own_path() {
    let t = built("staging");
    let s = statement(&t, "ReadEnvParameters");
    assert_eq!(
        s["Resource"],
        json!([
            {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/compiler-explorer/staging/*"}
        ])
    );
}

#[test]
fn bucket_listing_is_limited_to_the_prefixes_the_node_reads() {
    let t = built("prod");
    assert_eq!(
        statement(&t, "ListBuilds")["Condition"],
        json!({"StringLike": {"s3:prefix": ["dist/", "dist/*", "version/", "version/*"]}})
    );
    assert_eq!(
        statement(&t, "ListStateAndCache")["Condition"],
        json!({"StringLike": {"s3:prefix": ["state/", "state/*", "cache/", "cache/*"]}})
    );
    let objects = &statement(&t, "ReadWriteStateAndCache")["Resource"];
    assert_eq!(objects.as_array().unwrap().len(), 2);
    assert!(
        objects[0]["Fn::Sub"][0]
            .as_str()
            .unwrap()
            .ends_with("/state/*")
    );
    assert!(
        objects[1]["Fn::Sub"][0]
            .as_str()
            .unwrap()
            .ends_with("/cache/*")
    );
}

#[test]
fn nodes_write_to_efs_only_through_the_cache_access_point() {
    let t = built("prod");
    let write = statement(&t, "WriteThroughCacheAccessPoint");
    assert_eq!(write["Action"], json!(["elasticfilesystem:ClientWrite"]));
    assert_eq!(
        write["Condition"]["StringEquals"]["elasticfilesystem:AccessPointArn"]["Fn::Sub"][1]["AccessPointId"],
        json!({"Fn::ImportValue": "ce-prod-storage-CacheAccessPointId"})
    );
    assert_eq!(
        statement(&t, "MountFileSystem")["Action"],
        json!(["elasticfilesystem:ClientMount"])
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
        Export::GreenTargetGroupFullName,
        Export::GreenAutoScalingGroupName,
    ] {
        let name = export.output_name();
        assert_eq!(
            outputs[name]["Export"]["Name"],
            format!("ce-prod-compute-{name}"),
            "{name}"
        );
    }
    for plain in [
        "BlueTargetGroupArn",
        "GreenTargetGroupArn",
        "BlueGroupName",
        "GreenGroupName",
        LIVE_ROUTE_OUTPUT,
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
        json!({"Fn::Select": ["5", {"Fn::Split": [":", {"Ref": ids::target_group(Colour::Blue)}]}]})
    );
}
