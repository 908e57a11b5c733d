//! `trailwatch replay`: files of records through the functions' code path.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use trailwatch::detector::{decode, detect};
use trailwatch::encode;
use trailwatch::envelope;
use trailwatch::rules::{self, RuleSet, Workspace};

use crate::Via;

/// Records per logs payload / Kinesis record: CloudWatch Logs batches
/// subscription deliveries; a few hundred records is typical.
const BATCH: usize = 500;

pub fn run(paths: &[PathBuf], via: Via, rules_dir: Option<&Path>) -> Result<ExitCode> {
    let rules = RuleSet::new(rules::load(rules_dir)?);
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files).with_context(|| format!("cannot read {}", p.display()))?;
    }
    files.sort();
    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
        bar
    });
    let mut ws = Workspace::default();
    let mut stdout = std::io::stdout().lock();
    let (mut records, mut malformed, mut alerts) = (0u64, 0u64, 0u64);
    let mut by_rule: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for file in &files {
        let name = file.display().to_string();
        let bytes = std::fs::read(file).with_context(|| format!("cannot read {name}"))?;
        let decoded = match envelope::file(&name, &bytes) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("trailwatch: {name}: {e}");
                malformed += 1;
                continue;
            }
        };
        for m in &decoded.malformed {
            eprintln!("trailwatch: malformed record at {m}");
        }
        malformed += decoded.malformed.len() as u64;
        let values: Vec<Value> = decoded.events.into_iter().map(|e| e.into_value()).collect();
        // Re-deliver the records the way the chosen path would.
        let payloads: Vec<Value> = match via {
            Via::Eventbridge => values,
            Via::Logs => values
                .chunks(BATCH)
                .map(|c| encode::logs_payload(&details(c), "replay"))
                .collect(),
            Via::Kinesis => vec![encode::kinesis_event(
                &values.chunks(BATCH).map(details).collect::<Vec<_>>(),
                "replay",
            )],
        };
        for payload in payloads {
            let (_, batches) = decode(payload).with_context(|| format!("{name}: cannot decode"))?;
            for batch in batches {
                let d = batch.decoded.with_context(|| format!("{name}: cannot decode"))?;
                malformed += d.malformed.len() as u64;
                let det = detect(&rules, &d.events, &mut ws);
                records += det.counts.records;
                for ((rule, _), n) in &det.counts.matches {
                    by_rule.entry(rule.clone()).or_default().0 += n;
                }
                for a in &det.alerts {
                    alerts += 1;
                    by_rule.entry(a.rule_id.clone()).or_default().1 += 1;
                    let line = json!({
                        "rule_id": a.rule_id, "severity": a.severity, "event_id": a.event_id,
                        "count": a.count, "event_ids": a.event_ids, "title": a.title,
                        "actor": a.actor, "event_name": a.event_name, "account": a.account,
                        "region": a.region, "subject": a.subject(),
                    });
                    writeln!(stdout, "{line}")?;
                }
            }
        }
        if let Some(bar) = &progress {
            bar.inc(1);
            bar.set_message(format!("{records} records, {alerts} alerts"));
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    eprintln!("records: {records}  malformed: {malformed}  alerts: {alerts}");
    for (rule, (matches, alerts)) in &by_rule {
        eprintln!("  {rule:<48} matches {matches:>5}  alerts {alerts:>5}");
    }
    Ok(ExitCode::SUCCESS)
}

fn details(events: &[Value]) -> Vec<Value> {
    events.iter().map(|e| e.get("detail").cloned().unwrap_or(Value::Null)).collect()
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            let p = entry?.path();
            if p.is_dir() {
                collect(&p, out)?;
            } else if is_data(&p) {
                out.push(p);
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn is_data(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    [".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".gz"].iter().any(|ext| name.ends_with(ext))
}
