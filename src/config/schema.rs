//! The shape of an environment file (`envs/<env>.toml`).
//!
//! Every field a user can write is here, with its meaning; unknown keys are collected by the
//! loader and reported as errors. Semantic checks live in `validate`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One environment file, as written.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct EnvFile {
    /// AWS region every stack of the env lives in.
    pub region: String,
    /// The AWS account the env belongs to; deploys refuse credentials of any other account.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Protected envs get termination protection, a stack policy and typed confirmations.
    #[serde(default)]
    pub protected: bool,
    /// Tags put on every stack and resource, besides the ones the tool adds.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Settings of this file (dotted keys, e.g. `storage.efs_throughput_mode`) that must have
    /// the same value in any env `ce compare` sets this one against; a difference there makes
    /// the comparison exit 3.
    #[serde(default)]
    pub must_match: Vec<String>,
    /// VPC and subnets.
    pub network: Network,
    /// Public names and certificates.
    pub domain: Domain,
    /// The web nodes: launch template, Auto Scaling group, load balancer.
    pub compute: Compute,
    /// EFS, S3 buckets and DynamoDB tables.
    pub storage: Storage,
    /// The CloudFront distribution.
    pub edge: Edge,
    /// The web ACL in front of the distribution.
    #[serde(default)]
    pub waf: Waf,
    /// CloudWatch alarms and where they go.
    pub alarms: Alarms,
}

/// `[network]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Network {
    /// IPv4 range of the VPC, e.g. `172.30.0.0/16`.
    pub vpc_cidr: String,
    /// One public subnet per availability zone (at least two).
    pub zones: Vec<Zone>,
    /// IPv4 ranges allowed to reach the nodes over SSH (none by default).
    #[serde(default)]
    pub admin_cidrs: Vec<String>,
    /// Id of the region's `com.amazonaws.global.cloudfront.origin-facing` managed prefix
    /// list; unset: the tool's own table of known ids.
    #[serde(default)]
    pub cloudfront_prefix_list_id: Option<String>,
}

/// `[[network.zones]]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Zone {
    /// Availability zone name, e.g. `us-east-1a`.
    pub name: String,
    /// The subnet's IPv4 range, inside the VPC's.
    pub cidr: String,
}

/// `[domain]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Domain {
    /// Names CloudFront answers for; the first is the primary one.
    pub aliases: Vec<String>,
    /// ACM certificate for CloudFront (must be in us-east-1).
    pub certificate_arn: String,
    /// ACM certificate for the load balancer's HTTPS listener, in the env's region.
    /// Defaults to `certificate_arn` when the env is in us-east-1.
    #[serde(default)]
    pub alb_certificate_arn: Option<String>,
}

/// `[compute]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Compute {
    /// AMI the nodes boot (baked with node, nginx and the AWS CLI).
    pub ami: String,
    /// Instance type of the launch template (the first choice under a mixed policy).
    pub instance_type: String,
    /// Fewest instances the group keeps.
    pub min_size: u32,
    /// Instances wanted at deploy time; leave unset when a scaling policy owns the number.
    #[serde(default)]
    pub desired_capacity: Option<u32>,
    /// Most instances the group may run.
    pub max_size: u32,
    /// Seconds after launch before failed ELB health checks count (boots take minutes).
    pub health_check_grace_period: u32,
    /// Seconds between scaling activities.
    #[serde(default = "default_cooldown")]
    pub cooldown: u32,
    /// Average CPU percentage the group's target-tracking policy aims for; unset: no policy.
    #[serde(default)]
    pub cpu_target_percent: Option<f64>,
    /// Root volume size in GiB.
    #[serde(default = "default_root_volume")]
    pub root_volume_gib: u32,
    /// EC2 key pair for SSH, if any.
    #[serde(default)]
    pub key_name: Option<String>,
    /// Spot and instance-type mix; unset: on-demand, one type.
    #[serde(default)]
    pub spot: Option<Spot>,
    /// The health check the target group runs.
    #[serde(default)]
    pub health_check: HealthCheck,
    /// Seconds a draining target keeps its connections.
    #[serde(default = "default_deregistration_delay")]
    pub deregistration_delay: u32,
    /// ALB idle timeout in seconds.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: u32,
}

