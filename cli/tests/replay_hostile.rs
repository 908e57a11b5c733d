//! `trailwatch replay` on broken files, links and closed pipes: files that
//! are not UTF-8, cut gzip, cut JSON and a gzip bomb are reported on
//! stderr, the good records in the same run are still processed and
//! printed, and the exit status is 2 (an error, as grep and ripgrep say
//! it); a directory linking to its parent is read once; a closed stdout
//! ends the run quietly.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// A CloudTrail record written after AWS's documented record shape.
fn record(n: usize, event_name: &str, event_source: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL2", "arn": "arn:aws:iam::111122223333:user/bob",
                         "accountId": "111122223333", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "bob"},
        "eventTime": format!("2026-11-30T10:{:02}:00Z", n % 60), "eventSource": event_source, "eventName": event_name,
        "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.23", "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": format!("trail-{n}")}, "responseElements": null,
        "requestID": format!("5b1c7a8e-0000-4000-8000-{n:012}"), "eventID": format!("9d0e4c1a-0000-4000-8000-{n:012}"),
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
}

/// An S3 delivery file (`{"Records": [...]}`) of `n` records, one in three a
/// StopLogging call (an alert), the rest DescribeTrails (none).
fn records_file(n: usize) -> Vec<u8> {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            let name = if i % 3 == 0 { "StopLogging" } else { "DescribeTrails" };
            record(i, name, "cloudtrail.amazonaws.com")
        })
        .collect();
    json!({"Records": records}).to_string().into_bytes()
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

/// `records: N  malformed: M  alerts: A  unreadable files: U` from the
/// summary line.
fn summary(stderr: &str) -> (u64, u64, u64, u64) {
    let line = stderr.lines().find(|l| l.starts_with("records: ")).unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    let n: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(n.len(), 5, "{line}");
    (n[0], n[1], n[2], n[3])
}

#[test]
fn broken_files_are_reported_and_the_good_records_still_processed() {
    let dir = Scratch::new("replay-hostile");
    let good_records = 30;
    let good_bytes = records_file(good_records as usize);

    let good = dir.write("good.json", &good_bytes);
    let good_gz = dir.write("good.json.gz", &trailwatch_engine::encode::gzip(&good_bytes));
    let mut not_utf8 = good_bytes.clone();
    not_utf8[50] = 0xff;
    let not_utf8 = dir.write("not-utf8.json", &not_utf8);
    let gz = trailwatch_engine::encode::gzip(&good_bytes);
    let cut_gz = dir.write("cut.json.gz", &gz[..gz.len() / 2]);
    let cut_json = dir.write("cut.json", &good_bytes[..good_bytes.len() / 2]);
    let binary =
        dir.write("random.json", &(0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>());
    let empty = dir.write("empty.json", b"");
    // A gzip bomb: 64 MiB + 1 of spaces, past the inflation bound.
    let bomb = dir.write("bomb.json.gz", &trailwatch_engine::encode::gzip(&vec![b' '; (64 << 20) + 1]));

    for via in ["eventbridge", "logs", "kinesis"] {
        let (status, stdout, stderr) =
            replay(&[&good, &not_utf8, &cut_gz, &cut_json, &binary, &empty, &bomb, &good_gz], via);
        // Defect: the exit status was 0 after unreadable inputs.
        assert_eq!(status.code(), Some(2), "--via {via}: exit {status}\n{stderr}");
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
        let (records, malformed, alerts, unreadable) = summary(&stderr);
        // Both good files, plain and gzip'd, in full, and their alerts printed.
        assert_eq!(records, 2 * good_records, "--via {via}:\n{stderr}");
        assert!(malformed >= 1, "--via {via}:\n{stderr}");
        assert_eq!(unreadable, 4, "--via {via}:\n{stderr}");
        assert!(alerts >= 1 && stdout.lines().count() as u64 == alerts, "--via {via}:\n{stdout}");
    }
}

#[test]
fn readable_inputs_exit_0() {
    let dir = Scratch::new("replay-good");
    let good = dir.write("good.json", &records_file(9));
    for via in ["eventbridge", "logs", "kinesis"] {
        let (status, stdout, stderr) = replay(&[&good], via);
        assert!(status.success(), "--via {via}: {stderr}");
        let (records, malformed, alerts, unreadable) = summary(&stderr);
        assert_eq!((records, malformed, unreadable), (9, 0, 0), "--via {via}: {stderr}");
        assert_eq!(stdout.lines().count() as u64, alerts);
    }
}

/// Defect: directory walks followed a link to the parent round and round:
/// a directory with one file and a link to its parent was read 40 times.
#[cfg(unix)]
#[test]
fn a_link_to_the_parent_directory_is_read_once() {
    let dir = Scratch::new("replay-loop");
    let sub = dir.0.join("logs");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(sub.join("a.json"), records_file(2)).expect("write");
    std::os::unix::fs::symlink(&dir.0, sub.join("parent")).expect("symlink");
    std::os::unix::fs::symlink(&sub, dir.0.join("same-logs")).expect("symlink");
    let (status, _stdout, stderr) = replay(&[&dir.0], "eventbridge");
    assert!(status.success(), "a loop is skipped, not an error: {stderr}");
    assert_eq!(summary(&stderr).0, 2, "{stderr}");
}

/// Run the binary, read one line of its stdout, close the pipe, and return
/// its exit status and stderr.
fn first_line_then_close(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run trailwatch");
    let mut first = String::new();
    {
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut first).expect("one line");
    }
    let out = child.wait_with_output().expect("wait");
    (out.status, first, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Defect: `trailwatch rules list --json | head -n 1` panicked on the
/// closed pipe. Now it ends quietly, as `replay` does.
/// Both outputs are made larger than a pipe's buffer (64 KiB on Linux), so
/// the program is still writing when the reader goes away.
#[test]
fn a_closed_stdout_ends_quietly() {
    let rules = Scratch::new("rules-pipe");
    for i in 0..1000 {
        let rule = format!(
            "id: generated-{i}\ntitle: Generated rule {i}\ndescription: one of many\nseverity: low\nevent_pattern: {{detail: {{eventName: [Call{i}]}}}}\naction: alert\n"
        );
        rules.write(&format!("r{i}.yaml"), rule.as_bytes());
    }
    let dir = rules.0.to_string_lossy().into_owned();
    let (status, first, stderr) = first_line_then_close(&["rules", "list", "--json", &dir]);
    assert!(first.starts_with('{'), "{first}");
    assert!(status.success() && !stderr.contains("panicked"), "{status}: {stderr}");
    let dir = Scratch::new("replay-pipe");
    let many = dir.write("many.json", &records_file(30_000));
    let path = many.to_string_lossy().into_owned();
    let (status, first, stderr) = first_line_then_close(&["replay", &path]);
    assert!(first.contains("cloudtrail-logging-stopped"), "{first}");
    assert!(status.success() && !stderr.contains("panicked"), "{status}: {stderr}");
}
