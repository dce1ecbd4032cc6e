//! `AWS::EFS::*` resource types: the shared file system the compilers live on, and its mount
//! targets.
//!
//! Throughput mode is modelled explicitly because it is the setting behind the March 2023
//! burst-credit outage; lifecycle values are enums because EFS accepts only a fixed set.

use serde::Serialize;

use super::iam::PolicyDocument;
use super::{Expr, ResourceProperties, Tag};

/// `AWS::EFS::FileSystem`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileSystem {
    /// Automatic daily AWS Backup.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_policy: Option<BackupPolicy>,
    /// Encryption at rest (cannot be changed after creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Resource policy every NFS client is checked against (TLS, IAM, access points).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_system_policy: Option<PolicyDocument>,
    /// Resource tags (EFS names the property differently from other services).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_system_tags: Vec<Tag>,
    /// KMS key for encryption; the AWS-managed key when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<Expr>,
    /// Moves between storage classes; one transition per entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_policies: Vec<LifecyclePolicy>,
    /// Performance mode (cannot be changed after creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_mode: Option<PerformanceMode>,
    /// MiB/s bought, for the provisioned mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput_in_mibps: Option<f64>,
    /// How throughput is sized and billed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput_mode: Option<ThroughputMode>,
}
impl ResourceProperties for FileSystem {
    const TYPE: &'static str = "AWS::EFS::FileSystem";
}

/// EFS performance modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PerformanceMode {
    /// Lowest latency; right for almost every workload.
    #[serde(rename = "generalPurpose")]
    GeneralPurpose,
    /// Higher aggregate throughput at higher latency.
    #[serde(rename = "maxIO")]
    MaxIo,
}

/// EFS throughput modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThroughputMode {
    /// Scales with stored size, spending burst credits.
    Bursting,
    /// Scales with demand, billed per use.
    Elastic,
    /// Fixed MiB/s, billed per MiB/s.
    Provisioned,
}

/// One entry of `LifecyclePolicies`: EFS takes exactly one transition per entry, which is what
/// an externally tagged enum serialises to (`{"TransitionToIA": "AFTER_14_DAYS"}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LifecyclePolicy {
    /// Move files unused this long to Infrequent Access.
    #[serde(rename = "TransitionToIA")]
    TransitionToIa(AfterDays),
    /// Move files unused this long to Archive (elastic throughput only).
    TransitionToArchive(AfterDays),
    /// Move files back to Standard storage on access.
    TransitionToPrimaryStorageClass(PrimaryStorageTransition),
}

/// Days without access before a lifecycle transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[allow(clippy::enum_variant_names)]
pub enum AfterDays {
    /// One day.
    #[serde(rename = "AFTER_1_DAY")]
    After1Day,
    /// A week.
    #[serde(rename = "AFTER_7_DAYS")]
    After7Days,
    /// Two weeks.
    #[serde(rename = "AFTER_14_DAYS")]
    After14Days,
    /// 30 days.
    #[serde(rename = "AFTER_30_DAYS")]
    After30Days,
    /// 60 days.
    #[serde(rename = "AFTER_60_DAYS")]
    After60Days,
    /// 90 days.
    #[serde(rename = "AFTER_90_DAYS")]
    After90Days,
    /// 180 days.
    #[serde(rename = "AFTER_180_DAYS")]
    After180Days,
    /// 270 days.
    #[serde(rename = "AFTER_270_DAYS")]
    After270Days,
    /// A year.
    #[serde(rename = "AFTER_365_DAYS")]
    After365Days,
}

impl AfterDays {
    /// The day counts EFS accepts, as written in env files.
    pub const ALLOWED_DAYS: [u32; 9] = [1, 7, 14, 30, 60, 90, 180, 270, 365];

    /// The value for a day count; `None` for a count EFS does not offer.
    pub fn from_days(days: u32) -> Option<Self> {
        Some(match days {
            1 => AfterDays::After1Day,
            7 => AfterDays::After7Days,
            14 => AfterDays::After14Days,
            30 => AfterDays::After30Days,
            60 => AfterDays::After60Days,
            90 => AfterDays::After90Days,
            180 => AfterDays::After180Days,
            270 => AfterDays::After270Days,
            365 => AfterDays::After365Days,
            _ => return None,
        })
    }
}

/// When files return to Standard storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PrimaryStorageTransition {
    /// On the first access.
    #[serde(rename = "AFTER_1_ACCESS")]
    After1Access,
}

/// `BackupPolicy`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupPolicy {
    /// Whether automatic backups run.
    pub status: BackupStatus,
}

