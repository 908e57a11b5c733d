//! Hostile and broken input (issue 8): each bound the functions promise,
//! tested at the size an attacker or AWS can send.
//!
//! - a gzip bomb (about 1 MiB expanding to about 1 GiB) is refused with an
//!   error and counted in the `Malformed` metric, within a memory cap;
//! - JSON nested 10,000 deep is refused: as a log message, as a whole
//!   payload, as an EventBridge payload, as a pattern and as a rule file;
//! - a 6 MB logs payload (Lambda's request limit) is decoded and matched
//!   completely;
//! - wildcards and regular expressions that make a backtracking engine take
//!   polynomial or exponential time: tests/linear_time.rs counts their steps;
//! - non-UTF-8 and truncated payloads and files are reported, not panicked on.
//!
//! Regression inputs found by `cargo fuzz` (fuzz/) go at the end.

mod dataset;

use std::io::Write;
use std::process::Command;

use base64::Engine;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use serde_json::{json, Value};
use trailwatch_engine::encode;
use trailwatch_engine::envelope::{self, EnvelopeError, MAX_INFLATED_BYTES};
use trailwatch_engine::event::Event;
use trailwatch_engine::filter::FilterPattern;
use trailwatch_engine::handler::{decode, detect, open, Handler, InvocationError};
use trailwatch_engine::metrics::{self, Counts, Metrics, MetricsError};
use trailwatch_engine::pattern::{EventPattern, PatternSet};
use trailwatch_engine::rules::{self, Rule, RuleSet, Workspace};
use trailwatch_engine::sink::Memory;

use dataset::real_records;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn builtin_rules() -> RuleSet {
    RuleSet::new(rules::load(None).expect("the built-in rules load"))
}

/// `[[[…"x"…]]]`, `depth` brackets deep.
fn deep_array(depth: usize) -> String {
    format!("{}\"x\"{}", "[".repeat(depth), "]".repeat(depth))
}

/// `{"a":{"a":…"x"…}}`, `depth` objects deep.
fn deep_object(depth: usize) -> String {
    format!("{}\"x\"{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

// ---------------------------------------------------------------- gzip bomb

/// Peak and current resident set size of this process, in KiB.
fn vm_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Raw deflate of `input` with `flush`, continuing the stream `c`.
fn deflate(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    let start = c.total_in();
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(64 * 1024);
        }
        let done = (c.total_in() - start) as usize;
        let status = c.compress_vec(&input[done..], &mut out, flush).expect("deflate in memory");
        let done = (c.total_in() - start) as usize;
        let room_left = out.capacity() - out.len() >= 4096;
        match flush {
            FlushCompress::Finish if status == Status::StreamEnd => return out,
            FlushCompress::Finish => {}
            _ if done == input.len() && room_left => return out,
            _ => {}
        }
    }
}

/// One gzip member holding `mib` MiB of zero bytes, built without
/// compressing them all: deflate reaches a steady state on a run of zeros,
/// where each further MiB (sync-flushed) is the same few hundred bytes, so
/// that block is repeated. The trailer's CRC-32 and size are the true ones.
fn gzip_zeros(mib: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let first = deflate(&mut c, &zeros, FlushCompress::Sync);
    let steady = deflate(&mut c, &zeros, FlushCompress::Sync);
    assert_eq!(deflate(&mut c, &zeros, FlushCompress::Sync), steady, "deflate's steady state on zeros");
    let mut one = Crc::new();
    one.update(&zeros);
    let mut crc = Crc::new();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&first);
    crc.combine(&one);
    for _ in 1..mib {
        out.extend_from_slice(&steady);
        crc.combine(&one);
    }
    let mut end = Compress::new(Compression::best(), false);
    // An empty final block ends the deflate stream.
    let tail = deflate(&mut end, &[], FlushCompress::Finish);
    out.extend_from_slice(&tail);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&((mib as u64) << 20).to_le_bytes()[..4]);
    out
}

/// How big one steady-state MiB of zeros deflates to.
fn steady_block_len() -> usize {
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    deflate(&mut c, &zeros, FlushCompress::Sync);
    deflate(&mut c, &zeros, FlushCompress::Sync).len()
}

