//! The one path from a payload to delivered alerts, whichever way the
//! records came: decode ([`open`]), match ([`RuleSet`]), alert, deliver
//! ([`Sink`]), count ([`Metrics`]). The functions run [`Handler`] with SNS
//! and CloudWatch, `trailwatch replay` with stdout, the tests with memory.
//!
//! Malformed items are logged and counted and the rest of the batch goes
//! on; an alert the sink does not take fails the invocation (or, through
//! Kinesis, its batch item) so that AWS retries it; metrics never fail it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::streams::KinesisEventResponse;
use serde::Serialize;
use serde_json::Value;

use crate::alert::{self, Alert};
use crate::envelope::{self, Decoded, Delivery, EnvelopeError, Malformed, Messages, Via};
use crate::event::Event;
use crate::metrics::{Counts, Metrics};
use crate::remember::{self, Match};
use crate::rules::{Action, EventRead, IndexHits, Rule, RuleSet, Workspace};
use crate::sink::{DeliveryError, Sink};
use crate::state::{self, Claim, Millis, StateError, Store};

/// The decoded contents of one payload: one batch, or one per Kinesis record.
#[derive(Debug)]
pub struct Batch {
    /// The Kinesis sequence number, for `batchItemFailures`.
    pub item: Option<String>,
    pub decoded: Result<Decoded, EnvelopeError>,
}

/// Decode any payload the functions accept, every item at once.
pub fn decode(payload: Value) -> Result<(Via, Vec<Batch>), EnvelopeError> {
    let (via, parts) = open(payload)?;
    let batches = parts
        .into_iter()
        .map(|(item, contents)| Batch { item, decoded: contents.and_then(Contents::decode_all) })
        .collect();
    Ok((via, batches))
}

/// What one batch holds: events already decoded, or log events inflated and
/// parsed one at a time as they are matched.
#[derive(Debug)]
pub enum Contents {
    Decoded(Decoded),
    Messages(envelope::Messages),
}

impl Contents {
    /// A `CONTROL_MESSAGE` (no records). Log events are read through for
    /// it; [`Contents::detect`] says so as it matches them.
    pub fn control(&self) -> bool {
        match self {
            Contents::Decoded(d) => d.control,
            Contents::Messages(m) => m.control(),
        }
    }

    /// The items, each an event or why it is not one (log events all
    /// decoded first; a payload that cannot be read is one malformed item).
    pub fn items(self) -> Box<dyn Iterator<Item = Result<Event, Malformed>> + Send> {
        match self.decode_all() {
            Ok(d) => Box::new(d.events.into_iter().map(Ok).chain(d.malformed.into_iter().map(Err))),
            Err(e) => Box::new(std::iter::once(Err(Malformed { origin: "payload".into(), reason: e.to_string() }))),
        }
    }

    /// Match the items one by one, counting those that are not records:
    /// only alerts and counts are kept, never every parsed record at once.
    /// Log events are matched as they are inflated; a payload cut short
    /// (bad gzip, too large, bad JSON) keeps the events read before the
    /// fault, which is returned in [`Detection::fault`].
    pub fn detect(self, rules: &RuleSet, ws: &mut Workspace) -> Detection {
        match self {
            Contents::Messages(m) => {
                LogDetection::new(m.reader()).next_chunk(rules, ws, usize::MAX).unwrap_or_default()
            }
            Contents::Decoded(decoded) => {
                let mut d = Detecting::default();
                let control = decoded.control;
                for item in Contents::Decoded(decoded).items() {
                    match item {
                        Ok(event) => d.take(rules, event, ws),
                        Err(m) => d.malformed(&m),
                    }
                }
                Detection { control, ..d.finish() }
            }
        }
    }

    fn chunks(self) -> Chunks<'static> {
        match self {
            Contents::Decoded(d) => Chunks::Decoded(Some(d)),
            Contents::Messages(m) => {
                Chunks::Logs(Box::new(LogDetection::new(envelope::LogReader::new(Box::new(m.into_gzip())))))
            }
        }
    }

    fn decode_all(self) -> Result<Decoded, EnvelopeError> {
        match self {
            Contents::Decoded(d) => Ok(d),
            Contents::Messages(m) => m.decode_all(),
        }
    }
}

