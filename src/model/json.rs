//! The JSON writer behind rendered templates: serde_json's value encoding and pretty (or
//! compact) layout, written into one buffer, with the object keys inside resource properties put
//! in sorted order as each object closes, and the size of the compact form counted as it goes.
//!
//! Resource properties are typed structs whose fields come out in declaration order, but the
//! rendered templates list them sorted (as a `serde_json::Value`'s maps do), so they read and
//! diff the same whatever order a struct declares. Sorting the keys where they are written keeps
//! that without building a `Value` tree per resource: most objects are already sorted and are
//! left as written; the others have their entries moved once, in place.
//!
//! Values are encoded as serde_json encodes them (the tests hold the output to serde_json's, byte
//! for byte) by this module's own `serde::Serializer`, which writes into one buffer and leaves
//! the layout (brackets, separators, indentation) to the state that counts and sorts it.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::io;

use serde::Serialize;

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
    /// Whether the key being written holds an escape.
    key_escaped: bool,
    /// The keys, as written, of each object that had to be reordered.
    #[cfg(test)]
    reordered: Vec<String>,
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
                key_escaped: false,
                #[cfg(test)]
                reordered: Vec::new(),
            }),
        }
    }

    /// Writes `value` at the current position, as serde_json would in this place.
    pub fn value<T: Serialize + ?Sized>(&self, value: &T) -> serde_json::Result<()> {
        serialize(&mut self.state.borrow_mut(), value)
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
        let mut state = self.state.borrow_mut();
        state.begin_object_key(first);
        state.write_str(key);
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

    /// The keys, as written, of each object whose entries had to be put in order.
    #[cfg(test)]
    pub fn reordered(&self) -> Vec<String> {
        self.state.borrow().reordered.clone()
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

    /// Writes a string value or key, quoted and escaped.
    fn write_str(&mut self, text: &str) {
        self.key_escaped |= write_escaped(&mut self.buf, text);
    }

    fn begin_object_key(&mut self, first: bool) {
        self.key_escaped = false;
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
            entry.escaped = self.key_escaped;
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
        #[cfg(test)]
        self.reordered.push(
            entries
                .iter()
                .map(|e| String::from_utf8_lossy(&buf[e.key..e.key_end]))
                .collect::<Vec<_>>()
                .join(" "),
        );
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

/// The methods a `serde::Serializer` writes the same way in a value and in a key, each through
/// the serializer's own methods: the ten integer methods hand their value to its `integer` (a
/// number in a value, a quoted number in a key); a unit variant is its name as a string; a
/// newtype struct and a `Some` are their inner value.
macro_rules! shared_methods {
    () => {
        shared_methods!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
            serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
            serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);

        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            variant: &'static str,
        ) -> serde_json::Result<()> {
            self.serialize_str(variant)
        }

        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> serde_json::Result<()> {
            value.serialize(self)
        }

        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> serde_json::Result<()> {
            value.serialize(self)
        }
    };
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> serde_json::Result<()> {
            self.integer(v)
        })*
    };
}

/// Writes `value` at the current position of `state`, as serde_json would in this place.
fn serialize<T: Serialize + ?Sized>(state: &mut State, value: &T) -> serde_json::Result<()> {
    value.serialize(Ser(state))
}

/// The serializer: serde_json's encoding of every value, with the brackets, separators and
/// indentation written (and counted, and sorted) by [`State`]. It is written here rather than
/// as a `serde_json::ser::Formatter` for serde_json's serializer: a formatter is handed only a
/// generic writer, so it shared the buffer with the writer through a `RefCell` borrowed at every
/// call, and its string escaping (which a formatter cannot replace) looks at one byte at a time
/// where [`next_escape`] reads eight. Writing the templates takes a fifth fewer instructions.
struct Ser<'a>(&'a mut State);

/// An open array or object: whether the next entry is its first.
struct Compound<'a> {
    state: &'a mut State,
    first: bool,
    /// What closes it: an array, an object, or one of those inside the object that names an
    /// enum variant (`{"Variant": [...]}`, `{"Variant": {...}}`).
    close: Close,
}

#[derive(Clone, Copy)]
enum Close {
    Array,
    Object,
    VariantArray,
    VariantObject,
}

