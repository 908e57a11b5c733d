//! Match values: the elements of a field's array in an event pattern
//! (`"RunInstances"`, `{"prefix": "us-"}`, `{"cidr": "10.0.0.0/8"}`, …),
//! compiled, each the condition it puts on one leaf value of the event.

use super::cidr::{self, Addr, Cidr};
use super::numeric::Range;
use super::value::{LeafValue, Literal};
use super::wildcard::Wildcard;

/// One match value: a literal or an operator, and what it accepts of a leaf.
#[derive(Debug, Clone)]
pub(crate) enum MatchValue {
    Exact(Literal),
    /// A plain string of the field's array that reads as an IP address
    /// (`"10.0.0.1"`, `"2001:db8::1"`): event-ruler compiles it to a range
    /// holding that one address (`JsonRuleCompiler.writeRules` →
    /// `CIDR.ipToRangeIfPossible`) and reads the event's strings as
    /// addresses to match it (`ByteMachine.transitionOn` →
    /// `CIDR.ipToString`), so `"010.0.0.1"` matches. See `pattern/cidr.rs`.
    Address(Addr),
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
            MatchValue::Cidr(_) | MatchValue::Address(_) => {
                cidr::parse_addr(s).is_some_and(|addr| self.matches_addr(addr))
            }
            _ => false,
        }
    }

    /// Whether a string leaf that reads as `addr` satisfies an address
    /// condition (`cidr` or an exact address); false for the others.
    fn matches_addr(&self, addr: Addr) -> bool {
        match self {
            MatchValue::Cidr(c) => c.contains(addr),
            MatchValue::Address(a) => a.is(addr),
            _ => false,
        }
    }
}

/// Whether the leaf satisfies any of a field's match values. A string
/// leaf is read as an address at most once, and only if some value is an
/// address condition.
pub(crate) fn any_matches(values: &[MatchValue], leaf: LeafValue<'_>) -> bool {
    let mut addr: Option<Option<Addr>> = None;
    values.iter().any(|v| match (v, leaf) {
        (MatchValue::Cidr(_) | MatchValue::Address(_), LeafValue::Str(s)) => {
            addr.get_or_insert_with(|| cidr::parse_addr(s)).is_some_and(|a| v.matches_addr(a))
        }
        _ => v.matches(leaf),
    })
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
