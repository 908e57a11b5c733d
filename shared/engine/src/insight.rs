//! CloudTrail Insights events, read for people: what was unusual, by how
//! much, for how long, and who and what drove it.
//!
//! The record format is CloudTrail's ("CloudTrail record contents for
//! Insights events for trails" and "CloudTrail Insights insightDetails
//! element", CloudTrail User Guide): `eventType` `AwsCloudTrailInsight`,
//! `sharedEventID` common to the Start and End events, and
//! `insightDetails` with `state` (`Start`|`End`), `eventSource`,
//! `eventName`, `insightType` (`ApiCallRateInsight`|`ApiErrorRateInsight`)
//! and `insightContext`: `statistics` (`baseline.average` and
//! `insight.average` per minute, `insightDuration` and `baselineDuration`
//! in minutes) and `attributions`, each an `attribute` (`userIdentityArn`,
//! `userAgent`, `errorCode`) with up to five `insight` values (value,
//! average), most frequent first.

use serde_json::Value;

/// The CloudTrail `eventType` of Insights events.
pub const EVENT_TYPE: &str = "AwsCloudTrailInsight";

/// An Insights event, as the alert shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Insight {
    pub state: String,
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub insight_type: String,
    /// Calls (or errors) per minute: the baseline's and the unusual
    /// activity's (its first minute for Start, its whole span for End).
    pub baseline: Option<f64>,
    pub insight: Option<f64>,
    pub duration_minutes: Option<u64>,
    pub baseline_minutes: Option<u64>,
    /// The attributed values of the unusual activity, most frequent first.
    pub identities: Vec<String>,
    pub user_agents: Vec<String>,
    pub error_codes: Vec<String>,
}

