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

/// Whether the part of `s` that `part` cuts to the folded value's length
/// (its start, its end, or all of it) folds to `folded`. An ASCII `s` folds
/// byte for byte to the same length, so it is compared in place; any other
/// is folded whole first (Unicode lowercasing can change lengths and, for a
/// final sigma, depends on context).
fn folded_part(s: &str, folded: &str, part: impl Fn(&str, usize) -> Option<&str>) -> bool {
    if s.is_ascii() {
        return part(s, folded.len())
            .is_some_and(|cut| cut.bytes().zip(folded.bytes()).all(|(a, b)| a.to_ascii_lowercase() == b));
    }
    // The same cut of the folded text.
    part(&fold(s), folded.len()).is_some_and(|cut| cut == folded)
}

/// [`fold`] into `out` (cleared first), an ASCII `s` without allocating.
pub(crate) fn fold_into(out: &mut String, s: &str) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        out.push_str(&fold(s));
    }
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
            MatchValue::PrefixIgnoreCase(p) => folded_part(s, p, |s, n| s.get(..n)),
            MatchValue::SuffixIgnoreCase(p) => {
                folded_part(s, p, |s, n| s.len().checked_sub(n).and_then(|at| s.get(at..)))
            }
            MatchValue::EqualsIgnoreCase(p) => folded_part(s, p, |s, n| (s.len() == n).then_some(s)),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-place comparisons give what folding the leaf whole and
    /// comparing gives, for ASCII leaves and for leaves whose lowercase
    /// changes length ('İ') or depends on context (a final 'Σ').
    #[test]
    fn ignoring_case_in_place_is_folding_whole() {
        let leaves = ["GetObject", "getobject", "GETOBJECTS", "Get", "", "İstanbul", "ΟΔΟΣ", "ΟΔΟΣ Α", "Straße", "x"];
        let values =
            ["getobject", "get", "objects", "", "i̇stanbul", "i̇st", "οδος", "οδοσ", "οδοσ α", "ς", "σ α", "straße", "x"];
        for leaf in leaves {
            for value in values {
                let whole = fold(leaf);
                let cases = [
                    (MatchValue::EqualsIgnoreCase(value.into()), whole == value),
                    (MatchValue::PrefixIgnoreCase(value.into()), whole.starts_with(value)),
                    (MatchValue::SuffixIgnoreCase(value.into()), whole.ends_with(value)),
                ];
                for (condition, want) in cases {
                    assert_eq!(condition.matches(LeafValue::Str(leaf)), want, "{condition:?} on {leaf:?}");
                }
            }
        }
    }
}
