//! `trailwatch replay`: files of records through the functions' handler,
//! re-delivered the way the chosen path would deliver them, alerts to
//! stdout instead of SNS.

use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use trailwatch_engine::alert::Alert;
use trailwatch_engine::encode;
use trailwatch_engine::envelope::{self, Via};
use trailwatch_engine::handler::{Clock, Detecting, Handler, Response};
use trailwatch_engine::metrics::Tally;
use trailwatch_engine::rules::{self, RuleSet, Workspace};
use trailwatch_engine::s3 as s3files;
use trailwatch_engine::sink::{DeliveryError, Sink};
use trailwatch_engine::state;

/// Records per logs payload / Kinesis record: CloudWatch Logs batches
/// subscription deliveries; a few hundred records is typical.
const BATCH: usize = 500;

/// The sink of `replay`: each alert a JSON line on stdout, counted by rule.
#[derive(Debug, Default)]
struct Stdout {
    alerts: Mutex<BTreeMap<String, u64>>,
    /// stdout's reader went away: stop quietly.
    closed: AtomicBool,
}

impl Sink for Stdout {
    async fn publish(&self, a: &Alert, _route: Option<&str>) -> Result<String, DeliveryError> {
        let line = json!({
            "rule_id": a.rule_id, "severity": a.severity, "event_id": a.event_id,
            "count": a.count, "event_ids": a.event_ids, "title": a.title,
            "actor": a.actor, "event_name": a.event_name, "account": a.account,
            "region": a.region, "subject": a.subject(),
            "first_seen": a.first_seen, "last_seen": a.last_seen, "group": a.group,
            "folded": a.folded, "author": a.author,
        });
        if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                self.closed.store(true, Ordering::SeqCst);
            }
            return Err(DeliveryError::new(a, format!("cannot write to stdout: {e}")));
        }
        *self.alerts.lock().unwrap_or_else(|p| p.into_inner()).entry(a.rule_id.clone()).or_default() += 1;
        Ok(String::new())
    }
}

/// What went wrong with the inputs; any of it makes the exit status 2.
#[derive(Debug, Default)]
struct Problems {
    unreadable: u64,
    refused: u64,
    failed: u64,
}

/// What replay remembers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// State in memory: dedup, thresholds, sequences (what is published).
    Dedup,
    /// State in memory, every match sent (thresholds still count).
    NoDedup,
    /// No state, as the functions without a state table.
    None,
}

/// The handler replay runs: stdout, a tally, state in memory on the
/// records' own time (as `mode` says).
fn replay_handler(rules_dir: Option<&Path>, mode: Mode) -> Result<Handler<Stdout, Tally, state::Memory>> {
    let handler = Handler::new(RuleSet::new(rules::load(rules_dir)?), Stdout::default(), Tally::default());
    // State in memory, on the records' own time, as the functions with
    // their store; --no-dedup prints every match (thresholds still count);
    // --no-state runs as the functions without a state table.
    let memory: Option<state::Memory> = match mode {
        Mode::None => None,
        Mode::Dedup | Mode::NoDedup => Some(state::Memory::default()),
    };
    let handler = handler.with_state::<state::Memory>(memory, Clock::Watermark(AtomicI64::new(i64::MIN)));
    Ok(if mode == Mode::NoDedup { handler.without_dedup() } else { handler })
}

/// A progress bar on stderr, when stderr is a terminal: items done, and the
/// records and alerts so far.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(len: usize, unit: &str) -> Progress {
        Progress(std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(len as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit} {{msg}}"))
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        }))
    }

    /// One more item done.
    fn tick(&self, c: &trailwatch_engine::metrics::Counts) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
            bar.set_message(format!("{} records, {} alerts", c.records, c.alerts_published));
        }
    }

    fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

