//! Building each delivery format from records, as AWS would deliver them:
//! for `trailwatch replay --via`, the demo, and the tests.

use base64::Engine;
use serde_json::{json, Value};

use crate::event::Event;

/// The EventBridge event CloudTrail would deliver for a record.
pub fn eventbridge_event(record: Value) -> Option<Value> {
    Event::from_record(record).ok().map(Event::into_value)
}

/// The gzip'd CloudWatch Logs subscription data for these records (each
/// serialized as one compact JSON line, as CloudTrail writes it).
pub fn logs_data(records: &[Value], log_group: &str) -> Vec<u8> {
    let events: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"id": format!("{i:056}"), "timestamp": 0, "message": r.to_string()}))
        .collect();
    let data = json!({
        "messageType": "DATA_MESSAGE",
        "owner": records.first().and_then(|r| r.get("recipientAccountId")).cloned().unwrap_or(json!("000000000000")),
        "logGroup": log_group,
        "logStream": "trailwatch-replay",
        "subscriptionFilters": ["trailwatch"],
        "logEvents": events,
    });
    gzip(data.to_string().as_bytes())
}

/// A CloudWatch Logs subscription payload: `{"awslogs":{"data": ...}}`.
pub fn logs_payload(records: &[Value], log_group: &str) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(logs_data(records, log_group));
    json!({"awslogs": {"data": data}})
}

/// A Kinesis event, one stream record per chunk of records.
pub fn kinesis_event(chunks: &[Vec<Value>], log_group: &str) -> Value {
    let records: Vec<Value> = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let data = base64::engine::general_purpose::STANDARD.encode(logs_data(chunk, log_group));
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "trailwatch",
                    "sequenceNumber": format!("{:056}", i + 1),
                    "data": data,
                    "approximateArrivalTimestamp": 1_700_000_000.0
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{:056}", i + 1),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::000000000000:role/trailwatch",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/trailwatch"
            })
        })
        .collect();
    json!({"Records": records})
}

/// gzip in memory.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}
