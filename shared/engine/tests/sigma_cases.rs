//! Issue 14's acceptance: every SigmaHQ CloudTrail rule file of
//! `../shared/sigma` (DRL 1.1, read in place and never copied) loads, and
//! each loaded rule has CloudTrail records it must and must not match
//! (`tests/data/sigmahq_cases.json`, keyed by the rule's Sigma id, records
//! written here after AWS's documented record shape). Every verdict is
//! checked three ways: the rule alone (`SigmaRule::matches`), the rule
//! compiled into the shared `RuleSet` beside the built-in pack (its
//! prefilter in the index, then its detection), and `RuleSet::rule_matches`;
//! a match must also match the rule's prefilter. A proptest then draws
//! CloudTrail-shaped records from the values the rules themselves name,
//! mutated, and asks the same agreement of every rule.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestError, TestRunner};
use serde_json::{json, Map, Value};
use trailwatch_engine::event::Event;
use trailwatch_engine::pattern::EventPattern;
use trailwatch_engine::rules::{self, Rule, RuleSet, Workspace};
use trailwatch_engine::sigma::{self, SigmaOptions, SigmaRule};

mod sigmahq;
use sigmahq::{set_path, sigma_dir};

const CASES: &str = include_str!("data/sigmahq_cases.json");

fn cases() -> Map<String, Value> {
    let all: Value = serde_json::from_str(CASES).expect("sigmahq_cases.json is JSON");
    match all.get("rules") {
        Some(Value::Object(m)) => m.clone(),
        _ => panic!("sigmahq_cases.json: expected an object \"rules\""),
    }
}

/// The placeholder values the case file gives (for the rules-placeholder rule).
fn placeholder_options(cases: &Map<String, Value>) -> SigmaOptions {
    let mut options = SigmaOptions::default();
    for entry in cases.values() {
        let Some(Value::Object(p)) = entry.get("placeholders") else { continue };
        for (name, values) in p {
            let values = values.as_array().expect("placeholder values are a list");
            options
                .placeholders
                .insert(name.clone(), values.iter().map(|v| v.as_str().expect("a string").to_string()).collect());
        }
    }
    options
}

/// One loaded SigmaHQ rule: alone, compiled, and its prefilter.
struct Loaded {
    sigma: SigmaRule,
    /// The file, relative to the sigma directory.
    file: String,
    prefilter: Option<EventPattern>,
}

struct Context {
    rules: Vec<Loaded>,
    /// `rules::load(Some(dir))` (built-in pack and the SigmaHQ rules that load
    /// without options) plus the placeholder rule compiled with its values.
    set: RuleSet,
    /// Rule ids of `set` by Sigma id.
    in_set: HashMap<String, usize>,
    /// The texts of the rule files.
    texts: Vec<String>,
}

