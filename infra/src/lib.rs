//! trailwatch's infrastructure generator: the AWS SAM template that deploys
//! trailwatch, generated from the rule set, so that a rule added is a rule
//! deployed. `trailwatch infra generate` (the CLI) loads the rules and calls
//! [`generate`].
//!
//! The template is built as JSON (`serde_json`) and written as YAML by a
//! small emitter that can put comments next to the settings they explain.
//! [`Flavor::Plain`] writes the same template without the SAM transform
//! (functions as `AWS::Lambda::Function`), for CloudFormation stand-ins such
//! as moto.
//!
//! How rules become resources:
//! * `event_pattern` rules (alert and metric) become EventBridge rules,
//!   packed with `$or` into as few rules as fit EventBridge's pattern-size
//!   quota, each targeting the EventBridge function.
//! * `filter_pattern` rules select what the log-group subscription sends to
//!   the logs function.
//! * `metric` rules get an alarm: a `filter_pattern` rule on a metric filter
//!   of the trail's log group; an `event_pattern` rule on the functions'
//!   own `Matches` metric (no metric filter is derived from an event
//!   pattern: the two pattern languages differ in operators and in array
//!   and missing-field semantics, so a derived filter would count different
//!   events than the rule matches).
//! * A `filter_pattern` rule tagged `CloudWatch.N` (N = 1..14) is Security
//!   Hub control CloudWatch.N: its pattern (AWS's exact one) becomes the
//!   control's metric filter in the `LogMetrics` namespace, with an alarm
//!   named after the rule's title and CIS tag (see [`cis_controls`]).
//!
//! Modules: `template` (the [`Template`] and the builder collecting its
//! resources), `yaml` (the emitter), `intrinsics` (CloudFormation functions
//! as JSON), `packing` (event patterns into EventBridge rules, filter
//! patterns into one subscription pattern), `parameters` (parameters,
//! interface, conditions, outputs), `cis` (the CloudWatch controls the
//! rules define), and `resources::*` by area: `keys`
//! (KMS key and topics), `trail` (trail, buckets, log group), `state` (the
//! DynamoDB state table), `functions`, `event_rules`, `subscription`,
//! `alarms` (metric filters and alarms), `s3path` (with `S3Path=Enabled`:
//! the trail's delivery notifications through an SQS queue to the S3
//! function).

mod cis;
mod error;
mod intrinsics;
mod packing;
mod parameters;
mod resources;
mod template;
mod yaml;

use serde_json::{json, Map, Value};
use trailwatch_engine::filter::FilterPattern;
use trailwatch_engine::rules::{Action, Pattern, Rule};

pub use cis::{cis_controls, CisControl, CisControls, CIS_NAMESPACE, METRIC_FILTER_CONTROLS};
pub use error::InfraError;
pub use packing::{group_patterns, union_filter, PatternGroup};
pub use template::Template;

use resources::{alarms, event_rules, functions, keys, s3path, state, subscription, trail};
use template::Builder;

/// SAM (the default) or plain CloudFormation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// An AWS SAM template: functions as `AWS::Serverless::Function`, built
    /// by `sam build` with cargo-lambda.
    Sam,
    /// Plain CloudFormation: functions as `AWS::Lambda::Function`, code from
    /// S3 parameters.
    Plain,
}

impl Flavor {
    /// `--plain` or not.
    pub fn from_plain(plain: bool) -> Flavor {
        if plain {
            Flavor::Plain
        } else {
            Flavor::Sam
        }
    }
}

/// EventBridge's default quota of rules per event bus.
pub const MAX_RULES_PER_BUS: usize = 300;
/// CloudFormation's quota of resources per stack.
pub const MAX_STACK_RESOURCES: usize = 500;