impl<'a> Ser<'a> {
    /// Opens `{"variant": ` around a value that follows.
    fn begin_variant(self, variant: &str) -> &'a mut State {
        let state = self.0;
        state.begin_object();
        state.begin_object_key(true);
        state.write_str(variant);
        state.end_object_key();
        state.begin_object_value();
        state
    }

    fn end_variant(state: &mut State) -> serde_json::Result<()> {
        state.has_value = true;
        state.end_object().map_err(serde_json::Error::io)
    }

    fn integer<I: itoa::Integer>(self, value: I) -> serde_json::Result<()> {
        self.0
            .buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        Ok(())
    }

    /// Floats as serde_json writes them (shortest round trip; `null` if not finite).
    fn float<F: Serialize>(self, value: F) -> serde_json::Result<()> {
        serde_json::to_writer(&mut self.0.buf, &value)
    }

    fn array(self, close: Close) -> Compound<'a> {
        self.0.open(b'[');
        Compound {
            state: self.0,
            first: true,
            close,
        }
    }

    fn object(self, close: Close) -> Compound<'a> {
        self.0.begin_object();
        Compound {
            state: self.0,
            first: true,
            close,
        }
    }
}

impl<'a> serde::Serializer for Ser<'a> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> serde_json::Result<()> {
        self.0
            .buf
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    shared_methods!();

    fn serialize_f32(self, v: f32) -> serde_json::Result<()> {
        self.float(v)
    }

    fn serialize_f64(self, v: f64) -> serde_json::Result<()> {
        self.float(v)
    }

    fn serialize_char(self, v: char) -> serde_json::Result<()> {
        self.0.write_str(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> serde_json::Result<()> {
        self.0.write_str(v);
        Ok(())
    }

    /// An array of numbers, as serde_json writes bytes.
    fn serialize_bytes(self, v: &[u8]) -> serde_json::Result<()> {
        use serde::ser::SerializeSeq;
        let mut seq = self.serialize_seq(Some(v.len()))?;
        for byte in v {
            seq.serialize_element(byte)?;
        }
        seq.end()
    }

    fn serialize_none(self) -> serde_json::Result<()> {
        self.serialize_unit()
    }

    fn serialize_unit(self) -> serde_json::Result<()> {
        self.0.buf.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> serde_json::Result<()> {
        self.serialize_unit()
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> serde_json::Result<()> {
        let state = self.begin_variant(variant);
        value.serialize(Ser(&mut *state))?;
        Ser::end_variant(state)
    }

    fn serialize_seq(self, _: Option<usize>) -> serde_json::Result<Compound<'a>> {
        Ok(self.array(Close::Array))
    }

    fn serialize_tuple(self, len: usize) -> serde_json::Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> serde_json::Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> serde_json::Result<Compound<'a>> {
        Ok(Ser(self.begin_variant(variant)).array(Close::VariantArray))
    }

    fn serialize_map(self, _: Option<usize>) -> serde_json::Result<Compound<'a>> {
        Ok(self.object(Close::Object))
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> serde_json::Result<Compound<'a>> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> serde_json::Result<Compound<'a>> {
        Ok(Ser(self.begin_variant(variant)).object(Close::VariantObject))
    }
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()> {
        self.state.separator(self.first);
        self.first = false;
        serialize(self.state, value)?;
        self.state.has_value = true;
        Ok(())
    }

    fn entry_key<T: Serialize + ?Sized>(&mut self, key: &T) -> serde_json::Result<()> {
        self.state.begin_object_key(self.first);
        self.first = false;
        key.serialize(KeySer(&mut *self.state))?;
        self.state.end_object_key();
        Ok(())
    }

    fn entry_value<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()> {
        self.state.begin_object_value();
        serialize(self.state, value)?;
        self.state.has_value = true;
        Ok(())
    }

    fn close(self) -> serde_json::Result<()> {
        match self.close {
            Close::Array => self.state.close(b']'),
            Close::Object => self.state.end_object().map_err(serde_json::Error::io)?,
            Close::VariantArray => {
                self.state.close(b']');
                Ser::end_variant(self.state)?;
            }
            Close::VariantObject => {
                self.state.end_object().map_err(serde_json::Error::io)?;
                Ser::end_variant(self.state)?;
            }
        }
        Ok(())
    }
}

/// serde's four array-like traits (their elements) and two struct-like ones (their fields) are
/// one thing each to [`Compound`].
macro_rules! compound {
    (elements: $($trait:ident::$method:ident),*) => {$(
        impl serde::ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = serde_json::Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()> {
                self.element(value)
            }

            fn end(self) -> serde_json::Result<()> {
                self.close()
            }
        }
    )*};
    (fields: $($trait:ident),*) => {$(
        impl serde::ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = serde_json::Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> serde_json::Result<()> {
                self.entry_key(key)?;
                self.entry_value(value)
            }

            fn end(self) -> serde_json::Result<()> {
                self.close()
            }
        }
    )*};
}

