//! The shared EFS the compilers live on: the file system (the env's explicit throughput mode,
//! the lesson of the March 2023 burst-credit outage), a mount target in every zone, the cache
//! access point, and the file-system policy.
//!
//! The policy is what makes the compilers read-only for nodes, not just the mount option a
//! compromised node could drop: every client must use TLS and IAM, any principal of the
//! account may mount, and writing is allowed only through an access point (the nodes' build
//! cache) or to the admin roles the env lists (the compiler installers).

use crate::config::ThroughputMode as EnvThroughputMode;
use crate::model::efs::{
    AccessPoint, AfterDays, BackupPolicy, BackupStatus, CreationInfo, FileSystem, LifecyclePolicy,
    MountTarget, PerformanceMode, PosixUser, PrimaryStorageTransition, RootDirectory,
    ThroughputMode,
};
use crate::model::iam::{PolicyDocument, Principal, Statement};
use crate::model::{Expr, LogicalId, Template};

use super::super::network::zone_suffix;
use super::super::{Ctx, Export};
use super::FILE_SYSTEM;

/// Logical id of the nodes' cache access point.
pub const CACHE_ACCESS_POINT: &str = "CacheAccessPoint";
/// The directory the cache access point exposes as its root.
pub const CACHE_ROOT: &str = "/ce-build-cache";
/// The POSIX identity cache writes run as (the AMI's first user).
const CACHE_UID: &str = "1000";

fn account_root() -> Principal {
    Principal::Aws(vec![Expr::sub(
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:root",
    )])
}

/// TLS for everyone, mounts for the account, writes through access points or by admins.
fn policy(ctx: &Ctx<'_>) -> PolicyDocument {
    let mut statements = vec![
        Statement::deny(&["*"], vec![])
            .sid("DenyWithoutTls")
            .principal(Principal::Aws(vec!["*".into()]))
            .condition("Bool", "aws:SecureTransport", "false".into()),
        Statement::allow(&["elasticfilesystem:ClientMount"], vec![])
            .sid("MountFromTheAccount")
            .principal(account_root())
            .condition(
                "Bool",
                "elasticfilesystem:AccessedViaMountTarget",
                "true".into(),
            ),
        // Access points pin their POSIX user and root directory; the nodes' one is the cache.
        Statement::allow(&["elasticfilesystem:ClientWrite"], vec![])
            .sid("WriteThroughAccessPoints")
            .principal(account_root())
            .condition(
                "ArnLike",
                "elasticfilesystem:AccessPointArn",
                Expr::sub(
                    "arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:access-point/*",
                ),
            ),
    ];
    let admins = &ctx.env.file.storage.efs_admin_role_arns;
    if !admins.is_empty() {
        statements.push(
            Statement::allow(
                &[
                    "elasticfilesystem:ClientMount",
                    "elasticfilesystem:ClientWrite",
                    "elasticfilesystem:ClientRootAccess",
                ],
                vec![],
            )
            .sid("AdminsInstallCompilers")
            .principal(Principal::Aws(admins.iter().map(Expr::from).collect())),
        );
    }
    PolicyDocument::new(statements)
}

pub(super) fn add_file_system(ctx: &Ctx<'_>, t: &mut Template) {
    let s = &ctx.env.file.storage;
    let throughput_mode = match s.efs_throughput_mode {
        EnvThroughputMode::Bursting => ThroughputMode::Bursting,
        EnvThroughputMode::Elastic => ThroughputMode::Elastic,
        EnvThroughputMode::Provisioned => ThroughputMode::Provisioned,
    };
    // An unsupported day count is rejected by `validate`; rendering leaves the policy out
    // rather than guessing a different number of days.
    let lifecycle_policies = s
        .efs_transition_to_ia_days
        .and_then(AfterDays::from_days)
        .map(|after| {
            vec![
                LifecyclePolicy::TransitionToIa(after),
                LifecyclePolicy::TransitionToPrimaryStorageClass(
                    PrimaryStorageTransition::After1Access,
                ),
            ]
        })
        .unwrap_or_default();

    let fs = LogicalId::new(FILE_SYSTEM);
    t.add(
        &fs,
        FileSystem {
            encrypted: Some(true),
            performance_mode: Some(PerformanceMode::GeneralPurpose),
            throughput_mode: Some(throughput_mode),
            provisioned_throughput_in_mibps: match throughput_mode {
                ThroughputMode::Provisioned => s.efs_provisioned_mibps,
                _ => None,
            },
            lifecycle_policies,
            backup_policy: Some(BackupPolicy {
                status: if s.efs_backup {
                    BackupStatus::Enabled
                } else {
                    BackupStatus::Disabled
                },
            }),
            file_system_policy: Some(policy(ctx)),
            file_system_tags: ctx.tags("efs"),
            ..FileSystem::default()
        },
    )
    .retain();

    // The network stack exports its subnets in zone order, so element i is zone i's subnet.
    let subnets = Expr::split(",", ctx.import(Export::SubnetIds));
    for (i, zone) in ctx.env.file.network.zones.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        t.add(
            &LogicalId::new(format!("MountTarget{}", zone_suffix(&zone.name))),
            MountTarget {
                file_system_id: Expr::reference(&fs),
                subnet_id: Expr::select(index, subnets.clone()),
                security_groups: vec![ctx.import(Export::EfsSecurityGroupId)],
                ip_address: None,
            },
        );
    }

    let access_point = LogicalId::new(CACHE_ACCESS_POINT);
    t.add(
        &access_point,
        AccessPoint {
            file_system_id: Expr::reference(&fs),
            posix_user: PosixUser {
                uid: CACHE_UID.into(),
                gid: CACHE_UID.into(),
            },
            root_directory: RootDirectory {
                path: CACHE_ROOT.into(),
                creation_info: CreationInfo {
                    owner_uid: CACHE_UID.into(),
                    owner_gid: CACHE_UID.into(),
                    permissions: "0755".into(),
                },
            },
            access_point_tags: ctx.tags("build-cache"),
        },
    );
    // Ref is the access point's id; the emulator cannot GetAtt an EFS resource.
    ctx.export(
        t,
        Export::CacheAccessPointId,
        "EFS access point of the nodes' build cache",
        Expr::reference(&access_point),
    );
    ctx.export(
        t,
        Export::FileSystemId,
        "EFS file system id",
        Expr::reference(&fs),
    );
}
