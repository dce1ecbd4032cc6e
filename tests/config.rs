//! Env files: every rule names the key and line at fault, all problems come at once, and the
//! loader survives any input without panicking.

use std::path::{Path, PathBuf};

use ce_infra::config::validate::Problem;
use ce_infra::config::{ConfigError, Env, load, load_all, parse};

const FILE: &str = "envs/test.toml";

/// A valid env that sets (nearly) every key, so each test can break exactly one.
const BASE: &str = r#"region = "us-east-1"
account_id = "123456789012"
protected = false

[tags]
Site = "CompilerExplorer"

[network]
vpc_cidr = "10.1.0.0/16"
admin_cidrs = ["203.0.113.0/24"]

[[network.zones]]
name = "us-east-1a"
cidr = "10.1.0.0/24"

[[network.zones]]
name = "us-east-1b"
cidr = "10.1.1.0/24"

[domain]
aliases = ["test.example.com", "*.test.example.com"]
certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/6d1e0c9a-31c5-4be6-9a0e-2f1b8c0d4e71"

[compute]
ami = "ami-0f2092af088f26ebc"
instance_type = "m5.large"
min_size = 1
max_size = 4
health_check_grace_period = 240
cooldown = 180
cpu_target_percent = 50.0
root_volume_gib = 16
deregistration_delay = 20
idle_timeout = 60

[compute.spot]
instance_types = ["m5.large", "m6i.large"]
on_demand_base_capacity = 0
on_demand_percentage_above_base = 0
allocation_strategy = "price-capacity-optimized"

[compute.health_check]
path = "/healthcheck"
interval = 10
timeout = 8
healthy_threshold = 2
unhealthy_threshold = 3

[storage]
efs_throughput_mode = "bursting"
efs_transition_to_ia_days = 14
log_retention_days = 32
noncurrent_version_days = 7
table_billing = "on-demand"

[storage.buckets]
builds = "ce-test-builds"
static = "ce-test-static"
logs = "ce-test-logs"
storage = "ce-test-storage"

[edge]
price_class = "PriceClass_100"
geo_blocklist = ["CU", "KP"]
minimum_protocol_version = "TLSv1.2_2021"
default_ttl = 86400
max_ttl = 31536000

[waf]
post_rate_limit = 12000
block_ips = ["192.0.2.0/24", "2001:db8::/32"]
managed_rule_groups = ["AWSManagedRulesKnownBadInputsRuleSet"]
blocked_requests_alarm = 1000

[alarms]
emails = ["alerts@example.com"]
high_5xx_percent = 5.0
latency_p90_seconds = 6.0
efs_burst_credit_gib = 20.0
efs_io_limit_percent = 90.0
monthly_budget_usd = 500.0
"#;

fn check(text: &str) -> Result<Env, ConfigError> {
    parse(Path::new(FILE), "test", text)
}

fn problems(text: &str) -> Vec<Problem> {
    match check(text) {
        Ok(_) => Vec::new(),
        Err(ConfigError::Invalid(problems)) => problems,
        Err(other) => panic!("expected problems, got {other}"),
    }
}

/// BASE with the first `from` replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    edit_text(BASE, from, to)
}

fn edit_text(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the base has no {from:?}");
    text.replacen(from, to, 1)
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in the text"));
    text[..offset].matches('\n').count() + 1
}

/// Asserts that `text` has exactly one problem, naming `key` on the line holding `at`;
/// returns its message.
fn sole_problem(text: &str, key: &str, at: &str) -> String {
    let found = problems(text);
    assert_eq!(found.len(), 1, "expected one problem, got {found:#?}");
    let p = &found[0];
    assert_eq!(p.file, FILE);
    assert_eq!(p.key, key, "{p}");
    assert_eq!(p.line, line_of(text, at), "{p}");
    p.message.clone()
}

/// Replaces `from` by `to` and asserts the sole problem is at `key`, on the line of `to`
/// that mentions the key's last part.
fn rejects(from: &str, to: &str, key: &str) -> String {
    let text = edit(from, to);
    let last = key.rsplit('.').next().unwrap_or(key);
    let last = last.split('[').next().unwrap_or(last);
    let at = to
        .lines()
        .find(|line| line.contains(last))
        .or_else(|| to.lines().next())
        .unwrap_or(to);
    sole_problem(&text, key, at)
}

fn envs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("envs")
}

// ---- the envs that ship ----

#[test]
fn base_fixture_is_valid() {
    assert_eq!(problems(BASE), Vec::new());
}

