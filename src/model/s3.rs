//! `AWS::S3::*` resource types: buckets with their encryption, versioning, lifecycle, public
//! access and ownership settings, and bucket policies.
//!
//! Values S3 fixes (algorithms, statuses, storage classes, ownership modes) are enums, so a
//! typo is a compile error instead of a failed deploy.

use serde::Serialize;

use super::iam::PolicyDocument;
use super::{Expr, ResourceProperties, Tag};

/// `AWS::S3::Bucket`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bucket {
    /// Default encryption of new objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_encryption: Option<BucketEncryption>,
    /// Globally unique bucket name; CloudFormation generates one when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<Expr>,
    /// Expiry and storage-class transition rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_configuration: Option<LifecycleConfiguration>,
    /// Server access logging to another bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging_configuration: Option<LoggingConfiguration>,
    /// Who owns uploaded objects, and whether ACLs apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership_controls: Option<OwnershipControls>,
    /// Guards against public ACLs and policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_access_block_configuration: Option<PublicAccessBlockConfiguration>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Whether overwritten and deleted objects keep old versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versioning_configuration: Option<VersioningConfiguration>,
}
impl ResourceProperties for Bucket {
    const TYPE: &'static str = "AWS::S3::Bucket";
}

/// `BucketEncryption`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketEncryption {
    /// The default-encryption rules (S3 takes exactly one).
    pub server_side_encryption_configuration: Vec<ServerSideEncryptionRule>,
}

impl BucketEncryption {
    /// SSE-S3 (AES256) with the bucket key on: no KMS key to manage, and the form ELB access
    /// logs require.
    pub fn sse_s3() -> Self {
        BucketEncryption {
            server_side_encryption_configuration: vec![ServerSideEncryptionRule {
                server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                    sse_algorithm: SseAlgorithm::Aes256,
                    kms_master_key_id: None,
                }),
                bucket_key_enabled: Some(true),
            }],
        }
    }
}

/// `ServerSideEncryptionRule`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerSideEncryptionRule {
    /// Use a bucket-level key to cut KMS requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_key_enabled: Option<bool>,
    /// The algorithm (and key) applied to objects uploaded without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_side_encryption_by_default: Option<ServerSideEncryptionByDefault>,
}

/// `ServerSideEncryptionByDefault`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerSideEncryptionByDefault {
    /// KMS key for the `aws:kms` algorithms; the AWS-managed key when unset.
    #[serde(rename = "KMSMasterKeyID", skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<Expr>,
    /// Encryption algorithm.
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: SseAlgorithm,
}

/// Server-side encryption algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SseAlgorithm {
    /// SSE-S3: keys managed by S3.
    #[serde(rename = "AES256")]
    Aes256,
    /// SSE-KMS.
    #[serde(rename = "aws:kms")]
    AwsKms,
    /// Dual-layer SSE-KMS.
    #[serde(rename = "aws:kms:dsse")]
    AwsKmsDsse,
}

/// `VersioningConfiguration`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersioningConfiguration {
    /// Enabled or suspended (versioning cannot be switched back off).
    pub status: VersioningStatus,
}

/// Bucket versioning states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum VersioningStatus {
    /// Every write keeps the previous version.
    Enabled,
    /// New writes stop creating versions; old ones stay.
    Suspended,
}

/// `LifecycleConfiguration`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleConfiguration {
    /// The rules.
    pub rules: Vec<LifecycleRule>,
}

/// `LifecycleConfiguration.Rule`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleRule {
    /// When unfinished multipart uploads are cleaned up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_upload: Option<AbortIncompleteMultipartUpload>,
    /// Days after creation before current objects expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_in_days: Option<u32>,
    /// Rule name, unique within the bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When old versions are removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    /// Key prefix the rule applies to; every object when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Whether the rule runs.
    pub status: RuleStatus,
    /// Moves of current objects to cheaper storage classes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
}

impl LifecycleRule {
    /// An enabled rule with no actions yet, for struct-update syntax.
    pub fn enabled(id: &str) -> Self {
        LifecycleRule {
            id: Some(id.to_owned()),
            prefix: None,
            status: RuleStatus::Enabled,
            expiration_in_days: None,
            noncurrent_version_expiration: None,
            abort_incomplete_multipart_upload: None,
            transitions: Vec::new(),
        }
    }
}

/// Lifecycle rule states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RuleStatus {
    /// The rule applies.
    Enabled,
    /// The rule is kept but does nothing.
    Disabled,
}

/// `NoncurrentVersionExpiration`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NoncurrentVersionExpiration {
    /// Newest old versions kept regardless of age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<u32>,
    /// Days after a version stops being current before it is removed.
    pub noncurrent_days: u32,
}

/// `AbortIncompleteMultipartUpload`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AbortIncompleteMultipartUpload {
    /// Days after an upload starts before its parts are deleted.
    pub days_after_initiation: u32,
}

/// `Transition`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Transition {
    /// Class the objects move to.
    pub storage_class: StorageClass,
    /// Days after creation before the move.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition_in_days: Option<u32>,
}

/// Storage classes a lifecycle transition can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    /// Infrequent access, multi-zone.
    StandardIa,
    /// Infrequent access, one zone.
    OnezoneIa,
    /// Moved between tiers by access pattern.
    IntelligentTiering,
    /// Glacier Instant Retrieval.
    GlacierIr,
    /// Glacier Flexible Retrieval.
    Glacier,
    /// Glacier Deep Archive.
    DeepArchive,
}

