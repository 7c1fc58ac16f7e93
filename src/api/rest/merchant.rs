//! `/v1/merchant`: the merchant's configuration (never its secrets), its
//! Stripe credentials and notification URL.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::authorize;
use super::envelope::{read_body, respond, success, RestError};
use super::payments::ErrorResponse;
use crate::config::Secret;
use crate::db::models::merchant::MerchantRow;
use crate::instance::Instance;
use crate::merchants::keys::{Principal, Scope};
use crate::merchants::{self, MerchantError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetProviders {
    /// `stripe`.
    pub provider: String,
    pub stripe: StripeCredentials,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StripeCredentials {
    /// `sk_test_…` / `rk_test_…` on a test instance, `sk_live_…` on a live one.
    pub secret_key: String,
    /// `whsec_…`: verifies the Stripe webhooks sent to this merchant's URL.
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetWebhook {
    /// Where payforms POSTs `payment.completed`, `payment.failed`,
    /// `payment.refunded`, signed with `Payforms-Signature`.
    pub webhook_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StripeProvider {
    pub configured: bool,
    /// The last four characters of the secret key in use.
    pub secret_key_last4: Option<String>,
    pub webhook_secret_configured: bool,
    /// Where Stripe must send this merchant's events.
    pub webhook_endpoint: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Providers {
    pub stripe: StripeProvider,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub environment: String,
    pub providers: Providers,
    pub webhook_url: Option<String>,
    pub created_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSettings {
    pub webhook_url: String,
    /// Shown once: verify `Payforms-Signature` with it.
    pub signing_secret: String,
}

fn merchant_error(error: MerchantError) -> RestError {
    match error {
        MerchantError::InvalidKey(e) => RestError::invalid_field("stripe.secret_key", e.to_string()),
        MerchantError::InvalidWebhookSecret => RestError::invalid_field("stripe.webhook_secret", error.to_string()),
        MerchantError::Refused(reason) => {
            RestError::invalid_field("stripe.secret_key", format!("Stripe did not accept the key: {reason}"))
        }
        MerchantError::InvalidUrl(message) => RestError::invalid_field("webhook_url", message),
        MerchantError::DefaultUsesInstanceKeys => {
            RestError::new(StatusCode::CONFLICT, "default_merchant", error.to_string())
        }
        MerchantError::Unknown(_) => RestError::not_found("merchant"),
        other => RestError::internal(other),
    }
}

fn view(instance: &Instance, principal: &Principal, row: Option<&MerchantRow>) -> Merchant {
    let settings = &instance.settings;
    let endpoint = if principal.merchant.is_default() {
        format!("{}/v1/webhooks/stripe", public_base(instance))
    } else {
        format!("{}/v1/webhooks/stripe/{}", public_base(instance), principal.merchant)
    };
    let (configured, last4, webhook_secret) = if principal.merchant.is_default() {
        let key = settings.stripe_secret_key();
        (
            key.is_some(),
            key.map(|k| merchants::last4(k.expose())),
            !settings.stripe_webhook_secrets().is_empty(),
        )
    } else {
        let key = row.and_then(|r| merchants::stripe_secret_key(settings, r).ok().flatten());
        (
            key.is_some(),
            key.map(|k| merchants::last4(k.expose())),
            row.is_some_and(|r| r.stripe_webhook_secret_encrypted.is_some()),
        )
    };
    Merchant {
        id: principal.merchant.to_string(),
        name: row.map_or_else(|| principal.merchant.to_string(), |r| r.name.clone()),
        environment: settings.environment.as_str().to_string(),
        providers: Providers {
            stripe: StripeProvider {
                configured,
                secret_key_last4: last4,
                webhook_secret_configured: webhook_secret,
                webhook_endpoint: endpoint,
            },
        },
        webhook_url: row.and_then(|r| r.webhook_url.clone()),
        created_at: row.map(|r| super::views::time_text(r.created_at)),
    }
}

fn public_base(instance: &Instance) -> String {
    crate::gateway::configuration::webhook_url(&instance.settings)
        .trim_end_matches("/webhooks/stripe")
        .to_string()
}

#[utoipa::path(
    get, path = "/v1/merchant", tag = "merchant",
    responses(
        (status = 200, body = inline(MerchantResponse)),
        (status = 401, body = inline(ErrorResponse)), (status = 403, body = inline(ErrorResponse)),
        (status = 429, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn show(req: HttpRequest, instance: web::Data<Arc<Instance>>) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::MerchantRead).await?;
    let answer = web::block(move || {
        let row = merchants::get(&instance.store, &principal.merchant).map_err(merchant_error)?;
        success(StatusCode::OK, view(&instance, &principal, row.as_ref()))
    })
    .await
    .map_err(RestError::internal)?;
    Ok(respond(answer?))
}

#[utoipa::path(
    put, path = "/v1/merchant/providers", tag = "merchant",
    request_body = SetProviders,
    responses(
        (status = 200, description = "Stored encrypted; the secrets are never returned", body = inline(MerchantResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 404, body = inline(ErrorResponse)),
        (status = 409, body = inline(ErrorResponse)), (status = 422, body = inline(ErrorResponse)),
        (status = 429, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn set_providers(
    req: HttpRequest,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::MerchantWrite).await?;
    let input: SetProviders = read_body(&body)?;
    if !input.provider.eq_ignore_ascii_case("stripe") {
        return Err(RestError::invalid_field("provider", "must be stripe"));
    }
    let answer = web::block(move || {
        let secret_key = Secret::new(input.stripe.secret_key.trim());
        let webhook_secret = input.stripe.webhook_secret.map(|s| Secret::new(s.trim()));
        let gateway = instance.gateway.clone();
        let check = move |key: &Secret| gateway.check_connection(key);
        let row = merchants::set_stripe_credentials(
            &instance.settings,
            &instance.store,
            &principal.merchant,
            &secret_key,
            webhook_secret.as_ref(),
            &check,
        )
        .map_err(merchant_error)?;
        success(StatusCode::OK, view(&instance, &principal, Some(&row)))
    })
    .await
    .map_err(RestError::internal)?;
    Ok(respond(answer?))
}

#[utoipa::path(
    put, path = "/v1/merchant/webhook", tag = "merchant",
    request_body = SetWebhook,
    responses(
        (status = 200, description = "The URL and its new signing secret, shown once", body = inline(WebhookSettingsResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 422, body = inline(ErrorResponse)),
        (status = 429, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn set_webhook(
    req: HttpRequest,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::MerchantWrite).await?;
    let input: SetWebhook = read_body(&body)?;
    let answer = web::block(move || {
        let (row, secret) = merchants::set_webhook_url(
            &instance.settings,
            &instance.store,
            &principal.merchant,
            &input.webhook_url,
        )
        .map_err(merchant_error)?;
        success(
            StatusCode::OK,
            WebhookSettings {
                webhook_url: row.webhook_url.unwrap_or_default(),
                signing_secret: secret.expose().to_string(),
            },
        )
    })
    .await
    .map_err(RestError::internal)?;
    Ok(respond(answer?))
}

#[allow(dead_code)] // named in the OpenAPI document only
#[derive(ToSchema)]
pub struct MerchantResponse {
    success: bool,
    data: Merchant,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct WebhookSettingsResponse {
    success: bool,
    data: WebhookSettings,
}