#[test]
fn the_bomb_builder_makes_valid_gzip() {
    // A small one inflates, CRC and size checked by the decoder.
    let small = gzip_zeros(3);
    assert_eq!(envelope::inflate(&small).expect("valid gzip"), vec![0u8; 3 << 20]);
}

const BOMB_CHILD: &str = "TRAILWATCH_HOSTILE_BOMB_CHILD";

/// The bomb runs in a child process (this test binary, this test alone), so
/// that its peak resident set is measured without other tests' memory: the
/// child asserts the cap, the parent reads the metrics it printed.
#[test]
fn gzip_bomb_is_refused_with_an_error_and_a_metric_within_a_memory_cap() {
    if std::env::var_os(BOMB_CHILD).is_some() {
        return bomb_child();
    }
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "gzip_bomb_is_refused_with_an_error_and_a_metric_within_a_memory_cap",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BOMB_CHILD, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the child failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("bomb child done"), "the child did not run the bomb:\n{stdout}");
    // The EMF documents the two invocations printed: each counts the
    // refused payload as Malformed.
    let malformed: Vec<u64> = stdout
        .lines()
        // (The harness may print the test's name before the first one.)
        .filter_map(|l| l.find("{\"_aws\"").and_then(|at| serde_json::from_str::<Value>(&l[at..]).ok()))
        .filter_map(|v| v.get("Malformed").and_then(Value::as_u64))
        .collect();
    assert_eq!(malformed, vec![1, 1], "Malformed metric of each refused payload:\n{stdout}");
}

/// The functions' EMF lines, printed: what the parent reads.
struct EmfLines;

impl Metrics for EmfLines {
    async fn emit(&self, counts: &Counts) -> Result<(), MetricsError> {
        for line in metrics::emf("trailwatch", "logs", counts, 0) {
            println!("{line}");
        }
        Ok(())
    }
}

fn bomb_child() {
    let blocks = (1usize << 20) / steady_block_len();
    let bomb = gzip_zeros(blocks);
    let inflated = (blocks as u64) << 20;
    assert!(bomb.len() <= (1 << 20) + 1024 && bomb.len() > 900 << 10, "about 1 MiB gzip'd: {}", bomb.len());
    assert!(inflated > 8 * MAX_INFLATED_BYTES, "expands far past the limit: {inflated}");
    let logs_payload = json!({"awslogs": {"data": b64(&bomb)}});
    let kinesis_payload = encode::kinesis_event(&[vec![]], "g");
    let mut kinesis_payload = kinesis_payload;
    kinesis_payload["Records"][0]["kinesis"]["data"] = json!(b64(&bomb));
    let detector = Handler::new(builtin_rules(), Memory::default(), EmfLines);
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");

    let before = vm_kib("VmHWM:");
    // Straight through the decoder...
    assert_eq!(envelope::inflate(&bomb), Err(EnvelopeError::TooLarge));
    assert!(matches!(envelope::logs_gzip(&bomb), Err(EnvelopeError::TooLarge)));
    assert!(matches!(envelope::file("bomb.json.gz", &bomb), Err(EnvelopeError::TooLarge)));
    // ...and through the function: a logs payload fails the invocation
    // (retrying cannot help, but the error is logged and counted)...
    let err = rt.block_on(detector.handle(logs_payload)).expect_err("refused");
    assert!(matches!(err, InvocationError::Payload(EnvelopeError::TooLarge)), "{err}");
    // ...and a Kinesis record is skipped, not retried forever.
    let response = rt.block_on(detector.handle(kinesis_payload)).expect("the batch goes on");
    assert_eq!(serde_json::to_value(response).expect("JSON"), json!({"batchItemFailures": []}));
    let after = vm_kib("VmHWM:");

    let growth = (after - before) << 10;
    let cap = 3 * MAX_INFLATED_BYTES;
    assert!(growth < cap, "peak RSS grew by {growth} bytes (cap {cap})");
    println!("bomb child done: {} bytes gzip'd, {inflated} inflated, peak RSS +{} MiB", bomb.len(), growth >> 20);
}

// ------------------------------------------------------------- deep nesting