#[test]
fn shipped_envs_load_cleanly() {
    for name in ["prod", "staging", "beta"] {
        let env = load(&envs_dir(), name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(env.name.as_str(), name);
    }
    let all = load_all(&envs_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(all.len() >= 3);
}

// ---- account ----

#[test]
fn region_must_be_a_region_code() {
    let m = rejects("region = \"us-east-1\"", "region = \"virginia\"", "region");
    assert!(m.contains("us-east-1"), "{m}");
}

#[test]
fn region_codes_of_other_partitions_are_accepted() {
    let text = edit("region = \"us-east-1\"", "region = \"us-gov-west-1\"")
        .replace("us-east-1a", "us-gov-west-1a")
        .replace("us-east-1b", "us-gov-west-1b")
        .replace(
            "[domain]\n",
            "[domain]\nalb_certificate_arn = \"arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/6d1e0c9a-31c5-4be6-9a0e-2f1b8c0d4e71\"\n",
        )
        .replace(
            "[network]\n",
            "[network]\ncloudfront_prefix_list_id = \"pl-0123456789abcdef0\"\n",
        );
    assert_eq!(problems(&text), Vec::new());
}

#[test]
fn account_id_is_twelve_digits() {
    let m = rejects(
        "account_id = \"123456789012\"",
        "account_id = \"12345\"",
        "account_id",
    );
    assert!(m.contains("12 digits"), "{m}");
}

// ---- tags ----

#[test]
fn tag_keys_are_at_most_128_characters() {
    let long = "K".repeat(129);
    rejects(
        "Site = ",
        &format!("{long} = \"x\"\nSite = "),
        &format!("tags.{long}"),
    );
}

#[test]
fn tag_values_are_at_most_256_characters() {
    let long = "v".repeat(257);
    let m = rejects(
        "Site = \"CompilerExplorer\"",
        &format!("Site = \"{long}\""),
        "tags.Site",
    );
    assert!(m.contains("256"), "{m}");
}

#[test]
fn tag_keys_may_not_use_the_aws_prefix() {
    rejects(
        "Site = ",
        "\"aws:owner\" = \"me\"\nSite = ",
        "tags.aws:owner",
    );
}

#[test]
fn name_and_environment_tags_are_reserved_for_the_tool() {
    let m = rejects("Site = ", "Name = \"web\"\nSite = ", "tags.Name");
    assert!(m.contains("set by the tool"), "{m}");
}

#[test]
fn tags_use_only_the_characters_aws_allows() {
    rejects(
        "Site = \"CompilerExplorer\"",
        "Site = \"a<b>\"",
        "tags.Site",
    );
}

#[test]
fn unicode_tags_are_allowed() {
    let text = edit("Site = ", "\"Équipe\" = \"Compilateurs\"\nSite = ");
    assert_eq!(problems(&text), Vec::new());
}

#[test]
fn at_most_forty_user_tags() {
    let many: String = (0..41).map(|i| format!("T{i} = \"v\"\n")).collect();
    let text = edit("[tags]\n", &format!("[tags]\n{many}"));
    sole_problem(&text, "tags", "[tags]");
}

// ---- network ----

#[test]
fn vpc_cidr_must_parse() {
    let m = rejects(
        "vpc_cidr = \"10.1.0.0/16\"",
        "vpc_cidr = \"10.1.0.0\"",
        "network.vpc_cidr",
    );
    assert!(m.contains("10.0.0.0/16"), "{m}");
}

#[test]
fn vpc_prefix_is_between_16_and_28() {
    let text = edit("vpc_cidr = \"10.1.0.0/16\"", "vpc_cidr = \"10.0.0.0/8\"");
    let found = problems(&text);
    assert!(
        found
            .iter()
            .any(|p| p.key == "network.vpc_cidr" && p.message.contains("/16 to /28")),
        "{found:#?}"
    );
}

#[test]
fn vpc_cidr_has_no_host_bits() {
    let m = rejects(
        "vpc_cidr = \"10.1.0.0/16\"",
        "vpc_cidr = \"10.1.0.1/16\"",
        "network.vpc_cidr",
    );
    assert!(m.contains("10.1.0.0/16"), "{m}");
}

#[test]
fn zone_cidrs_lie_inside_the_vpc() {
    let m = rejects(
        "cidr = \"10.1.1.0/24\"",
        "cidr = \"10.2.1.0/24\"",
        "network.zones[1].cidr",
    );
    assert!(m.contains("outside"), "{m}");
}

#[test]
fn zone_prefix_is_between_16_and_28() {
    rejects(
        "cidr = \"10.1.1.0/24\"",
        "cidr = \"10.1.1.0/29\"",
        "network.zones[1].cidr",
    );
}

#[test]
fn zone_cidrs_do_not_overlap() {
    let m = rejects(
        "cidr = \"10.1.1.0/24\"",
        "cidr = \"10.1.0.128/25\"",
        "network.zones[1].cidr",
    );
    assert!(m.contains("network.zones[0].cidr"), "{m}");
}

#[test]
fn at_least_two_zones() {
    let text = edit(
        "[[network.zones]]\nname = \"us-east-1b\"\ncidr = \"10.1.1.0/24\"\n",
        "",
    );
    sole_problem(&text, "network.zones", "[[network.zones]]");
}

#[test]
fn zone_names_are_unique() {
    let text = edit("name = \"us-east-1b\"", "name = \"us-east-1a\"");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "network.zones[1].name");
    assert_eq!(found[0].line, line_of(&text, "cidr = \"10.1.0.0/24\"") + 3);
}

#[test]
fn zones_belong_to_the_region() {
    let m = rejects(
        "name = \"us-east-1b\"",
        "name = \"us-west-2b\"",
        "network.zones[1].name",
    );
    assert!(m.contains("us-east-1a"), "{m}");
    rejects(
        "name = \"us-east-1b\"",
        "name = \"us-east-1bb\"",
        "network.zones[1].name",
    );
}

#[test]
fn admin_cidrs_must_parse() {
    rejects(
        "admin_cidrs = [\"203.0.113.0/24\"]",
        "admin_cidrs = [\"office\"]",
        "network.admin_cidrs[0]",
    );
}

// ---- domain ----

#[test]
fn at_least_one_alias() {
    rejects(
        "aliases = [\"test.example.com\", \"*.test.example.com\"]",
        "aliases = []",
        "domain.aliases",
    );
}

#[test]
fn aliases_are_dns_names() {
    rejects(
        "aliases = [\"test.example.com\", \"*.test.example.com\"]",
        "aliases = [\"test.example.com\", \"test example\"]",
        "domain.aliases[1]",
    );
}

#[test]
fn aliases_are_unique() {
    let m = rejects(
        "aliases = [\"test.example.com\", \"*.test.example.com\"]",
        "aliases = [\"test.example.com\", \"test.example.com\"]",
        "domain.aliases[1]",
    );
    assert!(m.contains("twice"), "{m}");
}

#[test]
fn certificate_arn_is_an_acm_arn() {
    rejects(
        "certificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/6d1e0c9a-31c5-4be6-9a0e-2f1b8c0d4e71\"",
        "certificate_arn = \"arn:aws:iam::123456789012:server-certificate/x\"",
        "domain.certificate_arn",
    );
}

#[test]
fn cloudfront_certificate_is_in_us_east_1() {
    let m = rejects(
        "certificate_arn = \"arn:aws:acm:us-east-1:",
        "certificate_arn = \"arn:aws:acm:eu-west-1:",
        "domain.certificate_arn",
    );
    assert!(m.contains("CloudFront"), "{m}");
}

#[test]
fn certificates_belong_to_the_envs_account() {
    let text = edit(
        "account_id = \"123456789012\"",
        "account_id = \"210987654321\"",
    );
    let m = sole_problem(&text, "domain.certificate_arn", "certificate_arn");
    assert!(m.contains("210987654321"), "{m}");
}

#[test]
fn alb_certificate_is_in_the_envs_region() {
    let text = edit(
        "[domain]\n",
        "[domain]\nalb_certificate_arn = \"arn:aws:acm:eu-west-1:123456789012:certificate/6d1e0c9a-31c5-4be6-9a0e-2f1b8c0d4e71\"\n",
    );
    sole_problem(&text, "domain.alb_certificate_arn", "alb_certificate_arn");
}

#[test]
fn alb_certificate_is_required_outside_us_east_1() {
    let text = edit("region = \"us-east-1\"", "region = \"eu-west-1\"")
        .replace("us-east-1a", "eu-west-1a")
        .replace("us-east-1b", "eu-west-1b");
    let m = sole_problem(&text, "domain.alb_certificate_arn", "[domain]");
    assert!(m.contains("required"), "{m}");
}

// ---- compute ----

#[test]
fn ami_is_an_ami_id() {
    rejects(
        "ami = \"ami-0f2092af088f26ebc\"",
        "ami = \"ami-123\"",
        "compute.ami",
    );
}

#[test]
fn instance_type_is_family_dot_size() {
    rejects(
        "instance_type = \"m5.large\"",
        "instance_type = \"m5large\"",
        "compute.instance_type",
    );
}

#[test]
fn min_size_is_at_most_max_size() {
    rejects("min_size = 1", "min_size = 5", "compute.min_size");
}

#[test]
fn desired_capacity_lies_between_min_and_max() {
    let text = edit("cpu_target_percent = 50.0\n", "")
        .replace("min_size = 1", "min_size = 1\ndesired_capacity = 9");
    sole_problem(&text, "compute.desired_capacity", "desired_capacity");
}

#[test]
fn desired_capacity_conflicts_with_a_scaling_policy() {
    let m = rejects(
        "min_size = 1",
        "min_size = 1\ndesired_capacity = 2",
        "compute.desired_capacity",
    );
    assert!(m.contains("reset"), "{m}");
}

#[test]
fn max_size_is_between_1_and_1000() {
    let text = edit("min_size = 1", "min_size = 0").replace("max_size = 4", "max_size = 0");
    sole_problem(&text, "compute.max_size", "max_size");
    let text = edit("max_size = 4", "max_size = 1001");
    sole_problem(&text, "compute.max_size", "max_size");
}

#[test]
fn grace_period_is_at_most_two_hours() {
    rejects(
        "health_check_grace_period = 240",
        "health_check_grace_period = 7201",
        "compute.health_check_grace_period",
    );
}

#[test]
fn grace_period_under_a_minute_is_refused() {
    let m = rejects(
        "health_check_grace_period = 240",
        "health_check_grace_period = 30",
        "compute.health_check_grace_period",
    );
    assert!(m.contains("boot"), "{m}");
}

#[test]
fn cpu_target_is_above_0_and_at_most_100() {
    for bad in ["0.0", "150.0", "nan", "inf"] {
        rejects(
            "cpu_target_percent = 50.0",
            &format!("cpu_target_percent = {bad}"),
            "compute.cpu_target_percent",
        );
    }
}

#[test]
fn root_volume_is_8_to_16384_gib() {
    rejects(
        "root_volume_gib = 16",
        "root_volume_gib = 4",
        "compute.root_volume_gib",
    );
}

#[test]
fn spot_needs_an_instance_type() {
    rejects(
        "instance_types = [\"m5.large\", \"m6i.large\"]",
        "instance_types = []",
        "compute.spot.instance_types",
    );
}

#[test]
fn spot_instance_types_are_unique_and_well_formed() {
    rejects(
        "instance_types = [\"m5.large\", \"m6i.large\"]",
        "instance_types = [\"m5.large\", \"m5.large\"]",
        "compute.spot.instance_types[1]",
    );
    rejects(
        "instance_types = [\"m5.large\", \"m6i.large\"]",
        "instance_types = [\"m5.large\", \"large\"]",
        "compute.spot.instance_types[1]",
    );
}

#[test]
fn on_demand_percentage_is_at_most_100() {
    rejects(
        "on_demand_percentage_above_base = 0",
        "on_demand_percentage_above_base = 101",
        "compute.spot.on_demand_percentage_above_base",
    );
}

#[test]
fn allocation_strategy_is_one_of_awss() {
    let m = rejects(
        "allocation_strategy = \"price-capacity-optimized\"",
        "allocation_strategy = \"cheapest\"",
        "compute.spot.allocation_strategy",
    );
    assert!(m.contains("capacity-optimized-prioritized"), "{m}");
}

#[test]
fn health_check_path_starts_with_a_slash() {
    rejects(
        "path = \"/healthcheck\"",
        "path = \"healthcheck\"",
        "compute.health_check.path",
    );
}

#[test]
fn health_check_interval_is_5_to_300() {
    rejects(
        "interval = 10",
        "interval = 301",
        "compute.health_check.interval",
    );
}

#[test]
fn health_check_timeout_is_2_to_120_and_shorter_than_the_interval() {
    rejects("timeout = 8", "timeout = 1", "compute.health_check.timeout");
    let m = rejects(
        "timeout = 8",
        "timeout = 10",
        "compute.health_check.timeout",
    );
    assert!(m.contains("shorter than interval"), "{m}");
}

#[test]
fn health_check_thresholds_are_2_to_10() {
    rejects(
        "healthy_threshold = 2",
        "healthy_threshold = 1",
        "compute.health_check.healthy_threshold",
    );
    rejects(
        "unhealthy_threshold = 3",
        "unhealthy_threshold = 11",
        "compute.health_check.unhealthy_threshold",
    );
}

#[test]
fn deregistration_delay_is_at_most_an_hour() {
    rejects(
        "deregistration_delay = 20",
        "deregistration_delay = 3601",
        "compute.deregistration_delay",
    );
}

#[test]
fn idle_timeout_is_1_to_4000() {
    rejects(
        "idle_timeout = 60",
        "idle_timeout = 0",
        "compute.idle_timeout",
    );
}

// ---- storage ----

#[test]
fn provisioned_throughput_needs_mibps() {
    let text = edit(
        "efs_throughput_mode = \"bursting\"",
        "efs_throughput_mode = \"provisioned\"",
    );
    sole_problem(&text, "storage.efs_provisioned_mibps", "[storage]\n");
    let text = edit(
        "efs_throughput_mode = \"bursting\"",
        "efs_throughput_mode = \"provisioned\"\nefs_provisioned_mibps = 5000.0",
    );
    sole_problem(
        &text,
        "storage.efs_provisioned_mibps",
        "efs_provisioned_mibps",
    );
}

#[test]
fn other_throughput_modes_forbid_mibps() {
    rejects(
        "efs_throughput_mode = \"bursting\"",
        "efs_throughput_mode = \"elastic\"\nefs_provisioned_mibps = 100.0",
        "storage.efs_provisioned_mibps",
    );
}

#[test]
fn transition_to_ia_uses_an_efs_period() {
    rejects(
        "efs_transition_to_ia_days = 14",
        "efs_transition_to_ia_days = 3",
        "storage.efs_transition_to_ia_days",
    );
}

#[test]
fn bucket_names_follow_s3_rules() {
    for bad in [
        "CE-Builds",
        "ce..builds",
        "10.0.0.1",
        "xn--builds",
        "builds-s3alias",
        "ab",
    ] {
        rejects(
            "builds = \"ce-test-builds\"",
            &format!("builds = \"{bad}\""),
            "storage.buckets.builds",
        );
    }
}

#[test]
fn buckets_are_distinct() {
    let m = rejects(
        "logs = \"ce-test-logs\"",
        "logs = \"ce-test-builds\"",
        "storage.buckets.logs",
    );
    assert!(m.contains("storage.buckets.builds"), "{m}");
}

#[test]
fn log_retention_is_at_least_a_day() {
    rejects(
        "log_retention_days = 32",
        "log_retention_days = 0",
        "storage.log_retention_days",
    );
}

#[test]
fn provisioned_billing_needs_both_capacities() {
    let text = edit(
        "table_billing = \"on-demand\"",
        "table_billing = \"provisioned\"\ntable_read_capacity = 0",
    );
    let found = problems(&text);
    let got: Vec<(&str, usize)> = found.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        [
            (
                "storage.table_write_capacity",
                line_of(&text, "[storage]\n")
            ),
            (
                "storage.table_read_capacity",
                line_of(&text, "table_read_capacity")
            ),
        ]
    );
}

