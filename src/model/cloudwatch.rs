//! `AWS::CloudWatch::Alarm`: alarms on one metric or on a metric-math expression; and
//! `AWS::CloudWatch::Dashboard`, whose body is JSON text.
//!
//! An alarm is either single-metric (`Namespace`, `MetricName`, `Dimensions`, a statistic and a
//! `Period` at the top level) or metric math (`Metrics` with exactly one query returning data);
//! CloudFormation rejects a mix, so the two shapes are built by [`AlarmMetric`] and flattened
//! into the alarm, and a mixed alarm cannot be written.

use serde::Serialize;

use super::{Expr, ResourceProperties};

/// `AWS::CloudWatch::Alarm`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    /// Topics (or other actions) notified on entering ALARM.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alarm_actions: Vec<Expr>,
    /// What the alarm means and what to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    /// Region-unique name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_name: Option<String>,
    /// How the metric is compared with the threshold.
    pub comparison_operator: ComparisonOperator,
    /// Breaching datapoints (of the evaluation periods) that trigger ALARM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<u32>,
    /// Periods looked at for each evaluation.
    pub evaluation_periods: u32,
    /// What is measured.
    #[serde(flatten)]
    pub metric: AlarmMetric,
    /// Actions notified on returning to OK.
    #[serde(rename = "OKActions", skip_serializing_if = "Vec::is_empty")]
    pub ok_actions: Vec<Expr>,
    /// The value compared against.
    pub threshold: f64,
    /// How periods without data count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<TreatMissingData>,
}
impl ResourceProperties for Alarm {
    const TYPE: &'static str = "AWS::CloudWatch::Alarm";
}

/// `AWS::CloudWatch::Dashboard`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dashboard {
    /// The widgets as a JSON string; an `Fn::Sub` fills in ids known only at deploy time.
    pub dashboard_body: Expr,
    /// Name, unique per account and region (create-only).
    pub dashboard_name: String,
}
impl ResourceProperties for Dashboard {
    const TYPE: &'static str = "AWS::CloudWatch::Dashboard";
}

/// The two ways an alarm names its data.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AlarmMetric {
    /// One metric with a statistic.
    Single(SingleMetric),
    /// Metric math: the queries, one of which returns the alarmed series.
    Math {
        /// The queries.
        #[serde(rename = "Metrics")]
        metrics: Vec<MetricDataQuery>,
    },
}

/// The top-level fields of a single-metric alarm.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SingleMetric {
    /// Dimensions selecting the series.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    /// A percentile such as `p90` (instead of `Statistic`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    /// Metric name, e.g. `HealthyHostCount`.
    pub metric_name: String,
    /// Namespace, e.g. `AWS/ApplicationELB`.
    pub namespace: String,
    /// Seconds per datapoint.
    pub period: u32,
    /// A plain statistic (instead of `ExtendedStatistic`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<Statistic>,
}

/// A metric dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    /// Dimension name, e.g. `LoadBalancer`.
    pub name: String,
    /// Dimension value.
    pub value: Expr,
}

impl Dimension {
    /// A dimension.
    pub fn new(name: &str, value: impl Into<Expr>) -> Self {
        Dimension {
            name: name.to_owned(),
            value: value.into(),
        }
    }
}

/// Plain statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Statistic {
    /// Mean of the samples.
    Average,
    /// Largest sample.
    Maximum,
    /// Smallest sample.
    Minimum,
    /// Number of samples.
    SampleCount,
    /// Total of the samples.
    Sum,
}

impl Statistic {
    /// The name as `MetricStat.Stat` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Average => "Average",
            Statistic::Maximum => "Maximum",
            Statistic::Minimum => "Minimum",
            Statistic::SampleCount => "SampleCount",
            Statistic::Sum => "Sum",
        }
    }
}

/// `ComparisonOperator` values (the static-threshold ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ComparisonOperator {
    /// `>=`.
    GreaterThanOrEqualToThreshold,
    /// `>`.
    GreaterThanThreshold,
    /// `<`.
    LessThanThreshold,
    /// `<=`.
    LessThanOrEqualToThreshold,
}

/// `TreatMissingData` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TreatMissingData {
    /// Missing counts as breaching (a silent metric is itself the problem).
    Breaching,
    /// Missing counts as fine (the metric is only published when something happens).
    NotBreaching,
    /// Missing periods are skipped; the state is kept.
    Ignore,
    /// The alarm looks further back; all missing gives INSUFFICIENT_DATA.
    Missing,
}

