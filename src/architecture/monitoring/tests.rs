//! Specifications of the monitoring stack, read from the built templates of the real envs.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::architecture::Ctx;
use crate::config;

fn render(env: &str) -> Value {
    let env = config::load(Path::new("envs"), env).expect("env loads");
    serde_json::to_value(build(&Ctx { env: &env })).expect("template serialises")
}

fn alarms(t: &Value) -> Vec<(&String, &Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(id, r)| (id, &r["Properties"]))
        .collect()
}

#[test]
fn topic_is_named_for_the_env_and_mails_its_addresses() {
    let t = render("prod");
    let topic = &t["Resources"]["AlertTopic"]["Properties"];
    assert_eq!(topic["TopicName"], "ce-prod-alerts");
    assert_eq!(
        topic["Subscription"],
        json!([{"Endpoint": "alerts@compiler-explorer.com", "Protocol": "email"}])
    );
    let out = &t["Outputs"]["AlertTopicArn"];
    assert_eq!(out["Value"], json!({"Ref": "AlertTopic"}));
    assert!(out.get("Export").is_none());
}

#[test]
fn every_alarm_notifies_the_topic_on_alarm_and_on_recovery() {
    for env in ["prod", "staging", "beta"] {
        let t = render(env);
        let all = alarms(&t);
        assert!(all.len() >= 7, "{env} has {} alarms", all.len());
        for (id, p) in all {
            assert_eq!(
                p["AlarmActions"],
                json!([{"Ref": "AlertTopic"}]),
                "{env} {id}"
            );
            assert_eq!(p["OKActions"], json!([{"Ref": "AlertTopic"}]), "{env} {id}");
            assert!(p["AlarmDescription"].as_str().is_some_and(|d| d.len() > 20));
            assert!(p["TreatMissingData"].is_string(), "{env} {id}");
        }
    }
}

#[test]
fn burst_credit_alarm_exists_only_for_bursting_file_systems() {
    let has_burst = |env| {
        render(env)["Resources"]
            .get("EfsBurstCreditAlarm")
            .is_some()
    };
    assert!(!has_burst("prod"), "prod is elastic");
    assert!(has_burst("staging"));
    assert!(has_burst("beta"));
}

#[test]
fn burst_credit_threshold_is_the_env_gib_in_bytes() {
    let t = render("beta");
    let p = &t["Resources"]["EfsBurstCreditAlarm"]["Properties"];
    assert_eq!(p["Threshold"], 10.0 * GIB);
    assert_eq!(p["Statistic"], "Minimum");
    assert_eq!(p["ComparisonOperator"], "LessThanOrEqualToThreshold");
    assert_eq!(
        p["Dimensions"][0]["Value"],
        json!({"Fn::ImportValue": "ce-beta-storage-FileSystemId"})
    );
}

#[test]
fn latency_alarm_watches_p90_of_the_load_balancer() {
    let t = render("prod");
    let p = &t["Resources"]["LatencyAlarm"]["Properties"];
    assert_eq!(p["MetricName"], "TargetResponseTime");
    assert_eq!(p["ExtendedStatistic"], "p90");
    assert_eq!(p["Threshold"], 4.0);
    assert_eq!(
        p["Dimensions"],
        json!([{"Name": "LoadBalancer",
            "Value": {"Fn::ImportValue": "ce-prod-compute-LoadBalancerFullName"}}])
    );
}

#[test]
fn no_healthy_hosts_treats_silence_as_breaching() {
    let t = render("staging");
    let p = &t["Resources"]["NoHealthyHostsAlarm"]["Properties"];
    assert_eq!(p["MetricName"], "HealthyHostCount");
    assert_eq!(p["Statistic"], "Minimum");
    assert_eq!(p["ComparisonOperator"], "LessThanThreshold");
    assert_eq!(p["Threshold"], 1.0);
    assert_eq!(p["TreatMissingData"], "breaching");
    let names: Vec<&Value> = p["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["Name"])
        .collect();
    assert_eq!(names, [&json!("TargetGroup"), &json!("LoadBalancer")]);
}

#[test]
fn cloudfront_5xx_alarm_reads_the_global_distribution_metric_when_busy() {
    let t = render("prod");
    let p = &t["Resources"]["CloudFront5xxAlarm"]["Properties"];
    assert_eq!(p["Threshold"], 3.0);
    let queries = p["Metrics"].as_array().unwrap();
    let rate = &queries[1]["MetricStat"]["Metric"];
    assert_eq!(rate["MetricName"], "5xxErrorRate");
    assert_eq!(
        rate["Dimensions"],
        json!([
            {"Name": "DistributionId",
             "Value": {"Fn::ImportValue": "ce-prod-edge-DistributionId"}},
            {"Name": "Region", "Value": "Global"}
        ])
    );
    let returned: Vec<&Value> = queries.iter().filter(|q| q["ReturnData"] == true).collect();
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0]["Expression"], "IF(requests > 100, rate, 0)");
}

