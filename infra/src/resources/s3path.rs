//! The S3 path (`S3Path=Enabled`, condition [`S3_PATH`]): what names each
//! new log file (`S3PathSource`: CloudTrail's own delivery notifications on
//! the trail's SNS topic, or the trail bucket's S3 Object Created events
//! through EventBridge or the bucket's own notification) → an SQS queue
//! (KMS-encrypted with the stack's key, a dead-letter queue through its
//! redrive policy) → the S3 function (`trailwatch-s3`), which reads each log
//! file from the trail bucket and answers with an SQS partial batch
//! response; alarms on the age of the queue's oldest message and on the
//! dead-letter queue's depth. The trail is the stack's (`TrailMode=create`)
//! or the user's (`TrailMode=existing`: its bucket, key prefix, topic and
//! KMS key are parameters).

use serde_json::{json, Value};

use crate::intrinsics::{ga, iff, no_value, r, sub};
use crate::resources::alarms::{dlq_alarm, queue_age_alarm};
use crate::resources::functions::{function, FunctionSpec};
use crate::template::Builder;
use crate::{Flavor, InfraError};

/// The condition of every resource of the S3 path.
pub(crate) const S3_PATH: &str = "S3PathEnabled";
/// The S3 function's timeout, seconds.
pub(crate) const S3_FUNCTION_TIMEOUT: u32 = 300;
/// Messages per invocation (SQS's default and its most without a batching
/// window); each names one log file, or a few.
pub(crate) const S3_BATCH_SIZE: u32 = 10;
/// Receives before a message goes to the dead-letter queue.
pub(crate) const S3_MAX_RECEIVE_COUNT: u32 = 5;
/// The alarm on the oldest message: CloudTrail delivers a file about every
/// 5 minutes per account and Region, so a message half an hour old means the
/// function is behind or failing.
pub(crate) const S3_OLDEST_MESSAGE_ALARM_SECONDS: u32 = 1800;

/// The bucket of the trail's log files: the stack's, or the user's.
pub(crate) fn trail_bucket() -> Value {
    iff("CreateTrail", r("TrailBucket"), r("ExistingTrailBucket"))
}

/// The SNS topic the trail notifies of each log file: the stack's, or the
/// user's.
pub(crate) fn trail_topic() -> Value {
    iff("CreateTrail", r("TrailNotificationTopic"), r("ExistingTrailTopicArn"))
}

/// The key prefix of the trail's log files (`[<prefix>/]AWSLogs/`).
pub(crate) fn log_prefix() -> Value {
    iff("HasTrailKeyPrefix", sub("${ExistingTrailKeyPrefix}/AWSLogs/"), json!("AWSLogs/"))
}

/// The trail's log files, as an S3 object ARN pattern.
pub(crate) fn log_objects_arn() -> Value {
    iff(
        "HasTrailKeyPrefix",
        sub("arn:${AWS::Partition}:s3:::${ExistingTrailBucket}/${ExistingTrailKeyPrefix}/AWSLogs/*"),
        iff(
            "CreateTrail",
            sub("${TrailBucket.Arn}/AWSLogs/*"),
            sub("arn:${AWS::Partition}:s3:::${ExistingTrailBucket}/AWSLogs/*"),
        ),
    )
}

/// The statements only the S3 function's role has.
pub(crate) fn s3_function_statements() -> Vec<Value> {
    vec![
        json!({
            "Sid": "ReadTrailLogFiles",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": log_objects_arn()
        }),
        json!({
            "Sid": "DecryptLogFilesAndQueue",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": ga("Key", "Arn"),
            "Condition": {"StringEquals": {"kms:ViaService": [
                sub("s3.${AWS::Region}.amazonaws.com"),
                sub("sqs.${AWS::Region}.amazonaws.com")
            ]}}
        }),
        iff(
            "HasExistingTrailKey",
            json!({
                "Sid": "DecryptExistingTrailLogFiles",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": r("ExistingTrailKeyArn"),
                "Condition": {"StringEquals": {"kms:ViaService": sub("s3.${AWS::Region}.amazonaws.com")}}
            }),
            no_value(),
        ),
        json!({
            "Sid": "ConsumeQueue",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
            "Resource": ga("S3Queue", "Arn")
        }),
    ]
}