pub fn run(paths: &[PathBuf], via: Via, rules_dir: Option<&Path>, mode: Mode) -> Result<ExitCode> {
    let handler = replay_handler(rules_dir, mode)?;
    let mut problems = Problems::default();
    let files = collect(paths, &mut problems);
    let progress = Progress::new(files.len(), "files");
    let runtime = tokio::runtime::Builder::new_current_thread().build().context("cannot start the async runtime")?;
    for file in &files {
        let name = file.display().to_string();
        let payloads = match read(file, &name, via, &mut problems) {
            Some(p) => p,
            None => continue,
        };
        for payload in payloads {
            match runtime.block_on(handler.handle(payload)) {
                Ok(Response::Batch(b)) if !b.batch_item_failures.is_empty() => {
                    note!("trailwatch: {name}: {} Kinesis records failed", b.batch_item_failures.len());
                    problems.failed += 1;
                }
                Ok(_) => {}
                Err(_) if handler.sink().closed.load(Ordering::SeqCst) => return Ok(ExitCode::SUCCESS),
                Err(e) => {
                    note!("trailwatch: {name}: {e}");
                    problems.failed += 1;
                }
            }
            if handler.sink().closed.load(Ordering::SeqCst) {
                return Ok(ExitCode::SUCCESS);
            }
        }
        progress.tick(&handler.metrics().counts());
    }
    progress.finish();
    summary(&handler.metrics().counts(), &handler.sink().alerts.lock().unwrap_or_else(|p| p.into_inner()), &problems);
    let failed = problems.unreadable + problems.refused + problems.failed;
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// A file's records, as the payloads `via` would deliver; `None` when the
/// file cannot be read at all (reported and counted).
fn read(file: &Path, name: &str, via: Via, problems: &mut Problems) -> Option<Vec<Value>> {
    let decoded = std::fs::read(file)
        .map_err(|e| e.to_string())
        .and_then(|bytes| envelope::file(name, &bytes).map_err(|e| e.to_string()));
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => {
            note!("trailwatch: {name}: {e}");
            problems.unreadable += 1;
            return None;
        }
    };
    for m in &decoded.malformed {
        note!("trailwatch: malformed record at {m}");
    }
    problems.refused += decoded.malformed.len() as u64;
    let events: Vec<Value> = decoded.events.into_iter().map(|e| e.into_value()).collect();
    let details =
        |events: &[Value]| events.iter().map(|e| e.get("detail").cloned().unwrap_or(Value::Null)).collect::<Vec<_>>();
    Some(match via {
        Via::EventBridge => events,
        Via::Logs => events.chunks(BATCH).map(|c| encode::logs_payload(&details(c), "replay")).collect(),
        Via::Kinesis if events.is_empty() => Vec::new(),
        Via::Kinesis => {
            vec![encode::kinesis_event(&events.chunks(BATCH).map(details).collect::<Vec<_>>(), "replay")]
        }
    })
}

fn summary(c: &trailwatch_engine::metrics::Counts, alerts: &BTreeMap<String, u64>, problems: &Problems) {
    let mut by_rule: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for ((rule, _), n) in &c.matches {
        by_rule.entry(rule).or_default().0 += n;
    }
    for (rule, n) in alerts {
        by_rule.entry(rule).or_default().1 += n;
    }
    note!(
        "records: {}  malformed: {}  alerts: {}  unreadable files: {}  suppressed: {}",
        c.records,
        c.malformed + problems.refused,
        c.alerts_published,
        problems.unreadable,
        c.suppressed
    );
    for (rule, (matches, alerts)) in &by_rule {
        note!("  {rule:<48} matches {matches:>5}  alerts {alerts:>5}");
    }
}

/// The data files under the paths, each once, sorted: directories are
/// walked following symbolic links, a link back into a directory being
/// walked is skipped (walkdir detects the loop), and a file reached by two
/// paths is read once. A path that cannot be read is reported and counted.
fn collect(paths: &[PathBuf], problems: &mut Problems) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    for path in paths {
        let is_dir = path.is_dir();
        for entry in walkdir::WalkDir::new(path).follow_links(true).sort_by_file_name() {
            match entry {
                Ok(e) if e.file_type().is_file() && (!is_dir || is_data(e.path())) => {
                    let real = std::fs::canonicalize(e.path()).unwrap_or_else(|_| e.path().to_path_buf());
                    if seen.insert(real) {
                        files.push(e.into_path());
                    }
                }
                Ok(_) => {}
                Err(e) if e.loop_ancestor().is_some() => {
                    note!(
                        "trailwatch: {}: skipped, a link back to a directory already being read",
                        e.path().unwrap_or(path).display()
                    );
                }
                Err(e) => {
                    note!("trailwatch: {}: {e}", e.path().unwrap_or(path).display());
                    problems.unreadable += 1;
                }
            }
        }
    }
    files
}

