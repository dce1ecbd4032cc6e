//! The monitoring stack: the env's alert topic and the alarms on what has broken the live site
//! before: 5xx surges, slow or missing nodes, EFS running out of burst credit or I/O (the
//! March 2023 outage), and DynamoDB throttling of short links and the deploy log.
//!
//! Every alarm notifies the topic on entering ALARM and on returning to OK, and its
//! description says what to look at first. Thresholds come from the env's `[alarms]`.

use crate::config::ThroughputMode;
use crate::model::cloudwatch::{
    Alarm, AlarmMetric, ComparisonOperator, Dimension, Metric, MetricDataQuery, SingleMetric,
    Statistic, TreatMissingData,
};
use crate::model::sns::{Subscription, Topic};
use crate::model::{Expr, LogicalId, Template};

use super::{Ctx, Export};

/// Requests per period below which an error rate is noise (one failed request of three is
/// not an outage); the live site's `High5xx` alarms use the same floor.
const MIN_REQUESTS_FOR_RATE: u32 = 100;
/// Bytes in a GiB, for the burst-credit threshold (the metric is in bytes).
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// The region CloudFront publishes its metrics in, whatever the distribution serves.
const CLOUDFRONT_METRICS_REGION: &str = "us-east-1";

/// When an alarm fires.
struct Rule {
    comparison: ComparisonOperator,
    threshold: f64,
    /// Breaching datapoints needed, out of as many periods.
    periods: u32,
    missing: TreatMissingData,
}

/// Adds alarms that all notify one topic.
struct Alarms<'a, 'c> {
    ctx: &'a Ctx<'c>,
    topic: Expr,
    template: &'a mut Template,
}

impl Alarms<'_, '_> {
    fn add(&mut self, id: &str, slug: &str, description: &str, rule: &Rule, metric: AlarmMetric) {
        self.template.add(
            &LogicalId::new(id),
            Alarm {
                alarm_actions: vec![self.topic.clone()],
                alarm_description: Some(description.to_owned()),
                alarm_name: Some(self.ctx.resource_name(slug)),
                comparison_operator: rule.comparison,
                datapoints_to_alarm: Some(rule.periods),
                evaluation_periods: rule.periods,
                metric,
                ok_actions: vec![self.topic.clone()],
                threshold: rule.threshold,
                treat_missing_data: Some(rule.missing),
            },
        );
    }
}

fn single(namespace: &str, name: &str, dimensions: Vec<Dimension>, period: u32) -> SingleMetric {
    SingleMetric {
        dimensions,
        extended_statistic: None,
        metric_name: name.to_owned(),
        namespace: namespace.to_owned(),
        period,
        statistic: None,
    }
}

pub(super) fn build(ctx: &Ctx<'_>) -> Template {
    let alarms = &ctx.env.file.alarms;
    let mut t = Template::new(format!(
        "ce {} monitoring: alert topic and alarms",
        ctx.env_name()
    ));

    let topic = LogicalId::new("AlertTopic");
    t.add(
        &topic,
        Topic {
            display_name: Some(format!("ce {} alerts", ctx.env_name())),
            // Not encrypted: CloudWatch can only publish to an encrypted topic whose key policy
            // lets it use the key, and the AWS managed alias/aws/sns key's policy cannot be
            // changed, so alarms would fail silently. Alarm states are not secret.
            kms_master_key_id: None,
            subscription: alarms
                .emails
                .iter()
                .map(|e| Subscription::email(e))
                .collect(),
            tags: ctx.tags("alerts"),
            topic_name: Some(ctx.resource_name("alerts")),
        },
    );
    t.output(
        "AlertTopicArn",
        "SNS topic the alarms notify",
        Expr::reference(&topic),
    );

    let mut a = Alarms {
        ctx,
        topic: Expr::reference(&topic),
        template: &mut t,
    };
    add_edge_alarms(&mut a);
    add_load_balancer_alarms(&mut a);
    add_efs_alarms(&mut a);
    add_table_alarms(&mut a);
    t
}