/// How many matches a logs or Kinesis payload's detection holds before the
/// handler responds to them (alerts delivered, state updated) and goes on
/// with an empty one, as if the payload had come as several invocations
/// (through the state store: dedup and thresholds carry over; without one,
/// identical alerts merge within a chunk). A match holds its rendered alert,
/// about 12 KB of memory with the built-in pack; a 6 MB payload of the real
/// records holds about 2,450 (30 MiB), a usual batch far fewer.
pub const MAX_HELD_LOG_MATCHES: usize = 512;

/// Log events matched as they are read, a chunk of matches at a time. The
/// fast path: a message no rule can match (the record gate, read by the
/// streaming matcher) is counted, not parsed. Until the header has said
/// what the payload is (CloudWatch Logs writes it first), events are
/// matched provisionally and held: a `CONTROL_MESSAGE` found after them
/// drops what they gave, and malformed ones are reported once their log
/// group and stream are known.
#[derive(Debug)]
pub struct LogDetection<R: std::io::Read> {
    reader: envelope::LogReader<R>,
    provisional: bool,
    pending: Vec<(String, String)>,
    done: bool,
}

impl<R: std::io::Read> LogDetection<R> {
    /// Detection over a reader's log events.
    pub fn new(reader: envelope::LogReader<R>) -> LogDetection<R> {
        LogDetection { reader, provisional: false, pending: Vec::new(), done: false }
    }

    /// Match events until more than `max_held` matches are held (once the
    /// payload is known to carry records) or the events end; `None` after
    /// the last chunk, which carries the control flag and any fault.
    pub fn next_chunk(&mut self, rules: &RuleSet, ws: &mut Workspace, max_held: usize) -> Option<Detection> {
        if self.done {
            return None;
        }
        let mut d = Detecting::default();
        let mut fault = None;
        loop {
            // The message read where it lies, escaped; unescaped only if
            // some rule may match it.
            let next = self.reader.next_read(|src| {
                rules.read_record_escaped(src, ws).map(|(verdict, len)| envelope::Skimmed {
                    keep: matches!(verdict, EventRead::Hits(_) | EventRead::Unread),
                    verdict,
                    len,
                })
            });
            let (entry, verdict) = match next {
                Some(Ok(entry)) => entry,
                Some(Err(e)) => {
                    fault = Some(e);
                    break;
                }
                None => break,
            };
            let header = self.reader.header();
            if header.control() {
                continue;
            }
            self.provisional |= header.message_type.is_none();
            let read = match verdict {
                Some(read) => read,
                None => rules.read_record_text(&entry.message, ws),
            };
            if let EventRead::Counted(matched) = &read {
                d.counted(matched.iter().map(|&i| &rules.rules()[i]));
            } else if matches!(read, EventRead::Unmatched) {
                d.counts.records += 1;
            } else {
                // Read to the index's hits: evaluating it does not read it again.
                let event = Event::from_text(entry.message).map(|e| match read {
                    EventRead::Hits(hits) => e.with_index_hits(hits),
                    _ => e,
                });
                match event {
                    Ok(event) => d.take(rules, event, ws),
                    Err(reason) if header.known() => {
                        d.malformed(&Malformed { origin: header.origin(&entry.id), reason })
                    }
                    Err(reason) => self.pending.push((entry.id, reason)),
                }
            }
            if d.held() > max_held && header.known() && self.pending.is_empty() {
                // Known to carry records: nothing held can be dropped.
                self.provisional = false;
                return Some(d.finish());
            }
        }
        self.done = true;
        let header = self.reader.header();
        let control = header.control();
        if control && self.provisional {
            (d, self.pending) = (Detecting::default(), Vec::new());
        }
        for (id, reason) in std::mem::take(&mut self.pending) {
            d.malformed(&Malformed { origin: header.origin(&id), reason });
        }
        Some(Detection { control, fault, ..d.finish() })
    }
}

