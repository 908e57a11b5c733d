//! Detection rules as data: loading, validating, and compiling a rule set.
//!
//! A rule is one YAML file: `id`, `title`, `description`, `severity`,
//! `tags`, exactly one of `event_pattern` (EventBridge), `filter_pattern`
//! (CloudWatch Logs) or `sequence` (fed by other rules' matches), an
//! `action` (`alert` or `metric`), optional `suppress` patterns of
//! known-good activity, and `tests`. The built-in
//! pack ships inside the binaries; a user's directory adds rules, replaces
//! built-in ones with the same id, and disables ids listed in its
//! `disabled.yaml`.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Event;
use crate::filter::FilterPattern;
use crate::pattern::{Declined, EventPattern, FieldPath, PatternSet, Scratch, TopMember, Walked};
use crate::sigma::{self, SigmaBody, SigmaError, SigmaRule, Stateful};
use crate::state::{parse_duration, Millis};

/// How bad a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The lowercase name, as rule files and alerts spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What a match does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// An SNS alert on every match.
    Alert,
    /// Counted only, for threshold alarms on the rule's metric.
    Metric,
}

/// How a rule matches: its pattern, in one of the two languages.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// An EventBridge event pattern, on the whole event.
    Event(EventPattern),
    /// A CloudWatch Logs filter pattern, on the record (the log message).
    Filter(FilterPattern),
    /// No pattern of its own: a sequence rule is fed by its steps' matches
    /// (the step rules' patterns, suppressions applied).
    Sequence(Sequence),
    /// A Sigma detection, on the record.
    Sigma(SigmaPattern),
}

/// A Sigma rule's detection compiled into the rule set: the detections a
/// record must match (one; or, for a Sigma count correlation, any of the
/// rules it counts), and an EventBridge pattern over-approximating them on
/// `eventSource`/`eventName`, which the set's shared index runs so the
/// detection is evaluated only on the records it may match.
#[derive(Debug, Clone)]
pub struct SigmaPattern {
    detections: Vec<sigma::Detection>,
    prefilter: Option<EventPattern>,
}

impl SigmaPattern {
    /// Whether the record matches any of the detections.
    pub fn matches(&self, record: &Value) -> bool {
        self.detections.iter().any(|d| d.matches(record))
    }

    /// The over-approximating event pattern, if the detections have one:
    /// every event whose record matches also matches it. Without one the
    /// rule is evaluated on every record (and routed by the logs path).
    pub fn prefilter(&self) -> Option<&EventPattern> {
        self.prefilter.as_ref()
    }
}

/// Alert when every step rule matched records with equal `group_by`
/// values within `within` of event time (in step order if `ordered`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    pub within: Millis,
    pub group_by: Vec<String>,
    pub ordered: bool,
    /// The step rules' ids, in order.
    pub steps: Vec<String>,
}

/// The most steps a sequence may have.
pub const MAX_SEQUENCE_STEPS: usize = 16;

/// One rule test: a record and whether the rule must match it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTest {
    /// What the case is.
    #[serde(default)]
    pub name: Option<String>,
    /// A CloudTrail record, inline.
    #[serde(default)]
    pub record: Option<Value>,
    /// A file holding the record, relative to the rule file.
    #[serde(default)]
    pub file: Option<String>,
    /// A record of the shared dataset, named by file and `eventID`.
    #[serde(default)]
    pub dataset: Option<DatasetRecord>,
    /// Whether the rule must match the record.
    #[serde(rename = "match", default)]
    pub expect: Option<bool>,
    /// Records (with their times), delivered one by one in this order
    /// through the handler with state in memory: for dedup and thresholds.
    #[serde(default)]
    pub records: Option<Vec<Value>>,
    /// How many alerts of this rule `records` must give.
    #[serde(default)]
    pub alerts: Option<u64>,
}

/// A record of the shared CloudTrail dataset (`../shared/data/cloudtrail`),
/// which the project does not copy: its file there, and its `eventID`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetRecord {
    /// The file, relative to the dataset's directory.
    pub file: String,
    /// The record's `eventID`.
    pub event_id: String,
}

/// Which rules a function evaluates (`TRAILWATCH_MATCH`). When both paths
/// are deployed, each function takes its own language so that a record
/// does not alert twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Every rule (`all`, the default).
    All,
    /// Only `event_pattern` rules.
    EventPatterns,
    /// Only `filter_pattern` rules.
    FilterPatterns,
}

impl Selection {
    /// Whether this selection keeps the rule.
    pub fn keeps(self, rule: &Rule) -> bool {
        matches!(
            (self, &rule.pattern),
            (Selection::All, _)
                | (Selection::EventPatterns, Pattern::Event(_))
                | (Selection::FilterPatterns, Pattern::Filter(_))
                // A Sigma rule goes the way the template routes it: by
                // EventBridge when it has a prefilter, else by the logs.
                | (Selection::EventPatterns, Pattern::Sigma(SigmaPattern { prefilter: Some(_), .. }))
                | (Selection::FilterPatterns, Pattern::Sigma(SigmaPattern { prefilter: None, .. }))
                // Fed by whichever function matches its steps: the state
                // store is shared, so steps seen by both functions chain.
                | (_, Pattern::Sequence(_))
        )
    }
}

/// A loaded, validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub pattern: Pattern,
    pub action: Action,
    pub suppress: Vec<EventPattern>,
    /// Alert rules: one alert per key and period (the default applies
    /// when the file gives none).
    pub dedup: Dedup,
    /// A threshold rule alerts on counts, not on each match.
    pub threshold: Option<Threshold>,
    pub tests: Vec<RuleTest>,
    /// Where the rule was loaded from (`builtin:<file>` or a path).
    pub origin: String,
    /// What the alert's first line says, with `{dotted.path}` placeholders
    /// filled from the record (`{userIdentity.arn} deleted trail
    /// {requestParameters.name}`); the title when absent.
    pub summary: Option<String>,
    /// The record paths that matter for this rule, shown first in alerts.
    pub context: Vec<String>,
    /// What to check first and how to contain it.
    pub runbook: Option<String>,
    pub references: Vec<String>,
    /// Known benign causes.
    pub falsepositives: Vec<String>,
    /// Who wrote the rule (kept in every alert of a Sigma rule: DRL 1.1).
    pub author: Option<String>,
    /// Severity by record: the first whose pattern matches the event
    /// replaces `severity` (root, a failed call, ...).
    pub severity_when: Vec<(EventPattern, Severity)>,
    /// Metric rules: the CloudWatch anomaly detection alarm the template
    /// may add on the rule's metric (defaults when the file gives none).
    pub anomaly: Anomaly,
}

/// A CloudWatch anomaly detection alarm on a metric rule's count: alarm
/// when the count is above the `ANOMALY_DETECTION_BAND` of `band` standard
/// deviations in `datapoints` of `evaluation_periods` periods.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anomaly {
    #[serde(default = "Anomaly::default_band")]
    pub band: f64,
    #[serde(default = "Anomaly::default_periods")]
    pub evaluation_periods: u32,
    #[serde(default = "Anomaly::default_periods")]
    pub datapoints: u32,
}

impl Anomaly {
    fn default_band() -> f64 {
        2.0
    }

    fn default_periods() -> u32 {
        3
    }
}

impl Default for Anomaly {
    fn default() -> Anomaly {
        Anomaly { band: 2.0, evaluation_periods: 3, datapoints: 3 }
    }
}

/// The YAML form of a rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    title: String,
    description: String,
    severity: Severity,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    event_pattern: Option<Value>,
    #[serde(default)]
    filter_pattern: Option<String>,
    action: Action,
    #[serde(default)]
    suppress: Vec<Value>,
    #[serde(default)]
    dedup: Option<DedupFile>,
    #[serde(default)]
    threshold: Option<ThresholdFile>,
    #[serde(default)]
    sequence: Option<SequenceFile>,
    #[serde(default)]
    tests: Vec<RuleTest>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    context: Vec<String>,
    #[serde(default)]
    runbook: Option<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    falsepositives: Vec<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    severity_when: Vec<SeverityWhenFile>,
    #[serde(default)]
    anomaly: Option<Anomaly>,
}

/// The YAML form of one `severity_when` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeverityWhenFile {
    severity: Severity,
    event_pattern: Value,
}

/// The YAML form of `sequence`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SequenceFile {
    within: String,
    #[serde(default)]
    group_by: Vec<String>,
    #[serde(default)]
    ordered: bool,
    steps: Vec<String>,
}

/// The YAML form of `dedup`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DedupFile {
    period: String,
    #[serde(default)]
    key: Option<Vec<String>>,
}

/// The YAML form of `threshold`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdFile {
    count: u64,
    window: String,
    #[serde(default)]
    group_by: Vec<String>,
    #[serde(default)]
    distinct: Option<String>,
}

/// One alert per rule and key per period of event time: later matches in
/// the period are counted into the alert that was sent, not sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedup {
    /// The period in milliseconds; 0 turns dedup off (each record's alert
    /// is still sent once, however often it is retried).
    pub period: Millis,
    /// Dotted record paths whose values, with the rule, make the key;
    /// empty means the default: actor, account and region.
    pub key: Vec<String>,
}

/// The default dedup of alert rules: 60 minutes, keyed by rule, actor,
/// account and region.
pub const DEFAULT_DEDUP_PERIOD: Millis = 60 * 60_000;

/// Alert when at least `count` matching records (or distinct values of
/// `distinct`) with equal `group_by` values fall within one `window` of
/// event time; once per group and window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    pub count: u64,
    pub window: Millis,
    pub group_by: Vec<String>,
    pub distinct: Option<String>,
}

