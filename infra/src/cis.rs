//! Security Hub's CloudWatch controls (the CIS AWS Foundations Benchmark's
//! metric filters and alarms), as the rules define them.
//!
//! A rule tagged `CloudWatch.N` with a `filter_pattern` is control
//! CloudWatch.N: its pattern is the control's metric filter (Security Hub
//! passes the control only if that is AWS's exact pattern, which is why the
//! built-in `cis-cloudwatch-N` rules must not be edited), its title names
//! the metric and the alarm, and its newest `cis-aws-<version>/<number>` tag
//! is the CIS recommendation the alarm cites. Other rules may carry the same
//! tag: a `filter_pattern` rule only with the same pattern (it is then served
//! by the control's metric filter), an `event_pattern` rule freely (it is
//! listed with the control, and alarms on its own metric if it has one).

use std::collections::{BTreeMap, HashSet};
use std::ops::RangeInclusive;

use trailwatch_engine::rules::{Pattern, Rule};

use crate::InfraError;

/// The namespace Security Hub's CloudWatch controls expect.
pub const CIS_NAMESPACE: &str = "LogMetrics";

/// The Security Hub CloudWatch controls that are a metric filter and an
/// alarm (CloudWatch.15–17 are about alarm actions and log retention).
pub const METRIC_FILTER_CONTROLS: RangeInclusive<u32> = 1..=14;

/// The tag naming a Security Hub CloudWatch control: `CloudWatch.<N>`.
const CONTROL_TAG: &str = "CloudWatch.";
/// The tag naming a CIS recommendation: `cis-aws-<version>/<number>`.
const CIS_TAG: &str = "cis-aws-";
/// Longest metric name derived from a title (CloudWatch allows 255
/// characters in an alarm name, which also holds the stack name).
const MAX_METRIC_NAME: usize = 100;

/// One control, from the rule that defines it.
#[derive(Debug)]
pub struct CisControl<'a> {
    /// N in `CloudWatch.N`.
    pub number: u32,
    /// The CIS recommendation (`4.4`), from the newest benchmark version
    /// the defining rule is tagged with, if it is tagged with one.
    pub recommendation: Option<&'a str>,
    /// The defining rule's title.
    pub title: &'a str,
    /// The metric's name: the title in CamelCase (`IAMPolicyChanges`).
    pub metric: String,
    /// The metric filter's pattern: the defining rule's `filter_pattern`.
    pub pattern: &'a str,
    /// The rule the control comes from (the first `filter_pattern` rule
    /// tagged with it).
    pub defined_by: &'a str,
    /// Every rule tagged with the control, in rule order.
    pub rules: Vec<&'a str>,
}

/// The controls a rule set defines, and what the generator should tell the
/// user about tags it could not use.
#[derive(Debug, Default)]
pub struct CisControls<'a> {
    /// In control order.
    pub controls: Vec<CisControl<'a>>,
    /// `filter_pattern` rules whose pattern is their control's: the
    /// control's metric filter counts what they match.
    pub served: HashSet<&'a str>,
    pub notes: Vec<String>,
}

/// The controls of a rule set, from the rules' tags and fields.
pub fn cis_controls(rules: &[Rule]) -> Result<CisControls<'_>, InfraError> {
    let mut found = CisControls::default();
    let mut tagged: BTreeMap<u32, Vec<&Rule>> = BTreeMap::new();
    for rule in rules {
        for n in control_tags(rule) {
            if METRIC_FILTER_CONTROLS.contains(&n) {
                tagged.entry(n).or_default().push(rule);
            } else {
                found.notes.push(format!(
                    "rule {}: tag CloudWatch.{n} names no metric-filter control (CloudWatch.{}–{}); ignored",
                    rule.id,
                    METRIC_FILTER_CONTROLS.start(),
                    METRIC_FILTER_CONTROLS.end()
                ));
            }
        }
    }
    for (number, tagged) in tagged {
        let ids: Vec<&str> = tagged.iter().map(|r| r.id.as_str()).collect();
        let mut filters = tagged.iter().filter_map(|r| match &r.pattern {
            Pattern::Filter(f) => Some((*r, f.text())),
            Pattern::Event(_) | Pattern::Sequence(_) | Pattern::Sigma(_) => None,
        });
        let Some((source, pattern)) = filters.next() else {
            found.notes.push(format!(
                "CloudWatch.{number}: rule(s) {} carry the tag but none has a filter_pattern, and the control's metric filter is AWS's exact filter pattern: no metric filter or alarm for CloudWatch.{number} (is the rule holding that pattern disabled?)",
                ids.join(", ")
            ));
            continue;
        };
        found.served.insert(&source.id);
        for (other, other_pattern) in filters {
            if squeeze(other_pattern) != squeeze(pattern) {
                return Err(InfraError::ConflictingControl {
                    control: number,
                    first: source.id.clone(),
                    second: other.id.clone(),
                });
            }
            found.served.insert(&other.id);
        }
        found.controls.push(CisControl {
            number,
            recommendation: recommendation(source),
            title: &source.title,
            metric: metric_name(&source.title).unwrap_or_else(|| metric_name(&source.id).unwrap_or_default()),
            pattern,
            defined_by: &source.id,
            rules: ids,
        });
    }
    Ok(found)
}

