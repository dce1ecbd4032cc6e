//! `AWS::WAFv2::*` resource types: the web ACL in front of the distribution and the IP sets it
//! blocks.
//!
//! Statements are an enum whose serde form is WAF's own (`{"IPSetReferenceStatement": {...}}`),
//! so only the statement kinds the architecture uses can be written, each with its required
//! fields.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Expr, ResourceProperties, Tag};

/// Where a web ACL or IP set is used: `CLOUDFRONT` (created in us-east-1) or `REGIONAL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Scope {
    /// Attached to CloudFront distributions.
    Cloudfront,
    /// Attached to regional resources (load balancers, API gateways).
    Regional,
}

/// IP version of an IP set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IpAddressVersion {
    /// IPv4 ranges.
    Ipv4,
    /// IPv6 ranges.
    Ipv6,
}

/// `AWS::WAFv2::IPSet`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpSet {
    /// CIDR ranges; may be empty.
    pub addresses: Vec<String>,
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// IPv4 or IPv6 (create-only).
    #[serde(rename = "IPAddressVersion")]
    pub ip_address_version: IpAddressVersion,
    /// Name, unique per scope and region.
    pub name: String,
    /// Where it is used (create-only).
    pub scope: Scope,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
impl ResourceProperties for IpSet {
    const TYPE: &'static str = "AWS::WAFv2::IPSet";
}

/// `AWS::WAFv2::WebACL`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebAcl {
    /// Bodies custom responses refer to by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_response_bodies: BTreeMap<String, CustomResponseBody>,
    /// What happens to requests no rule decides.
    pub default_action: DefaultAction,
    /// What it protects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Name, unique per scope and region (create-only).
    pub name: String,
    /// The rules, evaluated by ascending priority.
    pub rules: Vec<Rule>,
    /// Where it is used (create-only).
    pub scope: Scope,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Metrics and sampling of the whole ACL.
    pub visibility_config: VisibilityConfig,
}
impl ResourceProperties for WebAcl {
    const TYPE: &'static str = "AWS::WAFv2::WebACL";
}

/// An empty JSON object: WAF's way of choosing an option without settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// `DefaultAction` of a web ACL.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum DefaultAction {
    /// Let the request through.
    Allow(Empty),
    /// Block it.
    Block(Empty),
}

/// `VisibilityConfig`: CloudWatch metrics and sampled requests under `metric_name`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VisibilityConfig {
    /// Publish metrics.
    pub cloud_watch_metrics_enabled: bool,
    /// The `Rule` (or `WebACL`) dimension of the metrics.
    pub metric_name: String,
    /// Keep samples of matching requests.
    pub sampled_requests_enabled: bool,
}

impl VisibilityConfig {
    /// Metrics and samples on, under `name`.
    pub fn on(name: &str) -> Self {
        VisibilityConfig {
            sampled_requests_enabled: true,
            cloud_watch_metrics_enabled: true,
            metric_name: name.to_owned(),
        }
    }
}

/// One rule of a web ACL.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    /// What happens to matches (own rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<RuleAction>,
    /// Name, unique in the ACL.
    pub name: String,
    /// Keep a rule group's own actions (rule group references).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_action: Option<OverrideAction>,
    /// Evaluation order, lowest first.
    pub priority: u32,
    /// What the rule matches.
    pub statement: Statement,
    /// Its metrics.
    pub visibility_config: VisibilityConfig,
}

/// `Action` of an own rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum RuleAction {
    /// Block, optionally with a custom response.
    Block(Block),
    /// Count only.
    Count(Empty),
}

/// `OverrideAction` of a rule group reference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum OverrideAction {
    /// Use the group's own actions.
    None(Empty),
    /// Count only.
    Count(Empty),
}

/// `Block` of a rule action.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Block {
    /// Answer with this instead of a plain 403.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_response: Option<CustomResponse>,
}

/// `CustomResponse` of a block.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResponse {
    /// Key into the ACL's `CustomResponseBodies`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_response_body_key: Option<String>,
    /// HTTP status.
    pub response_code: u16,
    /// Extra headers (WAF prefixes their names with `x-amzn-waf-`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_headers: Vec<ResponseHeader>,
}

/// One header of a custom response.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResponseHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// A body of `CustomResponseBodies`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResponseBody {
    /// The body.
    pub content: String,
    /// `TEXT_PLAIN`, `TEXT_HTML` or `APPLICATION_JSON`.
    pub content_type: String,
}

