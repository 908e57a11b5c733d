//! Detection rules as data: loading, validating, and compiling a rule set.
//!
//! A rule is one YAML file: `id`, `title`, `description`, `severity`,
//! `tags`, exactly one of `event_pattern` (EventBridge) or `filter_pattern`
//! (CloudWatch Logs), an `action` (`alert` or `metric`), optional
//! `suppress` patterns of known-good activity, and `tests`. The built-in
//! pack ships inside the binaries; a user's directory adds rules, replaces
//! built-in ones with the same id, and disables ids listed in its
//! `disabled.yaml`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Event;
use crate::filter::FilterPattern;
use crate::pattern::{EventPattern, PatternSet, Scratch};

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

/// How a rule matches.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// An EventBridge event pattern, on the whole event.
    Event(EventPattern),
    /// A CloudWatch Logs filter pattern, on the record (the log message).
    Filter(FilterPattern),
}

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
    /// Whether the rule must match.
    #[serde(rename = "match")]
    pub expect: bool,
}

/// A loaded, validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub matcher: Matcher,
    pub action: Action,
    pub suppress: Vec<EventPattern>,
    pub tests: Vec<RuleTest>,
    /// Where the rule was loaded from (`builtin:<file>` or a path).
    pub origin: String,
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
    tests: Vec<RuleTest>,
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

/// The file, in a user's rules directory, listing rule ids to disable.
pub const DISABLED_FILE: &str = "disabled.yaml";

impl Rule {
    /// Parse and validate one rule file.
    pub fn from_yaml(origin: &str, text: &str) -> Result<Rule, RuleError> {
        let invalid = |reason: String| RuleError::Invalid { file: origin.to_string(), reason };
        let file: RuleFile = serde_saphyr::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if file.id.trim().is_empty() || !file.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(invalid(format!(
                "rule id \"{}\" must be non-empty and use only letters, digits, '-', '_' and '.'",
                file.id
            )));
        }
        let matcher = match (file.event_pattern, file.filter_pattern) {
            (Some(p), None) => Matcher::Event(
                EventPattern::from_value(&p).map_err(|e| invalid(format!("event_pattern: {e}")))?,
            ),
            (None, Some(p)) => Matcher::Filter(
                FilterPattern::parse(&p).map_err(|e| invalid(format!("filter_pattern: {e}")))?,
            ),
            (None, None) => return Err(invalid("give the rule an event_pattern or a filter_pattern".into())),
            (Some(_), Some(_)) => {
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
            if t.record.is_some() == t.file.is_some() {
                return Err(invalid(format!("tests[{i}]: give exactly one of record and file")));
            }
        }
        Ok(Rule {
            id: file.id,
            title: file.title,
            description: file.description,
            severity: file.severity,
            tags: file.tags,
            matcher,
            action: file.action,
            suppress,
            tests: file.tests,
            origin: origin.to_string(),
        })
    }
}

/// Load the built-in pack and, optionally, a user's directory on top of it.
pub fn load(user_dir: Option<&Path>) -> Result<Vec<Rule>, RuleError> {
    let mut rules = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (name, text) in BUILTIN {
        let rule = Rule::from_yaml(&format!("builtin:{name}"), text)?;
        if let Some(other) = seen.insert(rule.id.clone(), rule.origin.clone()) {
            return Err(RuleError::Duplicate { file: rule.origin, id: rule.id, other });
        }
        rules.push(rule);
    }
    let Some(dir) = user_dir else {
        return Ok(rules);
    };
    let (user, disabled) = load_dir(dir)?;
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
    Ok(rules)
}

/// The rules of one directory (`*.yaml`, `*.yml`, recursively) and the ids
/// its `disabled.yaml` lists.
pub fn load_dir(dir: &Path) -> Result<(Vec<Rule>, HashSet<String>), RuleError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut rules = Vec::new();
    let mut disabled = HashSet::new();
    for path in files {
        let text = std::fs::read_to_string(&path)
            .map_err(|source| RuleError::Io { path: path.display().to_string(), source })?;
        if path.file_name().is_some_and(|n| n == DISABLED_FILE) {
            let ids: Vec<String> = serde_saphyr::from_str(&text).map_err(|e| RuleError::Invalid {
                file: path.display().to_string(),
                reason: format!("expected a list of rule ids: {e}"),
            })?;
            disabled.extend(ids);
            continue;
        }
        rules.push(Rule::from_yaml(&path.display().to_string(), &text)?);
    }
    Ok((rules, disabled))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RuleError> {
    let io = |source| RuleError::Io { path: dir.display().to_string(), source };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Rules compiled for matching: every event pattern in one shared
/// structure, every suppression in another.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Pattern `i` of `patterns` belongs to rule `pattern_rule[i]`.
    patterns: PatternSet,
    pattern_rule: Vec<usize>,
    filters: Vec<usize>,
    suppressions: PatternSet,
    suppression_rule: Vec<usize>,
}