#[test]
fn on_demand_billing_forbids_capacities() {
    rejects(
        "table_billing = \"on-demand\"",
        "table_billing = \"on-demand\"\ntable_write_capacity = 5",
        "storage.table_write_capacity",
    );
}

// ---- edge ----

#[test]
fn price_class_is_one_of_cloudfronts() {
    rejects(
        "price_class = \"PriceClass_100\"",
        "price_class = \"PriceClass_50\"",
        "edge.price_class",
    );
}

#[test]
fn geo_codes_are_unique_uppercase_pairs() {
    rejects(
        "geo_blocklist = [\"CU\", \"KP\"]",
        "geo_blocklist = [\"CU\", \"kp\"]",
        "edge.geo_blocklist[1]",
    );
    rejects(
        "geo_blocklist = [\"CU\", \"KP\"]",
        "geo_blocklist = [\"CU\", \"CU\"]",
        "edge.geo_blocklist[1]",
    );
}

#[test]
fn protocol_version_is_a_cloudfront_policy() {
    for good in ["TLSv1.2_2019", "TLSv1.2_2025", "TLSv1.3_2025"] {
        let text = edit("\"TLSv1.2_2021\"", &format!("\"{good}\""));
        assert_eq!(problems(&text), Vec::new(), "{good}");
    }
    for bad in ["TLSv1.4", "SSLv3"] {
        rejects(
            "minimum_protocol_version = \"TLSv1.2_2021\"",
            &format!("minimum_protocol_version = \"{bad}\""),
            "edge.minimum_protocol_version",
        );
    }
}

