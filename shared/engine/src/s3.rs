//! CloudTrail's own delivery to S3, without AWS: which objects a queue
//! message names, what a key says (account, region, day, kind of file),
//! and a log file's records read one at a time from any [`Read`].
//!
//! Messages the S3 function's queue receives (shapes from AWS's
//! documentation, each tested below):
//! - CloudTrail's log-delivery notification, `{"s3Bucket": B,
//!   "s3ObjectKey": [K, ...]}` (CloudTrail user guide, "Configuring Amazon
//!   SNS notifications for CloudTrail"), inside the SNS envelope
//!   (`{"Type": "Notification", "Message": "<that JSON as text>"}`) unless
//!   the subscription uses raw message delivery;
//! - S3 event notifications, `{"Records": [{"eventSource": "aws:s3",
//!   "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": B},
//!   "object": {"key": K, "eTag": E}}}]}` (S3 user guide, "Event message
//!   structure"; the key is URL-encoded, a space as `+`), direct or through
//!   SNS; S3's `s3:TestEvent` carries no object;
//! - S3 events through EventBridge, `{"source": "aws.s3", "detail-type":
//!   "Object Created", "detail": {"bucket": {"name": B}, "object": {"key":
//!   K, "etag": E}}}` (S3 user guide, "EventBridge event message
//!   structure"; the key is not encoded).
//!
//! Keys: `[prefix/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/FILE`
//! (`CloudTrail-Digest` for digest files, skipped; `CloudTrail-Insight` for
//! Insights events, read as such).
//!
//! A file is `{"Records": [...]}`, usually gzip'd: it is inflated and parsed
//! record by record, each record dropped once matched, so a 50 MB file is
//! never held whole; inflation is bounded ([`MAX_FILE_INFLATED_BYTES`]).

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::Value;

use crate::envelope::{EnvelopeError, Malformed};
use crate::event::Event;

/// The most bytes one log file may inflate to. CloudTrail files reach tens
/// of MB; past this an object is refused as a decompression bomb (the
/// records read before the bound are still matched).
pub const MAX_FILE_INFLATED_BYTES: u64 = 512 * 1024 * 1024;

/// One S3 object a message names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// The ETag the notification gave (S3 notifications do; CloudTrail's
    /// do not: it is read from `GetObject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// The objects one SQS message body names, whichever notification it is.
/// An empty list is a message with nothing to read (S3's test event, an
/// event other than `ObjectCreated`).
pub fn notification(body: &str) -> Result<Vec<ObjectRef>, EnvelopeError> {
    let value: Value = serde_json::from_str(body).map_err(|e| EnvelopeError::Json(e.to_string()))?;
    objects(&value, true)
}

