//! `%regex%` terms: CloudWatch Logs' restricted regular-expression dialect,
//! checked character by character and translated to the `regex` crate's
//! syntax. The crate's searches take at worst O(m × n) time, m the size of
//! the compiled expression and n the text's length (the regex crate's
//! documentation: "all regex searches in this crate have worst case
//! O(m * n) time complexity"); no input makes them backtrack. m is bounded
//! here: the pattern is at most 1024 characters, compilation is refused
//! past [`MAX_REGEX_SIZE`] bytes of compiled program or 64 levels of
//! nesting, and the lazy DFA's cache is capped at the same size.

use super::error::FilterError;

/// Compiled-program size limit for one regular expression, in bytes: a
/// `%regex%` that compiles to more is refused.
pub const MAX_REGEX_SIZE: usize = 1 << 20;

/// A compiled `%regex%`.
#[derive(Debug, Clone)]
pub(crate) struct RegexMatcher {
    regex: regex::Regex,
}

impl RegexMatcher {
    /// Validates `body` (the text between the `%` signs, starting at
    /// character `offset` of the pattern) and compiles it.
    pub(crate) fn new(body: &str, offset: usize) -> Result<Self, FilterError> {
        let translated = translate(body, offset)?;
        let regex = regex::RegexBuilder::new(&translated)
            .size_limit(MAX_REGEX_SIZE)
            .dfa_size_limit(MAX_REGEX_SIZE)
            .nest_limit(64)
            .build()
            .map_err(|e| FilterError::Regex { offset, reason: first_line(&e.to_string()) })?;
        Ok(RegexMatcher { regex })
    }

    /// Whether the expression matches anywhere in `text`.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().rev().find(|l| l.starts_with("error:")).or_else(|| s.lines().next()).unwrap_or(s);
    line.trim().to_string()
}

/// Symbol characters CloudWatch Logs allows in a regular expression, besides
/// letters and digits. The space is not in AWS's list but appears in its own
/// example `%^starting|^initializing|^shutting down%`.
fn is_symbol(c: char) -> bool {
    matches!(c, ':' | '_' | '#' | '=' | '@' | '/' | ';' | ',' | '-' | ' ')
}

/// The regex operators CloudWatch Logs supports.
fn is_operator(c: char) -> bool {
    matches!(c, '^' | '$' | '?' | '[' | ']' | '{' | '}' | '|' | '\\' | '*' | '+' | '.')
}

fn reject(c: char, offset: usize) -> FilterError {
    let reason = if c == '(' || c == ')' {
        format!(
            "`{c}` is not supported: CloudWatch Logs regular expressions have no groups; \
             write \\x{:02X} to match a literal `{c}`",
            c as u32
        )
    } else if !c.is_ascii() {
        format!("`{c}` is a multi-byte character, which CloudWatch Logs regular expressions do not support")
    } else if c.is_ascii_control() {
        format!("control character U+{:04X} is not allowed; write \\x{:02X} instead", c as u32, c as u32)
    } else {
        format!(
            "`{c}` is not allowed (allowed: letters, digits, space, `: _ # = @ / ; , -` and the \
             operators `^ $ ? [ ] {{ }} | \\ * + .`); write \\x{:02X} to match it",
            c as u32
        )
    };
    FilterError::Regex { offset, reason }
}

