//! The storage stack: everything that holds data. The shared EFS the compilers live on (with a
//! mount target in every zone and the env's explicit throughput mode, the lesson of the March
//! 2023 burst-credit outage), the builds, static and logs buckets, and the DynamoDB tables for
//! short links, deploy history and compiler builds.
//!
//! Every stateful resource here is retained on deletion and replacement: losing the links table
//! or the EFS to a stack mistake is not recoverable from the template.

use crate::config::{Billing, ThroughputMode as EnvThroughputMode};
use crate::model::dynamodb::{
    AttributeType, BillingMode, PointInTimeRecoverySpecification, ProvisionedThroughput,
    SseSpecification, Table,
};
use crate::model::efs::{
    AfterDays, BackupPolicy, BackupStatus, FileSystem, LifecyclePolicy, MountTarget,
    PerformanceMode, PrimaryStorageTransition, ThroughputMode,
};
use crate::model::iam::{PolicyDocument, Principal, Statement};
use crate::model::s3::{
    AbortIncompleteMultipartUpload, Bucket, BucketEncryption, BucketPolicy, LifecycleConfiguration,
    LifecycleRule, NoncurrentVersionExpiration, ObjectOwnership, OwnershipControls,
    PublicAccessBlockConfiguration, VersioningConfiguration, VersioningStatus,
};
use crate::model::{Expr, LogicalId, Template};

use super::network::zone_suffix;
use super::{Ctx, Export};

/// Logical id of the EFS file system.
pub const FILE_SYSTEM: &str = "FileSystem";
/// Logical id of the builds bucket.
pub const BUILDS_BUCKET: &str = "BuildsBucket";
/// Logical id of the static files bucket.
pub const STATIC_BUCKET: &str = "StaticBucket";
/// Logical id of the logs bucket.
pub const LOGS_BUCKET: &str = "LogsBucket";
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
    add_file_system(ctx, &mut t);
    add_buckets(ctx, &mut t);
    add_tables(ctx, &mut t);
    t
}

