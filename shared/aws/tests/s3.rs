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
use trailwatch_engine::alert::Alert;
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

/// `n` StopLogging calls by `user`, one second apart from 09:00 (one dedup
/// period), event ids `<user>-<i>`.
fn stops_by(user: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut r = stop_logging(&format!("{user}-{i}"));
            r["userIdentity"]["arn"] = json!(format!("arn:aws:iam::111122223333:user/{user}"));
            r["userIdentity"]["userName"] = json!(user);
            r["eventTime"] = json!(format!("2026-11-30T09:{:02}:{:02}Z", i / 60 % 60, i % 60));
            r
        })
        .collect()
}

/// A failed console sign-in from 203.0.113.50 at 09:0m:s.
fn failed_sign_in(i: usize) -> Value {
    json!({"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "accountId": "111122223333", "userName": "bob"},
           "eventTime": format!("2026-11-30T09:0{}:{:02}Z", i / 60, i % 60), "eventSource": "signin.amazonaws.com",
           "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.50",
           "userAgent": "Mozilla/5.0", "errorMessage": "Failed authentication", "requestParameters": null,
           "responseElements": {"ConsoleLogin": "Failure"}, "eventID": format!("login-{i}"), "readOnly": false,
           "eventType": "AwsConsoleSignIn", "managementEvent": true, "recipientAccountId": "111122223333",
           "eventCategory": "Management"})
}

/// One file read with at most `max_held` matches held: what was sent
/// (rule, event id and count of each alert, sorted), the counts and the
/// number of responses.
async fn read_in_chunks<St: state::Store>(
    h: &Handler<sink::Memory, Tally, St>,
    file: &[u8],
    max_held: usize,
) -> (Vec<(String, String, u64)>, Counts, usize) {
    let o = ObjectRef { bucket: BUCKET.into(), key: key("chunks"), etag: None };
    let kind = trailwatch_engine::s3::file_kind(&o.key);
    let read = trailwatch_aws::s3::read_body(h, &o, kind, ByteStream::from(file.to_vec()), max_held).await;
    assert!(read.failed.is_none() && read.errors.is_empty(), "{read:?}");
    assert!(read.read.is_ok(), "{read:?}");
    let mut sent: Vec<_> =
        h.sink().take().into_iter().map(|a| (a.rule_id, a.event_id.unwrap_or_default(), a.count)).collect();
    sent.sort();
    (sent, read.counts, read.chunks)
}

/// A file with many more matches than the bound is answered in several
/// responses; with a state store they send what one response sends: the
/// same alerts (dedup across responses through the store: a later
/// response's matches of a sent alert are counted as suppressed instead of
/// into its `count`), the same threshold alert (its window observed in the
/// store across responses), the same counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_past_the_bound_is_answered_in_chunks_with_the_same_alerts() {
    chunks_answer_as_one_response().await
}

/// The same on a single-threaded runtime (the body collected, then parsed
/// on a blocking thread).
#[tokio::test]
async fn a_file_past_the_bound_is_answered_in_chunks_on_one_thread() {
    chunks_answer_as_one_response().await
}

async fn chunks_answer_as_one_response() {
    let users: Vec<String> = (0..40).map(|i| format!("user{i}")).collect();
    let mut records: Vec<Value> = users.iter().map(|u| stops_by(u, 1).remove(0)).collect();
    records.extend((0..8).map(failed_sign_in));
    // Each user again, in the same dedup period, chunks later.
    records.extend(users.iter().map(|u| {
        let mut r = stops_by(u, 2).remove(1);
        r["eventID"] = json!(format!("{u}-again"));
        r
    }));
    let file = log_file(&records);

    let (one, one_counts, one_chunks) = read_in_chunks(&handler(), &file, usize::MAX).await;
    let (chunked, counts, chunks) = read_in_chunks(&handler(), &file, 7).await;
    assert_eq!(one_chunks, 1);
    assert!(chunks > 10, "answered in {chunks} responses");
    let first = |sent: &[(String, String, u64)]| -> Vec<(String, String)> {
        sent.iter().map(|(r, e, _)| (r.clone(), e.clone())).collect()
    };
    assert_eq!(first(&chunked), first(&one), "the same alerts, each for the same first record");
    assert!(one.iter().any(|(r, _, _)| r == "signin-console-password-guessing"), "{one:?}");
    assert!(one.iter().any(|(_, e, n)| e == "user0-0" && *n == 2), "one response merges a user's two calls: {one:?}");
    assert!(chunked.iter().any(|(_, e, n)| e == "user0-0" && *n == 1), "{chunked:?}");
    let total = |sent: &[(String, String, u64)], c: &Counts| sent.iter().map(|s| s.2).sum::<u64>() + c.suppressed;
    assert_eq!(total(&chunked, &counts), total(&one, &one_counts), "every match is in an alert or suppressed");
    assert!(counts.suppressed >= 40, "{counts:?}");
    assert_eq!(
        (counts.records, &counts.matches, counts.alerts_published, counts.malformed),
        (one_counts.records, &one_counts.matches, one_counts.alerts_published, one_counts.malformed)
    );
    assert_eq!(counts.records, records.len() as u64);

    // Without a store identical alerts merge within a response only: the
    // same matches, in more alerts.
    let stateless =
        || Handler::new(RuleSet::new(rules::load(None).expect("rules")), sink::Memory::default(), Tally::default());
    let (one, one_counts, _) = read_in_chunks(&stateless(), &file, usize::MAX).await;
    let (chunked, counts, chunks) = read_in_chunks(&stateless(), &file, 7).await;
    assert!(chunks > 10);
    assert_eq!(total(&chunked, &counts), total(&one, &one_counts));
    assert!(chunked.len() > one.len(), "{} alerts against {}", chunked.len(), one.len());
    assert_eq!((counts.records, &counts.matches), (one_counts.records, &one_counts.matches));
}

