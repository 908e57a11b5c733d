//! Unit tests of the engine's moving parts; the operator-by-operator
//! conformance suite is `shared/engine/tests/pattern_conformance.rs`.

use serde_json::json;

use super::*;

fn pat(p: serde_json::Value) -> EventPattern {
    EventPattern::from_value(&p).expect("valid pattern")
}

#[test]
fn fields_and_values_or() {
    let p = pat(json!({"source": ["aws.ec2", "aws.iam"], "detail": {"eventName": ["RunInstances"]}}));
    assert!(p.matches(&json!({"source": "aws.iam", "detail": {"eventName": "RunInstances"}})));
    assert!(!p.matches(&json!({"source": "aws.s3", "detail": {"eventName": "RunInstances"}})));
    assert!(!p.matches(&json!({"source": "aws.iam", "detail": {}})));
}

#[test]
fn array_consistency() {
    // Fields matched inside an array of objects must come from one element.
    let p = pat(json!({"a": {"b": [1], "c": [4]}}));
    assert!(!p.matches(&json!({"a": [{"b": 1, "c": 2}, {"b": 3, "c": 4}]})));
    assert!(p.matches(&json!({"a": [{"b": 1, "c": 2}, {"b": 1, "c": 4}]})));
}

#[test]
fn set_reports_every_match_once() {
    let ps = [
        pat(json!({"source": ["aws.iam"]})),
        pat(json!({"$or": [{"source": ["aws.iam"]}, {"region": ["eu-west-1"]}]})),
        pat(json!({"source": ["aws.s3"]})),
        pat(json!({"detail": {"errorCode": [{"exists": false}]}})),
    ];
    let set = PatternSet::new(&ps);
    assert_eq!(set.matches(&json!({"source": "aws.iam", "region": "eu-west-1", "detail": {}})), vec![0, 1, 3]);
    assert_eq!(set.matches(&json!({"source": "aws.s3", "detail": {"errorCode": "x"}})), vec![2]);
}

/// Fields with one path and the same values share one condition, whose
/// verdict an event settles once ([`set::Scratch`]'s memo) only when no
/// array is involved: inside arrays each conjunction still needs its own
/// consistent elements.
#[test]
fn shared_conditions_are_settled_once_and_arrays_still_agree() {
    let ps = [
        pat(json!({"a": {"b": ["x"], "c": ["1"]}})),
        pat(json!({"a": {"b": ["x"], "c": ["2"]}})),
        pat(json!({"e": [{"exists": false}], "f": ["1"]})),
        pat(json!({"e": [{"exists": false}], "f": ["2"]})),
        pat(json!({"a": {"b": ["x", "y"]}, "f": ["1"]})),
    ];
    let set = PatternSet::new(&ps);
    // Ten fields, seven conditions: a.b=[x], a.c=[1], a.c=[2], e absent, f=[1], f=[2], a.b=[x,y].
    assert_eq!(set.conds, 7);
    let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    let mut both = |event: serde_json::Value| {
        let dom = set.matches(&event);
        set.matches_json(&event.to_string(), &mut scratch, &mut out).expect("JSON");
        assert_eq!(dom, out, "{event}");
        dom
    };
    assert_eq!(both(json!({"a": {"b": "x", "c": "2"}})), vec![1]);
    assert_eq!(both(json!({"a": [{"b": "x", "c": "2"}, {"b": "z", "c": "1"}]})), vec![1]);
    assert_eq!(both(json!({"a": [{"b": "z", "c": "2"}, {"b": "x", "c": "1"}]})), vec![0]);
    assert_eq!(both(json!({"a": {"b": "q", "c": "1"}, "f": "1"})), vec![2]);
    assert_eq!(both(json!({"a": {"b": "y"}, "f": "1", "e": null})), vec![4]);
    assert_eq!(both(json!({"f": "2"})), vec![3]);
}