fn objects(v: &Value, unwrap_sns: bool) -> Result<Vec<ObjectRef>, EnvelopeError> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    // SNS envelope: the notification is the Message, as text.
    if unwrap_sns && v.get("Type").and_then(Value::as_str) == Some("Notification") {
        let message = v
            .get("Message")
            .and_then(Value::as_str)
            .ok_or_else(|| EnvelopeError::Shape("an SNS notification without a Message".into()))?;
        let inner: Value = serde_json::from_str(message)
            .map_err(|e| EnvelopeError::Json(format!("the SNS Message is not JSON: {e}")))?;
        return objects(&inner, false);
    }
    // CloudTrail's log-delivery notification.
    if let (Some(bucket), Some(keys)) = (s(v, "s3Bucket"), v.get("s3ObjectKey").and_then(Value::as_array)) {
        return keys
            .iter()
            .map(|k| {
                k.as_str()
                    .map(|key| ObjectRef { bucket: bucket.clone(), key: key.to_string(), etag: None })
                    .ok_or_else(|| EnvelopeError::Shape("s3ObjectKey holds a non-string".into()))
            })
            .collect();
    }
    // S3 event notifications.
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let mut out = Vec::new();
        for r in records {
            if r.get("eventSource").and_then(Value::as_str) != Some("aws:s3") {
                return Err(EnvelopeError::Shape("a Records item that is not an S3 event notification".into()));
            }
            if !r.get("eventName").and_then(Value::as_str).is_some_and(|n| n.starts_with("ObjectCreated:")) {
                continue;
            }
            let (bucket, object) = (&r["s3"]["bucket"], &r["s3"]["object"]);
            match (s(bucket, "name"), s(object, "key")) {
                (Some(bucket), Some(key)) => {
                    out.push(ObjectRef { bucket, key: url_decode(&key), etag: s(object, "eTag") })
                }
                _ => return Err(EnvelopeError::Shape("an S3 event without s3.bucket.name and s3.object.key".into())),
            }
        }
        return Ok(out);
    }
    if s(v, "Event").as_deref() == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    // S3 through EventBridge.
    if s(v, "source").as_deref() == Some("aws.s3") && v.get("detail-type").is_some() {
        if s(v, "detail-type").as_deref() != Some("Object Created") {
            return Ok(Vec::new());
        }
        let (bucket, object) = (&v["detail"]["bucket"], &v["detail"]["object"]);
        return match (s(bucket, "name"), s(object, "key")) {
            (Some(bucket), Some(key)) => Ok(vec![ObjectRef { bucket, key, etag: s(object, "etag") }]),
            _ => Err(EnvelopeError::Shape(
                "an Object Created event without detail.bucket.name and detail.object.key".into(),
            )),
        };
    }
    Err(EnvelopeError::Shape(
        "expected a CloudTrail delivery notification ({\"s3Bucket\":...,\"s3ObjectKey\":[...]}), an S3 event notification or an S3 Object Created event".into(),
    ))
}

/// A key as S3 event notifications write it: `application/x-www-form-urlencoded`
/// (`+` a space, `%XX` a byte). A malformed escape is kept as it is.
pub fn url_decode(key: &str) -> String {
    let b = key.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// What kind of file a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A log file of events (`CloudTrail/`).
    Log,
    /// A digest file (`CloudTrail-Digest/`): hashes, no events; skipped.
    Digest,
    /// An Insights file (`CloudTrail-Insight/`): Insights events.
    Insight,
}

/// What a CloudTrail key says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The organization id of an organization trail (`o-...`).
    pub org: Option<String>,
    pub account: String,
    pub kind: FileKind,
    pub region: String,
    /// The delivery day, `YYYY/MM/DD`.
    pub day: String,
}

/// Read a key of CloudTrail's layout; `None` for any other key.
pub fn parse_key(key: &str) -> Option<KeyInfo> {
    let parts: Vec<&str> = key.split('/').collect();
    let at = parts.iter().position(|p| *p == "AWSLogs")?;
    let mut rest = &parts[at + 1..];
    let org = match rest.first() {
        Some(p) if p.starts_with("o-") => {
            let o = p.to_string();
            rest = &rest[1..];
            Some(o)
        }
        _ => None,
    };
    let [account, kind, region, y, m, d, file, ..] = rest else { return None };
    let kind = match *kind {
        "CloudTrail" => FileKind::Log,
        "CloudTrail-Digest" => FileKind::Digest,
        "CloudTrail-Insight" => FileKind::Insight,
        _ => return None,
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(account, 12) || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) || file.is_empty() || region.is_empty() {
        return None;
    }
    Some(KeyInfo { org, account: account.to_string(), kind, region: region.to_string(), day: format!("{y}/{m}/{d}") })
}

/// The kind of file a key holds: by its layout, else by the folder names
/// CloudTrail uses, else a log file.
pub fn file_kind(key: &str) -> FileKind {
    match parse_key(key) {
        Some(info) => info.kind,
        None if key.contains("/CloudTrail-Digest/") => FileKind::Digest,
        None if key.contains("/CloudTrail-Insight/") => FileKind::Insight,
        None => FileKind::Log,
    }
}

/// Which keys a replay or backfill reads: `--since`/`--until` (days,
/// `YYYY-MM-DD`, inclusive), `--account`, `--region`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    pub since: Option<String>,
    pub until: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
}

