//! The env's CloudWatch dashboard: the graphs an on-call person looks at first, in the order
//! they look (traffic, errors, latency, healthy hosts, EFS, CPU, the WAF).
//!
//! Each graph is built by one small function of [`WIDGETS`]; the body is JSON text with
//! `${Name}` placeholders that an `Fn::Sub` fills with the other stacks' exports, so the
//! dashboard follows a replaced load balancer or file system without a change here.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeSeq, Serializer};

use crate::model::cloudwatch::Dashboard;
use crate::model::{Expr, LogicalId, Template};

use super::super::{Ctx, Export, waf};
use super::CLOUDFRONT_METRICS_REGION;

/// Logical id of the dashboard.
pub const DASHBOARD: &str = "Dashboard";
/// Grid columns of a dashboard; two graphs to a row.
const WIDTH: u32 = 12;
/// Rows of one graph.
const HEIGHT: u32 = 6;

/// One graph: its title, the metric rows CloudWatch's dashboard format takes, and how they
/// are summarised.
pub struct Widget {
    /// Shown above the graph.
    pub title: &'static str,
    /// The graph's rows.
    pub metrics: Vec<Row>,
    /// `Sum`, `Average`, `p90`, …
    pub stat: &'static str,
    /// Seconds per datapoint.
    pub period: u32,
    /// Region the metrics live in; `None`: the env's.
    pub region: Option<&'static str>,
}

/// One row of a graph, as CloudWatch's dashboard format writes it: an array of the
/// namespace, the metric and its dimensions' names and values, then the row's options when it
/// has any (`["AWS/EFS", "PercentIOLimit", "FileSystemId", "${FileSystem}", {"stat": "Sum"}]`);
/// an expression row is its options alone.
pub struct Row {
    /// Namespace, metric name, then dimension name and value pairs; none for an expression.
    names: Vec<Cow<'static, str>>,
    options: Option<RowOptions>,
}

/// A row's options. The fields are declared in key order: the body was once written through
/// a `serde_json::Value`, whose keys are sorted, and the same text keeps every deployed
/// dashboard unchanged.
#[derive(Default, serde::Serialize)]
pub struct RowOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    expression: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stat: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visible: Option<bool>,
    #[serde(rename = "yAxis", skip_serializing_if = "Option::is_none")]
    y_axis: Option<&'static str>,
}

impl Row {
    /// A metric of `namespace` with its dimensions, as `[name, value]` pairs.
    fn metric<const N: usize>(
        namespace: &'static str,
        metric: &'static str,
        dimensions: [(&'static str, Cow<'static, str>); N],
    ) -> Row {
        let mut names = Vec::with_capacity(2 + 2 * N);
        names.extend([Cow::Borrowed(namespace), Cow::Borrowed(metric)]);
        for (name, value) in dimensions {
            names.extend([Cow::Borrowed(name), value]);
        }
        Row {
            names,
            options: None,
        }
    }

    /// A row computed from other rows of the graph.
    fn expression(expression: &'static str, label: &'static str) -> Row {
        Row {
            names: Vec::new(),
            options: Some(RowOptions {
                expression: Some(expression),
                label: Some(Cow::Borrowed(label)),
                ..RowOptions::default()
            }),
        }
    }

    /// The row with these options.
    fn with(mut self, options: RowOptions) -> Row {
        self.options = Some(options);
        self
    }
}

impl Serialize for Row {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = self.names.len() + usize::from(self.options.is_some());
        let mut row = serializer.serialize_seq(Some(len))?;
        for name in &self.names {
            row.serialize_element(name)?;
        }
        if let Some(options) = &self.options {
            row.serialize_element(options)?;
        }
        row.end()
    }
}

/// A label option.
fn label(text: impl Into<Cow<'static, str>>) -> RowOptions {
    RowOptions {
        label: Some(text.into()),
        ..RowOptions::default()
    }
}

