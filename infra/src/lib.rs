//! `trailwatch infra generate`: the AWS SAM template that deploys trailwatch,
//! generated from the rule set, so that a rule added is a rule deployed.
//!
//! The template is built as JSON (`serde_json`) and written as YAML by a
//! small emitter that can put comments next to the settings they explain.
//! `--plain` writes the same template without the SAM transform (functions
//! as `AWS::Lambda::Function`), for CloudFormation stand-ins such as moto.
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
//! * Rules tagged `CloudWatch.N` (N = 1..14) get the metric filter and alarm
//!   of Security Hub control CloudWatch.N, with the exact filter pattern
//!   CIS prescribes and the `LogMetrics` namespace, so the control passes.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Map, Value};
use trailwatch_engine::filter::{FilterPattern, PatternKind};
use trailwatch_engine::metrics::MATCHES;
use trailwatch_engine::pattern::{EventPattern, PatternError, MAX_PATTERN_LEN};
use trailwatch_engine::rules::{Action, Pattern, Rule};

/// SAM (the default) or plain CloudFormation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Sam,
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

/// Why a template cannot be generated, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error("rule {rule}: its event pattern is not JSON ({source}); fix the rule's event_pattern")]
    PatternNotJson { rule: String, source: serde_json::Error },
    #[error("rule {rule}: EventBridge would refuse its event pattern ({source}); fix the rule's event_pattern")]
    PatternRefused { rule: String, source: PatternError },
    #[error("the event_pattern rules need {needed} EventBridge rules; EventBridge allows {max} per event bus by default: disable some rules (disabled.yaml in your rules directory) or write some as filter_pattern rules")]
    TooManyEventRules { needed: usize, max: usize },
    #[error("the template has {count} resources; CloudFormation allows {max} per stack: disable some metric rules (each adds a metric filter and an alarm) or event_pattern rules")]
    TooManyResources { count: usize, max: usize },
    #[error("two resources of the template have the logical id {id}: this is a bug in the generator, please report it with the rules you generated from")]
    DuplicateLogicalId { id: String },
}

/// EventBridge's default quota of rules per event bus.
pub const MAX_RULES_PER_BUS: usize = 300;
/// CloudFormation's quota of resources per stack.
pub const MAX_STACK_RESOURCES: usize = 500;
/// Longest description an EventBridge rule may have.
const MAX_RULE_DESCRIPTION: usize = 512;

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

/// A generated template: the document, comments to place next to some of
/// its keys, and what the generator decided on the way.
#[derive(Debug)]
pub struct Template {
    pub doc: Value,
    /// Comment lines, keyed by the path of the key they precede.
    comments: HashMap<Vec<String>, String>,
    /// Decisions worth telling the user (also written in the header).
    pub notes: Vec<String>,
    /// EventBridge rules: logical id and the rule ids packed into it.
    pub event_rules: Vec<(String, Vec<String>)>,
}

impl Template {
    /// Resource count by type.
    pub fn resource_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        if let Some(resources) = self.doc.get("Resources").and_then(Value::as_object) {
            for r in resources.values() {
                let ty = r.get("Type").and_then(Value::as_str).unwrap_or("?");
                *counts.entry(ty.to_string()).or_default() += 1;
            }
        }
        counts
    }

    /// One line: resources in all and EventBridge rules.
    pub fn summary(&self) -> String {
        let total: usize = self.resource_counts().values().sum();
        format!("{total} resources, {} EventBridge rules", self.event_rules.len())
    }

    /// The template as YAML, with its comments.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        out.push_str("# Generated by `trailwatch infra generate`: do not edit by hand. Add or change\n");
        out.push_str("# rules, then run `trailwatch infra generate --output infra/template.yaml`.\n");
        out.push_str("# See infra/README.md for the parameters and how to deploy.\n");
        for note in &self.notes {
            push_comment(&mut out, 0, note);
        }
        let mut path = Vec::new();
        emit_map(self.doc.as_object().unwrap_or(&Map::new()), 0, &mut path, &self.comments, &mut out);
        out
    }
}

// ---------------------------------------------------------------------------
// Intrinsic-function helpers.

fn r(name: &str) -> Value {
    json!({ "Ref": name })
}
fn ga(resource: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [resource, attr] })
}
fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}
fn iff(condition: &str, then: Value, otherwise: Value) -> Value {
    json!({ "Fn::If": [condition, then, otherwise] })
}
fn no_value() -> Value {
    r("AWS::NoValue")
}
fn cond(name: &str) -> Value {
    json!({ "Condition": name })
}

/// The trail's ARN, known before the trail exists (conditions in the bucket
/// and key policies name it).
const TRAIL_ARN: &str = "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/${AWS::StackName}-trail";
/// Any trail of this account, as CloudTrail's KMS encryption context names it.
const ANY_TRAIL_OF_ACCOUNT: &str = "arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*";

/// The log group the trail delivers to: created, or the user's.
fn log_group_name() -> Value {
    iff("CreateTrail", r("TrailLogGroup"), r("TrailLogGroupName"))
}
fn log_group_arn() -> Value {
    iff(
        "CreateTrail",
        ga("TrailLogGroup", "Arn"),
        sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${TrailLogGroupName}:*"),
    )
}

