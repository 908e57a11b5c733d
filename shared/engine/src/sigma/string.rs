//! Sigma strings: wildcards (`*`, `?`), backslash escapes, and the
//! compiled matcher each value becomes at load.
//!
//! Rules-specification "String Wildcard" and "Escape Character": `*` is
//! any run of characters, `?` exactly one; `\*`, `\?` and `\\` are the
//! plain characters; a backslash before anything else is itself.

use regex::bytes::{Regex, RegexBuilder};

/// The characters `windash` makes interchangeable (modifiers appendix,
/// "String Modifiers").
pub(crate) const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// One piece of a Sigma string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Plain bytes (text, or encoded bytes after `utf16`).
    Lit(Vec<u8>),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// One of these characters (`windash`).
    Class(Vec<char>),
}

/// A value as a sequence of pieces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SigmaStr(pub Vec<Tok>);

impl SigmaStr {
    /// Parse a rule's string value: wildcards and escapes.
    pub(crate) fn parse(text: &str) -> SigmaStr {
        let mut s = SigmaStr::default();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => s.push_tok(Tok::Star),
                '?' => s.push_tok(Tok::One),
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        chars.next();
                        s.push_char(n);
                    }
                    _ => s.push_char('\\'),
                },
                c => s.push_char(c),
            }
        }
        s
    }

    /// A string with no wildcards.
    pub(crate) fn plain(text: &str) -> SigmaStr {
        let mut s = SigmaStr::default();
        if !text.is_empty() {
            s.0.push(Tok::Lit(text.as_bytes().to_vec()));
        }
        s
    }

    /// Plain bytes.
    pub(crate) fn bytes(bytes: Vec<u8>) -> SigmaStr {
        SigmaStr(if bytes.is_empty() { vec![] } else { vec![Tok::Lit(bytes)] })
    }

    fn push_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push_bytes(c.encode_utf8(&mut buf).as_bytes());
    }

    pub(crate) fn push_bytes(&mut self, b: &[u8]) {
        if let Some(Tok::Lit(last)) = self.0.last_mut() {
            last.extend_from_slice(b);
        } else {
            self.0.push(Tok::Lit(b.to_vec()));
        }
    }

    pub(crate) fn push_tok(&mut self, t: Tok) {
        match t {
            Tok::Lit(b) => self.push_bytes(&b),
            // `**` is `*`.
            Tok::Star if self.0.last() == Some(&Tok::Star) => {}
            t => self.0.push(t),
        }
    }

    /// The bytes, when the string has no wildcards.
    pub(crate) fn as_plain(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for t in &self.0 {
            match t {
                Tok::Lit(b) => out.extend_from_slice(b),
                _ => return None,
            }
        }
        Some(out)
    }

    pub(crate) fn starts_with_star(&self) -> bool {
        self.0.first() == Some(&Tok::Star)
    }

    pub(crate) fn ends_with_star(&self) -> bool {
        self.0.last() == Some(&Tok::Star)
    }

    /// `contains`/`endswith`: a leading `*` unless there is one.
    pub(crate) fn star_before(mut self) -> SigmaStr {
        if !self.starts_with_star() {
            self.0.insert(0, Tok::Star);
        }
        self
    }

    /// `contains`/`startswith`: a trailing `*` unless there is one.
    pub(crate) fn star_after(mut self) -> SigmaStr {
        self.push_tok(Tok::Star);
        self
    }

    /// `windash`: every dash-like character becomes any of them.
    pub(crate) fn windash(self) -> SigmaStr {
        let mut out = SigmaStr::default();
        for t in self.0 {
            match t {
                Tok::Lit(b) => match String::from_utf8(b) {
                    Ok(text) => {
                        for c in text.chars() {
                            if DASHES.contains(&c) {
                                out.push_tok(Tok::Class(DASHES.to_vec()));
                            } else {
                                out.push_char(c);
                            }
                        }
                    }
                    Err(e) => out.push_bytes(e.as_bytes()),
                },
                t => out.push_tok(t),
            }
        }
        out
    }
}

