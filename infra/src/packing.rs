//! Packing rules into what AWS accepts: event patterns into as few
//! EventBridge rules as the pattern-size quota allows, and filter patterns
//! into one subscription filter pattern.

use serde_json::{json, Value};
use trailwatch_engine::filter::{FilterPattern, PatternKind};
use trailwatch_engine::pattern::{EventPattern, MAX_PATTERN_LEN};

use crate::InfraError;

/// Rule ids packed into one EventBridge rule, with the combined pattern.
#[derive(Debug, Clone)]
pub struct PatternGroup {
    pub rules: Vec<String>,
    pub pattern: Value,
}

/// Pack event patterns, in order, into as few EventBridge patterns as fit:
/// a group of one is the pattern itself; more are alternatives of one
/// top-level `$or`, kept only while EventBridge would accept the result
/// (at most `MAX_PATTERN_LEN` characters, bounded `$or` combinations).
pub fn group_patterns(patterns: &[(String, Value)]) -> Result<Vec<PatternGroup>, InfraError> {
    let mut groups: Vec<PatternGroup> = Vec::new();
    // The group being filled: its members and, once it has more than one,
    // their combined pattern (already validated).
    let mut current: Vec<(String, Value)> = Vec::new();
    let mut combined: Option<Value> = None;
    for (id, pattern) in patterns {
        if !current.is_empty() {
            let mut candidate = current.clone();
            candidate.push((id.clone(), pattern.clone()));
            if let Some(c) = combine(&candidate) {
                current = candidate;
                combined = Some(c);
                continue;
            }
            groups.push(finish(std::mem::take(&mut current), combined.take())?);
        }
        current.push((id.clone(), pattern.clone()));
    }
    if !current.is_empty() {
        groups.push(finish(current, combined)?);
    }
    Ok(groups)
}

/// A group from its members and, for more than one, their combined pattern.
fn finish(members: Vec<(String, Value)>, combined: Option<Value>) -> Result<PatternGroup, InfraError> {
    let rules = members.iter().map(|(id, _)| id.clone()).collect();
    let pattern = match (combined, members) {
        (Some(pattern), _) => pattern,
        (None, mut members) => {
            let (id, only) = members.swap_remove(0);
            EventPattern::from_value(&only).map_err(|source| InfraError::PatternRefused { rule: id, source })?;
            only
        }
    };
    Ok(PatternGroup { rules, pattern })
}

/// `{"$or": [every alternative]}` if EventBridge would accept it.
fn combine(members: &[(String, Value)]) -> Option<Value> {
    let mut alternatives = Vec::new();
    for (_, p) in members {
        // A pattern that is only a top-level `$or` contributes its branches.
        match p.as_object().filter(|m| m.len() == 1).and_then(|m| m.get("$or")).and_then(Value::as_array) {
            Some(branches) => alternatives.extend(branches.iter().cloned()),
            None => alternatives.push(p.clone()),
        }
    }
    let combined = json!({ "$or": alternatives });
    let len = combined.to_string().chars().count();
    (len <= MAX_PATTERN_LEN && EventPattern::from_value(&combined).is_ok()).then_some(combined)
}

/// One subscription filter pattern selecting what any of these JSON filter
/// patterns selects, if CloudWatch Logs would accept it.
pub fn union_filter(patterns: &[&FilterPattern]) -> Option<String> {
    match patterns {
        [] => None,
        [only] => Some(only.text().trim().to_string()),
        many => {
            let mut parts = Vec::new();
            for p in many {
                if p.kind() != PatternKind::Json {
                    return None;
                }
                let inner = p.text().trim().strip_prefix('{')?.strip_suffix('}')?.trim();
                parts.push(format!("({inner})"));
            }
            let text = format!("{{ {} }}", parts.join(" || "));
            FilterPattern::parse(&text).ok().map(|_| text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_pack_within_the_size_quota() {
        let patterns: Vec<(String, Value)> = (0..60)
            .map(|i| {
                (
                    format!("r{i}"),
                    json!({"source": ["aws.iam"], "detail": {"eventName": [format!("SomeRatherLongEventName{i:03}")]}}),
                )
            })
            .collect();
        let groups = group_patterns(&patterns).expect("groups");
        assert!(groups.len() > 1 && groups.len() < 60, "{} groups", groups.len());
        let mut seen = Vec::new();
        for g in &groups {
            assert!(g.pattern.to_string().chars().count() <= MAX_PATTERN_LEN);
            let p = EventPattern::from_value(&g.pattern).expect("valid");
            for (id, _) in patterns.iter().filter(|(id, _)| g.rules.contains(id)) {
                let n: usize = id[1..].parse().expect("number");
                let event =
                    json!({"source": "aws.iam", "detail": {"eventName": format!("SomeRatherLongEventName{n:03}")}});
                assert!(p.matches(&event), "group misses {id}");
            }
            seen.extend(g.rules.clone());
        }
        assert_eq!(seen, patterns.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
    }

    #[test]
    fn filter_rules_join_into_one_subscription_pattern() {
        let a = FilterPattern::parse("{ $.eventName = \"A\" }").expect("parses");
        let b = FilterPattern::parse("{($.x = 1) || ($.y = 2)}").expect("parses");
        let text = union_filter(&[&a, &b]).expect("joins");
        let joined = FilterPattern::parse(&text).expect("parses");
        assert!(
            joined.matches(r#"{"eventName":"A"}"#)
                && joined.matches(r#"{"y":2}"#)
                && !joined.matches(r#"{"eventName":"B"}"#)
        );
        let text_pattern = FilterPattern::parse("ERROR").expect("parses");
        assert_eq!(union_filter(&[&a, &text_pattern]), None);
    }
}
