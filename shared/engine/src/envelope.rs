//! Decoding each delivery format into events, reporting every malformed
//! item instead of stopping the batch.
//!
//! - EventBridge: one event whose `detail` is a CloudTrail record.
//! - CloudWatch Logs subscription: `{"awslogs":{"data": base64(gzip(JSON))}}`
//!   whose `logEvents[].message` are records; `CONTROL_MESSAGE` payloads
//!   carry none.
//! - Kinesis: each stream record's data is the same gzip'd payload.
//! - Files (`trailwatch replay`): S3 delivery files `{"Records":[...]}`, JSON
//!   arrays, JSON lines (records or EventBridge events), plain or gzip'd.
//!
//! Inflation is bounded ([`MAX_INFLATED_BYTES`]) and so is JSON nesting
//! (serde_json refuses more than 128 levels).

use std::io::Read;

use aws_lambda_events::cloudwatch_logs::LogData;
use base64::Engine;
use serde_json::Value;

use crate::event::Event;

/// The most bytes one gzip'd payload may inflate to. Lambda accepts at most
/// 6 MB of request payload; a CloudWatch Logs batch inflates to a few MB at
/// most, so a payload past 64 MiB is refused as a decompression bomb.
pub const MAX_INFLATED_BYTES: u64 = 64 * 1024 * 1024;

/// A payload that could not be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the payload is not base64: {0}")]
    Base64(String),
    #[error("the payload is not gzip data: {0}")]
    Gzip(String),
    #[error("the payload inflates past {MAX_INFLATED_BYTES} bytes; refused as a decompression bomb")]
    TooLarge,
    #[error("the payload is not valid JSON: {0}")]
    Json(String),
    #[error("unrecognised payload: {0}")]
    Shape(String),
}

/// One item of a delivery that is not a CloudTrail record, and where it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct Malformed {
    /// Where the item came from: a log event id, a Kinesis sequence number,
    /// a file and line.
    pub origin: String,
    /// Why it was refused.
    pub reason: String,
}

/// What one payload held: events, and the items that were not records.
#[derive(Debug, Default)]
pub struct Decoded {
    pub events: Vec<Event>,
    pub malformed: Vec<Malformed>,
    /// A CloudWatch Logs `CONTROL_MESSAGE` (sent when a subscription is
    /// created, to check the destination): it carries no records.
    pub control: bool,
}

impl Decoded {
    fn push(&mut self, origin: impl FnOnce() -> String, item: Result<Event, String>) {
        match item {
            Ok(e) => self.events.push(e),
            Err(reason) => self.malformed.push(Malformed { origin: origin(), reason }),
        }
    }
}

/// The way records reached trailwatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// An EventBridge rule's target: one event per invocation.
    EventBridge,
    /// A CloudWatch Logs subscription filter's target.
    Logs,
    /// A Kinesis Data Streams event source fed by a subscription filter.
    Kinesis,
}

impl Via {
    /// The name users type (`--via eventbridge`).
    pub fn as_str(self) -> &'static str {
        match self {
            Via::EventBridge => "eventbridge",
            Via::Logs => "logs",
            Via::Kinesis => "kinesis",
        }
    }
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Via {
    type Err = String;

    fn from_str(s: &str) -> Result<Via, String> {
        match s {
            "eventbridge" => Ok(Via::EventBridge),
            "logs" => Ok(Via::Logs),
            "kinesis" => Ok(Via::Kinesis),
            other => Err(format!("\"{other}\" is not a delivery path: use eventbridge, logs or kinesis")),
        }
    }
}

/// A payload's delivery, from its shape, with what it carries.
#[derive(Debug)]
pub enum Delivery {
    /// An EventBridge event.
    EventBridge(Value),
    /// A CloudWatch Logs subscription payload: the `awslogs.data` text.
    Logs(String),
    /// A Kinesis Data Streams batch.
    Kinesis(Vec<KinesisItem>),
}

/// One record of a Kinesis batch, as far as trailwatch reads it.
///
/// Only the two fields used are read: a field trailwatch has no use for
/// (an arrival timestamp written with 19 decimals, which makes
/// `aws_lambda_events`' `KinesisEvent` overflow, found by fuzzing) cannot
/// fail the batch, and a record whose data is bad fails alone.
#[derive(Debug)]
pub struct KinesisItem {
    /// `kinesis.sequenceNumber`: how a partial batch failure names it.
    pub sequence_number: String,
    /// `kinesis.data`, base64-decoded: a gzip'd subscription payload.
    pub data: Result<Vec<u8>, EnvelopeError>,
}

impl Delivery {
    /// Recognise the delivery path of a Lambda payload.
    pub fn classify(payload: Value) -> Result<Delivery, EnvelopeError> {
        if let Some(data) = payload.get("awslogs").and_then(|a| a.get("data")) {
            return data
                .as_str()
                .map(|d| Delivery::Logs(d.to_string()))
                .ok_or_else(|| EnvelopeError::Shape("awslogs.data must be a string".into()));
        }
        if let Some(Value::Array(records)) = payload.get("Records") {
            return records.iter().enumerate().map(kinesis_item).collect::<Result<_, _>>().map(Delivery::Kinesis);
        }
        if Event::is_eventbridge(&payload) {
            return Ok(Delivery::EventBridge(payload));
        }
        Err(EnvelopeError::Shape(
            "expected an EventBridge event, a CloudWatch Logs subscription payload ({\"awslogs\":...}) or a Kinesis event ({\"Records\":...})".into(),
        ))
    }
}

