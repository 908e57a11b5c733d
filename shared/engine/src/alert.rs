//! Alerts: what a person reads in e-mail and what a machine reads from
//! SQS, Lambda or HTTPS, from one matched rule and record.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::event::Event;
use crate::insight::Insight;
use crate::rules::{Rule, Severity};
use crate::state::Millis;

/// SNS's limit on a message: 256 KiB, message attributes and subject
/// included (SNS Publish API reference).
pub const SNS_MAX_BYTES: usize = 262_144;
/// SNS's limit on a subject (Publish: "less than 100 characters").
pub const SUBJECT_MAX_CHARS: usize = 99;

/// One alert: a rule, and the record (or identical records) that matched it.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub rule_id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    /// The first matching record's `eventID`.
    pub event_id: Option<String>,
    /// How many identical matches this alert stands for.
    pub count: u64,
    /// Every merged record's `eventID`.
    pub event_ids: Vec<String>,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub event_time: Option<String>,
    pub actor: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    /// The resource acted on, where the record names one.
    pub resource: Option<String>,
    /// A window's alert: the first and last counted record's event time,
    /// in milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Millis>,
    /// A window's alert: its group, as (record path, value) pairs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group: Vec<(String, String)>,
    /// A sequence's alert: the rule ids of its steps' alerts sent as part
    /// of it rather than on their own (folded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<String>,
    /// What happened, in the record's own values (the rule's `summary`
    /// template filled in), when the rule has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The record fields that matter for this rule, as (path, value).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<(String, String)>,
    /// What to check first and how to contain it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub falsepositives: Vec<String>,
    /// The rule's author (a Sigma rule's, which DRL 1.1 requires every
    /// alert to keep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The first matching record (the EventBridge event's `detail`).
    pub record: Value,
}

type MergeKey = (String, String, Option<String>, Option<String>, Option<String>, Option<String>);

/// Fields of `requestParameters` that name what a call acted on, most
/// specific first.
const RESOURCE_KEYS: &[&str] = &[
    "userName",
    "roleName",
    "groupName",
    "policyArn",
    "bucketName",
    "secretId",
    "name",
    "trailName",
    "functionName",
    "keyId",
    "instanceId",
    "groupId",
    "snapshotId",
    "imageId",
    "dBSnapshotIdentifier",
    "detectorId",
    "flowLogIds",
    "accountId",
    "roleArn",
];

impl Alert {
    /// The alert for one rule matching one event.
    pub fn new(rule: &Rule, event: &Event) -> Alert {
        Alert { record: event.detail().clone(), ..Alert::without_record(rule, event) }
    }

    /// [`Alert::new`] with `record` left null, for a caller that gives the
    /// alert the event's record itself (moved rather than copied).
    pub(crate) fn without_record(rule: &Rule, event: &Event) -> Alert {
        let r = event.record();
        let mut alert = Alert {
            rule_id: rule.id.clone(),
            title: rule.title.clone(),
            description: rule.description.clone(),
            severity: rule
                .severity_when
                .iter()
                .find(|(p, _)| p.matches(event.value()))
                .map_or(rule.severity, |(_, severity)| *severity),
            tags: rule.tags.clone(),
            event_id: r.event_id.clone(),
            count: 1,
            event_ids: r.event_id.iter().cloned().collect(),
            event_name: r.event_name.clone(),
            event_source: r.event_source.clone(),
            event_time: r.event_time.clone(),
            actor: r.actor(),
            account: r.account().map(str::to_string),
            region: r.aws_region.clone(),
            source_ip: r.source_ip_address.clone(),
            user_agent: r.user_agent.clone(),
            error_code: r.error_code.clone(),
            resource: resource(event),
            first_seen: None,
            last_seen: None,
            group: Vec::new(),
            folded: Vec::new(),
            summary: rule.summary.as_deref().map(|t| fill(t, event)),
            context: rule.context.iter().map(|p| (p.clone(), event.path_text(p))).collect(),
            runbook: rule.runbook.clone(),
            references: rule.references.clone(),
            falsepositives: rule.falsepositives.clone(),
            author: rule.author.clone(),
            record: Value::Null,
        };
        // An Insights event has no caller of its own: it says what was
        // unusual, by how much, and whom CloudTrail attributes it to.
        if let Some(i) = Insight::from_record(event.detail()) {
            alert.event_name = i.event_name.clone();
            alert.event_source = i.event_source.clone();
            if let Some(top) = i.identities.first() {
                alert.actor = top.clone();
            }
            if alert.summary.is_none() {
                alert.summary = Some(i.summary());
            }
            alert.context.extend(i.context());
        }
        alert
    }