/// A compiled string value: matched against a field's text many times
/// without re-parsing.
#[derive(Debug, Clone)]
pub(crate) enum StrMatcher {
    /// Only `*` wildcards, at most: literal pieces found in order. With
    /// `folded`, the pieces are ASCII lowercase and the value is compared
    /// ASCII case-insensitively.
    Star { pieces: Vec<Vec<u8>>, anchored_start: bool, anchored_end: bool, folded: bool },
    /// Anything else (`?`, `windash` classes, non-ASCII case-insensitive
    /// text): a regular expression over the whole value.
    Regex(Regex),
}

/// The most a compiled regular expression may take (bytes).
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl StrMatcher {
    /// Compile a Sigma string; `cased` keeps case.
    pub(crate) fn compile(s: &SigmaStr, cased: bool) -> Result<StrMatcher, String> {
        let star_only = s.0.iter().all(|t| matches!(t, Tok::Lit(_) | Tok::Star));
        let ascii = s.0.iter().all(|t| !matches!(t, Tok::Lit(b) if !b.is_ascii()));
        if star_only && (cased || ascii) {
            let folded = !cased;
            let pieces =
                s.0.iter()
                    .filter_map(|t| match t {
                        Tok::Lit(b) if folded => Some(b.to_ascii_lowercase()),
                        Tok::Lit(b) => Some(b.clone()),
                        _ => None,
                    })
                    .collect();
            return Ok(StrMatcher::Star {
                pieces,
                anchored_start: !s.starts_with_star(),
                anchored_end: !s.ends_with_star(),
                folded,
            });
        }
        let mut re = String::from(if cased { "(?s)^" } else { "(?si)^" });
        for t in &s.0 {
            match t {
                Tok::Lit(b) => match std::str::from_utf8(b) {
                    Ok(text) => re.push_str(&regex::escape(text)),
                    Err(_) => b.iter().for_each(|byte| re.push_str(&format!("(?-u:\\x{byte:02X})"))),
                },
                Tok::Star => re.push_str(".*"),
                Tok::One => re.push('.'),
                Tok::Class(cs) => {
                    re.push('[');
                    cs.iter().for_each(|c| re.push_str(&regex::escape(&c.to_string())));
                    re.push(']');
                }
            }
        }
        re.push('$');
        RegexBuilder::new(&re).size_limit(REGEX_SIZE_LIMIT).build().map(StrMatcher::Regex).map_err(|e| e.to_string())
    }

    /// Whether the text matches.
    pub(crate) fn matches(&self, text: &[u8]) -> bool {
        match self {
            StrMatcher::Regex(re) => re.is_match(text),
            StrMatcher::Star { pieces, anchored_start, anchored_end, folded } => {
                let lowered;
                let text = if *folded && text.iter().any(u8::is_ascii_uppercase) {
                    lowered = text.to_ascii_lowercase();
                    &lowered[..]
                } else {
                    text
                };
                star_match(pieces, *anchored_start, *anchored_end, text)
            }
        }
    }
}

/// Literal pieces separated by `*`: the first at the start when anchored,
/// the last at the end when anchored, the others found leftmost in order
/// (which is exact for `*`-only patterns).
fn star_match(pieces: &[Vec<u8>], anchored_start: bool, anchored_end: bool, text: &[u8]) -> bool {
    match pieces {
        [] => !(anchored_start && anchored_end) || text.is_empty(),
        [only] if anchored_start && anchored_end => text == &only[..],
        _ => {
            let mut rest = text;
            let mut pieces = pieces;
            if anchored_start {
                let Some((first, tail)) = pieces.split_first() else { return true };
                let Some(r) = rest.strip_prefix(&first[..]) else { return false };
                rest = r;
                pieces = tail;
            }
            let mut last: Option<&Vec<u8>> = None;
            if anchored_end {
                if let Some((l, init)) = pieces.split_last() {
                    last = Some(l);
                    pieces = init;
                }
            }
            for p in pieces {
                match memchr::memmem::find(rest, p) {
                    Some(at) => rest = &rest[at + p.len()..],
                    None => return false,
                }
            }
            last.is_none_or(|l| rest.ends_with(l))
        }
    }
}
