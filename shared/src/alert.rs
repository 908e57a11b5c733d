//! Alerts: what a person reads in e-mail and what a machine reads from
//! SQS, Lambda or HTTPS, from one matched rule and record.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::event::Event;
use crate::rules::{Rule, Severity};

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
    /// The first matching record (the EventBridge event's `detail`).
    pub record: Value,
}

/// Fields of `requestParameters` that name what a call acted on, most
/// specific first.
const RESOURCE_KEYS: &[&str] = &[
    "userName", "roleName", "groupName", "policyArn", "bucketName", "secretId", "name", "trailName",
    "functionName", "keyId", "instanceId", "groupId", "snapshotId", "imageId", "dBSnapshotIdentifier",
    "detectorId", "flowLogIds", "accountId", "roleArn",
];

impl Alert {
    /// The alert for one rule matching one event.
    pub fn new(rule: &Rule, event: &Event) -> Alert {
        let r = event.record();
        Alert {
            rule_id: rule.id.clone(),
            title: rule.title.clone(),
            description: rule.description.clone(),
            severity: rule.severity,
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
            record: event.detail().clone(),
        }
    }

    /// Alerts are identical when rule, actor, action and resource are.
    fn key(&self) -> (String, String, Option<String>, Option<String>) {
        (self.rule_id.clone(), self.actor.clone(), self.event_name.clone(), self.resource.clone())
    }

    /// A one-line subject: what happened, who, where (≤ 99 ASCII chars).
    pub fn subject(&self) -> String {
        let count = if self.count > 1 { format!(" (x{})", self.count) } else { String::new() };
        let raw = format!(
            "[{}] {}{count}: {} in {}/{}",
            self.severity.as_str().to_uppercase(),
            self.title,
            short_actor(&self.actor),
            self.account.as_deref().unwrap_or("?"),
            self.region.as_deref().unwrap_or("?"),
        );
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
        if self.count > 1 {
            b.push_str(&format!("Count:   {} identical events in this batch\n", self.count));
        }
        b.push_str(&format!("\n{}\n", self.description.trim()));
        b.push_str(&format!("\nRule:    {}", self.rule_id));
        if !self.tags.is_empty() {
            b.push_str(&format!(" ({})", self.tags.join(", ")));
        }
        b.push('\n');
        if let Some(url) = self.console_url() {
            b.push_str(&format!("Event:   {url}\n"));
        }
        b
    }

    /// The SNS message attributes subscribers filter on.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        let mut a = vec![
            ("severity", self.severity.as_str().to_string()),
            ("rule_id", self.rule_id.clone()),
        ];
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
        let budget = SNS_MAX_BYTES.saturating_sub(fixed) / 2; // JSON escaping can double it
        let machine = self.to_json(budget).to_string();
        json!({"default": machine, "email": body}).to_string()
    }
}

fn short_actor(actor: &str) -> &str {
    // "arn:aws:sts::123:assumed-role/Role/session" -> "assumed-role/Role/session"
    actor.split_once(":assumed-role/").map(|(_, r)| r).or_else(|| actor.rsplit_once(":user/").map(|(_, u)| u)).unwrap_or(actor)
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

/// Merge identical alerts (same rule, actor, event name and resource) into
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