#[test]
fn default_ttl_is_at_most_max_ttl() {
    let text = edit("max_ttl = 31536000", "max_ttl = 60");
    sole_problem(&text, "edge.default_ttl", "default_ttl");
}

// ---- alarms ----

#[test]
fn alarm_emails_look_like_emails() {
    rejects(
        "emails = [\"alerts@example.com\"]",
        "emails = [\"alerts\"]",
        "alarms.emails[0]",
    );
}

#[test]
fn alarm_thresholds_are_in_range() {
    let cases = [
        (
            "high_5xx_percent = 5.0",
            "high_5xx_percent = 0.0",
            "alarms.high_5xx_percent",
        ),
        (
            "high_5xx_percent = 5.0",
            "high_5xx_percent = 101.0",
            "alarms.high_5xx_percent",
        ),
        (
            "latency_p90_seconds = 6.0",
            "latency_p90_seconds = 0.0",
            "alarms.latency_p90_seconds",
        ),
        (
            "efs_burst_credit_gib = 20.0",
            "efs_burst_credit_gib = -1.0",
            "alarms.efs_burst_credit_gib",
        ),
        (
            "efs_io_limit_percent = 90.0",
            "efs_io_limit_percent = 100.5",
            "alarms.efs_io_limit_percent",
        ),
    ];
    for (from, to, key) in cases {
        rejects(from, to, key);
    }
}