/// The most day prefixes a filter lists one by one; a longer span is listed
/// by its account and region prefix and filtered by key.
const MAX_DAY_PREFIXES: i64 = 400;

impl KeyFilter {
    /// Check the dates (`YYYY-MM-DD`).
    pub fn new(
        since: Option<String>,
        until: Option<String>,
        account: Option<String>,
        region: Option<String>,
    ) -> Result<KeyFilter, String> {
        for d in since.iter().chain(until.iter()) {
            if day_number(d).is_none() {
                return Err(format!("\"{d}\" is not a day: use YYYY-MM-DD"));
            }
        }
        Ok(KeyFilter { since, until, account, region })
    }

    /// Whether a key is a file to read: a log or Insights file (digests
    /// never) within the filter. A key outside CloudTrail's layout is read
    /// only when the filter is empty.
    pub fn keeps(&self, key: &str) -> bool {
        let Some(info) = parse_key(key) else {
            return *self == KeyFilter::default() && file_kind(key) != FileKind::Digest;
        };
        let day = info.day.replace('/', "-");
        info.kind != FileKind::Digest
            && self.account.as_ref().is_none_or(|a| *a == info.account)
            && self.region.as_ref().is_none_or(|r| *r == info.region)
            && self.since.as_ref().is_none_or(|s| day >= *s)
            && self.until.as_ref().is_none_or(|u| day <= *u)
    }

    /// The key prefixes to list under `base` (a prefix ending in `AWSLogs/`
    /// or `AWSLogs/o-ORG/` is narrowed by account, region and days; any
    /// other is listed whole and its keys filtered with [`KeyFilter::keeps`]).
    pub fn prefixes(&self, base: &str) -> Vec<String> {
        let last = base.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let at_logs = base.ends_with('/') && (last == "AWSLogs" || last.starts_with("o-"));
        let (Some(account), true) = (&self.account, at_logs) else { return vec![base.to_string()] };
        let mut out = Vec::new();
        for kind in ["CloudTrail", "CloudTrail-Insight"] {
            let head = format!("{base}{account}/{kind}/");
            let Some(region) = &self.region else {
                out.push(head);
                continue;
            };
            let head = format!("{head}{region}/");
            match (self.since.as_deref().and_then(day_number), self.until.as_deref().and_then(day_number)) {
                (Some(from), Some(to)) if to >= from && to - from < MAX_DAY_PREFIXES => {
                    out.extend((from..=to).map(|n| format!("{head}{}/", day_path(n))))
                }
                _ => out.push(head),
            }
        }
        out
    }
}