fn is_data(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    [".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".gz"].iter().any(|ext| name.ends_with(ext))
}

/// `trailwatch replay s3://BUCKET/PREFIX`: the trail's log files listed
/// (narrowed by the filter to key prefixes where the layout allows), read
/// `concurrency` at a time, and matched in key order through the same
/// handler, so the output does not depend on which read finished first.
/// `AWS_ENDPOINT_URL` is honoured (buckets then addressed by path).
pub fn run_s3(
    urls: &[PathBuf],
    filter: &s3files::KeyFilter,
    rules_dir: Option<&Path>,
    mode: Mode,
    concurrency: usize,
) -> Result<ExitCode> {
    let handler = replay_handler(rules_dir, mode)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut problems = Problems::default();
    let code = runtime.block_on(replay_s3(&handler, urls, filter, concurrency.max(1), &mut problems))?;
    if let Some(code) = code {
        return Ok(code);
    }
    summary(&handler.metrics().counts(), &handler.sink().alerts.lock().unwrap_or_else(|p| p.into_inner()), &problems);
    let failed = problems.unreadable + problems.refused + problems.failed;
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// `s3://bucket/prefix` as (bucket, prefix).
fn s3_url(url: &Path) -> Result<(String, String)> {
    let text = url.to_string_lossy();
    let rest = text.strip_prefix("s3://").with_context(|| format!("{text}: give every path as s3://BUCKET/PREFIX"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        anyhow::bail!("{text}: no bucket");
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

async fn replay_s3(
    handler: &Handler<Stdout, Tally, state::Memory>,
    urls: &[PathBuf],
    filter: &s3files::KeyFilter,
    concurrency: usize,
    problems: &mut Problems,
) -> Result<Option<ExitCode>> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = trailwatch_aws::s3::client(&sdk);
    let objects = list_objects(&client, urls, filter).await?;
    let progress = Progress::new(objects.len(), "objects");
    let fetch = |o: &s3files::ObjectRef| {
        let (client, o) = (client.clone(), o.clone());
        tokio::spawn(async move {
            let got = client.get_object().bucket(&o.bucket).key(&o.key).send().await;
            let got = got.map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
            got.body.collect().await.map(|b| b.into_bytes()).map_err(|e| e.to_string())
        })
    };
    let mut pending = objects.iter();
    let mut inflight = std::collections::VecDeque::new();
    loop {
        while inflight.len() < concurrency {
            match pending.next() {
                Some(o) => inflight.push_back((o, fetch(o))),
                None => break,
            }
        }
        let Some((o, task)) = inflight.pop_front() else { break };
        let bytes = match task.await.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(b) => b,
            Err(e) => {
                note!("trailwatch: {o}: {e}");
                problems.unreadable += 1;
                continue;
            }
        };
        let origin = o.to_string();
        let mut d = Detecting::default();
        let mut ws = Workspace::default();
        let read = s3files::read_records(&bytes[..], &origin, s3files::file_kind(&o.key), &mut |item| match item {
            Ok(e) => d.push(handler.rules(), &e, &mut ws),
            Err(m) => d.malformed(&m),
        });
        if let Err(e) = read {
            note!("trailwatch: {origin}: {e}");
            problems.unreadable += 1;
        }
        match handler.respond(d.finish()).await {
            Ok((counts, _, errors)) => {
                handler.emit(counts).await;
                if handler.sink().closed.load(Ordering::SeqCst) {
                    return Ok(Some(ExitCode::SUCCESS));
                }
                if let Some(e) = errors.first() {
                    note!("trailwatch: {origin}: {e}");
                    problems.failed += 1;
                }
            }
            Err(e) => {
                note!("trailwatch: {origin}: {e}");
                problems.failed += 1;
            }
        }
        progress.tick(&handler.metrics().counts());
    }
    progress.finish();
    Ok(None)
}

/// The objects under the URLs the filter keeps (digests never), sorted by
/// bucket and key, each once.
pub(crate) async fn list_objects(
    client: &aws_sdk_s3::Client,
    urls: &[PathBuf],
    filter: &s3files::KeyFilter,
) -> Result<Vec<s3files::ObjectRef>> {
    let mut objects = Vec::new();
    for url in urls {
        let (bucket, prefix) = s3_url(url)?;
        for p in filter.prefixes(&prefix) {
            let mut pages = client.list_objects_v2().bucket(&bucket).prefix(&p).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    anyhow::anyhow!("listing s3://{bucket}/{p}: {}", aws_sdk_s3::error::DisplayErrorContext(e))
                })?;
                objects.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key())
                        .filter(|k| filter.keeps(k))
                        .map(|k| s3files::ObjectRef { bucket: bucket.clone(), key: k.to_string(), etag: None }),
                );
            }
        }
    }
    objects.sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
    objects.dedup();
    Ok(objects)
}
