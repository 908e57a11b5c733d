//! EventBridge event patterns: parse arbitrary text as a pattern; when
//! EventBridge would accept it, compile it and match an arbitrary event
//! both ways, the streaming matcher on the text (`matches_json`) and the
//! DOM matcher on the parsed value (`matches`), which must agree; and the
//! event read as the `detail` member of an event (`walk_json_member`, how a
//! bare record is read) matches as that event parsed does. Text
//! serde_json refuses, both streaming readings refuse.
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
            Ok(walked) => walked.finish(&mut member),
            Err(e) => panic!("the event parses as a value but walk_json_member refused it: {e}"),
        }
        let wrapped = serde_json::json!({ "detail": value });
        assert_eq!(set.matches(&wrapped), member, "walk_json_member disagrees on {event:?} for {:?}", pattern.text());
    } else {
        assert!(streamed_ok.is_err(), "matches_json read what serde_json refuses: {event:?}");
        assert!(
            set.walk_json_member("detail", &event, &mut scratch).is_err(),
            "read what serde_json refuses: {event:?}"
        );
    }
});
