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
//! (serde_json refuses more than 128 levels). A subscription payload's log
//! events are read as it is inflated ([`LogReader`]), never held whole.

use std::borrow::Cow;
use std::io::Read;

use aws_lambda_events::cloudwatch_logs::{LogData, LogEntry};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::event::Event;
use crate::pattern::Declined;

mod log_entry;

pub use log_entry::Skimmed;

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
    Messages::from_base64(data)?.decode_all()
}

/// The gzip'd logs payload (as a Kinesis record carries it).
pub fn logs_gzip(gz: &[u8]) -> Result<Decoded, EnvelopeError> {
    decode_all(LogReader::new(gz))
}

/// Whether JSON text is an EventBridge event carrying a record: an object
/// with a `detail-type` and a `detail` that is an object, read without
/// building it ([`Event::from_eventbridge`] accepts exactly these), and
/// without an `awslogs` or `Records` (so that [`Delivery::classify`],
/// which reads those first, says EventBridge). The
/// functions decide this in the gate's own pass
/// ([`crate::rules::RuleSet::is_unmatched_eventbridge_text`]); this
/// separate read is the definition `tests/gates.rs` holds that pass to.
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
    /// Whether a member came, whatever its value (`null` too).
    #[derive(Default)]
    struct Present(bool);
    impl<'de> serde::Deserialize<'de> for Present {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Present, D::Error> {
            IgnoredAny::deserialize(d).map(|_| Present(true))
        }
    }
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(rename = "detail-type")]
        _detail_type: IgnoredAny,
        #[serde(rename = "detail")]
        _detail: Object,
        #[serde(default)]
        awslogs: Present,
        #[serde(default, rename = "Records")]
        records: Present,
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde::Deserialize::deserialize(&mut de)
        .and_then(|shape: Shape| de.end().map(|_| !shape.awslogs.0 && !shape.records.0))
        .unwrap_or(false)
}

/// A subscription payload's log events, read as they are inflated: a 6 MB
/// payload inflates to about 45 MB of JSON, which never exists whole; only
/// the gzip'd bytes and one log event at a time are held.
#[derive(Debug)]
pub struct Messages {
    gz: Vec<u8>,
}

impl Messages {
    /// The log events of a gzip'd subscription payload (as a Kinesis record
    /// carries it), not read yet: data that does not even begin as gzip is
    /// refused now, the rest as it is read.
    pub fn from_gzip(gz: Vec<u8>) -> Result<Messages, EnvelopeError> {
        if !gz.is_empty() {
            flate2::read::MultiGzDecoder::new(&gz[..])
                .read(&mut [0u8; 1])
                .map_err(|e| EnvelopeError::Gzip(e.to_string()))?;
        }
        Ok(Messages { gz })
    }

    /// The log events of `awslogs.data` (base64(gzip(JSON))), not read yet.
    pub fn from_base64(data: &str) -> Result<Messages, EnvelopeError> {
        let gz = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| EnvelopeError::Base64(e.to_string()))?;
        Messages::from_gzip(gz)
    }

    /// The gzip'd bytes.
    pub fn gzip(&self) -> &[u8] {
        &self.gz
    }

    /// A reader handing out the log events one at a time.
    pub fn reader(&self) -> LogReader<&[u8]> {
        LogReader::new(&self.gz)
    }

    /// The same, owning the gzip'd bytes.
    pub fn into_reader(self) -> LogReader<std::io::Cursor<Vec<u8>>> {
        LogReader::new(self.into_gzip())
    }

    /// The gzip'd bytes, to read.
    pub fn into_gzip(self) -> std::io::Cursor<Vec<u8>> {
        std::io::Cursor::new(self.gz)
    }

    /// A `CONTROL_MESSAGE` (no records). Reads the payload through; an
    /// unreadable one is not.
    pub fn control(&self) -> bool {
        self.reader().finish().is_ok_and(|h| h.control())
    }

    /// Every event at once (`trailwatch replay`, tests): the payload is
    /// refused whole if any of it cannot be read.
    pub fn decode_all(self) -> Result<Decoded, EnvelopeError> {
        decode_all(self.reader())
    }
}

/// Every event of a reader at once, or its first fault.
fn decode_all<R: Read>(mut reader: LogReader<R>) -> Result<Decoded, EnvelopeError> {
    let mut entries = Vec::new();
    for entry in reader.by_ref() {
        entries.push(entry?);
    }
    let header = reader.header();
    let mut out = Decoded { control: header.control(), ..Decoded::default() };
    if out.control {
        return Ok(out);
    }
    for entry in entries {
        out.push(|| header.origin(&entry.id), Event::from_text(entry.message));
    }
    Ok(out)
}

