//! The EventBridge event-pattern language, as AWS defines it.
//!
//! A pattern is parsed and validated once ([`EventPattern::parse`]); any
//! number of patterns compile into one [`PatternSet`] that reports every
//! pattern matching an event. Semantics follow the EventBridge user guide
//! ("Creating event patterns", "Comparison operators", "Arrays in event
//! patterns") and, where it is silent, AWS's own engine, event-ruler. The
//! conformance suite in `shared/engine/tests/data/event-patterns.json` pins each
//! rule with its source.

mod cidr;
pub(crate) mod glob;
mod match_value;
mod numeric;
mod parse;
mod set;
mod value;
mod wildcard;

pub use parse::{MAX_COMBINATIONS, MAX_PATTERN_LEN, MAX_PATTERN_TEXT, MAX_WILDCARD_COMPLEXITY};
pub use set::{Declined, FieldPath, PatternSet, Scalar, Scratch, TopMember, Walked};

pub use numeric::RangeError;

/// A validated event pattern.
#[derive(Debug, Clone)]
pub struct EventPattern {
    conjunctions: Vec<parse::Conjunction>,
    text: String,
    alone: Alone,
}

/// A pattern compiled into a set of its own on the first
/// [`EventPattern::matches`] (a rule's `severity_when` is matched once per
/// alert), then kept. Not part of the pattern's identity: its `Debug` shows
/// nothing of it.
#[derive(Clone, Default)]
struct Alone(std::sync::OnceLock<PatternSet>);

impl std::fmt::Debug for Alone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("_")
    }
}

impl EventPattern {
    /// Parse and validate pattern text as EventBridge does.
    pub fn parse(text: &str) -> Result<EventPattern, PatternError> {
        Ok(EventPattern { conjunctions: parse::parse(text)?, text: text.to_string(), alone: Alone::default() })
    }

    /// Validate a pattern already held as JSON.
    pub fn from_value(value: &serde_json::Value) -> Result<EventPattern, PatternError> {
        let text = value.to_string();
        Ok(EventPattern { conjunctions: parse::from_compact(value, &text)?, text, alone: Alone::default() })
    }

    /// The pattern as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether this one pattern matches the event (compiled into a set of
    /// one on the first call; to match many patterns, build a
    /// [`PatternSet`] of them once).
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        !self.alone.0.get_or_init(|| PatternSet::new([self])).matches(event).is_empty()
    }
}

/// Match one value against a `wildcard` operand alone, as
/// `{"wildcard": …}` in a pattern does (the operand is validated the same
/// way), and count the matcher's steps: the worst-case work of each
/// primitive it ran, which stays linear in the value (see `pattern/glob.rs`).
/// For tests and tools that check that; patterns match through
/// [`PatternSet`].
pub fn wildcard_steps(wildcard: &str, value: &str) -> Result<(bool, u64), PatternError> {
    let w = parse::wildcard(wildcard).map_err(|p| PatternError::new("", p))?;
    let mut steps = 0;
    let matched = w.matches_counting(value, &mut steps);
    Ok((matched, steps))
}

/// A pattern EventBridge would refuse: where in the pattern, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{problem}", if location.is_empty() { String::new() } else { format!("at \"{location}\": ") })]
pub struct PatternError {
    /// The dotted path of the offending field (`detail.eventName[1]`), empty
    /// for the pattern as a whole.
    pub location: String,
    /// What is wrong.
    pub problem: Problem,
}

impl PatternError {
    fn new(location: impl Into<String>, problem: Problem) -> PatternError {
        PatternError { location: location.into(), problem }
    }
}

/// What is wrong with a refused pattern.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    #[error("the pattern is not valid JSON (an event pattern is a JSON object): {0}")]
    Json(String),
    #[error("an event pattern must be a JSON object such as {{\"source\": [\"aws.iam\"]}}")]
    NotAnObject,
    #[error("the pattern's size is {0} characters; EventBridge allows at most {MAX_PATTERN_LEN} (a quota AWS can raise to {MAX_PATTERN_TEXT})")]
    TooLong(usize),
    #[error("the pattern nests too deeply")]
    TooDeep,
    #[error("an empty object matches nothing: an object in a pattern must name at least one field to match")]
    EmptyObject,
    #[error("a field's match values must be an array such as [\"value\"], not {0}")]
    LeafNotArray(&'static str),
    #[error("an empty array matches nothing: list at least one value")]
    EmptyArray,
    #[error("arrays cannot be nested inside a field's match values")]
    NestedArray,
    #[error("\"$or\" takes an array of at least two pattern objects")]
    OrShape,
    #[error("the pattern expands into more than {MAX_COMBINATIONS} \"$or\" combinations; split it into several rules")]
    TooManyCombinations,
    #[error("an operator object must have exactly one key, such as {{\"prefix\": \"us-\"}}")]
    OperatorShape,
    #[error("unknown operator \"{name}\"; the operators are {known}")]
    UnknownOperator { name: String, known: &'static str },
    #[error("\"{operator}\" takes {expected}")]
    OperatorArgument { operator: String, expected: &'static str },
    #[error("invalid numeric range: {0}")]
    Numeric(RangeError),
    #[error("\"{0}\" is not a CIDR block such as \"10.0.0.0/24\" or \"2001:db8::/32\": {1}")]
    BadCidr(String, &'static str),
    #[error("consecutive wildcard characters at position {at} are not allowed; use a single \"*\"")]
    WildcardConsecutive { at: usize },
    #[error("invalid escape at position {at}: in a wildcard only \"\\*\" and \"\\\\\" are escapes")]
    WildcardEscape { at: usize },
    #[error("the wildcard rule is too complex: use fewer \"*\", or fewer repeating character sequences after a \"*\"")]
    WildcardTooComplex,
    #[error("an empty prefix or suffix is not allowed in \"anything-but\"")]
    EmptyAffix,
}

impl std::fmt::Display for RangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RangeError::Shape => f.write_str("use [\"op\", number] or [\"op\", number, \"op\", number]"),
            RangeError::Operator(op) => write!(f, "unknown operator \"{op}\"; use <, <=, =, >, >="),
            RangeError::NotANumber(v) => write!(f, "{v} is not a number"),
            RangeError::OutOfRange(n) => {
                write!(f, "{n} is outside the range EventBridge compares: numbers must be between -5.0e9 and 5.0e9")
            }
            RangeError::Bounds => {
                f.write_str("give at most one lower bound (>, >=) and one upper bound (<, <=), or \"=\" alone")
            }
            RangeError::Empty => {
                f.write_str("the range is empty: its bottom (lower bound) must be below its top (upper bound)")
            }
        }
    }
}

#[cfg(test)]
mod tests;
