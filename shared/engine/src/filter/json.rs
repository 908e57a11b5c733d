//! JSON patterns: `{ $.eventName = "ConsoleLogin" && $.errorCode NOT EXISTS }`.

use serde_json::Value;

use super::error::FilterError;
use super::expr::{self, Expr};
use super::lex::{is_name_char, Cursor};
use super::value::{CmpOp, Comparison, FieldValue, Operand};
use super::{Extracted, MAX_REGEXES};
use crate::pattern::Scalar;

/// Wildcard selectors allowed in one property selector.
const MAX_WILDCARDS_PER_SELECTOR: usize = 1;
/// Wildcard selectors allowed in one filter pattern.
const MAX_WILDCARDS_PER_PATTERN: usize = 3;

/// One step of a property selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// `.name` or `['name']`.
    Key(String),
    /// `[3]`.
    Index(usize),
    /// `.*` or `[*]`: every field of an object or element of an array.
    Wildcard,
}

/// A property selector such as `$.users[0].email` or `$.['cluster.name']`.
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    text: String,
    steps: Vec<Step>,
    wildcard: Option<usize>,
}

impl Selector {
    /// Reads a selector at the cursor (which is on the `$`).
    pub(crate) fn read(cur: &mut Cursor<'_>) -> Result<Selector, FilterError> {
        let start = cur.pos();
        if !cur.eat('$') {
            return Err(FilterError::syntax(
                start,
                format!(
                    "expected a property selector starting with `$.` (e.g. `$.eventName`), found {}",
                    cur.describe_here()
                ),
            ));
        }
        let mut text = String::from("$");
        let mut steps = Vec::new();
        let mut wildcards = Vec::new();
        loop {
            match cur.peek() {
                Some('.') => {
                    cur.bump();
                    text.push('.');
                    if cur.peek() == Some('[') {
                        continue;
                    }
                    let at = cur.pos();
                    if cur.eat('*') {
                        text.push('*');
                        wildcards.push(at);
                        steps.push(Step::Wildcard);
                        continue;
                    }
                    let name = cur.take_while(is_name_char);
                    if name.is_empty() {
                        return Err(FilterError::syntax(
                            at,
                            format!(
                                "expected a property name after `{text}`, found {}; property names are \
                                 letters, digits, `-` and `_` (use bracket notation such as $.['a.b'] for others)",
                                cur.describe_here()
                            ),
                        ));
                    }
                    text.push_str(&name);
                    steps.push(Step::Key(name));
                }
                Some('[') => {
                    let at = cur.pos();
                    let step = read_bracket(cur, &mut text)?;
                    if step == Step::Wildcard {
                        wildcards.push(at);
                    }
                    steps.push(step);
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            return Err(FilterError::syntax(start, "a selector must name a property after `$`, e.g. `$.eventName`"));
        }
        if text.ends_with('.') {
            return Err(FilterError::syntax(cur.pos(), format!("selector `{text}` ends with `.`")));
        }
        if let Some(&extra) = wildcards.get(MAX_WILDCARDS_PER_SELECTOR) {
            return Err(FilterError::Limit {
                offset: extra,
                message: format!(
                    "selector `{text}` uses {} wildcards; a property selector can use at most {MAX_WILDCARDS_PER_SELECTOR}",
                    wildcards.len()
                ),
            });
        }
        let wildcard = steps.iter().position(|s| *s == Step::Wildcard);
        Ok(Selector { text, steps, wildcard })
    }

    /// The selector as normalised text (`$.a[0].b`), used as the extracted-value name.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Calls `found` on each value the selector points at, stopping when it
    /// returns true; returns whether it did. Adds one to `steps` for each
    /// step of the selector taken.
    pub(crate) fn any<'v>(
        &self,
        root: &'v Value,
        steps: &mut u64,
        found: &mut impl FnMut(&'v Value, &mut u64) -> bool,
    ) -> bool {
        match self.wildcard {
            None => {
                *steps += 1 + self.steps.len() as u64;
                walk(root, &self.steps).is_some_and(|v| found(v, steps))
            }
            Some(w) => {
                let before = self.steps.get(..w).unwrap_or(&[]);
                let after = self.steps.get(w + 1..).unwrap_or(&[]);
                *steps += 1 + before.len() as u64;
                let mut each = |c: &'v Value| {
                    *steps += 1 + after.len() as u64;
                    walk(c, after).is_some_and(|v| found(v, steps))
                };
                match walk(root, before) {
                    Some(Value::Object(m)) => m.values().any(&mut each),
                    Some(Value::Array(a)) => a.iter().any(&mut each),
                    _ => false,
                }
            }
        }
    }

    /// The first value the selector points at.
    pub(crate) fn first<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut out = None;
        self.any(root, &mut 0, &mut |v, _| {
            out = Some(v);
            true
        });
        out
    }

