//! One rendered form, one effect: a submission claims its idempotency key
//! before anything is written or sent to a gateway.

use serde_json::Value;

use crate::db::{Store, StoreError};

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key was free and is now ours.
    New,
    /// Another request holds the key and has not finished.
    InProgress,
    /// The key was used and finished; this is what it produced.
    Done(Value),
}

/// Claim `key` for `form`.
pub fn claim(store: &Store, key: &str, form: &str) -> Result<Claim, StoreError> {
    let _ = (store, key, form);
    Err(StoreError::Database("not implemented yet".into()))
}

/// Give `key` back (the submission was invalid or failed before any effect).
pub fn release(store: &Store, key: &str) -> Result<(), StoreError> {
    let _ = (store, key);
    Err(StoreError::Database("not implemented yet".into()))
}

/// Record what the submission produced, so a replay gets the same answer.
pub fn complete(store: &Store, key: &str, result: &Value) -> Result<(), StoreError> {
    let _ = (store, key, result);
    Err(StoreError::Database("not implemented yet".into()))
}
