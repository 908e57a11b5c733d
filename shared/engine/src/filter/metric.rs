//! Metric filters: what one log event contributes to a metric
//! (metric value, default value, dimensions, unit), and `TestMetricFilter`.

use serde_json::{json, Value};

use super::delimited::Alignment;
use super::error::FilterError;
use super::json::{display, Selector};
use super::lex::{is_name_char, Cursor};
use super::value::Decimal;
use super::{FilterPattern, Kind};

/// Longest metric value the API accepts.
const MAX_METRIC_VALUE_CHARS: usize = 100;
/// Dimensions one metric filter can publish.
const MAX_DIMENSIONS: usize = 3;
/// Longest dimension name CloudWatch accepts.
const MAX_DIMENSION_NAME_CHARS: usize = 255;

/// CloudWatch's standard units (the `StandardUnit` enumeration).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// A reference to a value of the log event: `$.field` (JSON patterns),
/// `$name` or `$3` (space-delimited patterns).
#[derive(Debug, Clone)]
enum FieldRef {
    Json(Selector),
    Named(String),
    Position(usize),
}

impl FieldRef {
    fn parse(text: &str, what: &str) -> Result<FieldRef, FilterError> {
        let bad = || {
            FilterError::transformation(format!(
                "{what} `{text}` is not a field reference; write `$.field` for JSON patterns, or \
                 `$name` / `$1` for space-delimited patterns"
            ))
        };
        let Some(rest) = text.strip_prefix('$') else {
            return Err(bad());
        };
        if rest.starts_with('.') || rest.starts_with('[') {
            let chars: Vec<char> = text.chars().collect();
            let mut cur = Cursor::new(&chars);
            let sel = Selector::read(&mut cur)
                .map_err(|e| FilterError::transformation(format!("{what} `{text}`: {e}")))?;
            if !cur.at_end() {
                return Err(bad());
            }
            return Ok(FieldRef::Json(sel));
        }
        if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()) {
            return match rest.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(FieldRef::Position(n)),
                _ => Err(FilterError::transformation(format!(
                    "{what} `{text}`: fields are numbered from $1"
                ))),
            };
        }
        if !rest.is_empty() && rest.chars().all(is_name_char) {
            return Ok(FieldRef::Named(rest.to_string()));
        }
        Err(bad())
    }
}

#[derive(Debug, Clone)]
enum ValueSpec {
    Literal(f64),
    Field(FieldRef),
}

/// A metric filter's transformation: what to publish when the pattern
/// matches an event (`metricValue`), what to publish when it does not
/// (`defaultValue`), the dimensions and the unit.
///
/// ```
/// # use trailwatch::filter::{FilterPattern, MetricTransformation};
/// let pattern = FilterPattern::parse("[ip, id, user, timestamp, request, status_code, size]")?;
/// let t = MetricTransformation::new("$size")?.with_default_value(0.0)?;
/// let hit = t.evaluate(&pattern, "127.0.0.1 - - [24/Sep/2013:11:49:52 -0700] \"GET /index.html HTTP/1.1\" 404 287");
/// assert_eq!(hit.map(|d| d.value), Some(287.0));
/// # Ok::<(), trailwatch::filter::FilterError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MetricTransformation {
    metric_value: String,
    value: ValueSpec,
    default_value: Option<f64>,
    dimensions: Vec<(String, String, FieldRef)>,
    unit: String,
}

/// What one log event contributes to the metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDatum {
    /// The value published.
    pub value: f64,
    /// The unit (`"None"` unless one was set).
    pub unit: String,
    /// Dimension name and value pairs, in the order they were defined.
    pub dimensions: Vec<(String, String)>,
    /// `true` when the event matched; `false` when this is the default value.
    pub matched: bool,
}

impl MetricTransformation {
    /// A transformation publishing `metric_value` for each matching event:
    /// a number (`"1"`), `$.selector` (JSON patterns), or `$name` / `$N`
    /// (space-delimited patterns).
    pub fn new(metric_value: &str) -> Result<MetricTransformation, FilterError> {
        let len = metric_value.chars().count();
        if len == 0 || len > MAX_METRIC_VALUE_CHARS {
            return Err(FilterError::transformation(format!(
                "the metric value must be 1 to {MAX_METRIC_VALUE_CHARS} characters, not {len}"
            )));
        }
        let value = if metric_value.starts_with('$') {
            ValueSpec::Field(FieldRef::parse(metric_value, "metric value")?)
        } else {
            match number(metric_value) {
                Some(v) => ValueSpec::Literal(v),
                None => {
                    return Err(FilterError::transformation(format!(
                    "the metric value `{metric_value}` is neither a number nor a field reference \
                         such as `$.bytes` or `$size`"
                )))
                }
            }
        };
        Ok(MetricTransformation {
            metric_value: metric_value.to_string(),
            value,
            default_value: None,
            dimensions: Vec::new(),
            unit: "None".to_string(),
        })
    }

