//! The functions' state store: [`DynamoDb`], the engine's
//! [`Store`](trailwatch_engine::state::Store) on one DynamoDB table, with
//! the semantics of the in-memory [`Memory`](trailwatch_engine::state::Memory)
//! (`tests/tests/state.rs` runs one script against both and compares every
//! answer).
//!
//! # The table
//!
//! Partition key `pk` (string), sort key `sk` (string), on-demand capacity,
//! TTL on `expires` (the infra crate creates it: `StateTable`).
//!
//! | item | `pk` | `sk` | attributes |
//! | --- | --- | --- | --- |
//! | an alert's claim and counts | `alert#<key>` | `claim` | `status` (`claimed`/`sent`), `lease_until` (ms), `suppressed` (number), `ids` (list, at most [`MAX_REMEMBERED_IDS`]), `expires` |
//! | an observation | `group#<group>` | `<at>#<event_id>` | `at` (ms), `event_id`, `value` (optional), `expires` |
//!
//! `<at>` is the event time in milliseconds, 15 digits zero-padded (years
//! 1970 to 33658), so that string order is time order and a window is one
//! `sk BETWEEN` range. Times outside that range (a hostile `eventTime`)
//! still sort: `-` and 19 digits below it, `:` and 19 digits above it. A key
//! or sort key past DynamoDB's limits (2,048 and 1,024 bytes; group values
//! come from records) is replaced by the SHA-256 of its text under another
//! prefix (`alert-sha256#`, `group-sha256#`, `<at>$<hex>`), which no
//! ordinary key can equal; the full event id stays in its attribute.
//!
//! # Why no partition is hot
//!
//! DynamoDB serves each partition key value from one partition, which has a
//! throughput ceiling of its own (AWS, "Key range throughput exceeded (hot
//! partitions)", DynamoDB Developer Guide,
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/throttling-key-range-limit-exceeded-mitigation.html>).
//! Here every alert key and every group is its own partition key value:
//! load spreads over as many partitions as there are distinct (rule, actor,
//! account, Region …) keys, and there is no global item (no table-wide
//! counter, no "latest" pointer, no time-bucket partition) that every
//! invocation writes. The only traffic one partition sees is the traffic of
//! one key: a single actor's flood of one alert, which dedup turns into
//! `count` updates of one small item, or one group's observations within a
//! window, which a `Query` reads from that group's partition alone. That
//! flood is the one place a partition can still run hot: a partition takes
//! at most 1,000 write units a second, and an alert item at the id cap
//! (100 event ids, about 5 KB) costs about 5 units per `count` (10 past the
//! cap, where the refused conditional write is charged too), so a single
//! alert key counted more than about 100–200 times a second is throttled;
//! the SDK retries, then the invocation fails and AWS retries it (nothing
//! lost). The functions' reserved concurrency (10 and 5) bounds how fast
//! they can write at all.
//!
//! # Atomicity
//!
//! Every write is one conditional write or atomic update of one item, so
//! concurrent containers never both win a claim nor lose a count:
//! * `claim`: `UpdateItem` setting `status = claimed`, the lease and the
//!   expiry, on condition `attribute_not_exists(status) OR (status = claimed
//!   AND lease_until <= now)`. Refused (`ConditionalCheckFailedException`),
//!   the item DynamoDB returns with `ReturnValuesOnConditionCheckFailure =
//!   ALL_OLD` (the item that failed the condition, read atomically with it)
//!   says `Sent` or `Held { until }`; without it, a strongly consistent
//!   `GetItem` does.
//! * `mark_sent`: `UpdateItem` `SET status = sent`.
//! * `release`: `UpdateItem` `SET lease_until = 0` on condition `status =
//!   claimed` (a sent alert stays sent).
//! * `count`: `UpdateItem` `ADD suppressed 1` and `SET ids =
//!   list_append(ids, [id])` on condition `size(ids) < MAX_REMEMBERED_IDS`,
//!   returning `UPDATED_NEW`; past the cap the condition refuses it and a
//!   second `UpdateItem` adds to the count alone. Each call is atomic: the
//!   count is never lost and the list never passes the cap.
//! * `observe`: `PutItem` of the observation (the same record observed
//!   twice writes the same item: idempotent), then a strongly consistent
//!   `Query` of the group's window, all pages, in time order.
//!
//! # Expiry
//!
//! DynamoDB's TTL wants the expiry as a Number of seconds since the Unix
//! epoch and deletes expired items on a best-effort basis, typically within
//! two days; items expired but not yet deleted still appear in reads and
//! queries (AWS, `UpdateTimeToLive`, DynamoDB API Reference,
//! <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html>).
//! So `expires` is written in seconds, rounded up from the engine's
//! milliseconds (never earlier than asked), and reads do not filter on it:
//! the trait says the store *may* forget an item after its expiry, and
//! windows are bounded by their `sk` range anyway. Every write sets
//! `expires` to the value of that call; `mark_sent` leaves it.
//!
//! # Errors
//!
//! Throttling, an unavailable service, access denied, a missing table: the
//! SDK retries what is retryable (its standard retry mode), then the call
//! fails with a [`StateError`] carrying the SDK's full error context, and
//! the invocation fails so that AWS retries it. Nothing on an input panics.
//!
//! # moto (the local stand-in), checked with moto 5.2.5
//!
//! moto's DynamoDB speaks the JSON 1.0 protocol the Rust SDK sends (unlike
//! its CloudWatch, see `LOCAL-AWS`); it supports everything above:
//! conditional `UpdateItem` with `ReturnValuesOnConditionCheckFailure =
//! ALL_OLD` (the old item comes back in the exception, and the SDK parses
//! it), `ADD`, `list_append`, `if_not_exists`, `size()` in conditions,
//! `BETWEEN` on the sort key, `ConsistentRead`, and `UpdateTimeToLive`
//! (the status reads back `ENABLED`). moto never deletes expired items (it
//! stores the TTL setting only): test expiry by the attribute, not by
//! waiting. One thing it does not do: `moto_server` serves requests on
//! concurrent threads and its DynamoDB takes no lock, so two concurrent
//! conditional claims of one key can both succeed and concurrent `ADD`s can
//! lose counts (seen here with 16 concurrent claims, and with 16 × 8
//! concurrent counts: 124 of 128). DynamoDB makes each write atomic; the
//! concurrency test (`tests/tests/state.rs`) runs moto's application one
//! request at a time to have that, and any load test of concurrent
//! containers against `moto_server` can show duplicates that are moto's.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use sha2::{Digest, Sha256};
use trailwatch_engine::state::{Claim, Millis, Observation, StateError, Store, MAX_REMEMBERED_IDS};

