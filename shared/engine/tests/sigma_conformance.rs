//! Sigma language conformance: one test per construct and modifier, each a
//! small rule and CloudTrail-shaped records written here, pinned to the
//! section of the Sigma specification v2.1.0 (SigmaHQ/sigma-specification:
//! `specification/sigma-rules-specification.md` = "rules",
//! `specification/sigma-appendix-modifiers.md` = "modifiers",
//! `specification/sigma-correlation-rules-specification.md` = "correlation")
//! or to a CloudTrail decision of `docs/sigma.md`.

use std::collections::HashMap;

use serde_json::{json, Value};
use trailwatch_engine::pattern::EventPattern;
use trailwatch_engine::rules::{Sequence, Severity, Threshold};
use trailwatch_engine::sigma::{
    self, CorrelationType, Level, SigmaBody, SigmaError, SigmaOptions, SigmaRule, Stateful,
};

/// A rule with this detection section (indented by 4).
fn rule(detection: &str) -> SigmaRule {
    try_rule(detection).unwrap_or_else(|e| panic!("rule loads: {e}"))
}

fn try_rule(detection: &str) -> Result<SigmaRule, SigmaError> {
    let text = format!("title: test\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n{detection}");
    sigma::parse_file("test.yml", &text, &SigmaOptions::default()).map(|mut v| v.remove(0))
}

/// A CloudTrail record (after the AWS CloudTrail record contents
/// reference) with the given fields added or replaced.
fn record(extra: Value) -> Value {
    let mut base = json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/Alice",
                         "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": "Alice"},
        "eventTime": "2026-11-30T09:15:42Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6",
        "requestParameters": {"userName": "bob", "tags": [{"key": "team", "value": "red"}]},
        "responseElements": {"user": {"userName": "bob", "userId": "AIDABOB", "createDate": "Nov 30, 2026 9:15:42 AM"}},
        "eventID": "0f0e0d0c-0000-4000-8000-000000000001",
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333"
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        for (k, v) in e {
            if v.is_null() && k.starts_with('-') {
                b.remove(&k[1..]);
            } else {
                b.insert(k, v);
            }
        }
    }
    base
}

fn verdicts(detection: &str, cases: &[(Value, bool)]) {
    let r = rule(detection);
    for (rec, expect) in cases {
        assert_eq!(r.matches(rec), *expect, "rule\n{detection}\nrecord {rec}");
        // Every match also passes the prefilter.
        if *expect {
            if let Some(p) = r.prefilter() {
                let p = EventPattern::from_value(&p).expect("valid prefilter");
                assert!(p.matches(&json!({"detail": rec})), "prefilter {} misses {rec}", p.text());
            }
        }
    }
}

// rules "Maps": the items of a map are AND-ed.
#[test]
fn map_is_and() {
    let d = "    selection:\n        eventSource: iam.amazonaws.com\n        eventName: CreateUser\n    condition: selection\n";
    verdicts(d, &[(record(json!({})), true), (record(json!({"eventName": "DeleteUser"})), false)]);
}

// rules "Lists": a list of maps is OR-ed.
#[test]
fn list_of_maps_is_or() {
    let d = "    selection:\n        - eventName: DeleteUser\n        - userAgent|startswith: aws-cli\n    condition: selection\n";
    verdicts(d, &[(record(json!({})), true), (record(json!({"userAgent": "console.amazonaws.com"})), false)]);
}

// rules "Maps" (EventID: [517, 1102]): a list of values for a field is OR-ed.
#[test]
fn value_list_is_or() {
    let d = "    selection:\n        eventName:\n            - DeleteUser\n            - CreateUser\n    condition: selection\n";
    verdicts(d, &[(record(json!({})), true), (record(json!({"eventName": "GetUser"})), false)]);
}

// modifiers "Generic Modifiers", all: the list's values are AND-ed.
#[test]
fn all_makes_values_and() {
    let d = "    selection:\n        userAgent|contains|all:\n            - aws-cli\n            - Python\n    condition: selection\n";
    verdicts(d, &[(record(json!({})), true), (record(json!({"userAgent": "aws-cli/2.15.0 Go"})), false)]);
    // "Single item values are not allowed to have an all modifier".
    assert!(try_rule("    s:\n        userAgent|contains|all: aws\n    condition: s\n").is_err());
}