#[test]
fn whole_numbers_are_accepted_where_decimals_are_expected() {
    let text = edit("high_5xx_percent = 5.0", "high_5xx_percent = 5");
    assert_eq!(problems(&text), Vec::new());
}

// ---- env names ----

#[test]
fn the_longest_env_name_fits_every_aws_name() {
    let name = "a".repeat(ce_infra::config::MAX_ENV_NAME);
    assert!(parse(Path::new(FILE), &name, BASE).is_ok());
}

#[test]
fn invalid_env_names_are_reported_at_line_1() {
    let found = match parse(Path::new("envs/Prod_1.toml"), "Prod_1", BASE) {
        Err(ConfigError::Invalid(p)) => p,
        other => panic!("expected problems, got {other:?}"),
    };
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].line, found[0].key.as_str()), (1, ""));
    assert!(found[0].message.contains("lowercase"));
}

// ---- all at once ----

#[test]
fn every_problem_is_reported_in_line_order() {
    let text = edit("account_id = \"123456789012\"", "account_id = \"1234\"")
        .replace("ami = \"ami-0f2092af088f26ebc\"", "ami = \"ubuntu\"")
        .replace("interval = 10", "interval = 400")
        .replace(
            "price_class = \"PriceClass_100\"",
            "price_class = \"cheap\"",
        )
        .replace("emails = [\"alerts@example.com\"]", "emails = [\"nobody\"]");
    let found = problems(&text);
    let got: Vec<(&str, usize)> = found.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        [
            ("account_id", 2),
            ("compute.ami", line_of(&text, "ami = ")),
            (
                "compute.health_check.interval",
                line_of(&text, "interval = ")
            ),
            ("edge.price_class", line_of(&text, "price_class = ")),
            ("alarms.emails[0]", line_of(&text, "emails = ")),
        ]
    );
}

