//! What the SigmaHQ rule tests share: where SigmaHQ's CloudTrail rules are
//! (`../shared/sigma`, read in place, never copied), and building records
//! by dotted path.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// `../shared/sigma` beside the repository (or `$TRAILWATCH_SHARED/sigma`);
/// `None`, said on stdout, when it is absent.
pub fn sigma_dir() -> Option<PathBuf> {
    let shared = match std::env::var_os("TRAILWATCH_SHARED") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let dir = shared.join("sigma");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared/sigma not found");
        None
    }
}

/// Set `value` at a dotted path of `record`, making objects on the way.
pub fn set_path(record: &mut Map<String, Value>, path: &str, value: Value) {
    let mut segs = path.split('.').peekable();
    let mut at = record;
    while let Some(seg) = segs.next() {
        if segs.peek().is_none() {
            at.insert(seg.to_string(), value);
            return;
        }
        let child = at.entry(seg.to_string()).or_insert_with(|| json!({}));
        if !child.is_object() {
            *child = json!({});
        }
        let Value::Object(next) = child else { return };
        at = next;
    }
}
