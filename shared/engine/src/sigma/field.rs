//! Field paths: dotted names into a CloudTrail record.

use serde_json::Value;

/// A dotted field path, with every way its segments may join into keys
/// (a CloudTrail key may itself hold a dot).
#[derive(Debug, Clone)]
pub(crate) struct FieldPath {
    pub text: String,
    /// `keys[i]`: (j, the segments i..j joined with '.'), shortest first.
    keys: Vec<Vec<(usize, String)>>,
}

impl FieldPath {
    pub(crate) fn new(text: &str) -> FieldPath {
        let segs: Vec<&str> = text.split('.').collect();
        let keys = (0..segs.len()).map(|i| (i + 1..=segs.len()).map(|j| (j, segs[i..j].join("."))).collect()).collect();
        FieldPath { text: text.to_string(), keys }
    }

    /// Every value at the path: through objects by key, and through
    /// arrays into each element.
    pub(crate) fn lookup<'a>(&self, record: &'a Value, out: &mut Vec<&'a Value>) {
        self.walk(record, 0, out);
    }

    fn walk<'a>(&self, v: &'a Value, at: usize, out: &mut Vec<&'a Value>) {
        if at == self.keys.len() {
            out.push(v);
            return;
        }
        match v {
            Value::Array(items) => items.iter().for_each(|item| self.walk(item, at, out)),
            Value::Object(map) => {
                for (next, key) in &self.keys[at] {
                    if let Some(child) = map.get(key) {
                        self.walk(child, *next, out);
                    }
                }
            }
            _ => {}
        }
    }
}
