//! `trailwatch backfill s3://BUCKET/PREFIX --queue URL`: history through
//! Lambda's fleet. The matching log files are listed (the same filters as
//! `replay s3://`) and each is enqueued as one message on the S3 function's
//! queue, in the shape the function reads (CloudTrail's delivery
//! notification, raw: `{"s3Bucket": B, "s3ObjectKey": [K]}`), so one file
//! that fails is retried alone; SQS and Lambda (bounded by the function's
//! reserved concurrency) do the rest. Batches of 10 (SendMessageBatch's
//! most) are sent [`IN_FLIGHT`] at a time. Progress is the queue's depth.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use trailwatch_engine::s3 as s3files;

/// SendMessageBatch calls in flight at once: one call is a round trip of
/// tens of milliseconds to SQS, and a standard queue takes nearly unlimited
/// calls a second (SQS Developer Guide, "Amazon SQS quotas").
pub const IN_FLIGHT: usize = 8;

/// Enqueue, then report the queue's depth (until it is empty with `watch`).
pub fn run(urls: &[PathBuf], filter: &s3files::KeyFilter, queue: &str, watch: bool) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let s3 = trailwatch_aws::s3::client(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let objects = crate::replay::list_objects(&s3, urls, filter).await?;
        let (mut sent, mut failed) = (0usize, 0usize);
        let send = |n: usize, chunk: &[s3files::ObjectRef]| -> Result<_> {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(format!("m{n}-{i}"))
                        .message_body(s3files::backfill_body(&o.bucket, std::slice::from_ref(&o.key)))
                        .build()
                        .context("a message")
                })
                .collect::<Result<Vec<_>>>()?;
            let call = sqs.send_message_batch().queue_url(queue).set_entries(Some(entries));
            Ok(tokio::spawn(async move { call.send().await }))
        };
        let mut pending = objects.chunks(10).enumerate();
        let mut inflight = std::collections::VecDeque::new();
        loop {
            while inflight.len() < IN_FLIGHT {
                match pending.next() {
                    Some((n, chunk)) => inflight.push_back(send(n, chunk)?),
                    None => break,
                }
            }
            let Some(task) = inflight.pop_front() else { break };
            let out = task
                .await
                .context("a SendMessageBatch task")?
                .map_err(|e| anyhow::anyhow!("SendMessageBatch: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
            sent += out.successful().len();
            for f in out.failed() {
                note!("trailwatch: message {} not enqueued: {} {}", f.id(), f.code(), f.message().unwrap_or(""));
                failed += 1;
            }
        }
        note!("trailwatch: {sent} log files enqueued on {queue} ({failed} failed)");
        loop {
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(queue)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("GetQueueAttributes: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
            let get = |a: QueueAttributeName| {
                attrs.attributes().and_then(|m| m.get(&a)).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            };
            let (waiting, in_flight) = (
                get(QueueAttributeName::ApproximateNumberOfMessages),
                get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            );
            note!("trailwatch: queue depth: {waiting} waiting, {in_flight} being processed");
            if !watch || waiting + in_flight == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
    })
}
