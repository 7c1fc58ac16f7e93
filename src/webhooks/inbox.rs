//! Taking an event in: size limit, signature, shape, durable insert.

use serde_json::Value;

use super::signature::{self, SignatureError};
use crate::config::Secret;
use crate::db::models::webhook_event;
use crate::db::StoreError;
use crate::instance::Instance;

/// Largest event body accepted; Stripe's events are far smaller.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Stored endpoint secrets are read again on a mismatch at most this often.
const STORED_SECRETS_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(1);

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
    // Settings' secrets (several while rotating) and those of the endpoints
    // payforms subscribed (cached; read again at once when none fits, so an
    // endpoint another instance just created is known).
    let now = chrono::Utc::now().timestamp();
    let verify = |stored: &[Secret]| {
        let secrets: Vec<&str> = instance
            .settings
            .stripe
            .webhook_secrets
            .iter()
            .chain(stored)
            .map(Secret::expose)
            .collect();
        signature::verify(signature_header, body, &secrets, now)
    };
    let load = || super::subscribe::stored_secrets(instance);
    match verify(&instance.endpoint_secrets.get(load)) {
        Err(SignatureError::Mismatch | SignatureError::NoSecret) => {
            match instance.endpoint_secrets.refresh(STORED_SECRETS_MIN_AGE, load) {
                Some(fresh) => verify(&fresh)?,
                None => verify(&[])?,
            };
        }
        checked => {
            checked?;
        }
    }
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
