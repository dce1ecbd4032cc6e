//! The JSON writer behind rendered templates: serde_json's own value encoding and pretty (or
//! compact) layout, written into one buffer, with the object keys inside resource properties put
//! in sorted order as each object closes, and the size of the compact form counted as it goes.
//!
//! Resource properties are typed structs whose fields come out in declaration order, but the
//! rendered templates list them sorted (as a `serde_json::Value`'s maps do), so they read and
//! diff the same whatever order a struct declares. Sorting the keys where they are written keeps
//! that without building a `Value` tree per resource: most objects are already sorted and are
//! left as written; the others have their entries moved once, in place.
//!
//! serde_json hands its formatter only a generic writer, so the formatter and the writer share
//! the buffer through a `RefCell`: values are encoded by serde_json's default formatter methods
//! through the writer, while the layout methods (brackets, separators, indentation) write and
//! count the bytes themselves and reorder an object's entries when it ends.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

/// A JSON document being written, pretty (serde_json's two-space layout) or compact.
pub struct JsonOut {
    state: RefCell<State>,
}

struct State {
    buf: Vec<u8>,
    pretty: bool,
    /// Nesting depth of the container being written.
    depth: usize,
    /// Whether the innermost open container has an entry (serde_json's `has_value`).
    has_value: bool,
    /// Bytes of pretty layout written (newlines, indentation, the space after `:`): the only
    /// bytes in which the pretty form differs from the compact one.
    layout: usize,
    /// Whether objects begun now have their keys sorted.
    sort: bool,
    objects: Vec<OpenObject>,
    /// The entries of open sorted objects, innermost last.
    entries: Vec<Entry>,
    /// Reused when an object's entries are reordered.
    order: Vec<usize>,
    scratch: Vec<u8>,
}

struct OpenObject {
    sorted: bool,
    /// Where the object's first entry (its separator) begins, just after `{`.
    body: usize,
    /// Index of its first entry in `State::entries`.
    first_entry: usize,
}

/// One entry of a sorted object: its separator starts at `sep`, its quoted key spans
/// `key..key_end`, and its value runs to the next entry's separator (or the object's end).
struct Entry {
    sep: usize,
    key: usize,
    key_end: usize,
    /// Whether the key as written holds an escape (and so does not compare as written).
    escaped: bool,
}

/// A position to return to, so that an entry found empty after writing can be taken back.
#[derive(Clone, Copy)]
pub struct Mark {
    len: usize,
    layout: usize,
    has_value: bool,
    /// Entries of sorted objects recorded so far: those after the mark are taken back too.
    entries: usize,
    /// Objects open at the mark: a rewind stays within the same open object.
    objects: usize,
}

impl JsonOut {
    /// An empty document; `capacity` is a hint for the text's size.
    pub fn new(pretty: bool, capacity: usize) -> Self {
        Self::into_buffer(pretty, Vec::with_capacity(capacity))
    }

    /// An empty document written into `buf`, emptied first: a buffer kept from an earlier
    /// document is written over without allocating (or touching new memory) again.
    pub fn into_buffer(pretty: bool, mut buf: Vec<u8>) -> Self {
        buf.clear();
        JsonOut {
            state: RefCell::new(State {
                buf,
                pretty,
                depth: 0,
                has_value: false,
                layout: 0,
                sort: false,
                objects: Vec::new(),
                entries: Vec::new(),
                order: Vec::new(),
                scratch: Vec::new(),
            }),
        }
    }

    /// Writes `value` at the current position, as serde_json would in this place.
    pub fn value<T: Serialize + ?Sized>(&self, value: &T) -> serde_json::Result<()> {
        let mut serializer =
            serde_json::Serializer::with_formatter(Writer(&self.state), Layout(&self.state));
        value.serialize(&mut serializer)
    }

    /// Writes `value` with the keys of every object in it in sorted order.
    pub fn sorted<T: Serialize + ?Sized>(&self, value: &T) -> serde_json::Result<()> {
        let outer = std::mem::replace(&mut self.state.borrow_mut().sort, true);
        let written = self.value(value);
        self.state.borrow_mut().sort = outer;
        written
    }

    /// Opens an object whose entries are written with [`JsonOut::key`] and a value.
    pub fn begin_object(&self) {
        self.state.borrow_mut().begin_object();
    }

