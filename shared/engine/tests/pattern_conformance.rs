//! The event-pattern conformance suite: every case of
//! `tests/data/event-patterns.json` (pattern, event, expected verdict or
//! refusal, and where the behaviour is documented), run through the engine,
//! each pattern alone and all of them compiled into one set (matching the
//! parsed event and its JSON text, streamed).

use serde_json::Value;
use trailwatch_engine::pattern::{EventPattern, PatternSet, Scratch};

fn cases() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/event-patterns.json");
    let text = std::fs::read_to_string(path).expect("the conformance suite is in the repository");
    serde_json::from_str(&text).expect("the conformance suite is JSON")
}

fn parse(pattern: &Value) -> Result<EventPattern, String> {
    // Patterns are given as JSON values; strings stand for raw pattern text.
    match pattern {
        Value::String(text) => EventPattern::parse(text),
        other => EventPattern::parse(&other.to_string()),
    }
    .map_err(|e| e.to_string())
}

#[test]
fn every_case_gives_the_documented_verdict() {
    let cases = cases();
    assert!(cases.len() >= 300, "the suite has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("?");
        let got = parse(&case["pattern"]);
        match (&case["expected"], got) {
            (Value::String(e), Err(err)) if e == "error" => {
                // The refusal must name what is wrong: the operator or the
                // rule the case's source names (compared without case).
                if let Some(word) = case["error_contains"].as_str() {
                    if !err.to_lowercase().contains(&word.to_lowercase()) {
                        failures.push(format!("{name}: refused, but the reason does not say \"{word}\": {err}"));
                    }
                }
            }
            (Value::String(e), Ok(_)) if e == "error" => {
                failures.push(format!("{name}: accepted, but EventBridge refuses it ({})", case["source"]))
            }
            (Value::Bool(want), Ok(p)) => {
                let got = p.matches(&case["event"]);
                if got != *want {
                    failures.push(format!("{name}: expected {want}, got {got} ({})", case["source"]));
                }
            }
            (Value::Bool(_), Err(err)) => failures.push(format!("{name}: refused: {err}")),
            (other, _) => failures.push(format!("{name}: unknown expectation {other}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn the_compiled_set_agrees_with_each_pattern_alone() {
    let cases = cases();
    let valid: Vec<(EventPattern, &Value)> = cases
        .iter()
        .filter(|c| c["expected"].is_boolean())
        .filter_map(|c| parse(&c["pattern"]).ok().map(|p| (p, &c["event"])))
        .collect();
    let patterns: Vec<&EventPattern> = valid.iter().map(|(p, _)| p).collect();
    let set = PatternSet::new(patterns.iter().copied());
    let (mut scratch, mut streamed) = (Scratch::default(), Vec::new());
    for (_, event) in &valid {
        let alone: Vec<usize> = patterns.iter().enumerate().filter(|(_, p)| p.matches(event)).map(|(i, _)| i).collect();
        assert_eq!(set.matches(event), alone, "event {event}");
        // And reading the event's JSON text, streamed.
        set.matches_json(&event.to_string(), &mut scratch, &mut streamed).expect("the event is JSON");
        assert_eq!(streamed, alone, "streamed event {event}");
    }
}
