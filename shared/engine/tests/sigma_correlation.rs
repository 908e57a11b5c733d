//! Sigma correlation rules run on the stateful engine, loaded from a rules
//! directory as users give them (Sigma correlation rules specification:
//! `event_count`/`value_count` with `group-by`, `timespan` and a `gte`
//! condition; `temporal_ordered`; `generate`): the rules and records are
//! written here after the specification's and AWS's documented shapes.

use std::sync::atomic::AtomicI64;

use serde_json::{json, Value};
use trailwatch_engine::encode;
use trailwatch_engine::handler::{Clock, Handler};
use trailwatch_engine::metrics::Tally;
use trailwatch_engine::rules::{self, Action, RuleSet};
use trailwatch_engine::sink::Memory;
use trailwatch_engine::state;

const SWEEP: &str = r#"
title: Secret value read
id: 6a0f2c1e-5d3b-4f7a-9c2e-1b8d4e6f0a11
name: secret_value_read
status: test
author: trailwatch tests
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: secretsmanager.amazonaws.com
    eventName: GetSecretValue
  condition: selection
level: low
---
title: One principal reads many secrets
id: 6a0f2c1e-5d3b-4f7a-9c2e-1b8d4e6f0a12
status: test
author: trailwatch tests
correlation:
  type: value_count
  rules: [secret_value_read]
  group-by: [userIdentity.arn]
  timespan: 10m
  condition: {gte: 3, field: requestParameters.secretId}
level: high
"#;

const CHAIN: &str = r#"
title: User created
id: 7b1e3d2f-6e4c-4a8b-8d3f-2c9e5f7a1b21
name: user_created
logsource: {product: aws, service: cloudtrail}
detection:
  selection: {eventSource: iam.amazonaws.com, eventName: CreateUser}
  condition: selection
level: informational
---
title: Administrator policy attached to a user
id: 7b1e3d2f-6e4c-4a8b-8d3f-2c9e5f7a1b22
name: admin_attached
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: AttachUserPolicy
    requestParameters.policyArn|endswith: '/AdministratorAccess'
  condition: selection
level: medium
---
title: New user made administrator
id: 7b1e3d2f-6e4c-4a8b-8d3f-2c9e5f7a1b23
correlation:
  type: temporal_ordered
  rules: [user_created, admin_attached]
  group-by: [requestParameters.userName]
  timespan: 15m
  generate: true
level: critical
"#;

/// A CloudTrail record after AWS's documented shape.
fn record(event_source: &str, event_name: &str, minute: u32, params: Value, n: u32) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL7", "arn": "arn:aws:iam::111122223333:user/mallory",
                         "accountId": "111122223333", "userName": "mallory"},
        "eventTime": format!("2026-11-30T10:{minute:02}:00Z"), "eventSource": event_source, "eventName": event_name,
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.50", "userAgent": "aws-cli/2.15.0",
        "requestParameters": params, "responseElements": null,
        "eventID": format!("9c4d2e10-0000-4000-8000-{n:012}"), "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

fn alerts(files: &[(&str, &str)], records: &[Value]) -> Vec<(String, u64, Option<String>)> {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let loaded = rules::load(Some(dir.path())).expect("the Sigma rules load");
    let h = Handler::new(RuleSet::new(loaded), Memory::default(), Tally::default())
        .with_state(state::Memory::default(), Clock::Watermark(AtomicI64::new(0)));
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    for r in records {
        rt.block_on(h.handle(encode::eventbridge_event(r.clone()).expect("an event"))).expect("handled");
    }
    let mut out: Vec<_> = h
        .sink()
        .take()
        .into_iter()
        .filter(|a| a.rule_id.starts_with("6a0f") || a.rule_id.starts_with("7b1e"))
        .map(|a| (a.rule_id, a.count, a.author))
        .collect();
    out.sort();
    out
}

fn read(minute: u32, secret: &str, n: u32) -> Value {
    record("secretsmanager.amazonaws.com", "GetSecretValue", minute, json!({"secretId": secret}), n)
}

#[test]
fn a_value_count_correlation_alerts_once_and_its_base_rule_only_counts() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("sweep.yml"), SWEEP).expect("write");
    let loaded = rules::load(Some(dir.path())).expect("loads");
    let base = loaded.iter().find(|r| r.id.ends_with("0a11")).expect("the base rule");
    assert_eq!(base.action, Action::Metric, "generate defaults to false: the base rule does not alert alone");
    // Three distinct secrets within one 10-minute window, a fourth read of
    // one of them: one alert naming 3 distinct values.
    let records =
        [read(1, "db", 1), read(2, "db", 2), read(3, "api-key", 3), read(4, "signing-key", 4), read(5, "db", 5)];
    assert_eq!(
        alerts(&[("sweep.yml", SWEEP)], &records),
        vec![("6a0f2c1e-5d3b-4f7a-9c2e-1b8d4e6f0a12".to_string(), 3, Some("trailwatch tests".to_string()))]
    );
    // Two distinct secrets only: nothing.
    assert_eq!(alerts(&[("sweep.yml", SWEEP)], &records[..3]), vec![]);
}

#[test]
fn a_temporal_ordered_correlation_is_a_sequence_and_generate_keeps_its_rules_alerting() {
    let user = |minute, n| record("iam.amazonaws.com", "CreateUser", minute, json!({"userName": "svc-sync"}), n);
    let admin = |minute, n| {
        record(
            "iam.amazonaws.com",
            "AttachUserPolicy",
            minute,
            json!({"userName": "svc-sync", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            n,
        )
    };
    let got = alerts(&[("chain.yml", CHAIN)], &[user(1, 1), admin(9, 2)]);
    let ids: Vec<&str> = got.iter().map(|(id, _, _)| id.as_str()).collect();
    // generate: true: the base rules alert too; the policy's alert, which
    // completes the chain, is folded into the chain's (two steps).
    assert_eq!(ids, ["7b1e3d2f-6e4c-4a8b-8d3f-2c9e5f7a1b21", "7b1e3d2f-6e4c-4a8b-8d3f-2c9e5f7a1b23"]);
    assert_eq!(got[1].1, 2);
    // Out of order (the policy before the user): no chain.
    let got = alerts(&[("chain.yml", CHAIN)], &[admin(1, 3), user(9, 4)]);
    assert!(got.iter().all(|(id, _, _)| !id.ends_with("1b23")), "{got:?}");
}