// rules "Keywords search" and "Lists" (strings applied to the full log
// message, OR-ed); `'|all'` AND-s them. Decision: a keyword is searched
// inside every string of the record.
#[test]
fn keywords() {
    let d = "    keywords:\n        - 'evil-bucket'\n        - 'AKIAEXAMPLE'\n    condition: keywords\n";
    verdicts(d, &[(record(json!({})), true), (record(json!({"userIdentity": {"type": "Root"}})), false)]);
    let d = "    keywords:\n        '|all':\n            - 'Alice'\n            - 'aws-cli'\n    condition: keywords\n";
    verdicts(d, &[(record(json!({})), true), (record(json!({"userAgent": "console"})), false)]);
    // Case-insensitive, like every Sigma string.
    verdicts("    k:\n        - 'PYTHON/3'\n    condition: k\n", &[(record(json!({})), true)]);
}

// rules "Condition": precedence (least to most binding) or, and, not.
// `not a and b or c` is `((not a) and b) or c`.
#[test]
fn precedence_not_and_or() {
    let d = "    a:\n        eventName: DeleteUser\n    b:\n        eventSource: iam.amazonaws.com\n    c:\n        awsRegion: eu-west-1\n    condition: not a and b or c\n";
    verdicts(
        d,
        &[
            (record(json!({})), true),                                                    // not a, b
            (record(json!({"eventName": "DeleteUser"})), false),                          // a, b, not c
            (record(json!({"eventName": "DeleteUser", "awsRegion": "eu-west-1"})), true), // c
            (record(json!({"eventSource": "s3.amazonaws.com"})), false),                  // not b, not c
            (record(json!({"eventSource": "s3.amazonaws.com", "awsRegion": "eu-west-1"})), true), // c
        ],
    );
    // Parentheses bind most: not (a and b) or c.
    let d = "    a:\n        eventName: DeleteUser\n    b:\n        eventSource: iam.amazonaws.com\n    condition: not (a or b)\n";
    verdicts(d, &[(record(json!({})), false), (record(json!({"eventSource": "s3.amazonaws.com"})), true)]);
}

// rules "Condition": `1 of selection*`, `all of selection*`, and `x of`
// binding tighter than `not`.
#[test]
fn of_patterns() {
    let d = "    selection_a:\n        eventName: DeleteUser\n    selection_b:\n        eventSource: iam.amazonaws.com\n    filter:\n        awsRegion: us-east-1\n";
    let one = format!("{d}    condition: 1 of selection*\n");
    verdicts(&one, &[(record(json!({})), true), (record(json!({"eventSource": "s3.amazonaws.com"})), false)]);
    let all = format!("{d}    condition: all of selection_*\n");
    verdicts(&all, &[(record(json!({})), false), (record(json!({"eventName": "DeleteUser"})), true)]);
    let not_of = format!("{d}    condition: not 1 of filter* and selection_b\n");
    verdicts(&not_of, &[(record(json!({})), false), (record(json!({"awsRegion": "eu-west-1"})), true)]);
    // A pattern that matches no identifier is an error.
    assert!(try_rule(&format!("{d}    condition: 1 of nothing*\n")).is_err());
}

// rules "Condition": `1 of them` / `all of them` span every identifier not
// starting with an underscore.
#[test]
fn of_them() {
    let d = "    a:\n        eventName: CreateUser\n    b:\n        awsRegion: us-east-1\n    _aux:\n        eventName: NeverThis\n";
    verdicts(
        &format!("{d}    condition: all of them\n"),
        &[(record(json!({})), true), (record(json!({"awsRegion": "eu-west-1"})), false)],
    );
    verdicts(&format!("{d}    condition: 1 of them\n"), &[(record(json!({"awsRegion": "eu-west-1"})), true)]);
}

// rules "Condition": a list of conditions is OR-ed.
#[test]
fn condition_list_is_or() {
    let d = "    a:\n        eventName: DeleteUser\n    b:\n        awsRegion: us-east-1\n    condition:\n        - a\n        - b\n";
    verdicts(d, &[(record(json!({})), true), (record(json!({"awsRegion": "eu-west-1"})), false)]);
}

// rules "String Wildcard": `*` any run, `?` exactly one character.
#[test]
fn wildcards() {
    verdicts(
        "    s:\n        eventName: 'Create*'\n    condition: s\n",
        &[(record(json!({})), true), (record(json!({"eventName": "DeleteUser"})), false)],
    );
    verdicts(
        "    s:\n        eventName: 'CreateUse?'\n    condition: s\n",
        &[
            (record(json!({})), true),
            (record(json!({"eventName": "CreateUsers"})), false),
            (record(json!({"eventName": "CreateUse"})), false),
        ],
    );
}

