//! The one `*` matcher of the engine, for both languages:
//!
//! * event patterns' `wildcard` operator ([`super::wildcard::Wildcard`]
//!   reads the operand: `\*` and `\\` are escapes, `**` is refused, and a
//!   complexity limit applies), and
//! * the `*` in the values of CloudWatch Logs filter patterns
//!   (`{ $.eventName = "Put*" }`, `[..., status = 4*]`), where every `*` is
//!   a wildcard ([`Glob::split_stars`]).
//!
//! In both, `*` matches any run of characters, the empty one included. A
//! glob is the literal segments between its stars; it matches a value that
//! starts with the first segment, ends with the last, and holds the middle
//! ones, in order and without overlap, in between. Each middle segment is
//! found leftmost by memchr's `memmem`, starting where the previous one
//! ended: the leftmost placement succeeds whenever any placement does, so
//! the matcher never goes back, and no input makes it backtrack.
//!
//! # Steps
//!
//! [`Glob::matches_counting`] adds to a counter the work bound of each
//! primitive it runs: the bytes compared for the first and last segments
//! (or for the whole value, without a star), and for each substring search
//! the length of the text searched plus the segment's, which is memchr's
//! documented worst case for `memmem::find` ("worst case linear time
//! complexity with respect to both the needle and the haystack"). Each
//! search starts where the previous match ended, so for `k` middle
//! segments the count is at most `(k + 1) × (value + pattern)` bytes plus
//! one per primitive: linear in the value. `tests/linear_time.rs` checks it
//! on adversarial inputs.

use memchr::memmem;

/// A compiled `*` pattern: the literal segments between its stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    /// At least one segment; `n` stars make `n + 1`, some possibly empty.
    segments: Vec<Box<str>>,
}

impl Glob {
    /// A glob from the literal segments between its stars (no segments at
    /// all is one empty segment: the glob of the empty string).
    pub(crate) fn from_segments(mut segments: Vec<Box<str>>) -> Glob {
        if segments.is_empty() {
            segments.push(Box::from(""));
        }
        Glob { segments }
    }

    /// Every `*` of `text` a wildcard, as in filter-pattern values.
    pub(crate) fn split_stars(text: &str) -> Glob {
        Glob::from_segments(text.split('*').map(Box::from).collect())
    }

    /// The literal segments between the stars.
    pub(crate) fn segments(&self) -> &[Box<str>] {
        &self.segments
    }

    /// Whether `value` matches.
    pub(crate) fn matches(&self, value: &str) -> bool {
        self.matches_counting(value, &mut 0)
    }

    /// [`Glob::matches`], adding the work done to `steps` (module docs).
    pub(crate) fn matches_counting(&self, value: &str, steps: &mut u64) -> bool {
        let Some((first, rest)) = self.segments.split_first() else {
            return value.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            *steps += 1 + first.len().min(value.len()) as u64;
            return value == &**first;
        };
        *steps += 1;
        if value.len() < first.len() + last.len() {
            return false;
        }
        *steps += (first.len() + last.len()) as u64;
        if !value.starts_with(&**first) || !value.ends_with(&**last) {
            return false;
        }
        // The middle segments, leftmost first, between the first and last.
        let mut hay = &value.as_bytes()[first.len()..value.len() - last.len()];
        for seg in middle {
            *steps += 1 + (hay.len() + seg.len()) as u64;
            match memmem::find(hay, seg.as_bytes()) {
                Some(at) => hay = &hay[at + seg.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, v: &str) -> bool {
        Glob::split_stars(p).matches(v)
    }

    #[test]
    fn stars_match_any_run_of_characters() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("**", "x"), "an empty middle segment");
        assert!(m("*Event", "PutEvent") && m("*Event", "Event") && !m("*Event", "Events"));
        assert!(m("Ev*ent", "Event") && m("Ev*ent", "Ev-ent") && !m("Ev*ent", "Evnt"));
        assert!(m("a*b*c", "abc") && m("a*b*c", "aXbYc") && m("a*b*c", "a-b-b-c") && !m("a*b*c", "acb"));
        assert!(!m("ab*ba", "aba"), "first and last segments may not overlap");
        assert!(m("*.html*", "GET /index.html HTTP/1.0"));
        assert!(m("exact", "exact") && !m("exact", "exact!") && !m("exact", "exac"));
        assert!(m("é*ü", "éxü"), "segments are UTF-8 text");
    }

    #[test]
    fn no_segments_is_the_empty_string() {
        let g = Glob::from_segments(Vec::new());
        assert!(g.matches("") && !g.matches("x"));
    }

    #[test]
    fn steps_are_linear_in_the_value() {
        // Twelve `a`s found at once, then a `c` that is nowhere: a
        // backtracking glob engine tries every placement of the `a`s.
        let g = Glob::split_stars("*a*a*a*a*a*a*a*a*a*a*a*a*c*b");
        let count = |n: usize| {
            let mut steps = 0;
            assert!(!g.matches_counting(&format!("{}b", "a".repeat(n)), &mut steps));
            steps
        };
        let (s1, s2) = (count(100_000), count(200_000));
        assert!(s1 >= 100_000, "the failed search for `c` passes over the value: {s1}");
        assert!(s2 <= s1 * 2 + 100, "{s1} then {s2}");
        assert!(s1 <= 14 * (100_000 + 30), "{s1}");
    }
}
