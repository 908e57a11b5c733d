//! CloudWatch Logs filter patterns, as metric filters, subscription filters
//! and `FilterLogEvents` apply them to log events.
//!
//! Three grammars, chosen by the first non-blank character of the pattern
//! (AWS: "Filter pattern syntax for metric filters, subscription filters,
//! filter log events, and Live Tail"):
//!
//! * `{ … }` — JSON patterns over the event parsed as JSON
//!   (`{ $.eventName = "ConsoleLogin" && $.errorMessage NOT EXISTS }`);
//! * `[ … ]` — space-delimited patterns over the event's fields
//!   (`[ip, user, ..., status_code = 4*, bytes > 1000]`);
//! * anything else — unstructured terms (`ERROR -DEBUG "exact phrase"`,
//!   `?ERROR ?WARN`) or one standalone `%regex%`.
//!
//! A pattern is parsed and compiled once ([`FilterPattern::parse`]) and then
//! matched against any number of events. Matching never fails: an event that
//! is not JSON simply does not match a JSON pattern. Regular expressions run
//! on the `regex` crate, whose searches take at worst O(m × n) time for an
//! expression of compiled size m (bounded at compile time) and a text of n
//! bytes; `*` in values is the engine's one glob (`pattern/glob.rs`);
//! parenthesis nesting is bounded. [`FilterPattern::match_steps`] counts the
//! work of a match, for the tests that check it grows linearly.
//!
//! Where AWS's documentation is silent, the choices made are listed in the
//! conformance suite `shared/engine/tests/data/filter-patterns.json` (cases whose
//! `source` starts with `inferred:`).

mod delimited;
mod error;
mod expr;
mod json;
mod lex;
mod metric;
mod re;
mod unstructured;
mod value;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::pattern::Scalar;

pub use error::FilterError;
pub use expr::MAX_NESTING;
pub use metric::test_metric_filter;
pub use re::MAX_REGEX_SIZE;

use delimited::DelimitedPattern;
use json::JsonPattern;
use lex::Cursor;
use unstructured::UnstructuredPattern;

/// Longest filter pattern the CloudWatch Logs API accepts, in characters.
pub const MAX_PATTERN_CHARS: usize = 1024;

/// Regular expressions allowed in one JSON or space-delimited pattern.
pub const MAX_REGEXES: usize = 2;

/// Which of the three grammars a pattern uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatternKind {
    /// Terms, phrases, `-term`, `?term`, or a standalone `%regex%`.
    Unstructured,
    /// `{ $.selector … }`.
    Json,
    /// `[field, …]`.
    SpaceDelimited,
}

#[derive(Debug, Clone)]
enum Compiled {
    Unstructured(UnstructuredPattern),
    Json(JsonPattern),
    SpaceDelimited(DelimitedPattern),
}

/// A parsed, compiled CloudWatch Logs filter pattern.
#[derive(Debug, Clone)]
pub struct FilterPattern {
    text: String,
    compiled: Compiled,
}

impl FilterPattern {
    /// Parses and compiles a filter pattern; the error names what is wrong
    /// and the character offset where it is.
    pub fn parse(text: &str) -> Result<FilterPattern, FilterError> {
        let len = text.chars().count();
        if len > MAX_PATTERN_CHARS {
            return Err(FilterError::TooLong { len, max: MAX_PATTERN_CHARS });
        }
        let chars: Vec<char> = text.chars().collect();
        let mut cur = Cursor::new(&chars);
        cur.skip_ws();
        let compiled = match cur.peek() {
            Some('{') => Compiled::Json(JsonPattern::parse(&mut cur)?),
            Some('[') => Compiled::SpaceDelimited(DelimitedPattern::parse(&mut cur)?),
            _ => Compiled::Unstructured(UnstructuredPattern::parse(&mut cur)?),
        };
        Ok(FilterPattern { text: text.to_string(), compiled })
    }

    /// The pattern text, as given to [`FilterPattern::parse`].
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Which grammar the pattern uses.
    pub fn kind(&self) -> PatternKind {
        match self.compiled {
            Compiled::Unstructured(_) => PatternKind::Unstructured,
            Compiled::Json(_) => PatternKind::Json,
            Compiled::SpaceDelimited(_) => PatternKind::SpaceDelimited,
        }
    }

    /// An EventBridge event pattern on the record (no `detail` wrapper)
    /// that every record this pattern matches also matches; `None` when
    /// there is none (not a JSON pattern, or no plain string equality to
    /// derive it from). See `JsonPattern::prefilter`.
    pub fn record_prefilter(&self) -> Option<Value> {
        match &self.compiled {
            Compiled::Json(j) => j.prefilter(),
            Compiled::Unstructured(_) | Compiled::SpaceDelimited(_) => None,
        }
    }