// ---------------------------------------------------------------------------
// Building.

struct Builder {
    resources: Map<String, Value>,
    comments: HashMap<Vec<String>, String>,
    notes: Vec<String>,
    ids: HashSet<String>,
}

impl Builder {
    fn add(&mut self, id: &str, resource: Value) {
        self.ids.insert(id.to_string());
        self.resources.insert(id.to_string(), resource);
    }

    /// A comment before `Resources.<id>.<path…>`.
    fn note_at(&mut self, id: &str, path: &[&str], text: &str) {
        let mut full = vec!["Resources".to_string(), id.to_string()];
        full.extend(path.iter().map(|s| s.to_string()));
        self.comments.insert(full, text.to_string());
    }

    /// A logical id from a rule id: alphanumeric CamelCase with a prefix,
    /// unique in the template.
    fn unique_id(&mut self, prefix: &str, rule_id: &str) -> String {
        let mut base = String::from(prefix);
        for part in rule_id.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                base.push(first.to_ascii_uppercase());
                base.extend(chars);
            }
        }
        base.truncate(200);
        let mut id = base.clone();
        let mut n = 2;
        while self.ids.contains(&id) {
            id = format!("{base}{n}");
            n += 1;
        }
        self.ids.insert(id.clone());
        id
    }
}

/// Rule ids packed into one EventBridge rule, with the combined pattern.
#[derive(Debug, Clone)]
pub struct PatternGroup {
    pub rules: Vec<String>,
    pub pattern: Value,
}

/// Pack event patterns, in order, into as few EventBridge patterns as fit:
/// a group of one is the pattern itself; more are alternatives of one
/// top-level `$or`, kept only while EventBridge would accept the result
/// (at most `MAX_PATTERN_LEN` characters, bounded `$or` combinations).
pub fn group_patterns(patterns: &[(String, Value)]) -> Result<Vec<PatternGroup>, InfraError> {
    let mut groups: Vec<PatternGroup> = Vec::new();
    // The group being filled: its members and, once it has more than one,
    // their combined pattern (already validated).
    let mut current: Vec<(String, Value)> = Vec::new();
    let mut combined: Option<Value> = None;
    for (id, pattern) in patterns {
        if !current.is_empty() {
            let mut candidate = current.clone();
            candidate.push((id.clone(), pattern.clone()));
            if let Some(c) = combine(&candidate) {
                current = candidate;
                combined = Some(c);
                continue;
            }
            groups.push(finish(std::mem::take(&mut current), combined.take())?);
        }
        current.push((id.clone(), pattern.clone()));
    }
    if !current.is_empty() {
        groups.push(finish(current, combined)?);
    }
    Ok(groups)
}

/// A group from its members and, for more than one, their combined pattern.
fn finish(members: Vec<(String, Value)>, combined: Option<Value>) -> Result<PatternGroup, InfraError> {
    let rules = members.iter().map(|(id, _)| id.clone()).collect();
    let pattern = match (combined, members) {
        (Some(pattern), _) => pattern,
        (None, mut members) => {
            let (id, only) = members.swap_remove(0);
            EventPattern::from_value(&only).map_err(|source| InfraError::PatternRefused { rule: id, source })?;
            only
        }
    };
    Ok(PatternGroup { rules, pattern })
}

/// `{"$or": [every alternative]}` if EventBridge would accept it.
fn combine(members: &[(String, Value)]) -> Option<Value> {
    let mut alternatives = Vec::new();
    for (_, p) in members {
        // A pattern that is only a top-level `$or` contributes its branches.
        match p.as_object().filter(|m| m.len() == 1).and_then(|m| m.get("$or")).and_then(Value::as_array) {
            Some(branches) => alternatives.extend(branches.iter().cloned()),
            None => alternatives.push(p.clone()),
        }
    }
    let combined = json!({ "$or": alternatives });
    let len = combined.to_string().chars().count();
    (len <= MAX_PATTERN_LEN && EventPattern::from_value(&combined).is_ok()).then_some(combined)
}

/// One subscription filter pattern selecting what any of these JSON filter
/// patterns selects, if CloudWatch Logs would accept it.
pub fn union_filter(patterns: &[&FilterPattern]) -> Option<String> {
    match patterns {
        [] => None,
        [only] => Some(only.text().trim().to_string()),
        many => {
            let mut parts = Vec::new();
            for p in many {
                if p.kind() != PatternKind::Json {
                    return None;
                }
                let inner = p.text().trim().strip_prefix('{')?.strip_suffix('}')?.trim();
                parts.push(format!("({inner})"));
            }
            let text = format!("{{ {} }}", parts.join(" || "));
            FilterPattern::parse(&text).ok().map(|_| text)
        }
    }
}

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

