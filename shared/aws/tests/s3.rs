//! The S3 function's handler in process: the real S3 SDK client over
//! aws-smithy-mocks (no network) serving gzip'd CloudTrail files, alerts to
//! the memory sink, state in memory. One SQS batch holds every message
//! shape the queue receives and every hostile object; each is reported
//! and the rest of the batch goes on; a re-delivery sends nothing twice.

use std::io::Write;
use std::sync::atomic::AtomicI64;

use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::error::NoSuchKey;
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use serde_json::{json, Value};
use trailwatch_aws::s3::{handle, process_object, Outcome};
use trailwatch_engine::handler::{Clock, Handler};
use trailwatch_engine::metrics::{Counts, Tally};
use trailwatch_engine::rules::{self, RuleSet};
use trailwatch_engine::s3::ObjectRef;
use trailwatch_engine::{sink, state};

const BUCKET: &str = "org-trail-logs";
const DAY: &str = "AWSLogs/o-exampleorgid/111122223333/CloudTrail/us-east-1/2026/11/30";

type S3Handler = Handler<sink::Memory, Tally, state::Memory>;

fn handler() -> S3Handler {
    Handler::new(RuleSet::new(rules::load(None).expect("rules")), sink::Memory::default(), Tally::default())
        .with_state(state::Memory::default(), Clock::Watermark(AtomicI64::new(i64::MIN)))
}

/// A StopLogging call, after the record shape the CloudTrail User Guide
/// documents ("CloudTrail record contents").
fn stop_logging(event_id: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL1", "arn": "arn:aws:iam::111122223333:user/alice",
                         "accountId": "111122223333", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "alice"},
        "eventTime": "2026-11-30T09:15:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.10", "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/management"},
        "responseElements": null, "requestID": "0f4ad3c4-6a0e-4a7e-9d4c-8c3b1e2f0a01", "eventID": event_id,
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
}

/// The same call by another user (so that dedup keeps both alerts).
fn by_bob(mut record: Value) -> Value {
    record["userIdentity"]["arn"] = json!("arn:aws:iam::111122223333:user/bob");
    record["userIdentity"]["userName"] = json!("bob");
    record["userIdentity"]["principalId"] = json!("AIDAEXAMPLEPRINCIPAL2");
    record
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("write to memory");
    e.finish().expect("finish in memory")
}

fn log_file(records: &[Value]) -> Vec<u8> {
    gzip(json!({"Records": records}).to_string().as_bytes())
}

/// GetObject of `key` answers `body`, with an ETag.
fn object(key: &str, body: Vec<u8>) -> Rule {
    let k = key.to_string();
    mock!(Client::get_object).match_requests(move |r| r.key() == Some(k.as_str())).then_output(move || {
        GetObjectOutput::builder().body(ByteStream::from(body.clone())).e_tag("\"etag-1\"").build()
    })
}

fn s3(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules)
}

fn key(name: &str) -> String {
    format!("{DAY}/111122223333_CloudTrail_us-east-1_20261130T0915Z_{name}.json.gz")
}