use crate::config::Config;

/// DynamoDB's limit on a partition key value, in bytes.
const MAX_PARTITION_KEY: usize = 2048;
/// DynamoDB's limit on a sort key value, in bytes.
const MAX_SORT_KEY: usize = 1024;
/// How many times `claim` asks again when the item it read back is
/// claimable after all (it changed between the refused write and the read).
const CLAIM_ATTEMPTS: usize = 3;

const CLAIMED: &str = "claimed";
const SENT: &str = "sent";

/// The state store on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDb {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// The store the configuration asks for: `TRAILWATCH_STATE_TABLE`, with a
/// client built from the SDK configuration (which honours
/// `AWS_ENDPOINT_URL`); `None` when no table is configured.
pub fn store(config: &Config, sdk: &aws_config::SdkConfig) -> Option<DynamoDb> {
    let table = config.state_table.as_ref()?;
    Some(DynamoDb::new(aws_sdk_dynamodb::Client::new(sdk), table.clone()))
}

impl DynamoDb {
    /// The store on `table` (a table name or ARN).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoDb {
        DynamoDb { client, table: table.into() }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The event ids counted into an alert's key, in arrival order (at most
    /// [`MAX_REMEMBERED_IDS`]), read consistently; as
    /// [`Memory::suppressed_ids`](trailwatch_engine::state::Memory::suppressed_ids).
    pub async fn suppressed_ids(&self, key: &str) -> Result<Vec<String>, StateError> {
        let item = self.claim_item(key).await?;
        let Some(AttributeValue::L(ids)) = item.as_ref().and_then(|i| i.get("ids")) else {
            return Ok(Vec::new());
        };
        ids.iter()
            .map(|v| v.as_s().cloned().map_err(|_| self.bad_item(key, "an id in `ids` is not a string")))
            .collect()
    }

