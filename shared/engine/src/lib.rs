//! trailwatch's engine: everything between a delivered payload and an
//! alert, with no AWS in it (no SDK, no async runtime, no Lambda runtime).
//!
//! The path of one record, module by module: [`envelope`] decodes a
//! delivery into CloudTrail [`record`]s, [`event`] gives each the
//! EventBridge envelope it would have had, [`rules`] matches it with the
//! [`pattern`] (EventBridge event patterns) and [`filter`] (CloudWatch Logs
//! filter patterns) engines, [`alert`] renders what matched, a [`sink`]
//! delivers it and [`metrics`] counts. [`handler`] is that path, run the
//! same way by the Lambda functions, `trailwatch replay` and the tests;
//! [`encode`] builds each delivery format from records. [`sigma`] reads
//! rules written in the Sigma language (not wired into the handler yet).
//!
//! No `unsafe` here: memory safety rests on the compiler, which is also why
//! the fuzz targets may run without a sanitizer (fuzz/README.md).
#![forbid(unsafe_code)]

pub mod alert;
pub mod encode;
pub mod envelope;
pub mod event;
pub mod filter;
pub mod handler;
pub mod insight;
pub mod metrics;
pub mod pattern;
pub mod record;
pub mod remember;
pub mod rules;
pub mod s3;
pub mod sigma;
pub mod sink;
pub mod state;
mod string_word;