    fn wildcard_count(&self) -> usize {
        usize::from(self.wildcard.is_some())
    }
}

fn read_bracket(cur: &mut Cursor<'_>, text: &mut String) -> Result<Step, FilterError> {
    let open = cur.pos();
    cur.bump();
    cur.skip_ws();
    let at = cur.pos();
    let step = match cur.peek() {
        Some('*') => {
            cur.bump();
            text.push_str("[*]");
            Step::Wildcard
        }
        Some(c) if c.is_ascii_digit() => {
            let digits = cur.take_while(|c| c.is_ascii_digit());
            let index: usize =
                digits.parse().map_err(|_| FilterError::syntax(at, format!("array index `{digits}` is too large")))?;
            text.push_str(&format!("[{index}]"));
            Step::Index(index)
        }
        Some('\'') => {
            cur.bump();
            let name = cur.take_while(|c| c != '\'');
            if !cur.eat('\'') {
                return Err(FilterError::syntax(at, "unterminated quoted property name; add the closing `'`"));
            }
            text.push_str(&format!("['{name}']"));
            Step::Key(name)
        }
        Some('"') => {
            let name = cur.quoted()?;
            text.push_str(&format!("['{name}']"));
            Step::Key(name)
        }
        Some('-') => {
            return Err(FilterError::syntax(
                at,
                "negative array indexes are not supported; array elements are numbered from 0",
            ))
        }
        _ => {
            return Err(FilterError::syntax(
                at,
                format!(
                    "expected an array index, `*` or a quoted property name after `[`, found {}",
                    cur.describe_here()
                ),
            ))
        }
    };
    cur.skip_ws();
    if !cur.eat(']') {
        return Err(FilterError::syntax(
            cur.pos(),
            format!("expected `]` to close the `[` at character {open}, found {}", cur.describe_here()),
        ));
    }
    Ok(step)
}