/// A Kinesis record's sequence number and data. Without a sequence number
/// a record could not be reported as failed, so the batch is refused.
fn kinesis_item((i, record): (usize, &Value)) -> Result<KinesisItem, EnvelopeError> {
    let shape = |what: &str| EnvelopeError::Shape(format!("not a Kinesis event: record {i} has no {what}"));
    let kinesis = record.get("kinesis").filter(|k| k.is_object()).ok_or_else(|| shape("\"kinesis\" object"))?;
    let sequence_number = kinesis
        .get("sequenceNumber")
        .and_then(Value::as_str)
        .ok_or_else(|| shape("\"kinesis.sequenceNumber\" string"))?;
    let data = match kinesis.get("data").and_then(Value::as_str) {
        Some(d) => {
            base64::engine::general_purpose::STANDARD.decode(d).map_err(|e| EnvelopeError::Base64(e.to_string()))
        }
        None => Err(shape("\"kinesis.data\" string")),
    };
    Ok(KinesisItem { sequence_number: sequence_number.to_string(), data })
}

/// A CloudWatch Logs subscription payload: base64(gzip(JSON)).
pub fn logs(data: &str) -> Result<Decoded, EnvelopeError> {
    logs_messages(data).map(Messages::decode_all)
}

/// The gzip'd logs payload (as a Kinesis record carries it).
pub fn logs_gzip(gz: &[u8]) -> Result<Decoded, EnvelopeError> {
    logs_gzip_messages(gz).map(Messages::decode_all)
}

/// Whether JSON text is an EventBridge event carrying a record: an object
/// with a `detail-type` and a `detail` that is an object, read without
/// building it ([`Event::from_eventbridge`] accepts exactly these).
pub fn is_eventbridge_record_text(text: &str) -> bool {
    use serde::de::{IgnoredAny, MapAccess, Visitor};
    /// `detail`: an object, its contents skipped.
    struct Object;
    impl<'de> serde::Deserialize<'de> for Object {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Object;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Object, A::Error> {
                    while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(Object)
                }
            }
            d.deserialize_map(V)
        }
    }
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(rename = "detail-type")]
        _detail_type: IgnoredAny,
        #[serde(rename = "detail")]
        _detail: Object,
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde::Deserialize::deserialize(&mut de).map(|_: Shape| ()).and_then(|_| de.end()).is_ok()
}

/// A subscription payload's log events, not yet parsed as records.
#[derive(Debug)]
pub struct Messages {
    /// A `CONTROL_MESSAGE`: it carries no records.
    pub control: bool,
    data: LogData,
}

impl Messages {
    /// Each log event as an event, parsed one at a time: a 6 MB payload
    /// inflates to about 45 MB of JSON, and holding every parsed record at
    /// once would take ten times that.
    pub fn events(self) -> impl Iterator<Item = Result<Event, Malformed>> {
        let (group, stream) = (self.data.log_group, self.data.log_stream);
        let entries = if self.control { Vec::new() } else { self.data.log_events };
        entries.into_iter().map(move |entry| {
            let origin = || format!("log event {} in {group}/{stream}", entry.id);
            Event::from_text(entry.message).map_err(|reason| Malformed { origin: origin(), reason })
        })
    }

    /// Each log event's message with where it came from, not parsed.
    pub fn texts(self) -> impl Iterator<Item = (String, String)> {
        let (group, stream) = (self.data.log_group, self.data.log_stream);
        let entries = if self.control { Vec::new() } else { self.data.log_events };
        entries.into_iter().map(move |entry| (format!("log event {} in {group}/{stream}", entry.id), entry.message))
    }

    /// Every event at once.
    pub fn decode_all(self) -> Decoded {
        let mut out = Decoded { control: self.control, ..Decoded::default() };
        for item in self.events() {
            match item {
                Ok(e) => out.events.push(e),
                Err(m) => out.malformed.push(m),
            }
        }
        out
    }
}

/// The log events of a subscription payload (base64(gzip(JSON))).
pub fn logs_messages(data: &str) -> Result<Messages, EnvelopeError> {
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| EnvelopeError::Base64(e.to_string()))?;
    logs_gzip_messages(&gz)
}

/// The log events of a gzip'd subscription payload.
pub fn logs_gzip_messages(gz: &[u8]) -> Result<Messages, EnvelopeError> {
    let json = inflate(gz)?;
    let data: LogData = serde_json::from_slice(&json).map_err(|e| EnvelopeError::Json(e.to_string()))?;
    Ok(Messages { control: data.message_type == "CONTROL_MESSAGE", data })
}

