//! Leaf values of an event and the literal values of a pattern.

use std::collections::HashMap;

use super::cidr::{first_32_bits, parse_addr, Addr};

/// One leaf value of an event, borrowed from the event's JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LeafValue<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
    Null,
}

impl<'a> LeafValue<'a> {
    /// The leaf of a JSON value, or `None` for objects and arrays.
    pub(crate) fn of(value: &'a serde_json::Value) -> Option<LeafValue<'a>> {
        use serde_json::Value;
        Some(match value {
            Value::String(s) => LeafValue::Str(s),
            // Every JSON number has an f64 reading (large integers round, as
            // event-ruler's double-based comparison does).
            Value::Number(n) => LeafValue::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::Bool(b) => LeafValue::Bool(*b),
            Value::Null => LeafValue::Null,
            Value::Object(_) | Value::Array(_) => return None,
        })
    }
}

/// A literal in a pattern: matched exactly, and by type (`5` is not `"5"`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(Box<str>),
    Num(f64),
    Bool(bool),
    Null,
}

impl Literal {
    pub(crate) fn matches(&self, leaf: LeafValue<'_>) -> bool {
        match (self, leaf) {
            (Literal::Str(a), LeafValue::Str(b)) => **a == *b,
            (Literal::Num(a), LeafValue::Num(b)) => *a == b,
            (Literal::Bool(a), LeafValue::Bool(b)) => *a == b,
            (Literal::Null, LeafValue::Null) => true,
            _ => false,
        }
    }
}

/// Values mapped to targets, looked up by a leaf without allocating.
///
/// Beside the literals, addresses: the exact pattern strings that read as
/// IP addresses (see `pattern/cidr.rs`). A string leaf is read as an
/// address only if some address was inserted, so fields whose patterns
/// hold none never parse their values.
#[derive(Debug, Clone)]
pub(crate) struct ExactIndex<T> {
    /// On a fixed-seed foldhash: the keys come from patterns, and an
    /// event's values are only looked up (as `TrieNode::keys`).
    strs: HashMap<Box<str>, Vec<T>, foldhash::fast::FixedState>,
    nums: HashMap<u64, Vec<T>>,
    bools: [Vec<T>; 2],
    nulls: Vec<T>,
    v4: HashMap<u32, Vec<T>>,
    v6: HashMap<u128, Vec<T>>,
}

impl<T> Default for ExactIndex<T> {
    fn default() -> Self {
        ExactIndex {
            strs: Default::default(),
            nums: Default::default(),
            bools: [Vec::new(), Vec::new()],
            nulls: Vec::new(),
            v4: Default::default(),
            v6: Default::default(),
        }
    }
}

impl<T> ExactIndex<T> {
    pub(crate) fn insert(&mut self, literal: &Literal, target: T) {
        match literal {
            Literal::Str(s) => self.strs.entry(s.clone()).or_default().push(target),
            Literal::Num(n) => self.nums.entry(num_bits(*n)).or_default().push(target),
            Literal::Bool(b) => self.bools[usize::from(*b)].push(target),
            Literal::Null => self.nulls.push(target),
        }
    }

    /// Map an exact address (`MatchValue::Address`) to a target.
    pub(crate) fn insert_addr(&mut self, addr: Addr, target: T) {
        match addr {
            Addr::V4(a) => self.v4.entry(a).or_default().push(target),
            Addr::V6(a) => self.v6.entry(a).or_default().push(target),
        }
    }

    /// The targets of every inserted value the leaf equals: a literal, or
    /// an address the leaf reads as (by [`Addr::is`]: an IPv6 leaf also
    /// finds the IPv4 address of its first 32 bits).
    pub(crate) fn get(&self, leaf: LeafValue<'_>) -> impl Iterator<Item = &T> {
        let none: &[T] = &[];
        let (found, by_addr, by_prefix) = match leaf {
            LeafValue::Str(s) => {
                let found = self.strs.get(s).map_or(none, Vec::as_slice);
                let addr = if self.v4.is_empty() && self.v6.is_empty() { None } else { parse_addr(s) };
                match addr {
                    Some(Addr::V4(a)) => (found, self.v4.get(&a).map_or(none, Vec::as_slice), none),
                    Some(Addr::V6(a)) => (
                        found,
                        self.v6.get(&a).map_or(none, Vec::as_slice),
                        self.v4.get(&first_32_bits(a)).map_or(none, Vec::as_slice),
                    ),
                    None => (found, none, none),
                }
            }
            LeafValue::Num(n) => (self.nums.get(&num_bits(n)).map_or(none, Vec::as_slice), none, none),
            LeafValue::Bool(b) => (self.bools[usize::from(b)].as_slice(), none, none),
            LeafValue::Null => (self.nulls.as_slice(), none, none),
        };
        found.iter().chain(by_addr).chain(by_prefix)
    }
}

/// Equal numbers get equal bits (`0.0` and `-0.0` included).
fn num_bits(n: f64) -> u64 {
    if n == 0.0 {
        0
    } else {
        n.to_bits()
    }
}
