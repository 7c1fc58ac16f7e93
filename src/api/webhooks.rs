//! `POST /webhooks/{gateway}`: 2xx only once the event is stored.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::instance::Instance;
use crate::merchant_id::MerchantId;
use crate::webhooks::inbox::{self, Rejection};
use crate::webhooks::ingest::Ingest;
use crate::webhooks::worker::WorkerSignal;

pub async fn receive(
    req: HttpRequest,
    gateway: web::Path<String>,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
    ingest: web::Data<Ingest>,
    signal: Option<web::Data<WorkerSignal>>,
) -> HttpResponse {
    let header = req.headers().get("stripe-signature").and_then(|v| v.to_str().ok());
    // Checked on this thread (CPU only), stored by the ingest writer with
    // whatever else arrived meanwhile; answered after the commit.
    let checked = match inbox::check(&instance, &gateway, header, &body) {
        Ok(checked) => checked,
        Err(Rejection::TooLarge) => {
            return HttpResponse::PayloadTooLarge().json(json!({ "error": { "message": "body too large" } }))
        }
        Err(Rejection::UnknownGateway(g)) => {
            return HttpResponse::NotFound().json(json!({ "error": { "message": format!("unknown gateway `{g}`") } }))
        }
        Err(rejection) => {
            tracing::warn!("webhook rejected: {rejection}");
            return HttpResponse::BadRequest().json(json!({ "error": { "message": rejection.to_string() } }));
        }
    };
    // Stripe's endpoint receives the default merchant's events.
    store_and_answer(&ingest, MerchantId::default_merchant(), checked, signal).await
}

/// Store a checked event in `merchant`'s inbox and answer Stripe: 200 once
/// it is committed (also for a duplicate), 503 when it could not be stored
/// (Stripe retries).
pub(crate) async fn store_and_answer(
    ingest: &Ingest,
    merchant: MerchantId,
    checked: inbox::Checked,
    signal: Option<web::Data<WorkerSignal>>,
) -> HttpResponse {
    let event_id = checked.event_id.clone();
    match ingest.store(merchant, checked).await {
        Ok(new) => {
            if new {
                if let Some(signal) = signal {
                    signal.wake();
                }
            }
            HttpResponse::Ok().json(json!({ "received": true, "id": event_id, "duplicate": !new }))
        }
        Err(e) => {
            // Not stored: Stripe must retry, so answer 5xx.
            tracing::error!("webhook not stored: {e}");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "error": { "message": "the event could not be stored; retry later" } }))
        }
    }
}
