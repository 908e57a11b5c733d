//! Many patterns compiled into one structure.
//!
//! Compilation builds a trie of the field paths the patterns name, so that
//! reading an event visits only those paths, and an index from leaf values
//! to the conjunctions they may satisfy. Each conjunction is indexed on its
//! most selective field (the one whose values the fewest other
//! conjunctions share: `eventName` rather than `detail-type`), so an event
//! wakes only the conjunctions its own values point at; those are then
//! checked field by field, with array consistency. Adding rules adds
//! entries to hash maps, not work per event.
//!
//! The work is split by stage: [`walk`] reads an event (a parsed
//! `serde_json::Value`, or JSON text streamed without building it) along
//! the trie into leaves, and [`escaped`] reads one held escaped inside a
//! JSON string (a CloudWatch Logs message) without unescaping it;
//! [`verify`] checks a woken conjunction, array
//! consistency included; [`scratch`] holds the per-event working memory.

mod escaped;
mod scratch;
mod verify;
mod walk;

use std::borrow::Cow;
use std::collections::HashMap;

use serde::de::DeserializeSeed;
use serde_json::Value;

use super::match_value::{fold_into, MatchValue};
use super::parse::Conjunction;
use super::value::{ExactIndex, LeafValue};
use super::EventPattern;

pub use escaped::Declined;
pub use scratch::Scratch;
use scratch::{IndexedValue, NONE};
use walk::Walker;

type PathId = u32;
type SubId = u32;

/// A set of compiled event patterns, matched together.
#[derive(Debug, Clone, Default)]
pub struct PatternSet {
    trie: Vec<TrieNode>,
    subs: Vec<Sub>,
    anchors: Vec<Anchor>,
    unanchored: Vec<SubId>,
    patterns: usize,
    /// How many distinct field conditions ([`SubField::cond`]) there are.
    pub(super) conds: usize,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    children: HashMap<Box<str>, u32>,
    /// The same children keyed by their bytes under a fast fixed-seed
    /// hash, for the escaped reader ([`escaped`]), which looks keys up
    /// straight from the text.
    keys: HashMap<Box<[u8]>, u32, foldhash::fast::FixedState>,
    path: Option<PathId>,
}

/// One conjunction of one pattern (a pattern with `$or` has several).
#[derive(Debug, Clone)]
struct Sub {
    pattern: u32,
    fields: Vec<SubField>,
    /// The condition of the field it is indexed on
    /// ([`PatternSet::build_anchors`]), unless it has none or that field
    /// holds addresses: a leaf outside every array that wakes it by an
    /// exact value settles that condition for the event.
    anchor_cond: Option<u32>,
    /// For fields `i` and `j`, how many leading path segments they share
    /// (at `i * fields.len() + j`): fields that share more sit in more of
    /// the same arrays.
    shared: Vec<u16>,
}

