//! The web nodes' IAM role: exactly what a node does and nothing an attacker on a node could
//! use to reach further.
//!
//! A node compiles untrusted input, so its role is written as if the node were compromised:
//! builds readable only under `dist/` and `version/`, short links and the compile cache only
//! under `state/` and `cache/`, parameters only under the env's own path, EFS writes only
//! through the cache access point, and Session Manager without the managed
//! `AmazonSSMManagedInstanceCore`, which reads every parameter in the account.

use crate::model::iam::{InstanceProfile, Policy, PolicyDocument, Principal, Role, Statement};
use crate::model::{Expr, LogicalId, Template};

use super::super::{Ctx, Export, storage_paths, waivers};
use super::ids;

/// The one AWS-managed policy left: the CloudWatch agent's (metrics and logs, and only the
/// `AmazonCloudWatch-*` parameters).
const MANAGED_POLICIES: [&str; 1] = ["CloudWatchAgentServerPolicy"];

/// What the Session Manager agent calls; none of them takes a resource ARN.
pub const SESSION_MANAGER_ACTIONS: [&str; 5] = [
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

/// The env's parameter path: `/compiler-explorer/<env>` (the live site's layout).
pub fn parameter_path(env: &str) -> String {
    format!("/compiler-explorer/{env}")
}

/// `<bucket arn>/<suffix>`.
fn under(bucket_arn: &Expr, suffix: &str) -> Expr {
    Expr::sub_with(
        format!("${{Bucket}}/{suffix}"),
        [("Bucket", bucket_arn.clone())],
    )
}

/// `s3:prefix` values that a listing may ask for: each prefix and everything below it.
fn listing_prefixes(prefixes: &[&str]) -> Expr {
    Expr::List(
        prefixes
            .iter()
            .flat_map(|p| [Expr::from(format!("{p}/")), Expr::from(format!("{p}/*"))])
            .collect(),
    )
}

fn read_builds(ctx: &Ctx<'_>) -> PolicyDocument {
    let builds = ctx.import(Export::BuildsBucketArn);
    PolicyDocument::new(vec![
        Statement::allow(
            &["s3:GetObject"],
            vec![under(&builds, "dist/*"), under(&builds, "version/*")],
        )
        .sid("ReadBuildsAndPointers"),
        // Listing only below the two prefixes; a missing key then answers 403, not 404.
        Statement::allow(&["s3:ListBucket"], vec![builds])
            .sid("ListBuilds")
            .condition(
                "StringLike",
                "s3:prefix",
                listing_prefixes(&["dist", "version"]),
            ),
    ])
}

fn stored_state(ctx: &Ctx<'_>) -> PolicyDocument {
    let storage = ctx.import(Export::StorageBucketArn);
    let prefixes = [storage_paths::STATE, storage_paths::CACHE];
    PolicyDocument::new(vec![
        Statement::allow(
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
            ],
            vec![ctx.import(Export::LinksTableArn)],
        )
        .sid("ReadWriteShortLinks"),
        Statement::allow(
            &["s3:GetObject", "s3:PutObject"],
            prefixes
                .iter()
                .map(|p| under(&storage, &format!("{p}/*")))
                .collect(),
        )
        .sid("ReadWriteStateAndCache"),
        Statement::allow(&["s3:ListBucket"], vec![storage])
            .sid("ListStateAndCache")
            .condition("StringLike", "s3:prefix", listing_prefixes(&prefixes)),
    ])
}

fn session_manager() -> PolicyDocument {
    PolicyDocument::new(vec![
        Statement::allow(&SESSION_MANAGER_ACTIONS, vec!["*".into()]).sid("SessionManager"),
    ])
}

fn parameters(ctx: &Ctx<'_>) -> PolicyDocument {
    let path = parameter_path(ctx.env_name());
    let arn = |suffix: &str| {
        Expr::sub(format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{path}{suffix}"
        ))
    };
    PolicyDocument::new(vec![
        Statement::allow(&["ssm:GetParameter", "ssm:GetParameters"], vec![arn("/*")])
            .sid("ReadEnvParameters"),
    ])
}

/// Mount the file system (read-only by the policy unless through the cache access point).
fn file_system(ctx: &Ctx<'_>) -> PolicyDocument {
    let fs_arn = Expr::sub_with(
        "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:file-system/${FileSystemId}",
        [("FileSystemId", ctx.import(Export::FileSystemId))],
    );
    let access_point_arn = Expr::sub_with(
        "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:access-point/${AccessPointId}",
        [("AccessPointId", ctx.import(Export::CacheAccessPointId))],
    );
    PolicyDocument::new(vec![
        Statement::allow(&["elasticfilesystem:ClientMount"], vec![fs_arn.clone()])
            .sid("MountFileSystem"),
        Statement::allow(&["elasticfilesystem:ClientWrite"], vec![fs_arn])
            .sid("WriteThroughCacheAccessPoint")
            .condition(
                "StringEquals",
                "elasticfilesystem:AccessPointArn",
                access_point_arn,
            ),
    ])
}

/// The nodes' role and its instance profile.
pub(super) fn add_node_role(ctx: &Ctx<'_>, t: &mut Template) -> (LogicalId, LogicalId) {
    let policy = |name: &str, document: PolicyDocument| Policy {
        policy_name: name.into(),
        policy_document: document,
    };
    let role = LogicalId::new(ids::ROLE);
    t.add(
        &role,
        Role {
            assume_role_policy_document: PolicyDocument::new(vec![
                Statement::allow(&["sts:AssumeRole"], vec![])
                    .principal(Principal::Service(vec!["ec2.amazonaws.com".into()])),
            ]),
            description: Some(format!("ce {} web nodes", ctx.env_name())),
            managed_policy_arns: MANAGED_POLICIES
                .iter()
                .map(|name| Expr::sub(format!("arn:${{AWS::Partition}}:iam::aws:policy/{name}")))
                .collect(),
            policies: vec![
                policy("ReadBuilds", read_builds(ctx)),
                policy("ShortLinks", stored_state(ctx)),
                policy("SessionManager", session_manager()),
                policy("EnvParameters", parameters(ctx)),
                policy("FileSystem", file_system(ctx)),
            ],
            path: None,
            tags: ctx.tags("node"),
        },
    )
    .waive(
        waivers::UNCONSTRAINED_WRITE,
        "Only Session Manager's agent calls, which take no resource ARN, are on every resource",
    );
    let profile = LogicalId::new(ids::PROFILE);
    t.add(
        &profile,
        InstanceProfile {
            roles: vec![Expr::reference(&role)],
            path: None,
        },
    );
    (role, profile)
}