/// Days since 1970-01-01 of `YYYY-MM-DD` (the proleptic Gregorian calendar).
fn day_number(day: &str) -> Option<i64> {
    let mut it = day.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(crate::state::days_from_civil(y, m, d))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY/MM/DD` of a day number.
fn day_path(n: i64) -> String {
    let (y, m, d) = crate::state::civil_from_days(n);
    format!("{y:04}/{m:02}/{d:02}")
}

/// What reading one file found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Items of `Records` (records and malformed ones).
    pub items: u64,
    /// Bytes of JSON read (after inflation).
    pub bytes: u64,
}

/// The inflation bound was passed.
#[derive(Debug)]
struct Bomb;

impl fmt::Display for Bomb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inflates past {MAX_FILE_INFLATED_BYTES} bytes")
    }
}

impl std::error::Error for Bomb {}

/// A reader that fails once more than `limit` bytes came through it.
struct Bounded<'a, R> {
    inner: R,
    read: &'a Cell<u64>,
    limit: u64,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        if self.read.get() > self.limit {
            return Err(io::Error::other(Bomb));
        }
        Ok(n)
    }
}

/// Read a CloudTrail file (`{"Records":[...]}`, gzip'd or not) from
/// `reader`, handing each record to `each` as an event (or why it is not
/// one) as soon as it is parsed. `origin` names the file in reports; an
/// Insights file's records are Insights events (`eventType`
/// `AwsCloudTrailInsight`, supplied when missing).
///
/// An error (truncated gzip, not JSON, not a CloudTrail file, past the
/// inflation bound) ends the file; the records before it were handed on.
pub fn read_records<R: Read>(
    reader: R,
    origin: &str,
    kind: FileKind,
    each: &mut dyn FnMut(Result<Event, Malformed>),
) -> Result<FileStats, EnvelopeError> {
    read_records_bounded(reader, origin, kind, MAX_FILE_INFLATED_BYTES, each)
}

/// [`read_records`] with another inflation bound (tests, benchmarks).
pub fn read_records_bounded<R: Read>(
    reader: R,
    origin: &str,
    kind: FileKind,
    limit: u64,
    each: &mut dyn FnMut(Result<Event, Malformed>),
) -> Result<FileStats, EnvelopeError> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let gzip = buffered.fill_buf().map_err(|e| EnvelopeError::Gzip(e.to_string()))?.starts_with(&[0x1f, 0x8b]);
    let read = Cell::new(0);
    let inner: Box<dyn Read + '_> =
        if gzip { Box::new(flate2::bufread::MultiGzDecoder::new(buffered)) } else { Box::new(buffered) };
    let bounded = BufReader::with_capacity(64 * 1024, Bounded { inner, read: &read, limit });
    let mut de = serde_json::Deserializer::from_reader(bounded);
    let mut items = 0;
    let seed = FileSeed { origin, kind, each, items: &mut items };
    let result = seed.deserialize(&mut de).and_then(|found| de.end().map(|()| found));
    let stats = FileStats { items, bytes: read.get().min(limit) };
    match result {
        Ok(true) => Ok(stats),
        Ok(false) => Err(EnvelopeError::Shape(format!("{origin}: not a CloudTrail file (no \"Records\" array)"))),
        Err(e) if e.is_io() => {
            let e = io::Error::from(e);
            if e.get_ref().is_some_and(|inner| inner.is::<Bomb>()) {
                Err(EnvelopeError::TooLarge)
            } else if gzip {
                Err(EnvelopeError::Gzip(format!("{origin}: {e}")))
            } else {
                Err(EnvelopeError::Json(format!("{origin}: {e}")))
            }
        }
        Err(e) if e.is_data() => Err(EnvelopeError::Shape(format!("{origin}: not a CloudTrail file: {e}"))),
        Err(e) => Err(EnvelopeError::Json(format!("{origin}: {e}"))),
    }
}

/// The top level of a file: an object, whose `Records` is read item by
/// item and whose other fields are skipped. Yields whether `Records` was
/// there.
struct FileSeed<'a> {
    origin: &'a str,
    kind: FileKind,
    each: &'a mut dyn FnMut(Result<Event, Malformed>),
    items: &'a mut u64,
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail file: {\"Records\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        let FileSeed { origin, kind, each, items } = self;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Records" && !found {
                found = true;
                map.next_value_seed(RecordsSeed { origin, kind, each: &mut *each, items: &mut *items })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// `Records`: each item parsed, handed on and dropped.
struct RecordsSeed<'a> {
    origin: &'a str,
    kind: FileKind,
    each: &'a mut dyn FnMut(Result<Event, Malformed>),
    items: &'a mut u64,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(mut item) = seq.next_element::<Value>()? {
            let i = *self.items;
            *self.items += 1;
            if self.kind == FileKind::Insight {
                if let Some(map) = item.as_object_mut() {
                    map.entry("eventType").or_insert_with(|| Value::from("AwsCloudTrailInsight"));
                }
            }
            (self.each)(
                Event::from_record(item)
                    .map_err(|e| Malformed { origin: format!("{}[{i}]", self.origin), reason: e.to_string() }),
            );
        }
        Ok(())
    }
}

/// An SQS partial batch response: the messages to retry, by id (the
/// shape Lambda reads: `{"batchItemFailures": [{"itemIdentifier": ID}]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsBatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One message to retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

impl SqsBatchResponse {
    pub fn add_failure(&mut self, message_id: impl Into<String>) {
        self.batch_item_failures.push(BatchItemFailure { item_identifier: message_id.into() });
    }
}

/// One message of an SQS event, as far as the S3 function reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsMessage {
    pub message_id: String,
    pub body: String,
}

/// The messages of an SQS event (`{"Records": [{"messageId", "body", ...}]}`).
/// Without a message id a message could not be reported as failed, so the
/// batch is refused.
pub fn sqs_messages(payload: &Value) -> Result<Vec<SqsMessage>, EnvelopeError> {
    let records = payload
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| EnvelopeError::Shape("expected an SQS event ({\"Records\": [...]})".into()))?;
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let field = |k: &str| {
                r.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| EnvelopeError::Shape(format!("not an SQS event: record {i} has no \"{k}\" string")))
            };
            Ok(SqsMessage { message_id: field("messageId")?, body: field("body")? })
        })
        .collect()
}

