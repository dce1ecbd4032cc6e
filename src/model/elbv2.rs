//! `AWS::ElasticLoadBalancingV2::*` resource types: the application load balancer in front of
//! the web nodes, its target group, listeners and listener rules.
//!
//! Settings that the API models as `Key`/`Value` attribute lists (idle timeout, access logs,
//! deregistration delay, …) stay lists here, built with [`attributes`] so their order is stable.

use serde::Serialize;

use super::{Expr, ResourceProperties, Tag};

/// One `Key`/`Value` entry of `LoadBalancerAttributes` or `TargetGroupAttributes`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    /// Attribute name, e.g. `idle_timeout.timeout_seconds`.
    pub key: String,
    /// Its value; always a string to CloudFormation, whatever it means.
    pub value: Expr,
}

/// Attributes sorted by key, so the rendered list does not depend on the order of the code.
pub fn attributes<K: Into<String>, V: Into<Expr>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Vec<Attribute> {
    let mut list: Vec<Attribute> = pairs
        .into_iter()
        .map(|(k, v)| Attribute {
            key: k.into(),
            value: v.into(),
        })
        .collect();
    list.sort_by(|a, b| a.key.cmp(&b.key));
    list
}

/// `AWS::ElasticLoadBalancingV2::LoadBalancer`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancer {
    /// `ipv4` or `dualstack`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// Idle timeout, access logs, deletion protection, header handling, …
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_attributes: Vec<Attribute>,
    /// Physical name (create-only); unset lets CloudFormation generate one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Expr>,
    /// `internet-facing` or `internal` (create-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Security group ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<Expr>,
    /// Subnet ids, as a list expression (`Expr::List` or `Fn::Split` of an import).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Expr>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// `application`, `network` or `gateway` (create-only).
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}
impl ResourceProperties for LoadBalancer {
    const TYPE: &'static str = "AWS::ElasticLoadBalancingV2::LoadBalancer";
}

/// What a target group's targets are addressed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    /// EC2 instance ids (registered by an Auto Scaling group).
    Instance,
    /// IP addresses.
    Ip,
    /// One Lambda function.
    Lambda,
    /// An application load balancer (behind a network load balancer).
    Alb,
}

/// `Matcher` of a target group: the responses a health check accepts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Matcher {
    /// gRPC codes, for gRPC target groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_code: Option<String>,
    /// HTTP codes, e.g. `200` or `200-299`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_code: Option<String>,
}

/// `AWS::ElasticLoadBalancingV2::TargetGroup`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroup {
    /// Whether health checks run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_enabled: Option<bool>,
    /// Seconds between checks of one target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_interval_seconds: Option<u32>,
    /// Path requested by the health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_path: Option<String>,
    /// Port of the health check; `traffic-port` is the target's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_port: Option<String>,
    /// Protocol of the health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_protocol: Option<String>,
    /// Seconds without a response before a check fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_timeout_seconds: Option<u32>,
    /// Consecutive passes before an unhealthy target is healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_threshold_count: Option<u32>,
    /// Responses that count as a pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matcher: Option<Matcher>,
    /// Physical name (create-only, at most 32 characters); unset lets CloudFormation name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Expr>,
    /// Port targets receive traffic on (create-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `HTTP`, `HTTPS`, … (create-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `HTTP1`, `HTTP2` or `GRPC` (create-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Deregistration delay, load balancing algorithm, stickiness, …
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_group_attributes: Vec<Attribute>,
    /// How targets are addressed (create-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,
    /// Consecutive failures before a healthy target is unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold_count: Option<u32>,
    /// The VPC of the targets (create-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<Expr>,
}
impl ResourceProperties for TargetGroup {
    const TYPE: &'static str = "AWS::ElasticLoadBalancingV2::TargetGroup";
}

/// The kind of a listener or rule action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionType {
    /// Send to one or more target groups.
    Forward,
    /// Answer with a redirect.
    Redirect,
    /// Answer with a fixed status and body.
    FixedResponse,
}

/// One target group of a `ForwardConfig`, with its share of traffic.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupTuple {
    /// Target group ARN.
    pub target_group_arn: Expr,
    /// Relative weight (0-999).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// `TargetGroupStickinessConfig` of a weighted forward.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupStickinessConfig {
    /// How long, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    /// Keep a client on the target group it first reached.
    pub enabled: bool,
}

/// `ForwardConfig`: a forward to several weighted target groups.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForwardConfig {
    /// Stickiness across the target groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_stickiness_config: Option<TargetGroupStickinessConfig>,
    /// The target groups and weights.
    pub target_groups: Vec<TargetGroupTuple>,
}

