//! The five stacks of an environment, built from its env file.
//!
//! Stacks are named `ce-<env>-<stack>` and pass values to each other by CloudFormation
//! Export/ImportValue only; [`Export`] is the whole contract, so an import without an exporter
//! cannot be written, and `validate` checks that every import comes from an earlier stack.

mod colour;
mod compute;
mod edge;
mod monitoring;
mod network;
mod origin;
mod storage;
mod user_data;
mod waf;
mod waivers;

use std::fmt;

use crate::config::Env;
use crate::model::{Expr, Tag, Template};

pub use colour::{COLOUR_TAG, Colour, LIVE_COLOUR_PARAMETER, UnknownColour};
pub use compute::{LIVE_ROUTE_OUTPUT, group_output, target_group_output};
pub use edge::PREVIEW_HEADER;
/// The header the load balancer checks for the env's secret (see `origin`).
pub use origin::HEADER as ORIGIN_HEADER;
pub use user_data::{UserDataError, colour_version_key, version_key};

/// Key prefixes of the short-link storage bucket, shared by its lifecycle and the node role.
pub mod storage_paths {
    /// Short-link state (`state/<full_hash>`), kept for good.
    pub const STATE: &str = "state";
    /// The compilation result cache, expiring after a day.
    pub const CACHE: &str = "cache";
}

/// The stacks of an environment, in dependency order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackId {
    /// VPC, subnets, routes, security groups.
    Network,
    /// EFS, S3 buckets, DynamoDB tables.
    Storage,
    /// IAM, launch template, load balancer, Auto Scaling group.
    Compute,
    /// CloudFront and the static bucket's policy.
    Edge,
    /// SNS topic and alarms.
    Monitoring,
}

impl StackId {
    /// Every stack, in an order where each comes after what it depends on.
    pub const ALL: [StackId; 5] = [
        StackId::Network,
        StackId::Storage,
        StackId::Compute,
        StackId::Edge,
        StackId::Monitoring,
    ];

    /// The short name used in stack names and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            StackId::Network => "network",
            StackId::Storage => "storage",
            StackId::Compute => "compute",
            StackId::Edge => "edge",
            StackId::Monitoring => "monitoring",
        }
    }

    /// Parses a short name.
    pub fn parse(name: &str) -> Option<Self> {
        StackId::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The short names, comma-separated, for messages.
    pub fn names() -> String {
        StackId::ALL.map(StackId::as_str).join(", ")
    }

    /// The stacks whose exports this one imports.
    pub fn depends_on(self) -> &'static [StackId] {
        match self {
            StackId::Network => &[],
            StackId::Storage => &[StackId::Network],
            StackId::Compute => &[StackId::Network, StackId::Storage],
            StackId::Edge => &[StackId::Compute, StackId::Storage],
            StackId::Monitoring => &[StackId::Storage, StackId::Compute, StackId::Edge],
        }
    }
}

impl fmt::Display for StackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the five stacks (`--stack` is parsed through this).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown stack \"{}\"; the stacks are: {}",
    crate::printer::escape_control(name),
    StackId::names()
)]
pub struct UnknownStack {
    /// What was asked for.
    pub name: String,
}

impl std::str::FromStr for StackId {
    type Err = UnknownStack;

    fn from_str(name: &str) -> Result<Self, UnknownStack> {
        StackId::parse(name).ok_or_else(|| UnknownStack {
            name: name.to_owned(),
        })
    }
}

