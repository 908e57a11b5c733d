//! The S3 function end to end on real parts: the real CloudTrail records of
//! `../shared` (read from there, never copied) written as gzip'd log files
//! under an organization trail's key layout in a moto S3 bucket, with a
//! digest file and hostile objects beside them; CloudTrail's delivery
//! notifications published to an SNS topic whose SQS queue receives them
//! (raw delivery off: the SNS envelope); the built `trailwatch-s3` binary
//! under cargo-lambda's runtime emulator, invoked with what reached the
//! queue; the alerts read back from the SNS subscriber queue. What must
//! arrive is what the library computes for the same files.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};
use trailwatch_engine::event::Event;
use trailwatch_engine::handler::detect;
use trailwatch_engine::rules::{self, RuleSet, Workspace};
use trailwatch_engine::s3::{read_records, FileKind};
use trailwatch_tests::local::{s3_ctl, Function, Moto};
use trailwatch_tests::{delivered, records, Tally};

const BUCKET: &str = "org-trail";
const DAY: &str = "AWSLogs/o-exampleorgid/111122223333/CloudTrail/us-east-1/2026/11/30";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("write to memory");
    e.finish().expect("finish in memory")
}

/// The events the library reads from a file's bytes (those before a fault).
fn events_of(bytes: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    let _ = read_records(bytes, "f", FileKind::Log, &mut |item| {
        if let Ok(e) = item {
            out.push(e)
        }
    });
    out
}

/// What the function sends for one file without a state table: its
/// matches' alerts, identical ones merged.
fn expect(rules: &RuleSet, bytes: &[u8], want: &mut Tally) {
    let events = events_of(bytes);
    for a in detect(rules, &events, &mut Workspace::default()).alerts() {
        *want.entry((a.rule_id.clone(), a.event_id.clone().unwrap_or_default())).or_default() += 1;
    }
}