fn sqs(messages: &[(&str, String)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| json!({"messageId": id, "receiptHandle": "r", "body": body, "attributes": {},
                                 "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                                 "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:trailwatch-s3", "awsRegion": "us-east-1"}))
        .collect();
    json!({ "Records": records })
}

fn cloudtrail_notification(keys: &[String]) -> String {
    json!({"s3Bucket": BUCKET, "s3ObjectKey": keys}).to_string()
}

fn in_sns(message: String) -> String {
    json!({"Type": "Notification", "MessageId": "5f3a", "TopicArn": "arn:aws:sns:us-east-1:111122223333:trail-delivery",
           "Message": message, "Timestamp": "2026-11-30T09:20:00.000Z", "SignatureVersion": "1"})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_shape_and_every_hostile_object_in_one_batch() {
    let good = key("good");
    let digest = "AWSLogs/o-exampleorgid/111122223333/CloudTrail-Digest/us-east-1/2026/11/30/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261130T0915Z.json.gz".to_string();
    let second = key("second");
    let truncated = key("truncated");
    let not_cloudtrail = key("notcloudtrail");
    let missing = key("missing");
    let denied = key("denied");
    let full = log_file(&[stop_logging("ev-1"), json!("junk"), json!({"eventName": 3})]);
    let half = log_file(&[stop_logging("ev-t")]);
    let rules = [
        object(&good, full),
        object(&second, log_file(&[by_bob(stop_logging("ev-2"))])),
        object(&truncated, half[..half.len() / 2].to_vec()),
        object(&not_cloudtrail, gzip(br#"{"hello": "world", "items": [1, 2, 3]}"#)),
        mock!(Client::get_object)
            .match_requests({
                let k = missing.clone();
                move |r| r.key() == Some(k.as_str())
            })
            .then_error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build())),
        mock!(Client::get_object)
            .match_requests({
                let k = denied.clone();
                move |r| r.key() == Some(k.as_str())
            })
            .sequence()
            .http_status(
                403,
                Some(r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>R1</RequestId></Error>"#.into()),
            )
            .repeatedly()
            .build(),
    ];
    let client = s3(&rules.iter().collect::<Vec<_>>());
    let s3_event = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-30T09:20:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
               "object": {"key": truncated.clone(), "size": 10, "eTag": "etag-t", "sequencer": "0A"}}}]})
    .to_string();
    let eventbridge = json!({"version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3",
        "account": "111122223333", "time": "2026-11-30T09:20:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{BUCKET}")],
        "detail": {"version": "0", "bucket": {"name": BUCKET},
                   "object": {"key": second.clone(), "size": 10, "etag": "etag-2"}, "reason": "PutObject"}})
    .to_string();
    let batch = sqs(&[
        ("m-raw", cloudtrail_notification(&[good.clone(), digest.clone()])),
        ("m-s3-in-sns", in_sns(s3_event)),
        ("m-eventbridge", eventbridge),
        ("m-not-cloudtrail", in_sns(cloudtrail_notification(std::slice::from_ref(&not_cloudtrail)))),
        ("m-missing", cloudtrail_notification(std::slice::from_ref(&missing))),
        ("m-denied", cloudtrail_notification(std::slice::from_ref(&denied))),
        ("m-junk", "this is not a notification".into()),
    ]);
    let h = handler();
    let response = handle(&h, &client, batch.clone()).await.expect("the batch is answered");
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, vec!["m-denied"], "only access denied is retried (and reaches the DLQ if it persists)");
    let mut alerts: Vec<String> = h.sink().take().iter().map(|a| a.event_id.clone().unwrap_or_default()).collect();
    alerts.sort();
    assert_eq!(alerts, vec!["ev-1", "ev-2"], "one alert per good object's StopLogging");
    let c = h.metrics().counts();
    assert_eq!(c.records, 2, "records of the two good files (the truncated one yields none before its cut)");
    // 2 malformed records + truncated + not CloudTrail + missing + denied + junk message.
    assert_eq!(c.malformed, 7, "{c:?}");

    // The same batch again (SQS at least once): nothing is sent twice; the
    // objects read are skipped by their claim.
    let response = handle(&h, &client, batch).await.expect("answered");
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(h.sink().take().is_empty(), "a re-delivery sends no alert twice");
    assert_eq!(h.metrics().counts().records, 2, "read objects are not read again");
}

#[tokio::test]
async fn a_refused_alert_retries_the_message_and_the_retry_sends_it_once() {
    let good = key("good");
    let rule = object(&good, log_file(&[stop_logging("ev-1")]));
    let client = s3(&[&rule]);
    let h = handler();
    let batch = sqs(&[("m1", cloudtrail_notification(std::slice::from_ref(&good)))]);
    h.sink().set_refusing(true);
    let response = handle(&h, &client, batch.clone()).await.expect("answered");
    assert_eq!(response.batch_item_failures.len(), 1, "SNS refused: the message is retried");
    h.sink().set_refusing(false);
    let response = handle(&h, &client, batch.clone()).await.expect("answered");
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(h.sink().take().len(), 1, "sent once, on the retry");
    handle(&h, &client, batch).await.expect("answered");
    assert!(h.sink().take().is_empty());
}

#[tokio::test]
async fn an_insight_file_gives_insight_events() {
    let k = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/11/30/111122223333_CloudTrail-Insight_us-east-1_20261130T0915Z_i.json.gz";
    let insight = json!({"eventVersion": "1.07", "eventTime": "2026-11-30T09:00:00Z", "awsRegion": "us-east-1",
        "eventID": "ins-1", "eventType": "AwsCloudTrailInsight", "recipientAccountId": "111122223333",
        "sharedEventID": "sh-1", "insightDetails": {"state": "Start", "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey", "insightType": "ApiCallRateInsight",
        "insightContext": {"statistics": {"baseline": {"average": 0.01}, "insight": {"average": 5.0}}}},
        "eventCategory": "Insight"});
    let rule = object(k, log_file(&[insight]));
    let client = s3(&[&rule]);
    let h = handler();
    let mut counts = Counts::default();
    let o = ObjectRef { bucket: BUCKET.into(), key: k.into(), etag: None };
    let outcome = process_object(&h, &client, &o, &mut counts).await;
    assert!(matches!(outcome, Outcome::Read { records: 1, .. }), "{outcome:?}");
    assert_eq!(counts.malformed, 0);
}
