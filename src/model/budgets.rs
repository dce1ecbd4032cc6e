//! `AWS::Budgets::Budget`: a monthly cost budget with alerts, so a runaway scaling group or a
//! forgotten env shows up within the month instead of on the invoice.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Expr, ResourceProperties};

/// `AWS::Budgets::Budget`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Budget {
    /// The budget itself.
    pub budget: BudgetData,
    /// Alerts and who gets them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications_with_subscribers: Vec<NotificationWithSubscribers>,
}
impl ResourceProperties for Budget {
    const TYPE: &'static str = "AWS::Budgets::Budget";
}

/// `BudgetData`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BudgetData {
    /// The amount.
    pub budget_limit: Spend,
    /// Account-unique name (create-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_name: Option<String>,
    /// `COST` here.
    pub budget_type: String,
    /// Which costs count: `TagKeyValue` → `user:<key>$<value>`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub cost_filters: BTreeMap<String, Vec<String>>,
    /// `MONTHLY` here.
    pub time_unit: String,
}

/// `Spend`: an amount of money.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Spend {
    /// Amount (a number; CloudFormation takes it as a number).
    pub amount: f64,
    /// `USD`.
    pub unit: String,
}

/// One alert and its subscribers.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationWithSubscribers {
    /// When it fires.
    pub notification: Notification,
    /// Who hears (one to ten).
    pub subscribers: Vec<Subscriber>,
}

/// `Notification`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Notification {
    /// `GREATER_THAN`.
    pub comparison_operator: String,
    /// `ACTUAL` or `FORECASTED` spend.
    pub notification_type: String,
    /// Percentage of the limit.
    pub threshold: f64,
    /// `PERCENTAGE`.
    pub threshold_type: String,
}

/// `Subscriber`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subscriber {
    /// Topic ARN or address.
    pub address: Expr,
    /// `SNS` or `EMAIL`.
    pub subscription_type: String,
}

impl Notification {
    /// Spend (`ACTUAL` or `FORECASTED`) above `percent` of the limit.
    pub fn above(kind: &str, percent: f64) -> Self {
        Notification {
            notification_type: kind.to_owned(),
            comparison_operator: "GREATER_THAN".into(),
            threshold: percent,
            threshold_type: "PERCENTAGE".into(),
        }
    }
}
