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

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use serde_json::Value;

use super::match_value::{fold, MatchValue};
use super::parse::Conjunction;
use super::value::{ExactIndex, LeafValue};
use super::EventPattern;

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
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    children: HashMap<Box<str>, u32>,
    path: Option<PathId>,
}

/// One conjunction of one pattern (a pattern with `$or` has several).
#[derive(Debug, Clone)]
struct Sub {
    pattern: u32,
    fields: Vec<SubField>,
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
}

/// The index of one path: which conjunctions a leaf there may wake.
#[derive(Debug, Clone, Default)]
struct Anchor {
    exact: ExactIndex<SubId>,
    folded: HashMap<Box<str>, Vec<SubId>>,
    present: Vec<SubId>,
}

/// Reusable per-event working memory, so matching does not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    leaves: Vec<Leaf>,
    /// (array id, element index) pairs; each leaf owns a range of them.
    members: Vec<(u32, u32)>,
    /// Per path: the generation it was last seen in and its first leaf.
    heads: Vec<(u32, u32)>,
    /// Per leaf: the next leaf at the same path (`u32::MAX` ends the list).
    next: Vec<u32>,
    sub_gen: Vec<u32>,
    pattern_gen: Vec<u32>,
    generation: u32,
    candidates: Vec<SubId>,
    /// Per constrained field: its candidates' range in `pool`, its index.
    choice: Vec<(u32, u32, u32)>,
    pool: Vec<u32>,
    binding: Vec<(u32, u32)>,
    arrays: u32,
    folded: String,
}

#[derive(Debug, Clone, Copy)]
struct Leaf {
    path: PathId,
    value: IndexedValue,
    members: (u32, u32),
}

/// A leaf value whose string lives in the event; stored as a raw pointer
/// range would be unsafe, so the scratch keeps an index into the event
/// walk instead. Strings are re-borrowed through `Event`.
#[derive(Debug, Clone, Copy)]
enum IndexedValue {
    Str(u32),
    Num(f64),
    Bool(bool),
    Null,
}

const NONE: u32 = u32::MAX;
/// Deeper parts of an event are not read (serde_json refuses JSON nested
/// past 128 anyway; this guards values built in code).
const MAX_EVENT_DEPTH: usize = 256;

