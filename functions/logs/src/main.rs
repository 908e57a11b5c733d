//! trailwatch for CloudWatch Logs: the target of a subscription filter on the
//! trail's log group (`{"awslogs":{"data": base64(gzip(JSON))}}`), or of a
//! Kinesis event source fed by one (answered with `batchItemFailures`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trailwatch_aws::serve("logs").await
}
