//! `trailwatch bench-handler`: what the functions pay per record. Each
//! payload file holds Lambda invocation bodies, one JSON document per line
//! (EventBridge events, CloudWatch Logs subscription events, Kinesis
//! events); every pass runs the functions' own handler on every body, as
//! the Lambda runtime hands it over (its text, `Handler::handle_text`: the
//! fast path, then decode, match, state in memory, alert rendering), delivering to a sink
//! that renders each alert as SNS would be sent it and drops it. Nothing a
//! function does is skipped. The last line printed is one JSON object;
//! the figures are the best of the passes. With logs or Kinesis bodies it
//! also gives a plain inflate of the same payloads, timed apart
//! (`inflate_seconds`, `inflate_mib_per_sec`, and `vs_inflate`: the
//! inflate's time over the handler's).
//!
//! A gzip'd file (a CloudTrail log file, `{"Records":[...]}`, as CloudTrail
//! writes it to S3) is one S3 object: it goes through the S3 function's own
//! per-object path after `GetObject` (`trailwatch_aws::s3::read_body`, the
//! file streamed in 64 KiB chunks on a multi-threaded runtime as the
//! function's body is, records parsed on a blocking thread and matched one
//! at a time, `Handler::respond` every `MAX_HELD_MATCHES` matches and at
//! the end); its bytes are the file's JSON once inflated.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::{json, Value};
use trailwatch_engine::alert::Alert;
use trailwatch_engine::envelope::{self, Delivery};
use trailwatch_engine::event::Event;
use trailwatch_engine::handler::{Clock, Handler};
use trailwatch_engine::metrics::Tally;
use trailwatch_engine::rules::{self, RuleSet};
use trailwatch_engine::s3::{self as files, ObjectRef};
use trailwatch_engine::sink::{DeliveryError, Sink};
use trailwatch_engine::state;

/// Renders each alert as the SNS sink would publish it, then drops it.
#[derive(Debug, Default)]
struct Rendering {
    bytes: AtomicU64,
}

impl Sink for Rendering {
    async fn publish(&self, alert: &Alert, _route: Option<&str>) -> Result<String, DeliveryError> {
        let n = alert.subject().len() + alert.sns_message().len() + alert.attributes().len();
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(String::new())
    }
}

/// The decoded record JSON a body carries, in bytes (inflated, for logs):
/// log events are read one at a time, as the handler reads them, so that
/// counting does not raise the peak memory measured.
fn record_bytes(body: &str) -> Result<u64> {
    let messages = |m: envelope::Messages| -> u64 {
        let mut reader = m.reader();
        let bytes = reader
            .by_ref()
            .map_while(Result::ok)
            .filter_map(|entry| Event::from_text(entry.message).ok())
            .map(|e| e.text().map_or(0, str::len) as u64)
            .sum();
        if reader.header().control() {
            0
        } else {
            bytes
        }
    };
    if let Some(data) = envelope::logs_body_data(body) {
        return Ok(envelope::Messages::from_base64(&data).map(messages).unwrap_or(0));
    }
    let body: Value = serde_json::from_str(body)?;
    Ok(match Delivery::classify(body) {
        Ok(Delivery::EventBridge(v)) => v.get("detail").map_or(0, |d| d.to_string().len() as u64),
        Ok(Delivery::Logs(data)) => envelope::Messages::from_base64(&data).map(messages).unwrap_or(0),
        Ok(Delivery::Kinesis(items)) => {
            items.into_iter().filter_map(|i| i.data.and_then(envelope::Messages::from_gzip).ok()).map(messages).sum()
        }
        #[allow(unreachable_patterns)]
        _ => 0,
    })
}

/// The gzip'd subscription payloads a body carries (one, or one per
/// Kinesis record), base64-decoded.
fn gzip_payloads(body: &str) -> Vec<envelope::Messages> {
    if let Some(data) = envelope::logs_body_data(body) {
        return envelope::Messages::from_base64(&data).into_iter().collect();
    }
    match serde_json::from_str(body).map(Delivery::classify) {
        Ok(Ok(Delivery::Logs(data))) => envelope::Messages::from_base64(&data).into_iter().collect(),
        Ok(Ok(Delivery::Kinesis(items))) => {
            items.into_iter().filter_map(|i| i.data.and_then(envelope::Messages::from_gzip).ok()).collect()
        }
        _ => Vec::new(),
    }
}

/// A plain inflate of every logs payload in the bodies, for comparison:
/// (seconds, inflated bytes), the output streamed through a 64 KiB buffer
/// and dropped. Base64 decoding is not timed.
fn plain_inflate(bodies: &[String]) -> (f64, u64) {
    let (mut seconds, mut bytes) = (0.0, 0);
    for body in bodies {
        for m in gzip_payloads(body) {
            let start = Instant::now();
            bytes += envelope::inflated_len(m.gzip()).unwrap_or(0);
            seconds += start.elapsed().as_secs_f64();
        }
    }
    (seconds, bytes)
}

