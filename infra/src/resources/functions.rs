//! The EventBridge and logs functions, each with its log group, role,
//! dead-letter queue and asynchronous-invocation settings, and the state
//! table's name; the reasons for their sizes and limits are comments in the
//! template. [`function`] makes any of them from a [`FunctionSpec`]: the S3
//! function (`resources::s3path`) is made by it too.

use serde_json::{json, Value};

use crate::intrinsics::{ga, iff, no_value, r, sub};
use crate::resources::state::{state_statement, STATE_TABLE};
use crate::template::Builder;
use crate::{Flavor, InfraError};

/// A dead-letter queue: 14 days, encrypted with SQS-managed keys.
pub(crate) fn dead_letter_queue() -> Value {
    json!({
        "Type": "AWS::SQS::Queue",
        "Metadata": {"checkov": {"skip": [
            {"id": "CKV_AWS_27", "comment": "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which this check does not recognise. A KMS key would need key-policy entries for EventBridge and Lambda (an AWS managed key cannot have them, and EventBridge cannot deliver to a queue encrypted with one)."}
        ]}},
        "Properties": {"MessageRetentionPeriod": 1_209_600, "SqsManagedSseEnabled": true}
    })
}

/// A function: its log group, role, the function, and for one invoked
/// asynchronously its dead-letter queue and retry settings.
pub(crate) struct FunctionSpec {
    /// Logical id; its log group, role and queue are named after it.
    pub(crate) id: &'static str,
    /// `${AWS::StackName}-<suffix>` is the function's name.
    pub(crate) suffix: &'static str,
    /// The cargo binary (`sam build`'s BuildProperties).
    pub(crate) binary: &'static str,
    /// The plain template's parameter naming the zip's key.
    pub(crate) code_key: &'static str,
    pub(crate) description: &'static str,
    pub(crate) memory: u32,
    pub(crate) timeout: u32,
    /// The parameter of its reserved concurrency.
    pub(crate) concurrency: &'static str,
    pub(crate) timeout_why: &'static str,
    pub(crate) concurrency_why: &'static str,
    /// The template condition its resources are created under.
    pub(crate) condition: Option<&'static str>,
    /// Invoked asynchronously (EventBridge, subscription filter): a
    /// dead-letter queue and retry settings of its own. Otherwise invoked
    /// synchronously by an event source mapping (SQS), whose queue's redrive
    /// policy is the dead-letter queue.
    pub(crate) asynchronous: bool,
    /// `TRAILWATCH_MATCH`: the rules it evaluates.
    pub(crate) matchers: Value,
    /// Its role's statements beside those every function has.
    pub(crate) statements: Vec<Value>,
    /// What those statements allow, for the role's description.
    pub(crate) statements_what: &'static str,
    /// The AWS endpoints it calls (the reason it needs no VPC).
    pub(crate) calls: &'static str,
}

pub(crate) fn functions(b: &mut Builder, flavor: Flavor) -> Result<(), InfraError> {
    let specs = [
        FunctionSpec {
            id: "EventBridgeFunction",
            suffix: "eventbridge",
            binary: "trailwatch-eventbridge",
            code_key: "EventBridgeCodeKey",
            description: "trailwatch: matches each CloudTrail event EventBridge delivers against the rules; alerts to SNS.",
            memory: 128,
            timeout: 30,
            concurrency: "EventBridgeFunctionConcurrency",
            timeout_why: "One event per invocation: match (microseconds) and at most a few SNS publishes with the SDK's\nretries. 30 s leaves room for SNS retries; a hung call fails fast and Lambda retries the event.",
            condition: None,
            asynchronous: true,
            matchers: json!("event_pattern"),
            statements: Vec::new(),
            statements_what: "",
            calls: "SNS, CloudWatch and DynamoDB",
            concurrency_why: "Caps the function at 10 concurrent events by default: a burst (a pattern that matches too much,\nor an attacker generating noise) cannot take the account's unreserved concurrency from other\nfunctions, nor flood SNS. Throttled asynchronous events are not lost: Lambda keeps retrying them\nfor up to 6 hours (EventInvokeConfig), then they go to the dead-letter queue.",
        },
        FunctionSpec {
            id: "LogsFunction",
            suffix: "logs",
            binary: "trailwatch-logs",
            code_key: "LogsCodeKey",
            description: "trailwatch: matches batches of CloudTrail records from the trail's log group (subscription or Kinesis) against the rules; alerts to SNS.",
            memory: 256,
            timeout: 120,
            concurrency: "LogsFunctionConcurrency",
            timeout_why: "A batch holds up to about 1 MB of gzipped records (subscription) or 100 Kinesis records:\ndecompressing and matching take well under a second, but one alert per matching record may\nneed many SNS publishes. 120 s covers a batch of alerts with retries.",
            condition: None,
            asynchronous: true,
            // Each function evaluates the rules of its own path, so that one
            // record does not alert twice: the EventBridge function the event
            // patterns (its rules' targets), the logs function the filter
            // patterns, or every rule when it is the only path (LogsOnly).
            matchers: iff("EventBridgePath", json!("filter_pattern"), json!("all")),
            statements: vec![iff(
                "SubscribeKinesis",
                json!({
                    "Sid": "ReadLogStream",
                    "Effect": "Allow",
                    "Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard"],
                    "Resource": ga("LogsStream", "Arn")
                }),
                no_value(),
            )],
            statements_what: "",
            calls: "SNS, CloudWatch and DynamoDB",
            concurrency_why: "Subscription deliveries arrive a few per second at most for one trail; 5 concurrent\ninvocations absorb bursts (e.g. after a delivery delay) without letting a flood starve other\nfunctions. With Kinesis, concurrency is one per shard (on-demand streams start with 4).",
        },
    ];
    for s in &specs {
        function(b, flavor, s)?;
    }
    Ok(())
}