#[test]
fn scratch_is_reusable() {
    let ps = [pat(json!({"a": ["x"]})), pat(json!({"b": [{"prefix": "y"}]}))];
    let set = PatternSet::new(&ps);
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    for _ in 0..3 {
        set.matches_into(&json!({"a": "x"}), &mut scratch, &mut out);
        assert_eq!(out, vec![0]);
        set.matches_into(&json!({"b": "yes"}), &mut scratch, &mut out);
        assert_eq!(out, vec![1]);
        set.matches_into(&json!({}), &mut scratch, &mut out);
        assert!(out.is_empty());
    }
}

#[test]
fn errors_name_the_place() {
    let e = EventPattern::parse(r#"{"detail": {"eventName": [{"prefixx": "Put"}]}}"#).unwrap_err();
    assert_eq!(e.location, "detail.eventName[0]");
    assert!(e.to_string().contains("prefixx"), "{e}");
    let e = EventPattern::parse(r#"{"source": "aws.ec2"}"#).unwrap_err();
    assert_eq!(e.location, "source");
    assert!(matches!(e.problem, Problem::LeafNotArray("a string")));
    let long = format!(r#"{{"source": ["{}"]}}"#, "x".repeat(MAX_PATTERN_LEN));
    assert!(matches!(EventPattern::parse(&long).unwrap_err().problem, Problem::TooLong(_)));
}

#[test]
fn a_repeated_key_keeps_its_last_value_on_both_paths() {
    // Found by fuzzing (fuzz/artifacts/event_pattern): the streaming reader
    // kept the leaves of both "detail" objects, the parsed document only
    // the last, as AWS does.
    let p = pat(json!({"detail": {"userIdentity": {"type": ["Root"]}}}));
    let set = PatternSet::new([&p]);
    let text = r#"{"detail": {"userIdentity": {"type": "Root"}}, "detail": {"userIdentity": {"type": "IAMUser"}}}"#;
    let value: serde_json::Value = serde_json::from_str(text).expect("json");
    assert!(set.matches(&value).is_empty());
    let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    set.matches_json(text, &mut scratch, &mut out).expect("json");
    assert!(out.is_empty(), "the earlier \"detail\" must not match");
    let swapped = r#"{"detail": {"userIdentity": {"type": "IAMUser"}}, "detail": {"userIdentity": {"type": "Root"}}}"#;
    set.matches_json(swapped, &mut scratch, &mut out).expect("json");
    assert_eq!(out, vec![0]);
}

#[test]
fn long_arrays_of_objects_are_searched_not_scanned() {
    // Two fields that must come from one element of a long array: half the
    // elements satisfy the first, the other half the second, none both.
    let p = pat(json!({"items": {"cidr": [{"suffix": "/0"}], "port": [22]}}));
    let set = PatternSet::new([&p]);
    let n = 20_000;
    let mut items: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                json!({"cidr": "0.0.0.0/0", "port": 443})
            } else {
                json!({"cidr": "10.0.0.0/8", "port": 22})
            }
        })
        .collect();
    assert!(set.matches(&json!({"items": items.clone()})).is_empty());
    let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    set.matches_json(&json!({"items": items.clone()}).to_string(), &mut scratch, &mut out).expect("json");
    assert!(out.is_empty());
    // One element with both: found, by either path.
    items.push(json!({"cidr": "::/0", "port": 22}));
    assert_eq!(set.matches(&json!({"items": items.clone()})), vec![0]);
    set.matches_json(&json!({"items": items}).to_string(), &mut scratch, &mut out).expect("json");
    assert_eq!(out, vec![0]);
}

