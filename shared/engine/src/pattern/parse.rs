//! Parsing and validating an event pattern, and expanding `$or` into a
//! disjunction of conjunctions.

use serde_json::{Map, Value};

use super::cidr::{self, Cidr};
use super::match_value::{fold, AnythingBut, MatchValue};
use super::numeric::{comparable, Range, RangeError};
use super::value::Literal;
use super::wildcard::{Wildcard, WildcardError};
use super::{PatternError, Problem};

/// EventBridge's default quota on event pattern size, in characters of
/// compact JSON ("Amazon EventBridge quotas": event pattern size 2,048).
pub const MAX_PATTERN_LEN: usize = 2048;
/// The API's hard limit on pattern text (PutRule / TestEventPattern
/// `EventPattern`: maximum length 4096); longer text is not even parsed.
pub const MAX_PATTERN_TEXT: usize = 4096;
/// The most `$or` combinations one pattern may expand into. EventBridge
/// refuses patterns that are "too complex" without publishing the bound;
/// this bound keeps compilation small (inferred, see the pattern notes).
pub const MAX_COMBINATIONS: usize = 1024;
/// The most automaton states a wildcard value may keep active at once.
/// AWS refuses wildcard rules that are "too complex - try using fewer
/// wildcard characters or fewer repeating character sequences after a
/// wildcard character" without publishing the bound; calibrated on AWS's
/// accepted and refused examples (see `Wildcard::complexity`).
pub const MAX_WILDCARD_COMPLEXITY: usize = 10;
/// Patterns nest no deeper than this (a bound against stack exhaustion).
pub const MAX_DEPTH: usize = 64;

/// One field of a conjunction: a path and its match values, ORed.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) path: Vec<Box<str>>,
    pub(crate) values: Vec<MatchValue>,
}

/// All fields must match.
pub(crate) type Conjunction = Vec<Field>;

/// Parse pattern text into its disjunction of conjunctions.
pub(crate) fn parse(text: &str) -> Result<Vec<Conjunction>, PatternError> {
    if text.len() > MAX_PATTERN_TEXT {
        return Err(PatternError::new("", Problem::TooLong(text.len())));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| PatternError::new("", Problem::Json(e.to_string())))?;
    from_value(&value)
}

/// Expand an already parsed pattern document.
pub(crate) fn from_value(value: &Value) -> Result<Vec<Conjunction>, PatternError> {
    from_compact(value, &value.to_string())
}

/// [`from_value`] with the document's compact JSON text already written.
pub(crate) fn from_compact(value: &Value, compact: &str) -> Result<Vec<Conjunction>, PatternError> {
    let Value::Object(map) = value else {
        return Err(PatternError::new("", Problem::NotAnObject));
    };
    // The pattern's size as EventBridge counts it: characters of compact JSON.
    let len = compact.chars().count();
    if len > MAX_PATTERN_LEN {
        return Err(PatternError::new("", Problem::TooLong(len)));
    }
    let mut path = Vec::new();
    expand(map, &mut path, 0)
}

fn location(path: &[Box<str>]) -> String {
    path.join(".")
}

fn expand(map: &Map<String, Value>, path: &mut Vec<Box<str>>, depth: usize) -> Result<Vec<Conjunction>, PatternError> {
    if depth > MAX_DEPTH {
        return Err(PatternError::new(location(path), Problem::TooDeep));
    }
    if map.is_empty() {
        return Err(PatternError::new(location(path), Problem::EmptyObject));
    }
    let mut result: Vec<Conjunction> = vec![Vec::new()];
    for (key, value) in map {
        let alternatives: Vec<Conjunction> = if key == "$or" {
            let Value::Array(items) = value else {
                return Err(PatternError::new(at(path, key), Problem::OrShape));
            };
            if items.len() < 2 {
                return Err(PatternError::new(at(path, key), Problem::OrShape));
            }
            let mut alts = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Value::Object(m) = item else {
                    return Err(PatternError::new(format!("{}[{i}]", at(path, key)), Problem::OrShape));
                };
                alts.extend(expand(m, path, depth + 1)?);
                if alts.len() > MAX_COMBINATIONS {
                    return Err(PatternError::new(at(path, key), Problem::TooManyCombinations));
                }
            }
            alts
        } else {
            // "a.b" names the same field as {"a": {"b": ...}} (event-ruler
            // joins nested keys with dots; AWS matches either way).
            let mark = path.len();
            path.extend(key.split('.').map(Box::<str>::from));
            let alts = match value {
                Value::Object(m) => expand(m, path, depth + 1),
                Value::Array(items) => leaf(items, path).map(|f| vec![vec![f]]),
                other => Err(PatternError::new(location(path), Problem::LeafNotArray(kind(other)))),
            };
            path.truncate(mark);
            alts?
        };
        if result.len() * alternatives.len() > MAX_COMBINATIONS {
            return Err(PatternError::new(location(path), Problem::TooManyCombinations));
        }
        result = result
            .iter()
            .flat_map(|conj| {
                alternatives.iter().map(move |alt| {
                    let mut c = conj.clone();
                    c.extend(alt.iter().cloned());
                    c
                })
            })
            .collect();
    }
    Ok(result)
}