fn walk<'v>(root: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    let mut v = root;
    for step in steps {
        v = match (step, v) {
            (Step::Key(k), Value::Object(m)) => m.get(k)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A value node as a comparable field value; `None` for null, arrays and objects.
fn field_value(v: &Value) -> Option<FieldValue<'_>> {
    match v {
        Value::String(s) => Some(FieldValue::Str(s)),
        Value::Number(n) => Some(FieldValue::Num(n)),
        Value::Bool(b) => Some(FieldValue::Bool(*b)),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The text TestMetricFilter shows for a value.
fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone)]
enum Test {
    Compare(Comparison),
    IsTrue,
    IsFalse,
    IsNull,
    NotExists,
}

/// One condition: a selector and what must hold of it.
#[derive(Debug, Clone)]
pub(crate) struct SelectorCondition {
    at: usize,
    selector: Selector,
    test: Test,
}

impl SelectorCondition {
    fn holds(&self, root: &Value, steps: &mut u64) -> bool {
        let sel = &self.selector;
        match &self.test {
            Test::Compare(c) => sel.any(root, steps, &mut |v, steps| field_value(v).is_some_and(|s| c.holds(s, steps))),
            Test::IsTrue => sel.any(root, steps, &mut |v, _| *v == Value::Bool(true)),
            Test::IsFalse => sel.any(root, steps, &mut |v, _| *v == Value::Bool(false)),
            Test::IsNull => sel.any(root, steps, &mut |v, _| v.is_null()),
            Test::NotExists => !sel.any(root, steps, &mut |_, _| true),
        }
    }

    /// Whether the condition is decided by the one scalar its selector
    /// reaches outside every array, whatever else the record holds: a plain
    /// key path (no index, no wildcard, no dot inside a key) and a test only
    /// a string, a boolean or a null can pass (`=` a string no number's or
    /// boolean's text can be or contain, `IS TRUE`, `IS FALSE`, `IS NULL`).
    fn scalar_decided(&self) -> bool {
        let plain = self.selector.steps.iter().all(|s| matches!(s, Step::Key(k) if !k.contains('.')));
        plain
            && match &self.test {
                Test::Compare(Comparison { op: CmpOp::Eq, operand: Operand::Exact(v) }) => !scalar_like(v),
                Test::Compare(Comparison { op: CmpOp::Eq, operand: Operand::Glob(g) }) => {
                    g.segments().iter().any(|seg| only_in_strings(seg))
                }
                Test::IsTrue | Test::IsFalse | Test::IsNull => true,
                _ => false,
            }
    }

    /// [`SelectorCondition::holds`] given the scalar at its selector, for
    /// a condition [`SelectorCondition::scalar_decided`].
    fn holds_on(&self, at: Option<Scalar<'_>>) -> bool {
        match (&self.test, at) {
            (Test::Compare(c), Some(Scalar::Str(text))) => c.holds(FieldValue::Str(text), &mut 0),
            (Test::IsTrue, Some(Scalar::Bool(b))) => b,
            (Test::IsFalse, Some(Scalar::Bool(b))) => !b,
            (Test::IsNull, Some(Scalar::Null)) => true,
            _ => false,
        }
    }
}

/// Whether a glob segment can only be found in a string's text: it holds a
/// character no number's text has and is no part of `true` or `false`.
fn only_in_strings(segment: &str) -> bool {
    !segment.is_empty()
        && segment.chars().any(|c| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        && !"true".contains(segment)
        && !"false".contains(segment)
}

fn prefilter_of(expr: &Expr<SelectorCondition>) -> Option<Value> {
    match expr {
        Expr::Leaf(c) => leaf_prefilter(c),
        Expr::And(xs) => {
            let mut merged: Option<Value> = None;
            for p in xs.iter().filter_map(prefilter_of) {
                merged = Some(match merged {
                    None => p,
                    Some(mut m) => {
                        merge_constraints(&mut m, p);
                        m
                    }
                });
            }
            merged
        }
        Expr::Or(xs) => {
            let sides: Vec<Value> = xs.iter().map(prefilter_of).collect::<Option<_>>()?;
            Some(union(sides))
        }
    }
}

/// One comparison as an event-pattern constraint, if it is one.
fn leaf_prefilter(c: &SelectorCondition) -> Option<Value> {
    let Test::Compare(Comparison { op: CmpOp::Eq, operand }) = &c.test else { return None };
    let keys: Vec<&str> = c
        .selector
        .steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            Step::Index(_) | Step::Wildcard => None,
        })
        .collect::<Option<_>>()?;
    let matcher = match operand {
        Operand::Exact(v) if !scalar_like(v) => Value::String(v.clone()),
        Operand::Glob(g) => match g.segments() {
            [head, tail] if tail.is_empty() && !head.is_empty() && !scalar_like(head) => {
                serde_json::json!({"prefix": head.as_ref()})
            }
            [head, tail] if head.is_empty() && !tail.is_empty() && !scalar_like(tail) => {
                serde_json::json!({"suffix": tail.as_ref()})
            }
            _ => return None,
        },
        _ => return None,
    };
    let mut pattern = Value::Array(vec![matcher]);
    for key in keys.iter().rev() {
        let mut m = serde_json::Map::new();
        m.insert((*key).to_string(), pattern);
        pattern = Value::Object(m);
    }
    Some(pattern)
}

/// Whether text could be (part of) a number's or a boolean's or null's
/// JSON text, which a filter pattern compares as text.
fn scalar_like(s: &str) -> bool {
    matches!(s, "true" | "false" | "null")
        || s.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
}

/// Add `other`'s constraints to `into` (both must hold): a path both
/// constrain keeps `into`'s, an over-approximation.
fn merge_constraints(into: &mut Value, other: Value) {
    let (Value::Object(a), Value::Object(b)) = (into, other) else { return };
    if a.contains_key("$or") || b.contains_key("$or") {
        return;
    }
    for (k, v) in b {
        match a.get_mut(&k) {
            Some(existing) if existing.is_object() && v.is_object() => merge_constraints(existing, v),
            Some(_) => {}
            None => {
                a.insert(k, v);
            }
        }
    }
}