compound!(elements: SerializeSeq::serialize_element, SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field, SerializeTupleVariant::serialize_field);
compound!(fields: SerializeStruct, SerializeStructVariant);

impl serde::ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = serde_json::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> serde_json::Result<()> {
        self.entry_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> serde_json::Result<()> {
        self.entry_value(value)
    }

    fn end(self) -> serde_json::Result<()> {
        self.close()
    }
}

/// An object's key, as serde_json writes it: strings, and numbers, booleans and chars as
/// strings, the value of a `Some`; anything else is an error.
struct KeySer<'a>(&'a mut State);

fn key_must_be_a_string() -> serde_json::Error {
    serde::ser::Error::custom("key must be a string")
}

impl KeySer<'_> {
    fn quoted(self, text: &str) -> serde_json::Result<()> {
        let buf = &mut self.0.buf;
        buf.push(b'"');
        buf.extend_from_slice(text.as_bytes());
        buf.push(b'"');
        Ok(())
    }

    fn integer<I: itoa::Integer>(self, value: I) -> serde_json::Result<()> {
        self.quoted(itoa::Buffer::new().format(value))
    }

    fn float<F: Serialize>(self, value: F, finite: bool) -> serde_json::Result<()> {
        if !finite {
            // serde_json's words for it.
            return Err(serde::ser::Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            ));
        }
        let text = serde_json::to_string(&value)?;
        self.quoted(&text)
    }
}

impl serde::Serializer for KeySer<'_> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeTuple = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeTupleStruct = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeTupleVariant = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeMap = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeStruct = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeStructVariant = serde::ser::Impossible<(), serde_json::Error>;

    fn serialize_str(self, v: &str) -> serde_json::Result<()> {
        self.0.write_str(v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> serde_json::Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_bool(self, v: bool) -> serde_json::Result<()> {
        self.quoted(if v { "true" } else { "false" })
    }

    shared_methods!();

    fn serialize_f32(self, v: f32) -> serde_json::Result<()> {
        self.float(v, v.is_finite())
    }

    fn serialize_f64(self, v: f64) -> serde_json::Result<()> {
        self.float(v, v.is_finite())
    }

    fn serialize_bytes(self, _: &[u8]) -> serde_json::Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> serde_json::Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit(self) -> serde_json::Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _: &'static str) -> serde_json::Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> serde_json::Result<()> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _: Option<usize>) -> serde_json::Result<Self::SerializeSeq> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _: usize) -> serde_json::Result<Self::SerializeTuple> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleStruct> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeTupleVariant> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _: Option<usize>) -> serde_json::Result<Self::SerializeMap> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeStruct> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> serde_json::Result<Self::SerializeStructVariant> {
        Err(key_must_be_a_string())
    }
}

/// Appends `text` as a JSON string: quoted, with `"`, `\` and control characters escaped as
/// serde_json escapes them. Returns whether it wrote an escape.
///
/// Most strings in a template are short and need no escape: that case is one scan and one copy,
/// with the escaping out of line.
fn write_escaped(buf: &mut Vec<u8>, text: &str) -> bool {
    let bytes = text.as_bytes();
    buf.reserve(bytes.len() + 2);
    buf.push(b'"');
    let escaped = match next_escape(bytes, 0) {
        None => {
            buf.extend_from_slice(bytes);
            false
        }
        Some(first) => {
            write_escaped_from(buf, bytes, first);
            true
        }
    };
    buf.push(b'"');
    escaped
}

/// Appends `bytes` escaped, the first byte to escape being at `found`.
#[cold]
#[inline(never)]
fn write_escaped_from(buf: &mut Vec<u8>, bytes: &[u8], mut found: usize) {
    let mut start = 0;
    loop {
        buf.extend_from_slice(&bytes[start..found]);
        let byte = bytes[found];
        let short = match byte {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            _ => None,
        };
        match short {
            Some(letter) => buf.extend_from_slice(&[b'\\', letter]),
            None => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.extend_from_slice(&[HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 15)]]);
            }
        }
        start = found + 1;
        match next_escape(bytes, start) {
            Some(next) => found = next,
            None => break,
        }
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// The index of the first byte at or after `from` that needs an escape: `"`, `\` or a control
/// character below a space. The bytes are read a word at a time: a string of eight bytes or
/// more in eight-byte words, the last one ending where the string does (overlapping bytes
/// already read, none of which needs an escape or the scan would have stopped there); one of
/// four to seven bytes as two overlapping four-byte halves of one word; shorter ones byte by
/// byte.
#[inline]
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = &bytes[from..];
    let len = rest.len();
    if len < 4 {
        return rest
            .iter()
            .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
            .map(|i| from + i);
    }
    if len < 8 {
        let half = |at: usize| {
            u64::from(u32::from_le_bytes(
                rest[at..at + 4].try_into().expect("four bytes"),
            ))
        };
        let hit = escapes_in(half(0) | half(len - 4) << 32);
        return (hit != 0).then(|| {
            let byte = hit.trailing_zeros() as usize / 8;
            // Bytes 4..8 of the word are bytes len-4..len of the string.
            from + if byte < 4 { byte } else { len + byte - 8 }
        });
    }
    let word = |at: usize| u64::from_le_bytes(rest[at..at + 8].try_into().expect("eight bytes"));
    let mut at = 0;
    loop {
        // The last word ends where the string does.
        let last = at + 8 >= len;
        if last {
            at = len - 8;
        }
        let hit = escapes_in(word(at));
        if hit != 0 {
            return Some(from + at + hit.trailing_zeros() as usize / 8);
        }
        if last {
            return None;
        }
        at += 8;
    }
}

