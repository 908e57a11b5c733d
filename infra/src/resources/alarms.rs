//! Metric filters and alarms: Security Hub's CloudWatch controls, metric
//! rules (a metric filter for a filter pattern, the functions' own metric
//! for an event pattern), and the dead-letter queues.

use serde_json::{json, Value};
use trailwatch_engine::metrics::MATCHES;
use trailwatch_engine::rules::{Action, Pattern, Rule};

use crate::cis::{cis_controls, CIS_NAMESPACE};
use crate::intrinsics::{ga, r, sub};
use crate::resources::trail::log_group_name;
use crate::template::Builder;
use crate::InfraError;

/// A static-threshold alarm to the alert topic.
fn alarm(name: Value, description: &str, metric: Value, period: Value, threshold: Value) -> Value {
    let mut props = json!({
        "AlarmName": name,
        "AlarmDescription": description,
        "ActionsEnabled": true,
        "AlarmActions": [r("AlertTopic")],
        "Statistic": "Sum",
        "Period": period,
        "EvaluationPeriods": 1,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching"
    });
    if let (Some(p), Some(m)) = (props.as_object_mut(), metric.as_object()) {
        p.extend(m.clone());
    }
    json!({"Type": "AWS::CloudWatch::Alarm", "Properties": props})
}

/// Metric filters and alarms: the CIS controls the rules define, and the
/// metric rules (those a control's metric filter already counts excepted).
pub(crate) fn metric_alarms(b: &mut Builder, rules: &[Rule]) -> Result<(), InfraError> {
    let cis = cis_controls(rules)?;
    b.notes.extend(cis.notes.iter().cloned());
    for c in &cis.controls {
        let n = c.number;
        let metric = c.metric.as_str();
        let ids = c.rules.join(", ");
        let filter_id = format!("Cis{n}MetricFilter");
        let alarm_id = format!("Cis{n}Alarm");
        b.add(&filter_id, json!({
            "Type": "AWS::Logs::MetricFilter",
            "Properties": {
                "FilterName": sub(&format!("${{AWS::StackName}}-CloudWatch.{n}-{metric}")),
                "LogGroupName": log_group_name(),
                "FilterPattern": c.pattern,
                "MetricTransformations": [{"MetricNamespace": CIS_NAMESPACE, "MetricName": metric, "MetricValue": "1"}]
            }
        }))?;
        // The alarm cites the CIS recommendation, if the rule names one.
        let (in_comment, in_description, alarm_name) = match c.recommendation {
            Some(cis) => {
                (format!(" (CIS {cis})"), format!(" / CIS {cis}"), format!("${{AWS::StackName}}-CIS-{cis}-{metric}"))
            }
            None => (String::new(), String::new(), format!("${{AWS::StackName}}-CloudWatch.{n}-{metric}")),
        };
        b.note_at(&filter_id, &[], &format!(
            "Security Hub CloudWatch.{n}{in_comment}, for rule(s) {ids}: the exact pattern CIS prescribes,\nin namespace {CIS_NAMESPACE}; the control fails if the pattern differs."
        ));
        b.add(
            &alarm_id,
            alarm(
                sub(&alarm_name),
                &format!("Security Hub CloudWatch.{n}{in_description}: {} (trailwatch rules: {ids})", c.title),
                json!({"Namespace": CIS_NAMESPACE, "MetricName": metric}),
                json!(300),
                json!(1),
            ),
        )?;
    }
    let mut served = Vec::new();
    for rule in rules.iter().filter(|r| r.action == Action::Metric) {
        let description = format!("trailwatch rule {} ({}): {}", rule.id, rule.severity.as_str(), rule.title);
        let alarm_name = sub(&format!("${{AWS::StackName}}-{}", rule.id));
        match &rule.pattern {
            Pattern::Filter(_) if cis.served.contains(rule.id.as_str()) => served.push(rule.id.as_str()),
            Pattern::Filter(f) => {
                let filter_id = b.unique_id("MetricFilter", &rule.id);
                let alarm_id = b.unique_id("Alarm", &rule.id);
                b.add(
                    &filter_id,
                    json!({
                        "Type": "AWS::Logs::MetricFilter",
                        "Properties": {
                            "FilterName": sub(&format!("${{AWS::StackName}}-{}", rule.id)),
                            "LogGroupName": log_group_name(),
                            "FilterPattern": f.text(),
                            "MetricTransformations": [{
                                "MetricNamespace": sub("${MetricsNamespace}/MetricFilters"),
                                "MetricName": rule.id,
                                "MetricValue": "1",
                                "Unit": "Count"
                            }]
                        }
                    }),
                )?;
                let metric = json!({"Namespace": sub("${MetricsNamespace}/MetricFilters"), "MetricName": rule.id});
                let threshold =
                    alarm(alarm_name, &description, metric.clone(), r("AlarmPeriodSeconds"), r("MetricRuleThreshold"));
                b.add(&alarm_id, conditioned(threshold, "ThresholdAlarms"))?;
                anomaly_alarm(b, rule, &description, metric)?;
            }
            // Only alert rules are sequences.
            Pattern::Sequence(_) => {}
            // Counted by the functions' Matches metric.
            Pattern::Event(_) | Pattern::Sigma(_) => {
                let alarm_id = b.unique_id("Alarm", &rule.id);
                let metric = json!({
                    "Namespace": r("MetricsNamespace"),
                    "MetricName": MATCHES,
                    "Dimensions": [
                        {"Name": "RuleId", "Value": rule.id},
                        {"Name": "Severity", "Value": rule.severity.as_str()}
                    ]
                });
                let threshold =
                    alarm(alarm_name, &description, metric.clone(), r("AlarmPeriodSeconds"), r("MetricRuleThreshold"));
                b.add(&alarm_id, conditioned(threshold, "ThresholdAlarms"))?;
                anomaly_alarm(b, rule, &description, metric)?;
                b.note_at(&alarm_id, &[], &format!(
                    "Rule {} is an event_pattern metric rule: no metric filter is derived from an event pattern (the\nlanguages differ); the functions count its matches as {MATCHES}{{RuleId,Severity}} and this alarm watches that.",
                    rule.id
                ));
            }
        }
    }
    if !served.is_empty() {
        b.notes.push(format!(
            "metric rules whose filter pattern is their CIS control's, served by that control's metric filter and alarm: {}",
            served.join(", ")
        ));
    }
    Ok(())
}

