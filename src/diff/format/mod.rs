//! Writing a diff for people and for programs: text (optionally coloured), JSON, and a unified
//! text diff of the two templates. The caller decides colour (TTY, `NO_COLOR`); markdown is
//! rendered by the caller from the JSON form.
//!
//! # JSON form (`format_version: 1`)
//! Field names are stable; new fields may be added, none renamed or removed without a new
//! `format_version`.
//! - top level: `format_version` (1), `env`, `class` (`no_changes` | `changes` |
//!   `needs_approval`), `exit_code` (0 | 2 | 3), `approval_reasons` (strings),
//!   `blocked_exports` (`export`, `exporter`, `change`, `importers`, `waiting` as
//!   `stack/LogicalId`, `steps`: what to do, in order), `stacks`.
//! - each stack: `stack_name`, `exists`, `resources`, `parameters`, `outputs`, `exports`,
//!   `template`, `data_loss`, `security`, `class`, `summary` (`add`, `modify`, `replace`,
//!   `remove`).
//! - resource: `logical_id`, `resource_type`, `action` (`add` | `remove` | `modify` |
//!   `replace`), `impact` (`create` | `update` | `may_replace` | `replace` | `orphan` |
//!   `destroy`), `basis` (`predicted` | `confirmed_by_change_set`), `predicted_impact` (only
//!   when a change set overruled the prediction), `changes`, `causes`, `reads`
//!   (`path`, `source`, `change`: `replaced` | `may_be_replaced` | `attribute_changes` |
//!   `export_changes`, `impact`), `consequences` (`kind`: `rolling_replacement` with
//!   `nodes` {`desired`, `min`, `max`}, `batch_size`, `batches`, `min_in_service`,
//!   `pause_time`, `suspended_processes`; `replacing_update`;
//!   `nodes_keep_old_configuration`; `scaled_size_kept` with `properties`) and `blocked_by`
//!   (export names whose change must come first).
//! - change: `path`, `location` (`property` | `attribute` | `template`), `old`, `new`
//!   (normalised JSON values, `null` when absent), `impact`.
//! - parameter / output: `name`, `action`, `changes` (outputs also `causes`).
//! - export: `name`, `change` (`added` | `removed` | `value_changed`), `imported`, `blocker`,
//!   `causes` (why the value changes, when it does), `imported_by` (stack names; empty unless
//!   diffed against deployed stacks).
//! - data_loss: `logical_id`, `resource_type`, `impact`, `policy` (`Delete` | `Retain` |
//!   `Snapshot` | `RetainExceptOnCreate`), `outcome` (`retained` | `snapshot` | `deleted`).
//! - security: `broadened`, `statements_added`, `statements_removed` (`resource`, `source`,
//!   `effect`, `principals`, `actions`, `not_actions`, `resources`, `not_resources`,
//!   `condition`, `wildcard`), `managed_policies_added`, `managed_policies_removed` (`role`,
//!   `arn`), `rules_added`, `rules_removed` (`group`, `direction`, `protocol`, `ports`,
//!   `peer`, `open_to_world`), `notes` (sentences on what the change means for traffic).

mod json;
mod text;
mod unified;

use serde_json::Value;

use crate::printer::Styles;

use super::normalise::{expr_text, intrinsic};

pub use json::{JsonStack, write_json};
pub use text::{write_stack_text, write_text, write_ways_forward};
pub use unified::write_unified;

/// Version of the JSON form.
pub const FORMAT_VERSION: u32 = 1;

/// Longest value shown in text output before it is cut.
const MAX_VALUE_CHARS: usize = 100;

/// A value on one line: intrinsics as `${Ref}` text, objects and lists in flow style, cut to
/// a readable length.
pub fn show(value: &Value) -> String {
    let text = match value {
        Value::String(s) if s.is_empty() => "\"\"".to_owned(),
        Value::String(s) => s.replace('\n', "\\n"),
        other => flow(other),
    };
    cut(&text)
}

fn flow(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let plain = !s.is_empty()
                && !s.contains([',', '{', '}', '[', ']', '\n', '"'])
                && !s.contains(": ");
            if plain {
                s.clone()
            } else {
                Value::String(s.clone()).to_string()
            }
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(flow).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(obj) if intrinsic(obj).is_some() => expr_text(value),
        Value::Object(obj) => format!(
            "{{{}}}",
            obj.iter()
                .map(|(k, v)| format!("{k}: {}", flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_show_on_one_line_in_flow_style() {
        assert_eq!(show(&json!("t3.large")), "t3.large");
        assert_eq!(show(&json!({"Ref": "Vpc"})), "${Vpc}");
        assert_eq!(
            show(&json!({"CidrIp": "0.0.0.0/0", "FromPort": "22", "GroupId": {"Ref": "Sg"}})),
            "{CidrIp: 0.0.0.0/0, FromPort: 22, GroupId: ${Sg}}"
        );
        assert_eq!(show(&json!(["a", "b, c"])), "[a, \"b, c\"]");
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(500);
        let shown = show(&json!(long));
        assert_eq!(shown.chars().count(), MAX_VALUE_CHARS);
        assert!(shown.ends_with('…'));
    }
}