    /// The claim item of `key`, read strongly consistently.
    async fn claim_item(&self, key: &str) -> Result<Option<HashMap<String, AttributeValue>>, StateError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(alert_pk(key)))
            .key("sk", AttributeValue::S("claim".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?;
        Ok(out.item)
    }

    fn failed<E, R>(&self, operation: &str, e: SdkError<E, R>) -> StateError
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        StateError(format!("DynamoDB {operation} on table {}: {}", self.table, DisplayErrorContext(e)))
    }

    fn bad_item(&self, key: &str, what: &str) -> StateError {
        StateError(format!("DynamoDB table {}: the item of alert key {key:?} is not trailwatch's: {what}", self.table))
    }

    /// What a claim item that refused the claim says.
    fn refused(
        &self,
        key: &str,
        item: &HashMap<String, AttributeValue>,
        now: Millis,
    ) -> Result<Option<Claim>, StateError> {
        match item.get("status").and_then(|s| s.as_s().ok()).map(String::as_str) {
            Some(SENT) => Ok(Some(Claim::Sent)),
            Some(CLAIMED) => {
                let until = number(item.get("lease_until")).ok_or_else(|| self.bad_item(key, "no lease_until"))?;
                // Claimable after all: the item changed since the write was refused.
                Ok((until > now).then_some(Claim::Held { until }))
            }
            None => Ok(None),
            Some(other) => Err(self.bad_item(key, &format!("status {other:?}"))),
        }
    }
}

impl DynamoDb {
    /// An `UpdateItem` of the alert `key`'s item (its claim, status and
    /// counts), to complete with the expression.
    fn update_alert(&self, key: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(alert_pk(key)))
            .key("sk", AttributeValue::S("claim".into()))
    }
}

impl Store for DynamoDb {
    async fn claim(&self, key: &str, now: Millis, lease_until: Millis, expires: Millis) -> Result<Claim, StateError> {
        for _ in 0..CLAIM_ATTEMPTS {
            let result = self
                .update_alert(key)
                .update_expression("SET #status = :claimed, #lease = :lease, #expires = :expires")
                .condition_expression("attribute_not_exists(#status) OR (#status = :claimed AND #lease <= :now)")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#lease", "lease_until")
                .expression_attribute_names("#expires", "expires")
                .expression_attribute_values(":claimed", AttributeValue::S(CLAIMED.into()))
                .expression_attribute_values(":lease", AttributeValue::N(lease_until.to_string()))
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .expression_attribute_values(":expires", AttributeValue::N(ttl_seconds(expires).to_string()))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let old = match result {
                Ok(_) => return Ok(Claim::Won),
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
                {
                    match e.into_err() {
                        UpdateItemError::ConditionalCheckFailedException(c) => c.item,
                        _ => None,
                    }
                }
                Err(e) => return Err(self.failed("UpdateItem (claim)", e)),
            };
            let item = match old {
                Some(item) => Some(item),
                None => self.claim_item(key).await?,
            };
            if let Some(claim) = item.as_ref().map(|i| self.refused(key, i, now)).transpose()?.flatten() {
                return Ok(claim);
            }
        }
        Err(StateError(format!(
            "DynamoDB table {}: the claim of alert key {key:?} was refused {CLAIM_ATTEMPTS} times, each time by an item that allowed it when read back",
            self.table
        )))
    }

