//! `AWS::S3::*` resource types.

use serde::Serialize;

use super::iam::PolicyDocument;
use super::{Expr, ResourceProperties};

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
