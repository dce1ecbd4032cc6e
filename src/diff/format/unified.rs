//! A unified text diff of the two templates (`ce diff --unified`), for readers who want the
//! raw JSON change rather than the analysis.

use std::io::{self, Write};

use serde_json::{Map, Value};
use similar::{ChangeTag, TextDiff};

use super::Styles;

/// `deployed/<stack>` and `rendered/<stack>`; nothing when they are the same text.
pub fn write_unified(
    out: &mut dyn Write,
    stack_name: &str,
    deployed: Option<&Value>,
    rendered: &Value,
    colour: bool,
) -> io::Result<()> {
    let old = deployed.map(pretty).unwrap_or_default();
    let new = pretty(rendered);
    let diff = TextDiff::from_lines(&old, &new);
    let mut unified = diff.unified_diff();
    unified.context_radius(3);
    let (a, b) = (
        format!("deployed/{stack_name}"),
        format!("rendered/{stack_name}"),
    );
    if !colour {
        unified.header(&a, &b);
        return unified.to_writer(out);
    }
    let p = Styles::new(true);
    let mut first = true;
    for hunk in unified.iter_hunks() {
        if std::mem::take(&mut first) {
            writeln!(out, "{}", p.bold(&format!("--- {a}")))?;
            writeln!(out, "{}", p.bold(&format!("+++ {b}")))?;
        }
        writeln!(
            out,
            "{}",
            p.paint(
                anstyle::AnsiColor::Cyan.on_default(),
                &hunk.header().to_string()
            )
        )?;
        for change in hunk.iter_changes() {
            let line = change.value().trim_end_matches('\n');
            let text = match change.tag() {
                ChangeTag::Delete => p.red(&format!("-{line}")),
                ChangeTag::Insert => p.green(&format!("+{line}")),
                ChangeTag::Equal => format!(" {line}"),
            };
            writeln!(out, "{text}")?;
        }
    }
    Ok(())
}

/// Pretty JSON with sorted keys and a trailing newline.
fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(obj) => {
            let mut keys: Vec<&String> = obj.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&obj[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unified_diff_labels_both_sides_and_is_empty_when_equal() {
        let a = json!({"Resources": {"A": {"Type": "T", "Properties": {"X": 1}}}});
        let b = json!({"Resources": {"A": {"Properties": {"X": 2}, "Type": "T"}}});
        let mut out = Vec::new();
        write_unified(&mut out, "s", Some(&a), &b, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("--- deployed/s\n+++ rendered/s\n@@"),
            "{text}"
        );
        assert!(
            text.contains("-        \"X\": 1\n+        \"X\": 2\n"),
            "{text}"
        );
        let mut same = Vec::new();
        write_unified(&mut same, "s", Some(&a), &a, false).unwrap();
        assert!(same.is_empty());
    }

    #[test]
    fn colour_only_when_asked() {
        let a = json!({"X": 1});
        let mut plain = Vec::new();
        write_unified(&mut plain, "s", None, &a, false).unwrap();
        assert!(!String::from_utf8(plain).unwrap().contains('\x1b'));
        let mut coloured = Vec::new();
        write_unified(&mut coloured, "s", None, &a, true).unwrap();
        assert!(String::from_utf8(coloured).unwrap().contains("\x1b[32m+{"));
    }
}
