//! The DynamoDB state store when DynamoDB fails: the real SDK client over
//! aws-smithy-mocks (the SDK's own test double, no network), answering with
//! the HTTP responses DynamoDB sends. Throttling past the SDK's retries, an
//! unavailable service and access denied each become a `StateError` (the
//! invocation fails, AWS retries it); the paths moto never takes (a refusal
//! without the old item, a query of several pages) give the right answers.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use trailwatch_aws::dynamodb::DynamoDb;
use trailwatch_engine::state::{Claim, Observation, Store};

const TABLE: &str = "trailwatch-state";

/// The SDK's standard retry mode, three attempts, quick backoff.
fn store(mode: RuleMode, rules: &[&Rule]) -> DynamoDb {
    let client = mock_client!(aws_sdk_dynamodb, mode, rules, |c| c
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1))));
    DynamoDb::new(client, TABLE)
}

/// A DynamoDB JSON 1.0 error body.
fn error(code: &str, message: &str) -> Option<String> {
    Some(format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{message}"}}"#))
}

#[tokio::test]
async fn throttling_past_the_retries_is_a_state_error() {
    let throttled = mock!(Client::update_item)
        .sequence()
        .http_status(400, error("ThrottlingException", "Rate of requests exceeds the allowed throughput."))
        .times(3)
        .build();
    let s = store(RuleMode::Sequential, &[&throttled]);
    let e = s.claim("k", 1_000, 2_000, 9_000).await.expect_err("throttled");
    assert_eq!(throttled.num_calls(), 3, "the SDK retried throttling: three attempts");
    assert!(e.to_string().contains("ThrottlingException") && e.to_string().contains(TABLE), "{e}");

    let over = mock!(Client::update_item)
        .sequence()
        .http_status(
            400,
            error(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            ),
        )
        .times(3)
        .build();
    let s = store(RuleMode::Sequential, &[&over]);
    let e = s.count("k", "e-1", 9_000).await.expect_err("throttled");
    assert_eq!(over.num_calls(), 3);
    assert!(e.to_string().contains("ProvisionedThroughputExceeded"), "{e}");
}

#[tokio::test]
async fn throttling_that_passes_within_the_retries_is_not_an_error() {
    let rule = mock!(Client::update_item)
        .sequence()
        .http_status(400, error("ThrottlingException", "Rate exceeded"))
        .times(2)
        .output(|| UpdateItemOutput::builder().build())
        .build();
    let s = store(RuleMode::Sequential, &[&rule]);
    assert_eq!(s.claim("k", 1_000, 2_000, 9_000).await, Ok(Claim::Won));
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn an_unavailable_service_is_a_state_error_for_every_operation() {
    let unavailable = || error("InternalServerError", "Internal server error");
    let update = mock!(Client::update_item).sequence().http_status(500, unavailable()).repeatedly().build();
    let put = mock!(Client::put_item).sequence().http_status(503, None).repeatedly().build();
    let get = mock!(Client::get_item).sequence().http_status(500, unavailable()).repeatedly().build();
    let s = store(RuleMode::MatchAny, &[&update, &put, &get]);
    let obs = Observation { at: 5, event_id: "e".into(), value: None };
    let errors = [
        s.claim("k", 1_000, 2_000, 9_000).await.map(|_| ()),
        s.mark_sent("k").await,
        s.release("k").await,
        s.count("k", "e", 9_000).await.map(|_| ()),
        s.observe("g", obs, 9_000, 0, 10).await.map(|_| ()),
        s.suppressed_ids("k").await.map(|_| ()),
    ];
    for (i, e) in errors.into_iter().enumerate() {
        let e = e.expect_err("DynamoDB is unavailable");
        assert!(e.to_string().starts_with("the state store failed: DynamoDB "), "{i}: {e}");
    }
    // Each operation was tried three times (5xx is transient).
    assert_eq!(update.num_calls(), 4 * 3);
    assert_eq!(put.num_calls(), 3);
    assert_eq!(get.num_calls(), 3);
}

#[tokio::test]
async fn access_denied_is_a_state_error_at_once() {
    let denied = mock!(Client::put_item)
        .sequence()
        .http_status(400, error("AccessDeniedException", "User is not authorized to perform: dynamodb:PutItem"))
        .repeatedly()
        .build();
    let s = store(RuleMode::Sequential, &[&denied]);
    let obs = Observation { at: 5, event_id: "e".into(), value: None };
    let e = s.observe("g", obs, 9_000, 0, 10).await.expect_err("denied");
    assert_eq!(denied.num_calls(), 1, "not retried");
    assert!(e.to_string().contains("AccessDeniedException") && e.to_string().contains("PutItem"), "{e}");
}

fn refused() -> UpdateItemError {
    UpdateItemError::ConditionalCheckFailedException(
        ConditionalCheckFailedException::builder().message("The conditional request failed").build(),
    )
}

fn claim_item(status: &str, lease_until: i64) -> GetItemOutput {
    GetItemOutput::builder()
        .item("pk", AttributeValue::S("alert#k".into()))
        .item("sk", AttributeValue::S("claim".into()))
        .item("status", AttributeValue::S(status.into()))
        .item("lease_until", AttributeValue::N(lease_until.to_string()))
        .build()
}

#[tokio::test]
async fn a_refusal_without_the_old_item_is_read_back_consistently() {
    let update = mock!(Client::update_item).then_error(refused);
    let get = mock!(Client::get_item)
        .match_requests(|r| r.consistent_read() == Some(true))
        .sequence()
        .output(|| claim_item("claimed", 5_000))
        .output(|| claim_item("sent", 5_000))
        .build();
    let s = store(RuleMode::MatchAny, &[&update, &get]);
    assert_eq!(s.claim("k", 1_000, 2_000, 9_000).await, Ok(Claim::Held { until: 5_000 }));
    assert_eq!(s.claim("k", 1_000, 2_000, 9_000).await, Ok(Claim::Sent));
}

#[tokio::test]
async fn a_refusal_by_an_item_that_is_not_trailwatchs_is_an_error_not_a_panic() {
    let update = mock!(Client::update_item).then_error(|| {
        UpdateItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder().item("status", AttributeValue::S("weird".into())).build(),
        )
    });
    let s = store(RuleMode::MatchAny, &[&update]);
    let e = s.claim("k", 1_000, 2_000, 9_000).await.expect_err("not ours");
    assert!(e.to_string().contains("weird"), "{e}");
}

#[tokio::test]
async fn a_count_past_the_cap_is_counted_without_its_id() {
    let with_id = mock!(Client::update_item).match_requests(|r| r.condition_expression().is_some()).then_error(refused);
    let without = mock!(Client::update_item)
        .match_requests(|r| r.condition_expression().is_none() && !r.update_expression().unwrap_or("").contains("ids"))
        .then_output(|| UpdateItemOutput::builder().attributes("suppressed", AttributeValue::N("101".into())).build());
    let s = store(RuleMode::MatchAny, &[&with_id, &without]);
    assert_eq!(s.count("k", "e-101", 9_000).await, Ok(101));
    assert_eq!((with_id.num_calls(), without.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_window_of_several_pages_comes_back_whole_and_in_time_order() {
    let item = |at: i64, id: &str| {
        [("at".to_string(), AttributeValue::N(at.to_string())), ("event_id".to_string(), AttributeValue::S(id.into()))]
            .into_iter()
            .collect()
    };
    let put = mock!(Client::put_item).then_output(|| PutItemOutput::builder().build());
    let first = mock!(Client::query)
        .match_requests(|r| r.exclusive_start_key().is_none() && r.consistent_read() == Some(true))
        .then_output(move || {
            QueryOutput::builder()
                .items(item(10, "a"))
                .items(item(20, "b"))
                .last_evaluated_key("pk", AttributeValue::S("group#g".into()))
                .last_evaluated_key("sk", AttributeValue::S("000000000000020#b".into()))
                .build()
        });
    let second = mock!(Client::query)
        .match_requests(|r| r.exclusive_start_key().is_some())
        .then_output(move || QueryOutput::builder().items(item(20, "c")).items(item(30, "d")).build());
    let s = store(RuleMode::MatchAny, &[&put, &first, &second]);
    let obs = Observation { at: 20, event_id: "c".into(), value: None };
    let seen = s.observe("g", obs, 9_000, 0, 100).await.expect("observed");
    let ids: Vec<&str> = seen.iter().map(|o| o.event_id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_observation_item_without_its_time_is_an_error() {
    let put = mock!(Client::put_item).then_output(|| PutItemOutput::builder().build());
    let query = mock!(Client::query).then_output(|| {
        QueryOutput::builder()
            .items([("event_id".to_string(), AttributeValue::S("a".into()))].into_iter().collect())
            .build()
    });
    let s = store(RuleMode::MatchAny, &[&put, &query]);
    let obs = Observation { at: 20, event_id: "c".into(), value: None };
    assert!(s.observe("g", obs, 9_000, 0, 100).await.is_err());
}
