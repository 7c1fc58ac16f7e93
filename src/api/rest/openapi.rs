//! The REST API's OpenAPI 3.1 document, generated from the handlers'
//! annotations and the request and answer types (so it cannot drift from
//! them), and a reference page that renders it, served by payforms itself.

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{cards, merchant, payments, refunds, webhook_events};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payforms REST API",
        description = "Payments, saved cards, refunds and merchant settings. Every call is made with a merchant's API key (X-API-Key or Authorization: Bearer) and sees only that merchant's data. Writes accept Idempotency-Key.",
    ),
    paths(
        payments::create, payments::list, payments::get, payments::capture, payments::cancel,
        cards::create, cards::list, cards::delete,
        refunds::create, refunds::list,
        merchant::show, merchant::set_providers, merchant::set_webhook,
        webhook_events::list,
    ),
    modifiers(&Security),
    tags(
        (name = "payments", description = "Charge a payment method or a saved card; list, capture, cancel"),
        (name = "cards", description = "Cards saved on Stripe customers for later charges"),
        (name = "refunds", description = "Give money back, all or part"),
        (name = "merchant", description = "The merchant's Stripe credentials and notification URL"),
        (name = "webhooks", description = "Stripe events received for the merchant"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as JSON (built once).
pub fn document_json() -> &'static str {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into()))
}

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(document_json())
}

pub async fn reference_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(REFERENCE_HTML)
}

pub async fn reference_asset(name: web::Path<String>) -> HttpResponse {
    let (content_type, body) = match name.as_str() {
        "reference.js" => ("text/javascript; charset=utf-8", REFERENCE_JS),
        "reference.css" => ("text/css; charset=utf-8", REFERENCE_CSS),
        _ => {
            return super::envelope::respond((
                actix_web::http::StatusCode::NOT_FOUND,
                super::RestError::not_found("file").body(),
            ))
        }
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

const REFERENCE_HTML: &str = include_str!("reference/index.html");
const REFERENCE_JS: &str = include_str!("reference/reference.js");
const REFERENCE_CSS: &str = include_str!("reference/reference.css");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Routes that are not part of the API a program calls: the document
    /// itself and its reference page (Stripe's deliveries are routed apart).
    const UNDOCUMENTED: [&str; 3] = ["/openapi.json", "/docs", "/docs/{asset}"];

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let document: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        assert_eq!(document["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        let documented: BTreeSet<(String, String)> = document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = super::super::routes()
            .into_iter()
            .filter(|(_, path, _)| !UNDOCUMENTED.contains(path))
            .map(|(method, path, _)| (method.to_string(), format!("/v1{path}")))
            .collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_operation_names_its_answers_and_security() {
        let document: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.contains_key("401"), "{method} {path} documents 401");
                assert!(responses.contains_key("429"), "{method} {path} documents 429");
                assert!(operation["security"].is_array(), "{method} {path} names its security");
            }
        }
    }
}
