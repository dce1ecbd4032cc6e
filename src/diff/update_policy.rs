//! What an Auto Scaling group's `UpdatePolicy` makes of an update, read from the rendered
//! template for each group on its own (an env may run several, e.g. one per release colour).
//!
//! CloudFormation applies `AutoScalingRollingUpdate` or `AutoScalingReplacingUpdate` when an
//! update changes the group's `LaunchConfigurationName`, `LaunchTemplate`,
//! `MixedInstancesPolicy`, `PlacementGroup` or `VPCZoneIdentifier` — including a
//! `LaunchTemplate.Version` that reads a launch template's moving `LatestVersionNumber`. A
//! rolling update replaces every node, a batch at a time; a replacing update (`WillReplace`)
//! creates a new group and deletes the old one, which is a replacement of the resource.
//! Without either policy the running nodes keep their old configuration. Independently,
//! `AutoScalingScheduledAction.IgnoreUnmodifiedGroupSizeProperties` leaves the sizes scaling
//! set alone when the template does not change them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Action, Consequence, GroupSize, Impact, ResourceDiff};
use super::normalise::NormTemplate;
use super::spread::changed_paths;

const GROUP: &str = "AWS::AutoScaling::AutoScalingGroup";

/// The group properties whose change sets the update policy to work.
const POLICY_TRIGGERS: &[&str] = &[
    "LaunchConfigurationName",
    "LaunchTemplate",
    "MixedInstancesPolicy",
    "PlacementGroup",
    "VPCZoneIdentifier",
];

const SIZE_PROPERTIES: &[&str] = &["DesiredCapacity", "MaxSize", "MinSize"];

/// Sets the consequences of every updated Auto Scaling group; returns whether a replacing
/// update turned an update into a replacement (which then spreads).
pub(crate) fn apply(new: &NormTemplate, diffs: &mut BTreeMap<String, ResourceDiff>) -> bool {
    let mut replaced = false;
    for (id, d) in diffs.iter_mut() {
        if d.resource_type != GROUP || d.action != Action::Modify || d.impact != Impact::Update {
            continue;
        }
        let Some(resource) = new.resources.get(id) else {
            continue;
        };
        let policy = resource.attributes.get("UpdatePolicy");
        let paths = changed_paths(d);
        let touches = |key: &str| {
            paths.iter().any(|p| {
                p.strip_prefix(key)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
        };
        let mut consequences = Vec::new();
        if let Some(trigger) = POLICY_TRIGGERS.iter().find(|k| touches(k)) {
            let rolling = policy.and_then(|p| p.get("AutoScalingRollingUpdate"));
            let replacing = policy
                .and_then(|p| p.get("AutoScalingReplacingUpdate"))
                .and_then(|r| r.get("WillReplace"))
                .is_some_and(is_true);
            if replacing {
                consequences.push(Consequence::ReplacingUpdate);
                d.impact = Impact::Replace;
                d.causes.push(format!(
                    "{trigger} changes and the UpdatePolicy's AutoScalingReplacingUpdate \
                     replaces the group"
                ));
                d.settle_action();
                replaced = true;
            } else if let Some(rolling) = rolling {
                consequences.push(rolling_replacement(&resource.properties, rolling));
            } else {
                consequences.push(Consequence::NodesKeepOldConfiguration);
            }
        }
        let keeps_size = policy
            .and_then(|p| p.get("AutoScalingScheduledAction"))
            .and_then(|s| s.get("IgnoreUnmodifiedGroupSizeProperties"))
            .is_some_and(is_true);
        if keeps_size {
            let kept: Vec<String> = SIZE_PROPERTIES
                .iter()
                .filter(|k| resource.properties.get(**k).is_some() && !touches(k))
                .map(|k| (*k).to_owned())
                .collect();
            if !kept.is_empty() {
                consequences.push(Consequence::ScaledSizeKept { properties: kept });
            }
        }
        d.consequences = consequences;
    }
    replaced
}

fn rolling_replacement(properties: &Value, rolling: &Value) -> Consequence {
    let nodes = GroupSize {
        desired: number(properties.get("DesiredCapacity")),
        min: number(properties.get("MinSize")),
        max: number(properties.get("MaxSize")),
    };
    // CloudFormation's defaults when the policy leaves them out.
    let batch_size = number(rolling.get("MaxBatchSize")).unwrap_or(1).max(1);
    Consequence::RollingReplacement {
        nodes,
        batch_size,
        batches: nodes.desired.map(|n| n.div_ceil(batch_size)),
        min_in_service: number(rolling.get("MinInstancesInService")).unwrap_or(0),
        pause_time: rolling
            .get("PauseTime")
            .and_then(Value::as_str)
            .map(str::to_owned),
        suspended_processes: rolling
            .get("SuspendProcesses")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A canonical scalar (the diff stringifies numbers) as a count.
fn number(value: Option<&Value>) -> Option<u32> {
    match value? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    }
}

fn is_true(value: &Value) -> bool {
    matches!(value, Value::Bool(true)) || value.as_str() == Some("true")
}

impl Consequence {
    /// The consequence in one sentence, for text output.
    pub fn describe(&self) -> String {
        match self {
            Consequence::RollingReplacement {
                nodes,
                batch_size,
                batches,
                min_in_service,
                pause_time,
                suspended_processes,
            } => {
                let count = match nodes.desired {
                    Some(1) => "its 1 node".to_owned(),
                    Some(n) => format!("all {n} nodes"),
                    None => format!(
                        "every node (the group's current size, {}–{})",
                        nodes.min.map_or("?".into(), |n| n.to_string()),
                        nodes.max.map_or("?".into(), |n| n.to_string())
                    ),
                };
                let mut text = format!(
                    "rolling replacement of {count}, {batch_size} at a time{}, at least \
                     {min_in_service} in service",
                    batches.map_or(String::new(), |b| format!(
                        " ({b} batch{})",
                        if b == 1 { "" } else { "es" }
                    ))
                );
                if let Some(pause) = pause_time {
                    text.push_str(&format!(", pausing {pause} after each batch"));
                }
                if !suspended_processes.is_empty() {
                    text.push_str(&format!(
                        "; suspends {} meanwhile",
                        suspended_processes.join(", ")
                    ));
                }
                text.push_str(" (UpdatePolicy AutoScalingRollingUpdate)");
                text
            }
            Consequence::ReplacingUpdate => "a new group replaces the old one, which is deleted \
                 once the new one is healthy (UpdatePolicy AutoScalingReplacingUpdate)"
                .to_owned(),
            Consequence::NodesKeepOldConfiguration => "running nodes keep the old configuration \
                 until scaling replaces them (no update policy)"
                .to_owned(),
            Consequence::ScaledSizeKept { properties } => format!(
                "{} stay as scaling left them (IgnoreUnmodifiedGroupSizeProperties)",
                properties.join(", ")
            ),
        }
    }
}
