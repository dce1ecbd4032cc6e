//! The load balancer's listener: HTTPS only (CloudFront talks to its origin over HTTPS and
//! nothing else may reach port 80), a fixed 403 by default, and one rule forwarding requests
//! that carry the origin secret (see `origin`) to the live colour's target group. That rule is
//! the live route the release commands modify to move traffic.

use crate::model::elbv2::{Certificate, Listener, ListenerRule, RuleCondition};
use crate::model::{Expr, LogicalId, Template};

use super::super::{Ctx, origin};
use super::{SSL_POLICY, ids};

/// Adds the HTTPS listener and its origin rule forwarding to `live_target_group`; returns the
/// listener and the rule.
pub(super) fn add_listeners(
    ctx: &Ctx<'_>,
    t: &mut Template,
    load_balancer: &LogicalId,
    live_target_group: Expr,
) -> (LogicalId, LogicalId) {
    let domain = &ctx.env.file.domain;
    let certificate = domain
        .alb_certificate_arn
        .as_deref()
        .unwrap_or(&domain.certificate_arn);
    let https = LogicalId::new(ids::HTTPS_LISTENER);
    t.add(
        &https,
        Listener {
            load_balancer_arn: Expr::reference(load_balancer),
            port: Some(443),
            protocol: Some("HTTPS".into()),
            ssl_policy: Some(SSL_POLICY.into()),
            certificates: vec![Certificate {
                certificate_arn: certificate.into(),
            }],
            default_actions: vec![origin::unverified_action()],
        },
    );
    let rule = LogicalId::new(ids::ORIGIN_RULE);
    t.add(
        &rule,
        ListenerRule {
            listener_arn: Expr::reference(&https),
            priority: origin::RULE_PRIORITY,
            conditions: vec![RuleCondition::http_header(
                origin::HEADER,
                origin::accepted_values(ctx),
            )],
            actions: vec![origin::verified_action(live_target_group)],
        },
    );
    (https, rule)
}