/// The union of alternatives: one list of values where every side
/// constrains the same single path, else `$or`.
fn union(sides: Vec<Value>) -> Value {
    fn single_path(v: &Value) -> Option<(Vec<String>, &Vec<Value>)> {
        let mut path = Vec::new();
        let mut at = v;
        loop {
            match at {
                Value::Object(m) if m.len() == 1 => {
                    let (k, next) = m.iter().next()?;
                    if k == "$or" {
                        return None;
                    }
                    path.push(k.clone());
                    at = next;
                }
                Value::Array(values) => return Some((path, values)),
                _ => return None,
            }
        }
    }
    let paths: Option<Vec<(Vec<String>, &Vec<Value>)>> = sides.iter().map(single_path).collect();
    if let Some(paths) = paths.filter(|p| !p.is_empty() && p.iter().all(|(path, _)| *path == p[0].0)) {
        let mut values: Vec<Value> = Vec::new();
        for (_, vs) in &paths {
            for v in *vs {
                if !values.contains(v) {
                    values.push(v.clone());
                }
            }
        }
        let mut pattern = Value::Array(values);
        for key in paths[0].0.iter().rev() {
            let mut m = serde_json::Map::new();
            m.insert(key.clone(), pattern);
            pattern = Value::Object(m);
        }
        return pattern;
    }
    let mut branches = Vec::new();
    for side in sides {
        match side {
            Value::Object(mut m) if m.len() == 1 && m.contains_key("$or") => {
                if let Some(Value::Array(bs)) = m.remove("$or") {
                    branches.extend(bs);
                }
            }
            other => branches.push(other),
        }
    }
    serde_json::json!({ "$or": branches })
}

/// Characters that end an unquoted value in a JSON pattern.
fn value_stop(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '{' | '}' | '"' | '&' | '|' | '=' | '<' | '>' | '!')
}

fn read_condition(cur: &mut Cursor<'_>) -> Result<SelectorCondition, FilterError> {
    cur.skip_ws();
    let at = cur.pos();
    let selector = Selector::read(cur)?;
    cur.skip_ws();
    let word_at = cur.pos();
    if cur.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
        let word = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        let test = match word.as_str() {
            "IS" => {
                cur.skip_ws();
                let what_at = cur.pos();
                let what = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                match what.as_str() {
                    "TRUE" => Test::IsTrue,
                    "FALSE" => Test::IsFalse,
                    "NULL" => Test::IsNull,
                    "NOT" => {
                        return Err(FilterError::syntax(
                            word_at,
                            "`IS NOT` is not supported by CloudWatch Logs; use `IS TRUE`/`IS FALSE`, \
                             `!=`, or `NOT EXISTS`",
                        ))
                    }
                    _ => {
                        return Err(FilterError::syntax(
                            what_at,
                            format!(
                                "expected TRUE, FALSE or NULL after `IS`, found {}",
                                if what.is_empty() { cur.describe_here() } else { format!("`{what}`") }
                            ),
                        ))
                    }
                }
            }
            "NOT" => {
                cur.skip_ws();
                let what_at = cur.pos();
                let what = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                if what != "EXISTS" {
                    return Err(FilterError::syntax(what_at, "expected `EXISTS` after `NOT`"));
                }
                Test::NotExists
            }
            "EXISTS" => {
                return Err(FilterError::syntax(
                    word_at,
                    format!(
                        "`EXISTS` is not supported by CloudWatch Logs; to require a value write `{} = *`",
                        selector.text()
                    ),
                ))
            }
            w if ["is", "not", "exists", "true", "false", "null"].iter().any(|k| k.eq_ignore_ascii_case(w)) => {
                return Err(FilterError::syntax(
                    word_at,
                    format!("`{w}`: keywords are upper-case; write `{}`", w.to_ascii_uppercase()),
                ))
            }
            w => {
                return Err(FilterError::syntax(
                    word_at,
                    format!(
                        "expected an operator (=, !=, <, <=, >, >=, IS, NOT EXISTS) after `{}`, found `{w}`",
                        selector.text()
                    ),
                ))
            }
        };
        return Ok(SelectorCondition { at, selector, test });
    }
    let cmp = Comparison::read(cur, selector.text(), value_stop)?;
    Ok(SelectorCondition { at, selector, test: Test::Compare(cmp) })
}

