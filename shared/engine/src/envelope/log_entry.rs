//! A subscription payload's log event read in the layout CloudWatch Logs
//! writes (`{"id":"…","timestamp":…,"message":"…"}`, no spaces), its
//! message unescaped eight bytes at a time.
//!
//! A message is a CloudTrail record as JSON inside a JSON string, so an
//! escape (`\"`) comes every few bytes: serde_json copies the run before
//! each and decodes it one call at a time, which was the largest cost of
//! the logs path. Here each word is copied whole and the first quote,
//! backslash or control byte in it found by bit arithmetic. Anything this
//! reader does not take exactly as serde_json would (another layout, a
//! `\u` escape, a control character, bytes that are not UTF-8, a number
//! that is not a plain integer) is left to serde_json, which gives the
//! same entry or the same error as before.

use aws_lambda_events::cloudwatch_logs::LogEntry;

use crate::pattern::Declined;
use crate::string_word::special;

/// What a log event's message reader made of the message's escaped text
/// (the reader of [`super::LogReader::next_read`]).
#[derive(Debug)]
pub struct Skimmed<T> {
    /// What it found.
    pub verdict: T,
    /// How many bytes the string's contents are (its closing quote is next).
    pub len: usize,
    /// Whether the message is wanted, unescaped, after all.
    pub keep: bool,
}

/// What [`read_with`] made of the start of a window.
#[derive(Debug, PartialEq)]
pub(super) enum Parsed {
    /// The entry and how many bytes it took.
    Entry(LogEntry, usize),
    /// The window ends inside the entry: read more and try again.
    Cut,
    /// Not the usual layout, or not plainly valid: parse with serde_json.
    Other,
}

/// A string scanned by [`string`]: where it ended (past its closing
/// quote) and how many bytes of `buf` hold its text.
enum Scanned {
    Done { end: usize, len: usize },
    Cut,
    Other,
}

/// The entry at the start of `window`, its strings unescaped through `buf`
/// (kept between calls so it is not allocated again).
#[cfg(test)]
pub(super) fn read(window: &[u8], buf: &mut Vec<u8>) -> Parsed {
    read_with(window, buf, &mut |_| Err::<Skimmed<()>, _>(Declined::Other), &mut None)
}

/// [`read`], the message's escaped text first offered to `skim`: when it
/// reads it (`verdict` is then its verdict), the message is unescaped only
/// if it says to keep it, and is left empty otherwise.
pub(super) fn read_with<T>(
    window: &[u8],
    buf: &mut Vec<u8>,
    skim: &mut impl FnMut(&[u8]) -> Result<Skimmed<T>, Declined>,
    verdict: &mut Option<T>,
) -> Parsed {
    match fields(window, buf, skim, verdict) {
        Ok((entry, used)) => Parsed::Entry(entry, used),
        Err(not) => not,
    }
}

/// [`read_with`], each step failing with what it found instead
/// ([`Parsed::Cut`] or [`Parsed::Other`]).
fn fields<T>(
    window: &[u8],
    buf: &mut Vec<u8>,
    skim: &mut impl FnMut(&[u8]) -> Result<Skimmed<T>, Declined>,
    verdict: &mut Option<T>,
) -> Result<(LogEntry, usize), Parsed> {
    let mut at = 0;
    literal(window, &mut at, b"{\"id\":\"")?;
    let id = text(window, &mut at, buf)?;
    literal(window, &mut at, b",\"timestamp\":")?;
    let timestamp = integer(window, &mut at)?;
    literal(window, &mut at, b",\"message\":\"")?;
    *verdict = None;
    let message = match skim(window.get(at..).unwrap_or_default()) {
        Ok(read) if window.get(at + read.len) == Some(&b'"') => {
            let message = if read.keep {
                text(window, &mut at, buf)?
            } else {
                at += read.len + 1;
                String::new()
            };
            *verdict = Some(read.verdict);
            message
        }
        Err(Declined::Cut) => return Err(Parsed::Cut),
        _ => text(window, &mut at, buf)?,
    };
    literal(window, &mut at, b"}")?;
    let mut entry = LogEntry::default();
    (entry.id, entry.timestamp, entry.message) = (id, timestamp, message);
    Ok((entry, at))
}

/// `lit` at `window[*at]`, which moves past it.
fn literal(window: &[u8], at: &mut usize, lit: &[u8]) -> Result<(), Parsed> {
    let rest = window.get(*at..).unwrap_or_default();
    if rest.starts_with(lit) {
        *at += lit.len();
        Ok(())
    } else if lit.starts_with(rest) {
        Err(Parsed::Cut)
    } else {
        Err(Parsed::Other)
    }
}

