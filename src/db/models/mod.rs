//! Typed access to each table: records, form submissions (idempotency),
//! webhook events (durable inbox) and settings (key/value).

pub mod form_submission;
pub mod gateway_config;
pub mod record;
pub mod setting;
pub mod webhook_event;
