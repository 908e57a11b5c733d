//! The logs path streamed (issue 17): log events are inflated, parsed and
//! matched one at a time. Checked against the whole decode it replaced
//! (inflate everything, parse `LogData`, then each message), kept here as
//! the reference: the same events, malformed items, control flag and
//! errors on the real records' payloads, in every layout (header before or
//! after `logEvents`, pretty-printed, values cut by the reader's window);
//! a bomb is still refused; a cut payload keeps the events read before the
//! fault and reports it.

mod dataset;

use aws_lambda_events::cloudwatch_logs::LogData;
use base64::Engine;
use serde_json::{json, Value};
use trailwatch_engine::encode;
use trailwatch_engine::envelope::{self, Decoded, EnvelopeError, Messages, MAX_INFLATED_BYTES};
use trailwatch_engine::event::Event;
use trailwatch_engine::handler::{detect, open, Contents, Handler, InvocationError, Response};
use trailwatch_engine::metrics::Tally;
use trailwatch_engine::rules::{self, RuleSet, Workspace};
use trailwatch_engine::sink::Memory;

use dataset::real_records;

fn builtin_rules() -> RuleSet {
    RuleSet::new(rules::load(None).expect("the built-in rules load"))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The decode before streaming: inflate everything, parse `LogData`, then
/// each message.
fn reference(gz: &[u8]) -> Result<Decoded, EnvelopeError> {
    let json = envelope::inflate(gz)?;
    let data: LogData = serde_json::from_slice(&json).map_err(|e| EnvelopeError::Json(e.to_string()))?;
    let mut out = Decoded { control: data.message_type == "CONTROL_MESSAGE", ..Decoded::default() };
    if out.control {
        return Ok(out);
    }
    for entry in data.log_events {
        match Event::from_text(entry.message) {
            Ok(e) => out.events.push(e),
            Err(reason) => out.malformed.push(envelope::Malformed {
                origin: format!("log event {} in {}/{}", entry.id, data.log_group, data.log_stream),
                reason,
            }),
        }
    }
    Ok(out)
}

/// Two decodes agree: the same events (record and text), malformed items,
/// control flag; or errors of the same kind.
fn assert_same(got: &Result<Decoded, EnvelopeError>, want: &Result<Decoded, EnvelopeError>, what: &str) {
    match (got, want) {
        (Ok(g), Ok(w)) => {
            assert_eq!(g.control, w.control, "{what}: control");
            assert_eq!(g.events.len(), w.events.len(), "{what}: events");
            for (a, b) in g.events.iter().zip(&w.events) {
                assert_eq!(a.value(), b.value(), "{what}");
                assert_eq!(a.text(), b.text(), "{what}");
            }
            assert_eq!(g.malformed, w.malformed, "{what}: malformed");
        }
        (Err(g), Err(w)) => {
            assert_eq!(std::mem::discriminant(g), std::mem::discriminant(w), "{what}: {g} / {w}")
        }
        (g, w) => panic!("{what}: streamed {:?}, whole {:?}", g.as_ref().err(), w.as_ref().err()),
    }
}

/// The subscription JSON of `records` (with a few malformed messages),
/// its members in `order`.
fn logs_json(records: &[Value], kind: &str, order: &[&str]) -> Value {
    let mut events: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"id": format!("{i:056}"), "timestamp": 1_700_000_000_000u64 + i as u64, "message": r.to_string()}))
        .collect();
    for (at, bad) in [(1, "not json"), (3, "[1]"), (7, r#"{"eventName":"\ud800"}"#)] {
        if at <= events.len() {
            events.insert(at, json!({"id": format!("bad{at}"), "timestamp": 0, "message": bad}));
        }
    }
    let mut members = serde_json::Map::new();
    for key in order {
        let v = match *key {
            "messageType" => json!(kind),
            "owner" => json!("111122223333"),
            "logGroup" => json!("/aws/cloudtrail/test"),
            "logStream" => json!("111122223333_CloudTrail_us-east-1"),
            "subscriptionFilters" => json!(["trailwatch"]),
            "logEvents" => json!(events),
            other => json!({"unknown": other, "n": [1.5, -2, null, true]}),
        };
        members.insert(key.to_string(), v);
    }
    Value::Object(members)
}

