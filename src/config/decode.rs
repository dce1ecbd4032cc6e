//! Turning the text of an env file into an [`EnvFile`] while collecting every syntax error,
//! wrong type, missing key and unknown key, instead of stopping at the first.
//!
//! serde stops at the first bad value. To report the rest, the decoder removes the offending
//! value (a key, or one item of an array) from the parsed document and decodes again; when a
//! removed value is then reported missing, its table goes too. Values are identified by their
//! spans, which removals leave unchanged, so every problem keeps the key path and line it has
//! in the file. The loop ends when decoding succeeds or only the root is left.
//!
//! The index of the document's values and the key lines are only needed to place a problem,
//! so a file without problems (every load of a valid env) never builds them.

use std::cell::OnceCell;
use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, Deserializer};

use super::EnvFile;
use super::source::{KeyLines, line_at};

/// A problem found while decoding, before it is given a file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Found {
    /// 1-based line.
    pub line: usize,
    /// Key path (`network.zones[1].cidr`), empty when no key is to blame.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// What decoding produced: the file when it decoded cleanly apart from unknown keys, and
/// every problem.
pub(super) struct Decoded {
    /// The settings, unless a syntax or type problem prevented them.
    pub file: Option<EnvFile>,
    /// Every problem, in no particular order.
    pub found: Vec<Found>,
}

/// More removals than any env file has values: a guard against a loop that makes no progress.
const MAX_ROUNDS: usize = 1000;

/// Decodes `text`; `lines` places unknown keys (asked for only when there are some).
pub(super) fn decode<'l>(text: &str, lines: impl Fn() -> &'l KeyLines) -> Decoded {
    let (mut root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        let found = errors.iter().map(|e| syntax_problem(text, e)).collect();
        return Decoded { file: None, found };
    }
    if root.get_ref().is_empty() {
        let found = vec![Found {
            line: 1,
            key: String::new(),
            message: "the file has no settings; start from a copy of another env's file".into(),
        }];
        return Decoded { file: None, found };
    }

    // Values are known by their spans, which removals do not change (indices do). The index
    // is built on first use, which comes before the first removal.
    let nodes = OnceCell::new();
    let mut found = Vec::new();
    let mut unknown = BTreeSet::new();
    let mut removed = BTreeSet::new();
    let mut file = None;
    for _ in 0..MAX_ROUNDS {
        let current = root.get_ref();
        let result = serde_ignored::deserialize(Deserializer::from(root.clone()), |path| {
            let mut steps = Vec::new();
            ignored_steps(&path, &mut steps);
            let span = span_of(current, &steps);
            let nodes = nodes.get_or_init(|| index(current));
            let node = span.and_then(|span| deepest(nodes, |n| n.span() == span));
            unknown.insert(node.map_or_else(|| steps_path(&steps), |n| n.path.clone()));
        });
        let err = match result {
            Ok(decoded) => {
                file = removed.is_empty().then_some(decoded);
                break;
            }
            Err(err) => err,
        };
        let Some(span) = err.span() else {
            found.push(Found {
                line: 1,
                key: String::new(),
                message: describe(err.message()),
            });
            break;
        };
        // Removing `culprit` lets the next round get past this problem; a removed value that
        // is then missing takes its table with it.
        let nodes = nodes.get_or_init(|| index(root.get_ref()));
        let culprit = if let Some(field) = missing_field(err.message()) {
            let table = deepest(nodes, |n| n.is_table && n.span() == span);
            let key = join(table.map_or("", |n| n.path.as_str()), field);
            if !removed.contains(&key) {
                let line = table.map_or(1, |_| line_at(text, span.start));
                found.push(Found {
                    line,
                    key,
                    message: "required key is missing".into(),
                });
            }
            table
        } else {
            let node = deepest(nodes, |n| {
                n.span().start <= span.start && span.end <= n.span().end
            });
            found.push(Found {
                line: line_at(text, span.start),
                key: node.map(|n| n.path.clone()).unwrap_or_default(),
                message: describe(err.message()),
            });
            node
        };
        match culprit {
            Some(node) if remove(root.get_mut(), &node.chain) => {
                removed.insert(node.path.clone());
            }
            _ => break,
        }
    }
    found.extend(unknown.into_iter().map(|key| Found {
        line: lines().line_of(&key),
        message: "unknown key".into(),
        key,
    }));
    Decoded { file, found }
}

fn syntax_problem(text: &str, e: &toml::de::Error) -> Found {
    let span = e.span().unwrap_or(0..0);
    let key = if e.message() == "duplicate key" {
        text.get(span.clone()).unwrap_or_default().trim().to_owned()
    } else {
        String::new()
    };
    Found {
        line: line_at(text, span.start),
        key,
        message: format!("invalid TOML: {}", e.message()),
    }
}

/// A value of the document as written: its key path and the spans leading to it.
struct Node {
    path: String,
    /// Spans of the values from the top-level one down to this one.
    chain: Vec<Range<usize>>,
    is_table: bool,
}

impl Node {
    fn span(&self) -> Range<usize> {
        self.chain.last().cloned().unwrap_or_default()
    }
}

/// The smallest (then deepest) value matching `pred`.
fn deepest(nodes: &[Node], pred: impl Fn(&Node) -> bool) -> Option<&Node> {
    nodes
        .iter()
        .filter(|n| pred(n))
        .min_by_key(|n| (n.span().len(), std::cmp::Reverse(n.chain.len())))
}

