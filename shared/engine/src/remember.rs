//! Remember: what dedup, thresholds and sequences make of a batch's
//! matches, with a [`Store`] holding what earlier batches and other
//! containers saw.
//!
//! Windows run on `eventTime`, aligned to the epoch (a 5-minute window is
//! 09:00-09:05, 09:05-09:10, ...), so a window's records, and so its
//! verdict, are the same whatever order the records arrive in: CloudTrail
//! delivers late and out of order. A record still counts while its
//! window's state is kept, [`LATENESS`] past the window's end; a record
//! later than that is dropped from thresholds and counted (`LateDropped`).
//!
//! # Sequences
//!
//! A sequence rule (`steps`, `within`, `group_by`, `ordered`) is fed by its
//! step rules' matches. When a record matches step rules of a sequence, it
//! is observed once under the group key `s#<rule>#<hash(group values)>`
//! as an [`Observation`] whose value is the indices of the steps it fills
//! (`"1"`, or `"0,2"` for a record two step rules match: it then fills
//! either, as Sigma's temporal correlations count rule matches), and the
//! group's observations within `within` either side of it come back. A
//! *chain* is one observation per step, all within `within` of the first;
//! `ordered` chains have non-decreasing times in step order (CloudTrail
//! times are whole seconds, so steps in one second are in order).
//!
//! Alerts are claimed per group and *bucket* of the chain's first time,
//! `s#<rule>#<hash>#<floor(first / within)>`: one alert per group and
//! chain, and two for one group only when chains start in two buckets.
//! For each bucket that a chain holding the new record could start in (at
//! most two: the chain starts within `within` before the record), the
//! earliest-starting chain whose first time is in that bucket is sought
//! among the returned observations; a found one is a candidate alert
//! naming its records (`event_ids`, in step order), `count` the number of
//! steps, `first_seen`/`last_seen` and the group.
//!
//! The verdict for a given final set of records is the same whatever the
//! arrival order: every chain is complete, and within range, when its
//! last-arriving record is observed, so the buckets that alert are exactly
//! those some chain of the final set starts in, each claimed once. Which
//! records an alert names can depend on the order only where a group holds
//! several chains starting in one bucket (it names the earliest-starting
//! one present when the bucket was claimed); the alert's own record
//! fields (actor, event name, `record`) are those of the record whose
//! arrival completed the chain. A record whose chains would
//! all have ended more than [`LATENESS`] ago is dropped (`LateDropped`).
//!
//! # Folding
//!
//! A step rule that alerts on its own (an administrator policy attached)
//! and the sequence its record completes would send two alerts on one
//! story. Where the step's alert and the completed chain are in one batch
//! and the step alert stands only for records of the chain, the step alert
//! is *folded* into the chain's: it is claimed with it, sent as part of it
//! (the chain names the records) and marked sent with it, so later matches
//! in its dedup period are counted into it as usual. If the chain's alert
//! was sent or is being sent elsewhere, a folded alert goes on its own way
//! (claimed, and sent if it was not). A step alert sent by an earlier batch
//! (EventBridge brings one record per invocation) stays sent: folding never
//! holds an alert back to wait for a chain.

use std::collections::HashMap;

use crate::alert::Alert;
use crate::event::Event;
use crate::rules::{Rule, Sequence, Threshold};
use crate::state::{parse_event_time, Millis, Observation, StateError, Store};

/// How long after a window ends its records still count (on the wall
/// clock; on the records' own time nothing is late). AWS: "CloudTrail
/// typically delivers logs within an average of about 5 minutes of an API
/// call. This time is not guaranteed", and a trail whose bucket is
/// unreachable is redelivered "for 30 days" (CloudTrail User Guide,
/// "Getting and viewing your CloudTrail log files"); EventBridge delivers
/// service events "on a best effort basis" (EventBridge reference, "AWS
/// CloudTrail events"). A day covers delivery retried over hours; a record
/// later than that is dropped from windows and counted (`LateDropped`)
/// rather than counted into state that may have expired.
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
    /// A sequence's match: the sequence and the steps the record fills.
    sequence: Option<(Sequence, Vec<usize>)>,
}

impl Match {
    /// The match of `rule` on `event`, its alert's record left null for
    /// the caller to give it ([`Alert::without_record`]: the detection
    /// moves the event's record into it or copies it).
    pub(crate) fn without_record(rule: &Rule, event: &Event) -> Match {
        let alert = Alert::without_record(rule, event);
        let at = event.record().event_time.as_deref().and_then(parse_event_time);
        let (group, value) = match &rule.threshold {
            Some(t) => (
                t.group_by.iter().map(|p| event.path_text(p)).collect(),
                t.distinct.as_deref().map(|p| event.path_text(p)),
            ),
            None if rule.dedup.key.is_empty() => (
                vec![
                    alert.actor.clone(),
                    alert.account.clone().unwrap_or_default(),
                    alert.region.clone().unwrap_or_default(),
                ],
                None,
            ),
            None => (rule.dedup.key.iter().map(|p| event.path_text(p)).collect(), None),
        };
        Match { alert, at, group, value, period: rule.dedup.period, threshold: rule.threshold.clone(), sequence: None }
    }