/// Generate the template for a rule set.
pub fn generate(rules: &[Rule], flavor: Flavor) -> Result<Template, InfraError> {
    let mut b = Builder { resources: Map::new(), comments: HashMap::new(), notes: Vec::new(), ids: HashSet::new() };

    // Which rule goes where.
    let mut event_patterns: Vec<(String, Value)> = Vec::new();
    let mut filter_rules: Vec<&Rule> = Vec::new();
    for rule in rules {
        match &rule.pattern {
            Pattern::Event(p) => {
                let value: Value = serde_json::from_str(p.text())
                    .map_err(|source| InfraError::PatternNotJson { rule: rule.id.clone(), source })?;
                event_patterns.push((rule.id.clone(), value));
            }
            Pattern::Filter(_) => filter_rules.push(rule),
        }
    }
    let groups = group_patterns(&event_patterns)?;
    if groups.len() > MAX_RULES_PER_BUS {
        return Err(InfraError::TooManyEventRules { needed: groups.len(), max: MAX_RULES_PER_BUS });
    }
    // The logs function is needed for filter_pattern alert rules; metric
    // ones are counted by metric filters on the log group itself.
    let filters: Vec<&FilterPattern> = filter_rules
        .iter()
        .filter(|r| r.action == Action::Alert)
        .filter_map(|r| match &r.pattern {
            Pattern::Filter(f) => Some(f),
            Pattern::Event(_) => None,
        })
        .collect();
    let subscription_pattern = union_filter(&filters);
    if !filters.is_empty() && subscription_pattern.is_none() {
        b.notes.push(format!(
            "the {} filter_pattern alert rules cannot be joined into one subscription filter pattern (not all JSON patterns, or over {} characters): with DetectionPath=EventBridgeAndLogs the subscription sends every record, so records matching event_pattern alert rules may alert twice",
            filters.len(),
            trailwatch_engine::filter::MAX_PATTERN_CHARS
        ));
    }

    key_and_topics(&mut b);
    trail(&mut b);
    functions(&mut b, flavor);
    let rule_ids = event_rules(&mut b, &groups);
    subscription(&mut b, subscription_pattern.as_deref(), !filters.is_empty());
    let n_filter = filter_rules.len();
    metric_alarms(&mut b, rules)?;
    queue_alarms(&mut b, !groups.is_empty());

    let total = b.resources.len();
    if total > MAX_STACK_RESOURCES {
        return Err(InfraError::TooManyResources { count: total, max: MAX_STACK_RESOURCES });
    }
    let n_event = event_patterns.len();
    let description = format!(
        "trailwatch: CloudTrail detection from {} rules ({} event_pattern in {} EventBridge rules, {} filter_pattern); trail, log group, KMS key, SNS topic, Lambda functions, metric filters and alarms.",
        rules.len(),
        n_event,
        groups.len(),
        n_filter
    );
    let mut doc = Map::new();
    doc.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
    if flavor == Flavor::Sam {
        doc.insert("Transform".into(), json!("AWS::Serverless-2016-10-31"));
    }
    doc.insert("Description".into(), json!(description));
    doc.insert("Metadata".into(), interface(flavor));
    doc.insert("Parameters".into(), parameters(flavor));
    doc.insert("Rules".into(), template_rules());
    doc.insert("Conditions".into(), conditions(!filters.is_empty()));
    doc.insert("Resources".into(), Value::Object(std::mem::take(&mut b.resources)));
    doc.insert("Outputs".into(), outputs());
    Ok(Template { doc: Value::Object(doc), comments: b.comments, notes: b.notes, event_rules: rule_ids })
}

fn parameters(flavor: Flavor) -> Value {
    let retention = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
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
        }
    });
    if flavor == Flavor::Plain {
        if let Some(m) = p.as_object_mut() {
            m.insert("CodeBucket".into(), json!({"Type": "String", "Description": "Bucket holding the functions' zip files (plain template only)."}));
            m.insert("EventBridgeCodeKey".into(), json!({"Type": "String", "Default": "trailwatch-eventbridge.zip", "Description": "Key of the EventBridge function's zip (bootstrap inside)."}));
            m.insert("LogsCodeKey".into(), json!({"Type": "String", "Default": "trailwatch-logs.zip", "Description": "Key of the logs function's zip (bootstrap inside)."}));
        }
    }
    p
}

fn interface(flavor: Flavor) -> Value {
    let mut groups = vec![
        json!({"Label": {"default": "Trail"}, "Parameters": ["TrailMode", "TrailLogGroupName", "ManagementEvents", "S3DataEvents", "LambdaDataEvents", "OrganizationTrail", "OrganizationId"]}),
        json!({"Label": {"default": "Retention"}, "Parameters": ["LogRetentionDays", "LogTransitionDays", "LogExpirationDays"]}),
        json!({"Label": {"default": "Detection"}, "Parameters": ["DetectionPath", "LogsDelivery", "AlertEmail", "MetricsMode", "MetricsNamespace", "MetricRuleThreshold", "AlarmPeriodSeconds"]}),
        json!({"Label": {"default": "Functions"}, "Parameters": ["EventBridgeFunctionConcurrency", "LogsFunctionConcurrency"]}),
    ];
    if flavor == Flavor::Plain {
        groups.push(json!({"Label": {"default": "Code"}, "Parameters": ["CodeBucket", "EventBridgeCodeKey", "LogsCodeKey"]}));
    }
    json!({ "AWS::CloudFormation::Interface": { "ParameterGroups": groups } })
}

