//! Rules for `[storage]`: EFS throughput and lifecycle, bucket names, DynamoDB billing.
//! Settings that only make sense together (a mode and its figures) are checked together.

use super::{Problems, shapes};
use crate::config::{Billing, Storage, ThroughputMode};

/// EFS lifecycle periods (days) AWS accepts for transition to Infrequent Access.
const IA_DAYS: &[u32] = &[1, 7, 14, 30, 60, 90, 180, 270, 365];

/// EFS, buckets and tables.
pub(super) fn check_storage(s: &Storage, p: &mut Problems) {
    let key = "storage.efs_provisioned_mibps";
    match (s.efs_throughput_mode, s.efs_provisioned_mibps) {
        (ThroughputMode::Provisioned, None) => p.add(
            key,
            "required when efs_throughput_mode is \"provisioned\" (1 to 3414 MiB/s)",
        ),
        (ThroughputMode::Provisioned, Some(v)) if !(1.0..=3414.0).contains(&v) => {
            p.add(key, format!("{v} is out of range: allowed 1 to 3414 MiB/s"))
        }
        (ThroughputMode::Bursting | ThroughputMode::Elastic, Some(_)) => p.add(
            key,
            "only allowed when efs_throughput_mode is \"provisioned\"; remove it",
        ),
        _ => {}
    }
    if let Some(days) = s.efs_transition_to_ia_days
        && !IA_DAYS.contains(&days)
    {
        p.add(
            "storage.efs_transition_to_ia_days",
            format!(
                "{days} is not an EFS lifecycle period; use 1, 7, 14, 30, 60, 90, 180, 270 or 365"
            ),
        );
    }
    for (i, arn) in s.efs_admin_role_arns.iter().enumerate() {
        if !is_role_arn(arn) {
            p.add(
                format!("storage.efs_admin_role_arns[{i}]"),
                format!(
                    "{arn:?} is not an IAM role ARN such as arn:aws:iam::123456789012:role/admin"
                ),
            );
        }
    }
    p.unique("storage.efs_admin_role_arns", &s.efs_admin_role_arns, false);
    let b = &s.buckets;
    let buckets = [
        ("builds", &b.builds),
        ("static", &b.static_files),
        ("logs", &b.logs),
        ("storage", &b.storage),
    ];
    for (name, bucket) in buckets {
        if let Some(why) = shapes::bucket_name_problem(bucket) {
            p.add(
                format!("storage.buckets.{name}"),
                format!("{bucket:?} is not a valid S3 bucket name: it {why}"),
            );
        }
    }
    for (i, (name, bucket)) in buckets.iter().enumerate() {
        if let Some((other, _)) = buckets[..i].iter().find(|(_, b)| b == bucket) {
            p.add(
                format!("storage.buckets.{name}"),
                format!("same bucket as storage.buckets.{other}; each needs its own"),
            );
        }
    }
    if s.log_retention_days < 1 {
        p.add("storage.log_retention_days", "must be at least 1 day");
    }
    if s.noncurrent_version_days < 1 {
        p.add("storage.noncurrent_version_days", "must be at least 1 day");
    }
    let capacities = [
        ("storage.table_read_capacity", s.table_read_capacity),
        ("storage.table_write_capacity", s.table_write_capacity),
    ];
    for (key, capacity) in capacities {
        match (s.table_billing, capacity) {
            (Billing::Provisioned, None) => p.add(
                key,
                "required when table_billing is \"provisioned\" (at least 1)",
            ),
            (Billing::Provisioned, Some(0)) => p.add(key, "must be at least 1"),
            (Billing::OnDemand, Some(_)) => p.add(
                key,
                "only allowed when table_billing is \"provisioned\"; remove it",
            ),
            _ => {}
        }
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`.
fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && shapes::is_account_id(account)
            && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty()))
}