fn index(root: &DeTable<'_>) -> Vec<Node> {
    let mut out = Vec::new();
    index_table(root, "", &[], &mut out);
    out
}

fn index_table(table: &DeTable<'_>, path: &str, chain: &[Range<usize>], out: &mut Vec<Node>) {
    for (key, value) in table {
        index_value(value, &join(path, key.get_ref()), chain, out);
    }
}

fn index_value(
    value: &Spanned<DeValue<'_>>,
    path: &str,
    chain: &[Range<usize>],
    out: &mut Vec<Node>,
) {
    let mut chain = chain.to_vec();
    chain.push(value.span());
    match value.get_ref() {
        DeValue::Table(t) => index_table(t, path, &chain, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                index_value(item, &format!("{path}[{i}]"), &chain, out);
            }
        }
        _ => {}
    }
    out.push(Node {
        path: path.to_owned(),
        chain,
        is_table: matches!(value.get_ref(), DeValue::Table(_)),
    });
}

/// Removes the value at the end of `chain`; false when it is not there.
fn remove(table: &mut DeTable<'_>, chain: &[Range<usize>]) -> bool {
    let Some((target, rest)) = chain.split_first() else {
        return false;
    };
    let key = table
        .iter()
        .find(|(_, v)| v.span() == *target)
        .map(|(k, _)| k.get_ref().to_string());
    let Some(key) = key else {
        return false;
    };
    if rest.is_empty() {
        return table.remove(key.as_str()).is_some();
    }
    match table.get_mut(key.as_str()) {
        Some(value) => remove_in(value.get_mut(), rest),
        None => false,
    }
}

fn remove_in(value: &mut DeValue<'_>, chain: &[Range<usize>]) -> bool {
    match value {
        DeValue::Table(t) => remove(t, chain),
        DeValue::Array(items) => {
            let Some((target, rest)) = chain.split_first() else {
                return false;
            };
            let Some(pos) = items.iter().position(|v| v.span() == *target) else {
                return false;
            };
            if !rest.is_empty() {
                return items
                    .get_mut(pos)
                    .is_some_and(|v| remove_in(v.get_mut(), rest));
            }
            let old = std::mem::replace(items, DeArray::new());
            *items = old
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i != pos)
                .map(|(_, v)| v)
                .collect();
            true
        }
        _ => false,
    }
}

/// One step of a path as serde saw it (indices of the current, possibly shrunk, document).
enum Step {
    Key(String),
    Index(usize),
}

fn ignored_steps(path: &serde_ignored::Path<'_>, out: &mut Vec<Step>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            ignored_steps(parent, out);
            out.push(Step::Index(*index));
        }
        Path::Map { parent, key } => {
            ignored_steps(parent, out);
            out.push(Step::Key(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_steps(parent, out),
    }
}

/// The span of the value `steps` lead to in `root`.
fn span_of(root: &DeTable<'_>, steps: &[Step]) -> Option<Range<usize>> {
    let (Step::Key(first), rest) = steps.split_first()? else {
        return None;
    };
    let mut value = root.get(first.as_str())?;
    for step in rest {
        value = match (value.get_ref(), step) {
            (DeValue::Table(t), Step::Key(k)) => t.get(k.as_str())?,
            (DeValue::Array(a), Step::Index(i)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(value.span())
}

fn steps_path(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) => out = join(&out, k),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

/// serde's wording (`invalid type: string "x", expected u32`) in the terms of a TOML file.
fn describe(message: &str) -> String {
    if message == "integer number overflowed" {
        return "the number is too large".into();
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        return format!("unknown value {rest}");
    }
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    match rest.and_then(|r| r.rsplit_once(", expected ")) {
        Some((found, expected)) => {
            let found = found.trim_end_matches(" as i128");
            format!("expected {}, found {found}", expected_type(expected))
        }
        None => message.to_owned(),
    }
}

fn expected_type(rust: &str) -> String {
    match rust {
        "u32" => "a whole number from 0 to 4294967295".into(),
        "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "an array".into(),
        "a map" => "a table".into(),
        other if other.starts_with("struct ") => "a table".into(),
        other if other.starts_with("enum ") => "one of the listed words".into(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_wording_becomes_toml_wording() {
        assert_eq!(
            describe("invalid type: string \"one\", expected u32"),
            "expected a whole number from 0 to 4294967295, found string \"one\""
        );
        assert_eq!(
            describe("invalid type: integer `3`, expected struct Inner"),
            "expected a table, found integer `3`"
        );
        assert_eq!(
            describe("unknown variant `x`, expected `a` or `b`"),
            "unknown value `x`, expected `a` or `b`"
        );
    }

    #[test]
    fn removing_an_array_item_keeps_the_paths_of_the_others() {
        let (mut root, _) = DeTable::parse_recoverable("[[z]]\na = 1\n[[z]]\na = 2\nb = 3\n");
        let nodes = index(root.get_ref());
        let first = nodes
            .iter()
            .find(|n| n.path == "z[0]")
            .map(|n| n.chain.clone());
        assert!(remove(root.get_mut(), &first.unwrap_or_default()));
        let b = nodes
            .iter()
            .find(|n| n.path == "z[1].b")
            .map(|n| n.chain.clone());
        assert!(remove(root.get_mut(), &b.unwrap_or_default()));
        let left = index(root.get_ref());
        let paths: Vec<&str> = left.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["z[0].a", "z[0]", "z"]);
    }
}