/// Generate the template for a rule set.
pub fn generate(rules: &[Rule], flavor: Flavor) -> Result<Template, InfraError> {
    let mut b = Builder::default();

    // Which rule goes where.
    let mut event_patterns: Vec<(String, Value)> = Vec::new();
    let mut filter_rules: Vec<&Rule> = Vec::new();
    // Sigma rules with no eventSource/eventName to route on.
    let mut unrouted: Vec<&str> = Vec::new();
    for rule in rules {
        // A Sigma rule is routed by its prefilter, which every record it
        // can match also matches.
        let routed = match &rule.pattern {
            Pattern::Event(p) => Some(p),
            Pattern::Sigma(s) => s.prefilter(),
            Pattern::Filter(_) | Pattern::Sequence(_) => None,
        };
        match (&rule.pattern, routed) {
            (_, Some(p)) => {
                let value: Value = serde_json::from_str(p.text())
                    .map_err(|source| InfraError::PatternNotJson { rule: rule.id.clone(), source })?;
                event_patterns.push((rule.id.clone(), value));
            }
            (Pattern::Filter(_), None) => filter_rules.push(rule),
            (Pattern::Sigma(_), None) => unrouted.push(&rule.id),
            // Fed by its steps' matches: no EventBridge rule or filter of its own.
            _ => {}
        }
    }
    let groups = group_patterns(&event_patterns)?;
    if groups.len() > MAX_RULES_PER_BUS {
        return Err(InfraError::TooManyEventRules { needed: groups.len(), max: MAX_RULES_PER_BUS });
    }
    // The logs function is needed for filter_pattern alert rules; metric
    // ones are counted by metric filters on the log group itself.
    // A filter_pattern step of a sequence must reach the function too,
    // whatever its action.
    let steps: std::collections::HashSet<&str> =
        rules.iter().filter_map(|r| r.sequence()).flat_map(|q| q.steps.iter().map(String::as_str)).collect();
    let filters: Vec<&FilterPattern> = filter_rules
        .iter()
        .filter(|r| r.action == Action::Alert || steps.contains(r.id.as_str()))
        .filter_map(|r| match &r.pattern {
            Pattern::Filter(f) => Some(f),
            Pattern::Event(_) | Pattern::Sequence(_) | Pattern::Sigma(_) => None,
        })
        .collect();
    // A Sigma rule that names no eventSource or eventName could match any
    // record: the logs function sees every record when one is loaded.
    let subscription_pattern = if unrouted.is_empty() { union_filter(&filters) } else { None };
    if !unrouted.is_empty() {
        b.notes.push(format!(
            "the Sigma rules {} constrain neither eventSource nor eventName, so no EventBridge pattern can route them without sending every event: they run on the logs path, whose subscription filter then sends every record (deploy with DetectionPath=EventBridgeAndLogs or LogsOnly)",
            unrouted.join(", ")
        ));
    }
    if !filters.is_empty() && unrouted.is_empty() && subscription_pattern.is_none() {
        b.notes.push(format!(
            "the {} filter_pattern alert rules cannot be joined into one subscription filter pattern (not all JSON patterns, or over {} characters): with DetectionPath=EventBridgeAndLogs the subscription sends every record, so records matching event_pattern alert rules may alert twice",
            filters.len(),
            trailwatch_engine::filter::MAX_PATTERN_CHARS
        ));
    }

    keys::key_and_topics(&mut b)?;
    trail::trail(&mut b)?;
    state::state_table(&mut b)?;
    functions::functions(&mut b, flavor)?;
    s3path::s3_path(&mut b, flavor)?;
    let rule_ids = event_rules::event_rules(&mut b, &groups)?;
    let logs_needed = !filters.is_empty() || !unrouted.is_empty();
    subscription::subscription(&mut b, subscription_pattern.as_deref(), logs_needed)?;
    let n_filter = filter_rules.len();
    alarms::metric_alarms(&mut b, rules)?;
    alarms::queue_alarms(&mut b, !groups.is_empty())?;

    let total = b.resources.len();
    if total > MAX_STACK_RESOURCES {
        return Err(InfraError::TooManyResources { count: total, max: MAX_STACK_RESOURCES });
    }
    let n_event = event_patterns.len();
    let description = format!(
        "trailwatch: CloudTrail detection from {} rules ({} event_pattern in {} EventBridge rules, {} filter_pattern{}); trail, log group, KMS key, SNS topic, Lambda functions, DynamoDB state table, metric filters and alarms.",
        rules.len(),
        n_event,
        groups.len(),
        n_filter,
        match rules.iter().filter(|r| r.sequence().is_some()).count() {
            0 => String::new(),
            n => format!(", {n} sequence"),
        }
    );
    let mut doc = Map::new();
    doc.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
    if flavor == Flavor::Sam {
        doc.insert("Transform".into(), json!("AWS::Serverless-2016-10-31"));
    }
    doc.insert("Description".into(), json!(description));
    doc.insert("Metadata".into(), parameters::interface(flavor));
    doc.insert("Parameters".into(), parameters::parameters(flavor));
    doc.insert("Rules".into(), parameters::template_rules());
    doc.insert("Conditions".into(), parameters::conditions(logs_needed));
    doc.insert("Resources".into(), Value::Object(std::mem::take(&mut b.resources)));
    doc.insert("Outputs".into(), parameters::outputs());
    Ok(Template { doc: Value::Object(doc), comments: b.comments, notes: b.notes, event_rules: rule_ids })
}

#[cfg(test)]
mod tests {
    use trailwatch_engine::metrics::MATCHES;
    use trailwatch_engine::rules;

    use super::*;

    fn rule(yaml: &str) -> Rule {
        match Rule::from_yaml("test", yaml) {
            Ok(r) => r,
            Err(e) => panic!("test rule does not load: {e}"),
        }
    }

