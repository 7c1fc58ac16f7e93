//! `POST /api/graphql` (API key) and `GET /api/graphql` (GraphiQL).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::instance::Instance;

pub async fn post(req: HttpRequest, body: web::Bytes, instance: web::Data<Arc<Instance>>) -> HttpResponse {
    let engine = instance.current().graphql.clone();
    crate::graphql::http::handle_post(engine, &instance.settings.api_key_hashes, &req, body).await
}

pub async fn page() -> HttpResponse {
    crate::graphql::http::graphiql_page()
}
