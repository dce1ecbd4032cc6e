//! The tool's rules for env files, beyond what the types enforce.
//!
//! A bad config is one of the outages this tool exists to prevent, so every value that AWS
//! would reject (or accept and regret) is checked offline. Each rule adds `(key path, message)`
//! pairs; the loader turns them into [`Problem`]s with the line of the key, and all of them
//! are reported at once. Messages say what is allowed, not just what is wrong.

mod compute;
mod security;

pub use security::{MANAGED_RULE_GROUPS, cloudfront_prefix_list};
mod shapes;
mod storage;

use std::collections::BTreeSet;
use std::fmt;

use ipnet::Ipv4Net;

use super::{Alarms, EnvFile, EnvName};

/// One problem in an env file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// 1-based line of the key (or of its table when the key is missing).
    pub line: usize,
    /// Dotted key path, e.g. `compute.min_size`.
    pub key: String,
    /// What is wrong and, where it helps, what is allowed.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file, self.line, self.key, self.message
            )
        }
    }
}

/// The region CloudFront takes its certificates from.
const CLOUDFRONT_CERT_REGION: &str = "us-east-1";
/// Tags the tool puts on everything itself.
const RESERVED_TAGS: &[&str] = &["Name", "Environment"];
/// User tags allowed, leaving room under AWS's 50 for the tool's and CloudFormation's own.
const MAX_USER_TAGS: usize = 40;
/// CloudFront's `MinimumProtocolVersion` values usable with an SNI certificate (`SSLv3` needs
/// a dedicated-IP one).
const TLS_POLICIES: &[&str] = &[
    "TLSv1",
    "TLSv1_2016",
    "TLSv1.1_2016",
    "TLSv1.2_2018",
    "TLSv1.2_2019",
    "TLSv1.2_2021",
    "TLSv1.2_2025",
    "TLSv1.3_2025",
];
const PRICE_CLASSES: &[&str] = &["PriceClass_All", "PriceClass_200", "PriceClass_100"];

/// Collects problems as `(key, message)`.
#[derive(Default)]
struct Problems(Vec<(String, String)>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push((key.into(), message.into()));
    }

    /// `value` must lie in `lo..=hi`; `unit` follows the numbers in the message.
    fn range(&mut self, key: &str, value: u32, lo: u32, hi: u32, unit: &str) {
        if !(lo..=hi).contains(&value) {
            self.add(
                key,
                format!("{value} is out of range: allowed {lo}..={hi}{unit}"),
            );
        }
    }

    /// `value` must lie in `(0, hi]` (NaN never does).
    fn positive_up_to(&mut self, key: &str, value: f64, hi: f64) {
        if !(value > 0.0 && value <= hi) {
            self.add(
                key,
                format!("{value} is out of range: allowed above 0 and at most {hi}"),
            );
        }
    }

    /// No value may appear twice (compared as written, or lowercased with `fold`).
    fn unique<'a>(&mut self, key: &str, values: impl IntoIterator<Item = &'a String>, fold: bool) {
        let mut seen = BTreeSet::new();
        for (i, v) in values.into_iter().enumerate() {
            let v = if fold { v.to_lowercase() } else { v.clone() };
            if !seen.insert(v.clone()) {
                self.add(format!("{key}[{i}]"), format!("{v:?} is listed twice"));
            }
        }
    }
}

/// Every rule, over a parsed env file.
pub fn check(name: &EnvName, file: &EnvFile) -> Vec<(String, String)> {
    let mut p = Problems::default();
    check_names(name, &mut p);
    check_account(file, &mut p);
    check_tags(file, &mut p);
    check_network(file, &mut p);
    check_domain(file, &mut p);
    compute::check_compute(&file.compute, &mut p);
    compute::check_spot_and_health(&file.compute, &mut p);
    storage::check_storage(&file.storage, &mut p);
    check_edge(file, &mut p);
    check_alarms(&file.alarms, &mut p);
    security::check_ssh(&file.network, &mut p);
    security::check_origin(file, &mut p);
    security::check_waf(&file.waf, &mut p);
    security::check_paging_and_budget(&file.alarms, &mut p);
    p.0
}

/// Names built from the env name must fit AWS's limits (`EnvName` keeps them short; this
/// catches a longer limit or suffix added later).
fn check_names(name: &EnvName, p: &mut Problems) {
    let stack = format!("ce-{name}-monitoring");
    if stack.len() > 128 {
        p.add(
            "",
            format!("stack name {stack} is longer than CloudFormation's 128 characters"),
        );
    }
    let target_group = format!("ce-{name}-web");
    if target_group.len() > 32 {
        p.add(
            "",
            format!("target group name {target_group} is longer than 32 characters"),
        );
    }
}

