//! `wildcard` patterns: `*` matches any run of characters, `\*` a literal
//! star, `\\` a literal backslash. Matching is linear in the input: the
//! literal segments between stars are found left to right, each with a
//! linear substring search, so no input makes it backtrack.

use memchr::memmem;

/// A compiled wildcard pattern.
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    /// The literal segments between stars (at least one, possibly empty).
    segments: Vec<Box<str>>,
}

/// Why a wildcard pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WildcardError {
    /// `**`: EventBridge refuses consecutive wildcard characters.
    Consecutive(usize),
    /// A backslash that escapes something other than `*` or `\`.
    BadEscape(usize),
}

impl Wildcard {
    pub(crate) fn parse(text: &str) -> Result<Wildcard, WildcardError> {
        let mut segments = Vec::new();
        let mut current = String::new();
        let mut chars = text.char_indices().peekable();
        let mut last_was_star = false;
        while let Some((at, c)) = chars.next() {
            match c {
                '*' => {
                    if last_was_star {
                        return Err(WildcardError::Consecutive(at));
                    }
                    segments.push(std::mem::take(&mut current).into_boxed_str());
                    last_was_star = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('*' | '\\'))) => current.push(e),
                    _ => return Err(WildcardError::BadEscape(at)),
                },
                c => current.push(c),
            }
            last_was_star = false;
        }
        segments.push(current.into_boxed_str());
        Ok(Wildcard { segments })
    }

    /// The number of `*` wildcards.
    pub(crate) fn stars(&self) -> usize {
        self.segments.len() - 1
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        let segs = &self.segments;
        let (first, rest) = match segs.split_first() {
            Some(split) => split,
            None => return value.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return value == &**first;
        };
        if value.len() < first.len() + last.len()
            || !value.starts_with(&**first)
            || !value.ends_with(&**last)
        {
            return false;
        }
        // The middle segments, leftmost first, between the prefix and suffix.
        let mut hay = &value.as_bytes()[first.len()..value.len() - last.len()];
        for seg in middle {
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
        Wildcard::parse(p).expect("valid wildcard").matches(v)
    }

    #[test]
    fn stars_anywhere() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("dir/*.png", "dir/a.png"));
        assert!(m("dir/*.png", "dir/.png"));
        assert!(!m("dir/*.png", "dir/a.jpg"));
        assert!(m("*/lib/*", "/usr/lib/x"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "a-b-b-c"));
        assert!(!m("a*b*c", "acb"));
        assert!(!m("ab*ba", "aba"), "prefix and suffix may not overlap");
        assert!(m("exact", "exact"));
        assert!(!m("exact", "exact!"));
    }

    #[test]
    fn escapes() {
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\*", r"a\bc"));
        assert_eq!(Wildcard::parse(r"a\b").unwrap_err(), WildcardError::BadEscape(1));
        assert_eq!(Wildcard::parse("a**").unwrap_err(), WildcardError::Consecutive(2));
        assert!(Wildcard::parse(r"a\").is_err());
    }

    #[test]
    fn adversarial_input_is_linear() {
        // A backtracking glob engine takes exponential time on this.
        let p = "*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let v = "a".repeat(100_000);
        assert!(!m(p, &v));
    }
}
