//! Reading an event along the trie of named paths into leaves: from a
//! parsed `serde_json::Value`, or from JSON text, streamed, skipping what
//! no pattern names without building it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::scratch::{IndexedValue, Leaf, Scratch, NONE};
use super::PatternSet;
use crate::pattern::value::LeafValue;

/// Deeper parts of an event are not read (serde_json refuses JSON nested
/// past 128 anyway; this guards values built in code).
const MAX_EVENT_DEPTH: usize = 256;

impl PatternSet {
    /// Record a leaf at trie node `node`, if a pattern names its path.
    pub(super) fn leaf(&self, node: usize, value: IndexedValue, s: &mut Scratch) {
        let Some(path) = self.trie[node].path else {
            return;
        };
        let start = s.members.len() as u32;
        s.members.extend_from_slice(&s.binding);
        let in_array = s.array_depth > 0;
        s.leaves.push(Leaf { path, value, members: (start, s.binding.len() as u32), in_array });
        s.next.push(NONE);
    }

    /// The trie node under `node` for an event key, and whether it was
    /// reached through a dotted key ("a.b"), which descends one level per
    /// part, as the nested form would.
    pub(super) fn child(&self, node: usize, key: &str) -> Option<(usize, bool)> {
        if let Some(&n) = self.trie[node].children.get(key) {
            return Some((n as usize, false));
        }
        if !key.contains('.') {
            return None;
        }
        let n = key.split('.').try_fold(node, |at, part| self.trie[at].children.get(part).map(|&n| n as usize))?;
        Some((n, true))
    }

    /// Collect the leaves of the paths the patterns name.
    pub(super) fn walk<'e>(
        &self,
        v: &'e Value,
        node: usize,
        s: &mut Scratch,
        strings: &mut Vec<Cow<'e, str>>,
        depth: usize,
    ) {
        if depth > MAX_EVENT_DEPTH {
            return;
        }
        match v {
            Value::Object(map) => {
                let children = &self.trie[node].children;
                if children.is_empty() {
                    return;
                }
                for (k, child) in map {
                    if let Some((n, _)) = self.child(node, k) {
                        self.walk(child, n, s, strings, depth + 1);
                    }
                }
            }
            Value::Array(items) => {
                let array = s.arrays;
                s.arrays += 1;
                s.array_depth += 1;
                for (i, item) in items.iter().enumerate() {
                    if item.is_object() || item.is_array() {
                        s.binding.push((array, i as u32));
                        self.walk(item, node, s, strings, depth + 1);
                        s.binding.pop();
                    } else {
                        self.walk(item, node, s, strings, depth + 1);
                    }
                }
                s.array_depth -= 1;
            }
            Value::String(text) => {
                strings.push(Cow::Borrowed(text));
                self.leaf(node, IndexedValue::Str(strings.len() as u32 - 1), s);
            }
            other => {
                let value = match LeafValue::of(other) {
                    Some(LeafValue::Num(n)) => IndexedValue::Num(n),
                    Some(LeafValue::Bool(b)) => IndexedValue::Bool(b),
                    _ => IndexedValue::Null,
                };
                self.leaf(node, value, s);
            }
        }
    }
}

/// Reads an event's JSON text along the trie: fields no pattern names are
/// read without being built ([`Checked`]), the rest become leaves.
pub(super) struct Walker<'a, 'de> {
    pub(super) set: &'a PatternSet,
    pub(super) node: usize,
    /// The (array, index) this value is an element of, if any.
    pub(super) elem: Option<(u32, u32)>,
    pub(super) s: &'a mut Scratch,
    pub(super) strings: &'a mut Vec<Cow<'de, str>>,
    /// This value is the top level's `detail`: whether it is an object is
    /// noted in the scratch's envelope.
    pub(super) detail: bool,
}