    /// Starts an entry of the open object: its separator, `"key"` and `:`. The value follows.
    pub fn key(&self, first: bool, key: &str) -> serde_json::Result<()> {
        self.state.borrow_mut().begin_object_key(first);
        self.value(key)?;
        let mut state = self.state.borrow_mut();
        state.end_object_key();
        state.begin_object_value();
        Ok(())
    }

    /// Ends the entry whose value was just written.
    pub fn end_value(&self) {
        self.state.borrow_mut().has_value = true;
    }

    /// Closes the open object.
    pub fn end_object(&self) -> serde_json::Result<()> {
        self.state
            .borrow_mut()
            .end_object()
            .map_err(serde_json::Error::io)
    }

    /// The current position.
    pub fn mark(&self) -> Mark {
        let state = self.state.borrow();
        Mark {
            len: state.buf.len(),
            layout: state.layout,
            has_value: state.has_value,
            entries: state.entries.len(),
            objects: state.objects.len(),
        }
    }

    /// Whether what was written since `mark` is exactly `text`.
    pub fn written_since(&self, mark: Mark, text: &[u8]) -> bool {
        self.state.borrow().buf[mark.len..] == *text
    }

    /// Takes back everything written since `mark` (within the same open object).
    pub fn rewind(&self, mark: Mark) {
        let mut state = self.state.borrow_mut();
        assert_eq!(
            state.objects.len(),
            mark.objects,
            "a rewind stays within the object open at its mark"
        );
        state.buf.truncate(mark.len);
        state.layout = mark.layout;
        state.has_value = mark.has_value;
        state.entries.truncate(mark.entries);
    }

    /// The text written and the size in bytes the same document has in compact form.
    pub fn finish(self) -> (Vec<u8>, usize) {
        let state = self.state.into_inner();
        let compact = state.buf.len() - state.layout;
        (state.buf, compact)
    }
}

impl State {
    fn newline_indent(&mut self) {
        self.buf.push(b'\n');
        let width = 2 * self.depth;
        self.buf.resize(self.buf.len() + width, b' ');
        self.layout += 1 + width;
    }

    /// The separator before an entry of an array or object.
    fn separator(&mut self, first: bool) {
        if !first {
            self.buf.push(b',');
        }
        if self.pretty {
            self.newline_indent();
        }
    }

    fn open(&mut self, bracket: u8) {
        self.depth += 1;
        self.has_value = false;
        self.buf.push(bracket);
    }

    fn close(&mut self, bracket: u8) {
        self.depth -= 1;
        if self.has_value && self.pretty {
            self.newline_indent();
        }
        self.buf.push(bracket);
    }

    fn begin_object(&mut self) {
        self.open(b'{');
        self.objects.push(OpenObject {
            sorted: self.sort,
            body: self.buf.len(),
            first_entry: self.entries.len(),
        });
    }

    fn end_object(&mut self) -> io::Result<()> {
        let object = self.objects.pop().expect("an object is open");
        if object.sorted {
            let sorted = self.sort_entries(&object);
            self.entries.truncate(object.first_entry);
            sorted?;
        }
        self.close(b'}');
        Ok(())
    }

    fn begin_object_key(&mut self, first: bool) {
        let sep = self.buf.len();
        self.separator(first);
        if self.objects.last().is_some_and(|o| o.sorted) {
            self.entries.push(Entry {
                sep,
                key: self.buf.len(),
                key_end: self.buf.len(),
                escaped: false,
            });
        }
    }

    fn end_object_key(&mut self) {
        if self.objects.last().is_some_and(|o| o.sorted)
            && let Some(entry) = self.entries.last_mut()
        {
            entry.key_end = self.buf.len();
            entry.escaped = self.buf[entry.key..entry.key_end].contains(&b'\\');
        }
    }

    fn begin_object_value(&mut self) {
        self.buf.push(b':');
        if self.pretty {
            self.buf.push(b' ');
            self.layout += 1;
        }
    }