// rules "Escape Character": `\*` is a plain star; `\\*` a backslash then a
// wildcard; `\\\*` a backslash and a plain star; a lone `\` is itself.
#[test]
fn escaping() {
    let s = |v: &str| json!({"requestParameters": {"userName": v}});
    verdicts(
        "    s:\n        requestParameters.userName: 'a\\*b'\n    condition: s\n",
        &[(record(s("a*b")), true), (record(s("axb")), false)],
    );
    verdicts(
        "    s:\n        requestParameters.userName: 'a\\\\*'\n    condition: s\n",
        &[(record(s("a\\xyz")), true), (record(s("a\\")), true), (record(s("axyz")), false)],
    );
    verdicts(
        "    s:\n        requestParameters.userName: 'a\\\\\\*'\n    condition: s\n",
        &[(record(s("a\\*")), true), (record(s("a\\x")), false)],
    );
    verdicts(
        "    s:\n        requestParameters.userName: 'C:\\Windows'\n    condition: s\n",
        &[(record(s("C:\\Windows")), true)],
    );
    verdicts(
        "    s:\n        requestParameters.userName: 'what\\?'\n    condition: s\n",
        &[(record(s("what?")), true), (record(s("whatx")), false)],
    );
    // "Three or four backslashes are handled as double backslash".
    verdicts(
        "    s:\n        requestParameters.userName: 'a\\\\\\\\b'\n    condition: s\n",
        &[(record(s("a\\\\b")), true), (record(s("a\\b")), false)],
    );
}

// rules "General": values are case-insensitive; modifiers "cased" makes
// them case-sensitive.
#[test]
fn case_insensitive_and_cased() {
    verdicts("    s:\n        eventName: createuser\n    condition: s\n", &[(record(json!({})), true)]);
    verdicts(
        "    s:\n        eventName|cased: createuser\n    condition: s\n",
        &[(record(json!({})), false), (record(json!({"eventName": "createuser"})), true)],
    );
    // Non-ASCII text folds too.
    verdicts(
        "    s:\n        requestParameters.userName: 'ÉLODIE'\n    condition: s\n",
        &[(record(json!({"requestParameters": {"userName": "élodie"}})), true)],
    );
}

// modifiers "Generic Modifiers": contains, startswith, endswith.
#[test]
fn contains_startswith_endswith() {
    let d = |m: &str, v: &str| format!("    s:\n        userAgent|{m}: '{v}'\n    condition: s\n");
    verdicts(&d("contains", "PYTHON"), &[(record(json!({})), true)]);
    verdicts(
        &d("startswith", "aws-cli/"),
        &[(record(json!({})), true), (record(json!({"userAgent": "x aws-cli/"})), false)],
    );
    verdicts(&d("endswith", "3.11.6"), &[(record(json!({})), true), (record(json!({"userAgent": "3.11.6 x"})), false)]);
}

// modifiers "Regular Expression": case-sensitive by default; i, m, s.
#[test]
fn regular_expressions() {
    let d = |m: &str, v: &str| format!("    s:\n        userAgent|{m}: '{v}'\n    condition: s\n");
    verdicts(
        &d("re", "^aws-cli/2\\.[0-9]+"),
        &[(record(json!({})), true), (record(json!({"userAgent": "AWS-CLI/2.1"})), false)],
    );
    verdicts(&d("re|i", "^AWS-CLI/2"), &[(record(json!({})), true)]);
    let two_lines = record(json!({"userAgent": "first\nsecond"}));
    verdicts(&d("re", "^second"), &[(two_lines.clone(), false)]);
    verdicts(&d("re|m", "^second$"), &[(two_lines.clone(), true)]);
    verdicts(&d("re", "first.second"), &[(two_lines.clone(), false)]);
    verdicts(&d("re|s", "first.second"), &[(two_lines, true)]);
    assert!(try_rule(&d("re", "(unclosed")).is_err());
    assert!(try_rule(&d("i", "x")).is_err(), "i only after re");
}

// modifiers "IP Modifiers": cidr, IPv4 and IPv6.
#[test]
fn cidr() {
    let d = |v: &str| format!("    s:\n        sourceIPAddress|cidr: '{v}'\n    condition: s\n");
    verdicts(
        &d("198.51.100.0/24"),
        &[(record(json!({})), true), (record(json!({"sourceIPAddress": "198.51.101.7"})), false)],
    );
    verdicts(
        &d("2001:db8::/32"),
        &[
            (record(json!({"sourceIPAddress": "2001:db8:1::5"})), true),
            (record(json!({"sourceIPAddress": "2001:db9::5"})), false),
            (record(json!({"sourceIPAddress": "AWS Internal"})), false),
        ],
    );
    assert!(try_rule(&d("300.0.0.0/8")).is_err());
}