fn put(dir: &Path, key: &str, bytes: &[u8]) {
    let path = dir.join(key);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn the_s3_function_reads_delivered_log_files_end_to_end() {
    let all = records().expect("the shared records");
    let moto = Moto::start().expect("moto");
    let endpoint = moto.endpoint();
    s3_ctl(&["bucket", &endpoint, BUCKET]).expect("bucket");
    let dir = std::env::temp_dir().join(format!("trailwatch-s3-e2e-{}", moto.port));
    let _ = std::fs::remove_dir_all(&dir);
    let rules = RuleSet::new(rules::load(None).expect("rules"));
    let mut want = Tally::new();
    let mut keys = Vec::new();
    for (i, chunk) in all.chunks(300).enumerate() {
        let key = format!("{DAY}/111122223333_CloudTrail_us-east-1_20261130T{:04}Z_f{i:02}.json.gz", i * 5);
        let bytes = gzip(json!({ "Records": chunk }).to_string().as_bytes());
        expect(&rules, &bytes, &mut want);
        put(&dir, &key, &bytes);
        keys.push(key);
    }
    // A digest file (skipped), after the digest shape of the CloudTrail
    // User Guide ("CloudTrail digest file structure").
    let digest = "AWSLogs/o-exampleorgid/111122223333/CloudTrail-Digest/us-east-1/2026/11/30/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20261130T0100Z.json.gz";
    let digest_body = json!({"awsAccountId": "111122223333", "digestStartTime": "2026-11-30T00:00:00Z",
        "digestEndTime": "2026-11-30T01:00:00Z", "digestS3Bucket": BUCKET, "digestS3Object": digest,
        "digestPublicKeyFingerprint": "0123", "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": "2026-11-30T00:59:00Z", "oldestEventTime": "2026-11-30T00:00:00Z",
        "previousDigestS3Bucket": null, "previousDigestS3Object": null, "previousDigestHashValue": null,
        "previousDigestHashAlgorithm": null, "previousDigestSignature": null,
        "logFiles": [{"s3Bucket": BUCKET, "s3Object": keys[0], "hashValue": "00", "hashAlgorithm": "SHA-256",
                      "newestEventTime": "2026-11-30T00:59:00Z", "oldestEventTime": "2026-11-30T00:00:00Z"}]});
    put(&dir, digest, &gzip(digest_body.to_string().as_bytes()));
    // Hostile objects: a truncated gzip (its records before the cut count),
    // JSON that is not CloudTrail, and one deleted before it is read.
    let full = gzip(json!({ "Records": &all[..300] }).to_string().as_bytes());
    let truncated_bytes = &full[..full.len() / 3];
    expect(&rules, truncated_bytes, &mut want);
    let truncated = format!("{DAY}/111122223333_CloudTrail_us-east-1_20261130T2300Z_truncated.json.gz");
    put(&dir, &truncated, truncated_bytes);
    let foreign = format!("{DAY}/111122223333_CloudTrail_us-east-1_20261130T2305Z_foreign.json.gz");
    put(&dir, &foreign, &gzip(br#"{"Items": [{"id": 1}], "NextToken": null}"#));
    let missing = format!("{DAY}/111122223333_CloudTrail_us-east-1_20261130T2310Z_missing.json.gz");
    put(&dir, &missing, &gzip(b"{\"Records\": []}"));
    s3_ctl(&["upload", &endpoint, BUCKET, &dir.to_string_lossy()]).expect("upload");
    s3_ctl(&["delete", &endpoint, BUCKET, &missing]).expect("delete");
    let _ = std::fs::remove_dir_all(&dir);

    let function = Function::start(
        "trailwatch-s3",
        &[("TRAILWATCH_TOPIC_ARN", moto.topic.clone()), ("AWS_ENDPOINT_URL", endpoint.clone())],
    )
    .expect("the S3 function");
    let mut deliver = vec!["deliver", &endpoint, BUCKET];
    deliver.extend(keys.iter().map(String::as_str));
    deliver.extend([digest, truncated.as_str(), foreign.as_str(), missing.as_str()]);
    let out = s3_ctl(&deliver).expect("deliver");
    let events: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("an SQS event")).collect();
    let messages: usize = events.iter().map(|e| e["Records"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(messages, keys.len() + 4, "one delivery notification per file reached the queue");
    let body: Value = serde_json::from_str(events[0]["Records"][0]["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(body["Type"], "Notification", "the SNS envelope, as SNS delivers to SQS without raw delivery");
    for event in &events {
        let response = function.invoke(event).expect("invoke").expect("the invocation succeeds");
        assert_eq!(response, json!({"batchItemFailures": []}), "nothing to retry: {response}");
    }
    let alerts = moto.drain().expect("drain");
    assert!(want.len() > 20, "the files raise alerts: {}", want.len());
    assert_eq!(delivered(&alerts), want, "every expected alert, no other");

    // A message naming a bucket that is not there is retried alone
    // (partial batch response through the emulator).
    let raw = |id: &str, bucket: &str, key: &str| {
        json!({"messageId": id, "receiptHandle": "r", "body": json!({"s3Bucket": bucket, "s3ObjectKey": [key]}).to_string(),
               "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
               "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:trailwatch-s3", "awsRegion": "us-east-1"})
    };
    let batch = json!({"Records": [raw("m-gone", "no-such-bucket", &keys[0]), raw("m-ok", BUCKET, &keys[1])]});
    let response = function.invoke(&batch).expect("invoke").expect("answered");
    assert_eq!(response, json!({"batchItemFailures": [{"itemIdentifier": "m-gone"}]}));
    let again = moto.drain().expect("drain");
    assert!(!again.is_empty(), "without a state table a re-read file alerts again (the template always sets one)");

    // The EMF metrics: every record of the good files, and the truncated
    // file's before the cut; the three hostile objects counted.
    let emf = function.stdout();
    let sum = |name: &str| -> u64 {
        emf.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v.get(name).and_then(Value::as_u64))
            .sum()
    };
    let truncated_records = events_of(truncated_bytes).len() as u64;
    assert_eq!(sum("Records"), all.len() as u64 + truncated_records + 300, "Records metric");
    assert!(sum("Malformed") >= 3, "truncated, foreign and missing objects counted: {}", sum("Malformed"));
}

/// (rule id, event id) of each alert line `trailwatch replay` printed.
fn pairs(stdout: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("an alert line");
            (v["rule_id"].as_str().unwrap_or_default().into(), v["event_id"].as_str().unwrap_or_default().into())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn replay_from_s3_gives_the_pairs_of_the_local_replay() {
    let all = records().expect("the shared records");
    let moto = Moto::start().expect("moto");
    let endpoint = moto.endpoint();
    s3_ctl(&["bucket", &endpoint, BUCKET]).expect("bucket");
    let dir = std::env::temp_dir().join(format!("trailwatch-s3-replay-{}", moto.port));
    let _ = std::fs::remove_dir_all(&dir);
    for (i, chunk) in all.chunks(250).enumerate() {
        let key = format!("{DAY}/111122223333_CloudTrail_us-east-1_20261130T{:04}Z_r{i:02}.json.gz", i * 5);
        put(&dir, &key, &gzip(json!({ "Records": chunk }).to_string().as_bytes()));
    }
    s3_ctl(&["upload", &endpoint, BUCKET, &dir.to_string_lossy()]).expect("upload");
    let bin = trailwatch_tests::local::target_dir().expect("target").join("trailwatch");
    let replay = |args: &[&str]| {
        let out = std::process::Command::new(&bin)
            .args(["replay"])
            .args(args)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .expect("trailwatch replay runs");
        assert!(out.status.success(), "replay {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        pairs(&out.stdout)
    };
    // Locally through the logs path: one batch per file, as the S3 path
    // matches one file at a time (the EventBridge path's one event per
    // batch merges within-batch matches differently: engine semantics).
    let local = replay(&[&dir.to_string_lossy(), "--via", "logs"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(local.len() > 20, "the records raise alerts: {}", local.len());
    let url = format!("s3://{BUCKET}/AWSLogs/");
    assert_eq!(replay(&[&url, "--concurrency", "4"]), local, "replay s3:// = the local replay of the same files");
    let org = format!("s3://{BUCKET}/AWSLogs/o-exampleorgid/");
    let narrowed = [
        org.as_str(),
        "--account",
        "111122223333",
        "--region",
        "us-east-1",
        "--since",
        "2026-11-29",
        "--until",
        "2026-11-30",
    ];
    assert_eq!(replay(&narrowed), local, "filters mapped to day prefixes");
    assert!(replay(&[&org, "--account", "111122223333", "--region", "eu-west-1"]).is_empty(), "another region");
    assert!(replay(&[&url, "--since", "2026-12-01"]).is_empty(), "a later day");

    // Backfill: one message per log file on the S3 function's queue, in
    // the shape the function reads.
    let out = s3_ctl(&["queue", &endpoint, "trailwatch-s3-backfill"]).expect("queue");
    let queue = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let status = std::process::Command::new(&bin)
        .args(["backfill", &url, "--queue", &queue])
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("trailwatch backfill runs");
    assert!(status.status.success(), "backfill: {}", String::from_utf8_lossy(&status.stderr));
    let out = s3_ctl(&["receive", &endpoint, &queue]).expect("receive");
    let mut keys: Vec<String> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let event: Value = serde_json::from_str(line).expect("an SQS event");
        for m in event["Records"].as_array().expect("records") {
            let objects = trailwatch_engine::s3::notification(m["body"].as_str().expect("a body")).expect("readable");
            keys.extend(objects.into_iter().map(|o| o.key));
        }
    }
    keys.sort();
    assert_eq!(keys.len(), all.len().div_ceil(250), "one message per log file");
    assert!(keys.iter().all(|k| k.starts_with(DAY)), "{keys:?}");
}