    /// Alerts are identical when rule, actor, action, resource, account and
    /// region are: the same call in two regions or accounts is two alerts.
    fn key(&self) -> MergeKey {
        (
            self.rule_id.clone(),
            self.actor.clone(),
            self.event_name.clone(),
            self.resource.clone(),
            self.account.clone(),
            self.region.clone(),
        )
    }

    /// A one-line subject: what happened, who, where (≤ 99 ASCII chars);
    /// the rule's summary, when it has one, says what and who.
    pub fn subject(&self) -> String {
        let count = if self.count > 1 { format!(" (x{})", self.count) } else { String::new() };
        let severity = self.severity.as_str().to_uppercase();
        let (account, region) = (self.account.as_deref().unwrap_or("?"), self.region.as_deref().unwrap_or("?"));
        let raw = match &self.summary {
            Some(summary) => format!("[{severity}] {summary}{count} in {account}/{region}"),
            None => format!("[{severity}] {}{count}: {} in {account}/{region}", self.title, short_actor(&self.actor)),
        };
        // SNS subjects are ASCII, without line breaks or control characters.
        let clean: String = raw.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect();
        if clean.len() <= SUBJECT_MAX_CHARS {
            clean
        } else {
            format!("{}...", &clean[..SUBJECT_MAX_CHARS - 3])
        }
    }

    /// The CloudTrail console page of the event (Event history).
    pub fn console_url(&self) -> Option<String> {
        let (region, id) = (self.region.as_deref()?, self.event_id.as_deref()?);
        Some(format!("https://{region}.console.aws.amazon.com/cloudtrail/home?region={region}#/events/{id}"))
    }

    /// The e-mail body: who did what, from where, when, and why it matters.
    pub fn body(&self) -> String {
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let mut b = String::new();
        b.push_str(&format!("{} ({} severity)\n\n", self.title, self.severity.as_str()));
        if let Some(summary) = &self.summary {
            b.push_str(&format!("{summary}\n\n"));
        }
        for (path, value) in &self.context {
            b.push_str(&format!("{path}: {}\n", if value.is_empty() { "-" } else { value }));
        }
        if !self.context.is_empty() {
            b.push('\n');
        }
        b.push_str(&format!("Who:     {}\n", self.actor));
        b.push_str(&format!(
            "Did:     {} ({}){}\n",
            or(&self.event_name),
            or(&self.event_source),
            self.error_code.as_ref().map(|e| format!(" - failed: {e}")).unwrap_or_default()
        ));
        if let Some(res) = &self.resource {
            b.push_str(&format!("On:      {res}\n"));
        }
        b.push_str(&format!("From:    {} ({})\n", or(&self.source_ip), or(&self.user_agent)));
        b.push_str(&format!("When:    {}\n", or(&self.event_time)));
        b.push_str(&format!("Where:   account {}, region {}\n", or(&self.account), or(&self.region)));
        if !self.group.is_empty() {
            let group: Vec<String> = self.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
            b.push_str(&format!("Group:   {}\n", group.join(", ")));
            b.push_str(&format!("Count:   {} matching events in the window\n", self.count));
        } else if self.count > 1 {
            b.push_str(&format!("Count:   {} identical events\n", self.count));
        }
        if !self.folded.is_empty() {
            b.push_str(&format!(
                "Also:    the alerts of {} on these events, sent as this one\n",
                self.folded.join(", ")
            ));
        }
        b.push_str(&format!("\n{}\n", self.description.trim()));
        if let Some(runbook) = &self.runbook {
            b.push_str(&format!("\nWhat to do:\n{}\n", runbook.trim_end()));
        }
        if !self.falsepositives.is_empty() {
            b.push_str(&format!("\nKnown false positives: {}\n", self.falsepositives.join("; ")));
        }
        b.push_str(&format!("\nRule:    {}", self.rule_id));
        if !self.tags.is_empty() {
            b.push_str(&format!(" ({})", self.tags.join(", ")));
        }
        b.push('\n');
        if let Some(author) = &self.author {
            b.push_str(&format!("Author:  {author}\n"));
        }
        for r in &self.references {
            b.push_str(&format!("See:     {r}\n"));
        }
        if let Some(url) = self.console_url() {
            b.push_str(&format!("Event:   {url}\n"));
        }
        b
    }

