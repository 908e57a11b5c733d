//! Property tests of the event-pattern engine:
//! 1. the compiled many-pattern set reports exactly the patterns that match
//!    when each is evaluated alone;
//! 2. each verdict equals a naive recursive evaluator written here,
//!    independently of the engine's indexing (for the operators it models),
//!    reading IP addresses as event-ruler does with a reader of its own.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use trailwatch_engine::pattern::{EventPattern, PatternSet};

const KEYS: &[&str] = &["a", "b", "c"];
const STRS: &[&str] = &["", "x", "xy", "yx", "ab", "AB", "abc"];
/// Strings that read as IP addresses (some the same address written
/// differently, some IPv6 with the first 32 bits of an IPv4 one), and
/// some that look like addresses but are not.
const IPS: &[&str] = &[
    "10.0.0.1",
    "010.0.0.1",
    "10.0.0.2",
    "::ffff:a00:1",
    "a00:1::",
    "a00:2:3::",
    "2001:db8::1",
    "2001:DB8:0::1",
    "999.0.0.1",
    "::ffff:10.0.0.1",
];
const CIDRS: &[&str] = &["10.0.0.0/8", "10.0.0.0/31", "2001:db8::/32", "a00::/16"];

fn string() -> impl Strategy<Value = &'static str> {
    prop_oneof![3 => prop::sample::select(STRS), 1 => prop::sample::select(IPS)]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        string().prop_map(|s| json!(s)),
        (-3i64..4).prop_map(|n| json!(n)),
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
    ]
}

fn event_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![scalar(), prop::collection::vec(scalar(), 0..3).prop_map(Value::Array)];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::btree_map(prop::sample::select(KEYS), inner.clone(), 0..3)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            prop::collection::vec(
                prop::collection::btree_map(prop::sample::select(KEYS), inner, 1..3)
                    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
                1..3
            )
            .prop_map(Value::Array),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(KEYS), event_value(), 0..3)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

/// A condition on a leaf, in the operators the naive evaluator models.
fn cond() -> impl Strategy<Value = Value> {
    prop_oneof![
        scalar(),
        string().prop_map(|s| json!({"prefix": s})),
        string().prop_map(|s| json!({"suffix": s})),
        string().prop_map(|s| json!({"equals-ignore-case": s})),
        string().prop_map(|s| json!({"anything-but": s})),
        (-3i64..4).prop_map(|n| json!({"numeric": [">=", n]})),
        Just(json!({"exists": true})),
        prop::sample::select(CIDRS).prop_map(|c| json!({"cidr": c})),
    ]
}

fn pattern_obj(depth: u32) -> BoxedStrategy<Value> {
    let field = if depth == 0 {
        prop::collection::vec(cond(), 1..3).prop_map(Value::Array).boxed()
    } else {
        prop_oneof![
            3 => prop::collection::vec(cond(), 1..3).prop_map(Value::Array),
            1 => pattern_obj(depth - 1),
        ]
        .boxed()
    };
    prop::collection::btree_map(prop::sample::select(KEYS), field, 1..3)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
        .boxed()
}

fn pattern() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => pattern_obj(2),
        1 => (pattern_obj(1), pattern_obj(1)).prop_map(|(a, b)| json!({"$or": [a, b]})),
    ]
    .boxed()
}

// ---- the naive evaluator: straight recursion over pattern and event ----

fn naive(p: &Map<String, Value>, e: &Value) -> bool {
    p.iter().all(|(k, sub)| {
        if k == "$or" {
            return sub.as_array().is_some_and(|alts| alts.iter().any(|a| a.as_object().is_some_and(|a| naive(a, e))));
        }
        field(sub, e.get(k))
    })
}

fn field(sub: &Value, v: Option<&Value>) -> bool {
    match sub {
        Value::Object(inner) => match v {
            Some(Value::Object(_)) => naive(inner, v.unwrap_or(&Value::Null)),
            // An array of objects matches if one element does (array consistency).
            Some(Value::Array(items)) => items.iter().any(|i| i.is_object() && naive(inner, i)),
            _ => false,
        },
        Value::Array(conds) => leaves(v).iter().any(|leaf| conds.iter().any(|c| cond_holds(c, leaf))),
        _ => false,
    }
}

fn leaves(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None | Some(Value::Object(_)) => vec![],
        Some(Value::Array(items)) => items.iter().filter(|i| !i.is_object() && !i.is_array()).collect(),
        Some(other) => vec![other],
    }
}

