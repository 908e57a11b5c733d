//! The EventBridge `source` and `detail-type` CloudTrail gives a record.
//!
//! # `source`
//!
//! CloudTrail delivers a record to EventBridge with `source` = `"aws."` + the
//! part of the record's `eventSource` before `.amazonaws.com`. The Amazon
//! EventBridge Events Reference states this pair for each service on its
//! `events-ref-<service>` page ("To match events from this service delivered
//! by AWS CloudTrail … `source`: aws.X, `eventSource`: X.amazonaws.com") and
//! tabulates it in <https://docs.aws.amazon.com/eventbridge/latest/ref/events.html>
//! ("Event source" / "CloudTrail event source"). Every page checked follows
//! the rule, including the services one might expect to be exceptions:
//!
//! * `signin` → `aws.signin`, not a special console source
//!   (<https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-signin.html>);
//! * `monitoring` → `aws.monitoring`, not `aws.cloudwatch`. CloudWatch's own
//!   alarm events use `aws.cloudwatch`, but that page has no CloudTrail
//!   section; the CloudTrail-delivered API calls are on
//!   <https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-monitoring.html>;
//! * `ses` → `aws.ses` (SES records carry `ses.amazonaws.com`, not `email`)
//!   (<https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ses.html>);
//! * `elasticmapreduce` → `aws.elasticmapreduce` although EMR's own events
//!   use `aws.emr`: "Amazon EMR API events reported via CloudTrail have
//!   `aws.elasticmapreduce` as the value for `Source`" (EventBridge User
//!   Guide, event-types.md, archived at
//!   <https://github.com/awsdocs/amazon-eventbridge-user-guide/blob/86f30ac37bb902f8a62c80acaaccf1db0aaa0831/doc_source/event-types.md>);
//! * `servicecatalog-appregistry` → `aws.servicecatalog-appregistry`, not the
//!   IAM service prefix `servicecatalog`
//!   (<https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-servicecatalog-appregistry.html>).
//!
//! So no exception is documented, and none is coded. (The EventBridge User
//! Guide's advice to take `source` from the IAM *service prefix*,
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html>,
//! is about services' own events and would wrongly give `aws.cloudwatch` and
//! `aws.servicecatalog` here.) An `eventSource` without the
//! `.amazonaws.com` suffix (custom CloudTrail Lake sources) gets `"aws."` +
//! the whole value: no document covers it.
//!
//! # `detail-type`
//!
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html>
//! lists the detail-types CloudTrail sends, one per CloudTrail `eventType`
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>).
//! Console sign-ins are `AWS Console Sign In via CloudTrail`: that page (and
//! the Events Reference's event-structure page) spell it "Signin", but every
//! AWS example of a delivered event spells it "Sign In" — the EventBridge
//! User Guide's sample console sign-in event (event-types.md, archived link
//! above), the AWS Knowledge Center root-login rule, whose exact-match
//! pattern would never fire on the other spelling
//! (<https://repost.aws/knowledge-center/root-user-account-eventbridge-rule>),
//! and the EventBridge schema registry's `aws.signin@AWSConsoleSignInViaCloudTrail`.
//!
//! # The rest of the envelope
//!
//! From <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html>
//! and AWS's sample events: `version` is `"0"`; `id` is a fresh UUID made by
//! EventBridge (not the record's `eventID`); `resources` is `[]` ("API calls
//! with AWS CloudTrail do not include resource ARNs"); `time` equals the
//! record's `eventTime` and `region` its `awsRegion` in every sample;
//! `account` is the account whose bus receives the event, which is the
//! record's `recipientAccountId` (CloudTrail delivers cross-account calls to
//! both the caller and the resource owner, each with its own
//! `recipientAccountId`).

/// The suffix every AWS service's CloudTrail `eventSource` ends with.
const AMAZONAWS_SUFFIX: &str = ".amazonaws.com";

/// The EventBridge `source` CloudTrail gives a record with this eventSource.
///
/// Always `"aws."` + the `eventSource` without `.amazonaws.com`: the
/// EventBridge Events Reference documents no exception (see the module
/// documentation).
pub fn eventbridge_source(event_source: &str) -> String {
    let service = event_source.strip_suffix(AMAZONAWS_SUFFIX).unwrap_or(event_source);
    format!("aws.{service}")
}