    /// The alert as an Amazon Q Developer in chat applications custom
    /// notification, which its Slack, Microsoft Teams and Chime channels
    /// render ("Custom notifications using Amazon Q Developer in chat
    /// applications", event schema: `version` "1.0", `source` "custom",
    /// `content` with `textType` "client-markdown", `title`,
    /// `description`, `nextSteps`, `keywords`; `metadata` with
    /// `threadId`, `summary`, `eventType`, `relatedResources`,
    /// `additionalContext`). Alerts of one rule in one account share a
    /// thread; the next steps are the rule's runbook.
    pub fn chat_notification(&self) -> Value {
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let headline = self.summary.clone().unwrap_or_else(|| format!("{}: {}", self.title, short_actor(&self.actor)));
        let mut d = String::new();
        for (path, value) in &self.context {
            d.push_str(&format!("*{path}*: `{}`\n", if value.is_empty() { "-" } else { value }));
        }
        d.push_str(&format!("*Who*: `{}`\n", self.actor));
        d.push_str(&format!("*Did*: {} ({})", or(&self.event_name), or(&self.event_source)));
        if let Some(e) = &self.error_code {
            d.push_str(&format!(" - failed: {e}"));
        }
        d.push('\n');
        if let Some(res) = &self.resource {
            d.push_str(&format!("*On*: `{res}`\n"));
        }
        d.push_str(&format!("*From*: {} ({})\n", or(&self.source_ip), or(&self.user_agent)));
        d.push_str(&format!("*Where*: account {}, region {}\n", or(&self.account), or(&self.region)));
        if self.count > 1 {
            d.push_str(&format!("*Count*: {}\n", self.count));
        }
        d.push_str(&format!("\n{}", self.description.trim()));
        if let Some(author) = &self.author {
            d.push_str(&format!("\n_Rule {} by {author}_", self.rule_id));
        }
        let next_steps: Vec<String> = self
            .runbook
            .iter()
            .flat_map(|r| r.lines())
            .map(|l| l.trim().trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ')').trim())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        // Without a runbook: the two checks every alert calls for.
        let next_steps = if next_steps.is_empty() {
            let mut steps = vec![format!("Ask whether `{}` made this change on purpose.", self.actor)];
            steps.extend(self.console_url().map(|u| format!("Read the event in CloudTrail: {u}")));
            steps
        } else {
            next_steps
        };
        let mut keywords = vec![self.severity.as_str().to_uppercase(), self.rule_id.clone()];
        keywords.extend(self.tags.iter().take(5).cloned());
        let mut related: Vec<String> = self.resource.iter().cloned().collect();
        related.extend(self.console_url());
        json!({
            "version": "1.0",
            "source": "custom",
            "id": format!("{}:{}", self.rule_id, self.event_id.as_deref().unwrap_or("-")),
            "content": {
                "textType": "client-markdown",
                "title": format!("{} [{}] {headline}", severity_marker(self.severity), self.severity.as_str().to_uppercase()),
                "description": d,
                "nextSteps": next_steps,
                "keywords": keywords,
            },
            "metadata": {
                "threadId": format!("{}:{}", self.rule_id, or(&self.account)),
                "summary": self.subject(),
                "eventType": self.rule_id,
                "relatedResources": related,
                "additionalContext": {
                    "rule_id": self.rule_id,
                    "event_id": or(&self.event_id),
                    "account": or(&self.account),
                    "region": or(&self.region),
                    "actor": self.actor,
                },
            },
        })
    }

    /// The SNS message attributes subscribers filter on.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        let mut a = vec![("severity", self.severity.as_str().to_string()), ("rule_id", self.rule_id.clone())];
        if let Some(v) = &self.account {
            a.push(("account", v.clone()));
        }
        if let Some(v) = &self.region {
            a.push(("region", v.clone()));
        }
        if let Some(v) = &self.event_name {
            a.push(("event_name", v.clone()));
        }
        a
    }

    /// The machine-readable alert, with the record cut down until the
    /// whole fits in `budget` bytes (the rule and actor fields never are).
    pub fn to_json(&self, budget: usize) -> Value {
        let mut v = json!(self);
        if v.to_string().len() <= budget {
            return v;
        }
        // Drop the bulkiest parts of the record first, then the record.
        for key in ["responseElements", "requestParameters", "additionalEventData", "serviceEventDetails"] {
            if let Some(rec) = v.get_mut("record").and_then(Value::as_object_mut) {
                if rec.remove(key).is_some() {
                    rec.insert("trailwatchTruncated".into(), json!(true));
                }
            }
            if v.to_string().len() <= budget {
                return v;
            }
        }
        v["record"] = json!({"trailwatchTruncated": true});
        if let Some(ids) = v.get_mut("event_ids").and_then(Value::as_array_mut) {
            ids.truncate(100);
        }
        v
    }

    /// The SNS `Message` for `MessageStructure: json`: the text for e-mail,
    /// the full alert as JSON for every other protocol, within SNS's limit.
    pub fn sns_message(&self) -> String {
        let body = self.body();
        let fixed = self.subject().len()
            + self.attributes().iter().map(|(k, v)| k.len() + v.len() + 16).sum::<usize>()
            + body.len()
            + 1024;
        // JSON escaping can double it.
        let budget = SNS_MAX_BYTES.saturating_sub(fixed) / 2;
        // Written straight to text (the text `to_json` gives when nothing
        // is cut); only an alert over the budget is built as a document to
        // cut it down.
        // Each buffer is sized once rather than grown by doubling.
        let mut machine = Vec::with_capacity(MESSAGE_START_BYTES);
        let machine = match serde_json::to_writer(&mut machine, self).map(|()| String::from_utf8(machine)) {
            Ok(Ok(text)) if text.len() <= budget => text,
            _ => self.to_json(budget).to_string(),
        };
        #[derive(Serialize)]
        struct Message<'a> {
            default: &'a str,
            email: &'a str,
        }
        // Escaping adds a backslash to each of the alert's quotes.
        let mut message = Vec::with_capacity(machine.len() + machine.len() / 4 + body.len() + body.len() / 8 + 32);
        match serde_json::to_writer(&mut message, &Message { default: &machine, email: &body }) {
            Ok(()) => String::from_utf8(message).unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}