/// The statement kinds the architecture uses.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Statement {
    /// The source address is in an IP set.
    #[serde(rename = "IPSetReferenceStatement")]
    IpSetReference(IpSetReference),
    /// More requests per source address than a limit, within a window.
    RateBasedStatement(Box<RateBased>),
    /// A part of the request matches a string.
    ByteMatchStatement(ByteMatch),
    /// Any of the statements matches.
    OrStatement(Statements),
    /// The statement does not match.
    NotStatement(Box<Not>),
    /// An AWS (or marketplace) managed rule group.
    ManagedRuleGroupStatement(ManagedRuleGroup),
}

/// `IPSetReferenceStatement`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpSetReference {
    /// The IP set's ARN.
    pub arn: Expr,
}

/// `RateBasedStatement`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RateBased {
    /// `IP`: count per source address.
    pub aggregate_key_type: String,
    /// The window in seconds (60, 120, 300 or 600).
    pub evaluation_window_sec: u32,
    /// Requests allowed per source address within the window.
    pub limit: u32,
    /// Only requests matching this count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope_down_statement: Option<Statement>,
}

/// `ByteMatchStatement`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ByteMatch {
    /// Which part of the request.
    pub field_to_match: FieldToMatch,
    /// `EXACTLY`, `STARTS_WITH`, `ENDS_WITH`, `CONTAINS`, `CONTAINS_WORD`.
    pub positional_constraint: String,
    /// What to look for.
    pub search_string: String,
    /// Applied to the request part before matching.
    pub text_transformations: Vec<TextTransformation>,
}

/// `FieldToMatch`: the request method or one header.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FieldToMatch {
    /// The HTTP method.
    Method(Empty),
    /// One header, by name.
    SingleHeader(SingleHeader),
}

/// `SingleHeader` of a field to match.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SingleHeader {
    /// Header name, lowercase.
    pub name: String,
}

/// One text transformation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TextTransformation {
    /// Order among the transformations.
    pub priority: u32,
    /// `NONE`, `LOWERCASE`, …
    #[serde(rename = "Type")]
    pub kind: String,
}

/// A list of statements (`OrStatement`, `AndStatement`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statements {
    /// At least two.
    pub statements: Vec<Statement>,
}

/// `NotStatement`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Not {
    /// The negated statement.
    pub statement: Statement,
}

/// `ManagedRuleGroupStatement`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedRuleGroup {
    /// The group, e.g. `AWSManagedRulesCommonRuleSet`.
    pub name: String,
    /// `AWS` for AWS's own groups.
    pub vendor_name: String,
}

impl Statement {
    /// Matches a part of the request exactly or by position, after one transformation.
    pub fn byte_match(field: FieldToMatch, constraint: &str, text: &str, transform: &str) -> Self {
        Statement::ByteMatchStatement(ByteMatch {
            field_to_match: field,
            positional_constraint: constraint.to_owned(),
            search_string: text.to_owned(),
            text_transformations: vec![TextTransformation {
                priority: 0,
                kind: transform.to_owned(),
            }],
        })
    }

    /// Any of `statements`; a single statement stands for itself (WAF wants two or more).
    pub fn any_of(mut statements: Vec<Statement>) -> Self {
        if statements.len() == 1 {
            statements.remove(0)
        } else {
            Statement::OrStatement(Statements { statements })
        }
    }

    /// The negation of `statement`.
    pub fn negate(statement: Statement) -> Self {
        Statement::NotStatement(Box::new(Not { statement }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statements_serialise_in_wafs_own_shape() {
        let s = Statement::negate(Statement::any_of(vec![
            Statement::byte_match(
                FieldToMatch::SingleHeader(SingleHeader {
                    name: "host".into(),
                }),
                "EXACTLY",
                "godbolt.org",
                "LOWERCASE",
            ),
            Statement::IpSetReference(IpSetReference {
                arn: Expr::get_att(&crate::model::LogicalId::new("Set"), "Arn"),
            }),
        ]));
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            json!({"NotStatement": {"Statement": {"OrStatement": {"Statements": [
                {"ByteMatchStatement": {
                    "FieldToMatch": {"SingleHeader": {"Name": "host"}},
                    "PositionalConstraint": "EXACTLY",
                    "SearchString": "godbolt.org",
                    "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}]
                }},
                {"IPSetReferenceStatement": {"Arn": {"Fn::GetAtt": ["Set", "Arn"]}}}
            ]}}}})
        );
    }

    #[test]
    fn a_single_alternative_is_not_wrapped_in_an_or() {
        let one = Statement::byte_match(FieldToMatch::Method(Empty {}), "EXACTLY", "POST", "NONE");
        assert_eq!(Statement::any_of(vec![one.clone()]), one);
        assert_eq!(
            serde_json::to_value(DefaultAction::Allow(Empty {})).unwrap(),
            json!({"Allow": {}})
        );
    }
}