fn at(path: &[Box<str>], key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{}.{key}", location(path))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn leaf(items: &[Value], path: &[Box<str>]) -> Result<Field, PatternError> {
    if items.is_empty() {
        return Err(PatternError::new(location(path), Problem::EmptyArray));
    }
    let mut values = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here = || format!("{}[{i}]", location(path));
        let value = match item {
            // An address is kept as one (event-ruler's `JsonRuleCompiler.writeRules`
            // → `CIDR.ipToRangeIfPossible`): "10.0.0.1" matches "010.0.0.1".
            Value::String(s) => match cidr::parse_addr(s) {
                Some(addr) => MatchValue::Address(addr),
                None => MatchValue::Exact(Literal::Str(s.as_str().into())),
            },
            Value::Number(n) => MatchValue::Exact(Literal::Num(n.as_f64().unwrap_or(f64::NAN))),
            Value::Bool(b) => MatchValue::Exact(Literal::Bool(*b)),
            Value::Null => MatchValue::Exact(Literal::Null),
            Value::Array(_) => return Err(PatternError::new(here(), Problem::NestedArray)),
            Value::Object(op) => operator(op).map_err(|p| PatternError::new(here(), p))?,
        };
        values.push(value);
    }
    Ok(Field { path: path.to_vec(), values })
}

/// The operators EventBridge knows, for the message on an unknown one.
const OPERATORS: &str = "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr";

fn operator(op: &Map<String, Value>) -> Result<MatchValue, Problem> {
    let mut entries = op.iter();
    let (name, arg) = match (entries.next(), entries.next()) {
        (Some(entry), None) => entry,
        _ => return Err(Problem::OperatorShape),
    };
    let name = name.as_str();
    let bad = |expected: &'static str| Problem::OperatorArgument { operator: name.to_string(), expected };
    Ok(match name {
        "prefix" | "suffix" => {
            let (text, ignore_case) =
                string_or_ignore_case(arg).ok_or_else(|| bad("a string or {\"equals-ignore-case\": string}"))?;
            match (name, ignore_case) {
                ("prefix", false) => MatchValue::Prefix(text.into()),
                ("prefix", true) => MatchValue::PrefixIgnoreCase(fold(text).into()),
                (_, false) => MatchValue::Suffix(text.into()),
                (_, true) => MatchValue::SuffixIgnoreCase(fold(text).into()),
            }
        }
        "equals-ignore-case" => MatchValue::EqualsIgnoreCase(fold(arg.as_str().ok_or_else(|| bad("a string"))?).into()),
        "wildcard" => MatchValue::Wildcard(wildcard(arg.as_str().ok_or_else(|| bad("a string"))?)?),
        "numeric" => {
            let items = arg.as_array().ok_or_else(|| bad("an array like [\">\", 0, \"<=\", 5]"))?;
            MatchValue::Numeric(Range::parse(items).map_err(Problem::Numeric)?)
        }
        "exists" => match arg {
            Value::Bool(true) => MatchValue::Exists,
            Value::Bool(false) => MatchValue::Absent,
            _ => return Err(bad("true or false")),
        },
        "cidr" => {
            let text = arg.as_str().ok_or_else(|| bad("a string such as \"10.0.0.0/24\""))?;
            MatchValue::Cidr(Cidr::parse(text).ok_or_else(|| Problem::BadCidr(text.to_string(), Cidr::refusal(text)))?)
        }
        "anything-but" => MatchValue::AnythingBut(anything_but(arg)?),
        other => return Err(Problem::UnknownOperator { name: other.to_string(), known: OPERATORS }),
    })
}

