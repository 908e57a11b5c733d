//! Conformance of the CloudWatch Logs filter-pattern engine.
//!
//! * `tests/data/filter-patterns.json`: behaviour pinned case by case, each
//!   with the AWS documentation it comes from (or `inferred: <reason>`).
//! * `tests/data/filter/cis-cloudwatch.json`: the Security Hub / CIS
//!   CloudWatch.1–14 metric-filter patterns, run over the real CloudTrail
//!   records of the shared dataset (`../shared/data/cloudtrail` beside the
//!   clone, or under `$TRAILWATCH_SHARED`) and over crafted records.
//! * Property tests: parsing and matching never panic.
//!
//! Every suite reports all its failures at once.

mod dataset;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{json, Value};
use trailwatch_engine::filter::{test_metric_filter, FilterPattern};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn report(suite: &str, failures: &[String], total: usize) {
    if !failures.is_empty() {
        panic!("{suite}: {} of {total} failed:\n\n{}", failures.len(), failures.join("\n\n"));
    }
}

// ------------------------------------------------------------------ cases

/// Runs one case; returns its failures.
fn run_case(case: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let name = case["name"].as_str().unwrap_or("<unnamed>");
    let pattern = case["pattern"].as_str().unwrap_or_default();
    let short = |s: &str| -> String {
        let s: String = s.chars().take(160).collect();
        s
    };
    let mut fail = |msg: String| out.push(format!("[{name}] pattern {:?}: {msg}", short(pattern)));

    if case["source"].as_str().is_none_or(|s| s.trim().is_empty()) {
        fail("no source".to_string());
    }
    let parsed = FilterPattern::parse(pattern);
    if case["expected"] == json!("error") {
        match parsed {
            Ok(p) => fail(format!("expected a parse error, parsed as {:?}", p.kind())),
            Err(e) => {
                if let Some(offset) = case.get("errorOffset").and_then(Value::as_u64) {
                    if e.offset() != usize::try_from(offset).ok() {
                        fail(format!("expected the error at character {offset}, got {e}"));
                    }
                }
            }
        }
        return out;
    }
    let p = match parsed {
        Ok(p) => p,
        Err(e) => {
            fail(format!("expected to parse, got: {e}"));
            return out;
        }
    };
    if p.text() != pattern {
        fail("text() differs from the pattern".to_string());
    }
    let messages: Vec<String> = match (case.get("message"), case.get("messages")) {
        (Some(m), _) => vec![m.as_str().unwrap_or_default().to_string()],
        (None, Some(ms)) => ms
            .as_array()
            .map(|a| a.iter().map(|m| m.as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    let expected: Vec<bool> = match &case["expected"] {
        Value::Bool(b) => vec![*b; messages.len()],
        Value::Array(a) => a.iter().map(|v| v.as_bool().unwrap_or(false)).collect(),
        other => {
            fail(format!("bad expected value {other}"));
            return out;
        }
    };
    if expected.len() != messages.len() {
        fail("expected and messages differ in length".to_string());
        return out;
    }
    for (i, (message, want)) in messages.iter().zip(&expected).enumerate() {
        let got = p.matches(message);
        if got != *want {
            fail(format!("message #{i} {:?}: expected {want}, got {got}", short(message)));
        }
        if let Ok(v) = serde_json::from_str::<Value>(message) {
            if p.matches_value(message, &v) != got {
                fail(format!("message #{i}: matches_value disagrees with matches"));
            }
        }
        let extracted = p.extract(message);
        if extracted.is_some() != got {
            fail(format!("message #{i}: extract() disagrees with matches"));
        }
        if let Some(want_ex) = case.get("extracted") {
            let got_ex = extracted.map(|e| e.to_json()).unwrap_or(Value::Null);
            if &got_ex != want_ex {
                fail(format!("message #{i}: extracted {got_ex}, expected {want_ex}"));
            }
        }
    }
    if let Some(want) = case.get("testMetricFilter") {
        let got = test_metric_filter(&p, &messages);
        if &got != want {
            fail(format!("test_metric_filter gave {got}, expected {want}"));
        }
    }
    out
}

#[test]
fn conformance_cases() {
    let cases = read_json(&manifest_dir().join("tests/data/filter-patterns.json"));
    let cases = cases.as_array().cloned().unwrap_or_default();
    assert!(cases.len() >= 250, "the suite shrank to {} cases", cases.len());
    let mut failures = Vec::new();
    let mut names = BTreeSet::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap_or_default().to_string();
        if !names.insert(name.clone()) {
            failures.push(format!("duplicate case name {name:?}"));
        }
        failures.extend(run_case(case));
    }
    report("filter-patterns.json", &failures, cases.len());
}

// ------------------------------------------------------------------ CIS / Security Hub

/// Every CloudTrail record of the shared dataset, as (file, log event message).
fn cloudtrail_events() -> Vec<(String, String)> {
    let root = dataset::dir();
    let mut files = Vec::new();
    for dir in ["invictus-aws-dataset/CloudTrail", "stratus-red-team/detonation-logs"] {
        let entries = fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("listing {dir}: {e}"));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut events = Vec::new();
    for path in files {
        let doc = read_json(&path);
        let records = match &doc {
            Value::Object(o) => o.get("Records").and_then(Value::as_array).cloned().unwrap_or_default(),
            Value::Array(a) => a.clone(),
            _ => Vec::new(),
        };
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        for record in records {
            let message = serde_json::to_string(&record).unwrap_or_default();
            events.push((file.clone(), message));
        }
    }
    events
}

#[test]
fn cis_cloudwatch_controls() {
    let controls = read_json(&manifest_dir().join("tests/data/filter/cis-cloudwatch.json"));
    let controls = controls.as_array().cloned().unwrap_or_default();
    assert_eq!(controls.len(), 14, "CloudWatch.1 to CloudWatch.14");
    let events = cloudtrail_events();
    assert_eq!(events.len(), 3210, "CloudTrail records of the shared dataset");
    let mut failures = Vec::new();
    for control in &controls {
        let id = control["control"].as_str().unwrap_or_default();
        let text = control["pattern"].as_str().unwrap_or_default();
        if control["source"].as_str().is_none_or(str::is_empty) || control["title"].as_str().is_none_or(str::is_empty) {
            failures.push(format!("{id}: missing title or source"));
        }
        let pattern = match FilterPattern::parse(text) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{id}: does not parse: {e}"));
                continue;
            }
        };
        // (b) the real records: exact count and exact set of eventIDs.
        let mut matched_ids = BTreeSet::new();
        let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
        for (_, message) in &events {
            if pattern.matches(message) {
                let v: Value = serde_json::from_str(message).unwrap_or(Value::Null);
                matched_ids.insert(v["eventID"].as_str().unwrap_or_default().to_string());
                *by_name.entry(v["eventName"].as_str().unwrap_or_default().to_string()).or_default() += 1;
            }
        }
        let want_count = control["expectedMatches"]["count"].as_u64().unwrap_or(u64::MAX);
        if matched_ids.len() as u64 != want_count {
            failures.push(format!("{id}: {} real records match, expected {want_count}", matched_ids.len()));
        }
        let want_names: BTreeMap<String, usize> = control["expectedMatches"]["byEventName"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0) as usize)).collect())
            .unwrap_or_default();
        if by_name != want_names {
            failures.push(format!("{id}: matches by eventName {by_name:?}, expected {want_names:?}"));
        }
        let want_ids: BTreeSet<String> = control["expectedMatches"]["eventIDs"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if matched_ids != want_ids {
            let extra: Vec<_> = matched_ids.difference(&want_ids).collect();
            let missing: Vec<_> = want_ids.difference(&matched_ids).collect();
            failures.push(format!("{id}: eventIDs differ; unexpected {extra:?}, missing {missing:?}"));
        }
        // (c) crafted records.
        for (i, crafted) in control["crafted"].as_array().cloned().unwrap_or_default().iter().enumerate() {
            let message = serde_json::to_string(&crafted["record"]).unwrap_or_default();
            let want = crafted["expected"].as_bool().unwrap_or(false);
            if pattern.matches(&message) != want {
                failures.push(format!(
                    "{id}: crafted record #{i} ({}) expected {want}",
                    crafted["why"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    report("cis-cloudwatch.json", &failures, controls.len());
}

// ------------------------------------------------------------------ robustness

/// Characters that exercise every branch of the three grammars.
fn syntax_soup() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{", "}", "[", "]", "(", ")", "$", ".", "$.", "$.a", "[0]", "[*]", ".*", "['x.y']", "=", "!=", "<", "<=", ">",
        ">=", "&&", "||", "&", "|", "\"", "\\", "%", "*", "?", "-", ",", "...", " ", "\t", "IS", "NOT", "EXISTS",
        "TRUE", "NULL", "1", "1e3", "-2.5", "a", "ERROR", "é", "\u{0}", "^", "{2,3}", "\\d", "\\x3A", "'",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_random_text(s in ".{0,300}") {
        let _ = FilterPattern::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_random_bytes(b in prop::collection::vec(any::<u8>(), 0..300)) {
        let s = String::from_utf8_lossy(&b);
        let _ = FilterPattern::parse(&s);
    }

    #[test]
    fn parse_and_match_never_panic_on_syntax_soup(p in syntax_soup(), m in syntax_soup()) {
        if let Ok(pattern) = FilterPattern::parse(&p) {
            let got = pattern.matches(&m);
            prop_assert_eq!(pattern.extract(&m).is_some(), got);
            let _ = test_metric_filter(&pattern, std::slice::from_ref(&m));
        }
    }

    #[test]
    fn matching_never_panics_on_random_messages(m in ".{0,300}", b in prop::collection::vec(any::<u8>(), 0..200)) {
        let bytes = String::from_utf8_lossy(&b).into_owned();
        for p in [
            "ERROR -DEBUG ?x", "%a.b%", "{ $.a[*] = %x% || $.b.c > 1e2 && ($.d NOT EXISTS) }",
            "[a, ..., b = 4* || b = %z%, ...]", "[w1, w2]", "[]", "{ $.* IS NULL }",
        ] {
            let pattern = FilterPattern::parse(p).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for message in [&m, &bytes] {
                let got = pattern.matches(message);
                prop_assert_eq!(pattern.extract(message).is_some(), got);
            }
        }
    }

    #[test]
    fn json_patterns_never_panic_on_random_json(v in arb_json()) {
        let message = v.to_string();
        for p in ["{ $.a = 1 }", "{ $.a[0].b != x* }", "{ $.*.c = %q% }", "{ $.a IS TRUE || $.b[*] <= -3 }"] {
            let pattern = FilterPattern::parse(p).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(pattern.matches(&message), pattern.matches_value(&message, &v));
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[a-z*%.]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-d]", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
