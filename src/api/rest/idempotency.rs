//! `Idempotency-Key` on REST writes: the same key with the same request
//! replays the stored answer (`Idempotent-Replayed: true`), with another
//! request it is a 422, while the first is running a 409; keys last 24 h.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::envelope::{respond, RestError};
use sha2::{Digest, Sha256};

use crate::db::models::api_idempotency::{self, Begin};
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
    // Hashed: within Stripe's 255 characters whatever the client's key.
    let mut hasher = Sha256::new();
    for part in [principal.merchant.as_str(), purpose, key] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    format!("rest_{}", hex::encode(hasher.finalize()))
}

/// Run a write once per `Idempotency-Key`. `work` gets the client's key
/// and runs on the blocking pool. Without a key it simply runs.
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
    let Some(key) = key_of(req)? else {
        let answer = web::block(move || work(None)).await.map_err(RestError::internal)?;
        return Ok(respond(answer?));
    };
    // The same key means the same request: method, path and body.
    let mut hasher = Sha256::new();
    for part in [req.method().as_str().as_bytes(), req.path().as_bytes(), body] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let hash: [u8; 32] = hasher.finalize().into();
    let store = instance.store.clone();
    let merchant = principal.merchant.to_string();
    let answer = web::block(move || {
        let claim = match api_idempotency::begin(&store, &merchant, &key, &hash, chrono::Utc::now())
            .map_err(RestError::internal)?
        {
            Begin::Execute(claim) => claim,
            Begin::Replay(stored) => return Ok(Outcome::Replayed(stored)),
            Begin::Mismatch => {
                return Err(RestError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with another request; use a new key for a new request",
                ))
            }
            Begin::InProgress => {
                return Err(RestError::new(
                    StatusCode::CONFLICT,
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is still running; retry in a moment",
                ))
            }
        };
        let (status, body) = match work(Some(key)) {
            Ok(answer) => answer,
            // Nothing ran (refused before the provider was asked), or our
            // own failure: not remembered, so a retry runs (the gateway's
            // own idempotency key keeps Stripe from acting twice).
            Err(error) if !error.reached_provider() || error.status.is_server_error() => {
                if let Err(e) = api_idempotency::release(&store, &claim) {
                    tracing::warn!(target: "payforms::rest", "idempotency key not released: {e}");
                }
                return Err(error);
            }
            Err(error) => (error.status, error.body()),
        };
        match api_idempotency::finish(&store, &claim, status.as_u16(), "application/json", &body.to_string()) {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(target: "payforms::rest", "an idempotent answer was not kept: its claim ran out")
            }
            Err(e) => tracing::warn!(target: "payforms::rest", "an idempotent answer was not kept: {e}"),
        }
        Ok(Outcome::Ran(status, body))
    })
    .await
    .map_err(RestError::internal)??;
    Ok(match answer {
        Outcome::Ran(status, body) => respond((status, body)),
        Outcome::Replayed(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            let mut response = HttpResponse::build(status);
            response
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header(("Idempotent-Replayed", "true"))
                .content_type(stored.content_type.as_str());
            match stored.body {
                Some(body) => response.body(body),
                // Too large to keep: the status says what happened.
                None => response.finish(),
            }
        }
    })
}

enum Outcome {
    Ran(StatusCode, Value),
    Replayed(api_idempotency::StoredResponse),
}
