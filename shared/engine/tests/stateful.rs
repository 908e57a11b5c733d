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

// ---- sequences

const CHAIN_ORDERED: &str = r#"
id: chain-ordered-test
title: New user made admin and given a key
description: test
severity: high
action: alert
sequence:
  within: 30m
  group_by: [requestParameters.userName]
  ordered: true
  steps: [iam-user-created, iam-admin-policy-attached, iam-access-key-created-for-user]
"#;

const CHAIN_ANY_ORDER: &str = r#"
id: chain-any-order-test
title: New user, admin policy and key, in any order
description: test
severity: high
action: alert
sequence:
  within: 30m
  group_by: [requestParameters.userName]
  ordered: false
  steps: [iam-user-created, iam-admin-policy-attached, iam-access-key-created-for-user]
"#;

/// An IAM call by bob on `user` at 14:mm:ss.
fn iam(event_name: &str, minute: u32, second: u32, user: &str, n: u32) -> Value {
    let mut params = json!({"userName": user});
    if event_name == "AttachUserPolicy" {
        params["policyArn"] = json!("arn:aws:iam::aws:policy/AdministratorAccess");
    }
    let mut r =
        record(event_name, &format!("2025-03-04T14:{minute:02}:{second:02}Z"), "us-east-1", "203.0.113.77", n, params);
    r["eventSource"] = json!("iam.amazonaws.com");
    r["userIdentity"] = json!({"type": "IAMUser", "principalId": "AIDACKCEVSQ6C2EXAMPLE",
                               "arn": "arn:aws:iam::111122223333:user/bob", "accountId": "111122223333", "userName": "bob"});
    r
}

/// CreateUser, AttachUserPolicy, CreateAccessKey for `user`, at these
/// (minute, second) times.
fn chain(user: &str, times: [(u32, u32); 3], n: u32) -> Vec<Value> {
    ["CreateUser", "AttachUserPolicy", "CreateAccessKey"]
        .iter()
        .zip(times)
        .enumerate()
        .map(|(i, (name, (m, s)))| iam(name, m, s, user, n + i as u32))
        .collect()
}

/// What a sequence alert says: rule, count, event ids, first and last
/// seen, group.
type SequenceAlert = (String, u64, Vec<String>, Option<i64>, Option<i64>, Vec<(String, String)>);

/// The test sequences' alerts for these records, delivered one record per
/// EventBridge invocation in this order.
fn sequence_alerts(records: &[Value]) -> Vec<SequenceAlert> {
    let h = handler(&[CHAIN_ORDERED, CHAIN_ANY_ORDER]);
    for r in records {
        let event = encode::eventbridge_event(r.clone()).expect("an event");
        assert!(matches!(run(h.handle(event)), Ok(Response::Summary(_))));
    }
    let mut out: Vec<SequenceAlert> = h
        .sink()
        .take()
        .into_iter()
        .filter(|a| a.rule_id.ends_with("-test"))
        .map(|a| (a.rule_id, a.count, a.event_ids, a.first_seen, a.last_seen, a.group))
        .collect();
    out.sort();
    out
}

fn ids(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r["eventID"].as_str().unwrap_or("").to_string()).collect()
}

fn rules_of(alerts: &[SequenceAlert]) -> Vec<&str> {
    alerts.iter().map(|a| a.0.as_str()).collect()
}

