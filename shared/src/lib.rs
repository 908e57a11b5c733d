//! trailwatch's library: everything the Lambda functions and the CLI share.
//!
//! The path of one record: [`envelope`] decodes a delivery format into
//! CloudTrail [`record`]s, [`event`] gives each the EventBridge envelope it
//! would have had, [`rules`] matches it with the [`pattern`] (EventBridge
//! event patterns) and [`filter`] (CloudWatch Logs filter patterns) engines,
//! and [`alert`], [`sink`] and [`metrics`] respond.
//!
//! No `unsafe` here: memory safety rests on the compiler, which is also why
//! the fuzz targets may run without a sanitizer (fuzz/README.md).
#![forbid(unsafe_code)]

pub mod alert;
pub mod config;
pub mod detector;
pub mod encode;
pub mod envelope;
pub mod event;
pub mod filter;
pub mod metrics;
pub mod pattern;
pub mod record;
pub mod rules;
pub mod sink;