// modifiers "Generic Modifiers", exists; rules "Field Existence".
#[test]
fn exists() {
    verdicts(
        "    s:\n        errorCode|exists: false\n    condition: s\n",
        &[(record(json!({})), true), (record(json!({"errorCode": "AccessDenied"})), false)],
    );
    verdicts(
        "    s:\n        errorCode|exists: true\n    condition: s\n",
        &[(record(json!({})), false), (record(json!({"errorCode": null})), true)],
    );
}

// rules "Special Field Values": null; decision: a missing field is null.
// An empty string is its own value.
#[test]
fn null_and_empty() {
    let d = "    s:\n        errorCode: null\n    condition: s\n";
    verdicts(
        d,
        &[
            (record(json!({})), true),
            (record(json!({"errorCode": null})), true),
            (record(json!({"errorCode": "AccessDenied"})), false),
        ],
    );
    let d = "    s:\n        errorCode: ''\n    condition: s\n";
    verdicts(d, &[(record(json!({"errorCode": ""})), true), (record(json!({})), false)]);
    // "null cannot be part of a list of field values".
    assert!(try_rule("    s:\n        errorCode:\n            - ''\n            - null\n    condition: s\n").is_err());
}

// modifiers "Specific Modifiers", fieldref (alone and with contains).
#[test]
fn fieldref() {
    verdicts(
        "    s:\n        requestParameters.userName|fieldref: responseElements.user.userName\n    condition: s\n",
        &[(record(json!({})), true), (record(json!({"requestParameters": {"userName": "carol"}})), false)],
    );
    verdicts(
        "    s:\n        userIdentity.arn|fieldref|endswith: userIdentity.userName\n    condition: s\n",
        &[
            (record(json!({})), true),
            (record(json!({"userIdentity": {"arn": "arn:aws:iam::1:user/x", "userName": "y"}})), false),
        ],
    );
}

// modifiers "String Modifiers", windash: `-`, `/`, en dash, em dash and
// horizontal bar are interchangeable.
#[test]
fn windash() {
    let d = "    s:\n        userAgent|windash|contains: ' -region'\n    condition: s\n";
    let ua = |s: &str| record(json!({"userAgent": s}));
    verdicts(
        d,
        &[
            (ua("x -region y"), true),
            (ua("x /region y"), true),
            (ua("x \u{2013}region"), true),
            (ua("x \u{2014}region"), true),
            (ua("x \u{2015}region"), true),
            (ua("x +region"), false),
        ],
    );
}

// modifiers "Encoding", base64: the value encoded.
#[test]
fn base64() {
    let d = "    s:\n        requestParameters.userData|base64: 'aws s3 cp'\n    condition: s\n";
    let ud = |s: &str| record(json!({"requestParameters": {"userData": s}}));
    verdicts(d, &[(ud("YXdzIHMzIGNw"), true), (ud("YXdzIHMzIGNwIA=="), false)]);
    assert!(try_rule("    s:\n        f|base64: 'a*'\n    condition: s\n").is_err(), "no wildcards under base64");
}

// modifiers "Encoding", base64offset: the three offsets; with contains it
// finds the value anywhere in an encoded text. The three variants of
// 'http://' are the classic aHR0cDovL, h0dHA6Ly, odHRwOi8v.
#[test]
fn base64offset() {
    let d = "    s:\n        requestParameters.userData|base64offset|contains: 'http://'\n    condition: s\n";
    let ud = |s: &str| record(json!({"requestParameters": {"userData": s}}));
    use base64::Engine as _;
    let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    verdicts(
        d,
        &[
            (ud("aHR0cDovL2V4YW1wbGU="), true),
            (ud(&enc("curl http://x")), true),
            (ud(&enc("wget  http://x")), true),
            (ud(&enc("get   http://x")), true),
            (ud(&enc("curl https://x")), false),
        ],
    );
    verdicts(
        "    s:\n        f|base64offset: 'http://'\n    condition: s\n",
        &[(json!({"f": "h0dHA6Ly"}), true), (json!({"f": "odHRwOi8v"}), true)],
    );
}

