//! `TRAILWATCH_METRICS=api`: the `PutMetricData` request trailwatch sends.
//! moto cannot answer it (aws-sdk-cloudwatch speaks Smithy RPC v2 CBOR,
//! which moto 5.2.5 does not serve), so the call is checked against
//! aws-smithy-mocks, which runs the real SDK client with a mocked transport.

use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
use aws_sdk_cloudwatch::Client;
use aws_smithy_mocks::{mock, mock_client};
use trailwatch_aws::cloudwatch as metrics;
use trailwatch_engine::metrics::Counts;
use trailwatch_engine::rules::Severity;

#[tokio::test]
async fn put_metric_data_carries_every_count_with_its_dimensions() {
    let rule = mock!(Client::put_metric_data)
        .match_requests(|req| {
            let data = req.metric_data();
            req.namespace() == Some("trailwatch")
                && data.iter().any(|d| {
                    d.metric_name() == Some("Matches")
                        && d.value() == Some(3.0)
                        && d.dimensions()
                            .iter()
                            .any(|x| x.name() == Some("RuleId") && x.value() == Some("cis-cloudwatch-1"))
                        && d.dimensions().iter().any(|x| x.name() == Some("Severity") && x.value() == Some("high"))
                })
                && data.iter().any(|d| {
                    d.metric_name() == Some("Records")
                        && d.value() == Some(10.0)
                        && d.dimensions().iter().any(|x| x.name() == Some("Function") && x.value() == Some("logs"))
                })
        })
        .then_output(|| PutMetricDataOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
    let mut counts = Counts { records: 10, ..Counts::default() };
    counts.matches.insert(("cis-cloudwatch-1".into(), Severity::High), 3);
    metrics::put(&client, "trailwatch", "logs", &counts).await.expect("the request matches");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_failed_call_is_an_error() {
    let rule = mock!(Client::put_metric_data)
        .then_error(|| aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataError::unhandled("throttled"));
    let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
    let err = metrics::put(&client, "trailwatch", "logs", &Counts::default()).await.expect_err("an error");
    assert!(err.to_string().contains("PutMetricData"), "{err}");
}
