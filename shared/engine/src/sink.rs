//! Where alerts go: the [`Sink`] trait, and [`Memory`], the sink of tests.
//!
//! The functions deliver to SNS (`trailwatch_aws::sns`), `trailwatch
//! replay` writes JSON lines to stdout; all go through the same handler.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::alert::Alert;

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

/// Delivers alerts.
pub trait Sink: Sync {
    /// Deliver one alert; returns the receipt (SNS's message id, say).
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<String, DeliveryError>> + Send;
}

/// Alerts kept in memory, in delivery order; it can be told to refuse.
#[derive(Debug, Default)]
pub struct Memory {
    alerts: Mutex<Vec<Alert>>,
    refusing: AtomicBool,
}

impl Memory {
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
    async fn publish(&self, alert: &Alert) -> Result<String, DeliveryError> {
        if self.refusing.load(Ordering::SeqCst) {
            return Err(DeliveryError::new(alert, "the memory sink was told to refuse"));
        }
        let mut alerts = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
        alerts.push(alert.clone());
        Ok(format!("memory-{}", alerts.len()))
    }
}