/// One query of a metric-math alarm.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataQuery {
    /// Metric math over other queries' ids (instead of `MetricStat`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// Id used in expressions: starts with a lower-case letter.
    pub id: String,
    /// Human-readable name of the series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A metric and statistic (instead of `Expression`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    /// Seconds per datapoint of an expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u32>,
    /// Whether this is the series the alarm evaluates (exactly one query).
    pub return_data: bool,
}

impl MetricDataQuery {
    /// An input series, not returned.
    pub fn stat(id: &str, metric: Metric, period: u32, stat: Statistic) -> Self {
        MetricDataQuery {
            expression: None,
            id: id.to_owned(),
            label: None,
            metric_stat: Some(MetricStat {
                metric,
                period,
                stat: stat.as_str().to_owned(),
            }),
            period: None,
            return_data: false,
        }
    }

    /// This query as an input to another expression rather than the series alarmed on.
    pub fn input(mut self) -> Self {
        self.return_data = false;
        self
    }

    /// The expression the alarm evaluates.
    pub fn expression(id: &str, expression: &str, label: &str) -> Self {
        MetricDataQuery {
            expression: Some(expression.to_owned()),
            id: id.to_owned(),
            label: Some(label.to_owned()),
            metric_stat: None,
            period: None,
            return_data: true,
        }
    }
}

/// `MetricStat`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStat {
    /// The metric.
    pub metric: Metric,
    /// Seconds per datapoint.
    pub period: u32,
    /// Statistic or percentile, e.g. `Sum`, `p90`.
    pub stat: String,
}

/// `Metric`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    /// Dimensions selecting the series.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    /// Metric name.
    pub metric_name: String,
    /// Namespace.
    pub namespace: String,
}

impl Metric {
    /// A metric in a namespace.
    pub fn new(namespace: &str, name: &str, dimensions: Vec<Dimension>) -> Self {
        Metric {
            dimensions,
            metric_name: name.to_owned(),
            namespace: namespace.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alarm(metric: AlarmMetric) -> serde_json::Value {
        serde_json::to_value(Alarm {
            alarm_actions: vec![Expr::Ref("Topic".into())],
            alarm_description: None,
            alarm_name: Some("a".into()),
            comparison_operator: ComparisonOperator::LessThanThreshold,
            datapoints_to_alarm: None,
            evaluation_periods: 2,
            metric,
            ok_actions: vec![Expr::Ref("Topic".into())],
            threshold: 1.0,
            treat_missing_data: Some(TreatMissingData::NotBreaching),
        })
        .unwrap()
    }

    #[test]
    fn single_metric_fields_sit_at_the_top_level() {
        let v = alarm(AlarmMetric::Single(SingleMetric {
            dimensions: vec![Dimension::new("LoadBalancer", "app/x/1")],
            extended_statistic: Some("p90".into()),
            metric_name: "TargetResponseTime".into(),
            namespace: "AWS/ApplicationELB".into(),
            period: 60,
            statistic: None,
        }));
        assert_eq!(v["MetricName"], "TargetResponseTime");
        assert_eq!(v["ExtendedStatistic"], "p90");
        assert_eq!(
            v["Dimensions"],
            json!([{"Name": "LoadBalancer", "Value": "app/x/1"}])
        );
        assert!(v.get("Statistic").is_none());
        assert!(v.get("Metrics").is_none());
        assert_eq!(v["OKActions"], json!([{"Ref": "Topic"}]));
        assert_eq!(v["TreatMissingData"], "notBreaching");
    }

    #[test]
    fn metric_math_alarm_has_only_metrics_and_one_returned_series() {
        let m = Metric::new("AWS/CloudFront", "Requests", vec![]);
        let v = alarm(AlarmMetric::Math {
            metrics: vec![
                MetricDataQuery::stat("requests", m, 300, Statistic::Sum),
                MetricDataQuery::expression("rate", "requests * 2", "Twice"),
            ],
        });
        assert!(v.get("MetricName").is_none());
        assert!(v.get("Period").is_none());
        let queries = v["Metrics"].as_array().unwrap();
        assert_eq!(queries[0]["MetricStat"]["Stat"], "Sum");
        assert_eq!(queries[0]["MetricStat"]["Metric"]["MetricName"], "Requests");
        assert_eq!(queries[0]["ReturnData"], false);
        assert_eq!(queries[1]["Expression"], "requests * 2");
        assert_eq!(queries[1]["ReturnData"], true);
    }
}
