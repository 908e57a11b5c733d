//! The right-hand side of a comparison (`= "UpdateTrail"`, `!= 123.123.*`,
//! `> 1e3`, `= %Trail%`) and how it compares with a value from a log event.

use std::cmp::Ordering;

use super::error::FilterError;
use super::lex::Cursor;
use super::re::RegexMatcher;
use crate::pattern::glob::Glob;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// Reads an operator at the cursor, if there is one.
    pub(crate) fn read(cur: &mut Cursor<'_>) -> Option<CmpOp> {
        // Longest first.
        for (text, op) in [
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("=", CmpOp::Eq),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ] {
            if cur.eat_str(text) {
                return Some(op);
            }
        }
        None
    }

    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn is_equality(self) -> bool {
        matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

/// An exact decimal number: `0.d1d2d3… × 10^exp`, with no leading or
/// trailing zero digit (zero has no digits). Compares exactly, whatever the
/// number of digits or the exponent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exp: i64,
}

/// Exponents are clamped to this magnitude; beyond it every number compares
/// the same as at it, which is far outside anything a log event holds.
const EXP_CLAMP: i64 = 1_000_000_000_000;

impl Decimal {
    /// Parses the number forms filter patterns accept: an optional sign,
    /// digits with an optional fraction (or a fraction alone), and an
    /// optional exponent `e`/`E` with an optional sign.
    pub(crate) fn parse(s: &str) -> Option<Decimal> {
        let b = s.as_bytes();
        let mut i = 0usize;
        let mut negative = false;
        match b.first() {
            Some(b'-') => {
                negative = true;
                i = 1;
            }
            Some(b'+') => i = 1,
            _ => {}
        }
        let mut mantissa: Vec<u8> = Vec::new();
        let mut int_len: i64 = 0;
        while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
            mantissa.push(d - b'0');
            int_len += 1;
            i += 1;
        }
        let mut frac_len = 0usize;
        if b.get(i) == Some(&b'.') {
            i += 1;
            while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                mantissa.push(d - b'0');
                frac_len += 1;
                i += 1;
            }
        }
        if int_len == 0 && frac_len == 0 {
            return None;
        }
        let mut e: i64 = 0;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            let mut e_neg = false;
            match b.get(i) {
                Some(b'-') => {
                    e_neg = true;
                    i += 1;
                }
                Some(b'+') => i += 1,
                _ => {}
            }
            let mut seen = false;
            while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                seen = true;
                e = e.saturating_mul(10).saturating_add(i64::from(d - b'0')).min(EXP_CLAMP);
                i += 1;
            }
            if !seen {
                return None;
            }
            if e_neg {
                e = -e;
            }
        }
        if i != b.len() {
            return None;
        }
        // Normalise: drop leading zeros (moving the point), then trailing zeros.
        let lead = mantissa.iter().take_while(|d| **d == 0).count();
        let mut exp = int_len.saturating_add(e);
        let digits: Vec<u8> = mantissa.get(lead..).unwrap_or(&[]).to_vec();
        exp = exp.saturating_sub(i64::try_from(lead).unwrap_or(i64::MAX));
        let mut digits = digits;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Some(Decimal { negative: false, digits, exp: 0 });
        }
        Some(Decimal { negative, digits, exp })
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    fn cmp_magnitude(&self, other: &Decimal) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self.exp.cmp(&other.exp).then_with(|| self.digits.cmp(&other.digits)),
        }
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a value from the log event is compared with.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    /// A string without wildcards: exact, case-sensitive equality.
    Exact(String),
    /// A string with `*` wildcards (the engine's one `*` matcher).
    Glob(Glob),
    /// An unquoted number: numeric comparison.
    Number { value: Decimal, text: String },
    /// A `%regex%`: matches when found anywhere in the value.
    Regex(Box<RegexMatcher>),
}

/// A value taken from a log event: a JSON string, number or boolean, or a
/// space-delimited field (always a string).
#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldValue<'v> {
    Str(&'v str),
    Num(&'v serde_json::Number),
    Bool(bool),
}

impl FieldValue<'_> {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            FieldValue::Str(s) => std::borrow::Cow::Borrowed(s),
            FieldValue::Num(n) => std::borrow::Cow::Owned(n.to_string()),
            FieldValue::Bool(true) => std::borrow::Cow::Borrowed("true"),
            FieldValue::Bool(false) => std::borrow::Cow::Borrowed("false"),
        }
    }

    /// The value as a number: a JSON number, or a string that is a number
    /// written without an exponent (AWS: "Strings don't support scientific
    /// notation").
    fn number(&self) -> Option<Decimal> {
        match self {
            FieldValue::Str(s) if s.contains(['e', 'E']) => None,
            FieldValue::Str(s) => Decimal::parse(s),
            FieldValue::Num(n) => Decimal::parse(&n.to_string()),
            FieldValue::Bool(_) => None,
        }
    }
}

/// `op value`, the part of a condition after the selector or field name.
#[derive(Debug, Clone)]
pub(crate) struct Comparison {
    pub(crate) op: CmpOp,
    pub(crate) operand: Operand,
}

