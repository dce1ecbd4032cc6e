//! The storage stack: everything that holds data. The shared EFS the compilers live on
//! (`file_system`), the builds, static, logs and short-link storage buckets, and the DynamoDB
//! tables for short links, deploy history and compiler builds (`tables`).
//!
//! Every stateful resource here is retained on deletion and replacement: losing the links table
//! or the EFS to a stack mistake is not recoverable from the template.

use crate::model::iam::{PolicyDocument, Principal, Statement};
use crate::model::s3::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, BucketPolicy, LifecycleConfiguration,
    LifecycleRule, NoncurrentVersionExpiration, ObjectOwnership, OwnershipControls,
    PublicAccessBlockConfiguration, VersioningConfiguration, VersioningStatus,
};
use crate::model::{Expr, LogicalId, Template};

use super::{Ctx, Export, storage_paths, waivers};

mod file_system;
mod tables;

/// Logical id of the EFS file system.
pub const FILE_SYSTEM: &str = "FileSystem";
/// Logical id of the builds bucket.
pub const BUILDS_BUCKET: &str = "BuildsBucket";
/// Logical id of the static files bucket.
pub const STATIC_BUCKET: &str = "StaticBucket";
/// Logical id of the logs bucket.
pub const LOGS_BUCKET: &str = "LogsBucket";
/// Logical id of the short-link state and compile cache bucket.
pub const STORAGE_BUCKET: &str = "StorageBucket";
/// Key prefix the load balancer writes its access logs under.
pub const ELB_LOG_PREFIX: &str = "elb";

/// The service principal ELB writes access logs as in regions opened since August 2022.
pub const ELB_LOG_DELIVERY_SERVICE: &str = "logdelivery.elasticloadbalancing.amazonaws.com";

/// Regions opened before August 2022, where ELB writes access logs as a regional AWS account
/// (AWS docs, "Enable access logs for your Application Load Balancer").
const ELB_LOG_ACCOUNTS: [(&str, &str); 26] = [
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-southeast-3", "589379963580"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-3", "383597477331"),
    ("ap-northeast-2", "600734575887"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-northeast-1", "582318560864"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-south-1", "635631232127"),
    ("eu-west-3", "009996457667"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
    ("us-gov-west-1", "048591011584"),
    ("us-gov-east-1", "190560391635"),
    ("cn-north-1", "638102146993"),
    ("cn-northwest-1", "037604701340"),
];

/// The legacy ELB log-delivery account of a region, if it has one.
pub fn elb_log_account(region: &str) -> Option<&'static str> {
    ELB_LOG_ACCOUNTS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(_, account)| *account)
}

/// Who writes a region's ELB access logs: its legacy account, else the log-delivery service.
pub fn elb_log_principal(region: &str) -> Principal {
    match elb_log_account(region) {
        Some(account) => {
            let partition = if region.starts_with("us-gov-") {
                "aws-us-gov"
            } else if region.starts_with("cn-") {
                "aws-cn"
            } else {
                "aws"
            };
            Principal::Aws(vec![format!("arn:{partition}:iam::{account}:root").into()])
        }
        None => Principal::Service(vec![ELB_LOG_DELIVERY_SERVICE.to_owned()]),
    }
}

pub(super) fn build(ctx: &Ctx<'_>) -> Template {
    let mut t = Template::new(format!(
        "ce {} storage: EFS, S3 buckets and DynamoDB tables",
        ctx.env_name()
    ));
    file_system::add_file_system(ctx, &mut t);
    add_buckets(ctx, &mut t);
    add_storage_bucket(ctx, &mut t);
    tables::add_tables(ctx, &mut t);
    t
}

/// SSE-S3, all public access blocked: what every bucket of the stack starts from.
fn private_bucket(name: &str, tag: &str, ctx: &Ctx<'_>) -> Bucket {
    Bucket {
        bucket_name: Some(name.into()),
        bucket_encryption: Some(BucketEncryption::sse_s3()),
        public_access_block_configuration: Some(PublicAccessBlockConfiguration::all_blocked()),
        tags: ctx.tags(tag),
        ..Bucket::default()
    }
}

fn abort_incomplete_uploads() -> LifecycleRule {
    LifecycleRule {
        abort_incomplete_multipart_upload: Some(AbortIncompleteMultipartUpload {
            days_after_initiation: 1,
        }),
        ..LifecycleRule::enabled("AbortIncompleteUploads")
    }
}

/// A versioned, ACL-free bucket whose old versions expire: an overwritten build or static
/// file can be restored for a few days.
fn versioned_bucket(name: &str, tag: &str, ctx: &Ctx<'_>) -> Bucket {
    Bucket {
        versioning_configuration: Some(VersioningConfiguration {
            status: VersioningStatus::Enabled,
        }),
        ownership_controls: Some(OwnershipControls::new(ObjectOwnership::BucketOwnerEnforced)),
        lifecycle_configuration: Some(LifecycleConfiguration {
            rules: vec![
                LifecycleRule {
                    noncurrent_version_expiration: Some(NoncurrentVersionExpiration {
                        noncurrent_days: ctx.env.file.storage.noncurrent_version_days,
                        newer_noncurrent_versions: None,
                    }),
                    ..LifecycleRule::enabled("ExpireNoncurrentVersions")
                },
                abort_incomplete_uploads(),
            ],
        }),
        ..private_bucket(name, tag, ctx)
    }
}

/// Denies any request to the bucket or its objects that does not use TLS.
fn deny_insecure_transport(bucket: &LogicalId) -> Statement {
    Statement::deny(
        &["s3:*"],
        vec![
            Expr::get_att(bucket, "Arn"),
            Expr::sub(format!("${{{bucket}.Arn}}/*")),
        ],
    )
    .sid("DenyInsecureTransport")
    .principal(Principal::Aws(vec!["*".into()]))
    .condition("Bool", "aws:SecureTransport", "false".into())
}

