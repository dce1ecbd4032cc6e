//! The monitoring stack: the env's alert topic and the alarms on what has broken the live site
//! before: 5xx surges, slow or missing nodes, EFS running out of burst credit or I/O (the
//! March 2023 outage), and DynamoDB throttling of short links and the deploy log.
//!
//! Every alarm notifies the topic on entering ALARM and on returning to OK, and its
//! description says what to look at first. Thresholds come from the env's `[alarms]`. The
//! stack also holds the env's monthly budget (`budget`) and its dashboard (`dashboard`).

use crate::config::ThroughputMode;
use crate::model::cloudwatch::{
    Alarm, AlarmMetric, ComparisonOperator, Dimension, Metric, MetricDataQuery, SingleMetric,
    Statistic, TreatMissingData,
};
use crate::model::sns::{Subscription, Topic};
use crate::model::{Expr, LogicalId, Template};

use super::{Ctx, Export, waf, waivers};

mod budget;
mod dashboard;

/// Requests per period below which an error rate is noise (one failed request of three is
/// not an outage); the live site's `High5xx` alarms use the same floor.
const MIN_REQUESTS_FOR_RATE: u32 = 100;
/// Bytes in a GiB, for the burst-credit threshold (the metric is in bytes).
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// The region CloudFront publishes its metrics in, whatever the distribution serves.
pub(super) const CLOUDFRONT_METRICS_REGION: &str = "us-east-1";

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
    )
    .waive(
        waivers::TOPIC_ENCRYPTION,
        "CloudWatch cannot publish to a topic under the aws/sns key, and alarm states are not secret",
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
    add_group_at_max_alarm(&mut a);
    add_waf_alarm(&mut a);
    budget::add_budget(ctx, &mut t, &topic);
    dashboard::add_dashboard(ctx, &mut t);
    t
}

/// A group pinned at its maximum cannot absorb more load: latency and errors follow.
fn add_group_at_max_alarm(a: &mut Alarms<'_, '_>) {
    let ctx = a.ctx;
    let max = ctx.env.file.compute.max_size;
    a.add(
        "GroupAtMaxAlarm",
        "group-at-max",
        &format!(
            "The nodes' Auto Scaling group has run at its maximum of {max} for 15 minutes and \
             cannot add capacity. Check for a traffic surge (requests, WAF) or slow nodes \
             (CPU, EFS), and raise compute.max_size if the load is real."
        ),
        &Rule {
            comparison: ComparisonOperator::GreaterThanOrEqualToThreshold,
            threshold: f64::from(max),
            periods: 3,
            missing: TreatMissingData::NotBreaching,
        },
        AlarmMetric::Single(SingleMetric {
            statistic: Some(Statistic::Minimum),
            ..single(
                "AWS/AutoScaling",
                "GroupInServiceInstances",
                vec![Dimension::new(
                    "AutoScalingGroupName",
                    ctx.import(Export::AutoScalingGroupName),
                )],
                300,
            )
        }),
    );
}

/// Many blocked requests: an attack, a scraper hitting the rate limit, or a rule blocking
/// real users (check the sampled requests before raising the limit).
fn add_waf_alarm(a: &mut Alarms<'_, '_>) {
    let ctx = a.ctx;
    if !waf::available(ctx) {
        return;
    }
    a.add(
        "WafBlockedAlarm",
        "waf-blocked",
        "The web ACL is blocking many requests. Look at its sampled requests: an attack or a \
         scraper at the POST rate limit can wait; real users blocked by a rule cannot.",
        &Rule {
            comparison: ComparisonOperator::GreaterThanThreshold,
            threshold: f64::from(ctx.env.file.waf.blocked_requests_alarm),
            periods: 1,
            missing: TreatMissingData::NotBreaching,
        },
        AlarmMetric::Single(SingleMetric {
            statistic: Some(Statistic::Sum),
            ..single(
                "AWS/WAFV2",
                "BlockedRequests",
                vec![
                    Dimension::new("WebACL", waf::web_acl_name(ctx)),
                    Dimension::new("Rule", "ALL"),
                ],
                300,
            )
        }),
    );
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
mod tests;