fn template_rules() -> Value {
    json!({
        "OrganizationTrailNeedsId": {
            "RuleCondition": {"Fn::Equals": [r("OrganizationTrail"), "true"]},
            "Assertions": [{
                "Assert": {"Fn::Not": [{"Fn::Equals": [r("OrganizationId"), ""]}]},
                "AssertDescription": "OrganizationTrail=true needs OrganizationId (o-…) for the bucket policy."
            }]
        }
    })
}

fn conditions(has_filter_alerts: bool) -> Value {
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
        "EventBridgePath": {"Fn::Equals": [r("DetectionPath"), "EventBridgeAndLogs"]},
        "UseKinesis": {"Fn::Equals": [r("LogsDelivery"), "Kinesis"]},
        "SubscribeLambda": lambda_sub,
        "SubscribeKinesis": kinesis_sub
    })
}

fn outputs() -> Value {
    json!({
        "AlertTopicArn": {"Description": "The SNS topic alerts and alarms go to.", "Value": r("AlertTopic")},
        "KeyArn": {"Description": "The KMS key of the trail, log groups and topics.", "Value": ga("Key", "Arn")},
        "TrailLogGroupName": {"Description": "The log group the trail delivers to.", "Value": log_group_name()},
        "TrailArn": {"Condition": "CreateTrail", "Description": "The trail.", "Value": sub(TRAIL_ARN)},
        "TrailBucketName": {"Condition": "CreateTrail", "Description": "The bucket of the trail's log files.", "Value": r("TrailBucket")},
        "EventBridgeFunctionName": {"Value": r("EventBridgeFunction")},
        "LogsFunctionName": {"Value": r("LogsFunction")},
        "EventBridgeFunctionDLQUrl": {"Description": "Events the EventBridge function failed on after retries.", "Value": r("EventBridgeFunctionDLQ")},
        "LogsFunctionDLQUrl": {"Description": "Payloads the logs function failed on after retries.", "Value": r("LogsFunctionDLQ")}
    })
}

/// The KMS key, its alias, the alert topic and its e-mail subscription.
fn key_and_topics(b: &mut Builder) {
    let root = sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root");
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
            {
                "Sid": "AlarmsAndCloudTrailPublishToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": ["cloudwatch.amazonaws.com", "cloudtrail.amazonaws.com"]},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": r("AWS::AccountId")}}
            }
        ]
    });
    b.add("Key", json!({
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": sub("trailwatch ${AWS::StackName}: CloudTrail log files, log groups and SNS topics"),
            "EnableKeyRotation": true,
            "PendingWindowInDays": 30,
            "KeyPolicy": policy
        }
    }));
    b.note_at("Key", &["DeletionPolicy"], "Retained: deleting the stack must not make the encrypted log files unreadable.");
    b.note_at(
        "Key",
        &["Properties", "KeyPolicy"],
        "Only CloudTrail (log files, SNS notifications), CloudWatch Logs (log groups in this account and Region),\nSNS (this account's principals, through SNS only; alarms) may use the key. The account root may administer\nit but not use it (no kms:CreateGrant, Encrypt, Decrypt outside the conditions above); AWS requires a\nkey policy that lets the account manage the key.",
    );
    b.add("KeyAlias", json!({
        "Type": "AWS::KMS::Alias",
        "Properties": {"AliasName": sub("alias/${AWS::StackName}-trailwatch"), "TargetKeyId": r("Key")}
    }));
    b.add("AlertTopic", json!({
        "Type": "AWS::SNS::Topic",
        "Properties": {
            "DisplayName": "trailwatch alerts",
            "KmsMasterKeyId": ga("Key", "Arn")
        }
    }));
    b.note_at(
        "AlertTopic",
        &["Properties"],
        "No topic policy: the default one lets this account's principals publish, which covers the functions\n(their roles allow sns:Publish on this topic only) and the CloudWatch alarms below.",
    );
    b.add("AlertEmailSubscription", json!({
        "Type": "AWS::SNS::Subscription",
        "Condition": "HasAlertEmail",
        "Properties": {"TopicArn": r("AlertTopic"), "Protocol": "email", "Endpoint": r("AlertEmail")}
    }));
}