/// A rule file that cannot be loaded: which file, and why.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("{file}: duplicate rule id \"{id}\" (also in {other}); give each rule its own id")]
    Duplicate { file: String, id: String, other: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// The built-in rule files, embedded at build time (`shared/rules/`).
pub const BUILTIN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// [`BUILTIN`] without each file's `tests:` block and as JSON (see
/// `build.rs`): what [`load_for_matching`] reads, a sixth of the bytes and
/// no YAML to parse.
pub const BUILTIN_WITHOUT_TESTS: &[(&str, &str)] =
    include!(concat!(env!("OUT_DIR"), "/builtin_rules_without_tests.rs"));

/// The file, in a user's rules directory, listing rule ids to disable.
pub const DISABLED_FILE: &str = "disabled.yaml";

impl Rule {
    /// Parse and validate one rule file.
    pub fn from_yaml(origin: &str, text: &str) -> Result<Rule, RuleError> {
        let file: RuleFile = serde_saphyr::from_str(text)
            .map_err(|e| RuleError::Invalid { file: origin.to_string(), reason: e.to_string() })?;
        Rule::from_file(origin, file)
    }

    /// [`Rule::from_yaml`] for a rule file written as JSON (as `build.rs`
    /// embeds the pack for the functions).
    pub fn from_json(origin: &str, text: &str) -> Result<Rule, RuleError> {
        let file: RuleFile = serde_json::from_str(text)
            .map_err(|e| RuleError::Invalid { file: origin.to_string(), reason: e.to_string() })?;
        Rule::from_file(origin, file)
    }

    fn from_file(origin: &str, file: RuleFile) -> Result<Rule, RuleError> {
        let invalid = |reason: String| RuleError::Invalid { file: origin.to_string(), reason };
        if file.id.trim().is_empty() || !file.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(invalid(format!(
                "rule id \"{}\" must be non-empty and use only letters, digits, '-', '_' and '.'",
                file.id
            )));
        }
        let pattern = match (file.event_pattern, file.filter_pattern, file.sequence) {
            (None, None, Some(q)) => {
                if file.action != Action::Alert {
                    return Err(invalid("sequence: only an alert rule is a sequence".into()));
                }
                if file.threshold.is_some() || file.dedup.is_some() || !file.suppress.is_empty() {
                    return Err(invalid(
                        "sequence: a sequence rule takes no threshold, dedup or suppress (it alerts once per group and chain; suppress the step rules)".into(),
                    ));
                }
                let within = parse_duration(&q.within).map_err(|e| invalid(format!("sequence.within: {e}")))?;
                if within == 0 {
                    return Err(invalid("sequence.within: give a time such as 30m".into()));
                }
                check_paths("sequence.group_by", &q.group_by).map_err(invalid)?;
                if q.steps.len() < 2 || q.steps.len() > MAX_SEQUENCE_STEPS {
                    return Err(invalid(format!("sequence.steps: give 2 to {MAX_SEQUENCE_STEPS} rule ids")));
                }
                for (i, step) in q.steps.iter().enumerate() {
                    if *step == file.id {
                        return Err(invalid(format!("sequence.steps[{i}]: a sequence cannot be its own step")));
                    }
                    if q.steps[..i].contains(step) {
                        return Err(invalid(format!("sequence.steps[{i}]: \"{step}\" is listed twice")));
                    }
                }
                for (i, t) in file.tests.iter().enumerate() {
                    if t.records.is_none() {
                        return Err(invalid(format!(
                            "tests[{i}]: a sequence rule is tested with records cases (records: [...], alerts: N)"
                        )));
                    }
                }
                Pattern::Sequence(Sequence { within, group_by: q.group_by, ordered: q.ordered, steps: q.steps })
            }
            (_, _, Some(_)) => {
                return Err(invalid("a sequence rule has no event_pattern or filter_pattern of its own".into()))
            }
            (Some(p), None, None) => {
                Pattern::Event(EventPattern::from_value(&p).map_err(|e| invalid(format!("event_pattern: {e}")))?)
            }
            (None, Some(p), None) => {
                Pattern::Filter(FilterPattern::parse(&p).map_err(|e| invalid(format!("filter_pattern: {e}")))?)
            }
            (None, None, None) => {
                return Err(invalid("give the rule an event_pattern, a filter_pattern or a sequence".into()))
            }
            (Some(_), Some(_), None) => {
                return Err(invalid("give the rule exactly one of event_pattern and filter_pattern, not both".into()))
            }
        };
        let suppress = file
            .suppress
            .iter()
            .enumerate()
            .map(|(i, p)| EventPattern::from_value(p).map_err(|e| invalid(format!("suppress[{i}]: {e}"))))
            .collect::<Result<_, _>>()?;
        for (i, t) in file.tests.iter().enumerate() {
            let given = [t.record.is_some(), t.file.is_some(), t.dataset.is_some(), t.records.is_some()];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(invalid(format!("tests[{i}]: give exactly one of record, file, dataset and records")));
            }
            if t.records.is_some() != t.alerts.is_some() || t.records.is_some() == t.expect.is_some() {
                return Err(invalid(format!(
                    "tests[{i}]: a record, file or dataset case says match: true|false; a records case says alerts: N"
                )));
            }
        }
        let dedup = match file.dedup {
            None => Dedup { period: DEFAULT_DEDUP_PERIOD, key: Vec::new() },
            Some(d) => {
                let period = parse_duration(&d.period).map_err(|e| invalid(format!("dedup.period: {e}")))?;
                let key = d.key.unwrap_or_default();
                check_paths("dedup.key", &key).map_err(invalid)?;
                Dedup { period, key }
            }
        };
        let threshold = match file.threshold {
            None => None,
            Some(t) => {
                if file.action != Action::Alert {
                    return Err(invalid("threshold: only an alert rule counts over a window".into()));
                }
                if t.count < 2 {
                    return Err(invalid(
                        "threshold.count: give at least 2 (one match is an ordinary alert rule)".into(),
                    ));
                }
                let window = parse_duration(&t.window).map_err(|e| invalid(format!("threshold.window: {e}")))?;
                if window == 0 {
                    return Err(invalid("threshold.window: give a window such as 5m".into()));
                }
                check_paths("threshold.group_by", &t.group_by).map_err(invalid)?;
                if let Some(d) = &t.distinct {
                    check_paths("threshold.distinct", std::slice::from_ref(d)).map_err(invalid)?;
                }
                Some(Threshold { count: t.count, window, group_by: t.group_by, distinct: t.distinct })
            }
        };
        check_paths("context", &file.context).map_err(invalid)?;
        if let Some(summary) = &file.summary {
            check_paths("summary", &placeholders(summary).map_err(invalid)?).map_err(invalid)?;
        }
        let severity_when = file
            .severity_when
            .iter()
            .enumerate()
            .map(|(i, w)| {
                EventPattern::from_value(&w.event_pattern)
                    .map(|p| (p, w.severity))
                    .map_err(|e| invalid(format!("severity_when[{i}].event_pattern: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let anomaly = match file.anomaly {
            None => Anomaly::default(),
            Some(_) if file.action != Action::Metric => {
                return Err(invalid("anomaly: only a metric rule has an anomaly detection alarm".into()))
            }
            Some(a) if !(a.band > 0.0 && a.band <= 100.0) => {
                return Err(invalid(format!(
                    "anomaly.band: {} standard deviations; give more than 0 (2 is usual)",
                    a.band
                )))
            }
            Some(a) if a.evaluation_periods == 0 || a.datapoints == 0 || a.datapoints > a.evaluation_periods => {
                return Err(invalid("anomaly: datapoints must be 1 to evaluation_periods".into()))
            }
            Some(a) => a,
        };
        Ok(Rule {
            anomaly,
            summary: file.summary,
            context: file.context,
            runbook: file.runbook,
            references: file.references,
            falsepositives: file.falsepositives,
            author: file.author,
            severity_when,
            id: file.id,
            title: file.title,
            description: file.description,
            severity: file.severity,
            tags: file.tags,
            pattern,
            action: file.action,
            suppress,
            dedup,
            threshold,
            tests: file.tests,
            origin: origin.to_string(),
        })
    }
}

impl Rule {
    /// A sequence rule's sequence.
    pub fn sequence(&self) -> Option<&Sequence> {
        match &self.pattern {
            Pattern::Sequence(q) => Some(q),
            _ => None,
        }
    }
}

/// Every step of every sequence rule names a rule of the set that is not
/// itself a sequence.
fn check_steps(rules: &[Rule]) -> Result<(), RuleError> {
    let by_id: HashMap<&str, &Rule> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
    for rule in rules {
        let Some(q) = rule.sequence() else { continue };
        for (i, step) in q.steps.iter().enumerate() {
            let reason = match by_id.get(step.as_str()) {
                None => format!(
                    "sequence.steps[{i}]: no rule has the id \"{step}\" (built-in or in the rules directory; is it disabled?)"
                ),
                Some(r) if r.sequence().is_some() => {
                    format!("sequence.steps[{i}]: \"{step}\" is a sequence rule; a step is an event_pattern or filter_pattern rule")
                }
                Some(_) => continue,
            };
            return Err(RuleError::Invalid { file: rule.origin.clone(), reason });
        }
    }
    Ok(())
}

/// The `{dotted.path}` placeholders of a summary template, in order; an
/// unclosed `{` is an error.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("summary: \"{template}\" opens a {{ it does not close"));
        };
        out.push(rest[open + 1..open + close].trim().to_string());
        rest = &rest[open + close + 1..];
    }
    Ok(out)
}

