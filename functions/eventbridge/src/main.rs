//! trailwatch for EventBridge: the target of EventBridge rules on the default
//! bus. Each invocation is one event whose `detail` is a CloudTrail record.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trailwatch_aws::serve("eventbridge").await
}
