//! The error type of the filter-pattern engine.

use thiserror::Error;

/// Why a filter pattern was refused.
///
/// Every offset counts characters (not bytes) from the start of the pattern
/// text, starting at 0, so it can be shown under the pattern with a caret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The pattern is longer than the 1024 characters the CloudWatch Logs API accepts.
    #[error("filter pattern is {len} characters long; CloudWatch Logs accepts at most {max} characters")]
    TooLong {
        /// Length of the pattern, in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The pattern does not follow the filter-pattern grammar.
    #[error("at character {offset}: {message}")]
    Syntax {
        /// Where the problem was found.
        offset: usize,
        /// What is wrong, and how to fix it when that is obvious.
        message: String,
    },
    /// An unquoted term of an unstructured pattern contains a character
    /// other than a letter, a digit or `_`.
    #[error(
        "at character {offset}: term `{term}` contains `{ch}`; terms with characters other than \
         letters, digits and `_` must be enclosed in double quotes, e.g. \"{term}\""
    )]
    UnquotedTerm {
        /// Where the term starts.
        offset: usize,
        /// The term as written.
        term: String,
        /// The first offending character.
        ch: char,
    },
    /// A `%regex%` uses a character or construct CloudWatch Logs does not support,
    /// or does not compile.
    #[error("at character {offset}: invalid regular expression: {reason}")]
    Regex {
        /// Where the offending character (or the regular expression) starts.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// Parentheses are nested deeper than the engine allows.
    #[error(
        "at character {offset}: parentheses are nested more than {max} levels deep; \
         remove redundant parentheses"
    )]
    TooDeep {
        /// Where the parenthesis that went too deep is.
        offset: usize,
        /// The nesting limit.
        max: usize,
    },
    /// A quota of the filter-pattern syntax is exceeded (regular expressions
    /// per pattern, wildcard selectors per selector or per pattern).
    #[error("at character {offset}: {message}")]
    Limit {
        /// Where the item over the quota is.
        offset: usize,
        /// Which quota, and its value.
        message: String,
    },
}

impl FilterError {
    /// The character offset the error points at, when it points into the pattern.
    pub fn offset(&self) -> Option<usize> {
        match self {
            FilterError::Syntax { offset, .. }
            | FilterError::UnquotedTerm { offset, .. }
            | FilterError::Regex { offset, .. }
            | FilterError::TooDeep { offset, .. }
            | FilterError::Limit { offset, .. } => Some(*offset),
            FilterError::TooLong { .. } => None,
        }
    }

    pub(crate) fn syntax(offset: usize, message: impl Into<String>) -> Self {
        FilterError::Syntax { offset, message: message.into() }
    }
}