/// The N of each distinct `CloudWatch.N` tag of a rule.
fn control_tags(rule: &Rule) -> Vec<u32> {
    let mut numbers: Vec<u32> = Vec::new();
    for n in rule.tags.iter().filter_map(|t| t.strip_prefix(CONTROL_TAG)?.parse().ok()) {
        if !numbers.contains(&n) {
            numbers.push(n);
        }
    }
    numbers
}

/// The recommendation of the newest benchmark version a rule is tagged with
/// (`cis-aws-1.4.0/4.4` over `cis-aws-1.2.0/3.4`); of several in one
/// version, the first.
fn recommendation(rule: &Rule) -> Option<&str> {
    let mut best: Option<(Vec<u32>, &str)> = None;
    for tag in &rule.tags {
        let Some((version, number)) = tag.strip_prefix(CIS_TAG).and_then(|t| t.split_once('/')) else {
            continue;
        };
        let Some(version) = version.split('.').map(|p| p.parse::<u32>().ok()).collect::<Option<Vec<u32>>>() else {
            continue;
        };
        if number.is_empty() {
            continue;
        }
        if best.as_ref().is_none_or(|(newest, _)| version > *newest) {
            best = Some((version, number));
        }
    }
    best.map(|(_, number)| number)
}

/// A CloudWatch metric name from a title: its words in CamelCase, letters
/// and digits only (`Console sign-in without MFA` → `ConsoleSignInWithoutMFA`).
fn metric_name(title: &str) -> Option<String> {
    let mut name = String::new();
    for word in title.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.push(first.to_ascii_uppercase());
            name.extend(chars);
        }
    }
    name.truncate(MAX_METRIC_NAME);
    (!name.is_empty()).then_some(name)
}

