//! `trailwatch infra generate`: the committed template is the one the
//! built-in rules generate, and a user's rules directory reaches it.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn generate(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["infra", "generate"])
        .args(args)
        .output()
        .expect("run trailwatch");
    assert!(out.status.success(), "trailwatch infra generate failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 template")
}

#[test]
fn committed_template_is_up_to_date() {
    let path = root().join("infra/template.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let fresh = generate(&[]);
    if committed != fresh {
        let line = committed.lines().zip(fresh.lines()).position(|(a, b)| a != b).map_or_else(
            || committed.lines().count().min(fresh.lines().count()) + 1,
            |i| i + 1,
        );
        panic!(
            "infra/template.yaml is stale (first difference at line {line}): the rules or the generator changed.\n\
             Regenerate it with\n    trailwatch infra generate --output infra/template.yaml\n\
             (or: cargo run -p trailwatch-cli -- infra generate --output infra/template.yaml)"
        );
    }
}

#[test]
fn a_users_rules_directory_is_deployed() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/infra-rules");
    let dir = dir.to_str().expect("UTF-8 path");
    let template = generate(&["--rules", dir]);
    assert!(template.contains("MetricFilterTestExtraMetric:"), "no metric filter for the user's metric rule");
    assert!(template.contains("AlarmTestExtraMetric:"), "no alarm for the user's metric rule");
    assert!(template.contains("Transform: AWS::Serverless-2016-10-31"));
}

#[test]
fn the_plain_flavour_has_no_sam() {
    let template = generate(&["--plain"]);
    assert!(!template.contains("AWS::Serverless"), "plain template still uses SAM");
    assert!(template.contains("Type: AWS::Lambda::Function"));
    assert!(template.contains("CodeBucket:"));
}
