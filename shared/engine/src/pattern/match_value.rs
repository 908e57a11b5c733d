//! Match values: the elements of a field's array in an event pattern
//! (`"RunInstances"`, `{"prefix": "us-"}`, `{"cidr": "10.0.0.0/8"}`, …),
//! compiled, each the condition it puts on one leaf value of the event.

use super::cidr::{self, Cidr};
use super::numeric::Range;
use super::value::{LeafValue, Literal};
use super::wildcard::Wildcard;

/// One match value: a literal or an operator, and what it accepts of a leaf.
#[derive(Debug, Clone)]
pub(crate) enum MatchValue {
    Exact(Literal),
    Prefix(Box<str>),
    PrefixIgnoreCase(Box<str>),
    Suffix(Box<str>),
    SuffixIgnoreCase(Box<str>),
    EqualsIgnoreCase(Box<str>),
    Wildcard(Wildcard),
    Numeric(Range),
    Cidr(Cidr),
    /// `exists: true`: any leaf at the path, whatever its value.
    Exists,
    /// `exists: false`: no leaf at the path. Holds of the path, not a leaf.
    Absent,
    AnythingBut(AnythingBut),
}

/// `anything-but`: every value of the leaf's type but these.
#[derive(Debug, Clone)]
pub(crate) enum AnythingBut {
    Values(Vec<Literal>),
    Prefix(Vec<Box<str>>),
    Suffix(Vec<Box<str>>),
    /// Lowercased values.
    IgnoreCase(Vec<Box<str>>),
    Wildcards(Vec<Wildcard>),
}

/// Lowercase for case-insensitive comparison (Unicode, as event-ruler does).
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

impl MatchValue {
    /// Whether this leaf satisfies the condition. `Absent` is never
    /// satisfied by a leaf.
    pub(crate) fn matches(&self, leaf: LeafValue<'_>) -> bool {
        match self {
            MatchValue::Exact(lit) => lit.matches(leaf),
            MatchValue::Exists => true,
            MatchValue::Absent => false,
            MatchValue::Numeric(range) => matches!(leaf, LeafValue::Num(n) if range.contains(n)),
            MatchValue::AnythingBut(but) => but.matches(leaf),
            _ => match leaf {
                LeafValue::Str(s) => self.matches_str(s),
                _ => false,
            },
        }
    }

    fn matches_str(&self, s: &str) -> bool {
        match self {
            MatchValue::Prefix(p) => s.starts_with(&**p),
            MatchValue::Suffix(p) => s.ends_with(&**p),
            MatchValue::PrefixIgnoreCase(p) => fold(s).starts_with(&**p),
            MatchValue::SuffixIgnoreCase(p) => fold(s).ends_with(&**p),
            MatchValue::EqualsIgnoreCase(p) => fold(s) == **p,
            MatchValue::Wildcard(w) => w.matches(s),
            MatchValue::Cidr(c) => cidr::parse_addr(s).is_some_and(|addr| c.contains(addr)),
            _ => false,
        }
    }
}

impl AnythingBut {
    fn matches(&self, leaf: LeafValue<'_>) -> bool {
        match self {
            AnythingBut::Values(values) => !values.iter().any(|v| v.matches(leaf)),
            // The string forms apply to strings; a number or other non-string
            // leaf is "anything but" a string condition.
            AnythingBut::Prefix(ps) => !matches!(leaf, LeafValue::Str(s) if ps.iter().any(|p| s.starts_with(&**p))),
            AnythingBut::Suffix(ps) => !matches!(leaf, LeafValue::Str(s) if ps.iter().any(|p| s.ends_with(&**p))),
            AnythingBut::IgnoreCase(values) => match leaf {
                LeafValue::Str(s) => {
                    let s = fold(s);
                    !values.iter().any(|v| **v == s)
                }
                _ => true,
            },
            AnythingBut::Wildcards(ws) => match leaf {
                LeafValue::Str(s) => !ws.iter().any(|w| w.matches(s)),
                _ => true,
            },
        }
    }
}
