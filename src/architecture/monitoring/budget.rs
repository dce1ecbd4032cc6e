//! The env's monthly cost budget: spend above 80% of it, or a forecast above all of it,
//! notifies the alert topic, so a runaway scaling group or a forgotten env shows up within the
//! month. Costs are those tagged `Environment=<env>` (every resource carries the tag; it must
//! be activated as a cost allocation tag in the billing console).

use std::collections::BTreeMap;

use crate::model::budgets::{
    Budget, BudgetData, Notification, NotificationWithSubscribers, Spend, Subscriber,
};
use crate::model::iam::{PolicyDocument, Principal, Statement};
use crate::model::sns::TopicPolicy;
use crate::model::{Expr, LogicalId, Template};

use super::super::Ctx;

/// Logical id of the budget.
pub const BUDGET: &str = "MonthlyBudget";
/// Percent of the budget actually spent that notifies.
const ACTUAL_PERCENT: f64 = 80.0;
/// Percent of the budget the month's forecast may reach before it notifies.
const FORECAST_PERCENT: f64 = 100.0;

/// Adds the budget and the topic policy that lets AWS Budgets publish to `topic`.
pub(super) fn add_budget(ctx: &Ctx<'_>, t: &mut Template, topic: &LogicalId) {
    t.add(
        &LogicalId::new("AlertTopicPolicy"),
        TopicPolicy {
            policy_document: PolicyDocument::new(vec![
                Statement::allow(&["sns:Publish"], vec![Expr::reference(topic)])
                    .sid("BudgetsPublish")
                    .principal(Principal::Service(vec!["budgets.amazonaws.com".into()]))
                    .condition("StringEquals", "aws:SourceAccount", Expr::account_id()),
            ]),
            topics: vec![Expr::reference(topic)],
        },
    );
    let subscribers = || {
        vec![Subscriber {
            subscription_type: "SNS".into(),
            address: Expr::reference(topic),
        }]
    };
    t.add(
        &LogicalId::new(BUDGET),
        Budget {
            budget: BudgetData {
                budget_name: Some(ctx.resource_name("monthly")),
                budget_type: "COST".into(),
                time_unit: "MONTHLY".into(),
                budget_limit: Spend {
                    amount: ctx.env.file.alarms.monthly_budget_usd,
                    unit: "USD".into(),
                },
                cost_filters: BTreeMap::from([(
                    "TagKeyValue".to_owned(),
                    vec![format!("user:Environment${}", ctx.env_name())],
                )]),
            },
            notifications_with_subscribers: vec![
                NotificationWithSubscribers {
                    notification: Notification::above("ACTUAL", ACTUAL_PERCENT),
                    subscribers: subscribers(),
                },
                NotificationWithSubscribers {
                    notification: Notification::above("FORECASTED", FORECAST_PERCENT),
                    subscribers: subscribers(),
                },
            ],
        },
    )
    // Budgets checks that it may publish when the budget is created.
    .depends_on(&LogicalId::new("AlertTopicPolicy"));
}