fn load(dir: &Path, cases: &Map<String, Value>) -> Context {
    let options = placeholder_options(cases);
    let mut rules = Vec::new();
    let mut refused = Vec::new();
    let mut texts = Vec::new();
    let files = rules::rule_files(dir).expect("the rule files");
    assert_eq!(files.len(), 66, "66 SigmaHQ CloudTrail rule files");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read rule");
        let file = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
        match sigma::parse_file(&file, &text, &options) {
            Ok(parsed) => {
                for sigma in parsed {
                    let prefilter = sigma
                        .prefilter()
                        .map(|p| EventPattern::from_value(&p).expect("a prefilter is a valid event pattern"));
                    rules.push(Loaded { sigma, file: file.clone(), prefilter });
                }
            }
            Err(e) => {
                assert!(e.is_refusal(), "{file} is invalid: {e}");
                refused.push((file, e.reason().to_string()));
            }
        }
        texts.push(text);
    }
    // The one file no option makes loadable: `near` (write a temporal
    // correlation instead).
    assert_eq!(refused.len(), 1, "only the near rule is refused: {refused:?}");
    assert!(refused[0].0.ends_with("aws_lambda_function_created_or_invoked.yml") && refused[0].1.contains("near"));
    assert_eq!(rules.len(), 65, "57 rules, 7 unsupported ones and the placeholder rule load");

    let mut compiled = rules::load(Some(dir)).expect("the SigmaHQ directory loads");
    let all: Vec<SigmaRule> = rules.iter().map(|l| l.sigma.clone()).collect();
    for l in &rules {
        let id = l.sigma.id.as_deref().expect("SigmaHQ rules have ids");
        if !compiled.iter().any(|r| r.id == id) {
            // Refused by `load` for want of a placeholders.yaml beside it.
            assert!(l.file.starts_with("rules-placeholder/"), "{} missing from the set", l.file);
            compiled.push(Rule::from_sigma(&l.sigma, &all).expect("compiles"));
        }
    }
    let set = RuleSet::new(compiled);
    let in_set: HashMap<String, usize> = set
        .rules()
        .iter()
        .enumerate()
        .filter(|(_, r)| rules.iter().any(|l| l.sigma.id.as_deref() == Some(r.id.as_str())))
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    assert_eq!(in_set.len(), 65, "every loaded SigmaHQ rule is in the set");
    Context { rules, set, in_set, texts }
}

/// The verdicts on one record: alone, in the set (`evaluate`), by
/// `rule_matches`, and whether the prefilter (if any) matches.
struct Verdicts {
    alone: bool,
    in_set: Option<bool>,
    by_itself: Option<bool>,
    prefilter: Option<bool>,
}

fn verdicts(ctx: &Context, l: &Loaded, record: &Value, ws: &mut Workspace) -> Verdicts {
    let id = l.sigma.id.as_deref().unwrap_or_default();
    let rule = &ctx.set.rules()[ctx.in_set[id]];
    let (in_set, by_itself) = match Event::from_record(record.clone()) {
        Ok(event) => {
            let hits = ctx.set.evaluate(&event, ws);
            (Some(hits.iter().any(|r| r.id == id)), Some(RuleSet::rule_matches(rule, &event)))
        }
        Err(_) => (None, None),
    };
    Verdicts {
        alone: l.sigma.matches(record),
        in_set,
        by_itself,
        prefilter: l.prefilter.as_ref().map(|p| p.matches(&json!({ "detail": record }))),
    }
}

fn list<'a>(entry: &'a Value, key: &str) -> &'a [Value] {
    entry.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

