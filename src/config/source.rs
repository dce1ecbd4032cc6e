//! Where each key of an env file is written, so problems can name `file:line`.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

/// Maps key paths (`compute.min_size`, `network.zones[1].cidr`) to 1-based line numbers.
#[derive(Clone, Debug, Default)]
pub struct KeyLines {
    lines: BTreeMap<String, usize>,
}

impl KeyLines {
    /// Indexes the keys of a TOML document; a document that does not parse indexes nothing
    /// (its parse error carries its own position).
    pub fn index(text: &str) -> Self {
        let mut lines = BTreeMap::new();
        if let Ok(root) = DeTable::parse(text) {
            let starts = line_starts(text);
            walk_table(root.get_ref(), "", &starts, &mut lines);
        }
        KeyLines { lines }
    }

    /// The line of a key path, or of its nearest written ancestor (a missing key is reported
    /// at the table that lacks it), or line 1.
    pub fn line_of(&self, path: &str) -> usize {
        let mut p = path;
        loop {
            if let Some(line) = self.lines.get(p) {
                return *line;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return 1,
            }
        }
    }
}

/// Byte offset to 1-based line.
pub fn line_at(text: &str, offset: usize) -> usize {
    let starts = line_starts(text);
    line_of_offset(&starts, offset)
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

fn line_of_offset(starts: &[usize], offset: usize) -> usize {
    match starts.binary_search(&offset) {
        Ok(i) => i + 1,
        Err(i) => i,
    }
}

fn walk_table(
    table: &DeTable<'_>,
    prefix: &str,
    starts: &[usize],
    out: &mut BTreeMap<String, usize>,
) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        out.insert(path.clone(), line_of_offset(starts, key.span().start));
        walk_value(value.get_ref(), &path, starts, out);
    }
}

fn walk_value(
    value: &DeValue<'_>,
    path: &str,
    starts: &[usize],
    out: &mut BTreeMap<String, usize>,
) {
    match value {
        DeValue::Table(t) => walk_table(t, path, starts, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                out.insert(item_path.clone(), line_of_offset(starts, item.span().start));
                walk_value(item.get_ref(), &item_path, starts, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "region = \"x\"\n\n[compute]\nmin_size = 1\n\n[[network.zones]]\nname = \"a\"\n\n[[network.zones]]\nname = \"b\"\ncidr = \"c\"\n";

    #[test]
    fn keys_map_to_their_lines() {
        let k = KeyLines::index(DOC);
        assert_eq!(k.line_of("region"), 1);
        assert_eq!(k.line_of("compute.min_size"), 4);
        assert_eq!(k.line_of("network.zones[1].cidr"), 11);
        assert_eq!(k.line_of("network.zones[0].name"), 7);
    }

    #[test]
    fn missing_keys_fall_back_to_their_table() {
        let k = KeyLines::index(DOC);
        assert_eq!(k.line_of("compute.max_size"), 3);
        assert_eq!(
            k.line_of("network.zones[0].cidr"),
            k.line_of("network.zones[0]")
        );
        assert_eq!(k.line_of("nothing.at.all"), 1);
    }

    #[test]
    fn offsets_map_to_lines() {
        assert_eq!(line_at("a\nb\nc", 0), 1);
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(line_at("a\nb\nc", 4), 3);
    }
}