/// A pattern without its white space, to compare two spellings.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use trailwatch_engine::rules;

    use super::*;

    fn rule(id: &str, tags: &str, pattern: &str) -> Rule {
        let yaml = format!("id: {id}\ntitle: Title of {id}\ndescription: d\nseverity: low\naction: metric\ntags: [{tags}]\n{pattern}\n");
        Rule::from_yaml("test", &yaml).unwrap_or_else(|e| panic!("test rule does not load: {e}"))
    }

    const FILTER: &str = "filter_pattern: '{ ($.eventName = CreateTrail) || ($.eventName = DeleteTrail) }'";
    const EVENT: &str = "event_pattern: {source: [aws.cloudtrail]}";

    #[test]
    fn the_built_in_pack_defines_the_fourteen_controls() {
        let all = rules::load(None).expect("built-in pack loads");
        let found = cis_controls(&all).expect("no conflicting controls");
        assert_eq!(found.notes, Vec::<String>::new());
        let numbers: Vec<u32> = found.controls.iter().map(|c| c.number).collect();
        assert_eq!(numbers, METRIC_FILTER_CONTROLS.collect::<Vec<_>>());
        let mut metrics = HashSet::new();
        for c in &found.controls {
            let source = all.iter().find(|r| r.id == c.defined_by).expect("the defining rule");
            assert_eq!(c.defined_by, format!("cis-cloudwatch-{}", c.number));
            assert!(matches!(&source.pattern, Pattern::Filter(f) if f.text() == c.pattern));
            assert!(c.recommendation.is_some(), "CloudWatch.{} cites no CIS recommendation", c.number);
            assert!(metrics.insert(c.metric.clone()), "two controls count {}", c.metric);
        }
        let one = &found.controls[0];
        assert_eq!(
            (one.recommendation, one.title, one.metric.as_str()),
            (Some("1.7"), "Root user activity", "RootUserActivity")
        );
        let two = &found.controls[1];
        assert_eq!((two.recommendation, two.metric.as_str()), (Some("3.1"), "UnauthorizedAPICalls"));
        assert_eq!(found.controls[3].recommendation, Some("4.4"));
    }

    #[test]
    fn a_control_comes_from_the_filter_pattern_rule_tagged_with_it() {
        let rules = [
            rule("watcher", "CloudWatch.5", EVENT),
            rule("trail-changes", "CloudWatch.5, cis-aws-1.2.0/3.5, cis-aws-1.4.0/4.5, attack.t1562.008", FILTER),
        ];
        let found = cis_controls(&rules).expect("one control");
        let [c] = found.controls.as_slice() else { panic!("{:?}", found.controls) };
        assert_eq!(c.number, 5);
        assert_eq!(c.defined_by, "trail-changes");
        assert_eq!(c.pattern, "{ ($.eventName = CreateTrail) || ($.eventName = DeleteTrail) }");
        assert_eq!(c.recommendation, Some("4.5"));
        assert_eq!(c.title, "Title of trail-changes");
        assert_eq!(c.metric, "TitleOfTrailChanges");
        assert_eq!(c.rules, ["watcher", "trail-changes"]);
        assert_eq!(found.served, HashSet::from(["trail-changes"]));
    }

    #[test]
    fn a_second_rule_with_the_same_pattern_is_served_and_a_different_one_refused() {
        let same =
            rule("same", "CloudWatch.5", "filter_pattern: '{($.eventName=CreateTrail)||($.eventName=DeleteTrail)}'");
        let rules = [rule("first", "CloudWatch.5", FILTER), same];
        let found = cis_controls(&rules).expect("same pattern");
        assert_eq!(found.served, HashSet::from(["first", "same"]));

        let other = rule("other", "CloudWatch.5", "filter_pattern: '{ $.eventName = StopLogging }'");
        match cis_controls(&[rule("first", "CloudWatch.5", FILTER), other]) {
            Err(e @ InfraError::ConflictingControl { .. }) => {
                let text = e.to_string();
                assert!(text.contains("first") && text.contains("other") && text.contains("CloudWatch.5"), "{text}");
            }
            other => panic!("two patterns for one control were not refused: {other:?}"),
        }
    }

    #[test]
    fn tags_that_define_no_control_are_noted() {
        let rules = [rule("only-events", "CloudWatch.10", EVENT), rule("retention", "CloudWatch.16", FILTER)];
        let found = cis_controls(&rules).expect("no conflict");
        assert!(found.controls.is_empty());
        assert!(found.served.is_empty());
        assert_eq!(found.notes.len(), 2, "{:?}", found.notes);
        assert!(found.notes[0].contains("retention") && found.notes[0].contains("CloudWatch.16"));
        assert!(found.notes[1].contains("only-events") && found.notes[1].contains("CloudWatch.10"));
    }

    #[test]
    fn the_newest_benchmark_version_is_cited() {
        let r = rule(
            "r",
            "cis-aws-1.4.0/4.4, cis-aws-1.10.0/2.1, cis-aws-1.10.0/2.2, cis-aws-x/9.9, cis-aws-1.2.0/3.4",
            FILTER,
        );
        assert_eq!(recommendation(&r), Some("2.1"));
        assert_eq!(recommendation(&rule("r", "CloudWatch.4", FILTER)), None);
    }

    #[test]
    fn metric_names_are_camel_case_titles() {
        assert_eq!(metric_name("Console sign-in without MFA").as_deref(), Some("ConsoleSignInWithoutMFA"));
        assert_eq!(metric_name("S3 bucket policy changes").as_deref(), Some("S3BucketPolicyChanges"));
        assert_eq!(metric_name(" -- ").as_deref(), None);
        assert_eq!(metric_name(&"word ".repeat(100)).map(|m| m.len()), Some(MAX_METRIC_NAME));
    }
}
