//! Counting: records, malformed items, matches per rule, alerts delivered,
//! as CloudWatch custom metrics. The [`Metrics`] trait sends them: CloudWatch
//! Embedded Metric Format lines on stdout (the default) or `PutMetricData`
//! in the functions (`trailwatch_aws::cloudwatch`), a [`Tally`] in replay
//! and tests. Metrics are best-effort: a failure to send them is logged and
//! counted, and never fails an invocation whose alerts are out.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use serde_json::{json, Value};

use crate::rules::Severity;

/// What one invocation counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records decoded and matched.
    pub records: u64,
    /// Items that were not CloudTrail records.
    pub malformed: u64,
    /// Matches per (rule id, severity), alert and metric rules alike.
    pub matches: BTreeMap<(String, Severity), u64>,
    /// Alerts the sink accepted.
    pub alerts_published: u64,
    /// Alerts the sink did not take.
    pub delivery_failures: u64,
    /// Earlier sends of metrics that failed (reported with the next send).
    pub metrics_failures: u64,
    /// Matches counted into an alert already sent (dedup, a retry, a
    /// window that alerted), not sent again.
    pub suppressed: u64,
    /// Threshold matches whose window closed too long ago.
    pub late_dropped: u64,
    /// Step alerts sent as part of the sequence alert they led to, not on
    /// their own.
    pub folded: u64,
}

impl Counts {
    /// Add another invocation's counts.
    pub fn add(&mut self, other: &Counts) {
        self.records += other.records;
        self.malformed += other.malformed;
        for (k, v) in &other.matches {
            *self.matches.entry(k.clone()).or_default() += v;
        }
        self.alerts_published += other.alerts_published;
        self.delivery_failures += other.delivery_failures;
        self.metrics_failures += other.metrics_failures;
        self.suppressed += other.suppressed;
        self.late_dropped += other.late_dropped;
        self.folded += other.folded;
    }

    /// The per-function metrics, by name.
    pub fn totals(&self) -> [(&'static str, u64); 8] {
        [
            ("Records", self.records),
            ("Malformed", self.malformed),
            ("AlertsPublished", self.alerts_published),
            ("DeliveryFailures", self.delivery_failures),
            ("MetricsFailures", self.metrics_failures),
            ("Suppressed", self.suppressed),
            ("LateDropped", self.late_dropped),
            ("Folded", self.folded),
        ]
    }
}

/// The metric of a rule's matches: namespace, name `Matches`, dimensions
/// `RuleId` and `Severity`. CloudWatch alarms on rule thresholds use this.
pub const MATCHES: &str = "Matches";

/// Sending metrics failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sending metrics to namespace {namespace} failed: {reason}")]
pub struct MetricsError {
    pub namespace: String,
    pub reason: String,
}

/// Sends one invocation's counts.
pub trait Metrics: Sync {
    /// Send these counts.
    fn emit(&self, counts: &Counts) -> impl Future<Output = Result<(), MetricsError>> + Send;
}

/// Counts added up in memory: `trailwatch replay`'s summary, and tests.
#[derive(Debug, Default)]
pub struct Tally(Mutex<Counts>);

impl Tally {
    /// Everything counted so far.
    pub fn counts(&self) -> Counts {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Metrics for Tally {
    async fn emit(&self, counts: &Counts) -> Result<(), MetricsError> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).add(counts);
        Ok(())
    }
}

/// EMF documents for these counts (one per dimension set), as JSON lines.
pub fn emf(namespace: &str, function: &str, counts: &Counts, timestamp_ms: i64) -> Vec<String> {
    let doc = |dims: Vec<&str>, metrics: Vec<&str>, fields: Value| {
        let mut v = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [dims],
                    "Metrics": metrics.iter().map(|m| json!({"Name": m, "Unit": "Count"})).collect::<Vec<_>>(),
                }]
            }
        });
        if let (Some(obj), Value::Object(f)) = (v.as_object_mut(), fields) {
            obj.extend(f);
        }
        v.to_string()
    };
    let totals = counts.totals();
    let mut fields = serde_json::Map::new();
    fields.insert("Function".into(), json!(function));
    for (name, n) in totals {
        fields.insert(name.into(), json!(n));
    }
    let mut lines = vec![doc(vec!["Function"], totals.iter().map(|(n, _)| *n).collect(), Value::Object(fields))];
    for ((rule, severity), n) in &counts.matches {
        lines.push(doc(
            vec!["RuleId", "Severity"],
            vec![MATCHES],
            json!({"RuleId": rule, "Severity": severity.as_str(), MATCHES: n}),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_documents_carry_their_metrics() {
        let mut c = Counts { records: 5, malformed: 1, metrics_failures: 2, ..Counts::default() };
        c.matches.insert(("root-activity".into(), Severity::High), 2);
        let lines = emf("trailwatch", "eventbridge", &c, 1_700_000_000_000);
        assert_eq!(lines.len(), 2);
        let rule: Value = serde_json::from_str(&lines[1]).expect("json");
        assert_eq!(rule["RuleId"], "root-activity");
        assert_eq!(rule["Matches"], 2);
        assert_eq!(rule["_aws"]["CloudWatchMetrics"][0]["Namespace"], "trailwatch");
        assert_eq!(rule["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0], json!(["RuleId", "Severity"]));
        let total: Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!((total["Records"].as_u64(), total["Malformed"].as_u64()), (Some(5), Some(1)));
        assert_eq!(total["MetricsFailures"].as_u64(), Some(2));
        let names = &total["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        assert_eq!(names.as_array().map(Vec::len), Some(8), "{names}");
    }
}
