//! `/v1/refunds`: refund a payment fully or in part; list refunds.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{read_body, respond, success, success_list, RestError};
use super::payments::{
    amount_schema, minor_units, model, page_query, payment_gateway_id, query_page, record_currency, record_id,
    written_record, ErrorResponse, Pagination,
};
use super::views::{self, PAYMENT_MODEL, REFUND_MODEL};
use super::{authorize, dispatch, idempotency, store_of, tenant};
use crate::db::query::{Filter, FilterOp};
use crate::instance::Instance;
use crate::merchants::keys::{Principal, Scope};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    pub payment_id: String,
    /// Part of the payment, in the currency's unit; omitted: all of it.
    #[schema(schema_with = amount_schema)]
    pub amount: Option<Value>,
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRefunds {
    /// Only refunds of this payment.
    pub payment_id: Option<String>,
    /// 1 to 100, 20 by default.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[utoipa::path(
    post, path = "/v1/refunds", tag = "refunds",
    request_body = CreateRefund,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 201, body = inline(RefundResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 404, body = inline(ErrorResponse)),
        (status = 409, body = inline(ErrorResponse)), (status = 422, body = inline(ErrorResponse)),
        (status = 429, body = inline(ErrorResponse)), (status = 502, body = inline(ErrorResponse)),
        (status = 402, body = inline(ErrorResponse)), (status = 503, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::RefundsWrite).await?;
    let input: CreateRefund = read_body(&body)?;
    if let Some(reason) = &input.reason {
        if !["duplicate", "fraudulent", "requested_by_customer"].contains(&reason.as_str()) {
            return Err(RestError::invalid_field(
                "reason",
                "must be duplicate, fraudulent or requested_by_customer",
            ));
        }
    }
    let running = (instance.clone(), principal.clone());
    idempotency::run(&req, &instance, &principal, &body, move |key| {
        let (instance, principal) = running;
        refund(&instance, &principal, input, key)
    })
    .await
}

fn refund(
    instance: &Instance,
    principal: &Principal,
    input: CreateRefund,
    key: Option<String>,
) -> Result<(StatusCode, Value), RestError> {
    let payments = model(instance, PAYMENT_MODEL)?;
    let id = record_id(&input.payment_id, "payment")
        .map_err(|_| RestError::invalid_field("payment_id", "no such payment"))?;
    let payment = store_of(instance, principal)
        .get_record(&payments, id)
        .map_err(RestError::internal)?
        .ok_or_else(|| RestError::invalid_field("payment_id", "no such payment"))?;
    let gateway_id = payment_gateway_id(&payment)?;
    let amount = match &input.amount {
        Some(amount) => Some(minor_units("amount", &record_currency(&payment)?, amount)?),
        None => None,
    };
    let tenant = tenant(instance, principal)?;
    let data = json!({
        "gateway_id": gateway_id,
        "payment_id": payment.id.to_string(),
        "amount": amount,
        "reason": input.reason,
    });
    let gateway_key = key.as_deref().map(|k| idempotency::gateway_key(principal, k, "refund"));
    let outcome = dispatch(instance, &tenant, "create_refund", data, gateway_key)?;
    let refund = written_record(instance, principal, &outcome, REFUND_MODEL)?
        .ok_or_else(|| RestError::internal("create_refund wrote no refund"))?;
    // The payment shows its refund at once (webhooks confirm it later).
    if gateway_id.starts_with("pi_") {
        if let Err(e) = dispatch(
            instance,
            &tenant,
            "get_payment_intent",
            json!({ "gateway_id": gateway_id }),
            None,
        ) {
            tracing::warn!(target: "payforms::rest", "payment {} not refreshed after its refund: {}", payment.id, e.message);
        }
    }
    success(StatusCode::CREATED, views::refund(&refund))
}

#[utoipa::path(
    get, path = "/v1/refunds", tag = "refunds",
    params(ListRefunds),
    responses(
        (status = 200, body = inline(RefundListResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 429, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list(req: HttpRequest, instance: web::Data<Arc<Instance>>) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::PaymentsRead).await?;
    let query = web::Query::<ListRefunds>::from_query(req.query_string())
        .map_err(|e| RestError::invalid_parameter("query", e.to_string()))?
        .into_inner();
    let answer = web::block(move || {
        let mut filters = Vec::new();
        if let Some(payment_id) = &query.payment_id {
            if payment_id.len() > 32 {
                return Err(RestError::invalid_parameter("payment_id", "is not a payment id"));
            }
            filters.push(Filter::new("payment_id", FilterOp::Eq(json!(payment_id))));
        }
        let record_query = page_query(filters, query.limit, query.cursor)?;
        let (records, next) = query_page(&instance, &principal, REFUND_MODEL, &record_query)?;
        success_list(records.iter().map(views::refund).collect::<Vec<_>>(), next)
    })
    .await
    .map_err(RestError::internal)?;
    Ok(respond(answer?))
}

#[allow(dead_code)] // named in the OpenAPI document only
#[derive(ToSchema)]
pub struct RefundResponse {
    success: bool,
    data: views::Refund,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct RefundListResponse {
    success: bool,
    data: Vec<views::Refund>,
    pagination: Pagination,
}
