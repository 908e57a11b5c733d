//! Why a Sigma file was not loaded.

/// A Sigma file that is not valid Sigma, or valid Sigma that trailwatch
/// cannot run: the file, the line when known, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigmaError {
    /// Not valid Sigma (or not valid YAML).
    #[error("{origin}{}: {reason}", line_suffix(*.line))]
    Invalid { origin: String, line: Option<u64>, reason: String },
    /// Valid Sigma that trailwatch refuses to run, and why (the
    /// specification requires refusing, or the construct cannot alert on
    /// a stream of records).
    #[error("{origin}{}: refused: {reason}", line_suffix(*.line))]
    Refused { origin: String, line: Option<u64>, reason: String },
}

fn line_suffix(line: Option<u64>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

impl SigmaError {
    /// Whether the rule is valid Sigma that trailwatch refuses.
    pub fn is_refusal(&self) -> bool {
        matches!(self, SigmaError::Refused { .. })
    }

    /// What is wrong, without the file and line.
    pub fn reason(&self) -> &str {
        match self {
            SigmaError::Invalid { reason, .. } | SigmaError::Refused { reason, .. } => reason,
        }
    }
}

/// A problem found while compiling one document, before the file and line
/// are attached: `key` is searched in the text for the line.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub refused: bool,
    pub key: Option<String>,
    pub reason: String,
}

impl Problem {
    pub(crate) fn invalid(key: impl Into<Option<String>>, reason: impl Into<String>) -> Problem {
        Problem { refused: false, key: key.into(), reason: reason.into() }
    }

    pub(crate) fn refused(key: impl Into<Option<String>>, reason: impl Into<String>) -> Problem {
        Problem { refused: true, key: key.into(), reason: reason.into() }
    }

    /// Attach the file and the line: the first line, at or after
    /// `doc_start`, that holds the key followed by `:`.
    pub(crate) fn locate(self, origin: &str, text: &str, doc_start: usize) -> SigmaError {
        let line = self.key.as_deref().and_then(|key| find_key_line(text, doc_start, key));
        let origin = origin.to_string();
        let reason = self.reason;
        if self.refused {
            SigmaError::Refused { origin, line, reason }
        } else {
            SigmaError::Invalid { origin, line, reason }
        }
    }
}

/// The 1-based line of the first line at or after line `from` (0-based)
/// that holds `key` as a mapping key (`key:` after indentation, or a
/// value or list item holding `key`).
pub(crate) fn find_key_line(text: &str, from: usize, key: &str) -> Option<u64> {
    let lines: Vec<&str> = text.lines().collect();
    let quoted = [format!("{key}:"), format!("'{key}':"), format!("\"{key}\":")];
    let as_key = lines.iter().enumerate().skip(from).find(|(_, l)| {
        let t = l.trim_start().trim_start_matches("- ");
        quoted.iter().any(|q| t.starts_with(q.as_str()))
    });
    as_key.or_else(|| lines.iter().enumerate().skip(from).find(|(_, l)| l.contains(key))).map(|(i, _)| i as u64 + 1)
}