/// A batch's detection, one chunk of matches at a time.
enum Chunks<'a> {
    Decoded(Option<Decoded>),
    Logs(Box<LogDetection<Box<dyn std::io::Read + Send + 'a>>>),
}

impl Chunks<'_> {
    fn next(&mut self, rules: &RuleSet, ws: &mut Workspace) -> Option<Detection> {
        match self {
            Chunks::Decoded(d) => d.take().map(|d| Contents::Decoded(d).detect(rules, ws)),
            Chunks::Logs(l) => l.next_chunk(rules, ws, MAX_HELD_LOG_MATCHES),
        }
    }
}

type Part = (Option<String>, Result<Contents, EnvelopeError>);

/// Recognise a payload's path and open its batches (one, or one per
/// Kinesis record) without parsing the records yet.
pub fn open(payload: Value) -> Result<(Via, Vec<Part>), EnvelopeError> {
    open_read(payload, None)
}

/// [`open`], an EventBridge event keeping the index hits its text was read
/// to.
fn open_read(payload: Value, hits: Option<IndexHits>) -> Result<(Via, Vec<Part>), EnvelopeError> {
    Ok(match Delivery::classify(payload)? {
        Delivery::EventBridge(v) => {
            let mut decoded = Decoded::default();
            let origin = v.get("id").and_then(Value::as_str).map(|id| format!("EventBridge event {id}"));
            match Event::from_eventbridge(v) {
                Ok(e) => decoded.events.push(match hits {
                    Some(h) => e.with_index_hits(h),
                    None => e,
                }),
                Err(e) => decoded.malformed.push(Malformed {
                    origin: origin.unwrap_or_else(|| "EventBridge event".into()),
                    reason: e.to_string(),
                }),
            }
            (Via::EventBridge, vec![(None, Ok(Contents::Decoded(decoded)))])
        }
        Delivery::Logs(data) => (Via::Logs, vec![(None, Messages::from_base64(&data).map(Contents::Messages))]),
        Delivery::Kinesis(items) => {
            let batches = items
                .into_iter()
                .map(|r| (Some(r.sequence_number), r.data.and_then(Messages::from_gzip).map(Contents::Messages)))
                .collect();
            (Via::Kinesis, batches)
        }
    })
}

/// What matching a set of events produced.
#[derive(Debug, Default)]
pub struct Detection {
    /// Every match of an `alert` rule, and every step of a sequence rule,
    /// for the stateful layer.
    pub matches: Vec<Match>,
    pub counts: Counts,
    /// The payload was a CloudWatch Logs `CONTROL_MESSAGE` (no records).
    pub control: bool,
    /// Why the payload's log events stopped before their end (bad gzip,
    /// too large, bad JSON): the events read before it were matched.
    pub fault: Option<EnvelopeError>,
}

/// Match events against the rules.
pub fn detect<'e>(rules: &RuleSet, events: impl IntoIterator<Item = &'e Event>, ws: &mut Workspace) -> Detection {
    let mut d = Detecting::default();
    for event in events {
        d.push(rules, event, ws);
    }
    d.finish()
}

/// A detection under way: events are matched one by one and dropped, only
/// their alerts and counts are kept (the S3 path feeds it a file's records
/// as they are parsed).
#[derive(Debug, Default)]
pub struct Detecting {
    matches: Vec<Match>,
    counts: Counts,
}

impl Detecting {
    /// Match one event.
    pub fn push(&mut self, rules: &RuleSet, event: &Event, ws: &mut Workspace) {
        let start = self.matched(rules, event, ws);
        for m in &mut self.matches[start..] {
            m.alert.record = event.detail().clone();
        }
    }

    /// [`Detecting::push`], giving the event up: its record is moved into
    /// the last of its alerts rather than copied (most matched records
    /// have one).
    pub fn take(&mut self, rules: &RuleSet, event: Event, ws: &mut Workspace) {
        let start = self.matched(rules, &event, ws);
        let Some((last, others)) = self.matches[start..].split_last_mut() else { return };
        for m in others {
            m.alert.record = event.detail().clone();
        }
        last.alert.record = event.into_detail();
    }

