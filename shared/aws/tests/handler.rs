//! The functions' handler in process: the real SDK clients over
//! aws-smithy-mocks (the SDK's own test double), no network. SNS accepts,
//! fails, throttles; PutMetricData fails; Kinesis answers per item.

use std::time::Duration;

use aws_sdk_cloudwatch::operation::put_metric_data::{PutMetricDataError, PutMetricDataOutput};
use aws_sdk_sns::config::retry::RetryConfig;
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use serde_json::{json, Value};
use trailwatch_aws::cloudwatch::MetricsMode;
use trailwatch_aws::config::Config;
use trailwatch_aws::Function;
use trailwatch_engine::encode;
use trailwatch_engine::handler::{InvocationError, Response, Summary};
use trailwatch_engine::rules::Selection;

const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:trailwatch-alerts";

/// A StopLogging call, written after the CloudTrail record shape AWS
/// documents (CloudTrail User Guide, "CloudTrail record contents").
fn stop_logging(event_id: &str, region: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL1", "arn": "arn:aws:iam::111122223333:user/alice",
                         "accountId": "111122223333", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "alice"},
        "eventTime": "2026-11-30T09:15:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
        "awsRegion": region, "sourceIPAddress": "203.0.113.10", "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/management"},
        "responseElements": null, "requestID": "0f4ad3c4-6a0e-4a7e-9d4c-8c3b1e2f0a01", "eventID": event_id,
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
}

fn eventbridge(record: Value) -> Value {
    encode::eventbridge_event(record).expect("a record")
}

fn config(metrics: MetricsMode) -> Config {
    Config {
        topic_arn: TOPIC.into(),
        metrics,
        namespace: "trailwatch".into(),
        rules_dir: None,
        selection: Selection::All,
        state_table: None,
        records_clock: false,
        routes: Vec::new(),
    }
}

/// A function whose clients answer with these mock rules.
fn function(metrics: MetricsMode, sns: &[&Rule], cloudwatch: &[&Rule]) -> Function {
    let sns = mock_client!(aws_sdk_sns, RuleMode::Sequential, sns, |c| c
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1))));
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, cloudwatch);
    trailwatch_aws::build(&config(metrics), sns, cloudwatch, None, "eventbridge").expect("the built-in rules load")
}

fn published(id: &str) -> impl Fn() -> PublishOutput {
    let id = id.to_string();
    move || PublishOutput::builder().message_id(id.clone()).build()
}

const THROTTLED: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ErrorResponse>"#;

#[tokio::test]
async fn an_alert_sns_accepts_is_published_with_subject_and_attributes() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            let attrs = r.message_attributes().cloned().unwrap_or_default();
            r.topic_arn() == Some(TOPIC)
                && r.message_structure() == Some("json")
                && r.subject()
                    .is_some_and(|s| s.starts_with("[CRITICAL] arn:aws:iam::111122223333:user/alice stopped trail"))
                && attrs.get("rule_id").and_then(|a| a.string_value()) == Some("cloudtrail-logging-stopped")
                && attrs.get("region").and_then(|a| a.string_value()) == Some("us-east-1")
        })
        .then_output(published("m-1"));
    let f = function(MetricsMode::Off, &[&publish], &[]);
    let response = f.handle(eventbridge(stop_logging("e-1", "us-east-1"))).await.expect("delivered");
    assert_eq!(response, Response::Summary(Summary { records: 1, malformed: 0, alerts: 1 }));
    assert_eq!(publish.num_calls(), 1);
}

#[tokio::test]
async fn an_alert_sns_refuses_fails_the_invocation() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .then_error(|| PublishError::unhandled("AuthorizationError: not allowed to publish"));
    let f = function(MetricsMode::Off, &[&publish], &[]);
    let err = f.handle(eventbridge(stop_logging("e-1", "us-east-1"))).await.expect_err("must fail for a retry");
    assert!(matches!(err, InvocationError::Delivery { failed: 1, total: 1, .. }), "{err}");
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_and_then_delivered() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .times(2)
        .output(published("m-2"))
        .build();
    let f = function(MetricsMode::Off, &[&publish], &[]);
    let response = f.handle(eventbridge(stop_logging("e-1", "us-east-1"))).await.expect("delivered on the third try");
    assert_eq!(response, Response::Summary(Summary { records: 1, malformed: 0, alerts: 1 }));
    assert_eq!(publish.num_calls(), 3);
}

