//! Metric filters and alarms: Security Hub's CloudWatch controls, metric
//! rules (a metric filter for a filter pattern, the functions' own metric
//! for an event pattern), and the dead-letter queues.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value};
use trailwatch_engine::metrics::MATCHES;
use trailwatch_engine::rules::{Action, Pattern, Rule};

use crate::intrinsics::{ga, r, sub};
use crate::resources::trail::log_group_name;
use crate::template::Builder;
use crate::InfraError;


/// One Security Hub CloudWatch control: its metric filter and alarm, as
/// the Security Hub user guide prescribes them (CIS AWS Foundations
/// Benchmark v1.2.0 / v1.4.0 patterns; the check fails if the pattern is not
/// exactly the prescribed one).
pub struct CisControl {
    pub number: u8,
    /// The CIS recommendation the alarm name cites.
    pub cis: &'static str,
    pub metric: &'static str,
    pub pattern: &'static str,
}

/// CloudWatch.1–14 (Security Hub user guide, "Amazon CloudWatch controls").
pub const CIS_CONTROLS: &[CisControl] = &[
    CisControl { number: 1, cis: "1.7", metric: "RootAccountUsage", pattern: r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"# },
    CisControl { number: 2, cis: "3.1", metric: "UnauthorizedAPICalls", pattern: r#"{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}"# },
    CisControl { number: 3, cis: "3.2", metric: "ConsoleSigninWithoutMFA", pattern: r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }"# },
    CisControl { number: 4, cis: "4.4", metric: "IAMPolicyChanges", pattern: "{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || ($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || ($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || ($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || ($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || ($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || ($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || ($.eventName=DetachGroupPolicy)}" },
    CisControl { number: 5, cis: "4.5", metric: "CloudTrailChanges", pattern: "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}" },
    CisControl { number: 6, cis: "4.6", metric: "ConsoleAuthenticationFailure", pattern: r#"{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}"# },
    CisControl { number: 7, cis: "4.7", metric: "DisableOrDeleteCMK", pattern: "{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}" },
    CisControl { number: 8, cis: "4.8", metric: "S3BucketPolicyChanges", pattern: "{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || ($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || ($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || ($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || ($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}" },
    CisControl { number: 9, cis: "4.9", metric: "AWSConfigChanges", pattern: "{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || ($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || ($.eventName=PutConfigurationRecorder))}" },
    CisControl { number: 10, cis: "4.10", metric: "SecurityGroupChanges", pattern: "{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || ($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || ($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}" },
    CisControl { number: 11, cis: "4.11", metric: "NetworkACLChanges", pattern: "{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || ($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || ($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}" },
    CisControl { number: 12, cis: "4.12", metric: "NetworkGatewayChanges", pattern: "{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || ($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || ($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}" },
    CisControl { number: 13, cis: "4.13", metric: "RouteTableChanges", pattern: "{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || ($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || ($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}" },
    CisControl { number: 14, cis: "4.14", metric: "VPCChanges", pattern: "{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || ($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || ($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || ($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || ($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}" },
];

/// The namespace Security Hub's CloudWatch controls expect.
pub const CIS_NAMESPACE: &str = "LogMetrics";


/// The CloudWatch.N controls a rule is tagged with.
fn cis_tags(rule: &Rule) -> Vec<u8> {
    rule.tags
        .iter()
        .filter_map(|t| t.strip_prefix("CloudWatch.").and_then(|n| n.parse::<u8>().ok()))
        .collect()
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}


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

/// Metric filters and alarms: metric rules and the CIS controls.
pub(crate) fn metric_alarms(b: &mut Builder, rules: &[Rule]) -> Result<(), InfraError> {
    // CIS controls the rule set asks for, in control order.
    let mut cis: BTreeMap<u8, Vec<&str>> = BTreeMap::new();
    for rule in rules {
        for n in cis_tags(rule) {
            if CIS_CONTROLS.iter().any(|c| c.number == n) {
                cis.entry(n).or_default().push(&rule.id);
            } else {
                b.notes.push(format!("rule {}: tag CloudWatch.{n} names no metric-filter control (CloudWatch.1–14); ignored", rule.id));
            }
        }
    }
    let mut covered_by_cis: HashSet<&str> = HashSet::new();
    for (n, ids) in &cis {
        let Some(c) = CIS_CONTROLS.iter().find(|c| c.number == *n) else { continue };
        let filter_id = format!("Cis{n}MetricFilter");
        let alarm_id = format!("Cis{n}Alarm");
        b.add(&filter_id, json!({
            "Type": "AWS::Logs::MetricFilter",
            "Properties": {
                "FilterName": sub(&format!("${{AWS::StackName}}-CloudWatch.{n}-{}", c.metric)),
                "LogGroupName": log_group_name(),
                "FilterPattern": c.pattern,
                "MetricTransformations": [{"MetricNamespace": CIS_NAMESPACE, "MetricName": c.metric, "MetricValue": "1"}]
            }
        }))?;
        b.note_at(&filter_id, &[], &format!(
            "Security Hub CloudWatch.{n} (CIS {}), for rule(s) {}: the exact pattern CIS prescribes,\nin namespace {CIS_NAMESPACE}; the control fails if the pattern differs.",
            c.cis,
            ids.join(", ")
        ));
        b.add(&alarm_id, alarm(
            sub(&format!("${{AWS::StackName}}-CIS-{}-{}", c.cis, c.metric)),
            &format!("Security Hub CloudWatch.{n} / CIS {}: {} (trailwatch rules: {})", c.cis, c.metric, ids.join(", ")),
            json!({"Namespace": CIS_NAMESPACE, "MetricName": c.metric}),
            json!(300),
            json!(1),
        ))?;
        for rule in rules.iter().filter(|r| ids.contains(&r.id.as_str())) {
            if let Pattern::Filter(f) = &rule.pattern {
                if squeeze(f.text()) == squeeze(c.pattern) {
                    covered_by_cis.insert(&rule.id);
                }
            }
        }
    }
    let mut served = Vec::new();
    for rule in rules.iter().filter(|r| r.action == Action::Metric) {
        let description = format!("trailwatch rule {} ({}): {}", rule.id, rule.severity.as_str(), rule.title);
        let alarm_name = sub(&format!("${{AWS::StackName}}-{}", rule.id));
        match &rule.pattern {
            Pattern::Filter(_) if covered_by_cis.contains(rule.id.as_str()) => served.push(rule.id.as_str()),
            Pattern::Filter(f) => {
                let filter_id = b.unique_id("MetricFilter", &rule.id);
                let alarm_id = b.unique_id("Alarm", &rule.id);
                b.add(&filter_id, json!({
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
                }))?;
                b.add(&alarm_id, alarm(
                    alarm_name,
                    &description,
                    json!({"Namespace": sub("${MetricsNamespace}/MetricFilters"), "MetricName": rule.id}),
                    r("AlarmPeriodSeconds"),
                    r("MetricRuleThreshold"),
                ))?;
            }
            Pattern::Event(_) => {
                let alarm_id = b.unique_id("Alarm", &rule.id);
                b.add(&alarm_id, alarm(
                    alarm_name,
                    &description,
                    json!({
                        "Namespace": r("MetricsNamespace"),
                        "MetricName": MATCHES,
                        "Dimensions": [
                            {"Name": "RuleId", "Value": rule.id},
                            {"Name": "Severity", "Value": rule.severity.as_str()}
                        ]
                    }),
                    r("AlarmPeriodSeconds"),
                    r("MetricRuleThreshold"),
                ))?;
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

/// Alarms on the dead-letter queues: anything there is a lost alert.
pub(crate) fn queue_alarms(b: &mut Builder, has_event_rules: bool) -> Result<(), InfraError> {
    let mut queues = vec!["EventBridgeFunctionDLQ", "LogsFunctionDLQ"];
    if has_event_rules {
        queues.push("EventBridgeTargetDLQ");
    }
    for q in queues {
        b.add(&format!("{q}Alarm"), alarm(
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
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use trailwatch_engine::filter::FilterPattern;

    use super::*;

    #[test]
    fn cis_patterns_are_valid_filter_patterns() {
        for c in CIS_CONTROLS {
            assert!(FilterPattern::parse(c.pattern).is_ok(), "CloudWatch.{}", c.number);
        }
        assert_eq!(CIS_CONTROLS.iter().map(|c| c.number).collect::<Vec<_>>(), (1..=14).collect::<Vec<_>>());
    }
}