fn default_cooldown() -> u32 {
    180
}
fn default_root_volume() -> u32 {
    16
}
fn default_deregistration_delay() -> u32 {
    20
}
fn default_idle_timeout() -> u32 {
    60
}

/// `[compute.spot]`: a mixed instances policy.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Spot {
    /// Instance types the group may launch, in order of preference.
    pub instance_types: Vec<String>,
    /// On-demand instances kept before any spot is used.
    #[serde(default)]
    pub on_demand_base_capacity: u32,
    /// Percentage of on-demand above the base (0 = all spot).
    #[serde(default)]
    pub on_demand_percentage_above_base: u32,
    /// Spot allocation strategy.
    #[serde(default = "default_spot_strategy")]
    pub allocation_strategy: String,
}

fn default_spot_strategy() -> String {
    "price-capacity-optimized".into()
}

/// `[compute.health_check]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct HealthCheck {
    /// HTTP path checked on each node.
    #[serde(default = "default_hc_path")]
    pub path: String,
    /// Seconds between checks.
    #[serde(default = "default_hc_interval")]
    pub interval: u32,
    /// Seconds before one check fails (busy nodes are slow: see the 2020 outage).
    #[serde(default = "default_hc_timeout")]
    pub timeout: u32,
    /// Passing checks before a node is healthy.
    #[serde(default = "default_hc_healthy")]
    pub healthy_threshold: u32,
    /// Failing checks before a node is unhealthy.
    #[serde(default = "default_hc_unhealthy")]
    pub unhealthy_threshold: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: default_hc_path(),
            interval: default_hc_interval(),
            timeout: default_hc_timeout(),
            healthy_threshold: default_hc_healthy(),
            unhealthy_threshold: default_hc_unhealthy(),
        }
    }
}

fn default_hc_path() -> String {
    "/healthcheck".into()
}
fn default_hc_interval() -> u32 {
    10
}
fn default_hc_timeout() -> u32 {
    8
}
fn default_hc_healthy() -> u32 {
    2
}
fn default_hc_unhealthy() -> u32 {
    3
}

/// EFS throughput modes.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ThroughputMode {
    /// Throughput scales with stored size, spending burst credits (the 2023 outage).
    Bursting,
    /// Throughput scales with demand, billed per use.
    Elastic,
    /// A fixed throughput, billed per MiB/s.
    Provisioned,
}

/// DynamoDB billing modes.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Billing {
    /// Pay per request.
    OnDemand,
    /// Fixed read and write capacity.
    Provisioned,
}

/// `[storage]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Storage {
    /// EFS throughput mode: an explicit choice per env.
    pub efs_throughput_mode: ThroughputMode,
    /// MiB/s when the mode is `provisioned`.
    #[serde(default)]
    pub efs_provisioned_mibps: Option<f64>,
    /// Days unused before EFS files move to Infrequent Access (1, 7, 14, 30, 60, 90, 180,
    /// 270 or 365); unset: never.
    #[serde(default)]
    pub efs_transition_to_ia_days: Option<u32>,
    /// Daily AWS Backup of the file system.
    #[serde(default = "yes")]
    pub efs_backup: bool,
    /// IAM roles allowed to write the compilers on EFS (as root); nodes only read them.
    #[serde(default)]
    pub efs_admin_role_arns: Vec<String>,
    /// Bucket names (S3 names are global).
    pub buckets: Buckets,
    /// Days before access logs expire.
    #[serde(default = "default_log_retention")]
    pub log_retention_days: u32,
    /// Days before old versions of builds and static files expire.
    #[serde(default = "default_noncurrent")]
    pub noncurrent_version_days: u32,
    /// DynamoDB billing mode of every table.
    pub table_billing: Billing,
    /// Read capacity per table when billing is `provisioned`.
    #[serde(default)]
    pub table_read_capacity: Option<u32>,
    /// Write capacity per table when billing is `provisioned`.
    #[serde(default)]
    pub table_write_capacity: Option<u32>,
}

