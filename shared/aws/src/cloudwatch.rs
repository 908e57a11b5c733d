//! The functions' metrics: CloudWatch Embedded Metric Format lines on
//! stdout (Lambda ships them to CloudWatch Logs, which extracts the
//! metrics: no API call, no added latency), or `PutMetricData`.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use trailwatch_engine::metrics::{self, Counts, Metrics, MetricsError, MATCHES};

/// Where metrics go (`TRAILWATCH_METRICS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsMode {
    /// Embedded Metric Format lines on stdout.
    Emf,
    /// CloudWatch `PutMetricData` calls.
    Api,
    /// Not emitted.
    Off,
}

/// One function's metrics, sent the configured way.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    namespace: String,
    function: String,
    /// How the counts are sent.
    to: To,
}

#[derive(Debug, Clone)]
enum To {
    Emf,
    Api(aws_sdk_cloudwatch::Client),
    Off,
}

impl CloudWatch {
    /// Metrics of `function` in `namespace`; `client` is used in
    /// [`MetricsMode::Api`] only.
    pub fn new(mode: MetricsMode, client: aws_sdk_cloudwatch::Client, namespace: &str, function: &str) -> CloudWatch {
        let to = match mode {
            MetricsMode::Emf => To::Emf,
            MetricsMode::Api => To::Api(client),
            MetricsMode::Off => To::Off,
        };
        CloudWatch { namespace: namespace.to_string(), function: function.to_string(), to }
    }
}

impl Metrics for CloudWatch {
    async fn emit(&self, counts: &Counts) -> Result<(), MetricsError> {
        match &self.to {
            To::Emf => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
                for line in metrics::emf(&self.namespace, &self.function, counts, now) {
                    println!("{line}");
                }
                Ok(())
            }
            To::Api(client) => put(client, &self.namespace, &self.function, counts).await,
            To::Off => Ok(()),
        }
    }
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
    let mut out: Vec<MetricDatum> =
        counts.totals().iter().map(|(name, n)| count(name, *n, vec![dim("Function", function)])).collect();
    for ((rule, severity), n) in &counts.matches {
        out.push(count(MATCHES, *n, vec![dim("RuleId", rule), dim("Severity", severity.as_str())]));
    }
    out
}

/// Send counts with `PutMetricData` (at most 1,000 data per call).
pub async fn put(
    client: &aws_sdk_cloudwatch::Client,
    namespace: &str,
    function: &str,
    counts: &Counts,
) -> Result<(), MetricsError> {
    for chunk in datums(function, counts).chunks(1000) {
        client.put_metric_data().namespace(namespace).set_metric_data(Some(chunk.to_vec())).send().await.map_err(
            |e| MetricsError {
                namespace: namespace.to_string(),
                reason: format!("PutMetricData: {}", aws_sdk_cloudwatch::error::DisplayErrorContext(e)),
            },
        )?;
    }
    Ok(())
}