/// Every value one stack exports for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Export {
    /// The VPC id.
    VpcId,
    /// Public subnet ids, comma-separated (split by the importer).
    SubnetIds,
    /// Security group of the load balancer.
    AlbSecurityGroupId,
    /// Security group of the web nodes.
    NodeSecurityGroupId,
    /// Security group of the EFS mount targets.
    EfsSecurityGroupId,
    /// EFS file system id.
    FileSystemId,
    /// Builds bucket name.
    BuildsBucketName,
    /// Builds bucket ARN.
    BuildsBucketArn,
    /// Static files bucket name.
    StaticBucketName,
    /// Static files bucket ARN.
    StaticBucketArn,
    /// Static bucket's regional domain name (CloudFront S3 origin).
    StaticBucketDomainName,
    /// Logs bucket name.
    LogsBucketName,
    /// Short-link state and compile cache bucket name.
    StorageBucketName,
    /// Short-link state and compile cache bucket ARN.
    StorageBucketArn,
    /// EFS access point the nodes write their build cache through.
    CacheAccessPointId,
    /// Short links table name.
    LinksTableName,
    /// Short links table ARN.
    LinksTableArn,
    /// Deploy history table name.
    VersionsLogTableName,
    /// Deploy history table ARN.
    VersionsLogTableArn,
    /// Compiler build results table name.
    CompilerBuildsTableName,
    /// Compiler build results table ARN.
    CompilerBuildsTableArn,
    /// Public DNS name of the load balancer.
    LoadBalancerDnsName,
    /// `app/<name>/<id>`, the CloudWatch dimension of the load balancer.
    LoadBalancerFullName,
    /// `targetgroup/<name>/<id>`, the CloudWatch dimension of the blue colour's target group
    /// (named when there was one group; the blue colour kept its resources).
    TargetGroupFullName,
    /// Name of the blue colour's Auto Scaling group.
    AutoScalingGroupName,
    /// `targetgroup/<name>/<id>` of the green colour's target group.
    GreenTargetGroupFullName,
    /// Name of the green colour's Auto Scaling group.
    GreenAutoScalingGroupName,
    /// CloudFront distribution id.
    DistributionId,
}

impl Export {
    /// Every export.
    pub const ALL: [Export; 28] = [
        Export::VpcId,
        Export::SubnetIds,
        Export::AlbSecurityGroupId,
        Export::NodeSecurityGroupId,
        Export::EfsSecurityGroupId,
        Export::FileSystemId,
        Export::BuildsBucketName,
        Export::BuildsBucketArn,
        Export::StaticBucketName,
        Export::StaticBucketArn,
        Export::StaticBucketDomainName,
        Export::LogsBucketName,
        Export::StorageBucketName,
        Export::StorageBucketArn,
        Export::CacheAccessPointId,
        Export::LinksTableName,
        Export::LinksTableArn,
        Export::VersionsLogTableName,
        Export::VersionsLogTableArn,
        Export::CompilerBuildsTableName,
        Export::CompilerBuildsTableArn,
        Export::LoadBalancerDnsName,
        Export::LoadBalancerFullName,
        Export::TargetGroupFullName,
        Export::AutoScalingGroupName,
        Export::GreenTargetGroupFullName,
        Export::GreenAutoScalingGroupName,
        Export::DistributionId,
    ];

    /// The output name (and export name suffix).
    pub fn output_name(self) -> &'static str {
        match self {
            Export::VpcId => "VpcId",
            Export::SubnetIds => "SubnetIds",
            Export::AlbSecurityGroupId => "AlbSecurityGroupId",
            Export::NodeSecurityGroupId => "NodeSecurityGroupId",
            Export::EfsSecurityGroupId => "EfsSecurityGroupId",
            Export::FileSystemId => "FileSystemId",
            Export::BuildsBucketName => "BuildsBucketName",
            Export::BuildsBucketArn => "BuildsBucketArn",
            Export::StaticBucketName => "StaticBucketName",
            Export::StaticBucketArn => "StaticBucketArn",
            Export::StaticBucketDomainName => "StaticBucketDomainName",
            Export::LogsBucketName => "LogsBucketName",
            Export::StorageBucketName => "StorageBucketName",
            Export::StorageBucketArn => "StorageBucketArn",
            Export::CacheAccessPointId => "CacheAccessPointId",
            Export::LinksTableName => "LinksTableName",
            Export::LinksTableArn => "LinksTableArn",
            Export::VersionsLogTableName => "VersionsLogTableName",
            Export::VersionsLogTableArn => "VersionsLogTableArn",
            Export::CompilerBuildsTableName => "CompilerBuildsTableName",
            Export::CompilerBuildsTableArn => "CompilerBuildsTableArn",
            Export::LoadBalancerDnsName => "LoadBalancerDnsName",
            Export::LoadBalancerFullName => "LoadBalancerFullName",
            Export::TargetGroupFullName => "TargetGroupFullName",
            Export::AutoScalingGroupName => "AutoScalingGroupName",
            Export::GreenTargetGroupFullName => "GreenTargetGroupFullName",
            Export::GreenAutoScalingGroupName => "GreenAutoScalingGroupName",
            Export::DistributionId => "DistributionId",
        }
    }

    /// The stack that exports the value.
    pub fn stack(self) -> StackId {
        use Export::*;
        match self {
            VpcId | SubnetIds | AlbSecurityGroupId | NodeSecurityGroupId | EfsSecurityGroupId => {
                StackId::Network
            }
            FileSystemId
            | BuildsBucketName
            | BuildsBucketArn
            | StaticBucketName
            | StaticBucketArn
            | StaticBucketDomainName
            | LogsBucketName
            | StorageBucketName
            | StorageBucketArn
            | CacheAccessPointId
            | LinksTableName
            | LinksTableArn
            | VersionsLogTableName
            | VersionsLogTableArn
            | CompilerBuildsTableName
            | CompilerBuildsTableArn => StackId::Storage,
            LoadBalancerDnsName
            | LoadBalancerFullName
            | TargetGroupFullName
            | AutoScalingGroupName
            | GreenTargetGroupFullName
            | GreenAutoScalingGroupName => StackId::Compute,
            DistributionId => StackId::Edge,
        }
    }
}