#[test]
fn both_tables_have_a_throttle_alarm_on_their_imported_name() {
    let t = render("prod");
    for (id, export) in [
        ("LinksThrottleAlarm", "ce-prod-storage-LinksTableName"),
        (
            "VersionsLogThrottleAlarm",
            "ce-prod-storage-VersionsLogTableName",
        ),
    ] {
        let p = &t["Resources"][id]["Properties"];
        let reads = &p["Metrics"][0]["MetricStat"]["Metric"];
        assert_eq!(reads["MetricName"], "ReadThrottleEvents");
        assert_eq!(
            reads["Dimensions"][0]["Value"],
            json!({"Fn::ImportValue": export})
        );
        assert_eq!(p["Threshold"], 0.0);
    }
}

#[test]
fn thresholds_follow_the_env_file() {
    let beta = render("beta");
    let r = &beta["Resources"];
    assert_eq!(r["LatencyAlarm"]["Properties"]["Threshold"], 8.0);
    assert_eq!(r["Target5xxAlarm"]["Properties"]["Threshold"], 10.0);
    assert_eq!(r["EfsIoLimitAlarm"]["Properties"]["Threshold"], 90.0);
}

#[test]
fn an_alarm_fires_when_the_group_sits_at_its_maximum() {
    let t = render("prod");
    let a = &t["Resources"]["GroupAtMaxAlarm"]["Properties"];
    assert_eq!(a["MetricName"], "GroupInServiceInstances");
    assert_eq!(a["Threshold"], 40.0);
    assert_eq!(a["ComparisonOperator"], "GreaterThanOrEqualToThreshold");
    assert_eq!(a["AlarmActions"], json!([{"Ref": "AlertTopic"}]));
}

#[test]
fn an_alarm_watches_the_requests_the_waf_blocks() {
    let t = render("prod");
    let a = &t["Resources"]["WafBlockedAlarm"]["Properties"];
    assert_eq!(a["Namespace"], "AWS/WAFV2");
    assert_eq!(a["MetricName"], "BlockedRequests");
    assert_eq!(
        a["Dimensions"],
        json!([{"Name": "WebACL", "Value": "ce-prod-web"}, {"Name": "Rule", "Value": "ALL"}])
    );
    assert_eq!(a["Threshold"], 5000.0);
}

#[test]
fn the_monthly_budget_notifies_the_alert_topic() {
    let t = render("staging");
    let b = &t["Resources"]["MonthlyBudget"]["Properties"];
    assert_eq!(
        b["Budget"]["BudgetLimit"],
        json!({"Amount": 300.0, "Unit": "USD"})
    );
    assert_eq!(b["Budget"]["TimeUnit"], "MONTHLY");
    assert_eq!(
        b["Budget"]["CostFilters"],
        json!({"TagKeyValue": ["user:Environment$staging"]})
    );
    let notifications = b["NotificationsWithSubscribers"].as_array().unwrap();
    assert_eq!(notifications.len(), 2);
    for n in notifications {
        assert_eq!(
            n["Subscribers"],
            json!([{"SubscriptionType": "SNS", "Address": {"Ref": "AlertTopic"}}])
        );
    }
    let policy = &t["Resources"]["AlertTopicPolicy"]["Properties"];
    assert_eq!(
        policy["PolicyDocument"]["Statement"][0]["Principal"],
        json!({"Service": ["budgets.amazonaws.com"]})
    );
}

#[test]
fn the_dashboard_graphs_what_on_call_looks_at_first() {
    let t = render("prod");
    let d = &t["Resources"]["Dashboard"]["Properties"];
    assert_eq!(d["DashboardName"], "ce-prod-overview");
    let sub = d["DashboardBody"]["Fn::Sub"].as_array().unwrap();
    let body: Value = serde_json::from_str(sub[0].as_str().unwrap()).unwrap();
    let titles: Vec<&str> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Requests",
        "5xx responses",
        "Target response time (s)",
        "Healthy hosts",
        "EFS burst credits (bytes)",
        "EFS I/O limit (%) and throughput",
        "Node CPU (%)",
        "WAF requests",
    ] {
        assert!(titles.contains(&wanted), "{wanted} missing from {titles:?}");
    }
    let vars = sub[1].as_object().unwrap();
    assert_eq!(
        vars["LoadBalancer"],
        json!({"Fn::ImportValue": "ce-prod-compute-LoadBalancerFullName"})
    );
    // Every placeholder of the body has a value or is a pseudo parameter.
    for name in crate::model::intrinsics::sub_variables(sub[0].as_str().unwrap()) {
        assert!(
            vars.contains_key(&name) || name.starts_with("AWS::"),
            "{name} has no value"
        );
    }
}