/// Inflate gzip data (one or more members), refusing more than
/// [`MAX_INFLATED_BYTES`].
pub fn inflate(gz: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let mut out = Vec::with_capacity(gz.len().saturating_mul(8).min(16 << 20));
    flate2::read::MultiGzDecoder::new(gz)
        .take(MAX_INFLATED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| EnvelopeError::Gzip(e.to_string()))?;
    if out.len() as u64 > MAX_INFLATED_BYTES {
        return Err(EnvelopeError::TooLarge);
    }
    Ok(out)
}

/// The records of a CloudTrail file as users have them: an S3 delivery file
/// `{"Records":[...]}`, a JSON array, or JSON lines, each plain or gzip'd.
/// Items may be records or EventBridge events (such as `events.jsonl`).
pub fn file(name: &str, bytes: &[u8]) -> Result<Decoded, EnvelopeError> {
    let inflated;
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        inflated = inflate(bytes)?;
        &inflated[..]
    } else {
        bytes
    };
    let text = std::str::from_utf8(bytes).map_err(|e| EnvelopeError::Json(format!("{name} is not UTF-8 text: {e}")))?;
    let mut out = Decoded::default();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut map)) if map.get("Records").is_some_and(Value::is_array) => {
            if let Some(Value::Array(items)) = map.remove("Records") {
                items_into(name, items, &mut out);
            }
        }
        Ok(Value::Array(items)) => items_into(name, items, &mut out),
        Ok(single @ Value::Object(_)) => items_into(name, vec![single], &mut out),
        Ok(_) => return Err(EnvelopeError::Shape(format!("{name}: expected CloudTrail records"))),
        Err(_) => {
            // JSON lines: one record or event per line; a bad line is reported.
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let item = serde_json::from_str::<Value>(line)
                    .map_err(|e| format!("not JSON: {e}"))
                    .and_then(|v| Event::from_item(v).map_err(|e| e.to_string()));
                out.push(|| format!("{name}:{}", n + 1), item);
            }
        }
    }
    Ok(out)
}

fn items_into(name: &str, items: Vec<Value>, out: &mut Decoded) {
    for (i, v) in items.into_iter().enumerate() {
        out.push(|| format!("{name}[{i}]"), Event::from_item(v).map_err(|e| e.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use serde_json::json;
    use std::io::Write;

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).expect("write to memory");
        e.finish().expect("finish in memory")
    }

    fn payload(messages: &[&str], kind: &str) -> String {
        let events: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 0, "message": m}))
            .collect();
        let data = json!({"messageType": kind, "owner": "123456789012", "logGroup": "g", "logStream": "s",
                          "subscriptionFilters": ["f"], "logEvents": events});
        base64::engine::general_purpose::STANDARD.encode(gzip(data.to_string().as_bytes()))
    }

    #[test]
    fn logs_payload_keeps_good_records_and_reports_bad_ones() {
        let good = r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"t"}"#;
        let d = logs(&payload(&[good, "not json", "[1]", good], "DATA_MESSAGE")).expect("decodes");
        assert_eq!(d.events.len(), 2);
        assert_eq!(d.malformed.len(), 2);
        assert!(d.malformed[0].origin.contains("log event 1"));
    }

    #[test]
    fn control_messages_carry_nothing() {
        let d = logs(&payload(&["CWL CONTROL MESSAGE: Checking health of destination"], "CONTROL_MESSAGE"))
            .expect("decodes");
        assert!(d.control && d.events.is_empty() && d.malformed.is_empty());
    }

    #[test]
    fn bad_payloads_are_errors() {
        assert!(matches!(logs("%%%"), Err(EnvelopeError::Base64(_))));
        let not_gzip = base64::engine::general_purpose::STANDARD.encode(b"plain");
        assert!(matches!(logs(&not_gzip), Err(EnvelopeError::Gzip(_))));
        let bomb = gzip(&vec![b' '; (MAX_INFLATED_BYTES + 10) as usize]);
        assert!(bomb.len() < 1 << 20, "the bomb is small: {}", bomb.len());
        assert_eq!(inflate(&bomb), Err(EnvelopeError::TooLarge));
    }

    #[test]
    fn deep_json_is_refused() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(Event::from_text(deep).is_err());
    }

    #[test]
    fn files_in_every_format() {
        let rec = json!({"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"t"});
        let s3 = json!({"Records": [rec, rec]}).to_string();
        assert_eq!(file("a.json", s3.as_bytes()).expect("s3").events.len(), 2);
        assert_eq!(file("a.json.gz", &gzip(s3.as_bytes())).expect("gz").events.len(), 2);
        let array = json!([rec]).to_string();
        assert_eq!(file("b.json", array.as_bytes()).expect("array").events.len(), 1);
        let lines = format!("{rec}\n\n{{broken\n{}\n", json!({"detail-type": "x", "detail": rec}));
        let d = file("c.jsonl", lines.as_bytes()).expect("lines");
        assert_eq!((d.events.len(), d.malformed.len()), (2, 1));
        assert_eq!(d.malformed[0].origin, "c.jsonl:3");
        assert!(file("d.bin", &[0xff, 0xfe, 0x00]).is_err());
    }
}
