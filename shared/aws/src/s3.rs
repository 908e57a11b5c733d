//! The S3 path's edge: the S3 function reads an SQS event whose messages
//! name CloudTrail log files (see `trailwatch_engine::s3` for the shapes),
//! reads each file from S3 with `GetObject`, streams its records through
//! the handler's one path (match, state, alert) and answers with an SQS
//! partial batch response. `trailwatch replay s3://` reads objects the
//! same way ([`process_object`]).
//!
//! What becomes of an object:
//! - a digest file: skipped;
//! - read (records matched, alerts delivered): done; with the state table
//!   the object is claimed by bucket, key and ETag first, so a re-delivered
//!   message (SQS is at least once) is skipped at the cost of one read of
//!   the table (and each alert is claimed on its own anyway);
//! - missing (`NoSuchKey`), truncated gzip, not a CloudTrail file, past the
//!   inflation bound: logged and counted (`Malformed`), the records read
//!   before the fault are matched, not retried (a retry cannot mend it);
//! - access denied, throttled, network or state failure, an alert SNS did
//!   not take: the message is reported in `batchItemFailures`, so SQS
//!   retries it alone, and after the queue's `maxReceiveCount` moves it to
//!   the dead-letter queue (with an alarm on it).
//!
//! An object's memory is bounded whatever its size: its records are
//! matched as they are parsed, and once more than [`MAX_HELD_MATCHES`]
//! matches are held the handler responds to that chunk
//! (alerts delivered, state updated) and goes on with an empty one. With a
//! state store the chunks answer as separate invocations do: dedup,
//! thresholds and sequences run through the store, so an alert an earlier
//! chunk sent counts a later chunk's matches of its key as suppressed
//! rather than into its own `count`, and a step alert folds into a sequence
//! alert only within one chunk. Without a store identical alerts are merged
//! within a chunk only (a file with more matches than the bound may send
//! one merged alert per chunk), and thresholds and sequences send nothing,
//! as ever. A delivery that fails in any chunk retries the message; the
//! counts are those of every chunk answered.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tokio::runtime::{Handle, RuntimeFlavor};
use trailwatch_engine::envelope::Malformed;
use trailwatch_engine::event::Event;
use trailwatch_engine::handler::{Detecting, Handler, InvocationError};
use trailwatch_engine::metrics::{Counts, Metrics};
use trailwatch_engine::rules::Workspace;
use trailwatch_engine::s3::{self as files, FileKind, FileStats, ObjectRef, SqsBatchResponse};
use trailwatch_engine::sink::{DeliveryError, Sink};
use trailwatch_engine::state::{Claim, Millis, Store};

use crate::config::Config;

/// How long an object's claim is held: Lambda's longest run.
pub const OBJECT_LEASE: Millis = 15 * 60_000;
/// How long a processed object is remembered: past SQS's longest retention
/// (14 days), so no re-delivery finds it forgotten.
pub const OBJECT_MEMORY: Millis = 30 * 24 * 3_600_000;

/// How many matches (alert-rule matches and sequence steps) an object's
/// reading holds before the handler responds to them. A held match is its
/// alert with the record in it, 9 to 14 KB measured (bench/RESULTS.md), so
/// about 10 MiB whatever the file's size; a usual 5-minute log file matches
/// far fewer records and is still answered in one response (one claim per
/// alert key, identical alerts merged).
pub const MAX_HELD_MATCHES: usize = 1_024;

/// Records the reading thread hands over at a time (single-threaded
/// runtime).
const ITEMS_PER_SEND: usize = 64;

/// An S3 client for this SDK configuration. With an endpoint URL (a local
/// moto server) buckets are addressed by path: a loopback address cannot
/// serve `bucket.127.0.0.1`.
pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some()).build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// What became of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Read through: its records, the JSON bytes, alerts sent.
    Read { records: u64, bytes: u64, alerts: usize },
    /// Not read: a digest file, or one processed already.
    Skipped(&'static str),
    /// Reported and counted; retrying cannot mend it.
    Unreadable(String),
    /// The message must be retried.
    Retry(String),
}

fn now() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as Millis).unwrap_or(0)
}