/// Dotted record paths (`userIdentity.arn`): non-empty names, no empty
/// segment.
fn check_paths(what: &str, paths: &[String]) -> Result<(), String> {
    for p in paths {
        if p.is_empty() || p.split('.').any(str::is_empty) {
            return Err(format!("{what}: \"{p}\" is not a dotted record path such as userIdentity.arn"));
        }
    }
    Ok(())
}

/// What loading found besides rules: Sigma rules refused (valid Sigma
/// that trailwatch cannot run, with the reason and line) and warnings.
#[derive(Debug, Default)]
pub struct LoadNotes {
    pub refused: Vec<SigmaError>,
    pub warnings: Vec<String>,
}

/// Load the built-in pack and, optionally, a user's directory on top of it;
/// refused Sigma rules and warnings are logged.
pub fn load(user_dir: Option<&Path>) -> Result<Vec<Rule>, RuleError> {
    let (rules, notes) = load_noted(user_dir)?;
    log_notes(&notes);
    Ok(rules)
}

fn log_notes(notes: &LoadNotes) {
    for e in &notes.refused {
        tracing::warn!(error = %e, "Sigma rule refused, not loaded");
    }
    for w in &notes.warnings {
        tracing::warn!(warning = %w, "rule loaded with a warning");
    }
}

/// [`load`] as the functions load at cold start: the built-in rules
/// without their test cases (they are for `trailwatch rules test`, and
/// parsing them was most of a cold start), a user's directory as it is.
pub fn load_for_matching(user_dir: Option<&Path>) -> Result<Vec<Rule>, RuleError> {
    let (rules, notes) = load_from(BUILTIN_WITHOUT_TESTS, Rule::from_json, user_dir)?;
    log_notes(&notes);
    Ok(rules)
}

/// [`load`], returning the refused Sigma rules and the warnings.
pub fn load_noted(user_dir: Option<&Path>) -> Result<(Vec<Rule>, LoadNotes), RuleError> {
    load_from(BUILTIN, Rule::from_yaml, user_dir)
}

type Parse = fn(&str, &str) -> Result<Rule, RuleError>;

fn load_from(
    builtin: &[(&str, &str)],
    parse: Parse,
    user_dir: Option<&Path>,
) -> Result<(Vec<Rule>, LoadNotes), RuleError> {
    let mut rules = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (name, text) in builtin {
        let rule = parse(&format!("builtin:{name}"), text)?;
        if let Some(other) = seen.insert(rule.id.clone(), rule.origin.clone()) {
            return Err(RuleError::Duplicate { file: rule.origin, id: rule.id, other });
        }
        rules.push(rule);
    }
    let Some(dir) = user_dir else {
        check_steps(&rules)?;
        return Ok((rules, LoadNotes::default()));
    };
    let (user, disabled, notes) = load_dir(dir)?;
    let builtin: HashSet<String> = rules.iter().map(|r| r.id.clone()).collect();
    let mut user_ids: HashMap<String, String> = HashMap::new();
    for rule in &user {
        if let Some(other) = user_ids.insert(rule.id.clone(), rule.origin.clone()) {
            return Err(RuleError::Duplicate { file: rule.origin.clone(), id: rule.id.clone(), other });
        }
    }
    // A user rule with a built-in id replaces the built-in one.
    rules.retain(|r| !user_ids.contains_key(&r.id));
    rules.extend(user);
    for id in &disabled {
        if !builtin.contains(id) && !user_ids.contains_key(id) {
            return Err(RuleError::Invalid {
                file: dir.join(DISABLED_FILE).display().to_string(),
                reason: format!("no rule has the id \"{id}\""),
            });
        }
    }
    rules.retain(|r| !disabled.contains(&r.id));
    check_steps(&rules)?;
    Ok((rules, notes))
}

/// The file, in a user's rules directory, giving values to Sigma `expand`
/// placeholders: a map of placeholder name (without `%`) to values.
pub const PLACEHOLDERS_FILE: &str = "placeholders.yaml";

/// The rules of one directory (`*.yaml`, `*.yml`, recursively: trailwatch
/// rules and Sigma rules alike), the ids its `disabled.yaml` lists, and
/// what loading noted. A file is a Sigma rule when it has a top-level
/// `title` and `detection` or `correlation`. Sigma rules that are valid
/// but cannot run here are refused (noted, not loaded); an invalid file of
/// either kind is an error.
pub fn load_dir(dir: &Path) -> Result<(Vec<Rule>, HashSet<String>, LoadNotes), RuleError> {
    let mut rules = Vec::new();
    let mut disabled = HashSet::new();
    let mut options = sigma::SigmaOptions::default();
    let mut sigma_files = Vec::new();
    for path in rule_files(dir)? {
        let text = std::fs::read_to_string(&path)
            .map_err(|source| RuleError::Io { path: path.display().to_string(), source })?;
        let invalid = |reason: String| RuleError::Invalid { file: path.display().to_string(), reason };
        if path.file_name().is_some_and(|n| n == DISABLED_FILE) {
            let ids: Vec<String> =
                serde_saphyr::from_str(&text).map_err(|e| invalid(format!("expected a list of rule ids: {e}")))?;
            disabled.extend(ids);
        } else if path.file_name().is_some_and(|n| n == PLACEHOLDERS_FILE) {
            options.placeholders = serde_saphyr::from_str(&text)
                .map_err(|e| invalid(format!("expected a map of Sigma placeholder names to lists of values: {e}")))?;
        } else if sigma::looks_like_sigma(&text) {
            sigma_files.push((path, text));
        } else {
            rules.push(Rule::from_yaml(&path.display().to_string(), &text)?);
        }
    }
    let mut notes = LoadNotes::default();
    rules.extend(load_sigma(&sigma_files, &options, &mut notes)?);
    Ok((rules, disabled, notes))
}

/// The rule files under `dir`, sorted (see [`load_dir`]).
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, RuleError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    Ok(files)
}

/// Top-level fields of CloudTrail records (CloudTrail user guide,
/// "CloudTrail record contents for management, data, and network activity
/// events", and "CloudTrail Insights events" for `insightDetails`). A
/// Sigma rule reading another top-level field loads with a warning.
pub const CLOUDTRAIL_FIELDS: &[&str] = &[
    "eventTime",
    "eventVersion",
    "userIdentity",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "eventType",
    "apiVersion",
    "managementEvent",
    "readOnly",
    "resources",
    "recipientAccountId",
    "serviceEventDetails",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "addendum",
    "sessionCredentialFromConsole",
    "edgeDeviceDetails",
    "tlsDetails",
    "eventContext",
    "insightDetails",
];

/// Sigma files into rules: parsed, correlations resolved across the files,
/// then each rule converted (refusals noted, see [`load_dir`]).
fn load_sigma(
    files: &[(PathBuf, String)],
    options: &sigma::SigmaOptions,
    notes: &mut LoadNotes,
) -> Result<Vec<Rule>, RuleError> {
    let mut parsed: Vec<SigmaRule> = Vec::new();
    for (path, text) in files {
        match sigma::parse_file(&path.display().to_string(), text, options) {
            Ok(rules) => parsed.extend(rules),
            Err(e) if e.is_refusal() => notes.refused.push(e),
            Err(e) => return Err(RuleError::Invalid { file: path.display().to_string(), reason: sigma_reason(&e) }),
        }
    }
    sigma::resolve_correlations(&mut parsed)
        .map_err(|e| RuleError::Invalid { file: origin_of(&e), reason: sigma_reason(&e) })?;
    // Rules a correlation counts without `generate: true` do not alert on
    // their own (correlation specification, "generate"); they still count.
    let quiet: HashSet<&str> = parsed
        .iter()
        .filter_map(|r| match &r.body {
            SigmaBody::Correlation(c) if !c.generate => Some(c.rules.iter().map(String::as_str)),
            _ => None,
        })
        .flatten()
        .collect();
    let mut out = Vec::with_capacity(parsed.len());
    for r in &parsed {
        let mut rule = Rule::from_sigma(r, &parsed)?;
        if quiet.contains(rule.id.as_str()) {
            rule.action = Action::Metric;
        }
        for field in r.fields() {
            let top = field.split('.').next().unwrap_or_default();
            if !CLOUDTRAIL_FIELDS.contains(&top) {
                notes.warnings.push(format!(
                    "{}: Sigma rule {} reads the field \"{field}\", which CloudTrail records do not have: as written it does not match them",
                    r.origin, rule.id
                ));
            }
        }
        let (product, service) = (r.logsource.product.as_deref(), r.logsource.service.as_deref());
        if matches!(&r.body, SigmaBody::Detection { .. }) && (product != Some("aws") || service != Some("cloudtrail")) {
            notes.warnings.push(format!(
                "{}: Sigma rule {} has logsource product {} service {}, not aws/cloudtrail: it is run on CloudTrail records anyway",
                r.origin,
                rule.id,
                product.unwrap_or("(none)"),
                service.unwrap_or("(none)")
            ));
        }
        out.push(rule);
    }
    Ok(out)
}

fn sigma_reason(e: &SigmaError) -> String {
    match e {
        SigmaError::Invalid { line, reason, .. } | SigmaError::Refused { line, reason, .. } => match line {
            Some(l) => format!("line {l}: {reason}"),
            None => reason.clone(),
        },
    }
}

