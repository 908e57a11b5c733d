//! trailwatch's library: everything the Lambda functions and the CLI share.
//!
//! The path of one record: [`envelope`] decodes a delivery format into
//! CloudTrail [`record`]s, [`event`] gives each the EventBridge envelope it
//! would have had, [`rules`] matches it with the [`pattern`] (EventBridge
//! event patterns) and [`filter`] (CloudWatch Logs filter patterns) engines,
//! and [`alert`], [`sink`] and [`metrics`] respond.

pub mod filter;
pub mod pattern;
