//! The fast path's gates never drop a record a rule matches: on every real
//! record of ../shared/data (read in place; skipped, and said, without it)
//! and on variants of them, with the built-in pack and each function's
//! selection of it, a record the gate says no rule can match matches no
//! rule when parsed and evaluated, as an EventBridge event and as a bare
//! record (a CloudWatch Logs message). And the gates do skip most records.

mod dataset;

use serde_json::{json, Value};
use trailwatch_engine::envelope;
use trailwatch_engine::event::Event;
use trailwatch_engine::pattern::Declined;
use trailwatch_engine::rules::{self, Action, EventRead, RuleSet, Selection, Workspace};

fn records() -> Option<Vec<Value>> {
    let Some(dir) = dataset::find() else {
        println!("skipped: ../shared/data/cloudtrail not found (CI has ../shared beside the clone)");
        return None;
    };
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry.expect("a directory entry");
        if entry.path().extension().is_some_and(|e| e == "json") {
            let bytes = std::fs::read(entry.path()).expect("read");
            let decoded = envelope::file(&entry.path().display().to_string(), &bytes).expect("a CloudTrail file");
            out.extend(decoded.events.into_iter().map(|e| e.detail().clone()));
        }
    }
    Some(out)
}

/// The record, and variants only a careless gate would drop: names in
/// another case, a field removed, an error added, a value made a number.
fn variants(r: &Value) -> Vec<Value> {
    let mut out = vec![r.clone()];
    let mut v = r.clone();
    if let Some(name) = v["eventName"].as_str().map(str::to_lowercase) {
        v["eventName"] = json!(name);
    }
    out.push(v);
    let mut v = r.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("eventSource");
    }
    out.push(v);
    let mut v = r.clone();
    v["errorCode"] = json!("AccessDenied");
    out.push(v);
    let mut v = r.clone();
    v["userIdentity"]["type"] = json!("Root");
    out.push(v);
    let mut v = r.clone();
    v["eventName"] = json!(5);
    out.push(v);
    out
}

#[test]
fn a_record_the_gate_drops_matches_no_rule_and_most_are_dropped() {
    let Some(records) = records() else { return };
    let pack = rules::load(None).expect("the pack");
    for selection in [Selection::All, Selection::EventPatterns, Selection::FilterPatterns] {
        let set = RuleSet::new(pack.iter().filter(|r| selection.keeps(r)).cloned().collect());
        let mut ws = Workspace::default();
        let (mut seen, mut dropped_events, mut dropped_records) = (0, 0, 0);
        for r in &records {
            for (i, v) in variants(r).into_iter().enumerate() {
                let eb = Event::from_record(v.clone()).expect("a record").value().clone();
                let matched =
                    !set.evaluate(&Event::from_eventbridge(eb.clone()).expect("an event"), &mut ws).is_empty();
                let gate_event = set.may_match_event_text(&eb.to_string(), &mut ws);
                let gate_record = set.may_match_record_text(&v.to_string(), &mut ws);
                if matched {
                    assert_ne!(gate_event, Some(false), "{selection:?}: the event gate dropped a match: {v}");
                    assert_ne!(gate_record, Some(false), "{selection:?}: the record gate dropped a match: {v}");
                }
                // The share dropped is measured on the records as they are.
                if i == 0 {
                    seen += 1;
                    dropped_events += usize::from(gate_event == Some(false));
                    dropped_records += usize::from(gate_record == Some(false));
                }
            }
        }
        println!("{selection:?}: of the {seen} real records, the event gate dropped {dropped_events}, the record gate {dropped_records}");
        assert!(
            dropped_events * 10 > seen * 7,
            "{selection:?}: the event gate drops most records: {dropped_events}/{seen}"
        );
        assert!(dropped_records * 10 > seen * 7, "{selection:?}: the record gate drops most: {dropped_records}/{seen}");
    }
}