const HEADER_FIRST: &[&str] = &["messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents"];
const HEADER_AFTER: &[&str] = &["logEvents", "messageType", "owner", "logGroup", "logStream", "subscriptionFilters"];
const MIXED: &[&str] =
    &["owner", "extra", "logGroup", "logEvents", "subscriptionFilters", "messageType", "logStream", "more"];

/// The handler's streaming detection of a gzip'd payload.
fn streamed_detection(gz: Vec<u8>, rules: &RuleSet) -> trailwatch_engine::handler::Detection {
    let contents = Contents::Messages(Messages::from_gzip(gz).expect("gzip"));
    contents.detect(rules, &mut Workspace::default())
}

fn per_rule(counts: &trailwatch_engine::metrics::Counts) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.matches.iter().map(|((r, _), n)| (r.clone(), *n)).collect();
    v.sort();
    v
}

#[test]
fn streamed_decode_equals_the_whole_decode_on_the_real_records() {
    let records = real_records();
    let rules = builtin_rules();
    for (name, order) in [("header first", HEADER_FIRST), ("header after", HEADER_AFTER), ("mixed", MIXED)] {
        let data = logs_json(&records, "DATA_MESSAGE", order);
        for (layout, json) in [("compact", serde_json::to_vec(&data)), ("pretty", serde_json::to_vec_pretty(&data))] {
            let gz = encode::gzip(&json.expect("JSON"));
            let what = format!("{name}, {layout}");
            let want = reference(&gz);
            assert_same(&envelope::logs_gzip(&gz), &want, &what);
            assert_same(&envelope::logs(&b64(&gz)), &want, &what);
            let want = want.expect("the reference decodes");
            assert_eq!((want.events.len(), want.malformed.len()), (records.len(), 3), "{what}");

            // Matched as it is read: the counts and matches of matching
            // every event of the whole decode (the fast path drops none).
            let d = streamed_detection(gz, &rules);
            assert!(d.fault.is_none() && !d.control, "{what}: {:?}", d.fault);
            let plain = detect(&rules, &want.events, &mut Workspace::default());
            assert_eq!(d.counts.records, plain.counts.records, "{what}");
            assert_eq!(d.counts.malformed, 3, "{what}");
            assert_eq!(per_rule(&d.counts), per_rule(&plain.counts), "{what}");
            let subjects = |d: &trailwatch_engine::handler::Detection| {
                let mut s: Vec<String> = d.alerts().iter().map(|a| a.sns_message()).collect();
                s.sort();
                s
            };
            assert_eq!(subjects(&d), subjects(&plain), "{what}: alerts");
        }
    }
}

#[test]
fn values_cut_by_the_readers_window_are_read_whole() {
    // Padding moves every member and event across the 64 KiB window's
    // edges, numbers included (one cut after its first digits must not be
    // taken for the whole number); one message is larger than the window.
    let records = real_records();
    let big = json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventTime": "2024-01-01T00:00:00Z",
                     "requestParameters": {"blob": "x".repeat(200_000)}});
    let mut some: Vec<Value> = records[..60].to_vec();
    some.insert(30, big);
    // (`moved`: the number begins at byte pad + 19; 65,503..65,516 cut it.)
    for pad in (0..2_000).step_by(97).chain(65_495..65_525) {
        let mut data = logs_json(&some, "DATA_MESSAGE", MIXED);
        data["pad"] = json!("p".repeat(pad));
        data["number"] = json!(123_456_789_012_345u64);
        let text = serde_json::to_string(&data).expect("JSON");
        let moved = format!("{{\"pad\":\"{}\",\"number\":123456789012345,{}", "p".repeat(pad), &text[1..]);
        for json in [text, moved] {
            let gz = encode::gzip(json.as_bytes());
            assert_same(&envelope::logs_gzip(&gz), &reference(&gz), &format!("padding {pad}"));
        }
    }
}

