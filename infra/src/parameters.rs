//! The template's interface: parameters and their console grouping, the
//! `Rules` section (parameter checks), conditions, and outputs.

use serde_json::{json, Value};

use crate::intrinsics::{cond, ga, r, sub};
use crate::resources::trail::{log_group_name, TRAIL_ARN};
use crate::Flavor;

pub(crate) fn parameters(flavor: Flavor) -> Value {
    let retention =
        [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
    let mut p = json!({
        "TrailMode": {
            "Type": "String", "Default": "create", "AllowedValues": ["create", "existing"],
            "Description": "create: a new multi-Region trail, bucket and log group. existing: use the trail you already have; give its log group in TrailLogGroupName."
        },
        "TrailLogGroupName": {
            "Type": "String", "Default": "/trailwatch/cloudtrail", "AllowedPattern": "^[.\\-_/#A-Za-z0-9]{1,512}$",
            "Description": "The CloudWatch Logs log group of the trail: created with this name (TrailMode=create), or the one your trail already delivers to (TrailMode=existing). Metric filters and the subscription go on it."
        },
        "ManagementEvents": {
            "Type": "String", "Default": "All", "AllowedValues": ["All", "ReadOnly", "WriteOnly"],
            "Description": "Management events the trail records (Security Hub CloudTrail.1 wants All)."
        },
        "S3DataEvents": {
            "Type": "String", "Default": "false", "AllowedValues": ["true", "false"],
            "Description": "Record S3 object-level (data) events for all buckets. Charged per event."
        },
        "LambdaDataEvents": {
            "Type": "String", "Default": "false", "AllowedValues": ["true", "false"],
            "Description": "Record Lambda invocations (data events) for all functions. Charged per event."
        },
        "OrganizationTrail": {
            "Type": "String", "Default": "false", "AllowedValues": ["true", "false"],
            "Description": "Make the trail an organization trail (deploy in the management account or a delegated administrator)."
        },
        "OrganizationId": {
            "Type": "String", "Default": "",
            "Description": "OrganizationTrail=true: the organization id (o-…), for the bucket policy."
        },
        "LogRetentionDays": {
            "Type": "Number", "Default": 365, "AllowedValues": retention,
            "Description": "Retention of the trail's and the functions' log groups (Security Hub CloudWatch.16 wants at least 365)."
        },
        "LogTransitionDays": {
            "Type": "Number", "Default": 90, "MinValue": 1,
            "Description": "Days before log files in the bucket move to S3 Glacier Flexible Retrieval."
        },
        "LogExpirationDays": {
            "Type": "Number", "Default": 2557, "MinValue": 2,
            "Description": "Days before log files in the bucket are deleted (more than LogTransitionDays)."
        },
        "AlertEmail": {
            "Type": "String", "Default": "",
            "Description": "An e-mail address subscribed to the alert topic (confirm the e-mail AWS sends). Security Hub's CloudWatch controls want the alarms' topic to have a subscriber."
        },
        "InsightsEvents": {
            "Type": "String", "Default": "None", "AllowedValues": ["None", "ApiCallRate", "ApiErrorRate", "Both"],
            "Description": "CloudTrail Insights on the trail's management events (billed per 100,000 events analyzed, see the README): unusual API call rates (needs write management events) and error rates. Its Insights events reach the EventBridge function through the insights-* rules."
        },
        "MetricRuleAlarms": {
            "Type": "String", "Default": "Threshold", "AllowedValues": ["Threshold", "AnomalyDetection", "Both"],
            "Description": "Alarms on metric rules' counts: a static threshold (MetricRuleThreshold), a CloudWatch anomaly detection band (each rule's anomaly settings), or both. The CIS CloudWatch.1-14 alarms stay static, as Security Hub checks them."
        },
        "ChatMinSeverity": {
            "Type": "String", "Default": "medium", "AllowedValues": ["info", "low", "medium", "high", "critical"],
            "Description": "The least severe alert sent to the chat topic (Amazon Q Developer in chat applications custom notifications)."
        },
        "PagingMinSeverity": {
            "Type": "String", "Default": "critical", "AllowedValues": ["info", "low", "medium", "high", "critical"],
            "Description": "The least severe alert sent to the paging topic."
        },
        "PagingTags": {
            "Type": "String", "Default": "",
            "Description": "Comma-separated rule tags (e.g. attack.t1562.008,attack.t1098): if set, only alerts carrying one of them are paged. Empty: every alert at or above PagingMinSeverity."
        },
        "DetectionPath": {
            "Type": "String", "Default": "EventBridgeAndLogs", "AllowedValues": ["EventBridgeAndLogs", "LogsOnly"],
            "Description": "EventBridgeAndLogs: event_pattern rules on EventBridge (real time, this Region's events; global-service events arrive in us-east-1), filter_pattern rules on the log group. LogsOnly: EventBridge rules disabled, every record of every Region goes through the log group to the logs function."
        },
        "LogsDelivery": {
            "Type": "String", "Default": "Lambda", "AllowedValues": ["Lambda", "Kinesis"],
            "Description": "How the log group reaches the logs function: a subscription filter straight to Lambda, or through a Kinesis stream (batching, replay, partial-batch retries)."
        },
        "MetricsMode": {
            "Type": "String", "Default": "emf", "AllowedValues": ["emf", "api", "off"],
            "Description": "TRAILWATCH_METRICS: how the functions count matches (emf: log lines CloudWatch turns into metrics; api: PutMetricData; off)."
        },
        "MetricsNamespace": {
            "Type": "String", "Default": "trailwatch", "AllowedPattern": "^(?!AWS/)[^:]{1,200}$",
            "Description": "TRAILWATCH_NAMESPACE: the CloudWatch namespace of the functions' metrics; metric filters of metric rules use <namespace>/MetricFilters."
        },
        "MetricRuleThreshold": {
            "Type": "Number", "Default": 1, "MinValue": 1,
            "Description": "Alarms of metric rules fire at this many matches in AlarmPeriodSeconds."
        },
        "AlarmPeriodSeconds": {
            "Type": "Number", "Default": 300, "AllowedValues": [60, 300, 900, 3600],
            "Description": "Period of the metric rules' alarms."
        },
        "EventBridgeFunctionConcurrency": {
            "Type": "Number", "Default": 10, "MinValue": 1,
            "Description": "Reserved concurrency of the EventBridge function (see the template comment)."
        },
        "LogsFunctionConcurrency": {
            "Type": "Number", "Default": 5, "MinValue": 1,
            "Description": "Reserved concurrency of the logs function (see the template comment)."
        },
        "S3Path": {
            "Type": "String", "Default": "Disabled", "AllowedValues": ["Enabled", "Disabled"],
            "Description": "Enabled: each new log file of the trail is named on an SQS queue (with a dead-letter queue) read by the S3 function, which reads the file from the trail bucket and matches every record. Use it with DetectionPath=EventBridgeAndLogs or instead of the logs path; `trailwatch backfill` enqueues history on the same queue."
        },
        "S3PathSource": {
            "Type": "String", "Default": "TrailNotifications", "AllowedValues": ["TrailNotifications", "BucketEvents"],
            "Description": "S3Path=Enabled: what names each new log file. TrailNotifications: CloudTrail's SNS notification per delivered file (the created trail's topic, or ExistingTrailTopicArn). BucketEvents: the trail bucket's S3 Object Created events, through EventBridge (turned on for the created bucket; on an existing bucket of this account and Region, turn on its Amazon EventBridge notifications) or sent straight to S3Queue by an existing bucket's own event notification (S3QueueArn output)."
        },
        "ExistingTrailBucket": {
            "Type": "String", "Default": "", "AllowedPattern": "^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "Description": "TrailMode=existing with S3Path=Enabled: the bucket your trail delivers its log files to. In another account (an organization's log archive), its bucket policy must let the S3 function's role (S3FunctionRoleArn output) s3:GetObject."
        },
        "ExistingTrailKeyPrefix": {
            "Type": "String", "Default": "", "AllowedPattern": "^$|^[^/].*[^/]$|^[^/]$",
            "Description": "TrailMode=existing: your trail's S3 key prefix, if it has one (no leading or trailing slash): log files are under <prefix>/AWSLogs/."
        },
        "ExistingTrailTopicArn": {
            "Type": "String", "Default": "", "AllowedPattern": "^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$",
            "Description": "TrailMode=existing with S3Path=Enabled and S3PathSource=TrailNotifications: the SNS topic your trail notifies of each log file (in this Region; in another account its topic policy must let this account subscribe)."
        },
        "ExistingTrailKeyArn": {
            "Type": "String", "Default": "", "AllowedPattern": "^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]{36}$",
            "Description": "TrailMode=existing with S3Path=Enabled: the KMS key your trail encrypts its log files with (SSE-KMS), for kms:Decrypt through S3 (its key policy must allow the S3 function's role). Empty if they are SSE-S3."
        },
        "S3FunctionConcurrency": {
            "Type": "Number", "Default": 10, "MinValue": 2, "MaxValue": 1000,
            "Description": "S3Path=Enabled: reserved concurrency of the S3 function and the queue mapping's MaximumConcurrency (2 to 1000)."
        }
    });
    if flavor == Flavor::Plain {
        if let Some(m) = p.as_object_mut() {
            m.insert("CodeBucket".into(), json!({"Type": "String", "Description": "Bucket holding the functions' zip files (plain template only)."}));
            m.insert("EventBridgeCodeKey".into(), json!({"Type": "String", "Default": "trailwatch-eventbridge.zip", "Description": "Key of the EventBridge function's zip (bootstrap inside)."}));
            m.insert("LogsCodeKey".into(), json!({"Type": "String", "Default": "trailwatch-logs.zip", "Description": "Key of the logs function's zip (bootstrap inside)."}));
            m.insert("S3CodeKey".into(), json!({"Type": "String", "Default": "trailwatch-s3.zip", "Description": "Key of the S3 function's zip (bootstrap inside; S3Path=Enabled)."}));
        }
    }
    p
}

pub(crate) fn interface(flavor: Flavor) -> Value {
    let mut groups = vec![
        json!({"Label": {"default": "Trail"}, "Parameters": ["TrailMode", "TrailLogGroupName", "ManagementEvents", "S3DataEvents", "LambdaDataEvents", "OrganizationTrail", "OrganizationId"]}),
        json!({"Label": {"default": "Existing trail (TrailMode=existing, S3Path=Enabled)"}, "Parameters": ["ExistingTrailBucket", "ExistingTrailKeyPrefix", "ExistingTrailTopicArn", "ExistingTrailKeyArn"]}),
        json!({"Label": {"default": "Retention"}, "Parameters": ["LogRetentionDays", "LogTransitionDays", "LogExpirationDays"]}),
        json!({"Label": {"default": "Detection"}, "Parameters": ["DetectionPath", "LogsDelivery", "S3Path", "S3PathSource", "AlertEmail", "MetricsMode", "MetricsNamespace", "MetricRuleAlarms", "MetricRuleThreshold", "AlarmPeriodSeconds", "InsightsEvents"]}),
        json!({"Label": {"default": "Routing"}, "Parameters": ["ChatMinSeverity", "PagingMinSeverity", "PagingTags"]}),
        json!({"Label": {"default": "Functions"}, "Parameters": ["EventBridgeFunctionConcurrency", "LogsFunctionConcurrency", "S3FunctionConcurrency"]}),
    ];
    if flavor == Flavor::Plain {
        groups.push(
            json!({"Label": {"default": "Code"}, "Parameters": ["CodeBucket", "EventBridgeCodeKey", "LogsCodeKey", "S3CodeKey"]}),
        );
    }
    json!({ "AWS::CloudFormation::Interface": { "ParameterGroups": groups } })
}

pub(crate) fn template_rules() -> Value {
    json!({
        "OrganizationTrailNeedsId": {
            "RuleCondition": {"Fn::Equals": [r("OrganizationTrail"), "true"]},
            "Assertions": [{
                "Assert": {"Fn::Not": [{"Fn::Equals": [r("OrganizationId"), ""]}]},
                "AssertDescription": "OrganizationTrail=true needs OrganizationId (o-…) for the bucket policy."
            }]
        },
        "ExistingTrailS3PathNeedsBucket": {
            "RuleCondition": {"Fn::And": [
                {"Fn::Equals": [r("S3Path"), "Enabled"]}, {"Fn::Equals": [r("TrailMode"), "existing"]}
            ]},
            "Assertions": [{
                "Assert": {"Fn::Not": [{"Fn::Equals": [r("ExistingTrailBucket"), ""]}]},
                "AssertDescription": "S3Path=Enabled with TrailMode=existing reads your trail's log files: give their bucket in ExistingTrailBucket."
            }]
        },
        "ExistingTrailNotificationsNeedTopic": {
            "RuleCondition": {"Fn::And": [
                {"Fn::Equals": [r("S3Path"), "Enabled"]}, {"Fn::Equals": [r("TrailMode"), "existing"]},
                {"Fn::Equals": [r("S3PathSource"), "TrailNotifications"]}
            ]},
            "Assertions": [{
                "Assert": {"Fn::Not": [{"Fn::Equals": [r("ExistingTrailTopicArn"), ""]}]},
                "AssertDescription": "S3PathSource=TrailNotifications with TrailMode=existing subscribes to your trail's SNS topic: give it in ExistingTrailTopicArn (or use S3PathSource=BucketEvents)."
            }]
        }
    })
}

pub(crate) fn conditions(has_filter_alerts: bool) -> Value {
    // Without filter_pattern alert rules, the logs function has nothing to
    // do unless it is the only path.
    let lambda_sub = if has_filter_alerts {
        json!({"Fn::Not": [cond("UseKinesis")]})
    } else {
        json!({"Fn::And": [{"Fn::Not": [cond("UseKinesis")]}, {"Fn::Not": [cond("EventBridgePath")]}]})
    };
    // A condition is defined by a function, never by a bare `Condition`.
    let kinesis_sub = if has_filter_alerts {
        json!({"Fn::Equals": [r("LogsDelivery"), "Kinesis"]})
    } else {
        json!({"Fn::And": [cond("UseKinesis"), {"Fn::Not": [cond("EventBridgePath")]}]})
    };
    json!({
        "CreateTrail": {"Fn::Equals": [r("TrailMode"), "create"]},
        "IsOrganizationTrail": {"Fn::And": [cond("CreateTrail"), {"Fn::Equals": [r("OrganizationTrail"), "true"]}]},
        "WantS3DataEvents": {"Fn::Equals": [r("S3DataEvents"), "true"]},
        "WantLambdaDataEvents": {"Fn::Equals": [r("LambdaDataEvents"), "true"]},
        "HasAlertEmail": {"Fn::Not": [{"Fn::Equals": [r("AlertEmail"), ""]}]},
        "ThresholdAlarms": {"Fn::Or": [{"Fn::Equals": [r("MetricRuleAlarms"), "Threshold"]}, {"Fn::Equals": [r("MetricRuleAlarms"), "Both"]}]},
        "AnomalyAlarms": {"Fn::Or": [{"Fn::Equals": [r("MetricRuleAlarms"), "AnomalyDetection"]}, {"Fn::Equals": [r("MetricRuleAlarms"), "Both"]}]},
        "WantInsights": {"Fn::Not": [{"Fn::Equals": [r("InsightsEvents"), "None"]}]},
        "WantCallRateInsights": {"Fn::Or": [{"Fn::Equals": [r("InsightsEvents"), "ApiCallRate"]}, {"Fn::Equals": [r("InsightsEvents"), "Both"]}]},
        "WantErrorRateInsights": {"Fn::Or": [{"Fn::Equals": [r("InsightsEvents"), "ApiErrorRate"]}, {"Fn::Equals": [r("InsightsEvents"), "Both"]}]},
        "HasPagingTags": {"Fn::Not": [{"Fn::Equals": [r("PagingTags"), ""]}]},
        "EventBridgePath": {"Fn::Equals": [r("DetectionPath"), "EventBridgeAndLogs"]},
        "UseKinesis": {"Fn::Equals": [r("LogsDelivery"), "Kinesis"]},
        "SubscribeLambda": lambda_sub,
        "SubscribeKinesis": kinesis_sub,
        "S3PathEnabled": {"Fn::Equals": [r("S3Path"), "Enabled"]},
        "S3FromTrailTopic": {"Fn::And": [cond("S3PathEnabled"), {"Fn::Equals": [r("S3PathSource"), "TrailNotifications"]}]},
        "S3FromBucketEvents": {"Fn::And": [cond("S3PathEnabled"), {"Fn::Equals": [r("S3PathSource"), "BucketEvents"]}]},
        "CreatedBucketEvents": {"Fn::And": [cond("S3FromBucketEvents"), cond("CreateTrail")]},
        "ExistingBucketEvents": {"Fn::And": [cond("S3FromBucketEvents"), {"Fn::Not": [cond("CreateTrail")]}]},
        "HasTrailKeyPrefix": {"Fn::And": [{"Fn::Not": [cond("CreateTrail")]}, {"Fn::Not": [{"Fn::Equals": [r("ExistingTrailKeyPrefix"), ""]}]}]},
        "HasExistingTrailKey": {"Fn::And": [cond("S3PathEnabled"), {"Fn::Not": [cond("CreateTrail")]}, {"Fn::Not": [{"Fn::Equals": [r("ExistingTrailKeyArn"), ""]}]}]}
    })
}

pub(crate) fn outputs() -> Value {
    json!({
        "AlertTopicArn": {"Description": "The SNS topic alerts and alarms go to.", "Value": r("AlertTopic")},
        "ChatTopicArn": {"Description": "Alerts for chat channels (Amazon Q Developer in chat applications custom notifications).", "Value": r("ChatTopic")},
        "PagingTopicArn": {"Description": "Alerts for the on-call pager.", "Value": r("PagingTopic")},
        "KeyArn": {"Description": "The KMS key of the trail, log groups and topics.", "Value": ga("Key", "Arn")},
        "TrailLogGroupName": {"Description": "The log group the trail delivers to.", "Value": log_group_name()},
        "TrailArn": {"Condition": "CreateTrail", "Description": "The trail.", "Value": sub(TRAIL_ARN)},
        "TrailBucketName": {"Condition": "CreateTrail", "Description": "The bucket of the trail's log files.", "Value": r("TrailBucket")},
        "EventBridgeFunctionName": {"Value": r("EventBridgeFunction")},
        "LogsFunctionName": {"Value": r("LogsFunction")},
        "StateTableName": {"Description": "The DynamoDB table of the functions' state (alert claims, counts, observations).", "Value": r("StateTable")},
        "EventBridgeFunctionDLQUrl": {"Description": "Events the EventBridge function failed on after retries.", "Value": r("EventBridgeFunctionDLQ")},
        "LogsFunctionDLQUrl": {"Description": "Payloads the logs function failed on after retries.", "Value": r("LogsFunctionDLQ")},
        "S3FunctionName": {"Condition": "S3PathEnabled", "Value": r("S3Function")},
        "S3QueueUrl": {"Condition": "S3PathEnabled", "Description": "The S3 function's queue (trailwatch backfill --queue).", "Value": r("S3Queue")},
        "S3QueueArn": {"Condition": "S3PathEnabled", "Description": "The S3 function's queue: the destination of an existing trail bucket's Object Created event notification (S3PathSource=BucketEvents).", "Value": ga("S3Queue", "Arn")},
        "S3FunctionRoleArn": {"Condition": "S3PathEnabled", "Description": "The S3 function's role: what an existing trail bucket's policy and key policy must allow (s3:GetObject, kms:Decrypt) when they are in another account.", "Value": ga("S3FunctionRole", "Arn")},
        "S3QueueDLQUrl": {"Condition": "S3PathEnabled", "Description": "Log-file messages the S3 function failed on after 5 receives.", "Value": r("S3QueueDLQ")}
    })
}