/// The log events of a subscription payload (base64(gzip(JSON))).
pub fn logs_messages(data: &str) -> Result<Messages, EnvelopeError> {
    Messages::from_base64(data)
}

/// The log events of a gzip'd subscription payload.
pub fn logs_gzip_messages(gz: &[u8]) -> Result<Messages, EnvelopeError> {
    Messages::from_gzip(gz.to_vec())
}

/// `awslogs.data` (base64, surrounding whitespace ignored) decoded as it is
/// read: its bad base64 is an [`EnvelopeError::Base64`] fault of the
/// [`LogReader`] reading it.
pub fn base64_reader(data: &str) -> impl Read + Send + '_ {
    base64::read::DecoderReader::new(data.trim().as_bytes(), &base64::engine::general_purpose::STANDARD)
}

/// `awslogs.data` of a Lambda payload given as its JSON text, read without
/// building the payload (the base64 text is borrowed unless escaped).
/// `None` when the text is not an object whose `awslogs` is an object with
/// a string `data`, each key once: [`Delivery::classify`] then decides.
pub fn logs_body_data(text: &str) -> Option<Cow<'_, str>> {
    use serde::de::{Deserializer as _, Error as _, IgnoredAny, MapAccess, Visitor};
    /// A string, borrowed from the text where it has no escapes.
    struct Text<'a>(Cow<'a, str>);
    impl<'de> Deserialize<'de> for Text<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text<'de>, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Text<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Borrowed(s)))
                }
                fn visit_str<E>(self, s: &str) -> Result<Text<'de>, E> {
                    Ok(Text(Cow::Owned(s.to_string())))
                }
            }
            d.deserialize_str(V)
        }
    }
    /// An object (never an array) with `key` once: its value `T`.
    struct Field<T>(&'static str, std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Field<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "an object with \"{}\"", self.0)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<T, A::Error> {
            let mut found = None;
            while let Some(key) = m.next_key::<Text<'de>>()? {
                if key.0 != self.0 {
                    m.next_value::<IgnoredAny>()?;
                } else if found.replace(m.next_value::<T>()?).is_some() {
                    return Err(A::Error::duplicate_field(self.0));
                }
            }
            found.ok_or_else(|| A::Error::missing_field(self.0))
        }
    }
    struct AwsLogs<'a>(Text<'a>);
    impl<'de> Deserialize<'de> for AwsLogs<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<AwsLogs<'de>, D::Error> {
            d.deserialize_map(Field::<Text<'de>>("data", std::marker::PhantomData)).map(AwsLogs)
        }
    }
    // Most payloads are not: the key's text (unless escaped, which
    // `classify` then reads) is looked for first, with memchr's SIMD
    // search.
    memchr::memmem::find(text.as_bytes(), b"awslogs")?;
    let mut de = serde_json::Deserializer::from_str(text);
    let logs = (&mut de).deserialize_map(Field::<AwsLogs>("awslogs", std::marker::PhantomData)).ok()?;
    de.end().ok()?;
    Some(logs.0 .0)
}

/// What a subscription payload says around its log events. Each field is
/// `None` until read; CloudWatch Logs writes them all before `logEvents`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogHeader {
    pub message_type: Option<String>,
    pub owner: Option<String>,
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub subscription_filters: Option<Vec<String>>,
}

impl LogHeader {
    /// A `CONTROL_MESSAGE` (sent when a subscription is created): it
    /// carries no records.
    pub fn control(&self) -> bool {
        self.message_type.as_deref() == Some("CONTROL_MESSAGE")
    }

    /// Whether what decides about a log event (its type, group and stream)
    /// has been read.
    pub fn known(&self) -> bool {
        self.message_type.is_some() && self.log_group.is_some() && self.log_stream.is_some()
    }

    /// Where a log event came from, as malformed items name it.
    pub fn origin(&self, id: &str) -> String {
        let (group, stream) = (self.log_group.as_deref().unwrap_or(""), self.log_stream.as_deref().unwrap_or(""));
        format!("log event {id} in {group}/{stream}")
    }

    fn from_data(data: LogData) -> (LogHeader, Vec<LogEntry>) {
        let header = LogHeader {
            message_type: Some(data.message_type),
            owner: Some(data.owner),
            log_group: Some(data.log_group),
            log_stream: Some(data.log_stream),
            subscription_filters: Some(data.subscription_filters),
        };
        (header, data.log_events)
    }
}

/// Inflated bytes read at a time.
const CHUNK: usize = 64 * 1024;