// modifiers "Encoding": utf16le (= wide), utf16be, utf16 (BOM + LE), each
// under base64 as encoded commands appear.
#[test]
fn utf16() {
    let f = |v: &str| json!({"f": v});
    verdicts(
        "    s:\n        f|utf16le|base64: 'cmd'\n    condition: s\n",
        &[(f("YwBtAGQA"), true), (f("Y21k"), false)],
    );
    verdicts("    s:\n        f|wide|base64: 'cmd'\n    condition: s\n", &[(f("YwBtAGQA"), true)]);
    verdicts("    s:\n        f|utf16be|base64: 'cmd'\n    condition: s\n", &[(f("AGMAbQBk"), true)]);
    verdicts("    s:\n        f|utf16|base64: 'cmd'\n    condition: s\n", &[(f("//5jAG0AZAA="), true)]);
    verdicts(
        "    s:\n        f|wide|base64offset|contains: 'ping'\n    condition: s\n",
        &[
            (f("xxcABpAG4AZwxx"), true),
            (f("xxAAaQBuAGcAxx"), true),
            (f("xxwAGkAbgBnAxx"), true),
            (f("cGluZw=="), false),
        ],
    );
    // Without base64, utf16le compares the encoded text itself.
    verdicts("    s:\n        f|wide: 'ab'\n    condition: s\n", &[(f("a\u{0}b\u{0}"), true), (f("ab"), false)]);
}

// modifiers "Numeric Modifiers": lt, lte, gt, gte on numbers and numeric strings.
#[test]
fn numeric_comparisons() {
    let d = |m: &str, v: &str| format!("    s:\n        responseElements.size|{m}: {v}\n    condition: s\n");
    let size = |v: Value| record(json!({"responseElements": {"size": v}}));
    verdicts(
        &d("gt", "10"),
        &[(size(json!(11)), true), (size(json!(10)), false), (size(json!("12")), true), (size(json!("big")), false)],
    );
    verdicts(&d("gte", "10"), &[(size(json!(10)), true), (size(json!(9.5)), false)]);
    verdicts(&d("lt", "10"), &[(size(json!(9.5)), true), (size(json!("10")), false)]);
    verdicts(&d("lte", "10"), &[(size(json!("10")), true), (size(json!(11)), false), (record(json!({})), false)]);
    assert!(try_rule(&d("gt", "ten")).is_err());
}

// modifiers "Generic Modifiers", neq: the field differs from the values.
// Decision: a missing field has no value to differ.
#[test]
fn neq() {
    let d = "    s:\n        awsRegion|neq:\n            - us-east-1\n            - eu-west-1\n    condition: s\n";
    verdicts(
        d,
        &[
            (record(json!({})), false),
            (record(json!({"awsRegion": "EU-WEST-1"})), false),
            (record(json!({"awsRegion": "ap-south-1"})), true),
            (record(json!({"-awsRegion": null})), false),
        ],
    );
}

// modifiers "Time Modifiers" on eventTime (2026-11-30T09:15:42Z, ISO week 49).
#[test]
fn time_parts() {
    let d = |m: &str, v: &str| format!("    s:\n        eventTime|{m}: {v}\n    condition: s\n");
    for (m, v) in [("minute", "15"), ("hour", "9"), ("day", "30"), ("week", "49"), ("month", "11"), ("year", "2026")] {
        verdicts(&d(m, v), &[(record(json!({})), true)]);
    }
    verdicts(&d("hour", "10"), &[(record(json!({})), false)]);
    verdicts(
        &d("hour|gte", "22"),
        &[(record(json!({"eventTime": "2026-11-30T23:01:00Z"})), true), (record(json!({})), false)],
    );
}

// rules "Placeholders": `expand` placeholders are refused unless values are
// supplied; `\%` is a plain percent.
#[test]
fn expand_placeholders() {
    let text = "title: t\nlogsource:\n    product: aws\ndetection:\n    s:\n        awsRegion|expand: '%Regions%'\n    condition: s\n";
    let err = sigma::parse_file("t.yml", text, &SigmaOptions::default()).expect_err("refused");
    assert!(err.is_refusal() && err.to_string().contains("t.yml:6") && err.reason().contains("%Regions%"), "{err}");
    let options =
        SigmaOptions { placeholders: HashMap::from([("Regions".into(), vec!["us-*".into(), "eu-west-1".into()])]) };
    let r = sigma::parse_file("t.yml", text, &options).expect("expanded").remove(0);
    assert!(r.matches(&record(json!({}))));
    assert!(r.matches(&record(json!({"awsRegion": "eu-west-1"}))));
    assert!(!r.matches(&record(json!({"awsRegion": "ap-south-1"}))));
    // Without expand, %x% is a plain value; with it, \% is a plain percent.
    verdicts("    s:\n        f: '%Regions%'\n    condition: s\n", &[(json!({"f": "%regions%"}), true)]);
    let text = "title: t\nlogsource:\n    product: aws\ndetection:\n    s:\n        f|expand: '\\%plain%Regions%'\n    condition: s\n";
    let r = sigma::parse_file("t.yml", text, &options).expect("expanded").remove(0);
    assert!(r.matches(&json!({"f": "%plaineu-west-1"})));
}

