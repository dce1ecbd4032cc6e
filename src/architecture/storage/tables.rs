//! The DynamoDB tables: short links, the deploy history (`versionslog`, who deployed what) and
//! compiler build results. The two that record history nobody can regenerate have
//! point-in-time recovery.

use crate::config::Billing;
use crate::model::dynamodb::{
    AttributeType, BillingMode, PointInTimeRecoverySpecification, ProvisionedThroughput,
    SseSpecification, Table,
};
use crate::model::{Expr, LogicalId, Template};

use super::super::{Ctx, Export, waivers};

/// One DynamoDB table of the stack.
pub(super) struct TableSpec {
    id: &'static str,
    suffix: &'static str,
    hash: &'static str,
    range: &'static str,
    point_in_time_recovery: bool,
    /// Why a table without point-in-time recovery can do without.
    why_no_recovery: &'static str,
    name_export: Export,
    arn_export: Export,
    what: &'static str,
}

pub(super) const TABLES: [TableSpec; 3] = [
    TableSpec {
        id: "LinksTable",
        suffix: "links",
        hash: "prefix",
        range: "unique_subhash",
        // Short links are user data that cannot be regenerated.
        point_in_time_recovery: true,
        why_no_recovery: "",
        name_export: Export::LinksTableName,
        arn_export: Export::LinksTableArn,
        what: "Short links table",
    },
    TableSpec {
        id: "VersionsLogTable",
        suffix: "versionslog",
        hash: "buildId",
        range: "timestamp",
        // The record of who deployed what: an audit trail is only one if it survives mistakes.
        point_in_time_recovery: true,
        why_no_recovery: "",
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
        why_no_recovery: "Results of nightly compiler builds: the next night's builds write them again",
        name_export: Export::CompilerBuildsTableName,
        arn_export: Export::CompilerBuildsTableArn,
        what: "Compiler build results table",
    },
];

pub(super) fn add_tables(ctx: &Ctx<'_>, t: &mut Template) {
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
        let resource = t.add(
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
        .retain()
        .waive(
            waivers::TABLE_CMK,
            "Encrypted at rest with the AWS owned key; IAM, not a key policy, decides who reads",
        );
        if !spec.point_in_time_recovery {
            resource.waive(waivers::TABLE_PITR, spec.why_no_recovery);
        }
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
