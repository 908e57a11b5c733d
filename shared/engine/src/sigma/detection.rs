//! A compiled `detection`: search identifiers (maps, lists of maps,
//! keyword lists), their condition, and matching one CloudTrail record.

use serde_json::{Map, Value};

use super::condition::{self, Cond};
use super::error::Problem;
use super::field::FieldPath;
use super::modifier::{self, Affix, Modifier, Placeholders, Test, ValueMatcher};

/// One key of a search identifier's map: a field (or none: keywords)
/// and its test.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub field: Option<FieldPath>,
    pub mods: Vec<Modifier>,
    pub test: Test,
    /// The values as written, when they are plain strings (prefilter).
    pub plain: Vec<Option<String>>,
}

/// A search identifier: OR of AND-ed items.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    pub alternatives: Vec<Vec<Item>>,
}

/// A compiled detection.
#[derive(Debug, Clone)]
pub struct Detection {
    pub(crate) searches: Vec<Search>,
    pub(crate) condition: Cond,
}

/// A detection's `condition` split at the obsolete `|` aggregation.
pub(crate) struct Compiled {
    pub detection: Detection,
    pub aggregation: Option<condition::Aggregation>,
    pub near: bool,
}

/// Compile the `detection` map.
pub(crate) fn compile(detection: &Value, placeholders: &Placeholders) -> Result<Compiled, Problem> {
    let Value::Object(map) = detection else {
        return Err(Problem::invalid(
            Some("detection".into()),
            "detection must be a map of search identifiers and a condition",
        ));
    };
    let mut names = Vec::new();
    let mut searches = Vec::new();
    for (name, body) in map {
        if name == "condition" || name == "timeframe" {
            continue;
        }
        names.push(name.clone());
        searches.push(compile_search(name, body, placeholders)?);
    }
    let condition_key = || Some("condition".to_string());
    let conditions: Vec<String> = match map.get("condition") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().map(|i| i.as_str().map(str::to_string)).collect::<Option<_>>().ok_or_else(|| {
                Problem::invalid(condition_key(), "condition: a list of conditions holds only strings")
            })?
        }
        Some(_) => return Err(Problem::invalid(condition_key(), "condition must be a string or a list of strings")),
        None => return Err(Problem::invalid(Some("detection".into()), "detection has no condition")),
    };
    let mut conds = Vec::new();
    let mut aggregation = None;
    let mut near = false;
    for text in &conditions {
        let (expr, agg) = match text.split_once('|') {
            Some((e, a)) => (e, Some(a.trim())),
            None => (text.as_str(), None),
        };
        match agg {
            Some(a) if a.starts_with("near") => near = true,
            Some(a) => {
                if conditions.len() > 1 {
                    return Err(Problem::refused(
                        condition_key(),
                        "an aggregation in a list of conditions is not supported",
                    ));
                }
                aggregation = Some(condition::parse_aggregation(a).map_err(|e| Problem::invalid(condition_key(), e))?);
            }
            None => {}
        }
        conds.push(
            condition::parse(expr, &names)
                .map_err(|e| Problem::invalid(condition_key(), format!("condition \"{text}\": {e}")))?,
        );
    }
    let condition = if conds.len() == 1 { conds.remove(0) } else { Cond::Or(conds) };
    Ok(Compiled { detection: Detection { searches, condition }, aggregation, near })
}

fn compile_search(name: &str, body: &Value, placeholders: &Placeholders) -> Result<Search, Problem> {
    let bad =
        |reason: &str| Problem::invalid(Some(name.to_string()), format!("search identifier \"{name}\": {reason}"));
    match body {
        Value::Object(map) => Ok(Search { alternatives: vec![compile_map(map, placeholders)?] }),
        Value::Array(items) if items.is_empty() => Err(bad("an empty list matches nothing")),
        Value::Array(items) if items.iter().all(Value::is_object) => {
            let alternatives = items
                .iter()
                .filter_map(Value::as_object)
                .map(|m| compile_map(m, placeholders))
                .collect::<Result<_, _>>()?;
            Ok(Search { alternatives })
        }
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            Ok(Search { alternatives: vec![vec![compile_item(name, "", body, placeholders)?]] })
        }
        Value::Array(_) => Err(bad("a list holds either maps or plain values (keywords), not both")),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            Ok(Search { alternatives: vec![vec![compile_item(name, "", body, placeholders)?]] })
        }
        Value::Null => Err(bad("is empty")),
    }
}

fn compile_map(map: &Map<String, Value>, placeholders: &Placeholders) -> Result<Vec<Item>, Problem> {
    if map.is_empty() {
        return Err(Problem::invalid(None, "an empty map in a detection matches nothing"));
    }
    map.iter().map(|(key, value)| compile_item(key, key, value, placeholders)).collect()
}