fn origin_of(e: &SigmaError) -> String {
    match e {
        SigmaError::Invalid { origin, .. } | SigmaError::Refused { origin, .. } => origin.clone(),
    }
}

impl Rule {
    /// A trailwatch rule from a parsed Sigma rule: its `id` (else its
    /// `name`), title, level, tags, references, false positives and author;
    /// a detection becomes a [`Pattern::Sigma`] (with the obsolete
    /// aggregation's threshold), an `event_count`/`value_count` correlation
    /// a threshold over the matches of the rules it names, a
    /// `temporal(_ordered)` one a sequence of them. `all` holds the rules
    /// a correlation may name.
    pub fn from_sigma(rule: &SigmaRule, all: &[SigmaRule]) -> Result<Rule, RuleError> {
        let invalid = |reason: String| RuleError::Invalid { file: rule.origin.clone(), reason };
        let id =
            rule.id.clone().or_else(|| rule.name.clone()).ok_or_else(|| {
                invalid(format!("Sigma rule \"{}\" has neither id nor name: give it an id", rule.title))
            })?;
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(invalid(format!("Sigma rule id \"{id}\": use only letters, digits, '-', '_' and '.'")));
        }
        let compiled = |detections: Vec<sigma::Detection>, prefilters: Vec<Option<Value>>| {
            // Alternatives of one `$or` over-approximate their union.
            let prefilter = match prefilters.into_iter().collect::<Option<Vec<Value>>>() {
                Some(mut one) if one.len() == 1 => one.pop(),
                Some(many) if !many.is_empty() => Some(serde_json::json!({ "$or": many })),
                _ => None,
            };
            let prefilter = prefilter.and_then(|p| EventPattern::from_value(&p).ok());
            Pattern::Sigma(SigmaPattern { detections, prefilter })
        };
        let (pattern, threshold) = match &rule.body {
            SigmaBody::Detection { detection, threshold } => {
                (compiled(vec![detection.clone()], vec![rule.prefilter()]), threshold.clone())
            }
            SigmaBody::Correlation(c) => match &c.stateful {
                Stateful::Sequence(q) => (Pattern::Sequence(q.clone()), None),
                Stateful::Threshold(t) => {
                    let mut detections = Vec::new();
                    let mut prefilters = Vec::new();
                    for name in &c.rules {
                        let base = all.iter().find(|r| r.id.as_deref() == Some(name.as_str()));
                        match base.map(|b| (&b.body, b)) {
                            Some((SigmaBody::Detection { detection, threshold: None }, b)) => {
                                detections.push(detection.clone());
                                prefilters.push(b.prefilter());
                            }
                            _ => {
                                return Err(invalid(format!(
                                    "correlation \"{}\": \"{name}\" is not a plain detection rule loaded beside it",
                                    rule.title
                                )))
                            }
                        }
                    }
                    (compiled(detections, prefilters), Some(t.clone()))
                }
            },
        };
        Ok(Rule {
            id,
            title: rule.title.clone(),
            description: rule.description.clone().unwrap_or_else(|| rule.title.clone()),
            severity: rule.severity(),
            tags: rule.tags.clone(),
            pattern,
            action: Action::Alert,
            suppress: Vec::new(),
            dedup: Dedup { period: DEFAULT_DEDUP_PERIOD, key: Vec::new() },
            threshold,
            tests: Vec::new(),
            origin: rule.origin.clone(),
            summary: None,
            context: Vec::new(),
            runbook: None,
            references: rule.references.clone(),
            falsepositives: rule.falsepositives.clone(),
            author: rule.author.clone(),
            severity_when: Vec::new(),
            anomaly: Anomaly::default(),
        })
    }
}

/// The rule files under `dir`, each once: symbolic links are followed, a
/// link back to a directory being walked is skipped (walkdir detects the
/// loop), and a file reached by two paths is read once.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RuleError> {
    let mut seen = HashSet::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if e.loop_ancestor().is_some() => continue,
            Err(e) => {
                let path = e.path().unwrap_or(dir).display().to_string();
                return Err(RuleError::Io { path, source: e.into() });
            }
        };
        let path = entry.path();
        if entry.file_type().is_file() && path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            if seen.insert(real) {
                out.push(path.to_path_buf());
            }
        }
    }
    Ok(())
}

/// Rules compiled for matching: every rule's index pattern in one shared
/// structure, every suppression in another.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// One pattern per rule it can hold, each a necessary condition of the
    /// rule's match: an event pattern as it is (the match itself), a Sigma
    /// rule's prefilter, a JSON filter pattern's prefilter under `detail`.
    /// Entry `i` belongs to rule `entry_rule[i]`.
    index: PatternSet,
    entry_rule: Vec<usize>,
    /// Rules with no index pattern (a Sigma detection without a prefilter,
    /// an unstructured or space-delimited filter pattern): evaluated on
    /// every record.
    unindexed: Vec<usize>,
    /// Whether a filter pattern reads the log line's text (unstructured or
    /// space-delimited); JSON filter patterns read the parsed record, so
    /// without such a pattern no record's text is written out again.
    filters_read_text: bool,
    /// The index again, reading bare records
    /// ([`RuleSet::read_record_text`]), built on first use or by
    /// [`RuleSet::with_record_gate`]; `None` inside when some rule has no
    /// index pattern.
    record_gate: OnceLock<Option<RecordGate>>,
    suppressions: PatternSet,
    suppression_rule: Vec<usize>,
    /// Rule `i` is step `s` of the sequence rule `q` for each `(q, s)` of
    /// `fed[i]`.
    fed: Vec<Vec<(usize, usize)>>,
    /// Whether any rule feeds a sequence.
    feeds: bool,
    /// This set among the process's sets (see [`IndexHits`]).
    serial: u64,
    /// Per rule, how the gates decide it alone ([`EventRead::Counted`]).
    countings: Vec<Option<Counting>>,
    /// Where the index reads [`CORE_FIELDS`].
    core: [FieldPath; 3],
}

/// The rule index, reading a bare record's text as the `detail` of the
/// event EventBridge would deliver it in: the envelope's members are made
/// from the record's fields as [`Event::from_record`] makes them
/// ([`crate::event::EnvelopeFields`]), read in the same pass.
#[derive(Debug)]
struct RecordGate {
    set: PatternSet,
    /// `eventID`, `eventType`, `eventSource`, `eventTime`, `awsRegion`,
    /// `recipientAccountId`, `userIdentity.accountId`, `eventName`.
    fields: [FieldPath; 8],
    /// The envelope's string members some pattern reads, each with its
    /// place in [`crate::event::ENVELOPE_MEMBERS`].
    members: Vec<(usize, TopMember)>,
}

/// How a gate decides a rule that is only counted (a metric rule feeding
/// no sequence, without suppressions), without the record being parsed.
#[derive(Debug)]
enum Counting {
    /// An event pattern: its index entry is the pattern, so a hit is a match.
    Event,
    /// A JSON filter pattern decided by the scalars at its selectors' paths
    /// ([`FilterPattern::scalar_paths`]), read by the index at these paths.
    Filter(Vec<FieldPath>),
}

/// How the gates decide each rule alone, its filter patterns' paths
/// captured in the index `set`: only a rule nothing but its count comes of
/// (a metric rule feeding no sequence) and without suppressions of its own
/// (they read the parsed event; a suppression quiets only its rule).
fn countings(rules: &[Rule], fed: &[Vec<(usize, usize)>], set: &mut PatternSet) -> Vec<Option<Counting>> {
    rules
        .iter()
        .zip(fed)
        .map(|(rule, fed)| {
            if rule.action != Action::Metric || !fed.is_empty() || !rule.suppress.is_empty() {
                return None;
            }
            match &rule.pattern {
                Pattern::Event(_) => Some(Counting::Event),
                Pattern::Filter(f) => {
                    let keys = f.scalar_paths()?;
                    let paths: Vec<Vec<&str>> = keys
                        .iter()
                        .map(|keys| std::iter::once("detail").chain(keys.iter().map(String::as_str)).collect())
                        .collect();
                    let paths: Vec<&[&str]> = paths.iter().map(Vec::as_slice).collect();
                    Some(Counting::Filter(set.capture(&paths)))
                }
                Pattern::Sigma(_) | Pattern::Sequence(_) => None,
            }
        })
        .collect()
}

/// The record's fields of which [`Event::from_record`] needs one.
const CORE_FIELDS: [&[&str]; 3] = [&["detail", "eventSource"], &["detail", "eventName"], &["detail", "eventTime"]];

/// The record fields [`RecordGate::fields`] reads, in its order.
const RECORD_FIELDS: [&[&str]; 8] = [
    &["detail", "eventID"],
    &["detail", "eventType"],
    &["detail", "eventSource"],
    &["detail", "eventTime"],
    &["detail", "awsRegion"],
    &["detail", "recipientAccountId"],
    &["detail", "userIdentity", "accountId"],
    &["detail", "eventName"],
];

/// What reading an EventBridge event's text through the event gate found
/// ([`RuleSet::read_eventbridge_text`]), or a record's text through the
/// record gate ([`RuleSet::read_record_text`]).
#[derive(Debug, PartialEq, Eq)]
pub enum EventRead {
    /// No rule can match it.
    Unmatched,
    /// Some rules may: the index's hits.
    Hits(IndexHits),
    /// Not read to a verdict: parse it and evaluate it whole.
    Unread,
    /// Decided without parsing it: every rule that may match it is only
    /// counted (a metric rule feeding no sequence, without suppressions)
    /// and was decided from what the gate read; these match
    /// (indices into [`RuleSet::rules`], ascending, perhaps none).
    Counted(Vec<usize>),
}

