//! The typed CloudFormation model: templates, intrinsic functions, and one module per AWS
//! service with the property structs of the resource types the architecture uses.
//!
//! Property structs use `#[serde(rename_all = "PascalCase")]` and skip unset optional fields, so
//! a misspelt property is a compile error and the rendered JSON holds only what was set.

pub mod autoscaling;
pub mod budgets;
pub mod cloudfront;
pub mod cloudwatch;
pub mod dynamodb;
pub mod ec2;
pub mod efs;
pub mod elbv2;
pub mod iam;
pub mod intrinsics;
pub mod json;
pub mod s3;
pub mod secretsmanager;
pub mod sns;
pub mod template;
pub mod wafv2;

pub use intrinsics::{Condition, Expr};
pub use template::{LogicalId, Output, Parameter, Resource, ResourceProperties, Template};

use serde::Serialize;

/// A resource tag.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: Expr,
}

impl Tag {
    /// A tag with a literal or computed value.
    pub fn new(key: impl Into<String>, value: impl Into<Expr>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Tags as rendered: sorted by key for stable output.
pub fn tags<K: Into<String>, V: Into<Expr>>(pairs: impl IntoIterator<Item = (K, V)>) -> Vec<Tag> {
    let mut tags: Vec<Tag> = pairs.into_iter().map(|(k, v)| Tag::new(k, v)).collect();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    tags
}

/// Serde helper: skip `false` booleans.
#[allow(dead_code)]
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