impl Insight {
    /// The Insights event a record is, if it is one.
    pub fn from_record(record: &Value) -> Option<Insight> {
        if record.get("eventType").and_then(Value::as_str) != Some(EVENT_TYPE) {
            return None;
        }
        let d = record.get("insightDetails")?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let stats = d.pointer("/insightContext/statistics");
        let number = |p: &str| stats.and_then(|s| s.pointer(p)).and_then(Value::as_f64);
        let attributed = |name: &str| -> Vec<String> {
            d.pointer("/insightContext/attributions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|a| a.get("attribute").and_then(Value::as_str) == Some(name))
                .flat_map(|a| a.get("insight").and_then(Value::as_array).into_iter().flatten())
                .filter_map(|v| v.get("value").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        };
        Some(Insight {
            state: text(d.get("state")).unwrap_or_default(),
            event_source: text(d.get("eventSource")),
            event_name: text(d.get("eventName")),
            insight_type: text(d.get("insightType")).unwrap_or_default(),
            baseline: number("/baseline/average"),
            insight: number("/insight/average"),
            duration_minutes: number("/insightDuration").map(|m| m as u64),
            baseline_minutes: number("/baselineDuration").map(|m| m as u64),
            identities: attributed("userIdentityArn"),
            user_agents: attributed("userAgent"),
            error_codes: attributed("errorCode"),
        })
    }

    /// How many times the baseline the unusual rate is, as people say it:
    /// "500x", "2.5x"; "from a zero baseline" when there was none.
    pub fn multiple(&self) -> Option<String> {
        let (insight, baseline) = (self.insight?, self.baseline?);
        if baseline <= 0.0 {
            return Some("from a zero baseline".into());
        }
        let m = insight / baseline;
        Some(if m >= 10.0 { format!("{m:.0}x") } else { format!("{m:.1}x") })
    }

    /// One line: "CreateAccessKey calls at 500x their 7-day baseline", the
    /// End event with how long it lasted.
    pub fn summary(&self) -> String {
        let api = self.event_name.as_deref().unwrap_or("API");
        let what = if self.insight_type == "ApiErrorRateInsight" { "errors" } else { "calls" };
        let days =
            self.baseline_minutes.map(|m| format!("{}-day ", (m as f64 / 1440.0).round() as u64)).unwrap_or_default();
        let rate = match self.multiple() {
            Some(m) if m.starts_with("from") => format!("unusual {api} {what} {m}"),
            Some(m) => format!("{api} {what} at {m} their {days}baseline"),
            None => format!("unusual rate of {api} {what}"),
        };
        match (self.state.as_str(), self.duration_minutes) {
            ("End", Some(d)) => format!("ended: {rate} for {d} min"),
            _ => rate,
        }
    }

    /// The alert's context lines: statistics and the top attributions.
    pub fn context(&self) -> Vec<(String, String)> {
        let mut out = vec![("insight.type".to_string(), format!("{} ({})", self.insight_type, self.state))];
        if let (Some(i), Some(b)) = (self.insight, self.baseline) {
            out.push(("insight.per_minute".into(), format!("{i} against a baseline of {b}")));
        }
        if let Some(d) = self.duration_minutes {
            out.push(("insight.duration_minutes".into(), d.to_string()));
        }
        for (name, values) in [
            ("insight.identities", &self.identities),
            ("insight.user_agents", &self.user_agents),
            ("insight.error_codes", &self.error_codes),
        ] {
            if !values.is_empty() {
                out.push((name.into(), values.join(", ")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Start event after the documented format (CloudTrail User Guide,
    /// "CloudTrail Insights insightDetails element").
    fn start(baseline: f64, insight: f64) -> Value {
        json!({
            "eventVersion": "1.08", "eventTime": "2026-11-30T10:05:00Z", "awsRegion": "us-east-1",
            "eventID": "a1b2c3d4-0000-4000-8000-000000000001", "eventType": "AwsCloudTrailInsight",
            "recipientAccountId": "111122223333", "sharedEventID": "5f1e2d3c-0000-4000-8000-00000000aaaa",
            "eventCategory": "Insight",
            "insightDetails": {
                "state": "Start", "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
                "insightType": "ApiCallRateInsight",
                "insightContext": {
                    "statistics": {"baseline": {"average": baseline}, "insight": {"average": insight},
                                   "insightDuration": 1, "baselineDuration": 10080},
                    "attributions": [
                        {"attribute": "userIdentityArn",
                         "insight": [{"value": "arn:aws:iam::111122223333:user/mallory", "average": 0.9},
                                     {"value": "arn:aws:iam::111122223333:role/ci", "average": 0.1}],
                         "baseline": [{"value": "arn:aws:iam::111122223333:role/ci", "average": baseline}]},
                        {"attribute": "userAgent", "insight": [{"value": "aws-cli/2.15.0", "average": 1.0}],
                         "baseline": [{"value": "Terraform/1.9.0", "average": baseline}]},
                        {"attribute": "errorCode", "insight": [{"value": "null", "average": 1.0}],
                         "baseline": [{"value": "null", "average": baseline}]}
                    ]
                }
            }
        })
    }

    #[test]
    fn an_insight_says_how_many_times_its_baseline_and_who_drove_it() {
        let i = Insight::from_record(&start(0.002, 1.0)).expect("an Insights event");
        assert_eq!(i.multiple().as_deref(), Some("500x"));
        assert_eq!(i.summary(), "CreateAccessKey calls at 500x their 7-day baseline");
        assert_eq!(i.identities, ["arn:aws:iam::111122223333:user/mallory", "arn:aws:iam::111122223333:role/ci"]);
        assert_eq!(i.user_agents, ["aws-cli/2.15.0"]);
        assert_eq!(Insight::from_record(&start(0.4, 1.0)).and_then(|i| i.multiple()).as_deref(), Some("2.5x"));
        assert_eq!(
            Insight::from_record(&start(0.0, 1.0)).map(|i| i.summary()).as_deref(),
            Some("unusual CreateAccessKey calls from a zero baseline")
        );
    }

    #[test]
    fn an_end_event_says_how_long_it_lasted_and_an_api_call_is_no_insight() {
        let mut end = start(0.002, 0.5);
        end["insightDetails"]["state"] = json!("End");
        end["insightDetails"]["insightContext"]["statistics"]["insightDuration"] = json!(12);
        let i = Insight::from_record(&end).expect("an Insights event");
        assert_eq!(i.summary(), "ended: CreateAccessKey calls at 250x their 7-day baseline for 12 min");
        assert!(Insight::from_record(&json!({"eventType": "AwsApiCall", "insightDetails": {}})).is_none());
    }
}
