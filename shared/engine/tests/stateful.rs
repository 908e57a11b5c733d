//! The stateful layer through the handler, with in-memory state: dedup per
//! key and period of event time, exactly-once alerts across retries,
//! thresholds and distinct counts that give the same alerts whatever the
//! arrival order, and late records dropped with a count.

use std::sync::atomic::AtomicI64;

use serde_json::{json, Value};
use trailwatch_engine::encode;
use trailwatch_engine::handler::{Clock, Handler, Response};
use trailwatch_engine::metrics::Tally;
use trailwatch_engine::rules::{self, Rule, RuleSet};
use trailwatch_engine::sink::Memory;
use trailwatch_engine::state;

/// A CloudTrail record written after AWS's documented shape.
fn record(event_name: &str, time: &str, region: &str, ip: &str, n: u32, params: Value) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL3", "arn": "arn:aws:iam::111122223333:user/mallory",
                         "accountId": "111122223333", "userName": "mallory"},
        "eventTime": time, "eventSource": "cloudtrail.amazonaws.com", "eventName": event_name, "awsRegion": region,
        "sourceIPAddress": ip, "userAgent": "aws-cli/2.15.0", "requestParameters": params, "responseElements": null,
        "eventID": format!("7e1c0a55-0000-4000-8000-{n:012}"), "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

fn stop(time: &str, region: &str, n: u32) -> Value {
    record("StopLogging", time, region, "203.0.113.9", n, json!({"name": "management"}))
}

type Stateful = Handler<Memory, Tally, state::Memory>;

fn handler(extra: &[&str]) -> Stateful {
    let mut all = rules::load(None).expect("the pack");
    for (i, text) in extra.iter().enumerate() {
        all.push(Rule::from_yaml(&format!("test:{i}.yaml"), text).expect("a valid rule"));
    }
    Handler::new(RuleSet::new(all), Memory::default(), Tally::default())
        .with_state(state::Memory::default(), Clock::Watermark(AtomicI64::new(0)))
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(f)
}

fn logs(records: &[Value]) -> Value {
    encode::logs_payload(records, "/aws/cloudtrail/management")
}

fn rule_ids(h: &Stateful) -> Vec<(String, u64)> {
    h.sink().take().into_iter().map(|a| (a.rule_id, a.count)).collect()
}

#[test]
fn one_alert_per_rule_actor_account_region_and_hour() {
    let h = handler(&[]);
    let batch = [
        stop("2026-11-30T09:05:00Z", "us-east-1", 1),
        stop("2026-11-30T09:50:00Z", "us-east-1", 2),
        stop("2026-11-30T09:20:00Z", "eu-west-1", 3),
    ];
    run(h.handle(logs(&batch))).expect("handled");
    let first = rule_ids(&h);
    let stops: Vec<_> = first.iter().filter(|(r, _)| r == "cloudtrail-logging-stopped").collect();
    assert_eq!(stops.len(), 2, "one per region: {first:?}");
    // Later in the same hour, another batch: counted, not sent.
    run(h.handle(logs(&[stop("2026-11-30T09:55:00Z", "us-east-1", 4)]))).expect("handled");
    assert!(!rule_ids(&h).iter().any(|(r, _)| r == "cloudtrail-logging-stopped"));
    assert!(h.metrics().counts().suppressed >= 1);
    // The next hour: a new alert.
    run(h.handle(logs(&[stop("2026-11-30T10:01:00Z", "us-east-1", 5)]))).expect("handled");
    assert!(rule_ids(&h).iter().any(|(r, _)| r == "cloudtrail-logging-stopped"));
}

#[test]
fn a_retried_invocation_sends_nothing_twice() {
    let h = handler(&[]);
    let payload = logs(&[stop("2026-11-30T09:05:00Z", "us-east-1", 1), stop("2026-11-30T09:06:00Z", "us-east-1", 2)]);
    run(h.handle(payload.clone())).expect("handled");
    let sent = rule_ids(&h);
    assert!(!sent.is_empty());
    run(h.handle(payload)).expect("the retry");
    assert_eq!(rule_ids(&h), vec![], "nothing sent again");
}

#[test]
fn an_alert_the_sink_refused_is_sent_once_by_the_retry() {
    let h = handler(&[]);
    let payload = logs(&[stop("2026-11-30T09:05:00Z", "us-east-1", 1)]);
    h.sink().set_refusing(true);
    assert!(run(h.handle(payload.clone())).is_err(), "the invocation fails so that AWS retries it");
    h.sink().set_refusing(false);
    run(h.handle(payload.clone())).expect("the retry");
    let sent = rule_ids(&h);
    assert_eq!(sent.iter().filter(|(r, _)| r == "cloudtrail-logging-stopped").count(), 1, "{sent:?}");
    run(h.handle(payload)).expect("a third delivery");
    assert!(rule_ids(&h).is_empty());
}

