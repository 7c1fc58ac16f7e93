//! `/v1/webhook-events`: the Stripe events received for the merchant, and
//! `POST /v1/webhooks/stripe/{merchant}`, where Stripe sends them.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::authorize;
use super::envelope::{respond, success_list, RestError};
use super::payments::{ErrorResponse, Pagination};
use super::views::time_text;
use crate::db::models::webhook_event::{self, WebhookStatus};
use crate::instance::Instance;
use crate::merchant_id::MerchantId;
use crate::merchants::keys::Scope;
use crate::webhooks::inbox::{self, Rejection};
use crate::webhooks::ingest::Ingest;
use crate::webhooks::worker::WorkerSignal;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEvents {
    /// `pending`, `processing`, `processed`, `skipped` or `failed`.
    pub status: Option<String>,
    /// 1 to 100, 20 by default.
    pub limit: Option<usize>,
    /// `pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEvent {
    pub id: String,
    /// Stripe's event id (`evt_…`).
    pub provider_event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `processing`, `processed`, `skipped` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub received_at: String,
}

#[utoipa::path(
    get, path = "/v1/webhook-events", tag = "webhooks",
    params(ListEvents),
    responses(
        (status = 200, body = inline(WebhookEventListResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 429, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list(req: HttpRequest, instance: web::Data<Arc<Instance>>) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::WebhooksRead).await?;
    let query = web::Query::<ListEvents>::from_query(req.query_string())
        .map_err(|e| RestError::invalid_parameter("query", e.to_string()))?
        .into_inner();
    let status = match &query.status {
        Some(text) => Some(WebhookStatus::parse(text).ok_or_else(|| {
            RestError::invalid_parameter("status", "must be pending, processing, processed, skipped or failed")
        })?),
        None => None,
    };
    let limit = query.limit.unwrap_or(super::payments::DEFAULT_LIMIT);
    if !(1..=super::payments::MAX_LIMIT).contains(&limit) {
        return Err(RestError::invalid_parameter(
            "limit",
            format!("must be 1 to {}", super::payments::MAX_LIMIT),
        ));
    }
    // The cursor is the id of the last event seen (newest first).
    let after = match &query.cursor {
        Some(cursor) => Some(
            cursor
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| RestError::invalid_parameter("cursor", "is not a cursor of this list"))?,
        ),
        None => None,
    };
    let answer = web::block(move || {
        let mut events = webhook_event::list(
            &instance.store,
            Some(&principal.merchant),
            &webhook_event::EventFilter {
                status,
                object_ids: None,
            },
            limit + 1,
            after,
        )
        .map_err(RestError::internal)?;
        let more = events.len() > limit;
        events.truncate(limit);
        let next = more.then(|| events.last().map(|e| e.id.to_string())).flatten();
        let views: Vec<WebhookEvent> = events
            .into_iter()
            .map(|e| WebhookEvent {
                id: e.id.to_string(),
                provider_event_id: e.event_id,
                kind: e.event_type,
                status: e.status.as_str().to_string(),
                attempts: i64::from(e.attempts),
                last_error: e.last_error,
                received_at: time_text(e.created_at),
            })
            .collect();
        success_list(views, next)
    })
    .await
    .map_err(RestError::internal)?;
    Ok(respond(answer?))
}

/// `POST /v1/webhooks/stripe/{merchant}`: Stripe's events for a merchant,
/// verified with the merchant's webhook secret, stored in its inbox before
/// the 2xx. The same answers as `/webhooks/stripe`.
pub async fn receive(
    req: HttpRequest,
    merchant: web::Path<String>,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
    ingest: web::Data<Ingest>,
    signal: Option<web::Data<WorkerSignal>>,
) -> HttpResponse {
    let refuse = |status: StatusCode, message: &str| {
        HttpResponse::build(status).json(json!({ "error": { "message": message } }))
    };
    let Some(merchant) = MerchantId::parse(&merchant).filter(|m| !m.is_default()) else {
        return refuse(StatusCode::NOT_FOUND, "unknown merchant");
    };
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let looking = (instance.clone(), merchant.clone());
    let secret = web::block(move || {
        let (instance, merchant) = looking;
        crate::merchants::get(&instance.store, &merchant)
            .ok()
            .flatten()
            .and_then(|row| {
                crate::merchants::stripe_webhook_secret(&instance.settings, &row)
                    .ok()
                    .flatten()
            })
    })
    .await
    .ok()
    .flatten();
    let checked = match inbox::check_merchant(secret.as_ref(), header.as_deref(), &body) {
        Ok(checked) => checked,
        Err(Rejection::TooLarge) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
        Err(rejection) => {
            tracing::warn!("webhook for merchant {merchant} rejected: {rejection}");
            return refuse(StatusCode::BAD_REQUEST, &rejection.to_string());
        }
    };
    crate::api::webhooks::store_and_answer(&ingest, merchant, checked, signal).await
}

#[allow(dead_code)] // named in the OpenAPI document only
#[derive(ToSchema)]
pub struct WebhookEventListResponse {
    success: bool,
    data: Vec<WebhookEvent>,
    pagination: Pagination,
}
