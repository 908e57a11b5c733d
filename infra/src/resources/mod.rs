//! The template's resources, by area. Each function adds its resources (and
//! the comments explaining them) to the [`Builder`](crate::template::Builder).

pub(crate) mod alarms;
pub(crate) mod event_rules;
pub(crate) mod functions;
pub(crate) mod keys;
pub(crate) mod s3path;
pub(crate) mod state;
pub(crate) mod subscription;
pub(crate) mod trail;
