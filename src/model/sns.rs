//! `AWS::SNS::Topic`: where alarms send their notifications, with its subscriptions inline, and
//! the topic policy that lets other services (Budgets) publish to it.

use serde::Serialize;

use super::iam::PolicyDocument;
use super::{Expr, ResourceProperties, Tag};

/// `AWS::SNS::Topic`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Topic {
    /// Sender name in email and SMS notifications (at most 100 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// KMS key for server-side encryption; unset: not encrypted at rest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<Expr>,
    /// Endpoints subscribed when the topic is created.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscription: Vec<Subscription>,
    /// Resource tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Region-unique topic name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
}
impl ResourceProperties for Topic {
    const TYPE: &'static str = "AWS::SNS::Topic";
}

/// `AWS::SNS::TopicPolicy`: who may publish to the topics besides their owner.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicPolicy {
    /// The policy.
    pub policy_document: PolicyDocument,
    /// Topic ARNs it applies to.
    pub topics: Vec<Expr>,
}
impl ResourceProperties for TopicPolicy {
    const TYPE: &'static str = "AWS::SNS::TopicPolicy";
}

/// One inline subscription.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subscription {
    /// Address, URL or ARN notifications go to.
    pub endpoint: Expr,
    /// How they are delivered.
    pub protocol: Protocol,
}

impl Subscription {
    /// An email subscription (the recipient must confirm it).
    pub fn email(address: &str) -> Self {
        Subscription {
            endpoint: address.into(),
            protocol: Protocol::Email,
        }
    }
}

/// Subscription protocols used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Plain-text email.
    Email,
    /// JSON email.
    EmailJson,
    /// HTTPS POST.
    Https,
    /// An SQS queue.
    Sqs,
    /// A Lambda function.
    Lambda,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_subscription_property_is_singular_and_protocols_are_lower_case() {
        let t = Topic {
            topic_name: Some("t".into()),
            subscription: vec![Subscription::email("a@example.com")],
            ..Default::default()
        };
        let v = serde_json::to_value(t).unwrap();
        assert_eq!(
            v["Subscription"],
            serde_json::json!([{"Endpoint": "a@example.com", "Protocol": "email"}])
        );
        assert!(v.get("KmsMasterKeyId").is_none());
        let json = serde_json::to_value(Protocol::EmailJson).unwrap();
        assert_eq!(json, "email-json");
    }
}
