//! Fixtures shared by the end-to-end tests: the project's real CloudTrail
//! records, and the EventBridge events CloudTrail would deliver for them as
//! the independent benchmark generator (`bench/gen_patterns.py`) writes them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// The project's root directory.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every real record of `data/cloudtrail`, in the generator's order (sorted
/// Invictus files, then sorted Stratus detonation logs).
pub fn records() -> Result<Vec<Value>> {
    let base = root().join("data/cloudtrail");
    let mut out = Vec::new();
    for (dir, key) in [("invictus-aws-dataset/CloudTrail", true), ("stratus-red-team/detonation-logs", false)] {
        let mut files: Vec<_> = std::fs::read_dir(base.join(dir))
            .with_context(|| format!("reading {dir}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&f)?)?;
            let items = match (key, v) {
                (_, Value::Object(mut m)) => m.remove("Records").unwrap_or(Value::Null),
                (_, other) => other,
            };
            match items {
                Value::Array(a) => out.extend(a),
                _ => bail!("{} holds no records", f.display()),
            }
        }
    }
    Ok(out)
}

/// The records as EventBridge events, written by the benchmark generator
/// (Python, independent of this code base).
pub fn eventbridge_events() -> Result<Vec<Value>> {
    let out = std::env::temp_dir().join(format!("trailwatch-events-{}.jsonl", std::process::id()));
    let status = Command::new("python3")
        .arg(root().join("bench/gen_patterns.py"))
        .arg("--data")
        .arg(root().join("data/cloudtrail"))
        .arg("--events")
        .arg(&out)
        .status()
        .context("running python3 bench/gen_patterns.py")?;
    if !status.success() {
        bail!("gen_patterns.py failed: {status}");
    }
    let text = std::fs::read_to_string(&out)?;
    let _ = std::fs::remove_file(&out);
    text.lines().map(|l| serde_json::from_str(l).context("an event line")).collect()
}

/// The standard benchmark patterns (`bench/patterns/pN.json`).
pub fn bench_patterns(n: usize) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(root().join(format!("bench/patterns/p{n}.json")))?;
    Ok(serde_json::from_str(&text)?)
}
