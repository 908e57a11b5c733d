//! Property tests of the Sigma engine, on generated rules and records:
//! 1. a rule's verdict equals a naive evaluator written here (for plain
//!    values under no modifier, contains, startswith, endswith, cased, with
//!    and/or/not/1 of/all of conditions);
//! 2. the prefilter over-approximates: any record the rule matches also
//!    matches the rule's event pattern, as `{"detail": record}`.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use trailwatch_engine::pattern::EventPattern;
use trailwatch_engine::sigma::{self, SigmaOptions};

const FIELDS: &[&str] = &["eventSource", "eventName", "userAgent", "requestParameters.name"];
const VALUES: &[&str] =
    &["iam.amazonaws.com", "s3.amazonaws.com", "CreateUser", "createuser", "Create", "User", "Delete", "cli", ""];
const RECORD_VALUES: &[&str] = &[
    "iam.amazonaws.com",
    "IAM.amazonaws.com",
    "s3.amazonaws.com",
    "CreateUser",
    "createuser",
    "DeleteUser",
    "CreateUserX",
    "aws-cli/2",
    "",
];
const MODS: &[&str] = &["", "contains", "startswith", "endswith"];

#[derive(Debug, Clone)]
struct Item {
    field: usize,
    modifier: usize,
    cased: bool,
    values: Vec<usize>,
}

#[derive(Debug, Clone)]
enum Cond {
    Id(usize),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    OneOf,
    AllOf,
}

/// A search identifier: a list of maps (OR of ANDs).
type Ident = Vec<Vec<Item>>;

fn item() -> impl Strategy<Value = Item> {
    (0..FIELDS.len(), 0..MODS.len(), any::<bool>(), prop::collection::vec(0..VALUES.len(), 1..3))
        .prop_map(|(field, modifier, cased, values)| Item { field, modifier, cased, values })
}

/// A map's keys are unique: later items with an earlier key are dropped.
fn map() -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec(item(), 1..3).prop_map(|mut items| {
        let mut seen = Vec::new();
        items.retain(|i| {
            let key = (i.field, i.modifier, i.cased);
            let new = !seen.contains(&key);
            seen.push(key);
            new
        });
        items
    })
}

fn ident() -> impl Strategy<Value = Ident> {
    prop::collection::vec(map(), 1..3)
}

fn cond(n: usize) -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![4 => (0..n).prop_map(Cond::Id), 1 => Just(Cond::OneOf), 1 => Just(Cond::AllOf)];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn render_cond(c: &Cond) -> String {
    match c {
        Cond::Id(i) => format!("sel{i}"),
        Cond::Not(c) => format!("not ({})", render_cond(c)),
        Cond::And(a, b) => format!("({}) and ({})", render_cond(a), render_cond(b)),
        Cond::Or(a, b) => format!("({}) or ({})", render_cond(a), render_cond(b)),
        Cond::OneOf => "1 of sel*".into(),
        Cond::AllOf => "all of them".into(),
    }
}

fn render(idents: &[Ident], c: &Cond) -> String {
    let mut out = String::from("title: generated\nlogsource:\n    product: aws\ndetection:\n");
    for (i, alts) in idents.iter().enumerate() {
        out.push_str(&format!("    sel{i}:\n"));
        for map in alts {
            let mut first = true;
            for it in map {
                let mut key = FIELDS[it.field].to_string();
                if !MODS[it.modifier].is_empty() {
                    key = format!("{key}|{}", MODS[it.modifier]);
                }
                if it.cased {
                    key.push_str("|cased");
                }
                let values: Vec<String> = it.values.iter().map(|v| format!("'{}'", VALUES[*v])).collect();
                out.push_str(&format!("        {} '{key}': [{}]\n", if first { "-" } else { " " }, values.join(", ")));
                first = false;
            }
        }
    }
    out.push_str(&format!("    condition: {}\n", render_cond(c)));
    out
}

