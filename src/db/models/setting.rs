//! `settings_kv`: small named values (gateway secrets arrive here already
//! encrypted by the caller; this table never sees clear secrets).

use crate::db::{Store, StoreError};

pub fn get(store: &Store, key: &str) -> Result<Option<String>, StoreError> {
    let _ = (store, key);
    Err(StoreError::Database("not implemented yet".into()))
}

/// Insert or replace.
pub fn set(store: &Store, key: &str, value: &str) -> Result<(), StoreError> {
    let _ = (store, key, value);
    Err(StoreError::Database("not implemented yet".into()))
}