#[tokio::test]
async fn throttling_past_the_sdk_retries_fails_the_invocation() {
    let publish =
        mock!(aws_sdk_sns::Client::publish).sequence().http_status(400, Some(THROTTLED.into())).times(3).build();
    let f = function(MetricsMode::Off, &[&publish], &[]);
    let err = f.handle(eventbridge(stop_logging("e-1", "us-east-1"))).await.expect_err("must fail for a retry");
    assert!(err.to_string().contains("Throttling"), "{err}");
    assert_eq!(publish.num_calls(), 3);
}

/// Defect: with `TRAILWATCH_METRICS=api`, a PutMetricData failure after SNS
/// took the alerts failed the invocation, so AWS retried it and every alert
/// went out again. Metrics are best-effort: the invocation succeeds, and
/// the failure is counted into the next send (`MetricsFailures`).
#[tokio::test]
async fn a_metrics_failure_after_delivery_does_not_fail_the_invocation() {
    let publish = mock!(aws_sdk_sns::Client::publish).then_output(published("m-3"));
    let publish_again = mock!(aws_sdk_sns::Client::publish).then_output(published("m-4"));
    let refused = mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .then_error(|| PutMetricDataError::unhandled("ThrottlingException: Rate exceeded"));
    let counted = mock!(aws_sdk_cloudwatch::Client::put_metric_data)
        .match_requests(|r| {
            r.metric_data().iter().any(|d| d.metric_name() == Some("MetricsFailures") && d.value() == Some(1.0))
        })
        .then_output(|| PutMetricDataOutput::builder().build());
    let f = function(MetricsMode::Api, &[&publish, &publish_again], &[&refused, &counted]);
    let first = f.handle(eventbridge(stop_logging("e-1", "us-east-1"))).await.expect("alerts are out: no retry");
    assert_eq!(first, Response::Summary(Summary { records: 1, malformed: 0, alerts: 1 }));
    f.handle(eventbridge(stop_logging("e-2", "us-east-1"))).await.expect("second invocation");
    assert_eq!((publish.num_calls(), publish_again.num_calls()), (1, 1), "each alert published once");
    assert_eq!((refused.num_calls(), counted.num_calls()), (1, 1), "the failure is reported with the next send");
}

#[tokio::test]
async fn kinesis_reports_only_the_item_whose_alerts_failed() {
    let ok = mock!(aws_sdk_sns::Client::publish).then_output(published("m-5"));
    let refused = mock!(aws_sdk_sns::Client::publish).then_error(|| PublishError::unhandled("InternalError"));
    let f = function(MetricsMode::Off, &[&ok, &refused], &[]);
    let payload = encode::kinesis_event(
        &[vec![stop_logging("e-1", "us-east-1")], vec![stop_logging("e-2", "eu-west-1")]],
        "/aws/cloudtrail/management",
    );
    let second = payload["Records"][1]["kinesis"]["sequenceNumber"].as_str().expect("sequence number").to_string();
    let response = f.handle(payload).await.expect("a partial batch response, not an error");
    let answer = serde_json::to_value(&response).expect("serialisable");
    assert_eq!(answer, json!({"batchItemFailures": [{"itemIdentifier": second}]}));
}

/// DynamoDB unavailable: the invocation fails so that AWS retries it, and
/// nothing was published (the claim comes before the publish).
#[tokio::test]
async fn the_state_table_unavailable_fails_the_invocation_before_anything_is_sent() {
    let publish = mock!(aws_sdk_sns::Client::publish).then_output(published("m-6"));
    let unavailable = mock!(aws_sdk_dynamodb::Client::update_item)
        .sequence()
        .http_status(
            503,
            Some(r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"unavailable"}"#.into()),
        )
        .times(2)
        .build();
    let sns = mock_client!(aws_sdk_sns, RuleMode::Sequential, &[&publish]);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[]);
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&unavailable], |c| c
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(2)));
    let f = trailwatch_aws::build(
        &config(MetricsMode::Off),
        sns,
        cloudwatch,
        Some(trailwatch_aws::dynamodb::DynamoDb::new(dynamodb, "trailwatch-state")),
        "eventbridge",
    )
    .expect("the built-in rules load");
    let err = f.handle(eventbridge(stop_logging("e-1", "us-east-1"))).await.expect_err("must fail for a retry");
    assert!(matches!(err, InvocationError::State(_)), "{err}");
    assert_eq!(publish.num_calls(), 0, "nothing published before the claim");
}