/// What every stack builder gets: the env and naming helpers.
pub struct Ctx<'a> {
    /// The environment being built.
    pub env: &'a Env,
}

impl Ctx<'_> {
    /// The env's name.
    pub fn env_name(&self) -> &str {
        self.env.name.as_str()
    }

    /// `ce-<env>-<stack>`.
    pub fn stack_name(&self, stack: StackId) -> String {
        stack_name(self.env_name(), stack)
    }

    /// `ce-<env>-<suffix>`, for physical names of resources.
    pub fn resource_name(&self, suffix: &str) -> String {
        // One allocation of the right size (`format!` would grow the string a few times).
        ["ce-", self.env_name(), "-", suffix].concat()
    }

    /// The export name of a value: `ce-<env>-<stack>-<Output>`.
    pub fn export_name(&self, export: Export) -> String {
        export_name(self.env_name(), export)
    }

    /// `Fn::ImportValue` of a value another stack exports.
    pub fn import(&self, export: Export) -> Expr {
        Expr::import(self.export_name(export))
    }

    /// Adds an exported output for a value this stack owns.
    pub fn export(&self, template: &mut Template, export: Export, description: &str, value: Expr) {
        template.export(
            export.output_name(),
            description,
            value,
            &self.export_name(export),
        );
    }

    /// The env's tags plus `Name` = `ce-<env>-<name>` and `Environment`, sorted by key.
    pub fn tags(&self, name: &str) -> Vec<Tag> {
        let mut pairs: Vec<(String, String)> = self
            .env
            .file
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.push(("Name".into(), self.resource_name(name)));
        pairs.push(("Environment".into(), self.env_name().to_owned()));
        crate::model::tags(pairs)
    }
}

/// `ce-<env>-<stack>`.
pub fn stack_name(env: &str, stack: StackId) -> String {
    format!("ce-{env}-{stack}")
}

/// `ce-<env>-<stack>-<Output>`.
pub fn export_name(env: &str, export: Export) -> String {
    // One allocation of the right size (`format!` would grow the string a few times).
    let stack = export.stack();
    ["ce-", env, "-", stack.as_str(), "-", export.output_name()].concat()
}

/// One built stack.
#[derive(Clone, Debug)]
pub struct Stack {
    /// Which stack.
    pub id: StackId,
    /// `ce-<env>-<stack>`.
    pub name: String,
    /// Its template.
    pub template: Template,
}

/// Builds every stack of an env, in dependency order.
pub fn build(env: &Env) -> Result<Vec<Stack>, UserDataError> {
    let ctx = Ctx { env };
    let mut stacks = Vec::with_capacity(StackId::ALL.len());
    for id in StackId::ALL {
        let template = match id {
            StackId::Network => network::build(&ctx),
            StackId::Storage => storage::build(&ctx),
            StackId::Compute => compute::build(&ctx)?,
            StackId::Edge => edge::build(&ctx),
            StackId::Monitoring => monitoring::build(&ctx),
        };
        stacks.push(Stack {
            id,
            name: ctx.stack_name(id),
            template,
        });
    }
    Ok(stacks)
}

#[cfg(test)]
mod stack_id_tests {
    use super::StackId;

    #[test]
    fn an_unknown_stack_lists_the_stacks() {
        let err = "database".parse::<StackId>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown stack \"database\"; the stacks are: network, storage, compute, edge, monitoring"
        );
        assert_eq!("edge".parse::<StackId>(), Ok(StackId::Edge));
    }

    #[test]
    fn a_control_character_in_an_unknown_stack_is_escaped() {
        let err = "x\nerror: y".parse::<StackId>().unwrap_err();
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}