#[test]
fn every_sigmahq_rule_has_cases_and_gives_their_verdicts() {
    let Some(dir) = sigma_dir() else { return };
    let cases = cases();
    let ctx = load(&dir, &cases);
    let mut ws = Workspace::default();
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut must, mut must_not, mut skipped) = (0, 0, 0);
    for l in &ctx.rules {
        let id = l.sigma.id.clone().unwrap_or_default();
        let name = format!("{id} {}", l.file);
        let mut fail = |msg: String| failures.entry(name.clone()).or_default().push(msg);
        // (a) Every loaded rule has its cases.
        let Some(entry) = cases.get(&id) else {
            fail("no entry in sigmahq_cases.json".into());
            continue;
        };
        if text(entry, "file") != l.file {
            fail(format!("the entry names file {}", text(entry, "file")));
        }
        let (matching, not_matching) = (list(entry, "match"), list(entry, "no_match"));
        if entry.get("unmatchable").is_some() {
            if !matching.is_empty() {
                fail("unmatchable, yet it lists records to match".into());
            }
        } else if matching.is_empty() {
            fail("no record it must match".into());
        }
        if not_matching.is_empty() {
            fail("no record it must not match".into());
        }
        for (expect, case) in matching.iter().map(|c| (true, c)).chain(not_matching.iter().map(|c| (false, c))) {
            let why = text(case, "why");
            if why.is_empty() {
                fail("a case without its why".into());
            }
            let record = case.get("record").expect("a case has a record");
            if let Some(bug) = case.get("known_bug").map(|b| b.as_str().unwrap_or("known bug")) {
                println!("known bug, skipped: {name}: {bug} ({why})");
                skipped += 1;
                continue;
            }
            if expect {
                must += 1;
            } else {
                must_not += 1;
            }
            let v = verdicts(&ctx, l, record, &mut ws);
            // (b) and (c): the rule alone.
            if v.alone != expect {
                fail(format!("alone: expected {expect}, got {} — {why}", v.alone));
            }
            // (b): a match matches the prefilter.
            if expect && v.prefilter == Some(false) {
                fail(format!("matches, but its prefilter does not — {why}"));
            }
            // (d): in the set, and by itself, as alone.
            if v.in_set != Some(v.alone) || v.by_itself != Some(v.alone) {
                fail(format!(
                    "alone {} but in the set {:?}, rule_matches {:?} — {why}",
                    v.alone, v.in_set, v.by_itself
                ));
            }
        }
    }
    // No stale entry: every id in the case file is a loaded rule.
    for id in cases.keys() {
        if !ctx.rules.iter().any(|l| l.sigma.id.as_deref() == Some(id.as_str())) {
            failures.entry(id.clone()).or_default().push("in sigmahq_cases.json but no loaded rule has it".into());
        }
    }
    println!(
        "{} rules: {must} records to match, {must_not} not to match, {skipped} known bugs skipped",
        ctx.rules.len()
    );
    for (rule, msgs) in &failures {
        println!("FAIL {rule}: {}", msgs.join("; "));
    }
    assert!(failures.is_empty(), "{} of {} rules fail their cases (see above)", failures.len(), ctx.rules.len());
    assert_eq!(cases.len(), 65);
}

/// Rules the case file marks unmatchable: no record of the whole case file
/// (every rule's records, which include the unmatchable rule's own calls)
/// matches them, and the engine agrees there is no prefilter (it gives
/// `None` for a detection no single record can match).
#[test]
fn unmatchable_rules_match_no_record() {
    let Some(dir) = sigma_dir() else { return };
    let cases = cases();
    let ctx = load(&dir, &cases);
    let records: Vec<&Value> = cases
        .values()
        .flat_map(|e| list(e, "match").iter().chain(list(e, "no_match")))
        .filter_map(|c| c.get("record"))
        .collect();
    let unmatchable: Vec<&Loaded> = ctx
        .rules
        .iter()
        .filter(|l| {
            cases.get(l.sigma.id.as_deref().unwrap_or_default()).is_some_and(|e| e.get("unmatchable").is_some())
        })
        .collect();
    assert_eq!(unmatchable.len(), 1, "aws_ses_messaging_enabled only");
    let mut ws = Workspace::default();
    for l in unmatchable {
        assert!(l.prefilter.is_none(), "{}: a prefilter for a rule no record can match", l.file);
        for record in &records {
            let v = verdicts(&ctx, l, record, &mut ws);
            assert!(!v.alone && v.in_set != Some(true) && v.by_itself != Some(true), "{} matches {record}", l.file);
        }
    }
}

// ---------------------------------------------------------------------------
// Generated records.

/// Values drawn from the rules: by field path (modifiers stripped), with
/// wildcards filled in.
struct Pools {
    /// Every field path any rule reads, `eventSource` and `eventName` first.
    fields: Vec<String>,
    /// Values each rule names for each field, by rule index.
    by_rule: Vec<HashMap<String, Vec<String>>>,
    /// Every value any rule names for the field.
    by_field: HashMap<String, Vec<String>>,
    /// Every value any rule names.
    all: Vec<String>,
}

fn collect_values(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(_) | Value::Bool(_) => out.push(v.to_string()),
        Value::Array(items) => items.iter().for_each(|i| collect_values(i, out)),
        Value::Object(_) | Value::Null => {}
    }
}