/// The index's hits on one event, read from its text by one rule set and
/// kept with the parsed event ([`crate::event::Event::with_index_hits`]) so
/// that evaluating it does not read it again. Another rule set ignores
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHits {
    set: u64,
    hits: Vec<usize>,
}

/// Tells rule sets apart, for [`IndexHits`].
static RULE_SETS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A rule's index pattern, a necessary condition of its match: its event
/// pattern as it is, its Sigma prefilter, or its JSON filter pattern's
/// prefilter under `detail`; `None` for a rule without one (a Sigma
/// detection without a prefilter, another kind of filter pattern, a
/// sequence).
fn index_pattern(rule: &Rule) -> Option<std::borrow::Cow<'_, EventPattern>> {
    match &rule.pattern {
        Pattern::Event(p) | Pattern::Sigma(SigmaPattern { prefilter: Some(p), .. }) => {
            Some(std::borrow::Cow::Borrowed(p))
        }
        Pattern::Filter(f) => f
            .record_prefilter()
            .and_then(|p| EventPattern::from_value(&serde_json::json!({ "detail": p })).ok())
            .map(std::borrow::Cow::Owned),
        Pattern::Sigma(_) | Pattern::Sequence(_) => None,
    }
}

/// Per-thread working memory for [`RuleSet::evaluate`].
#[derive(Debug, Default)]
pub struct Workspace {
    gate_scratch: Scratch,
    scratch: Scratch,
    hits: Vec<usize>,
    suppressed: Vec<usize>,
    text: String,
}

impl RuleSet {
    /// Compile rules.
    pub fn new(rules: Vec<Rule>) -> RuleSet {
        let mut entry_rule = Vec::new();
        let mut entries: Vec<std::borrow::Cow<'_, EventPattern>> = Vec::new();
        let mut unindexed = Vec::new();
        let mut suppression_rule = Vec::new();
        let mut suppressions = Vec::new();
        let mut filters_read_text = false;
        for (i, rule) in rules.iter().enumerate() {
            if rule.sequence().is_some() {
                continue;
            }
            if let Pattern::Filter(f) = &rule.pattern {
                filters_read_text |= f.kind() != crate::filter::PatternKind::Json;
            }
            let entry = index_pattern(rule);
            match entry {
                Some(p) => {
                    entry_rule.push(i);
                    entries.push(p);
                }
                None => unindexed.push(i),
            }
            for s in &rule.suppress {
                suppression_rule.push(i);
                suppressions.push(s);
            }
        }
        // A step missing from the set (another function's language, or a
        // rule set built without it) simply never feeds its sequence.
        let index: HashMap<&str, usize> = rules.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
        let mut fed = vec![Vec::new(); rules.len()];
        for (q, rule) in rules.iter().enumerate() {
            for (s, step) in rule.sequence().map(|q| q.steps.as_slice()).unwrap_or_default().iter().enumerate() {
                if let Some(&i) = index.get(step.as_str()).filter(|&&i| rules[i].sequence().is_none()) {
                    fed[i].push((q, s));
                }
            }
        }
        let suppressions = PatternSet::new(suppressions);
        let mut index = PatternSet::new(entries.iter().map(|p| p.as_ref()));
        drop(entries);
        let countings = countings(&rules, &fed, &mut index);
        let core = index.capture(&CORE_FIELDS);
        let core = [core[0], core[1], core[2]];
        RuleSet {
            countings,
            core,
            feeds: fed.iter().any(|f| !f.is_empty()),
            fed,
            index,
            entry_rule,
            unindexed,
            filters_read_text,
            record_gate: OnceLock::new(),
            serial: RULE_SETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            suppressions,
            suppression_rule,
            rules,
        }
    }

    /// The set with its record gate built now rather than on first use (the
    /// CloudWatch Logs and S3 functions, at cold start).
    pub fn with_record_gate(self) -> RuleSet {
        let _ = self.record_gate();
        self
    }

    fn record_gate(&self) -> Option<&RecordGate> {
        self.record_gate.get_or_init(|| self.compile_record_gate()).as_ref()
    }

    /// The index, also reading the record fields the envelope is made
    /// from (a copy: the EventBridge path does not read them); `None` when
    /// a rule has no index pattern.
    fn compile_record_gate(&self) -> Option<RecordGate> {
        if !self.unindexed.is_empty() {
            return None;
        }
        let mut set = self.index.clone();
        let fields = set.capture(&RECORD_FIELDS).try_into().ok()?;
        let members = crate::event::ENVELOPE_MEMBERS
            .iter()
            .enumerate()
            .filter_map(|(i, key)| Some((i, set.top_member(key)?)))
            .collect();
        Some(RecordGate { set, fields, members })
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The sequence rules that `matched` (rules of this set matching one
    /// record) feed, each with the indices of the steps the record fills,
    /// in load order.
    pub fn sequences_fed(&self, matched: &[&Rule]) -> Vec<(&Rule, Vec<usize>)> {
        if !self.feeds {
            return Vec::new();
        }
        let mut out: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
        for rule in matched {
            let Some(i) = self.rules.iter().position(|r| std::ptr::eq(r, *rule)) else { continue };
            for &(q, s) in &self.fed[i] {
                out.entry(q).or_default().push(s);
            }
        }
        out.into_iter()
            .map(|(q, mut steps)| {
                steps.sort_unstable();
                steps.dedup();
                (&self.rules[q], steps)
            })
            .collect()
    }

    /// The rules that match this event and are not suppressed for it, in
    /// load order.
    pub fn evaluate<'a>(&'a self, event: &Event, ws: &mut Workspace) -> Vec<&'a Rule> {
        let mut matched: Vec<usize> = Vec::new();
        match event.index_hits().filter(|h| h.set == self.serial) {
            Some(read) => {
                ws.hits.clear();
                ws.hits.extend_from_slice(&read.hits);
            }
            None => self.index.matches_into(event.value(), &mut ws.scratch, &mut ws.hits),
        }
        // Only the rules whose index pattern matched can match, besides the
        // unindexed ones. Filter patterns read the record as CloudWatch Logs
        // holds it: one compact JSON line, in the record's own key order
        // (JSON patterns its parsed form: the line is written out only for
        // the others).
        let candidates = || ws.hits.iter().map(|&e| self.entry_rule[e]).chain(self.unindexed.iter().copied());
        let reads_text =
            self.filters_read_text && candidates().any(|i| matches!(self.rules[i].pattern, Pattern::Filter(_)));
        let text = if reads_text { log_message(event, &mut ws.text) } else { "" };
        for i in candidates() {
            let hit = match &self.rules[i].pattern {
                // The event pattern itself matched.
                Pattern::Event(_) => true,
                // A Sigma prefilter only says the detection may match.
                Pattern::Sigma(sigma) => sigma.matches(event.detail()),
                Pattern::Filter(f) => f.matches_value(text, event.detail()),
                Pattern::Sequence(_) => false,
            };
            if hit {
                matched.push(i);
            }
        }
        if matched.is_empty() {
            return Vec::new();
        }
        if !self.suppression_rule.is_empty() {
            self.suppressions.matches_into(event.value(), &mut ws.scratch, &mut ws.suppressed);
            let quiet: HashSet<usize> = ws.suppressed.iter().map(|&s| self.suppression_rule[s]).collect();
            matched.retain(|i| !quiet.contains(i));
        }
        matched.sort_unstable();
        matched.dedup();
        matched.into_iter().map(|i| &self.rules[i]).collect()
    }

    /// Whether an EventBridge event, given as its JSON text, may match a
    /// rule: `Some(false)` only when none can (it matches no pattern of the
    /// event gate, read by the streaming matcher without building the
    /// event); `None` when the set has no gate or the text is not one JSON
    /// object.
    pub fn may_match_event_text(&self, text: &str, ws: &mut Workspace) -> Option<bool> {
        Self::gate(self.event_gate()?, text, ws)
    }

    /// The event gate: the index, when every rule has an index pattern.
    fn event_gate(&self) -> Option<&PatternSet> {
        self.unindexed.is_empty().then_some(&self.index)
    }

    /// Whether JSON text is an EventBridge event carrying a record that no
    /// rule can match: `true` only when the event gate reads it to its end
    /// with no pattern matching and it has the shape
    /// [`crate::envelope::is_eventbridge_record_text`] checks, seen in the
    /// same pass. Such an event is counted and read no further.
    pub fn is_unmatched_eventbridge_text(&self, text: &str, ws: &mut Workspace) -> bool {
        matches!(self.read_eventbridge_text(text, ws), EventRead::Unmatched)
    }

    /// Read an EventBridge event's text through the event gate once: no
    /// rule can match it ([`EventRead::Unmatched`], as
    /// [`RuleSet::is_unmatched_eventbridge_text`]), or only rules that are
    /// counted may and the gate decided them ([`EventRead::Counted`]), or
    /// some may and here are the index's hits, which [`RuleSet::evaluate`]
    /// takes from the parsed event instead of reading it again
    /// ([`EventRead::Hits`]); or it was not read to a verdict (no gate, not
    /// one JSON object, not the shape of an EventBridge event carrying a
    /// record).
    pub fn read_eventbridge_text(&self, text: &str, ws: &mut Workspace) -> EventRead {
        let Some(gate) = self.event_gate() else { return EventRead::Unread };
        let Some(mut walked) = Self::walk_event(gate, text, &mut ws.gate_scratch) else { return EventRead::Unread };
        walked.finish(&mut ws.hits);
        if !walked.is_eventbridge_event() {
            return EventRead::Unread;
        }
        if ws.hits.is_empty() {
            return EventRead::Unmatched;
        }
        // Decided here only when the event is surely read as a record (one
        // of its core fields a string) with no dotted key in the way.
        let core = self.core.iter().any(|&f| walked.text(f).is_some());
        match self.counted(&walked, &ws.hits).filter(|_| core && !walked.dotted()) {
            Some(matched) => EventRead::Counted(matched),
            None => EventRead::Hits(IndexHits { set: self.serial, hits: ws.hits.clone() }),
        }
    }