#[test]
fn control_messages_are_recognised_wherever_their_type_is() {
    let message = [json!("CWL CONTROL MESSAGE: Checking health of destination")];
    let rules = builtin_rules();
    for order in [HEADER_FIRST, HEADER_AFTER, MIXED] {
        // A control message's "records" are never matched, even when they
        // come before the type that says so.
        let records = real_records()[..20].to_vec();
        for events in [&records[..], &message[..]] {
            let gz = encode::gzip(&serde_json::to_vec(&logs_json(events, "CONTROL_MESSAGE", order)).expect("JSON"));
            let want = reference(&gz);
            assert!(want.as_ref().is_ok_and(|d| d.control && d.events.is_empty()));
            assert_same(&envelope::logs_gzip(&gz), &want, "control");
            let d = streamed_detection(gz.clone(), &rules);
            assert!(d.control && d.fault.is_none());
            assert_eq!((d.counts.records, d.counts.malformed, d.matches.len()), (0, 0, 0), "{order:?}");
            assert!(Contents::Messages(Messages::from_gzip(gz).expect("gzip")).control());
        }
    }
}

#[test]
fn malformed_events_before_the_header_are_named_once_it_is_read() {
    let records = real_records()[..10].to_vec();
    let gz = encode::gzip(&serde_json::to_vec(&logs_json(&records, "DATA_MESSAGE", HEADER_AFTER)).expect("JSON"));
    let got = envelope::logs_gzip(&gz).expect("decodes");
    assert_eq!(got.malformed.len(), 3);
    assert!(got
        .malformed
        .iter()
        .all(|m| m.origin.ends_with("in /aws/cloudtrail/test/111122223333_CloudTrail_us-east-1")));
    assert_same(&Ok(got), &reference(&gz), "header after");
    let d = streamed_detection(gz, &builtin_rules());
    assert_eq!((d.counts.records, d.counts.malformed), (10, 3));
}

#[test]
fn bad_envelopes_are_refused_as_the_whole_decode_refuses_them() {
    let records = real_records()[..5].to_vec();
    let good = logs_json(&records, "DATA_MESSAGE", HEADER_FIRST);
    let text = serde_json::to_string(&good).expect("JSON");
    let events = serde_json::to_string(&good["logEvents"]).expect("JSON");
    let cases: Vec<String> = vec![
        // Fields missing, twice, of the wrong type.
        text.replacen("\"owner\"", "\"ownerx\"", 1),
        text.replacen("\"logEvents\"", "\"logEventsx\"", 1),
        text.replacen("{\"messageType\"", "{\"logGroup\":\"again\",\"messageType\"", 1),
        format!("{},\"logEvents\":[]}}", &text[..text.len() - 1]),
        text.replacen("\"subscriptionFilters\":[\"trailwatch\"]", "\"subscriptionFilters\":\"trailwatch\"", 1),
        text.replacen("\"logEvents\":[", "\"logEvents\":{\"a\":[", 1),
        text.replacen("\"timestamp\":1700000000000", "\"timestamp\":\"soon\"", 1),
        // Bad JSON between the members and events, and after the end.
        text.replacen(",\"owner\"", " \"owner\"", 1),
        text.replacen("},{", "}{", 1),
        text.replacen("}]", "},]", 1),
        format!("{text} x"),
        format!("{text}{text}"),
        text[..text.len() / 2].to_string(),
        // Other shapes: parsed whole, as serde reads a struct from an array.
        json!(["111122223333", "g", "s", ["f"], "DATA_MESSAGE", serde_json::from_str::<Value>(&events).expect("JSON")])
            .to_string(),
        "[]".into(),
        "null".into(),
        String::new(),
        "  \n".into(),
        // Keys escaped, duplicates of unknown keys, unicode: still read.
        text.replacen("\"logGroup\"", "\"log\\u0047roup\"", 1),
        format!("{{\"x\":1,\"x\":2,{}", &text[1..]),
        text.replacen("\"owner\":\"111122223333\"", "\"owner\":\"\\u00e9t\u{e9}\"", 1),
    ];
    for (i, case) in cases.iter().enumerate() {
        let gz = encode::gzip(case.as_bytes());
        assert_same(&envelope::logs_gzip(&gz), &reference(&gz), &format!("case {i}: {}", &case[..case.len().min(80)]));
    }
}

