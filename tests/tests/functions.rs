//! Both functions end to end on real parts: the built binaries run under
//! cargo-lambda's runtime emulator (the real Lambda runtime client), publish
//! to a moto server standing in for SNS (through `AWS_ENDPOINT_URL`), and the
//! alerts are read back from an SQS queue subscribed to the topic. The
//! records are the project's real CloudTrail records; what must arrive is
//! what the library computes for them.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use trailwatch_engine::encode;
use trailwatch_engine::event::Event;
use trailwatch_engine::handler::detect;
use trailwatch_engine::rules::{self, RuleSet, Workspace};
use trailwatch_tests::local::{Function, Moto};
use trailwatch_tests::{delivered, eventbridge_events, records, Tally};

fn expected(rules: &RuleSet, events: &[Event], ws: &mut Workspace, tally: &mut Tally) -> usize {
    let alerts = detect(rules, events, ws).alerts();
    for a in &alerts {
        *tally.entry((a.rule_id.clone(), a.event_id.clone().unwrap_or_default())).or_default() += 1;
    }
    alerts.len()
}

fn decode_one(value: Value) -> Event {
    Event::from_eventbridge(value).expect("an EventBridge event")
}

#[test]
fn both_functions_deliver_every_alert_and_fail_when_sns_is_down() {
    let mut moto = Moto::start().expect("moto");
    let env = [("TRAILWATCH_TOPIC_ARN", moto.topic.clone()), ("AWS_ENDPOINT_URL", moto.endpoint())];
    let eb = Function::start("trailwatch-eventbridge", &env).expect("EventBridge function");
    let logs = Function::start("trailwatch-logs", &env).expect("logs function");
    let rules = RuleSet::new(rules::load(None).expect("rules"));
    let mut ws = Workspace::default();

    // 1. The EventBridge function, one invocation per event: the 310 Stratus
    //    detonation records (the generator writes them after the 2,900
    //    Invictus ones).
    let events = eventbridge_events().expect("events");
    let stratus = &events[2900..];
    let mut want = Tally::new();
    for e in stratus {
        expected(&rules, &[decode_one(e.clone())], &mut ws, &mut want);
        let response = eb.invoke(e).expect("invoke").expect("the invocation succeeds");
        assert_eq!(response["records"], 1, "{response}");
    }
    let messages = moto.drain().expect("drain");
    assert!(want.len() >= 20, "the detonations raise alerts: {want:?}");
    assert_eq!(delivered(&messages), want, "EventBridge function: every expected alert, no other");
    for m in &messages {
        let subject = m["Subject"].as_str().expect("a subject");
        assert!(!subject.is_empty() && subject.len() < 100, "{subject}");
        for attr in ["severity", "rule_id", "account", "region", "event_name"] {
            assert!(m["MessageAttributes"][attr]["Value"].is_string(), "attribute {attr} in {m}");
        }
    }
    let emf = eb.stdout();
    let totals: u64 = emf
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("Records").and_then(Value::as_u64))
        .sum();
    assert_eq!(totals, 310, "EMF Records metric over all invocations");
    for (rule, _) in want.keys() {
        assert!(emf.contains(&format!("\"RuleId\":\"{rule}\"")), "EMF Matches metric for {rule}");
    }

    // 2. The logs function: all 3,210 records in subscription payloads of
    //    500, and one payload with a malformed message among good ones.
    let all = records().expect("records");
    let mut want = Tally::new();
    let mut total_alerts = 0;
    for chunk in all.chunks(500) {
        let payload = encode::logs_payload(chunk, "/aws/cloudtrail/trailwatch");
        let events: Vec<Event> = chunk.iter().filter_map(|r| Event::from_record(r.clone()).ok()).collect();
        total_alerts += expected(&rules, &events, &mut ws, &mut want);
        let response = logs.invoke(&payload).expect("invoke").expect("the invocation succeeds");
        assert_eq!(response["records"], chunk.len(), "{response}");
    }
    assert_eq!(delivered(&moto.drain().expect("drain")), want, "logs function: every expected alert");
    assert!(total_alerts > 0);
    let bad = json!({"awslogs": {"data": {
        // A base64 gzip payload whose second message is not a record.
        "placeholder": true
    }}});
    assert!(logs.invoke(&bad).expect("invoke").is_err(), "a payload that is not a logs payload fails loudly");
    let mixed = &all[2900..2960];
    let mut with_junk: Vec<Value> = mixed.to_vec();
    with_junk.insert(5, json!("not a record"));
    let response = logs
        .invoke(&encode::logs_payload(&with_junk, "g"))
        .expect("invoke")
        .expect("a malformed record does not fail the batch");
    assert_eq!((response["records"].as_u64(), response["malformed"].as_u64()), (Some(60), Some(1)), "{response}");
    moto.drain().expect("drain");

    // 3. Kinesis: a corrupt stream record is reported, not retried, and
    //    does not stop the others.
    let chunks: Vec<Vec<Value>> = all[2900..].chunks(100).map(<[Value]>::to_vec).collect();
    let mut kinesis = encode::kinesis_event(&chunks, "g");
    kinesis["Records"][1]["kinesis"]["data"] = json!("bm90IGd6aXA="); // "not gzip"
    let mut want = Tally::new();
    for (i, c) in chunks.iter().enumerate() {
        if i != 1 {
            let events: Vec<Event> = c.iter().filter_map(|r| Event::from_record(r.clone()).ok()).collect();
            expected(&rules, &events, &mut ws, &mut want);
        }
    }
    let response = logs.invoke(&kinesis).expect("invoke").expect("Kinesis answers with a batch response");
    assert_eq!(response, json!({"batchItemFailures": []}));
    assert_eq!(delivered(&moto.drain().expect("drain")), want, "Kinesis: every expected alert");

    // 4. SNS down mid-run: the EventBridge invocation fails (AWS retries
    //    it), the Kinesis batch reports every item that had alerts.
    let alerting: Vec<&Value> =
        stratus.iter().filter(|e| !rules.evaluate(&decode_one((*e).clone()), &mut ws).is_empty()).take(3).collect();
    let port = moto.port;
    moto.stop();
    for e in &alerting {
        let err = eb.invoke(e).expect("invoke").expect_err("the invocation must fail so AWS retries it");
        assert!(err.contains("not delivered") || err.contains("Delivery"), "{err}");
    }
    let kinesis = encode::kinesis_event(&chunks, "g");
    let response = logs.invoke(&kinesis).expect("invoke").expect("a batch response");
    let failed: Vec<&str> = response["batchItemFailures"]
        .as_array()
        .expect("failures")
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str())
        .collect();
    let with_alerts: Vec<String> = chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            let events: Vec<Event> = c.iter().filter_map(|r| Event::from_record(r.clone()).ok()).collect();
            !detect(&rules, &events, &mut ws).alerts().is_empty()
        })
        .map(|(i, _)| format!("{:056}", i + 1))
        .collect();
    assert!(!with_alerts.is_empty());
    assert_eq!(failed, with_alerts, "every Kinesis item whose alerts were not delivered is reported");

    // 5. AWS retries once SNS is back: every alert arrives; none was lost.
    let moto = Moto::start_on(port).expect("moto again");
    let mut want = Tally::new();
    for e in &alerting {
        expected(&rules, &[decode_one((*e).clone())], &mut ws, &mut want);
        eb.invoke(e).expect("invoke").expect("the retry succeeds");
    }
    assert_eq!(delivered(&moto.drain().expect("drain")), want, "retried alerts arrive");
    let emf = eb.stdout();
    assert!(emf.contains("\"DeliveryFailures\":1"), "failed deliveries are counted");
}

