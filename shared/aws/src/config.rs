//! Configuration from environment variables, read and checked once at
//! cold start.

use std::path::PathBuf;

use serde::Deserialize;
use trailwatch_engine::rules::{Selection, Severity};
use trailwatch_engine::sink::{Format, Route};

use crate::cloudwatch::MetricsMode;

/// The function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TRAILWATCH_TOPIC_ARN`: the SNS topic alerts go to (required).
    pub topic_arn: String,
    /// `TRAILWATCH_METRICS`: `emf` (default), `api` or `off`.
    pub metrics: MetricsMode,
    /// `TRAILWATCH_NAMESPACE`: the CloudWatch namespace (default `trailwatch`).
    pub namespace: String,
    /// `TRAILWATCH_RULES_DIR`: a directory of rules added to the built-in pack.
    pub rules_dir: Option<PathBuf>,
    /// `TRAILWATCH_MATCH`: which rules this function evaluates.
    pub selection: Selection,
    /// `TRAILWATCH_STATE_TABLE`: the DynamoDB table of alert claims and
    /// observations ([`crate::dynamodb`]); `None`: no state.
    pub state_table: Option<String>,
    /// `TRAILWATCH_CLOCK`: what "now" is for lateness and leases: `wall`
    /// (the default) or `records` (the latest event time seen, for
    /// backfilling history through the functions).
    pub records_clock: bool,
    /// `TRAILWATCH_ROUTES`: topics besides the main one, each with the
    /// alerts it takes and their format (a JSON list, see [`RouteSetting`]).
    pub routes: Vec<(Route, String)>,
}

/// One route of `TRAILWATCH_ROUTES`: `[{"name": "chat", "topic_arn":
/// "arn:aws:sns:...", "format": "chat", "min_severity": "medium"},
/// {"name": "page", "topic_arn": "...", "min_severity": "critical",
/// "tags": ["attack.t1562.008"]}]`. A route with an empty `topic_arn` is
/// off (the template leaves optional topics empty).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSetting {
    pub name: String,
    pub topic_arn: String,
    #[serde(default)]
    pub min_severity: Option<Severity>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub format: Option<Format>,
}

/// A setting that is missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("set TRAILWATCH_TOPIC_ARN to the ARN of the SNS topic alerts go to")]
    MissingTopic,
    #[error("TRAILWATCH_TOPIC_ARN=\"{0}\" is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")]
    BadTopic(String),
    #[error("TRAILWATCH_METRICS=\"{0}\": use emf, api or off")]
    BadMetrics(String),
    #[error("TRAILWATCH_MATCH=\"{0}\": use all, event_pattern or filter_pattern")]
    BadMatch(String),
    #[error(
        "TRAILWATCH_NAMESPACE=\"{0}\": a CloudWatch namespace is 1-255 characters and may not start with \"AWS/\""
    )]
    BadNamespace(String),
    #[error("TRAILWATCH_STATE_TABLE=\"{0}\" is not a DynamoDB table name (3-255 characters: letters, digits, _ - .)")]
    BadStateTable(String),
    #[error("TRAILWATCH_CLOCK=\"{0}\": use wall (the default) or records (backfilling history)")]
    BadClock(String),
    #[error("TRAILWATCH_ROUTES: {0}; give a JSON list such as [{{\"name\": \"chat\", \"topic_arn\": \"arn:aws:sns:REGION:ACCOUNT:NAME\", \"format\": \"chat\", \"min_severity\": \"medium\"}}]")]
    BadRoutes(String),
}

impl Config {
    /// Read the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read settings through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let topic_arn = get("TRAILWATCH_TOPIC_ARN").filter(|s| !s.is_empty()).ok_or(ConfigError::MissingTopic)?;
        let parts: Vec<&str> = topic_arn.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
            return Err(ConfigError::BadTopic(topic_arn));
        }
        let metrics = match get("TRAILWATCH_METRICS").as_deref().unwrap_or("emf") {
            "emf" | "" => MetricsMode::Emf,
            "api" => MetricsMode::Api,
            "off" => MetricsMode::Off,
            other => return Err(ConfigError::BadMetrics(other.to_string())),
        };
        let namespace = get("TRAILWATCH_NAMESPACE").filter(|s| !s.is_empty()).unwrap_or_else(|| "trailwatch".into());
        if namespace.len() > 255 || namespace.starts_with("AWS/") {
            return Err(ConfigError::BadNamespace(namespace));
        }
        let rules_dir = get("TRAILWATCH_RULES_DIR").filter(|s| !s.is_empty()).map(PathBuf::from);
        let selection = match get("TRAILWATCH_MATCH").as_deref().unwrap_or("all") {
            "all" | "" => Selection::All,
            "event_pattern" => Selection::EventPatterns,
            "filter_pattern" => Selection::FilterPatterns,
            other => return Err(ConfigError::BadMatch(other.to_string())),
        };
        let state_table = get("TRAILWATCH_STATE_TABLE").filter(|s| !s.is_empty());
        if let Some(table) = &state_table {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
            if !(3..=255).contains(&table.len()) || !table.chars().all(allowed) {
                return Err(ConfigError::BadStateTable(table.clone()));
            }
        }
        let records_clock = match get("TRAILWATCH_CLOCK").as_deref().unwrap_or("wall") {
            "wall" | "" => false,
            "records" => true,
            other => return Err(ConfigError::BadClock(other.to_string())),
        };
        let routes = match get("TRAILWATCH_ROUTES").filter(|s| !s.trim().is_empty()) {
            None => Vec::new(),
            Some(text) => routes(&text)?,
        };
        Ok(Config { topic_arn, metrics, namespace, rules_dir, selection, state_table, records_clock, routes })
    }
}