fn string_or_ignore_case(arg: &Value) -> Option<(&str, bool)> {
    match arg {
        Value::String(s) => Some((s, false)),
        Value::Object(m) if m.len() == 1 => m.get("equals-ignore-case").and_then(Value::as_str).map(|s| (s, true)),
        _ => None,
    }
}

pub(crate) fn wildcard(text: &str) -> Result<Wildcard, Problem> {
    let w = Wildcard::parse(text).map_err(|e| match e {
        WildcardError::Consecutive(at) => Problem::WildcardConsecutive { at },
        WildcardError::BadEscape(at) => Problem::WildcardEscape { at },
    })?;
    if w.complexity(10_000, MAX_WILDCARD_COMPLEXITY).is_none() {
        return Err(Problem::WildcardTooComplex);
    }
    Ok(w)
}

fn anything_but(arg: &Value) -> Result<AnythingBut, Problem> {
    let bad = |expected| Problem::OperatorArgument { operator: "anything-but".into(), expected };
    // The argument of an operator inside anything-but, named in the error.
    let list_of = |name: &str, v: &Value| -> Result<Vec<String>, Problem> {
        let bad = |expected| Problem::OperatorArgument { operator: format!("anything-but/{name}"), expected };
        match v {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Array(items) if !items.is_empty() => {
                items.iter().map(|i| i.as_str().map(str::to_string).ok_or(bad("strings"))).collect()
            }
            _ => Err(bad("a string or a non-empty array of strings")),
        }
    };
    Ok(match arg {
        Value::String(s) => AnythingBut::Values(vec![Literal::Str(s.as_str().into())]),
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(f64::NAN);
            if comparable(n).is_none() {
                return Err(Problem::Numeric(RangeError::OutOfRange(n)));
            }
            AnythingBut::Values(vec![Literal::Num(n)])
        }
        Value::Array(items) => {
            if items.is_empty() {
                return Err(bad("a non-empty array"));
            }
            if items.iter().all(Value::is_string) {
                AnythingBut::Values(items.iter().filter_map(Value::as_str).map(|s| Literal::Str(s.into())).collect())
            } else if items.iter().all(Value::is_number) {
                let nums: Vec<f64> = items.iter().filter_map(Value::as_f64).collect();
                if let Some(&n) = nums.iter().find(|n| comparable(**n).is_none()) {
                    return Err(Problem::Numeric(RangeError::OutOfRange(n)));
                }
                AnythingBut::Values(nums.into_iter().map(Literal::Num).collect())
            } else {
                return Err(bad("an array of only strings or only numbers"));
            }
        }
        Value::Object(m) => {
            let mut entries = m.iter();
            let (Some((name, inner)), None) = (entries.next(), entries.next()) else {
                return Err(Problem::OperatorShape);
            };
            match name.as_str() {
                "prefix" | "suffix" => {
                    let list = list_of(name, inner)?;
                    if list.iter().any(String::is_empty) {
                        return Err(Problem::EmptyAffix);
                    }
                    let list = list.into_iter().map(String::into_boxed_str).collect();
                    if name == "prefix" {
                        AnythingBut::Prefix(list)
                    } else {
                        AnythingBut::Suffix(list)
                    }
                }
                "equals-ignore-case" => {
                    AnythingBut::IgnoreCase(list_of(name, inner)?.iter().map(|s| fold(s).into_boxed_str()).collect())
                }
                "wildcard" => {
                    AnythingBut::Wildcards(list_of(name, inner)?.iter().map(|s| wildcard(s)).collect::<Result<_, _>>()?)
                }
                other => {
                    return Err(Problem::UnknownOperator {
                        name: format!("anything-but/{other}"),
                        known: "prefix, suffix, equals-ignore-case, wildcard",
                    })
                }
            }
        }
        _ => return Err(bad("a string, a number, an array, or an operator object")),
    })
}

impl From<RangeError> for Problem {
    fn from(e: RangeError) -> Self {
        Problem::Numeric(e)
    }
}