    /// The record `event` filling `steps` (indices) of the sequence rule
    /// `rule`, its alert's record left null as [`Match::without_record`]'s;
    /// `None` if `rule` is not a sequence.
    pub(crate) fn step_without_record(rule: &Rule, steps: Vec<usize>, event: &Event) -> Option<Match> {
        let q = rule.sequence()?.clone();
        let alert = Alert::without_record(rule, event);
        let at = event.record().event_time.as_deref().and_then(parse_event_time);
        let group = q.group_by.iter().map(|p| event.path_text(p)).collect();
        let value = Some(steps.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
        Some(Match { alert, at, group, value, period: 0, threshold: None, sequence: Some((q, steps)) })
    }

    /// Whether this match only counts toward a window (a threshold or a
    /// sequence): without a state store it sends nothing.
    pub fn is_windowed(&self) -> bool {
        self.threshold.is_some() || self.sequence.is_some()
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
    /// A sequence's alert: the alerts of its step rules, in this batch,
    /// whose records all lie in the chain; sent as this one alert when it
    /// is, each on its own otherwise (module doc, "Folding").
    pub folded: Vec<Candidate>,
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
/// (claimed by its event id, so still sent once) and none is folded into a
/// sequence's.
/// `now` judges lateness (`None`: nothing is late, on the records' own
/// time); a match without a readable `eventTime` takes `now` (or 0).
pub async fn candidates<St: Store>(
    matches: Vec<Match>,
    store: &St,
    now: Option<Millis>,
    dedup: bool,
) -> Result<Outcome, StateError> {
    let mut out = Outcome::default();
    let mut at_key: HashMap<String, usize> = HashMap::new();
    // The step rules of each sequence candidate, by its index.
    let mut steps_of: HashMap<usize, Vec<String>> = HashMap::new();
    for m in matches {
        let at = m.at.or(now).unwrap_or(0);
        let rule = m.alert.rule_id.clone();
        if let Some((q, _)) = &m.sequence {
            if now.is_some_and(|now| at.saturating_add(q.within).saturating_add(LATENESS) < now) {
                out.late_dropped += 1;
                continue;
            }
            for candidate in sequence_candidates(&m, q, at, store).await? {
                let i = match at_key.get(&candidate.key) {
                    Some(&i) => {
                        let mut fresh = std::mem::take(&mut out.candidates[i].fresh);
                        fresh.extend(candidate.fresh.iter().cloned());
                        fresh.dedup();
                        out.candidates[i] = Candidate { fresh, ..candidate };
                        i
                    }
                    None => {
                        at_key.insert(candidate.key.clone(), out.candidates.len());
                        out.candidates.push(candidate);
                        out.candidates.len() - 1
                    }
                };
                steps_of.insert(i, q.steps.clone());
            }
            continue;
        }
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
                Candidate { key, alert: m.alert, expires, fresh, folded: Vec::new() }
            }
            Some(t) => {
                let bucket = at.div_euclid(t.window);
                let (start, end) = (bucket * t.window, (bucket + 1) * t.window);
                if now.is_some_and(|now| end + LATENESS < now) {
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
                Candidate { key, alert, expires: end + LATENESS, fresh: vec![event_id], folded: Vec::new() }
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
    if dedup {
        // Without dedup every match is printed as its own alert (rule
        // authors), folded into nothing.
        out.candidates = fold(std::mem::take(&mut out.candidates), &steps_of);
    }
    Ok(out)
}

/// Fold into each sequence candidate the candidates of its step rules
/// whose records (this batch's matches) all lie in its chain: one alert
/// telling the whole story rather than one per step. A candidate folds
/// into the first chain that holds it.
fn fold(candidates: Vec<Candidate>, steps_of: &HashMap<usize, Vec<String>>) -> Vec<Candidate> {
    if steps_of.is_empty() {
        return candidates;
    }
    let into: Vec<Option<usize>> = candidates
        .iter()
        .enumerate()
        .map(|(j, c)| {
            if steps_of.contains_key(&j) || c.key.starts_with("t#") || c.fresh.is_empty() {
                return None;
            }
            let mut chains: Vec<usize> = steps_of.keys().copied().collect();
            chains.sort_unstable();
            chains.into_iter().find(|i| {
                steps_of[i].contains(&c.alert.rule_id)
                    && c.fresh.iter().all(|id| candidates[*i].alert.event_ids.contains(id))
            })
        })
        .collect();
    let mut out: Vec<Option<Candidate>> = candidates.into_iter().map(Some).collect();
    for (j, i) in into.into_iter().enumerate() {
        let Some(i) = i else { continue };
        if let Some(step) = out[j].take() {
            if let Some(chain) = out[i].as_mut() {
                chain.folded.push(step);
            }
        }
    }
    out.into_iter().flatten().collect()
}

/// The candidate alerts of a sequence match: observe it, then, for each
/// bucket a chain holding it could start in, the earliest-starting chain
/// of the group with its first time in that bucket (module doc).
async fn sequence_candidates<St: Store>(
    m: &Match,
    q: &Sequence,
    at: Millis,
    store: &St,
) -> Result<Vec<Candidate>, StateError> {
    let rule = &m.alert.rule_id;
    let group = format!("s#{rule}#{}", hash(&m.group));
    let event_id = m.alert.event_id.clone().unwrap_or_else(|| hash(&[m.alert.record.to_string()]));
    let expires = at.saturating_add(q.within).saturating_add(LATENESS);
    let observation = Observation { at, event_id: event_id.clone(), value: m.value.clone() };
    let seen =
        store.observe(&group, observation, expires, at.saturating_sub(q.within), at.saturating_add(q.within)).await?;
    let steps = q.steps.len();
    // Per step, the (time, event id) of the observations filling it, in
    // time order (the store returns them so).
    let mut by_step: Vec<Vec<(Millis, &str)>> = vec![Vec::new(); steps];
    for o in &seen {
        for s in o.value.as_deref().unwrap_or("").split(',').filter_map(|s| s.parse::<usize>().ok()) {
            if let Some(list) = by_step.get_mut(s) {
                list.push((o.at, o.event_id.as_str()));
            }
        }
    }
    let mut out = Vec::new();
    let first_bucket = at.saturating_sub(q.within).div_euclid(q.within);
    for bucket in first_bucket..=at.div_euclid(q.within) {
        let lo = (bucket * q.within).max(at.saturating_sub(q.within));
        let hi = ((bucket + 1) * q.within - 1).min(at);
        let Some(chain) = earliest_chain(&by_step, q, lo, hi) else { continue };
        let mut alert = m.alert.clone();
        alert.count = steps as u64;
        let mut ids: Vec<String> = Vec::new();
        for (_, id) in &chain {
            if !ids.iter().any(|i| i == id) {
                ids.push((*id).to_string());
            }
        }
        let fresh = if ids.contains(&event_id) { vec![event_id.clone()] } else { Vec::new() };
        alert.event_ids = ids;
        alert.first_seen = chain.iter().map(|(t, _)| *t).min();
        alert.last_seen = chain.iter().map(|(t, _)| *t).max();
        alert.group = q.group_by.iter().cloned().zip(m.group.iter().cloned()).collect();
        let key = format!("{group}#{bucket}");
        out.push(Candidate { key, alert, expires, fresh, folded: Vec::new() });
    }
    Ok(out)
}

/// The chain (per step, its time and event id) whose first time is the
/// earliest in `[lo, hi]`, if any: ordered, each step the earliest filling
/// it at or after the previous step; unordered, each step the earliest
/// filling it at or after the first time. Every step within `within` of
/// the first.
fn earliest_chain<'a>(
    by_step: &[Vec<(Millis, &'a str)>],
    q: &Sequence,
    lo: Millis,
    hi: Millis,
) -> Option<Vec<(Millis, &'a str)>> {
    // The earliest filling of `step` at or after `t`.
    let next = |step: usize, t: Millis| -> Option<(Millis, &'a str)> {
        let list = &by_step[step];
        let i = list.partition_point(|(at, _)| *at < t);
        list.get(i).copied()
    };
    // Candidate first times, ascending: a step-0 time (ordered) or any
    // observation's time (unordered).
    let mut starts: Vec<Millis> = if q.ordered {
        by_step[0].iter().map(|(t, _)| *t).collect()
    } else {
        by_step.iter().flatten().map(|(t, _)| *t).collect()
    };
    starts.retain(|t| (lo..=hi).contains(t));
    starts.sort_unstable();
    starts.dedup();
    for start in starts {
        let deadline = start.saturating_add(q.within);
        let mut chain = Vec::with_capacity(by_step.len());
        let mut t = start;
        for step in 0..by_step.len() {
            match next(step, if q.ordered { t } else { start }) {
                Some(found) if found.0 <= deadline => {
                    t = found.0;
                    chain.push(found);
                }
                _ => break,
            }
        }
        // Unordered, the first time is `start` only if some step is
        // filled at it; the earliest such start is the first time found.
        if chain.len() == by_step.len() && chain.iter().any(|(t, _)| *t == start) {
            return Some(chain);
        }
    }
    None
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
