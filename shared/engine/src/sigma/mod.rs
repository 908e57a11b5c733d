//! The Sigma rule language (SigmaHQ specification v2.1.0): rule files
//! parsed into [`SigmaRule`]s that match CloudTrail records, and
//! correlation rules mapped onto trailwatch's thresholds and sequences.
//!
//! Semantics follow the specification (`sigma-rules-specification.md`,
//! `sigma-appendix-modifiers.md`, `sigma-correlation-rules-specification.md`);
//! where it is silent, `docs/sigma.md` records the decision taken for
//! CloudTrail records and the SigmaHQ rules that rely on it. Values are
//! compiled once at load; matching does not re-parse.

mod condition;
mod correlation;
mod detection;
mod error;
mod field;
mod modifier;
mod prefilter;
mod string;
mod time;

use std::collections::HashMap;

use serde_json::Value;

pub use correlation::{Correlation, CorrelationType, Stateful};
pub use detection::Detection;
pub use error::SigmaError;

use crate::rules::{Severity, Threshold};
use error::Problem;

/// Options for loading Sigma rules.
#[derive(Debug, Clone, Default)]
pub struct SigmaOptions {
    /// Values of `expand` placeholders, by name without the `%`s. A rule
    /// using a placeholder not listed here is refused.
    pub placeholders: HashMap<String, Vec<String>>,
}

/// A rule's `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    fn parse(text: &str) -> Option<Level> {
        Some(match text {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// trailwatch's severity: `informational` is `info`, the others by name.
    pub fn severity(self) -> Severity {
        match self {
            Level::Informational => Severity::Info,
            Level::Low => Severity::Low,
            Level::Medium => Severity::Medium,
            Level::High => Severity::High,
            Level::Critical => Severity::Critical,
        }
    }
}

/// A rule's `logsource`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logsource {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
    pub definition: Option<String>,
}

/// What a rule does: match records, or correlate other rules' matches.
#[derive(Debug, Clone)]
pub enum SigmaBody {
    /// A detection; `threshold` when its condition ends in the obsolete
    /// `| count() ... > N` aggregation (with `timeframe`).
    Detection { detection: Detection, threshold: Option<Threshold> },
    /// A correlation rule.
    Correlation(Correlation),
}

/// One Sigma rule (one YAML document).
#[derive(Debug, Clone)]
pub struct SigmaRule {
    pub id: Option<String>,
    pub name: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub status: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub modified: Option<String>,
    pub references: Vec<String>,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    pub level: Option<Level>,
    pub logsource: Logsource,
    pub fields: Vec<String>,
    pub body: SigmaBody,
    /// The file it came from.
    pub origin: String,
}

impl SigmaRule {
    /// Whether the record (one CloudTrail event, as JSON) matches the
    /// detection; always false for a correlation.
    pub fn matches(&self, record: &Value) -> bool {
        match &self.body {
            SigmaBody::Detection { detection, .. } => detection.matches(record),
            SigmaBody::Correlation(_) => false,
        }
    }

    /// An EventBridge event pattern (`{"detail": {"eventSource": [...],
    /// "eventName": [...]}}`) that every record this rule matches also
    /// matches (as `{"detail": record}`); `None` when the rule constrains
    /// neither field, can match no single record, or is a correlation.
    pub fn prefilter(&self) -> Option<Value> {
        match &self.body {
            SigmaBody::Detection { detection, .. } => prefilter::prefilter(detection),
            SigmaBody::Correlation(_) => None,
        }
    }

    /// Every field path the rule reads: its detection's fields (and
    /// `fieldref` targets), or a correlation's grouping and counted fields.
    pub fn fields(&self) -> Vec<String> {
        match &self.body {
            SigmaBody::Detection { detection, threshold } => {
                let mut f = detection.fields();
                for extra in threshold.iter().flat_map(|t| t.group_by.iter().chain(t.distinct.iter())) {
                    if !f.contains(extra) {
                        f.push(extra.clone());
                    }
                }
                f
            }
            SigmaBody::Correlation(c) => {
                let mut f = c.group_by.clone();
                if let Stateful::Threshold(Threshold { distinct: Some(d), .. }) = &c.stateful {
                    f.push(d.clone());
                }
                f
            }
        }
    }

    /// trailwatch's severity for the rule's level (`medium` when none).
    pub fn severity(&self) -> Severity {
        self.level.map_or(Severity::Medium, Level::severity)
    }
}

/// Whether text looks like a Sigma rule: a top-level `title:` and a
/// top-level `detection:` or `correlation:`.
pub fn looks_like_sigma(text: &str) -> bool {
    let top = |key: &str| text.lines().any(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':')));
    top("title") && (top("detection") || top("correlation"))
}

/// The line (0-based) each non-empty YAML document starts at.
fn document_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut current = 0;
    let mut has_content = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("---") {
            if has_content {
                starts.push(current);
            }
            current = i;
            has_content = false;
        } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            has_content = true;
        }
    }
    if has_content {
        starts.push(current);
    }
    starts
}