fn check_account(file: &EnvFile, p: &mut Problems) {
    if !shapes::is_region(&file.region) {
        p.add(
            "region",
            format!(
                "{:?} is not an AWS region code such as us-east-1, eu-west-2 or us-gov-west-1",
                file.region
            ),
        );
    }
    if let Some(id) = &file.account_id
        && !shapes::is_account_id(id)
    {
        p.add(
            "account_id",
            format!("{id:?} is not an AWS account id: exactly 12 digits"),
        );
    }
}

fn check_tags(file: &EnvFile, p: &mut Problems) {
    if file.tags.len() > MAX_USER_TAGS {
        p.add(
            "tags",
            format!(
                "{} tags; at most {MAX_USER_TAGS} (the tool adds Name and Environment)",
                file.tags.len()
            ),
        );
    }
    for (k, v) in &file.tags {
        let key = format!("tags.{k}");
        let len = k.chars().count();
        if !(1..=128).contains(&len) {
            p.add(&key, format!("tag key is {len} characters; allowed 1-128"));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            p.add(&key, "tag keys starting with aws: are reserved by AWS");
        }
        if RESERVED_TAGS.contains(&k.as_str()) {
            p.add(&key, format!("{k} is set by the tool; choose another key"));
        }
        if v.chars().count() > 256 {
            p.add(
                &key,
                format!("tag value is {} characters; at most 256", v.chars().count()),
            );
        }
        if !shapes::is_tag_text(k) || !shapes::is_tag_text(v) {
            p.add(
                &key,
                "tags may hold letters, digits, spaces and _ . : / = + - @ only",
            );
        }
    }
}

/// Parses an IPv4 CIDR whose prefix is in `lo..=hi` and which has no host bits set.
fn cidr(key: &str, text: &str, prefixes: Option<(u8, u8)>, p: &mut Problems) -> Option<Ipv4Net> {
    let Ok(net) = text.parse::<Ipv4Net>() else {
        p.add(
            key,
            format!("{text:?} is not an IPv4 CIDR such as 10.0.0.0/16"),
        );
        return None;
    };
    if net.trunc() != net {
        p.add(
            key,
            format!("{text} has host bits set; did you mean {}?", net.trunc()),
        );
    }
    if let Some((lo, hi)) = prefixes
        && !(lo..=hi).contains(&net.prefix_len())
    {
        p.add(
            key,
            format!(
                "prefix /{} is out of range: allowed /{lo} to /{hi}",
                net.prefix_len()
            ),
        );
    }
    Some(net)
}