/// gzip'd bytes inflated into a window that holds the part not yet parsed,
/// counted against [`MAX_INFLATED_BYTES`].
struct Inflating<R: Read> {
    gz: flate2::read::MultiGzDecoder<R>,
    /// Inflated bytes: those not parsed yet are `buf[pos..filled]`.
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    total: u64,
    /// No more bytes: the end of the gzip data, or `fault`.
    end: bool,
    /// Why the inflated bytes stopped early: bad gzip, or too many.
    fault: Option<EnvelopeError>,
    /// Where a log event's strings are unescaped ([`log_entry::read`]).
    text: Vec<u8>,
}

impl<R: Read> Inflating<R> {
    fn new(gz: R) -> Inflating<R> {
        Inflating {
            gz: flate2::read::MultiGzDecoder::new(gz),
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            total: 0,
            end: false,
            fault: None,
            text: Vec::new(),
        }
    }

    /// Read more: at least a chunk, or as much again as is held (a long
    /// value is re-parsed a logarithmic number of times, not once a chunk).
    /// Inflated into the buffer's own bytes past `filled`, which are zeroed
    /// once, when it grows, not before each read.
    fn fill(&mut self) {
        self.buf.copy_within(self.pos..self.filled, 0);
        let held = self.filled - self.pos;
        (self.pos, self.filled) = (0, held);
        let want = CHUNK.max(held);
        if self.buf.len() < held + want {
            self.buf.resize(held + want, 0);
        }
        let (mut n, mut failed) = (0, None);
        while n < want {
            match self.gz.read(&mut self.buf[held + n..held + want]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        self.total += n as u64;
        if self.total > MAX_INFLATED_BYTES {
            (self.end, self.fault) = (true, Some(EnvelopeError::TooLarge));
            return;
        }
        self.filled = held + n;
        match failed {
            Some(e) => {
                let fault = match e.get_ref().and_then(|inner| inner.downcast_ref::<base64::DecodeError>()) {
                    Some(b64) => EnvelopeError::Base64(b64.to_string()),
                    None => EnvelopeError::Gzip(e.to_string()),
                };
                (self.end, self.fault) = (true, Some(fault));
            }
            None if n < want => self.end = true,
            None => {}
        }
    }

    /// The next byte that is not whitespace, not consumed; `None` at a
    /// clean end.
    fn peek(&mut self) -> Result<Option<u8>, EnvelopeError> {
        loop {
            if let Some(at) =
                self.buf[self.pos..self.filled].iter().position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
            {
                self.pos += at;
                return Ok(Some(self.buf[self.pos]));
            }
            self.pos = self.filled;
            if self.end {
                return self.fault.clone().map_or(Ok(None), Err);
            }
            self.fill();
        }
    }

    /// Consume `want` (after whitespace), or say what was there instead.
    fn expect(&mut self, want: u8, what: &str) -> Result<(), EnvelopeError> {
        match self.peek()? {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            found => Err(self.json_fault(format!("expected {what}, found {}", shown(found)))),
        }
    }

    /// The next JSON value, parsed by serde_json from the window; a value
    /// cut by the window's end is parsed again once more is read.
    fn value<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, EnvelopeError> {
        loop {
            let window = &self.buf[self.pos..self.filled];
            let mut values = serde_json::Deserializer::from_slice(window).into_iter::<T>();
            match values.next() {
                // A number at the window's end may go on past it.
                Some(Ok(v)) if values.byte_offset() < window.len() || self.end => {
                    self.pos += values.byte_offset();
                    return Ok(v);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) if !e.is_eof() || self.end => {
                    let e = e.to_string();
                    return Err(self.json_fault(e));
                }
                Some(Err(_)) => {}
                None if self.end => return Err(self.json_fault("EOF while parsing a value".into())),
                None => {}
            }
            if self.end {
                // Cut at the end: bad gzip, or JSON ending too soon.
                let fault =
                    self.fault.clone().unwrap_or_else(|| EnvelopeError::Json("EOF while parsing a value".into()));
                return Err(fault);
            }
            self.fill();
        }
    }

    /// The next log event: read in CloudWatch Logs' own layout when it is
    /// in it ([`log_entry`]), else parsed by serde_json ([`Inflating::value`]),
    /// which gives the same entry or says what is wrong.
    /// Its message's escaped text is first offered to `skim`
    /// ([`log_entry::read_with`]), whose verdict comes with the entry.
    fn entry<T>(
        &mut self,
        skim: &mut impl FnMut(&[u8]) -> Result<Skimmed<T>, Declined>,
    ) -> Result<(LogEntry, Option<T>), EnvelopeError> {
        loop {
            let mut verdict = None;
            match log_entry::read_with(&self.buf[self.pos..self.filled], &mut self.text, skim, &mut verdict) {
                log_entry::Parsed::Entry(entry, used) => {
                    self.pos += used;
                    return Ok((entry, verdict));
                }
                log_entry::Parsed::Cut if !self.end => self.fill(),
                _ => return self.value().map(|entry| (entry, None)),
            }
        }
    }

    /// A JSON error, unless the gzip data is bad or too large further on
    /// (as inflating it whole first would have said).
    fn json_fault(&mut self, reason: String) -> EnvelopeError {
        while !self.end {
            self.pos = self.filled;
            self.fill();
        }
        self.fault.clone().unwrap_or(EnvelopeError::Json(reason))
    }

    /// Everything left, for the payloads not read as a stream.
    fn rest(&mut self) -> Result<Vec<u8>, EnvelopeError> {
        while !self.end {
            self.fill();
        }
        match self.fault.clone() {
            Some(e) => Err(e),
            None => {
                self.buf.truncate(self.filled);
                Ok(self.buf.split_off(self.pos))
            }
        }
    }
}

fn shown(b: Option<u8>) -> String {
    match b {
        Some(b) if b.is_ascii_graphic() => format!("`{}`", b as char),
        Some(b) => format!("byte {b:#04x}"),
        None => "the end".into(),
    }
}

/// Where a [`LogReader`] is in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Start,
    /// After `{` (a key or `}`) or after a member (`,` or `}`).
    Member {
        first: bool,
    },
    /// In `logEvents`: an event or `]`.
    Event {
        first: bool,
    },
    Done,
}

/// The log events of a subscription payload, one at a time, as its gzip'd
/// JSON is inflated and parsed (an iterator; the first fault ends it). The
/// header fields are read wherever they are, before or after `logEvents`,
/// with the same checks as parsing the whole `LogData` (each field once,
/// none missing). A payload that is not a JSON object is parsed whole.
pub struct LogReader<R: Read> {
    src: Inflating<R>,
    header: LogHeader,
    events_seen: bool,
    at: At,
    /// The events of a payload parsed whole, left to hand out.
    whole: std::vec::IntoIter<LogEntry>,
}

impl<R: Read> std::fmt::Debug for LogReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader").field("header", &self.header).field("at", &self.at).finish_non_exhaustive()
    }
}