// Decision (docs/sigma.md): dotted names walk nested objects and arrays;
// any element may match.
#[test]
fn dotted_fields_and_arrays() {
    verdicts(
        "    s:\n        requestParameters.tags.value: red\n    condition: s\n",
        &[(record(json!({})), true), (record(json!({"requestParameters": {"tags": [{"value": "blue"}]}})), false)],
    );
    // A key that itself holds a dot.
    verdicts(
        "    s:\n        a.b.c: x\n    condition: s\n",
        &[(json!({"a": {"b.c": "x"}}), true), (json!({"a.b": {"c": "x"}}), true)],
    );
}

// Decision (docs/sigma.md): a string value on an object or array matches
// any scalar inside it.
#[test]
fn strings_match_inside_objects() {
    verdicts(
        "    s:\n        requestParameters|contains: 'red'\n    condition: s\n",
        &[(record(json!({})), true), (record(json!({"requestParameters": {"tags": []}})), false)],
    );
}

// Decision (docs/sigma.md): 'true', 'false' and numeric strings equal JSON
// booleans and numbers of the same text, and the other way round.
#[test]
fn scalar_types() {
    verdicts(
        "    s:\n        readOnly: 'false'\n    condition: s\n",
        &[(record(json!({})), true), (record(json!({"readOnly": true})), false)],
    );
    verdicts("    s:\n        readOnly: false\n    condition: s\n", &[(record(json!({"readOnly": "false"})), true)]);
    verdicts("    s:\n        n: '4769'\n    condition: s\n", &[(json!({"n": 4769}), true)]);
    verdicts(
        "    s:\n        n: 4769\n    condition: s\n",
        &[(json!({"n": "4769"}), true), (json!({"n": 4770}), false)],
    );
}

// Decision (docs/sigma.md): `*` keeps its meaning under contains:
// `contains: '*'` is "present with any value".
#[test]
fn star_under_contains() {
    verdicts(
        "    s:\n        errorMessage|contains: '*'\n    condition: s\n",
        &[
            (record(json!({"errorMessage": "x"})), true),
            (record(json!({"errorMessage": ""})), true),
            (record(json!({})), false),
        ],
    );
}

// rules "Level" mapped onto trailwatch's severities; rules "File Structure"
// metadata, multi-document files (correlation "Example").
#[test]
fn metadata_and_levels() {
    let text = "title: One\nid: 11111111-1111-4111-8111-111111111111\nname: one\nstatus: test\ndescription: d\nauthor: A, B\ndate: 2026-01-02\nreferences:\n    - https://example.com\ntags:\n    - attack.t1078\nfalsepositives:\n    - admins\nlevel: informational\nfields:\n    - eventName\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n    s:\n        eventName: x\n    condition: s\n---\ntitle: Two\nlogsource:\n    product: aws\ndetection:\n    s:\n        eventName: y\n    condition: s\nlevel: critical\n";
    let rules = sigma::parse_file("m.yml", text, &SigmaOptions::default()).expect("loads");
    assert_eq!(rules.len(), 2);
    let r = &rules[0];
    assert_eq!(r.id.as_deref(), Some("11111111-1111-4111-8111-111111111111"));
    assert_eq!(
        (r.name.as_deref(), r.status.as_deref(), r.author.as_deref(), r.date.as_deref()),
        (Some("one"), Some("test"), Some("A, B"), Some("2026-01-02"))
    );
    assert_eq!(
        (r.references.len(), r.tags.len(), r.falsepositives.len(), r.fields.clone()),
        (1, 1, 1, vec!["eventName".to_string()])
    );
    assert_eq!(r.logsource.service.as_deref(), Some("cloudtrail"));
    assert_eq!((r.level, r.severity()), (Some(Level::Informational), Severity::Info));
    assert_eq!(rules[1].severity(), Severity::Critical);
    assert!(sigma::looks_like_sigma(text));
    assert!(!sigma::looks_like_sigma("id: x\ntitle: y\nevent_pattern: {}\n"));
}

// Errors name the file and the line.
#[test]
fn errors_locate() {
    let text =
        "title: t\nlogsource:\n    product: aws\ndetection:\n    s:\n        eventName|nosuch: x\n    condition: s\n";
    let e = sigma::parse_file("bad.yml", text, &SigmaOptions::default()).expect_err("unknown modifier");
    assert!(e.to_string().starts_with("bad.yml:6: ") && e.reason().contains("nosuch"), "{e}");
    let e = sigma::parse_file(
        "bad.yml",
        "title: t\nlogsource: {}\ndetection:\n    s:\n        a: b\n    condition: s and t\n",
        &SigmaOptions::default(),
    )
    .expect_err("unknown identifier");
    assert!(e.to_string().starts_with("bad.yml:6: ") && e.reason().contains("'t'"), "{e}");
    let e = sigma::parse_file("bad.yml", "title: [\n", &SigmaOptions::default()).expect_err("yaml");
    assert!(e.to_string().starts_with("bad.yml:"), "{e}");
    assert!(try_rule("    s:\n        a: b\n").is_err(), "no condition");
}