impl<'de> DeserializeSeed<'de> for Walker<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let node = &self.set.trie[self.node];
        if node.children.is_empty() && node.path.is_none() {
            let object = Checked.deserialize(d)?;
            if self.detail {
                self.s.envelope.detail_object += u8::from(object);
            }
            Ok(())
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Walker<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let pushed = self.elem.map(|m| self.s.binding.push(m)).is_some();
        let top = self.node == 0 && self.elem.is_none() && !self.detail;
        if top {
            self.s.envelope.object = true;
        }
        if self.detail {
            self.s.envelope.detail_object = self.s.envelope.detail_object.saturating_add(1);
        }
        // The leaves each key gave (a contiguous range), so that a repeated
        // key keeps only its last value, as the parsed event does (serde_json's
        // Value keeps the last of duplicate keys).
        let mut given: Vec<(Cow<'de, str>, usize, usize)> = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let detail = top && key == "detail";
            if top {
                let e = &mut self.s.envelope;
                if detail {
                    e.detail = e.detail.saturating_add(1);
                } else if key == "detail-type" {
                    e.detail_type = e.detail_type.saturating_add(1);
                } else if key == "awslogs" || key == "Records" {
                    e.other_path = true;
                }
            }
            match self.set.child(self.node, &key) {
                Some((n, dotted)) => {
                    self.s.dotted |= dotted;
                    self.s.forget_given(&mut given, 0, key.as_ref());
                    let start = self.s.leaves.len();
                    map.next_value_seed(Walker {
                        set: self.set,
                        node: n,
                        elem: None,
                        s: &mut *self.s,
                        strings: &mut *self.strings,
                        detail,
                    })?;
                    if self.s.leaves.len() > start {
                        given.push((key, start, self.s.leaves.len()));
                    }
                }
                None if detail => {
                    let object = map.next_value_seed(Checked)?;
                    self.s.envelope.detail_object += u8::from(object);
                }
                None => {
                    map.next_value_seed(Checked)?;
                }
            }
        }
        if pushed {
            self.s.binding.pop();
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let pushed = self.elem.map(|m| self.s.binding.push(m)).is_some();
        let array = self.s.arrays;
        self.s.arrays += 1;
        self.s.array_depth += 1;
        let mut index = 0u32;
        while seq
            .next_element_seed(Walker {
                set: self.set,
                node: self.node,
                elem: Some((array, index)),
                s: &mut *self.s,
                strings: &mut *self.strings,
                detail: false,
            })?
            .is_some()
        {
            index += 1;
        }
        self.s.array_depth -= 1;
        if pushed {
            self.s.binding.pop();
        }
        Ok(())
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.strings.push(Cow::Borrowed(v));
        self.set.leaf(self.node, IndexedValue::Str(self.strings.len() as u32 - 1), self.s);
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.strings.push(Cow::Owned(v.to_string()));
        self.set.leaf(self.node, IndexedValue::Str(self.strings.len() as u32 - 1), self.s);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.set.leaf(self.node, IndexedValue::Num(v as f64), self.s);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.set.leaf(self.node, IndexedValue::Num(v as f64), self.s);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.set.leaf(self.node, IndexedValue::Num(v), self.s);
        Ok(())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.set.leaf(self.node, IndexedValue::Bool(v), self.s);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.set.leaf(self.node, IndexedValue::Null, self.s);
        Ok(())
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

/// A value read and dropped, checked as parsing it would check it: its
/// strings' escapes (a lone surrogate) and its numbers' range (`1e400`),
/// which serde_json's `IgnoredAny` lets through. So text the streaming path
/// reads to a verdict is text `serde_json::from_str` parses, and a record
/// it could not parse is reported, never counted as unmatched. Gives
/// whether the value was an object.
pub(super) struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry_seed(Checked, Checked)?.is_some() {}
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element_seed(Checked)?.is_some() {}
        Ok(false)
    }

    fn visit_borrowed_str<E>(self, _: &'de str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}