/// A StopLogging call, written after the CloudTrail record shape AWS
/// documents.
fn stop_logging(n: u32, minute: u32) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL4", "arn": "arn:aws:iam::111122223333:user/eve",
                         "accountId": "111122223333", "userName": "eve"},
        "eventTime": format!("2026-11-30T09:{minute:02}:00Z"), "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.30", "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": "management"}, "responseElements": null,
        "eventID": format!("3f2b9c10-0000-4000-8000-{n:012}"), "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

/// With `TRAILWATCH_STATE_TABLE` (moto's DynamoDB): an invocation AWS
/// retries, and the same actor stopping logging again within the hour,
/// send one alert; the rest is counted as suppressed.
#[test]
fn with_a_state_table_retries_and_repeats_send_one_alert() {
    let moto = Moto::start().expect("moto");
    moto.state_table("trailwatch-state").expect("the state table");
    let env = [
        ("TRAILWATCH_TOPIC_ARN", moto.topic.clone()),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("TRAILWATCH_STATE_TABLE", "trailwatch-state".to_string()),
    ];
    let eb = Function::start("trailwatch-eventbridge", &env).expect("EventBridge function");
    let first = encode::eventbridge_event(stop_logging(1, 5)).expect("an event");
    for _ in 0..3 {
        eb.invoke(&first).expect("invoke").expect("the invocation succeeds");
    }
    let later = encode::eventbridge_event(stop_logging(2, 40)).expect("an event");
    eb.invoke(&later).expect("invoke").expect("the invocation succeeds");
    let delivered = delivered(&moto.drain().expect("drain"));
    let stops: Vec<_> = delivered.keys().filter(|(rule, _)| rule == "cloudtrail-logging-stopped").collect();
    assert_eq!(stops.len(), 1, "{delivered:?}");
    assert_eq!(delivered.values().filter(|n| **n > 1).count(), 0, "nothing delivered twice: {delivered:?}");
    let suppressed: u64 = eb
        .stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("Suppressed").and_then(Value::as_u64))
        .sum();
    assert!(suppressed >= 3, "the two retries and the repeat are counted: {suppressed}");
}

