//! Space-delimited patterns:
//! `[ip, user, ..., status_code = 4* && status_code != 403, bytes > 1000]`.

use super::error::FilterError;
use super::expr::{self, Expr};
use super::lex::{is_name_char, Cursor};
use super::value::{Comparison, FieldValue};
use super::{Extracted, MAX_REGEXES};

/// One condition inside a field: `status_code = 4*`.
#[derive(Debug, Clone)]
struct FieldCondition {
    at: usize,
    name: String,
    cmp: Comparison,
}

/// One position of the pattern.
#[derive(Debug, Clone)]
enum Item {
    /// `...`: any number of fields, including none.
    Ellipsis,
    /// One field, named or not, with optional conditions.
    Field { name: Option<String>, condition: Option<Expr<FieldCondition>> },
}

/// A parsed space-delimited pattern.
#[derive(Debug, Clone)]
pub(crate) struct DelimitedPattern {
    items: Vec<Item>,
    /// The items split at each run of ellipses: the first segment is anchored
    /// at the start of the event, the last at its end; item indexes.
    segments: Vec<Vec<usize>>,
}

/// Characters that end an unquoted value in a space-delimited pattern.
fn value_stop(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | '[' | ']' | '(' | ')' | '{' | '}' | '"' | '&' | '|' | '=' | '<' | '>' | '!')
}

fn read_field_condition(cur: &mut Cursor<'_>) -> Result<FieldCondition, FilterError> {
    cur.skip_ws();
    let at = cur.pos();
    let name = cur.take_while(is_name_char);
    if name.is_empty() {
        return Err(FilterError::syntax(
            at,
            format!("expected a field name (letters, digits, `-`, `_`), found {}", cur.describe_here()),
        ));
    }
    cur.skip_ws();
    let cmp = Comparison::read(cur, &name, value_stop)?;
    Ok(FieldCondition { at, name, cmp })
}

impl DelimitedPattern {
    /// Parses `[ ... ]`; the cursor is on the `[`.
    pub(crate) fn parse(cur: &mut Cursor<'_>) -> Result<DelimitedPattern, FilterError> {
        let open = cur.pos();
        if !cur.eat('[') {
            return Err(FilterError::syntax(open, "a space-delimited pattern starts with `[`"));
        }
        let mut items: Vec<Item> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut regexes = 0usize;
        loop {
            cur.skip_ws();
            let item_at = cur.pos();
            let item = if cur.eat_str("...") {
                Item::Ellipsis
            } else if matches!(cur.peek(), Some(',' | ']')) {
                Item::Field { name: None, condition: None }
            } else if cur.at_end() {
                return Err(unclosed(cur, open));
            } else {
                let save = cur.pos();
                let bare = cur.take_while(is_name_char);
                cur.skip_ws();
                if !bare.is_empty() && (cur.at_end() || matches!(cur.peek(), Some(',' | ']'))) {
                    Item::Field { name: Some(bare), condition: None }
                } else {
                    cur.reset(save);
                    let condition = expr::parse(cur, &mut read_field_condition)?;
                    let mut first: Option<&FieldCondition> = None;
                    let mut mismatch: Option<FilterError> = None;
                    condition.visit(&mut |fc: &FieldCondition| {
                        if fc.cmp.has_regex() {
                            regexes += 1;
                            if regexes > MAX_REGEXES && mismatch.is_none() {
                                mismatch = Some(FilterError::Limit {
                                    offset: fc.at,
                                    message: format!(
                                        "a space-delimited filter pattern can contain at most {MAX_REGEXES} \
                                         regular expressions"
                                    ),
                                });
                            }
                        }
                        match first {
                            None => first = Some(fc),
                            Some(f) if f.name != fc.name && mismatch.is_none() => {
                                mismatch = Some(FilterError::syntax(
                                    fc.at,
                                    format!(
                                        "condition on `{}` inside the field `{}`: every condition of a \
                                         field must name that field (separate fields with `,`)",
                                        fc.name, f.name
                                    ),
                                ));
                            }
                            Some(_) => {}
                        }
                    });
                    if let Some(e) = mismatch {
                        return Err(e);
                    }
                    let name = first.map(|f| f.name.clone());
                    Item::Field { name, condition: Some(condition) }
                }
            };
            if let Item::Field { name: Some(n), .. } = &item {
                if names.contains(n) {
                    return Err(FilterError::syntax(
                        item_at,
                        format!("field name `{n}` is used twice; give each field its own name"),
                    ));
                }
                names.push(n.clone());
            }
            let is_ellipsis = matches!(item, Item::Ellipsis);
            items.push(item);
            cur.skip_ws();
            if cur.eat(',') {
                continue;
            }
            if cur.eat(']') {
                break;
            }
            if cur.at_end() {
                return Err(unclosed(cur, open));
            }
            if is_ellipsis {
                return Err(FilterError::syntax(
                    cur.pos(),
                    format!("expected `,` or `]` after `...`, found {}", cur.describe_here()),
                ));
            }
            return Err(expr::expected_after(cur, "`,` or `]`"));
        }
        cur.skip_ws();
        if !cur.at_end() {
            return Err(FilterError::syntax(
                cur.pos(),
                format!("unexpected {} after the closing `]` of the space-delimited pattern", cur.describe_here()),
            ));
        }
        let mut segments: Vec<Vec<usize>> = vec![Vec::new()];
        let mut previous_was_ellipsis = false;
        for (i, item) in items.iter().enumerate() {
            match item {
                Item::Ellipsis if previous_was_ellipsis => {}
                Item::Ellipsis => {
                    segments.push(Vec::new());
                    previous_was_ellipsis = true;
                }
                Item::Field { .. } => {
                    if let Some(seg) = segments.last_mut() {
                        seg.push(i);
                    }
                    previous_was_ellipsis = false;
                }
            }
        }
        Ok(DelimitedPattern { items, segments })
    }

