//! `numeric` ranges: `[">", 0, "<=", 5]`, `["=", 3.5]`.

/// An interval of numbers, each end open, closed or unbounded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Range {
    pub(crate) low: Option<(f64, bool)>,
    pub(crate) high: Option<(f64, bool)>,
}

/// Why a numeric range was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeError {
    /// Not `[op, number]` or `[op, number, op, number]`.
    Shape,
    /// An operator other than `<`, `<=`, `=`, `>`, `>=`.
    Operator(String),
    /// The operand of an operator is not a number.
    NotANumber(String),
    /// A number outside what EventBridge compares.
    OutOfRange(f64),
    /// Two lower or two upper bounds, or `=` with another bound.
    Bounds,
    /// The lower bound is not below the upper bound.
    Empty,
}

/// EventBridge compares numbers between -5.0e9 and +5.0e9 inclusive, with
/// six digits after the decimal point (EventBridge user guide, "Numeric
/// matching").
pub(crate) const LIMIT: f64 = 5.0e9;
const SCALE: f64 = 1.0e6;

/// A number as EventBridge compares it: six decimal digits, or `None` when
/// it is outside the comparable range.
pub(crate) fn comparable(n: f64) -> Option<i64> {
    if !(-LIMIT..=LIMIT).contains(&n) {
        return None;
    }
    // In range, |n * 1e6| <= 5e15 < 2^53: the cast is exact and cannot wrap.
    Some((n * SCALE).round() as i64)
}

impl Range {
    pub(crate) fn parse(items: &[serde_json::Value]) -> Result<Range, RangeError> {
        if items.len() != 2 && items.len() != 4 {
            return Err(RangeError::Shape);
        }
        let mut range = Range { low: None, high: None };
        let mut equals = false;
        for pair in items.chunks(2) {
            let [op, operand] = pair else {
                return Err(RangeError::Shape);
            };
            let op = op.as_str().ok_or(RangeError::Shape)?;
            let n = operand
                .as_f64()
                .filter(|_| operand.is_number())
                .ok_or_else(|| RangeError::NotANumber(operand.to_string()))?;
            if comparable(n).is_none() {
                return Err(RangeError::OutOfRange(n));
            }
            let (slot, bound) = match op {
                ">" => (&mut range.low, (n, false)),
                ">=" => (&mut range.low, (n, true)),
                "<" => (&mut range.high, (n, false)),
                "<=" => (&mut range.high, (n, true)),
                "=" => {
                    if items.len() != 2 {
                        return Err(RangeError::Bounds);
                    }
                    equals = true;
                    (&mut range.low, (n, true))
                }
                other => return Err(RangeError::Operator(other.to_string())),
            };
            if slot.replace(bound).is_some() {
                return Err(RangeError::Bounds);
            }
            // event-ruler reads the lower bound first: [">", 0, "<", 5].
            if range.high.is_some() && range.low.is_some() && matches!(op, ">" | ">=") {
                return Err(RangeError::Bounds);
            }
        }
        if equals {
            range.high = range.low;
        }
        if let (Some((lo, _)), Some((hi, _))) = (range.low, range.high) {
            if !equals && comparable(lo) >= comparable(hi) {
                return Err(RangeError::Empty);
            }
        }
        Ok(range)
    }

    pub(crate) fn contains(&self, n: f64) -> bool {
        let Some(v) = comparable(n) else {
            return false;
        };
        let above = match self.low {
            None => true,
            Some((lo, inclusive)) => {
                let lo = comparable(lo).unwrap_or(i64::MIN);
                if inclusive {
                    v >= lo
                } else {
                    v > lo
                }
            }
        };
        let below = match self.high {
            None => true,
            Some((hi, inclusive)) => {
                let hi = comparable(hi).unwrap_or(i64::MAX);
                if inclusive {
                    v <= hi
                } else {
                    v < hi
                }
            }
        };
        above && below
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn range(v: serde_json::Value) -> Result<Range, RangeError> {
        Range::parse(v.as_array().expect("array"))
    }

    #[test]
    fn bounds() {
        let r = range(json!([">", 0, "<=", 5])).unwrap();
        assert!(!r.contains(0.0));
        assert!(r.contains(0.000001));
        assert!(r.contains(5.0));
        assert!(!r.contains(5.000001));
        let eq = range(json!(["=", 3.5])).unwrap();
        assert!(eq.contains(3.5) && !eq.contains(3.6));
        let r = range(json!(["<", 10])).unwrap();
        assert!(r.contains(-1e9) && !r.contains(10.0));
    }

    #[test]
    fn six_decimal_digits() {
        let r = range(json!(["=", 1.0000001])).unwrap();
        assert!(r.contains(1.0), "digits past the sixth are not compared");
    }

    #[test]
    fn limits() {
        assert!(range(json!([">", 5.0e9])).is_ok());
        assert_eq!(range(json!([">", 5.1e9])), Err(RangeError::OutOfRange(5.1e9)));
        assert!(!range(json!([">", 0])).unwrap().contains(6e9));
    }

    #[test]
    fn refused() {
        assert_eq!(range(json!([">", 5, "<", 1])), Err(RangeError::Empty));
        assert_eq!(range(json!([">", 1, ">", 2])), Err(RangeError::Bounds));
        assert_eq!(range(json!(["=", 1, "<", 2])), Err(RangeError::Bounds));
        assert_eq!(range(json!([">"])), Err(RangeError::Shape));
        assert_eq!(range(json!(["!=", 1])), Err(RangeError::Operator("!=".into())));
        assert_eq!(range(json!([">", "1"])), Err(RangeError::NotANumber("\"1\"".into())));
    }
}