/// A parsed JSON pattern.
#[derive(Debug, Clone)]
pub(crate) struct JsonPattern {
    expr: Expr<SelectorCondition>,
    /// Distinct selectors in order of appearance, for extracted values.
    selectors: Vec<Selector>,
}

impl JsonPattern {
    /// An EventBridge event pattern on the record (no `detail` wrapper) that
    /// every record this pattern matches also matches, from its `=`
    /// comparisons of plain key paths with strings: exact (`"v"`),
    /// `"v*"` (prefix) and `"*v"` (suffix); `&&` keeps every constraint it
    /// can, `||` needs one from every side. A value that could be a
    /// number's or a boolean's text is no constraint: a filter pattern
    /// compares those by text, an event pattern by type. `None` when the
    /// pattern constrains nothing this way.
    pub(crate) fn prefilter(&self) -> Option<Value> {
        prefilter_of(&self.expr)
    }

    /// The key paths of its selectors, in [`JsonPattern::matches_scalars`]'
    /// order, when every condition is decided by the one scalar its
    /// selector reaches (see `SelectorCondition::scalar_decided`); `None`
    /// otherwise.
    pub(crate) fn scalar_paths(&self) -> Option<Vec<Vec<String>>> {
        let mut decided = true;
        self.expr.visit(&mut |c: &SelectorCondition| decided &= c.scalar_decided());
        decided.then(|| {
            self.selectors
                .iter()
                .map(|sel| {
                    sel.steps.iter().filter_map(|s| if let Step::Key(k) = s { Some(k.clone()) } else { None }).collect()
                })
                .collect()
        })
    }