/// The rule set evaluates only the rules whose index pattern (an event
/// pattern, a Sigma prefilter, a JSON filter pattern's prefilter) matched:
/// its verdicts are every rule's own, evaluated alone on the parsed event,
/// over the real records (and the variants of every 8th), as EventBridge
/// events and as log messages. Alone is each rule in a set of its own, and
/// on every 32nd record also `RuleSet::rule_matches` (the rule's pattern
/// matched on the document with nothing compiled ahead). The strides keep
/// the test under half a minute in a debug build.
#[test]
fn the_index_finds_what_every_rule_alone_finds() {
    let Some(records) = records() else { return };
    let pack = rules::load(None).expect("the pack");
    let set = RuleSet::new(pack.clone());
    let alone: Vec<RuleSet> = pack.iter().map(|r| RuleSet::new(vec![r.clone()])).collect();
    let mut ws = Workspace::default();
    let mut matched = 0;
    for (n, r) in records.iter().enumerate() {
        let cases = if n % 8 == 0 { variants(r) } else { vec![r.clone()] };
        for v in cases {
            let text = v.to_string();
            for event in [Event::from_record(v.clone()).expect("a record"), Event::from_text(text).expect("a record")] {
                let by_set: Vec<&str> = set.evaluate(&event, &mut ws).iter().map(|r| r.id.as_str()).collect();
                let by_rule: Vec<&str> = alone
                    .iter()
                    .flat_map(|one| one.evaluate(&event, &mut ws))
                    .filter(|r| r.sequence().is_none())
                    .map(|r| r.id.as_str())
                    .collect();
                assert_eq!(by_set, by_rule, "{v}");
                if n % 32 == 0 {
                    let plain: Vec<&str> =
                        pack.iter().filter(|r| RuleSet::rule_matches(r, &event)).map(|r| r.id.as_str()).collect();
                    assert_eq!(by_set, plain, "{v}");
                }
                matched += usize::from(!by_set.is_empty());
            }
        }
    }
    assert!(matched > 100, "the records match rules: {matched}");
}

/// The handler's fast path (`handle_text`: the gate, then parsing only
/// what may match) sends the alerts and counts of the plain path
/// (`handle` on the parsed event), record by record over the real records
/// and their variants, the whole pack loaded.
#[test]
fn the_fast_path_sends_what_the_plain_path_sends() {
    use std::sync::atomic::AtomicI64;
    use trailwatch_engine::handler::{Clock, Handler};
    use trailwatch_engine::metrics::Tally;
    use trailwatch_engine::sink::Memory;
    use trailwatch_engine::state;

    let Some(records) = records() else { return };
    let handler = || {
        Handler::new(RuleSet::new(rules::load(None).expect("the pack")), Memory::default(), Tally::default())
            .with_state(state::Memory::default(), Clock::Watermark(AtomicI64::new(i64::MIN)))
    };
    let (fast, plain) = (handler(), handler());
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    for r in &records {
        for v in variants(r) {
            let event = Event::from_record(v).expect("a record").value().clone();
            let a = rt.block_on(fast.handle_text(&event.to_string())).expect("handled");
            let b = rt.block_on(plain.handle(event)).expect("handled");
            assert_eq!(a, b);
        }
    }
    let sent = |h: &Handler<Memory, Tally, state::Memory>| -> Vec<(String, Option<String>, u64)> {
        h.sink().take().into_iter().map(|a| (a.rule_id, a.event_id, a.count)).collect()
    };
    let (a, b) = (sent(&fast), sent(&plain));
    assert!(!a.is_empty());
    assert_eq!(a, b, "the same alerts, in the same order");
    let (ca, cb) = (fast.metrics().counts(), plain.metrics().counts());
    assert_eq!(
        (ca.records, &ca.matches, ca.suppressed, ca.malformed),
        (cb.records, &cb.matches, cb.suppressed, cb.malformed)
    );
}