#[test]
fn problems_print_as_file_line_key_message() {
    let text = edit("ami = \"ami-0f2092af088f26ebc\"", "ami = \"ubuntu\"");
    let err = check(&text).expect_err("bad ami");
    let line = line_of(&text, "ami = ");
    let shown = err.to_string();
    assert!(
        shown.starts_with("1 problem in env configuration:"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "\n  {FILE}:{line}: compute.ami: \"ubuntu\" is not an AMI id"
        )),
        "{shown}"
    );
}

// ---- unknown keys ----

#[test]
fn unknown_top_level_key_is_reported_with_its_line() {
    rejects(
        "protected = false",
        "protected = false\nprotcted = true",
        "protcted",
    );
}

#[test]
fn unknown_nested_key_is_reported_with_its_line() {
    rejects(
        "timeout = 8",
        "timeout = 8\ntimout = 9",
        "compute.health_check.timout",
    );
}

#[test]
fn unknown_key_inside_a_zone_is_reported_with_its_index() {
    let m = rejects(
        "cidr = \"10.1.1.0/24\"",
        "cidr = \"10.1.1.0/24\"\nsubnet = \"x\"",
        "network.zones[1].subnet",
    );
    assert_eq!(m, "unknown key");
}

#[test]
fn unknown_unicode_and_dotted_keys_are_reported() {
    let text = edit(
        "protected = false",
        "protected = false\n\"ключ\" = 1\n\"a.b\" = 2",
    );
    let found = problems(&text);
    let got: Vec<(&str, usize)> = found.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(got, [("ключ", 4), ("a.b", 5)]);
}

#[test]
fn unknown_tables_are_reported_once() {
    let text = format!("{BASE}\n[extras]\na = 1\nb = 2\n");
    sole_problem(&text, "extras", "[extras]");
}

// ---- robustness ----

#[test]
fn empty_file_is_reported_not_panicked_on() {
    for text in ["", "\n\n", "# only a comment\n"] {
        let found = problems(text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].line, 1);
        assert!(found[0].message.contains("no settings"));
    }
}

#[test]
fn text_that_is_not_toml_reports_each_syntax_error_with_its_line() {
    let found = problems("region = \"us-east-1\"\nthis is not toml\n[compute\n");
    assert!(found.len() >= 2, "{found:#?}");
    assert!(found.iter().all(|p| p.message.starts_with("invalid TOML")));
    assert_eq!(found[0].line, 2);
    assert!(found.iter().any(|p| p.line == 3));
}

#[test]
fn binary_garbage_is_reported() {
    let found = problems("\u{0}\u{1}\u{fffd}[[[ = = =");
    assert!(!found.is_empty());
    assert!(found.iter().all(|p| p.file == FILE && p.line >= 1));
}

#[test]
fn duplicate_keys_name_the_key() {
    let text = edit("protected = false", "protected = false\nprotected = true");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].key.as_str(), found[0].line), ("protected", 4));
}

#[test]
fn wrong_type_names_the_key_and_the_expected_type() {
    let m = rejects("min_size = 1", "min_size = \"one\"", "compute.min_size");
    assert!(m.contains("whole number"), "{m}");
    let m = rejects(
        "cpu_target_percent = 50.0",
        "cpu_target_percent = \"half\"",
        "compute.cpu_target_percent",
    );
    assert!(m.contains("expected a number"), "{m}");
    let m = rejects(
        "price_class = \"PriceClass_100\"",
        "price_class = [\"PriceClass_100\"]",
        "edge.price_class",
    );
    assert!(m.contains("expected a string"), "{m}");
}

#[test]
fn huge_and_negative_integers_are_reported() {
    let m = rejects(
        "max_size = 4",
        "max_size = 99999999999999999999999999999999999999999999",
        "compute.max_size",
    );
    assert!(m.contains("too large"), "{m}");
    rejects("max_size = 4", "max_size = 99999999999", "compute.max_size");
    rejects("min_size = 1", "min_size = -1", "compute.min_size");
}