    /// Match one event, holding its matches with their alerts' records
    /// left null; where they start among the held matches.
    fn matched(&mut self, rules: &RuleSet, event: &Event, ws: &mut Workspace) -> usize {
        let start = self.matches.len();
        self.counts.records += 1;
        let matched = rules.evaluate(event, ws);
        for rule in &matched {
            self.count(rule);
            if rule.action == Action::Alert {
                self.matches.push(Match::without_record(rule, event));
            }
        }
        // Steps (alert or metric rules) feed the sequences listing them.
        for (sequence, steps) in rules.sequences_fed(&matched) {
            self.matches.extend(Match::step_without_record(sequence, steps, event));
        }
        start
    }

    /// One record whose matches were decided without parsing it
    /// ([`EventRead::Counted`]): rules that are only counted.
    pub fn counted<'r>(&mut self, matched: impl Iterator<Item = &'r Rule>) {
        self.counts.records += 1;
        for rule in matched {
            self.count(rule);
        }
    }

    fn count(&mut self, rule: &Rule) {
        *self.counts.matches.entry((rule.id.clone(), rule.severity)).or_default() += 1;
    }

    /// How many matches are held (what the S3 path bounds).
    pub fn held(&self) -> usize {
        self.matches.len()
    }

    /// Count an item that was not a record.
    pub fn malformed(&mut self, m: &Malformed) {
        tracing::warn!(origin = %m.origin, reason = %m.reason, "malformed record skipped");
        self.counts.malformed += 1;
    }

    /// The matches, the alerts (identical ones merged), and the counts.
    pub fn finish(self) -> Detection {
        Detection { matches: self.matches, counts: self.counts, ..Detection::default() }
    }
}

impl Detection {
    /// What is sent without a state store: the alerts of `alert` rules,
    /// identical ones merged (thresholds and sequences need a store).
    pub fn alerts(&self) -> Vec<Alert> {
        merged(self.matches.clone())
    }
}

/// The stateless alerts of these matches (see [`Detection::alerts`]).
fn merged(matches: Vec<Match>) -> Vec<Alert> {
    alert::merge(matches.into_iter().filter(|m| !m.is_windowed()).map(|m| m.alert).collect())
}

/// A pooled [`Workspace`], returned to its pool when dropped.
struct Pooled<'a> {
    #[expect(clippy::vec_box, reason = "a workspace is moved in and out of the pool: a pointer, not 632 bytes")]
    pool: &'a std::sync::Mutex<Vec<Box<Workspace>>>,
    /// Boxed: a workspace is a few hundred bytes of scratch, moved in and
    /// out of the pool once or twice an invocation.
    ws: Option<Box<Workspace>>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Workspace;
    fn deref(&self) -> &Workspace {
        self.ws.as_deref().expect("a pooled workspace is given back only when dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Workspace {
        self.ws.as_deref_mut().expect("a pooled workspace is given back only when dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(ws) = self.ws.take() {
            self.pool.lock().unwrap_or_else(|p| p.into_inner()).push(ws);
        }
    }
}

/// One alert to publish to one destination (`route`: `None` is the main
/// one), and the state keys to mark sent once it is taken.
#[derive(Debug)]
struct Outgoing {
    alert: Alert,
    keys: Vec<String>,
    route: Option<String>,
}

/// An invocation that must fail so that AWS retries it.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("{failed} of {total} alerts were not delivered; failing the invocation so that AWS retries it: {first}")]
    Delivery { failed: usize, total: usize, first: DeliveryError },
    #[error("the payload cannot be decoded: {0}")]
    Payload(#[from] EnvelopeError),
    #[error("{0}; failing the invocation so that AWS retries it")]
    State(#[from] StateError),
}

/// What an invocation answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// EventBridge and CloudWatch Logs: what was done.
    Summary(Summary),
    /// Kinesis: the partial batch response naming the records to retry.
    Batch(KinesisEventResponse),
}