/// A `${Name}` placeholder (or other fixed text) as a dimension value.
const fn fixed(text: &'static str) -> Cow<'static, str> {
    Cow::Borrowed(text)
}

/// The graphs, in order; a function returns `None` where its metrics do not exist.
pub const WIDGETS: [fn(&Ctx<'_>) -> Option<Widget>; 8] = [
    requests,
    errors,
    latency,
    healthy_hosts,
    efs_throughput,
    efs_io,
    cpu,
    waf_requests,
];

/// The target groups whose health is graphed, with their labels: `${Name}` placeholders.
/// Both colours: the live one and, during a release, the one coming up.
const TARGET_GROUPS: [(&str, &str); 2] =
    [("blue", "${TargetGroup}"), ("green", "${GreenTargetGroup}")];

/// The node groups whose CPU and size are graphed, with their labels: `${Name}` placeholders.
const GROUPS: [(&str, &str); 2] = [("blue", "${Group}"), ("green", "${GreenGroup}")];

/// The load balancer's metric `metric`.
fn load_balancer(metric: &'static str) -> Row {
    Row::metric(
        "AWS/ApplicationELB",
        metric,
        [("LoadBalancer", fixed("${LoadBalancer}"))],
    )
}

/// The web ACL's metric `metric`, over all its rules.
fn web_acl(ctx: &Ctx<'_>, metric: &'static str) -> Row {
    Row::metric(
        "AWS/WAFV2",
        metric,
        [
            ("WebACL", Cow::Owned(waf::web_acl_name(ctx))),
            ("Rule", fixed("ALL")),
        ],
    )
}

/// Viewer requests are what the web ACL sees (every request, cached or not, in us-east-1);
/// origin requests are the load balancer's.
fn requests(ctx: &Ctx<'_>) -> Option<Widget> {
    let mut metrics = vec![load_balancer("RequestCount").with(label("to the origin"))];
    if waf::available(ctx) {
        metrics.push(Row::expression("allowed + blocked", "from viewers"));
        for (id, metric) in [
            ("allowed", "AllowedRequests"),
            ("blocked", "BlockedRequests"),
        ] {
            metrics.push(web_acl(ctx, metric).with(RowOptions {
                id: Some(id),
                visible: Some(false),
                region: Some(CLOUDFRONT_METRICS_REGION),
                ..RowOptions::default()
            }));
        }
    }
    Some(Widget {
        title: "Requests",
        metrics,
        stat: "Sum",
        period: 300,
        region: None,
    })
}

fn errors(_: &Ctx<'_>) -> Option<Widget> {
    Some(Widget {
        title: "5xx responses",
        metrics: vec![
            load_balancer("HTTPCode_Target_5XX_Count").with(label("from nodes")),
            load_balancer("HTTPCode_ELB_5XX_Count").with(label("from the load balancer")),
        ],
        stat: "Sum",
        period: 300,
        region: None,
    })
}

fn latency(_: &Ctx<'_>) -> Option<Widget> {
    let row = |stat: &'static str| {
        load_balancer("TargetResponseTime").with(RowOptions {
            stat: Some(stat),
            ..label(stat)
        })
    };
    Some(Widget {
        title: "Target response time (s)",
        metrics: vec![row("p50"), row("p90"), row("p99")],
        stat: "p90",
        period: 300,
        region: None,
    })
}

fn healthy_hosts(_: &Ctx<'_>) -> Option<Widget> {
    Some(Widget {
        title: "Healthy hosts",
        metrics: TARGET_GROUPS
            .into_iter()
            .map(|(colour, group)| {
                Row::metric(
                    "AWS/ApplicationELB",
                    "HealthyHostCount",
                    [
                        ("TargetGroup", fixed(group)),
                        ("LoadBalancer", fixed("${LoadBalancer}")),
                    ],
                )
                .with(label(colour))
            })
            .collect(),
        stat: "Minimum",
        period: 60,
        region: None,
    })
}

/// The file system's metric `metric`.
fn file_system(metric: &'static str) -> Row {
    Row::metric(
        "AWS/EFS",
        metric,
        [("FileSystemId", fixed("${FileSystem}"))],
    )
}

fn efs_throughput(_: &Ctx<'_>) -> Option<Widget> {
    Some(Widget {
        title: "EFS burst credits (bytes)",
        metrics: vec![file_system("BurstCreditBalance")],
        stat: "Minimum",
        period: 300,
        region: None,
    })
}

fn efs_io(_: &Ctx<'_>) -> Option<Widget> {
    Some(Widget {
        title: "EFS I/O limit (%) and throughput",
        metrics: vec![
            file_system("PercentIOLimit"),
            file_system("MeteredIOBytes").with(RowOptions {
                stat: Some("Sum"),
                y_axis: Some("right"),
                ..RowOptions::default()
            }),
        ],
        stat: "Average",
        period: 300,
        region: None,
    })
}

fn cpu(_: &Ctx<'_>) -> Option<Widget> {
    let metrics = GROUPS
        .into_iter()
        .flat_map(|(colour, group)| {
            let group = [("AutoScalingGroupName", fixed(group))];
            let row = |stat: &'static str| {
                Row::metric("AWS/EC2", "CPUUtilization", group.clone()).with(RowOptions {
                    stat: Some(stat),
                    ..label(format!("{colour} {stat}"))
                })
            };
            [
                row("Average"),
                row("Maximum"),
                Row::metric("AWS/AutoScaling", "GroupInServiceInstances", group.clone()).with(
                    RowOptions {
                        stat: Some("Average"),
                        y_axis: Some("right"),
                        ..label(format!("{colour} in service"))
                    },
                ),
            ]
        })
        .collect();
    Some(Widget {
        title: "Node CPU (%)",
        metrics,
        stat: "Average",
        period: 300,
        region: None,
    })
}

