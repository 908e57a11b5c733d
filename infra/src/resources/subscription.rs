//! The trail log group's subscription to the logs function: directly, or
//! through a Kinesis stream and an event source mapping.

use serde_json::json;

use crate::intrinsics::{ga, iff, r, sub};
use crate::resources::trail::{log_group_arn, log_group_name};
use crate::template::Builder;
use crate::InfraError;

/// The log group's subscription to the logs function, direct or through
/// Kinesis.
pub(crate) fn subscription(b: &mut Builder, pattern: Option<&str>, has_filter_alerts: bool) -> Result<(), InfraError> {
    // Without filter_pattern alert rules the subscription exists only in LogsOnly
    // mode (see the Subscribe* conditions), where it sends every record.
    let filter_pattern = match pattern {
        Some(p) if has_filter_alerts => iff("EventBridgePath", json!(p), json!("")),
        _ => json!(""),
    };
    b.add(
        "LogsFunctionSubscriptionPermission",
        json!({
            "Type": "AWS::Lambda::Permission",
            "Condition": "SubscribeLambda",
            "Properties": {
                "FunctionName": ga("LogsFunction", "Arn"),
                "Action": "lambda:InvokeFunction",
                "Principal": "logs.amazonaws.com",
                "SourceArn": log_group_arn(),
                "SourceAccount": r("AWS::AccountId")
            }
        }),
    )?;
    b.add(
        "LogsSubscription",
        json!({
            "Type": "AWS::Logs::SubscriptionFilter",
            "Condition": "SubscribeLambda",
            "DependsOn": ["LogsFunctionSubscriptionPermission"],
            "Properties": {
                "LogGroupName": log_group_name(),
                "FilterPattern": filter_pattern.clone(),
                "DestinationArn": ga("LogsFunction", "Arn")
            }
        }),
    )?;
    b.note_at(
        "LogsSubscription",
        &["Properties", "FilterPattern"],
        "EventBridgeAndLogs: only records the filter_pattern alert rules and sequence steps can match (event_pattern\nrules run on EventBridge; metric filters count filter_pattern metric rules). LogsOnly: every record, and the logs\nfunction evaluates every rule.",
    );
    b.add(
        "LogsStream",
        json!({
            "Type": "AWS::Kinesis::Stream",
            "Condition": "SubscribeKinesis",
            "Properties": {
                "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
                "RetentionPeriodHours": 24,
                "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
            }
        }),
    )?;
    b.note_at(
        "LogsStream",
        &["Properties", "StreamEncryption"],
        "The AWS managed Kinesis key: producers and consumers need no key policy entry.",
    );
    b.add("LogsToKinesisRole", json!({
        "Type": "AWS::IAM::Role",
        "Condition": "SubscribeKinesis",
        "Properties": {
            "Description": "CloudWatch Logs puts the trail's log events into the stream.",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringLike": {"aws:SourceArn": sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*")}}
            }]},
            "Policies": [{"PolicyName": "put-records", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Action": "kinesis:PutRecord",
                "Resource": ga("LogsStream", "Arn")
            }]}}]
        }
    }))?;
    b.add(
        "LogsKinesisSubscription",
        json!({
            "Type": "AWS::Logs::SubscriptionFilter",
            "Condition": "SubscribeKinesis",
            "Properties": {
                "LogGroupName": log_group_name(),
                "FilterPattern": filter_pattern,
                "DestinationArn": ga("LogsStream", "Arn"),
                "RoleArn": ga("LogsToKinesisRole", "Arn")
            }
        }),
    )?;
    b.add(
        "LogsEventSourceMapping",
        json!({
            "Type": "AWS::Lambda::EventSourceMapping",
            "Condition": "SubscribeKinesis",
            "Properties": {
                "EventSourceArn": ga("LogsStream", "Arn"),
                "FunctionName": r("LogsFunction"),
                "StartingPosition": "LATEST",
                "BatchSize": 100,
                "MaximumBatchingWindowInSeconds": 5,
                "ParallelizationFactor": 1,
                "BisectBatchOnFunctionError": true,
                "MaximumRetryAttempts": 5,
                "MaximumRecordAgeInSeconds": 86400,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "DestinationConfig": {"OnFailure": {"Destination": ga("LogsFunctionDLQ", "Arn")}}
            }
        }),
    )?;
    b.note_at(
        "LogsEventSourceMapping",
        &["Properties", "FunctionResponseTypes"],
        "The logs function answers with batchItemFailures: only records whose alerts SNS refused are retried;\nrecords still failing after 5 retries (or a day) go to the logs function's dead-letter queue.",
    );
    Ok(())
}