    fn mixed_rules() -> Vec<Rule> {
        let mut all = rules::load(None).expect("built-in pack loads");
        all.push(rule(
            "id: unauthorized-calls\ntitle: t\ndescription: d\nseverity: low\ntags: [CloudWatch.2]\naction: metric\nfilter_pattern: '{($.errorCode=\"*UnauthorizedOperation\") || ($.errorCode=\"AccessDenied*\")}'\n",
        ));
        all.push(rule(
            "id: console-failures\ntitle: t\ndescription: d\nseverity: medium\naction: metric\nfilter_pattern: '{ $.eventName = \"ConsoleLogin\" && $.errorMessage = \"Failed authentication\" }'\n",
        ));
        all.push(rule(
            "id: trail-stopped\ntitle: t\ndescription: d\nseverity: high\naction: alert\nfilter_pattern: '{ $.eventName = \"StopLogging\" }'\n",
        ));
        all.push(rule(
            "id: sg-open\ntitle: t\ndescription: d\nseverity: low\naction: metric\ntags: [CloudWatch.10]\nevent_pattern: {source: [aws.ec2], detail: {eventName: [AuthorizeSecurityGroupIngress]}}\n",
        ));
        all
    }

    /// Anomalies: CloudTrail Insights on the trail behind InsightsEvents, the
    /// Insights rules routed by EventBridge, and for each metric rule an
    /// anomaly detection alarm (MetricRuleAlarms) beside its threshold one.
    #[test]
    fn insights_and_anomaly_detection_alarms_are_in_the_template() {
        let all = rules::load(None).expect("the pack");
        let t = generate(&all, Flavor::Sam).expect("generates");
        let res = &t.doc["Resources"];
        let selectors = &res["Trail"]["Properties"]["InsightSelectors"];
        assert_eq!(selectors["Fn::If"][0], "WantInsights", "{selectors}");
        assert!(
            selectors.to_string().contains("ApiCallRateInsight")
                && selectors.to_string().contains("ApiErrorRateInsight")
        );
        let packed: Vec<&String> = t.event_rules.iter().flat_map(|(_, ids)| ids).collect();
        for id in ["insights-unusual-call-rate-on-sensitive-api", "insights-access-denied-error-rate", "insights-event"]
        {
            assert!(packed.iter().any(|p| *p == id), "{id} reaches the EventBridge function");
        }
        let anomaly = &res["AnomalyAlarmInsightsEvent"];
        assert_eq!(anomaly["Condition"], "AnomalyAlarms", "{anomaly}");
        let p = &anomaly["Properties"];
        assert_eq!(p["ComparisonOperator"], "GreaterThanUpperThreshold");
        assert_eq!(p["ThresholdMetricId"], "band");
        assert_eq!(p["Metrics"][1]["Expression"], "ANOMALY_DETECTION_BAND(count, 2)");
        assert_eq!(p["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"][0]["Value"], "insights-event");
        assert_eq!((p["EvaluationPeriods"].as_u64(), p["DatapointsToAlarm"].as_u64()), (Some(3), Some(3)));
        assert_eq!(res["AlarmInsightsEvent"]["Condition"], "ThresholdAlarms");
        let metric_rules = all.iter().filter(|r| r.action == rules::Action::Metric).count();
        let anomaly_alarms =
            res.as_object().expect("resources").keys().filter(|k| k.starts_with("AnomalyAlarm")).count();
        assert!(anomaly_alarms > 0 && anomaly_alarms <= metric_rules, "{anomaly_alarms} of {metric_rules}");
    }