impl<R: Read> LogReader<R> {
    /// A reader over gzip'd subscription data.
    pub fn new(gz: R) -> LogReader<R> {
        LogReader {
            src: Inflating::new(gz),
            header: LogHeader::default(),
            events_seen: false,
            at: At::Start,
            whole: Vec::new().into_iter(),
        }
    }

    /// The header fields read so far.
    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    /// Read the rest, skipping the events: the whole header, or the first
    /// fault.
    pub fn finish(mut self) -> Result<LogHeader, EnvelopeError> {
        for entry in self.by_ref() {
            entry?;
        }
        Ok(self.header)
    }

    /// The next log event read with `skim` ([`LogReader::next_read`]).
    fn step<T>(
        &mut self,
        skim: &mut impl FnMut(&[u8]) -> Result<Skimmed<T>, Declined>,
    ) -> Result<Option<(LogEntry, Option<T>)>, EnvelopeError> {
        loop {
            match self.at {
                At::Done => return Ok(self.whole.next().map(|entry| (entry, None))),
                At::Start => {
                    if self.src.peek()? != Some(b'{') {
                        // Not an object (serde also reads a struct from an
                        // array): parsed whole, as before streaming.
                        let json = self.src.rest()?;
                        let data: LogData =
                            serde_json::from_slice(&json).map_err(|e| EnvelopeError::Json(e.to_string()))?;
                        let (header, events) = LogHeader::from_data(data);
                        (self.header, self.whole, self.at) = (header, events.into_iter(), At::Done);
                        continue;
                    }
                    self.src.pos += 1;
                    self.at = At::Member { first: true };
                }
                At::Member { first } => {
                    match self.src.peek()? {
                        Some(b'}') => {
                            self.src.pos += 1;
                            self.end()?;
                            self.at = At::Done;
                            continue;
                        }
                        Some(b',') if !first => self.src.pos += 1,
                        Some(b'"') if first => {}
                        found => {
                            let want = if first { "a key or `}`" } else { "`,` or `}`" };
                            return Err(self.src.json_fault(format!("expected {want}, found {}", shown(found))));
                        }
                    }
                    match self.src.peek()? {
                        Some(b'"') => {}
                        found => return Err(self.src.json_fault(format!("expected a key, found {}", shown(found)))),
                    }
                    let key: String = self.src.value()?;
                    self.src.expect(b':', "`:`")?;
                    self.at = At::Member { first: false };
                    self.member(&key)?;
                }
                At::Event { first } => {
                    match self.src.peek()? {
                        Some(b']') => {
                            self.src.pos += 1;
                            self.at = At::Member { first: false };
                            continue;
                        }
                        Some(b',') if !first => self.src.pos += 1,
                        Some(_) if first => {}
                        found => {
                            return Err(self.src.json_fault(format!("expected `,` or `]`, found {}", shown(found))))
                        }
                    }
                    self.src.peek()?;
                    let entry = self.src.entry(skim)?;
                    self.at = At::Event { first: false };
                    return Ok(Some(entry));
                }
            }
        }
    }

