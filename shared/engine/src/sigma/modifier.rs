//! Value modifiers (modifiers appendix): parsed from a detection key
//! (`field|mod1|mod2`) and applied, in order, to the key's values at load.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use serde_json::Value;

use super::error::Problem;
use super::field::FieldPath;
use super::string::{SigmaStr, StrMatcher, REGEX_SIZE_LIMIT};
use super::time::TimePart;

/// One modifier after `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Re,
    ReI,
    ReM,
    ReS,
    Cidr,
    Exists,
    Cased,
    FieldRef,
    Windash,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Cmp(Cmp),
    Neq,
    Expand,
    Time(TimePart),
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
}

impl Cmp {
    pub(crate) fn holds(self, field: f64, value: f64) -> bool {
        match self {
            Cmp::Lt => field < value,
            Cmp::Lte => field <= value,
            Cmp::Gt => field > value,
            Cmp::Gte => field >= value,
            Cmp::Eq => field == value,
        }
    }
}

impl Modifier {
    pub(crate) fn parse(name: &str) -> Option<Modifier> {
        Some(match name {
            "contains" => Modifier::Contains,
            "startswith" => Modifier::StartsWith,
            "endswith" => Modifier::EndsWith,
            "all" => Modifier::All,
            "re" => Modifier::Re,
            "i" => Modifier::ReI,
            "m" => Modifier::ReM,
            "s" => Modifier::ReS,
            "cidr" => Modifier::Cidr,
            "exists" => Modifier::Exists,
            "cased" => Modifier::Cased,
            "fieldref" => Modifier::FieldRef,
            "windash" => Modifier::Windash,
            "base64" => Modifier::Base64,
            "base64offset" => Modifier::Base64Offset,
            "utf16le" | "wide" => Modifier::Utf16Le,
            "utf16be" => Modifier::Utf16Be,
            "utf16" => Modifier::Utf16,
            "lt" => Modifier::Cmp(Cmp::Lt),
            "lte" => Modifier::Cmp(Cmp::Lte),
            "gt" => Modifier::Cmp(Cmp::Gt),
            "gte" => Modifier::Cmp(Cmp::Gte),
            "neq" => Modifier::Neq,
            "expand" => Modifier::Expand,
            "minute" => Modifier::Time(TimePart::Minute),
            "hour" => Modifier::Time(TimePart::Hour),
            "day" => Modifier::Time(TimePart::Day),
            "week" => Modifier::Time(TimePart::Week),
            "month" => Modifier::Time(TimePart::Month),
            "year" => Modifier::Time(TimePart::Year),
            _ => return None,
        })
    }
}

/// The modifier names, for error messages.
pub(crate) const KNOWN: &str =
    "contains, startswith, endswith, all, re (with i, m, s), cidr, exists, cased, fieldref, \
windash, base64, base64offset, utf16le, utf16be, utf16, wide, lt, lte, gt, gte, neq, expand, minute, hour, day, week, \
month, year";

/// How a `fieldref` compares the two fields' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Affix {
    Whole,
    Prefix,
    Suffix,
    Inside,
}

/// One compiled value of a detection item.
#[derive(Debug, Clone)]
pub(crate) enum ValueMatcher {
    /// A Sigma string (wildcards, case as the item says).
    Str(StrMatcher),
    /// `re`: searched anywhere in the text unless anchored.
    Regex(regex::bytes::Regex),
    /// `cidr`: an IP address within the network.
    Cidr(IpAddr, u8),
    /// `lt`/`lte`/`gt`/`gte`, and time parts: a number or numeric string.
    Num(Cmp, f64),
    /// `fieldref`: equal to (or with an affix, around) another field's value.
    FieldRef { path: FieldPath, affix: Affix, cased: bool },
}

/// What a detection item checks of its field.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    /// `|exists: true/false`.
    Exists(bool),
    /// `null`: the field is missing or JSON null.
    Null,
    /// Values: each group is one rule value (its variants, any of which
    /// may match); groups are OR-ed, or AND-ed with `all`. `neq` inverts:
    /// the field has a value and no group matches it. `time` maps the
    /// field's timestamp to a number first.
    Values { groups: Vec<Vec<ValueMatcher>>, all: bool, neq: bool, time: Option<TimePart> },
}

/// Placeholder values supplied by the caller (`expand`).
pub(crate) type Placeholders = HashMap<String, Vec<String>>;