/// Read one object through the handler; counts go into `counts`.
pub async fn process_object<S: Sink, M: Metrics, St: Store>(
    handler: &Handler<S, M, St>,
    s3: &aws_sdk_s3::Client,
    object: &ObjectRef,
    counts: &mut Counts,
) -> Outcome {
    let kind = files::file_kind(&object.key);
    if kind == FileKind::Digest {
        tracing::debug!(object = %object, "digest file skipped");
        return Outcome::Skipped("digest file");
    }
    // Claim the object by bucket, key and ETag, so that a re-delivery is
    // skipped cheaply: before reading when the message gives the ETag (S3
    // notifications), else from GetObject's answer, before the body.
    let mut claim = ObjectClaim::None;
    if let Some(etag) = &object.etag {
        claim = match ObjectClaim::take(handler, object, etag).await {
            Ok(ObjectClaim::Done) => return Outcome::Skipped("processed already"),
            Ok(c) => c,
            Err(e) => return Outcome::Retry(format!("{object}: {e}")),
        };
    }
    let response = match s3.get_object().bucket(&object.bucket).key(&object.key).send().await {
        Ok(r) => r,
        Err(e) => {
            let service = e.as_service_error();
            let code = service.and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s)).unwrap_or("");
            let text = format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e));
            if matches!(service, Some(GetObjectError::NoSuchKey(_))) || code == "NoSuchKey" {
                counts.malformed += 1;
                tracing::error!(object = %object, error = %text, "object missing (deleted before it was read): skipped");
                claim.finish(handler, object, true).await;
                return Outcome::Unreadable(format!("{object}: missing"));
            }
            counts.malformed += u64::from(code == "AccessDenied");
            tracing::error!(object = %object, code, error = %text, "object not read: the message is retried");
            claim.finish(handler, object, false).await;
            return Outcome::Retry(format!("{object}: {code} {text}"));
        }
    };
    if object.etag.is_none() {
        let etag = response.e_tag().unwrap_or_default();
        claim = match ObjectClaim::take(handler, object, etag).await {
            Ok(ObjectClaim::Done) => return Outcome::Skipped("processed already"),
            Ok(c) => c,
            Err(e) => return Outcome::Retry(format!("{object}: {e}")),
        };
    }
    let claim = &claim;
    let release = |why: String| async move {
        claim.finish(handler, object, false).await;
        Outcome::Retry(why)
    };
    let read = read_body(handler, object, kind, response.body, MAX_HELD_MATCHES).await;
    counts.add(&read.counts);
    if let Some(why) = read.failed {
        return release(format!("{object}: {why}")).await;
    }
    let outcome = match read.read {
        Ok(stats) => Outcome::Read { records: read.counts.records, bytes: stats.bytes, alerts: read.alerts },
        Err(e) => {
            counts.malformed += 1;
            tracing::error!(object = %object, error = %e, records = read.counts.records, "object unreadable past this point: its records before it were matched; not retried");
            Outcome::Unreadable(format!("{object}: {e}"))
        }
    };
    if let Some(first) = read.errors.first() {
        return release(format!("{object}: {} alerts not delivered: {first}", read.errors.len())).await;
    }
    claim.finish(handler, object, true).await;
    outcome
}

/// An object's claim in the state table.
#[derive(Debug)]
enum ObjectClaim {
    /// No state table, or another container holds it (reading it again is
    /// safe: each alert is claimed on its own).
    None,
    /// Won: marked sent when read, released when it must be retried.
    Won(String),
    /// Read already.
    Done,
}

impl ObjectClaim {
    async fn take<S: Sink, M: Metrics, St: Store>(
        handler: &Handler<S, M, St>,
        object: &ObjectRef,
        etag: &str,
    ) -> Result<ObjectClaim, trailwatch_engine::state::StateError> {
        let Some(store) = handler.state() else { return Ok(ObjectClaim::None) };
        let key = format!("s3object#{}/{}#{}", object.bucket, object.key, etag.trim_matches('"'));
        let t = now();
        Ok(match store.claim(&key, t, t + OBJECT_LEASE, t + OBJECT_MEMORY).await? {
            Claim::Won => ObjectClaim::Won(key),
            Claim::Sent => {
                tracing::info!(object = %object, "object processed already: skipped");
                ObjectClaim::Done
            }
            Claim::Held { .. } => ObjectClaim::None,
        })
    }