#[test]
fn json_nested_10000_deep_is_refused_everywhere() {
    let deep = deep_array(10_000);
    let deep_obj = deep_object(10_000);
    let good = r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2024-01-01T00:00:00Z"}"#;

    // As a log message: that record is reported, the others go on.
    for bad in [&deep, &deep_obj] {
        assert!(Event::from_text(bad.to_string()).is_err());
        let data = json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s",
            "subscriptionFilters": ["f"], "logEvents": [
                {"id": "1", "timestamp": 0, "message": good},
                {"id": "2", "timestamp": 0, "message": bad},
                {"id": "3", "timestamp": 0, "message": good}]});
        let d = envelope::logs(&b64(&encode::gzip(data.to_string().as_bytes()))).expect("the payload decodes");
        assert_eq!(d.events.len(), 2);
        assert_eq!(d.malformed.len(), 1);
        assert!(d.malformed[0].origin.contains("log event 2"), "{:?}", d.malformed);
        assert!(d.malformed[0].reason.contains("recursion limit"), "{:?}", d.malformed);
    }

    // As the whole logs payload: refused.
    for bad in [&deep, &deep_obj] {
        let whole = format!(r#"{{"messageType":"DATA_MESSAGE","logEvents":{bad}}}"#);
        let r = envelope::logs_gzip(&encode::gzip(whole.as_bytes()));
        assert!(matches!(r, Err(EnvelopeError::Json(_))), "{r:?}");
    }

    // As an EventBridge payload: the Lambda runtime parses it with
    // serde_json, which refuses it before `decode` is reached; a file of
    // such events is reported line by line.
    let event = format!(r#"{{"detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":{deep_obj}}}"#);
    let err = serde_json::from_str::<Value>(&event).expect_err("refused by the parser");
    assert!(err.to_string().contains("recursion limit"), "{err}");
    let lines = format!("{event}\n{good}\n");
    let d = envelope::file("events.jsonl", lines.as_bytes()).expect("a file of lines");
    assert_eq!((d.events.len(), d.malformed.len()), (1, 1));
    assert_eq!(d.malformed[0].origin, "events.jsonl:1");
    // The deepest event the parser lets through is decoded and matched.
    let deepest = (1..200).rev().find_map(|n| {
        let text = format!(
            r#"{{"detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":{{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"t","requestParameters":{}}}}}"#,
            deep_object(n)
        );
        serde_json::from_str::<Value>(&text).ok()
    });
    let deepest = deepest.expect("some depth parses");
    let (_, batches) = decode(deepest).expect("decodes");
    let decoded = batches.into_iter().next().expect("one batch").decoded.expect("decoded");
    assert_eq!(decoded.events.len(), 1);
    let det = detect(&builtin_rules(), &decoded.events, &mut Workspace::default());
    assert_eq!(det.counts.records, 1);

    // As a pattern: an event pattern, a filter pattern (the longest
    // nesting its 1,024-character limit allows) and a rule file.
    let deep_pattern = format!("{}[\"x\"]{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert!(EventPattern::parse(&deep_pattern).is_err());
    assert!(EventPattern::parse(&deep).is_err());
    let parens = format!("{{ {}$.a = 1{} }}", "(".repeat(500), ")".repeat(500));
    assert!(FilterPattern::parse(&parens).is_err());
    let rule = |pattern: &str| {
        format!("id: deep\ntitle: t\ndescription: d\nseverity: high\naction: alert\nevent_pattern: {pattern}\n")
    };
    assert!(Rule::from_yaml("deep.yaml", &rule(&deep_pattern)).is_err());
    assert!(Rule::from_yaml("deep.yaml", &rule(&deep)).is_err());
}

// ------------------------------------------------------- 6 MB logs payload

#[test]
fn a_6_mb_logs_payload_is_decoded_and_matched_completely() {
    let records = real_records();
    let rules = builtin_rules();
    let mut ws = Workspace::default();

    // What each copy of the records must produce, record by record.
    let mut per_copy: std::collections::BTreeMap<String, u64> = Default::default();
    for r in &records {
        let event = Event::from_record(r.clone()).expect("a real record");
        for rule in rules.evaluate(&event, &mut ws) {
            *per_copy.entry(rule.id.clone()).or_default() += 1;
        }
    }
    assert!(!per_copy.is_empty());

    // As many whole copies as fit in Lambda's 6 MB request payload.
    let one = serde_json::to_vec(&encode::logs_payload(&records, "/aws/cloudtrail")).expect("JSON").len();
    let copies = 6_000_000 / one;
    assert!(copies >= 2, "one copy is {one} bytes");
    let all: Vec<Value> = (0..copies).flat_map(|_| records.iter().cloned()).collect();
    let payload = encode::logs_payload(&all, "/aws/cloudtrail");
    let size = serde_json::to_vec(&payload).expect("JSON").len();
    assert!(size > 5_000_000 && size <= 6_000_000, "payload of {size} bytes");

    let want: std::collections::BTreeMap<String, u64> =
        per_copy.iter().map(|(k, v)| (k.clone(), v * copies as u64)).collect();
    let per_rule = |det: &trailwatch_engine::handler::Detection| {
        let mut got: std::collections::BTreeMap<String, u64> = Default::default();
        for ((rule, _), n) in &det.counts.matches {
            *got.entry(rule.clone()).or_default() += n;
        }
        got
    };

    // The functions' path: the log events parsed and matched one at a time.
    let (_, parts) = open(payload.clone()).expect("opens");
    assert_eq!(parts.len(), 1);
    let contents = parts.into_iter().next().expect("one").1.expect("within the bounds");
    assert!(!contents.control());
    let det = contents.detect(&rules, &mut ws);
    assert_eq!(det.counts.records as usize, copies * records.len());
    assert_eq!(det.counts.malformed, 0);
    assert_eq!(per_rule(&det), want, "matches per rule over {copies} copies ({size} bytes), streamed");

    // Every record at once (`decode`, as `trailwatch replay` uses it).
    let (_, batches) = decode(payload).expect("decodes");
    assert_eq!(batches.len(), 1);
    let decoded = batches.into_iter().next().expect("one").decoded.expect("within the bounds");
    assert!(!decoded.control);
    assert!(decoded.malformed.is_empty(), "{:?}", decoded.malformed.first());
    assert_eq!(decoded.events.len(), copies * records.len());
    let det = detect(&rules, &decoded.events, &mut ws);
    assert_eq!(det.counts.records as usize, copies * records.len());
    assert_eq!(per_rule(&det), want, "matches per rule over {copies} copies ({size} bytes), decoded");
    println!(
        "6 MB payload: {size} bytes, {copies} copies, {} records, {} matches",
        det.counts.records,
        want.values().sum::<u64>()
    );
}

// Backtracking-bait wildcards and regular expressions: counted in steps
// in tests/linear_time.rs.

// ------------------------------------------- non-UTF-8 and truncated input

#[test]
fn non_utf8_and_truncated_input_is_reported_not_panicked_on() {
    let records = real_records();
    let s3 = serde_json::to_vec_pretty(&json!({"Records": &records[..50]})).expect("JSON");
    let gz = encode::gzip(&s3);

    // Files: invalid UTF-8, plain and gzip'd, is an error.
    let mut bad = s3.clone();
    bad[100] = 0xff;
    assert!(matches!(envelope::file("bad.json", &bad), Err(EnvelopeError::Json(_))));
    assert!(matches!(envelope::file("bad.json.gz", &encode::gzip(&bad)), Err(EnvelopeError::Json(_))));
    // Invalid UTF-8 inside one line of JSON lines: the whole file is refused
    // (it is not text), never a panic.
    let mut lines: Vec<u8> = records[..3].iter().flat_map(|r| format!("{r}\n").into_bytes()).collect();
    lines.extend_from_slice(b"{\"eventName\":\"\xc3\x28\"}\n");
    assert!(envelope::file("lines.jsonl", &lines).is_err());

    // Truncated gzip: every cut is an error (or, cut inside the trailer,
    // still an error: the CRC and size are checked).
    // (One byte, 0x1f, is not yet gzip's magic number: it is read as text.)
    for cut in [2, 3, 10, 11, 100, gz.len() / 2, gz.len() - 8, gz.len() - 1] {
        let r = envelope::file("cut.json.gz", &gz[..cut]);
        assert!(matches!(r, Err(EnvelopeError::Gzip(_))), "cut at {cut}: {r:?}");
    }
    // Truncated JSON: a cut S3 file is not one JSON value, so its lines are
    // tried one by one and reported; nothing panics, nothing is invented.
    for cut in [1, 10, s3.len() / 3, s3.len() - 1] {
        let d = envelope::file("cut.json", &s3[..cut]).expect("reported line by line");
        assert!(d.events.is_empty());
        assert!(!d.malformed.is_empty());
    }
    // Truncated JSON lines: the complete lines are decoded, the cut one reported.
    let lines: String = records[..10].iter().map(|r| format!("{r}\n")).collect();
    let cut = lines.len() - 40;
    let d = envelope::file("cut.jsonl", &lines.as_bytes()[..cut]).expect("lines");
    assert_eq!((d.events.len(), d.malformed.len()), (9, 1));
    assert_eq!(d.malformed[0].origin, "cut.jsonl:10");

    // Logs payloads: truncated base64 and truncated gzip are errors.
    let data = b64(&encode::logs_data(&records[..50], "g"));
    for cut in [1, 2, 3, 4, 5, 8, data.len() / 2 + 1, data.len() / 2 / 4 * 4, data.len() - 1, data.len() - 4] {
        let r = envelope::logs(&data[..cut]);
        assert!(matches!(r, Err(EnvelopeError::Base64(_) | EnvelopeError::Gzip(_))), "cut at {cut}: {r:?}");
    }
    // Logs payloads whose JSON is not UTF-8, or is cut: errors.
    let json = serde_json::to_vec(&json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g",
        "logStream": "s", "subscriptionFilters": ["f"],
        "logEvents": [{"id": "1", "timestamp": 0, "message": records[0].to_string()}]}))
    .expect("JSON");
    let mut not_utf8 = json.clone();
    let at = not_utf8.len() - 20;
    not_utf8[at] = 0xfe;
    assert!(matches!(envelope::logs_gzip(&encode::gzip(&not_utf8)), Err(EnvelopeError::Json(_))));
    assert!(matches!(envelope::logs_gzip(&encode::gzip(&json[..json.len() / 2])), Err(EnvelopeError::Json(_))));
    // A lone surrogate in a message: that record is malformed, not a panic.
    let surrogate = json!({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s",
        "subscriptionFilters": ["f"], "logEvents": [{"id": "1", "timestamp": 0, "message": "x"}]})
    .to_string()
    .replace("\"x\"", r#""{\"eventName\":\"\\ud800\"}""#);
    let r = envelope::logs_gzip(&encode::gzip(surrogate.as_bytes())).expect("the payload decodes");
    assert_eq!(r.malformed.len(), 1, "{r:?}");

    // Through decode, as the functions see them: a Kinesis batch with one
    // cut record and one good one.
    let mut kinesis = encode::kinesis_event(&[records[..5].to_vec(), records[5..10].to_vec()], "g");
    let cut = kinesis["Records"][0]["kinesis"]["data"].as_str().expect("data").to_string();
    let cut = b64(&base64::engine::general_purpose::STANDARD.decode(&cut).expect("b64")[..40]);
    kinesis["Records"][0]["kinesis"]["data"] = json!(cut);
    let (_, batches) = decode(kinesis).expect("a Kinesis event");
    assert!(matches!(batches[0].decoded, Err(EnvelopeError::Gzip(_))));
    assert_eq!(batches[1].decoded.as_ref().expect("good").events.len(), 5);
    let _ = std::io::stdout().flush();
}

// ------------------------------------------------ found by cargo fuzz (fuzz/)

/// `fuzz/fuzz_targets/event_pattern.rs`, minimised: an event with a
/// repeated key. The parsed event keeps the last value of a repeated key
/// (serde_json), so `matches` saw `"detail": {}` and did not match, while
/// `matches_json` kept the leaves of both values and matched.
#[test]
fn fuzz_duplicate_keys_streaming_and_parsed_agree() {
    use trailwatch_engine::pattern::Scratch;
    let streamed = |set: &PatternSet, text: &str| {
        let mut out = Vec::new();
        set.matches_json(text, &mut Scratch::default(), &mut out).expect("JSON");
        out
    };
    let parsed = |set: &PatternSet, text: &str| set.matches(&serde_json::from_str::<Value>(text).expect("JSON"));
    let crash = (
        r#"{"detail":{"userIdentity":{"type":["Root"]}}}"#,
        r#"{"detail":{"userIdentity":{"type": "Root"}},"detail":{}}"#,
    );
    let cases = [
        crash,
        (r#"{"a":["x"]}"#, r#"{"a":"x","a":"y"}"#),
        (r#"{"a":["x"]}"#, r#"{"a":"y","a":"x"}"#),
        (r#"{"a":["x"]}"#, r#"{"a":"x","b":1,"a":"y","c":2,"a":"z"}"#),
        (r#"{"a":["x"],"b":["y"]}"#, r#"{"a":"x","b":"y","a":"q"}"#),
        (r#"{"a":{"b":["x"]},"c":["y"]}"#, r#"{"a":{"b":"x","b":"z"},"c":"y","a":{"b":["x"]}}"#),
        (r#"{"a":{"b":["x"]}}"#, r#"{"a":[{"b":"x"},{"b":"x","b":"y"}],"a":[{"b":"y"}]}"#),
        (r#"{"a":[{"exists":false}]}"#, r#"{"a":1,"a":{}}"#),
    ];
    for (pattern, event) in cases {
        let p = EventPattern::parse(pattern).expect("valid pattern");
        let set = PatternSet::new([&p]);
        assert_eq!(streamed(&set, event), parsed(&set, event), "{pattern} on {event}");
    }
    assert!(parsed(&PatternSet::new([&EventPattern::parse(crash.0).expect("valid")]), crash.1).is_empty());
}

/// `fuzz/fuzz_targets/envelope.rs`: a Kinesis batch whose record has an
/// `approximateArrivalTimestamp` with 19 decimals. `aws_lambda_events`'
/// `KinesisEvent` multiplied its fraction into nanoseconds and overflowed
/// (a panic in a debug build, a wrapped value in a release one). trailwatch
/// now reads only `kinesis.sequenceNumber` and `kinesis.data`.
#[test]
fn fuzz_kinesis_timestamp_with_many_decimals_does_not_panic() {
    let text = r#"{"Records": [{"kinesis": {"kilesisSchemaVersion": "1.0", "partitionKey": "p", "sequenceNumber": "1", "data": "H41U227cNhD9FzzDyg5ECQAA", "approximateArrivalTimestamp": 1.0333333633333333333}, "eventSource": "aws:kinesi1.0", "eventID": "", "ideA2N": "a"}]}"#;
    let (_, parts) = open(serde_json::from_str(text).expect("JSON")).expect("a Kinesis batch");
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].0.as_deref(), Some("1"));
    assert!(matches!(parts[0].1, Err(EnvelopeError::Gzip(_))), "the data is not gzip");

    // The same timestamp on a good record: its records are read.
    let records = real_records();
    let mut kinesis = encode::kinesis_event(&[records[..3].to_vec()], "g");
    kinesis["Records"][0]["kinesis"]["approximateArrivalTimestamp"] =
        serde_json::from_str("1.0333333633333333333").expect("number");
    let (_, batches) = decode(kinesis.clone()).expect("a Kinesis event");
    assert_eq!(batches[0].decoded.as_ref().expect("decoded").events.len(), 3);

    // A record's bad data fails that record; a record without a sequence
    // number (it could not be reported as failed) or without a `kinesis`
    // object refuses the batch, so that nothing is dropped unreported.
    let mut two = encode::kinesis_event(&[records[..3].to_vec(), records[3..5].to_vec()], "g");
    two["Records"][0]["kinesis"]["data"] = json!("not base64!");
    let (_, batches) = decode(two.clone()).expect("a Kinesis event");
    assert!(matches!(batches[0].decoded, Err(EnvelopeError::Base64(_))));
    assert_eq!(batches[1].decoded.as_ref().expect("decoded").events.len(), 2);
    let mut unnamed = two.clone();
    unnamed["Records"][1]["kinesis"].as_object_mut().expect("object").remove("sequenceNumber");
    let Err(err) = open(unnamed) else { panic!("a batch with an unnamed record must be refused") };
    assert!(err.to_string().contains("record 1 has no \"kinesis.sequenceNumber\""), "{err}");
    let s3_like = json!({"Records": [{"s3": {"bucket": {"name": "b"}}}]});
    assert!(matches!(open(s3_like), Err(EnvelopeError::Shape(_))));
}