fn add_file_system(ctx: &Ctx<'_>, t: &mut Template) {
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

    ctx.export(
        t,
        Export::FileSystemId,
        "EFS file system id",
        Expr::reference(&fs),
    );
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
        .retain();
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
    .retain();

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
    .retain();
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

/// One DynamoDB table of the stack.
struct TableSpec {
    id: &'static str,
    suffix: &'static str,
    hash: &'static str,
    range: &'static str,
    point_in_time_recovery: bool,
    name_export: Export,
    arn_export: Export,
    what: &'static str,
}

const TABLES: [TableSpec; 3] = [
    TableSpec {
        id: "LinksTable",
        suffix: "links",
        hash: "prefix",
        range: "unique_subhash",
        // Short links are user data that cannot be regenerated.
        point_in_time_recovery: true,
        name_export: Export::LinksTableName,
        arn_export: Export::LinksTableArn,
        what: "Short links table",
    },
    TableSpec {
        id: "VersionsLogTable",
        suffix: "versionslog",
        hash: "buildId",
        range: "timestamp",
        point_in_time_recovery: false,
        name_export: Export::VersionsLogTableName,
        arn_export: Export::VersionsLogTableArn,
        what: "Deploy history table",
    },
    TableSpec {
        id: "CompilerBuildsTable",
        suffix: "compiler-builds",
        hash: "compiler",
        range: "timestamp",
        point_in_time_recovery: false,
        name_export: Export::CompilerBuildsTableName,
        arn_export: Export::CompilerBuildsTableArn,
        what: "Compiler build results table",
    },
];

fn add_tables(ctx: &Ctx<'_>, t: &mut Template) {
    let s = &ctx.env.file.storage;
    let (billing_mode, provisioned_throughput) = match s.table_billing {
        Billing::OnDemand => (BillingMode::PayPerRequest, None),
        // Missing capacities are a `validate` error; CloudFormation would reject the table.
        Billing::Provisioned => (
            BillingMode::Provisioned,
            s.table_read_capacity
                .zip(s.table_write_capacity)
                .map(|(read, write)| ProvisionedThroughput {
                    read_capacity_units: read,
                    write_capacity_units: write,
                }),
        ),
    };
    for spec in &TABLES {
        let id = LogicalId::new(spec.id);
        t.add(
            &id,
            Table {
                billing_mode: Some(billing_mode),
                provisioned_throughput: provisioned_throughput.clone(),
                point_in_time_recovery_specification: spec.point_in_time_recovery.then_some(
                    PointInTimeRecoverySpecification {
                        point_in_time_recovery_enabled: true,
                        recovery_period_in_days: None,
                    },
                ),
                sse_specification: Some(SseSpecification {
                    sse_enabled: true,
                    sse_type: None,
                    kms_master_key_id: None,
                }),
                deletion_protection_enabled: Some(ctx.env.file.protected),
                tags: ctx.tags(spec.suffix),
                ..Table::keyed(
                    ctx.resource_name(spec.suffix),
                    (spec.hash, AttributeType::S),
                    Some((spec.range, AttributeType::S)),
                )
            },
        )
        .retain();
        ctx.export(
            t,
            spec.name_export,
            &format!("{} name", spec.what),
            Expr::reference(&id),
        );
        ctx.export(
            t,
            spec.arn_export,
            &format!("{} ARN", spec.what),
            Expr::get_att(&id, "Arn"),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use super::*;
    use crate::config::{self, Env};
    use crate::render::lint::STATEFUL_TYPES;

    fn env(name: &str) -> Env {
        config::load(Path::new("envs"), name).expect("env file loads")
    }

    fn build_env(env: &Env) -> Template {
        build(&Ctx { env })
    }

    fn props<'t>(t: &'t Template, id: &str) -> &'t Value {
        &t.resources[&LogicalId::new(id)].properties
    }

    fn of_type<'t>(t: &'t Template, kind: &str) -> Vec<&'t Value> {
        t.resources
            .values()
            .filter(|r| r.kind == kind)
            .map(|r| &r.properties)
            .collect()
    }

    #[test]
    fn every_stateful_resource_is_retained() {
        for name in ["prod", "staging"] {
            let t = build_env(&env(name));
            let stateful: Vec<_> = t
                .resources
                .iter()
                .filter(|(_, r)| STATEFUL_TYPES.contains(&r.kind))
                .collect();
            assert_eq!(
                stateful.len(),
                7,
                "1 file system, 3 buckets, 3 tables in {name}"
            );
            for (id, r) in stateful {
                assert!(r.is_retained(), "{id} of {name} is not retained");
            }
        }
    }

    #[test]
    fn links_table_has_point_in_time_recovery() {
        let t = build_env(&env("prod"));
        assert_eq!(
            props(&t, "LinksTable")["PointInTimeRecoverySpecification"],
            json!({"PointInTimeRecoveryEnabled": true})
        );
    }

    #[test]
    fn tables_are_named_for_the_env_and_keyed_by_strings() {
        let t = build_env(&env("staging"));
        let links = props(&t, "LinksTable");
        assert_eq!(links["TableName"], "ce-staging-links");
        assert_eq!(
            links["KeySchema"][0],
            json!({"AttributeName": "prefix", "KeyType": "HASH"})
        );
        assert_eq!(
            links["KeySchema"][1],
            json!({"AttributeName": "unique_subhash", "KeyType": "RANGE"})
        );
        assert_eq!(
            props(&t, "VersionsLogTable")["TableName"],
            "ce-staging-versionslog"
        );
        assert_eq!(
            props(&t, "CompilerBuildsTable")["TableName"],
            "ce-staging-compiler-builds"
        );
        for table in of_type(&t, "AWS::DynamoDB::Table") {
            assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
            assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
            assert_eq!(table["DeletionProtectionEnabled"], false);
        }
    }

    #[test]
    fn protected_env_turns_on_table_deletion_protection() {
        let t = build_env(&env("prod"));
        for table in of_type(&t, "AWS::DynamoDB::Table") {
            assert_eq!(table["DeletionProtectionEnabled"], true);
        }
    }

    #[test]
    fn provisioned_billing_sets_capacities() {
        let mut e = env("staging");
        e.file.storage.table_billing = Billing::Provisioned;
        e.file.storage.table_read_capacity = Some(5);
        e.file.storage.table_write_capacity = Some(2);
        let t = build_env(&e);
        let links = props(&t, "LinksTable");
        assert_eq!(links["BillingMode"], "PROVISIONED");
        assert_eq!(
            links["ProvisionedThroughput"],
            json!({"ReadCapacityUnits": 5, "WriteCapacityUnits": 2})
        );
    }

    #[test]
    fn throughput_mode_follows_the_env() {
        let prod = build_env(&env("prod"));
        assert_eq!(props(&prod, FILE_SYSTEM)["ThroughputMode"], "elastic");
        let staging = build_env(&env("staging"));
        assert_eq!(props(&staging, FILE_SYSTEM)["ThroughputMode"], "bursting");
        assert!(
            props(&staging, FILE_SYSTEM)
                .get("ProvisionedThroughputInMibps")
                .is_none()
        );
    }

    #[test]
    fn provisioned_throughput_carries_its_mibps() {
        let mut e = env("staging");
        e.file.storage.efs_throughput_mode = EnvThroughputMode::Provisioned;
        e.file.storage.efs_provisioned_mibps = Some(128.0);
        let t = build_env(&e);
        assert_eq!(props(&t, FILE_SYSTEM)["ThroughputMode"], "provisioned");
        assert_eq!(
            props(&t, FILE_SYSTEM)["ProvisionedThroughputInMibps"],
            128.0
        );
    }

    #[test]
    fn file_system_is_encrypted_with_lifecycle_and_backup_from_the_env() {
        let prod = build_env(&env("prod"));
        let fs = props(&prod, FILE_SYSTEM);
        assert_eq!(fs["Encrypted"], true);
        assert_eq!(fs["PerformanceMode"], "generalPurpose");
        assert_eq!(
            fs["LifecyclePolicies"],
            json!([
                {"TransitionToIA": "AFTER_14_DAYS"},
                {"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"}
            ])
        );
        assert_eq!(fs["BackupPolicy"]["Status"], "ENABLED");
        let staging = build_env(&env("staging"));
        assert_eq!(
            props(&staging, FILE_SYSTEM)["BackupPolicy"]["Status"],
            "DISABLED"
        );
    }

    #[test]
    fn one_mount_target_per_zone_picks_that_zones_subnet() {
        for name in ["prod", "staging"] {
            let e = env(name);
            let t = build_env(&e);
            let targets = of_type(&t, "AWS::EFS::MountTarget");
            assert_eq!(targets.len(), e.file.network.zones.len(), "{name}");
        }
        let t = build_env(&env("prod"));
        let last = props(&t, "MountTargetUsEast1f");
        assert_eq!(
            last["SubnetId"],
            json!({"Fn::Select": ["4", {"Fn::Split": [",",
                {"Fn::ImportValue": "ce-prod-network-SubnetIds"}]}]})
        );
        assert_eq!(
            last["SecurityGroups"],
            json!([{"Fn::ImportValue": "ce-prod-network-EfsSecurityGroupId"}])
        );
        assert_eq!(last["FileSystemId"], json!({"Ref": FILE_SYSTEM}));
    }

    #[test]
    fn public_access_is_blocked_on_every_bucket() {
        let t = build_env(&env("prod"));
        let buckets = of_type(&t, "AWS::S3::Bucket");
        assert_eq!(buckets.len(), 3);
        for b in buckets {
            assert_eq!(
                b["PublicAccessBlockConfiguration"],
                json!({
                    "BlockPublicAcls": true,
                    "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true,
                    "RestrictPublicBuckets": true
                }),
                "{}",
                b["BucketName"]
            );
            assert_eq!(
                b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                    ["SSEAlgorithm"],
                "AES256"
            );
        }
    }

    #[test]
    fn builds_and_static_are_versioned_without_acls_and_expire_old_versions() {
        let t = build_env(&env("prod"));
        for id in [BUILDS_BUCKET, STATIC_BUCKET] {
            let b = props(&t, id);
            assert_eq!(b["VersioningConfiguration"]["Status"], "Enabled");
            assert_eq!(
                b["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
                "BucketOwnerEnforced"
            );
            let rules = &b["LifecycleConfiguration"]["Rules"];
            assert_eq!(rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"], 7);
            assert_eq!(
                rules[1]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"],
                1
            );
        }
        assert_eq!(
            props(&t, BUILDS_BUCKET)["BucketName"],
            "compiler-explorer-prod-builds"
        );
    }

    #[test]
    fn logs_expire_after_the_retention_days_and_accept_acls() {
        let mut e = env("prod");
        let t = build_env(&e);
        let logs = props(&t, LOGS_BUCKET);
        assert_eq!(
            logs["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"],
            32
        );
        assert!(
            logs["LifecycleConfiguration"]["Rules"][0]
                .get("Prefix")
                .is_none()
        );
        assert_eq!(
            logs["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
            "BucketOwnerPreferred"
        );
        e.file.storage.log_retention_days = 90;
        let t = build_env(&e);
        assert_eq!(
            props(&t, LOGS_BUCKET)["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"],
            90
        );
    }

    fn elb_statement(t: &Template) -> &Value {
        let doc = &props(t, "LogsBucketPolicy")["PolicyDocument"];
        doc["Statement"]
            .as_array()
            .and_then(|s| s.iter().find(|st| st["Sid"] == "LoadBalancerAccessLogs"))
            .expect("ELB statement")
    }

    #[test]
    fn elb_log_principal_is_the_legacy_account_in_old_regions() {
        let t = build_env(&env("prod"));
        let st = elb_statement(&t);
        assert_eq!(
            st["Principal"],
            json!({"AWS": ["arn:aws:iam::127311923021:root"]})
        );
        assert_eq!(st["Action"], json!(["s3:PutObject"]));
        assert_eq!(
            st["Resource"],
            json!([{"Fn::Sub": "${LogsBucket.Arn}/elb/AWSLogs/${AWS::AccountId}/*"}])
        );
        assert_eq!(
            elb_log_principal("eu-west-1"),
            Principal::Aws(vec!["arn:aws:iam::156460612806:root".into()])
        );
        assert_eq!(
            elb_log_principal("us-gov-west-1"),
            Principal::Aws(vec!["arn:aws-us-gov:iam::048591011584:root".into()])
        );
    }

    #[test]
    fn elb_log_principal_is_the_delivery_service_in_new_regions() {
        let mut e = env("staging");
        e.file.region = "eu-central-2".into();
        let t = build_env(&e);
        assert_eq!(
            elb_statement(&t)["Principal"],
            json!({"Service": [ELB_LOG_DELIVERY_SERVICE]})
        );
        assert_eq!(elb_log_account("ap-south-2"), None);
    }

    #[test]
    fn builds_and_logs_deny_requests_without_tls_and_static_has_no_policy_here() {
        let t = build_env(&env("prod"));
        for (policy, bucket) in [
            ("BuildsBucketPolicy", BUILDS_BUCKET),
            ("LogsBucketPolicy", LOGS_BUCKET),
        ] {
            let p = props(&t, policy);
            assert_eq!(p["Bucket"], json!({"Ref": bucket}));
            let deny = p["PolicyDocument"]["Statement"]
                .as_array()
                .and_then(|s| s.iter().find(|st| st["Effect"] == "Deny"))
                .expect("deny statement");
            assert_eq!(
                deny["Condition"],
                json!({"Bool": {"aws:SecureTransport": "false"}})
            );
            assert_eq!(deny["Resource"][0], json!({"Fn::GetAtt": [bucket, "Arn"]}));
        }
        assert_eq!(of_type(&t, "AWS::S3::BucketPolicy").len(), 2);
    }

    #[test]
    fn exports_cover_the_storage_contract() {
        let t = build_env(&env("staging"));
        let storage_exports: Vec<_> = Export::ALL
            .into_iter()
            .filter(|e| e.stack() == super::super::StackId::Storage)
            .collect();
        for export in &storage_exports {
            let out = &t.outputs[export.output_name()];
            let name = out.export.as_ref().and_then(|e| e.name.as_literal());
            assert_eq!(
                name,
                Some(format!("ce-staging-storage-{}", export.output_name()).as_str())
            );
        }
        assert_eq!(t.outputs.len(), storage_exports.len());
        assert_eq!(
            t.outputs["StaticBucketDomainName"].value,
            Expr::sub("${StaticBucket}.s3.${AWS::Region}.${AWS::URLSuffix}")
        );
        assert_eq!(
            t.outputs["FileSystemId"].value,
            Expr::Ref(FILE_SYSTEM.into())
        );
        assert_eq!(
            t.outputs["LinksTableArn"].value,
            Expr::GetAtt("LinksTable".into(), "Arn".into())
        );
    }
}