fn add_edge_alarms(a: &mut Alarms<'_, '_>) {
    let ctx = a.ctx;
    // An alarm only sees its own region's metrics and CloudFront's are all in us-east-1; an
    // env elsewhere relies on the load balancer's 5xx alarm.
    if ctx.env.file.region != CLOUDFRONT_METRICS_REGION {
        return;
    }
    let dims = || {
        vec![
            Dimension::new("DistributionId", ctx.import(Export::DistributionId)),
            Dimension::new("Region", "Global"),
        ]
    };
    let period = 300;
    a.add(
        "CloudFront5xxAlarm",
        "cloudfront-5xx",
        "More than the allowed share of CloudFront responses are 5xx. Check the load balancer's \
         healthy hosts and target 5xx, then bogus Host headers (502s on origin TLS).",
        &Rule {
            comparison: ComparisonOperator::GreaterThanThreshold,
            threshold: ctx.env.file.alarms.high_5xx_percent,
            periods: 4,
            missing: TreatMissingData::NotBreaching,
        },
        AlarmMetric::Math {
            metrics: vec![
                MetricDataQuery::stat(
                    "requests",
                    Metric::new("AWS/CloudFront", "Requests", dims()),
                    period,
                    Statistic::Sum,
                ),
                MetricDataQuery::stat(
                    "rate",
                    Metric::new("AWS/CloudFront", "5xxErrorRate", dims()),
                    period,
                    Statistic::Average,
                ),
                MetricDataQuery::expression(
                    "busy5xx",
                    &format!("IF(requests > {MIN_REQUESTS_FOR_RATE}, rate, 0)"),
                    "5xx percent when busy",
                ),
            ],
        },
    );
}

fn add_load_balancer_alarms(a: &mut Alarms<'_, '_>) {
    let ctx = a.ctx;
    let alarms = &ctx.env.file.alarms;
    let lb = || Dimension::new("LoadBalancer", ctx.import(Export::LoadBalancerFullName));
    let tg_dims = || {
        vec![
            Dimension::new("TargetGroup", ctx.import(Export::TargetGroupFullName)),
            lb(),
        ]
    };

    let latency_period = 900;
    a.add(
        "LatencyAlarm",
        "latency-p90",
        "p90 target response time is high. Look for busy nodes (CPU, load), a scaling group at \
         its max size, or slow EFS (percent IO limit, burst credits).",
        &Rule {
            comparison: ComparisonOperator::GreaterThanThreshold,
            threshold: alarms.latency_p90_seconds,
            periods: 2,
            // No requests, no latency datapoints: the healthy-hosts alarm covers an outage.
            missing: TreatMissingData::NotBreaching,
        },
        AlarmMetric::Single(SingleMetric {
            extended_statistic: Some("p90".into()),
            ..single(
                "AWS/ApplicationELB",
                "TargetResponseTime",
                vec![lb()],
                latency_period,
            )
        }),
    );

    a.add(
        "NoHealthyHostsAlarm",
        "no-healthy-hosts",
        "The load balancer has no healthy node: the site is down. Check the scaling group's \
         activity, instance boot logs (S3, EFS mount) and the health check path.",
        &Rule {
            comparison: ComparisonOperator::LessThanThreshold,
            threshold: 1.0,
            periods: 2,
            // A target group that stops reporting has no one to report on.
            missing: TreatMissingData::Breaching,
        },
        AlarmMetric::Single(SingleMetric {
            statistic: Some(Statistic::Minimum),
            ..single("AWS/ApplicationELB", "HealthyHostCount", tg_dims(), 60)
        }),
    );

    // A rate rather than a count, so one threshold fits a quiet beta and a busy prod; the
    // error count is only published when non-zero, hence FILL.
    let period = 300;
    a.add(
        "Target5xxAlarm",
        "target-5xx",
        "Nodes are answering 5xx to more than the allowed share of requests. Check the app \
         logs of recent deploys and roll back with `ce builds set-current` if one is to blame.",
        &Rule {
            comparison: ComparisonOperator::GreaterThanThreshold,
            threshold: alarms.high_5xx_percent,
            periods: 3,
            missing: TreatMissingData::NotBreaching,
        },
        AlarmMetric::Math {
            metrics: vec![
                MetricDataQuery::stat(
                    "requests",
                    Metric::new("AWS/ApplicationELB", "RequestCount", tg_dims()),
                    period,
                    Statistic::Sum,
                ),
                MetricDataQuery::stat(
                    "errors",
                    Metric::new("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", tg_dims()),
                    period,
                    Statistic::Sum,
                ),
                MetricDataQuery::expression(
                    "rate",
                    &format!(
                        "IF(requests > {MIN_REQUESTS_FOR_RATE}, 100 * FILL(errors, 0) / requests, 0)"
                    ),
                    "Target 5xx percent when busy",
                ),
            ],
        },
    );
}

