//! Reading an event held escaped inside a JSON string (a CloudWatch Logs
//! message: `{\"eventName\":\"PutObject\",…}`) along the trie, straight
//! from the escaped bytes: the text is not unescaped first, and the parts
//! no pattern names are checked and passed over where they lie.
//!
//! What is read gives the leaves [`Walker`](super::walk::Walker) gives on
//! the unescaped text, and only text serde_json reads is read: the string
//! holding the event is a valid JSON string and its contents one valid JSON
//! value. Anything this reader does not take exactly as serde_json would
//! is declined ([`Declined::Other`]) and left to the caller, which
//! unescapes the text and reads it the usual way:
//! - an outer escape other than `\"` and `\\` (`\n` as whitespace between
//!   tokens, `\/`, `\u`), and an inner `\u` escape;
//! - a key with an escape;
//! - a number with an exponent or more than 18 integer digits, and at a
//!   named path any number but a plain integer (`-0` included);
//! - nesting deeper than [`MAX_DEPTH`].

use std::borrow::Cow;

use super::scratch::{IndexedValue, Scratch};
use super::{link, PatternSet, Walked};
use crate::string_word::special;

/// Deeper nesting is declined, well within serde_json's limit of 128.
const MAX_DEPTH: usize = 100;

/// Why [`PatternSet::walk_escaped_member`] did not read the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declined {
    /// The bytes end inside the event: give more and ask again.
    Cut,
    /// Not read here: unescape the text and read it the usual way.
    Other,
}

type Read<T> = Result<T, Declined>;

/// A string's contents as they lie in the escaped text.
struct Span {
    start: usize,
    end: usize,
    /// It holds an inner escape (`\\\"`, `\\n`, …): decode it to read it.
    escaped: bool,
}

struct Escaped<'a, 't> {
    set: &'a PatternSet,
    b: &'t [u8],
    i: usize,
    s: &'a mut Scratch,
    /// The strings the leaves hold, as they lie: made text once the whole
    /// event is read and checked as UTF-8 in one pass.
    spans: Vec<Span>,
    /// The named keys of the objects being read, innermost last, each (as
    /// the trie node it leads to: one key, one node) with the range of
    /// leaves it gave (see [`Scratch::forget_given`]).
    given: Vec<(usize, usize, usize)>,
}

impl PatternSet {
    /// [`PatternSet::walk_json_member`] on JSON text held escaped inside a
    /// JSON string: `src` starts past that string's opening quote and may
    /// go on past its closing one. Also gives the length of the string's
    /// contents (`src[len]` is the closing quote).
    pub fn walk_escaped_member<'a, 't>(
        &'a self,
        key: &str,
        src: &'t [u8],
        scratch: &'a mut Scratch,
    ) -> Result<(Walked<'a, 't>, usize), Declined> {
        scratch.reset(self);
        let (spans, given) = (Vec::with_capacity(16), Vec::with_capacity(16));
        let mut e = Escaped { set: self, b: src, i: 0, s: scratch, spans, given };
        e.space()?;
        match self.trie[0].children.get(key) {
            Some(&node) => e.value(node as usize, None, true, 1)?,
            None => {
                let object = e.skip(1)?;
                e.s.envelope.detail_object += u8::from(object);
            }
        }
        e.space()?;
        match e.peek()? {
            b'"' => {}
            _ => return Err(Declined::Other),
        }
        // The event's text is UTF-8 exactly when each string's is: the
        // bytes between strings are ASCII tokens.
        let text = std::str::from_utf8(&src[..e.i]).map_err(|_| Declined::Other)?;
        let strings = e.spans.iter().map(|span| decode(text, span)).collect::<Read<Vec<_>>>()?;
        let Escaped { s, i, .. } = e;
        link(s, 0);
        let linked = s.leaves.len();
        Ok((Walked { set: self, s, strings, linked }, i))
    }
}

