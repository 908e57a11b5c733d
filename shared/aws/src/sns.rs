//! The functions' sink: every alert published to the main SNS topic, and
//! to each route topic whose severity and tags take it.

use aws_sdk_sns::types::MessageAttributeValue;
use trailwatch_engine::alert::Alert;
use trailwatch_engine::sink::{DeliveryError, Format, Route, Sink};

/// Publishes alerts to SNS: the main topic with `MessageStructure: json`
/// (a readable body for e-mail, the JSON alert for every other protocol),
/// route topics in their route's format; always with the message
/// attributes subscribers filter on.
#[derive(Debug, Clone)]
pub struct Sns {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    routes: Vec<(Route, String)>,
}

impl Sns {
    /// A sink for this topic.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Sns {
        Sns { client, topic_arn: topic_arn.into(), routes: Vec::new() }
    }

    /// The same sink with routes, each with its topic's ARN.
    pub fn with_routes(mut self, routes: Vec<(Route, String)>) -> Sns {
        self.routes = routes;
        self
    }
}

impl Sink for Sns {
    fn routes(&self, alert: &Alert) -> Vec<String> {
        self.routes.iter().filter(|(r, _)| r.takes(alert)).map(|(r, _)| r.name.clone()).collect()
    }

    /// Publish one alert, after the SDK's retries; returns SNS's message id.
    async fn publish(&self, alert: &Alert, route: Option<&str>) -> Result<String, DeliveryError> {
        let (topic, format) = match route {
            None => (self.topic_arn.as_str(), Format::Alert),
            Some(name) => match self.routes.iter().find(|(r, _)| r.name == name) {
                Some((r, arn)) => (arn.as_str(), r.format),
                None => return Err(DeliveryError::new(alert, format!("no route named {name}"))),
            },
        };
        let mut req = self.client.publish().topic_arn(topic).subject(alert.subject());
        req = match format {
            Format::Alert => req.message_structure("json").message(alert.sns_message()),
            Format::Chat => req.message(alert.chat_notification().to_string()),
        };
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