    /// Whether the item at `index` accepts `field`, adding the work done
    /// to `steps`.
    fn accepts(&self, index: usize, field: &str, steps: &mut u64) -> bool {
        *steps += 1;
        match self.items.get(index) {
            Some(Item::Field { condition: Some(condition), .. }) => {
                condition.eval(&mut |fc: &FieldCondition| fc.cmp.holds(FieldValue::Str(field), steps))
            }
            Some(Item::Field { condition: None, .. }) => true,
            Some(Item::Ellipsis) | None => false,
        }
    }

    fn segment_at(&self, seg: &[usize], fields: &[&str], start: usize, steps: &mut u64) -> bool {
        seg.iter().enumerate().all(|(j, &item)| fields.get(start + j).is_some_and(|f| self.accepts(item, f, steps)))
    }

    /// Matches the event; on success returns which item took each field
    /// (`None` for fields covered by an ellipsis). Adds the work done to
    /// `steps`: the message's length for splitting it into fields, and each
    /// field check. The segments between ellipses are placed leftmost, in
    /// order, as the glob places the segments between stars: a segment of
    /// `s` items is tried at most once at each field, so the checks number
    /// at most fields × items.
    fn align<'m>(&self, message: &'m str, steps: &mut u64) -> Option<Alignment<'m>> {
        *steps += 1 + message.len() as u64;
        let spans = split_spans(message);
        let (first, rest) = self.segments.split_first()?;
        let Some((last, middle)) = rest.split_last() else {
            // No ellipsis: one field per item, and the last item takes the
            // rest of the event when the event has more fields.
            let p = first.len();
            if spans.len() < p || p == 0 {
                return None;
            }
            let mut fields: Vec<&'m str> = spans.iter().take(p).map(|(f, _)| *f).collect();
            if spans.len() > p {
                let start = spans.get(p - 1).map_or(0, |(_, s)| *s);
                if let (Some(slot), Some(rest)) = (fields.last_mut(), message.get(start..)) {
                    *slot = rest.trim_end();
                }
            }
            let mut owner: Vec<Option<usize>> = vec![None; p];
            if !self.segment_at(first, &fields, 0, steps) {
                return None;
            }
            for (slot, &item) in owner.iter_mut().zip(first.iter()) {
                *slot = Some(item);
            }
            return Some(Alignment { fields, owner });
        };
        let fields: Vec<&'m str> = spans.iter().map(|(f, _)| *f).collect();
        let n = fields.len();
        let mut owner: Vec<Option<usize>> = vec![None; n];
        if first.len() + last.len() > n {
            return None;
        }
        let tail = n - last.len();
        if !self.segment_at(first, &fields, 0, steps) || !self.segment_at(last, &fields, tail, steps) {
            return None;
        }
        // Middle segments: leftmost placement in order (as `*` globs do), which
        // finds a match whenever one exists.
        let mut pos = first.len();
        let mut placed: Vec<(usize, &Vec<usize>)> = vec![(0, first)];
        for seg in middle {
            let mut at = pos;
            loop {
                if at + seg.len() > tail {
                    return None;
                }
                if self.segment_at(seg, &fields, at, steps) {
                    break;
                }
                at += 1;
            }
            placed.push((at, seg));
            pos = at + seg.len();
        }
        placed.push((tail, last));
        for (start, seg) in placed {
            for (j, &item) in seg.iter().enumerate() {
                if let Some(slot) = owner.get_mut(start + j) {
                    *slot = Some(item);
                }
            }
        }
        Some(Alignment { fields, owner })
    }

    pub(crate) fn matches(&self, message: &str, steps: &mut u64) -> bool {
        self.align(message, steps).is_some()
    }

    pub(crate) fn extract(&self, message: &str) -> Option<Extracted> {
        let a = self.align(message, &mut 0)?;
        let mut out = Extracted::default();
        for (i, (field, owner)) in a.fields.iter().zip(a.owner.iter()).enumerate() {
            let name = match owner.and_then(|o| self.items.get(o)) {
                Some(Item::Field { name: Some(n), .. }) => format!("${n}"),
                _ => format!("${}", i + 1),
            };
            out.push(name, (*field).to_string());
        }
        Some(out)
    }
}

