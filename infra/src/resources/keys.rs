//! The KMS key (trail log files, log groups, topics), its alias, the alert
//! topic and its e-mail subscription.

use serde_json::{json, Value};

use crate::intrinsics::{ga, iff, no_value, r, sub};
use crate::resources::trail::{ANY_TRAIL_OF_ACCOUNT, TRAIL_ARN};
use crate::template::Builder;
use crate::InfraError;

/// The KMS key, its alias, the alert topic and its e-mail subscription.
pub(crate) fn key_and_topics(b: &mut Builder) -> Result<(), InfraError> {
    let root = sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root");
    // An AWS service that sends to an encrypted topic or queue: it makes
    // and reads data keys, under `condition`.
    let sender = |sid: &str, service: Value, condition: Value| {
        json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": condition
        })
    };
    let this_account = json!({"StringEquals": {"aws:SourceAccount": r("AWS::AccountId")}});
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "KeyAdministrationByTheAccount",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": [
                    "kms:CreateAlias", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
                    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"
                ],
                "Resource": "*"
            },
            {
                "Sid": "CloudTrailEncryptsLogFiles",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": sub(TRAIL_ARN)},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": sub(ANY_TRAIL_OF_ACCOUNT)}
                }
            },
            {
                "Sid": "CloudTrailDescribesKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": sub(TRAIL_ARN)}}
            },
            {
                "Sid": "AccountPrincipalsDecryptCloudTrailLogFiles",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": r("AWS::AccountId")},
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": sub(ANY_TRAIL_OF_ACCOUNT)}
                }
            },
            {
                "Sid": "CloudWatchLogsEncryptsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": sub("logs.${AWS::Region}.amazonaws.com")},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")}}
            },
            {
                "Sid": "AccountPrincipalsUseKeyThroughSns",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": r("AWS::AccountId"),
                    "kms:ViaService": sub("sns.${AWS::Region}.amazonaws.com")
                }}
            },
            sender(
                "AlarmsAndCloudTrailPublishToEncryptedTopics",
                json!(["cloudwatch.amazonaws.com", "cloudtrail.amazonaws.com"]),
                this_account.clone()
            ),
            iff("S3FromTrailTopic", sender(
                "SnsSendsToEncryptedQueue",
                json!("sns.amazonaws.com"),
                iff(
                    "CreateTrail",
                    this_account.clone(),
                    json!({"ArnEquals": {"aws:SourceArn": r("ExistingTrailTopicArn")}})
                )
            ), no_value()),
            iff("S3FromBucketEvents", sender(
                "EventBridgeSendsToEncryptedQueue", json!("events.amazonaws.com"), this_account
            ), no_value()),
            iff("ExistingBucketEvents", sender(
                "ExistingTrailBucketSendsToEncryptedQueue",
                json!("s3.amazonaws.com"),
                json!({"ArnEquals": {"aws:SourceArn": sub("arn:${AWS::Partition}:s3:::${ExistingTrailBucket}")}})
            ), no_value()),
            iff("S3PathEnabled", json!({
                "Sid": "AccountPrincipalsUseKeyThroughSqs",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": r("AWS::AccountId"),
                    "kms:ViaService": sub("sqs.${AWS::Region}.amazonaws.com")
                }}
            }), no_value())
        ]
    });
    b.add(
        "Key",
        json!({
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": sub("trailwatch ${AWS::StackName}: CloudTrail log files, log groups and SNS topics"),
                "EnableKeyRotation": true,
                "PendingWindowInDays": 30,
                "KeyPolicy": policy
            }
        }),
    )?;
    b.note_at(
        "Key",
        &["DeletionPolicy"],
        "Retained: deleting the stack must not make the encrypted log files unreadable.",
    );
    b.note_at(
        "Key",
        &["Properties", "KeyPolicy"],
        "Only CloudTrail (log files, SNS notifications), CloudWatch Logs (log groups in this account and Region),\nSNS (this account's principals, through SNS only; alarms) and, with S3Path=Enabled, what sends to the\nencrypted S3Queue (the trail's topic, the Object Created rule's EventBridge, an existing trail bucket:\nSQS Developer Guide, \"Amazon SQS key management\"; not by the rule's or the created topic's ARN, which\nwould make the key depend on what it encrypts) and this account's principals through SQS only may use\nthe key. The account root may administer\nit but not use it (no kms:CreateGrant, Encrypt, Decrypt outside the conditions above); AWS requires a\nkey policy that lets the account manage the key.",
    );
    b.add(
        "KeyAlias",
        json!({
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": sub("alias/${AWS::StackName}-trailwatch"), "TargetKeyId": r("Key")}
        }),
    )?;
    b.add(
        "AlertTopic",
        json!({
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "DisplayName": "trailwatch alerts",
                "KmsMasterKeyId": ga("Key", "Arn")
            }
        }),
    )?;
    b.note_at(
        "AlertTopic",
        &["Properties"],
        "No topic policy: the default one lets this account's principals publish, which covers the functions\n(their roles allow sns:Publish on this topic only) and the CloudWatch alarms below.",
    );
    // Routes (TRAILWATCH_ROUTES): a chat topic for Amazon Q Developer in
    // chat applications (custom notifications) and a paging topic.
    for (id, name, what) in [
        ("ChatTopic", "trailwatch chat", "Alerts at or above ChatMinSeverity as Amazon Q Developer in chat applications custom notifications: add this topic to a Slack, Microsoft Teams or Chime channel configuration."),
        ("PagingTopic", "trailwatch paging", "Alerts at or above PagingMinSeverity (and, if PagingTags is set, carrying one of its tags) as the JSON alert: subscribe the on-call pager."),
    ] {
        b.add(
            id,
            json!({
                "Type": "AWS::SNS::Topic",
                "Properties": {"DisplayName": name, "KmsMasterKeyId": ga("Key", "Arn")}
            }),
        )?;
        b.note_at(id, &["Properties"], what);
    }
    b.add(
        "AlertEmailSubscription",
        json!({
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlertEmail",
            "Properties": {"TopicArn": r("AlertTopic"), "Protocol": "email", "Endpoint": r("AlertEmail")}
        }),
    )?;
    Ok(())
}
