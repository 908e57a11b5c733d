//! EventBridge rules for the packed event patterns, the permissions that
//! let them invoke the EventBridge function, and the targets' dead-letter
//! queue.

use serde_json::json;
use trailwatch_engine::pattern::MAX_PATTERN_LEN;

use crate::intrinsics::{ga, iff, r};
use crate::packing::PatternGroup;
use crate::resources::functions::dead_letter_queue;
use crate::template::Builder;
use crate::InfraError;

/// Longest description an EventBridge rule may have.
const MAX_RULE_DESCRIPTION: usize = 512;

/// EventBridge rules for the packed patterns, their permissions and the
/// target's dead-letter queue. Returns (logical id, rule ids) per rule.
pub(crate) fn event_rules(b: &mut Builder, groups: &[PatternGroup]) -> Result<Vec<(String, Vec<String>)>, InfraError> {
    let mut made = Vec::new();
    if groups.is_empty() {
        return Ok(made);
    }
    b.add("EventBridgeTargetDLQ", dead_letter_queue())?;
    b.note_at(
        "EventBridgeTargetDLQ",
        &[],
        "Events EventBridge could not hand to the function at all (after 24 hours of retries).",
    );
    let mut rule_arns = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let id = if groups.len() == 1 { "EventRule".to_string() } else { format!("EventRule{}", i + 1) };
        let id = b.unique_id(&id, "");
        let mut description = format!("trailwatch: {}", g.rules.join(", "));
        if description.chars().count() > MAX_RULE_DESCRIPTION {
            description = description.chars().take(MAX_RULE_DESCRIPTION - 1).collect::<String>() + "…";
        }
        b.add(&id, json!({
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": description,
                // Read-only management events (Get/List/Describe...) reach a
                // rule only in this state ("Receiving read-only management
                // events from AWS services", EventBridge user guide); the
                // pattern still filters, so only matching ones invoke.
                "State": iff("EventBridgePath", json!("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"), json!("DISABLED")),
                "EventPattern": g.pattern,
                "Targets": [{
                    "Id": "trailwatch-eventbridge",
                    "Arn": ga("EventBridgeFunction", "Arn"),
                    "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                    "DeadLetterConfig": {"Arn": ga("EventBridgeTargetDLQ", "Arn")}
                }]
            }
        }))?;
        if g.rules.len() > 1 {
            b.note_at(&id, &["Properties", "EventPattern"], &format!(
                "{} rules' patterns as alternatives of one $or (EventBridge's pattern quota is {MAX_PATTERN_LEN} characters).",
                g.rules.len()
            ));
        }
        let permission = format!("{id}Permission");
        b.add(
            &permission,
            json!({
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": ga("EventBridgeFunction", "Arn"),
                    "Action": "lambda:InvokeFunction",
                    "Principal": "events.amazonaws.com",
                    "SourceArn": ga(&id, "Arn")
                }
            }),
        )?;
        rule_arns.push(ga(&id, "Arn"));
        made.push((id, g.rules.clone()));
    }
    b.add(
        "EventBridgeTargetDLQPolicy",
        json!({
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [r("EventBridgeTargetDLQ")],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Sid": "EventBridgeDeadLetters",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": ga("EventBridgeTargetDLQ", "Arn"),
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}}
                }]}
            }
        }),
    )?;
    Ok(made)
}
