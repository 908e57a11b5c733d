//! Leaf values of an event and the literal values of a pattern.

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
#[derive(Debug, Clone)]
pub(crate) struct ExactIndex<T> {
    strs: std::collections::HashMap<Box<str>, Vec<T>>,
    nums: std::collections::HashMap<u64, Vec<T>>,
    bools: [Vec<T>; 2],
    nulls: Vec<T>,
}

impl<T> Default for ExactIndex<T> {
    fn default() -> Self {
        ExactIndex {
            strs: Default::default(),
            nums: Default::default(),
            bools: [Vec::new(), Vec::new()],
            nulls: Vec::new(),
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

    pub(crate) fn get(&self, leaf: LeafValue<'_>) -> &[T] {
        let found = match leaf {
            LeafValue::Str(s) => self.strs.get(s),
            LeafValue::Num(n) => self.nums.get(&num_bits(n)),
            LeafValue::Bool(b) => return &self.bools[usize::from(b)],
            LeafValue::Null => return &self.nulls,
        };
        found.map_or(&[], Vec::as_slice)
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
