//! The YAML emitter: a `serde_json` document written as block YAML, with
//! comment lines before the keys they explain (which no YAML serializer
//! offers). Strings are written plain only when no YAML 1.1 or 1.2 reader
//! could take them for anything else; otherwise as JSON strings, which YAML
//! reads as double-quoted scalars.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Comment text, keyed by the path of the key it precedes (map keys, and
/// list indices as decimal strings).
pub(crate) type Comments = HashMap<Vec<String>, String>;

/// Write `doc` (a map) as YAML, with its comments.
pub(crate) fn document(doc: &Value, comments: &Comments, out: &mut String) {
    let mut path = Vec::new();
    emit_map(doc.as_object().unwrap_or(&Map::new()), 0, &mut path, comments, out);
}

/// Comment lines, one per line of `text`, at `indent`.
pub(crate) fn comment(out: &mut String, indent: usize, text: &str) {
    for line in text.lines() {
        out.push_str(&" ".repeat(indent));
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
}

/// YAML 1.1 words a plain scalar must not be (they would read as bools or null).
const RESERVED: &[&str] = &["y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"];

/// Whether a string may be written unquoted. Conservative: letters, digits
/// and a few safe punctuation marks, starting with a letter or `/`.
fn plain_ok(s: &str, flow: bool, key: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '/') {
        return false;
    }
    if s.ends_with([':', ' ']) || s.contains(": ") || s.contains(" #") {
        return false;
    }
    if RESERVED.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        return false;
    }
    s.chars().all(|c| {
        c.is_ascii_alphanumeric() || "_./-@+=".contains(c) || (c == ':' && !flow) || (c == ' ' && !key && !flow)
    })
}

fn scalar(v: &Value, flow: bool) -> String {
    match v {
        Value::String(s) if plain_ok(s, flow, false) => s.clone(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn key_text(k: &str) -> String {
    if plain_ok(k, false, true) {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn is_scalar(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => scalar(other, false),
    }
}

/// A short list of plain scalars, written `[a, b]`.
fn flow_list(items: &[Value]) -> Option<String> {
    if items.is_empty() || !items.iter().all(|v| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))) {
        return None;
    }
    let text = format!("[{}]", items.iter().map(|v| scalar(v, true)).collect::<Vec<_>>().join(", "));
    (text.len() <= 60).then_some(text)
}

fn emit_map(map: &Map<String, Value>, indent: usize, path: &mut Vec<String>, comments: &Comments, out: &mut String) {
    for (k, v) in map {
        path.push(k.clone());
        if let Some(c) = comments.get(path) {
            comment(out, indent, c);
        }
        out.push_str(&" ".repeat(indent));
        out.push_str(&key_text(k));
        out.push(':');
        match v {
            _ if is_scalar(v) => {
                out.push(' ');
                out.push_str(&inline(v));
                out.push('\n');
            }
            Value::Array(items) => match flow_list(items) {
                Some(flow) => {
                    out.push(' ');
                    out.push_str(&flow);
                    out.push('\n');
                }
                None => {
                    out.push('\n');
                    emit_list(items, indent + 2, path, comments, out);
                }
            },
            Value::Object(m) => {
                out.push('\n');
                emit_map(m, indent + 2, path, comments, out);
            }
            _ => {}
        }
        path.pop();
    }
}

fn emit_list(items: &[Value], indent: usize, path: &mut Vec<String>, comments: &Comments, out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        path.push(i.to_string());
        let mut block = String::new();
        match item {
            _ if is_scalar(item) => block = format!("{}{}\n", " ".repeat(indent + 2), inline(item)),
            Value::Object(m) => emit_map(m, indent + 2, path, comments, &mut block),
            Value::Array(inner) => match flow_list(inner) {
                Some(flow) => block = format!("{}{flow}\n", " ".repeat(indent + 2)),
                None => emit_list(inner, indent + 2, path, comments, &mut block),
            },
            _ => {}
        }
        // The item's first line (after any comment lines) carries the dash.
        let mut dashed = false;
        for line in block.lines() {
            if !dashed && !line.trim_start().starts_with('#') {
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                out.push_str(line.get(indent + 2..).unwrap_or(line.trim_start()));
                dashed = true;
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tricky_scalars_are_quoted() {
        for s in
            ["true", "No", "1", "2010-09-09", "a: b", "x #y", "$or", "", " lead", "*", "-1", "{a}", "[a]", "a,b", "é"]
        {
            let doc = json!({"k": s, "l": [s, "x"], s: 1});
            let mut yaml = String::new();
            document(&doc, &Comments::new(), &mut yaml);
            let back: Value = serde_saphyr::from_str(&yaml).expect("parses");
            assert_eq!(back, doc, "{s:?}");
        }
    }

    #[test]
    fn comments_go_before_their_keys_and_list_items() {
        let doc = json!({"a": {"b": 1, "c": [{"d": 2}, {"e": 3}]}});
        let mut comments = Comments::new();
        comments.insert(vec!["a".into(), "b".into()], "about b".into());
        comments.insert(vec!["a".into(), "c".into(), "1".into(), "e".into()], "about e\non two lines".into());
        let mut yaml = String::new();
        document(&doc, &comments, &mut yaml);
        // A comment on an item's first key goes before the item's dash.
        assert_eq!(
            yaml,
            "a:\n  # about b\n  b: 1\n  c:\n    - d: 2\n      # about e\n      # on two lines\n    - e: 3\n"
        );
        let back: Value = serde_saphyr::from_str(&yaml).expect("parses");
        assert_eq!(back, doc);
    }
}
