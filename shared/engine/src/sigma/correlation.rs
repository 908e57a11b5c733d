//! Correlation rules (correlation-rules specification) and the obsolete
//! `| count() by x > N` aggregation, mapped onto trailwatch's stateful
//! rule types: [`Threshold`] and [`Sequence`].

use serde_json::{Map, Value};

use super::condition::Aggregation;
use super::error::Problem;
use crate::rules::{Sequence, Threshold, MAX_SEQUENCE_STEPS};
use crate::state::{parse_duration, Millis};

/// The correlation types (correlation-rules specification, "Correlation type").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
}

/// What a correlation becomes in trailwatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stateful {
    /// `event_count`, `value_count`.
    Threshold(Threshold),
    /// `temporal`, `temporal_ordered`; the steps are the referenced rules.
    Sequence(Sequence),
}

/// A parsed correlation rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    pub kind: CorrelationType,
    /// The referenced rules, as written (ids or names); ids once
    /// [`resolve_correlations`](super::resolve_correlations) ran.
    pub rules: Vec<String>,
    /// Grouping fields, aliases replaced by their field.
    pub group_by: Vec<String>,
    pub timespan: Millis,
    /// Whether the referenced rules also alert on their own (`generate`).
    pub generate: bool,
    pub stateful: Stateful,
}

fn refused(key: &str, reason: impl Into<String>) -> Problem {
    Problem::refused(Some(key.to_string()), reason)
}

fn invalid(key: &str, reason: impl Into<String>) -> Problem {
    Problem::invalid(Some(key.to_string()), reason)
}

fn strings(v: Option<&Value>, key: &str) -> Result<Vec<String>, Problem> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid(key, format!("correlation.{key} must be a list of strings"))),
        Some(_) => Err(invalid(key, format!("correlation.{key} must be a list of strings"))),
    }
}

fn timespan(v: Option<&Value>, key: &str) -> Result<Millis, Problem> {
    let text =
        v.and_then(Value::as_str).ok_or_else(|| invalid(key, format!("{key} is required: write 30s, 5m, 2h or 1d")))?;
    let ms = parse_duration(text).map_err(|e| invalid(key, format!("{key}: {e}")))?;
    if ms == 0 {
        return Err(invalid(key, format!("{key}: give a time such as 10m")));
    }
    Ok(ms)
}