#[test]
fn a_chain_in_order_alerts_once_naming_its_records() {
    let records = chain("ops-backup", [(30, 0), (31, 10), (32, 5)], 1);
    let got = sequence_alerts(&records);
    assert_eq!(rules_of(&got), vec!["chain-any-order-test", "chain-ordered-test"], "{got:?}");
    let ordered = &got[1];
    let t0 = state::parse_event_time("2025-03-04T14:30:00Z");
    let t2 = state::parse_event_time("2025-03-04T14:32:05Z");
    let group = vec![("requestParameters.userName".to_string(), "ops-backup".to_string())];
    assert_eq!(ordered, &("chain-ordered-test".to_string(), 3, ids(&records), t0, t2, group));
    // Delivered again (a retry), and a repeated last step: nothing more.
    let h = handler(&[CHAIN_ORDERED]);
    let mut again = records.clone();
    again.extend(records.iter().cloned());
    again.push(iam("CreateAccessKey", 33, 0, "ops-backup", 9));
    for r in &again {
        run(h.handle(encode::eventbridge_event(r.clone()).expect("an event"))).expect("handled");
    }
    let sent: Vec<_> = h.sink().take().into_iter().filter(|a| a.rule_id == "chain-ordered-test").collect();
    assert_eq!(sent.len(), 1);
    assert!(h.metrics().counts().suppressed >= 1, "the repeats are counted into the alert");
}

#[test]
fn a_chain_in_one_batch_alerts_once() {
    let h = handler(&[CHAIN_ORDERED]);
    run(h.handle(logs(&chain("ops-backup", [(30, 0), (30, 0), (30, 0)], 1)))).expect("handled");
    let sent: Vec<_> = h.sink().take().into_iter().filter(|a| a.rule_id == "chain-ordered-test").collect();
    assert_eq!(sent.len(), 1, "three steps in one second are in order");
    assert_eq!(sent[0].event_ids.len(), 3);
}

#[test]
fn steps_out_of_order_alert_only_an_unordered_sequence() {
    // The key is created before the policy is attached.
    let mut records = chain("ops-backup", [(30, 0), (32, 5), (31, 10)], 1);
    let got = sequence_alerts(&records);
    assert_eq!(rules_of(&got), vec!["chain-any-order-test"], "{got:?}");
    // Whatever order they arrive in.
    records.reverse();
    assert_eq!(rules_of(&sequence_alerts(&records)), vec!["chain-any-order-test"]);
}

#[test]
fn steps_too_far_apart_do_not_alert() {
    // 31 minutes from the user to the key.
    let records = chain("ops-backup", [(0, 0), (10, 0), (31, 0)], 1);
    assert_eq!(sequence_alerts(&records), vec![]);
    // Exactly 30 minutes is within.
    let records = chain("ops-backup", [(0, 0), (10, 0), (30, 0)], 1);
    assert_eq!(rules_of(&sequence_alerts(&records)), vec!["chain-any-order-test", "chain-ordered-test"]);
}

#[test]
fn a_shuffled_chain_gives_the_same_single_alert() {
    let records = chain("ops-backup", [(30, 0), (31, 10), (32, 5)], 1);
    let expected = sequence_alerts(&records);
    assert_eq!(expected.len(), 2);
    for order in [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let shuffled: Vec<Value> = order.iter().map(|&i| records[i].clone()).collect();
        assert_eq!(sequence_alerts(&shuffled), expected, "arrival order {order:?}");
    }
    // With a second, later CreateUser in the same bucket: still one alert,
    // naming the earliest chain, whatever the order.
    let mut more = records.clone();
    more.push(iam("CreateUser", 31, 0, "ops-backup", 7));
    let expected = sequence_alerts(&more);
    assert_eq!(expected.iter().filter(|a| a.0 == "chain-ordered-test").count(), 1);
    let mut reversed = more.clone();
    reversed.reverse();
    assert_eq!(rules_of(&sequence_alerts(&reversed)), rules_of(&expected));
}

#[test]
fn two_groups_give_two_alerts() {
    let mut records = chain("ops-backup", [(30, 0), (31, 10), (32, 5)], 1);
    records.extend(chain("build-bot", [(30, 30), (31, 40), (32, 50)], 4));
    // Interleaved: the two users' calls alternate.
    let interleaved: Vec<Value> = [0, 3, 1, 4, 2, 5].iter().map(|&i| records[i].clone()).collect();
    let got = sequence_alerts(&interleaved);
    let ordered: Vec<&SequenceAlert> = got.iter().filter(|a| a.0 == "chain-ordered-test").collect();
    assert_eq!(ordered.len(), 2, "{got:?}");
    let mut users: Vec<&str> = ordered.iter().map(|a| a.5[0].1.as_str()).collect();
    users.sort();
    assert_eq!(users, vec!["build-bot", "ops-backup"]);
    // A key for another user does not complete a chain.
    let mixed = vec![records[0].clone(), records[1].clone(), records[5].clone()];
    assert_eq!(sequence_alerts(&mixed), vec![]);
}

