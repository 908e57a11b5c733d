//! Counting: matches per rule and records processed, as CloudWatch custom
//! metrics. By default as CloudWatch Embedded Metric Format lines on stdout
//! (Lambda ships them to CloudWatch Logs, which extracts the metrics: no
//! API call, no added latency); optionally through `PutMetricData`.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use serde_json::{json, Value};

use crate::rules::Severity;

/// Where metrics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsMode {
    /// Embedded Metric Format lines on stdout.
    Emf,
    /// CloudWatch `PutMetricData` calls.
    Api,
    /// Not emitted.
    Off,
}

/// What one invocation counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records decoded and matched.
    pub records: u64,
    /// Items that were not CloudTrail records.
    pub malformed: u64,
    /// Matches per (rule id, severity), alert and metric rules alike.
    pub matches: BTreeMap<(String, Severity), u64>,
    /// Alerts SNS accepted.
    pub alerts_published: u64,
    /// Alerts SNS did not take.
    pub delivery_failures: u64,
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
    }
}

/// The metric of a rule's matches: namespace, name `Matches`, dimensions
/// `RuleId` and `Severity`. CloudWatch alarms on rule thresholds use this.
pub const MATCHES: &str = "Matches";

/// EMF documents for these counts (one per dimension set), as JSON lines.
pub fn emf(namespace: &str, function: &str, counts: &Counts, timestamp_ms: i64) -> Vec<String> {
    let mut lines = Vec::new();
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
    lines.push(doc(
        vec!["Function"],
        vec!["Records", "Malformed", "AlertsPublished", "DeliveryFailures"],
        json!({
            "Function": function,
            "Records": counts.records,
            "Malformed": counts.malformed,
            "AlertsPublished": counts.alerts_published,
            "DeliveryFailures": counts.delivery_failures,
        }),
    ));
    for ((rule, severity), n) in &counts.matches {
        lines.push(doc(
            vec!["RuleId", "Severity"],
            vec![MATCHES],
            json!({"RuleId": rule, "Severity": severity.as_str(), MATCHES: n}),
        ));
    }
    lines
}

/// The `PutMetricData` data for these counts.
pub fn datums(function: &str, counts: &Counts) -> Vec<MetricDatum> {
    let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    let count = |name: &str, value: u64, dims: Vec<Dimension>| {
        MetricDatum::builder()
            .metric_name(name)
            .unit(StandardUnit::Count)
            .value(value as f64)
            .set_dimensions(Some(dims))
            .build()
    };
    let mut out = vec![
        count("Records", counts.records, vec![dim("Function", function)]),
        count("Malformed", counts.malformed, vec![dim("Function", function)]),
        count("AlertsPublished", counts.alerts_published, vec![dim("Function", function)]),
        count("DeliveryFailures", counts.delivery_failures, vec![dim("Function", function)]),
    ];
    for ((rule, severity), n) in &counts.matches {
        out.push(count(MATCHES, *n, vec![dim("RuleId", rule), dim("Severity", severity.as_str())]));
    }
    out
}

/// Sending metrics through the CloudWatch API failed.
#[derive(Debug, thiserror::Error)]
#[error("PutMetricData to namespace {namespace} failed: {reason}")]
pub struct MetricsError {
    pub namespace: String,
    pub reason: String,
}

/// Send counts with `PutMetricData` (at most 1,000 data per call).
pub async fn put(
    client: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    function: &str,
    counts: &Counts,
) -> Result<(), MetricsError> {
    for chunk in datums(function, counts).chunks(1000) {
        client
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| MetricsError {
                namespace: namespace.to_string(),
                reason: aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string(),
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_documents_carry_their_metrics() {
        let mut c = Counts { records: 5, malformed: 1, ..Counts::default() };
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
    }
}