impl Comparison {
    /// Reads `op value` at the cursor. `stop` tells which characters end an
    /// unquoted value in this grammar. Returns the comparison and whether it
    /// holds a regular expression.
    pub(crate) fn read(cur: &mut Cursor<'_>, subject: &str, stop: fn(char) -> bool) -> Result<Comparison, FilterError> {
        let op_at = cur.pos();
        let Some(op) = CmpOp::read(cur) else {
            return Err(FilterError::syntax(
                op_at,
                format!("expected an operator (=, !=, <, <=, >, >=) after `{subject}`, found {}", cur.describe_here()),
            ));
        };
        if op == CmpOp::Eq && cur.peek() == Some('=') {
            return Err(FilterError::syntax(op_at, "`==` is not an operator; write `=`"));
        }
        cur.skip_ws();
        let at = cur.pos();
        let operand = match cur.peek() {
            Some('"') => {
                let s = cur.quoted()?;
                if s.contains('*') {
                    Operand::Glob(Glob::split_stars(&s))
                } else {
                    Operand::Exact(s)
                }
            }
            Some('%') => {
                let (body, body_at) = cur.regex_body()?;
                Operand::Regex(Box::new(RegexMatcher::new(&body, body_at)?))
            }
            _ => {
                let token = cur.take_while(|c| !stop(c));
                if token.is_empty() {
                    return Err(FilterError::syntax(
                        at,
                        format!("expected a value after `{subject} {}`, found {}", op.symbol(), cur.describe_here()),
                    ));
                }
                if let Some((i, c)) = token
                    .chars()
                    .enumerate()
                    .find(|(_, c)| !c.is_ascii() || matches!(c, '@' | '$' | '\\' | '\'' | '%' | '`'))
                {
                    return Err(FilterError::syntax(
                        at + i,
                        format!(
                            "value `{token}` contains `{c}`; values with such characters must be \
                             enclosed in double quotes, e.g. \"{token}\""
                        ),
                    ));
                }
                if token.contains('*') {
                    Operand::Glob(Glob::split_stars(&token))
                } else if let Some(value) = Decimal::parse(&token) {
                    Operand::Number { value, text: token }
                } else {
                    Operand::Exact(token)
                }
            }
        };
        if !op.is_equality() && !matches!(operand, Operand::Number { .. }) {
            return Err(FilterError::syntax(
                at,
                format!(
                    "`{}` compares numbers, but the value after it is not a number; use `=` or `!=` \
                     to compare strings",
                    op.symbol()
                ),
            ));
        }
        Ok(Comparison { op, operand })
    }

    pub(crate) fn has_regex(&self) -> bool {
        matches!(self.operand, Operand::Regex(_))
    }

    /// Whether a value of the log event satisfies the comparison, adding
    /// the work done to `steps` (`FilterPattern::match_steps`): one for the
    /// comparison, the length of the value's text for reading it (as a
    /// number, too), the operand's length for an exact comparison, the
    /// glob's own count, and for a regular expression the length of the
    /// text it searches (the `regex` crate bounds its work per byte by the
    /// size of the compiled expression: O(m × n) in all).
    pub(crate) fn holds(&self, v: FieldValue<'_>, steps: &mut u64) -> bool {
        match self.op {
            CmpOp::Eq => self.equals(v, steps),
            CmpOp::Ne => !self.equals(v, steps),
            op => {
                let Operand::Number { value, .. } = &self.operand else {
                    return false;
                };
                *steps += 1 + v.text().len() as u64;
                let Some(n) = v.number() else {
                    return false;
                };
                let ord = n.cmp(value);
                match op {
                    CmpOp::Lt => ord == Ordering::Less,
                    CmpOp::Le => ord != Ordering::Greater,
                    CmpOp::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                }
            }
        }
    }

    fn equals(&self, v: FieldValue<'_>, steps: &mut u64) -> bool {
        let text = v.text();
        *steps += 1 + text.len() as u64;
        match &self.operand {
            Operand::Exact(s) => {
                *steps += s.len() as u64;
                text == s.as_str()
            }
            Operand::Glob(g) => g.matches_counting(&text, steps),
            Operand::Regex(r) => {
                *steps += text.len() as u64;
                r.is_match(&text)
            }
            Operand::Number { value, text: written } => match v {
                FieldValue::Bool(_) => false,
                FieldValue::Str(s) if s == written => true,
                _ => v.number().is_some_and(|n| &n == value),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        match Decimal::parse(s) {
            Some(v) => v,
            None => panic!("{s} should parse"),
        }
    }

    #[test]
    fn decimal_forms() {
        for s in ["0", "-0", "+1", "1.", ".5", "1e3", "1E+3", "1e-3", "-2.50e2", "007"] {
            assert!(Decimal::parse(s).is_some(), "{s}");
        }
        for s in ["", "-", ".", "e3", "1e", "1e+", "1.2.3", "0x10", "1_000", "NaN", "Infinity", " 1"] {
            assert!(Decimal::parse(s).is_none(), "{s}");
        }
    }

    #[test]
    fn decimal_order() {
        assert_eq!(d("1e3"), d("1000"));
        assert_eq!(d("1000.000"), d("+1000"));
        assert_eq!(d("-0"), d("0.0"));
        assert_eq!(d("0.001"), d("1e-3"));
        assert!(d("10e-3") < d("0.011"));
        assert!(d("-5") < d("-4.99"));
        assert!(d("-5") < d("0"));
        assert!(d("12345678901234567891") > d("12345678901234567890"));
        assert!(d("1e999999999999999999999") > d("1e100"));
        assert!(d("55.5") >= d("55.50"));
    }
}