/// Whether a file is gzip'd: a CloudTrail log file, not a file of bodies.
fn is_gzip(path: &Path) -> Result<bool> {
    let mut head = [0u8; 2];
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let n = f.read(&mut head).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(n == 2 && head == [0x1f, 0x8b])
}

type Bench = Handler<Rendering, Tally, state::Memory>;

/// One log file through the S3 function's per-object path: its body
/// streamed from the file (as `GetObject`'s would be from the network),
/// then the handler's response and its metrics (one object an invocation).
/// The inflated bytes.
async fn log_file(handler: &Bench, path: &Path) -> Result<u64> {
    let body = ByteStream::read_from()
        .path(path)
        .buffer_size(64 * 1024)
        .build()
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    let object = ObjectRef { bucket: "bench".into(), key: path.display().to_string(), etag: None };
    let kind = files::file_kind(&object.key);
    let read = trailwatch_aws::s3::read_body(handler, &object, kind, body, trailwatch_aws::s3::MAX_HELD_MATCHES).await;
    if let Some(e) = read.failed {
        bail!("{object}: {e}");
    }
    handler.emit(read.counts).await;
    let stats = read.read.map_err(|e| anyhow!("{} is not a readable CloudTrail log file: {e}", path.display()))?;
    Ok(stats.bytes)
}

pub fn run(paths: &[PathBuf], passes: u32) -> Result<ExitCode> {
    if passes == 0 {
        bail!("--passes must be at least 1");
    }
    let mut bodies: Vec<String> = Vec::new();
    let mut logs: Vec<&PathBuf> = Vec::new();
    for path in paths {
        if is_gzip(path)? {
            logs.push(path);
            continue;
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        bodies.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string));
    }
    if bodies.is_empty() && logs.is_empty() {
        bail!(
            "no invocation bodies or log files in {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let mut bytes = 0;
    for (i, b) in bodies.iter().enumerate() {
        bytes += record_bytes(b).with_context(|| format!("body {} is not JSON", i + 1))?;
    }
    let rules = rules::load(None)?;
    let runtime = tokio::runtime::Builder::new_current_thread().build().context("cannot start the async runtime")?;
    // The S3 function's runtime (`#[tokio::main]`) is multi-threaded: its
    // body is streamed into the parser under `block_in_place`.
    let s3_runtime = match logs.is_empty() {
        true => None,
        false => Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?,
        ),
    };
    let mut out = std::io::stdout().lock();
    let (mut best, mut records, mut alerts, mut log_bytes) = (f64::INFINITY, 0, 0, 0);
    let (mut inflate_best, mut inflated) = (f64::INFINITY, 0);
    for pass in 1..=passes {
        // A fresh handler per pass: its state starts empty, as a new
        // container's would, so every pass does the same work.
        let handler = Handler::new(RuleSet::new(rules.clone()), Rendering::default(), Tally::default())
            .with_state(state::Memory::default(), Clock::Watermark(AtomicI64::new(i64::MIN)));
        let start = Instant::now();
        for body in &bodies {
            // The body as the Lambda runtime hands it over: its text (the
            // functions' `handle_text`). A failed invocation is part of the
            // work (AWS would retry it).
            let _ = runtime.block_on(handler.handle_text(body));
        }
        log_bytes = 0;
        for path in &logs {
            let rt = s3_runtime.as_ref().expect("a runtime when there are log files");
            log_bytes += rt.block_on(log_file(&handler, path))?;
        }
        let seconds = start.elapsed().as_secs_f64();
        let c = handler.metrics().counts();
        (records, alerts) = (c.records, c.alerts_published);
        writeln!(out, "pass {pass}: {seconds:.4} s, {records} records, {alerts} alerts")?;
        best = best.min(seconds);
        let (seconds, bytes) = plain_inflate(&bodies);
        (inflate_best, inflated) = (inflate_best.min(seconds), bytes);
    }
    let bytes = bytes + log_bytes;
    let line = json!({
        "bodies": bodies.len(),
        "log_files": logs.len(),
        "records": records,
        "bytes": bytes,
        "alerts": alerts,
        "seconds": (best * 1e6).round() / 1e6,
        "records_per_sec": (records as f64 / best).round(),
        "mib_per_sec": ((bytes as f64 / (1024.0 * 1024.0) / best) * 100.0).round() / 100.0,
    });
    let mut line = line;
    if inflated > 0 {
        // The same payloads only inflated (flate2, the functions' backend),
        // best of the passes too: how the handler compares with that.
        line["inflated_bytes"] = json!(inflated);
        line["inflate_seconds"] = json!((inflate_best * 1e6).round() / 1e6);
        line["inflate_mib_per_sec"] =
            json!(((inflated as f64 / (1024.0 * 1024.0) / inflate_best) * 100.0).round() / 100.0);
        line["vs_inflate"] = json!(((inflate_best / best) * 1000.0).round() / 1000.0);
    }
    writeln!(out, "{line}")?;
    Ok(ExitCode::SUCCESS)
}
