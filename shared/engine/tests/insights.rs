//! CloudTrail Insights events through every delivery path (EventBridge one
//! event per invocation, CloudWatch Logs and Kinesis batches) with state:
//! a sensitive API's unusual call rate alerts once, with the baseline
//! multiple in its subject, and its End event (same sharedEventID) is
//! counted into that alert, not sent again. Records written after the
//! documented format (CloudTrail User Guide, "CloudTrail record contents
//! for Insights events for trails" and "CloudTrail Insights insightDetails
//! element").

use std::sync::atomic::AtomicI64;

use serde_json::{json, Value};
use trailwatch_engine::encode;
use trailwatch_engine::handler::{Clock, Handler};
use trailwatch_engine::metrics::Tally;
use trailwatch_engine::rules::{self, RuleSet};
use trailwatch_engine::sink::Memory;
use trailwatch_engine::state;

fn insight(state: &str, minute: u32, insight_avg: f64, duration: u32, n: u32) -> Value {
    json!({
        "eventVersion": "1.08", "eventTime": format!("2026-11-30T10:{minute:02}:00Z"), "awsRegion": "us-east-1",
        "eventID": format!("3c9e1a70-1111-4000-8000-{n:012}"), "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": "111122223333", "sharedEventID": "5f1e2d3c-1111-4000-8000-00000000bbb1",
        "eventCategory": "Insight",
        "insightDetails": {
            "state": state, "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
            "insightType": "ApiCallRateInsight",
            "insightContext": {
                "statistics": {"baseline": {"average": 0.002}, "insight": {"average": insight_avg},
                               "insightDuration": duration, "baselineDuration": 10080},
                "attributions": [
                    {"attribute": "userIdentityArn", "insight": [{"value": "arn:aws:iam::111122223333:user/mallory", "average": insight_avg}],
                     "baseline": [{"value": "arn:aws:iam::111122223333:role/ci", "average": 0.002}]},
                    {"attribute": "userAgent", "insight": [{"value": "aws-cli/2.15.0", "average": insight_avg}],
                     "baseline": [{"value": "Terraform/1.9.0", "average": 0.002}]},
                    {"attribute": "errorCode", "insight": [{"value": "null", "average": insight_avg}],
                     "baseline": [{"value": "null", "average": 0.002}]}
                ]
            }
        }
    })
}

fn payloads(via: &str, records: &[Value]) -> Vec<Value> {
    match via {
        "eventbridge" => records.iter().map(|r| encode::eventbridge_event(r.clone()).expect("an event")).collect(),
        "logs" => vec![encode::logs_payload(records, "/aws/cloudtrail/insights")],
        _ => vec![encode::kinesis_event(&[records.to_vec()], "g")],
    }
}

#[test]
fn an_insight_alerts_once_with_its_baseline_multiple_on_every_path() {
    let start = insight("Start", 5, 1.0, 1, 1);
    let end = insight("End", 17, 0.5, 12, 2);
    for via in ["eventbridge", "logs", "kinesis"] {
        for order in [[start.clone(), end.clone()], [end.clone(), start.clone()]] {
            let h =
                Handler::new(RuleSet::new(rules::load(None).expect("the pack")), Memory::default(), Tally::default())
                    .with_state(state::Memory::default(), Clock::Watermark(AtomicI64::new(0)));
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            for p in payloads(via, &order) {
                rt.block_on(h.handle(p)).expect("handled");
            }
            let sent = h.sink().take();
            assert_eq!(sent.len(), 1, "{via}: one alert per sharedEventID: {sent:?}");
            let a = &sent[0];
            assert_eq!(a.rule_id, "insights-unusual-call-rate-on-sensitive-api");
            assert_eq!(a.actor, "arn:aws:iam::111122223333:user/mallory", "the top attributed identity");
            // Counted into it: suppressed when it came later (one record
            // per invocation), merged into its count in one batch.
            assert_eq!(a.count + h.metrics().counts().suppressed, 2, "{via}: the other event is counted into it");
            if order[0] == start {
                assert!(
                    a.subject().starts_with("[HIGH] CreateAccessKey calls at 500x their 7-day baseline")
                        && a.subject().ends_with("in 111122223333/us-east-1"),
                    "{via}: {}",
                    a.subject()
                );
                let body = a.body();
                for line in [
                    "insight.identities: arn:aws:iam::111122223333:user/mallory",
                    "insight.user_agents: aws-cli/2.15.0",
                ] {
                    assert!(body.contains(line), "{line:?} in\n{body}");
                }
            } else {
                assert!(a.subject().contains("ended: CreateAccessKey calls at 250x"), "{}", a.subject());
            }
        }
    }
}