    /// Mark a won claim sent (`done`), or release it for the retry.
    async fn finish<S: Sink, M: Metrics, St: Store>(
        &self,
        handler: &Handler<S, M, St>,
        object: &ObjectRef,
        done: bool,
    ) {
        let (ObjectClaim::Won(key), Some(store)) = (self, handler.state()) else { return };
        let result = if done { store.mark_sent(key).await } else { store.release(key).await };
        if let Err(e) = result {
            tracing::error!(object = %object, error = %e, "object claim not updated: a re-delivery reads it again (its alerts are claimed)");
        }
    }
}

/// How reading a file's contents ended: its stats, or why it stopped.
pub type FileRead = Result<FileStats, trailwatch_engine::envelope::EnvelopeError>;

/// What reading one object's body came to, over the chunks the handler
/// answered.
#[derive(Debug)]
pub struct ObjectRead {
    /// The counts of every chunk answered.
    pub counts: Counts,
    /// Alerts sent or tried.
    pub alerts: usize,
    /// The deliveries that failed, in any chunk (the message is retried).
    pub errors: Vec<DeliveryError>,
    /// How many times the handler responded.
    pub chunks: usize,
    /// How reading the contents ended.
    pub read: FileRead,
    /// Why the object must be read again (the network or the state store
    /// failed); the chunks answered before it are in the figures above.
    pub failed: Option<String>,
}

impl ObjectRead {
    /// Respond to one chunk and add what it did.
    async fn respond<S: Sink, M: Metrics, St: Store>(
        &mut self,
        handler: &Handler<S, M, St>,
        chunk: Detecting,
    ) -> Result<(), InvocationError> {
        let (c, alerts, errors) = handler.respond(chunk.finish()).await?;
        self.counts.add(&c);
        self.alerts += alerts;
        self.errors.extend(errors);
        self.chunks += 1;
        Ok(())
    }
}