#[test]
fn a_bomb_is_refused_while_streaming() {
    let rules = builtin_rules();
    // Spaces past the bound, alone and after a good event: the event read
    // before it is kept, the payload reported as too large.
    let spaces = encode::gzip(&vec![b' '; (MAX_INFLATED_BYTES + 10) as usize]);
    assert!(matches!(envelope::logs_gzip(&spaces), Err(EnvelopeError::TooLarge)));
    let d = streamed_detection(spaces, &rules);
    assert_eq!(d.fault, Some(EnvelopeError::TooLarge));
    assert_eq!(d.counts.records, 0);

    let record = &real_records()[0];
    let head = format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],"logEvents":[{{"id":"1","timestamp":0,"message":{}}},{{"id":"2","timestamp":0,"message":""#,
        serde_json::to_string(&record.to_string()).expect("JSON")
    );
    let mut json = head.into_bytes();
    json.resize(json.len() + MAX_INFLATED_BYTES as usize, b'a');
    json.extend_from_slice(br#""}]}"#);
    let gz = encode::gzip(&json);
    assert!(gz.len() < 1 << 20);
    assert!(matches!(envelope::logs_gzip(&gz), Err(EnvelopeError::TooLarge)));
    let d = streamed_detection(gz, &rules);
    assert_eq!(d.fault, Some(EnvelopeError::TooLarge));
    assert_eq!(d.counts.records, 1, "the event before the bomb is kept");
}

#[test]
fn a_cut_payload_keeps_the_events_read_before_the_fault() {
    let records = real_records()[..400].to_vec();
    let rules = builtin_rules();
    let whole = encode::logs_data(&records, "/aws/cloudtrail/cut");
    let all = detect(&rules, &envelope::logs_gzip(&whole).expect("decodes").events, &mut Workspace::default());
    for cut in [whole.len() / 4, whole.len() / 2, whole.len() - 9] {
        let gz = whole[..cut].to_vec();
        // All at once: refused, as before.
        assert!(matches!(envelope::logs_gzip(&gz), Err(EnvelopeError::Gzip(_))), "cut at {cut}");
        // Streamed: the events read before the cut are matched, and the
        // cut is reported.
        let d = streamed_detection(gz.clone(), &rules);
        assert!(matches!(d.fault, Some(EnvelopeError::Gzip(_))), "cut at {cut}: {:?}", d.fault);
        assert!(d.counts.records > 0 && d.counts.records <= records.len() as u64, "cut at {cut}");
        if cut == whole.len() - 9 {
            assert_eq!(d.counts.records, records.len() as u64, "cut in the trailer: every event was read");
            assert_eq!(per_rule(&d.counts), per_rule(&all.counts));
        }

        // Through the function: the alerts of those events are delivered,
        // the payload counted malformed and failed; a Kinesis record is
        // not retried.
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let handler = Handler::new(builtin_rules(), Memory::default(), Tally::default());
        let payload = json!({"awslogs": {"data": b64(&gz)}});
        let err = rt.block_on(handler.handle_text(&payload.to_string())).expect_err("cut");
        assert!(matches!(err, InvocationError::Payload(EnvelopeError::Gzip(_))), "{err}");
        let counts = handler.metrics().counts();
        assert_eq!((counts.records, counts.malformed), (d.counts.records, 1));
        assert_eq!(handler.sink().take().len(), d.alerts().len());
        let err = rt.block_on(handler.handle(payload)).expect_err("cut");
        assert!(matches!(err, InvocationError::Payload(EnvelopeError::Gzip(_))), "{err}");

        let mut kinesis = encode::kinesis_event(&[records[..3].to_vec(), records.clone()], "g");
        kinesis["Records"][1]["kinesis"]["data"] = json!(b64(&gz));
        let response = rt.block_on(handler.handle(kinesis)).expect("the batch goes on");
        assert!(matches!(&response, Response::Batch(b) if b.batch_item_failures.is_empty()), "{response:?}");
    }
}

#[test]
fn a_logs_body_is_read_from_its_text_as_from_its_document() {
    let records = real_records()[..200].to_vec();
    let gz = encode::logs_data(&records, "/aws/cloudtrail/text");
    let data = b64(&gz);
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let bodies = [
        json!({"awslogs": {"data": data}}).to_string(),
        // Escaped slashes, other members, whitespace.
        format!(
            " {{ \"other\" : [1] , \"awslogs\" : {{ \"x\": null, \"data\" : \"{}\" }} }} ",
            data.replace('/', "\\/")
        ),
        // An EventBridge event's members beside it: still a logs payload
        // (the delivery paths' keys are read first), and so is one with a
        // Kinesis `Records` a Kinesis event.
        format!(
            "{{\"detail-type\":\"AWS API Call via CloudTrail\",\"detail\":{{\"eventName\":\"GetObject\"}},\"awslogs\":{{\"data\":\"{data}\"}}}}"
        ),
        "{\"detail-type\":\"AWS API Call via CloudTrail\",\"detail\":{\"eventName\":\"GetObject\"},\"Records\":[]}".into(),
        // Not that shape: the document decides (duplicates, arrays, no data).
        format!("{{\"awslogs\":{{\"data\":\"{data}\"}},\"awslogs\":{{\"data\":\"{data}\"}}}}"),
        format!("{{\"awslogs\":[\"{data}\"]}}"),
        format!("[{{\"awslogs\":{{\"data\":\"{data}\"}}}}]"),
        "{\"awslogs\":{\"data\":7}}".into(),
        "{\"awslogs\":{}}".into(),
        "{\"awslogs\":{\"data\":\"%%%\"}}".into(),
    ];
    for body in &bodies {
        let outcome = |text: bool| {
            let handler = Handler::new(builtin_rules(), Memory::default(), Tally::default());
            let r = match text {
                true => rt.block_on(handler.handle_text(body)),
                false => match serde_json::from_str::<Value>(body) {
                    Ok(v) => rt.block_on(handler.handle(v)),
                    Err(_) => return (String::from("not JSON"), handler.metrics().counts()),
                },
            };
            let mut alerts: Vec<String> = handler.sink().take().iter().map(|a| a.sns_message()).collect();
            alerts.sort();
            (format!("{:?} {alerts:?}", r.map_err(|e| e.to_string())), handler.metrics().counts())
        };
        let (text, document) = (outcome(true), outcome(false));
        if document.0 != "not JSON" {
            assert_eq!(text, document, "{}", &body[..body.len().min(80)]);
        }
    }
    assert_eq!(envelope::logs_body_data(&bodies[0]).as_deref(), Some(data.as_str()));
    assert_eq!(envelope::logs_body_data(&bodies[1]).as_deref(), Some(data.as_str()));
    assert_eq!(envelope::logs_body_data(&bodies[2]).as_deref(), Some(data.as_str()));
    for body in &bodies[4..] {
        assert!(envelope::logs_body_data(body).is_none_or(|d| d.len() < 8), "{}", &body[..body.len().min(80)]);
    }
    // The payload is opened as before.
    let (_, parts) = open(serde_json::from_str(&bodies[0]).expect("JSON")).expect("opens");
    assert!(matches!(parts.as_slice(), [(None, Ok(Contents::Messages(_)))]));
}

#[test]
fn a_payload_with_many_matches_is_answered_in_chunks_as_in_one_response() {
    use std::sync::atomic::AtomicI64;
    use trailwatch_engine::handler::{Clock, LogDetection};
    use trailwatch_engine::state;
    let records = real_records();
    let gz = encode::logs_data(&records, "/aws/cloudtrail/chunks");
    let rules = builtin_rules();
    let whole = streamed_detection(gz.clone(), &rules);
    let held = 40;
    assert!(whole.matches.len() > 3 * held, "{} matches: too few for chunks", whole.matches.len());

    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let handler = || {
        Handler::new(builtin_rules(), Memory::default(), Tally::default())
            .with_state(state::Memory::default(), Clock::Watermark(AtomicI64::new(i64::MIN)))
    };
    let respond = |h: &Handler<Memory, Tally, state::Memory>, d| {
        let (counts, _, errors) = rt.block_on(h.respond(d)).expect("responded");
        assert!(errors.is_empty());
        rt.block_on(h.emit(counts));
    };
    // Chunks answer as separate invocations do (through the state store:
    // a later chunk's identical matches are counted into the alert already
    // sent, thresholds count on): the same rules alert, on the same counts.
    let summary = |h: &Handler<Memory, Tally, state::Memory>| {
        let mut alerted: Vec<String> = h.sink().take().into_iter().map(|a| a.rule_id).collect();
        alerted.sort();
        alerted.dedup();
        let c = h.metrics().counts();
        (alerted, c.records, c.malformed, per_rule(&c))
    };
    // In chunks of `held` matches, as the functions answer a large payload...
    let chunked = handler();
    let mut log = LogDetection::new(Messages::from_gzip(gz).expect("gzip").into_reader());
    let mut chunks = 0;
    while let Some(d) = log.next_chunk(&rules, &mut Workspace::default(), held) {
        assert!(d.matches.len() <= held + 20, "{} matches held", d.matches.len());
        respond(&chunked, d);
        chunks += 1;
    }
    assert!(chunks > 3, "{chunks} chunks");
    // ...and in one response.
    let one = handler();
    respond(&one, whole);
    let (got, want) = (summary(&chunked), summary(&one));
    assert_eq!(got.1, records.len() as u64);
    assert!(!want.0.is_empty());
    assert_eq!(got, want, "chunked and whole responses differ");
}

#[test]
fn bad_base64_in_a_logs_body_is_a_fault_after_the_events_before_it() {
    let records = real_records()[..300].to_vec();
    let data = b64(&encode::logs_data(&records, "/aws/cloudtrail/b64"));
    let at = data.len() / 2 / 4 * 4;
    let bad = format!("{}%%%%{}", &data[..at], &data[at..]);
    let body = json!({"awslogs": {"data": bad}}).to_string();
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    // As the functions read it (its text): the events before the bad
    // base64 are matched, then the invocation fails.
    let handler = Handler::new(builtin_rules(), Memory::default(), Tally::default());
    let err = rt.block_on(handler.handle_text(&body)).expect_err("bad base64");
    assert!(matches!(err, InvocationError::Payload(EnvelopeError::Base64(_))), "{err}");
    let counts = handler.metrics().counts();
    assert!(counts.records > 0 && counts.records < 300, "{counts:?}");
    assert_eq!(counts.malformed, 1);
    // As a document, and decoded all at once: refused whole.
    let handler = Handler::new(builtin_rules(), Memory::default(), Tally::default());
    let err = rt.block_on(handler.handle(serde_json::from_str(&body).expect("JSON"))).expect_err("bad base64");
    assert!(matches!(err, InvocationError::Payload(EnvelopeError::Base64(_))), "{err}");
    assert!(matches!(envelope::logs(&bad), Err(EnvelopeError::Base64(_))));
}

#[test]
fn log_events_of_every_kind_read_as_the_whole_decode_reads_them() {
    // Each event parsed on its own reads every string and number as the
    // whole document's parse does, or refuses it as that refuses it.
    let messages = [
        r#"{"eventName":"CreateUser","eventSource":"iam.amazonaws.com","eventTime":"t"}"#.to_string(),
        "tabs\tand\nnewlines\r, \u{8} \u{c} slashes / \\ quotes \" é 日本 🙂".to_string(),
        "\u{1}\u{1f} control".to_string(),
        String::new(),
    ];
    let mut events = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let msg = serde_json::to_string(m).expect("JSON");
        events.push(format!(r#"{{"id":"{i}","timestamp":{i},"message":{msg}}}"#));
        events.push(format!(r#"{{"id":"{i}","timestamp":-{i},"message":{}}}"#, msg.replace('/', "\\/")));
    }
    for odd in [
        r#"{"id":"a","timestamp":01,"message":"x"}"#,
        r#"{"id":"a","timestamp":-,"message":"x"}"#,
        r#"{"id":"a","timestamp":1.5,"message":"x"}"#,
        r#"{"id":"a","timestamp":1e3,"message":"x"}"#,
        r#"{"id":"a","timestamp":9223372036854775807,"message":"x"}"#,
        r#"{"id":"a","timestamp":9223372036854775808,"message":"x"}"#,
        r#"{"id":"a","timestamp":-9223372036854775808,"message":"x"}"#,
        r#"{"id":"a","timestamp":0,"message":"\u00e9\ud83d\ude42"}"#,
        r#"{"id":"a","timestamp":0,"message":"\ud800"}"#,
        r#"{"id":"a","timestamp":0,"message":"\x"}"#,
        "{\"id\":\"a\",\"timestamp\":0,\"message\":\"raw\tcontrol\"}",
        r#"{"id":"\"q\"","timestamp":0,"message":"x"}"#,
        r#"{"id":7,"timestamp":0,"message":"x"}"#,
        r#"{"timestamp":0,"id":"a","message":"x"}"#,
        r#"{"id":"a","timestamp":0,"message":"x","extra":1}"#,
        r#"{"id":"a","timestamp":0,"message":"x","id":"b"}"#,
        r#"{"id":"a","timestamp":0}"#,
    ] {
        events.push(odd.to_string());
    }
    let header = r#""messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[]"#;
    // Each alone (errors compared), and the good ones together.
    for e in &events {
        let json = format!(r#"{{{header},"logEvents":[{e}]}}"#);
        let gz = encode::gzip(json.as_bytes());
        assert_same(&envelope::logs_gzip(&gz), &reference(&gz), e);
        let bytes = format!(r#"{{{header},"logEvents":[{e}]}}"#).into_bytes();
        let mut not_utf8 = bytes.clone();
        if let Some(at) = not_utf8.windows(3).position(|w| w == b"\"x\"") {
            not_utf8[at + 1] = 0xff;
            let gz = encode::gzip(&not_utf8);
            assert_same(&envelope::logs_gzip(&gz), &reference(&gz), &format!("{e}, not UTF-8"));
        }
    }
    let good: Vec<&String> = events
        .iter()
        .filter(|e| reference(&encode::gzip(format!(r#"{{{header},"logEvents":[{e}]}}"#).as_bytes())).is_ok())
        .collect();
    assert!(good.len() > messages.len() * 2);
    let json =
        format!(r#"{{{header},"logEvents":[{}]}}"#, good.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(","));
    let gz = encode::gzip(json.as_bytes());
    assert_same(&envelope::logs_gzip(&gz), &reference(&gz), "together");
}
