//! EventBridge event patterns: parse arbitrary text as a pattern; when
//! EventBridge would accept it, compile it and match an arbitrary event
//! both ways, the streaming matcher on the text (`matches_json`) and the
//! DOM matcher on the parsed value (`matches`), which must agree; and the
//! event read as the `detail` member of an event (`walk_json_member`, how a
//! bare record is read) matches as that event parsed does. Text
//! serde_json refuses, both streaming readings refuse. The event held
//! escaped in a JSON string (`walk_escaped_member`, how a CloudWatch Logs
//! message is read) reads as its text does, where it is read at all; and
//! the raw bytes taken as escaped text are read only where serde_json
//! reads them as a string holding JSON, to the same hits.
//!
//! Input: pattern text, a NUL byte, event text (NUL cannot appear in JSON
//! text, so nothing is lost by splitting there).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use trailwatch_engine::pattern::{EventPattern, PatternSet, Scratch};

fuzz_target!(|data: &[u8]| {
    let (pattern, event) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let pattern = String::from_utf8_lossy(pattern);
    let Ok(pattern) = EventPattern::parse(&pattern) else {
        return;
    };
    let set = PatternSet::new([&pattern]);
    let raw = event;
    let event = String::from_utf8_lossy(event);
    let mut scratch = Scratch::default();
    let mut streamed = Vec::new();
    let streamed_ok = set.matches_json(&event, &mut scratch, &mut streamed);
    if let Ok(value) = serde_json::from_str::<Value>(&event) {
        if let Err(e) = &streamed_ok {
            panic!("the event parses as a value but matches_json refused it: {e}");
        }
        let dom = set.matches(&value);
        assert_eq!(dom, streamed, "matches and matches_json disagree on {event:?} for {:?}", pattern.text());
        assert_eq!(pattern.matches(&value), !dom.is_empty());
        let mut member = Vec::new();
        match set.walk_json_member("detail", &event, &mut scratch) {
            Ok(mut walked) => walked.finish(&mut member),
            Err(e) => panic!("the event parses as a value but walk_json_member refused it: {e}"),
        }
        let wrapped = serde_json::json!({ "detail": value });
        assert_eq!(set.matches(&wrapped), member, "walk_json_member disagrees on {event:?} for {:?}", pattern.text());
        let quoted = serde_json::to_string(&*event).expect("a string");
        if let Ok((mut walked, len)) = set.walk_escaped_member("detail", &quoted.as_bytes()[1..], &mut scratch) {
            let mut escaped = Vec::new();
            walked.finish(&mut escaped);
            assert_eq!(len, quoted.len() - 2, "the string's end, for {event:?}");
            assert_eq!(escaped, member, "walk_escaped_member disagrees on {event:?} for {:?}", pattern.text());
        }
    } else {
        assert!(streamed_ok.is_err(), "matches_json read what serde_json refuses: {event:?}");
        assert!(
            set.walk_json_member("detail", &event, &mut scratch).is_err(),
            "read what serde_json refuses: {event:?}"
        );
    }
    let mut read = Vec::new();
    if let Ok((mut walked, len)) = set.walk_escaped_member("detail", raw, &mut scratch) {
        walked.finish(&mut read);
        let quoted = [&b"\""[..], &raw[..len], b"\""].concat();
        let text: String = serde_json::from_slice(&quoted).expect("read escaped, so a JSON string");
        let mut member = Vec::new();
        match set.walk_json_member("detail", &text, &mut scratch) {
            Ok(mut walked) => walked.finish(&mut member),
            Err(e) => panic!("read escaped, yet its text is refused: {e}: {text:?}"),
        }
        assert_eq!(read, member, "walk_escaped_member disagrees with its text {text:?} for {:?}", pattern.text());
    }
});
