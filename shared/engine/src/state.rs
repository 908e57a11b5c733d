//! What detection remembers between records and invocations: alert claims
//! (dedup and exactly-once delivery) and observations (the matches that
//! thresholds, distinct counts and sequences count over a window of event
//! time). One [`Store`] trait: DynamoDB in the functions
//! (`trailwatch_aws::dynamodb`), [`Memory`] in `trailwatch replay` and the
//! tests, with the same semantics.
//!
//! Every operation is one atomic step of the store (a conditional write or
//! an atomic update in DynamoDB), so concurrent containers never send an
//! alert twice nor lose a count. Every item carries an expiry time, after
//! which the store may forget it (DynamoDB's TTL).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The state store could not be read or written. The handler fails the
/// invocation so that AWS retries it: nothing is lost silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the state store failed: {0}")]
pub struct StateError(pub String);

/// What claiming an alert found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This caller holds the claim (new, or taken over after the previous
    /// holder's lease ran out): it publishes, then marks the alert sent.
    Won,
    /// The alert was sent already (a retry, or another container).
    Sent,
    /// Another caller holds an unexpired lease: it may still send.
    Held {
        /// When its lease runs out.
        until: Millis,
    },
}

/// A match remembered for a window: when it happened (event time), which
/// record it was, and the value a distinct count counts (or a sequence's
/// step).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Observation {
    pub at: Millis,
    pub event_id: String,
    pub value: Option<String>,
}

/// Remembers alert claims and observations.
pub trait Store: Sync {
    /// Claim the alert `key` for sending at `now`, holding it until
    /// `lease_until`; the record of it may be forgotten after `expires`.
    fn claim(
        &self,
        key: &str,
        now: Millis,
        lease_until: Millis,
        expires: Millis,
    ) -> impl Future<Output = Result<Claim, StateError>> + Send;

    /// Mark a won claim sent: from now on every claim of `key` finds
    /// [`Claim::Sent`].
    fn mark_sent(&self, key: &str) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Give up a won claim that could not be delivered, so that the retry
    /// AWS makes can claim it at once instead of waiting out the lease.
    fn release(&self, key: &str) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Count one more match into the alert `key` (a match its dedup
    /// suppressed), remembering its `event_id`; returns the new count of
    /// suppressed matches.
    fn count(&self, key: &str, event_id: &str, expires: Millis)
        -> impl Future<Output = Result<u64, StateError>> + Send;

    /// Remember `observation` for `group` (kept until `expires`), and
    /// return every observation of the group whose time is within
    /// `[from, to]`, the new one included, in time order.
    fn observe(
        &self,
        group: &str,
        observation: Observation,
        expires: Millis,
        from: Millis,
        to: Millis,
    ) -> impl Future<Output = Result<Vec<Observation>, StateError>> + Send;
}

/// An alert's record: its claim and what was counted into it.
#[derive(Debug, Clone, Default)]
struct AlertState {
    sent: bool,
    lease_until: Millis,
    suppressed: u64,
    event_ids: Vec<String>,
}

/// How many suppressed event ids an alert remembers (its `count` goes on).
pub const MAX_REMEMBERED_IDS: usize = 100;

/// A group's observations: (time, event id) -> value.
type Window = BTreeMap<(Millis, String), Option<String>>;

/// State in memory, for one process: `trailwatch replay` and the tests.
/// Nothing expires (a replay is short); the semantics are otherwise the
/// store's.
#[derive(Debug, Default)]
pub struct Memory {
    alerts: Mutex<HashMap<String, AlertState>>,
    groups: Mutex<HashMap<String, Window>>,
}

impl Memory {
    /// The event ids counted into an alert's key, in arrival order.
    pub fn suppressed_ids(&self, key: &str) -> Vec<String> {
        let alerts = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
        alerts.get(key).map(|a| a.event_ids.clone()).unwrap_or_default()
    }
}

impl Store for Memory {
    async fn claim(&self, key: &str, now: Millis, lease_until: Millis, _expires: Millis) -> Result<Claim, StateError> {
        let mut alerts = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
        let state = alerts.entry(key.to_string()).or_default();
        if state.sent {
            return Ok(Claim::Sent);
        }
        if state.lease_until > now {
            return Ok(Claim::Held { until: state.lease_until });
        }
        state.lease_until = lease_until;
        Ok(Claim::Won)
    }

