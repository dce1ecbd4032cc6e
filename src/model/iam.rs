//! `AWS::IAM::*` resource types and the typed policy documents shared by IAM roles, bucket
//! policies and topic policies.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Expr, ResourceProperties, Tag};

/// The policy language version every document declares.
pub const POLICY_VERSION: &str = "2012-10-17";

/// An IAM policy document.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    /// The statements.
    pub statement: Vec<Statement>,
    /// Always [`POLICY_VERSION`].
    pub version: &'static str,
}

impl PolicyDocument {
    /// A document of the given statements.
    pub fn new(statement: Vec<Statement>) -> Self {
        PolicyDocument {
            version: POLICY_VERSION,
            statement,
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Effect {
    /// Grants the actions.
    Allow,
    /// Forbids the actions, overriding any allow.
    Deny,
}

/// Who a resource policy or trust policy applies to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Principal {
    /// AWS services, e.g. `ec2.amazonaws.com`.
    Service(Vec<String>),
    /// AWS accounts or roles (ARNs or account ids).
    #[serde(rename = "AWS")]
    Aws(Vec<Expr>),
}

/// One policy statement.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// Actions, e.g. `s3:GetObject`.
    pub action: Vec<String>,
    /// Conditions: operator → key → values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: BTreeMap<String, BTreeMap<String, Expr>>,
    /// Allow or deny.
    pub effect: Effect,
    /// Principal, for resource and trust policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    /// Resources the statement covers (absent in trust policies).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<Expr>,
    /// Statement id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl Statement {
    /// An `Allow` of actions on resources.
    pub fn allow(actions: &[&str], resources: Vec<Expr>) -> Self {
        Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action: actions.iter().map(|a| (*a).to_owned()).collect(),
            resource: resources,
            condition: BTreeMap::new(),
        }
    }

    /// A `Deny` of actions on resources.
    pub fn deny(actions: &[&str], resources: Vec<Expr>) -> Self {
        Statement {
            effect: Effect::Deny,
            ..Statement::allow(actions, resources)
        }
    }

    /// Sets the statement id.
    pub fn sid(mut self, sid: &str) -> Self {
        self.sid = Some(sid.to_owned());
        self
    }

    /// Sets the principal.
    pub fn principal(mut self, principal: Principal) -> Self {
        self.principal = Some(principal);
        self
    }

    /// Adds a condition `operator: { key: value }`.
    pub fn condition(mut self, operator: &str, key: &str, value: Expr) -> Self {
        self.condition
            .entry(operator.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        self
    }
}

/// An inline policy of a role.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    /// The document.
    pub policy_document: PolicyDocument,
    /// Name, unique within the role.
    pub policy_name: String,
}

/// `AWS::IAM::Role`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    /// Who may assume the role.
    pub assume_role_policy_document: PolicyDocument,
    /// What the role is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// AWS-managed or customer-managed policies attached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managed_policy_arns: Vec<Expr>,
    /// Path of the role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Inline policies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Policy>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
impl ResourceProperties for Role {
    const TYPE: &'static str = "AWS::IAM::Role";
}

/// `AWS::IAM::InstanceProfile`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfile {
    /// Path of the profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The role (exactly one).
    pub roles: Vec<Expr>,
}
impl ResourceProperties for InstanceProfile {
    const TYPE: &'static str = "AWS::IAM::InstanceProfile";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_serialises_in_policy_language_form() {
        let s = Statement::allow(&["s3:GetObject"], vec![Expr::from("arn:aws:s3:::b/*")])
            .sid("Read")
            .principal(Principal::Service(vec!["cloudfront.amazonaws.com".into()]))
            .condition("StringEquals", "AWS:SourceArn", "arn".into());
        let v = serde_json::to_value(PolicyDocument::new(vec![s])).unwrap();
        assert_eq!(v["Version"], POLICY_VERSION);
        let st = &v["Statement"][0];
        assert_eq!(st["Effect"], "Allow");
        assert_eq!(st["Sid"], "Read");
        assert_eq!(st["Principal"]["Service"][0], "cloudfront.amazonaws.com");
        assert_eq!(st["Action"][0], "s3:GetObject");
        assert_eq!(st["Condition"]["StringEquals"]["AWS:SourceArn"], "arn");
    }

    #[test]
    fn aws_principal_uses_the_upper_case_key() {
        let v = serde_json::to_value(Principal::Aws(vec!["123".into()])).unwrap();
        assert_eq!(v, serde_json::json!({"AWS": ["123"]}));
    }
}
