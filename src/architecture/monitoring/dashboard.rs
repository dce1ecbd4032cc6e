//! The env's CloudWatch dashboard: the graphs an on-call person looks at first, in the order
//! they look (traffic, errors, latency, healthy hosts, EFS, CPU, the WAF).
//!
//! Each graph is built by one small function of [`WIDGETS`]; the body is JSON text with
//! `${Name}` placeholders that an `Fn::Sub` fills with the other stacks' exports, so the
//! dashboard follows a replaced load balancer or file system without a change here.

use std::collections::BTreeMap;

use serde_json::{Value, json};

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
    /// `[namespace, metric, dimension, value, …, {options}]` rows.
    pub metrics: Vec<Value>,
    /// `Sum`, `Average`, `p90`, …
    pub stat: &'static str,
    /// Seconds per datapoint.
    pub period: u32,
    /// Region the metrics live in; `None`: the env's.
    pub region: Option<&'static str>,
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
fn target_groups() -> Vec<(&'static str, &'static str)> {
    vec![("nodes", "${TargetGroup}")]
}

/// Viewer requests are what the web ACL sees (every request, cached or not, in us-east-1);
/// origin requests are the load balancer's.
fn requests(ctx: &Ctx<'_>) -> Option<Widget> {
    let mut metrics = vec![json!([
        "AWS/ApplicationELB", "RequestCount", "LoadBalancer", "${LoadBalancer}",
        {"label": "to the origin"}
    ])];
    if waf::available(ctx) {
        metrics.push(json!([
            {"expression": "allowed + blocked", "label": "from viewers"}
        ]));
        for (id, metric) in [
            ("allowed", "AllowedRequests"),
            ("blocked", "BlockedRequests"),
        ] {
            metrics.push(json!([
                "AWS/WAFV2", metric, "WebACL", waf::web_acl_name(ctx), "Rule", "ALL",
                {"id": id, "visible": false, "region": CLOUDFRONT_METRICS_REGION}
            ]));
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
            json!([
                "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", "${LoadBalancer}",
                {"label": "from nodes"}
            ]),
            json!([
                "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", "${LoadBalancer}",
                {"label": "from the load balancer"}
            ]),
        ],
        stat: "Sum",
        period: 300,
        region: None,
    })
}

fn latency(_: &Ctx<'_>) -> Option<Widget> {
    let row = |stat: &str| {
        json!([
            "AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", "${LoadBalancer}",
            {"stat": stat, "label": stat}
        ])
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
        metrics: target_groups()
            .into_iter()
            .map(|(label, group)| {
                json!([
                    "AWS/ApplicationELB", "HealthyHostCount", "TargetGroup", group,
                    "LoadBalancer", "${LoadBalancer}", {"label": label}
                ])
            })
            .collect(),
        stat: "Minimum",
        period: 60,
        region: None,
    })
}

fn efs_throughput(_: &Ctx<'_>) -> Option<Widget> {
    Some(Widget {
        title: "EFS burst credits (bytes)",
        metrics: vec![json!([
            "AWS/EFS",
            "BurstCreditBalance",
            "FileSystemId",
            "${FileSystem}"
        ])],
        stat: "Minimum",
        period: 300,
        region: None,
    })
}

fn efs_io(_: &Ctx<'_>) -> Option<Widget> {
    Some(Widget {
        title: "EFS I/O limit (%) and throughput",
        metrics: vec![
            json!(["AWS/EFS", "PercentIOLimit", "FileSystemId", "${FileSystem}"]),
            json!([
                "AWS/EFS", "MeteredIOBytes", "FileSystemId", "${FileSystem}",
                {"stat": "Sum", "yAxis": "right"}
            ]),
        ],
        stat: "Average",
        period: 300,
        region: None,
    })
}

fn cpu(_: &Ctx<'_>) -> Option<Widget> {
    let row = |stat: &str| {
        json!([
            "AWS/EC2", "CPUUtilization", "AutoScalingGroupName", "${Group}",
            {"stat": stat, "label": stat}
        ])
    };
    Some(Widget {
        title: "Node CPU (%)",
        metrics: vec![
            row("Average"),
            row("Maximum"),
            json!([
                "AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", "${Group}",
                {"stat": "Average", "label": "in service", "yAxis": "right"}
            ]),
        ],
        stat: "Average",
        period: 300,
        region: None,
    })
}

fn waf_requests(ctx: &Ctx<'_>) -> Option<Widget> {
    let acl = waf::web_acl_name(ctx);
    waf::available(ctx).then(|| Widget {
        title: "WAF requests",
        metrics: ["BlockedRequests", "AllowedRequests"]
            .into_iter()
            .map(|m| json!(["AWS/WAFV2", m, "WebACL", acl, "Rule", "ALL"]))
            .collect(),
        stat: "Sum",
        period: 300,
        region: Some(CLOUDFRONT_METRICS_REGION),
    })
}

/// The dashboard body: the widgets laid out two to a row.
pub fn body(ctx: &Ctx<'_>) -> String {
    let widgets: Vec<Value> = WIDGETS
        .iter()
        .filter_map(|build| build(ctx))
        .enumerate()
        .map(|(i, w)| {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            json!({
                "type": "metric",
                "x": (i % 2) * WIDTH,
                "y": (i / 2) * HEIGHT,
                "width": WIDTH,
                "height": HEIGHT,
                "properties": {
                    "title": w.title,
                    "view": "timeSeries",
                    "region": w.region.unwrap_or("${AWS::Region}"),
                    "stat": w.stat,
                    "period": w.period,
                    "metrics": w.metrics,
                }
            })
        })
        .collect();
    json!({ "widgets": widgets }).to_string()
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
        ("FileSystem".to_owned(), ctx.import(Export::FileSystemId)),
        ("Group".to_owned(), ctx.import(Export::AutoScalingGroupName)),
    ]);
    t.add(
        &LogicalId::new(DASHBOARD),
        Dashboard {
            dashboard_name: ctx.resource_name("overview"),
            dashboard_body: Expr::SubWith(body(ctx), variables),
        },
    );
}
