//! `POST /webhooks/{gateway}`: 2xx only once the event is stored.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::instance::Instance;
use crate::webhooks::inbox::{self, Rejection};
use crate::webhooks::worker::WorkerSignal;

pub async fn receive(
    req: HttpRequest,
    gateway: web::Path<String>,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
    signal: Option<web::Data<WorkerSignal>>,
) -> HttpResponse {
    let instance = instance.get_ref().clone();
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let gateway = gateway.into_inner();
    let result = web::block(move || inbox::receive(&instance, &gateway, header.as_deref(), &body)).await;
    match result {
        Ok(Ok(accepted)) => {
            if accepted.new {
                if let Some(signal) = signal {
                    signal.wake();
                }
            }
            HttpResponse::Ok().json(json!({ "received": true, "id": accepted.event_id, "duplicate": !accepted.new }))
        }
        Ok(Err(Rejection::Store(e))) => {
            // Not stored: Stripe must retry, so answer 5xx.
            tracing::error!("webhook not stored: {e}");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "error": { "message": "the event could not be stored; retry later" } }))
        }
        Ok(Err(Rejection::TooLarge)) => {
            HttpResponse::PayloadTooLarge().json(json!({ "error": { "message": "body too large" } }))
        }
        Ok(Err(Rejection::UnknownGateway(g))) => {
            HttpResponse::NotFound().json(json!({ "error": { "message": format!("unknown gateway `{g}`") } }))
        }
        Ok(Err(rejection)) => {
            tracing::warn!("webhook rejected: {rejection}");
            HttpResponse::BadRequest().json(json!({ "error": { "message": rejection.to_string() } }))
        }
        Err(e) => HttpResponse::ServiceUnavailable().json(json!({ "error": { "message": e.to_string() } })),
    }
}
