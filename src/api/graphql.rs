//! `POST /api/graphql` (API key) and `GET /api/graphql` (the query console).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::instance::Instance;

pub async fn post(req: HttpRequest, body: web::Bytes, instance: web::Data<Arc<Instance>>) -> HttpResponse {
    let engine = instance.current().graphql.clone();
    crate::graphql::http::handle_post(engine, &instance.settings.api_key_hashes, &req, body).await
}

pub async fn page() -> HttpResponse {
    crate::graphql::http::console_page()
}

pub async fn console_asset(name: web::Path<String>) -> HttpResponse {
    crate::graphql::http::console_asset(&name)
        .unwrap_or_else(|| HttpResponse::NotFound().content_type("text/plain").body("not found"))
}
