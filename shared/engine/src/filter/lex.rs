//! Character-level scanning shared by the three pattern grammars.
//!
//! Patterns are at most 1024 characters, so the scanner works on a
//! `Vec<char>`: offsets are character offsets, as error messages report them.

use super::error::FilterError;

/// A read position in the pattern text.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    chars: &'a [char],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(chars: &'a [char]) -> Self {
        Cursor { chars, pos: 0 }
    }

    /// The current character offset.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back to an offset obtained from [`Cursor::pos`].
    pub(crate) fn reset(&mut self, pos: usize) {
        self.pos = pos.min(self.chars.len());
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    /// Whether the text at the cursor starts with `s`.
    pub(crate) fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(k, c)| self.chars.get(self.pos + k) == Some(&c))
    }

    /// Consumes `s` if the text at the cursor starts with it.
    pub(crate) fn eat_str(&mut self, s: &str) -> bool {
        if self.starts_with(s) {
            self.pos += s.chars().count();
            true
        } else {
            false
        }
    }

    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Consumes characters while `keep` holds and returns them.
    pub(crate) fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if !keep(c) {
                break;
            }
            out.push(c);
            self.pos += 1;
        }
        out
    }

    /// Describes the character at the cursor for an error message.
    pub(crate) fn describe_here(&self) -> String {
        match self.peek() {
            Some(c) => format!("`{c}`"),
            None => "the end of the pattern".to_string(),
        }
    }

    /// Reads a double-quoted string; the cursor is on the opening quote.
    ///
    /// `\"` and `\\` are escapes; any other backslash is kept as written.
    pub(crate) fn quoted(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        if !self.eat('"') {
            return Err(FilterError::syntax(start, "expected `\"`"));
        }
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(FilterError::syntax(start, "unterminated quoted string; add the closing `\"`")),
                Some('"') => return Ok(out),
                Some('\\') => match self.peek() {
                    Some(c @ ('"' | '\\')) => {
                        self.pos += 1;
                        out.push(c);
                    }
                    _ => out.push('\\'),
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// Reads a `%regex%`; the cursor is on the opening `%`. Returns the body
    /// and the offset of its first character.
    pub(crate) fn regex_body(&mut self) -> Result<(String, usize), FilterError> {
        let start = self.pos;
        if !self.eat('%') {
            return Err(FilterError::syntax(start, "expected `%`"));
        }
        let body_start = self.pos;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(FilterError::syntax(
                        start,
                        "unterminated regular expression; close it with `%` (write \\x25 to match a literal `%`)",
                    ))
                }
                Some('%') => return Ok((out, body_start)),
                Some(c) => out.push(c),
            }
        }
    }
}

/// Characters of a JSON property name or a space-delimited field name.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Characters allowed in an unquoted unstructured term.
pub(crate) fn is_term_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