    /// Sets the value published for events the pattern does not match.
    /// CloudWatch Logs refuses a default value on a filter with dimensions.
    pub fn with_default_value(mut self, value: f64) -> Result<MetricTransformation, FilterError> {
        if !value.is_finite() {
            return Err(FilterError::transformation(
                "the default value must be a finite number",
            ));
        }
        if !self.dimensions.is_empty() {
            return Err(FilterError::transformation(
                "a metric filter with dimensions cannot have a default value",
            ));
        }
        self.default_value = Some(value);
        Ok(self)
    }

    /// Adds a dimension whose value comes from the event (`$.field`, `$name`).
    pub fn with_dimension(
        mut self,
        name: &str,
        value: &str,
    ) -> Result<MetricTransformation, FilterError> {
        if self.default_value.is_some() {
            return Err(FilterError::transformation(
                "a metric filter with a default value cannot have dimensions",
            ));
        }
        if self.dimensions.len() >= MAX_DIMENSIONS {
            return Err(FilterError::transformation(format!(
                "a metric filter can have at most {MAX_DIMENSIONS} dimensions"
            )));
        }
        let name_len = name.chars().count();
        if name.trim().is_empty()
            || name_len > MAX_DIMENSION_NAME_CHARS
            || !name.is_ascii()
            || name.starts_with(':')
        {
            return Err(FilterError::transformation(format!(
                "dimension name `{name}` must be 1 to {MAX_DIMENSION_NAME_CHARS} ASCII characters, \
                 not blank and not starting with `:`"
            )));
        }
        if self.dimensions.iter().any(|(n, _, _)| n == name) {
            return Err(FilterError::transformation(format!(
                "dimension `{name}` is defined twice"
            )));
        }
        let field = FieldRef::parse(value, "dimension value")?;
        self.dimensions
            .push((name.to_string(), value.to_string(), field));
        Ok(self)
    }

    /// Sets the unit; one of CloudWatch's standard units (`Count`, `Bytes`, …).
    pub fn with_unit(mut self, unit: &str) -> Result<MetricTransformation, FilterError> {
        if !UNITS.contains(&unit) {
            return Err(FilterError::transformation(format!(
                "unknown unit `{unit}`; use one of {}",
                UNITS.join(", ")
            )));
        }
        self.unit = unit.to_string();
        Ok(self)
    }

    /// The metric value as written.
    pub fn metric_value(&self) -> &str {
        &self.metric_value
    }

    /// The default value, if any.
    pub fn default_value(&self) -> Option<f64> {
        self.default_value
    }