fn check_network(file: &EnvFile, p: &mut Problems) {
    let n = &file.network;
    let vpc = cidr("network.vpc_cidr", &n.vpc_cidr, Some((16, 28)), p);
    let region_ok = shapes::is_region(&file.region);
    if n.zones.len() < 2 {
        p.add(
            "network.zones",
            "at least two zones are needed (a load balancer spans two or more)",
        );
    }
    let mut subnets: Vec<(usize, Ipv4Net)> = Vec::new();
    for (i, zone) in n.zones.iter().enumerate() {
        let key = format!("network.zones[{i}].cidr");
        if let Some(net) = cidr(&key, &zone.cidr, Some((16, 28)), p) {
            if vpc.is_some_and(|vpc| !vpc.contains(&net)) {
                p.add(&key, format!("{net} is outside the VPC's {}", n.vpc_cidr));
            }
            if let Some((j, _)) = subnets.iter().find(|(_, other)| overlaps(net, *other)) {
                p.add(&key, format!("{net} overlaps network.zones[{j}].cidr"));
            }
            subnets.push((i, net));
        }
        let letter = zone.name.strip_prefix(file.region.as_str());
        // Under a malformed region every zone would be wrong; region is reported instead.
        if region_ok
            && !letter.is_some_and(|l| l.len() == 1 && l.bytes().all(|b| b.is_ascii_lowercase()))
        {
            p.add(
                format!("network.zones[{i}].name"),
                format!(
                    "{:?} is not a zone of {}: use the region and one letter, e.g. {}a",
                    zone.name, file.region, file.region
                ),
            );
        }
    }
    let mut names = BTreeSet::new();
    for (i, zone) in n.zones.iter().enumerate() {
        if !names.insert(&zone.name) {
            p.add(
                format!("network.zones[{i}].name"),
                format!("{:?} is listed twice", zone.name),
            );
        }
    }
    for (i, text) in n.admin_cidrs.iter().enumerate() {
        // The whole internet, of either family, is `security::check_ssh`'s to report.
        if text
            .parse::<ipnet::IpNet>()
            .is_ok_and(|net| net.prefix_len() == 0)
        {
            continue;
        }
        cidr(&format!("network.admin_cidrs[{i}]"), text, None, p);
    }
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn check_domain(file: &EnvFile, p: &mut Problems) {
    let d = &file.domain;
    if d.aliases.is_empty() {
        p.add(
            "domain.aliases",
            "at least one alias is needed: the name the site is served under",
        );
    }
    for (i, alias) in d.aliases.iter().enumerate() {
        if !shapes::is_dns_name(alias) {
            p.add(
                format!("domain.aliases[{i}]"),
                format!(
                    "{alias:?} is not a lowercase DNS name (an optional leading *. is allowed)"
                ),
            );
        }
    }
    p.unique("domain.aliases", &d.aliases, true);
    let key = "domain.certificate_arn";
    match shapes::acm_arn(&d.certificate_arn) {
        None => p.add(
            key,
            "not an ACM certificate ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>)",
        ),
        Some(arn) if arn.region != CLOUDFRONT_CERT_REGION => p.add(
            key,
            format!(
                "the certificate is in {}; CloudFront only uses certificates in us-east-1",
                arn.region
            ),
        ),
        Some(arn) => same_account(file, key, arn.account, p),
    }
    let key = "domain.alb_certificate_arn";
    match &d.alb_certificate_arn {
        Some(text) => match shapes::acm_arn(text) {
            None => p.add(
                key,
                "not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)",
            ),
            Some(arn) if arn.region != file.region => p.add(
                key,
                format!(
                    "the certificate is in {}; the load balancer needs one in the env's region {}",
                    arn.region, file.region
                ),
            ),
            Some(arn) => same_account(file, key, arn.account, p),
        },
        None if file.region != CLOUDFRONT_CERT_REGION && shapes::is_region(&file.region) => p.add(
            key,
            format!(
                "required outside us-east-1: the load balancer needs a certificate in {}",
                file.region
            ),
        ),
        None => {}
    }
}

/// Certificates are only usable from their own account.
fn same_account(file: &EnvFile, key: &str, account: &str, p: &mut Problems) {
    // A malformed account id is reported once, at account_id.
    if let Some(id) = file
        .account_id
        .as_ref()
        .filter(|id| shapes::is_account_id(id))
        && id != account
    {
        p.add(
            key,
            format!("the certificate belongs to account {account}, not the env's {id}"),
        );
    }
}

fn check_edge(file: &EnvFile, p: &mut Problems) {
    let e = &file.edge;
    if !PRICE_CLASSES.contains(&e.price_class.as_str()) {
        p.add(
            "edge.price_class",
            format!(
                "{:?} is not a price class; use one of {}",
                e.price_class,
                PRICE_CLASSES.join(", ")
            ),
        );
    }
    for (i, code) in e.geo_blocklist.iter().enumerate() {
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            p.add(
                format!("edge.geo_blocklist[{i}]"),
                format!(
                    "{code:?} is not a country code: two uppercase letters (ISO 3166-1 alpha-2)"
                ),
            );
        }
    }
    p.unique("edge.geo_blocklist", &e.geo_blocklist, false);
    let tls = e.minimum_protocol_version.as_str();
    if tls == "SSLv3" {
        p.add(
            "edge.minimum_protocol_version",
            "SSLv3 needs a dedicated-IP certificate; the distribution serves SNI, use TLSv1.2_2021",
        );
    } else if !TLS_POLICIES.contains(&tls) {
        p.add(
            "edge.minimum_protocol_version",
            format!(
                "{tls:?} is not a CloudFront security policy; use one of {}",
                TLS_POLICIES.join(", ")
            ),
        );
    }
    if e.default_ttl > e.max_ttl {
        p.add(
            "edge.default_ttl",
            format!(
                "default_ttl {} is above max_ttl {}",
                e.default_ttl, e.max_ttl
            ),
        );
    }
}

fn check_alarms(a: &Alarms, p: &mut Problems) {
    for (i, email) in a.emails.iter().enumerate() {
        if !shapes::is_email(email) {
            p.add(
                format!("alarms.emails[{i}]"),
                format!("{email:?} is not an email address"),
            );
        }
    }
    p.unique("alarms.emails", &a.emails, true);
    p.positive_up_to("alarms.high_5xx_percent", a.high_5xx_percent, 100.0);
    if !(a.latency_p90_seconds > 0.0 && a.latency_p90_seconds.is_finite()) {
        p.add(
            "alarms.latency_p90_seconds",
            format!(
                "{} is out of range: allowed above 0 seconds",
                a.latency_p90_seconds
            ),
        );
    }
    if !(a.efs_burst_credit_gib >= 0.0 && a.efs_burst_credit_gib.is_finite()) {
        p.add(
            "alarms.efs_burst_credit_gib",
            format!(
                "{} is out of range: allowed 0 GiB or more",
                a.efs_burst_credit_gib
            ),
        );
    }
    p.positive_up_to("alarms.efs_io_limit_percent", a.efs_io_limit_percent, 100.0);
}
