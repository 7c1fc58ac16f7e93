//! `/v1/payments/cards`: save a card (the Stripe customer made if needed,
//! the payment method attached), list, delete (detached at Stripe, the
//! record kept without its customer).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{read_body, respond, success, success_list, RestError};
use super::payments::{
    check_id_text, check_text, model, page_query, query_page, record_id, written_record, ErrorResponse, Pagination,
};
use super::views::{self, CARD_MODEL, CUSTOMER_MODEL};
use super::{authorize, dispatch, idempotency, store_of, tenant};
use crate::db::models::record::Record;
use crate::db::query::{Filter, FilterOp};
use crate::instance::Instance;
use crate::merchants::keys::{Principal, Scope};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveCard {
    /// The Stripe payment method (`pm_…`) Stripe.js collected.
    pub payment_method_id: String,
    /// The customer to save it on: an existing Stripe customer (`cus_…`)…
    pub customer_id: Option<String>,
    /// …or found by email among this merchant's customers, else created.
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListCards {
    /// Only cards of this Stripe customer (`cus_…`).
    pub customer: Option<String>,
    /// Also deleted (detached) cards.
    pub include_deleted: Option<bool>,
    /// 1 to 100, 20 by default.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// The principal's card `id` that is still saved on a customer.
pub(crate) fn load_active_card(instance: &Instance, principal: &Principal, id: &str) -> Result<Record, RestError> {
    let card = load_card(instance, principal, id)?;
    if !views::card(&card).active {
        return Err(RestError::not_found("card"));
    }
    Ok(card)
}

fn load_card(instance: &Instance, principal: &Principal, id: &str) -> Result<Record, RestError> {
    let id = record_id(id, "card")?;
    let model = model(instance, CARD_MODEL)?;
    store_of(instance, principal)
        .get_record(&model, id)
        .map_err(RestError::internal)?
        .ok_or_else(|| RestError::not_found("card"))
}

fn check_email(email: &str) -> Result<(), RestError> {
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(RestError::invalid_field("customer_email", "must be an email address"));
    }
    Ok(())
}

#[utoipa::path(
    post, path = "/v1/payments/cards", tag = "cards",
    request_body = SaveCard,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 201, body = inline(CardResponse)),
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
    let principal = authorize(&req, &instance, Scope::PaymentsWrite).await?;
    let input: SaveCard = read_body(&body)?;
    check_id_text("payment_method_id", &input.payment_method_id)?;
    if let Some(customer) = &input.customer_id {
        check_id_text("customer_id", customer)?;
    }
    if let Some(email) = &input.customer_email {
        check_email(email)?;
    }
    if let Some(name) = &input.customer_name {
        check_text("customer_name", name)?;
    }
    let running = (instance.clone(), principal.clone());
    idempotency::run(&req, &instance, &principal, &body, move |key| {
        let (instance, principal) = running;
        save_card(&instance, &principal, input, key)
    })
    .await
}