/// A sink that refuses the alerts of one actor (the memory sink otherwise).
#[derive(Debug, Default)]
struct RefusingActor {
    inner: sink::Memory,
    refused: std::sync::Mutex<Option<String>>,
}

impl sink::Sink for RefusingActor {
    async fn publish(&self, alert: &Alert, route: Option<&str>) -> Result<String, sink::DeliveryError> {
        let refused = self.refused.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if refused.is_some_and(|user| alert.actor.contains(&user)) {
            return Err(sink::DeliveryError::new(alert, "refused in the test"));
        }
        self.inner.publish(alert, route).await
    }
}

/// With the function's own bound, on its runtime: an alert refused in a
/// middle response retries the message although the later responses
/// delivered theirs; the counts add up over the responses; the retry sends
/// only what was not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_refused_in_a_later_chunk_retries_the_message() {
    let n = trailwatch_aws::s3::MAX_HELD_MATCHES + 4;
    let mut records = stops_by("alice", n);
    records.extend(stops_by("bob", 1));
    records.extend(stops_by("carol", n));
    let good = key("big");
    let rule = object(&good, log_file(&records));
    let client = s3(&[&rule]);
    let h = Handler::new(RuleSet::new(rules::load(None).expect("rules")), RefusingActor::default(), Tally::default())
        .with_state(state::Memory::default(), Clock::Watermark(AtomicI64::new(i64::MIN)));
    *h.sink().refused.lock().expect("lock") = Some("bob".into());
    let batch = sqs(&[("m1", cloudtrail_notification(std::slice::from_ref(&good)))]);

    let response = handle(&h, &client, batch.clone()).await.expect("answered");
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, vec!["m1"], "bob's alert was refused: the message is retried");
    let sent = h.sink().inner.take();
    let by = |user: &str| sent.iter().filter(|a| a.actor.contains(user)).map(|a| a.count).collect::<Vec<_>>();
    let alice = by("alice");
    assert_eq!(alice.len(), 1, "{sent:?}");
    assert!(
        alice[0] < n as u64,
        "alice's alert was sent by the first response, before her last calls were read: {alice:?}"
    );
    assert_eq!(by("carol").len(), 1, "the responses after the refusal delivered theirs");
    let c = h.metrics().counts();
    assert_eq!(c.records, 2 * n as u64 + 1, "every response's records counted");
    assert_eq!((c.alerts_published, c.delivery_failures), (2, 1));
    let stop_logging_matches: u64 =
        c.matches.iter().filter(|((rule, _), _)| rule == "cloudtrail-logging-stopped").map(|(_, n)| n).sum();
    let in_alerts: u64 = sent.iter().filter(|a| a.rule_id == "cloudtrail-logging-stopped").map(|a| a.count).sum();
    assert_eq!(
        in_alerts + 1 + c.suppressed,
        stop_logging_matches,
        "each match in an alert (bob's refused), or suppressed"
    );

    // The retry: the object's claim was released, so it is read again; only
    // bob's alert goes out.
    *h.sink().refused.lock().expect("lock") = None;
    let response = handle(&h, &client, batch.clone()).await.expect("answered");
    assert!(response.batch_item_failures.is_empty());
    let sent = h.sink().inner.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].actor.contains("bob"));
    handle(&h, &client, batch).await.expect("answered");
    assert!(h.sink().inner.take().is_empty(), "read through: skipped");
}