fn correlation(text: &str) -> Result<SigmaRule, SigmaError> {
    sigma::parse_file("c.yml", text, &SigmaOptions::default()).map(|mut v| v.remove(0))
}

// correlation "Event Count": gte N and gt N as thresholds.
#[test]
fn correlation_event_count() {
    let c = correlation("title: c\ncorrelation:\n    type: event_count\n    rules:\n        - base\n    group-by:\n        - userIdentity.arn\n    timespan: 1h\n    condition:\n        gte: 100\n").expect("loads");
    let SigmaBody::Correlation(c) = &c.body else { panic!() };
    assert_eq!(c.kind, CorrelationType::EventCount);
    assert_eq!(
        c.stateful,
        Stateful::Threshold(Threshold {
            count: 100,
            window: 3_600_000,
            group_by: vec!["userIdentity.arn".into()],
            distinct: None
        })
    );
    let c = correlation("title: c\ncorrelation:\n    type: event_count\n    rules: base\n    group-by: [a]\n    timespan: 10m\n    condition:\n        gt: 5\n").expect("loads");
    let SigmaBody::Correlation(c) = &c.body else { panic!() };
    assert!(matches!(&c.stateful, Stateful::Threshold(t) if t.count == 6 && t.window == 600_000));
    // Upper bounds cannot alert on a stream.
    for cond in ["lt: 5", "lte: 5", "eq: 5", "gt: 100\n        lte: 200"] {
        let e = correlation(&format!("title: c\ncorrelation:\n    type: event_count\n    rules: [base]\n    group-by: [a]\n    timespan: 10m\n    condition:\n        {cond}\n")).expect_err(cond);
        assert!(e.is_refusal() && e.reason().contains("stream"), "{e}");
    }
}

// correlation "Value Count": distinct values of condition.field.
#[test]
fn correlation_value_count() {
    let c = correlation("title: c\ncorrelation:\n    type: value_count\n    rules: [base]\n    group-by: [sourceIPAddress]\n    timespan: 1d\n    condition:\n        field: userIdentity.userName\n        gte: 100\n").expect("loads");
    let SigmaBody::Correlation(c) = &c.body else { panic!() };
    assert_eq!(
        c.stateful,
        Stateful::Threshold(Threshold {
            count: 100,
            window: 86_400_000,
            group_by: vec!["sourceIPAddress".into()],
            distinct: Some("userIdentity.userName".into())
        })
    );
    assert!(correlation("title: c\ncorrelation:\n    type: value_count\n    rules: [base]\n    group-by: [a]\n    timespan: 1d\n    condition:\n        gte: 100\n").is_err());
    let e = correlation("title: c\ncorrelation:\n    type: value_sum\n    rules: [base]\n    group-by: [a]\n    timespan: 1d\n    condition:\n        field: x\n        gt: 1\n").expect_err("value_sum");
    assert!(e.is_refusal());
}

// correlation "Temporal Proximity", "Ordered Temporal Proximity",
// "Related rules" (names resolved to ids), "Field Name Aliases" and the
// multi-document "Example".
#[test]
fn correlation_temporal_and_names() {
    let text = "title: chain\ncorrelation:\n    type: temporal_ordered\n    rules:\n        - first\n        - 22222222-2222-4222-8222-222222222222\n    group-by:\n        - ip\n    timespan: 10m\n    aliases:\n        ip:\n            first: sourceIPAddress\n            second: sourceIPAddress\n---\ntitle: First\nid: 11111111-1111-4111-8111-111111111111\nname: first\nlogsource:\n    product: aws\ndetection:\n    s:\n        eventName: A\n    condition: s\n---\ntitle: Second\nid: 22222222-2222-4222-8222-222222222222\nname: second\nlogsource:\n    product: aws\ndetection:\n    s:\n        eventName: B\n    condition: s\n";
    let mut rules = sigma::parse_file("c.yml", text, &SigmaOptions::default()).expect("loads");
    assert_eq!(rules.len(), 3);
    assert!(!rules[0].matches(&record(json!({}))), "a correlation matches no single record");
    sigma::resolve_correlations(&mut rules).expect("resolves");
    let SigmaBody::Correlation(c) = &rules[0].body else { panic!() };
    assert_eq!(c.kind, CorrelationType::TemporalOrdered);
    let steps =
        vec!["11111111-1111-4111-8111-111111111111".to_string(), "22222222-2222-4222-8222-222222222222".to_string()];
    assert_eq!(
        c.stateful,
        Stateful::Sequence(Sequence {
            within: 600_000,
            group_by: vec!["sourceIPAddress".into()],
            ordered: true,
            steps
        })
    );
    let unordered = text.replace("temporal_ordered", "temporal");
    let rules = sigma::parse_file("c.yml", &unordered, &SigmaOptions::default()).expect("loads");
    assert!(
        matches!(&rules[0].body, SigmaBody::Correlation(c) if matches!(&c.stateful, Stateful::Sequence(s) if !s.ordered))
    );
    // Aliases that map to different fields are refused.
    let e = sigma::parse_file(
        "c.yml",
        &text.replacen("second: sourceIPAddress", "second: requestParameters.ip", 1),
        &SigmaOptions::default(),
    )
    .expect_err("aliases");
    assert!(e.is_refusal() && e.reason().contains("alias"), "{e}");
    // An unknown reference does not resolve.
    let mut lone = sigma::parse_file("c.yml", text.split("---").next().unwrap_or_default(), &SigmaOptions::default())
        .expect("loads");
    assert!(sigma::resolve_correlations(&mut lone).is_err());
}