/// The SQS message body that names one object the way the S3 function
/// reads it (CloudTrail's notification shape, raw: `trailwatch backfill`).
pub fn backfill_body(bucket: &str, keys: &[String]) -> String {
    serde_json::json!({"s3Bucket": bucket, "s3ObjectKey": keys}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use serde_json::json;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).expect("write to memory");
        e.finish().expect("finish in memory")
    }

    const KEY: &str = "AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2024/02/29/111122223333_CloudTrail_us-east-1_20240229T0000Z_abc.json.gz";

    #[test]
    fn cloudtrail_notification_raw_and_in_sns() {
        let raw = json!({"s3Bucket": "trail-bucket", "s3ObjectKey": [KEY, "AWSLogs/1/x"]}).to_string();
        let objs = notification(&raw).expect("raw");
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0], ObjectRef { bucket: "trail-bucket".into(), key: KEY.into(), etag: None });
        let sns = json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                         "Message": raw, "Timestamp": "2024-02-29T00:05:00.000Z"})
        .to_string();
        assert_eq!(notification(&sns).expect("sns"), objs);
    }

    #[test]
    fn s3_event_notifications_direct_sns_and_eventbridge() {
        let n = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2024-02-29T00:05:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                   "object": {"key": "AWSLogs/111122223333/CloudTrail/us-east-1/2024/02/29/a+b%3Dc.json.gz",
                              "size": 10, "eTag": "0123", "sequencer": "0A"}}},
            {"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "gone"}}}]});
        let objs = notification(&n.to_string()).expect("s3 event");
        assert_eq!(objs.len(), 1, "only ObjectCreated");
        assert_eq!(objs[0].key, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/02/29/a b=c.json.gz");
        assert_eq!(objs[0].etag.as_deref(), Some("0123"));
        let sns = json!({"Type": "Notification", "Message": n.to_string()}).to_string();
        assert_eq!(notification(&sns).expect("through SNS"), objs);
        let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}).to_string();
        assert!(notification(&test_event).expect("test event").is_empty());
        let eb = json!({"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
            "account": "111122223333", "time": "t", "region": "us-east-1", "resources": ["arn:aws:s3:::b"],
            "detail": {"version": "0", "bucket": {"name": "b"},
                       "object": {"key": "k+1", "size": 3, "etag": "e"}, "reason": "PutObject"}});
        assert_eq!(
            notification(&eb.to_string()).expect("eventbridge"),
            vec![ObjectRef { bucket: "b".into(), key: "k+1".into(), etag: Some("e".into()) }]
        );
    }

    #[test]
    fn other_messages_are_refused() {
        assert!(matches!(notification("nope"), Err(EnvelopeError::Json(_))));
        assert!(matches!(notification(r#"{"hello": 1}"#), Err(EnvelopeError::Shape(_))));
        assert!(matches!(notification(r#"{"Type": "Notification", "Message": "{]"}"#), Err(EnvelopeError::Json(_))));
        assert!(matches!(notification(r#"{"s3Bucket": "b", "s3ObjectKey": [1]}"#), Err(EnvelopeError::Shape(_))));
        assert!(notification(r#"{"Records": [{"eventSource": "aws:kinesis"}]}"#).is_err());
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("a+b%20c%2Fd"), "a b c/d");
        assert_eq!(url_decode("100%"), "100%");
        assert_eq!(url_decode("%zz%4"), "%zz%4");
        assert_eq!(url_decode("%C3%A9"), "é");
    }

    #[test]
    fn key_layouts() {
        let org = parse_key(KEY).expect("org layout");
        assert_eq!(org.org.as_deref(), Some("o-abc123"));
        assert_eq!(
            (org.account.as_str(), org.region.as_str(), org.day.as_str()),
            ("111122223333", "us-east-1", "2024/02/29")
        );
        assert_eq!(org.kind, FileKind::Log);
        let single = parse_key("prefix/x/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2024/01/02/f.json.gz")
            .expect("single account with a prefix");
        assert_eq!((single.org, single.kind), (None, FileKind::Digest));
        assert_eq!(
            file_kind("AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/01/02/f.json.gz"),
            FileKind::Insight
        );
        assert!(parse_key("AWSLogs/1111/CloudTrail/us-east-1/2024/01/02/f").is_none());
        assert!(parse_key("AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/").is_none());
        assert!(parse_key("other/key.json").is_none());
    }

    #[test]
    fn filters_and_prefixes() {
        let f = KeyFilter::new(
            Some("2024-02-28".into()),
            Some("2024-03-01".into()),
            Some("111122223333".into()),
            Some("us-east-1".into()),
        )
        .expect("valid");
        assert!(f.keeps(KEY));
        assert!(!f.keeps(&KEY.replace("us-east-1", "eu-west-1")));
        assert!(!f.keeps(&KEY.replace("2024/02/29", "2024/03/02")));
        assert!(!f.keeps(&KEY.replace("CloudTrail/", "CloudTrail-Digest/")));
        let p = f.prefixes("AWSLogs/o-abc123/");
        assert_eq!(p.len(), 6);
        assert_eq!(p[0], "AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2024/02/28/");
        assert_eq!(p[1], "AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2024/02/29/");
        assert_eq!(p[2], "AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2024/03/01/");
        assert!(p[3].contains("/CloudTrail-Insight/"));
        assert_eq!(f.prefixes("logs/"), vec!["logs/".to_string()]);
        assert!(KeyFilter::new(Some("2024-02-30".into()), None, None, None).is_err());
        assert_eq!(day_path(day_number("2000-03-01").expect("day")), "2000/03/01");
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert!(KeyFilter::default().keeps("anything.json.gz"));
    }

    fn record(i: usize) -> Value {
        json!({"eventVersion": "1.08", "eventTime": "2024-02-29T00:00:00Z", "eventSource": "iam.amazonaws.com",
               "eventName": "CreateUser", "awsRegion": "us-east-1", "eventID": format!("id-{i}"),
               "eventType": "AwsApiCall", "recipientAccountId": "111122223333"})
    }

    fn read(
        bytes: &[u8],
        kind: FileKind,
        limit: u64,
    ) -> (Vec<Event>, Vec<Malformed>, Result<FileStats, EnvelopeError>) {
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        let r = read_records_bounded(bytes, "f", kind, limit, &mut |item| match item {
            Ok(e) => ok.push(e),
            Err(m) => bad.push(m),
        });
        (ok, bad, r)
    }

    #[test]
    fn files_stream_record_by_record() {
        let file = json!({"Records": [record(0), "junk", record(2)], "other": {"x": [1]}}).to_string();
        for bytes in [file.as_bytes().to_vec(), gzip(file.as_bytes())] {
            let (ok, bad, r) = read(&bytes, FileKind::Log, MAX_FILE_INFLATED_BYTES);
            assert_eq!(r.expect("reads").items, 3);
            assert_eq!((ok.len(), bad.len()), (2, 1));
            assert_eq!(bad[0].origin, "f[1]");
            assert_eq!(ok[1].value()["id"], "id-2");
            assert_eq!(ok[0].value()["detail-type"], "AWS API Call via CloudTrail");
        }
    }

    #[test]
    fn insight_files_are_insight_events() {
        let insight = json!({"eventVersion": "1.07", "eventTime": "2024-02-29T00:00:00Z", "awsRegion": "us-east-1",
            "eventID": "i", "eventType": "AwsCloudTrailInsight", "recipientAccountId": "111122223333",
            "sharedEventID": "s", "insightDetails": {"state": "Start", "eventSource": "ssm.amazonaws.com",
            "eventName": "UpdateInstanceAssociationStatus", "insightType": "ApiCallRateInsight"},
            "eventCategory": "Insight"});
        let mut without = insight.clone();
        without.as_object_mut().expect("object").remove("eventType");
        let file = json!({"Records": [insight, without]}).to_string();
        let (ok, bad, r) = read(&gzip(file.as_bytes()), FileKind::Insight, MAX_FILE_INFLATED_BYTES);
        r.expect("reads");
        assert!(bad.is_empty());
        for e in &ok {
            assert_eq!(e.value()["detail-type"], "AWS Insight via CloudTrail");
        }
    }

    #[test]
    fn hostile_files() {
        let file = json!({"Records": (0..200).map(record).collect::<Vec<_>>()}).to_string();
        let gz = gzip(file.as_bytes());
        // Truncated: the records before the cut are read, then an error.
        let (ok, _, r) = read(&gz[..gz.len() / 2], FileKind::Log, MAX_FILE_INFLATED_BYTES);
        assert!(matches!(r, Err(EnvelopeError::Gzip(_)) | Err(EnvelopeError::Json(_))), "{r:?}");
        assert!(ok.len() < 200);
        // Not CloudTrail.
        let (_, _, r) = read(br#"{"hello": [1, 2]}"#, FileKind::Log, MAX_FILE_INFLATED_BYTES);
        assert!(matches!(r, Err(EnvelopeError::Shape(_))), "{r:?}");
        let (_, _, r) = read(b"[1, 2]", FileKind::Log, MAX_FILE_INFLATED_BYTES);
        assert!(matches!(r, Err(EnvelopeError::Shape(_))), "{r:?}");
        let (_, _, r) = read(&gzip(b"not json at all"), FileKind::Log, MAX_FILE_INFLATED_BYTES);
        assert!(matches!(r, Err(EnvelopeError::Json(_))), "{r:?}");
        let (_, _, r) = read(b"", FileKind::Log, MAX_FILE_INFLATED_BYTES);
        assert!(r.is_err());
        // A bomb: spaces inflate without end; refused at the bound.
        let bomb = gzip(&vec![b' '; 8 << 20]);
        let (_, _, r) = read(&bomb, FileKind::Log, 1 << 20);
        assert_eq!(r, Err(EnvelopeError::TooLarge));
        // Nesting is bounded by serde_json.
        let deep = format!("{{\"Records\": [{}{}]}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(read(deep.as_bytes(), FileKind::Log, MAX_FILE_INFLATED_BYTES).2.is_err());
    }

    #[test]
    fn sqs_events_and_responses() {
        let ev = json!({"Records": [{"messageId": "m1", "body": "{}", "eventSource": "aws:sqs"}]});
        assert_eq!(sqs_messages(&ev).expect("sqs"), vec![SqsMessage { message_id: "m1".into(), body: "{}".into() }]);
        assert!(sqs_messages(&json!({"Records": [{"body": "x"}]})).is_err());
        assert!(sqs_messages(&json!({"x": 1})).is_err());
        let mut r = SqsBatchResponse::default();
        r.add_failure("m1");
        assert_eq!(serde_json::to_value(&r).expect("json"), json!({"batchItemFailures": [{"itemIdentifier": "m1"}]}));
        let body = backfill_body("b", &[KEY.to_string()]);
        assert_eq!(notification(&body).expect("backfill shape")[0].key, KEY);
    }
}