/// The gate sees the EventBridge envelope in its own pass: its verdict that
/// a text is an unmatched EventBridge event carrying a record is the
/// verdict of the gate and of `envelope::is_eventbridge_record_text` read
/// one after the other, on real events, on each written out of shape, and
/// on texts that are not events at all.
#[test]
fn the_gates_envelope_check_is_the_shape_check() {
    let pack = rules::load(None).expect("the pack");
    let set = RuleSet::new(pack);
    let mut ws = Workspace::default();
    let quiet = json!({"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
                       "awsRegion": "us-east-1", "userIdentity": {"type": "AWSService"}});
    let mut records = records().unwrap_or_default();
    records.push(quiet.clone());
    let mut texts: Vec<String> = Vec::new();
    for r in &records {
        let eb = Event::from_record(r.clone()).expect("a record").value().clone();
        let text = eb.to_string();
        texts.push(text.clone());
        let mut shaped = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            let mut v = eb.clone();
            if let Some(m) = v.as_object_mut() {
                f(m);
            }
            texts.push(v.to_string());
        };
        shaped(&|m| drop(m.remove("detail-type")));
        shaped(&|m| drop(m.remove("detail")));
        shaped(&|m| drop(m.insert("detail".into(), json!("a string"))));
        shaped(&|m| drop(m.insert("detail".into(), json!([quiet.clone()]))));
        shaped(&|m| drop(m.insert("detail".into(), Value::Null)));
        shaped(&|m| drop(m.insert("detail-type".into(), json!({"nested": true}))));
        // Keys written twice: serde's derive refuses a field given twice.
        texts.push(text.replacen('{', "{\"detail\":{},", 1));
        texts.push(text.replacen('{', "{\"detail-type\":\"x\",", 1));
        texts.push(text.replacen('{', "{\"other\":1,\"other\":2,", 1));
        // Another delivery path's key, which `Delivery::classify` reads
        // first, at the top or only nested.
        texts.push(text.replacen('{', "{\"awslogs\":{\"data\":\"\"},", 1));
        texts.push(text.replacen('{', "{\"Records\":[],", 1));
        texts.push(text.replacen('{', "{\"Records\":null,", 1));
        texts.push(text.replacen('{', "{\"wrapped\":{\"awslogs\":1,\"Records\":[]},", 1));
        // Only nested, not at the top.
        texts.push(json!({"wrapped": eb}).to_string());
        texts.push(json!([eb]).to_string());
        texts.push(format!("{text} trailing"));
    }
    texts.extend(
        ["{}", "[]", "null", "\"detail\"", "{\"detail-type\":\"x\",\"detail\":{}}", "not json"].map(String::from),
    );
    let mut unmatched = 0;
    for text in &texts {
        let separate =
            set.may_match_event_text(text, &mut ws) == Some(false) && envelope::is_eventbridge_record_text(text);
        let fused = set.is_unmatched_eventbridge_text(text, &mut ws);
        assert_eq!(fused, separate, "{text}");
        // What the shape check calls an EventBridge event, the handler's
        // classification calls one too (it reads `awslogs` and `Records`
        // first).
        if envelope::is_eventbridge_record_text(text) {
            let payload: Value = serde_json::from_str(text).expect("JSON");
            assert!(matches!(envelope::Delivery::classify(payload), Ok(envelope::Delivery::EventBridge(_))), "{text}");
        }
        unmatched += usize::from(fused);
    }
    assert!(unmatched > 0, "some texts are unmatched events");
}

/// What the record gate reads of `text` against the reference: the event
/// gate reading the EventBridge event the parsed record makes, written
/// out whole. The same hits, or the record gate declines (`Unread`) and
/// parsing decides; and the rules evaluated with its hits are the rules
/// evaluated on the document alone.
fn record_read_agrees(set: &RuleSet, text: &str, ws: &mut Workspace) -> EventRead {
    let bare = set.read_record_text(text, ws);
    escaped_read_agrees(set, text, &bare, ws);
    let Ok(event) = Event::from_text(text.to_string()) else {
        assert_eq!(bare, EventRead::Unread, "not a record, yet read: {text}");
        return bare;
    };
    if bare == EventRead::Unread {
        return bare;
    }
    let whole = set.read_eventbridge_text(&event.value().to_string(), ws);
    assert_eq!(bare, whole, "{text}");
    if let EventRead::Counted(matched) = &bare {
        // Decided by the gate alone: the rules it counts are the rules
        // evaluated on the document, each only counted.
        let plain: Vec<&str> = set.evaluate(&event, ws).iter().map(|r| r.id.as_str()).collect();
        let counted: Vec<&str> = matched.iter().map(|&i| set.rules()[i].id.as_str()).collect();
        assert_eq!(counted, plain, "{text}");
        for &i in matched {
            let rule = &set.rules()[i];
            assert!(rule.action == Action::Metric && rule.suppress.is_empty(), "{} counted: {text}", rule.id);
        }
    }
    if let EventRead::Hits(hits) = &bare {
        let plain: Vec<&str> = set.evaluate(&event, ws).iter().map(|r| r.id.as_str()).collect();
        let read: Vec<&str> =
            set.evaluate(&event.clone().with_index_hits(hits.clone()), ws).iter().map(|r| r.id.as_str()).collect();
        assert_eq!(read, plain, "{text}");
    }
    bare
}