fn unclosed(cur: &Cursor<'_>, open: usize) -> FilterError {
    FilterError::syntax(
        cur.pos(),
        format!("the space-delimited pattern opened at character {open} is not closed; add `]`"),
    )
}

/// A matched event: its fields and which pattern item took each.
#[derive(Debug)]
struct Alignment<'m> {
    fields: Vec<&'m str>,
    owner: Vec<Option<usize>>,
}

/// Splits an event into fields: runs of whitespace separate fields, and the
/// text between `"…"` or `[…]` is one field (without the quotes or brackets).
/// An unclosed `"` or `[` is an ordinary character.
#[cfg(test)]
pub(crate) fn split(message: &str) -> Vec<&str> {
    split_spans(message).into_iter().map(|(f, _)| f).collect()
}

/// [`split`], with the byte offset where each field starts in the event
/// (at its opening quote or bracket, if any).
fn split_spans(message: &str) -> Vec<(&str, usize)> {
    let bytes = message.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let Some(&b) = bytes.get(i) else { break };
        let start = i;
        let closer = match b {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(closer) = closer {
            let rest = bytes.get(i + 1..).unwrap_or(&[]);
            if let Some(len) = memchr::memchr(closer, rest) {
                if let Some(field) = message.get(i + 1..i + 1 + len) {
                    out.push((field, start));
                }
                i += len + 2;
                continue;
            }
        }
        while bytes.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
            i += 1;
        }
        if let Some(field) = message.get(start..i) {
            out.push((field, start));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(
            split(r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#),
            vec!["127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700", "GET /apache_pb.gif HTTP/1.0", "200", "1534"]
        );
        assert_eq!(split("  a \t b  "), vec!["a", "b"]);
        assert_eq!(split(r#"a "b c"d"#), vec!["a", "b c", "d"]);
        assert_eq!(split(r#"a "unclosed b"#), vec!["a", "\"unclosed", "b"]);
        assert_eq!(split(r#"x "" []"#), vec!["x", "", ""]);
        assert_eq!(split("é [ü] \"ñ\""), vec!["é", "ü", "ñ"]);
        assert!(split("").is_empty());
    }
}