/// The string whose text starts at `window[*at]` (past its opening quote),
/// as a `String`; `*at` moves past its closing quote.
fn text(window: &[u8], at: &mut usize, buf: &mut Vec<u8>) -> Result<String, Parsed> {
    let src = window.get(*at..).unwrap_or_default();
    match string(src, buf) {
        Scanned::Done { end, len } => {
            *at += end;
            let text = buf.get(..len).unwrap_or_default();
            std::str::from_utf8(text).map(str::to_owned).map_err(|_| Parsed::Other)
        }
        Scanned::Cut => Err(Parsed::Cut),
        Scanned::Other => Err(Parsed::Other),
    }
}

/// A JSON integer that fits an `i64` without question (at most 18 digits,
/// no leading zero, not `-0`), followed by `,`; anything else is left to
/// serde_json.
fn integer(window: &[u8], at: &mut usize) -> Result<i64, Parsed> {
    let src = window.get(*at..).unwrap_or_default();
    let negative = src.first() == Some(&b'-');
    let digits = &src[usize::from(negative)..];
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    match digits.get(n) {
        None => return Err(Parsed::Cut),
        Some(b',') => {}
        Some(_) => return Err(Parsed::Other),
    }
    // serde_json reads `-0` as a float, which an `i64` field refuses.
    if n == 0 || n > 18 || (n > 1 && digits[0] == b'0') || (negative && digits[..n].iter().all(|&d| d == b'0')) {
        return Err(Parsed::Other);
    }
    let value = digits[..n].iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    *at += usize::from(negative) + n;
    Ok(if negative { -value } else { value })
}