    /// One member of the payload object; `logEvents` is entered, not read.
    fn member(&mut self, key: &str) -> Result<(), EnvelopeError> {
        let h = &mut self.header;
        let duplicate = match key {
            "logEvents" => std::mem::replace(&mut self.events_seen, true),
            "messageType" => h.message_type.is_some(),
            "owner" => h.owner.is_some(),
            "logGroup" => h.log_group.is_some(),
            "logStream" => h.log_stream.is_some(),
            "subscriptionFilters" => h.subscription_filters.is_some(),
            _ => {
                self.src.value::<serde::de::IgnoredAny>()?;
                return Ok(());
            }
        };
        if duplicate {
            return Err(self.src.json_fault(format!("duplicate field `{key}`")));
        }
        match key {
            "logEvents" => {
                self.src.expect(b'[', "the log events' array")?;
                self.at = At::Event { first: true };
            }
            "messageType" => self.header.message_type = Some(self.src.value()?),
            "owner" => self.header.owner = Some(self.src.value()?),
            "logGroup" => self.header.log_group = Some(self.src.value()?),
            "logStream" => self.header.log_stream = Some(self.src.value()?),
            _ => self.header.subscription_filters = Some(self.src.value()?),
        }
        Ok(())
    }

    /// After the payload object: nothing but whitespace, and every field.
    fn end(&mut self) -> Result<(), EnvelopeError> {
        if let Some(b) = self.src.peek()? {
            return Err(self.src.json_fault(format!("trailing characters: {}", shown(Some(b)))));
        }
        let h = &self.header;
        let missing = [
            ("owner", h.owner.is_none()),
            ("logGroup", h.log_group.is_none()),
            ("logStream", h.log_stream.is_none()),
            ("subscriptionFilters", h.subscription_filters.is_none()),
            ("messageType", h.message_type.is_none()),
            ("logEvents", !self.events_seen),
        ];
        match missing.iter().find(|(_, m)| *m) {
            Some((field, _)) => Err(EnvelopeError::Json(format!("missing field `{field}`"))),
            None => Ok(()),
        }
    }
}

impl<R: Read> LogReader<R> {
    /// The next log event, its message's escaped text (from past its
    /// opening quote) first offered to `skim`: where `skim` reads it, its
    /// verdict comes with the entry, whose message is unescaped only if
    /// `skim` says to keep it (and is empty otherwise); where it declines
    /// (or the event is not in CloudWatch Logs' own layout), the message
    /// is unescaped and there is no verdict.
    pub fn next_read<T>(
        &mut self,
        mut skim: impl FnMut(&[u8]) -> Result<Skimmed<T>, Declined>,
    ) -> Option<Result<(LogEntry, Option<T>), EnvelopeError>> {
        match self.step(&mut skim) {
            Ok(entry) => entry.map(Ok),
            Err(e) => {
                self.at = At::Done;
                self.whole = Vec::new().into_iter();
                Some(Err(e))
            }
        }
    }
}

impl<R: Read> Iterator for LogReader<R> {
    type Item = Result<LogEntry, EnvelopeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.next_read(|_| Err::<Skimmed<()>, _>(Declined::Other))?;
        Some(entry.map(|(entry, _)| entry))
    }
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

/// How many bytes gzip data inflates to, inflated through a small buffer
/// and dropped: a plain inflate, for comparison in benchmarks.
pub fn inflated_len(gz: &[u8]) -> Result<u64, EnvelopeError> {
    let (mut d, mut buf, mut len) = (flate2::read::MultiGzDecoder::new(gz), vec![0u8; CHUNK], 0);
    loop {
        match d.read(&mut buf) {
            Ok(0) => return Ok(len),
            Ok(n) => len += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(EnvelopeError::Gzip(e.to_string())),
        }
    }
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