const SWEEP: &str = r#"
id: secrets-sweep-test
title: One principal reads many secrets
description: test
severity: high
event_pattern: {detail: {eventName: [GetSecretValue]}}
action: alert
threshold: {count: 3, window: 5m, group_by: [userIdentity.arn], distinct: requestParameters.secretId}
"#;

const BURST: &str = r#"
id: burst-test
title: Many calls from one address
description: test
severity: medium
event_pattern: {detail: {eventName: [GetSecretValue]}}
action: alert
threshold: {count: 4, window: 5m, group_by: [sourceIPAddress]}
"#;

fn secret(minute: u32, second: u32, secret: &str, n: u32) -> Value {
    let mut r = record(
        "GetSecretValue",
        &format!("2026-11-30T09:{minute:02}:{second:02}Z"),
        "us-east-1",
        "198.51.100.4",
        n,
        json!({"secretId": secret}),
    );
    r["eventSource"] = json!("secretsmanager.amazonaws.com");
    r
}

/// The alerts of the two threshold rules for these records, delivered one
/// record per EventBridge invocation in this order.
fn threshold_alerts(records: &[Value]) -> Vec<(String, u64, Vec<String>)> {
    let h = handler(&[SWEEP, BURST]);
    for r in records {
        let event = encode::eventbridge_event(r.clone()).expect("an event");
        assert!(matches!(run(h.handle(event)), Ok(Response::Summary(_))));
    }
    let mut out: Vec<(String, u64, Vec<String>)> = h
        .sink()
        .take()
        .into_iter()
        .filter(|a| a.rule_id.ends_with("-test"))
        .map(|a| {
            let mut ids = a.event_ids.clone();
            ids.sort();
            (a.rule_id, a.count, ids)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn thresholds_and_distinct_counts_give_the_same_alerts_in_any_order() {
    // 09:00-09:05: four reads from one address of three different secrets
    // (both rules fire); 09:05-09:10: three reads of one secret (neither).
    let records = vec![
        secret(0, 10, "db-password", 1),
        secret(1, 0, "api-key", 2),
        secret(2, 30, "db-password", 3),
        secret(4, 59, "signing-key", 4),
        secret(5, 0, "db-password", 5),
        secret(6, 0, "db-password", 6),
        secret(7, 0, "db-password", 7),
    ];
    let ordered = threshold_alerts(&records);
    assert_eq!(ordered.iter().map(|(r, ..)| r.as_str()).collect::<Vec<_>>(), vec!["burst-test", "secrets-sweep-test"]);
    // The sweep alerted when its third distinct secret arrived; whatever
    // the order, the same window and group alert once.
    let mut reversed = records.clone();
    reversed.reverse();
    let mut rotated = records.clone();
    rotated.rotate_left(3);
    let interleaved: Vec<Value> = records.iter().step_by(2).chain(records.iter().skip(1).step_by(2)).cloned().collect();
    for shuffled in [reversed, rotated, interleaved] {
        let got = threshold_alerts(&shuffled);
        assert_eq!(
            got.iter().map(|(r, ..)| r.as_str()).collect::<Vec<_>>(),
            vec!["burst-test", "secrets-sweep-test"],
            "{got:?}"
        );
        assert_eq!(got[0], ordered[0], "the burst: the window's four records, whatever the order");
        assert_eq!(got[1].1, 3, "the sweep: three distinct secrets");
    }
    let first_window: Vec<String> =
        records[..4].iter().map(|r| r["eventID"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!((ordered[0].1, &ordered[0].2), (4, &first_window));
}

#[test]
fn a_threshold_match_whose_window_closed_long_ago_is_dropped_and_counted() {
    let h = Handler::new(
        RuleSet::new(vec![Rule::from_yaml("burst.yaml", BURST).expect("valid")]),
        Memory::default(),
        Tally::default(),
    )
    .with_state(state::Memory::default(), Clock::Wall);
    for n in 0..5 {
        let mut r = secret(0, n, "x", 100 + n);
        r["eventTime"] = json!(format!("2020-01-01T00:00:{n:02}Z"));
        run(h.handle(encode::eventbridge_event(r).expect("an event"))).expect("handled");
    }
    assert!(h.sink().take().is_empty(), "five matches, but their window closed years ago");
    assert_eq!(h.metrics().counts().late_dropped, 5);
}
