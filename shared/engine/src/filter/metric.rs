//! `TestMetricFilter`: which log events a filter pattern matches, and the
//! values it extracts from each, as the CloudWatch Logs API reports them.

use serde_json::{json, Value};

use super::FilterPattern;

/// What `aws logs test-metric-filter` returns for these messages:
/// `{"matches":[{"eventNumber":N,"eventMessage":"…","extractedValues":{…}}]}`,
/// numbering events from 1 in the order given and listing only those that match.
pub fn test_metric_filter(pattern: &FilterPattern, messages: &[String]) -> Value {
    let matches: Vec<Value> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, message)| {
            pattern.extract(message).map(|extracted| {
                json!({
                    "eventNumber": i + 1,
                    "eventMessage": message,
                    "extractedValues": extracted.to_json(),
                })
            })
        })
        .collect();
    json!({ "matches": matches })
}