    async fn mark_sent(&self, key: &str) -> Result<(), StateError> {
        let mut alerts = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
        alerts.entry(key.to_string()).or_default().sent = true;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StateError> {
        let mut alerts = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = alerts.get_mut(key).filter(|s| !s.sent) {
            state.lease_until = 0;
        }
        Ok(())
    }

    async fn count(&self, key: &str, event_id: &str, _expires: Millis) -> Result<u64, StateError> {
        let mut alerts = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
        let state = alerts.entry(key.to_string()).or_default();
        state.suppressed += 1;
        if state.event_ids.len() < MAX_REMEMBERED_IDS {
            state.event_ids.push(event_id.to_string());
        }
        Ok(state.suppressed)
    }

    async fn observe(
        &self,
        group: &str,
        observation: Observation,
        _expires: Millis,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<Observation>, StateError> {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let seen = groups.entry(group.to_string()).or_default();
        seen.insert((observation.at, observation.event_id), observation.value);
        Ok(seen
            .range((from, String::new())..)
            .take_while(|((at, _), _)| *at <= to)
            .map(|((at, id), value)| Observation { at: *at, event_id: id.clone(), value: value.clone() })
            .collect())
    }
}

/// Parse a duration as rules write it: a whole number and a unit, `30s`,
/// `5m`, `2h`, `1d`, or `0` (none). Returns milliseconds.
pub fn parse_duration(text: &str) -> Result<Millis, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(0);
    }
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(unit_at);
    let n: Millis = digits.parse().map_err(|_| format!("\"{text}\" is not a duration: write 30s, 5m, 2h or 1d"))?;
    let scale = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("\"{text}\" is not a duration: the unit is s, m, h or d (30s, 5m, 2h, 1d)")),
    };
    n.checked_mul(scale).filter(|ms| *ms <= 366 * 86_400_000).ok_or_else(|| format!("\"{text}\" is longer than a year"))
}

/// A CloudTrail `eventTime` (`2026-11-30T09:15:00Z`, optionally with
/// fractional seconds) as milliseconds since the epoch.
pub fn parse_event_time(text: &str) -> Option<Millis> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { text.get(r)?.parse().ok() };
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut ms = 0;
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
        let f = &frac[..digits];
        ms = f.chars().chain("000".chars()).take(3).collect::<String>().parse().ok()?;
        rest = &frac[digits..];
    }
    if rest != "Z" {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1_000 + ms)
}

/// Days since 1970-01-01 of a civil date, proleptic Gregorian (Howard
/// Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day number since 1970-01-01:
/// the inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(n: i64) -> (i64, i64, i64) {
    let z = n + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(f)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("2h"), Ok(7_200_000));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        assert_eq!(parse_duration("60m"), Ok(3_600_000));
        assert_eq!(parse_duration("0"), Ok(0));
        for bad in ["", "5", "m", "5 m", "5min", "-5m", "1.5h", "400d", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_times() {
        assert_eq!(parse_event_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_event_time("2026-11-30T09:15:00Z"), Some(1_796_030_100_000));
        assert_eq!(parse_event_time("2024-02-29T23:59:59.5Z"), Some(1_709_251_199_500));
        assert_eq!(parse_event_time("2000-03-01T00:00:00.123456Z"), Some(951_868_800_123));
        for bad in ["", "2026-11-30", "2026-11-30T09:15:00", "2026-13-01T00:00:00Z", "2026-11-30T09:15:00+01:00"] {
            assert_eq!(parse_event_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_claim_is_won_once_held_while_leased_and_taken_over_after() {
        let m = Memory::default();
        run(async {
            assert_eq!(m.claim("a", 1_000, 2_000, 9_000).await, Ok(Claim::Won));
            assert_eq!(m.claim("a", 1_500, 2_500, 9_000).await, Ok(Claim::Held { until: 2_000 }));
            assert_eq!(m.claim("a", 2_001, 3_000, 9_000).await, Ok(Claim::Won), "the lease ran out: taken over");
            m.release("a").await.expect("released");
            assert_eq!(m.claim("a", 2_002, 3_000, 9_000).await, Ok(Claim::Won), "released: claimed again at once");
            m.mark_sent("a").await.expect("sent");
            m.release("a").await.expect("released");
            assert_eq!(m.claim("a", 5_000, 6_000, 9_000).await, Ok(Claim::Sent));
            assert_eq!(m.claim("b", 5_000, 6_000, 9_000).await, Ok(Claim::Won));
        });
    }

    #[test]
    fn counts_remember_a_capped_list_of_ids() {
        let m = Memory::default();
        run(async {
            for i in 0..150 {
                assert_eq!(m.count("a", &format!("e-{i}"), 0).await, Ok(i + 1));
            }
        });
        assert_eq!(m.suppressed_ids("a").len(), MAX_REMEMBERED_IDS);
    }

    #[test]
    fn observations_come_back_in_time_order_within_the_range_whatever_the_arrival_order() {
        let m = Memory::default();
        let obs = |at, id: &str| Observation { at, event_id: id.into(), value: None };
        run(async {
            m.observe("g", obs(30, "c"), 0, 0, 100).await.expect("ok");
            m.observe("g", obs(10, "a"), 0, 0, 100).await.expect("ok");
            m.observe("other", obs(20, "x"), 0, 0, 100).await.expect("ok");
            let seen = m.observe("g", obs(20, "b"), 0, 15, 30).await.expect("ok");
            assert_eq!(seen, vec![obs(20, "b"), obs(30, "c")]);
            let again = m.observe("g", obs(20, "b"), 0, 0, 100).await.expect("ok");
            assert_eq!(again.len(), 3, "one record observed twice (a retry) counts once");
        });
    }
}