    async fn mark_sent(&self, key: &str) -> Result<(), StateError> {
        self.update_alert(key)
            .update_expression("SET #status = :sent")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":sent", AttributeValue::S(SENT.into()))
            .send()
            .await
            .map_err(|e| self.failed("UpdateItem (mark sent)", e))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), StateError> {
        let result = self
            .update_alert(key)
            .update_expression("SET #lease = :zero")
            .condition_expression("#status = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#lease", "lease_until")
            .expression_attribute_values(":claimed", AttributeValue::S(CLAIMED.into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Sent, or never claimed: nothing to give up.
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(self.failed("UpdateItem (release)", e)),
        }
    }

    async fn count(&self, key: &str, event_id: &str, expires: Millis) -> Result<u64, StateError> {
        let update = || {
            self.update_alert(key)
                .expression_attribute_names("#suppressed", "suppressed")
                .expression_attribute_names("#expires", "expires")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":expires", AttributeValue::N(ttl_seconds(expires).to_string()))
                .return_values(ReturnValue::UpdatedNew)
        };
        // The id too, while the list has room.
        let with_id = update()
            .update_expression(
                "ADD #suppressed :one SET #expires = :expires, #ids = list_append(if_not_exists(#ids, :none), :id)",
            )
            .condition_expression("attribute_not_exists(#ids) OR size(#ids) < :cap")
            .expression_attribute_names("#ids", "ids")
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":id", AttributeValue::L(vec![AttributeValue::S(event_id.to_string())]))
            .expression_attribute_values(":cap", AttributeValue::N(MAX_REMEMBERED_IDS.to_string()))
            .send()
            .await;
        let out = match with_id {
            Ok(out) => out,
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                // The list is full: count alone.
                update()
                    .update_expression("ADD #suppressed :one SET #expires = :expires")
                    .send()
                    .await
                    .map_err(|e| self.failed("UpdateItem (count)", e))?
            }
            Err(e) => return Err(self.failed("UpdateItem (count)", e)),
        };
        let n = number(out.attributes.as_ref().and_then(|a| a.get("suppressed")))
            .ok_or_else(|| self.bad_item(key, "UpdateItem returned no suppressed count"))?;
        u64::try_from(n).map_err(|_| self.bad_item(key, "a negative suppressed count"))
    }

    async fn observe(
        &self,
        group: &str,
        observation: Observation,
        expires: Millis,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<Observation>, StateError> {
        let pk = group_pk(group);
        let mut item = HashMap::from([
            ("pk".to_string(), AttributeValue::S(pk.clone())),
            ("sk".to_string(), AttributeValue::S(observation_sk(observation.at, &observation.event_id))),
            ("at".to_string(), AttributeValue::N(observation.at.to_string())),
            ("event_id".to_string(), AttributeValue::S(observation.event_id)),
            ("expires".to_string(), AttributeValue::N(ttl_seconds(expires).to_string())),
        ]);
        if let Some(value) = observation.value {
            item.insert("value".into(), AttributeValue::S(value));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.failed("PutItem (observe)", e))?;
        if from > to {
            return Ok(Vec::new());
        }
        // Every sort key of a time t lies in [time_key(t) + "#", time_key(t) + "%"]:
        // "#" separates an event id, "$" a hashed one.
        let (low, high) = (format!("{}#", time_key(from)), format!("{}%", time_key(to)));
        let mut seen = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .projection_expression("#at, event_id, #value")
                .expression_attribute_names("#at", "at")
                .expression_attribute_names("#value", "value")
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .expression_attribute_values(":low", AttributeValue::S(low.clone()))
                .expression_attribute_values(":high", AttributeValue::S(high.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.failed("Query (observe)", e))?;
            for item in page.items() {
                let at = number(item.get("at"));
                let event_id = item.get("event_id").and_then(|v| v.as_s().ok());
                let (Some(at), Some(event_id)) = (at, event_id) else {
                    return Err(StateError(format!(
                        "DynamoDB table {}: an observation of group {group:?} has no `at` or `event_id`",
                        self.table
                    )));
                };
                let value = item.get("value").and_then(|v| v.as_s().ok()).cloned();
                seen.push(Observation { at, event_id: event_id.clone(), value });
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        // Sort-key order is time order; ties (and hashed ids) by event id,
        // as the in-memory store orders them.
        seen.sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
        Ok(seen)
    }
}

/// An attribute holding a whole number.
fn number(value: Option<&AttributeValue>) -> Option<i64> {
    value?.as_n().ok()?.parse().ok()
}

/// Milliseconds as DynamoDB TTL's seconds, rounded up.
pub fn ttl_seconds(ms: Millis) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0)
}

