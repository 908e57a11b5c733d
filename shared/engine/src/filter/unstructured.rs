//! Unstructured patterns: `ERROR`, `"INTERNAL SERVER ERROR"`, `ERROR -ARGUMENTS`,
//! `?ERROR ?WARN`, and standalone regular expressions `%AUTHORIZED%`.

use memchr::memmem::Finder;

use super::error::FilterError;
use super::lex::{is_term_char, Cursor};
use super::re::RegexMatcher;

/// One term, searched as a case-sensitive substring of the message.
#[derive(Debug, Clone)]
pub(crate) struct Term {
    finder: Finder<'static>,
}

impl Term {
    fn new(text: &str) -> Term {
        Term { finder: Finder::new(text.as_bytes()).into_owned() }
    }

    /// Whether the term is in the message, adding to `steps` memchr's
    /// worst case for the search: the message's length plus the term's.
    fn found_in(&self, message: &str, steps: &mut u64) -> bool {
        *steps += 1 + (message.len() + self.finder.needle().len()) as u64;
        self.finder.find(message.as_bytes()).is_some()
    }
}

/// A parsed unstructured pattern.
#[derive(Debug, Clone)]
pub(crate) enum UnstructuredPattern {
    /// Terms: every `required` one present, no `excluded` one present; the
    /// `optional` (`?term`) ones count only when there is no other term, and
    /// then at least one must be present.
    Terms { required: Vec<Term>, excluded: Vec<Term>, optional: Vec<Term> },
    /// A standalone `%regex%`.
    Regex(Box<RegexMatcher>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TermRole {
    Required,
    Excluded,
    Optional,
}

impl UnstructuredPattern {
    /// Parses the whole pattern text.
    pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<UnstructuredPattern, FilterError> {
        cur.skip_ws();
        if cur.peek() == Some('%') {
            let start = cur.pos();
            let (body, body_at) = cur.regex_body()?;
            cur.skip_ws();
            if !cur.at_end() {
                return Err(FilterError::syntax(
                    cur.pos(),
                    format!(
                        "a regular expression must be the whole unstructured pattern (it started at \
                         character {start}); found {} after it",
                        cur.describe_here()
                    ),
                ));
            }
            return Ok(UnstructuredPattern::Regex(Box::new(RegexMatcher::new(&body, body_at)?)));
        }
        let mut required = Vec::new();
        let mut excluded = Vec::new();
        let mut optional = Vec::new();
        loop {
            cur.skip_ws();
            let Some(c) = cur.peek() else { break };
            let start = cur.pos();
            let role = match c {
                '-' => TermRole::Excluded,
                '?' => TermRole::Optional,
                _ => TermRole::Required,
            };
            if role != TermRole::Required {
                cur.bump();
                // AWS's own example writes `"ERROR" - "Exiting"`: blanks may
                // separate the sign from its term.
                cur.skip_ws();
                if cur.at_end() || matches!(cur.peek(), Some('-' | '?')) {
                    return Err(FilterError::syntax(
                        start,
                        format!("`{c}` must be followed by a term, e.g. `{c}ERROR`"),
                    ));
                }
            }
            let term_at = cur.pos();
            let text = match cur.peek() {
                Some('"') => {
                    let phrase = cur.quoted()?;
                    if cur.peek().is_some_and(|c| !c.is_whitespace()) {
                        return Err(FilterError::syntax(
                            cur.pos(),
                            format!("expected a space after the quoted phrase, found {}", cur.describe_here()),
                        ));
                    }
                    // A phrase of blanks matches every event (AWS: `" "` matches
                    // everything); other phrases are matched exactly as written.
                    if phrase.trim().is_empty() {
                        String::new()
                    } else {
                        phrase
                    }
                }
                Some('%') => {
                    return Err(FilterError::syntax(
                        term_at,
                        "a regular expression `%...%` cannot be combined with terms; it must be the \
                         whole unstructured pattern",
                    ))
                }
                _ => {
                    let word = cur.take_while(|c| !c.is_whitespace());
                    if let Some(bad) = word.chars().find(|c| !is_term_char(*c)) {
                        return Err(FilterError::UnquotedTerm { offset: term_at, term: word, ch: bad });
                    }
                    word
                }
            };
            let term = Term::new(&text);
            match role {
                TermRole::Required => required.push(term),
                TermRole::Excluded => excluded.push(term),
                TermRole::Optional => optional.push(term),
            }
        }
        Ok(UnstructuredPattern::Terms { required, excluded, optional })
    }

    /// Whether the message matches, adding the work done to `steps` (for a
    /// regular expression, the length of the message it searches).
    pub(crate) fn matches(&self, message: &str, steps: &mut u64) -> bool {
        match self {
            UnstructuredPattern::Regex(r) => {
                *steps += 1 + message.len() as u64;
                r.is_match(message)
            }
            UnstructuredPattern::Terms { required, excluded, optional } => {
                if required.is_empty() && excluded.is_empty() && !optional.is_empty() {
                    return optional.iter().any(|t| t.found_in(message, steps));
                }
                // `?` terms combined with other terms are ignored (AWS documents this).
                required.iter().all(|t| t.found_in(message, steps))
                    && !excluded.iter().any(|t| t.found_in(message, steps))
            }
        }
    }
}
