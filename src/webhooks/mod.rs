//! Webhooks: verified, stored durably before the 2xx, processed once in
//! effect by a processor template per event name.

pub mod backoff;
pub mod event_types;
pub mod inbox;
pub mod ingest;
pub mod merchant;
pub mod processor;
pub mod reconcile;
pub mod replay;
pub mod signature;
pub mod subscribe;
pub mod worker;
