//! Delivering alerts to an SNS topic.

use aws_sdk_sns::types::MessageAttributeValue;

use crate::alert::Alert;

/// An alert SNS did not take, after the SDK's retries.
#[derive(Debug, thiserror::Error)]
#[error("publishing alert {rule_id} for event {event_id} to SNS failed: {reason}")]
pub struct DeliveryError {
    pub rule_id: String,
    pub event_id: String,
    pub reason: String,
}

/// Publishes alerts to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsSink {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsSink {
    /// A sink for this topic, from a loaded SDK configuration (which honours
    /// `AWS_ENDPOINT_URL`).
    pub fn new(sdk: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> SnsSink {
        SnsSink { client: aws_sdk_sns::Client::new(sdk), topic_arn: topic_arn.into() }
    }

    /// A sink using an existing client.
    pub fn with_client(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> SnsSink {
        SnsSink { client, topic_arn: topic_arn.into() }
    }

    /// Publish one alert; returns SNS's message id.
    pub async fn publish(&self, alert: &Alert) -> Result<String, DeliveryError> {
        let mut req = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(alert.subject())
            .message_structure("json")
            .message(alert.sns_message());
        for (name, value) in alert.attributes() {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| fail(alert, e.to_string()))?;
            req = req.message_attributes(name, attr);
        }
        let out = req.send().await.map_err(|e| fail(alert, aws_sdk_sns::error::DisplayErrorContext(e).to_string()))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

fn fail(alert: &Alert, reason: String) -> DeliveryError {
    DeliveryError {
        rule_id: alert.rule_id.clone(),
        event_id: alert.event_id.clone().unwrap_or_default(),
        reason,
    }
}