/// Parse the `correlation` section.
pub(crate) fn parse(section: &Value) -> Result<Correlation, Problem> {
    let Value::Object(map) = section else { return Err(invalid("correlation", "correlation must be a map")) };
    let kind = match map.get("type").and_then(Value::as_str) {
        Some("event_count") => CorrelationType::EventCount,
        Some("value_count") => CorrelationType::ValueCount,
        Some("temporal") => CorrelationType::Temporal,
        Some("temporal_ordered") => CorrelationType::TemporalOrdered,
        Some(t @ ("value_sum" | "value_avg" | "value_percentile")) => {
            return Err(refused("type", format!("correlation type {t} is not supported: trailwatch counts events and distinct values, it does not sum, average or rank them")));
        }
        Some(t) => {
            return Err(invalid(
                "type",
                format!(
                "unknown correlation type \"{t}\"; the types are event_count, value_count, temporal, temporal_ordered"
            ),
            ))
        }
        None => return Err(invalid("correlation", "correlation.type is required")),
    };
    let rules = strings(map.get("rules"), "rules")?;
    if rules.is_empty() {
        return Err(invalid("rules", "correlation.rules must name at least one rule"));
    }
    let mut group_by = strings(map.get("group-by"), "group-by")?;
    let timespan = timespan(map.get("timespan"), "timespan")?;
    let generate = match map.get("generate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("generate", "correlation.generate is true or false")),
    };
    if let Some(aliases) = map.get("aliases") {
        let Value::Object(aliases) = aliases else {
            return Err(invalid("aliases", "correlation.aliases must be a map"));
        };
        for (alias, mapping) in aliases {
            let Value::Object(mapping) = mapping else {
                return Err(invalid("aliases", format!("alias {alias} must map rule names to fields")));
            };
            let fields: Vec<&str> = mapping.values().filter_map(Value::as_str).collect();
            let Some(first) = fields.first() else {
                return Err(invalid("aliases", format!("alias {alias} maps no rule to a field")));
            };
            if fields.len() != mapping.len() || fields.iter().any(|f| f != first) {
                return Err(refused(
                    "aliases",
                    format!("alias {alias} maps rules to different fields: trailwatch groups every rule by the same field paths (an alias naming one field for all rules is accepted)"),
                ));
            }
            for g in group_by.iter_mut().filter(|g| *g == alias) {
                *g = first.to_string();
            }
        }
    }
    let condition = map.get("condition");
    let stateful = match kind {
        CorrelationType::EventCount | CorrelationType::ValueCount => {
            let Some(Value::Object(cond)) = condition else {
                return Err(invalid("condition", "correlation.condition is required: a map such as {gte: 10}"));
            };
            let count = lower_bound(cond)?;
            let distinct = match (kind, cond.get("field")) {
                (CorrelationType::ValueCount, Some(Value::String(f))) => Some(f.clone()),
                (CorrelationType::ValueCount, Some(Value::Array(fs))) if fs.len() == 1 => {
                    fs[0].as_str().map(str::to_string)
                }
                (CorrelationType::ValueCount, Some(Value::Array(_))) => {
                    return Err(refused("field", "value_count over several fields is not supported: trailwatch counts the distinct values of one field"));
                }
                (CorrelationType::ValueCount, _) => {
                    return Err(invalid("condition", "value_count needs condition.field"))
                }
                _ => None,
            };
            Stateful::Threshold(Threshold { count, window: timespan, group_by: group_by.clone(), distinct })
        }
        CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
            if let Some(c) = condition {
                let Value::Object(cond) = c else {
                    return Err(invalid("condition", "correlation.condition must be a map"));
                };
                let n = lower_bound(cond)?;
                if n != rules.len() as u64 {
                    return Err(refused("condition", format!("a temporal condition of {n} of {} rules is not supported: trailwatch's sequences need every referenced rule", rules.len())));
                }
            }
            if rules.len() > MAX_SEQUENCE_STEPS {
                return Err(refused("rules", format!("a sequence has at most {MAX_SEQUENCE_STEPS} steps")));
            }
            Stateful::Sequence(Sequence {
                within: timespan,
                group_by: group_by.clone(),
                ordered: kind == CorrelationType::TemporalOrdered,
                steps: rules.clone(),
            })
        }
    };
    Ok(Correlation { kind, rules, group_by, timespan, generate, stateful })
}

/// The count from `gte N` (N) or `gt N` (N + 1); anything with an upper
/// bound is refused: such a condition is only known once the window ends.
fn lower_bound(cond: &Map<String, Value>) -> Result<u64, Problem> {
    let mut bound = None;
    for (op, v) in cond {
        if op == "field" {
            continue;
        }
        let n = v.as_u64().ok_or_else(|| invalid("condition", format!("condition.{op} takes a whole number")))?;
        match op.as_str() {
            "gte" | "gt" if bound.is_some() => return Err(invalid("condition", "give one lower bound, gt or gte")),
            "gte" => bound = Some(n),
            "gt" => bound = Some(n.saturating_add(1)),
            "lt" | "lte" | "eq" | "neq" => {
                return Err(refused("condition", format!("condition {op} cannot alert on a stream: whether a count stays below or at a value is only known once the window has passed; trailwatch alerts when a count reaches gte/gt")));
            }
            other => {
                return Err(invalid(
                    "condition",
                    format!("unknown condition \"{other}\"; use gt, gte, lt, lte, eq or neq"),
                ))
            }
        }
    }
    match bound {
        Some(0) => Err(refused("condition", "a count of at least 0 is always true")),
        Some(n) => Ok(n),
        None => Err(invalid("condition", "the condition needs gt or gte")),
    }
}

/// The obsolete `| count() by x > N` with `timeframe` as a threshold.
pub(crate) fn from_aggregation(agg: &Aggregation, timeframe: Option<&Value>) -> Result<Threshold, Problem> {
    let count = match agg.op.as_str() {
        ">" => agg.value.saturating_add(1),
        ">=" => agg.value,
        op => {
            return Err(refused("condition", format!("the aggregation comparison \"{op}\" cannot alert on a stream: whether a count stays below or at a value is only known once the window has passed; use > or >=")));
        }
    };
    if count == 0 {
        return Err(refused("condition", "a count of at least 0 is always true"));
    }
    let window = match timeframe {
        Some(v) => timespan(Some(v), "timeframe")?,
        None => {
            return Err(refused(
                "condition",
                "an aggregation without timeframe counts forever: give a timeframe such as 10m",
            ))
        }
    };
    Ok(Threshold { count, window, group_by: agg.group_by.clone(), distinct: agg.distinct.clone() })
}
