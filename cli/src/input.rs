//! Arguments given as text or `file://path`, like the AWS CLI.

use anyhow::{Context, Result};

/// The text of an argument, reading `file://path` arguments from disk.
pub fn text(arg: &str) -> Result<String> {
    match arg.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}")),
        None => Ok(arg.to_string()),
    }
}
