//! The artifacts bucket: where templates too large to send inline (over 51,200 bytes) are put
//! so CloudFormation can read them by `TemplateURL`.
//!
//! The bucket is created the first time a template needs it, one per account and region
//! (`ce-artifacts-<account>-<region>`), private, encrypted, and with a lifecycle rule that
//! expires uploaded templates after 30 days: CloudFormation keeps its own copy of every template
//! it deployed, so these objects are only needed while a change set is pending. Keys hold the
//! template's SHA-256, so uploading the same template twice writes the same object.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use crate::aws::{Aws, AwsError};

/// Days an uploaded template is kept.
pub const EXPIRE_DAYS: i32 = 30;
/// Prefix of every uploaded template.
pub const PREFIX: &str = "templates/";

/// The artifacts bucket's name for an account and region.
pub fn bucket_name(account: &str, region: &str) -> String {
    format!("ce-artifacts-{account}-{region}")
}

/// The key of a template: `templates/<env>/<stack>/<sha256>.json`.
pub fn template_key(env: &str, stack: &str, sha256: &str) -> String {
    format!("{PREFIX}{env}/{stack}/{sha256}.json")
}

/// The virtual-hosted URL CloudFormation reads a template from.
pub fn template_url(bucket: &str, region: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
}

/// The artifacts bucket of one account and region.
#[derive(Clone, Debug)]
pub struct Artifacts {
    client: Client,
    bucket: String,
    region: String,
}

fn build_error(what: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::Other {
        operation: what.to_owned(),
        code: "request not built".into(),
        message: e.to_string(),
    }
}

impl Artifacts {
    /// The bucket for `account` in `region`, through the shared configuration.
    pub fn new(aws: &Aws, account: &str, region: &str) -> Self {
        Artifacts {
            client: crate::aws::s3(aws),
            bucket: bucket_name(account, region),
            region: region.to_owned(),
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates and configures the bucket unless it exists. Returns whether it was created.
    pub async fn ensure(&self) -> Result<bool, AwsError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(false),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(AwsError::from_sdk("HeadBucket", None, e)),
        }
        let mut create = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the default location and must not be named.
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
            Err(e) => return Err(AwsError::from_sdk("CreateBucket", None, e)),
        }
        self.configure().await?;
        Ok(true)
    }

    async fn configure(&self) -> Result<(), AwsError> {
        self.client
            .put_public_access_block()
            .bucket(&self.bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutPublicAccessBlock", None, e))?;
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(|e| build_error("PutBucketEncryption", e))?;
        let encryption = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .build(),
            )
            .build()
            .map_err(|e| build_error("PutBucketEncryption", e))?;
        self.client
            .put_bucket_encryption()
            .bucket(&self.bucket)
            .server_side_encryption_configuration(encryption)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutBucketEncryption", None, e))?;
        let rule = LifecycleRule::builder()
            .id("expire-templates")
            .filter(LifecycleRuleFilter::builder().prefix(PREFIX).build())
            .status(ExpirationStatus::Enabled)
            .expiration(LifecycleExpiration::builder().days(EXPIRE_DAYS).build())
            .build()
            .map_err(|e| build_error("PutBucketLifecycleConfiguration", e))?;
        let lifecycle = BucketLifecycleConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(|e| build_error("PutBucketLifecycleConfiguration", e))?;
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .lifecycle_configuration(lifecycle)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutBucketLifecycleConfiguration", None, e))?;
        Ok(())
    }

    /// Uploads a template (creating the bucket first if needed) and returns its URL.
    pub async fn upload(
        &self,
        env: &str,
        stack: &str,
        sha256: &str,
        body: &str,
    ) -> Result<String, AwsError> {
        self.ensure().await?;
        let key = template_key(env, stack, sha256);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("PutObject", None, e))?;
        Ok(template_url(&self.bucket, &self.region, &key))
    }

    /// The SDK client, for tests that inspect the bucket.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_named_for_account_and_region_within_s3_limits() {
        let name = bucket_name("123456789012", "ap-southeast-2");
        assert_eq!(name, "ce-artifacts-123456789012-ap-southeast-2");
        assert!(name.len() <= 63);
    }

    #[test]
    fn a_template_url_points_at_its_key_in_the_bucket() {
        let key = template_key("prod", "compute", "abc");
        assert_eq!(key, "templates/prod/compute/abc.json");
        assert_eq!(
            template_url("ce-artifacts-1-us-east-1", "us-east-1", &key),
            "https://ce-artifacts-1-us-east-1.s3.us-east-1.amazonaws.com/templates/prod/compute/abc.json"
        );
    }
}