fn cond_holds(c: &Value, leaf: &Value) -> bool {
    let Some(op) = c.as_object() else {
        return match (c, leaf) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            // A plain string that reads as an address matches the strings
            // that read as the same address (event-ruler's
            // JsonRuleCompiler.writeRules → CIDR.ipToRangeIfPossible).
            (Value::String(p), _) if addr(p).is_some() => {
                let v = leaf.as_str().and_then(addr);
                v.is_some_and(|v| in_block(addr(p).expect("an address"), 0, v))
            }
            _ => c == leaf,
        };
    };
    let (name, arg) = op.iter().next().expect("one operator");
    let s = leaf.as_str();
    match name.as_str() {
        "prefix" => s.is_some_and(|s| s.starts_with(arg.as_str().unwrap_or(""))),
        "suffix" => s.is_some_and(|s| s.ends_with(arg.as_str().unwrap_or(""))),
        "equals-ignore-case" => s.is_some_and(|s| s.to_lowercase() == arg.as_str().unwrap_or("").to_lowercase()),
        "anything-but" => leaf != arg,
        "numeric" => leaf.as_f64().is_some_and(|n| leaf.is_number() && n >= arg[1].as_f64().unwrap_or(0.0)),
        "exists" => true,
        "cidr" => {
            let (ip, bits) = arg.as_str().and_then(|c| c.split_once('/')).expect("generated blocks are valid");
            let (net, bits) = (addr(ip).expect("an address"), bits.parse::<u32>().expect("mask bits"));
            let width = if matches!(net, Ip::V4(_)) { 32 } else { 128 };
            s.and_then(addr).is_some_and(|v| in_block(net, width - bits, v))
        }
        other => panic!("unmodelled operator {other}"),
    }
}

/// An address as event-ruler compares them.
#[derive(Debug, Clone, Copy)]
enum Ip {
    V4(u32),
    V6(u128),
}

/// Read an address as event-ruler does (regular expressions, then the
/// JDK's parser): four decimal parts up to 255 in at most 15 characters,
/// or eight hexadecimal groups (one "::" standing for one or more), an
/// IPv4-mapped one being IPv4.
fn addr(s: &str) -> Option<Ip> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        if s.len() > 15 {
            return None;
        }
        let octets: Option<Vec<u32>> = parts.iter().map(|p| p.parse::<u32>().ok().filter(|&o| o <= 255)).collect();
        return Some(Ip::V4(octets?.iter().fold(0, |a, o| (a << 8) | o)));
    }
    if !s.contains(':') || !s.bytes().all(|b| b == b':' || b.is_ascii_hexdigit()) {
        return None;
    }
    let groups = |text: &str| -> Option<Vec<u128>> {
        if text.is_empty() {
            return Some(vec![]);
        }
        text.split(':').map(|g| u128::from_str_radix(g, 16).ok().filter(|&v| !g.is_empty() && v <= 0xffff)).collect()
    };
    let all = match s.split_once("::") {
        Some((head, tail)) => {
            let (head, tail) = (groups(head)?, groups(tail)?);
            if head.len() + tail.len() > 7 {
                return None;
            }
            let mut all = head;
            all.resize(8 - tail.len(), 0);
            all.extend(tail);
            all
        }
        None => groups(s)?,
    };
    if all.len() != 8 {
        return None;
    }
    let v = all.iter().fold(0u128, |a, g| (a << 16) | g);
    Some(if v >> 32 == 0xffff { Ip::V4(v as u32) } else { Ip::V6(v) })
}

/// Whether `v` lies in the block of `net` with `free` low bits free. An
/// IPv6 value is compared to an IPv4 block by its first 32 bits (event-
/// ruler's range paths end after 8 of its 32 hex digits); an IPv4 value
/// is never in an IPv6 block.
fn in_block(net: Ip, free: u32, v: Ip) -> bool {
    match (net, v) {
        (Ip::V4(n), Ip::V4(v)) => u64::from(n) >> free == u64::from(v) >> free,
        (Ip::V4(n), Ip::V6(v)) => u64::from(n) >> free == ((v >> 96) as u64) >> free,
        (Ip::V6(n), Ip::V6(v)) => n.checked_shr(free).unwrap_or(0) == v.checked_shr(free).unwrap_or(0),
        (Ip::V6(_), Ip::V4(_)) => false,
    }
}

/// An object of small numbers under `KEYS` (some keys left out).
fn small_obj() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(KEYS), 0i64..3, 0..4)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect()))
}

/// `{"a": [{"c": n, "b": [{...}, ...]}, ...]}`, with arrays long enough
/// that the matcher searches its candidate lists instead of scanning them.
fn nested_arrays_event() -> impl Strategy<Value = Value> {
    let inner = prop::collection::vec(small_obj(), 0..14).prop_map(Value::Array);
    let outer = prop::collection::vec((0i64..3, inner), 1..14)
        .prop_map(|els| Value::Array(els.into_iter().map(|(c, b)| json!({"c": c, "b": b})).collect()));
    outer.prop_map(|a| json!({"a": a}))
}