fn waf_requests(ctx: &Ctx<'_>) -> Option<Widget> {
    waf::available(ctx).then(|| Widget {
        title: "WAF requests",
        metrics: ["BlockedRequests", "AllowedRequests"]
            .into_iter()
            .map(|metric| web_acl(ctx, metric))
            .collect(),
        stat: "Sum",
        period: 300,
        region: Some(CLOUDFRONT_METRICS_REGION),
    })
}

/// The body's top level.
#[derive(serde::Serialize)]
struct Body<'a> {
    widgets: Vec<Placed<'a>>,
}

/// A graph at its place on the grid; fields in key order, as [`RowOptions`].
#[derive(serde::Serialize)]
struct Placed<'a> {
    height: u32,
    properties: Properties<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
    width: u32,
    x: u32,
    y: u32,
}

/// A graph's content; fields in key order, as [`RowOptions`].
#[derive(serde::Serialize)]
struct Properties<'a> {
    metrics: &'a [Row],
    period: u32,
    region: &'static str,
    stat: &'static str,
    title: &'static str,
    view: &'static str,
}

/// The dashboard body: the widgets laid out two to a row.
pub fn body(ctx: &Ctx<'_>) -> String {
    let widgets: Vec<Widget> = WIDGETS.iter().filter_map(|build| build(ctx)).collect();
    let placed = widgets
        .iter()
        .zip(0u32..)
        .map(|(w, i)| Placed {
            height: HEIGHT,
            properties: Properties {
                metrics: &w.metrics,
                period: w.period,
                region: w.region.unwrap_or("${AWS::Region}"),
                stat: w.stat,
                title: w.title,
                view: "timeSeries",
            },
            kind: "metric",
            width: WIDTH,
            x: (i % 2) * WIDTH,
            y: (i / 2) * HEIGHT,
        })
        .collect();
    serde_json::to_string(&Body { widgets: placed }).expect("a dashboard body serialises")
}

/// Adds the dashboard.
pub(super) fn add_dashboard(ctx: &Ctx<'_>, t: &mut Template) {
    let variables = BTreeMap::from([
        (
            "LoadBalancer".to_owned(),
            ctx.import(Export::LoadBalancerFullName),
        ),
        (
            "TargetGroup".to_owned(),
            ctx.import(Export::TargetGroupFullName),
        ),
        (
            "GreenTargetGroup".to_owned(),
            ctx.import(Export::GreenTargetGroupFullName),
        ),
        ("FileSystem".to_owned(), ctx.import(Export::FileSystemId)),
        ("Group".to_owned(), ctx.import(Export::AutoScalingGroupName)),
        (
            "GreenGroup".to_owned(),
            ctx.import(Export::GreenAutoScalingGroupName),
        ),
    ]);
    t.add(
        &LogicalId::new(DASHBOARD),
        Dashboard {
            dashboard_name: ctx.resource_name("overview"),
            dashboard_body: Expr::SubWith(body(ctx), variables),
        },
    );
}
