//! What both trailwatch Lambda functions do at cold start: JSON logs,
//! configuration from the environment, SDK clients, and the compiled rule
//! set, each once per container. The handlers themselves live in the
//! library (`trailwatch::detector`).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use trailwatch::config::Config;
use trailwatch::detector::Detector;

/// Set up once, then serve invocations until the runtime stops.
pub async fn serve(function: &'static str) -> Result<(), Error> {
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
    let detector = Arc::new(cold_start(function).await.map_err(|e| {
        tracing::error!(error = %e, "cold start failed");
        e
    })?);
    tracing::info!(function, rules = detector.rules().rules().len(), "ready");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let detector = Arc::clone(&detector);
        async move { detector.handle(event.payload).await.map_err(Error::from) }
    }))
    .await
}

/// Read the configuration, load the SDK configuration (which honours
/// `AWS_ENDPOINT_URL`), load and compile the rules.
pub async fn cold_start(function: &str) -> Result<Detector, Error> {
    let config = Config::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok(Detector::new(&config, &sdk, function)?)
}
