//! The CloudTrail record: its common fields, typed.
//!
//! Every field may be missing or of an unexpected type: such a field reads
//! as `None` here, and the record's original JSON (kept by
//! [`crate::event::Event`]) still holds it for rules that look at any path.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// The common fields of one CloudTrail record (CloudTrail record contents,
/// CloudTrail user guide).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Record {
    #[serde(deserialize_with = "lenient")]
    pub event_time: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub event_source: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub event_name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub aws_region: Option<String>,
    #[serde(rename = "sourceIPAddress", deserialize_with = "lenient")]
    pub source_ip_address: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub user_agent: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub user_identity: Option<UserIdentity>,
    #[serde(deserialize_with = "lenient")]
    pub error_code: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub event_type: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub recipient_account_id: Option<String>,
    #[serde(rename = "eventID", deserialize_with = "lenient")]
    pub event_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub resources: Option<Vec<Resource>>,
}

/// Who made the call (`userIdentity`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserIdentity {
    #[serde(rename = "type", deserialize_with = "lenient")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub principal_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub arn: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub account_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub user_name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub invoked_by: Option<String>,
}

/// One entry of `resources`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resource {
    #[serde(rename = "ARN", deserialize_with = "lenient")]
    pub arn: Option<String>,
}

/// A field of the wrong type reads as missing instead of failing the record.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

impl Record {
    /// Read the typed fields of a record's JSON; `None` unless it is an object.
    pub fn from_json(value: &serde_json::Value) -> Option<Record> {
        if !value.is_object() {
            return None;
        }
        Record::deserialize(value).ok()
    }

    /// Who acted, as a person would name them: the session's role (and
    /// session name), the IAM user, the root account, or the AWS service.
    pub fn actor(&self) -> String {
        let Some(id) = &self.user_identity else {
            return "unknown".to_string();
        };
        match id.kind.as_deref() {
            Some("Root") => format!("root ({})", id.account_id.as_deref().unwrap_or("?")),
            Some("AWSService") => id.invoked_by.clone().unwrap_or_else(|| "AWS service".into()),
            _ => id
                .arn
                .clone()
                .or_else(|| id.user_name.clone())
                .or_else(|| id.principal_id.clone())
                .or_else(|| id.invoked_by.clone())
                .unwrap_or_else(|| "unknown".to_string()),
        }
    }

    /// The account the record belongs to.
    pub fn account(&self) -> Option<&str> {
        self.recipient_account_id
            .as_deref()
            .or_else(|| self.user_identity.as_ref().and_then(|u| u.account_id.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_types_read_as_missing() {
        let r = Record::from_json(&json!({
            "eventName": "ConsoleLogin", "errorCode": ["x"], "eventTime": 5,
            "userIdentity": {"type": "Root", "accountId": "123456789012"}
        }))
        .expect("object");
        assert_eq!(r.event_name.as_deref(), Some("ConsoleLogin"));
        assert_eq!(r.error_code, None);
        assert_eq!(r.event_time, None);
        assert_eq!(r.actor(), "root (123456789012)");
        assert!(Record::from_json(&json!([1])).is_none());
        assert!(Record::from_json(&json!({})).is_some_and(|r| r.event_name.is_none() && r.user_identity.is_none()));
    }
}
