//! The web ACL in front of the distribution (CLOUDFRONT scope, so it lives in us-east-1 with
//! the edge stack), in the live site's rule order (reference §1.2): addresses the env file
//! bans, a POST rate limit per address (answered 429), a Host allow-list built from the env's
//! aliases (bogus Host headers cause origin TLS 502s that page the 5xx alarm), then the AWS
//! managed rule groups the env picks.

use std::collections::BTreeMap;

use crate::model::wafv2::{
    Block, CustomResponse, CustomResponseBody, DefaultAction, Empty, FieldToMatch,
    IpAddressVersion, IpSet, IpSetReference, ManagedRuleGroup, OverrideAction, RateBased,
    ResponseHeader, Rule, RuleAction, Scope, SingleHeader, Statement, VisibilityConfig, WebAcl,
};
use crate::model::{Expr, LogicalId, Template};

use super::Ctx;

/// Logical id of the web ACL.
pub const WEB_ACL: &str = "WebAcl";
/// Seconds over which the POST rate limit counts (the live site's five minutes).
pub const RATE_WINDOW_SECONDS: u32 = 300;
/// Key of the 429 body in the ACL's custom response bodies.
const RATE_LIMITED_BODY: &str = "rate-limited";
/// Priority of the first managed rule group, after the tool's own rules.
const FIRST_MANAGED_PRIORITY: u32 = 10;

/// The web ACL's name, which is also its metric name (the `WebACL` dimension).
pub fn web_acl_name(ctx: &Ctx<'_>) -> String {
    ctx.resource_name("web")
}

/// Whether the env's edge stack can hold a CLOUDFRONT-scope web ACL: only in us-east-1.
pub fn available(ctx: &Ctx<'_>) -> bool {
    ctx.env.file.region == "us-east-1"
}

/// Adds the IP sets and the web ACL; returns the ACL.
pub(super) fn add_web_acl(ctx: &Ctx<'_>, t: &mut Template) -> LogicalId {
    let waf = &ctx.env.file.waf;
    let metric = |rule: &str| VisibilityConfig::on(&format!("{}-{rule}", web_acl_name(ctx)));
    let mut rules = Vec::new();
    for (priority, (id, version, slug)) in [
        ("BlockedIpv4Set", IpAddressVersion::Ipv4, "deny-ipv4"),
        ("BlockedIpv6Set", IpAddressVersion::Ipv6, "deny-ipv6"),
    ]
    .into_iter()
    .enumerate()
    {
        let set = LogicalId::new(id);
        let v6 = version == IpAddressVersion::Ipv6;
        t.add(
            &set,
            IpSet {
                name: ctx.resource_name(slug),
                description: Some("Address ranges the env file bans".into()),
                scope: Scope::Cloudfront,
                ip_address_version: version,
                addresses: waf
                    .block_ips
                    .iter()
                    .filter(|ip| ip.contains(':') == v6)
                    .cloned()
                    .collect(),
                tags: ctx.tags(slug),
            },
        );
        rules.push(Rule {
            name: slug.into(),
            priority: priority as u32,
            statement: Statement::IpSetReference(IpSetReference {
                arn: Expr::get_att(&set, "Arn"),
            }),
            action: Some(RuleAction::Block(Block::default())),
            override_action: None,
            visibility_config: metric(slug),
        });
    }
    rules.push(Rule {
        name: "rate-limit-post".into(),
        priority: 2,
        statement: Statement::RateBasedStatement(Box::new(RateBased {
            limit: waf.post_rate_limit,
            aggregate_key_type: "IP".into(),
            evaluation_window_sec: RATE_WINDOW_SECONDS,
            scope_down_statement: Some(Statement::byte_match(
                FieldToMatch::Method(Empty {}),
                "EXACTLY",
                "POST",
                "NONE",
            )),
        })),
        action: Some(RuleAction::Block(Block {
            custom_response: Some(CustomResponse {
                response_code: 429,
                custom_response_body_key: Some(RATE_LIMITED_BODY.into()),
                // WAF sends it as x-amzn-waf-Retry-After.
                response_headers: vec![ResponseHeader {
                    name: "Retry-After".into(),
                    value: RATE_WINDOW_SECONDS.to_string(),
                }],
            }),
        })),
        override_action: None,
        visibility_config: metric("rate-limit-post"),
    });
    rules.push(Rule {
        name: "deny-bogus-host".into(),
        priority: 3,
        statement: Statement::negate(Statement::any_of(
            ctx.env
                .file
                .domain
                .aliases
                .iter()
                .map(|alias| host_matches(alias))
                .collect(),
        )),
        action: Some(RuleAction::Block(Block::default())),
        override_action: None,
        visibility_config: metric("deny-bogus-host"),
    });
    for (i, group) in waf.managed_rule_groups.iter().enumerate() {
        rules.push(Rule {
            name: group.clone(),
            priority: FIRST_MANAGED_PRIORITY + i as u32,
            statement: Statement::ManagedRuleGroupStatement(ManagedRuleGroup {
                vendor_name: "AWS".into(),
                name: group.clone(),
            }),
            action: None,
            override_action: Some(OverrideAction::None(Empty {})),
            visibility_config: metric(group),
        });
    }

    let acl = LogicalId::new(WEB_ACL);
    t.add(
        &acl,
        WebAcl {
            name: web_acl_name(ctx),
            description: Some(format!("ce {} distribution", ctx.env_name())),
            scope: Scope::Cloudfront,
            default_action: DefaultAction::Allow(Empty {}),
            rules,
            custom_response_bodies: BTreeMap::from([(
                RATE_LIMITED_BODY.to_owned(),
                CustomResponseBody {
                    content_type: "TEXT_PLAIN".into(),
                    content: "Too many requests from your address; try again in five minutes.\n"
                        .into(),
                },
            )]),
            visibility_config: VisibilityConfig::on(&web_acl_name(ctx)),
            tags: ctx.tags("web"),
        },
    );
    acl
}

/// The Host header is the alias (lowercased), or for `*.example.org` any name under it.
fn host_matches(alias: &str) -> Statement {
    let host = || {
        FieldToMatch::SingleHeader(SingleHeader {
            name: "host".into(),
        })
    };
    let alias = alias.to_ascii_lowercase();
    match alias.strip_prefix('*') {
        Some(suffix) => Statement::byte_match(host(), "ENDS_WITH", suffix, "LOWERCASE"),
        None => Statement::byte_match(host(), "EXACTLY", &alias, "LOWERCASE"),
    }
}