/// The trail and what it needs: buckets, log group, delivery role, topic.
fn trail(b: &mut Builder) {
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
    }));
    b.note_at("AccessLogBucket", &["Properties", "BucketEncryption"], "S3 server access logging delivers only to SSE-S3 buckets.");
    b.add("AccessLogBucketPolicy", json!({
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
    }));
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
            "LifecycleConfiguration": {"Rules": [{
                "Id": "archive-then-expire-log-files",
                "Status": "Enabled",
                "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": r("LogTransitionDays")}],
                "ExpirationInDays": r("LogExpirationDays"),
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}
            }]}
        }
    }));
    b.note_at("TrailBucket", &["DeletionPolicy"], "Retained: log files are evidence; delete the bucket by hand once you no longer need them.");
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
    b.add("TrailBucketPolicy", json!({
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
    }));
    b.add("TrailLogGroup", json!({
        "Type": "AWS::Logs::LogGroup",
        "Condition": "CreateTrail",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "LogGroupName": r("TrailLogGroupName"),
            "RetentionInDays": r("LogRetentionDays"),
            "KmsKeyId": ga("Key", "Arn")
        }
    }));
    b.add("CloudTrailLogsRole", json!({
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
    }));
    b.add("TrailNotificationTopic", json!({
        "Type": "AWS::SNS::Topic",
        "Condition": "CreateTrail",
        "Properties": {"DisplayName": "trailwatch log file deliveries", "KmsMasterKeyId": ga("Key", "Arn")}
    }));
    b.note_at(
        "TrailNotificationTopic",
        &[],
        "CloudTrail announces every log file it delivers here (the tutorial's \"SNS notification\"); a topic\nof its own, so that alert subscribers do not receive one message per log file.",
    );
    b.add("TrailNotificationTopicPolicy", json!({
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
    }));
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
            "EventSelectors": [{
                "IncludeManagementEvents": true,
                "ReadWriteType": r("ManagementEvents"),
                "DataResources": [
                    iff("WantS3DataEvents", json!({"Type": "AWS::S3::Object", "Values": [sub("arn:${AWS::Partition}:s3")]}), no_value()),
                    iff("WantLambdaDataEvents", json!({"Type": "AWS::Lambda::Function", "Values": [sub("arn:${AWS::Partition}:lambda")]}), no_value())
                ]
            }]
        }
    }));
}

/// A dead-letter queue: 14 days, encrypted with SQS-managed keys.
fn dead_letter_queue() -> Value {
    json!({
        "Type": "AWS::SQS::Queue",
        "Metadata": {"checkov": {"skip": [
            {"id": "CKV_AWS_27", "comment": "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which this check does not recognise. A KMS key would need key-policy entries for EventBridge and Lambda (an AWS managed key cannot have them, and EventBridge cannot deliver to a queue encrypted with one)."}
        ]}},
        "Properties": {"MessageRetentionPeriod": 1_209_600, "SqsManagedSseEnabled": true}
    })
}

/// A function's log group, role, dead-letter queue and the function.
struct FunctionSpec {
    id: &'static str,
    suffix: &'static str,
    binary: &'static str,
    code_key: &'static str,
    description: &'static str,
    memory: u32,
    timeout: u32,
    concurrency: &'static str,
    timeout_why: &'static str,
    concurrency_why: &'static str,
}

