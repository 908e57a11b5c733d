//! The one matchable event: a CloudTrail record inside the EventBridge
//! envelope CloudTrail gives it, whichever path the record came by.
//!
//! A record delivered by EventBridge keeps the envelope it came in. A
//! record delivered through CloudWatch Logs (directly or through Kinesis)
//! is given the envelope EventBridge would have given it
//! ([`Event::from_record`]), so that a rule gives one verdict either way.
//! This is the only place the delivery paths differ.

pub mod document;
pub mod sources;

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use crate::record::Record;
use crate::rules::IndexHits;

/// A CloudTrail record and its EventBridge envelope.
#[derive(Debug, Clone)]
pub struct Event {
    /// The whole EventBridge event; `detail` is the record's original JSON.
    value: Value,
    record: Record,
    /// The record's text as it was delivered (a CloudWatch Logs message),
    /// which filter patterns match, as CloudWatch Logs does.
    text: Option<String>,
    /// The rule index's hits, when its text was read through a rule set's
    /// gate before it was parsed.
    hits: Option<IndexHits>,
}

/// Why a delivered item is not a CloudTrail record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotARecord {
    #[error("the EventBridge event has no \"detail\" object holding a CloudTrail record")]
    NoDetail,
    #[error("a CloudTrail record must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    #[error("the record has no \"eventSource\", \"eventName\" or \"eventTime\": it is not a CloudTrail record")]
    MissingCoreFields,
}

impl Event {
    /// An event as EventBridge delivered it.
    pub fn from_eventbridge(value: Value) -> Result<Event, NotARecord> {
        let detail = value.get("detail").filter(|d| d.is_object()).ok_or(NotARecord::NoDetail)?;
        let record = typed(detail)?;
        Ok(Event { value, record, text: None, hits: None })
    }

    /// Whether a JSON item is an EventBridge event rather than a bare
    /// CloudTrail record: it has a `detail-type` (no CloudTrail record field
    /// has that name). The one test every reader of items uses.
    pub fn is_eventbridge(item: &Value) -> bool {
        item.get("detail-type").is_some()
    }

    /// A bare record or an EventBridge event wrapping one (files, rule tests).
    pub fn from_item(item: Value) -> Result<Event, NotARecord> {
        if Event::is_eventbridge(&item) {
            Event::from_eventbridge(item)
        } else {
            Event::from_record(item)
        }
    }

    /// A record delivered without an envelope (CloudWatch Logs, Kinesis, S3
    /// files), given the one EventBridge would have given it: `source` from
    /// `eventSource`, `detail-type` from `eventType`, `account`, `region` and
    /// `time` from the record, `resources` empty, `detail` the record. The
    /// `id` EventBridge would assign is random; the record's `eventID`
    /// stands in for it.
    pub fn from_record(record_json: Value) -> Result<Event, NotARecord> {
        let record = typed(&record_json)?;
        let mut envelope = Map::with_capacity(9);
        for (key, value) in EnvelopeFields::of(&record).members() {
            if let Some(value) = value {
                envelope.insert(key.into(), Value::String(value.detached().into_owned()));
            }
        }
        envelope.insert("resources".into(), json!([]));
        envelope.insert("detail".into(), record_json);
        Ok(Event { value: Value::Object(envelope), record, text: None, hits: None })
    }

    /// A record delivered as text (a CloudWatch Logs message, a JSON line):
    /// parsed, given its envelope, and keeping the text for filter patterns.
    pub fn from_text(text: String) -> Result<Event, String> {
        let value = document::parse(&text).map_err(|e| format!("not JSON: {e}"))?;
        let mut event = Event::from_record(value).map_err(|e| e.to_string())?;
        event.text = Some(text);
        Ok(event)
    }

    /// The event with the index hits a rule set's gate read from its text
    /// ([`crate::rules::RuleSet::read_eventbridge_text`]).
    pub fn with_index_hits(self, hits: IndexHits) -> Event {
        Event { hits: Some(hits), ..self }
    }

    /// The index hits read from its text, if it was read so.
    pub fn index_hits(&self) -> Option<&IndexHits> {
        self.hits.as_ref()
    }

    /// The record's text as delivered, where it came as text.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The whole EventBridge event, as patterns see it.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The CloudTrail record's original JSON (the event's `detail`).
    pub fn detail(&self) -> &Value {
        self.value.get("detail").unwrap_or(&Value::Null)
    }

