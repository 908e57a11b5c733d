//! `trailwatch infra generate`: the command writes the committed template,
//! takes a user's rules directory, the plain flavour and an output file,
//! and explains a rule set it cannot deploy. (The generator itself is
//! tested in infra/.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (this crate is `cli/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwatch"))
        .args(["infra", "generate"])
        .args(args)
        .output()
        .expect("run trailwatch")
}

fn generate(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "trailwatch infra generate failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 template")
}

#[test]
fn the_committed_template_is_what_the_command_writes() {
    let committed = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap_or_default();
    assert!(
        generate(&[]) == committed,
        "infra/template.yaml is stale: regenerate it with\n    \
         cargo run -p trailwatch-cli -- infra generate --output infra/template.yaml"
    );
}

#[test]
fn a_users_rules_directory_is_deployed() {
    let dir = root().join("infra/tests/data-rules");
    let template = generate(&["--rules", dir.to_str().expect("UTF-8 path")]);
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

#[test]
fn an_output_file_gets_the_template_and_the_terminal_a_summary() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("infra-output-template.yaml");
    let out = run(&["--output", path.to_str().expect("UTF-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "the template went to stdout too");
    let written = std::fs::read_to_string(&path).expect("the output file");
    assert_eq!(written, generate(&[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("note: metric rules whose filter pattern is their CIS control's"), "{stderr}");
    assert!(stderr.contains("resources, ") && stderr.contains(" EventBridge rules)"), "{stderr}");
}

#[test]
fn two_patterns_for_one_cis_control_are_refused_with_both_rules_named() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("infra-conflicting-control");
    std::fs::create_dir_all(&dir).expect("a rules directory");
    std::fs::write(
        dir.join("my-trail-changes.yaml"),
        "id: my-trail-changes\ntitle: Trail changes\ndescription: d\nseverity: low\naction: metric\n\
         tags: [CloudWatch.5]\nfilter_pattern: '{ $.eventName = StopLogging }'\n",
    )
    .expect("a rule file");
    let out = run(&["--rules", dir.to_str().expect("UTF-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cis-cloudwatch-5") && stderr.contains("my-trail-changes") && stderr.contains("CloudWatch.5"),
        "{stderr}"
    );
}