fn add_buckets(ctx: &Ctx<'_>, t: &mut Template) {
    let s = &ctx.env.file.storage;

    let builds = LogicalId::new(BUILDS_BUCKET);
    t.add(&builds, versioned_bucket(&s.buckets.builds, "builds", ctx))
        .retain()
        .waive(
            waivers::ACCESS_LOGGING,
            "Written only by CI and read by nodes under their IAM roles; CloudTrail records both",
        );
    t.add(
        &LogicalId::new("BuildsBucketPolicy"),
        BucketPolicy {
            bucket: Expr::reference(&builds),
            policy_document: PolicyDocument::new(vec![deny_insecure_transport(&builds)]),
        },
    );

    // Its bucket policy (CloudFront's origin access control, TLS only) lives in the edge stack,
    // next to the distribution it names.
    let static_files = LogicalId::new(STATIC_BUCKET);
    t.add(
        &static_files,
        versioned_bucket(&s.buckets.static_files, "static", ctx),
    )
    .retain()
    .waive(
        waivers::ACCESS_LOGGING,
        "Read only through CloudFront, whose standard logs record every request",
    );

    let logs = LogicalId::new(LOGS_BUCKET);
    t.add(
        &logs,
        Bucket {
            // CloudFront standard logging writes through ACLs, which BucketOwnerEnforced disables.
            ownership_controls: Some(OwnershipControls::new(
                ObjectOwnership::BucketOwnerPreferred,
            )),
            lifecycle_configuration: Some(LifecycleConfiguration {
                rules: vec![
                    LifecycleRule {
                        expiration_in_days: Some(s.log_retention_days),
                        ..LifecycleRule::enabled("ExpireLogs")
                    },
                    abort_incomplete_uploads(),
                ],
            }),
            ..private_bucket(&s.buckets.logs, "logs", ctx)
        },
    )
    .retain()
    .waive(
        waivers::ACCESS_LOGGING,
        "This is the log bucket: logging its own access into itself would only loop",
    )
    .waive(
        waivers::VERSIONING,
        "Logs are written once and expire after the retention days; versions would outlive them",
    );
    let elb_writes = Statement::allow(
        &["s3:PutObject"],
        vec![Expr::sub(format!(
            "${{{logs}.Arn}}/{ELB_LOG_PREFIX}/AWSLogs/${{AWS::AccountId}}/*"
        ))],
    )
    .sid("LoadBalancerAccessLogs")
    .principal(elb_log_principal(&ctx.env.file.region));
    t.add(
        &LogicalId::new("LogsBucketPolicy"),
        BucketPolicy {
            bucket: Expr::reference(&logs),
            policy_document: PolicyDocument::new(vec![elb_writes, deny_insecure_transport(&logs)]),
        },
    );

    ctx.export(
        t,
        Export::BuildsBucketName,
        "Builds bucket name",
        Expr::reference(&builds),
    );
    ctx.export(
        t,
        Export::BuildsBucketArn,
        "Builds bucket ARN",
        Expr::get_att(&builds, "Arn"),
    );
    ctx.export(
        t,
        Export::StaticBucketName,
        "Static files bucket name",
        Expr::reference(&static_files),
    );
    ctx.export(
        t,
        Export::StaticBucketArn,
        "Static files bucket ARN",
        Expr::get_att(&static_files, "Arn"),
    );
    // The documented regional form of RegionalDomainName, which moto cannot GetAtt.
    ctx.export(
        t,
        Export::StaticBucketDomainName,
        "Static files bucket regional domain name",
        Expr::sub(format!(
            "${{{static_files}}}.s3.${{AWS::Region}}.${{AWS::URLSuffix}}"
        )),
    );
    ctx.export(
        t,
        Export::LogsBucketName,
        "Logs bucket name",
        Expr::reference(&logs),
    );
}

#[cfg(test)]
mod tests;

/// The live site's `storage.godbolt.org`: short-link state under `state/` (kept: a link is
/// forever) and the compile cache under `cache/` (a day). Versioned, so an overwritten or
/// deleted state object can be restored for `noncurrent_version_days`.
fn add_storage_bucket(ctx: &Ctx<'_>, t: &mut Template) {
    let s = &ctx.env.file.storage;
    let bucket = LogicalId::new(STORAGE_BUCKET);
    let mut storage = versioned_bucket(&s.buckets.storage, "storage", ctx);
    if let Some(lifecycle) = storage.lifecycle_configuration.as_mut() {
        lifecycle.rules.insert(
            0,
            LifecycleRule {
                prefix: Some(format!("{}/", storage_paths::CACHE)),
                expiration_in_days: Some(1),
                ..LifecycleRule::enabled("ExpireCache")
            },
        );
    }
    t.add(&bucket, storage).retain().waive(
        waivers::ACCESS_LOGGING,
        "Read and written only by nodes under their IAM role; CloudFront logs the user requests",
    );
    t.add(
        &LogicalId::new("StorageBucketPolicy"),
        BucketPolicy {
            bucket: Expr::reference(&bucket),
            policy_document: PolicyDocument::new(vec![deny_insecure_transport(&bucket)]),
        },
    );
    ctx.export(
        t,
        Export::StorageBucketName,
        "Short-link state and compile cache bucket name",
        Expr::reference(&bucket),
    );
    ctx.export(
        t,
        Export::StorageBucketArn,
        "Short-link state and compile cache bucket ARN",
        Expr::get_att(&bucket, "Arn"),
    );
}
