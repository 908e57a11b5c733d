//! One verdict whichever path: for every real record, every rule (the
//! built-in pack and the 1,000 standard benchmark patterns) gives the same
//! verdict whether the record arrives as an EventBridge event (as AWS wraps
//! it, written by the independent generator), as a CloudWatch Logs
//! subscription payload, through Kinesis, or in a gzip'd log file that
//! CloudTrail delivered to S3 (read by the S3 function's streaming reader).

use serde_json::Value;
use trailwatch_engine::encode;
use trailwatch_engine::event::Event;
use trailwatch_engine::handler::decode;
use trailwatch_engine::pattern::{EventPattern, PatternSet};
use trailwatch_engine::rules::{self, RuleSet, Workspace};
use trailwatch_engine::s3::{read_records, FileKind};
use trailwatch_tests::{bench_patterns, eventbridge_events, records};

/// Events out of a payload, through the functions' own decoder.
fn decoded(payload: Value) -> Vec<Event> {
    let (_, batches) = decode(payload).expect("payload decodes");
    batches
        .into_iter()
        .flat_map(|b| {
            let d = b.decoded.expect("batch decodes");
            assert!(d.malformed.is_empty(), "malformed: {:?}", d.malformed);
            d.events
        })
        .collect()
}

/// Events out of gzip'd S3 log files of these records, through the S3
/// path's streaming reader.
fn from_s3_files(records: &[Value]) -> Vec<Event> {
    let mut events = Vec::new();
    for chunk in records.chunks(300) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, serde_json::json!({ "Records": chunk }).to_string().as_bytes())
            .expect("write to memory");
        let bytes = gz.finish().expect("finish in memory");
        read_records(&bytes[..], "file", FileKind::Log, &mut |item| events.push(item.expect("a record")))
            .expect("the file reads");
    }
    events
}

#[test]
fn every_rule_gives_one_verdict_on_every_record_whichever_path() {
    let records = records().expect("records");
    assert_eq!(records.len(), 3210);
    let eb: Vec<Event> = eventbridge_events().expect("events").into_iter().flat_map(decoded).collect();
    let logs: Vec<Event> = records.chunks(400).flat_map(|c| decoded(encode::logs_payload(c, "g"))).collect();
    let chunks: Vec<Vec<Value>> = records.chunks(250).map(<[Value]>::to_vec).collect();
    let kinesis = decoded(encode::kinesis_event(&chunks, "g"));
    let s3 = from_s3_files(&records);
    assert_eq!((eb.len(), logs.len(), kinesis.len(), s3.len()), (3210, 3210, 3210, 3210));

    let builtin = RuleSet::new(rules::load(None).expect("built-in rules"));
    let patterns: Vec<EventPattern> =
        bench_patterns(1000).expect("patterns").iter().map(|p| EventPattern::from_value(p).expect("valid")).collect();
    let set = PatternSet::new(&patterns);
    let mut ws = Workspace::default();
    let mut verdicts = 0usize;
    let mut matched = 0usize;
    for i in 0..3210 {
        let (a, b, c, d) = (&eb[i], &logs[i], &kinesis[i], &s3[i]);
        assert_eq!(a.detail(), b.detail(), "record {i}: the same record on both paths");
        assert_eq!(a.detail(), d.detail(), "record {i}: the same record from S3");
        // The envelope AWS gives and the one trailwatch builds agree on
        // every field a pattern can use (id aside: AWS's is random).
        for field in ["version", "detail-type", "source", "account", "time", "region", "resources"] {
            assert_eq!(a.value()[field], b.value()[field], "record {i}: envelope field {field}");
            assert_eq!(a.value()[field], d.value()[field], "record {i}: envelope field {field} (S3)");
        }
        let ids =
            |e: &Event, ws: &mut Workspace| builtin.evaluate(e, ws).iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let va = ids(a, &mut ws);
        assert_eq!(va, ids(b, &mut ws), "record {i}: built-in rules, EventBridge vs logs");
        assert_eq!(va, ids(c, &mut ws), "record {i}: built-in rules, EventBridge vs Kinesis");
        assert_eq!(va, ids(d, &mut ws), "record {i}: built-in rules, EventBridge vs S3 files");
        let pa = set.matches(a.value());
        assert_eq!(pa, set.matches(b.value()), "record {i}: patterns, EventBridge vs logs");
        assert_eq!(pa, set.matches(c.value()), "record {i}: patterns, EventBridge vs Kinesis");
        assert_eq!(pa, set.matches(d.value()), "record {i}: patterns, EventBridge vs S3 files");
        verdicts += builtin.rules().len() + patterns.len();
        matched += pa.len() + va.len();
    }
    // The equivalence is not vacuous: rules do match.
    assert!(matched > 19_000, "only {matched} matches");
    eprintln!("{verdicts} verdicts compared on 4 paths, {matched} matches");
}