    /// [`RuleSet::may_match_event_text`] for a bare CloudTrail record (a
    /// CloudWatch Logs message): [`RuleSet::read_record_text`]'s verdict.
    pub fn may_match_record_text(&self, text: &str, ws: &mut Workspace) -> Option<bool> {
        match self.read_record_text(text, ws) {
            EventRead::Unmatched => Some(false),
            EventRead::Hits(_) => Some(true),
            EventRead::Counted(matched) => Some(!matched.is_empty()),
            EventRead::Unread => None,
        }
    }

    /// Read a bare CloudTrail record's text (a CloudWatch Logs message)
    /// through the index once, as the event [`Event::from_record`] would
    /// make of it: no rule can match it ([`EventRead::Unmatched`]), or only
    /// counted rules may and the gate decided them ([`EventRead::Counted`]),
    /// or here are the index's hits, the same as on that event
    /// ([`EventRead::Hits`]); the same verdict as that event's
    /// ([`RuleSet::read_eventbridge_text`]); or it was not read to a verdict
    /// ([`EventRead::Unread`]: no gate, not a JSON object, a key with a dot
    /// read as a path, or none of `eventSource`, `eventName`, `eventTime`,
    /// which parsing it reports).
    pub fn read_record_text(&self, text: &str, ws: &mut Workspace) -> EventRead {
        let Some(gate) = self.record_gate() else { return EventRead::Unread };
        let Ok(walked) = gate.set.walk_json_member("detail", text, &mut ws.gate_scratch) else {
            return EventRead::Unread;
        };
        self.record_verdict(gate, walked, &mut ws.hits)
    }

    /// [`RuleSet::read_record_text`] on a record held escaped inside a JSON
    /// string (a CloudWatch Logs message as its log event carries it),
    /// read without unescaping it ([`PatternSet::walk_escaped_member`]):
    /// `src` starts past the string's opening quote. The same verdict, and
    /// the length of the string's contents; or declined, and the caller
    /// unescapes it and reads it with [`RuleSet::read_record_text`].
    pub fn read_record_escaped(&self, src: &[u8], ws: &mut Workspace) -> Result<(EventRead, usize), Declined> {
        let Some(gate) = self.record_gate() else { return Err(Declined::Other) };
        let (walked, len) = gate.set.walk_escaped_member("detail", src, &mut ws.gate_scratch)?;
        Ok((self.record_verdict(gate, walked, &mut ws.hits), len))
    }

    /// A record read as the `detail` of its event: its envelope's members
    /// added from its fields, the whole matched.
    fn record_verdict(&self, gate: &RecordGate, mut walked: Walked<'_, '_>, hits: &mut Vec<usize>) -> EventRead {
        if !walked.is_object() || walked.dotted() {
            return EventRead::Unread;
        }
        let [event_id, event_type, event_source, event_time, aws_region, recipient, identity_account, event_name] =
            gate.fields.map(|f| walked.text(f));
        if event_source.is_none() && event_name.is_none() && event_time.is_none() {
            return EventRead::Unread;
        }
        let fields = crate::event::EnvelopeFields {
            event_id,
            event_type,
            event_source,
            event_time,
            aws_region,
            account: recipient.or(identity_account),
        };
        // Detached: the fields borrow from what the walk read.
        let mut members: [Option<(TopMember, std::borrow::Cow<'_, str>)>; crate::event::ENVELOPE_MEMBERS.len()] =
            Default::default();
        for (slot, &(i, member)) in members.iter_mut().zip(&gate.members) {
            *slot = fields.member(i).map(|v| (member, v.detached()));
        }
        for (member, value) in members.into_iter().flatten() {
            walked.add_text(member, value);
        }
        walked.finish(hits);
        if hits.is_empty() {
            return EventRead::Unmatched;
        }
        match self.counted(&walked, hits) {
            Some(rules) => EventRead::Counted(rules),
            None => EventRead::Hits(IndexHits { set: self.serial, hits: hits.clone() }),
        }
    }

    /// The rules the record matches, where every rule its index `hits`
    /// name is decided by a gate alone (`RuleSet::countings`); `walked` was
    /// read by the index or a copy of it (the same paths).
    fn counted(&self, walked: &Walked<'_, '_>, hits: &[usize]) -> Option<Vec<usize>> {
        let mut matched = Vec::new();
        for &entry in hits {
            let i = self.entry_rule[entry];
            let hit = match (self.countings[i].as_ref()?, &self.rules[i].pattern) {
                (Counting::Event, _) => true,
                (Counting::Filter(paths), Pattern::Filter(f)) => {
                    f.matches_scalars(&mut |k| paths.get(k).and_then(|&p| walked.scalar(p)))
                }
                (Counting::Filter(_), _) => return None,
            };
            if hit {
                matched.push(i);
            }
        }
        matched.sort_unstable();
        matched.dedup();
        Some(matched)
    }

    fn gate(gate: &PatternSet, text: &str, ws: &mut Workspace) -> Option<bool> {
        Self::walk_event(gate, text, &mut ws.gate_scratch)?.finish(&mut ws.hits);
        Some(!ws.hits.is_empty())
    }

    /// An event's text read along the gate, if it is one JSON object.
    fn walk_event<'a, 't>(gate: &'a PatternSet, text: &'t str, scratch: &'a mut Scratch) -> Option<Walked<'a, 't>> {
        if !text.trim_start().starts_with('{') {
            return None;
        }
        gate.walk_json(text, scratch).ok()
    }

    /// The verdict of one rule alone on one event, suppressions applied.
    pub fn rule_matches(rule: &Rule, event: &Event) -> bool {
        let hit = match &rule.pattern {
            Pattern::Event(p) => p.matches(event.value()),
            Pattern::Filter(f) => f.matches_value(log_message(event, &mut String::new()), event.detail()),
            // Fed by its steps' matches, never by one record alone.
            Pattern::Sequence(_) => false,
            Pattern::Sigma(sigma) => sigma.matches(event.detail()),
        };
        hit && !rule.suppress.iter().any(|s| s.matches(event.value()))
    }
}

/// The log message filter patterns read: the record's text as CloudWatch
/// Logs delivered it, or, for a record that came otherwise (EventBridge),
/// the record as CloudTrail writes it to a log group, one compact JSON line
/// in the record's own key order, written into `buf`.
fn log_message<'a>(event: &'a Event, buf: &'a mut String) -> &'a str {
    if let Some(text) = event.text() {
        return text;
    }
    buf.clear();
    if let Ok(text) = serde_json::to_string(event.detail()) {
        *buf = text;
    }
    buf
}

/// The outcome of one rule's tests.
#[derive(Debug)]
pub struct TestReport {
    pub rule: String,
    pub passed: usize,
    /// Cases naming a record of the shared dataset, which was not given.
    pub skipped: usize,
    /// Each failed case, described.
    pub failures: Vec<String>,
}

/// Run a rule's tests. `base` resolves `file:` paths of user rules;
/// `dataset` is the shared CloudTrail dataset's directory
/// (`../shared/data/cloudtrail`), where `dataset:` cases find their record:
/// without it they are counted as skipped, never as passed.
/// A sequence rule's steps are taken from the built-in pack; use
/// [`run_tests_in`] to take them from a loaded rule set.
pub fn run_tests(rule: &Rule, base: Option<&Path>, dataset: Option<&Path>) -> TestReport {
    let pack = if rule.sequence().is_some() { load(None).unwrap_or_default() } else { Vec::new() };
    run_tests_in(rule, &pack, base, dataset)
}

/// Run a rule's tests, a sequence rule's `records` cases with its steps
/// taken from `rules` (the loaded set the rule belongs to).
pub fn run_tests_in(rule: &Rule, rules: &[Rule], base: Option<&Path>, dataset: Option<&Path>) -> TestReport {
    let mut report = TestReport { rule: rule.id.clone(), passed: 0, skipped: 0, failures: Vec::new() };
    let own = |expect: bool| rule.tests.iter().any(|t| t.dataset.is_none() && t.expect == Some(expect));
    if rule.sequence().is_some() {
        let case = |alerting: bool| rule.tests.iter().any(|t| t.alerts.is_some_and(|n| (n > 0) == alerting));
        if !case(true) || !case(false) {
            report.failures.push(
                "a sequence rule needs records cases of its own, one that alerts and one that does not (alerts: 0)"
                    .into(),
            );
        }
    } else if !own(true) || !own(false) {
        report.failures.push(
            "the rule needs tests of its own, a record it must match and one it must not (dataset cases run only beside ../shared)"
                .into(),
        );
    }
    for (i, t) in rule.tests.iter().enumerate() {
        let label = t.name.clone().unwrap_or_else(|| format!("tests[{i}]"));
        if let (Some(records), Some(want)) = (&t.records, t.alerts) {
            match alerts_of(rule, rules, records) {
                Ok(got) if got == want => report.passed += 1,
                Ok(got) => report.failures.push(format!("{label}: expected {want} alerts, got {got}")),
                Err(e) => report.failures.push(format!("{label}: {e}")),
            }
            continue;
        }
        let expect = t.expect.unwrap_or(false);
        let record = match (&t.record, &t.file, &t.dataset) {
            (Some(r), _, _) => Ok(r.clone()),
            (None, Some(f), _) => match base {
                Some(base) => std::fs::read_to_string(base.join(f))
                    .map_err(|e| format!("{f}: {e}"))
                    .and_then(|s| serde_json::from_str(&s).map_err(|e| format!("{f}: {e}"))),
                None => Err(format!("{f}: a built-in rule's test cannot name a file")),
            },
            (None, None, Some(d)) => match dataset {
                Some(dir) => d.find(dir),
                None => {
                    report.skipped += 1;
                    continue;
                }
            },
            (None, None, None) => Err("no record".to_string()),
        };
        let verdict = record
            .and_then(|r| Event::from_item(r).map_err(|e| e.to_string()).map(|e| RuleSet::rule_matches(rule, &e)));
        match verdict {
            Ok(v) if v == expect => report.passed += 1,
            Ok(v) => report.failures.push(format!("{label}: expected match={expect}, got match={v}")),
            Err(e) => report.failures.push(format!("{label}: {e}")),
        }
    }
    report
}

/// How many alerts `rule` sends for `records` delivered one by one, as
/// EventBridge delivers them, through the handler with state in memory on
/// the records' own time.
/// A sequence rule's steps come from `rules`.
fn alerts_of(rule: &Rule, rules: &[Rule], records: &[Value]) -> Result<u64, String> {
    use crate::handler::{Clock, Handler};
    let mut set = vec![rule.clone()];
    for step in rule.sequence().map(|q| q.steps.as_slice()).unwrap_or_default() {
        match rules.iter().find(|r| r.id == *step) {
            Some(r) => set.push(r.clone()),
            None => return Err(format!("the step rule \"{step}\" is not loaded")),
        }
    }
    let handler = Handler::new(RuleSet::new(set), crate::sink::Memory::default(), crate::metrics::Tally::default())
        .with_state(crate::state::Memory::default(), Clock::Watermark(std::sync::atomic::AtomicI64::new(i64::MIN)));
    for (i, r) in records.iter().enumerate() {
        let event = Event::from_item(r.clone()).map_err(|e| format!("records[{i}]: {e}"))?.into_value();
        // In-memory sink, metrics and state never wait: one poll finishes.
        let mut run = std::pin::pin!(handler.handle(event));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match run.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(Ok(_)) => {}
            std::task::Poll::Ready(Err(e)) => return Err(format!("records[{i}]: {e}")),
            std::task::Poll::Pending => return Err("the in-memory handler waited".into()),
        }
    }
    Ok(handler.sink().take().iter().filter(|a| a.rule_id == rule.id).count() as u64)
}

impl DatasetRecord {
    /// The record, read from its file under the dataset's directory.
    pub fn find(&self, dataset: &Path) -> Result<Value, String> {
        let path = dataset.join(&self.file);
        let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let decoded = crate::envelope::file(&self.file, &text).map_err(|e| e.to_string())?;
        decoded
            .events
            .into_iter()
            .find(|e| e.record().event_id.as_deref() == Some(self.event_id.as_str()))
            .map(|e| e.detail().clone())
            .ok_or_else(|| format!("{}: no record has eventID {}", self.file, self.event_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_text(id: &str, event_name: &str) -> String {
        format!(
            "id: {id}\ntitle: {id}\ndescription: test rule\nseverity: low\nevent_pattern: {{detail: {{eventName: [{event_name}]}}}}\naction: alert\n"
        )
    }

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).expect("write a test file");
    }

    #[test]
    fn a_metric_rule_may_tune_its_anomaly_detection_alarm_and_only_a_metric_rule() {
        let metric = rule_text("counted", "CreateUser").replace("action: alert", "action: metric");
        assert_eq!(Rule::from_yaml("t", &metric).expect("valid").anomaly, Anomaly::default());
        let tuned = format!("{metric}anomaly: {{band: 3, evaluation_periods: 5}}\n");
        let a = Rule::from_yaml("t", &tuned).expect("valid").anomaly;
        assert_eq!((a.band, a.evaluation_periods, a.datapoints), (3.0, 5, 3));
        for bad in [
            format!("{metric}anomaly: {{band: 0}}\n"),
            format!("{metric}anomaly: {{evaluation_periods: 2, datapoints: 3}}\n"),
            format!("{}anomaly: {{band: 2}}\n", rule_text("alerting", "CreateUser")),
        ] {
            assert!(Rule::from_yaml("t", &bad).is_err(), "{bad}");
        }
    }

    /// The functions load the pack without its test cases (`build.rs` cuts
    /// each file's `tests:` block) and as JSON: every built-in file gives
    /// the same rule either way, tests aside, and the cut takes most of the
    /// bytes.
    #[test]
    fn the_pack_without_tests_is_the_pack() {
        assert_eq!(BUILTIN.len(), BUILTIN_WITHOUT_TESTS.len());
        let (mut full_bytes, mut cut_bytes) = (0, 0);
        for ((name, full), (cut_name, cut)) in BUILTIN.iter().zip(BUILTIN_WITHOUT_TESTS) {
            assert_eq!(name, cut_name);
            let mut whole = Rule::from_yaml(name, full).expect("a built-in rule");
            let lean = Rule::from_json(name, cut).expect("a built-in rule without its tests");
            assert!(!whole.tests.is_empty(), "{name}: a built-in rule has tests");
            assert!(lean.tests.is_empty(), "{name}: tests left in");
            whole.tests.clear();
            assert_eq!(format!("{whole:?}"), format!("{lean:?}"), "{name}");
            (full_bytes, cut_bytes) = (full_bytes + full.len(), cut_bytes + cut.len());
        }
        assert!(cut_bytes * 3 < full_bytes, "{cut_bytes} of {full_bytes} bytes");
        let ids = |rules: Vec<Rule>| rules.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(load(None).expect("loads")), ids(load_for_matching(None).expect("loads")));
    }