/// `RedirectConfig`. Unset parts keep the request's own (`#{host}`, `#{path}`, …).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RedirectConfig {
    /// Host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Absolute path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Port, as a string (`443` or `#{port}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// `HTTP`, `HTTPS` or `#{protocol}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Query string, without the `?`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// `HTTP_301` (permanent) or `HTTP_302` (temporary).
    pub status_code: String,
}

/// `FixedResponseConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FixedResponseConfig {
    /// `text/plain`, `text/html`, `application/json`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Response body (at most 1024 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_body: Option<String>,
    /// HTTP status code, as a string.
    pub status_code: String,
}

/// An action of a listener (`DefaultActions`) or rule (`Actions`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Action {
    /// A fixed response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_response_config: Option<FixedResponseConfig>,
    /// A weighted forward.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_config: Option<ForwardConfig>,
    /// Order among the actions of one listener or rule (1 first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    /// A redirect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_config: Option<RedirectConfig>,
    /// The single target group of a plain forward.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<Expr>,
    /// What the action does.
    #[serde(rename = "Type")]
    pub kind: ActionType,
}

impl Action {
    /// An action of a kind with nothing configured yet.
    fn of_kind(kind: ActionType) -> Self {
        Action {
            kind,
            order: None,
            target_group_arn: None,
            forward_config: None,
            redirect_config: None,
            fixed_response_config: None,
        }
    }

    /// Forward everything to one target group.
    pub fn forward(target_group_arn: Expr) -> Self {
        Action {
            target_group_arn: Some(target_group_arn),
            ..Action::of_kind(ActionType::Forward)
        }
    }

    /// Forward to weighted target groups (blue/green switching).
    pub fn forward_weighted(target_groups: Vec<TargetGroupTuple>) -> Self {
        Action {
            forward_config: Some(ForwardConfig {
                target_groups,
                target_group_stickiness_config: None,
            }),
            ..Action::of_kind(ActionType::Forward)
        }
    }

    /// Answers every request itself with `status` and a short plain-text body.
    pub fn fixed_response(status: u16, body: &str) -> Self {
        Action {
            fixed_response_config: Some(FixedResponseConfig {
                status_code: status.to_string(),
                content_type: Some("text/plain".into()),
                message_body: Some(body.to_owned()),
            }),
            ..Action::of_kind(ActionType::FixedResponse)
        }
    }

    /// A permanent redirect of the same host, path and query to HTTPS on port 443.
    pub fn redirect_to_https() -> Self {
        Action {
            redirect_config: Some(RedirectConfig {
                protocol: Some("HTTPS".into()),
                port: Some("443".into()),
                host: Some("#{host}".into()),
                path: Some("/#{path}".into()),
                query: Some("#{query}".into()),
                status_code: "HTTP_301".into(),
            }),
            ..Action::of_kind(ActionType::Redirect)
        }
    }
}

/// A certificate of an HTTPS listener.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Certificate {
    /// ACM certificate ARN.
    pub certificate_arn: Expr,
}

/// `AWS::ElasticLoadBalancingV2::Listener`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Listener {
    /// The default certificate (exactly one) of an HTTPS listener.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Certificate>,
    /// What happens to requests no rule matches.
    pub default_actions: Vec<Action>,
    /// The load balancer (create-only).
    pub load_balancer_arn: Expr,
    /// Port listened on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `HTTP` or `HTTPS` for an application load balancer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// TLS negotiation policy of an HTTPS listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
}
impl ResourceProperties for Listener {
    const TYPE: &'static str = "AWS::ElasticLoadBalancingV2::Listener";
}

/// `Values` of a typed rule condition.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConditionValues {
    /// Patterns, any of which matches (`*` and `?` wildcards).
    pub values: Vec<String>,
}

/// A condition of a listener rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleCondition {
    /// `path-pattern`, `host-header`, `http-request-method`, `source-ip`, …
    pub field: String,
    /// Host names, for `host-header`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_header_config: Option<ConditionValues>,
    /// A header and its accepted values, for `http-header`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_header_config: Option<HttpHeaderConfig>,
    /// Methods, for `http-request-method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request_method_config: Option<ConditionValues>,
    /// Paths, for `path-pattern`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_pattern_config: Option<ConditionValues>,
    /// CIDR ranges, for `source-ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip_config: Option<ConditionValues>,
}

/// `HttpHeaderConfig` of an `http-header` condition.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpHeaderConfig {
    /// The header's name.
    pub http_header_name: String,
    /// Values, any of which matches (case-insensitive, `*` and `?` wildcards).
    pub values: Vec<Expr>,
}

