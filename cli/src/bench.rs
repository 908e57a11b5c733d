//! `trailwatch bench-patterns`: matching throughput of a compiled pattern
//! set over JSON-lines events, measured the way the reference figures of
//! event-ruler and the Python engines are (whole passes over all events,
//! parsing each event's JSON inside the pass). `scripts/bench_compare.py`
//! runs it beside moto's and LocalStack's engines.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde_json::{json, Value};
use trailwatch_engine::pattern::{EventPattern, PatternSet, Scratch};

/// How each event is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// `PatternSet::matches_json`: stream the JSON text, reading only the
    /// fields some pattern names.
    Stream,
    /// `serde_json::from_str::<Value>` then `PatternSet::matches_into`.
    Dom,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Stream => "stream",
            Mode::Dom => "dom",
        }
    }
}

pub fn run(patterns_path: &Path, events_path: &Path, passes: u32, mode: Mode) -> Result<ExitCode> {
    if passes == 0 {
        bail!("--passes must be at least 1");
    }
    let text =
        std::fs::read_to_string(patterns_path).with_context(|| format!("cannot read {}", patterns_path.display()))?;
    let values: Vec<Value> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON array of event patterns", patterns_path.display()))?;
    let compiled = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            EventPattern::from_value(v)
                .with_context(|| format!("{}: pattern {i} is not valid", patterns_path.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let set = PatternSet::new(&compiled);

    let text =
        std::fs::read_to_string(events_path).with_context(|| format!("cannot read {}", events_path.display()))?;
    let events: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if events.is_empty() {
        bail!("{}: no events", events_path.display());
    }

    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut best = f64::INFINITY;
    let mut matches = None;
    for _ in 0..passes {
        let start = Instant::now();
        let mut total = 0usize;
        for (i, e) in events.iter().enumerate() {
            match mode {
                Mode::Stream => set
                    .matches_json(e, &mut scratch, &mut out)
                    .with_context(|| format!("{}: event on line {} is not valid JSON", events_path.display(), i + 1))?,
                Mode::Dom => {
                    let v: Value = serde_json::from_str(e).with_context(|| {
                        format!("{}: event on line {} is not valid JSON", events_path.display(), i + 1)
                    })?;
                    set.matches_into(&v, &mut scratch, &mut out);
                }
            }
            total += out.len();
        }
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        // Every pass must see the same matches; keep the count of the first.
        match matches {
            None => matches = Some(total),
            Some(m) if m != total => bail!("passes disagree: {m} then {total} matches"),
            Some(_) => {}
        }
    }
    let events_per_sec = events.len() as f64 / best.max(f64::MIN_POSITIVE);
    writeln!(
        std::io::stdout().lock(),
        "{}",
        json!({
            "engine": "trailwatch",
            "mode": mode.as_str(),
            "patterns": set.len(),
            "events": events.len(),
            "matches": matches.unwrap_or(0),
            "events_per_sec": events_per_sec.round(),
            "passes": passes,
        })
    )?;
    Ok(ExitCode::SUCCESS)
}