/// Checks the dialect's rules and rewrites the expression for the `regex`
/// crate: `\d \w \s` and their negations become ASCII classes (as in AWS's
/// definitions), `{,n}` becomes `{0,n}`, spaces inside `{m, n}` are dropped.
fn translate(body: &str, offset: usize) -> Result<String, FilterError> {
    let chars: Vec<char> = body.chars().collect();
    if chars.is_empty() {
        return Err(FilterError::Regex {
            offset,
            reason: "the regular expression between the `%` signs is empty".to_string(),
        });
    }
    // Every character must come from the allowed set.
    for (i, &c) in chars.iter().enumerate() {
        if !(c.is_ascii_alphanumeric() || is_symbol(c) || is_operator(c)) {
            return Err(reject(c, offset + i));
        }
    }
    let mut out = String::with_capacity(body.len() + 16);
    let mut class_depth = 0usize;
    let mut i = 0usize;
    while let Some(&c) = chars.get(i) {
        let at = offset + i;
        match c {
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err(FilterError::Regex {
                        offset: at,
                        reason: "the expression ends with a lone `\\`; write `\\\\` to match a backslash".to_string(),
                    });
                };
                let inside = class_depth > 0;
                match e {
                    'd' => out.push_str(if inside { "0-9" } else { "[0-9]" }),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str(if inside { "0-9A-Za-z_" } else { "[0-9A-Za-z_]" }),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str(if inside { "\\t\\n\\x0B\\x0C\\r " } else { "[\\t\\n\\x0B\\x0C\\r ]" }),
                    'S' => out.push_str("[^\\t\\n\\x0B\\x0C\\r ]"),
                    'x' => {
                        let h1 = chars.get(i + 2).copied();
                        let h2 = chars.get(i + 3).copied();
                        match (h1, h2) {
                            (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {
                                out.push_str("\\x");
                                out.push(a);
                                out.push(b);
                                i += 2;
                            }
                            _ => {
                                return Err(FilterError::Regex {
                                    offset: at,
                                    reason: "`\\x` must be followed by two hexadecimal digits, e.g. \\x3A".to_string(),
                                })
                            }
                        }
                    }
                    e if e.is_ascii_alphanumeric() => {
                        return Err(FilterError::Regex {
                            offset: at,
                            reason: format!(
                                "`\\{e}` is not supported; CloudWatch Logs supports \\d \\D \\s \\S \\w \\W \\xhh \
                                 and `\\` before an operator or symbol"
                            ),
                        })
                    }
                    e => push_literal(&mut out, e),
                }
                i += 2;
            }
            '[' => {
                out.push('[');
                class_depth += 1;
                i += 1;
                // `[^` and a `]` right after the opening bracket are part of the class.
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
                i += 1;
            }
            ']' => {
                out.push_str("\\]");
                i += 1;
            }
            '{' if class_depth == 0 => {
                // Counted repetition `{m}`, `{m,}`, `{m,n}`, `{,n}`, spaces allowed.
                let close = chars.get(i..).unwrap_or(&[]).iter().position(|&ch| ch == '}');
                let Some(close) = close else {
                    return Err(FilterError::Regex {
                        offset: at,
                        reason:
                            "`{` starts a repetition `{m,n}` but has no closing `}`; write \\x7B to match a literal `{`"
                                .to_string(),
                    });
                };
                let inner: String =
                    chars.get(i + 1..i + close).unwrap_or(&[]).iter().filter(|ch| **ch != ' ').collect();
                out.push_str(&repetition(&inner, at)?);
                i += close + 1;
            }
            '}' if class_depth == 0 => {
                out.push_str("\\}");
                i += 1;
            }
            c if class_depth > 0 => {
                // Inside a class: `-` forms ranges; everything else is literal.
                if c == '-' {
                    out.push('-');
                } else {
                    push_literal(&mut out, c);
                }
                i += 1;
            }
            '^' | '$' | '?' | '|' | '*' | '+' | '.' => {
                out.push(c);
                i += 1;
            }
            c => {
                push_literal(&mut out, c);
                i += 1;
            }
        }
    }
    if class_depth > 0 {
        return Err(FilterError::Regex {
            offset,
            reason: "a character class `[` is not closed; add `]` (or write \\x5B to match a literal `[`)".to_string(),
        });
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

fn repetition(inner: &str, at: usize) -> Result<String, FilterError> {
    let bad = || FilterError::Regex {
        offset: at,
        reason: format!("`{{{inner}}}` is not a repetition; write {{m}}, {{m,}}, {{m,n}} or {{,n}}"),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    match inner.split_once(',') {
        None if digits(inner) => Ok(format!("{{{inner}}}")),
        None => Err(bad()),
        Some((m, n)) => {
            if m.is_empty() && digits(n) {
                Ok(format!("{{0,{n}}}"))
            } else if digits(m) && (n.is_empty() || digits(n)) {
                Ok(format!("{{{m},{n}}}"))
            } else {
                Err(bad())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> RegexMatcher {
        match RegexMatcher::new(body, 0) {
            Ok(r) => r,
            Err(e) => panic!("{body}: {e}"),
        }
    }

    #[test]
    fn documented_operators() {
        assert!(ok("^[hc]at").is_match("hat trick"));
        assert!(!ok("^[hc]at").is_match("that"));
        assert!(ok("[hc]at$").is_match("a cat"));
        assert!(ok("colou?r").is_match("color"));
        assert!(ok("colou?r").is_match("colour"));
        assert!(ok("a{3,5}").is_match("aaa"));
        assert!(!ok("a{3,5}").is_match("aa"));
        assert!(ok("a{3, 5}").is_match("aaaa"));
        assert!(ok("a{,2}b").is_match("b"));
        assert!(ok("gra|ey").is_match("grey"));
        assert!(ok("\\[.\\]").is_match("[7]"));
        assert!(ok("10\\.10\\.0\\.1").is_match("10.10.0.1"));
        assert!(!ok("10\\.10\\.0\\.1").is_match("10010,051"));
        assert!(ok("10.10.0.1").is_match("10010,051"));
        assert!(ok("\\x3A").is_match(":"));
        assert!(ok("\\x28").is_match("("));
    }

    #[test]
    fn ascii_classes() {
        assert!(ok("\\d").is_match("7"));
        assert!(!ok("\\d").is_match("\u{0663}"), "Arabic-Indic digit is not [0-9]");
        assert!(ok("\\D").is_match("x"));
        assert!(ok("^\\w+$").is_match("a_Z9"));
        assert!(!ok("^\\w+$").is_match("é"));
        assert!(ok("a\\sb").is_match("a\tb"));
        assert!(ok("[\\d_]x").is_match("_x"));
        assert!(ok("[a\\D]").is_match("z"));
    }

    #[test]
    fn rejected() {
        for body in ["(a)", "a!b", "é", "\\b", "\\p{L}", "", "[abc", "a{x}", "\\x4", "a\\"] {
            assert!(RegexMatcher::new(body, 3).is_err(), "{body:?} should be rejected");
        }
        match RegexMatcher::new("ab(c", 10) {
            Err(FilterError::Regex { offset, .. }) => assert_eq!(offset, 12),
            other => panic!("{other:?}"),
        }
    }
}
