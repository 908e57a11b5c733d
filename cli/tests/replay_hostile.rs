//! `trailwatch replay` on broken files (issue 8): files that are not UTF-8,
//! cut gzip, cut JSON and a gzip bomb are reported on stderr, the good
//! records in the same run are still processed, and the exit status is 0.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scratch directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("trailwatch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn replay(args: &[&Path], via: &str) -> (std::process::ExitStatus, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["replay", "--via", via])
        .args(args)
        .output()
        .expect("run trailwatch");
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `records: N  malformed: M  alerts: A` from the summary line.
fn summary(stderr: &str) -> (u64, u64, u64) {
    let line = stderr.lines().find(|l| l.starts_with("records: ")).unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    let n: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(n.len(), 3, "{line}");
    (n[0], n[1], n[2])
}

#[test]
fn broken_files_are_reported_and_the_good_records_still_processed() {
    let dir = Scratch::new("replay-hostile");
    let good_src = root().join("data/cloudtrail/stratus-red-team/detonation-logs/aws.defense-evasion.cloudtrail-stop.json");
    let good_bytes = std::fs::read(&good_src).expect("a real records file");
    let good_records = match serde_json::from_slice::<Value>(&good_bytes).expect("JSON") {
        Value::Array(a) => a.len() as u64,
        Value::Object(m) => m["Records"].as_array().expect("Records").len() as u64,
        _ => panic!("records"),
    };
    assert!(good_records > 0);

    let good = dir.write("good.json", &good_bytes);
    let good_gz = dir.write("good.json.gz", &trailwatch_engine::encode::gzip(&good_bytes));
    let mut not_utf8 = good_bytes.clone();
    not_utf8[50] = 0xff;
    let not_utf8 = dir.write("not-utf8.json", &not_utf8);
    let gz = trailwatch_engine::encode::gzip(&good_bytes);
    let cut_gz = dir.write("cut.json.gz", &gz[..gz.len() / 2]);
    let cut_json = dir.write("cut.json", &good_bytes[..good_bytes.len() / 2]);
    let binary = dir.write("random.json", &(0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>());
    let empty = dir.write("empty.json", b"");
    // A gzip bomb: 64 MiB + 1 of spaces, past the inflation bound.
    let bomb = dir.write("bomb.json.gz", &trailwatch_engine::encode::gzip(&vec![b' '; (64 << 20) + 1]));

    for via in ["eventbridge", "logs", "kinesis"] {
        let (status, _stdout, stderr) =
            replay(&[&good, &not_utf8, &cut_gz, &cut_json, &binary, &empty, &bomb, &good_gz], via);
        assert!(status.success(), "--via {via}: exit {status}\n{stderr}");
        assert!(!stderr.contains("panicked"), "--via {via}: {stderr}");
        for (name, why) in [
            ("not-utf8.json", "not UTF-8"),
            ("cut.json.gz", "not gzip"),
            ("random.json", "not UTF-8"),
            ("bomb.json.gz", "decompression bomb"),
        ] {
            assert!(
                stderr.lines().any(|l| l.contains(name) && l.contains(why)),
                "--via {via}: {name} not reported as {why}:\n{stderr}"
            );
        }
        assert!(
            stderr.lines().any(|l| l.contains("malformed record at") && l.contains("cut.json:")),
            "--via {via}: the cut JSON's lines are not reported:\n{stderr}"
        );
        let (records, malformed, _alerts) = summary(&stderr);
        // Both good files, plain and gzip'd, in full.
        assert_eq!(records, 2 * good_records, "--via {via}:\n{stderr}");
        assert!(malformed >= 5, "--via {via}:\n{stderr}");
    }
}