    /// Whether a record matches whose scalar at the `i`th path of
    /// [`JsonPattern::scalar_paths`] is `at(i)`: what
    /// [`JsonPattern::matches`] says of it.
    pub(crate) fn matches_scalars<'v>(&self, at: &mut impl FnMut(usize) -> Option<Scalar<'v>>) -> bool {
        self.expr.eval(&mut |c: &SelectorCondition| {
            let i = self.selectors.iter().position(|s| s.text == c.selector.text);
            c.holds_on(i.and_then(&mut *at))
        })
    }

    /// Parses `{ ... }`; the cursor is on the `{`.
    pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<JsonPattern, FilterError> {
        let open = cur.pos();
        if !cur.eat('{') {
            return Err(FilterError::syntax(open, "a JSON pattern starts with `{`"));
        }
        cur.skip_ws();
        if cur.peek() == Some('}') {
            return Err(FilterError::syntax(
                cur.pos(),
                "empty JSON pattern; write a condition such as `{ $.eventName = \"ConsoleLogin\" }`",
            ));
        }
        let expr = expr::parse(cur, &mut read_condition)?;
        cur.skip_ws();
        if !cur.eat('}') {
            if cur.at_end() {
                return Err(FilterError::syntax(
                    cur.pos(),
                    format!("the JSON pattern opened at character {open} is not closed; add `}}`"),
                ));
            }
            return Err(expr::expected_after(cur, "`}`"));
        }
        cur.skip_ws();
        if !cur.at_end() {
            return Err(FilterError::syntax(
                cur.pos(),
                format!("unexpected {} after the closing `}}` of the JSON pattern", cur.describe_here()),
            ));
        }
        // Quotas: regular expressions and wildcard selectors per pattern.
        let mut regexes = 0usize;
        let mut wildcards = 0usize;
        let mut quota: Result<(), FilterError> = Ok(());
        let mut selectors: Vec<Selector> = Vec::new();
        expr.visit(&mut |c: &SelectorCondition| {
            if let Test::Compare(cmp) = &c.test {
                if cmp.has_regex() {
                    regexes += 1;
                    if regexes > MAX_REGEXES && quota.is_ok() {
                        quota = Err(FilterError::Limit {
                            offset: c.at,
                            message: format!(
                                "a JSON filter pattern can contain at most {MAX_REGEXES} regular expressions"
                            ),
                        });
                    }
                }
            }
            wildcards += c.selector.wildcard_count();
            if wildcards > MAX_WILDCARDS_PER_PATTERN && quota.is_ok() {
                quota = Err(FilterError::Limit {
                    offset: c.at,
                    message: format!(
                        "a filter pattern can contain at most {MAX_WILDCARDS_PER_PATTERN} wildcard selectors"
                    ),
                });
            }
            if !selectors.iter().any(|s| s.text == c.selector.text) {
                selectors.push(c.selector.clone());
            }
        });
        quota?;
        Ok(JsonPattern { expr, selectors })
    }

    /// Whether the parsed log event satisfies the pattern, adding the work
    /// done to `steps`.
    pub(crate) fn matches(&self, root: &Value, steps: &mut u64) -> bool {
        self.expr.eval(&mut |c: &SelectorCondition| c.holds(root, steps))
    }

    /// The values of the pattern's selectors in the event.
    pub(crate) fn extract(&self, root: &Value) -> Extracted {
        let mut out = Extracted::default();
        for sel in &self.selectors {
            if let Some(v) = sel.first(root) {
                out.push(sel.text().to_string(), display(v));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_no_number_or_boolean_text_can_hold_is_decided_by_strings() {
        for segment in ["UnauthorizedOperation", "AccessDenied", "x", "1a"] {
            assert!(only_in_strings(segment), "{segment}");
        }
        // `1e5`, `-2.5E+3`, `true`, `false`: a glob could find these in a
        // number's or a boolean's text, which a filter pattern compares too.
        for segment in ["", "e", "E+", "1.5", "ru", "fals", "true", "-"] {
            assert!(!only_in_strings(segment), "{segment}");
        }
    }

    fn sel(s: &str) -> Result<Selector, FilterError> {
        let chars: Vec<char> = s.chars().collect();
        let mut cur = Cursor::new(&chars);
        let out = Selector::read(&mut cur)?;
        if !cur.at_end() {
            return Err(FilterError::syntax(cur.pos(), "trailing"));
        }
        Ok(out)
    }

    #[test]
    fn selector_forms() {
        let cases = [
            ("$.eventId", "$.eventId"),
            ("$.users[0]", "$.users[0]"),
            ("$.users[0].id", "$.users[0].id"),
            ("$.coordinates[0][1]", "$.coordinates[0][1]"),
            ("$.['cluster.name']", "$.['cluster.name']"),
            ("$['cluster.name']", "$['cluster.name']"),
            ("$.arrayKey[*]", "$.arrayKey[*]"),
            ("$.*", "$.*"),
            ("$.a-b_c", "$.a-b_c"),
            ("$.a[ 2 ]", "$.a[2]"),
        ];
        for (input, text) in cases {
            match sel(input) {
                Ok(s) => assert_eq!(s.text(), text, "{input}"),
                Err(e) => panic!("{input}: {e}"),
            }
        }
    }

    #[test]
    fn selector_errors() {
        for bad in ["$", "$.", "$..a", "$.a.", "$.a[", "$.a[-1]", "$.a[x]", "$.*.*", "$.a[*][*]", "a", "$.['x"] {
            assert!(sel(bad).is_err(), "{bad} should be rejected");
        }
        match sel("$.a.*.b[*]") {
            Err(FilterError::Limit { offset, .. }) => assert_eq!(offset, 7),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn selector_resolution() {
        let v: Value = match serde_json::from_str(r#"{"a":{"b":[1,{"c":"x"}]},"k.j":true}"#) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        let first = |s: &str| sel(s).ok().and_then(|s| s.first(&v).cloned());
        assert_eq!(first("$.a.b[0]"), Some(serde_json::json!(1)));
        assert_eq!(first("$.a.b[1].c"), Some(serde_json::json!("x")));
        assert_eq!(first("$.a.b[2]"), None);
        assert_eq!(first("$.a.b.c"), None, "a property of an array does not exist");
        assert_eq!(first("$.['k.j']"), Some(serde_json::json!(true)));
        assert_eq!(first("$.a.b[*].c"), Some(serde_json::json!("x")));
    }
}
