//! `GET /healthz`: liveness and a database round trip.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::instance::Instance;

pub async fn healthz(instance: web::Data<Arc<Instance>>) -> HttpResponse {
    let store = instance.store.clone();
    match web::block(move || store.ping()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({ "status": "ok", "database": "ok" })),
        Ok(Err(e)) => HttpResponse::ServiceUnavailable().json(json!({ "status": "error", "database": e.to_string() })),
        Err(e) => HttpResponse::ServiceUnavailable().json(json!({ "status": "error", "database": e.to_string() })),
    }
}