    /// Sigma rules are routed by their prefilters (eventSource/eventName):
    /// each in exactly one EventBridge rule; one naming neither runs on the
    /// logs path, whose subscription then sends every record, and the
    /// template says why.
    #[test]
    fn sigma_rules_are_routed_by_their_prefilters_or_said_to_need_the_logs_path() {
        let dir = std::env::temp_dir().join(format!("trailwatch-infra-sigma-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let routed = "title: Trail deleted\nid: 0c1d2e3f-0000-4000-8000-000000000001\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  selection: {eventSource: cloudtrail.amazonaws.com, eventName: DeleteTrail}\n  condition: selection\nlevel: high\n";
        let unrouted = "title: Root used\nid: 0c1d2e3f-0000-4000-8000-000000000002\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  selection: {userIdentity.type: Root}\n  condition: selection\nlevel: high\n";
        std::fs::write(dir.join("routed.yml"), routed).expect("write");
        std::fs::write(dir.join("unrouted.yml"), unrouted).expect("write");
        let all = rules::load(Some(&dir)).expect("loads");
        let _ = std::fs::remove_dir_all(&dir);
        let t = generate(&all, Flavor::Sam).expect("generates");
        let packed: Vec<&String> = t.event_rules.iter().flat_map(|(_, ids)| ids).collect();
        assert_eq!(
            packed.iter().filter(|id| id.ends_with("0001")).count(),
            1,
            "the routed rule is in one EventBridge rule"
        );
        assert!(!packed.iter().any(|id| id.ends_with("0002")));
        assert!(
            t.notes.iter().any(|n| n.contains("0c1d2e3f-0000-4000-8000-000000000002") && n.contains("logs path")),
            "{:?}",
            t.notes
        );
        let filter = &t.doc["Resources"]["LogsSubscription"]["Properties"]["FilterPattern"];
        assert_eq!(filter, &json!(""), "every record reaches the logs function");
    }

    #[test]
    fn a_sequence_rule_has_no_resource_of_its_own_and_its_filter_steps_reach_the_logs_function() {
        let mut all: Vec<Rule> = mixed_rules().into_iter().filter(|r| r.origin == "test").collect();
        all.push(rule(
            "id: odd-calls\ntitle: t\ndescription: d\nseverity: info\naction: metric\nfilter_pattern: '{ $.eventName = \"OddCall\" }'\n",
        ));
        let plain = generate(&all, Flavor::Plain).expect("generates");
        all.push(rule(
            "id: chain-test\ntitle: t\ndescription: d\nseverity: high\naction: alert\nsequence: {within: 30m, group_by: [userIdentity.arn], steps: [odd-calls, sg-open]}\n",
        ));
        let t = generate(&all, Flavor::Plain).expect("generates");
        let (before, after) =
            (plain.doc["Resources"].as_object().expect("r"), t.doc["Resources"].as_object().expect("r"));
        assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "no resource for the sequence");
        assert!(!t.to_yaml().contains("chain-test"));
        assert_eq!(t.event_rules, plain.event_rules);
        let filter = |t: &Template| t.doc["Resources"]["LogsSubscription"]["Properties"]["FilterPattern"].to_string();
        assert!(!filter(&plain).contains("OddCall"), "a metric filter rule alone is counted by its metric filter");
        assert!(filter(&t).contains("OddCall"), "a step must reach the logs function: {}", filter(&t));
    }

    #[test]
    fn yaml_reads_back_as_the_json_it_was_built_from() {
        for flavor in [Flavor::Sam, Flavor::Plain] {
            let t = generate(&mixed_rules(), flavor).expect("generates");
            let yaml = t.to_yaml();
            let back: Value =
                serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("emitted YAML does not parse: {e}\n{yaml}"));
            assert_eq!(back, t.doc, "YAML round trip changed the document");
        }
    }

    #[test]
    fn every_rule_lands_somewhere() {
        let all = mixed_rules();
        let t = generate(&all, Flavor::Sam).expect("generates");
        let res = t.doc["Resources"].as_object().expect("resources");
        let yaml = t.to_yaml();
        // CIS controls tagged by rules.
        assert_eq!(res["Cis2MetricFilter"]["Properties"]["MetricTransformations"][0]["MetricNamespace"], CIS_NAMESPACE);
        assert!(res.contains_key("Cis1Alarm") && res.contains_key("Cis10Alarm"));
        // The CIS-identical metric rule is served by the CIS filter alone.
        assert!(!res.contains_key("MetricFilterUnauthorizedCalls"));
        assert_eq!(
            res["MetricFilterConsoleFailures"]["Properties"]["MetricTransformations"][0]["MetricName"],
            "console-failures"
        );
        // The event_pattern metric rule alarms on the functions' metric.
        assert_eq!(res["AlarmSgOpen"]["Properties"]["MetricName"], MATCHES);
        // Every event_pattern rule is in exactly one EventBridge rule.
        let packed: Vec<String> = t.event_rules.iter().flat_map(|(_, ids)| ids.clone()).collect();
        for r in all.iter().filter(|r| matches!(r.pattern, Pattern::Event(_))) {
            assert_eq!(packed.iter().filter(|id| **id == r.id).count(), 1, "{}", r.id);
        }
        assert!(yaml.contains("BuildMethod: rust-cargolambda"));
        assert!(yaml.contains("Runtime: provided.al2023"));
        // No Serverless resources in the plain flavour.
        let plain = generate(&all, Flavor::Plain).expect("generates");
        assert!(!plain.to_yaml().contains("AWS::Serverless"));
    }