#[test]
fn unknown_enum_value_lists_the_allowed_ones() {
    let m = rejects(
        "efs_throughput_mode = \"bursting\"",
        "efs_throughput_mode = \"turbo\"",
        "storage.efs_throughput_mode",
    );
    assert!(m.contains("elastic"), "{m}");
}

#[test]
fn type_errors_in_several_sections_are_all_reported() {
    let text = edit("cidr = \"10.1.1.0/24\"", "cidr = 5")
        .replace("min_size = 1", "min_size = \"one\"")
        .replace(
            "efs_transition_to_ia_days = 14",
            "efs_transition_to_ia_days = true\nbogus = 1",
        )
        .replace("max_ttl = 31536000", "max_ttl = 1.5");
    let found = problems(&text);
    let got: Vec<(&str, usize)> = found.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        [
            ("network.zones[1].cidr", line_of(&text, "cidr = 5")),
            ("compute.min_size", line_of(&text, "min_size")),
            (
                "storage.efs_transition_to_ia_days",
                line_of(&text, "efs_transition_to_ia_days")
            ),
            ("storage.bogus", line_of(&text, "bogus")),
            ("edge.max_ttl", line_of(&text, "max_ttl")),
        ]
    );
}

#[test]
fn missing_keys_are_reported_at_their_table() {
    let text = edit("ami = \"ami-0f2092af088f26ebc\"\n", "");
    let m = sole_problem(&text, "compute.ami", "[compute]\n");
    assert!(m.contains("missing"), "{m}");
}

#[test]
fn missing_key_inside_a_zone_names_the_zone() {
    let text = edit("cidr = \"10.1.1.0/24\"\n", "");
    let second_zone = text
        .rfind("[[network.zones]]")
        .map(|o| text[..o].matches('\n').count() + 1);
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].key, "network.zones[1].cidr");
    assert_eq!(Some(found[0].line), second_zone);
}

#[test]
fn a_missing_key_in_one_zone_does_not_hide_problems_in_the_next() {
    let text = edit("cidr = \"10.1.0.0/24\"\n", "")
        .replace("name = \"us-east-1b\"", "name = 2\nzone_id = \"use1-az2\"");
    let found = problems(&text);
    let got: Vec<(&str, usize)> = found.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        [
            ("network.zones[0].cidr", line_of(&text, "[[network.zones]]")),
            ("network.zones[1].name", line_of(&text, "name = 2")),
            ("network.zones[1].zone_id", line_of(&text, "zone_id")),
        ]
    );
}

#[test]
fn every_prefix_of_a_valid_file_loads_or_reports_problems_on_real_lines() {
    let last_line = BASE.lines().count() + 1;
    for (end, _) in BASE.char_indices().step_by(7) {
        for p in problems(&BASE[..end]) {
            assert!((1..=last_line).contains(&p.line), "after {end} bytes: {p}");
            assert_eq!(p.file, FILE);
        }
    }
    // Cut inside [compute]: the tables after it are missing.
    let cut = BASE.find("max_size").unwrap_or(0);
    assert!(!problems(&BASE[..cut]).is_empty());
}

#[test]
fn missing_section_is_reported() {
    let start = BASE.find("[alarms]").unwrap_or(BASE.len());
    let found = problems(&BASE[..start]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].key.as_str(), found[0].line), ("alarms", 1));
}

#[test]
fn a_section_of_the_wrong_type_is_reported() {
    let text = edit_text(
        &BASE[..BASE.find("[alarms]").unwrap_or(BASE.len())],
        "protected = false",
        "protected = false\nalarms = \"loud\"",
    );
    let m = sole_problem(&text, "alarms", "alarms = ");
    assert!(m.contains("expected a table"), "{m}");
}

// ---- loading from a directory ----

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write env file");
    }
    dir
}

#[test]
fn unknown_env_lists_the_known_ones() {
    let dir = dir_with(&[("prod.toml", BASE), ("beta.toml", BASE)]);
    match load(dir.path(), "prdo") {
        Err(e @ ConfigError::UnknownEnv { .. }) => {
            assert!(e.to_string().contains("known envs: beta, prod"), "{e}");
        }
        other => panic!("expected UnknownEnv, got {other:?}"),
    }
}

#[test]
fn load_all_reports_the_problems_of_every_file() {
    let bad = edit("ami = \"ami-0f2092af088f26ebc\"", "ami = \"x\"");
    let dir = dir_with(&[("one.toml", &bad), ("two.toml", &bad), ("fine.toml", BASE)]);
    let Err(ConfigError::Invalid(found)) = load_all(dir.path()) else {
        panic!("expected problems");
    };
    let files: Vec<String> = found
        .iter()
        .map(|p| {
            Path::new(&p.file)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(files, ["one.toml", "two.toml"]);
}

#[test]
fn load_all_reports_files_whose_names_are_not_env_names() {
    let dir = dir_with(&[("prod.toml", BASE), ("Prod Copy.toml", BASE)]);
    let Err(ConfigError::Invalid(found)) = load_all(dir.path()) else {
        panic!("expected problems");
    };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].file.ends_with("Prod Copy.toml"));
    assert!(found[0].message.contains("not loaded"));
}

