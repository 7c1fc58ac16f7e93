//! The REST API under `/v1` for programs: payments, saved cards, refunds,
//! the merchant's provider credentials and notification URL, received
//! webhook events. JSON in and out, `{"success": true, "data": …}` or
//! `{"success": false, "error": {"code", "message", "details"}}`.
//!
//! Every call is made by a merchant's API key with scopes, works only with
//! that merchant's records (a store partitioned by merchant) and reaches
//! Stripe through the app's request types, so a site builder's override of
//! `create_payment` changes this API too. Writes honour `Idempotency-Key`.

mod cards;
mod envelope;
mod idempotency;
mod merchant;
pub mod openapi;
mod payments;
mod refunds;
mod views;
mod webhook_events;

use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest};
use serde_json::Value;

use crate::gateway::{DispatchFailure, DispatchOutcome, FailureKind, Tenant};
use crate::instance::Instance;
use crate::merchants::keys::{self, Principal, Scope};
pub use envelope::RestError;

/// Largest REST request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Every REST route: method, path (under `/v1`), handler. The OpenAPI
/// document is checked against this list (`openapi::tests`). Stripe's
/// deliveries (`/v1/webhooks/stripe[/{merchant}]`) are routed apart.
fn routes() -> Vec<(Method, &'static str, actix_web::Route)> {
    vec![
        (Method::GET, "/openapi.json", web::get().to(openapi::document)),
        (Method::GET, "/docs", web::get().to(openapi::reference_page)),
        (Method::GET, "/docs/{asset}", web::get().to(openapi::reference_asset)),
        (Method::POST, "/payments", web::post().to(payments::create)),
        (Method::GET, "/payments", web::get().to(payments::list)),
        (Method::POST, "/payments/cards", web::post().to(cards::create)),
        (Method::GET, "/payments/cards", web::get().to(cards::list)),
        (Method::DELETE, "/payments/cards/{id}", web::delete().to(cards::delete)),
        (Method::GET, "/payments/{id}", web::get().to(payments::get)),
        (
            Method::POST,
            "/payments/{id}/capture",
            web::post().to(payments::capture),
        ),
        (Method::POST, "/payments/{id}/cancel", web::post().to(payments::cancel)),
        (Method::POST, "/refunds", web::post().to(refunds::create)),
        (Method::GET, "/refunds", web::get().to(refunds::list)),
        (Method::GET, "/merchant", web::get().to(merchant::show)),
        (
            Method::PUT,
            "/merchant/providers",
            web::put().to(merchant::set_providers),
        ),
        (Method::PUT, "/merchant/webhook", web::put().to(merchant::set_webhook)),
        (Method::GET, "/webhook-events", web::get().to(webhook_events::list)),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Stripe's deliveries, before the scope: events may be larger than a
    // REST body (the inbox bounds them).
    cfg.route("/v1/webhooks/stripe", web::post().to(default_webhook)).route(
        "/v1/webhooks/stripe/{merchant}",
        web::post().to(webhook_events::receive),
    );
    let mut scope = web::scope("/v1").app_data(web::PayloadConfig::new(BODY_LIMIT));
    for (_, path, route) in routes() {
        scope = scope.route(path, route);
    }
    cfg.service(scope.default_service(web::to(envelope::not_found)));
}

/// Seed 003's address for the default merchant's Stripe events: the same
/// as `/webhooks/stripe`.
async fn default_webhook(
    req: HttpRequest,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
    ingest: web::Data<crate::webhooks::ingest::Ingest>,
    signal: Option<web::Data<crate::webhooks::worker::WorkerSignal>>,
) -> actix_web::HttpResponse {
    let gateway = web::Path::from("stripe".to_string());
    crate::api::webhooks::receive(req, gateway, body, instance, ingest, signal).await
}

/// The caller of a request, checked: a valid key (else 401), the scope
/// the endpoint needs (else 403 naming it), within its rate (else 429).
pub(crate) async fn authorize(
    req: &HttpRequest,
    instance: &Arc<Instance>,
    scope: Scope,
) -> Result<Principal, RestError> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let Some(key) =
        keys::presented_key(header("x-api-key").as_deref(), header("authorization").as_deref()).map(str::to_string)
    else {
        return Err(RestError::unauthorized());
    };
    let found = {
        let instance = instance.clone();
        web::block(move || keys::authenticate(&instance.settings, &instance.store, &key)).await
    };
    let principal = match found {
        Ok(Ok(Some(principal))) => principal,
        Ok(Ok(None)) => return Err(RestError::unauthorized()),
        Ok(Err(e)) => return Err(RestError::internal(e)),
        Err(e) => return Err(RestError::internal(e)),
    };
    if let Some(limiter) = req.app_data::<web::Data<crate::api::rate_limit::RateLimiter>>() {
        if let Err(wait) = limiter.check(&principal.key_id, std::time::Instant::now()) {
            return Err(RestError::rate_limited(wait.seconds));
        }
    }
    principal.require(scope).map_err(RestError::missing_scope)?;
    Ok(principal)
}