/// Match the body's records as they arrive: the S3 function's per-object
/// work once `GetObject` has answered (what `trailwatch bench-handler`
/// times on a log file). Whenever more than `max_held` matches are held,
/// [`Handler::respond`] answers them, and once more at the end. On a
/// multi-threaded runtime (the function) the body is streamed chunk by
/// chunk into the parser under `block_in_place`, which matches each record
/// and responds in place (`Handle::block_on`); on a single-threaded one the
/// body is first collected (compressed) and parsed on a blocking thread
/// that hands the records over.
pub async fn read_body<S: Sink, M: Metrics, St: Store>(
    handler: &Handler<S, M, St>,
    object: &ObjectRef,
    kind: FileKind,
    body: ByteStream,
    max_held: usize,
) -> ObjectRead {
    let mut out = ObjectRead {
        counts: Counts::default(),
        alerts: 0,
        errors: Vec::new(),
        chunks: 0,
        read: Ok(FileStats::default()),
        failed: None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut reader = BodyReader { body: None, chunk: bytes::Bytes::new(), stop: Arc::clone(&stop), failed: None };
    let origin = object.to_string();
    let rules = handler.rules();
    let mut ws = Workspace::default();
    let mut chunk = Detecting::default();
    // Match one item; the chunk to answer once it holds too many matches.
    let mut add = move |chunk: &mut Detecting, item: Item| {
        match item {
            Ok(e) => chunk.take(rules, e, &mut ws),
            Err(m) => chunk.malformed(&m),
        }
        (chunk.held() > max_held).then(|| std::mem::take(chunk))
    };
    let network = if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        let rt = Handle::current();
        reader.body = Some((body, rt.clone()));
        tokio::task::block_in_place(|| {
            out.read = files::read_records(&mut reader, &origin, kind, &mut |item| {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(full) = add(&mut chunk, item) {
                    if let Err(e) = rt.block_on(out.respond(handler, full)) {
                        out.failed = Some(e.to_string());
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        });
        reader.failed
    } else {
        match body.collect().await {
            Ok(b) => reader.chunk = b.into_bytes(),
            Err(e) => {
                out.failed = Some(format!("reading the body failed: {e}"));
                return out;
            }
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Item>>(2);
        let stopped = Arc::clone(&stop);
        let reading = tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(ITEMS_PER_SEND);
            let read = files::read_records(&mut reader, &origin, kind, &mut |item| {
                batch.push(item);
                if batch.len() == ITEMS_PER_SEND {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(ITEMS_PER_SEND));
                    if tx.blocking_send(full).is_err() {
                        // Nobody matches on: the next read of the body fails.
                        stopped.store(true, Ordering::Relaxed);
                    }
                }
            });
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
            (read, reader.failed)
        });
        'reading: while let Some(items) = rx.recv().await {
            for item in items {
                if let Some(full) = add(&mut chunk, item) {
                    if let Err(e) = out.respond(handler, full).await {
                        out.failed = Some(e.to_string());
                        break 'reading;
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        drop(rx);
        match reading.await {
            Ok((read, network)) => {
                out.read = read;
                network
            }
            Err(e) => Some(e.to_string()),
        }
    };
    if out.failed.is_none() {
        out.failed = network.map(|e| format!("reading the body failed: {e}"));
    }
    if out.failed.is_none() {
        if let Err(e) = out.respond(handler, chunk).await {
            out.failed = Some(e.to_string());
        }
    }
    out
}

/// One item of a file's `Records`.
type Item = Result<Event, Malformed>;

/// An object's body as a blocking reader (in `block_in_place`, or on the
/// reading thread): what is
/// left of the current chunk, then each next one awaited as the parser
/// asks for it (streamed), or nothing more (collected). It fails once
/// `stop` is set (nobody matches the records any more).
struct BodyReader {
    body: Option<(ByteStream, Handle)>,
    chunk: bytes::Bytes,
    stop: Arc<AtomicBool>,
    /// A network failure (as opposed to bad contents).
    failed: Option<String>,
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("reading stopped"));
        }
        while self.chunk.is_empty() {
            let Some((body, rt)) = &mut self.body else { return Ok(0) };
            match rt.block_on(body.next()) {
                Some(Ok(b)) => self.chunk = b,
                Some(Err(e)) => {
                    self.failed = Some(e.to_string());
                    return Err(io::Error::other(e));
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.chunk.len());
        out[..n].copy_from_slice(&self.chunk[..n]);
        bytes::Buf::advance(&mut self.chunk, n);
        Ok(n)
    }
}

/// One SQS event: every object of every message; the messages to retry.
pub async fn handle<S: Sink, M: Metrics, St: Store>(
    handler: &Handler<S, M, St>,
    s3: &aws_sdk_s3::Client,
    payload: Value,
) -> Result<SqsBatchResponse, InvocationError> {
    let mut total = Counts::default();
    let messages = match files::sqs_messages(&payload) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "payload not decoded");
            total.malformed += 1;
            handler.emit(total).await;
            return Err(e.into());
        }
    };
    let mut response = SqsBatchResponse::default();
    for message in messages {
        let objects = match files::notification(&message.body) {
            Ok(o) => o,
            Err(e) => {
                // Retrying cannot mend it: reported and dropped.
                tracing::error!(message_id = %message.message_id, error = %e, "message names no object: skipped");
                total.malformed += 1;
                continue;
            }
        };
        let mut retry = false;
        for object in &objects {
            match process_object(handler, s3, object, &mut total).await {
                Outcome::Read { records, bytes, alerts } => {
                    tracing::info!(object = %object, records, bytes, alerts, "object read")
                }
                Outcome::Skipped(_) | Outcome::Unreadable(_) => {}
                Outcome::Retry(why) => {
                    tracing::error!(message_id = %message.message_id, reason = %why, "message to be retried");
                    retry = true;
                }
            }
        }
        if retry {
            response.add_failure(message.message_id);
        }
    }
    handler.emit(total).await;
    Ok(response)
}

/// The S3 function: set up once, then serve SQS events.
pub async fn serve() -> Result<(), Error> {
    crate::init_logging();
    let setup = async {
        let config = Config::from_env()?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let state = crate::dynamodb::store(&config, &sdk);
        let handler =
            crate::build(&config, aws_sdk_sns::Client::new(&sdk), aws_sdk_cloudwatch::Client::new(&sdk), state, "s3")?;
        Ok::<_, Error>((handler, client(&sdk)))
    };
    let shared = Arc::new(setup.await.inspect_err(|e| tracing::error!(error = %e, "cold start failed"))?);
    tracing::info!(function = "s3", rules = shared.0.rules().rules().len(), "ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let shared = Arc::clone(&shared);
        async move { handle(&shared.0, &shared.1, event.payload).await.map_err(Error::from) }
    }))
    .await
}
