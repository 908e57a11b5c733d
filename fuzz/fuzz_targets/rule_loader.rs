//! Rule files: load arbitrary text as a rule (YAML). A rule that loads is
//! compiled into a rule set and its inline test records are evaluated both
//! through the compiled set and alone, which must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch_engine::event::Event;
use trailwatch_engine::rules::{run_tests, Rule, RuleSet, Workspace};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(rule) = Rule::from_yaml("fuzz.yaml", &text) else {
        return;
    };
    // No base directory: `file:` tests report "no record", nothing is read.
    let _ = run_tests(&rule, None, None);
    let set = RuleSet::new(vec![rule.clone()]);
    let mut ws = Workspace::default();
    for t in &rule.tests {
        let Some(record) = t.record.clone() else { continue };
        let event = if record.get("detail-type").is_some() {
            Event::from_eventbridge(record)
        } else {
            Event::from_record(record)
        };
        if let Ok(event) = event {
            let in_set = !set.evaluate(&event, &mut ws).is_empty();
            assert_eq!(in_set, RuleSet::rule_matches(&rule, &event), "the compiled set and the rule alone disagree");
        }
    }
});
