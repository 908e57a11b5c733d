//! Per-event working memory of a [`PatternSet`](super::PatternSet).

use std::borrow::Cow;

use super::{PathId, PatternSet, SubId};
use crate::pattern::value::LeafValue;

/// Per-event working memory, reused from event to event. Its buffers keep
/// their capacity, so matching with a warm scratch allocates only what
/// they cannot hold: the list of the event's string leaves (borrowed from
/// the event, so made anew for each), strings and keys with JSON escapes
/// and a little bookkeeping per object on the streaming path
/// ([`PatternSet::matches_json`]), and case folding (`equals-ignore-case`,
/// and `prefix` or `suffix` ignoring case).
#[derive(Debug, Default)]
pub struct Scratch {
    pub(super) leaves: Vec<Leaf>,
    /// (array id, element index) pairs; each leaf owns a range of them.
    pub(super) members: Vec<(u32, u32)>,
    /// Per path: the generation it was last seen in and its first leaf.
    pub(super) heads: Vec<(u32, u32)>,
    /// Per leaf: the next leaf at the same path (`u32::MAX` ends the list).
    pub(super) next: Vec<u32>,
    pub(super) sub_gen: Vec<u32>,
    pub(super) pattern_gen: Vec<u32>,
    /// Per field condition: the generation in which the event's verdict on
    /// it was found without array constraints (no leaf, or a satisfying
    /// leaf outside every array, found verifying or by the anchor index:
    /// `true`; no satisfying leaf: `false`).
    pub(super) cond_memo: Vec<(u32, bool)>,
    pub(super) generation: u32,
    pub(super) candidates: Vec<SubId>,
    /// Per constrained field: its candidates' range in `pool`, its index.
    pub(super) choice: Vec<(u32, u32, u32)>,
    pub(super) pool: Vec<u32>,
    pub(super) binding: Vec<(u32, u32)>,
    pub(super) arrays: u32,
    /// How many arrays the value being read is inside.
    pub(super) array_depth: u32,
    pub(super) folded: String,
    /// What the streaming path saw of the event's top level.
    pub(super) envelope: Envelope,
    /// The streaming path reached a named path through a dotted key.
    pub(super) dotted: bool,
}

/// The top level of the event last read by
/// [`PatternSet::matches_json`](super::PatternSet::matches_json): whether
/// it was an object, how often `detail-type` and `detail` came, how often
/// `detail` was an object, and whether another delivery path's key
/// (`awslogs`, `Records`) came.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Envelope {
    pub(super) object: bool,
    pub(super) detail_type: u8,
    pub(super) detail: u8,
    pub(super) detail_object: u8,
    pub(super) other_path: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Leaf {
    pub(super) path: PathId,
    pub(super) value: IndexedValue,
    pub(super) members: (u32, u32),
    /// Inside some array (an element, or within one): `members` names
    /// only the arrays of objects and arrays it is within.
    pub(super) in_array: bool,
}

/// A leaf value as the scratch keeps it: the scratch outlives the event,
/// so a string is held as its index in the event's list of string leaves,
/// and borrowed again from there ([`IndexedValue::get`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum IndexedValue {
    Str(u32),
    Num(f64),
    Bool(bool),
    Null,
}

/// The end of a list of leaves.
pub(super) const NONE: u32 = u32::MAX;

impl Scratch {
    pub(super) fn reset(&mut self, set: &PatternSet) {
        self.leaves.clear();
        self.members.clear();
        self.next.clear();
        self.candidates.clear();
        self.binding.clear();
        self.arrays = 0;
        self.array_depth = 0;
        self.envelope = Envelope::default();
        self.dotted = false;
        if self.heads.len() != set.anchors.len() {
            self.heads = vec![(0, NONE); set.anchors.len()];
        }
        if self.sub_gen.len() != set.subs.len() {
            self.sub_gen = vec![0; set.subs.len()];
        }
        if self.pattern_gen.len() != set.patterns {
            self.pattern_gen = vec![0; set.patterns];
        }
        if self.cond_memo.len() != set.conds {
            self.cond_memo = vec![(0, false); set.conds];
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Stamps from 2^32 events ago could collide: start afresh.
            self.heads.iter_mut().for_each(|h| *h = (0, NONE));
            self.sub_gen.iter_mut().for_each(|g| *g = 0);
            self.pattern_gen.iter_mut().for_each(|g| *g = 0);
            self.cond_memo.iter_mut().for_each(|m| *m = (0, false));
            self.generation = 1;
        }
    }
}

impl Scratch {
    /// Before reading a key's value: if the key came before in the same
    /// object, drop the leaves it gave then (`given` holds each key's
    /// range of leaves, the object's from `from` on), so a repeated key
    /// keeps only its last value, as the parsed event does (serde_json's
    /// `Value` keeps the last).
    pub(super) fn forget_given<K: PartialEq<Q>, Q: ?Sized>(
        &mut self,
        given: &mut Vec<(K, usize, usize)>,
        from: usize,
        key: &Q,
    ) {
        if let Some(at) = given.iter().skip(from).position(|(k, _, _)| k == key) {
            let at = from + at;
            let (_, start, end) = given.remove(at);
            self.leaves.drain(start..end);
            self.next.drain(start..end);
            for later in &mut given[at..] {
                later.1 -= end - start;
                later.2 -= end - start;
            }
        }
    }

    /// Whether the event last read by
    /// [`PatternSet::matches_json`](super::PatternSet::matches_json) was an
    /// EventBridge event carrying a record: an object with one `detail-type`
    /// and one `detail`, itself an object, and no `awslogs` or `Records`
    /// (which [`crate::envelope::Delivery::classify`] reads first). The same
    /// verdict as
    /// [`crate::envelope::is_eventbridge_record_text`] on the same text,
    /// read in the same pass as the patterns.
    pub fn is_eventbridge_event(&self) -> bool {
        let e = self.envelope;
        e.object && e.detail_type == 1 && e.detail == 1 && e.detail_object == 1 && !e.other_path
    }
}

impl IndexedValue {
    pub(super) fn get<'a>(self, strings: &'a [Cow<'_, str>]) -> LeafValue<'a> {
        match self {
            IndexedValue::Str(i) => LeafValue::Str(strings.get(i as usize).map_or("", |s| s.as_ref())),
            IndexedValue::Num(n) => LeafValue::Num(n),
            IndexedValue::Bool(b) => LeafValue::Bool(b),
            IndexedValue::Null => LeafValue::Null,
        }
    }
}