/// `field|mod...: values` entries of a detection's search identifiers.
fn detection_values(detection: &Value, out: &mut HashMap<String, Vec<String>>) {
    let Value::Object(ids) = detection else { return };
    for (name, ident) in ids {
        if name == "condition" || name == "timeframe" {
            continue;
        }
        let maps: Vec<&Value> = match ident {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for m in maps {
            let Value::Object(m) = m else { continue };
            for (key, values) in m {
                let field = key.split('|').next().unwrap_or_default().to_string();
                let mut found = Vec::new();
                collect_values(values, &mut found);
                let entry = out.entry(field).or_default();
                for s in found {
                    // As written less its wildcards, and with them filled.
                    for v in [s.replace(['*', '?'], ""), s.replace(['*', '?'], "x")] {
                        if !entry.contains(&v) {
                            entry.push(v);
                        }
                    }
                }
            }
        }
    }
}

impl Pools {
    fn new(ctx: &Context) -> Pools {
        let mut fields: BTreeSet<String> = BTreeSet::new();
        let mut by_field: HashMap<String, Vec<String>> = HashMap::new();
        // Values per rule, from the rule texts (one document per file here).
        let mut by_text: HashMap<String, HashMap<String, Vec<String>>> = HashMap::new();
        for text in &ctx.texts {
            let docs: Vec<Value> = serde_saphyr::from_multiple(text).expect("YAML");
            for d in docs {
                let mut values = HashMap::new();
                if let Some(det) = d.get("detection") {
                    detection_values(det, &mut values);
                }
                if let Some(id) = d.get("id").and_then(Value::as_str) {
                    by_text.insert(id.to_string(), values);
                }
            }
        }
        let mut by_rule = Vec::new();
        for l in &ctx.rules {
            fields.extend(l.sigma.fields());
            let values = by_text.remove(l.sigma.id.as_deref().unwrap_or_default()).unwrap_or_default();
            for (f, vs) in &values {
                let entry = by_field.entry(f.clone()).or_default();
                entry.extend(vs.iter().filter(|v| !entry.contains(v)).cloned().collect::<Vec<_>>());
            }
            by_rule.push(values);
        }
        fields.remove("eventSource");
        fields.remove("eventName");
        let fields: Vec<String> =
            ["eventSource".to_string(), "eventName".to_string()].into_iter().chain(fields).collect();
        let mut all: Vec<String> = by_field.values().flatten().cloned().collect();
        all.extend(["Success", "AwsApiCall", "IAMUser", "aws-cli/2.15.0", "", "198.51.100.7"].map(String::from));
        all.sort();
        all.dedup();
        Pools { fields, by_rule, by_field, all }
    }
}

/// How one field is set in a generated record.
#[derive(Debug, Clone)]
struct FieldChoice {
    /// 0 missing, 1 null, 2-9 the anchor rule's value (else the field's),
    /// 10 any value of the field, 11 any value at all, 12 a number or boolean.
    source: u8,
    pick: Index,
    /// How the string is mutated (see `mutate`).
    mutation: u8,
    extra: Index,
}

fn field_choice() -> impl Strategy<Value = FieldChoice> {
    (0..13u8, any::<Index>(), 0..15u8, any::<Index>()).prop_map(|(source, pick, mutation, extra)| FieldChoice {
        source,
        pick,
        mutation,
        extra,
    })
}

const AFFIXES: &[&str] = &["x", "Amazon", "20150331v2", " ", "-", "s3", "aws:"];

/// A string value changed: as is (often), in another case, with a prefix or
/// suffix, cut short, inside an array or an object.
fn mutate(s: &str, how: u8, extra: &Index, all: &[String]) -> Value {
    let affix = AFFIXES[extra.index(AFFIXES.len())];
    match how {
        0..=7 => json!(s),
        8 => json!(s.to_lowercase()),
        9 => json!(s.to_uppercase()),
        10 => json!(format!("{affix}{s}")),
        11 => json!(format!("{s}{affix}")),
        12 => json!(s.chars().take(s.chars().count().saturating_sub(1)).collect::<String>()),
        13 => json!([all[extra.index(all.len())], s]),
        _ => json!({ "Status": s, "n": 1 }),
    }
}

fn generate(pools: &Pools, anchor: usize, choices: &[FieldChoice]) -> Value {
    let mut record = Map::new();
    for (k, v) in [
        ("eventVersion", json!("1.09")),
        ("eventTime", json!("2026-11-30T09:15:00Z")),
        ("awsRegion", json!("us-east-1")),
        ("eventType", json!("AwsApiCall")),
        ("recipientAccountId", json!("111122223333")),
        ("userIdentity", json!({"type": "IAMUser", "accountId": "111122223333", "userName": "alice"})),
    ] {
        record.insert(k.to_string(), v);
    }
    for (field, c) in pools.fields.iter().zip(choices) {
        let own = pools.by_rule[anchor].get(field).filter(|v| !v.is_empty());
        let of_field = pools.by_field.get(field).filter(|v| !v.is_empty());
        let base = match c.source {
            0 => continue,
            1 => {
                set_path(&mut record, field, Value::Null);
                continue;
            }
            12 => {
                let scalars = [json!(true), json!(false), json!(4769), json!(0)];
                set_path(&mut record, field, scalars[c.pick.index(scalars.len())].clone());
                continue;
            }
            2..=9 => own.or(of_field).map(|v| v[c.pick.index(v.len())].clone()),
            10 => of_field.map(|v| v[c.pick.index(v.len())].clone()),
            _ => Some(pools.all[c.pick.index(pools.all.len())].clone()),
        };
        let base = base.unwrap_or_else(|| pools.all[c.pick.index(pools.all.len())].clone());
        // The prefilter assumes eventSource and eventName hold strings, as
        // in every CloudTrail record (docs/sigma.md): no objects there.
        let core = field == "eventSource" || field == "eventName";
        let mutation = if core && c.mutation == 14 { 0 } else { c.mutation };
        set_path(&mut record, field, mutate(&base, mutation, &c.extra, &pools.all));
    }
    Value::Object(record)
}

#[test]
fn set_alone_and_sigma_agree_on_generated_records() {
    let Some(dir) = sigma_dir() else { return };
    let ctx = load(&dir, &cases());
    let pools = Pools::new(&ctx);
    let strategy = (0..ctx.rules.len(), prop::collection::vec(field_choice(), pools.fields.len()));
    let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
    let ws = RefCell::new(Workspace::default());
    let hit: RefCell<BTreeSet<String>> = RefCell::new(BTreeSet::new());
    let result = runner.run(&strategy, |(anchor, choices)| {
        let record = generate(&pools, anchor, &choices);
        for l in &ctx.rules {
            let v = verdicts(&ctx, l, &record, &mut ws.borrow_mut());
            let id = l.sigma.id.as_deref().unwrap_or_default();
            prop_assert_eq!(v.in_set, Some(v.alone), "{} in the set vs alone", id);
            prop_assert_eq!(v.by_itself, Some(v.alone), "{} rule_matches vs alone", id);
            if v.alone {
                prop_assert!(v.prefilter != Some(false), "{}: matches but its prefilter does not", id);
                hit.borrow_mut().insert(l.file.clone());
            }
        }
        Ok(())
    });
    match result {
        Err(TestError::Fail(reason, (anchor, choices))) => {
            panic!("{reason}\non the record {}", generate(&pools, anchor, &choices))
        }
        Err(e) => panic!("{e}"),
        Ok(()) => {}
    }
    let hit = hit.into_inner();
    println!("{} of {} rules matched a generated record", hit.len(), ctx.rules.len());
    assert!(hit.len() >= 25, "the generator must exercise most rules: {hit:?}");
}
