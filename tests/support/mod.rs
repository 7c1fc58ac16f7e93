//! Shared harness for payforms' integration tests (`mod support;` in tests/*.rs).
//!
//! Every helper starts real processes on free ports and cleans up on Drop:
//! the payforms binary ([`TestServer`]), localstripe ([`Localstripe`]) and a
//! fresh PostgreSQL database ([`PgDatabase`]). Nothing is skipped silently: a
//! missing peer panics with the command that installs it (`scripts/test`).
//!
//! The HTTP helpers are blocking (reqwest::blocking); call them from plain
//! `#[test]` functions, not from inside an async runtime.

// Each test binary uses a different subset of the harness.
#![allow(dead_code, unused_imports)]

mod app;
mod fault_proxy;
mod html;
mod http;
mod localstripe;
mod postgres;
mod process;
mod server;
mod shop;
mod signature;
mod wait;

pub use app::{copy_app, repo_root, APP_ENTRIES};
pub use fault_proxy::FaultProxy;
pub use html::{form_html, html_unescape, input_values};
pub use http::{client, free_port, read_request};
pub use localstripe::{Localstripe, LOCALSTRIPE_PIN, PUBLISHABLE_KEY, SECRET_KEY};
pub use postgres::{admin_url, PgDatabase, DEFAULT_ADMIN_URL};
pub use process::random_hex;
pub use server::{graphql_as, payforms_bin, ServerOptions, TestServer};
pub use shop::{buy_and_open_pay_page, checkout_fields_with_token};
pub use signature::{sign_batch, stripe_signature_header, stripe_signature_header_now};
pub use wait::wait_for;