#[test]
fn long_inner_arrays_are_searched_at_every_level() {
    // Three fields that must come from one element of an inner array (as
    // `ipPermissions.items[].ipRanges.items[]`), inside one element of the
    // outer one: no inner element has all three.
    let p = pat(json!({"outer": {"inner": {"x": [1], "y": [2], "z": [3]}}}));
    let set = PatternSet::new([&p]);
    let m = 20_000;
    let mut inner: Vec<serde_json::Value> = (0..m)
        .map(|i| if i % 2 == 0 { json!({"x": 1, "y": 2, "z": 0}) } else { json!({"x": 0, "y": 2, "z": 3}) })
        .collect();
    let event =
        |inner: &[serde_json::Value]| json!({"outer": [{"inner": []}, {"inner": inner}, {"inner": [{"z": 3}]}]});
    assert!(set.matches(&event(&inner)).is_empty());
    let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    set.matches_json(&event(&inner).to_string(), &mut scratch, &mut out).expect("json");
    assert!(out.is_empty());
    // An inner element with all three: found, by either path.
    inner.insert(m / 2, json!({"x": 1, "y": 2, "z": 3}));
    assert_eq!(set.matches(&event(&inner)), vec![0]);
    set.matches_json(&event(&inner).to_string(), &mut scratch, &mut out).expect("json");
    assert_eq!(out, vec![0]);
    // Fields split across inner arrays of two outer elements never join.
    let split = json!({"outer": [{"inner": [{"x": 1, "y": 2}]}, {"inner": [{"z": 3}]}]});
    assert!(set.matches(&split).is_empty());
}

#[test]
fn fields_of_one_inner_array_are_tried_together() {
    // x and y must come from one element of `A`, z from `B`, both arrays
    // of one element of `o`. No element of A has both x and y; z has more
    // candidates than x and fewer than y, so trying fields by candidate
    // count alone would retry every z for every x before y fails.
    let p = pat(json!({"o": {"A": {"x": [1], "y": [2]}, "B": {"z": [3]}}}));
    let set = PatternSet::new([&p]);
    let m = 6_000;
    let a: Vec<serde_json::Value> =
        (0..m).map(|i| if i % 3 == 0 { json!({"x": 1}) } else { json!({"y": 2}) }).collect();
    let b: Vec<serde_json::Value> = (0..m / 2).map(|_| json!({"z": 3})).collect();
    let event = |a: &[serde_json::Value]| json!({"o": [{"A": a, "B": b}]});
    assert!(set.matches(&event(&a)).is_empty());
    let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    set.matches_json(&event(&a).to_string(), &mut scratch, &mut out).expect("json");
    assert!(out.is_empty());
    let mut a = a;
    a.push(json!({"x": 1, "y": 2}));
    assert_eq!(set.matches(&event(&a)), vec![0]);
    set.matches_json(&event(&a).to_string(), &mut scratch, &mut out).expect("json");
    assert_eq!(out, vec![0]);
}

/// The verdicts of one pattern on the parsed event, through a set of many
/// (its index), and on the event's JSON text streamed.
fn all_paths(p: &EventPattern, event: &serde_json::Value) -> [bool; 3] {
    let others = [pat(json!({"other": ["10.0.0.1"]})), pat(json!({"detail": {"sourceIPAddress": ["x"]}}))];
    let set = PatternSet::new(others.iter().chain([p]));
    let (mut scratch, mut out) = (Scratch::default(), Vec::new());
    set.matches_json(&event.to_string(), &mut scratch, &mut out).expect("JSON");
    [p.matches(event), set.matches(event).contains(&2), out.contains(&2)]
}