impl<'t> Escaped<'_, 't> {
    fn peek(&self) -> Read<u8> {
        self.b.get(self.i).copied().ok_or(Declined::Cut)
    }

    /// Inner whitespace: spaces (whitespace written as an outer escape,
    /// `\n`, is declined).
    fn space(&mut self) -> Read<()> {
        while self.peek()? == b' ' {
            self.i += 1;
        }
        Ok(())
    }

    /// `byte`, after whitespace.
    fn expect(&mut self, byte: u8) -> Read<()> {
        self.space()?;
        if self.peek()? == byte {
            self.i += 1;
            Ok(())
        } else {
            Err(Declined::Other)
        }
    }

    /// Past the opening bracket here and whitespace: whether `close` follows
    /// at once (an empty object or array), consumed.
    fn open(&mut self, close: u8) -> Read<bool> {
        self.i += 1;
        self.space()?;
        let empty = self.peek()? == close;
        self.i += usize::from(empty);
        Ok(empty)
    }

    /// After a member or element: whether another follows (`,`, consumed
    /// with the whitespace after it) or `close` ends them (consumed).
    fn more(&mut self, close: u8) -> Read<bool> {
        self.space()?;
        match self.peek()? {
            b',' => {
                self.i += 1;
                self.space()?;
                Ok(true)
            }
            b if b == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(Declined::Other),
        }
    }

    /// At an inner quote (`\"`): whether one is here, consumed.
    fn quote(&mut self) -> Read<bool> {
        if self.peek()? != b'\\' {
            return Ok(false);
        }
        match self.b.get(self.i + 1) {
            None => Err(Declined::Cut),
            Some(b'"') => {
                self.i += 2;
                Ok(true)
            }
            Some(_) => Err(Declined::Other),
        }
    }

    /// The value here, read along the trie from `node`; `elem` is the
    /// (array, index) it is an element of, `detail` whether it is the
    /// member read (whether it is an object is noted).
    fn value(&mut self, node: usize, elem: Option<(u32, u32)>, detail: bool, depth: usize) -> Read<()> {
        let set = self.set;
        let at = &set.trie[node];
        if at.children.is_empty() && at.path.is_none() {
            let object = self.skip(depth)?;
            if detail {
                self.s.envelope.detail_object += u8::from(object);
            }
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(Declined::Other);
        }
        match self.peek()? {
            b'{' => self.object(node, elem, detail, depth),
            b'[' => self.array(node, elem, depth),
            b'\\' => {
                if !self.quote()? {
                    return Err(Declined::Other);
                }
                let span = self.string()?;
                if at.path.is_some() {
                    self.spans.push(span);
                    set.leaf(node, IndexedValue::Str(self.spans.len() as u32 - 1), self.s);
                }
                Ok(())
            }
            b'-' | b'0'..=b'9' => {
                let integer = self.number()?;
                if at.path.is_some() {
                    let n = integer.ok_or(Declined::Other)?;
                    set.leaf(node, IndexedValue::Num(n as f64), self.s);
                }
                Ok(())
            }
            _ => {
                let value = self.literal()?;
                set.leaf(node, value, self.s);
                Ok(())
            }
        }
    }

    fn object(&mut self, node: usize, elem: Option<(u32, u32)>, detail: bool, depth: usize) -> Read<()> {
        let pushed = elem.map(|m| self.s.binding.push(m)).is_some();
        if detail {
            self.s.envelope.detail_object = self.s.envelope.detail_object.saturating_add(1);
        }
        // The leaves each key gave, as `Walker` keeps them, from `frame` on.
        let frame = self.given.len();
        if !self.open(b'}')? {
            loop {
                if !self.quote()? {
                    return Err(Declined::Other);
                }
                let span = self.string()?;
                if span.escaped {
                    return Err(Declined::Other);
                }
                let b: &'t [u8] = self.b;
                let key = &b[span.start..span.end];
                self.expect(b':')?;
                self.space()?;
                match self.child(node, key)? {
                    Some((n, dotted)) => {
                        self.s.dotted |= dotted;
                        self.s.forget_given(&mut self.given, frame, &n);
                        let start = self.s.leaves.len();
                        self.value(n, None, false, depth + 1)?;
                        if self.s.leaves.len() > start {
                            self.given.push((n, start, self.s.leaves.len()));
                        }
                    }
                    None => {
                        self.skip(depth + 1)?;
                    }
                }
                if !self.more(b'}')? {
                    break;
                }
            }
        }
        self.given.truncate(frame);
        if pushed {
            self.s.binding.pop();
        }
        Ok(())
    }

    /// [`PatternSet::child`] for a key's bytes (checked as UTF-8 already).
    fn child(&self, node: usize, key: &[u8]) -> Read<Option<(usize, bool)>> {
        if let Some(&n) = self.set.trie[node].keys.get(key) {
            return Ok(Some((n as usize, false)));
        }
        if !key.contains(&b'.') {
            return Ok(None);
        }
        let key = std::str::from_utf8(key).map_err(|_| Declined::Other)?;
        Ok(self.set.child(node, key))
    }

    fn array(&mut self, node: usize, elem: Option<(u32, u32)>, depth: usize) -> Read<()> {
        let pushed = elem.map(|m| self.s.binding.push(m)).is_some();
        let array = self.s.arrays;
        self.s.arrays += 1;
        self.s.array_depth += 1;
        if !self.open(b']')? {
            let mut index = 0u32;
            loop {
                self.value(node, Some((array, index)), false, depth + 1)?;
                index += 1;
                if !self.more(b']')? {
                    break;
                }
            }
        }
        self.s.array_depth -= 1;
        if pushed {
            self.s.binding.pop();
        }
        Ok(())
    }

    /// Check and pass over the value here; whether it was an object.
    fn skip(&mut self, depth: usize) -> Read<bool> {
        if depth > MAX_DEPTH {
            return Err(Declined::Other);
        }
        match self.peek()? {
            b'{' => {
                if self.open(b'}')? {
                    return Ok(true);
                }
                loop {
                    if !self.quote()? {
                        return Err(Declined::Other);
                    }
                    self.string()?;
                    self.expect(b':')?;
                    self.space()?;
                    self.skip(depth + 1)?;
                    if !self.more(b'}')? {
                        return Ok(true);
                    }
                }
            }
            b'[' => {
                if self.open(b']')? {
                    return Ok(false);
                }
                loop {
                    self.skip(depth + 1)?;
                    if !self.more(b']')? {
                        return Ok(false);
                    }
                }
            }
            b'\\' => {
                if !self.quote()? {
                    return Err(Declined::Other);
                }
                self.string()?;
                Ok(false)
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                Ok(false)
            }
            _ => {
                self.literal()?;
                Ok(false)
            }
        }
    }

    /// A string's contents, from past its inner opening quote to its inner
    /// closing one (`\"`), which is passed over. Each inner escape is
    /// checked; UTF-8 is checked once, on the whole event (escapes are
    /// ASCII, so the escaped bytes are valid exactly when the decoded are).
    #[inline(always)]
    fn string(&mut self) -> Read<Span> {
        let b = self.b;
        let start = self.i;
        let mut i = start;
        let mut escaped = false;
        loop {
            if let Some(word) = b.get(i..i + 8) {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(word);
                let w = u64::from_le_bytes(bytes);
                let stop = special(w);
                if stop == 0 {
                    i += 8;
                    continue;
                }
                i += (stop.trailing_zeros() / 8) as usize;
            } else {
                let Some(&c) = b.get(i) else {
                    return Err(Declined::Cut);
                };
                if c != b'"' && c != b'\\' && c >= 0x20 {
                    i += 1;
                    continue;
                }
            }
            if b[i] != b'\\' {
                // The outer string ends inside this one, or a control byte.
                return Err(Declined::Other);
            }
            match b.get(i + 1) {
                None => return Err(Declined::Cut),
                Some(b'"') => break,
                Some(b'\\') => {}
                Some(_) => return Err(Declined::Other),
            }
            // An inner escape: `\\` then `\"`, `\\`, `/`, or a letter.
            escaped = true;
            i += match (b.get(i + 2), b.get(i + 3)) {
                (None, _) => return Err(Declined::Cut),
                (Some(b'\\'), None) => return Err(Declined::Cut),
                (Some(b'\\'), Some(b'"' | b'\\')) => 4,
                (Some(b'/' | b'b' | b'f' | b'n' | b'r' | b't'), _) => 3,
                _ => return Err(Declined::Other),
            };
        }
        self.i = i + 2;
        Ok(Span { start, end: i, escaped })
    }

    /// A number, checked as JSON's grammar has it; its value when it is a
    /// plain integer serde_json reads exactly (not `-0`), else `None`.
    /// One with an exponent or over 18 integer digits is declined.
    fn number(&mut self) -> Read<Option<i64>> {
        let b = self.b;
        let mut i = self.i;
        let negative = b[i] == b'-';
        i += usize::from(negative);
        let digits = |from: usize| b.get(from..).unwrap_or_default().iter().take_while(|c| c.is_ascii_digit()).count();
        let n = digits(i);
        if n == 0 {
            return if i == b.len() { Err(Declined::Cut) } else { Err(Declined::Other) };
        }
        if n > 18 || (n > 1 && b[i] == b'0') {
            return Err(Declined::Other);
        }
        let value = b[i..i + n].iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
        i += n;
        let mut integer = !(negative && value == 0);
        match b.get(i) {
            None => return Err(Declined::Cut),
            Some(b'.') => {
                let f = digits(i + 1);
                if i + 1 + f == b.len() {
                    return Err(Declined::Cut);
                }
                if f == 0 {
                    return Err(Declined::Other);
                }
                i += 1 + f;
                integer = false;
            }
            Some(_) => {}
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            return Err(Declined::Other);
        }
        self.i = i;
        Ok(integer.then_some(if negative { -value } else { value }))
    }

    /// `true`, `false` or `null`.
    fn literal(&mut self) -> Read<IndexedValue> {
        let rest = self.b.get(self.i..).unwrap_or_default();
        for (word, value) in [
            (&b"true"[..], IndexedValue::Bool(true)),
            (b"false", IndexedValue::Bool(false)),
            (b"null", IndexedValue::Null),
        ] {
            if rest.starts_with(word) {
                self.i += word.len();
                return Ok(value);
            }
            if !rest.is_empty() && word.starts_with(rest) {
                return Err(Declined::Cut);
            }
        }
        Err(Declined::Other)
    }
}

/// A string's text, its inner escapes decoded, from the event's text.
fn decode<'t>(text: &'t str, span: &Span) -> Read<Cow<'t, str>> {
    let raw = text.get(span.start..span.end).ok_or(Declined::Other)?;
    if !span.escaped {
        return Ok(Cow::Borrowed(raw));
    }
    let raw = raw.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        // `string` let through only `\\` + (`\"`, `\\`, `/`, a letter).
        let (byte, len) = match raw.get(i + 2) {
            Some(b'\\') => (raw.get(i + 3).copied().unwrap_or(b'\\'), 4),
            Some(b'b') => (0x08, 3),
            Some(b'f') => (0x0c, 3),
            Some(b'n') => (b'\n', 3),
            Some(b'r') => (b'\r', 3),
            Some(b't') => (b'\t', 3),
            Some(&other) => (other, 3),
            None => return Err(Declined::Other),
        };
        out.push(byte);
        i += len;
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| Declined::Other)
}
