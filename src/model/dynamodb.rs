//! `AWS::DynamoDB::Table`: the short-link, deploy-history and compiler-build tables.
//!
//! The key schema is typed as hash plus optional range key so a table cannot be written with
//! a key attribute that has no definition (CloudFormation only finds that at deploy time).

use serde::Serialize;

use super::{Expr, ResourceProperties, Tag};

/// `AWS::DynamoDB::Table`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Table {
    /// Types of the key attributes (and only those).
    pub attribute_definitions: Vec<AttributeDefinition>,
    /// On-demand or provisioned capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_mode: Option<BillingMode>,
    /// Refuse `DeleteTable` until switched off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection_enabled: Option<bool>,
    /// The primary key: hash, then optional range (changing it replaces the table).
    pub key_schema: Vec<KeySchemaElement>,
    /// Continuous backups with point-in-time restore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_in_time_recovery_specification: Option<PointInTimeRecoverySpecification>,
    /// Read/write capacity, for the provisioned mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    /// Encryption at rest with a KMS key.
    #[serde(rename = "SSESpecification", skip_serializing_if = "Option::is_none")]
    pub sse_specification: Option<SseSpecification>,
    /// Table name; CloudFormation generates one when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_name: Option<Expr>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Item expiry by a timestamp attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_live_specification: Option<TimeToLiveSpecification>,
}
impl ResourceProperties for Table {
    const TYPE: &'static str = "AWS::DynamoDB::Table";
}

impl Table {
    /// A table keyed by `hash` and optionally `range`, with matching attribute definitions.
    pub fn keyed(
        name: impl Into<Expr>,
        hash: (&str, AttributeType),
        range: Option<(&str, AttributeType)>,
    ) -> Self {
        let mut attribute_definitions = vec![AttributeDefinition::new(hash.0, hash.1)];
        let mut key_schema = vec![KeySchemaElement::new(hash.0, KeyType::Hash)];
        if let Some((name, kind)) = range {
            attribute_definitions.push(AttributeDefinition::new(name, kind));
            key_schema.push(KeySchemaElement::new(name, KeyType::Range));
        }
        Table {
            table_name: Some(name.into()),
            attribute_definitions,
            key_schema,
            ..Table::default()
        }
    }
}

/// `AttributeDefinition`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    /// Attribute name.
    pub attribute_name: String,
    /// Its scalar type.
    pub attribute_type: AttributeType,
}

impl AttributeDefinition {
    /// A definition of one key attribute.
    pub fn new(name: &str, attribute_type: AttributeType) -> Self {
        AttributeDefinition {
            attribute_name: name.to_owned(),
            attribute_type,
        }
    }
}

/// Scalar types a key attribute may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AttributeType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

/// `KeySchema` entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    /// Attribute name.
    pub attribute_name: String,
    /// Its role in the key.
    pub key_type: KeyType,
}

impl KeySchemaElement {
    /// One key element.
    pub fn new(name: &str, key_type: KeyType) -> Self {
        KeySchemaElement {
            attribute_name: name.to_owned(),
            key_type,
        }
    }
}

/// Roles of key attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyType {
    /// Partition key.
    Hash,
    /// Sort key.
    Range,
}

/// Capacity billing modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    /// On-demand: pay per request.
    PayPerRequest,
    /// Fixed read and write capacity units.
    Provisioned,
}

/// `ProvisionedThroughput`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedThroughput {
    /// Strongly consistent 4 KB reads per second.
    pub read_capacity_units: u32,
    /// 1 KB writes per second.
    pub write_capacity_units: u32,
}

/// `PointInTimeRecoverySpecification`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PointInTimeRecoverySpecification {
    /// Whether continuous backups run.
    pub point_in_time_recovery_enabled: bool,
    /// Days of restorable history (1-35; 35 when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_period_in_days: Option<u32>,
}

/// `SSESpecification`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SseSpecification {
    /// Customer-managed KMS key.
    #[serde(rename = "KMSMasterKeyId", skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<Expr>,
    /// KMS encryption (an AWS-owned key is used when off).
    #[serde(rename = "SSEEnabled")]
    pub sse_enabled: bool,
    /// Key type when enabled.
    #[serde(rename = "SSEType", skip_serializing_if = "Option::is_none")]
    pub sse_type: Option<SseType>,
}

/// Server-side encryption types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SseType {
    /// AWS KMS.
    #[serde(rename = "KMS")]
    Kms,
}

/// `TimeToLiveSpecification`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveSpecification {
    /// Attribute holding the expiry epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_name: Option<String>,
    /// Whether expiry runs.
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keyed_table_defines_exactly_its_key_attributes() {
        let t = Table::keyed(
            "links",
            ("prefix", AttributeType::S),
            Some(("unique_subhash", AttributeType::S)),
        );
        let v = serde_json::to_value(t).unwrap();
        assert_eq!(
            v,
            json!({
                "TableName": "links",
                "AttributeDefinitions": [
                    {"AttributeName": "prefix", "AttributeType": "S"},
                    {"AttributeName": "unique_subhash", "AttributeType": "S"}
                ],
                "KeySchema": [
                    {"AttributeName": "prefix", "KeyType": "HASH"},
                    {"AttributeName": "unique_subhash", "KeyType": "RANGE"}
                ]
            })
        );
    }

    #[test]
    fn acronym_properties_keep_cloudformations_spelling() {
        let t = Table {
            billing_mode: Some(BillingMode::PayPerRequest),
            sse_specification: Some(SseSpecification {
                sse_enabled: true,
                sse_type: Some(SseType::Kms),
                kms_master_key_id: None,
            }),
            point_in_time_recovery_specification: Some(PointInTimeRecoverySpecification {
                point_in_time_recovery_enabled: true,
                recovery_period_in_days: None,
            }),
            time_to_live_specification: Some(TimeToLiveSpecification {
                attribute_name: Some("expires".into()),
                enabled: true,
            }),
            deletion_protection_enabled: Some(true),
            ..Table::keyed("t", ("id", AttributeType::N), None)
        };
        let v = serde_json::to_value(t).unwrap();
        assert_eq!(v["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(
            v["SSESpecification"],
            json!({"SSEEnabled": true, "SSEType": "KMS"})
        );
        assert_eq!(
            v["PointInTimeRecoverySpecification"],
            json!({"PointInTimeRecoveryEnabled": true})
        );
        assert_eq!(
            v["TimeToLiveSpecification"],
            json!({"AttributeName": "expires", "Enabled": true})
        );
        assert_eq!(v["DeletionProtectionEnabled"], true);
    }

    #[test]
    fn provisioned_throughput_names_both_capacities() {
        let v = serde_json::to_value(ProvisionedThroughput {
            read_capacity_units: 5,
            write_capacity_units: 2,
        })
        .unwrap();
        assert_eq!(v, json!({"ReadCapacityUnits": 5, "WriteCapacityUnits": 2}));
        assert_eq!(
            serde_json::to_value(BillingMode::Provisioned).unwrap(),
            "PROVISIONED"
        );
    }
}