/// Compile the value(s) of one detection key. `key` names the item in
/// errors; `field` is `None` for keywords.
pub(crate) fn compile_test(
    key: &str,
    field: Option<&str>,
    mods: &[Modifier],
    value: &Value,
    placeholders: &Placeholders,
) -> Result<Test, Problem> {
    let err = |reason: String| Problem::invalid(Some(key.to_string()), format!("\"{key}\": {reason}"));
    let has = |m: Modifier| mods.contains(&m);
    let raw: Vec<&Value> = match value {
        Value::Array(items) if items.is_empty() => return Err(err("an empty list of values matches nothing".into())),
        Value::Array(items) => items.iter().collect(),
        v => vec![v],
    };
    if raw.iter().any(|v| v.is_object() || v.is_array()) {
        return Err(err("a value must be a string, number, boolean or null, not a list or map".into()));
    }
    if has(Modifier::Exists) {
        if mods.len() != 1 || field.is_none() {
            return Err(err("exists takes a field and no other modifier".into()));
        }
        return match raw.as_slice() {
            [Value::Bool(b)] => Ok(Test::Exists(*b)),
            [Value::String(s)] if s == "true" || s == "false" => Ok(Test::Exists(s == "true")),
            _ => Err(err("exists takes true or false".into())),
        };
    }
    if raw.iter().any(|v| v.is_null()) {
        if raw.len() > 1 {
            return Err(err("null cannot be part of a list of values: put it in a selection of its own".into()));
        }
        if !mods.is_empty() {
            return Err(err("null takes no modifier".into()));
        }
        if field.is_none() {
            return Err(err("a keyword cannot be null".into()));
        }
        return Ok(Test::Null);
    }
    let all = has(Modifier::All);
    if all && raw.len() < 2 {
        return Err(err(
            "all needs a list of at least two values (modifiers appendix: single values may not use all)".into()
        ));
    }
    let neq = has(Modifier::Neq);
    let time = mods.iter().find_map(|m| if let Modifier::Time(t) = m { Some(*t) } else { None });
    let cmp = mods.iter().find_map(|m| if let Modifier::Cmp(c) = m { Some(*c) } else { None });
    let cased = has(Modifier::Cased);
    let re = has(Modifier::Re);
    let flags: Vec<Modifier> =
        mods.iter().copied().filter(|m| matches!(m, Modifier::ReI | Modifier::ReM | Modifier::ReS)).collect();
    if !flags.is_empty() && !re {
        return Err(err("the i, m and s modifiers apply only after re".into()));
    }
    let kinds = [re, has(Modifier::Cidr), has(Modifier::FieldRef), cmp.is_some() || time.is_some()];
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err(err("re, cidr, fieldref and numeric comparisons cannot be combined".into()));
    }
    let encodes = mods.iter().any(|m| {
        matches!(
            m,
            Modifier::Base64
                | Modifier::Base64Offset
                | Modifier::Utf16
                | Modifier::Utf16Le
                | Modifier::Utf16Be
                | Modifier::Windash
        )
    });
    let affix = mods.iter().any(|m| matches!(m, Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith));
    if (re || has(Modifier::Cidr) || cmp.is_some() || time.is_some()) && encodes {
        return Err(err("encoding modifiers and windash apply to strings, not to re, cidr or numbers".into()));
    }
    if (has(Modifier::Cidr) || cmp.is_some() || time.is_some()) && (affix || cased) {
        return Err(err("contains, startswith, endswith and cased apply to strings, not to cidr or numbers".into()));
    }
    if has(Modifier::FieldRef) && encodes {
        return Err(err("fieldref cannot be combined with encoding modifiers".into()));
    }

    let mut groups = Vec::with_capacity(raw.len());
    for v in raw {
        let texts = match v {
            Value::String(s) if has(Modifier::Expand) => {
                expand(s, placeholders).map_err(|p| Problem { key: Some(key.into()), ..p })?
            }
            Value::String(s) => vec![s.clone()],
            other => vec![other.to_string()],
        };
        let mut group = Vec::new();
        for text in texts {
            if re {
                let mut pattern = String::new();
                for f in &flags {
                    pattern.push_str(match f {
                        Modifier::ReI => "(?i)",
                        Modifier::ReM => "(?m)",
                        _ => "(?s)",
                    });
                }
                pattern.push_str(&text);
                let regex = regex::bytes::RegexBuilder::new(&pattern)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| err(format!("not a regular expression: {e}")))?;
                group.push(ValueMatcher::Regex(regex));
            } else if has(Modifier::Cidr) {
                let (ip, len) = parse_cidr(&text).ok_or_else(|| {
                    err(format!("\"{text}\" is not a CIDR block such as 10.0.0.0/8 or 2001:db8::/32"))
                })?;
                group.push(ValueMatcher::Cidr(ip, len));
            } else if cmp.is_some() || time.is_some() {
                let n = match v {
                    Value::Number(n) => n.as_f64(),
                    _ => text.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                }
                .ok_or_else(|| err(format!("\"{text}\" is not a number")))?;
                group.push(ValueMatcher::Num(cmp.unwrap_or(Cmp::Eq), n));
            } else if has(Modifier::FieldRef) {
                if text.contains(['*', '?']) {
                    return Err(err("a field reference cannot hold wildcards".into()));
                }
                let a = match (has(Modifier::StartsWith), has(Modifier::EndsWith), has(Modifier::Contains)) {
                    (_, _, true) | (true, true, _) => Affix::Inside,
                    (true, false, false) => Affix::Prefix,
                    (false, true, false) => Affix::Suffix,
                    _ => Affix::Whole,
                };
                group.push(ValueMatcher::FieldRef { path: FieldPath::new(&text), affix: a, cased });
            } else {
                let start = if v.is_string() { SigmaStr::parse(&text) } else { SigmaStr::plain(&text) };
                let mut variants = vec![start];
                for m in mods {
                    variants = transform(*m, variants).map_err(&err)?;
                }
                if field.is_none() && !affix {
                    // Keywords search inside the record's strings.
                    variants = variants.into_iter().map(|s| s.star_before().star_after()).collect();
                }
                for s in variants {
                    group.push(ValueMatcher::Str(StrMatcher::compile(&s, cased).map_err(&err)?));
                }
            }
        }
        groups.push(group);
    }
    Ok(Test::Values { groups, all, neq, time })
}