/// The S3 path's resources, all under [`S3_PATH`].
pub(crate) fn s3_path(b: &mut Builder, flavor: Flavor) -> Result<(), InfraError> {
    // The dead-letter queue: 14 days, SQS's longest.
    b.add(
        "S3QueueDLQ",
        json!({
            "Type": "AWS::SQS::Queue",
            "Condition": S3_PATH,
            "Properties": {"MessageRetentionPeriod": 1_209_600, "KmsMasterKeyId": ga("Key", "Arn")}
        }),
    )?;
    b.note_at(
        "S3QueueDLQ",
        &["Properties", "MessageRetentionPeriod"],
        "Log-file messages that failed 5 receives (S3Queue's redrive policy); an alarm watches it. 14 days, longer\nthan S3Queue's 7: a standard queue's message keeps its first enqueue time in the dead-letter queue (SQS\nDeveloper Guide, \"Setting-up dead-letter queue retention\"). Redrive them with StartMessageMoveTask.",
    );
    let visibility = 6 * S3_FUNCTION_TIMEOUT;
    b.add(
        "S3Queue",
        json!({
            "Type": "AWS::SQS::Queue",
            "Condition": S3_PATH,
            "Properties": {
                "VisibilityTimeout": visibility,
                "MessageRetentionPeriod": 604_800,
                "KmsMasterKeyId": ga("Key", "Arn"),
                "KmsDataKeyReusePeriodSeconds": 300,
                "RedrivePolicy": {"deadLetterTargetArn": ga("S3QueueDLQ", "Arn"), "maxReceiveCount": S3_MAX_RECEIVE_COUNT}
            }
        }),
    )?;
    b.note_at(
        "S3Queue",
        &[],
        "What names each new log file (S3PathSource: the trail's delivery notifications, or the bucket's Object\nCreated events) and `trailwatch backfill`'s messages, for the S3 function.",
    );
    b.note_at(
        "S3Queue",
        &["Properties", "VisibilityTimeout"],
        &format!(
            "6 x the S3 function's timeout ({S3_FUNCTION_TIMEOUT} s), as the Lambda Developer Guide advises for an SQS event source\n(\"Creating and configuring an Amazon SQS event source mapping\"): time for Lambda's retries when the\nfunction is throttled; Lambda refuses a mapping whose queue's timeout is below the function's."
        ),
    );
    b.note_at(
        "S3Queue",
        &["Properties", "MessageRetentionPeriod"],
        "7 days: room for a backfill's backlog; shorter than the dead-letter queue's 14 days (see S3QueueDLQ).",
    );
    b.note_at(
        "S3Queue",
        &["Properties", "KmsMasterKeyId"],
        "SSE-KMS with the stack's key: the key policy lets SNS (this account's topics) encrypt into it, and\nthis account's principals use it through SQS only (the S3 function, `trailwatch backfill`). SQS caches\ndata keys for KmsDataKeyReusePeriodSeconds (300 s, the default), bounding KMS calls.",
    );
    b.note_at(
        "S3Queue",
        &["Properties", "RedrivePolicy"],
        &format!(
            "A message the function reports in batchItemFailures {S3_MAX_RECEIVE_COUNT} times (access denied, throttling, SNS refusing\nan alert) goes to S3QueueDLQ; unreadable files (truncated, not CloudTrail) are counted, not retried."
        ),
    );
    // Who may send to the queue: the trail's topic, the rule of the
    // bucket's EventBridge events, or an existing bucket's own notification.
    let send = |sid: &str, service: &str, source: Value| {
        json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sqs:SendMessage",
            "Resource": ga("S3Queue", "Arn"),
            "Condition": {"ArnEquals": {"aws:SourceArn": source}}
        })
    };
    let rule_arn = ga("S3ObjectCreatedRule", "Arn");
    let bucket_arn = sub("arn:${AWS::Partition}:s3:::${ExistingTrailBucket}");
    b.add(
        "S3QueuePolicy",
        json!({
            "Type": "AWS::SQS::QueuePolicy",
            "Condition": S3_PATH,
            "Properties": {
                "Queues": [r("S3Queue")],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    iff("S3FromTrailTopic", send("TrailNotificationTopicSends", "sns.amazonaws.com", trail_topic()), no_value()),
                    iff("S3FromBucketEvents", send("ObjectCreatedRuleSends", "events.amazonaws.com", rule_arn.clone()), no_value()),
                    iff("ExistingBucketEvents", send("ExistingTrailBucketSends", "s3.amazonaws.com", bucket_arn), no_value())
                ]}
            }
        }),
    )?;
    b.note_at(
        "S3QueuePolicy",
        &["Properties", "PolicyDocument"],
        "Only what S3PathSource names may send, each by its ARN in aws:SourceArn: the trail's notification\ntopic (SNS Developer Guide, \"Fanout to Amazon SQS queues\"), the Object Created rule (EventBridge User\nGuide, \"Permissions for Amazon SQS targets\"), an existing trail bucket's own event notification\n(S3 User Guide, \"Granting permissions to publish event notification messages to a destination\").",
    );
    b.add(
        "S3QueueSubscription",
        json!({
            "Type": "AWS::SNS::Subscription",
            "Condition": "S3FromTrailTopic",
            "DependsOn": ["S3QueuePolicy"],
            "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["W1030"]}}},
            "Properties": {
                "TopicArn": trail_topic(),
                "Protocol": "sqs",
                "Endpoint": ga("S3Queue", "Arn"),
                "RawMessageDelivery": false
            }
        }),
    )?;
    b.note_at(
        "S3QueueSubscription",
        &["Properties", "RawMessageDelivery"],
        "Off: the function reads SNS's JSON envelope and CloudTrail's {\"s3Bucket\", \"s3ObjectKey\": [...]} in its\nMessage (CloudTrail User Guide, \"Configuring Amazon SNS notifications for CloudTrail\"); it reads raw\nmessages too.",
    );
    b.add(
        "S3ObjectCreatedRule",
        json!({
            "Type": "AWS::Events::Rule",
            "Condition": "S3FromBucketEvents",
            "Properties": {
                "Description": "trailwatch: the trail bucket's new log files (S3 Object Created events) to the S3 function's queue",
                "State": "ENABLED",
                "EventPattern": {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {"bucket": {"name": [trail_bucket()]}, "object": {"key": [{"prefix": log_prefix()}]}}
                },
                "Targets": [{
                    "Id": "S3Queue",
                    "Arn": ga("S3Queue", "Arn"),
                    "DeadLetterConfig": {"Arn": ga("S3QueueDLQ", "Arn")},
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
                }]
            }
        }),
    )?;
    b.note_at(
        "S3ObjectCreatedRule",
        &["Properties", "EventPattern"],
        "S3 sends Object Created events to EventBridge for a bucket with EventBridge notifications on (the\ncreated bucket has them; S3 User Guide, \"Using EventBridge\"). Digest files match too: the function skips\nthem by key without reading them.",
    );
    b.note_at(
        "S3QueueSubscription",
        &["Metadata"],
        "cfn-lint's W1030 reads ExistingTrailTopicArn's empty default as the topic; the template's\nExistingTrailNotificationsNeedTopic rule refuses an existing trail's topic path without it.",
    );
    b.note_at(
        "S3ObjectCreatedRule",
        &["Properties", "Targets"],
        "An event the queue does not take in 24 h (EventBridge's longest retry) goes to S3QueueDLQ, alarmed:\nredrive it to S3Queue, whose function reads it as any other message.",
    );
    b.add(
        "S3QueueDLQPolicy",
        json!({
            "Type": "AWS::SQS::QueuePolicy",
            "Condition": "S3FromBucketEvents",
            "Properties": {
                "Queues": [r("S3QueueDLQ")],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Sid": "ObjectCreatedRuleDeadLetters",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": ga("S3QueueDLQ", "Arn"),
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
                }]}
            }
        }),
    )?;

    function(
        b,
        flavor,
        &FunctionSpec {
            id: "S3Function",
            suffix: "s3",
            binary: "trailwatch-s3",
            code_key: "S3CodeKey",
            description: "trailwatch: reads the CloudTrail log files its SQS queue names from S3 and matches their records against the rules; alerts to SNS.",
            memory: 1024,
            timeout: S3_FUNCTION_TIMEOUT,
            concurrency: "S3FunctionConcurrency",
            timeout_why: "A batch names up to 10 log files, read one after the other, each streamed (gunzip, parse, match)\nand bounded at 512 MiB inflated: seconds for a typical file, tens of seconds for the largest.\n300 s covers a batch of large files with SNS retries; S3Queue's visibility timeout is 6 x this.",
            concurrency_why: "Caps the function at S3FunctionConcurrency (default 10) concurrent batches: a backfill cannot take the\naccount's unreserved concurrency. The event source mapping's MaximumConcurrency is the same number, so\nLambda's pollers do not invoke past it: throttled batches would count as receives and reach the\ndead-letter queue (Lambda Developer Guide, \"Configuring scaling behavior for SQS event source mappings\").",
            condition: Some(S3_PATH),
            asynchronous: false,
            // Every record of the trail, as the logs path sees them: the same
            // rules as the logs function. With the state table, a record seen
            // on both paths is claimed once per alert key, so it alerts once.
            matchers: iff("EventBridgePath", json!("filter_pattern"), json!("all")),
            statements: s3_function_statements(),
            statements_what: ", its queue, the trail's log files (AWSLogs/*) and the key through S3 and SQS",
            calls: "SNS, CloudWatch, DynamoDB, S3, SQS (through Lambda's pollers) and KMS",
        },
    )?;
    b.note_at(
        "S3FunctionRole",
        &["Properties", "Description"],
        "S3 function: s3:GetObject on the trail bucket's AWSLogs/ objects only (no List, no other bucket);\nkms:Decrypt on the stack's key only through S3 (the SSE-KMS log files) and SQS (the encrypted queue,\nwhich Lambda's pollers read with this role: Lambda Developer Guide, \"Using Lambda with Amazon SQS\");\nthe four SQS calls of an event source mapping on S3Queue alone (the AWSLambdaSQSQueueExecutionRole\nactions, and ChangeMessageVisibility).",
    );
    b.add(
        "S3EventSourceMapping",
        json!({
            "Type": "AWS::Lambda::EventSourceMapping",
            "Condition": S3_PATH,
            "Properties": {
                "EventSourceArn": ga("S3Queue", "Arn"),
                "FunctionName": r("S3Function"),
                "Enabled": true,
                "BatchSize": S3_BATCH_SIZE,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": r("S3FunctionConcurrency")}
            }
        }),
    )?;
    b.note_at(
        "S3EventSourceMapping",
        &["Properties", "BatchSize"],
        "10 messages (SQS's default; more needs a batching window): each names one log file (or a few), so a\nbatch is already seconds of work.",
    );
    b.note_at(
        "S3EventSourceMapping",
        &["Properties", "FunctionResponseTypes"],
        "The S3 function answers with batchItemFailures (Lambda Developer Guide, \"Handling errors for an SQS\nevent source\"): only the messages it failed on return to the queue, each retried alone.",
    );
    queue_age_alarm(b, "S3Queue", S3_PATH, S3_OLDEST_MESSAGE_ALARM_SECONDS)?;
    dlq_alarm(b, "S3QueueDLQ", Some(S3_PATH))?;
    Ok(())
}