fn functions(b: &mut Builder, flavor: Flavor) {
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
            concurrency_why: "Subscription deliveries arrive a few per second at most for one trail; 5 concurrent\ninvocations absorb bursts (e.g. after a delivery delay) without letting a flood starve other\nfunctions. With Kinesis, concurrency is one per shard (on-demand streams start with 4).",
        },
    ];
    for s in &specs {
        let log_group = format!("{}LogGroup", s.id);
        let role = format!("{}Role", s.id);
        let dlq = format!("{}DLQ", s.id);
        let name = format!("${{AWS::StackName}}-{}", s.suffix);
        b.add(&log_group, json!({
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": sub(&format!("/aws/lambda/{name}")),
                "RetentionInDays": r("LogRetentionDays"),
                "KmsKeyId": ga("Key", "Arn")
            }
        }));
        b.add(&dlq, dead_letter_queue());
        b.note_at(&dlq, &[], &format!("Invocations of {} that failed after all retries (kept 14 days; an alarm watches it).", s.id));
        let mut statements = vec![
            json!({
                "Sid": "OwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": ga(&log_group, "Arn")
            }),
            json!({"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": r("AlertTopic")}),
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
            json!({"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": ga(&dlq, "Arn")}),
        ];
        if s.id == "LogsFunction" {
            statements.push(iff(
                "SubscribeKinesis",
                json!({
                    "Sid": "ReadLogStream",
                    "Effect": "Allow",
                    "Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard"],
                    "Resource": ga("LogsStream", "Arn")
                }),
                no_value(),
            ));
        }
        b.add(&role, json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": format!("trailwatch {} function: its logs, publish to the alert topic, metrics in its namespace, its dead-letter queue.", s.suffix),
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"
                }]},
                "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]
            }
        }));
        b.note_at(
            &role,
            &["Properties", "Policies"],
            "PutMetricData has no resource-level permissions: the namespace condition is what limits it (used when\nMetricsMode=api; EMF needs only the log permissions). kms: only through SNS, for the encrypted topic.",
        );
        // Each function evaluates the rules of its own path, so that one
        // record does not alert twice: the EventBridge function the event
        // patterns (its rules' targets), the logs function the filter
        // patterns, or every rule when it is the only path (LogsOnly).
        let matchers = if s.binary == "trailwatch-eventbridge" {
            json!("event_pattern")
        } else {
            iff("EventBridgePath", json!("filter_pattern"), json!("all"))
        };
        let environment = json!({"Variables": {
            "TRAILWATCH_TOPIC_ARN": r("AlertTopic"),
            "TRAILWATCH_METRICS": r("MetricsMode"),
            "TRAILWATCH_NAMESPACE": r("MetricsNamespace"),
            "TRAILWATCH_MATCH": matchers
        }});
        let checkov = json!({"skip": [
            {"id": "CKV_AWS_117", "comment": "No VPC: the function calls only SNS and CloudWatch public endpoints and reaches no private resource; a VPC would add NAT or endpoints and cold-start cost for no isolation gain."},
            {"id": "CKV_AWS_173", "comment": "The environment holds no secrets (topic ARN, metrics mode, namespace); Lambda encrypts it at rest with its AWS managed key. A customer managed key here would widen the key policy beyond CloudTrail, CloudWatch Logs and SNS."}
        ]});
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
                    p.insert("DeadLetterQueue".into(), json!({"Type": "SQS", "TargetArn": ga(&dlq, "Arn")}));
                }
                (
                    "AWS::Serverless::Function",
                    json!({"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": s.binary}, "checkov": checkov}),
                )
            }
            Flavor::Plain => {
                if let Some(p) = properties.as_object_mut() {
                    p.insert("Code".into(), json!({"S3Bucket": r("CodeBucket"), "S3Key": r(s.code_key)}));
                    p.insert("DeadLetterConfig".into(), json!({"TargetArn": ga(&dlq, "Arn")}));
                }
                ("AWS::Lambda::Function", json!({"checkov": checkov}))
            }
        };
        b.add(s.id, json!({
            "Type": ty,
            "DependsOn": [log_group],
            "Metadata": metadata,
            "Properties": properties
        }));
        if flavor == Flavor::Sam {
            b.note_at(
                s.id,
                &["Metadata", "BuildProperties"],
                "sam build runs `cargo lambda build --release --arm64 --bin <Binary>` in CodeUri (the workspace root)\nand copies target/lambda/<Binary>/bootstrap: leave CARGO_TARGET_DIR unset (or ./target).",
            );
        }
        b.note_at(s.id, &["Properties", "Timeout"], s.timeout_why);
        b.note_at(s.id, &["Properties", "ReservedConcurrentExecutions"], s.concurrency_why);
        b.note_at(s.id, &["Properties", "MemorySize"], "A Rust function uses a few MB; memory also buys CPU, which decompressing and matching batches use.");
        let invoke_config = format!("{}InvokeConfig", s.id);
        b.add(&invoke_config, json!({
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": r(s.id),
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "MaximumEventAgeInSeconds": 21600
            }
        }));
        b.note_at(
            &invoke_config,
            &["Properties"],
            "Asynchronous invocations (EventBridge, subscription filter): 2 retries, kept up to 6 hours while\nthrottled, then the dead-letter queue. An alert SNS refused fails the invocation, so it is retried.",
        );
    }
}

/// EventBridge rules for the packed patterns, their permissions and the
/// target's dead-letter queue. Returns (logical id, rule ids) per rule.
fn event_rules(b: &mut Builder, groups: &[PatternGroup]) -> Vec<(String, Vec<String>)> {
    let mut made = Vec::new();
    if groups.is_empty() {
        return made;
    }
    b.add("EventBridgeTargetDLQ", dead_letter_queue());
    b.note_at("EventBridgeTargetDLQ", &[], "Events EventBridge could not hand to the function at all (after 24 hours of retries).");
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
        }));
        if g.rules.len() > 1 {
            b.note_at(&id, &["Properties", "EventPattern"], &format!(
                "{} rules' patterns as alternatives of one $or (EventBridge's pattern quota is {MAX_PATTERN_LEN} characters).",
                g.rules.len()
            ));
        }
        let permission = format!("{id}Permission");
        b.add(&permission, json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": ga("EventBridgeFunction", "Arn"),
                "Action": "lambda:InvokeFunction",
                "Principal": "events.amazonaws.com",
                "SourceArn": ga(&id, "Arn")
            }
        }));
        rule_arns.push(ga(&id, "Arn"));
        made.push((id, g.rules.clone()));
    }
    b.add("EventBridgeTargetDLQPolicy", json!({
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
    }));
    made
}