/// Apply one transformation modifier to each variant of a value.
fn transform(m: Modifier, variants: Vec<SigmaStr>) -> Result<Vec<SigmaStr>, String> {
    let plain = |s: &SigmaStr| {
        s.as_plain()
            .ok_or_else(|| "encoding a value with wildcards is not possible: escape them as \\* and \\?".to_string())
    };
    let mut out = Vec::with_capacity(variants.len());
    for s in variants {
        match m {
            Modifier::Contains => out.push(s.star_before().star_after()),
            Modifier::StartsWith => out.push(s.star_after()),
            Modifier::EndsWith => out.push(s.star_before()),
            Modifier::Windash => out.push(s.windash()),
            Modifier::Utf16Le | Modifier::Utf16Be | Modifier::Utf16 => {
                let text = String::from_utf8(plain(&s)?).map_err(|_| "utf16 takes text".to_string())?;
                let mut bytes = Vec::with_capacity(text.len() * 2 + 2);
                if m == Modifier::Utf16 {
                    bytes.extend_from_slice(&[0xFF, 0xFE]);
                }
                for unit in text.encode_utf16() {
                    let b = if m == Modifier::Utf16Be { unit.to_be_bytes() } else { unit.to_le_bytes() };
                    bytes.extend_from_slice(&b);
                }
                out.push(SigmaStr::bytes(bytes));
            }
            Modifier::Base64 => {
                out.push(SigmaStr::plain(&base64::engine::general_purpose::STANDARD.encode(plain(&s)?)));
            }
            Modifier::Base64Offset => {
                let bytes = plain(&s)?;
                out.extend(base64_offsets(&bytes).into_iter().map(|t| SigmaStr::plain(&t)));
            }
            _ => out.push(s),
        }
    }
    Ok(out)
}

/// `base64offset`: the three encodings of `value` at byte offsets 0, 1
/// and 2 of a longer base64 text, without the leading and trailing
/// characters that depend on the neighbouring bytes.
pub(crate) fn base64_offsets(value: &[u8]) -> Vec<String> {
    (0..3usize)
        .map(|shift| {
            let mut padded = vec![b' '; shift];
            padded.extend_from_slice(value);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&padded);
            // The shift's own characters go; so do the characters the
            // value's last bytes share with what follows it.
            let start = [0, 2, 3][shift];
            let end_trim = [0, 3, 2][(value.len() + shift) % 3];
            let end = encoded.len().saturating_sub(end_trim);
            encoded.get(start..end.max(start)).unwrap_or_default().to_string()
        })
        .collect()
}

/// Expand `%name%` placeholders (rules specification, "Placeholders"):
/// `\%` is a plain percent; each placeholder takes each of its values.
fn expand(text: &str, placeholders: &Placeholders) -> Result<Vec<String>, Problem> {
    let mut outs = vec![String::new()];
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some((_, '%'))) => {
                chars.next();
                outs.iter_mut().for_each(|o| o.push('%'));
            }
            '%' => {
                let rest = &text[i + 1..];
                let Some(end) = rest.find('%') else {
                    outs.iter_mut().for_each(|o| o.push('%'));
                    continue;
                };
                let name = &rest[..end];
                for _ in 0..=end {
                    chars.next();
                }
                let Some(values) = placeholders.get(name).filter(|v| !v.is_empty()) else {
                    return Err(Problem::refused(
                        None,
                        format!(
                            "placeholder %{name}% has no values: the specification (Placeholders) requires a tool \
                             that cannot expand a placeholder to reject the rule; supply its values \
                             (SigmaOptions.placeholders)"
                        ),
                    ));
                };
                outs = outs.iter().flat_map(|o| values.iter().map(move |v| format!("{o}{v}"))).collect();
                if outs.len() > 4096 {
                    return Err(Problem::invalid(None, "placeholders expand into more than 4096 values"));
                }
            }
            c => outs.iter_mut().for_each(|o| o.push(c)),
        }
    }
    Ok(outs)
}

/// A CIDR block (`10.0.0.0/8`, `2001:db8::/32`), or a bare address.
pub(crate) fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match text.trim().split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text.trim(), None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max)?,
        None => max,
    };
    Some((ip, len))
}

/// Whether `ip` lies within the block.
pub(crate) fn in_cidr(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}