    /// The key paths of a JSON pattern's selectors when the one scalar
    /// (string, boolean or null) each reaches outside every array decides
    /// the pattern ([`FilterPattern::matches_scalars`]); `None` otherwise.
    pub fn scalar_paths(&self) -> Option<Vec<Vec<String>>> {
        match &self.compiled {
            Compiled::Json(j) => j.scalar_paths(),
            Compiled::Unstructured(_) | Compiled::SpaceDelimited(_) => None,
        }
    }

    /// Whether a record matches whose scalar at the `i`th of
    /// [`FilterPattern::scalar_paths`] is `at(i)` (`None`: no string,
    /// boolean or null outside every array there): what
    /// [`FilterPattern::matches_value`] says of the record.
    pub fn matches_scalars<'v>(&self, at: &mut impl FnMut(usize) -> Option<Scalar<'v>>) -> bool {
        match &self.compiled {
            Compiled::Json(j) => j.matches_scalars(at),
            Compiled::Unstructured(_) | Compiled::SpaceDelimited(_) => false,
        }
    }

    /// Whether the log event message matches. JSON patterns parse the message
    /// as JSON; a message that is not JSON does not match them.
    pub fn matches(&self, message: &str) -> bool {
        self.match_steps(message).0
    }

    /// [`FilterPattern::matches`], and how many steps the matchers took:
    /// the worst-case work of each primitive run on the message, which
    /// grows linearly with the message. Parsing a JSON message counts its
    /// length (serde_json reads it once); a selector counts one per step
    /// taken, and one per element or field a `[*]` or `.*` visits; a
    /// space-delimited pattern counts the message's length for splitting it
    /// and one per field check; every comparison counts one plus the bytes
    /// of the value it reads, and what its operand does with them: an
    /// exact string its own length, a `*` glob the work of its substring
    /// searches (`pattern/glob.rs`); an unstructured term counts the
    /// message's length plus its own (memchr's worst case). A `%regex%`
    /// counts the length of the text it searches: the `regex` crate
    /// guarantees O(m × n) time for a text of n bytes and an expression of
    /// compiled size m, and m is bounded when the expression is compiled
    /// (`filter/re.rs`). For tests that check matching stays linear.
    pub fn match_steps(&self, message: &str) -> (bool, u64) {
        let mut steps = 0;
        let matched = match &self.compiled {
            Compiled::Unstructured(t) => t.matches(message, &mut steps),
            Compiled::SpaceDelimited(d) => d.matches(message, &mut steps),
            Compiled::Json(j) => {
                steps += 1 + message.len() as u64;
                serde_json::from_str::<Value>(message).is_ok_and(|v| j.matches(&v, &mut steps))
            }
        };
        (matched, steps)
    }

    /// The same verdict as [`FilterPattern::matches`], for a caller that
    /// already holds the message parsed as JSON. `message` is what
    /// unstructured and space-delimited patterns look at.
    pub fn matches_value(&self, message: &str, value: &Value) -> bool {
        let steps = &mut 0;
        match &self.compiled {
            Compiled::Json(j) => j.matches(value, steps),
            Compiled::Unstructured(t) => t.matches(message, steps),
            Compiled::SpaceDelimited(d) => d.matches(message, steps),
        }
    }

    /// Matches and returns what `TestMetricFilter` reports as
    /// `extractedValues`, or `None` when the message does not match.
    ///
    /// Space-delimited patterns give every field: `$name` for named fields,
    /// `$N` (position from 1) for unnamed fields and fields an ellipsis
    /// covers. JSON patterns give the value at each selector of the pattern
    /// that exists in the event (`"$.eventName": "ConsoleLogin"`).
    /// Unstructured patterns extract nothing.
    pub fn extract(&self, message: &str) -> Option<Extracted> {
        match &self.compiled {
            Compiled::Unstructured(t) => t.matches(message, &mut 0).then(Extracted::default),
            Compiled::SpaceDelimited(d) => d.extract(message),
            Compiled::Json(j) => {
                let v = serde_json::from_str::<Value>(message).ok()?;
                j.matches(&v, &mut 0).then(|| j.extract(&v))
            }
        }
    }
}

impl FromStr for FilterPattern {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FilterPattern::parse(s)
    }
}

impl fmt::Display for FilterPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Values a filter pattern extracted from a log event: names (`$status_code`,
/// `$1`, `$.eventName`) and values as AWS prints them, in pattern/field order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    entries: Vec<(String, String)>,
}

impl Extracted {
    pub(crate) fn push(&mut self, name: String, value: String) {
        self.entries.push((name, value));
    }

    /// The values as a JSON object of strings, as `extractedValues` shows them.
    pub fn to_json(&self) -> Value {
        Value::Object(self.entries.iter().map(|(n, v)| (n.clone(), Value::String(v.clone()))).collect())
    }
}

#[cfg(test)]
mod tests;
