//! The CloudTrail record: its common fields, typed.
//!
//! Every field may be missing or of an unexpected type: such a field reads
//! as `None` here, and the record's original JSON (kept by
//! [`crate::event::Event`]) still holds it for rules that look at any path.

use serde_json::{Map, Value};

/// The common fields of one CloudTrail record (CloudTrail record contents,
/// CloudTrail user guide).
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub event_time: Option<String>,
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub aws_region: Option<String>,
    pub source_ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_identity: Option<UserIdentity>,
    pub error_code: Option<String>,
    pub event_type: Option<String>,
    pub recipient_account_id: Option<String>,
    pub event_id: Option<String>,
    pub resources: Option<Vec<Resource>>,
}

/// Who made the call (`userIdentity`).
#[derive(Debug, Clone, Default)]
pub struct UserIdentity {
    pub kind: Option<String>,
    pub principal_id: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub user_name: Option<String>,
    pub invoked_by: Option<String>,
}

/// One entry of `resources`.
#[derive(Debug, Clone, Default)]
pub struct Resource {
    pub arn: Option<String>,
}

/// A member's value, where it is a string (of any other type it reads as
/// missing).
fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

// Both read their object's members in one pass, matching each key rather
// than looking each field up (every lookup hashes its key).

impl UserIdentity {
    fn from_object(o: &Map<String, Value>) -> UserIdentity {
        let mut id = UserIdentity::default();
        for (key, v) in o {
            match key.as_str() {
                "type" => id.kind = text(v),
                "principalId" => id.principal_id = text(v),
                "arn" => id.arn = text(v),
                "accountId" => id.account_id = text(v),
                "userName" => id.user_name = text(v),
                "invokedBy" => id.invoked_by = text(v),
                _ => {}
            }
        }
        id
    }
}

impl Record {
    /// Read the typed fields of a record's JSON in place (nothing of the
    /// document is copied but the strings kept); `None` unless it is an
    /// object. `userIdentity` of another type than an object reads as
    /// missing, and so does `resources` unless it is an array of objects.
    pub fn from_json(value: &Value) -> Option<Record> {
        let mut r = Record::default();
        for (key, v) in value.as_object()? {
            match key.as_str() {
                "eventTime" => r.event_time = text(v),
                "eventSource" => r.event_source = text(v),
                "eventName" => r.event_name = text(v),
                "awsRegion" => r.aws_region = text(v),
                "sourceIPAddress" => r.source_ip_address = text(v),
                "userAgent" => r.user_agent = text(v),
                "userIdentity" => r.user_identity = v.as_object().map(UserIdentity::from_object),
                "errorCode" => r.error_code = text(v),
                "eventType" => r.event_type = text(v),
                "recipientAccountId" => r.recipient_account_id = text(v),
                "eventID" => r.event_id = text(v),
                "resources" => {
                    r.resources = v.as_array().and_then(|list| {
                        list.iter()
                            .map(|e| {
                                let arn = e.as_object()?.get("ARN").and_then(text);
                                Some(Resource { arn })
                            })
                            .collect()
                    })
                }
                _ => {}
            }
        }
        Some(r)
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
        let r = Record::from_json(&json!({
            "userIdentity": ["Root", "p", "arn", "123456789012"],
            "resources": [{"ARN": "arn:aws:s3:::a"}, {"ARN": 7}, {}]
        }))
        .expect("object");
        assert!(r.user_identity.is_none(), "an array is not a userIdentity");
        let arns: Vec<_> = r.resources.iter().flatten().map(|x| x.arn.as_deref()).collect();
        assert_eq!(arns, [Some("arn:aws:s3:::a"), None, None]);
        let r =
            Record::from_json(&json!({"resources": [{"ARN": "arn:aws:s3:::a"}, "arn:aws:s3:::b"]})).expect("object");
        assert!(r.resources.is_none(), "a list with an entry that is not an object");
    }
}
