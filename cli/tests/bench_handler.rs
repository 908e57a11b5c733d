//! `trailwatch bench-handler`: the handler over files of invocation bodies
//! (EventBridge, CloudWatch Logs, Kinesis), its last line one JSON object
//! whose counts are those of the bodies given.

use std::process::Command;

use serde_json::{json, Value};
use trailwatch_engine::encode;

/// A StopLogging call, after the CloudTrail record shape AWS documents.
fn stop(n: u32) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL9", "arn": "arn:aws:iam::111122223333:user/eve",
                         "accountId": "111122223333", "userName": "eve"},
        "eventTime": format!("2026-11-30T09:{:02}:00Z", n % 60), "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.30", "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": "management"}, "responseElements": null,
        "eventID": format!("4e5f6a70-0000-4000-8000-{n:012}"), "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

#[test]
fn the_last_line_counts_the_bodies_records_and_record_bytes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let records: Vec<Value> = (1..=30).map(stop).collect();
    let eventbridge: Vec<String> =
        records[..10].iter().map(|r| encode::eventbridge_event(r.clone()).expect("an event").to_string()).collect();
    let logs = encode::logs_payload(&records[10..20], "/aws/cloudtrail/bench").to_string();
    let kinesis = encode::kinesis_event(&[records[20..25].to_vec(), records[25..].to_vec()], "g").to_string();
    let file = dir.path().join("bodies.jsonl");
    std::fs::write(&file, format!("{}\n{logs}\n{kinesis}\n", eventbridge.join("\n"))).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["bench-handler", "--passes", "2"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(stdout.lines().last().expect("a last line")).expect("JSON");
    assert_eq!((last["bodies"].as_u64(), last["records"].as_u64()), (Some(12), Some(30)), "{last}");
    let record_bytes: usize = records.iter().map(|r| r.to_string().len()).sum();
    assert_eq!(last["bytes"].as_u64(), Some(record_bytes as u64), "the records' JSON, inflated");
    assert!(last["records_per_sec"].as_f64().is_some_and(|r| r > 0.0) && last["mib_per_sec"].is_number());
    assert_eq!(stdout.lines().filter(|l| l.starts_with("pass ")).count(), 2);
}

#[test]
fn a_gzipd_log_file_goes_through_the_s3_path_and_counts_its_records_and_inflated_bytes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let records: Vec<Value> = (1..=25).map(stop).collect();
    // As CloudTrail writes a log file to S3: `{"Records":[...]}`, gzip'd.
    let text = json!({"Records": records}).to_string();
    let file = dir.path().join("111122223333_CloudTrail_us-east-1_20261130T0900Z_bench.json.gz");
    std::fs::write(&file, encode::gzip(text.as_bytes())).expect("write");
    // And a file of bodies beside it: both kinds in one run.
    let bodies = dir.path().join("bodies.jsonl");
    let more: Vec<Value> = (26..=30).map(stop).collect();
    std::fs::write(&bodies, format!("{}\n", encode::logs_payload(&more, "/aws/cloudtrail/bench"))).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["bench-handler", "--passes", "2"])
        .arg(&file)
        .arg(&bodies)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(stdout.lines().last().expect("a last line")).expect("JSON");
    assert_eq!(
        (last["bodies"].as_u64(), last["log_files"].as_u64(), last["records"].as_u64()),
        (Some(1), Some(1), Some(30)),
        "{last}"
    );
    let body_bytes: usize = more.iter().map(|r| r.to_string().len()).sum();
    assert_eq!(last["bytes"].as_u64(), Some((text.len() + body_bytes) as u64), "the file's JSON once inflated");
    // StopLogging is an alert rule's event: the file's records were matched.
    assert!(last["alerts"].as_u64().is_some_and(|a| a > 0), "{last}");
    // Every pass reads the file again, with a fresh handler.
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("pass ") && l.ends_with(&format!("30 records, {} alerts", last["alerts"])))
            .count(),
        2,
        "{stdout}"
    );
}

#[test]
fn a_truncated_log_file_is_an_error_not_a_figure() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let text = json!({"Records": (1..=5).map(stop).collect::<Vec<_>>()}).to_string();
    let gz = encode::gzip(text.as_bytes());
    let file = dir.path().join("cut.json.gz");
    std::fs::write(&file, &gz[..gz.len() / 2]).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["bench-handler", "--passes", "1"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a readable CloudTrail log file"));
}
