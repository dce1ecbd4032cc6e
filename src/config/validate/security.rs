//! Rules for the security settings: no SSH from the whole internet, the origin prefix list and
//! secret versions, the web ACL's sizes and lists, and who hears the alarms and the budget.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{Problems, shapes};
use crate::config::{Alarms, EnvFile, Network, Waf};

/// The `com.amazonaws.global.cloudfront.origin-facing` prefix list of the regions whose id is
/// known; other regions set `network.cloudfront_prefix_list_id`.
const CLOUDFRONT_PREFIX_LISTS: [(&str, &str); 5] = [
    ("us-east-1", "pl-3b927c52"),
    ("us-east-2", "pl-b6a144df"),
    ("us-west-1", "pl-4ea04527"),
    ("us-west-2", "pl-82a045eb"),
    ("eu-west-1", "pl-4fa04526"),
];

/// The AWS managed rule groups an env may add (the baseline and IP reputation groups, which
/// are free of extra charges beyond WAF's per-rule price).
pub const MANAGED_RULE_GROUPS: &[&str] = &[
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
];

/// WAF's bounds on a rate-based rule's limit.
const RATE_LIMIT_RANGE: (u32, u32) = (10, 2_000_000_000);
/// Addresses one WAF IP set may hold.
const MAX_IP_SET_ADDRESSES: usize = 10_000;

/// The origin-facing prefix list of a region, from the env or the table.
pub fn cloudfront_prefix_list(file: &EnvFile) -> Option<&str> {
    file.network
        .cloudfront_prefix_list_id
        .as_deref()
        .or_else(|| {
            CLOUDFRONT_PREFIX_LISTS
                .iter()
                .find(|(region, _)| *region == file.region)
                .map(|(_, id)| *id)
        })
}

/// SSH from everywhere is what a scanner finds first; an admin range must be a real range.
pub(super) fn check_ssh(n: &Network, p: &mut Problems) {
    for (i, text) in n.admin_cidrs.iter().enumerate() {
        if let Ok(net) = text.parse::<IpNet>()
            && net.prefix_len() == 0
        {
            p.add(
                format!("network.admin_cidrs[{i}]"),
                format!(
                    "{text} opens SSH to the whole internet; list the admin network's own \
                         range (or none: Session Manager needs no open port)"
                ),
            );
        }
    }
}

pub(super) fn check_origin(file: &EnvFile, p: &mut Problems) {
    let key = "network.cloudfront_prefix_list_id";
    match &file.network.cloudfront_prefix_list_id {
        Some(id) if !is_prefix_list_id(id) => p.add(
            key,
            format!("{id:?} is not a prefix list id such as pl-3b927c52"),
        ),
        // Under a malformed region the region itself is the problem reported.
        None if cloudfront_prefix_list(file).is_none() && shapes::is_region(&file.region) => p.add(
            key,
            format!(
                "required in {}: the id of com.amazonaws.global.cloudfront.origin-facing \
                 (aws ec2 describe-managed-prefix-lists --region {} --filters \
                 Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing)",
                file.region, file.region
            ),
        ),
        _ => {}
    }
    let e = &file.edge;
    for (key, version) in [
        ("edge.origin_secret_version", &e.origin_secret_version),
        (
            "edge.origin_previous_secret_version",
            &e.origin_previous_secret_version,
        ),
    ] {
        if let Some(v) = version
            && !is_version_id(v)
        {
            p.add(
                key,
                format!(
                    "{v:?} is not a Secrets Manager version id (32 to 64 letters, digits \
                         and hyphens, as put-secret-value prints)"
                ),
            );
        }
    }
    match (&e.origin_secret_version, &e.origin_previous_secret_version) {
        (None, Some(_)) => p.add(
            "edge.origin_previous_secret_version",
            "needs edge.origin_secret_version: name the new version CloudFront sends, and keep \
             the old one here until the distribution has deployed",
        ),
        (Some(a), Some(b)) if a == b => p.add(
            "edge.origin_previous_secret_version",
            "is the same version as edge.origin_secret_version; remove it",
        ),
        _ => {}
    }
}

fn is_prefix_list_id(s: &str) -> bool {
    s.strip_prefix("pl-").is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn is_version_id(s: &str) -> bool {
    (32..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub(super) fn check_waf(w: &Waf, p: &mut Problems) {
    let (lo, hi) = RATE_LIMIT_RANGE;
    p.range(
        "waf.post_rate_limit",
        w.post_rate_limit,
        lo,
        hi,
        " requests per 5 minutes",
    );
    for (i, text) in w.block_ips.iter().enumerate() {
        let key = format!("waf.block_ips[{i}]");
        match text.parse::<IpNet>() {
            Err(_) => match text.parse::<IpAddr>() {
                Ok(addr) => p.add(
                    key,
                    format!("{text:?} needs a prefix length: {addr}/{}", full_len(addr)),
                ),
                Err(_) => p.add(
                    key,
                    format!("{text:?} is not an IPv4 or IPv6 CIDR such as 192.0.2.0/24"),
                ),
            },
            Ok(net) if net.trunc() != net => p.add(
                key,
                format!("{text} has host bits set; did you mean {}?", net.trunc()),
            ),
            Ok(net) if net.prefix_len() == 0 => p.add(
                key,
                format!("{text} would block everyone; list the abusive ranges only"),
            ),
            Ok(_) => {}
        }
    }
    p.unique("waf.block_ips", &w.block_ips, true);
    let v4 = w.block_ips.iter().filter(|ip| !ip.contains(':')).count();
    if v4.max(w.block_ips.len() - v4) > MAX_IP_SET_ADDRESSES {
        p.add(
            "waf.block_ips",
            format!("at most {MAX_IP_SET_ADDRESSES} ranges per IP version fit in one IP set"),
        );
    }
    for (i, group) in w.managed_rule_groups.iter().enumerate() {
        if !MANAGED_RULE_GROUPS.contains(&group.as_str()) {
            p.add(
                format!("waf.managed_rule_groups[{i}]"),
                format!(
                    "{group:?} is not a supported AWS managed rule group; use one of {}",
                    MANAGED_RULE_GROUPS.join(", ")
                ),
            );
        }
    }
    p.unique("waf.managed_rule_groups", &w.managed_rule_groups, false);
    if w.blocked_requests_alarm == 0 {
        p.add(
            "waf.blocked_requests_alarm",
            "must be at least 1 (blocked requests per 5 minutes); a WAF always blocks some",
        );
    }
}

fn full_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

pub(super) fn check_paging_and_budget(a: &Alarms, p: &mut Problems) {
    match (a.emails.is_empty(), a.nobody_paged) {
        (true, false) => p.add(
            "alarms.emails",
            "no one hears this env's alarms: list at least one address, or set \
             nobody_paged = true to say so on purpose",
        ),
        (false, true) => p.add(
            "alarms.nobody_paged",
            "contradicts alarms.emails, which pages someone; remove one of them",
        ),
        _ => {}
    }
    if !(a.monthly_budget_usd >= 1.0 && a.monthly_budget_usd <= 1_000_000.0) {
        p.add(
            "alarms.monthly_budget_usd",
            format!(
                "{} is out of range: allowed 1 to 1000000 USD a month",
                a.monthly_budget_usd
            ),
        );
    }
}