/// The EventBridge `detail-type` for a CloudTrail eventType.
///
/// A record without `eventType` (records older than the field), or with an
/// `eventType` this table does not know, gets `AWS API Call via CloudTrail`:
/// until 2021 AWS documented that "all events that are delivered via
/// CloudTrail have `AWS API Call via CloudTrail` as the value for
/// `detail-type`", it is still the detail-type of the ordinary API-call
/// record, and it is the one every CloudTrail rule is written against.
pub fn detail_type(event_type: Option<&str>) -> &'static str {
    match event_type {
        Some("AwsConsoleSignIn") => "AWS Console Sign In via CloudTrail",
        Some("AwsConsoleAction") => "AWS Console Action via CloudTrail",
        Some("AwsServiceEvent") => "AWS Service Event via CloudTrail",
        Some("AwsCloudTrailInsight") => "AWS Insight via CloudTrail",
        Some("AwsVpceEvent") => "AWS Network Activity Event via CloudTrail",
        _ => "AWS API Call via CloudTrail",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The regular rule, for every eventSource in our data. Each pair is the
    // one stated on https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-<service>.html
    // (pages read: sts, secretsmanager, iam, rolesanywhere, organizations,
    // resource-explorer-2, ram, route53resolver, cloudtrail, lambda,
    // logs, account, devops-guru, notifications, elasticloadbalancing; the
    // rest follow the same rule and the same page pattern).
    #[test]
    fn source_is_aws_dot_the_service_part_of_event_source() {
        for service in [
            "ec2",
            "ssm",
            "iam",
            "s3",
            "secretsmanager",
            "kms",
            "rds",
            "sts",
            "health",
            "cloudtrail",
            "lambda",
            "bedrock",
            "notifications",
            "rolesanywhere",
            "logs",
            "ec2-instance-connect",
            "organizations",
            "guardduty",
            "devops-guru",
            "account",
            "resource-explorer-2",
            "route53",
            "ce",
            "ram",
            "route53resolver",
            "elasticloadbalancing",
            "securityhub",
            "autoscaling",
        ] {
            assert_eq!(eventbridge_source(&format!("{service}.amazonaws.com")), format!("aws.{service}"));
        }
    }

    // https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-signin.html
    // and the sample console sign-in event ("source": "aws.signin") in
    // https://github.com/awsdocs/amazon-eventbridge-user-guide/blob/86f30ac37bb902f8a62c80acaaccf1db0aaa0831/doc_source/event-types.md
    #[test]
    fn console_sign_in_is_aws_signin() {
        assert_eq!(eventbridge_source("signin.amazonaws.com"), "aws.signin");
    }

    // https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-monitoring.html
    // (aws.cloudwatch is only CloudWatch's own alarm events:
    // https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-cloudwatch.html)
    #[test]
    fn cloudwatch_api_calls_are_aws_monitoring_not_aws_cloudwatch() {
        assert_eq!(eventbridge_source("monitoring.amazonaws.com"), "aws.monitoring");
    }

    // https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ses.html
    #[test]
    fn ses_is_aws_ses() {
        assert_eq!(eventbridge_source("ses.amazonaws.com"), "aws.ses");
    }

    // "Amazon EMR API events reported via CloudTrail have aws.elasticmapreduce
    // as the value for Source":
    // https://github.com/awsdocs/amazon-eventbridge-user-guide/blob/86f30ac37bb902f8a62c80acaaccf1db0aaa0831/doc_source/event-types.md
    #[test]
    fn emr_api_calls_are_aws_elasticmapreduce_not_aws_emr() {
        assert_eq!(eventbridge_source("elasticmapreduce.amazonaws.com"), "aws.elasticmapreduce");
    }

    // https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-servicecatalog-appregistry.html
    #[test]
    fn appregistry_keeps_its_event_source_name_not_the_iam_prefix() {
        assert_eq!(eventbridge_source("servicecatalog-appregistry.amazonaws.com"), "aws.servicecatalog-appregistry");
    }

    // https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-sso-oauth.html
    #[test]
    fn identity_center_oauth_is_aws_sso_oauth() {
        assert_eq!(eventbridge_source("sso-oauth.amazonaws.com"), "aws.sso-oauth");
    }

    // Undocumented: no suffix to strip, so the whole value is kept.
    #[test]
    fn event_source_without_the_suffix_is_kept_whole() {
        assert_eq!(eventbridge_source("my-app"), "aws.my-app");
    }

    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
    #[test]
    fn api_calls_and_records_without_event_type() {
        assert_eq!(detail_type(Some("AwsApiCall")), "AWS API Call via CloudTrail");
        assert_eq!(detail_type(None), "AWS API Call via CloudTrail");
        assert_eq!(detail_type(Some("SomethingNew")), "AWS API Call via CloudTrail");
    }

    // "AWS Console Sign In via CloudTrail" in AWS's sample event
    // (https://github.com/awsdocs/amazon-eventbridge-user-guide/blob/86f30ac37bb902f8a62c80acaaccf1db0aaa0831/doc_source/event-types.md)
    // and https://repost.aws/knowledge-center/root-user-account-eventbridge-rule,
    // despite "Signin" on the eb-service-event-cloudtrail page.
    #[test]
    fn console_sign_in_is_spelled_sign_in() {
        assert_eq!(detail_type(Some("AwsConsoleSignIn")), "AWS Console Sign In via CloudTrail");
    }

    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html
    #[test]
    fn console_actions_service_events_insights_and_network_activity() {
        assert_eq!(detail_type(Some("AwsConsoleAction")), "AWS Console Action via CloudTrail");
        assert_eq!(detail_type(Some("AwsServiceEvent")), "AWS Service Event via CloudTrail");
        assert_eq!(detail_type(Some("AwsCloudTrailInsight")), "AWS Insight via CloudTrail");
        assert_eq!(detail_type(Some("AwsVpceEvent")), "AWS Network Activity Event via CloudTrail");
    }
}
