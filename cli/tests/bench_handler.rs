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
