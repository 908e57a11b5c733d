//! Matching throughput on the standard inputs: the 3,210 real records as
//! EventBridge events (JSON text, parsed in the measured pass, as the
//! reference figures of event-ruler and the Python engines are), against
//! 10, 100 and 1,000 generated patterns; the 14 CIS filter patterns over the
//! records; the built-in pack per record, by logs and by EventBridge; and
//! decoding a ~1 MiB gzip'd CloudWatch Logs payload.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use trailwatch_engine::encode;
use trailwatch_engine::envelope;
use trailwatch_engine::event::Event;
use trailwatch_engine::filter::FilterPattern;
use trailwatch_engine::pattern::{EventPattern, PatternSet, Scratch};
use trailwatch_engine::rules::{self, RuleSet, Workspace};

/// Where `make bench-inputs` writes the standard inputs (the shared
/// generator run on the shared records): the target directory,
/// `$CARGO_TARGET_DIR` (the Makefile exports it) or `target/` at the root.
fn inputs() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The events, as JSON lines, from `bench-events.jsonl`.
fn events() -> Vec<String> {
    let path = inputs().join("bench-events.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make bench`", path.display()));
    text.lines().map(str::to_string).collect()
}

fn matching(c: &mut Criterion) {
    let events = events();
    let mut g = c.benchmark_group("event-patterns");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.measurement_time(Duration::from_secs(8));
    for n in [10, 100, 1000] {
        let path = inputs().join(format!("bench-patterns/p{n}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run `make bench`", path.display()));
        let patterns: Vec<Value> = serde_json::from_str(&text).expect("json");
        let compiled: Vec<EventPattern> =
            patterns.iter().map(|p| EventPattern::from_value(p).expect("valid")).collect();
        let set = PatternSet::new(&compiled);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        g.bench_function(format!("stream/{n}"), |b| {
            b.iter(|| {
                let mut total = 0;
                for e in &events {
                    set.matches_json(e, &mut scratch, &mut out).expect("event");
                    total += out.len();
                }
                total
            })
        });
        g.bench_function(format!("parse+match/{n}"), |b| {
            b.iter(|| {
                let mut total = 0;
                for e in &events {
                    let v: Value = serde_json::from_str(e).expect("event");
                    set.matches_into(&v, &mut scratch, &mut out);
                    total += out.len();
                }
                total
            })
        });
    }
    g.finish();

    let cis: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/filter/cis-cloudwatch.json"))
            .expect("cis"),
    )
    .expect("json");
    let filters: Vec<FilterPattern> =
        cis.iter().map(|c| FilterPattern::parse(c["pattern"].as_str().expect("pattern")).expect("valid")).collect();
    let messages: Vec<String> =
        events.iter().map(|e| serde_json::from_str::<Value>(e).expect("event")["detail"].to_string()).collect();
    let mut g = c.benchmark_group("filter-patterns");
    g.throughput(Throughput::Elements(messages.len() as u64));
    g.bench_function("cis-14/parse+match", |b| {
        b.iter(|| {
            let mut hits = 0;
            for m in &messages {
                let v: Value = serde_json::from_str(m).expect("record");
                hits += filters.iter().filter(|f| f.matches_value(m, &v)).count();
            }
            hits
        })
    });
    g.finish();

    // The built-in pack (event and filter patterns) over each record, as a
    // log message (its text kept for the filter patterns) and as an
    // EventBridge event (the text written out again for them).
    let rules = RuleSet::new(rules::load(None).expect("the built-in pack"));
    let from_logs: Vec<Event> = messages.iter().map(|m| Event::from_text(m.clone()).expect("record")).collect();
    let from_eventbridge: Vec<Event> = events
        .iter()
        .map(|e| Event::from_eventbridge(serde_json::from_str(e).expect("event")).expect("record"))
        .collect();
    let mut ws = Workspace::default();
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(messages.len() as u64));
    for (name, events) in [("builtin/log-text", &from_logs), ("builtin/eventbridge", &from_eventbridge)] {
        g.bench_function(name, |b| b.iter(|| events.iter().map(|e| rules.evaluate(e, &mut ws).len()).sum::<usize>()));
    }
    // The built-in pack with SigmaHQ's CloudTrail rules (../shared/sigma)
    // compiled into the same set.
    let shared = std::env::var_os("TRAILWATCH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let sigma = shared.join("sigma/rules");
    if sigma.is_dir() {
        let with_sigma = RuleSet::new(rules::load(Some(&sigma)).expect("the SigmaHQ rules load"));
        g.bench_function("builtin+sigmahq/eventbridge", |b| {
            b.iter(|| from_eventbridge.iter().map(|e| with_sigma.evaluate(e, &mut ws).len()).sum::<usize>())
        });
    } else {
        eprintln!("rules/builtin+sigmahq skipped: {} not found", sigma.display());
    }
    g.finish();

    // ~1 MiB of gzip'd subscription payload.
    let records: Vec<Value> = messages.iter().map(|m| serde_json::from_str(m).expect("record")).collect();
    let mut batch = Vec::new();
    while encode::logs_data(&batch, "g").len() < 1 << 20 {
        batch.extend(records.iter().take(400).cloned());
    }
    let gz = encode::logs_data(&batch, "g");
    let inflated = envelope::inflate(&gz).expect("inflates").len();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(inflated as u64));
    g.bench_function(format!("logs-payload/{}KiB-gz", gz.len() / 1024), |b| {
        b.iter(|| envelope::logs_gzip(&gz).expect("decodes").events.len())
    });
    g.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