/// One `field|mods: value(s)` (field empty: keywords).
fn compile_item(name: &str, key: &str, value: &Value, placeholders: &Placeholders) -> Result<Item, Problem> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default().trim();
    let mods = parts
        .map(|m| {
            Modifier::parse(m.trim()).ok_or_else(|| {
                Problem::invalid(
                    Some(name.to_string()),
                    format!("\"{key}\": unknown modifier \"{m}\"; the modifiers are {}", modifier::KNOWN),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let field = (!field.is_empty()).then_some(field);
    let test = modifier::compile_test(if key.is_empty() { name } else { key }, field, &mods, value, placeholders)?;
    let plain = match value {
        Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_string)).collect(),
        v => vec![v.as_str().map(str::to_string)],
    };
    Ok(Item { field: field.map(FieldPath::new), mods, test, plain })
}

impl Detection {
    /// Whether the record satisfies the condition.
    pub fn matches(&self, record: &Value) -> bool {
        let mut cache: Vec<Option<bool>> = vec![None; self.searches.len()];
        self.condition.eval(&mut |i| *cache[i].get_or_insert_with(|| self.searches[i].matches(record)))
    }

    /// Every field path the detection reads (including `fieldref` targets).
    pub fn fields(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |f: &str| {
            if !out.iter().any(|o| o == f) {
                out.push(f.to_string());
            }
        };
        for item in self.searches.iter().flat_map(|s| s.alternatives.iter().flatten()) {
            if let Some(f) = &item.field {
                add(&f.text);
            }
            if let Test::Values { groups, .. } = &item.test {
                for m in groups.iter().flatten() {
                    if let ValueMatcher::FieldRef { path, .. } = m {
                        add(&path.text);
                    }
                }
            }
        }
        out
    }
}

impl Search {
    fn matches(&self, record: &Value) -> bool {
        self.alternatives.iter().any(|items| items.iter().all(|item| item.matches(record)))
    }
}

/// The scalars inside a value (itself when scalar), nulls left out.
fn scalars<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Null => {}
        Value::Array(items) => items.iter().for_each(|i| scalars(i, out)),
        Value::Object(map) => map.values().for_each(|i| scalars(i, out)),
        v => out.push(v),
    }
}

/// Every string in the record (keyword search).
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::String(_) => out.push(v),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

/// A scalar's text: a string as is, numbers and booleans as JSON writes them.
fn text(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

impl Item {
    fn matches(&self, record: &Value) -> bool {
        let mut nodes = Vec::new();
        match &self.field {
            Some(path) => path.lookup(record, &mut nodes),
            None => nodes.push(record),
        }
        match &self.test {
            Test::Exists(want) => nodes.is_empty() != *want,
            Test::Null => nodes.is_empty() || nodes.iter().any(|n| n.is_null()),
            Test::Values { groups, all, neq, time } => {
                let mut values = Vec::new();
                for n in &nodes {
                    if self.field.is_some() {
                        scalars(n, &mut values);
                    } else {
                        strings(n, &mut values);
                    }
                }
                let time_values: Vec<Value>;
                if let Some(part) = time {
                    time_values = values
                        .iter()
                        .filter_map(|v| v.as_str().and_then(|s| part.of(s)))
                        .filter_map(|f| serde_json::Number::from_f64(f).map(Value::Number))
                        .collect();
                    values = time_values.iter().collect();
                }
                let group_matches =
                    |g: &Vec<ValueMatcher>| g.iter().any(|m| values.iter().any(|v| value_matches(m, v, record)));
                if *neq {
                    !values.is_empty() && !groups.iter().any(group_matches)
                } else if *all {
                    groups.iter().all(group_matches)
                } else {
                    groups.iter().any(group_matches)
                }
            }
        }
    }
}

fn value_matches(m: &ValueMatcher, v: &Value, record: &Value) -> bool {
    match m {
        ValueMatcher::Str(s) => s.matches(text(v).as_bytes()),
        ValueMatcher::Regex(re) => re.is_match(text(v).as_bytes()),
        ValueMatcher::Cidr(net, len) => {
            v.as_str().and_then(|s| s.trim().parse().ok()).is_some_and(|ip| modifier::in_cidr(ip, *net, *len))
        }
        ValueMatcher::Num(cmp, n) => number(v).is_some_and(|f| cmp.holds(f, *n)),
        ValueMatcher::FieldRef { path, affix, cased } => {
            let mut others = Vec::new();
            path.lookup(record, &mut others);
            let mut other_values = Vec::new();
            others.iter().for_each(|o| scalars(o, &mut other_values));
            let fold = |s: &str| if *cased { s.to_string() } else { s.to_lowercase() };
            let mine = fold(&text(v));
            other_values.iter().any(|o| {
                let o = fold(&text(o));
                match affix {
                    Affix::Whole => mine == o,
                    Affix::Prefix => mine.starts_with(&o),
                    Affix::Suffix => mine.ends_with(&o),
                    Affix::Inside => mine.contains(&o),
                }
            })
        }
    }
}
