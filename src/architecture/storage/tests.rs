//! Specifications of the storage stack, read from the built templates of the real envs.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::architecture::Ctx;
use crate::config::{self, Env};
use crate::config::{Billing, ThroughputMode as EnvThroughputMode};
use crate::render::lint::STATEFUL_TYPES;

fn env(name: &str) -> Env {
    config::load(Path::new("envs"), name).expect("env file loads")
}

fn build_env(env: &Env) -> Template {
    build(&Ctx { env })
}

fn props(t: &Template, id: &str) -> Value {
    t.resources[&LogicalId::new(id)].properties.to_value()
}

fn of_type(t: &Template, kind: &str) -> Vec<Value> {
    t.resources
        .values()
        .filter(|r| r.kind == kind)
        .map(|r| r.properties.to_value())
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
            8,
            "1 file system, 4 buckets, 3 tables in {name}"
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
    assert_eq!(buckets.len(), 4);
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

fn elb_statement(t: &Template) -> Value {
    let doc = &props(t, "LogsBucketPolicy")["PolicyDocument"];
    doc["Statement"]
        .as_array()
        .and_then(|s| s.iter().find(|st| st["Sid"] == "LoadBalancerAccessLogs"))
        .expect("ELB statement")
        .clone()
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
        ("StorageBucketPolicy", STORAGE_BUCKET),
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
    assert_eq!(of_type(&t, "AWS::S3::BucketPolicy").len(), 3);
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

#[test]
fn storage_bucket_keeps_state_and_expires_the_cache_after_a_day() {
    let t = build_env(&env("prod"));
    let b = props(&t, STORAGE_BUCKET);
    assert_eq!(b["BucketName"], "compiler-explorer-prod-storage");
    assert_eq!(b["VersioningConfiguration"]["Status"], "Enabled");
    let rules = b["LifecycleConfiguration"]["Rules"].as_array().unwrap();
    assert_eq!(
        rules[0],
        json!({"Id": "ExpireCache", "Status": "Enabled", "Prefix": "cache/", "ExpirationInDays": 1})
    );
    // Nothing else expires current objects: state/ is kept.
    assert!(
        rules[1..]
            .iter()
            .all(|r| r.get("ExpirationInDays").is_none())
    );
    assert!(t.resources[&LogicalId::new(STORAGE_BUCKET)].is_retained());
}

#[test]
fn the_versions_log_and_links_have_point_in_time_recovery() {
    let t = build_env(&env("prod"));
    for table in ["LinksTable", "VersionsLogTable"] {
        assert_eq!(
            props(&t, table)["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true,
            "{table}"
        );
    }
}

fn efs_statement(t: &Template, sid: &str) -> Value {
    props(t, FILE_SYSTEM)["FileSystemPolicy"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
        .clone()
}

#[test]
fn file_system_policy_requires_tls_and_writes_through_access_points() {
    let t = build_env(&env("prod"));
    let deny = efs_statement(&t, "DenyWithoutTls");
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(
        deny["Condition"],
        json!({"Bool": {"aws:SecureTransport": "false"}})
    );
    let write = efs_statement(&t, "WriteThroughAccessPoints");
    assert_eq!(write["Action"], json!(["elasticfilesystem:ClientWrite"]));
    assert!(write["Condition"]["ArnLike"]["elasticfilesystem:AccessPointArn"].is_object());
    let mount = efs_statement(&t, "MountFromTheAccount");
    assert_eq!(mount["Action"], json!(["elasticfilesystem:ClientMount"]));
    // No statement grants root access or unconditioned writes to the nodes.
    let policy = props(&t, FILE_SYSTEM);
    let statements = policy["FileSystemPolicy"]["Statement"].as_array().unwrap();
    assert!(
        statements
            .iter()
            .all(|s| s["Sid"] == "AdminsInstallCompilers"
                || !s["Action"].to_string().contains("ClientRootAccess"))
    );
}

#[test]
fn admin_roles_from_the_env_may_install_compilers() {
    let mut e = env("staging");
    e.file.storage.efs_admin_role_arns = vec!["arn:aws:iam::123456789012:role/ce-admin".into()];
    let t = build_env(&e);
    let admins = efs_statement(&t, "AdminsInstallCompilers");
    assert_eq!(
        admins["Principal"],
        json!({"AWS": ["arn:aws:iam::123456789012:role/ce-admin"]})
    );
    assert!(
        admins["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("elasticfilesystem:ClientRootAccess"))
    );
}

#[test]
fn the_cache_access_point_pins_its_user_and_directory() {
    let t = build_env(&env("prod"));
    let ap = props(&t, "CacheAccessPoint");
    assert_eq!(ap["FileSystemId"], json!({"Ref": FILE_SYSTEM}));
    assert_eq!(ap["PosixUser"], json!({"Uid": "1000", "Gid": "1000"}));
    assert_eq!(ap["RootDirectory"]["Path"], "/ce-build-cache");
}

#[test]
fn accepted_scanner_findings_carry_their_reasons() {
    let t = build_env(&env("prod"));
    let logs = &t.resources[&LogicalId::new(LOGS_BUCKET)];
    let skips = &logs.metadata.as_ref().expect("waivers").checkov.skip;
    let ids: Vec<&str> = skips.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["CKV_AWS_18", "CKV_AWS_21"]);
    assert!(skips.iter().all(|w| !w.comment.is_empty()));
    // Tables with point-in-time recovery are not waived for it.
    let links = &t.resources[&LogicalId::new("LinksTable")];
    assert!(
        links
            .metadata
            .as_ref()
            .unwrap()
            .checkov
            .skip
            .iter()
            .all(|w| w.id != "CKV_AWS_28")
    );
}