/// The tenant a principal's requests are sent as: the default merchant
/// uses the instance's keys; another needs its own (else 409).
pub(crate) fn tenant(instance: &Instance, principal: &Principal) -> Result<Tenant, RestError> {
    use crate::merchants::MerchantError;
    crate::merchants::tenant(&instance.settings, &instance.store, &principal.merchant).map_err(|e| match e {
        MerchantError::Unknown(_) | MerchantError::NotConfigured => RestError::provider_not_configured(),
        MerchantError::Store(e) => RestError::internal(e),
        other => RestError::new(StatusCode::CONFLICT, "provider_not_configured", other.to_string()),
    })
}

/// The store of the principal's merchant: it sees only that merchant's
/// records.
pub(crate) fn store_of(instance: &Instance, principal: &Principal) -> crate::db::Store {
    instance.store.clone().with_merchant(principal.merchant.clone())
}

/// Send a request type for the principal's merchant, with the instance's
/// current app. Blocking.
pub(crate) fn dispatch(
    instance: &Instance,
    tenant: &Tenant,
    request_type: &str,
    data: Value,
    idempotency_key: Option<String>,
) -> Result<DispatchOutcome, RestError> {
    let version = instance.current();
    instance
        .gateway
        .dispatch_for(
            tenant,
            &version.app,
            request_type,
            data,
            idempotency_key,
            crate::gateway::Caller::Visitor,
        )
        .map_err(RestError::from_dispatch)
}

/// A gateway's failure as a REST error: the status says whose fault it is.
impl RestError {
    pub(crate) fn from_dispatch(failure: DispatchFailure) -> RestError {
        let (status, code) = match failure.kind {
            FailureKind::Declined => (StatusCode::PAYMENT_REQUIRED, "payment_failed"),
            FailureKind::InvalidInput => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            FailureKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            FailureKind::GatewayDown => (StatusCode::BAD_GATEWAY, "provider_unavailable"),
            FailureKind::GatewayAuthentication => (StatusCode::BAD_GATEWAY, "provider_authentication_failed"),
            FailureKind::RateLimited => (StatusCode::SERVICE_UNAVAILABLE, "provider_rate_limited"),
            FailureKind::GatewayError => (StatusCode::BAD_GATEWAY, "provider_error"),
            FailureKind::Forbidden | FailureKind::Template | FailureKind::Internal => {
                tracing::error!(target: "payforms::rest", "request type failed: {}", failure.message);
                return RestError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error");
            }
        };
        let mut error = RestError::new(status, code, failure.message);
        if let Some(gateway_code) = failure.gateway_code {
            error = error.with_details(serde_json::json!({ "provider_code": gateway_code }));
        }
        error
    }
}
