//! The trail and what it needs: its bucket and the access-log bucket, their
//! policies, the log group and the role CloudTrail delivers to it with, the
//! topic of log-file notices; and how other resources name the trail and
//! its log group.

use serde_json::{json, Value};

use crate::intrinsics::{ga, iff, no_value, r, sub};
use crate::template::Builder;
use crate::InfraError;

/// The trail's ARN, known before the trail exists (conditions in the bucket
/// and key policies name it).
pub(crate) const TRAIL_ARN: &str =
    "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/${AWS::StackName}-trail";
/// Any trail of this account, as CloudTrail's KMS encryption context names it.
pub(crate) const ANY_TRAIL_OF_ACCOUNT: &str = "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*";

/// The log group the trail delivers to: created, or the user's.
pub(crate) fn log_group_name() -> Value {
    iff("CreateTrail", r("TrailLogGroup"), r("TrailLogGroupName"))
}
pub(crate) fn log_group_arn() -> Value {
    iff(
        "CreateTrail",
        ga("TrailLogGroup", "Arn"),
        sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${TrailLogGroupName}:*"),
    )
}

/// The trail and what it needs: buckets, log group, delivery role, topic.
pub(crate) fn trail(b: &mut Builder) -> Result<(), InfraError> {
    let tls_only = |bucket: &str| {
        json!({
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [ga(bucket, "Arn"), sub(&format!("${{{bucket}.Arn}}/*"))],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        })
    };
    let private = json!({
        "BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true
    });
    b.add("AccessLogBucket", json!({
        "Type": "AWS::S3::Bucket",
        "Condition": "CreateTrail",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Metadata": {"checkov": {"skip": [
            {"id": "CKV_AWS_18", "comment": "This is the access-log bucket of the trail bucket; logging its own access would need yet another bucket, and so on."}
        ]}},
        "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "PublicAccessBlockConfiguration": private,
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {"Rules": [{
                "Id": "expire-access-logs",
                "Status": "Enabled",
                "ExpirationInDays": r("LogExpirationDays"),
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}
            }]}
        }
    }))?;
    b.note_at(
        "AccessLogBucket",
        &["Properties", "BucketEncryption"],
        "S3 server access logging delivers only to SSE-S3 buckets.",
    );
    b.add(
        "AccessLogBucketPolicy",
        json!({
            "Type": "AWS::S3::BucketPolicy",
            "Condition": "CreateTrail",
            "Properties": {
                "Bucket": r("AccessLogBucket"),
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {
                        "Sid": "S3ServerAccessLogs",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": sub("${AccessLogBucket.Arn}/*"),
                        "Condition": {
                            "ArnLike": {"aws:SourceArn": ga("TrailBucket", "Arn")},
                            "StringEquals": {"aws:SourceAccount": r("AWS::AccountId")}
                        }
                    },
                    tls_only("AccessLogBucket")
                ]}
            }
        }),
    )?;
    b.add("TrailBucket", json!({
        "Type": "AWS::S3::Bucket",
        "Condition": "CreateTrail",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "PublicAccessBlockConfiguration": private,
            "VersioningConfiguration": {"Status": "Enabled"},
            "LoggingConfiguration": {"DestinationBucketName": r("AccessLogBucket"), "LogFilePrefix": "trail-bucket/"},
            "NotificationConfiguration": iff("CreatedBucketEvents", json!({"EventBridgeConfiguration": {"EventBridgeEnabled": true}}), no_value()),
            "LifecycleConfiguration": {"Rules": [{
                "Id": "archive-then-expire-log-files",
                "Status": "Enabled",
                "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": r("LogTransitionDays")}],
                "ExpirationInDays": r("LogExpirationDays"),
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}
            }]}
        }
    }))?;
    b.note_at(
        "TrailBucket",
        &["DeletionPolicy"],
        "Retained: log files are evidence; delete the bucket by hand once you no longer need them.",
    );
    b.note_at(
        "TrailBucket",
        &["Properties", "BucketEncryption"],
        "Log files are SSE-KMS encrypted by CloudTrail itself with the stack's key (the trail's KMSKeyId). The\nbucket default stays SSE-S3: a default KMS key would have to let CloudTrail encrypt its digest files\noutside the key policy's CloudTrail encryption context.",
    );
    let write_to = |prefix: &str| {
        json!({
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": sub(&format!("${{TrailBucket.Arn}}/AWSLogs/{prefix}/*")),
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": sub(TRAIL_ARN)}}
        })
    };
    let mut account_write = write_to("${AWS::AccountId}");
    let mut org_write = write_to("${OrganizationId}");
    if let (Some(a), Some(o)) = (account_write.as_object_mut(), org_write.as_object_mut()) {
        a.insert("Sid".into(), json!("CloudTrailWrites"));
        o.insert("Sid".into(), json!("CloudTrailWritesOrganizationLogs"));
    }
    b.add(
        "TrailBucketPolicy",
        json!({
            "Type": "AWS::S3::BucketPolicy",
            "Condition": "CreateTrail",
            "Properties": {
                "Bucket": r("TrailBucket"),
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                    {
                        "Sid": "CloudTrailChecksAcl",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudtrail.amazonaws.com"},
                        "Action": "s3:GetBucketAcl",
                        "Resource": ga("TrailBucket", "Arn"),
                        "Condition": {"StringEquals": {"aws:SourceArn": sub(TRAIL_ARN)}}
                    },
                    account_write,
                    iff("IsOrganizationTrail", org_write, no_value()),
                    tls_only("TrailBucket")
                ]}
            }
        }),
    )?;
    b.add(
        "TrailLogGroup",
        json!({
            "Type": "AWS::Logs::LogGroup",
            "Condition": "CreateTrail",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "LogGroupName": r("TrailLogGroupName"),
                "RetentionInDays": r("LogRetentionDays"),
                "KmsKeyId": ga("Key", "Arn")
            }
        }),
    )?;
    b.add(
        "CloudTrailLogsRole",
        json!({
            "Type": "AWS::IAM::Role",
            "Condition": "CreateTrail",
            "Properties": {
                "Description": "CloudTrail delivers the trail's events to its log group.",
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "sts:AssumeRole"
                }]},
                "Policies": [{
                    "PolicyName": "deliver-to-log-group",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": ga("TrailLogGroup", "Arn")
                    }]}
                }]
            }
        }),
    )?;
    b.add(
        "TrailNotificationTopic",
        json!({
            "Type": "AWS::SNS::Topic",
            "Condition": "CreateTrail",
            "Properties": {"DisplayName": "trailwatch log file deliveries", "KmsMasterKeyId": ga("Key", "Arn")}
        }),
    )?;
    b.note_at(
        "TrailNotificationTopic",
        &[],
        "CloudTrail announces every log file it delivers here (the tutorial's \"SNS notification\"); a topic\nof its own, so that alert subscribers do not receive one message per log file.",
    );
    b.add(
        "TrailNotificationTopicPolicy",
        json!({
            "Type": "AWS::SNS::TopicPolicy",
            "Condition": "CreateTrail",
            "Properties": {
                "Topics": [r("TrailNotificationTopic")],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Sid": "CloudTrailPublishes",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": r("TrailNotificationTopic"),
                    "Condition": {"StringEquals": {"aws:SourceArn": sub(TRAIL_ARN)}}
                }]}
            }
        }),
    )?;
    b.add("Trail", json!({
        "Type": "AWS::CloudTrail::Trail",
        "Condition": "CreateTrail",
        "DependsOn": ["TrailBucketPolicy", "TrailNotificationTopicPolicy"],
        "Properties": {
            "TrailName": sub("${AWS::StackName}-trail"),
            "IsLogging": true,
            "IsMultiRegionTrail": true,
            "IncludeGlobalServiceEvents": true,
            "IsOrganizationTrail": iff("IsOrganizationTrail", json!(true), json!(false)),
            "EnableLogFileValidation": true,
            "KMSKeyId": ga("Key", "Arn"),
            "S3BucketName": r("TrailBucket"),
            "SnsTopicName": r("TrailNotificationTopic"),
            "CloudWatchLogsLogGroupArn": ga("TrailLogGroup", "Arn"),
            "CloudWatchLogsRoleArn": ga("CloudTrailLogsRole", "Arn"),
            "InsightSelectors": iff("WantInsights", json!([
                iff("WantCallRateInsights", json!({"InsightType": "ApiCallRateInsight"}), no_value()),
                iff("WantErrorRateInsights", json!({"InsightType": "ApiErrorRateInsight"}), no_value())
            ]), no_value()),
            "EventSelectors": [{
                "IncludeManagementEvents": true,
                "ReadWriteType": r("ManagementEvents"),
                "DataResources": [
                    iff("WantS3DataEvents", json!({"Type": "AWS::S3::Object", "Values": [sub("arn:${AWS::Partition}:s3")]}), no_value()),
                    iff("WantLambdaDataEvents", json!({"Type": "AWS::Lambda::Function", "Values": [sub("arn:${AWS::Partition}:lambda")]}), no_value())
                ]
            }]
        }
    }))?;
    Ok(())
}
