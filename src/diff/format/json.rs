//! The JSON form, whose fields the parent module documents.

use std::io::{self, Write};

use serde::Serialize;

use std::collections::BTreeMap;

use super::FORMAT_VERSION;

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

/// One stack's entry of the JSON form.
#[derive(Clone, Debug, Serialize)]
pub struct JsonStack<'a> {
    /// The diff's own fields.
    #[serde(flatten)]
    pub diff: &'a StackDiff,
    /// Its class (a plan may know better than the diff: an empty change set).
    pub class: DiffClass,
    /// Per-action counts.
    pub summary: Summary,
}

impl<'a> JsonStack<'a> {
    /// The entry of `diff`.
    pub fn new(diff: &'a StackDiff) -> Self {
        JsonStack {
            diff,
            class: diff.class(),
            summary: diff.summary(),
        }
    }
}

fn json_doc(diff: &EnvDiff) -> JsonDoc<'_> {
    JsonDoc {
        format_version: FORMAT_VERSION,
        env: &diff.env,
        class: diff.class(),
        exit_code: diff.class().exit_code(),
        approval_reasons: diff.approval_reasons(),
        blocked_exports: diff.blocked_exports_ways(&BTreeMap::new()),
        stacks: diff.stacks.iter().map(JsonStack::new).collect(),
    }
}

/// Writes the JSON form, pretty-printed in field order, with a trailing newline.
pub fn write_json(out: &mut dyn Write, diff: &EnvDiff) -> io::Result<()> {
    let text = serde_json::to_string_pretty(&json_doc(diff)).map_err(io::Error::other)?;
    writeln!(out, "{text}")
}