#[test]
fn a_sequence_step_whose_chain_ended_long_ago_is_dropped_and_counted() {
    let h = Handler::new(
        RuleSet::new(
            rules::load(None)
                .expect("the pack")
                .into_iter()
                .chain([Rule::from_yaml("chain.yaml", CHAIN_ORDERED).expect("valid")])
                .collect(),
        ),
        Memory::default(),
        Tally::default(),
    )
    .with_state(state::Memory::default(), Clock::Wall);
    for mut r in chain("ops-backup", [(30, 0), (31, 10), (32, 5)], 1) {
        r["eventTime"] = json!(r["eventTime"].as_str().unwrap_or("").replace("2025-03-04", "2020-01-01"));
        run(h.handle(encode::eventbridge_event(r).expect("an event"))).expect("handled");
    }
    assert!(!h.sink().take().iter().any(|a| a.rule_id == "chain-ordered-test"));
    assert!(h.metrics().counts().late_dropped >= 3, "{}", h.metrics().counts().late_dropped);
}

#[test]
fn without_a_store_a_sequence_sends_nothing() {
    let mut all = rules::load(None).expect("the pack");
    all.push(Rule::from_yaml("chain.yaml", CHAIN_ORDERED).expect("valid"));
    let h = Handler::new(RuleSet::new(all), Memory::default(), Tally::default());
    run(h.handle(logs(&chain("ops-backup", [(30, 0), (31, 10), (32, 5)], 1)))).expect("handled");
    let sent = h.sink().take();
    assert!(!sent.iter().any(|a| a.rule_id == "chain-ordered-test"));
    assert!(sent.iter().any(|a| a.rule_id == "iam-admin-policy-attached"), "the steps' own alerts still go");
}

// ---- folding: a completed chain's alert stands for its steps' alerts

/// The pack's rules that alert on this chain (its step rules and the
/// backdoor-user sequence), with counts, in the order sent.
fn chain_rules(h: &Stateful) -> Vec<(String, u64)> {
    rule_ids(h).into_iter().filter(|(r, _)| r.starts_with("iam-") && r != "iam-user-created").collect()
}

#[test]
fn a_chain_completed_in_one_batch_is_one_alert_its_steps_folded_in() {
    let h = handler(&[]);
    let records = chain("ops-backup", [(30, 0), (31, 10), (32, 5)], 1);
    run(h.handle(logs(&records))).expect("handled");
    let sent: Vec<_> = h.sink().take().into_iter().filter(|a| a.rule_id.starts_with("iam-backdoor")).collect();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].count, sent[0].event_ids.clone()), (3, ids(&records)));
    assert_eq!(sent[0].folded, vec!["iam-admin-policy-attached", "iam-access-key-created-for-user"]);
    assert!(sent[0]
        .body()
        .contains("Also:    the alerts of iam-admin-policy-attached, iam-access-key-created-for-user"));
    assert_eq!(h.metrics().counts().folded, 2, "the admin-policy and access-key alerts");
    // The folded alerts were marked sent with the chain: a later match in
    // their dedup period (bob, same account, region and hour) is counted
    // into them, not sent.
    run(h.handle(logs(&[iam("AttachUserPolicy", 40, 0, "reports", 9)]))).expect("handled");
    assert_eq!(chain_rules(&h), vec![]);
    assert_eq!(h.metrics().counts().suppressed, 1);
}