/// The record read where it lies in its log event, escaped inside the
/// `message` string, gives the verdict read from its text (or declines),
/// and finds where the string ends. Whether it declined.
fn escaped_read_agrees(set: &RuleSet, text: &str, bare: &EventRead, ws: &mut Workspace) -> bool {
    let quoted = serde_json::to_string(text).expect("a string");
    // Past the opening quote, then the rest of the log event.
    let src = format!("{}}},{{\"id\":\"2\"", &quoted[1..]);
    match set.read_record_escaped(src.as_bytes(), ws) {
        Ok((read, len)) => {
            assert_eq!(len, quoted.len() - 2, "{text}");
            assert_eq!(&read, bare, "{text}");
            false
        }
        Err(Declined::Other) => true,
        Err(Declined::Cut) => panic!("the whole string was given: {text}"),
    }
}

/// Text serde_json does not read as a string holding a record is never
/// read escaped to a verdict; what is read is what serde_json reads. On
/// every cut of an escaped record the reader asks for more.
fn escaped_read_refuses_what_serde_refuses(set: &RuleSet, src: &[u8], ws: &mut Workspace) {
    let Ok((read, len)) = set.read_record_escaped(src, ws) else { return };
    let quoted = [&b"\""[..], &src[..len], b"\""].concat();
    let text: String = serde_json::from_slice(&quoted)
        .unwrap_or_else(|e| panic!("read, yet not a JSON string ({e}): {}", String::from_utf8_lossy(&quoted)));
    assert_eq!(read, set.read_record_text(&text, ws), "{text}");
}

/// A bare record (a CloudWatch Logs message) read through the record gate
/// gives the index hits its EventBridge event gives read whole, the
/// envelope's members made from the record's fields in the same pass: on
/// every real record and its variants, and on records written with what a
/// record's fields and a path's leaves could read differently (repeated
/// keys, dotted keys, the envelope's fields of other types, escapes).
#[test]
fn a_record_read_bare_gives_its_events_index_hits() {
    for set in [RuleSet::new(rules::load(None).expect("the pack")), envelope_rules()] {
        records_read_bare_agree(&set);
    }
}

