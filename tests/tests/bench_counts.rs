//! The standard benchmark inputs give the match counts AWS's own engine
//! (event-ruler) gives on them: 62, 1,252 and 19,389 (bench/INPUTS.md).

use trailwatch_engine::event::Event;
use trailwatch_engine::pattern::{EventPattern, PatternSet};
use trailwatch_tests::{bench_patterns, eventbridge_events};

#[test]
fn match_counts_equal_event_ruler_s() {
    let events = eventbridge_events().expect("events");
    for (n, want) in [(10, 62), (100, 1_252), (1000, 19_389)] {
        let patterns: Vec<EventPattern> =
            bench_patterns(n).expect("patterns").iter().map(|p| EventPattern::from_value(p).expect("valid")).collect();
        let set = PatternSet::new(&patterns);
        let total: usize = events.iter().map(|e| set.matches(e).len()).sum();
        assert_eq!(total, want, "N = {n}");
        // And the decoded path agrees with matching the raw event.
        let decoded: usize = events
            .iter()
            .map(|e| set.matches(Event::from_eventbridge(e.clone()).expect("a record").value()).len())
            .sum();
        assert_eq!(decoded, want, "N = {n}, decoded");
        // And reading the events' JSON text directly.
        let mut scratch = trailwatch_engine::pattern::Scratch::default();
        let mut out = Vec::new();
        let streamed: usize = events
            .iter()
            .map(|e| {
                set.matches_json(&e.to_string(), &mut scratch, &mut out).expect("JSON");
                out.len()
            })
            .sum();
        assert_eq!(streamed, want, "N = {n}, streamed from text");
    }
}