    /// Puts the entries of `object` (all written, the closing bracket not yet) in key order.
    /// The separators are rewritten for the new order; the layout count does not change, as
    /// every separator at one depth holds the same layout bytes.
    fn sort_entries(&mut self, object: &OpenObject) -> io::Result<()> {
        let entries = &self.entries[object.first_entry..];
        let buf = &self.buf;
        let compare = |a: &Entry, b: &Entry| compare_keys(buf, a, b);
        if entries
            .windows(2)
            .all(|w| compare(&w[0], &w[1]) == Ordering::Less)
        {
            return Ok(());
        }
        self.order.clear();
        self.order.extend(0..entries.len());
        self.order
            .sort_by(|&a, &b| compare(&entries[a], &entries[b]));
        if let Some(w) = self
            .order
            .windows(2)
            .find(|w| compare(&entries[w[0]], &entries[w[1]]) == Ordering::Equal)
        {
            let key = &entries[w[0]];
            return Err(io::Error::other(format!(
                "an object has the key {} twice",
                String::from_utf8_lossy(&buf[key.key..key.key_end])
            )));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for (n, &i) in self.order.iter().enumerate() {
            let end = entries.get(i + 1).map_or(buf.len(), |next| next.sep);
            if n > 0 {
                scratch.push(b',');
            }
            if self.pretty {
                // The separator's newline and indentation, as written before the entry's key.
                let sep = &buf[entries[i].sep..entries[i].key];
                scratch.extend_from_slice(sep.strip_prefix(b",").unwrap_or(sep));
            }
            scratch.extend_from_slice(&buf[entries[i].key..end]);
        }
        self.buf.truncate(object.body);
        self.buf.extend_from_slice(&scratch);
        self.scratch = scratch;
        Ok(())
    }
}

/// Orders the keys of two entries as their strings order (a `BTreeMap<String, _>`'s order).
/// Keys without escapes compare as written, quotes stripped; one with an escape is decoded.
fn compare_keys(buf: &[u8], a: &Entry, b: &Entry) -> Ordering {
    if !a.escaped && !b.escaped {
        return buf[a.key + 1..a.key_end - 1].cmp(&buf[b.key + 1..b.key_end - 1]);
    }
    let decode =
        |e: &Entry| serde_json::from_slice::<String>(&buf[e.key..e.key_end]).unwrap_or_default();
    decode(a).cmp(&decode(b))
}

/// The writer serde_json encodes values through: appends to the shared buffer.
struct Writer<'a>(&'a RefCell<State>);

impl io::Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.borrow_mut().buf.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The formatter: serde_json's defaults encode values (through [`Writer`]); the layout calls
/// go to the shared state, which writes them itself.
struct Layout<'a>(&'a RefCell<State>);