const CHAT: &str = "arn:aws:sns:us-east-1:111122223333:trailwatch-chat";
const PAGE: &str = "arn:aws:sns:us-east-1:111122223333:trailwatch-page";

/// Routes: every alert at or above high to the chat topic as an Amazon Q
/// Developer custom notification (version "1.0", source "custom",
/// content.textType "client-markdown": "Custom notifications using Amazon
/// Q Developer in chat applications"), critical ones tagged T1562.008 to
/// the paging topic as the JSON alert; the main topic gets every alert.
#[tokio::test]
async fn routes_send_by_severity_and_tag_in_their_format() {
    let routes = r#"[{"name": "chat", "topic_arn": "arn:aws:sns:us-east-1:111122223333:trailwatch-chat", "format": "chat", "min_severity": "high"},
                     {"name": "page", "topic_arn": "arn:aws:sns:us-east-1:111122223333:trailwatch-page", "min_severity": "critical", "tags": ["attack.t1562.008"]},
                     {"name": "off", "topic_arn": ""}]"#;
    let env = |k: &str| match k {
        "TRAILWATCH_TOPIC_ARN" => Some(TOPIC.to_string()),
        "TRAILWATCH_METRICS" => Some("off".to_string()),
        "TRAILWATCH_ROUTES" => Some(routes.to_string()),
        _ => None,
    };
    let config = Config::from_lookup(env).expect("valid");
    assert_eq!(config.routes.len(), 2, "a route without a topic is off");
    let main = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| r.topic_arn() == Some(TOPIC) && r.message_structure() == Some("json"))
        .then_output(published("main"));
    let chat = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            let Some(v) = r.message().and_then(|m| serde_json::from_str::<Value>(m).ok()) else { return false };
            r.topic_arn() == Some(CHAT)
                && r.message_structure().is_none()
                && v["version"] == "1.0"
                && v["source"] == "custom"
                && v["content"]["textType"] == "client-markdown"
                && v["content"]["title"].as_str().is_some_and(|t| t.contains("[CRITICAL]"))
                && v["content"]["nextSteps"].as_array().is_some_and(|s| !s.is_empty())
                && v["metadata"]["threadId"] == "cloudtrail-logging-stopped:111122223333"
        })
        .then_output(published("chat"));
    let page = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| r.topic_arn() == Some(PAGE) && r.message_structure() == Some("json"))
        .then_output(published("page"));
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&main, &chat, &page]);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, &[]);
    let f = trailwatch_aws::build(&config, sns, cloudwatch, None, "eventbridge").expect("builds");
    let out = f.handle(eventbridge(stop_logging("5b0b7d1e-2f0c-4c55-9d7a-3c8f1e2d4a01", "us-east-1"))).await;
    assert!(matches!(out, Ok(Response::Summary(Summary { alerts: 1, .. }))), "{out:?}");
    assert_eq!((main.num_calls(), chat.num_calls(), page.num_calls()), (1, 1, 1));
}

#[test]
fn routes_that_cannot_work_are_refused_at_cold_start() {
    for bad in [
        "not json",
        r#"[{"name": "chat", "topic_arn": "arn:aws:sqs:us-east-1:111122223333:q"}]"#,
        r#"[{"name": "a", "topic_arn": ""}, {"name": "a", "topic_arn": ""}]"#,
        r#"[{"name": "chat", "topic_arn": "", "format": "slack"}]"#,
        r#"[{"name": "chat", "topic_arn": "", "min_severity": "urgent"}]"#,
    ] {
        let env = |k: &str| match k {
            "TRAILWATCH_TOPIC_ARN" => Some(TOPIC.to_string()),
            "TRAILWATCH_ROUTES" => Some(bad.to_string()),
            _ => None,
        };
        let err = Config::from_lookup(env).expect_err(bad);
        assert!(err.to_string().starts_with("TRAILWATCH_ROUTES"), "{err}");
    }
}
