//! Typed access to each table: records, form submissions (idempotency),
//! the REST API's idempotency keys, the money journal (charges to settle or give back),
//! webhook events (durable inbox) and settings (key/value).

pub mod api_idempotency;
pub mod form_submission;
pub mod gateway_config;
pub mod merchant;
pub mod money_journal;
pub mod record;
pub mod setting;
pub mod webhook_event;
