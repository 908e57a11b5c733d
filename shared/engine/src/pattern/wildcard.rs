//! The `wildcard` operator's operand: `*` matches any run of characters,
//! `\*` is a literal star, `\\` a literal backslash; any other escape and
//! `**` are refused, and so are patterns event-ruler finds too complex.
//! Matching is the shared [`Glob`], linear in the input.

use super::glob::Glob;

/// A compiled wildcard operand.
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    glob: Glob,
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
        Ok(Wildcard { glob: Glob::from_segments(segments) })
    }

    /// How many states of the pattern's automaton can be active at once,
    /// over every input: the measure event-ruler uses to refuse wildcard
    /// rules as "too complex" (many stars, or repeating sequences after a
    /// star). Computed by subset construction; `None` as soon as a subset
    /// passes `cap` states or the construction passes `budget` subsets.
    ///
    /// From a subset, only the characters at its own literal positions lead
    /// anywhere a character the pattern does not name would not, so each
    /// subset tries those (at most `cap`) plus one other: the work is
    /// bounded by `budget × cap`, whatever the pattern's length.
    pub(crate) fn complexity(&self, budget: usize, cap: usize) -> Option<usize> {
        use std::collections::HashSet;
        // Tokens: Some(c) a literal character, None a star.
        let mut toks: Vec<Option<char>> = Vec::new();
        for (i, seg) in self.glob.segments().iter().enumerate() {
            if i > 0 {
                toks.push(None);
            }
            toks.extend(seg.chars().map(Some));
        }
        // A subset: sorted, deduplicated positions, closed under "a star
        // may match nothing".
        let close = |mut s: Vec<usize>| {
            let mut k = 0;
            while k < s.len() {
                if toks.get(s[k]) == Some(&None) {
                    s.push(s[k] + 1);
                }
                k += 1;
            }
            s.sort_unstable();
            s.dedup();
            s
        };
        let start = close(vec![0]);
        if start.len() > cap {
            return None;
        }
        let mut best = start.len();
        let mut seen = HashSet::from([start.clone()]);
        let mut todo = vec![start];
        let mut inputs: Vec<Option<char>> = Vec::new();
        while let Some(s) = todo.pop() {
            inputs.clear();
            inputs.extend(s.iter().filter_map(|&i| toks.get(i).copied().flatten().map(Some)));
            inputs.sort_unstable();
            inputs.dedup();
            inputs.push(None); // any character no position of `s` names
            for c in &inputs {
                let next: Vec<usize> = s
                    .iter()
                    .filter_map(|&i| match toks.get(i) {
                        Some(None) => Some(i),
                        Some(lit) if c.is_some() && lit == c => Some(i + 1),
                        _ => None,
                    })
                    .collect();
                let next = close(next);
                if !next.is_empty() && !seen.contains(&next) {
                    if next.len() > cap || seen.len() >= budget {
                        return None;
                    }
                    best = best.max(next.len());
                    seen.insert(next.clone());
                    todo.push(next);
                }
            }
        }
        Some(best)
    }

    pub(crate) fn matches(&self, value: &str) -> bool {
        self.glob.matches(value)
    }

    /// [`Wildcard::matches`], adding the matcher's steps to `steps`.
    pub(crate) fn matches_counting(&self, value: &str, steps: &mut u64) -> bool {
        self.glob.matches_counting(value, steps)
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
    fn complexity_calibrated_on_aws_examples() {
        let c = |p: &str| Wildcard::parse(p).expect("valid").complexity(10_000, usize::MAX);
        // Accepted by AWS (event-ruler scores them 3 and 7).
        assert_eq!(c("arn:aws:events:us-east-1:*:event-bus/*"), Some(5));
        assert_eq!(c("/Users/*/dir/dir/dir/dir/dir/doc.txt"), Some(8));
        // Refused by AWS as "Rule is too complex" (event-ruler scores 11).
        assert_eq!(c("*:*:*:*:*:event-bus/*"), Some(13));
        assert_eq!(c("*a*a*a*a*a*"), Some(12));
        // The cap stops the construction at the first subset past it.
        let capped = |p: &str, cap| Wildcard::parse(p).expect("valid").complexity(10_000, cap);
        assert_eq!(capped("*:*:*:*:*:event-bus/*", 13), Some(13));
        assert_eq!(capped("*:*:*:*:*:event-bus/*", 12), None);
        assert_eq!(capped("/Users/*/dir/dir/dir/dir/dir/doc.txt", 10), Some(8));
    }

    #[test]
    fn complexity_of_a_long_pattern_is_cheap_to_refuse_or_accept() {
        // 4,000 distinct characters after one star: every subset is small,
        // and each tries only its own characters, not all 4,000.
        let long: String = (0..4_000u32).filter_map(|i| char::from_u32(0x4e00 + i)).collect();
        let w = Wildcard::parse(&format!("*{long}")).expect("valid");
        assert_eq!(w.complexity(10_000, 10), Some(3)); // the star, its successor, the progress
        let w = Wildcard::parse(&"*ab".repeat(1_000)).expect("valid");
        assert_eq!(w.complexity(10_000, 10), None);
    }
}
