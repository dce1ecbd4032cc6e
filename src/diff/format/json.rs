//! The JSON form, whose fields the parent module documents.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use super::FORMAT_VERSION;
use std::collections::BTreeMap;

use crate::diff::blocked::BlockedExport;
use crate::diff::model::{DiffClass, EnvDiff, StackDiff, Summary};

#[derive(Serialize)]
struct JsonDoc<'a> {
    format_version: u32,
    env: &'a str,
    class: DiffClass,
    exit_code: u8,
    approval_reasons: Vec<String>,
    blocked_exports: Vec<BlockedExport>,
    stacks: Vec<JsonStack<'a>>,
}

#[derive(Serialize)]
struct JsonStack<'a> {
    #[serde(flatten)]
    diff: &'a StackDiff,
    class: DiffClass,
    summary: Summary,
}

fn json_doc(diff: &EnvDiff) -> JsonDoc<'_> {
    JsonDoc {
        format_version: FORMAT_VERSION,
        env: &diff.env,
        class: diff.class(),
        exit_code: diff.class().exit_code(),
        approval_reasons: diff.approval_reasons(),
        blocked_exports: diff.blocked_exports_ways(&BTreeMap::new()),
        stacks: diff
            .stacks
            .iter()
            .map(|s| JsonStack {
                diff: s,
                class: s.class(),
                summary: s.summary(),
            })
            .collect(),
    }
}

/// The JSON form (see the module documentation) as a value, e.g. for a handlebars report.
pub fn to_json(diff: &EnvDiff) -> Value {
    serde_json::to_value(json_doc(diff)).unwrap_or(Value::Null)
}

/// Writes the JSON form, pretty-printed in field order, with a trailing newline.
pub fn write_json(out: &mut dyn Write, diff: &EnvDiff) -> io::Result<()> {
    let text = serde_json::to_string_pretty(&json_doc(diff)).map_err(io::Error::other)?;
    writeln!(out, "{text}")
}