/// The high bit of each byte of `word` (little-endian) that needs an escape, and perhaps of
/// bytes after the first of those: a word holds such a byte when one of its bytes is below 0x20
/// or equals `"` or `\`, each found with the "has a byte less than n" bit trick,
/// `(w - n·0x01…01) & !w & 0x80…80`, exact for n ≤ 128. The lowest set bit marks the first
/// such byte: a borrow only carries upwards, and only out of a byte that is one itself.
fn escapes_in(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH;
    below(word, 0x20)
        | below(word ^ (ONES * u64::from(b'"')), 1)
        | below(word ^ (ONES * u64::from(b'\\')), 1)
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

    /// Every kind of value serde has, in both layouts, against serde_json's own output.
    #[test]
    fn every_kind_of_value_is_written_as_serde_json_writes_it() {
        #[derive(Serialize)]
        enum Kinds {
            Unit,
            Newtype(u8),
            Tuple(i8, String),
            Struct { b: bool, a: Option<char> },
        }
        #[derive(Serialize)]
        struct UnitStruct;
        #[derive(Serialize)]
        struct Newtype(&'static str);
        #[derive(Serialize)]
        struct TupleStruct(u16, f32);
        #[derive(Serialize)]
        struct All {
            kinds: Vec<Kinds>,
            unit: (),
            unit_struct: UnitStruct,
            newtype: Newtype,
            tuple: (u32, i64, Vec<()>),
            tuple_struct: TupleStruct,
            #[serde(with = "serde_bytes_like")]
            bytes: Vec<u8>,
            big: (i128, u128, u64, i64),
            floats: Vec<f64>,
            small_float: f32,
            int_keys: BTreeMap<i32, &'static str>,
            u_keys: BTreeMap<u128, u8>,
            bool_keys: BTreeMap<bool, u8>,
            char_keys: BTreeMap<char, u8>,
            float_keys: Vec<(f64, u8)>,
            unit_variant_keys: BTreeMap<Key, u8>,
            newtype_keys: BTreeMap<NewtypeKey, u8>,
            empty: (Vec<u8>, BTreeMap<String, u8>, HashMap<u8, u8>),
        }
        #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
        enum Key {
            First,
            Second,
        }
        #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
        struct NewtypeKey(String);
        mod serde_bytes_like {
            pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        struct FloatKeys<'a>(&'a [(f64, u8)]);
        impl Serialize for FloatKeys<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(None)?;
                for (k, v) in self.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
        let float_keys = [(1.5, 1), (-0.0, 2), (1e300, 3)];
        let all = All {
            kinds: vec![
                Kinds::Unit,
                Kinds::Newtype(7),
                Kinds::Tuple(-1, "t\u{7f}".into()),
                Kinds::Struct {
                    b: true,
                    a: Some('\u{2028}'),
                },
                Kinds::Struct { b: false, a: None },
            ],
            unit: (),
            unit_struct: UnitStruct,
            newtype: Newtype("n"),
            tuple: (u32::MAX, i64::MIN, vec![(), ()]),
            tuple_struct: TupleStruct(9, 0.3),
            bytes: vec![0, 1, 255],
            big: (i128::MIN, u128::MAX, u64::MAX, -1),
            floats: vec![
                0.0,
                -0.0,
                1.0,
                0.1,
                1e-7,
                1e21,
                f64::MAX,
                f64::NAN,
                f64::INFINITY,
            ],
            small_float: 1.1,
            int_keys: [(-5, "a"), (10, "b")].into_iter().collect(),
            u_keys: [(u128::MAX, 1)].into_iter().collect(),
            bool_keys: [(true, 1), (false, 0)].into_iter().collect(),
            char_keys: [('"', 1), ('x', 2)].into_iter().collect(),
            float_keys: float_keys.to_vec(),
            unit_variant_keys: [(Key::First, 1), (Key::Second, 2)].into_iter().collect(),
            newtype_keys: [(NewtypeKey("k\n".into()), 1)].into_iter().collect(),
            empty: (vec![], BTreeMap::new(), HashMap::new()),
        };
        for pretty in [true, false] {
            let expected = if pretty {
                serde_json::to_string_pretty(&all).unwrap()
            } else {
                serde_json::to_string(&all).unwrap()
            };
            assert_eq!(write(pretty, false, &all).0, expected);
            let keys = FloatKeys(&float_keys);
            let expected = if pretty {
                serde_json::to_string_pretty(&keys).unwrap()
            } else {
                serde_json::to_string(&keys).unwrap()
            };
            assert_eq!(write(pretty, false, &keys).0, expected);
        }
    }

    #[test]
    fn keys_are_refused_and_accepted_as_serde_json_does() {
        struct Keyed<K>(K);
        impl<K: Serialize> Serialize for Keyed<K> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(&self.0, &1)?;
                map.end()
            }
        }
        fn same_as_serde_json<K: Serialize>(key: K) {
            let value = Keyed(key);
            let ours = JsonOut::new(false, 0);
            match (ours.value(&value), serde_json::to_string(&value)) {
                (Ok(()), Ok(theirs)) => {
                    assert_eq!(String::from_utf8(ours.finish().0).unwrap(), theirs)
                }
                (Err(ours), Err(theirs)) => assert_eq!(ours.to_string(), theirs.to_string()),
                (ours, theirs) => panic!("ours {ours:?}, serde_json's {theirs:?}"),
            }
        }
        #[derive(Serialize)]
        enum Variant {
            Unit,
            Newtype(u8),
        }
        #[derive(Serialize)]
        struct Unit;
        same_as_serde_json(Some(1u8));
        same_as_serde_json(Some("text"));
        same_as_serde_json(None::<u8>);
        same_as_serde_json(vec![1u8]);
        same_as_serde_json(serde_bytes_like(b"ab"));
        same_as_serde_json(());
        same_as_serde_json(Unit);
        same_as_serde_json(Variant::Unit);
        same_as_serde_json(Variant::Newtype(1));
        same_as_serde_json((1, 2));
        same_as_serde_json(BTreeMap::from([(1, 2)]));
        same_as_serde_json(f64::NAN);
        same_as_serde_json(f32::INFINITY);
        same_as_serde_json(2.5f32);
        same_as_serde_json('\n');
        same_as_serde_json(-7i128);
        same_as_serde_json(false);

        struct Bytes<'a>(&'a [u8]);
        impl Serialize for Bytes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        fn serde_bytes_like(bytes: &[u8]) -> Bytes<'_> {
            Bytes(bytes)
        }
        let refused = JsonOut::new(false, 0).value(&Keyed(vec![1u8])).unwrap_err();
        assert_eq!(refused.to_string(), "key must be a string");
    }

    /// Strings are escaped as serde_json escapes them, whatever the escapes' places relative to
    /// the eight-byte words the scan reads.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let specials = [
            '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{0}', '\u{1f}', '\u{7f}', 'é', '€',
            ' ', '~',
        ];
        for len in 0..20 {
            for at in 0..len.max(1) {
                for special in specials {
                    let text: String = (0..len)
                        .map(|i| {
                            if i == at {
                                special
                            } else {
                                char::from(b'a' + (i % 26) as u8)
                            }
                        })
                        .collect();
                    let expected = serde_json::to_string(&text).unwrap();
                    assert_eq!(write(false, false, &text).0, expected, "{text:?}");
                    let mut buf = Vec::new();
                    let escaped = write_escaped(&mut buf, &text);
                    assert_eq!(escaped, expected.len() != text.len() + 2, "{text:?}");
                }
            }
        }
        let every_byte: String = (0u8..0x80).map(char::from).collect::<String>().repeat(3);
        assert_eq!(
            write(false, false, &every_byte).0,
            serde_json::to_string(&every_byte).unwrap()
        );
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(text in "\\PC*|[\\x00-\\x7f]*") {
            proptest::prop_assert_eq!(
                write(false, false, &text).0,
                serde_json::to_string(&text).unwrap()
            );
        }
    }
}
