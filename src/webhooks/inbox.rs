//! Taking an event in: size limit, signature, shape, durable insert.

use serde_json::Value;

use super::signature::{self, SignatureError};
use crate::db::models::webhook_event;
use crate::db::StoreError;
use crate::instance::Instance;

/// Largest event body accepted; Stripe's events are far smaller.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("unknown gateway `{0}`")]
    UnknownGateway(String),
    #[error("body too large")]
    TooLarge,
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("the body is not a JSON event with `id` and `type`")]
    NotAnEvent,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An event taken in.
#[derive(Debug)]
pub struct Accepted {
    pub event_id: String,
    /// False when this event id was already stored (a repeat delivery).
    pub new: bool,
}

/// Every secret an incoming Stripe event may be signed with: settings (for
/// rotation, several) and the endpoints payforms subscribed itself.
pub fn webhook_secrets(instance: &Instance) -> Vec<String> {
    let mut secrets: Vec<String> = instance
        .settings
        .stripe
        .webhook_secrets
        .iter()
        .map(|s| s.expose().to_string())
        .collect();
    secrets.extend(super::subscribe::stored_secrets(instance));
    secrets
}

/// Verify and store one delivery. Blocking (database).
pub fn receive(
    instance: &Instance,
    gateway: &str,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<Accepted, Rejection> {
    if gateway != "stripe" {
        return Err(Rejection::UnknownGateway(gateway.to_string()));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::TooLarge);
    }
    let secrets = webhook_secrets(instance);
    let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    signature::verify(signature_header, body, &secret_refs, chrono::Utc::now().timestamp())?;
    let event: Value = serde_json::from_slice(body).map_err(|_| Rejection::NotAnEvent)?;
    let (Some(id), Some(event_type)) = (event["id"].as_str(), event["type"].as_str()) else {
        return Err(Rejection::NotAnEvent);
    };
    if id.is_empty() || id.len() > 255 || event_type.is_empty() || event_type.len() > 255 {
        return Err(Rejection::NotAnEvent);
    }
    let payload = String::from_utf8_lossy(body);
    let (_, new) = webhook_event::insert_if_absent(&instance.store, gateway, id, event_type, &payload)?;
    Ok(Accepted {
        event_id: id.to_string(),
        new,
    })
}
