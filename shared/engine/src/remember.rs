//! Remember: what dedup and thresholds make of a batch's matches, with a
//! [`Store`] holding what earlier batches and other containers saw.
//!
//! Windows run on `eventTime`, aligned to the epoch (a 5-minute window is
//! 09:00-09:05, 09:05-09:10, ...), so a window's records, and so its
//! verdict, are the same whatever order the records arrive in: CloudTrail
//! delivers late and out of order. A record still counts while its
//! window's state is kept, [`LATENESS`] past the window's end; a record
//! later than that is dropped from thresholds and counted (`LateDropped`).

use std::collections::HashMap;

use crate::alert::Alert;
use crate::event::Event;
use crate::rules::{Rule, Threshold};
use crate::state::{parse_event_time, Millis, Observation, StateError, Store};

/// How long after a window ends its records still count. CloudTrail
/// delivers an event within about 5 minutes on average, with no guarantee
/// (CloudTrail User Guide, "CloudTrail concepts" / FAQ: "typically delivers
/// events within an average of about 5 minutes of an API call"); a day
/// covers delivery retried over hours, and records later than that are
/// dropped from windows with a metric rather than counted into state that
/// may have expired.
pub const LATENESS: Millis = 24 * 3_600_000;

/// How many event ids an alert from a window names (its `count` is exact).
pub const MAX_EVENT_IDS: usize = 100;

/// One rule matching one record, as the stateful layer sees it.
#[derive(Debug, Clone)]
pub struct Match {
    /// The alert this match alone would be.
    pub alert: Alert,
    /// The record's `eventTime`, when it has a readable one.
    pub at: Option<Millis>,
    /// The values of the rule's dedup key, or its threshold's group.
    group: Vec<String>,
    /// The distinct value a threshold counts.
    value: Option<String>,
    period: Millis,
    threshold: Option<Threshold>,
}

impl Match {
    /// The match of `rule` on `event`.
    pub fn new(rule: &Rule, event: &Event) -> Match {
        let alert = Alert::new(rule, event);
        let at = event.record().event_time.as_deref().and_then(parse_event_time);
        let (group, value) = match &rule.threshold {
            Some(t) => (
                t.group_by.iter().map(|p| path_value(event, p)).collect(),
                t.distinct.as_deref().map(|p| path_value(event, p)),
            ),
            None if rule.dedup.key.is_empty() => (
                vec![
                    alert.actor.clone(),
                    alert.account.clone().unwrap_or_default(),
                    alert.region.clone().unwrap_or_default(),
                ],
                None,
            ),
            None => (rule.dedup.key.iter().map(|p| path_value(event, p)).collect(), None),
        };
        Match { alert, at, group, value, period: rule.dedup.period, threshold: rule.threshold.clone() }
    }

    /// Whether this match only counts toward a threshold.
    pub fn is_threshold(&self) -> bool {
        self.threshold.is_some()
    }
}

/// An alert to claim and send under its state key, and when the store
/// may forget it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub key: String,
    pub alert: Alert,
    pub expires: Millis,
    /// The event ids of this batch's matches the candidate stands for: what
    /// is counted as suppressed when the alert was sent already.
    pub fresh: Vec<String>,
}

/// What a batch's matches come to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The alerts to claim and send, one per key, in first-match order.
    pub candidates: Vec<Candidate>,
    /// Threshold matches dropped: their window closed over [`LATENESS`] ago.
    pub late_dropped: u64,
}