/// The log group's subscription to the logs function, direct or through
/// Kinesis.
fn subscription(b: &mut Builder, pattern: Option<&str>, has_filter_alerts: bool) {
    // Without filter_pattern alert rules the subscription exists only in LogsOnly
    // mode (see the Subscribe* conditions), where it sends every record.
    let filter_pattern = match pattern {
        Some(p) if has_filter_alerts => iff("EventBridgePath", json!(p), json!("")),
        _ => json!(""),
    };
    b.add("LogsFunctionSubscriptionPermission", json!({
        "Type": "AWS::Lambda::Permission",
        "Condition": "SubscribeLambda",
        "Properties": {
            "FunctionName": ga("LogsFunction", "Arn"),
            "Action": "lambda:InvokeFunction",
            "Principal": "logs.amazonaws.com",
            "SourceArn": log_group_arn(),
            "SourceAccount": r("AWS::AccountId")
        }
    }));
    b.add("LogsSubscription", json!({
        "Type": "AWS::Logs::SubscriptionFilter",
        "Condition": "SubscribeLambda",
        "DependsOn": ["LogsFunctionSubscriptionPermission"],
        "Properties": {
            "LogGroupName": log_group_name(),
            "FilterPattern": filter_pattern.clone(),
            "DestinationArn": ga("LogsFunction", "Arn")
        }
    }));
    b.note_at(
        "LogsSubscription",
        &["Properties", "FilterPattern"],
        "EventBridgeAndLogs: only records the filter_pattern alert rules can match (event_pattern rules run on\nEventBridge; metric filters count filter_pattern metric rules). LogsOnly: every record, and the logs\nfunction evaluates every rule.",
    );
    b.add("LogsStream", json!({
        "Type": "AWS::Kinesis::Stream",
        "Condition": "SubscribeKinesis",
        "Properties": {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "RetentionPeriodHours": 24,
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
        }
    }));
    b.note_at("LogsStream", &["Properties", "StreamEncryption"], "The AWS managed Kinesis key: producers and consumers need no key policy entry.");
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
    }));
    b.add("LogsKinesisSubscription", json!({
        "Type": "AWS::Logs::SubscriptionFilter",
        "Condition": "SubscribeKinesis",
        "Properties": {
            "LogGroupName": log_group_name(),
            "FilterPattern": filter_pattern,
            "DestinationArn": ga("LogsStream", "Arn"),
            "RoleArn": ga("LogsToKinesisRole", "Arn")
        }
    }));
    b.add("LogsEventSourceMapping", json!({
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
    }));
    b.note_at(
        "LogsEventSourceMapping",
        &["Properties", "FunctionResponseTypes"],
        "The logs function answers with batchItemFailures: only records whose alerts SNS refused are retried;\nrecords still failing after 5 retries (or a day) go to the logs function's dead-letter queue.",
    );
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
fn metric_alarms(b: &mut Builder, rules: &[Rule]) -> Result<(), InfraError> {
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
        }));
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
        ));
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
                }));
                b.add(&alarm_id, alarm(
                    alarm_name,
                    &description,
                    json!({"Namespace": sub("${MetricsNamespace}/MetricFilters"), "MetricName": rule.id}),
                    r("AlarmPeriodSeconds"),
                    r("MetricRuleThreshold"),
                ));
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
                ));
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
fn queue_alarms(b: &mut Builder, has_event_rules: bool) {
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
        ));
    }
}

// ---------------------------------------------------------------------------
// YAML.

fn push_comment(out: &mut String, indent: usize, text: &str) {
    for line in text.lines() {
        out.push_str(&" ".repeat(indent));
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
}

/// YAML 1.1 words a plain scalar must not be (they would read as bools or null).
const RESERVED: &[&str] = &["y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"];

/// Whether a string may be written unquoted. Conservative: letters, digits
/// and a few safe punctuation marks, starting with a letter or `/`.
fn plain_ok(s: &str, flow: bool, key: bool) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if !(first.is_ascii_alphabetic() || first == '/') {
        return false;
    }
    if s.ends_with([':', ' ']) || s.contains(": ") || s.contains(" #") {
        return false;
    }
    if RESERVED.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        return false;
    }
    s.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || "_./-@+=".contains(c)
            || (c == ':' && !flow)
            || (c == ' ' && !key && !flow)
    })
}

