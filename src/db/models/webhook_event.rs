//! The durable webhook inbox: an event is stored (unique per gateway and
//! event id) before the gateway gets its 2xx, then claimed, processed and
//! marked; a claim expires so nothing is lost if the process dies.

use chrono::{DateTime, Utc};

use crate::db::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    Pending,
    Processing,
    Processed,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WebhookEvent {
    pub id: i64,
    pub gateway: String,
    pub event_id: String,
    pub event_type: String,
    /// The raw body as received.
    pub payload: String,
    pub status: WebhookStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// Store a received event unless one with the same gateway and event id is
/// there; returns the stored event and whether this call inserted it.
pub fn insert_if_absent(
    store: &Store,
    gateway: &str,
    event_id: &str,
    event_type: &str,
    payload: &str,
) -> Result<(WebhookEvent, bool), StoreError> {
    let _ = (store, gateway, event_id, event_type, payload);
    Err(StoreError::Database("not implemented yet".into()))
}