/// What one EventBridge or CloudWatch Logs invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub records: u64,
    pub malformed: u64,
    pub alerts: u64,
}

/// The compiled rules, a sink for alerts and a place for metrics: built once
/// per container, then given every invocation's payload.
#[derive(Debug)]
pub struct Handler<S, M, St = state::Memory> {
    rules: RuleSet,
    sink: S,
    metrics: M,
    /// Dedup, thresholds and exactly-once claims; without it each batch's
    /// identical alerts are merged and sent (threshold rules need a store).
    state: Option<St>,
    clock: Clock,
    /// With state: one alert per rule, key and period (else one per match).
    dedup: bool,
    /// Sends of metrics that failed and are not yet counted in a sent one.
    metrics_failures: AtomicU64,
    /// Matching's working memory, kept between invocations (each keeps its
    /// buffers, sized for this rule set) rather than made anew for each.
    #[expect(clippy::vec_box, reason = "see `Pooled`")]
    workspaces: std::sync::Mutex<Vec<Box<Workspace>>>,
}

/// What "now" is for claims' leases and for lateness.
#[derive(Debug)]
pub enum Clock {
    /// The wall clock (the functions).
    Wall,
    /// The latest event time seen so far (replaying old records); nothing
    /// is late on it.
    Watermark(AtomicI64),
}

impl Clock {
    fn now(&self) -> Millis {
        match self {
            Clock::Wall => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as Millis).unwrap_or(0),
            Clock::Watermark(w) => w.load(Ordering::Relaxed),
        }
    }

    /// The time lateness is judged against: the wall clock's now. On the
    /// records' own time (a backfill, `trailwatch replay`) nothing is late:
    /// the whole history counts, whatever order it is read in.
    fn lateness_now(&self) -> Option<Millis> {
        match self {
            Clock::Wall => Some(self.now()),
            Clock::Watermark(_) => None,
        }
    }

    fn saw(&self, at: Option<Millis>) {
        if let (Clock::Watermark(w), Some(at)) = (self, at) {
            w.fetch_max(at, Ordering::Relaxed);
        }
    }
}

/// How long a claim is held before another container may take it over:
/// longer than one alert's publish with the SDK's retries.
pub const LEASE: Millis = 120_000;

impl<S: Sink, M: Metrics> Handler<S, M> {
    /// A handler over compiled rules, without state.
    pub fn new(rules: RuleSet, sink: S, metrics: M) -> Handler<S, M> {
        Handler {
            rules,
            sink,
            metrics,
            state: None,
            clock: Clock::Wall,
            dedup: true,
            metrics_failures: AtomicU64::new(0),
            workspaces: std::sync::Mutex::default(),
        }
    }
}

impl<S: Sink, M: Metrics, St: Store> Handler<S, M, St> {
    /// The same handler with a state store: dedup, thresholds and
    /// exactly-once alerts, on `clock`.
    /// `store` may be `None` (no state) where the store is configured.
    pub fn with_state<T: Store>(self, store: impl Into<Option<T>>, clock: Clock) -> Handler<S, M, T> {
        Handler {
            rules: self.rules,
            sink: self.sink,
            metrics: self.metrics,
            state: store.into(),
            clock,
            dedup: self.dedup,
            metrics_failures: self.metrics_failures,
            workspaces: self.workspaces,
        }
    }

    /// Send every match (each still once), not one per dedup key and
    /// period; thresholds still count (`trailwatch replay --no-dedup`).
    pub fn without_dedup(mut self) -> Self {
        self.dedup = false;
        self
    }

    /// The state store, if any.
    pub fn state(&self) -> Option<&St> {
        self.state.as_ref()
    }

    /// The compiled rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The sink alerts go to.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Where metrics go.
    pub fn metrics(&self) -> &M {
        &self.metrics
    }