/// Automatic backup states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum BackupStatus {
    /// Daily backups to the default vault.
    Enabled,
    /// No automatic backups.
    Disabled,
}

/// `AWS::EFS::MountTarget`: the file system's NFS endpoint in one subnet.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountTarget {
    /// The file system.
    pub file_system_id: Expr,
    /// Fixed IPv4 address; picked from the subnet when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<Expr>,
    /// Security groups guarding the NFS port.
    pub security_groups: Vec<Expr>,
    /// Subnet the endpoint lives in (one per zone).
    pub subnet_id: Expr,
}
impl ResourceProperties for MountTarget {
    const TYPE: &'static str = "AWS::EFS::MountTarget";
}

/// `AWS::EFS::AccessPoint`: an entry into the file system that pins the client's POSIX
/// identity and its root directory, so a policy can grant writes through it alone.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessPoint {
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_point_tags: Vec<Tag>,
    /// The file system (create-only).
    pub file_system_id: Expr,
    /// The identity every request through the access point runs as.
    pub posix_user: PosixUser,
    /// The directory clients see as `/`.
    pub root_directory: RootDirectory,
}
impl ResourceProperties for AccessPoint {
    const TYPE: &'static str = "AWS::EFS::AccessPoint";
}

/// `PosixUser` of an access point (ids are strings in CloudFormation).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PosixUser {
    /// Group id.
    pub gid: String,
    /// User id.
    pub uid: String,
}

/// `RootDirectory` of an access point.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootDirectory {
    /// Owner and mode EFS creates the directory with when it is missing.
    pub creation_info: CreationInfo,
    /// Absolute path on the file system.
    pub path: String,
}

/// `CreationInfo` of an access point's root directory.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreationInfo {
    /// Owning group id.
    pub owner_gid: String,
    /// Owning user id.
    pub owner_uid: String,
    /// Octal mode, e.g. `0755`.
    pub permissions: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_lifecycle_policy_is_a_single_key_object() {
        let v = serde_json::to_value(vec![
            LifecyclePolicy::TransitionToIa(AfterDays::After14Days),
            LifecyclePolicy::TransitionToPrimaryStorageClass(
                PrimaryStorageTransition::After1Access,
            ),
            LifecyclePolicy::TransitionToArchive(AfterDays::After1Day),
        ])
        .unwrap();
        assert_eq!(
            v,
            json!([
                {"TransitionToIA": "AFTER_14_DAYS"},
                {"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"},
                {"TransitionToArchive": "AFTER_1_DAY"}
            ])
        );
    }

    #[test]
    fn every_allowed_day_count_maps_to_a_value_and_others_do_not() {
        for days in AfterDays::ALLOWED_DAYS {
            let value = AfterDays::from_days(days).unwrap();
            let text = serde_json::to_value(value).unwrap();
            assert!(text.as_str().unwrap().contains(&format!("_{days}_")));
        }
        assert_eq!(AfterDays::from_days(10), None);
        assert_eq!(AfterDays::from_days(0), None);
    }

    #[test]
    fn file_system_uses_efs_property_names_and_values() {
        let fs = FileSystem {
            encrypted: Some(true),
            performance_mode: Some(PerformanceMode::GeneralPurpose),
            throughput_mode: Some(ThroughputMode::Provisioned),
            provisioned_throughput_in_mibps: Some(64.0),
            backup_policy: Some(BackupPolicy {
                status: BackupStatus::Enabled,
            }),
            file_system_tags: vec![Tag::new("Name", "fs")],
            ..FileSystem::default()
        };
        assert_eq!(
            serde_json::to_value(fs).unwrap(),
            json!({
                "Encrypted": true,
                "PerformanceMode": "generalPurpose",
                "ThroughputMode": "provisioned",
                "ProvisionedThroughputInMibps": 64.0,
                "BackupPolicy": {"Status": "ENABLED"},
                "FileSystemTags": [{"Key": "Name", "Value": "fs"}]
            })
        );
        assert_eq!(
            serde_json::to_value(PerformanceMode::MaxIo).unwrap(),
            json!("maxIO")
        );
    }

    #[test]
    fn mount_target_lists_security_groups() {
        let mt = MountTarget {
            file_system_id: Expr::Ref("FileSystem".into()),
            subnet_id: "subnet-1".into(),
            security_groups: vec!["sg-1".into()],
            ip_address: None,
        };
        assert_eq!(
            serde_json::to_value(mt).unwrap(),
            json!({
                "FileSystemId": {"Ref": "FileSystem"},
                "SubnetId": "subnet-1",
                "SecurityGroups": ["sg-1"]
            })
        );
    }
}
