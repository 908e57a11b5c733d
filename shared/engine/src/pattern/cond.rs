//! The condition a pattern puts on one leaf value: the elements of a
//! pattern's leaf arrays, compiled.

use super::cidr::{self, Cidr};
use super::numeric::Range;
use super::value::{Literal, Scalar};
use super::wildcard::Wildcard;

/// One match condition on a leaf (one element of a pattern's value array).
#[derive(Debug, Clone)]
pub(crate) enum Cond {
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

impl Cond {
    /// Whether this leaf satisfies the condition. `Absent` is never
    /// satisfied by a leaf.
    pub(crate) fn matches(&self, leaf: Scalar<'_>) -> bool {
        match self {
            Cond::Exact(lit) => lit.matches(leaf),
            Cond::Exists => true,
            Cond::Absent => false,
            Cond::Numeric(range) => matches!(leaf, Scalar::Num(n) if range.contains(n)),
            Cond::AnythingBut(but) => but.matches(leaf),
            _ => match leaf {
                Scalar::Str(s) => self.matches_str(s),
                _ => false,
            },
        }
    }

    fn matches_str(&self, s: &str) -> bool {
        match self {
            Cond::Prefix(p) => s.starts_with(&**p),
            Cond::Suffix(p) => s.ends_with(&**p),
            Cond::PrefixIgnoreCase(p) => fold(s).starts_with(&**p),
            Cond::SuffixIgnoreCase(p) => fold(s).ends_with(&**p),
            Cond::EqualsIgnoreCase(p) => fold(s) == **p,
            Cond::Wildcard(w) => w.matches(s),
            Cond::Cidr(c) => cidr::parse_addr(s).is_some_and(|addr| c.contains(addr)),
            _ => false,
        }
    }
}

impl AnythingBut {
    fn matches(&self, leaf: Scalar<'_>) -> bool {
        match self {
            AnythingBut::Values(values) => !values.iter().any(|v| v.matches(leaf)),
            // The string forms apply to strings; a number or other non-string
            // leaf is "anything but" a string condition.
            AnythingBut::Prefix(ps) => !matches!(leaf, Scalar::Str(s) if ps.iter().any(|p| s.starts_with(&**p))),
            AnythingBut::Suffix(ps) => !matches!(leaf, Scalar::Str(s) if ps.iter().any(|p| s.ends_with(&**p))),
            AnythingBut::IgnoreCase(values) => match leaf {
                Scalar::Str(s) => {
                    let s = fold(s);
                    !values.iter().any(|v| **v == s)
                }
                _ => true,
            },
            AnythingBut::Wildcards(ws) => match leaf {
                Scalar::Str(s) => !ws.iter().any(|w| w.matches(s)),
                _ => true,
            },
        }
    }
}