// rules "Condition"/correlation "Expression of Relationships": the obsolete
// `| count() by x > N` with timeframe is a threshold (count(field) counts
// distinct values); `near` is refused.
#[test]
fn obsolete_aggregation() {
    let agg =
        |cond: &str, tf: &str| format!("    s:\n        eventName|startswith: List\n    {tf}\n    condition: {cond}\n");
    let r = rule(&agg("s | count() by sourceIPAddress > 5", "timeframe: 5m"));
    assert!(
        matches!(&r.body, SigmaBody::Detection { threshold: Some(t), .. } if *t == Threshold { count: 6, window: 300_000, group_by: vec!["sourceIPAddress".into()], distinct: None })
    );
    let r = rule(&agg("s | count(eventName) by userIdentity.arn >= 10", "timeframe: 1h"));
    assert!(
        matches!(&r.body, SigmaBody::Detection { threshold: Some(t), .. } if t.count == 10 && t.distinct.as_deref() == Some("eventName"))
    );
    assert!(r.matches(&record(json!({"eventName": "ListUsers"}))));
    assert!(try_rule(&agg("s | count() < 5", "timeframe: 5m")).is_err_and(|e| e.is_refusal()));
    let near = "    a:\n        eventName: A\n    b:\n        eventName: B\n    condition: a | near b\n";
    assert!(try_rule(near).is_err_and(|e| e.is_refusal() && e.reason().contains("near")));
}

// The prefilter: exact names (case-insensitive unless cased), prefixes,
// and none for keywords or a negation at the top.
#[test]
fn prefilter_shapes() {
    let r = rule("    s:\n        eventSource: iam.amazonaws.com\n        eventName:\n            - CreateUser\n            - DeleteUser\n    condition: s\n");
    assert_eq!(
        r.prefilter(),
        Some(
            json!({"detail": {"eventSource": [{"equals-ignore-case": "iam.amazonaws.com"}], "eventName": [{"equals-ignore-case": "CreateUser"}, {"equals-ignore-case": "DeleteUser"}]}})
        )
    );
    let r = rule("    s:\n        eventName|cased|startswith: Create\n    condition: s\n");
    assert_eq!(r.prefilter(), Some(json!({"detail": {"eventName": [{"prefix": "Create"}]}})));
    assert_eq!(rule("    k:\n        - CreateUser\n    condition: k\n").prefilter(), None);
    assert_eq!(rule("    s:\n        eventName: CreateUser\n    condition: not s\n").prefilter(), None);
    // AND narrows: only the names both sides allow.
    let r = rule("    a:\n        eventName: [CreateUser, DeleteUser]\n    b:\n        eventName|startswith: Delete\n    condition: a and b\n");
    assert_eq!(r.prefilter(), Some(json!({"detail": {"eventName": [{"equals-ignore-case": "DeleteUser"}]}})));
    assert_eq!(r.fields(), vec!["eventName".to_string()]);
}

// Hostile conditions are refused, not overflowed.
#[test]
fn deep_conditions_are_refused() {
    let deep = format!("{}s{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(try_rule(&format!("    s:\n        a: b\n    condition: '{deep}'\n")).is_err());
    let nots = "not ".repeat(10_000);
    assert!(try_rule(&format!("    s:\n        a: b\n    condition: '{nots} s'\n")).is_err());
}
