//! The committed template is the one the built-in rules generate, and a
//! user's rules directory reaches it. These call the library, as
//! `trailwatch infra generate` does (the command itself is tested in
//! cli/tests/infra.rs).

use std::path::{Path, PathBuf};

use trailwatch_engine::rules;
use trailwatch_infra::{generate, Flavor, Template};

/// The repository root (this crate is `infra/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template(dir: Option<&Path>, flavor: Flavor) -> Template {
    let rules = rules::load(dir).unwrap_or_else(|e| panic!("rules do not load: {e}"));
    generate(&rules, flavor).unwrap_or_else(|e| panic!("no template: {e}"))
}

#[test]
fn committed_template_is_up_to_date() {
    let path = root().join("infra/template.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let fresh = template(None, Flavor::Sam).to_yaml();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| committed.lines().count().min(fresh.lines().count()) + 1, |i| i + 1);
        panic!(
            "infra/template.yaml is stale (first difference at line {line}): the rules or the generator changed.\n\
             Regenerate it with\n    trailwatch infra generate --output infra/template.yaml\n\
             (or: cargo run -p trailwatch-cli -- infra generate --output infra/template.yaml)"
        );
    }
}

#[test]
fn a_users_rules_directory_is_deployed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data-rules");
    let yaml = template(Some(&dir), Flavor::Sam).to_yaml();
    assert!(yaml.contains("MetricFilterTestExtraMetric:"), "no metric filter for the user's metric rule");
    assert!(yaml.contains("AlarmTestExtraMetric:"), "no alarm for the user's metric rule");
    assert!(yaml.contains("Transform: AWS::Serverless-2016-10-31"));
}

#[test]
fn the_plain_flavour_has_no_sam() {
    let yaml = template(None, Flavor::Plain).to_yaml();
    assert!(!yaml.contains("AWS::Serverless"), "plain template still uses SAM");
    assert!(yaml.contains("Type: AWS::Lambda::Function"));
    assert!(yaml.contains("CodeBucket:"));
}