impl PatternSet {
    /// Compile patterns; pattern `i` is reported as `i` by [`PatternSet::matches`].
    pub fn new<'p>(patterns: impl IntoIterator<Item = &'p EventPattern>) -> PatternSet {
        let mut set = PatternSet { trie: vec![TrieNode::default()], ..Default::default() };
        let mut subs: Vec<(u32, &Conjunction)> = Vec::new();
        for (i, p) in patterns.into_iter().enumerate() {
            subs.extend(p.conjunctions.iter().map(|c| (i as u32, c)));
            set.patterns = i + 1;
        }
        for (pattern, conj) in &subs {
            let fields = conj
                .iter()
                .map(|f| SubField {
                    path: set.intern(&f.path),
                    values: f.values.clone(),
                    absent_ok: f.values.iter().any(|c| matches!(c, MatchValue::Absent)),
                })
                .collect();
            let shared = conj
                .iter()
                .flat_map(|a| {
                    conj.iter().map(|b| a.path.iter().zip(&b.path).take_while(|(x, y)| x == y).count() as u16)
                })
                .collect();
            set.subs.push(Sub { pattern: *pattern, fields, shared });
        }
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
        for (id, sub) in self.subs.iter().enumerate() {
            let id = id as SubId;
            let best = sub
                .fields
                .iter()
                .filter(|f| indexable(f))
                .min_by_key(|f| {
                    index_keys(f).iter().map(|k| shared.get(&(f.path, k.clone())).copied().unwrap_or(0)).sum::<usize>()
                });
            let Some(field) = best else {
                self.unanchored.push(id);
                continue;
            };
            let anchor = &mut self.anchors[field.path as usize];
            for value in &field.values {
                match value {
                    MatchValue::Exact(lit) => anchor.exact.insert(lit, id),
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
    pub fn matches_json(&self, text: &str, scratch: &mut Scratch, out: &mut Vec<usize>) -> Result<(), serde_json::Error> {
        out.clear();
        scratch.reset(self);
        let mut strings: Vec<Cow<'_, str>> = Vec::new();
        let mut de = serde_json::Deserializer::from_str(text);
        Walker { set: self, node: 0, elem: None, s: scratch, strings: &mut strings }.deserialize(&mut de)?;
        de.end()?;
        self.finish(scratch, &strings, out);
        Ok(())
    }

    /// Index the collected leaves, wake the conjunctions their values
    /// point at, and verify each.
    fn finish(&self, s: &mut Scratch, strings: &[Cow<'_, str>], out: &mut Vec<usize>) {
        // Link the leaves of each path.
        for (i, leaf) in s.leaves.iter().enumerate() {
            let head = &mut s.heads[leaf.path as usize];
            if head.0 != s.generation {
                *head = (s.generation, NONE);
            }
            s.next[i] = head.1;
            head.1 = i as u32;
        }
        // Wake the conjunctions anchored on the leaves' values.
        for i in 0..s.leaves.len() {
            let leaf = s.leaves[i];
            let anchor = &self.anchors[leaf.path as usize];
            let value = leaf.value.get(strings);
            for &sub in anchor.exact.get(value) {
                wake(s, sub);
            }
            for &sub in &anchor.present {
                wake(s, sub);
            }
            if !anchor.folded.is_empty() {
                if let LeafValue::Str(text) = value {
                    s.folded.clear();
                    s.folded.push_str(&fold(text));
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

    /// Record a leaf at trie node `node`, if a pattern names its path.
    fn leaf(&self, node: usize, value: IndexedValue, s: &mut Scratch) {
        let Some(path) = self.trie[node].path else {
            return;
        };
        let start = s.members.len() as u32;
        s.members.extend_from_slice(&s.binding);
        s.leaves.push(Leaf { path, value, members: (start, s.binding.len() as u32) });
        s.next.push(NONE);
    }

    /// The trie node under `node` for an event key; a dotted key ("a.b")
    /// descends one level per part, as the nested form would.
    fn child(&self, node: usize, key: &str) -> Option<usize> {
        if let Some(&n) = self.trie[node].children.get(key) {
            return Some(n as usize);
        }
        if !key.contains('.') {
            return None;
        }
        key.split('.').try_fold(node, |at, part| self.trie[at].children.get(part).map(|&n| n as usize))
    }

    /// Collect the leaves of the paths the patterns name.
    fn walk<'e>(&self, v: &'e Value, node: usize, s: &mut Scratch, strings: &mut Vec<Cow<'e, str>>, depth: usize) {
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
                    if let Some(n) = self.child(node, k) {
                        self.walk(child, n, s, strings, depth + 1);
                    }
                }
            }
            Value::Array(items) => {
                let array = s.arrays;
                s.arrays += 1;
                for (i, item) in items.iter().enumerate() {
                    if item.is_object() || item.is_array() {
                        s.binding.push((array, i as u32));
                        self.walk(item, node, s, strings, depth + 1);
                        s.binding.pop();
                    } else {
                        self.walk(item, node, s, strings, depth + 1);
                    }
                }
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

    /// Whether every field of the conjunction holds, on leaves that come
    /// from the same element of every array they share.
    fn verify(&self, sub: &Sub, s: &mut Scratch, strings: &[Cow<'_, str>]) -> bool {
        s.choice.clear();
        s.pool.clear();
        for (fi, field) in sub.fields.iter().enumerate() {
            let (gen, first) = s.heads[field.path as usize];
            let mut leaf = if gen == s.generation { first } else { NONE };
            if leaf == NONE {
                if field.absent_ok {
                    continue;
                }
                return false;
            }
            let start = s.pool.len() as u32;
            let mut free = false;
            while leaf != NONE {
                let l = s.leaves[leaf as usize];
                if field.values.iter().any(|c| c.matches(l.value.get(strings))) {
                    if l.members.1 == 0 {
                        free = true;
                        break;
                    }
                    s.pool.push(leaf);
                }
                leaf = s.next[leaf as usize];
            }
            if free {
                s.pool.truncate(start as usize);
                continue;
            }
            if s.pool.len() as u32 == start {
                return false;
            }
            s.choice.push((start, s.pool.len() as u32, fi as u32));
        }
        if s.choice.len() <= 1 {
            return true;
        }
        // Fewest candidates first. Then, greedily, the field whose path
        // shares the most with one already placed: it sits in the same
        // arrays, so the elements chosen so far narrow it, and a
        // contradiction there is found before fields elsewhere multiply
        // the choices to retry.
        s.choice.sort_by_key(|&(a, b, _)| b - a);
        for placed in 1..s.choice.len() {
            let choice = &s.choice;
            let next = (placed..choice.len()).max_by_key(|&j| {
                let (a, b, f) = choice[j];
                let shared = choice[..placed].iter().map(|&(_, _, g)| sub.shared(g, f)).max();
                (shared, std::cmp::Reverse(b - a), std::cmp::Reverse(j))
            });
            if let Some(next) = next {
                s.choice.swap(placed, next);
            }
        }
        // Long candidate lists are ordered by the elements of the arrays
        // they sit in, outermost first, so that once earlier choices fix
        // those elements the candidates in them are found by binary search,
        // level by level (n log n, not n^2 or worse, in arrays an attacker
        // can make long, such as `ipPermissions.items[].ipRanges.items[]`).
        for &(start, end, _) in &s.choice {
            if end - start > SCAN_MAX {
                let (leaves, members) = (&s.leaves, &s.members);
                s.pool[start as usize..end as usize]
                    .sort_by(|&a, &b| arrays_of(leaves, members, a).cmp(arrays_of(leaves, members, b)));
            }
        }
        s.binding.clear();
        consistent(s, 0)
    }
}

/// Pick one leaf per constrained field such that no two disagree on the
/// element of an array they both sit in.
fn consistent(s: &mut Scratch, field: usize) -> bool {
    let Some(&(start, end, _)) = s.choice.get(field) else {
        return true;
    };
    let (mut lo, mut hi) = (start, end);
    if end - start > SCAN_MAX {
        let (leaves, members, pool) = (&s.leaves, &s.members, &s.pool);
        let level_of = |l: u32, level: usize| arrays_of(leaves, members, l).get(level).copied();
        // The candidates in [lo, hi) share their arrays' elements above
        // `level`. Where they also all sit in one array at `level` (along
        // one path, inside one element, there is only one) and the binding
        // fixes its element, only that element's candidates can agree.
        for level in 0.. {
            if lo >= hi {
                break;
            }
            let (Some(first), Some(last)) = (level_of(pool[lo as usize], level), level_of(pool[hi as usize - 1], level))
            else {
                break;
            };
            if first.0 != last.0 {
                break;
            }
            let Some(&bound) = s.binding.iter().find(|(a, _)| *a == first.0) else {
                break;
            };
            let slice = &pool[lo as usize..hi as usize];
            let from = slice.partition_point(|&l| level_of(l, level) < Some(bound)) as u32;
            let to = slice.partition_point(|&l| level_of(l, level) <= Some(bound)) as u32;
            (lo, hi) = (lo + from, lo + to);
        }
    }
    for at in lo..hi {
        let leaf = s.leaves[s.pool[at as usize] as usize];
        let (m0, mn) = leaf.members;
        let members = &s.members[m0 as usize..(m0 + mn) as usize];
        let clash = members
            .iter()
            .any(|&(arr, idx)| s.binding.iter().any(|&(a, i)| a == arr && i != idx));
        if clash {
            continue;
        }
        let mark = s.binding.len();
        for i in m0..m0 + mn {
            let m = s.members[i as usize];
            if !s.binding.contains(&m) {
                s.binding.push(m);
            }
        }
        if consistent(s, field + 1) {
            return true;
        }
        s.binding.truncate(mark);
    }
    false
}

/// Candidate lists longer than this are searched, not scanned.
const SCAN_MAX: u32 = 8;

/// The (array, element) pairs a constrained leaf sits in, outermost first.
fn arrays_of<'m>(leaves: &[Leaf], members: &'m [(u32, u32)], leaf: u32) -> &'m [(u32, u32)] {
    leaves
        .get(leaf as usize)
        .and_then(|l| members.get(l.members.0 as usize..(l.members.0 + l.members.1) as usize))
        .unwrap_or(&[])
}

fn wake(s: &mut Scratch, sub: SubId) {
    let g = &mut s.sub_gen[sub as usize];
    if *g != s.generation {
        *g = s.generation;
        s.candidates.push(sub);
    }
}

/// A field can anchor its conjunction when a leaf that satisfies it is
/// found by lookup: exact values, case-folded values, or mere presence.
fn indexable(f: &SubField) -> bool {
    !f.values.is_empty()
        && f.values.iter().all(|c| matches!(c, MatchValue::Exact(_) | MatchValue::EqualsIgnoreCase(_) | MatchValue::Exists))
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
            MatchValue::EqualsIgnoreCase(s) => format!("~{s}"),
            _ => "exists".to_string(),
        })
        .collect()
}

impl Scratch {
    fn reset(&mut self, set: &PatternSet) {
        self.leaves.clear();
        self.members.clear();
        self.next.clear();
        self.candidates.clear();
        self.binding.clear();
        self.arrays = 0;
        if self.heads.len() != set.anchors.len() {
            self.heads = vec![(0, NONE); set.anchors.len()];
        }
        if self.sub_gen.len() != set.subs.len() {
            self.sub_gen = vec![0; set.subs.len()];
        }
        if self.pattern_gen.len() != set.patterns {
            self.pattern_gen = vec![0; set.patterns];
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Stamps from 2^32 events ago could collide: start afresh.
            self.heads.iter_mut().for_each(|h| *h = (0, NONE));
            self.sub_gen.iter_mut().for_each(|g| *g = 0);
            self.pattern_gen.iter_mut().for_each(|g| *g = 0);
            self.generation = 1;
        }
    }
}

impl IndexedValue {
    fn get<'a>(self, strings: &'a [Cow<'_, str>]) -> LeafValue<'a> {
        match self {
            IndexedValue::Str(i) => LeafValue::Str(strings.get(i as usize).map_or("", |s| s.as_ref())),
            IndexedValue::Num(n) => LeafValue::Num(n),
            IndexedValue::Bool(b) => LeafValue::Bool(b),
            IndexedValue::Null => LeafValue::Null,
        }
    }
}

/// Reads an event's JSON text along the trie: fields no pattern names are
/// skipped by the parser (`IgnoredAny`), the rest become leaves.
struct Walker<'a, 'de> {
    set: &'a PatternSet,
    node: usize,
    /// The (array, index) this value is an element of, if any.
    elem: Option<(u32, u32)>,
    s: &'a mut Scratch,
    strings: &'a mut Vec<Cow<'de, str>>,
}

impl<'de> DeserializeSeed<'de> for Walker<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let node = &self.set.trie[self.node];
        if node.children.is_empty() && node.path.is_none() {
            d.deserialize_ignored_any(IgnoredAny).map(|_| ())
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
        // The leaves each key gave (a contiguous range), so that a repeated
        // key keeps only its last value, as the parsed event does (serde_json's
        // Value keeps the last of duplicate keys).
        let mut given: Vec<(Cow<'de, str>, usize, usize)> = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            match self.set.child(self.node, &key) {
                Some(n) => {
                    if let Some(at) = given.iter().position(|(k, _, _)| *k == key) {
                        let (_, start, end) = given.remove(at);
                        self.s.leaves.drain(start..end);
                        self.s.next.drain(start..end);
                        for later in &mut given[at..] {
                            later.1 -= end - start;
                            later.2 -= end - start;
                        }
                    }
                    let start = self.s.leaves.len();
                    map.next_value_seed(Walker {
                        set: self.set,
                        node: n,
                        elem: None,
                        s: &mut *self.s,
                        strings: &mut *self.strings,
                    })?;
                    if self.s.leaves.len() > start {
                        given.push((key, start, self.s.leaves.len()));
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
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
        let mut index = 0u32;
        while seq
            .next_element_seed(Walker {
                set: self.set,
                node: self.node,
                elem: Some((array, index)),
                s: &mut *self.s,
                strings: &mut *self.strings,
            })?
            .is_some()
        {
            index += 1;
        }
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
