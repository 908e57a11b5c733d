//! The shared dataset the engine's tests read: the 3,210 real CloudTrail
//! records of `../shared/data/cloudtrail` beside the clone (or under
//! `$TRAILWATCH_SHARED`), read in place, never copied into the project.
//! Each test binary that includes it uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where the dataset is, if it is there: `data/cloudtrail` under
/// `$TRAILWATCH_SHARED`, or under `../shared` beside the clone.
pub fn find() -> Option<PathBuf> {
    let shared = std::env::var_os("TRAILWATCH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = shared.join("data/cloudtrail");
    dir.is_dir().then_some(dir)
}

/// The dataset's directory; a test reading it fails, saying where it
/// looked, when it is absent.
pub fn dir() -> PathBuf {
    find().unwrap_or_else(|| {
        panic!(
            "the shared dataset is not at ../shared/data/cloudtrail beside the clone (or under $TRAILWATCH_SHARED): these tests read the real CloudTrail records from there (CI has it); put it there or set TRAILWATCH_SHARED"
        )
    })
}

/// The 3,210 real records, in file order.
pub fn real_records() -> Vec<Value> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the shared dataset") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&dir(), &mut files);
    files.sort();
    let mut records = Vec::new();
    for f in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).expect("read")).expect("JSON");
        match v {
            Value::Object(mut m) => match m.remove("Records") {
                Some(Value::Array(items)) => records.extend(items),
                _ => panic!("{}: no Records", f.display()),
            },
            Value::Array(items) => records.extend(items),
            _ => panic!("{}: not records", f.display()),
        }
    }
    assert_eq!(records.len(), 3210, "the real records");
    records
}