impl RuleCondition {
    fn values(patterns: &[&str]) -> Option<ConditionValues> {
        Some(ConditionValues {
            values: patterns.iter().map(|p| (*p).to_owned()).collect(),
        })
    }

    /// Matches request paths (`/beta*`).
    pub fn path_pattern(patterns: &[&str]) -> Self {
        RuleCondition {
            field: "path-pattern".into(),
            path_pattern_config: Self::values(patterns),
            ..Default::default()
        }
    }

    /// Matches one header against any of `values`.
    pub fn http_header(name: &str, values: Vec<Expr>) -> Self {
        RuleCondition {
            field: "http-header".into(),
            http_header_config: Some(HttpHeaderConfig {
                http_header_name: name.to_owned(),
                values,
            }),
            ..Default::default()
        }
    }

    /// Matches the `Host` header.
    pub fn host_header(hosts: &[&str]) -> Self {
        RuleCondition {
            field: "host-header".into(),
            host_header_config: Self::values(hosts),
            ..Default::default()
        }
    }
}

/// `AWS::ElasticLoadBalancingV2::ListenerRule`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListenerRule {
    /// What happens to matching requests.
    pub actions: Vec<Action>,
    /// All must match.
    pub conditions: Vec<RuleCondition>,
    /// The listener (create-only).
    pub listener_arn: Expr,
    /// Evaluation order, lowest first (1-50000, unique per listener).
    pub priority: u32,
}
impl ResourceProperties for ListenerRule {
    const TYPE: &'static str = "AWS::ElasticLoadBalancingV2::ListenerRule";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_are_key_value_pairs_sorted_by_key() {
        let v = serde_json::to_value(attributes([
            ("idle_timeout.timeout_seconds", "60"),
            ("deletion_protection.enabled", "true"),
        ]))
        .unwrap();
        assert_eq!(
            v,
            json!([
                {"Key": "deletion_protection.enabled", "Value": "true"},
                {"Key": "idle_timeout.timeout_seconds", "Value": "60"}
            ])
        );
    }

    #[test]
    fn redirect_action_keeps_host_path_and_query() {
        let v = serde_json::to_value(Action::redirect_to_https()).unwrap();
        assert_eq!(
            v,
            json!({
                "Type": "redirect",
                "RedirectConfig": {
                    "Protocol": "HTTPS", "Port": "443", "Host": "#{host}",
                    "Path": "/#{path}", "Query": "#{query}", "StatusCode": "HTTP_301"
                }
            })
        );
    }

    #[test]
    fn plain_forward_names_only_its_target_group() {
        let v = serde_json::to_value(Action::forward(Expr::Ref("Tg".into()))).unwrap();
        assert_eq!(
            v,
            json!({"Type": "forward", "TargetGroupArn": {"Ref": "Tg"}})
        );
    }

    #[test]
    fn weighted_forward_uses_forward_config() {
        let v = serde_json::to_value(Action::forward_weighted(vec![TargetGroupTuple {
            target_group_arn: Expr::Ref("Blue".into()),
            weight: Some(100),
        }]))
        .unwrap();
        assert_eq!(
            v,
            json!({"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": {"Ref": "Blue"}, "Weight": 100}
            ]}})
        );
    }

    #[test]
    fn target_group_type_and_matcher_use_cloudformation_spelling() {
        let v = serde_json::to_value(TargetGroup {
            target_type: Some(TargetType::Instance),
            matcher: Some(Matcher {
                http_code: Some("200".into()),
                grpc_code: None,
            }),
            health_check_port: Some("traffic-port".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            v,
            json!({"TargetType": "instance", "Matcher": {"HttpCode": "200"}, "HealthCheckPort": "traffic-port"})
        );
    }

    #[test]
    fn load_balancer_type_and_subnet_list_expression() {
        let v = serde_json::to_value(LoadBalancer {
            kind: Some("application".into()),
            subnets: Some(Expr::split(",", Expr::import("subnets"))),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v["Type"], "application");
        assert_eq!(
            v["Subnets"],
            json!({"Fn::Split": [",", {"Fn::ImportValue": "subnets"}]})
        );
    }

    #[test]
    fn rule_condition_carries_its_typed_config() {
        let v = serde_json::to_value(ListenerRule {
            listener_arn: Expr::Ref("Https".into()),
            priority: 101,
            conditions: vec![RuleCondition::path_pattern(&["/beta*"])],
            actions: vec![Action::forward(Expr::Ref("Beta".into()))],
        })
        .unwrap();
        assert_eq!(
            v["Conditions"],
            json!([{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/beta*"]}}])
        );
        assert_eq!(v["Priority"], 101);
    }
}
