//! Thresholds, distinct counts and ordered sequences give the same alerts
//! whatever the arrival order, through every delivery path (EventBridge one event at a time,
//! CloudWatch Logs payloads, Kinesis batches), with the in-memory store and
//! with DynamoDB (moto) alike: the handler in process, a memory sink.

use std::sync::atomic::AtomicI64;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use serde_json::{json, Value};
use trailwatch_aws::dynamodb::DynamoDb;
use trailwatch_engine::encode;
use trailwatch_engine::handler::{Clock, Handler};
use trailwatch_engine::metrics::Tally;
use trailwatch_engine::rules::{Rule, RuleSet};
use trailwatch_engine::sink::Memory;
use trailwatch_engine::state::{self, Store};
use trailwatch_tests::local::Moto;

const SWEEP: &str = r#"
id: sweep
title: One principal reads many secrets
description: test
severity: high
event_pattern: {detail: {eventName: [GetSecretValue]}}
action: alert
threshold: {count: 3, window: 5m, group_by: [userIdentity.arn], distinct: requestParameters.secretId}
"#;

const BURST: &str = r#"
id: burst
title: Many reads from one address
description: test
severity: medium
event_pattern: {detail: {eventName: [GetSecretValue]}}
action: alert
threshold: {count: 4, window: 5m, group_by: [sourceIPAddress]}
"#;

const STEPS: [(&str, &str); 3] = [("made", "CreateUser"), ("admin", "AttachUserPolicy"), ("keyed", "CreateAccessKey")];

const CHAIN: &str = r#"
id: chain
title: New user made admin and given a key
description: test
severity: high
action: alert
sequence: {within: 30m, group_by: [requestParameters.userName], ordered: true, steps: [made, admin, keyed]}
"#;

/// A step rule: counts its IAM call (a metric rule), feeding the chain.
fn step(id: &str, event_name: &str) -> String {
    format!("id: {id}\ntitle: {id}\ndescription: test\nseverity: low\naction: metric\nevent_pattern: {{detail: {{eventName: [{event_name}]}}}}\n")
}

/// An IAM call on `user` at 09:mm:ss, written after AWS's documented
/// record shape.
fn iam(event_name: &str, minute: u32, second: u32, user: &str, n: u32) -> Value {
    let mut r = read(minute, second, "", "203.0.113.77", n);
    r["eventSource"] = json!("iam.amazonaws.com");
    r["eventName"] = json!(event_name);
    r["requestParameters"] = json!({"userName": user});
    r
}

/// A GetSecretValue call, written after AWS's documented record shape.
fn read(minute: u32, second: u32, secret: &str, ip: &str, n: u32) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL5", "arn": "arn:aws:iam::111122223333:user/trent",
                         "accountId": "111122223333", "userName": "trent"},
        "eventTime": format!("2026-11-30T09:{minute:02}:{second:02}Z"), "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue", "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"secretId": secret}, "responseElements": null,
        "eventID": format!("5a9d7e21-0000-4000-8000-{n:012}"), "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

/// 09:00-09:05: four reads from one address of three secrets (both rules
/// fire); 09:05-09:10: three reads of one secret from three addresses
/// (neither); 09:10-09:15: four reads from a second address of one secret
/// (the burst only).
fn records() -> Vec<Value> {
    vec![
        read(0, 10, "db-password", "198.51.100.4", 1),
        read(1, 0, "api-key", "198.51.100.4", 2),
        read(2, 30, "db-password", "198.51.100.4", 3),
        read(4, 59, "signing-key", "198.51.100.4", 4),
        read(5, 0, "db-password", "198.51.100.5", 5),
        read(6, 0, "db-password", "198.51.100.6", 6),
        read(7, 0, "db-password", "198.51.100.7", 7),
        read(10, 0, "db-password", "203.0.113.8", 8),
        read(11, 0, "db-password", "203.0.113.8", 9),
        read(12, 0, "db-password", "203.0.113.8", 10),
        read(13, 0, "db-password", "203.0.113.8", 11),
        // The chain, in order within 30 minutes for ops-backup (one alert);
        // for reports the key came before the policy (none).
        iam("CreateUser", 2, 0, "ops-backup", 12),
        iam("AttachUserPolicy", 14, 0, "ops-backup", 13),
        iam("CreateAccessKey", 29, 59, "ops-backup", 14),
        iam("CreateUser", 3, 0, "reports", 15),
        iam("CreateAccessKey", 4, 0, "reports", 16),
        iam("AttachUserPolicy", 5, 0, "reports", 17),
    ]
}

fn orders() -> Vec<Vec<Value>> {
    let r = records();
    let mut reversed = r.clone();
    reversed.reverse();
    let mut rotated = r.clone();
    rotated.rotate_left(5);
    let interleaved: Vec<Value> = r.iter().step_by(2).chain(r.iter().skip(1).step_by(2)).cloned().collect();
    vec![r, reversed, rotated, interleaved]
}

/// The payloads a delivery path would bring these records in.
fn payloads(via: &str, records: &[Value]) -> Vec<Value> {
    match via {
        "eventbridge" => records.iter().map(|r| encode::eventbridge_event(r.clone()).expect("an event")).collect(),
        "logs" => records.chunks(3).map(|c| encode::logs_payload(c, "/aws/cloudtrail/management")).collect(),
        _ => vec![encode::kinesis_event(&records.chunks(2).map(<[Value]>::to_vec).collect::<Vec<_>>(), "g")],
    }
}

/// (rule, count) of each alert the test rules send, sorted.
async fn alerts<St: Store>(store: St, via: &str, records: &[Value]) -> Vec<(String, u64)> {
    let steps: Vec<String> = STEPS.iter().map(|(id, name)| step(id, name)).collect();
    let texts = [SWEEP, BURST, CHAIN].into_iter().chain(steps.iter().map(String::as_str));
    let rules = texts.map(|t| Rule::from_yaml("t.yaml", t).expect("valid")).collect();
    let h = Handler::new(RuleSet::new(rules), Memory::default(), Tally::default())
        .with_state(store, Clock::Watermark(AtomicI64::new(0)));
    for p in payloads(via, records) {
        h.handle(p).await.expect("handled");
    }
    let mut out: Vec<(String, u64)> = h.sink().take().into_iter().map(|a| (a.rule_id, a.count)).collect();
    out.sort();
    out
}

async fn dynamodb(endpoint: &str, table: &str) -> DynamoDb {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    DynamoDb::new(aws_sdk_dynamodb::Client::new(&sdk), table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_and_sequences_give_the_same_alerts_in_any_order_on_every_path_with_either_store() {
    let want =
        vec![("burst".to_string(), 4), ("burst".to_string(), 4), ("chain".to_string(), 3), ("sweep".to_string(), 3)];
    let moto = Moto::start().expect("moto_server (make venv)");
    let mut tables = 0;
    for via in ["eventbridge", "logs", "kinesis"] {
        for (i, order) in orders().iter().enumerate() {
            assert_eq!(alerts(state::Memory::default(), via, order).await, want, "memory, {via}, order {i}");
            tables += 1;
            let table = format!("trailwatch-state-{tables}");
            moto.state_table(&table).expect("a fresh state table");
            let store = dynamodb(&moto.endpoint(), &table).await;
            assert_eq!(alerts(store, via, order).await, want, "DynamoDB, {via}, order {i}");
        }
    }
}