/// The machine JSON's first buffer: most alerts (their record included)
/// are a few KiB.
const MESSAGE_START_BYTES: usize = 8 * 1024;

/// A severity's marker at the head of a chat notification's title.
fn severity_marker(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":rotating_light:",
        Severity::High => ":red_circle:",
        Severity::Medium => ":large_orange_circle:",
        Severity::Low => ":large_yellow_circle:",
        Severity::Info => ":information_source:",
    }
}

/// A summary template with each `{dotted.path}` replaced by the record's
/// value there ("?" where the record has none).
fn fill(template: &str, event: &Event) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push_str(&rest[..open]);
        let value = event.path_text(rest[open + 1..open + close].trim());
        out.push_str(if value.is_empty() { "?" } else { &value });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn short_actor(actor: &str) -> &str {
    // "arn:aws:sts::123:assumed-role/Role/session" -> "assumed-role/Role/session"
    actor
        .split_once(":assumed-role/")
        .map(|(_, r)| r)
        .or_else(|| actor.rsplit_once(":user/").map(|(_, u)| u))
        .unwrap_or(actor)
}

fn resource(event: &Event) -> Option<String> {
    if let Some(arn) = event.record().resources.as_ref().and_then(|r| r.first()).and_then(|r| r.arn.clone()) {
        return Some(arn);
    }
    let params = event.detail().get("requestParameters")?.as_object()?;
    RESOURCE_KEYS.iter().find_map(|k| match params.get(*k)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

/// Merge identical alerts (same rule, actor, event name, resource, account
/// and region) into
/// one with a count, keeping first-seen order.
pub fn merge(alerts: Vec<Alert>) -> Vec<Alert> {
    let mut out: Vec<Alert> = Vec::with_capacity(alerts.len());
    let mut at: HashMap<_, usize> = HashMap::new();
    for a in alerts {
        match at.get(&a.key()) {
            Some(&i) => {
                let kept = &mut out[i];
                kept.count += a.count;
                kept.event_ids.extend(a.event_ids);
            }
            None => {
                at.insert(a.key(), out.len());
                out.push(a);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;

    fn rule() -> Rule {
        Rule::from_yaml(
            "test:stop.yaml",
            r#"
id: stop
title: CloudTrail logging stopped
description: Someone stopped a trail.
severity: critical
tags: [attack.t1562.008]
event_pattern: {detail: {eventName: [StopLogging]}}
action: alert
"#,
        )
        .expect("a valid rule")
    }

    fn event(id: &str, account: &str, region: &str, extra: Value) -> Event {
        let mut r = json!({
            "eventVersion": "1.09", "eventTime": "2026-11-30T09:15:00Z", "eventSource": "cloudtrail.amazonaws.com",
            "eventName": "StopLogging", "awsRegion": region, "eventID": id, "eventType": "AwsApiCall",
            "recipientAccountId": account, "sourceIPAddress": "203.0.113.10",
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/alice"), "accountId": account},
            "requestParameters": {"name": "management"}
        });
        if let (Some(obj), Value::Object(more)) = (r.as_object_mut(), extra) {
            obj.extend(more);
        }
        Event::from_record(r).expect("a record")
    }

    const TOLD: &str = r#"
id: stop-told
title: CloudTrail logging stopped
description: Someone stopped a trail.
severity: high
summary: "{userIdentity.arn} stopped trail {requestParameters.name} ({requestParameters.missing})"
context: [requestParameters.name, errorCode]
runbook: |
  1. Start logging again: aws cloudtrail start-logging --name <trail>.
references: [https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html]
falsepositives: [a planned trail migration]
author: Jane Doe
severity_when:
  - severity: critical
    event_pattern: {detail: {userIdentity: {type: [Root]}}}
  - severity: low
    event_pattern: {detail: {errorCode: [{exists: true}]}}
event_pattern: {detail: {eventName: [StopLogging]}}
action: alert
"#;

    #[test]
    fn a_rule_tells_what_happened_in_the_records_own_values_and_what_to_do() {
        let r = Rule::from_yaml("test:told.yaml", TOLD).expect("a valid rule");
        let a = Alert::new(&r, &event("e-1", "111122223333", "us-east-1", json!({})));
        assert_eq!(
            a.summary.as_deref(),
            Some("arn:aws:iam::111122223333:user/alice stopped trail management (?)"),
            "placeholders filled, a missing value shown as ?"
        );
        assert_eq!(
            a.subject(),
            "[HIGH] arn:aws:iam::111122223333:user/alice stopped trail management (?) in 111122223333/us-east-1"
        );
        assert_eq!(
            a.context,
            vec![("requestParameters.name".to_string(), "management".to_string()), ("errorCode".into(), String::new())]
        );
        let body = a.body();
        let (context, who) = (body.find("requestParameters.name: management"), body.find("Who:"));
        assert!(context.is_some() && context < who, "context comes first:\n{body}");
        for line in [
            "errorCode: -",
            "What to do:\n1. Start logging again",
            "Known false positives: a planned trail migration",
            "Author:  Jane Doe",
            "See:     https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_StopLogging.html",
        ] {
            assert!(body.contains(line), "{line:?} missing:\n{body}");
        }
        // Severity by record: the first severity_when that matches.
        let root = event(
            "e-2",
            "111122223333",
            "us-east-1",
            json!({"userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}}),
        );
        assert_eq!(Alert::new(&r, &root).severity, Severity::Critical);
        let failed = event("e-3", "111122223333", "us-east-1", json!({"errorCode": "AccessDenied"}));
        assert_eq!(Alert::new(&r, &failed).severity, Severity::Low);
    }

    #[test]
    fn a_summary_placeholder_must_be_a_record_path() {
        let bad = TOLD.replace("({requestParameters.missing})", "({requestParameters..name})");
        let err = Rule::from_yaml("test:bad.yaml", &bad).expect_err("an empty path segment");
        assert!(err.to_string().contains("summary"), "{err}");
        let unclosed = TOLD.replace("({requestParameters.missing})", "({requestParameters.name");
        assert!(Rule::from_yaml("test:bad.yaml", &unclosed).is_err());
    }

    /// Defect: the merge key ignored account and region, so StopLogging in
    /// us-east-1 and eu-west-1 became one alert "(x2)" naming us-east-1 only.
    #[test]
    fn merging_keeps_regions_and_accounts_apart() {
        let r = rule();
        let alerts = merge(vec![
            Alert::new(&r, &event("e-1", "111122223333", "us-east-1", json!({}))),
            Alert::new(&r, &event("e-2", "111122223333", "eu-west-1", json!({}))),
            Alert::new(&r, &event("e-3", "444455556666", "us-east-1", json!({}))),
            Alert::new(&r, &event("e-4", "111122223333", "us-east-1", json!({}))),
        ]);
        type Seen<'a> = (Option<&'a str>, Option<&'a str>, u64, Vec<&'a str>);
        let seen: Vec<Seen> = alerts
            .iter()
            .map(|a| {
                (a.account.as_deref(), a.region.as_deref(), a.count, a.event_ids.iter().map(String::as_str).collect())
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (Some("111122223333"), Some("us-east-1"), 2, vec!["e-1", "e-4"]),
                (Some("111122223333"), Some("eu-west-1"), 1, vec!["e-2"]),
                (Some("444455556666"), Some("us-east-1"), 1, vec!["e-3"]),
            ]
        );
        assert!(alerts[0].subject().contains("(x2)"), "{}", alerts[0].subject());
    }

    #[test]
    fn different_resources_are_different_alerts() {
        let r = rule();
        let other = event("e-2", "111122223333", "us-east-1", json!({"requestParameters": {"name": "audit"}}));
        let alerts =
            merge(vec![Alert::new(&r, &event("e-1", "111122223333", "us-east-1", json!({}))), Alert::new(&r, &other)]);
        assert_eq!(alerts.len(), 2);
    }

    #[test]
    fn a_huge_record_is_cut_to_fit_sns_and_keeps_who_and_what() {
        let big = "x".repeat(SNS_MAX_BYTES);
        let e = event(
            "e-1",
            "111122223333",
            "us-east-1",
            json!({"responseElements": {"blob": big}, "requestParameters": {"name": "management", "pad": big}}),
        );
        let a = Alert::new(&rule(), &e);
        let message = a.sns_message();
        let total =
            message.len() + a.subject().len() + a.attributes().iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        assert!(total <= SNS_MAX_BYTES, "{total} bytes");
        let outer: Value = serde_json::from_str(&message).expect("JSON message structure");
        let machine: Value = serde_json::from_str(outer["default"].as_str().expect("default")).expect("JSON alert");
        assert_eq!(machine["rule_id"], "stop");
        assert_eq!(machine["actor"], "arn:aws:iam::111122223333:user/alice");
        assert_eq!(machine["record"]["trailwatchTruncated"], true);
        assert!(machine["record"].get("responseElements").is_none());
        assert_eq!(machine["record"]["eventName"], "StopLogging", "the small fields stay");
        assert!(outer["email"].as_str().is_some_and(|b| b.contains("Who:     arn:aws:iam::111122223333:user/alice")));
    }

    #[test]
    fn a_small_alert_is_sent_whole() {
        let a = Alert::new(&rule(), &event("e-1", "111122223333", "us-east-1", json!({})));
        let v = a.to_json(SNS_MAX_BYTES);
        assert!(v["record"].get("trailwatchTruncated").is_none());
        assert_eq!(v["record"]["requestParameters"]["name"], "management");
        assert!(a.subject().len() <= SUBJECT_MAX_CHARS);
        // The message carries it written straight to text: the same text,
        // key for key, as the document.
        let outer: Value = serde_json::from_str(&a.sns_message()).expect("JSON message structure");
        assert_eq!(outer["default"].as_str(), Some(v.to_string().as_str()));
        assert_eq!(outer["email"].as_str(), Some(a.body().as_str()));
        assert_eq!(
            outer.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["default".into(), "email".into()])
        );
    }
}
