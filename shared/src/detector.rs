//! The path of one payload: decode, match, alert, count, deliver.
//!
//! [`decode`] and [`detect`] are plain functions (the CLI and the tests call
//! them directly); [`Detector`] adds delivery to SNS and metrics for the
//! Lambda functions. Malformed items are logged and counted and the rest
//! of the batch goes on; an alert SNS does not take fails the invocation
//! (or, through Kinesis, its batch item) so that AWS retries it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::alert::{self, Alert};
use crate::config::{Config, Matchers};
use crate::envelope::{self, Decoded, Delivery, EnvelopeError, Malformed};
use crate::event::Event;
use crate::metrics::{self, Counts, MetricsMode};
use crate::rules::{self, Action, RuleError, RuleSet, Workspace};
use crate::sink::{DeliveryError, SnsSink};

/// The decoded contents of one payload: one batch, or one per Kinesis record.
#[derive(Debug)]
pub struct Batch {
    /// The Kinesis sequence number, for `batchItemFailures`.
    pub item: Option<String>,
    pub decoded: Result<Decoded, EnvelopeError>,
}

/// The delivery path a payload came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    EventBridge,
    Logs,
    Kinesis,
}

/// Decode any payload the functions accept, every item at once.
pub fn decode(payload: Value) -> Result<(Path, Vec<Batch>), EnvelopeError> {
    let (path, parts) = open(payload)?;
    let batches = parts
        .into_iter()
        .map(|(item, contents)| Batch { item, decoded: contents.map(Contents::decode_all) })
        .collect();
    Ok((path, batches))
}

/// What one batch holds: events already decoded, or log events parsed one
/// at a time as they are matched.
#[derive(Debug)]
pub enum Contents {
    Decoded(Decoded),
    Messages(envelope::Messages),
}

impl Contents {
    /// A `CONTROL_MESSAGE` (no records).
    pub fn control(&self) -> bool {
        match self {
            Contents::Decoded(d) => d.control,
            Contents::Messages(m) => m.control,
        }
    }

    /// The items, each an event or why it is not one.
    pub fn items(self) -> Box<dyn Iterator<Item = Result<Event, Malformed>> + Send> {
        match self {
            Contents::Decoded(d) => Box::new(d.events.into_iter().map(Ok).chain(d.malformed.into_iter().map(Err))),
            Contents::Messages(m) => Box::new(m.events()),
        }
    }

    /// Match the items one by one, counting those that are not records:
    /// only alerts and counts are kept, never every parsed record at once.
    pub fn detect(self, rules: &RuleSet, ws: &mut Workspace) -> Detection {
        let mut d = Detecting::default();
        for item in self.items() {
            match item {
                Ok(event) => d.push(rules, &event, ws),
                Err(m) => d.malformed(&m),
            }
        }
        d.finish()
    }

    fn decode_all(self) -> Decoded {
        match self {
            Contents::Decoded(d) => d,
            Contents::Messages(m) => m.decode_all(),
        }
    }
}

type Part = (Option<String>, Result<Contents, EnvelopeError>);

/// Recognise a payload's path and open its batches (one, or one per
/// Kinesis record) without parsing the records yet.
pub fn open(payload: Value) -> Result<(Path, Vec<Part>), EnvelopeError> {
    Ok(match Delivery::classify(payload)? {
        Delivery::EventBridge(v) => {
            let mut decoded = Decoded::default();
            let origin = v.get("id").and_then(Value::as_str).map(|id| format!("EventBridge event {id}"));
            match envelope::eventbridge(v) {
                Ok(e) => decoded.events.push(e),
                Err(e) => decoded.malformed.push(Malformed {
                    origin: origin.unwrap_or_else(|| "EventBridge event".into()),
                    reason: e.to_string(),
                }),
            }
            (Path::EventBridge, vec![(None, Ok(Contents::Decoded(decoded)))])
        }
        Delivery::Logs(data) => (Path::Logs, vec![(None, envelope::logs_messages(&data).map(Contents::Messages))]),
        Delivery::Kinesis(items) => {
            let batches = items
                .into_iter()
                .map(|r| {
                    let contents = r.data.and_then(|gz| envelope::logs_gzip_messages(&gz)).map(Contents::Messages);
                    (Some(r.sequence_number), contents)
                })
                .collect();
            (Path::Kinesis, batches)
        }
    })
}

/// What matching a set of events produced.
#[derive(Debug, Default)]
pub struct Detection {
    /// Alerts of `alert` rules, identical ones merged.
    pub alerts: Vec<Alert>,
    pub counts: Counts,
}

/// Match events against the rules.
pub fn detect<'e>(rules: &RuleSet, events: impl IntoIterator<Item = &'e Event>, ws: &mut Workspace) -> Detection {
    let mut d = Detecting::default();
    for event in events {
        d.push(rules, event, ws);
    }
    d.finish()
}

/// A detection under way: events are matched one by one and dropped, only
/// their alerts and counts are kept.
#[derive(Debug, Default)]
struct Detecting {
    alerts: Vec<Alert>,
    counts: Counts,
}