    /// A workspace from the pool (a new one if none is free), back to it
    /// when dropped.
    fn workspace(&self) -> Pooled<'_> {
        let ws = self.workspaces.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
        Pooled { pool: &self.workspaces, ws: Some(ws) }
    }

    /// Handle one invocation's payload given as its JSON text, as the
    /// Lambda runtime receives it: an EventBridge event no rule can match
    /// (the event gate, read by the streaming matcher) is counted without
    /// being parsed; any other payload goes to [`Handler::handle`].
    pub async fn handle_text(&self, text: &str) -> Result<Response, InvocationError> {
        // A CloudWatch Logs payload as Lambda gives it (`awslogs` first) is
        // known at once; one written otherwise once the gate has said the
        // text is not an EventBridge event.
        let logs_first = text.trim_start().starts_with("{\"awslogs\"");
        if logs_first {
            if let Some(data) = envelope::logs_body_data(text) {
                return self.handle_logs_data(&data).await;
            }
        }
        let read = self.rules.read_eventbridge_text(text, &mut self.workspace());
        let hits = match read {
            EventRead::Unmatched => {
                let counts = Counts { records: 1, ..Counts::default() };
                self.emit(counts).await;
                return Ok(Response::Summary(Summary { records: 1, malformed: 0, alerts: 0 }));
            }
            EventRead::Counted(matched) => {
                let mut d = Detecting::default();
                d.counted(matched.iter().map(|&i| &self.rules.rules()[i]));
                self.emit(d.finish().counts).await;
                return Ok(Response::Summary(Summary { records: 1, malformed: 0, alerts: 0 }));
            }
            EventRead::Hits(hits) => Some(hits),
            EventRead::Unread => {
                if let Some(data) = envelope::logs_body_data(text).filter(|_| !logs_first) {
                    return self.handle_logs_data(&data).await;
                }
                None
            }
        };
        match crate::event::document::parse(text) {
            Ok(payload) => self.handle_opened(open_read(payload, hits)).await,
            Err(e) => {
                tracing::error!(error = %e, "payload not JSON");
                self.emit(Counts { malformed: 1, ..Counts::default() }).await;
                Err(EnvelopeError::Json(e.to_string()).into())
            }
        }
    }

    /// A CloudWatch Logs payload's `awslogs.data`: its base64 text read in
    /// place, not copied into a document first, and decoded as the gzip
    /// data is inflated (bad base64 is a fault like bad gzip: the events
    /// read before it are kept). (Boxed: the nested futures' type is too
    /// deep for the compiler's layout query in the functions.)
    async fn handle_logs_data(&self, data: &str) -> Result<Response, InvocationError> {
        let reader = envelope::LogReader::new(Box::new(envelope::base64_reader(data)) as Box<_>);
        let parts = vec![(None, Ok(Chunks::Logs(Box::new(LogDetection::new(reader)))))];
        Box::pin(self.handle_parts(Via::Logs, parts)).await
    }

    /// Handle one invocation's payload, whichever path it came by.
    pub async fn handle(&self, payload: Value) -> Result<Response, InvocationError> {
        self.handle_opened(open(payload)).await
    }

    async fn handle_opened(
        &self,
        opened: Result<(Via, Vec<Part>), EnvelopeError>,
    ) -> Result<Response, InvocationError> {
        match opened {
            Ok((via, parts)) => {
                let parts = parts.into_iter().map(|(item, contents)| (item, contents.map(Contents::chunks))).collect();
                Box::pin(self.handle_parts(via, parts)).await
            }
            Err(e) => {
                // Nothing in it can be read: retrying cannot fix it.
                tracing::error!(error = %e, "payload not decoded");
                self.emit(Counts { malformed: 1, ..Counts::default() }).await;
                Err(e.into())
            }
        }
    }

    /// Match, remember and deliver an opened payload's batches.
    async fn handle_parts(
        &self,
        via: Via,
        parts: Vec<(Option<String>, Result<Chunks<'_>, EnvelopeError>)>,
    ) -> Result<Response, InvocationError> {
        let mut total = Counts::default();
        let mut ws = self.workspace();
        let mut batch = KinesisEventResponse::default();
        let mut first_error = None;
        let (mut failed_alerts, mut all_alerts) = (0, 0);
        let mut payload_fault = None;
        for (item, contents) in parts {
            let mut chunks = match contents {
                Ok(c) => c,
                Err(e) => {
                    // Unreadable: retrying cannot fix it. A Kinesis record
                    // is skipped and the others go on; a whole payload
                    // fails, loudly.
                    tracing::error!(item = item.as_deref().unwrap_or("payload"), error = %e, "payload not decoded");
                    total.malformed += 1;
                    if item.is_none() {
                        self.emit(total).await;
                        return Err(e.into());
                    }
                    continue;
                }
            };
            let mut failed = false;
            while let Some(mut d) = chunks.next(&self.rules, &mut ws) {
                if d.control {
                    tracing::info!("CloudWatch Logs control message: nothing to do");
                }
                // Cut short: what was read before the fault is delivered, the
                // rest counted as one malformed item; a whole payload then
                // fails, loudly (retrying cannot fix it), a Kinesis record is
                // not retried.
                if let Some(e) = d.fault.take() {
                    tracing::error!(item = item.as_deref().unwrap_or("payload"), error = %e, "payload not decoded to its end");
                    d.counts.malformed += 1;
                    if item.is_none() {
                        payload_fault = Some(e);
                    }
                }
                let (counts, alerts, errors) = match self.respond(d).await {
                    Ok(r) => r,
                    Err(e) => {
                        self.emit(total).await;
                        return Err(e);
                    }
                };
                all_alerts += alerts;
                if !errors.is_empty() {
                    failed_alerts += errors.len();
                    if let (Some(item), false) = (&item, failed) {
                        batch.add_failure(item.clone());
                    }
                    failed = true;
                    first_error = first_error.or(errors.into_iter().next());
                }
                total.add(&counts);
            }
        }
        let summary = Summary { records: total.records, malformed: total.malformed, alerts: total.alerts_published };
        self.emit(total).await;
        if via == Via::Kinesis {
            return Ok(Response::Batch(batch));
        }
        match (first_error, payload_fault) {
            (Some(first), _) => Err(InvocationError::Delivery { failed: failed_alerts, total: all_alerts, first }),
            (None, Some(fault)) => Err(fault.into()),
            (None, None) => Ok(Response::Summary(summary)),
        }
    }

    /// After matching: remember (dedup, thresholds, sequences), claim, and
    /// deliver one batch's matches; its counts, how many alerts were sent
    /// or tried, and the deliveries that failed. The same for every path
    /// (the S3 path matches a file's records as it reads them, then calls
    /// this).
    pub async fn respond(&self, mut d: Detection) -> Result<(Counts, usize, Vec<DeliveryError>), InvocationError> {
        let alerts = match &self.state {
            None => merged(std::mem::take(&mut d.matches))
                .into_iter()
                .flat_map(|alert| {
                    let mut sends: Vec<Outgoing> = self
                        .sink
                        .routes(&alert)
                        .into_iter()
                        .map(|r| Outgoing { alert: alert.clone(), keys: Vec::new(), route: Some(r) })
                        .collect();
                    sends.push(Outgoing { alert, keys: Vec::new(), route: None });
                    sends
                })
                .collect(),
            Some(store) => {
                d.matches.iter().for_each(|m| self.clock.saw(m.at));
                let late_after = self.clock.lateness_now();
                let matches = std::mem::take(&mut d.matches);
                let outcome = remember::candidates(matches, store, late_after, self.dedup).await?;
                d.counts.late_dropped += outcome.late_dropped;
                self.claim(store, outcome.candidates, &mut d.counts).await?
            }
        };
        let errors = self.deliver(&alerts, &mut d.counts).await;
        Ok((d.counts, alerts.len(), errors))
    }

    /// Claim each candidate: the won ones are returned to send, with the
    /// keys to mark sent (a chain's and those of the step alerts folded
    /// into it); the others were sent already, or are being sent, and their
    /// matches are counted into them. A folded alert whose chain was not
    /// won is claimed on its own.
    async fn claim(
        &self,
        store: &St,
        candidates: Vec<remember::Candidate>,
        counts: &mut Counts,
    ) -> Result<Vec<Outgoing>, StateError> {
        let mut won = Vec::new();
        let mut queue: std::collections::VecDeque<remember::Candidate> = candidates.into();
        while let Some(mut c) = queue.pop_front() {
            let mut keys = Vec::new();
            if self.claimed(store, &c, counts).await? {
                keys.push(c.key.clone());
                for f in std::mem::take(&mut c.folded) {
                    if self.claimed(store, &f, counts).await? {
                        counts.folded += 1;
                        c.alert.folded.push(f.alert.rule_id);
                        keys.push(f.key);
                    }
                }
            } else {
                queue.extend(std::mem::take(&mut c.folded));
            }
            // Each route is claimed on its own: a retry sends a route only
            // what it did not take, whatever the main topic did.
            for route in self.sink.routes(&c.alert) {
                let key = format!("{}>{route}", c.key);
                let now = self.clock.now();
                if store.claim(&key, now, now + LEASE, c.expires).await? == Claim::Won {
                    won.push(Outgoing { alert: c.alert.clone(), keys: vec![key], route: Some(route) });
                }
            }
            if !keys.is_empty() {
                won.push(Outgoing { alert: c.alert, keys, route: None });
            }
        }
        Ok(won)
    }

    /// Claim one candidate's key: whether it was won; if not, its matches
    /// are counted into the alert that holds it.
    async fn claimed(&self, store: &St, c: &remember::Candidate, counts: &mut Counts) -> Result<bool, StateError> {
        let now = self.clock.now();
        match store.claim(&c.key, now, now + LEASE, c.expires).await? {
            Claim::Won => Ok(true),
            Claim::Sent | Claim::Held { .. } => {
                for id in &c.fresh {
                    store.count(&c.key, id, c.expires).await?;
                }
                counts.suppressed += c.fresh.len() as u64;
                Ok(false)
            }
        }
    }

    /// Publish each alert to its destination; with state, mark its claims
    /// sent, or release them when the sink did not take it.
    async fn deliver(&self, deliveries: &[Outgoing], counts: &mut Counts) -> Vec<DeliveryError> {
        let mut errors = Vec::new();
        for Outgoing { alert: a, keys, route } in deliveries {
            match self.sink.publish(a, route.as_deref()).await {
                Ok(receipt) => {
                    counts.alerts_published += u64::from(route.is_none());
                    tracing::info!(rule_id = %a.rule_id, event_id = a.event_id.as_deref().unwrap_or(""), count = a.count, receipt = %receipt, "alert published");
                    for (store, key) in self.state.iter().flat_map(|s| keys.iter().map(move |k| (s, k))) {
                        if let Err(e) = store.mark_sent(key).await {
                            // Sent, but not marked: a retry after the lease may repeat it.
                            tracing::error!(rule_id = %a.rule_id, error = %e, "alert sent but not marked sent");
                        }
                    }
                }
                Err(e) => {
                    counts.delivery_failures += 1;
                    tracing::error!(rule_id = %a.rule_id, error = %e, "alert not delivered");
                    for (store, key) in self.state.iter().flat_map(|s| keys.iter().map(move |k| (s, k))) {
                        if let Err(e) = store.release(key).await {
                            tracing::error!(rule_id = %a.rule_id, error = %e, "claim not released; the retry waits out the lease");
                        }
                    }
                    errors.push(e);
                }
            }
        }
        errors
    }

    /// Send the counts, best-effort: by now the alerts are out, and failing
    /// the invocation would make AWS retry it and send them all again. A
    /// failure is logged and counted into the next send.
    pub async fn emit(&self, mut counts: Counts) {
        let earlier = self.metrics_failures.swap(0, Ordering::Relaxed);
        counts.metrics_failures += earlier;
        if let Err(e) = self.metrics.emit(&counts).await {
            self.metrics_failures.fetch_add(earlier + 1, Ordering::Relaxed);
            tracing::error!(error = %e, "metrics not sent; the invocation goes on (its alerts are delivered)");
        }
    }
}
