//! Where alerts go: the [`Sink`] trait, and [`Memory`], the sink of tests.
//!
//! The functions deliver to SNS (`trailwatch_aws::sns`), `trailwatch
//! replay` writes JSON lines to stdout; all go through the same handler.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::alert::Alert;
use crate::rules::Severity;

/// An alert the sink did not take. The handler fails the invocation (or,
/// through Kinesis, the batch item) so that AWS retries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("delivering alert {rule_id} for event {event_id} failed: {reason}")]
pub struct DeliveryError {
    pub rule_id: String,
    pub event_id: String,
    pub reason: String,
}

impl DeliveryError {
    /// The error for this alert, with why it failed.
    pub fn new(alert: &Alert, reason: impl Into<String>) -> DeliveryError {
        DeliveryError {
            rule_id: alert.rule_id.clone(),
            event_id: alert.event_id.clone().unwrap_or_default(),
            reason: reason.into(),
        }
    }
}

/// Delivers alerts: every alert to the main destination, and each to the
/// [`Route`]s that take it. The handler claims each (alert, route) on its
/// own, so a retry delivers to a route only what it did not take.
pub trait Sink: Sync {
    /// The names of the routes besides the main destination that take
    /// this alert (none by default).
    fn routes(&self, _alert: &Alert) -> Vec<String> {
        Vec::new()
    }

    /// Deliver one alert to the main destination (`None`) or a named
    /// route; returns the receipt (SNS's message id, say).
    fn publish(&self, alert: &Alert, route: Option<&str>)
        -> impl Future<Output = Result<String, DeliveryError>> + Send;
}

/// How a route renders an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The e-mail text and the JSON alert (as the main topic).
    Alert,
    /// An Amazon Q Developer in chat applications custom notification
    /// ([`Alert::chat_notification`]), for Slack, Teams and Chime channels.
    Chat,
}

/// A destination besides the main one: the alerts at or above a severity
/// and, if `tags` is not empty, carrying one of them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub name: String,
    #[serde(default = "lowest")]
    pub min_severity: Severity,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "alert_format")]
    pub format: Format,
}

fn lowest() -> Severity {
    Severity::Info
}

fn alert_format() -> Format {
    Format::Alert
}

impl Route {
    /// Whether this route takes the alert.
    pub fn takes(&self, alert: &Alert) -> bool {
        alert.severity >= self.min_severity
            && (self.tags.is_empty() || alert.tags.iter().any(|t| self.tags.contains(t)))
    }
}

/// Alerts kept in memory, in delivery order, each with the route it went
/// to; it can be told to refuse, and given routes.
#[derive(Debug, Default)]
pub struct Memory {
    alerts: Mutex<Vec<Alert>>,
    routed: Mutex<Vec<(String, Alert)>>,
    routes: Vec<Route>,
    refusing: AtomicBool,
    refusing_route: Mutex<Option<String>>,
}

impl Memory {
    /// A memory sink with these routes besides the main destination.
    pub fn with_routes(routes: Vec<Route>) -> Memory {
        Memory { routes, ..Memory::default() }
    }

    /// Refuse (or take again, with `None`) every alert for this route.
    pub fn set_refusing_route(&self, route: Option<&str>) {
        *self.refusing_route.lock().unwrap_or_else(|p| p.into_inner()) = route.map(str::to_string);
    }

    /// The alerts delivered to routes so far, as (route, alert), leaving none.
    pub fn take_routed(&self) -> Vec<(String, Alert)> {
        std::mem::take(&mut *self.routed.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Refuse (or take again) every alert from now on.
    pub fn set_refusing(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    /// The alerts taken so far, leaving none.
    pub fn take(&self) -> Vec<Alert> {
        std::mem::take(&mut *self.alerts.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Sink for Memory {
    fn routes(&self, alert: &Alert) -> Vec<String> {
        self.routes.iter().filter(|r| r.takes(alert)).map(|r| r.name.clone()).collect()
    }

    async fn publish(&self, alert: &Alert, route: Option<&str>) -> Result<String, DeliveryError> {
        if self.refusing.load(Ordering::SeqCst) {
            return Err(DeliveryError::new(alert, "the memory sink was told to refuse"));
        }
        let Some(route) = route else {
            let mut alerts = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
            alerts.push(alert.clone());
            return Ok(format!("memory-{}", alerts.len()));
        };
        if self.refusing_route.lock().unwrap_or_else(|p| p.into_inner()).as_deref() == Some(route) {
            return Err(DeliveryError::new(alert, format!("the memory sink was told to refuse route {route}")));
        }
        let mut routed = self.routed.lock().unwrap_or_else(|p| p.into_inner());
        routed.push((route.to_string(), alert.clone()));
        Ok(format!("memory-{route}-{}", routed.len()))
    }
}