/// Two or three fields of one inner element, sometimes with one of the
/// outer element.
fn nested_arrays_pattern() -> impl Strategy<Value = Value> {
    let value = prop_oneof![(0i64..3).prop_map(|n| json!(n)), (0i64..3).prop_map(|n| json!({"numeric": [">=", n]}))];
    let inner =
        prop::collection::btree_map(prop::sample::select(KEYS), prop::collection::vec(value.clone(), 1..2), 2..4);
    (inner, prop::option::of(value)).prop_map(|(inner, c)| {
        let inner: Map<String, Value> = inner.into_iter().map(|(k, v)| (k.to_string(), Value::Array(v))).collect();
        let mut outer = Map::new();
        outer.insert("b".into(), Value::Object(inner));
        if let Some(c) = c {
            outer.insert("c".into(), json!([c]));
        }
        json!({"a": outer})
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn long_nested_arrays_keep_fields_in_one_element(p in nested_arrays_pattern(), e in nested_arrays_event()) {
        let compiled = EventPattern::from_value(&p).expect("generated patterns are valid");
        let want = naive(p.as_object().expect("object"), &e);
        prop_assert_eq!(compiled.matches(&e), want, "pattern {} event {}", p, e);
        let set = PatternSet::new([&compiled]);
        let (mut scratch, mut streamed) = (trailwatch_engine::pattern::Scratch::default(), Vec::new());
        set.matches_json(&e.to_string(), &mut scratch, &mut streamed).expect("valid JSON");
        prop_assert_eq!(!streamed.is_empty(), want, "streamed: pattern {} event {}", p, e);
    }
}

/// A field's conditions drawn from address-like strings: plain values,
/// blocks, and the string operators (which compare text).
fn ip_cond() -> impl Strategy<Value = Value> {
    let ip = || prop::sample::select(IPS);
    prop_oneof![
        4 => ip().prop_map(|s| json!(s)),
        1 => prop::sample::select(CIDRS).prop_map(|c| json!({"cidr": c})),
        1 => ip().prop_map(|s| json!({"anything-but": s})),
        1 => ip().prop_map(|s| json!({"prefix": s})),
        1 => ip().prop_map(|s| json!({"equals-ignore-case": s})),
    ]
}

/// `{"a": [...]}` on address-like conditions, sometimes with `"b"` too.
fn ip_pattern() -> impl Strategy<Value = Value> {
    let conds = || prop::collection::vec(ip_cond(), 1..3).prop_map(Value::Array);
    (conds(), prop::option::of(conds())).prop_map(|(a, b)| match b {
        Some(b) => json!({"a": a, "b": b}),
        None => json!({"a": a}),
    })
}

/// Events whose `"a"` and `"b"` hold address-like strings (or arrays of them).
fn ip_event() -> impl Strategy<Value = Value> {
    let value = || {
        prop_oneof![
            prop::sample::select(IPS).prop_map(|s| json!(s)),
            prop::collection::vec(prop::sample::select(IPS), 0..3).prop_map(|v| json!(v)),
            Just(json!("x")),
        ]
    };
    (value(), prop::option::of(value())).prop_map(|(a, b)| match b {
        Some(b) => json!({"a": a, "b": b}),
        None => json!({"a": a}),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn addresses_equal_the_naive_evaluator(ps in prop::collection::vec(ip_pattern(), 1..6), e in ip_event()) {
        let compiled: Vec<EventPattern> =
            ps.iter().map(|p| EventPattern::from_value(p).expect("generated patterns are valid")).collect();
        let want: Vec<usize> =
            ps.iter().enumerate().filter(|(_, p)| naive(p.as_object().expect("object"), &e)).map(|(i, _)| i).collect();
        let set = PatternSet::new(&compiled);
        prop_assert_eq!(set.matches(&e), want.clone(), "patterns {:?} event {}", ps, e);
        let (mut scratch, mut streamed) = (trailwatch_engine::pattern::Scratch::default(), Vec::new());
        set.matches_json(&e.to_string(), &mut scratch, &mut streamed).expect("valid JSON");
        prop_assert_eq!(streamed, want, "streamed: patterns {:?} event {}", ps, e);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn compiled_set_equals_each_pattern_alone(ps in prop::collection::vec(pattern(), 1..12), events in prop::collection::vec(event(), 1..6)) {
        let compiled: Vec<EventPattern> = ps.iter().filter_map(|p| EventPattern::from_value(p).ok()).collect();
        let set = PatternSet::new(&compiled);
        let mut scratch = trailwatch_engine::pattern::Scratch::default();
        let mut streamed = Vec::new();
        for e in &events {
            let alone: Vec<usize> = compiled.iter().enumerate().filter(|(_, p)| p.matches(e)).map(|(i, _)| i).collect();
            prop_assert_eq!(set.matches(e), alone.clone(), "event {}", e);
            // Reading the event's text directly gives the same verdicts.
            set.matches_json(&e.to_string(), &mut scratch, &mut streamed).expect("valid JSON");
            prop_assert_eq!(&streamed, &alone, "streamed event {}", e);
        }
    }

    #[test]
    fn each_verdict_equals_the_naive_evaluator(p in pattern(), e in event()) {
        let compiled = EventPattern::from_value(&p).expect("generated patterns are valid");
        let want = naive(p.as_object().expect("object"), &e);
        prop_assert_eq!(compiled.matches(&e), want, "pattern {} event {}", p, e);
    }
}