/// A resource created only under a template condition.
fn conditioned(mut resource: Value, condition: &str) -> Value {
    resource["Condition"] = json!(condition);
    resource
}

/// The CloudWatch anomaly detection alarm on a metric rule's count (with
/// `MetricRuleAlarms` AnomalyDetection or Both): above the
/// `ANOMALY_DETECTION_BAND` of the rule's `anomaly.band` standard
/// deviations in `anomaly.datapoints` of `anomaly.evaluation_periods`
/// periods (CloudWatch User Guide, "Using CloudWatch anomaly detection";
/// AWS::CloudWatch::Alarm `Metrics` with `ThresholdMetricId`). CloudWatch
/// trains the model from the metric's history: no separate resource.
fn anomaly_alarm(b: &mut Builder, rule: &Rule, description: &str, metric: Value) -> Result<(), InfraError> {
    let id = b.unique_id("AnomalyAlarm", &rule.id);
    let a = rule.anomaly;
    b.add(
        &id,
        json!({
            "Type": "AWS::CloudWatch::Alarm",
            "Condition": "AnomalyAlarms",
            "Properties": {
                "AlarmName": sub(&format!("${{AWS::StackName}}-{}-anomaly", rule.id)),
                "AlarmDescription": format!("{description} (count above its anomaly detection band)"),
                "ActionsEnabled": true,
                "AlarmActions": [r("AlertTopic")],
                "ComparisonOperator": "GreaterThanUpperThreshold",
                "EvaluationPeriods": a.evaluation_periods,
                "DatapointsToAlarm": a.datapoints,
                "ThresholdMetricId": "band",
                "TreatMissingData": "notBreaching",
                "Metrics": [
                    {"Id": "count", "ReturnData": true,
                     "MetricStat": {"Metric": metric, "Period": r("AlarmPeriodSeconds"), "Stat": "Sum"}},
                    {"Id": "band", "ReturnData": true, "Label": "expected range",
                     "Expression": format!("ANOMALY_DETECTION_BAND(count, {})", a.band)}
                ]
            }
        }),
    )?;
    Ok(())
}

/// Alarms on the dead-letter queues: anything there is a lost alert.
pub(crate) fn queue_alarms(b: &mut Builder, has_event_rules: bool) -> Result<(), InfraError> {
    let mut queues = vec!["EventBridgeFunctionDLQ", "LogsFunctionDLQ"];
    if has_event_rules {
        queues.push("EventBridgeTargetDLQ");
    }
    for q in queues {
        dlq_alarm(b, q, None)?;
    }
    Ok(())
}

/// `<queue>Alarm`: a message in a dead-letter queue (SQS Developer Guide,
/// "Creating alarms for dead-letter queues using Amazon CloudWatch":
/// `ApproximateNumberOfMessagesVisible` above 0).
pub(crate) fn dlq_alarm(b: &mut Builder, q: &str, condition: Option<&str>) -> Result<(), InfraError> {
    let a = alarm(
        sub(&format!("${{AWS::StackName}}-{q}-not-empty")),
        &format!("trailwatch: {q} holds events that were not processed; inspect and redrive them."),
        json!({
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": ga(q, "QueueName")}],
            "Statistic": "Maximum"
        }),
        json!(300),
        json!(1),
    );
    let a = match condition {
        Some(c) => conditioned(a, c),
        None => a,
    };
    b.add(&format!("{q}Alarm"), a)
}

/// `<queue>AgeAlarm`: the queue's oldest message is `seconds` old or more,
/// so its consumer is behind or failing (`ApproximateAgeOfOldestMessage`,
/// SQS Developer Guide, "Available CloudWatch metrics for Amazon SQS").
pub(crate) fn queue_age_alarm(b: &mut Builder, q: &str, condition: &str, seconds: u32) -> Result<(), InfraError> {
    let id = format!("{q}AgeAlarm");
    b.add(
        &id,
        conditioned(
            alarm(
                sub(&format!("${{AWS::StackName}}-{q}-oldest-message")),
                &format!("trailwatch: the oldest message in {q} is {seconds} s old or more: its function is behind (throttled, failing, or a large backfill)."),
                json!({
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": ga(q, "QueueName")}],
                    "Statistic": "Maximum"
                }),
                json!(300),
                json!(seconds),
            ),
            condition,
        ),
    )?;
    b.note_at(
        &id,
        &[],
        "Maximum over 5 minutes: SQS publishes its metrics every minute; a backfill raises it on purpose.",
    );
    Ok(())
}