/// The record gate decides alone a record that only counted rules may
/// match (metric rules feeding no sequence, without suppressions): an
/// event pattern's hit is its match, and a JSON filter pattern whose every
/// condition is decided by the one string, boolean or null its selector
/// reaches outside every array is read off those values. What it counts is
/// what evaluating the parsed record gives (`record_read_agrees`), on the
/// cases where the two languages part: arrays (an event pattern looks
/// inside them, a filter selector does not), other types, repeated keys,
/// globs. The filter-pattern side is the engine's own evaluation, pinned by
/// `tests/data/filter-patterns.json` after the CloudWatch Logs User Guide:
/// "Using filter patterns to match terms in JSON log events" (`IS TRUE`,
/// `IS NULL`) and the guide's "JSON Special Considerations" (`{$.users =
/// 1}` does not match when `users` is an array).
#[test]
fn records_only_counted_rules_match_are_decided_by_the_gate() {
    let rule = |id: &str, action: &str, matcher: &str| {
        let text = format!("id: {id}\ntitle: t\ndescription: d\nseverity: low\naction: {action}\n{matcher}\n");
        rules::Rule::from_yaml(&format!("{id}.yaml"), &text).expect("a valid rule")
    };
    let set = RuleSet::new(vec![
        rule(
            "decrypted",
            "metric",
            r#"filter_pattern: '{ ($.eventSource = "ssm.amazonaws.com") && (($.eventName = "GetParameter") || ($.eventName = "GetParameters")) && ($.requestParameters.withDecryption IS TRUE) }'"#,
        ),
        rule(
            "denied",
            "metric",
            r#"filter_pattern: '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }'"#,
        ),
        rule(
            "plain",
            "metric",
            r#"filter_pattern: '{ $.eventName = "PutRule" && $.requestParameters.state IS NULL }'"#,
        ),
        rule(
            "off",
            "metric",
            r#"filter_pattern: '{ $.eventName = "PutRule" && $.requestParameters.enabled IS FALSE }'"#,
        ),
        rule("route", "metric", r#"event_pattern: {"detail": {"eventName": ["CreateRoute"]}}"#),
        // Not decided alone: a NOT EXISTS condition, an alert rule.
        rule(
            "direct",
            "metric",
            r#"filter_pattern: '{ $.eventName = "GetSecretValue" && $.userIdentity.invokedBy NOT EXISTS }'"#,
        ),
        rule("alerted", "alert", r#"event_pattern: {"detail": {"eventName": ["StopLogging"]}}"#),
    ]);
    let record = |members: &str| {
        format!(r#"{{"eventTime":"2024-05-01T10:00:00Z","eventSource":"ssm.amazonaws.com",{members}}}"#)
    };
    let cases: &[(&str, Option<&[&str]>)] = &[
        (r#""eventName":"GetParameter","requestParameters":{"withDecryption":true}"#, Some(&["decrypted"])),
        (r#""eventName":"GetParameters","requestParameters":{"withDecryption":false}"#, Some(&[])),
        (r#""eventName":"GetParameter","requestParameters":{"withDecryption":"true"}"#, Some(&[])),
        (r#""eventName":"GetParameter","requestParameters":{"withDecryption":[true]}"#, Some(&[])),
        (r#""eventName":["GetParameter"],"requestParameters":{"withDecryption":true}"#, Some(&[])),
        (r#""eventName":"GetParameter","requestParameters":[{"withDecryption":true}]"#, Some(&[])),
        (
            r#""eventName":"Nope","eventName":"GetParameter","requestParameters":{"withDecryption":true}"#,
            Some(&["decrypted"]),
        ),
        (r#""eventName":"GetParameter","eventName":"Nope","requestParameters":{"withDecryption":true}"#, Some(&[])),
        (r#""eventName":"Describe","errorCode":"Client.UnauthorizedOperation""#, Some(&["denied"])),
        (r#""eventName":"Describe","errorCode":"AccessDeniedException""#, Some(&["denied"])),
        (r#""eventName":"Describe","errorCode":["AccessDenied"]"#, Some(&[])),
        (r#""eventName":"Describe","errorCode":{"AccessDenied":1}"#, Some(&[])),
        (r#""eventName":"PutRule","requestParameters":{"state":null}"#, Some(&["plain"])),
        (r#""eventName":"PutRule","requestParameters":{"state":"ENABLED","enabled":false}"#, Some(&["off"])),
        (r#""eventName":"PutRule","requestParameters":{}"#, Some(&[])),
        (r#""eventName":"CreateRoute","errorCode":"AccessDenied""#, Some(&["denied", "route"])),
        (r#""eventName":["CreateRoute"]"#, Some(&["route"])),
        (r#""eventName":"GetSecretValue""#, None),
        (r#""eventName":"StopLogging","errorCode":"AccessDenied""#, None),
    ];
    let mut ws = Workspace::default();
    for (members, want) in cases {
        let text = record(members);
        let read = record_read_agrees(&set, &text, &mut ws);
        let got: Option<Vec<&str>> = match &read {
            EventRead::Counted(matched) => Some(matched.iter().map(|&i| set.rules()[i].id.as_str()).collect()),
            EventRead::Unmatched => Some(Vec::new()),
            _ => None,
        };
        let want: Option<Vec<&str>> = want.map(|w| {
            let mut w = w.to_vec();
            w.sort_by_key(|id| set.rules().iter().position(|r| r.id == *id));
            w
        });
        assert_eq!(got, want, "{text}: {read:?}");
    }
}

/// Rules on each member of the envelope, which the pack's rules leave
/// mostly alone.
fn envelope_rules() -> RuleSet {
    let patterns = [
        r#"{"account": ["123456789012"]}"#,
        r#"{"account": ["210987654321"]}"#,
        r#"{"account": [""]}"#,
        r#"{"region": ["us-east-1"]}"#,
        r#"{"region": [{"exists": false}]}"#,
        r#"{"time": [{"prefix": "2024"}]}"#,
        r#"{"time": [{"exists": false}]}"#,
        r#"{"id": ["e-1"]}"#,
        r#"{"id": [""]}"#,
        r#"{"version": ["0"]}"#,
        r#"{"source": ["aws.iam"]}"#,
        r#"{"source": [{"exists": false}]}"#,
        r#"{"detail-type": ["AWS Console Sign In via CloudTrail"]}"#,
        r#"{"source": ["aws.iam"], "detail": {"eventName": ["CreateUser"]}}"#,
        r#"{"resources": [{"exists": false}]}"#,
        r#"{"detail": {"userIdentity": {"accountId": ["210987654321"]}}}"#,
    ];
    let rules = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let text = format!(
                "id: envelope-{i}\ntitle: t\ndescription: d\nseverity: low\naction: alert\nevent_pattern: {p}\n"
            );
            rules::Rule::from_yaml(&format!("envelope-{i}.yaml"), &text).expect("a valid rule")
        })
        .collect();
    RuleSet::new(rules)
}

fn records_read_bare_agree(set: &RuleSet) {
    let mut ws = Workspace::default();
    let base = json!({"eventVersion": "1.08", "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "awsRegion": "us-east-1",
        "eventType": "AwsApiCall", "recipientAccountId": "123456789012", "eventID": "e-1",
        "userIdentity": {"type": "IAMUser", "accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/a"}});
    let mut records = records().unwrap_or_default();
    let real = records.len();
    records.push(base.clone());
    let mut texts: Vec<(bool, String)> = Vec::new();
    for (n, r) in records.iter().enumerate() {
        for v in variants(r) {
            texts.push((n < real, v.to_string()));
        }
    }
    let text = base.to_string();
    for (from, to) in [
        // Repeated keys: the last value is the record's.
        ("{", "{\"eventSource\":\"s3.amazonaws.com\","),
        ("{", "{\"eventName\":\"StopLogging\",\"eventSource\":\"cloudtrail.amazonaws.com\","),
        ("{", "{\"userIdentity\":{\"type\":\"Root\"},"),
        ("\"eventSource\":\"iam.amazonaws.com\"", "\"eventSource\":\"iam.amazonaws.com\",\"eventSource\":7"),
        ("\"eventType\":\"AwsApiCall\"", "\"eventType\":\"AwsApiCall\",\"eventType\":\"AwsConsoleSignIn\""),
        // Envelope fields of other types.
        ("\"iam.amazonaws.com\"", "[\"iam.amazonaws.com\"]"),
        ("\"iam.amazonaws.com\"", "{\"a\":\"iam.amazonaws.com\"}"),
        ("\"AwsApiCall\"", "[\"AwsConsoleSignIn\"]"),
        ("\"recipientAccountId\":\"123456789012\"", "\"recipientAccountId\":null"),
        ("\"recipientAccountId\":\"123456789012\",", ""),
        ("\"userIdentity\":{", "\"userIdentity\":[{"),
        ("}}", "}]}"),
        // Dotted keys, which the walk reads as paths and a record does not.
        ("{", "{\"userIdentity.accountId\":\"210987654321\","),
        ("\"recipientAccountId\":\"123456789012\",", "\"userIdentity.accountId\":\"210987654321\","),
        ("\"recipientAccountId\":\"123456789012\",", "\"userIdentity.type\":\"Root\","),
        ("\"eventSource\"", "\"event.Source\""),
        // Escapes in the envelope's fields.
        ("\"iam.amazonaws.com\"", "\"iam.amazonaws.c\\u006fm\""),
        ("\"us-east-1\"", "\"us-\\\"east\\\"-1\""),
        // Not JSON serde_json parses, in a part no pattern reads: a lone
        // surrogate, a number out of range.
        ("\"eventVersion\":\"1.08\"", "\"eventVersion\":\"\\ud03d\\ude80\""),
        ("\"eventVersion\":\"1.08\"", "\"eventVersion\":1e400"),
        ("\"eventVersion\":\"1.08\"", "\"x\":{\"\\udc00\":1}"),
        // Not records.
        ("\"eventTime\":\"2024-05-01T10:00:00Z\",", ""),
    ] {
        texts.push((false, text.replacen(from, to, 1)));
    }
    texts.push((
        false,
        text.replace("\"eventSource\":\"iam.amazonaws.com\",", "")
            .replace("\"eventName\":\"CreateUser\",", "")
            .replace("\"eventTime\":\"2024-05-01T10:00:00Z\",", ""),
    ));
    for t in ["[]", "\"x\"", "null", "{\"eventName\":\"CreateUser\"} x", "{\"eventName\":"] {
        texts.push((false, t.to_string()));
    }
    let (mut hits, mut unread) = (0, 0);
    for (is_real, text) in &texts {
        let read = record_read_agrees(set, text, &mut ws);
        assert!(!(*is_real && read == EventRead::Unread), "a real record is read to a verdict: {text}");
        if *is_real {
            assert!(!escaped_read_agrees(set, text, &read, &mut ws), "a real record is read escaped: {text}");
        }
        hits += usize::from(matches!(read, EventRead::Hits(_) | EventRead::Counted(_)));
        unread += usize::from(read == EventRead::Unread);
    }
    assert!(hits > 0 && unread > 0, "some hits ({hits}), some declined ({unread})");
}

mod generated {
    use proptest::prelude::*;

    use super::*;

    /// A value of the kind a record field may hold, from a vocabulary the
    /// pack's rules name.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![prop::sample::select(vec![
            "\"iam.amazonaws.com\"",
            "\"cloudtrail.amazonaws.com\"",
            "\"signin.amazonaws.com\"",
            "\"CreateUser\"",
            "\"StopLogging\"",
            "\"ConsoleLogin\"",
            "\"AwsConsoleSignIn\"",
            "\"AwsApiCall\"",
            "\"AccessDenied\"",
            "\"Root\"",
            "\"123456789012\"",
            "\"us-east-1\"",
            "\"Crea\\u0074eUser\"",
            // Counted only (metric rules): a route change, a denied call,
            // a parameter read decrypted.
            "\"CreateRoute\"",
            "\"Client.UnauthorizedOperation\"",
            "\"ssm.amazonaws.com\"",
            "\"GetParameter\"",
            "false",
            "\"\"",
            "7",
            "null",
            "true",
        ])
        .prop_map(String::from),];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((key(), inner), 0..3).prop_map(|m| object(&m)),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "eventSource",
            "eventName",
            "eventTime",
            "eventType",
            "eventID",
            "awsRegion",
            "recipientAccountId",
            "userIdentity",
            "accountId",
            "type",
            "errorCode",
            "requestParameters",
            "userIdentity.accountId",
            "userIdentity.type",
            "withDecryption",
        ])
        .prop_map(String::from)
    }

    fn object(members: &[(String, String)]) -> String {
        let inner: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", inner.join(","))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Generated records (repeated keys, dotted keys, fields of any
        /// type) agree with their EventBridge events too.
        #[test]
        fn generated_records_read_bare_give_their_events_hits(
            members in prop::collection::vec((key(), value()), 0..10),
        ) {
            thread_local! {
                static SETS: [RuleSet; 2] = [RuleSet::new(rules::load(None).expect("the pack")), envelope_rules()];
            }
            let text = object(&members);
            SETS.with(|sets| sets.iter().for_each(|set| drop(record_read_agrees(set, &text, &mut Workspace::default()))));
        }

        /// A generated record's escaped text, changed at a few places into
        /// what may not be JSON (escapes, quotes, control and non-ASCII
        /// bytes, numbers' parts), is read escaped only where serde_json
        /// reads it, to the same verdict; one read whole, cut short, asks
        /// for more.
        #[test]
        fn escaped_records_are_read_only_as_serde_reads_them(
            members in prop::collection::vec((key(), value()), 1..8),
            edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec![
                &b"\\"[..], b"\"", b"\\\\", b"\\u", b"\\\"", b"\\n", b"\n", b"\\\\/", b"\\/", b"u", b"e",
                b"E5", b"-", b"0", b".", b"1e400", b" ", b"\t", b"\x01", b"\xc3", b"\xc3\xa9", b"\xff", b"{",
                b"}", b"[", b"]", b",", b":", b"\\\\\\\"", b"\\\\b", b"\\\\x", b"\\\\u0041", b"",
            ])), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            thread_local! {
                static SETS: [RuleSet; 2] = [RuleSet::new(rules::load(None).expect("the pack")), envelope_rules()];
            }
            let quoted = serde_json::to_string(&object(&members)).expect("a string");
            let mut src = quoted.as_bytes()[1..].to_vec();
            for (at, bytes) in &edits {
                let at = at.index(src.len());
                src.splice(at..at, bytes.iter().copied());
            }
            src.extend_from_slice(b"},{");
            SETS.with(|sets| sets.iter().for_each(|set| {
                let mut ws = Workspace::default();
                escaped_read_refuses_what_serde_refuses(set, &src, &mut ws);
                if edits.is_empty() && set.read_record_escaped(&src, &mut ws).is_ok() {
                    let whole = quoted.len() - 1;
                    let short = cut.index(whole);
                    assert!(matches!(set.read_record_escaped(&src[..short], &mut ws), Err(Declined::Cut)),
                        "cut at {short}: {}", String::from_utf8_lossy(&src[..short]));
                }
            }));
        }
    }
}