    #[test]
    fn the_state_table_and_only_its_item_calls_for_both_functions() {
        for flavor in [Flavor::Sam, Flavor::Plain] {
            let t = generate(&mixed_rules(), flavor).expect("generates");
            let res = t.doc["Resources"].as_object().expect("resources");
            let table = &res["StateTable"];
            assert_eq!(table["Type"], "AWS::DynamoDB::Table");
            let p = &table["Properties"];
            assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
            assert_eq!(p["TableName"], json!({"Fn::Sub": "${AWS::StackName}-state"}));
            assert_eq!(
                p["KeySchema"],
                json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
            );
            assert_eq!(p["TimeToLiveSpecification"], json!({"AttributeName": "expires", "Enabled": true}));
            assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
            assert_eq!(p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
            for f in ["EventBridgeFunction", "LogsFunction", "S3Function"] {
                assert_eq!(
                    res[f]["Properties"]["Environment"]["Variables"]["TRAILWATCH_STATE_TABLE"],
                    json!({"Ref": "StateTable"}),
                    "{f}"
                );
                let statements = res[&format!("{f}Role")]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
                    .as_array()
                    .expect("statements");
                let on_dynamodb: Vec<&Value> =
                    statements.iter().filter(|s| s.to_string().contains("dynamodb:")).collect();
                assert_eq!(
                    on_dynamodb,
                    [&json!({
                        "Sid": "StateTable",
                        "Effect": "Allow",
                        "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                        "Resource": {"Fn::GetAtt": ["StateTable", "Arn"]}
                    })],
                    "{f}: one statement, the four item calls, the table's ARN alone"
                );
            }
        }
    }

    /// S3Path=Enabled: every resource of the path under its condition; the
    /// S3 function's role allows exactly GetObject on the trail bucket's
    /// AWSLogs/ objects, kms:Decrypt through S3 and SQS, the four SQS calls
    /// on its queue, and what every function has; the mapping reports batch
    /// item failures; the queue's visibility timeout is 6x the function's.
    #[test]
    fn the_s3_path_is_least_privilege_and_reports_batch_item_failures() {
        for flavor in [Flavor::Sam, Flavor::Plain] {
            let t = generate(&mixed_rules(), flavor).expect("generates");
            let res = t.doc["Resources"].as_object().expect("resources");
            for id in [
                "S3Queue",
                "S3QueueDLQ",
                "S3QueuePolicy",
                "S3Function",
                "S3FunctionRole",
                "S3FunctionLogGroup",
                "S3EventSourceMapping",
                "S3QueueAgeAlarm",
                "S3QueueDLQAlarm",
            ] {
                assert_eq!(res[id]["Condition"], "S3PathEnabled", "{id}");
            }
            assert_eq!(t.doc["Conditions"]["S3PathEnabled"], json!({"Fn::Equals": [{"Ref": "S3Path"}, "Enabled"]}));
            assert_eq!(t.doc["Parameters"]["S3Path"]["Default"], "Disabled");
            // Synchronous: the queue's redrive policy is the dead-letter queue.
            assert!(!res.contains_key("S3FunctionDLQ") && !res.contains_key("S3FunctionInvokeConfig"));
            let f = &res["S3Function"]["Properties"];
            assert!(f.get("DeadLetterConfig").is_none() && f.get("DeadLetterQueue").is_none(), "{f}");
            assert_eq!(f["Runtime"], "provided.al2023");
            assert_eq!(f["Architectures"], json!(["arm64"]));
            assert_eq!(
                f["Environment"], res["LogsFunction"]["Properties"]["Environment"],
                "the logs function's settings"
            );

            let mapping = &res["S3EventSourceMapping"]["Properties"];
            assert_eq!(mapping["FunctionResponseTypes"], json!(["ReportBatchItemFailures"]));
            assert_eq!(mapping["EventSourceArn"], json!({"Fn::GetAtt": ["S3Queue", "Arn"]}));
            assert_eq!(mapping["FunctionName"], json!({"Ref": "S3Function"}));
            assert_eq!(mapping["BatchSize"], 10);
            assert_eq!(mapping["ScalingConfig"], json!({"MaximumConcurrency": {"Ref": "S3FunctionConcurrency"}}));

            let queue = &res["S3Queue"]["Properties"];
            let timeout = f["Timeout"].as_u64().expect("a timeout");
            assert!(queue["VisibilityTimeout"].as_u64() >= Some(6 * timeout), "{queue}");
            assert_eq!(
                queue["RedrivePolicy"],
                json!({"deadLetterTargetArn": {"Fn::GetAtt": ["S3QueueDLQ", "Arn"]}, "maxReceiveCount": 5})
            );
            for q in ["S3Queue", "S3QueueDLQ"] {
                assert_eq!(res[q]["Properties"]["KmsMasterKeyId"], json!({"Fn::GetAtt": ["Key", "Arn"]}), "{q}");
            }
            let statements = res["S3FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
                .as_array()
                .expect("statements");
            let sids: Vec<&str> = statements.iter().filter_map(|s| s["Sid"].as_str()).collect();
            assert_eq!(
                sids,
                [
                    "OwnLogs",
                    "PublishAlerts",
                    "EncryptedTopic",
                    "MetricsInOwnNamespace",
                    "StateTable",
                    "ReadTrailLogFiles",
                    "DecryptLogFilesAndQueue",
                    "ConsumeQueue"
                ],
                "no DeadLetters (no function DLQ), nothing else"
            );
            let by_sid = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).expect("the statement");
            assert_eq!(
                by_sid("DecryptLogFilesAndQueue"),
                &json!({
                    "Sid": "DecryptLogFilesAndQueue", "Effect": "Allow", "Action": "kms:Decrypt",
                    "Resource": {"Fn::GetAtt": ["Key", "Arn"]},
                    "Condition": {"StringEquals": {"kms:ViaService": [
                        {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}, {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}
                    ]}}
                })
            );
            assert_eq!(
                by_sid("ConsumeQueue"),
                &json!({
                    "Sid": "ConsumeQueue", "Effect": "Allow",
                    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                    "Resource": {"Fn::GetAtt": ["S3Queue", "Arn"]}
                })
            );
            // Only PutMetricData (namespace-conditioned) may name every resource.
            for st in statements {
                if st["Resource"] == "*" {
                    assert_eq!(st["Action"], "cloudwatch:PutMetricData", "{st}");
                }
                let actions = st["Action"].to_string();
                assert!(
                    !actions.contains("s3:*") && !actions.contains("s3:List") && !actions.contains("sqs:Send"),
                    "{st}"
                );
            }
            assert_eq!(res["S3QueueAgeAlarm"]["Properties"]["MetricName"], "ApproximateAgeOfOldestMessage");
            assert_eq!(res["S3QueueDLQAlarm"]["Properties"]["MetricName"], "ApproximateNumberOfMessagesVisible");
        }
    }

    /// The template with `params` (over the defaults) resolved as
    /// CloudFormation would: conditions evaluated, `Fn::If` chosen,
    /// `AWS::NoValue` dropped, resources whose condition is false left out,
    /// parameter `Ref`s replaced by their values (other intrinsics kept).
    fn resolved(t: &Template, params: &[(&str, &str)]) -> Value {
        fn param(doc: &Value, params: &[(&str, &str)], name: &str) -> Option<Value> {
            let given = params.iter().find(|(k, _)| *k == name).map(|(_, v)| json!(v));
            given.or_else(|| doc["Parameters"][name].get("Default").map(|d| json!(d.to_string().trim_matches('"'))))
        }
        fn condition(doc: &Value, params: &[(&str, &str)], v: &Value) -> bool {
            let arg = |op: &str| v[op].as_array().cloned().unwrap_or_default();
            if let Some(name) = v["Condition"].as_str() {
                return condition(doc, params, &doc["Conditions"][name]);
            }
            if v.get("Fn::Equals").is_some() {
                let [a, b] = [0, 1].map(|i| resolve(doc, params, &arg("Fn::Equals")[i]));
                return a == b;
            }
            if v.get("Fn::And").is_some() {
                return arg("Fn::And").iter().all(|c| condition(doc, params, c));
            }
            if v.get("Fn::Or").is_some() {
                return arg("Fn::Or").iter().any(|c| condition(doc, params, c));
            }
            if v.get("Fn::Not").is_some() {
                return !condition(doc, params, &arg("Fn::Not")[0]);
            }
            panic!("not a condition: {v}")
        }
        fn resolve(doc: &Value, params: &[(&str, &str)], v: &Value) -> Value {
            match v {
                Value::Object(m) if m.len() == 1 && m.contains_key("Fn::If") => {
                    let a = m["Fn::If"].as_array().expect("Fn::If's list");
                    let name = a[0].as_str().expect("a condition name");
                    let pick = if condition(doc, params, &json!({"Condition": name})) { &a[1] } else { &a[2] };
                    resolve(doc, params, pick)
                }
                Value::Object(m) if m.len() == 1 && m.contains_key("Ref") => {
                    let name = m["Ref"].as_str().expect("a name");
                    param(doc, params, name).unwrap_or_else(|| v.clone())
                }
                Value::Object(m) => {
                    let mut out = serde_json::Map::new();
                    for (k, x) in m {
                        let x = resolve(doc, params, x);
                        if x != json!({"Ref": "AWS::NoValue"}) {
                            out.insert(k.clone(), x);
                        }
                    }
                    Value::Object(out)
                }
                Value::Array(a) => Value::Array(
                    a.iter()
                        .map(|x| resolve(doc, params, x))
                        .filter(|x| *x != json!({"Ref": "AWS::NoValue"}))
                        .collect(),
                ),
                _ => v.clone(),
            }
        }
        let doc = &t.doc;
        let mut resources = serde_json::Map::new();
        for (id, r) in doc["Resources"].as_object().expect("resources") {
            let on = r.get("Condition").is_none_or(|c| condition(doc, params, &json!({ "Condition": c })));
            if on {
                resources.insert(id.clone(), resolve(doc, params, r));
            }
        }
        json!({ "Resources": resources })
    }

    /// The S3 path's sources and trails, resolved: the trail's topic (the
    /// stack's or the user's) or the bucket's Object Created events
    /// (through EventBridge; an existing bucket's own notification too);
    /// each sender allowed by its ARN, each key prefix in the role.
    #[test]
    fn the_s3_path_reads_the_created_or_an_existing_trail_from_its_topic_or_bucket_events() {
        let t = generate(&mixed_rules(), Flavor::Sam).expect("generates");
        let existing = [
            ("TrailMode", "existing"),
            ("ExistingTrailBucket", "org-trail-logs"),
            ("ExistingTrailKeyPrefix", "cloudtrail/org"),
            ("ExistingTrailTopicArn", "arn:aws:sns:us-east-1:111122223333:org-trail"),
            ("ExistingTrailKeyArn", "arn:aws:kms:us-east-1:111122223333:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"),
        ];
        struct Case {
            params: Vec<(&'static str, &'static str)>,
            senders: Vec<(&'static str, &'static str, Value)>,
            read: Value,
            rule_bucket: Option<(Value, Value)>,
        }
        let topic_created = json!({"Ref": "TrailNotificationTopic"});
        let rule = json!({"Fn::GetAtt": ["S3ObjectCreatedRule", "Arn"]});
        let org_objects =
            json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${ExistingTrailBucket}/${ExistingTrailKeyPrefix}/AWSLogs/*"});
        let cases = [
            Case {
                params: vec![("S3Path", "Enabled")],
                senders: vec![("TrailNotificationTopicSends", "sns.amazonaws.com", topic_created.clone())],
                read: json!({"Fn::Sub": "${TrailBucket.Arn}/AWSLogs/*"}),
                rule_bucket: None,
            },
            Case {
                params: vec![("S3Path", "Enabled"), ("S3PathSource", "BucketEvents")],
                senders: vec![("ObjectCreatedRuleSends", "events.amazonaws.com", rule.clone())],
                read: json!({"Fn::Sub": "${TrailBucket.Arn}/AWSLogs/*"}),
                rule_bucket: Some((json!({"Ref": "TrailBucket"}), json!("AWSLogs/"))),
            },
            Case {
                params: [&[("S3Path", "Enabled")], &existing[..]].concat(),
                senders: vec![("TrailNotificationTopicSends", "sns.amazonaws.com", json!(existing[3].1))],
                read: org_objects.clone(),
                rule_bucket: None,
            },
            Case {
                params: [&[("S3Path", "Enabled"), ("S3PathSource", "BucketEvents")], &existing[..]].concat(),
                senders: vec![
                    ("ObjectCreatedRuleSends", "events.amazonaws.com", rule.clone()),
                    (
                        "ExistingTrailBucketSends",
                        "s3.amazonaws.com",
                        json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${ExistingTrailBucket}"}),
                    ),
                ],
                read: org_objects,
                rule_bucket: Some((json!("org-trail-logs"), json!({"Fn::Sub": "${ExistingTrailKeyPrefix}/AWSLogs/"}))),
            },
        ];
        for case in &cases {
            let doc = resolved(&t, &case.params);
            let res = doc["Resources"].as_object().expect("resources");
            let what = format!("{:?}", case.params);
            let policy = &res["S3QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"];
            let senders: Vec<_> = policy
                .as_array()
                .expect("statements")
                .iter()
                .map(|s| {
                    assert_eq!(s["Action"], "sqs:SendMessage", "{what}");
                    (
                        s["Sid"].as_str().unwrap_or_default(),
                        s["Principal"]["Service"].as_str().unwrap_or_default(),
                        s["Condition"]["ArnEquals"]["aws:SourceArn"].clone(),
                    )
                })
                .collect();
            assert_eq!(senders, case.senders, "{what}");
            // The subscription exactly when the topic names the files.
            let subscription = res.get("S3QueueSubscription").map(|s| s["Properties"]["TopicArn"].clone());
            let by_topic = case.senders[0].0 == "TrailNotificationTopicSends";
            assert_eq!(subscription, by_topic.then(|| case.senders[0].2.clone()), "{what}");
            // The Object Created rule exactly with BucketEvents, on the
            // trail bucket's log files, dead letters to the DLQ.
            match (&case.rule_bucket, res.get("S3ObjectCreatedRule")) {
                (Some((bucket, prefix)), Some(r)) => {
                    let p = &r["Properties"];
                    assert_eq!(
                        p["EventPattern"],
                        json!({"source": ["aws.s3"], "detail-type": ["Object Created"],
                               "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}}}),
                        "{what}"
                    );
                    assert_eq!(
                        p["Targets"][0]["DeadLetterConfig"]["Arn"],
                        json!({"Fn::GetAtt": ["S3QueueDLQ", "Arn"]})
                    );
                    assert!(res.contains_key("S3QueueDLQPolicy"), "{what}");
                }
                (None, None) => assert!(!res.contains_key("S3QueueDLQPolicy"), "{what}"),
                (want, got) => panic!("{what}: rule wanted {want:?}, got {got:?}"),
            }
            // The created bucket sends its events to EventBridge only with
            // BucketEvents; an existing trail creates no bucket.
            let created = !what.contains("existing");
            let notifications =
                res.get("TrailBucket").map(|b| b["Properties"].get("NotificationConfiguration").cloned());
            let want = created.then(|| {
                case.rule_bucket.is_some().then(|| json!({"EventBridgeConfiguration": {"EventBridgeEnabled": true}}))
            });
            assert_eq!(notifications, want, "{what}");
            // The role reads the trail's log files only, and decrypts an
            // existing trail's own key through S3 only.
            let statements = &res["S3FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
            let statements = statements.as_array().expect("statements");
            let by_sid = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).cloned();
            assert_eq!(by_sid("ReadTrailLogFiles").map(|s| s["Resource"].clone()), Some(case.read.clone()), "{what}");
            assert_eq!(
                by_sid("DecryptExistingTrailLogFiles"),
                (!created).then(|| json!({
                    "Sid": "DecryptExistingTrailLogFiles", "Effect": "Allow", "Action": "kms:Decrypt",
                    "Resource": existing[4].1,
                    "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}}
                })),
                "{what}"
            );
            // The stack's key lets exactly those senders encrypt into the queue.
            let key = &res["Key"]["Properties"]["KeyPolicy"]["Statement"];
            let key_sids: Vec<&str> = key
                .as_array()
                .expect("statements")
                .iter()
                .filter_map(|s| s["Sid"].as_str())
                .filter(|s| s.ends_with("ToEncryptedQueue"))
                .collect();
            let want: Vec<&str> = case
                .senders
                .iter()
                .map(|(sid, _, _)| match *sid {
                    "TrailNotificationTopicSends" => "SnsSendsToEncryptedQueue",
                    "ObjectCreatedRuleSends" => "EventBridgeSendsToEncryptedQueue",
                    _ => "ExistingTrailBucketSendsToEncryptedQueue",
                })
                .collect();
            assert_eq!(key_sids, want, "{what}");
        }
        // Disabled: nothing of the path, whatever the source.
        let off = resolved(&t, &[("S3PathSource", "BucketEvents")]);
        let off = off["Resources"].as_object().expect("resources");
        assert!(off.keys().all(|k| !k.starts_with("S3")), "{:?}", off.keys().collect::<Vec<_>>());
        // An existing trail's S3 path needs its bucket, and its topic when
        // the topic names the files.
        let rules = &t.doc["Rules"];
        assert!(rules["ExistingTrailS3PathNeedsBucket"]["Assertions"][0]["Assert"]
            .to_string()
            .contains("ExistingTrailBucket"));
        assert!(rules["ExistingTrailNotificationsNeedTopic"]["Assertions"][0]["Assert"]
            .to_string()
            .contains("ExistingTrailTopicArn"));
    }

    #[test]
    fn cis_metric_filters_and_alarms_come_from_the_rules() {
        let all = rules::load(None).expect("built-in pack loads");
        let t = generate(&all, Flavor::Sam).expect("generates");
        let res = t.doc["Resources"].as_object().expect("resources");
        let mut controls = 0;
        for rule in &all {
            let Some(n) = rule.tags.iter().find_map(|t| t.strip_prefix("CloudWatch.")) else {
                continue;
            };
            let Pattern::Filter(f) = &rule.pattern else {
                continue;
            };
            controls += 1;
            let filter = &res[&format!("Cis{n}MetricFilter")]["Properties"];
            assert_eq!(filter["FilterPattern"], f.text(), "CloudWatch.{n}: not the pattern of rule {}", rule.id);
            let alarm = &res[&format!("Cis{n}Alarm")]["Properties"];
            assert_eq!(alarm["MetricName"], filter["MetricTransformations"][0]["MetricName"]);
            let description = alarm["AlarmDescription"].as_str().expect("a description");
            assert!(description.contains(&rule.title) && description.contains(&rule.id), "{description}");
        }
        assert_eq!(controls, 14);
        assert_eq!(
            res["Cis4Alarm"]["Properties"]["AlarmName"],
            json!({"Fn::Sub": "${AWS::StackName}-CIS-4.4-IAMPolicyChanges"})
        );
    }

    #[test]
    fn a_users_rule_can_define_a_control_and_two_patterns_for_one_are_refused() {
        let user = rule(
            "id: my-trail-changes\ntitle: Trail changes\ndescription: d\nseverity: low\naction: metric\ntags: [CloudWatch.5]\nfilter_pattern: '{ $.eventName = StopLogging }'\n",
        );
        let t = generate(std::slice::from_ref(&user), Flavor::Sam).expect("generates");
        let res = t.doc["Resources"].as_object().expect("resources");
        assert_eq!(res["Cis5MetricFilter"]["Properties"]["FilterPattern"], "{ $.eventName = StopLogging }");
        assert_eq!(
            res["Cis5Alarm"]["Properties"]["AlarmName"],
            json!({"Fn::Sub": "${AWS::StackName}-CloudWatch.5-TrailChanges"})
        );
        assert!(!res.contains_key("MetricFilterMyTrailChanges"), "the control's metric filter already counts the rule");
        // With the built-in CloudWatch.5 rule too, the two patterns conflict.
        let mut all = rules::load(None).expect("built-in pack loads");
        all.push(user);
        let e = generate(&all, Flavor::Sam).expect_err("two patterns for CloudWatch.5");
        assert!(matches!(e, InfraError::ConflictingControl { control: 5, .. }), "{e}");
    }
}
