//! The functions' sink: each alert published to one SNS topic.

use aws_sdk_sns::types::MessageAttributeValue;
use trailwatch_engine::alert::Alert;
use trailwatch_engine::sink::{DeliveryError, Sink};

/// Publishes alerts to one SNS topic, with `MessageStructure: json` (a
/// readable body for e-mail, the JSON alert for every other protocol) and
/// the message attributes subscribers filter on.
#[derive(Debug, Clone)]
pub struct Sns {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Sns {
    /// A sink for this topic.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Sns {
        Sns { client, topic_arn: topic_arn.into() }
    }
}

impl Sink for Sns {
    /// Publish one alert, after the SDK's retries; returns SNS's message id.
    async fn publish(&self, alert: &Alert) -> Result<String, DeliveryError> {
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
                .map_err(|e| DeliveryError::new(alert, e.to_string()))?;
            req = req.message_attributes(name, attr);
        }
        let out = req
            .send()
            .await
            .map_err(|e| DeliveryError::new(alert, aws_sdk_sns::error::DisplayErrorContext(e).to_string()))?;
        Ok(out.message_id.unwrap_or_default())
    }
}