/// Parse a Sigma file (one or more YAML documents) into rules.
pub fn parse_file(origin: &str, text: &str, options: &SigmaOptions) -> Result<Vec<SigmaRule>, SigmaError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| SigmaError::Invalid {
        origin: origin.to_string(),
        line: e.location().map(|l| l.line()),
        reason: format!("not valid YAML: {e}"),
    })?;
    let starts = document_starts(text);
    let mut rules = Vec::with_capacity(docs.len());
    for (i, doc) in docs.iter().enumerate() {
        let start = starts.get(i).copied().unwrap_or(0);
        rules.push(parse_document(origin, doc, options).map_err(|p| p.locate(origin, text, start))?);
    }
    if rules.is_empty() {
        return Err(SigmaError::Invalid {
            origin: origin.to_string(),
            line: None,
            reason: "the file holds no rule".into(),
        });
    }
    Ok(rules)
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn list_of(map: &serde_json::Map<String, Value>, key: &str) -> Result<Vec<String>, Problem> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => Ok(items.iter().filter_map(|i| text_of(Some(i))).collect()),
        Some(_) => Err(Problem::invalid(Some(key.to_string()), format!("{key} must be a list of strings"))),
    }
}

fn parse_document(origin: &str, doc: &Value, options: &SigmaOptions) -> Result<SigmaRule, Problem> {
    let Value::Object(map) = doc else {
        return Err(Problem::invalid(None, "a Sigma rule is a YAML map with title and detection or correlation"));
    };
    let title = match map.get("title") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
        _ => return Err(Problem::invalid(Some("title".into()), "title is required (a string)")),
    };
    let level = match map.get("level") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(Level::parse).ok_or_else(|| {
            Problem::invalid(Some("level".into()), "level is one of informational, low, medium, high, critical")
        })?),
    };
    let logsource = match map.get("logsource") {
        Some(Value::Object(l)) => Logsource {
            category: text_of(l.get("category")),
            product: text_of(l.get("product")),
            service: text_of(l.get("service")),
            definition: text_of(l.get("definition")),
        },
        None | Some(Value::Null) => Logsource::default(),
        Some(_) => return Err(Problem::invalid(Some("logsource".into()), "logsource must be a map")),
    };
    let body = match (map.get("detection"), map.get("correlation")) {
        (Some(_), Some(_)) => {
            return Err(Problem::invalid(
                Some("correlation".into()),
                "a rule has either detection or correlation, not both",
            ));
        }
        (None, None) => return Err(Problem::invalid(Some("title".into()), "a rule needs detection or correlation")),
        (Some(d), None) => {
            if !map.contains_key("logsource") {
                return Err(Problem::invalid(Some("detection".into()), "logsource is required with detection"));
            }
            let compiled = detection::compile(d, &options.placeholders)?;
            if compiled.near {
                return Err(Problem::refused(
                    Some("condition".into()),
                    "the obsolete near aggregation is not supported: write a temporal correlation rule instead",
                ));
            }
            let timeframe = d.get("timeframe").or_else(|| map.get("timeframe"));
            let threshold = match &compiled.aggregation {
                Some(agg) => Some(correlation::from_aggregation(agg, timeframe)?),
                None => None,
            };
            SigmaBody::Detection { detection: compiled.detection, threshold }
        }
        (None, Some(c)) => SigmaBody::Correlation(correlation::parse(c)?),
    };
    Ok(SigmaRule {
        id: text_of(map.get("id")),
        name: text_of(map.get("name")),
        title,
        description: text_of(map.get("description")),
        status: text_of(map.get("status")),
        author: text_of(map.get("author")),
        date: text_of(map.get("date")),
        modified: text_of(map.get("modified")),
        references: list_of(map, "references")?,
        tags: list_of(map, "tags")?,
        falsepositives: list_of(map, "falsepositives")?,
        level,
        logsource,
        fields: list_of(map, "fields")?,
        body,
        origin: origin.to_string(),
    })
}

/// Replace rule names in correlations' `rules` (and sequence steps) with
/// the ids of the rules that carry them; every reference must name a rule
/// among `rules`, by id or by name.
pub fn resolve_correlations(rules: &mut [SigmaRule]) -> Result<(), SigmaError> {
    let known: Vec<(Option<String>, Option<String>)> = rules.iter().map(|r| (r.id.clone(), r.name.clone())).collect();
    for rule in rules.iter_mut() {
        let SigmaBody::Correlation(c) = &mut rule.body else { continue };
        let mut resolved = Vec::with_capacity(c.rules.len());
        for reference in &c.rules {
            let err = |reason: String| SigmaError::Invalid { origin: rule.origin.clone(), line: None, reason };
            let id = if known.iter().any(|(id, _)| id.as_deref() == Some(reference)) {
                reference.clone()
            } else {
                match known.iter().find(|(_, name)| name.as_deref() == Some(reference)) {
                    Some((Some(id), _)) => id.clone(),
                    Some((None, _)) => {
                        return Err(err(format!("correlation \"{}\": rule {reference} has no id: give it one", rule.title)))
                    }
                    None => {
                        return Err(err(format!(
                            "correlation \"{}\" references \"{reference}\", which is neither the id nor the name of a loaded rule",
                            rule.title
                        )))
                    }
                }
            };
            resolved.push(id);
        }
        if let Stateful::Sequence(s) = &mut c.stateful {
            s.steps = resolved.clone();
        }
        c.rules = resolved;
    }
    Ok(())
}
