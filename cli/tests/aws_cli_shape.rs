//! `trailwatch test-event-pattern` and `test-metric-filter` answer like
//! `aws events test-event-pattern` and `aws logs test-metric-filter`:
//! the result as JSON on stdout and exit 0; an invalid pattern's reason on
//! stderr and a non-zero exit.

use std::process::Command;

use serde_json::{json, Value};

fn trailwatch(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch")).args(args).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let value = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), value, String::from_utf8_lossy(&out.stderr).to_string())
}

const EVENT: &str =
    r#"{"source": "aws.iam", "detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "CreateUser"}}"#;

#[test]
fn test_event_pattern_prints_the_result_like_the_aws_cli() {
    let (code, out, _) = trailwatch(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"detail": {"eventName": [{"prefix": "Create"}]}}"#,
        "--event",
        EVENT,
    ]);
    assert_eq!((code, out), (0, json!({"Result": true})));
    let (code, out, _) =
        trailwatch(&["test-event-pattern", "--event-pattern", r#"{"source": ["aws.s3"]}"#, "--event", EVENT]);
    assert_eq!((code, out), (0, json!({"Result": false})));
    // file:// arguments, as the AWS CLI takes them.
    let dir = std::env::temp_dir().join(format!("trailwatch-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (p, e) = (dir.join("p.json"), dir.join("e.json"));
    std::fs::write(&p, r#"{"source": ["aws.iam"]}"#).expect("write");
    std::fs::write(&e, EVENT).expect("write");
    let (code, out, _) = trailwatch(&[
        "test-event-pattern",
        "--event-pattern",
        &format!("file://{}", p.display()),
        "--event",
        &format!("file://{}", e.display()),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((code, out), (0, json!({"Result": true})));
}

#[test]
fn an_invalid_event_pattern_is_refused_with_its_reason() {
    let (code, out, err) = trailwatch(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"detail": {"eventName": [{"prefixx": "A"}]}}"#,
        "--event",
        EVENT,
    ]);
    assert_ne!(code, 0);
    assert_eq!(out, Value::Null, "nothing on stdout");
    assert!(err.contains("prefixx") && err.contains("detail.eventName[0]"), "{err}");
}

#[test]
fn test_metric_filter_lists_matching_messages_like_the_aws_cli() {
    let (code, out, _) = trailwatch(&[
        "test-metric-filter",
        "--filter-pattern",
        "{ $.eventName = \"ConsoleLogin\" }",
        "--log-event-messages",
        r#"{"eventName": "ListUsers"}"#,
        r#"{"eventName": "ConsoleLogin"}"#,
    ]);
    assert_eq!(code, 0);
    let matches = out["matches"].as_array().expect("matches");
    assert_eq!(matches.len(), 1, "{out}");
    assert_eq!(matches[0]["eventNumber"], 2, "event numbers count from 1 in the order given");
    assert_eq!(matches[0]["eventMessage"], r#"{"eventName": "ConsoleLogin"}"#);
    let (code, _, err) =
        trailwatch(&["test-metric-filter", "--filter-pattern", "{ $.a = ", "--log-event-messages", "x"]);
    assert_ne!(code, 0);
    assert!(!err.is_empty());
}