/// `prefix#text`, or `prefix-sha256#<hex>` when that would pass `max` bytes.
fn bounded(prefix: &str, text: &str, max: usize) -> String {
    if prefix.len() + 1 + text.len() <= max {
        format!("{prefix}#{text}")
    } else {
        format!("{prefix}-sha256#{}", sha256_hex(text))
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The partition key of an alert's claim item.
pub fn alert_pk(key: &str) -> String {
    bounded("alert", key, MAX_PARTITION_KEY)
}

/// The partition key of a group's observations.
pub fn group_pk(group: &str) -> String {
    bounded("group", group, MAX_PARTITION_KEY)
}

/// An event time whose string order is time order: 15 digits for
/// 0 ≤ at < 10^15 ms, `-` and 19 digits below, `:` and 19 digits above.
pub fn time_key(at: Millis) -> String {
    const SPAN: Millis = 1_000_000_000_000_000;
    if (0..SPAN).contains(&at) {
        format!("{at:015}")
    } else if at < 0 {
        // The offset from i64::MIN: 0 ..= 2^63 - 1, at most 19 digits, in time order.
        format!("-{:019}", i128::from(at) - i128::from(i64::MIN))
    } else {
        format!(":{at:019}")
    }
}

/// The sort key of an observation: its time, then its event id (or the
/// id's SHA-256 when the key would pass DynamoDB's limit).
pub fn observation_sk(at: Millis, event_id: &str) -> String {
    let time = time_key(at);
    if time.len() + 1 + event_id.len() <= MAX_SORT_KEY {
        format!("{time}#{event_id}")
    } else {
        format!("{time}${}", sha256_hex(event_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_as_times() {
        let times = [
            i64::MIN,
            i64::MIN + 1,
            -1_000_000_000_000_000,
            -86_400_000,
            -1,
            0,
            1,
            999,
            1_796_030_100_000,
            999_999_999_999_999,
            1_000_000_000_000_000,
            i64::MAX - 1,
            i64::MAX,
        ];
        for w in times.windows(2) {
            let (a, b) = (time_key(w[0]), time_key(w[1]));
            assert!(a < b, "{} -> {a} is not below {} -> {b}", w[0], w[1]);
        }
        assert_eq!(time_key(1_796_030_100_000), "001796030100000");
        assert_eq!(time_key(0).len(), 15);
        // Every sort key of a time lies within its query bounds, and outside the next time's.
        for at in times {
            for id in ["", "a", "~~~~", &"x".repeat(2000)] {
                let sk = observation_sk(at, id);
                assert!(sk.len() <= MAX_SORT_KEY);
                assert!(format!("{}#", time_key(at)) <= sk && sk < format!("{}%", time_key(at)), "{sk}");
                if at < i64::MAX {
                    assert!(sk < format!("{}#", time_key(at + 1)), "{sk}");
                }
            }
        }
    }

    #[test]
    fn long_keys_are_hashed_under_a_prefix_no_short_key_has() {
        let long = "k".repeat(5000);
        let pk = alert_pk(&long);
        assert!(pk.starts_with("alert-sha256#") && pk.len() == "alert-sha256#".len() + 64, "{pk}");
        assert_eq!(alert_pk("rule|alice"), "alert#rule|alice");
        assert_eq!(group_pk("203.0.113.10"), "group#203.0.113.10");
        assert_ne!(alert_pk(&long[..4000]), pk);
        assert_eq!(alert_pk(&"k".repeat(MAX_PARTITION_KEY - 6)).len(), MAX_PARTITION_KEY);
        assert!(alert_pk(&"k".repeat(MAX_PARTITION_KEY - 5)).starts_with("alert-sha256#"));
    }

    #[test]
    fn ttl_is_in_seconds_rounded_up() {
        assert_eq!(ttl_seconds(1_796_030_100_000), 1_796_030_100);
        assert_eq!(ttl_seconds(1_796_030_100_001), 1_796_030_101);
        assert_eq!(ttl_seconds(-1), 0);
        assert_eq!(ttl_seconds(i64::MAX), i64::MAX / 1000 + 1);
        assert_eq!(ttl_seconds(i64::MIN), i64::MIN / 1000);
    }
}