impl Formatter for Layout<'_> {
    fn begin_array<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.borrow_mut().open(b'[');
        Ok(())
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.borrow_mut().close(b']');
        Ok(())
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        _: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.borrow_mut().separator(first);
        Ok(())
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.borrow_mut().has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.borrow_mut().begin_object();
        Ok(())
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.borrow_mut().end_object()
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        _: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.borrow_mut().begin_object_key(first);
        Ok(())
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.borrow_mut().end_object_key();
        Ok(())
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.borrow_mut().begin_object_value();
        Ok(())
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.borrow_mut().has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;
    use serde_json::{Value, json};

    use super::*;

    /// Fields declared out of key order, with nesting, a flattened struct, a map, arrays,
    /// empty containers, escapes and numbers of several kinds.
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Unsorted {
        zeta: u32,
        alpha: Vec<Inner>,
        #[serde(flatten)]
        flat: Flat,
        middle: HashMap<String, i64>,
        #[serde(rename = "a\"quoted\" key")]
        quoted: &'static str,
        #[serde(rename = "Tabbed\tKey")]
        tabbed: f64,
        empty_list: Vec<u8>,
        empty_map: BTreeMap<String, u8>,
        nothing: Option<u8>,
        raw: Value,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        y: bool,
        b: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        a: Option<Box<Inner>>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Flat {
        omega: &'static str,
        beta: i8,
    }

    fn unsorted() -> Unsorted {
        Unsorted {
            zeta: 7,
            alpha: vec![
                Inner {
                    y: true,
                    b: "two words".into(),
                    a: Some(Box::new(Inner {
                        y: false,
                        b: "line\nbreak \\ \u{1}".into(),
                        a: None,
                    })),
                },
                Inner {
                    y: false,
                    b: String::new(),
                    a: None,
                },
            ],
            flat: Flat {
                omega: "ω",
                beta: -3,
            },
            middle: [("z", 1), ("a", -1), ("m", 0), ("A", 2)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            quoted: "q",
            tabbed: 0.1,
            empty_list: vec![],
            empty_map: BTreeMap::new(),
            nothing: None,
            raw: json!({"b": [1, {"d": 1, "c": 2}], "a": null}),
        }
    }

    fn write(pretty: bool, sorted: bool, value: &impl Serialize) -> (String, usize) {
        let out = JsonOut::new(pretty, 0);
        if sorted {
            out.sorted(value).unwrap();
        } else {
            out.value(value).unwrap();
        }
        let (text, compact) = out.finish();
        (String::from_utf8(text).unwrap(), compact)
    }

    #[test]
    fn sorted_output_is_the_value_form_byte_for_byte() {
        let value = serde_json::to_value(unsorted()).unwrap();
        let (pretty, compact_len) = write(true, true, &unsorted());
        assert_eq!(pretty, serde_json::to_string_pretty(&value).unwrap());
        let (compact, _) = write(false, true, &unsorted());
        assert_eq!(compact, serde_json::to_string(&value).unwrap());
        assert_eq!(compact_len, compact.len());
    }

    #[test]
    fn unsorted_output_is_serde_jsons_own() {
        let thing = Inner {
            y: true,
            b: "x".into(),
            a: Some(Box::new(Inner {
                y: false,
                b: "y".into(),
                a: None,
            })),
        };
        let (pretty, compact_len) = write(true, false, &thing);
        assert_eq!(pretty, serde_json::to_string_pretty(&thing).unwrap());
        assert!(pretty.find("\"Y\"").unwrap() < pretty.find("\"B\"").unwrap());
        let compact = serde_json::to_string(&thing).unwrap();
        assert_eq!(write(false, false, &thing).0, compact);
        assert_eq!(compact_len, compact.len());
    }

    #[test]
    fn a_key_written_twice_is_an_error() {
        #[derive(Serialize)]
        struct Twice {
            #[serde(rename = "K")]
            a: u8,
            #[serde(flatten)]
            b: BTreeMap<&'static str, u8>,
        }
        let out = JsonOut::new(true, 0);
        let err = out
            .sorted(&Twice {
                a: 1,
                b: [("K", 2), ("A", 3)].into_iter().collect(),
            })
            .unwrap_err();
        assert!(err.to_string().contains("the key \"K\" twice"), "{err}");
    }

    #[test]
    fn keys_with_escapes_sort_as_their_strings() {
        // As written, `\` (0x5C) sorts after `#` and ` `; decoded, `"` (0x22) sorts before `#`
        // and a tab (0x09) before a space: only decoding gives the map's order.
        let map: HashMap<&str, u8> = [("A#", 1), ("A\"", 2), ("B ", 3), ("B\t", 4), ("C", 5)]
            .into_iter()
            .collect();
        let value = serde_json::to_value(&map).unwrap();
        assert_eq!(
            write(true, true, &map).0,
            serde_json::to_string_pretty(&value).unwrap()
        );
        assert_eq!(
            write(false, true, &map).0,
            r#"{"A\"":2,"A#":1,"B\t":4,"B ":3,"C":5}"#
        );
    }

    #[test]
    fn an_entry_of_a_sorted_object_can_be_taken_back() {
        let out = JsonOut::new(false, 0);
        let outer = std::mem::replace(&mut out.state.borrow_mut().sort, true);
        out.begin_object();
        out.key(true, "B").unwrap();
        out.value(&1).unwrap();
        out.end_value();
        let mark = out.mark();
        out.key(false, "A").unwrap();
        out.value(&2).unwrap();
        out.end_value();
        out.rewind(mark);
        out.key(false, "C").unwrap();
        out.value(&3).unwrap();
        out.end_value();
        out.end_object().unwrap();
        out.state.borrow_mut().sort = outer;
        assert_eq!(
            String::from_utf8(out.finish().0).unwrap(),
            r#"{"B":1,"C":3}"#
        );
    }

    #[test]
    fn an_entry_can_be_taken_back() {
        let out = JsonOut::new(true, 0);
        out.begin_object();
        out.key(true, "A").unwrap();
        out.value(&1).unwrap();
        out.end_value();
        let mark = out.mark();
        out.key(false, "B").unwrap();
        let value = out.mark();
        out.sorted(&json!({})).unwrap();
        assert!(out.written_since(value, b"{}"));
        out.rewind(mark);
        out.end_object().unwrap();
        let (text, compact) = out.finish();
        assert_eq!(String::from_utf8(text).unwrap(), "{\n  \"A\": 1\n}");
        assert_eq!(compact, "{\"A\":1}".len());
    }
}
