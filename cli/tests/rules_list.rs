//! `trailwatch rules list`: the table, `--json` for other tools, `--tag`.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use trailwatch_engine::filter::FilterPattern;
use trailwatch_engine::pattern::EventPattern;
use trailwatch_engine::rules;

fn list(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["rules", "list", "--json"])
        .args(args)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn json_lists_every_builtin_rule_with_a_pattern_that_parses_again() {
    let builtin = rules::load(None).expect("the built-in rules load");
    let listed = list(&[]);
    let ids: Vec<&str> = listed.iter().filter_map(|r| r["id"].as_str()).collect();
    let expected: Vec<&str> = builtin.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, expected);
    for (line, rule) in listed.iter().zip(&builtin) {
        let pattern = line["pattern"].as_str().expect("a pattern text");
        let same = match (line["matcher"].as_str(), &rule.pattern) {
            (Some("event_pattern"), rules::Pattern::Event(p)) => {
                EventPattern::parse(pattern).expect("parses").text() == p.text()
            }
            (Some("filter_pattern"), rules::Pattern::Filter(p)) => {
                FilterPattern::parse(pattern).expect("parses").text() == p.text()
            }
            (Some("sequence"), rules::Pattern::Sequence(q)) => pattern == q.steps.join(" "),
            _ => false,
        };
        assert!(same, "{}: the listed pattern is not the rule's", rule.id);
        assert_eq!(line["tests"].as_u64(), Some(rule.tests.len() as u64));
        assert_eq!(line["severity"].as_str(), Some(rule.severity.as_str()));
    }
}

#[test]
fn tag_keeps_the_rules_carrying_any_given_tag() {
    let builtin = rules::load(None).expect("the built-in rules load");
    let want = |tags: &[&str]| -> BTreeSet<String> {
        builtin.iter().filter(|r| r.tags.iter().any(|t| tags.contains(&t.as_str()))).map(|r| r.id.clone()).collect()
    };
    let got = |args: &[&str]| -> BTreeSet<String> {
        list(args).iter().filter_map(|r| r["id"].as_str().map(String::from)).collect()
    };
    let cis4 = got(&["--tag", "CloudWatch.4"]);
    assert_eq!(cis4, want(&["CloudWatch.4"]));
    assert_eq!(cis4.len(), 1);
    let trail = got(&["--tag", "attack.t1562.008"]);
    assert_eq!(trail, want(&["attack.t1562.008"]));
    assert!(trail.len() > 1, "several rules watch CloudTrail being impaired");
    let either = got(&["--tag", "CloudWatch.4", "--tag", "attack.t1562.008"]);
    assert_eq!(either, cis4.union(&trail).cloned().collect());
    assert!(got(&["--tag", "no-such-tag"]).is_empty());
}

/// SigmaHQ's CloudTrail rules (read from ../shared/sigma): every rule file
/// of `rules/` is listed by its Sigma id, with its author; `replay --rules`
/// alerts with them on the shared records. Skipped, and said, without
/// ../shared.
#[test]
fn sigma_rules_are_listed_by_their_ids_and_replay_alerts_with_them() {
    let shared = std::env::var_os("TRAILWATCH_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let sigma = shared.join("sigma/rules");
    if !sigma.is_dir() {
        eprintln!("skipped: {} not found (CI has ../shared beside the clone)", sigma.display());
        return;
    }
    let mut ids = BTreeSet::new();
    for path in rules::rule_files(&sigma).expect("files") {
        let text = std::fs::read_to_string(&path).expect("read");
        let id = text.lines().find_map(|l| l.strip_prefix("id: ")).expect("every SigmaHQ rule has an id");
        ids.insert(id.trim().to_string());
    }
    assert_eq!(ids.len(), 57);
    let dir = sigma.display().to_string();
    let listed = list(&[&dir]);
    let sigma_lines: Vec<&Value> = listed.iter().filter(|l| ids.contains(l["id"].as_str().unwrap_or(""))).collect();
    assert_eq!(sigma_lines.len(), 57, "every Sigma rule listed by its id");
    assert!(sigma_lines.iter().all(|l| l["matcher"] == "sigma" && l["author"].is_string()));

    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["replay", "--rules", &dir])
        .arg(shared.join("data/cloudtrail/stratus-red-team"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let from_sigma: Vec<&Value> = alerts.iter().filter(|a| ids.contains(a["rule_id"].as_str().unwrap_or(""))).collect();
    assert!(from_sigma.len() >= 10, "{} Sigma alerts", from_sigma.len());
    assert!(from_sigma.iter().all(|a| a["author"].is_string()), "each keeps its rule's author");
}