/// The EventBridge function with SigmaHQ's CloudTrail rules in
/// `TRAILWATCH_RULES_DIR` (read from ../shared/sigma): the Stratus
/// detonations raise alerts under the Sigma rules' ids, each keeping its
/// rule's author (Detection Rule License 1.1), exactly as the library
/// computes them.
#[test]
fn the_eventbridge_function_runs_sigma_rules_from_its_rules_directory() {
    let sigma_dir = trailwatch_tests::shared().expect("the shared folder").join("sigma/rules");
    let moto = Moto::start().expect("moto");
    let env = [
        ("TRAILWATCH_TOPIC_ARN", moto.topic.clone()),
        ("AWS_ENDPOINT_URL", moto.endpoint()),
        ("TRAILWATCH_RULES_DIR", sigma_dir.display().to_string()),
    ];
    let eb = Function::start("trailwatch-eventbridge", &env).expect("EventBridge function");
    let loaded = rules::load(Some(&sigma_dir)).expect("the Sigma rules load");
    let sigma: BTreeMap<String, Option<String>> =
        loaded.iter().filter(|r| r.origin.ends_with(".yml")).map(|r| (r.id.clone(), r.author.clone())).collect();
    assert_eq!(sigma.len(), 57, "every SigmaHQ CloudTrail rule of rules/ loads");
    let rules = RuleSet::new(loaded);
    let mut ws = Workspace::default();
    let mut want = Tally::new();
    for e in &eventbridge_events().expect("events")[2900..] {
        expected(&rules, &[decode_one(e.clone())], &mut ws, &mut want);
        eb.invoke(e).expect("invoke").expect("the invocation succeeds");
    }
    let messages = moto.drain().expect("drain");
    assert_eq!(delivered(&messages), want, "every expected alert, Sigma rules' included");
    let mut from_sigma = 0;
    for m in &messages {
        let alert: Value = serde_json::from_str(m["Message"].as_str().expect("a message")).expect("the JSON alert");
        let Some(author) = sigma.get(alert["rule_id"].as_str().unwrap_or_default()) else { continue };
        from_sigma += 1;
        assert_eq!(alert["author"].as_str(), author.as_deref(), "the Sigma rule's author is kept: {alert}");
    }
    assert!(from_sigma >= 10, "the detonations set off Sigma rules: {from_sigma}");
}