fn add_efs_alarms(a: &mut Alarms<'_, '_>) {
    let ctx = a.ctx;
    let alarms = &ctx.env.file.alarms;
    let fs = || {
        vec![Dimension::new(
            "FileSystemId",
            ctx.import(Export::FileSystemId),
        )]
    };

    // Burst credits only limit throughput in bursting mode; elastic and provisioned file
    // systems do not throttle on them, so the alarm would watch a number that cannot hurt.
    if ctx.env.file.storage.efs_throughput_mode == ThroughputMode::Bursting {
        a.add(
            "EfsBurstCreditAlarm",
            "efs-burst-credits",
            "EFS burst credits are nearly spent; at zero throughput drops to the baseline and \
             compilers time out (March 2023). Cut EFS reads or switch the env to elastic \
             throughput.",
            &Rule {
                comparison: ComparisonOperator::LessThanOrEqualToThreshold,
                threshold: alarms.efs_burst_credit_gib * GIB,
                periods: 1,
                missing: TreatMissingData::Missing,
            },
            AlarmMetric::Single(SingleMetric {
                statistic: Some(Statistic::Minimum),
                ..single("AWS/EFS", "BurstCreditBalance", fs(), 60)
            }),
        );
    }

    a.add(
        "EfsIoLimitAlarm",
        "efs-io-limit",
        "EFS is near its I/O operations limit, so file access is slowing down. Look for a \
         boot storm (many nodes discovering compilers at once) or a runaway reader.",
        &Rule {
            comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
            threshold: alarms.efs_io_limit_percent,
            periods: 2,
            missing: TreatMissingData::NotBreaching,
        },
        AlarmMetric::Single(SingleMetric {
            statistic: Some(Statistic::Average),
            ..single("AWS/EFS", "PercentIOLimit", fs(), 300)
        }),
    );
}

fn add_table_alarms(a: &mut Alarms<'_, '_>) {
    let ctx = a.ctx;
    for (id, slug, export, what) in [
        (
            "LinksThrottleAlarm",
            "links-throttles",
            Export::LinksTableName,
            "short links",
        ),
        (
            "VersionsLogThrottleAlarm",
            "versionslog-throttles",
            Export::VersionsLogTableName,
            "the deploy log",
        ),
    ] {
        let dims = || vec![Dimension::new("TableName", ctx.import(export))];
        let period = 300;
        a.add(
            id,
            slug,
            &format!(
                "DynamoDB is throttling reads or writes of {what}. Check the table's billing \
                 mode and capacity, and for a hot partition key or a client retrying in a loop."
            ),
            &Rule {
                comparison: ComparisonOperator::GreaterThanThreshold,
                threshold: 0.0,
                periods: 2,
                // Throttle events are only published when they happen.
                missing: TreatMissingData::NotBreaching,
            },
            AlarmMetric::Math {
                metrics: vec![
                    MetricDataQuery::stat(
                        "reads",
                        Metric::new("AWS/DynamoDB", "ReadThrottleEvents", dims()),
                        period,
                        Statistic::Sum,
                    ),
                    MetricDataQuery::stat(
                        "writes",
                        Metric::new("AWS/DynamoDB", "WriteThrottleEvents", dims()),
                        period,
                        Statistic::Sum,
                    ),
                    MetricDataQuery::expression(
                        "throttles",
                        "FILL(reads, 0) + FILL(writes, 0)",
                        "Throttle events",
                    ),
                ],
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use super::*;
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
}