fn lookup<'a>(record: &'a Value, path: &str) -> Vec<&'a str> {
    let mut nodes = vec![record];
    for seg in path.split('.') {
        nodes = nodes
            .into_iter()
            .flat_map(|n| match n {
                Value::Array(items) => items.iter().filter_map(|i| i.get(seg)).collect::<Vec<_>>(),
                other => other.get(seg).into_iter().collect(),
            })
            .collect();
    }
    let mut out = Vec::new();
    for n in nodes {
        match n {
            Value::String(s) => out.push(s.as_str()),
            Value::Array(items) => out.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    out
}

fn naive_item(it: &Item, record: &Value) -> bool {
    let texts = lookup(record, FIELDS[it.field]);
    it.values.iter().any(|v| {
        let want = VALUES[*v];
        texts.iter().any(|t| {
            let (t, w) =
                if it.cased { (t.to_string(), want.to_string()) } else { (t.to_lowercase(), want.to_lowercase()) };
            match MODS[it.modifier] {
                "contains" => t.contains(&w),
                "startswith" => t.starts_with(&w),
                "endswith" => t.ends_with(&w),
                _ => t == w,
            }
        })
    })
}

fn naive_ident(alts: &Ident, record: &Value) -> bool {
    alts.iter().any(|map| map.iter().all(|it| naive_item(it, record)))
}

fn naive(idents: &[Ident], c: &Cond, record: &Value) -> bool {
    match c {
        Cond::Id(i) => naive_ident(&idents[*i], record),
        Cond::Not(c) => !naive(idents, c, record),
        Cond::And(a, b) => naive(idents, a, record) && naive(idents, b, record),
        Cond::Or(a, b) => naive(idents, a, record) || naive(idents, b, record),
        Cond::OneOf => idents.iter().any(|i| naive_ident(i, record)),
        Cond::AllOf => idents.iter().all(|i| naive_ident(i, record)),
    }
}

fn field_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        4 => prop::sample::select(RECORD_VALUES).prop_map(|s| Some(json!(s))),
        1 => prop::collection::vec(prop::sample::select(RECORD_VALUES), 0..3).prop_map(|v| Some(json!(v))),
    ]
}

fn record() -> impl Strategy<Value = Value> {
    prop::collection::vec(field_value(), FIELDS.len()).prop_map(|values| {
        let mut m = Map::new();
        for (f, v) in FIELDS.iter().zip(values) {
            let Some(v) = v else { continue };
            // eventSource and eventName are strings in CloudTrail.
            let v = if f.starts_with("event") && v.is_array() { json!("CreateUser") } else { v };
            match f.split_once('.') {
                Some((outer, inner)) => {
                    m.insert(outer.to_string(), json!({ inner: v }));
                }
                None => {
                    m.insert(f.to_string(), v);
                }
            }
        }
        Value::Object(m)
    })
}

fn rule_and_records() -> impl Strategy<Value = (Vec<Ident>, Cond, Vec<Value>)> {
    prop::collection::vec(ident(), 1..4).prop_flat_map(|idents| {
        let n = idents.len();
        (Just(idents), cond(n), prop::collection::vec(record(), 1..16))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn verdicts_equal_naive_and_prefilter_over_approximates((idents, c, records) in rule_and_records()) {
        let text = render(&idents, &c);
        let rule = sigma::parse_file("gen.yml", &text, &SigmaOptions::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?
            .remove(0);
        let pattern = rule.prefilter().map(|p| EventPattern::from_value(&p).expect("valid prefilter"));
        for r in &records {
            let got = rule.matches(r);
            prop_assert_eq!(got, naive(&idents, &c, r), "rule\n{}\nrecord {}", text, r);
            if got {
                if let Some(p) = &pattern {
                    prop_assert!(p.matches(&json!({"detail": r})), "prefilter {} misses {}\n{}", p.text(), r, text);
                }
            }
        }
    }
}