fn save_card(
    instance: &Instance,
    principal: &Principal,
    input: SaveCard,
    key: Option<String>,
) -> Result<(StatusCode, Value), RestError> {
    let tenant = tenant(instance, principal)?;
    let store = store_of(instance, principal);
    let gateway_key = |purpose: &str| key.as_deref().map(|k| idempotency::gateway_key(principal, k, purpose));
    let customer = match (&input.customer_id, &input.customer_email) {
        (Some(id), _) => id.clone(),
        (None, email) => {
            let customers = model(instance, CUSTOMER_MODEL)?;
            let known = match email {
                Some(email) => store
                    .find_record(
                        &customers,
                        &serde_json::Map::from_iter([("email".to_string(), json!(email))]),
                    )
                    .map_err(RestError::internal)?
                    .filter(|c| c.properties.get("deleted") != Some(&json!(true))),
                None => None,
            };
            match known.and_then(|c| {
                c.properties
                    .get("gateway_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }) {
                Some(id) => id,
                None => {
                    let data = json!({ "email": input.customer_email, "name": input.customer_name });
                    let outcome = dispatch(instance, &tenant, "create_customer", data, gateway_key("customer"))?;
                    written_record(instance, principal, &outcome, CUSTOMER_MODEL)?
                        .and_then(|c| {
                            c.properties
                                .get("gateway_id")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        })
                        .ok_or_else(|| RestError::internal("create_customer wrote no customer"))?
                }
            }
        }
    };
    // The customer's first saved card is its default.
    let cards = model(instance, CARD_MODEL)?;
    let saved = store
        .count_records(&cards, &[Filter::new("customer_id", FilterOp::Eq(json!(customer)))])
        .map_err(RestError::internal)?;
    let data = json!({
        "gateway_id": input.payment_method_id,
        "customer": customer,
        "is_default": saved == 0,
    });
    let outcome = dispatch(instance, &tenant, "attach_payment_method", data, gateway_key("attach"))?;
    let card = written_record(instance, principal, &outcome, CARD_MODEL)?
        .ok_or_else(|| RestError::internal("attach_payment_method wrote no card"))?;
    success(StatusCode::CREATED, views::card(&card))
}

#[utoipa::path(
    get, path = "/v1/payments/cards", tag = "cards",
    params(ListCards),
    responses(
        (status = 200, body = inline(CardListResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 429, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list(req: HttpRequest, instance: web::Data<Arc<Instance>>) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::PaymentsRead).await?;
    let query = web::Query::<ListCards>::from_query(req.query_string())
        .map_err(|e| RestError::invalid_parameter("query", e.to_string()))?
        .into_inner();
    let answer = web::block(move || {
        let mut filters = Vec::new();
        match &query.customer {
            Some(customer) => {
                if customer.len() > 255 {
                    return Err(RestError::invalid_parameter("customer", "is too long"));
                }
                filters.push(Filter::new("customer_id", FilterOp::Eq(json!(customer))));
            }
            None if !query.include_deleted.unwrap_or(false) => {
                filters.push(Filter::new("customer_id", FilterOp::Exists(true)));
            }
            None => {}
        }
        let record_query = page_query(filters, query.limit, query.cursor)?;
        let (records, next) = query_page(&instance, &principal, CARD_MODEL, &record_query)?;
        success_list(records.iter().map(views::card).collect::<Vec<_>>(), next)
    })
    .await
    .map_err(RestError::internal)?;
    Ok(respond(answer?))
}

#[utoipa::path(
    delete, path = "/v1/payments/cards/{id}", tag = "cards",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, description = "The card, now inactive", body = inline(CardResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 404, body = inline(ErrorResponse)),
        (status = 409, body = inline(ErrorResponse)), (status = 422, body = inline(ErrorResponse)),
        (status = 429, body = inline(ErrorResponse)), (status = 502, body = inline(ErrorResponse)),
        (status = 402, body = inline(ErrorResponse)), (status = 503, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn delete(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::PaymentsWrite).await?;
    let running = (instance.clone(), principal.clone(), id.into_inner());
    idempotency::run(&req, &instance, &principal, &body, move |key| {
        let (instance, principal, id) = running;
        let card = load_active_card(&instance, &principal, &id)?;
        let gateway_id = card
            .properties
            .get("gateway_id")
            .and_then(Value::as_str)
            .ok_or_else(|| RestError::internal("a saved card without gateway_id"))?
            .to_string();
        let tenant = tenant(&instance, &principal)?;
        let key = key.map(|k| idempotency::gateway_key(&principal, &k, "detach"));
        let data = json!({ "gateway_id": gateway_id, "id": card.id.to_string() });
        dispatch(&instance, &tenant, "detach_payment_method", data, key)?;
        let card = load_card(&instance, &principal, &id)?;
        success(StatusCode::OK, views::card(&card))
    })
    .await
}

#[allow(dead_code)] // named in the OpenAPI document only
#[derive(ToSchema)]
pub struct CardResponse {
    success: bool,
    data: views::Card,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct CardListResponse {
    success: bool,
    data: Vec<views::Card>,
    pagination: Pagination,
}
