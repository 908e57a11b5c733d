//! trailwatch's AWS edge: what the engine's handler needs to run as a
//! Lambda function. Configuration from the environment ([`config`]), the
//! SNS sink ([`sns`]), CloudWatch metrics ([`cloudwatch`]), the state store
//! on DynamoDB ([`dynamodb`]), and [`serve`],
//! the runtime loop both functions run: read the configuration, build the
//! SDK clients and the compiled rule set once per container, then hand
//! every invocation's payload to the handler.

pub mod cloudwatch;
pub mod config;
pub mod dynamodb;
pub mod s3;
pub mod sns;

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;
use trailwatch_engine::handler::{Clock, Handler};
use trailwatch_engine::rules::{self, RuleSet};

use crate::cloudwatch::CloudWatch;
use crate::config::Config;
use crate::dynamodb::DynamoDb;
use crate::sns::Sns;

/// Every binary built on this crate (the three functions, and the CLI whose
/// `bench-handler` measures their handler) allocates with mimalloc: a
/// matched record's document is many small allocations made and freed
/// together, where glibc's allocator cost the EventBridge handler about a
/// seventh of its time (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The handler as the functions run it: alerts to SNS, counts to
/// CloudWatch, state in DynamoDB (when `TRAILWATCH_STATE_TABLE` is set).
pub type Function = Handler<Sns, CloudWatch, DynamoDb>;

/// Set up once, then serve invocations until the runtime stops.
pub async fn serve(function: &'static str) -> Result<(), Error> {
    init_logging();
    let handler =
        Arc::new(cold_start(function).await.inspect_err(|e| tracing::error!(error = %e, "cold start failed"))?);
    tracing::info!(function, rules = handler.rules().rules().len(), "ready");
    // The payload as its JSON text: the handler's fast path reads it with
    // the streaming matcher and parses only what a rule may match.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let handler = Arc::clone(&handler);
        async move { handler.handle_text(event.payload.get()).await.map_err(Error::from) }
    }))
    .await
}

/// JSON logs on stderr, filtered by `TRAILWATCH_LOG` (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TRAILWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .init();
}

/// Read the configuration and the SDK configuration (which honours
/// `AWS_ENDPOINT_URL`), then build the function.
pub async fn cold_start(function: &str) -> Result<Function, Error> {
    let config = Config::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let state = dynamodb::store(&config, &sdk);
    Ok(build(&config, aws_sdk_sns::Client::new(&sdk), aws_sdk_cloudwatch::Client::new(&sdk), state, function)?)
}

/// The function from its configuration and SDK clients: the built-in pack
/// plus the configured directory, narrowed to the configured language,
/// compiled once; with a state store, dedup, thresholds and exactly-once
/// alerts on the wall clock.
pub fn build(
    config: &Config,
    sns: aws_sdk_sns::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    state: Option<DynamoDb>,
    function: &str,
) -> Result<Function, rules::RuleError> {
    let mut loaded = rules::load_for_matching(config.rules_dir.as_deref())?;
    loaded.retain(|r| config.selection.keeps(r));
    let rules = RuleSet::new(loaded);
    // The EventBridge function reads each event through the event gate; the
    // others read bare records through the record gate, built now, at cold
    // start, rather than on the first invocation.
    let rules = if function == "eventbridge" { rules } else { rules.with_record_gate() };
    Ok(Handler::new(
        rules,
        Sns::new(sns, config.topic_arn.clone()).with_routes(config.routes.clone()),
        CloudWatch::new(config.metrics, cloudwatch, &config.namespace, function),
    )
    .with_state(state, if config.records_clock { Clock::Watermark(AtomicI64::new(i64::MIN)) } else { Clock::Wall }))
}