/// event-ruler compiles a plain string that reads as an IP address into a
/// one-address range (`JsonRuleCompiler.writeRules` →
/// `CIDR.ipToRangeIfPossible`) and reads event strings as addresses
/// (`ByteMachine.transitionOn` → `CIDR.ipToString`).
#[test]
fn exact_values_that_are_addresses_compare_as_addresses() {
    let v4 = pat(json!({"detail": {"sourceIPAddress": ["10.0.0.1"]}}));
    let v6 = pat(json!({"detail": {"sourceIPAddress": ["2001:db8::1"]}}));
    let ev = |ip: serde_json::Value| json!({"detail": {"sourceIPAddress": ip}});
    for (p, ip, want) in [
        (&v4, json!("10.0.0.1"), true),
        (&v4, json!("010.0.0.1"), true),
        (&v4, json!("010.000.000.001"), true),
        (&v4, json!("::ffff:a00:1"), true),
        (&v4, json!("a00:1::"), true),
        (&v4, json!(["AWS Internal", "10.00.0.1"]), true),
        (&v4, json!("10.0.0.2"), false),
        (&v4, json!("a00:2::"), false),
        (&v4, json!(" 10.0.0.1"), false),
        (&v4, json!(10), false),
        (&v6, json!("2001:db8::1"), true),
        (&v6, json!("2001:0db8:0:0:0:0:0:1"), true),
        (&v6, json!("2001:DB8::0001"), true),
        (&v6, json!("2001:db8::2"), false),
        (&v6, json!("32.1.13.184"), false),
    ] {
        assert_eq!(all_paths(p, &ev(ip.clone())), [want; 3], "{} on {ip}", p.text());
    }
}

/// Strings that are not addresses stay exact strings, and the operators
/// other than a plain value compare text.
#[test]
fn other_strings_and_operators_compare_text() {
    let ev = |ip: &str| json!({"detail": {"sourceIPAddress": ip}});
    for (p, ip, want) in [
        (json!(["999.0.0.1"]), "999.0.0.1", true),
        (json!(["999.0.0.1"]), "999.00.0.1", false),
        (json!(["abc:def"]), "ABC:DEF", false),
        (json!(["::ffff:10.0.0.1"]), "10.0.0.1", false),
        (json!([{"anything-but": ["10.0.0.1"]}]), "010.0.0.1", true),
        (json!([{"anything-but": "10.0.0.1"}]), "10.0.0.1", false),
        (json!([{"equals-ignore-case": "2001:db8::1"}]), "2001:0db8::1", false),
        (json!([{"prefix": "10.0.0.1"}]), "010.0.0.1", false),
        (json!([{"wildcard": "10.0.0.*"}]), "010.0.0.1", false),
    ] {
        let p = pat(json!({"detail": {"sourceIPAddress": p}}));
        assert_eq!(all_paths(&p, &ev(ip)), [want; 3], "{} on {ip}", p.text());
    }
}

/// The address index finds a conjunction anchored on an address field
/// whichever way the event writes the address; `$or` branches and array
/// consistency behave as for any exact value.
#[test]
fn address_index_or_and_arrays() {
    let or = pat(json!({"$or": [{"ip": ["10.0.0.1"]}, {"ip": ["2001:db8::1"], "x": ["y"]}]}));
    assert_eq!(all_paths(&or, &json!({"ip": "010.0.0.1"})), [true; 3]);
    assert_eq!(all_paths(&or, &json!({"ip": "2001:0db8::1", "x": "y"})), [true; 3]);
    assert_eq!(all_paths(&or, &json!({"ip": "2001:0db8::1"})), [false; 3]);
    let consistent = pat(json!({"a": {"ip": ["10.0.0.1"], "x": ["y"]}}));
    assert_eq!(
        all_paths(&consistent, &json!({"a": [{"ip": "010.0.0.1", "x": "z"}, {"ip": "1.1.1.1", "x": "y"}]})),
        [false; 3]
    );
    assert_eq!(
        all_paths(&consistent, &json!({"a": [{"ip": "1.1.1.1", "x": "z"}, {"ip": "010.0.0.1", "x": "y"}]})),
        [true; 3]
    );
    // Many address patterns on one field: each event address wakes its own.
    let many: Vec<EventPattern> = (0..50).map(|i| pat(json!({"ip": [format!("10.0.0.{i}")]}))).collect();
    let set = PatternSet::new(&many);
    assert_eq!(set.matches(&json!({"ip": "010.000.000.007"})), vec![7]);
    assert_eq!(set.matches(&json!({"ip": ["::ffff:a00:9", "a00:0011::"]})), vec![9, 17]);
    assert_eq!(set.matches(&json!({"ip": "10.0.0.50"})), Vec::<usize>::new());
}