    /// The unit (`"None"` unless set).
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// The dimensions as (name, field reference) pairs.
    pub fn dimensions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.dimensions
            .iter()
            .map(|(n, v, _)| (n.as_str(), v.as_str()))
    }

    /// Checks that the transformation fits `pattern`: field references of the
    /// pattern's kind, naming fields the pattern has, no dimensions or field
    /// references on unstructured patterns.
    pub fn validate(&self, pattern: &FilterPattern) -> Result<(), FilterError> {
        let refs = std::iter::once(("metric value", self.metric_value.as_str(), self.field_ref()))
            .chain(
                self.dimensions
                    .iter()
                    .map(|(_, v, f)| ("dimension value", v.as_str(), Some(f))),
            );
        for (what, text, field) in refs {
            let Some(field) = field else { continue };
            let ok = match (&pattern.kind, field) {
                (Kind::Json(j), FieldRef::Json(sel)) => j.uses(sel),
                (Kind::Delimited(d), FieldRef::Named(n)) => d.has_field(n),
                (Kind::Delimited(_), FieldRef::Position(_)) => true,
                _ => false,
            };
            if !ok {
                let hint = match &pattern.kind {
                    Kind::Json(_) => "use a `$.selector` that appears in the JSON pattern",
                    Kind::Delimited(_) => "use `$name` of a field of the pattern, or `$N`",
                    Kind::Text(_) => {
                        "unstructured patterns extract no fields: use a number as metric value and no dimensions"
                    }
                };
                return Err(FilterError::transformation(format!(
                    "{what} `{text}`: {hint}"
                )));
            }
        }
        Ok(())
    }

    fn field_ref(&self) -> Option<&FieldRef> {
        match &self.value {
            ValueSpec::Field(f) => Some(f),
            ValueSpec::Literal(_) => None,
        }
    }

    /// What one log event contributes: the metric value (and dimensions) when
    /// the pattern matches, the default value when it does not, or `None`
    /// when nothing is published (no match and no default; or a match whose
    /// metric value is missing or not a number, or whose dimension value is
    /// missing).
    pub fn evaluate(&self, pattern: &FilterPattern, message: &str) -> Option<MetricDatum> {
        let event = match &pattern.kind {
            Kind::Json(j) => match serde_json::from_str::<Value>(message) {
                Ok(v) if j.matches(&v) => Event::Json(v),
                _ => return self.default_datum(),
            },
            Kind::Delimited(d) => match d.align(message) {
                Some(a) => Event::Delimited(a),
                None => return self.default_datum(),
            },
            Kind::Text(t) => {
                if t.matches(message) {
                    Event::Text
                } else {
                    return self.default_datum();
                }
            }
        };
        let value = match &self.value {
            ValueSpec::Literal(v) => *v,
            ValueSpec::Field(f) => event.number(pattern, f)?,
        };
        let mut dimensions = Vec::with_capacity(self.dimensions.len());
        for (name, _, field) in &self.dimensions {
            dimensions.push((name.clone(), event.text(pattern, field)?));
        }
        Some(MetricDatum {
            value,
            unit: self.unit.clone(),
            dimensions,
            matched: true,
        })
    }

    fn default_datum(&self) -> Option<MetricDatum> {
        self.default_value.map(|value| MetricDatum {
            value,
            unit: self.unit.clone(),
            dimensions: Vec::new(),
            matched: false,
        })
    }
}

/// A matched event, parsed as the pattern needs it.
enum Event<'m> {
    Json(Value),
    Delimited(Alignment<'m>),
    Text,
}

impl Event<'_> {
    fn number(&self, pattern: &FilterPattern, field: &FieldRef) -> Option<f64> {
        match (self, field) {
            (Event::Json(root), FieldRef::Json(sel)) => {
                let mut out = None;
                sel.any(root, &mut |v| {
                    out = match v {
                        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
                        Value::String(s) => event_number(s),
                        _ => None,
                    };
                    out.is_some()
                });
                out
            }
            _ => self.text(pattern, field).and_then(|s| event_number(&s)),
        }
    }

    fn text(&self, pattern: &FilterPattern, field: &FieldRef) -> Option<String> {
        match (self, field, &pattern.kind) {
            (Event::Json(root), FieldRef::Json(sel), _) => {
                let mut out = None;
                sel.any(root, &mut |v| {
                    if matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                        out = Some(display(v));
                    }
                    out.is_some()
                });
                out
            }
            (Event::Delimited(a), FieldRef::Named(n), Kind::Delimited(d)) => {
                d.field_value(a, n).map(str::to_string)
            }
            (Event::Delimited(a), FieldRef::Position(p), _) => a.position(*p).map(str::to_string),
            _ => None,
        }
    }
}

/// A number as filter patterns write them, as a finite `f64`.
fn number(s: &str) -> Option<f64> {
    Decimal::parse(s)?;
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A number held as text in the event; as in comparisons, without an
/// exponent (AWS: "Strings don't support scientific notation").
fn event_number(s: &str) -> Option<f64> {
    if s.contains(['e', 'E']) {
        return None;
    }
    number(s)
}

/// What `aws logs test-metric-filter` returns for these messages:
/// `{"matches":[{"eventNumber":N,"eventMessage":"…","extractedValues":{…}}]}`,
/// numbering events from 1 in the order given and listing only those that match.
pub fn test_metric_filter(pattern: &FilterPattern, messages: &[String]) -> Value {
    let matches: Vec<Value> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, message)| {
            pattern.extract(message).map(|extracted| {
                json!({
                    "eventNumber": i + 1,
                    "eventMessage": message,
                    "extractedValues": extracted.to_json(),
                })
            })
        })
        .collect();
    json!({ "matches": matches })
}
