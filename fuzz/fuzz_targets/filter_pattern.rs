//! CloudWatch Logs filter patterns: parse arbitrary text; when CloudWatch
//! Logs would accept it, match it against arbitrary messages. The verdict
//! on a message parsed in advance (`matches_value`) must equal the one on
//! the text, and `extract` must report a match exactly when `matches` does.
//!
//! Input: pattern text, then messages, separated by NUL bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use trailwatch_engine::filter::FilterPattern;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let pattern = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let Ok(pattern) = FilterPattern::parse(&pattern) else {
        return;
    };
    for message in parts.take(16) {
        let message = String::from_utf8_lossy(message);
        let verdict = pattern.matches(&message);
        assert_eq!(pattern.extract(&message).is_some(), verdict, "extract and matches disagree on {message:?}");
        if let Ok(value) = serde_json::from_str::<Value>(&message) {
            assert_eq!(pattern.matches_value(&message, &value), verdict, "matches_value and matches disagree on {message:?}");
        }
    }
});