/// Turn a batch's matches into candidate alerts: dedup matches grouped by
/// key and period; threshold matches observed in the store and, where a
/// window reaches its count, an alert for that group and window. `now` is
/// the handler's clock (wall time in the functions).
/// With `dedup` false every match of an ordinary rule is its own alert
/// (claimed by its event id, so still sent once).
pub async fn candidates<St: Store>(
    matches: Vec<Match>,
    store: &St,
    now: Millis,
    dedup: bool,
) -> Result<Outcome, StateError> {
    let mut out = Outcome::default();
    let mut at_key: HashMap<String, usize> = HashMap::new();
    for m in matches {
        let at = m.at.unwrap_or(now);
        let rule = m.alert.rule_id.clone();
        let candidate = match &m.threshold {
            None => {
                let (key, expires) = if dedup && m.period > 0 {
                    let bucket = at.div_euclid(m.period);
                    (format!("d#{rule}#{}#{bucket}", hash(&m.group)), (bucket + 1) * m.period + LATENESS)
                } else {
                    let id = m.alert.event_id.clone().unwrap_or_else(|| hash(&[m.alert.record.to_string()]));
                    (format!("e#{rule}#{id}"), at + LATENESS)
                };
                let fresh = m.alert.event_id.iter().cloned().collect();
                Candidate { key, alert: m.alert, expires, fresh }
            }
            Some(t) => {
                let bucket = at.div_euclid(t.window);
                let (start, end) = (bucket * t.window, (bucket + 1) * t.window);
                if end + LATENESS < now {
                    out.late_dropped += 1;
                    continue;
                }
                let key = format!("t#{rule}#{}#{bucket}", hash(&m.group));
                let event_id = m.alert.event_id.clone().unwrap_or_else(|| hash(&[m.alert.record.to_string()]));
                let observation = Observation { at, event_id: event_id.clone(), value: m.value.clone() };
                let seen = store.observe(&key, observation, end + LATENESS, start, end - 1).await?;
                let n = match &t.distinct {
                    Some(_) => {
                        let mut values: Vec<&str> = seen.iter().filter_map(|o| o.value.as_deref()).collect();
                        values.sort_unstable();
                        values.dedup();
                        values.len() as u64
                    }
                    None => seen.len() as u64,
                };
                if n < t.count {
                    continue;
                }
                let mut alert = m.alert;
                alert.count = n;
                alert.event_ids = seen.iter().take(MAX_EVENT_IDS).map(|o| o.event_id.clone()).collect();
                alert.first_seen = seen.first().map(|o| o.at);
                alert.last_seen = seen.last().map(|o| o.at);
                alert.group = t.group_by.iter().cloned().zip(m.group.iter().cloned()).collect();
                Candidate { key, alert, expires: end + LATENESS, fresh: vec![event_id] }
            }
        };
        match at_key.get(&candidate.key) {
            // A window's later candidate in the same batch counts more.
            Some(&i) if candidate.key.starts_with("t#") => {
                let mut fresh = std::mem::take(&mut out.candidates[i].fresh);
                fresh.extend(candidate.fresh.iter().cloned());
                out.candidates[i] = Candidate { fresh, ..candidate };
            }
            Some(&i) => {
                let kept = &mut out.candidates[i];
                kept.alert.count += candidate.alert.count;
                kept.fresh.extend(candidate.fresh);
                if kept.alert.event_ids.len() < MAX_EVENT_IDS {
                    kept.alert.event_ids.extend(candidate.alert.event_ids);
                    kept.alert.event_ids.truncate(MAX_EVENT_IDS);
                }
            }
            None => {
                at_key.insert(candidate.key.clone(), out.candidates.len());
                out.candidates.push(candidate);
            }
        }
    }
    Ok(out)
}

/// The value at a dotted path of the record (`userIdentity.arn`), as text:
/// a string as it is, anything else as JSON, a missing one as "".
fn path_value(event: &Event, path: &str) -> String {
    let mut v = event.detail();
    for part in path.split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return String::new(),
        }
    }
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A stable 64-bit FNV-1a hash of values, in hex: keys stay short whatever
/// the values (DynamoDB keys are at most 2 KiB).
fn hash(values: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            h = (h ^ 0x1f).wrapping_mul(0x0100_0000_01b3);
        }
        for b in v.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}