impl Detecting {
    /// Match one event.
    fn push(&mut self, rules: &RuleSet, event: &Event, ws: &mut Workspace) {
        self.counts.records += 1;
        for rule in rules.evaluate(event, ws) {
            *self.counts.matches.entry((rule.id.clone(), rule.severity)).or_default() += 1;
            if rule.action == Action::Alert {
                self.alerts.push(Alert::new(rule, event));
            }
        }
    }

    /// Count an item that was not a record.
    fn malformed(&mut self, m: &Malformed) {
        tracing::warn!(origin = %m.origin, reason = %m.reason, "malformed record skipped");
        self.counts.malformed += 1;
    }

    /// The alerts, identical ones merged, and the counts.
    fn finish(self) -> Detection {
        Detection { alerts: alert::merge(self.alerts), counts: self.counts }
    }
}

/// An invocation that must fail so that AWS retries it.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("{failed} of {total} alerts were not delivered; failing the invocation so that AWS retries it: {first}")]
    Delivery { failed: usize, total: usize, first: DeliveryError },
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
    #[error("the payload cannot be decoded: {0}")]
    Payload(#[from] EnvelopeError),
}

/// The rules, the SNS topic and the metrics of one function, built once
/// per container.
#[derive(Debug)]
pub struct Detector {
    rules: RuleSet,
    sns: SnsSink,
    metrics: MetricsMode,
    cloudwatch: Option<aws_sdk_cloudwatch::Client>,
    namespace: String,
    function: String,
}

impl Detector {
    /// Load and compile the rules and build the clients, once.
    pub fn new(config: &Config, sdk: &aws_config::SdkConfig, function: &str) -> Result<Detector, RuleError> {
        let mut loaded = rules::load(config.rules_dir.as_deref())?;
        loaded.retain(|r| {
            matches!(
                (config.matchers, &r.matcher),
                (Matchers::All, _)
                    | (Matchers::EventPattern, rules::Matcher::Event(_))
                    | (Matchers::FilterPattern, rules::Matcher::Filter(_))
            )
        });
        let rules = RuleSet::new(loaded);
        Ok(Detector {
            rules,
            sns: SnsSink::new(sdk, config.topic_arn.clone()),
            metrics: config.metrics,
            cloudwatch: (config.metrics == MetricsMode::Api).then(|| aws_sdk_cloudwatch::Client::new(sdk)),
            namespace: config.namespace.clone(),
            function: function.to_string(),
        })
    }

    /// The compiled rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Handle one invocation's payload, whichever path it came by. Returns
    /// the function's response: a summary, or for Kinesis the partial batch
    /// response (`batchItemFailures`).
    pub async fn handle(&self, payload: Value) -> Result<Value, InvocationError> {
        let (path, parts) = open(payload)?;
        let mut ws = Workspace::default();
        let mut total = Counts::default();
        let mut failures = Vec::new();
        let mut first_error = None;
        let mut failed_alerts = 0;
        let mut all_alerts = 0;
        for (item, contents) in parts {
            let contents = match contents {
                Ok(c) => c,
                Err(e) => {
                    // The whole item is unreadable: retrying cannot fix it.
                    tracing::error!(item = item.as_deref().unwrap_or("payload"), error = %e, "payload not decoded");
                    total.malformed += 1;
                    if item.is_none() {
                        self.emit(&total).await?;
                        return Err(e.into());
                    }
                    continue;
                }
            };
            if contents.control() {
                tracing::info!("CloudWatch Logs control message: nothing to do");
            }
            let mut d = contents.detect(&self.rules, &mut ws);
            let errors = self.deliver(&d.alerts, &mut d.counts).await;
            all_alerts += d.alerts.len();
            if !errors.is_empty() {
                failed_alerts += errors.len();
                if let Some(item) = item.clone() {
                    failures.push(json!({"itemIdentifier": item}));
                }
                first_error = first_error.or(errors.into_iter().next());
            }
            total.add(&d.counts);
        }
        self.emit(&total).await?;
        if path == Path::Kinesis {
            return Ok(json!({"batchItemFailures": failures}));
        }
        if let Some(first) = first_error {
            return Err(InvocationError::Delivery { failed: failed_alerts, total: all_alerts, first });
        }
        Ok(json!({
            "records": total.records,
            "malformed": total.malformed,
            "alerts": total.alerts_published,
        }))
    }

    async fn deliver(&self, alerts: &[Alert], counts: &mut Counts) -> Vec<DeliveryError> {
        let mut errors = Vec::new();
        for a in alerts {
            match self.sns.publish(a).await {
                Ok(id) => {
                    counts.alerts_published += 1;
                    tracing::info!(rule_id = %a.rule_id, event_id = a.event_id.as_deref().unwrap_or(""), count = a.count, message_id = %id, "alert published");
                }
                Err(e) => {
                    counts.delivery_failures += 1;
                    tracing::error!(rule_id = %a.rule_id, error = %e, "alert not delivered");
                    errors.push(e);
                }
            }
        }
        errors
    }

    async fn emit(&self, counts: &Counts) -> Result<(), metrics::MetricsError> {
        match (self.metrics, &self.cloudwatch) {
            (MetricsMode::Emf, _) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
                for line in metrics::emf(&self.namespace, &self.function, counts, now) {
                    println!("{line}");
                }
                Ok(())
            }
            (MetricsMode::Api, Some(client)) => metrics::put(client, &self.namespace, &self.function, counts).await,
            _ => Ok(()),
        }
    }
}