fn yes() -> bool {
    true
}
fn default_log_retention() -> u32 {
    32
}
fn default_noncurrent() -> u32 {
    7
}

/// `[storage.buckets]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Buckets {
    /// Build tarballs (`dist/`) and `version/<env>` pointers.
    pub builds: String,
    /// Static web assets served by CloudFront.
    #[serde(rename = "static")]
    pub static_files: String,
    /// CloudFront and load balancer access logs.
    pub logs: String,
    /// Short-link state (`state/`, kept) and the compile cache (`cache/`, a day).
    pub storage: String,
}

/// `[edge]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Edge {
    /// CloudFront price class.
    #[serde(default = "default_price_class")]
    pub price_class: String,
    /// Countries (ISO 3166 alpha-2) denied by geo restriction.
    #[serde(default)]
    pub geo_blocklist: Vec<String>,
    /// Minimum TLS protocol offered to viewers.
    #[serde(default = "default_min_tls")]
    pub minimum_protocol_version: String,
    /// Default TTL of the app cache policy, seconds.
    #[serde(default = "default_ttl")]
    pub default_ttl: u32,
    /// Maximum TTL of the app cache policy, seconds.
    #[serde(default = "default_max_ttl")]
    pub max_ttl: u32,
    /// Version id of the origin secret CloudFront sends; unset: the version current when the
    /// distribution was last updated.
    #[serde(default)]
    pub origin_secret_version: Option<String>,
    /// During a rotation, the version id the load balancer still accepts besides the new one.
    #[serde(default)]
    pub origin_previous_secret_version: Option<String>,
}

/// `[waf]`: the web ACL (CloudFront scope) in front of the distribution.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Waf {
    /// POST requests one address may make in five minutes before it is answered 429.
    #[serde(default = "default_post_rate_limit")]
    pub post_rate_limit: u32,
    /// IPv4 and IPv6 ranges that are blocked outright.
    #[serde(default)]
    pub block_ips: Vec<String>,
    /// AWS managed rule groups evaluated after the tool's own rules.
    #[serde(default)]
    pub managed_rule_groups: Vec<String>,
    /// Alarm when the ACL blocks more than this many requests in five minutes.
    #[serde(default = "default_blocked_alarm")]
    pub blocked_requests_alarm: u32,
}

impl Default for Waf {
    fn default() -> Self {
        Waf {
            post_rate_limit: default_post_rate_limit(),
            block_ips: Vec::new(),
            managed_rule_groups: Vec::new(),
            blocked_requests_alarm: default_blocked_alarm(),
        }
    }
}

/// The live site's `RateLimitPost`: 12,000 POSTs per address per five minutes.
fn default_post_rate_limit() -> u32 {
    12_000
}
fn default_blocked_alarm() -> u32 {
    1_000
}

fn default_price_class() -> String {
    "PriceClass_All".into()
}
fn default_min_tls() -> String {
    "TLSv1.2_2021".into()
}
fn default_ttl() -> u32 {
    86_400
}
fn default_max_ttl() -> u32 {
    31_536_000
}

/// `[alarms]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Alarms {
    /// Addresses subscribed to the alarm topic.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Says on purpose that nobody is paged (no `emails`); required then, refused otherwise.
    #[serde(default)]
    pub nobody_paged: bool,
    /// Monthly cost budget of the env in USD; spend above 80% (or a forecast above 100%)
    /// notifies the alert topic.
    pub monthly_budget_usd: f64,
    /// Alarm when 5xx responses exceed this percentage of CloudFront requests.
    pub high_5xx_percent: f64,
    /// Alarm when p90 target response time exceeds this many seconds.
    pub latency_p90_seconds: f64,
    /// Alarm when EFS burst credits fall to this many GiB (bursting mode only).
    #[serde(default = "default_burst_gib")]
    pub efs_burst_credit_gib: f64,
    /// Alarm when EFS percent-IO-limit reaches this.
    #[serde(default = "default_io_limit")]
    pub efs_io_limit_percent: f64,
}

fn default_burst_gib() -> f64 {
    20.0
}
fn default_io_limit() -> f64 {
    90.0
}
