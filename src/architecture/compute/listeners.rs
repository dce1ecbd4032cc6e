//! The load balancer's listener: HTTPS only (CloudFront talks to its origin over HTTPS and
//! nothing else may reach port 80), a fixed 403 by default, and one rule forwarding requests
//! that carry the origin secret (see `origin`).

use crate::model::elbv2::{Certificate, Listener, ListenerRule, RuleCondition};
use crate::model::{Expr, LogicalId, Template};

use super::super::{Ctx, origin};
use super::{SSL_POLICY, ids};

/// Adds the HTTPS listener and its origin rule; returns the listener.
pub(super) fn add_listeners(
    ctx: &Ctx<'_>,
    t: &mut Template,
    load_balancer: &LogicalId,
    target_group: &LogicalId,
) -> LogicalId {
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
    t.add(
        &LogicalId::new(ids::ORIGIN_RULE),
        ListenerRule {
            listener_arn: Expr::reference(&https),
            priority: origin::RULE_PRIORITY,
            conditions: vec![RuleCondition::http_header(
                origin::HEADER,
                origin::accepted_values(ctx),
            )],
            actions: vec![origin::verified_action(Expr::reference(target_group))],
        },
    );
    https
}