/// Unescape the JSON string text at the start of `src` (past its opening
/// quote) into `buf[..len]`. Only the one-character escapes are decoded
/// here; `\u`, a control character or an invalid escape is
/// [`Scanned::Other`]. UTF-8 is checked by the caller, on the text.
fn string(src: &[u8], buf: &mut Vec<u8>) -> Scanned {
    let (mut i, mut o) = (0usize, 0usize);
    loop {
        // Room for a whole word and an escape's byte past `o`; never more
        // than the rest of the window (the text is no longer than its
        // source), so a huge message costs one window's size here, at most.
        if buf.len() < o + 9 {
            buf.resize((buf.len() * 2).max(4096).min(src.len() + 9).max(o + 9), 0);
        }
        if let Some(word) = src.get(i..i + 8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            buf[o..o + 8].copy_from_slice(word);
            let w = u64::from_le_bytes(bytes);
            let stop = special(w);
            if stop == 0 {
                (i, o) = (i + 8, o + 8);
                continue;
            }
            let skip = (stop.trailing_zeros() / 8) as usize;
            (i, o) = (i + skip, o + skip);
        } else {
            // The window's last few bytes, one at a time.
            let Some(&b) = src.get(i) else {
                return Scanned::Cut;
            };
            if b != b'"' && b != b'\\' && b >= 0x20 {
                buf[o] = b;
                (i, o) = (i + 1, o + 1);
                continue;
            }
        }
        match src[i] {
            b'"' => return Scanned::Done { end: i + 1, len: o },
            b'\\' => {
                let decoded = match src.get(i + 1) {
                    None => return Scanned::Cut,
                    Some(&c @ (b'"' | b'\\' | b'/')) => c,
                    Some(b'b') => 0x08,
                    Some(b'f') => 0x0c,
                    Some(b'n') => b'\n',
                    Some(b'r') => b'\r',
                    Some(b't') => b'\t',
                    Some(_) => return Scanned::Other,
                };
                buf[o] = decoded;
                (i, o) = (i + 2, o + 1);
            }
            _ => return Scanned::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn serde(window: &[u8]) -> Option<(LogEntry, usize)> {
        let mut values = serde_json::Deserializer::from_slice(window).into_iter::<LogEntry>();
        match values.next() {
            Some(Ok(e)) => Some((e, values.byte_offset())),
            _ => None,
        }
    }

    #[test]
    fn the_usual_layout_is_read_as_serde_reads_it() {
        let record = r#"{"eventName":"PutObject","requestParameters":{"key":"a\"b\\c/d"},"x":"\t\n"}"#;
        let message = serde_json::to_string(record).expect("a string");
        let window = format!(r#"{{"id":"3721","timestamp":1432826855000,"message":{message}}},{{"id":"#);
        let mut buf = Vec::new();
        let Parsed::Entry(entry, used) = read(window.as_bytes(), &mut buf) else { panic!("not read") };
        assert_eq!(entry.message, record);
        assert_eq!((entry.id.as_str(), entry.timestamp), ("3721", 1_432_826_855_000));
        assert_eq!(Some((entry, used)), serde(window.as_bytes()));
    }

    #[test]
    fn cut_windows_ask_for_more_and_other_layouts_go_to_serde() {
        let whole = br#"{"id":"1","timestamp":-5,"message":"{\"a\":\"\/\"}"}"#;
        let mut buf = Vec::new();
        for cut in 0..whole.len() {
            assert_eq!(read(&whole[..cut], &mut buf), Parsed::Cut, "cut at {cut}");
        }
        assert!(
            matches!(read(whole, &mut buf), Parsed::Entry(e, n) if e.message == r#"{"a":"/"}"# && n == whole.len())
        );
        // A `\u` escape is serde_json's to decode.
        assert_eq!(read(br#"{"id":"1","timestamp":1,"message":"\u00e9"}"#, &mut buf), Parsed::Other);
        for other in [
            &br#"{"timestamp":1,"id":"1","message":"m"}"#[..],
            br#"{ "id":"1","timestamp":1,"message":"m"}"#,
            br#"{"id":"1","timestamp":01,"message":"m"}"#,
            br#"{"id":"1","timestamp":-0,"message":"m"}"#,
            br#"{"id":"1","timestamp":1.5,"message":"m"}"#,
            br#"{"id":"1","timestamp":1234567890123456789,"message":"m"}"#,
            br#"{"id":"1","timestamp":1,"message":"a\qb"}"#,
            b"{\"id\":\"1\",\"timestamp\":1,\"message\":\"a\x01b\"}",
            b"{\"id\":\"1\",\"timestamp\":1,\"message\":\"a\xffb\"}",
            br#"{"id":"1","timestamp":1,"message":"m","x":1}"#,
        ] {
            assert_eq!(read(other, &mut buf), Parsed::Other, "{}", String::from_utf8_lossy(other));
        }
    }

    /// Bytes that exercise every branch: quotes, backslashes, escape
    /// letters, control bytes, `u`, UTF-8 lead and continuation bytes.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => "[a-z0-9 ]{0,12}".prop_map(String::into_bytes),
            2 => prop::sample::select(vec![
                &br#"\""#[..], br"\\", br"\/", br"\b", br"\f", br"\n", br"\r", br"\t", br"\u0041", br"\ud83d\ude00",
                br"\x", b"\"", b"\\", b"\x00", b"\x1f", b"\x7f", "é".as_bytes(), "€".as_bytes(), b"\xc3", b"\x80",
            ])
            .prop_map(<[u8]>::to_vec),
        ]
    }

    proptest! {
        /// Whenever this reader takes an entry, serde_json takes the same
        /// one, ending at the same byte; an entry serde_json reads whose
        /// message has no `\u` escape and whose timestamp has at most 18
        /// digits is always taken here.
        #[test]
        fn a_read_entry_is_the_entry_serde_reads(
            pieces in prop::collection::vec(piece(), 0..40),
            timestamp in prop_oneof![
                3 => any::<i64>().prop_map(|n| n.to_string()),
                1 => prop::sample::select(vec!["-0", "0", "-00", "01", "1e3", "1.0", "-", "", "-9223372036854775808"])
                    .prop_map(str::to_owned),
            ],
            cut in any::<prop::sample::Index>(),
        ) {
            let message: Vec<u8> = pieces.concat();
            let mut window = format!(r#"{{"id":"e","timestamp":{timestamp},"message":""#).into_bytes();
            window.extend_from_slice(&message);
            window.extend_from_slice(br#""},{"id""#);
            let mut buf = Vec::new();
            let by_serde = serde(&window);
            let plain_number = timestamp.parse::<i64>().is_ok_and(|n| n.unsigned_abs() < 1_000_000_000_000_000_000)
                && timestamp != "-0";
            let plain_enough = !message.windows(2).any(|w| w == br"\u") && plain_number;
            match read(&window, &mut buf) {
                Parsed::Entry(entry, used) => prop_assert_eq!(Some((entry, used)), by_serde),
                Parsed::Cut => prop_assert!(false, "a whole window is never cut"),
                Parsed::Other => prop_assert!(by_serde.is_none() || !plain_enough, "serde read it: {:?}", by_serde),
            }
            let plain = br#"{"id":"e","timestamp":7,"message":"a\"b\\c\/d\n"}"#;
            let at = cut.index(plain.len() + 1);
            let expected = if at == plain.len() { "whole" } else { "cut" };
            let got = match read(&plain[..at], &mut buf) {
                Parsed::Entry(e, _) if e.message == "a\"b\\c/d\n" => "whole",
                Parsed::Cut => "cut",
                _ => "other",
            };
            prop_assert_eq!(got, expected);
        }
    }
}