#[test]
fn load_all_of_an_empty_directory_says_so() {
    let dir = dir_with(&[]);
    assert!(matches!(load_all(dir.path()), Err(ConfigError::NoEnvs(_))));
}

// ---- security ----

#[test]
fn ssh_from_the_whole_internet_is_refused() {
    for world in ["0.0.0.0/0", "::/0"] {
        let m = rejects(
            "admin_cidrs = [\"203.0.113.0/24\"]",
            &format!("admin_cidrs = [\"{world}\"]"),
            "network.admin_cidrs[0]",
        );
        assert!(m.contains("whole internet"), "{m}");
    }
}

#[test]
fn the_cloudfront_prefix_list_is_required_where_the_tool_does_not_know_it() {
    let text = edit("region = \"us-east-1\"", "region = \"eu-north-1\"")
        .replace("us-east-1a", "eu-north-1a")
        .replace("us-east-1b", "eu-north-1b")
        .replace(
            "[domain]\n",
            "[domain]\nalb_certificate_arn = \"arn:aws:acm:eu-north-1:123456789012:certificate/6d1e0c9a-31c5-4be6-9a0e-2f1b8c0d4e71\"\n",
        );
    let m = sole_problem(&text, "network.cloudfront_prefix_list_id", "[network]");
    assert!(
        m.contains("com.amazonaws.global.cloudfront.origin-facing"),
        "{m}"
    );
    rejects(
        "[network]\n",
        "[network]\ncloudfront_prefix_list_id = \"sg-123\"\n",
        "network.cloudfront_prefix_list_id",
    );
}

#[test]
fn a_previous_origin_secret_needs_the_new_one_named() {
    let m = rejects(
        "max_ttl = 31536000\n",
        "max_ttl = 31536000\norigin_previous_secret_version = \"a1b2c3d4-0000-4000-8000-000000000001\"\n",
        "edge.origin_previous_secret_version",
    );
    assert!(m.contains("origin_secret_version"), "{m}");
    rejects(
        "max_ttl = 31536000\n",
        "max_ttl = 31536000\norigin_secret_version = \"v2\"\n",
        "edge.origin_secret_version",
    );
}

#[test]
fn waf_sizes_and_lists_are_checked() {
    let m = rejects(
        "post_rate_limit = 12000",
        "post_rate_limit = 5",
        "waf.post_rate_limit",
    );
    assert!(m.contains("10..=2000000000"), "{m}");
    let m = rejects(
        "block_ips = [\"192.0.2.0/24\", \"2001:db8::/32\"]",
        "block_ips = [\"192.0.2.1\"]",
        "waf.block_ips[0]",
    );
    assert!(m.contains("192.0.2.1/32"), "{m}");
    let m = rejects(
        "block_ips = [\"192.0.2.0/24\", \"2001:db8::/32\"]",
        "block_ips = [\"192.0.2.1/24\"]",
        "waf.block_ips[0]",
    );
    assert!(m.contains("192.0.2.0/24"), "{m}");
    let m = rejects(
        "managed_rule_groups = [\"AWSManagedRulesKnownBadInputsRuleSet\"]",
        "managed_rule_groups = [\"AWSManagedRulesEverything\"]",
        "waf.managed_rule_groups[0]",
    );
    assert!(m.contains("AWSManagedRulesCommonRuleSet"), "{m}");
}

#[test]
fn waf_settings_have_defaults() {
    let start = BASE.find("[waf]").unwrap();
    let end = BASE.find("[alarms]").unwrap();
    let text = format!("{}{}", &BASE[..start], &BASE[end..]);
    let env = check(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(env.file.waf.post_rate_limit, 12_000);
    assert!(env.file.waf.block_ips.is_empty());
    assert_eq!(env.file.waf.blocked_requests_alarm, 1_000);
}

#[test]
fn alarms_reach_someone_unless_the_file_says_nobody_is_paged() {
    let m = rejects(
        "emails = [\"alerts@example.com\"]",
        "emails = []",
        "alarms.emails",
    );
    assert!(m.contains("nobody_paged"), "{m}");
    let quiet = edit("emails = [\"alerts@example.com\"]", "nobody_paged = true");
    assert_eq!(problems(&quiet), Vec::new());
    rejects(
        "emails = [\"alerts@example.com\"]",
        "emails = [\"alerts@example.com\"]\nnobody_paged = true",
        "alarms.nobody_paged",
    );
}

#[test]
fn the_monthly_budget_is_a_positive_amount() {
    rejects(
        "monthly_budget_usd = 500.0",
        "monthly_budget_usd = 0.0",
        "alarms.monthly_budget_usd",
    );
}