/// `PublicAccessBlockConfiguration`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicAccessBlockConfiguration {
    /// Reject requests that set public ACLs.
    pub block_public_acls: bool,
    /// Reject bucket policies that grant public access.
    pub block_public_policy: bool,
    /// Ignore public ACLs already present.
    pub ignore_public_acls: bool,
    /// Limit a public policy to AWS services and the bucket owner.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlockConfiguration {
    /// Every public-access guard on.
    pub fn all_blocked() -> Self {
        PublicAccessBlockConfiguration {
            block_public_acls: true,
            block_public_policy: true,
            ignore_public_acls: true,
            restrict_public_buckets: true,
        }
    }

    /// Whether every guard is on.
    pub fn is_all_blocked(&self) -> bool {
        self.block_public_acls
            && self.block_public_policy
            && self.ignore_public_acls
            && self.restrict_public_buckets
    }
}

/// `OwnershipControls`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OwnershipControls {
    /// The rules (S3 takes exactly one).
    pub rules: Vec<OwnershipControlsRule>,
}

impl OwnershipControls {
    /// The single rule S3 accepts.
    pub fn new(object_ownership: ObjectOwnership) -> Self {
        OwnershipControls {
            rules: vec![OwnershipControlsRule { object_ownership }],
        }
    }
}

/// `OwnershipControlsRule`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OwnershipControlsRule {
    /// Object ownership mode.
    pub object_ownership: ObjectOwnership,
}

/// Object ownership modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ObjectOwnership {
    /// ACLs are disabled; the bucket owner owns every object.
    BucketOwnerEnforced,
    /// ACLs work; objects uploaded with `bucket-owner-full-control` belong to the owner.
    BucketOwnerPreferred,
    /// ACLs work; the uploader owns the object.
    ObjectWriter,
}

/// `LoggingConfiguration`: S3 server access logs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfiguration {
    /// Bucket the logs go to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_bucket_name: Option<Expr>,
    /// Key prefix of the log objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file_prefix: Option<String>,
}

/// `AWS::S3::BucketPolicy`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketPolicy {
    /// Bucket name.
    pub bucket: Expr,
    /// The policy.
    pub policy_document: PolicyDocument,
}
impl ResourceProperties for BucketPolicy {
    const TYPE: &'static str = "AWS::S3::BucketPolicy";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sse_s3_uses_upper_case_algorithm_key_and_bucket_key() {
        let v = serde_json::to_value(BucketEncryption::sse_s3()).unwrap();
        assert_eq!(
            v,
            json!({"ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BucketKeyEnabled": true
            }]})
        );
    }

    #[test]
    fn kms_key_id_keeps_cloudformations_spelling() {
        let v = serde_json::to_value(ServerSideEncryptionByDefault {
            sse_algorithm: SseAlgorithm::AwsKms,
            kms_master_key_id: Some("k".into()),
        })
        .unwrap();
        assert_eq!(v, json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}));
    }

    #[test]
    fn lifecycle_rule_serialises_actions_and_skips_unset_ones() {
        let rule = LifecycleRule {
            prefix: Some("elb/".into()),
            expiration_in_days: Some(32),
            noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                noncurrent_days: 7,
                newer_noncurrent_versions: None,
            }),
            abort_incomplete_multipart_upload: Some(AbortIncompleteMultipartUpload {
                days_after_initiation: 1,
            }),
            transitions: vec![Transition {
                storage_class: StorageClass::StandardIa,
                transition_in_days: Some(30),
            }],
            ..LifecycleRule::enabled("Logs")
        };
        assert_eq!(
            serde_json::to_value(rule).unwrap(),
            json!({
                "Id": "Logs",
                "Prefix": "elb/",
                "Status": "Enabled",
                "ExpirationInDays": 32,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]
            })
        );
    }

    #[test]
    fn storage_classes_use_s3_names() {
        let names: Vec<_> = [
            StorageClass::OnezoneIa,
            StorageClass::IntelligentTiering,
            StorageClass::GlacierIr,
            StorageClass::DeepArchive,
        ]
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
        assert_eq!(
            names,
            vec![
                json!("ONEZONE_IA"),
                json!("INTELLIGENT_TIERING"),
                json!("GLACIER_IR"),
                json!("DEEP_ARCHIVE")
            ]
        );
    }

    #[test]
    fn public_access_block_and_ownership_serialise_in_cloudformation_form() {
        let bucket = Bucket {
            bucket_name: Some("b".into()),
            public_access_block_configuration: Some(PublicAccessBlockConfiguration::all_blocked()),
            ownership_controls: Some(OwnershipControls::new(
                ObjectOwnership::BucketOwnerPreferred,
            )),
            versioning_configuration: Some(VersioningConfiguration {
                status: VersioningStatus::Enabled,
            }),
            ..Bucket::default()
        };
        let v = serde_json::to_value(bucket).unwrap();
        assert_eq!(
            v["PublicAccessBlockConfiguration"],
            json!({
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true
            })
        );
        assert_eq!(
            v["OwnershipControls"],
            json!({"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
        );
        assert_eq!(v["VersioningConfiguration"], json!({"Status": "Enabled"}));
        assert!(v.get("Tags").is_none() && v.get("LifecycleConfiguration").is_none());
    }
}