fn scalar(v: &Value, flow: bool) -> String {
    match v {
        Value::String(s) if plain_ok(s, flow, false) => s.clone(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn key_text(k: &str) -> String {
    if plain_ok(k, false, true) {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn is_scalar(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => scalar(other, false),
    }
}

/// A short list of plain scalars, written `[a, b]`.
fn flow_list(items: &[Value]) -> Option<String> {
    if items.is_empty() || !items.iter().all(|v| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))) {
        return None;
    }
    let text = format!("[{}]", items.iter().map(|v| scalar(v, true)).collect::<Vec<_>>().join(", "));
    (text.len() <= 60).then_some(text)
}

fn emit_map(map: &Map<String, Value>, indent: usize, path: &mut Vec<String>, comments: &HashMap<Vec<String>, String>, out: &mut String) {
    for (k, v) in map {
        path.push(k.clone());
        if let Some(c) = comments.get(path) {
            push_comment(out, indent, c);
        }
        out.push_str(&" ".repeat(indent));
        out.push_str(&key_text(k));
        out.push(':');
        match v {
            _ if is_scalar(v) => {
                out.push(' ');
                out.push_str(&inline(v));
                out.push('\n');
            }
            Value::Array(items) => match flow_list(items) {
                Some(flow) => {
                    out.push(' ');
                    out.push_str(&flow);
                    out.push('\n');
                }
                None => {
                    out.push('\n');
                    emit_list(items, indent + 2, path, comments, out);
                }
            },
            Value::Object(m) => {
                out.push('\n');
                emit_map(m, indent + 2, path, comments, out);
            }
            _ => {}
        }
        path.pop();
    }
}

fn emit_list(items: &[Value], indent: usize, path: &mut Vec<String>, comments: &HashMap<Vec<String>, String>, out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        path.push(i.to_string());
        let mut block = String::new();
        match item {
            _ if is_scalar(item) => block = format!("{}{}\n", " ".repeat(indent + 2), inline(item)),
            Value::Object(m) => emit_map(m, indent + 2, path, comments, &mut block),
            Value::Array(inner) => match flow_list(inner) {
                Some(flow) => block = format!("{}{flow}\n", " ".repeat(indent + 2)),
                None => emit_list(inner, indent + 2, path, comments, &mut block),
            },
            _ => {}
        }
        // The item's first line (after any comment lines) carries the dash.
        let mut dashed = false;
        for line in block.lines() {
            if !dashed && !line.trim_start().starts_with('#') {
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                out.push_str(line.get(indent + 2..).unwrap_or(line.trim_start()));
                dashed = true;
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwatch_engine::rules;

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

    #[test]
    fn yaml_reads_back_as_the_json_it_was_built_from() {
        for flavor in [Flavor::Sam, Flavor::Plain] {
            let t = generate(&mixed_rules(), flavor).expect("generates");
            let yaml = t.to_yaml();
            let back: Value = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("emitted YAML does not parse: {e}\n{yaml}"));
            assert_eq!(back, t.doc, "YAML round trip changed the document");
        }
    }

    #[test]
    fn tricky_scalars_are_quoted() {
        for s in ["true", "No", "1", "2010-09-09", "a: b", "x #y", "$or", "", " lead", "*", "-1", "{a}", "[a]", "a,b", "é"] {
            let doc = json!({"k": s, "l": [s, "x"], s: 1});
            let t = Template { doc: doc.clone(), comments: HashMap::new(), notes: vec![], event_rules: vec![] };
            let back: Value = serde_saphyr::from_str(&t.to_yaml()).expect("parses");
            assert_eq!(back, doc, "{s:?}");
        }
    }

    #[test]
    fn cis_patterns_are_valid_filter_patterns() {
        for c in CIS_CONTROLS {
            assert!(FilterPattern::parse(c.pattern).is_ok(), "CloudWatch.{}", c.number);
        }
        assert_eq!(CIS_CONTROLS.iter().map(|c| c.number).collect::<Vec<_>>(), (1..=14).collect::<Vec<_>>());
    }

    #[test]
    fn patterns_pack_within_the_size_quota() {
        let patterns: Vec<(String, Value)> = (0..60)
            .map(|i| (format!("r{i}"), json!({"source": ["aws.iam"], "detail": {"eventName": [format!("SomeRatherLongEventName{i:03}")]}})))
            .collect();
        let groups = group_patterns(&patterns).expect("groups");
        assert!(groups.len() > 1 && groups.len() < 60, "{} groups", groups.len());
        let mut seen = Vec::new();
        for g in &groups {
            assert!(g.pattern.to_string().chars().count() <= MAX_PATTERN_LEN);
            let p = EventPattern::from_value(&g.pattern).expect("valid");
            for (id, _) in patterns.iter().filter(|(id, _)| g.rules.contains(id)) {
                let n: usize = id[1..].parse().expect("number");
                let event = json!({"source": "aws.iam", "detail": {"eventName": format!("SomeRatherLongEventName{n:03}")}});
                assert!(p.matches(&event), "group misses {id}");
            }
            seen.extend(g.rules.clone());
        }
        assert_eq!(seen, patterns.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
    }

    #[test]
    fn filter_rules_join_into_one_subscription_pattern() {
        let a = FilterPattern::parse("{ $.eventName = \"A\" }").expect("parses");
        let b = FilterPattern::parse("{($.x = 1) || ($.y = 2)}").expect("parses");
        let text = union_filter(&[&a, &b]).expect("joins");
        let joined = FilterPattern::parse(&text).expect("parses");
        assert!(joined.matches(r#"{"eventName":"A"}"#) && joined.matches(r#"{"y":2}"#) && !joined.matches(r#"{"eventName":"B"}"#));
        let text_pattern = FilterPattern::parse("ERROR").expect("parses");
        assert_eq!(union_filter(&[&a, &text_pattern]), None);
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
        assert_eq!(res["MetricFilterConsoleFailures"]["Properties"]["MetricTransformations"][0]["MetricName"], "console-failures");
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
    fn unique_ids_do_not_collide() {
        let mut b = Builder { resources: Map::new(), comments: HashMap::new(), notes: vec![], ids: HashSet::new() };
        assert_eq!(b.unique_id("Alarm", "a-b"), "AlarmAB");
        assert_eq!(b.unique_id("Alarm", "a_b"), "AlarmAB2");
        assert_eq!(b.unique_id("Alarm", "x.y.z"), "AlarmXYZ");
    }
}