/// Per-thread working memory for [`RuleSet::evaluate`].
#[derive(Debug, Default)]
pub struct Workspace {
    scratch: Scratch,
    hits: Vec<usize>,
    suppressed: Vec<usize>,
    text: String,
}

impl RuleSet {
    /// Compile rules.
    pub fn new(rules: Vec<Rule>) -> RuleSet {
        let mut pattern_rule = Vec::new();
        let mut patterns = Vec::new();
        let mut filters = Vec::new();
        let mut suppression_rule = Vec::new();
        let mut suppressions = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            match &rule.matcher {
                Matcher::Event(p) => {
                    pattern_rule.push(i);
                    patterns.push(p);
                }
                Matcher::Filter(_) => filters.push(i),
            }
            for s in &rule.suppress {
                suppression_rule.push(i);
                suppressions.push(s);
            }
        }
        RuleSet {
            patterns: PatternSet::new(patterns),
            suppressions: PatternSet::new(suppressions),
            pattern_rule,
            filters,
            suppression_rule,
            rules,
        }
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rules that match this event and are not suppressed for it, in
    /// load order.
    pub fn evaluate<'a>(&'a self, event: &Event, ws: &mut Workspace) -> Vec<&'a Rule> {
        let mut matched: Vec<usize> = Vec::new();
        self.patterns.matches_into(event.value(), &mut ws.scratch, &mut ws.hits);
        matched.extend(ws.hits.iter().map(|&p| self.pattern_rule[p]));
        if !self.filters.is_empty() {
            // Filter patterns read the record as CloudWatch Logs holds it:
            // one compact JSON line, in the record's own key order.
            ws.text.clear();
            if let Ok(text) = serde_json::to_string(event.detail()) {
                ws.text = text;
            }
            for &i in &self.filters {
                if let Matcher::Filter(f) = &self.rules[i].matcher {
                    if f.matches_value(&ws.text, event.detail()) {
                        matched.push(i);
                    }
                }
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

    /// The verdict of one rule alone on one event, suppressions applied.
    pub fn rule_matches(rule: &Rule, event: &Event) -> bool {
        let hit = match &rule.matcher {
            Matcher::Event(p) => p.matches(event.value()),
            Matcher::Filter(f) => {
                let text = serde_json::to_string(event.detail()).unwrap_or_default();
                f.matches_value(&text, event.detail())
            }
        };
        hit && !rule.suppress.iter().any(|s| s.matches(event.value()))
    }
}

/// The outcome of one rule's tests.
#[derive(Debug)]
pub struct TestReport {
    pub rule: String,
    pub passed: usize,
    /// Each failed case, described.
    pub failures: Vec<String>,
}

/// Run a rule's tests. `base` resolves `file:` paths of user rules;
/// built-in tests carry their records inline.
pub fn run_tests(rule: &Rule, base: Option<&Path>) -> TestReport {
    let mut report = TestReport { rule: rule.id.clone(), passed: 0, failures: Vec::new() };
    if rule.tests.is_empty() {
        report.failures.push("the rule has no tests: add one record it must match and one it must not".into());
    }
    for (i, t) in rule.tests.iter().enumerate() {
        let label = t.name.clone().unwrap_or_else(|| format!("tests[{i}]"));
        let record = match (&t.record, &t.file, base) {
            (Some(r), _, _) => Ok(r.clone()),
            (None, Some(f), Some(base)) => std::fs::read_to_string(base.join(f))
                .map_err(|e| format!("{f}: {e}"))
                .and_then(|s| serde_json::from_str(&s).map_err(|e| format!("{f}: {e}"))),
            _ => Err("no record".to_string()),
        };
        let verdict = record.and_then(|r| {
            let event = if r.get("detail-type").is_some() { Event::from_eventbridge(r) } else { Event::from_record(r) };
            event.map_err(|e| e.to_string()).map(|e| RuleSet::rule_matches(rule, &e))
        });
        match verdict {
            Ok(v) if v == t.expect => report.passed += 1,
            Ok(v) => report.failures.push(format!("{label}: expected match={}, got match={v}", t.expect)),
            Err(e) => report.failures.push(format!("{label}: {e}")),
        }
    }
    report
}
