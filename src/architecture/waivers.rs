//! The checkov checks the architecture accepts, by id. Each waiver is written where its
//! resource is built, with the one-line reason a reviewer reads in the template's `Metadata`;
//! `ce validate` refuses a waiver without one, and the checkov test fails on any finding that
//! is not waived.

/// CKV_AWS_18: S3 server access logging.
pub const ACCESS_LOGGING: &str = "CKV_AWS_18";
/// CKV_AWS_21: S3 versioning.
pub const VERSIONING: &str = "CKV_AWS_21";
/// CKV_AWS_28: DynamoDB point-in-time recovery.
pub const TABLE_PITR: &str = "CKV_AWS_28";
/// CKV_AWS_119: DynamoDB encryption with a customer managed KMS key.
pub const TABLE_CMK: &str = "CKV_AWS_119";
/// CKV_AWS_26: SNS topic encryption.
pub const TOPIC_ENCRYPTION: &str = "CKV_AWS_26";
/// CKV_AWS_149: Secrets Manager encryption with a customer managed KMS key.
pub const SECRET_CMK: &str = "CKV_AWS_149";
/// CKV_AWS_111: IAM write access without resource constraints.
pub const UNCONSTRAINED_WRITE: &str = "CKV_AWS_111";
