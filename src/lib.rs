//! payforms: a runtime for low-code payments.
//!
//! An app of YAML and Liquid files (pages, form configurations, API call
//! notifications, response mappers, webhook processors, model schemas) is
//! loaded and compiled once ([`app`]), served over HTTP ([`api`]), sent to
//! gateways as templated request types ([`gateway`]), stored as records
//! ([`db`]), queried through one GraphQL schema ([`graphql`]) and kept
//! current by webhooks ([`webhooks`]).

pub mod access;
pub mod api;
pub mod app;
pub mod card_numbers;
pub mod cli;
pub mod config;
pub mod db;
pub mod environment;
pub mod error;
pub mod fields;
pub mod forms;
pub mod gateway;
pub mod graphql;
pub mod instance;
pub mod liquid;
pub mod merchant_id;
pub mod merchants;
pub mod money;
pub mod operator;
pub mod password;
pub mod payments;
pub mod redact;
pub mod render;
#[cfg(feature = "sandbox")]
pub use payforms_sandbox as sandbox;
pub mod scaffold;
pub mod secrets;
pub mod signing;
pub mod webhooks;