    /// The value at a dotted path of the record (`userIdentity.arn`), as
    /// text: a string as it is, anything else as JSON, a missing or null
    /// one as "".
    pub fn path_text(&self, path: &str) -> String {
        let mut v = self.detail();
        for part in path.split('.') {
            match v.get(part) {
                Some(next) => v = next,
                None => return String::new(),
            }
        }
        match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// The record's common fields, typed.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// Take the event apart into its JSON.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// Take the event apart into its record's JSON (its `detail`).
    pub fn into_detail(self) -> Value {
        match self.value {
            Value::Object(mut envelope) => envelope.swap_remove("detail").unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }
}

/// The record fields the envelope EventBridge would give a bare record is
/// made from ([`Event::from_record`]; the rule index's reading of a record's
/// text, `RuleSet::read_record_text`, gives the same envelope).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EnvelopeFields<'a> {
    pub event_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub event_source: Option<&'a str>,
    pub event_time: Option<&'a str>,
    pub aws_region: Option<&'a str>,
    /// [`Record::account`].
    pub account: Option<&'a str>,
}

impl<'a> EnvelopeFields<'a> {
    fn of(r: &'a Record) -> EnvelopeFields<'a> {
        EnvelopeFields {
            event_id: r.event_id.as_deref(),
            event_type: r.event_type.as_deref(),
            event_source: r.event_source.as_deref(),
            event_time: r.event_time.as_deref(),
            aws_region: r.aws_region.as_deref(),
            account: r.account(),
        }
    }

    /// The envelope's string members in EventBridge's order
    /// ([`ENVELOPE_MEMBERS`]), `None` for one the record leaves out;
    /// `resources` (`[]`) and `detail` follow them.
    pub(crate) fn members(self) -> impl Iterator<Item = (&'static str, Option<Member<'a>>)> {
        ENVELOPE_MEMBERS.iter().enumerate().map(move |(i, &key)| (key, self.member(i)))
    }

    /// Member `i` of [`ENVELOPE_MEMBERS`].
    pub(crate) fn member(self, i: usize) -> Option<Member<'a>> {
        match i {
            0 => Some(Member::Fixed("0")),
            1 => Some(Member::Field(self.event_id.unwrap_or(""))),
            2 => Some(Member::Fixed(sources::detail_type(self.event_type))),
            3 => self.event_source.map(|s| Member::Made(sources::eventbridge_source(s))),
            4 => Some(Member::Field(self.account.unwrap_or(""))),
            5 => self.event_time.map(Member::Field),
            6 => self.aws_region.map(Member::Field),
            _ => None,
        }
    }
}

/// An envelope member's value: fixed text, a record field's, or made
/// from one.
#[derive(Debug)]
pub(crate) enum Member<'a> {
    Fixed(&'static str),
    Field(&'a str),
    Made(String),
}

impl<'a> Member<'a> {
    /// The value, borrowing only fixed text (a record's fields are copied).
    pub(crate) fn detached<'t>(self) -> Cow<'t, str> {
        match self {
            Member::Fixed(s) => Cow::Borrowed(s),
            Member::Field(s) => Cow::Owned(s.to_owned()),
            Member::Made(s) => Cow::Owned(s),
        }
    }
}

/// The string members of the envelope EventBridge gives a record, in its
/// order ([`EnvelopeFields::member`]).
pub(crate) const ENVELOPE_MEMBERS: [&str; 7] = ["version", "id", "detail-type", "source", "account", "time", "region"];

fn typed(detail: &Value) -> Result<Record, NotARecord> {
    let kind = match detail {
        Value::Object(_) => None,
        Value::Null => Some("null"),
        Value::Bool(_) => Some("a boolean"),
        Value::Number(_) => Some("a number"),
        Value::String(_) => Some("a string"),
        Value::Array(_) => Some("an array"),
    };
    if let Some(kind) = kind {
        return Err(NotARecord::NotAnObject(kind));
    }
    let record = Record::from_json(detail).unwrap_or_default();
    if record.event_source.is_none() && record.event_name.is_none() && record.event_time.is_none() {
        return Err(NotARecord::MissingCoreFields);
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_records_get_the_eventbridge_envelope() {
        let e = Event::from_record(json!({
            "eventVersion": "1.08", "eventTime": "2023-07-10T12:00:00Z", "eventSource": "iam.amazonaws.com",
            "eventName": "CreateUser", "awsRegion": "us-east-1", "eventType": "AwsApiCall",
            "recipientAccountId": "123456789012", "eventID": "e-1"
        }))
        .expect("record");
        let v = e.value();
        assert_eq!(v["source"], "aws.iam");
        assert_eq!(v["detail-type"], "AWS API Call via CloudTrail");
        assert_eq!(v["account"], "123456789012");
        assert_eq!(v["region"], "us-east-1");
        assert_eq!(v["time"], "2023-07-10T12:00:00Z");
        assert_eq!(v["detail"]["eventName"], "CreateUser");
        assert_eq!(e.record().event_name.as_deref(), Some("CreateUser"));
    }

    #[test]
    fn not_records_are_refused() {
        assert_eq!(Event::from_eventbridge(json!({"source": "x"})).unwrap_err(), NotARecord::NoDetail);
        assert_eq!(Event::from_record(json!("text")).unwrap_err(), NotARecord::NotAnObject("a string"));
        assert_eq!(Event::from_record(json!({"a": 1})).unwrap_err(), NotARecord::MissingCoreFields);
    }
}
