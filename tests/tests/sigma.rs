//! SigmaHQ's CloudTrail rules (read from ../shared/sigma, never copied)
//! compiled into the shared rule set beside the built-in pack: on every
//! real record of ../shared/data, and on variants of them that only a
//! case-insensitive matcher still matches, each Sigma rule's verdict in the
//! set (prefilter index, then its detection) is its verdict alone, and is
//! the Sigma module's own verdict on the record.

use std::collections::HashMap;

use serde_json::Value;
use trailwatch_engine::event::Event;
use trailwatch_engine::rules::{self, RuleSet, Workspace};
use trailwatch_engine::sigma::{self, SigmaOptions};
use trailwatch_tests::{records, shared};

/// The record with `field` (a string) changed by `f`.
fn variant(record: &Value, field: &str, f: fn(&str) -> String) -> Option<Value> {
    let mut r = record.clone();
    let v = r.get_mut(field)?;
    *v = Value::String(f(v.as_str()?));
    Some(r)
}

#[test]
fn a_sigma_rule_in_the_shared_set_gives_its_verdict_alone() {
    let sigma_root = shared().expect("the shared folder").join("sigma");
    let mut all = Vec::new();
    let mut alone: HashMap<String, sigma::SigmaRule> = HashMap::new();
    for dir in ["rules", "unsupported"] {
        let (loaded, notes) = rules::load_noted(Some(&sigma_root.join(dir))).expect("the Sigma rules load");
        if dir == "unsupported" {
            assert_eq!(notes.refused.len(), 1, "only the near rule is refused: {:?}", notes.refused);
            assert!(notes.refused[0].reason().contains("near"));
            all.extend(loaded.into_iter().filter(|r| r.origin.ends_with(".yml")));
        } else {
            assert!(notes.refused.is_empty(), "{:?}", notes.refused);
            all = loaded;
        }
        for path in rules::rule_files(&sigma_root.join(dir)).expect("files") {
            let text = std::fs::read_to_string(&path).expect("read");
            for r in sigma::parse_file(&path.display().to_string(), &text, &SigmaOptions::default()).unwrap_or_default()
            {
                alone.insert(r.id.clone().expect("SigmaHQ rules have ids"), r);
            }
        }
    }
    let set = RuleSet::new(all);
    let sigma_ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).filter(|id| alone.contains_key(*id)).collect();
    assert_eq!(sigma_ids.len(), 64, "57 rules and 7 unsupported ones load");
    let mut ws = Workspace::default();
    let (mut records_seen, mut matches) = (0, 0);
    for record in records().expect("the shared records") {
        let variants = [
            Some(record.clone()),
            variant(&record, "eventName", str::to_lowercase),
            variant(&record, "eventSource", str::to_uppercase),
        ];
        for r in variants.into_iter().flatten() {
            let Ok(event) = Event::from_record(r.clone()) else { continue };
            records_seen += 1;
            let in_set: Vec<&str> = set.evaluate(&event, &mut ws).iter().map(|r| r.id.as_str()).collect();
            for rule in set.rules().iter().filter(|r| alone.contains_key(&r.id)) {
                let by_set = in_set.contains(&rule.id.as_str());
                let by_itself = RuleSet::rule_matches(rule, &event);
                let by_sigma = alone[&rule.id].matches(&r);
                assert_eq!((by_set, by_itself), (by_sigma, by_sigma), "rule {} ({}) on {r}", rule.id, rule.title);
                matches += usize::from(by_set);
            }
        }
    }
    assert!(records_seen > 9_000, "{records_seen}");
    assert!(matches > 100, "the Sigma rules match real records: {matches}");
}