impl Sub {
    fn shared(&self, i: u32, j: u32) -> u16 {
        self.shared.get(i as usize * self.fields.len() + j as usize).copied().unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
struct SubField {
    path: PathId,
    values: Vec<MatchValue>,
    /// `exists: false` is among the conditions: no leaf at all satisfies it.
    absent_ok: bool,
    /// An address condition (`cidr`, or an exact value that is an address)
    /// is among them: a string leaf is read as an address, once.
    addresses: bool,
    /// The condition's id, shared by every field with the same path and
    /// values (`"detail-type": ["AWS API Call via CloudTrail"]` in most
    /// patterns): an event's verdict on it is found once and remembered
    /// ([`Scratch::cond_memo`]).
    cond: u32,
}

/// The index of one path: which conjunctions a leaf there may wake.
#[derive(Debug, Clone, Default)]
struct Anchor {
    exact: ExactIndex<SubId>,
    folded: HashMap<Box<str>, Vec<SubId>>,
    present: Vec<SubId>,
}

impl PatternSet {
    /// Compile patterns; pattern `i` is reported as `i` by [`PatternSet::matches`].
    pub fn new<'p>(patterns: impl IntoIterator<Item = &'p EventPattern>) -> PatternSet {
        let mut set = PatternSet { trie: vec![TrieNode::default()], ..Default::default() };
        let mut subs: Vec<(u32, &Conjunction)> = Vec::new();
        for (i, p) in patterns.into_iter().enumerate() {
            subs.extend(p.conjunctions.iter().map(|c| (i as u32, c)));
            set.patterns = i + 1;
        }
        // Conditions keyed by path and the values' structural (derived)
        // `Debug` form, which spells out every part of every value.
        let mut conds: HashMap<(PathId, String), u32> = HashMap::new();
        for (pattern, conj) in &subs {
            let fields = conj
                .iter()
                .map(|f| {
                    let path = set.intern(&f.path);
                    let next = conds.len() as u32;
                    let cond = *conds.entry((path, format!("{:?}", f.values))).or_insert(next);
                    SubField {
                        path,
                        values: f.values.clone(),
                        absent_ok: f.values.iter().any(|c| matches!(c, MatchValue::Absent)),
                        addresses: f.values.iter().any(|c| matches!(c, MatchValue::Address(_) | MatchValue::Cidr(_))),
                        cond,
                    }
                })
                .collect();
            let shared = conj
                .iter()
                .flat_map(|a| {
                    conj.iter().map(|b| a.path.iter().zip(&b.path).take_while(|(x, y)| x == y).count() as u16)
                })
                .collect();
            set.subs.push(Sub { pattern: *pattern, fields, anchor_cond: None, shared });
        }
        set.conds = conds.len();
        set.build_anchors();
        set
    }

    /// The number of patterns compiled in.
    pub fn len(&self) -> usize {
        self.patterns
    }

    /// Whether no pattern was compiled in.
    pub fn is_empty(&self) -> bool {
        self.patterns == 0
    }

    fn intern(&mut self, path: &[Box<str>]) -> PathId {
        let mut node = 0usize;
        for seg in path {
            let next = self.trie.len() as u32;
            let child = *self.trie[node].children.entry(seg.clone()).or_insert(next);
            if child == next {
                self.trie[node].keys.insert(Box::from(seg.as_bytes()), next);
                self.trie.push(TrieNode::default());
            }
            node = child as usize;
        }
        if let Some(id) = self.trie[node].path {
            return id;
        }
        let id = self.anchors.len() as PathId;
        self.anchors.push(Anchor::default());
        self.trie[node].path = Some(id);
        id
    }

    /// Choose each conjunction's anchor: the indexable field whose values
    /// are shared by the fewest conjunctions.
    fn build_anchors(&mut self) {
        let mut shared: HashMap<(PathId, String), usize> = HashMap::new();
        for sub in &self.subs {
            for f in &sub.fields {
                for key in index_keys(f) {
                    *shared.entry((f.path, key)).or_default() += 1;
                }
            }
        }
        for (id, sub) in self.subs.iter_mut().enumerate() {
            let id = id as SubId;
            let best = sub.fields.iter().filter(|f| indexable(f)).min_by_key(|f| {
                index_keys(f).iter().map(|k| shared.get(&(f.path, k.clone())).copied().unwrap_or(0)).sum::<usize>()
            });
            let Some(field) = best else {
                self.unanchored.push(id);
                continue;
            };
            sub.anchor_cond = (!field.addresses).then_some(field.cond);
            let anchor = &mut self.anchors[field.path as usize];
            for value in &field.values {
                match value {
                    MatchValue::Exact(lit) => anchor.exact.insert(lit, id),
                    MatchValue::Address(addr) => anchor.exact.insert_addr(*addr, id),
                    MatchValue::EqualsIgnoreCase(s) => anchor.folded.entry(s.clone()).or_default().push(id),
                    MatchValue::Exists => anchor.present.push(id),
                    _ => {}
                }
            }
        }
        for a in &mut self.anchors {
            for list in a.folded.values_mut() {
                list.dedup();
            }
            a.present.dedup();
        }
    }

    /// The indices of the patterns that match this event, ascending.
    pub fn matches(&self, event: &Value) -> Vec<usize> {
        let mut out = Vec::new();
        self.matches_into(event, &mut Scratch::default(), &mut out);
        out
    }

    /// [`PatternSet::matches`] into `out` (cleared first), reusing `scratch`.
    pub fn matches_into(&self, event: &Value, scratch: &mut Scratch, out: &mut Vec<usize>) {
        out.clear();
        scratch.reset(self);
        let mut strings: Vec<Cow<'_, str>> = Vec::new();
        self.walk(event, 0, scratch, &mut strings, 0);
        self.finish(scratch, &strings, out);
    }

    /// Match an event given as JSON text, reading only the fields some
    /// pattern names: every other part of the event is skipped by the
    /// parser without being built. Same verdicts as [`PatternSet::matches_into`]
    /// on the parsed event; an error if the text is not one JSON value.
    pub fn matches_json(
        &self,
        text: &str,
        scratch: &mut Scratch,
        out: &mut Vec<usize>,
    ) -> Result<(), serde_json::Error> {
        self.walk_json(text, scratch)?.finish(out);
        Ok(())
    }

    /// Read an event's JSON text along the trie, to be matched
    /// ([`Walked::finish`]) and its captured paths read after
    /// ([`Walked::scalar`]); an error if the text is not one JSON value.
    pub fn walk_json<'a, 't>(
        &'a self,
        text: &'t str,
        scratch: &'a mut Scratch,
    ) -> Result<Walked<'a, 't>, serde_json::Error> {
        scratch.reset(self);
        let mut strings: Vec<Cow<'t, str>> = Vec::new();
        let mut de = serde_json::Deserializer::from_str(text);
        Walker { set: self, node: 0, elem: None, s: scratch, strings: &mut strings, detail: false }
            .deserialize(&mut de)?;
        de.end()?;
        Ok(Walked { set: self, s: scratch, strings, linked: 0 })
    }

    /// Also read the values at these paths (which no pattern need name)
    /// into leaves, for [`Walked::text`] to give; their handles, in order.
    pub fn capture(&mut self, paths: &[&[&str]]) -> Vec<FieldPath> {
        paths
            .iter()
            .map(|path| FieldPath(self.intern(&path.iter().map(|&seg| Box::from(seg)).collect::<Vec<_>>())))
            .collect()
    }

    /// The top-level member `key`, if some pattern reads it.
    pub fn top_member(&self, key: &str) -> Option<TopMember> {
        self.trie[0].children.get(key).map(|&n| TopMember(n))
    }

    /// Read JSON text along the trie as the member `key` of an event's top
    /// level, as [`PatternSet::matches_json`] reads that member of the whole
    /// event's text; the event's other members are then added
    /// ([`Walked::add_text`]) and the whole matched ([`Walked::finish`]).
    /// An error if the text is not one JSON value.
    pub fn walk_json_member<'a, 't>(
        &'a self,
        key: &str,
        text: &'t str,
        scratch: &'a mut Scratch,
    ) -> Result<Walked<'a, 't>, serde_json::Error> {
        scratch.reset(self);
        let mut strings: Vec<Cow<'t, str>> = Vec::new();
        let mut de = serde_json::Deserializer::from_str(text);
        match self.trie[0].children.get(key) {
            Some(&node) => {
                // Read as `detail` is: whether it is an object is noted.
                let walker = Walker {
                    set: self,
                    node: node as usize,
                    elem: None,
                    s: scratch,
                    strings: &mut strings,
                    detail: true,
                };
                walker.deserialize(&mut de)?;
            }
            None => {
                let object = walk::Checked.deserialize(&mut de)?;
                scratch.envelope.detail_object += u8::from(object);
            }
        }
        de.end()?;
        // Linked now, for `Walked::text`; `Walked::finish` links the rest.
        link(scratch, 0);
        let linked = scratch.leaves.len();
        Ok(Walked { set: self, s: scratch, strings, linked })
    }

    /// Index the collected leaves, wake the conjunctions their values
    /// point at, and verify each.
    fn finish(&self, s: &mut Scratch, strings: &[Cow<'_, str>], out: &mut Vec<usize>) {
        self.finish_linked(s, strings, out, 0);
    }

    /// [`PatternSet::finish`], the leaves before `linked` already linked.
    fn finish_linked(&self, s: &mut Scratch, strings: &[Cow<'_, str>], out: &mut Vec<usize>, linked: usize) {
        link(s, linked);
        // Wake the conjunctions anchored on the leaves' values.
        for i in 0..s.leaves.len() {
            let leaf = s.leaves[i];
            let anchor = &self.anchors[leaf.path as usize];
            let value = leaf.value.get(strings);
            // A leaf outside every array that equals one of the anchor
            // field's exact values satisfies that field whatever the other
            // fields' leaves are (no array element to agree on): its
            // condition is settled for the event before any verifying.
            let free = leaf.members.1 == 0;
            for &sub in anchor.exact.get(value) {
                wake(s, sub);
                if let Some(cond) = self.subs[sub as usize].anchor_cond.filter(|_| free) {
                    s.cond_memo[cond as usize] = (s.generation, true);
                }
            }
            for &sub in &anchor.present {
                wake(s, sub);
            }
            if !anchor.folded.is_empty() {
                if let LeafValue::Str(text) = value {
                    fold_into(&mut s.folded, text);
                    if let Some(subs) = anchor.folded.get(s.folded.as_str()) {
                        for &sub in subs {
                            wake(s, sub);
                        }
                    }
                }
            }
        }
        for &sub in &self.unanchored {
            wake(s, sub);
        }
        let candidates = std::mem::take(&mut s.candidates);
        for &sub in &candidates {
            let sub = &self.subs[sub as usize];
            let pattern = sub.pattern as usize;
            if s.pattern_gen[pattern] != s.generation && self.verify(sub, s, strings) {
                s.pattern_gen[pattern] = s.generation;
                out.push(pattern);
            }
        }
        s.candidates = candidates;
        out.sort_unstable();
    }
}

/// One value outside every array, as a walk read it ([`Walked::scalar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar<'a> {
    Str(&'a str),
    Bool(bool),
    Null,
}

/// A path a [`PatternSet`] reads into leaves ([`PatternSet::capture`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldPath(PathId);

/// A top-level member of an event some pattern reads
/// ([`PatternSet::top_member`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopMember(u32);

/// One member of an event read along a set's trie
/// ([`PatternSet::walk_json_member`]), not matched yet.
#[derive(Debug)]
pub struct Walked<'a, 't> {
    set: &'a PatternSet,
    s: &'a mut Scratch,
    strings: Vec<Cow<'t, str>>,
    /// The leaves linked into their paths' lists: those the text gave.
    linked: usize,
}

impl<'t> Walked<'_, 't> {
    /// Whether the member read was a JSON object.
    pub fn is_object(&self) -> bool {
        self.s.envelope.detail_object == 1
    }

    /// Whether the text read was an EventBridge event carrying a record
    /// ([`Scratch::is_eventbridge_event`]).
    pub fn is_eventbridge_event(&self) -> bool {
        self.s.is_eventbridge_event()
    }

    /// Whether a path was reached through a dotted key (`"a.b"`, read as
    /// `a` holding `b`): then the leaves' paths are not the text's own keys.
    pub fn dotted(&self) -> bool {
        self.s.dotted
    }

    /// The string at `path` in the member read, where its value there is
    /// one string outside every array (the member's last value of a
    /// repeated key); `None` for a missing value or one of another type.
    pub fn text(&self, path: FieldPath) -> Option<&str> {
        match self.scalar(path) {
            Some(Scalar::Str(text)) => Some(text),
            _ => None,
        }
    }

    /// The string, boolean or null at `path` in the member read, where its
    /// value there is one such value outside every array (the member's last
    /// value of a repeated key); `None` for a missing value, a number, an
    /// object or an array.
    pub fn scalar(&self, path: FieldPath) -> Option<Scalar<'_>> {
        let (gen, first) = self.s.heads[path.0 as usize];
        if gen != self.s.generation || first == NONE || self.s.next[first as usize] != NONE {
            return None;
        }
        let leaf = &self.s.leaves[first as usize];
        if leaf.in_array {
            return None;
        }
        match leaf.value {
            IndexedValue::Str(i) => self.strings.get(i as usize).map(|s| Scalar::Str(s.as_ref())),
            IndexedValue::Bool(b) => Some(Scalar::Bool(b)),
            IndexedValue::Null => Some(Scalar::Null),
            IndexedValue::Num(_) => None,
        }
    }

    /// Add a string member to the event's top level.
    pub fn add_text(&mut self, member: TopMember, value: Cow<'t, str>) {
        self.strings.push(value);
        self.set.leaf(member.0 as usize, IndexedValue::Str(self.strings.len() as u32 - 1), self.s);
    }

    /// The indices of the patterns the whole event matches, ascending,
    /// into `out` (cleared first).
    /// The leaves stay readable ([`Walked::scalar`]) afterwards.
    pub fn finish(&mut self, out: &mut Vec<usize>) {
        out.clear();
        self.set.finish_linked(self.s, &self.strings, out, self.linked);
    }
}

/// Link the leaves from `from` on into their paths' lists.
fn link(s: &mut Scratch, from: usize) {
    for (i, leaf) in s.leaves.iter().enumerate().skip(from) {
        let head = &mut s.heads[leaf.path as usize];
        if head.0 != s.generation {
            *head = (s.generation, NONE);
        }
        s.next[i] = head.1;
        head.1 = i as u32;
    }
}

fn wake(s: &mut Scratch, sub: SubId) {
    let g = &mut s.sub_gen[sub as usize];
    if *g != s.generation {
        *g = s.generation;
        s.candidates.push(sub);
    }
}

/// A field can anchor its conjunction when a leaf that satisfies it is
/// found by lookup: exact values (addresses among them), case-folded
/// values, or mere presence.
fn indexable(f: &SubField) -> bool {
    !f.values.is_empty()
        && f.values.iter().all(|c| {
            matches!(
                c,
                MatchValue::Exact(_) | MatchValue::Address(_) | MatchValue::EqualsIgnoreCase(_) | MatchValue::Exists
            )
        })
}

/// The index keys of an indexable field, for counting how widely they are
/// shared. Presence is shared by every conjunction on the path, so it
/// counts heavily.
fn index_keys(f: &SubField) -> Vec<String> {
    if !indexable(f) {
        return Vec::new();
    }
    f.values
        .iter()
        .map(|c| match c {
            MatchValue::Exact(lit) => format!("={lit:?}"),
            MatchValue::Address(addr) => format!("@{addr:?}"),
            MatchValue::EqualsIgnoreCase(s) => format!("~{s}"),
            _ => "exists".to_string(),
        })
        .collect()
}