fn is_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && !parts[5].is_empty()
}

/// `TRAILWATCH_ROUTES`, checked: unique names, topic ARNs; routes with an
/// empty ARN left out.
fn routes(text: &str) -> Result<Vec<(Route, String)>, ConfigError> {
    let settings: Vec<RouteSetting> =
        serde_json::from_str(text).map_err(|e| ConfigError::BadRoutes(format!("not a list of routes: {e}")))?;
    let mut out: Vec<(Route, String)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for s in settings {
        if s.name.is_empty() || !s.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ConfigError::BadRoutes(format!("route name \"{}\": use letters, digits, - and _", s.name)));
        }
        if names.contains(&s.name) {
            return Err(ConfigError::BadRoutes(format!("route \"{}\" is given twice", s.name)));
        }
        names.push(s.name.clone());
        if s.topic_arn.is_empty() {
            continue;
        }
        if !is_topic_arn(&s.topic_arn) {
            return Err(ConfigError::BadRoutes(format!(
                "route \"{}\": \"{}\" is not an SNS topic ARN",
                s.name, s.topic_arn
            )));
        }
        let route = Route {
            name: s.name,
            min_severity: s.min_severity.unwrap_or(Severity::Info),
            tags: s.tags,
            format: s.format.unwrap_or(Format::Alert),
        };
        out.push((route, s.topic_arn));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn checked_once_with_clear_errors() {
        assert_eq!(cfg(&[]), Err(ConfigError::MissingTopic));
        assert!(matches!(cfg(&[("TRAILWATCH_TOPIC_ARN", "my-topic")]), Err(ConfigError::BadTopic(_))));
        let arn = ("TRAILWATCH_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts");
        let c = cfg(&[arn]).expect("valid");
        assert_eq!((c.metrics, c.namespace.as_str(), c.rules_dir), (MetricsMode::Emf, "trailwatch", None));
        assert_eq!(cfg(&[arn, ("TRAILWATCH_METRICS", "api")]).map(|c| c.metrics), Ok(MetricsMode::Api));
        assert!(matches!(cfg(&[arn, ("TRAILWATCH_METRICS", "x")]), Err(ConfigError::BadMetrics(_))));
        assert!(matches!(cfg(&[arn, ("TRAILWATCH_NAMESPACE", "AWS/X")]), Err(ConfigError::BadNamespace(_))));
        assert_eq!(c.selection, Selection::All);
        assert_eq!(
            cfg(&[arn, ("TRAILWATCH_MATCH", "filter_pattern")]).map(|c| c.selection),
            Ok(Selection::FilterPatterns)
        );
        assert!(matches!(cfg(&[arn, ("TRAILWATCH_MATCH", "x")]), Err(ConfigError::BadMatch(_))));
        assert_eq!(c.state_table, None);
        assert!(!c.records_clock);
        assert_eq!(cfg(&[arn, ("TRAILWATCH_CLOCK", "records")]).map(|c| c.records_clock), Ok(true));
        assert!(matches!(cfg(&[arn, ("TRAILWATCH_CLOCK", "utc")]), Err(ConfigError::BadClock(_))));
        assert_eq!(
            cfg(&[arn, ("TRAILWATCH_STATE_TABLE", "trailwatch-state")]).map(|c| c.state_table),
            Ok(Some("trailwatch-state".into()))
        );
        for bad in ["ab", "my table", "arn:aws:dynamodb:us-east-1:123456789012:table/t", &"t".repeat(256)] {
            assert!(
                matches!(cfg(&[arn, ("TRAILWATCH_STATE_TABLE", bad)]), Err(ConfigError::BadStateTable(_))),
                "{bad}"
            );
        }
    }
}
