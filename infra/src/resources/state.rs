//! The state table: what detection remembers between invocations (alert
//! claims for dedup and exactly-once delivery, suppressed counts, the
//! observations thresholds count over a window). Its item layout and why no
//! partition runs hot are in `trailwatch_aws::dynamodb`; the functions read
//! its name from `TRAILWATCH_STATE_TABLE` and may call only
//! [`STATE_ACTIONS`] on it.

use serde_json::{json, Value};

use crate::intrinsics::{ga, sub};
use crate::template::Builder;
use crate::InfraError;

/// The logical id of the table.
pub(crate) const STATE_TABLE: &str = "StateTable";

/// Every call `trailwatch_aws::dynamodb` makes, and nothing else.
pub(crate) const STATE_ACTIONS: [&str; 4] =
    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"];

/// The functions' statement on the table.
pub(crate) fn state_statement() -> Value {
    json!({"Sid": "StateTable", "Effect": "Allow", "Action": STATE_ACTIONS, "Resource": ga(STATE_TABLE, "Arn")})
}

/// The table: on demand, TTL on `expires`, encrypted, point-in-time recovery.
pub(crate) fn state_table(b: &mut Builder) -> Result<(), InfraError> {
    b.add(
        STATE_TABLE,
        json!({
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Metadata": {"checkov": {"skip": [
                {"id": "CKV_AWS_119", "comment": "Encrypted at rest with the AWS managed key (aws/dynamodb, SSEEnabled). A customer managed key would need kms:CreateGrant for DynamoDB in the stack key's policy and kms permissions in both functions' roles, for state that lives minutes to days and holds no record contents beyond event ids and group values."}
            ]}},
            "Properties": {
                "TableName": sub("${AWS::StackName}-state"),
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"}
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"}
                ],
                "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": true},
                "SSESpecification": {"SSEEnabled": true},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}
            }
        }),
    )?;
    b.note_at(
        STATE_TABLE,
        &["DeletionPolicy"],
        "Deleted with the stack: the state is short-lived (dedup periods, threshold windows) and rebuilt as\nrecords arrive; evidence is in the trail's bucket and log group, not here.",
    );
    b.note_at(
        STATE_TABLE,
        &["Properties", "BillingMode"],
        "On demand: traffic follows CloudTrail's bursts, and an idle table costs nothing but storage.",
    );
    b.note_at(
        STATE_TABLE,
        &["Properties", "KeySchema"],
        "pk = alert#<key> (sk = claim) or group#<group> (sk = <event time, 15-digit ms>#<event id>): every alert\nkey and every group is its own partition, and no item is written by every invocation, so load spreads\nover as many partitions as there are keys (no hot partition from a global counter or time bucket).",
    );
    b.note_at(
        STATE_TABLE,
        &["Properties", "TimeToLiveSpecification"],
        "Items carry their expiry in `expires`, in epoch seconds as DynamoDB TTL requires; DynamoDB deletes\nexpired items within about two days, at no cost.",
    );
    Ok(())
}