    #[test]
    fn a_users_rule_replaces_the_builtin_one_with_its_id() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "mine.yaml", &rule_text("cloudtrail-logging-stopped", "DeleteTrail"));
        let rules = load(Some(dir.path())).expect("loads");
        let same: Vec<&Rule> = rules.iter().filter(|r| r.id == "cloudtrail-logging-stopped").collect();
        assert_eq!(same.len(), 1);
        assert!(same[0].origin.ends_with("mine.yaml"), "{}", same[0].origin);
        assert_eq!(rules.len(), load(None).expect("builtin").len());
    }

    #[test]
    fn disabled_yaml_removes_builtin_and_user_rules_and_refuses_unknown_ids() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "extra.yaml", &rule_text("my-extra", "CreateUser"));
        write(dir.path(), DISABLED_FILE, "[cloudtrail-logging-stopped, my-extra]\n");
        let rules = load(Some(dir.path())).expect("loads");
        assert!(!rules.iter().any(|r| r.id == "cloudtrail-logging-stopped" || r.id == "my-extra"));
        assert_eq!(rules.len(), load(None).expect("builtin").len() - 1);
        write(dir.path(), DISABLED_FILE, "[no-such-rule]\n");
        let err = load(Some(dir.path())).expect_err("an unknown id is a mistake");
        assert!(err.to_string().contains("no-such-rule"), "{err}");
    }

    #[test]
    fn two_user_rules_with_one_id_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "a.yaml", &rule_text("twice", "CreateUser"));
        write(dir.path(), "b.yml", &rule_text("twice", "DeleteUser"));
        assert!(matches!(load(Some(dir.path())), Err(RuleError::Duplicate { .. })));
    }

    /// Defect: a directory holding a link to its parent was read over and
    /// over (40 times), each rule file loaded again, until the path was too
    /// long. Now each file is read once and the loop is skipped.
    #[cfg(unix)]
    #[test]
    fn a_symlink_loop_is_walked_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sub = dir.path().join("team");
        std::fs::create_dir(&sub).expect("mkdir");
        write(&sub, "one.yaml", &rule_text("team-one", "CreateUser"));
        std::os::unix::fs::symlink(dir.path(), sub.join("back-to-top")).expect("symlink");
        std::os::unix::fs::symlink(&sub, dir.path().join("also-team")).expect("symlink");
        let (rules, _, _) = load_dir(dir.path()).expect("a loop is not an error");
        assert_eq!(rules.iter().filter(|r| r.id == "team-one").count(), 1);
        assert_eq!(rules.len(), 1);
    }

    #[test]
    fn a_test_case_gives_exactly_one_record_source() {
        let text = format!(
            "{}tests:\n  - {{match: true, record: {{eventName: X}}, dataset: {{file: f.json, event_id: e}}}}\n",
            rule_text("both", "X")
        );
        let err = Rule::from_yaml("t.yaml", &text).expect_err("two sources");
        assert!(err.to_string().contains("exactly one of record, file, dataset and records"), "{err}");
    }

    #[test]
    fn dataset_cases_are_skipped_without_the_dataset_and_never_passed() {
        let text = format!(
            "{}tests:\n  - {{match: true, record: {{eventSource: iam.amazonaws.com, eventName: X, eventTime: t}}}}\n  - {{match: false, record: {{eventSource: iam.amazonaws.com, eventName: Y, eventTime: t}}}}\n  - {{match: true, dataset: {{file: missing.json, event_id: e-1}}}}\n",
            rule_text("ds", "X")
        );
        let rule = Rule::from_yaml("t.yaml", &text).expect("valid");
        let report = run_tests(&rule, None, None);
        assert_eq!((report.passed, report.skipped, report.failures.len()), (2, 1, 0));
        let dir = tempfile::tempdir().expect("temp dir");
        let report = run_tests(&rule, None, Some(dir.path()));
        assert_eq!((report.passed, report.skipped, report.failures.len()), (2, 0, 1), "{:?}", report.failures);
    }

    #[test]
    fn a_rule_without_its_own_positive_and_negative_case_fails_its_tests() {
        let text = format!(
            "{}tests:\n  - {{match: true, record: {{eventSource: iam.amazonaws.com, eventName: X, eventTime: t}}}}\n",
            rule_text("half", "X")
        );
        let report = run_tests(&Rule::from_yaml("t.yaml", &text).expect("valid"), None, None);
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    }

    /// Defect: rule tests took any item with a `detail-type` for an
    /// EventBridge event, while files and Lambda payloads wanted `detail`
    /// too, so one item was a record in a file and a broken event in a rule
    /// test. Now every reader asks `Event::is_eventbridge`.
    #[test]
    fn files_payloads_and_rule_tests_agree_on_what_an_eventbridge_event_is() {
        let item = serde_json::json!({"detail-type": "AWS API Call via CloudTrail", "eventSource": "iam.amazonaws.com",
                                      "eventName": "X", "eventTime": "2026-11-30T09:15:00Z"});
        let d = crate::envelope::file("items.jsonl", item.to_string().as_bytes()).expect("a readable file");
        assert_eq!((d.events.len(), d.malformed.len()), (0, 1), "a file refuses it");
        let (via, parts) = crate::handler::open(item.clone()).expect("a recognised payload");
        assert_eq!(via, crate::envelope::Via::EventBridge);
        let det = parts
            .into_iter()
            .next()
            .and_then(|(_, c)| c.ok())
            .map(|c| c.detect(&RuleSet::new(Vec::new()), &mut Workspace::default()));
        assert_eq!(det.map(|d| (d.counts.records, d.counts.malformed)), Some((0, 1)), "a payload refuses it");
        let text = format!(
            "{}tests:\n  - {{match: true, record: {item}}}\n  - {{match: false, record: {{eventSource: iam.amazonaws.com, eventName: Y, eventTime: t}}}}\n",
            rule_text("agree", "X")
        );
        let report = run_tests(&Rule::from_yaml("t.yaml", &text).expect("valid"), None, None);
        assert_eq!(report.passed, 1);
        assert!(report.failures.iter().any(|f| f.contains("detail")), "a rule test refuses it: {:?}", report.failures);
    }

    /// Defect: filter patterns were matched against JSON re-serialised from
    /// the parsed record, not the message CloudWatch Logs holds and matches
    /// ("Filter patterns make up the syntax that metric filters and
    /// subscription filters use to match terms in log events", CloudWatch
    /// Logs User Guide, Filter pattern syntax). An escape in the message
    /// (`\u0061` for `a`) is text to CloudWatch Logs; re-serialising turned
    /// it into the letter and matched a term the message does not hold.
    #[test]
    fn filter_patterns_read_the_delivered_message_text() {
        let rule = |id: &str, pattern: &str| {
            Rule::from_yaml(
                "t.yaml",
                &format!(
                    "id: {id}\ntitle: t\ndescription: d\nseverity: low\nfilter_pattern: '{pattern}'\naction: alert\n"
                ),
            )
            .expect("a valid rule")
        };
        let set = RuleSet::new(vec![rule("plain-term", "alice"), rule("escaped-term", "u0061lice")]);
        let message = r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2026-11-30T09:15:00Z","requestParameters":{"userName":"\u0061lice"}}"#;
        let from_logs = Event::from_text(message.to_string()).expect("a record");
        let ids =
            |e: &Event| set.evaluate(e, &mut Workspace::default()).iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&from_logs), vec!["escaped-term"], "the message as CloudWatch Logs holds it");
        // A record that came by EventBridge has no log text: it is read as
        // CloudTrail writes it to a log group, one compact JSON line.
        let from_eventbridge = Event::from_record(from_logs.detail().clone()).expect("a record");
        assert_eq!(ids(&from_eventbridge), vec!["plain-term"]);
        assert!(RuleSet::rule_matches(&set.rules()[1], &from_logs));
    }

    #[test]
    fn a_records_case_counts_the_alerts_of_a_window() {
        let call = |second: u32, ip: &str| {
            format!(
                "{{eventSource: signin.amazonaws.com, eventName: ConsoleLogin, eventTime: '2026-11-30T09:00:{second:02}Z', sourceIPAddress: {ip}, eventID: e-{second}, responseElements: {{ConsoleLogin: Failure}}}}"
            )
        };
        let burst: Vec<String> = (0..5).map(|s| call(s, "203.0.113.5")).collect();
        let spread: Vec<String> = (0..5).map(|s| call(s, &format!("203.0.113.{s}"))).collect();
        let text = format!(
            "id: guessing\ntitle: t\ndescription: d\nseverity: high\naction: alert\nevent_pattern: {{detail: {{eventName: [ConsoleLogin]}}}}\nthreshold: {{count: 5, window: 5m, group_by: [sourceIPAddress]}}\ntests:\n  - {{match: true, record: {}}}\n  - {{match: false, record: {{eventSource: s3.amazonaws.com, eventName: GetObject, eventTime: t}}}}\n  - {{name: five from one address, records: [{}], alerts: 1}}\n  - {{name: five addresses, records: [{}], alerts: 0}}\n  - {{name: wrong on purpose, records: [{}], alerts: 2}}\n",
            call(0, "203.0.113.5"),
            burst.join(", "),
            spread.join(", "),
            burst.join(", ")
        );
        let rule = Rule::from_yaml("t.yaml", &text).expect("valid");
        let report = run_tests(&rule, None, None);
        assert_eq!(report.passed, 4, "{:?}", report.failures);
        assert_eq!(report.failures, vec!["wrong on purpose: expected 2 alerts, got 1".to_string()]);
    }

    fn sequence_text(id: &str, steps: &str) -> String {
        format!(
            "id: {id}\ntitle: t\ndescription: d\nseverity: high\naction: alert\nsequence: {{within: 30m, group_by: [requestParameters.userName], ordered: true, steps: [{steps}]}}\n"
        )
    }

    #[test]
    fn a_sequence_step_must_name_a_loaded_rule_that_is_not_a_sequence() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "chain.yaml", &sequence_text("my-chain", "iam-admin-policy-attached, no-such-rule"));
        let err = load(Some(dir.path())).expect_err("an unknown step is refused");
        assert!(err.to_string().contains("sequence.steps[1]: no rule has the id \"no-such-rule\""), "{err}");
        assert!(err.to_string().contains("chain.yaml"), "{err}");
        // A step may be a user's rule, alert or metric.
        write(dir.path(), "mine.yaml", &rule_text("no-such-rule", "CreateUser"));
        let rules = load(Some(dir.path())).expect("loads");
        assert_eq!(rules.iter().find(|r| r.id == "my-chain").and_then(Rule::sequence).map(|q| q.steps.len()), Some(2));
        // A disabled step is missing.
        write(dir.path(), DISABLED_FILE, "[no-such-rule]\n");
        assert!(load(Some(dir.path())).is_err());
        std::fs::remove_file(dir.path().join(DISABLED_FILE)).expect("rm");
        // A sequence is not a step.
        write(dir.path(), "outer.yaml", &sequence_text("outer", "my-chain, no-such-rule"));
        let err = load(Some(dir.path())).expect_err("a sequence step is refused");
        assert!(err.to_string().contains("is a sequence rule"), "{err}");
    }

    #[test]
    fn a_sequence_rule_has_no_pattern_and_only_records_cases() {
        let ok = sequence_text("seq", "a, b");
        let rule = Rule::from_yaml("t.yaml", &ok).expect("valid");
        assert!(matches!(rule.pattern, Pattern::Sequence(ref q) if q.within == 1_800_000 && q.ordered));
        for (bad, why) in [
            (format!("{ok}event_pattern: {{detail: {{eventName: [X]}}}}\n"), "no event_pattern"),
            (format!("{ok}tests:\n  - {{match: true, record: {{eventName: X}}}}\n"), "records cases"),
            (format!("{ok}dedup: {{period: 5m}}\n"), "no threshold, dedup"),
            (sequence_text("seq", "a"), "2 to 16"),
            (sequence_text("seq", "a, a"), "listed twice"),
            (sequence_text("seq", "seq, a"), "its own step"),
            (ok.replace("action: alert", "action: metric"), "only an alert rule"),
            (ok.replace("30m", "0"), "sequence.within"),
        ] {
            let err = Rule::from_yaml("t.yaml", &bad).expect_err(why);
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
        // Never matched by one record; compiled into a set without a pattern.
        let set = RuleSet::new(vec![rule.clone()]);
        let event = Event::from_record(serde_json::json!({"eventName": "X", "eventTime": "t"})).expect("a record");
        assert!(set.evaluate(&event, &mut Workspace::default()).is_empty());
        assert!(!RuleSet::rule_matches(&rule, &event));
        for s in [Selection::All, Selection::EventPatterns, Selection::FilterPatterns] {
            assert!(s.keeps(&rule));
        }
    }
}
