//! trailwatch for CloudTrail's own delivery to S3: the target of an SQS
//! queue that receives the trail's SNS log-delivery notifications or S3
//! `ObjectCreated` notifications (direct or through EventBridge). Each log
//! file is read from S3 and streamed through the same handler as the other
//! functions; the answer is an SQS partial batch response.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    trailwatch_aws::s3::serve().await
}