/// One function's resources, under its condition if it has one.
pub(crate) fn function(b: &mut Builder, flavor: Flavor, s: &FunctionSpec) -> Result<(), InfraError> {
    let cond = |mut resource: Value| {
        if let Some(c) = s.condition {
            resource["Condition"] = json!(c);
        }
        resource
    };
    let log_group = format!("{}LogGroup", s.id);
    let role = format!("{}Role", s.id);
    let dlq = format!("{}DLQ", s.id);
    let name = format!("${{AWS::StackName}}-{}", s.suffix);
    b.add(
        &log_group,
        cond(json!({
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": sub(&format!("/aws/lambda/{name}")),
                "RetentionInDays": r("LogRetentionDays"),
                "KmsKeyId": ga("Key", "Arn")
            }
        })),
    )?;
    if s.asynchronous {
        b.add(&dlq, cond(dead_letter_queue()))?;
        b.note_at(
            &dlq,
            &[],
            &format!("Invocations of {} that failed after all retries (kept 14 days; an alarm watches it).", s.id),
        );
    }
    let mut statements = vec![
        json!({
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": ga(&log_group, "Arn")
        }),
        json!({"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": [r("AlertTopic"), r("ChatTopic"), r("PagingTopic")]}),
        json!({
            "Sid": "EncryptedTopic",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": ga("Key", "Arn"),
            "Condition": {"StringEquals": {"kms:ViaService": sub("sns.${AWS::Region}.amazonaws.com")}}
        }),
        json!({
            "Sid": "MetricsInOwnNamespace",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": r("MetricsNamespace")}}
        }),
        state_statement(),
    ];
    if s.asynchronous {
        statements.insert(
            statements.len() - 1,
            json!({"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": ga(&dlq, "Arn")}),
        );
    }
    statements.extend(s.statements.iter().cloned());
    let what = if s.asynchronous { ", its dead-letter queue" } else { "" };
    b.add(&role, cond(json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": format!("trailwatch {} function: its logs, publish to the alert topic, metrics in its namespace{what}, items of the state table{}.", s.suffix, s.statements_what),
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"
            }]},
            "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]
        }
    })))?;
    b.note_at(
        &role,
        &["Properties", "Policies"],
        "PutMetricData has no resource-level permissions: the namespace condition is what limits it (used when\nMetricsMode=api; EMF needs only the log permissions). kms: only through SNS, for the encrypted topic.\nState: the four item calls the store makes (GetItem, PutItem, UpdateItem, Query), on the state table\nonly; no Scan, DeleteItem, batch or table calls (TTL deletes expired items).",
    );
    let environment = json!({"Variables": {
        "TRAILWATCH_TOPIC_ARN": r("AlertTopic"),
        "TRAILWATCH_METRICS": r("MetricsMode"),
        "TRAILWATCH_NAMESPACE": r("MetricsNamespace"),
        "TRAILWATCH_MATCH": s.matchers.clone(),
        "TRAILWATCH_STATE_TABLE": r(STATE_TABLE),
        "TRAILWATCH_ROUTES": routes()
    }});
    let mut checkov = json!({"skip": [
        {"id": "CKV_AWS_117", "comment": format!("No VPC: the function calls only {} public endpoints and reaches no private resource; a VPC would add NAT or endpoints and cold-start cost for no isolation gain.", s.calls)},
        {"id": "CKV_AWS_173", "comment": "The environment holds no secrets (topic ARN, metrics mode, namespace, rule selection, state table name); Lambda encrypts it at rest with its AWS managed key. A customer managed key here would widen the key policy to Lambda."}
    ]});
    if !s.asynchronous {
        if let Some(skips) = checkov["skip"].as_array_mut() {
            skips.push(json!({"id": "CKV_AWS_116", "comment": "Invoked synchronously by an SQS event source mapping, for which a function's dead-letter queue is never used (it serves asynchronous invocations): messages that keep failing go to the source queue's own dead-letter queue through its redrive policy."}));
        }
    }
    let mut properties = json!({
        "FunctionName": sub(&name),
        "Description": s.description,
        "Handler": "bootstrap",
        "Runtime": "provided.al2023",
        "Architectures": ["arm64"],
        "MemorySize": s.memory,
        "Timeout": s.timeout,
        "ReservedConcurrentExecutions": r(s.concurrency),
        "Role": ga(&role, "Arn"),
        "Environment": environment
    });
    let (ty, metadata) = match flavor {
        Flavor::Sam => {
            if let Some(p) = properties.as_object_mut() {
                p.insert("CodeUri".into(), json!(".."));
                if s.asynchronous {
                    p.insert("DeadLetterQueue".into(), json!({"Type": "SQS", "TargetArn": ga(&dlq, "Arn")}));
                }
            }
            (
                "AWS::Serverless::Function",
                json!({"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": s.binary}, "checkov": checkov}),
            )
        }
        Flavor::Plain => {
            if let Some(p) = properties.as_object_mut() {
                p.insert("Code".into(), json!({"S3Bucket": r("CodeBucket"), "S3Key": r(s.code_key)}));
                if s.asynchronous {
                    p.insert("DeadLetterConfig".into(), json!({"TargetArn": ga(&dlq, "Arn")}));
                }
            }
            ("AWS::Lambda::Function", json!({"checkov": checkov}))
        }
    };
    b.add(
        s.id,
        cond(json!({
            "Type": ty,
            "DependsOn": [log_group],
            "Metadata": metadata,
            "Properties": properties
        })),
    )?;
    if flavor == Flavor::Sam {
        b.note_at(
            s.id,
            &["Metadata", "BuildProperties"],
            "sam build runs `cargo lambda build --release --arm64 --bin <Binary>` in CodeUri (the workspace root)\nand copies target/lambda/<Binary>/bootstrap: leave CARGO_TARGET_DIR unset (or ./target).",
        );
    }
    b.note_at(s.id, &["Properties", "Timeout"], s.timeout_why);
    b.note_at(s.id, &["Properties", "ReservedConcurrentExecutions"], s.concurrency_why);
    b.note_at(
        s.id,
        &["Properties", "MemorySize"],
        "A Rust function uses a few MB; memory also buys CPU, which decompressing and matching batches use.",
    );
    if !s.asynchronous {
        return Ok(());
    }
    let invoke_config = format!("{}InvokeConfig", s.id);
    b.add(
        &invoke_config,
        cond(json!({
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": r(s.id),
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "MaximumEventAgeInSeconds": 21600
            }
        })),
    )?;
    b.note_at(
        &invoke_config,
        &["Properties"],
        "Asynchronous invocations (EventBridge, subscription filter): 2 retries, kept up to 6 hours while\nthrottled, then the dead-letter queue. An alert SNS refused fails the invocation, so it is retried.",
    );
    Ok(())
}

/// `TRAILWATCH_ROUTES` for the chat and paging topics, from the routing
/// parameters (`PagingTags` split on commas; empty: every tag).
fn routes() -> Value {
    json!({"Fn::Sub": [
        r#"[{"name": "chat", "topic_arn": "${ChatTopic}", "format": "chat", "min_severity": "${ChatMinSeverity}"}, {"name": "page", "topic_arn": "${PagingTopic}", "format": "alert", "min_severity": "${PagingMinSeverity}", "tags": ${Tags}}]"#,
        {"Tags": {"Fn::If": ["HasPagingTags",
            {"Fn::Join": ["", ["[\"", {"Fn::Join": ["\", \"", {"Fn::Split": [",", r("PagingTags")]}]}, "\"]"]]},
            "[]"]}}
    ]})
}