#[test]
fn one_record_per_invocation_folds_only_the_step_that_completes_the_chain() {
    let h = handler(&[]);
    for r in chain("ops-backup", [(30, 0), (31, 10), (32, 5)], 1) {
        run(h.handle(encode::eventbridge_event(r).expect("an event"))).expect("handled");
    }
    // The policy alert went out when its record came; the key completed
    // the chain and was sent as part of it.
    assert_eq!(
        chain_rules(&h),
        vec![("iam-admin-policy-attached".to_string(), 1), ("iam-backdoor-user-chain".to_string(), 3)]
    );
    assert_eq!(h.metrics().counts().folded, 1);
}

#[test]
fn a_refused_chain_alert_and_its_folded_steps_are_sent_once_by_the_retry() {
    let h = handler(&[]);
    let payload = logs(&chain("ops-backup", [(30, 0), (31, 10), (32, 5)], 1));
    h.sink().set_refusing(true);
    assert!(run(h.handle(payload.clone())).is_err(), "the invocation fails so that AWS retries it");
    h.sink().set_refusing(false);
    run(h.handle(payload.clone())).expect("the retry");
    assert_eq!(chain_rules(&h), vec![("iam-backdoor-user-chain".to_string(), 3)], "released, then won again");
    run(h.handle(payload)).expect("a third delivery");
    assert_eq!(chain_rules(&h), vec![]);
}

#[test]
fn a_step_alert_with_records_outside_the_chain_is_not_folded() {
    let h = handler(&[]);
    // bob also attaches an admin policy to another user in the same batch:
    // the policy alert (one per actor and hour) names a record the chain
    // does not, so it is sent on its own; the key alert folds.
    let mut records = chain("ops-backup", [(30, 0), (31, 10), (32, 5)], 1);
    records.push(iam("AttachUserPolicy", 33, 0, "reports", 9));
    run(h.handle(logs(&records))).expect("handled");
    let mut got = chain_rules(&h);
    got.sort();
    assert_eq!(got, vec![("iam-admin-policy-attached".to_string(), 2), ("iam-backdoor-user-chain".to_string(), 3)]);
    assert_eq!(h.metrics().counts().folded, 1);
}

// ---- routes: each (alert, route) claimed on its own

#[test]
fn a_route_that_refused_is_retried_alone_and_nothing_is_sent_twice() {
    use trailwatch_engine::sink::{Format, Route};
    let chat = Route { name: "chat".into(), min_severity: rules::Severity::High, tags: vec![], format: Format::Chat };
    let page = Route {
        name: "page".into(),
        min_severity: rules::Severity::Info,
        tags: vec!["no-such-tag".into()],
        format: Format::Alert,
    };
    let h = Handler::new(
        RuleSet::new(rules::load(None).expect("the pack")),
        Memory::with_routes(vec![chat, page]),
        Tally::default(),
    )
    .with_state(state::Memory::default(), Clock::Watermark(AtomicI64::new(0)));
    let payload = logs(&[stop("2026-11-30T09:05:00Z", "us-east-1", 1)]);
    h.sink().set_refusing_route(Some("chat"));
    assert!(run(h.handle(payload.clone())).is_err(), "a route that did not take the alert fails the invocation");
    assert_eq!(rule_ids(&h), vec![("cloudtrail-logging-stopped".to_string(), 1)], "the main topic took it");
    assert!(h.sink().take_routed().is_empty());
    h.sink().set_refusing_route(None);
    run(h.handle(payload.clone())).expect("the retry");
    assert!(rule_ids(&h).is_empty(), "the main topic is not sent again");
    let routed: Vec<(String, String)> =
        h.sink().take_routed().into_iter().map(|(route, a)| (route, a.rule_id)).collect();
    assert_eq!(routed, vec![("chat".to_string(), "cloudtrail-logging-stopped".to_string())], "no tag: no page");
    run(h.handle(payload)).expect("a third delivery");
    assert!(rule_ids(&h).is_empty() && h.sink().take_routed().is_empty());
}
