//! The built-in pack's own tests, in `cargo test` (not only through
//! `trailwatch rules test`): every rule's cases pass, each rule has a case
//! it must match and one it must not written by the project, and the cases
//! naming records of the shared dataset run against `../shared` beside the
//! clone. Without it they are reported as skipped, loudly, never passed.

mod dataset;

use trailwatch_engine::rules;

#[test]
fn every_builtin_rule_passes_its_tests() {
    let all = rules::load(None).expect("the built-in pack loads");
    assert!(all.len() >= 50, "{} rules", all.len());
    let dataset = dataset::find();
    let (mut passed, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for rule in &all {
        let report = rules::run_tests(rule, None, dataset.as_deref());
        passed += report.passed;
        skipped += report.skipped;
        failures.extend(report.failures.iter().map(|f| format!("{}: {f}", rule.id)));
    }
    assert!(failures.is_empty(), "{} failed cases:\n{}", failures.len(), failures.join("\n"));
    match &dataset {
        Some(dir) => assert_eq!(skipped, 0, "with the dataset at {} nothing is skipped", dir.display()),
        None => eprintln!(
            "SKIPPED {skipped} cases naming records of the shared dataset: ../shared/data/cloudtrail is not beside the clone (set TRAILWATCH_SHARED)"
        ),
    }
    eprintln!("{} rules, {passed} cases passed, {skipped} skipped", all.len());
}
