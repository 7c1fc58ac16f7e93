//! `/v1/payments`: create (by payment method or saved card), list with
//! filters, get, capture, cancel.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{read_body, respond, success, success_list, RestError};
use super::views::{self, PaymentStatus, PAYMENT_MODEL};
use super::{authorize, dispatch, idempotency, store_of, tenant};
use crate::db::models::record::Record;
use crate::db::query::{Filter, FilterOp, RecordQuery};
use crate::instance::Instance;
use crate::merchants::keys::{Principal, Scope};
use crate::money::Currency;

/// Most metadata keys (Stripe's limit), their and their values' lengths.
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_LEN: usize = 40;
const MAX_METADATA_VALUE_LEN: usize = 500;
const MAX_ID_LEN: usize = 255;
const MAX_TEXT_LEN: usize = 1000;
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

/// A decimal amount: a JSON number (`50.00`) or a string (`"50.00"`).
pub fn amount_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let one_of = utoipa::openapi::schema::OneOfBuilder::new()
        .item(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::Number))
        .item(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::String)
                .pattern(Some(r"^[0-9]+(\.[0-9]+)?$")),
        )
        .description(Some(
            "In the currency's unit: 50.00 USD, 500 JPY, 1.250 KWD; more decimals than the currency has are refused",
        ))
        .build();
    utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::OneOf(one_of))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    #[schema(schema_with = amount_schema)]
    pub amount: Value,
    /// Three letters, ISO 4217.
    #[schema(example = "USD")]
    pub currency: String,
    /// `stripe` (the default).
    pub provider: Option<String>,
    /// A Stripe payment method (`pm_…`) collected by Stripe.js.
    pub payment_method: Option<String>,
    /// A card saved with `POST /v1/payments/cards`: charged off-session.
    pub saved_card_id: Option<String>,
    /// Where the customer returns after 3-D Secure.
    pub return_url: Option<String>,
    /// A Stripe customer (`cus_…`).
    pub customer: Option<String>,
    pub description: Option<String>,
    /// False: authorize only; capture later with `/capture`.
    pub capture: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapturePayment {
    /// Less than the authorized amount releases the rest.
    #[schema(schema_with = amount_schema)]
    pub amount: Option<Value>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPayment {
    /// `duplicate`, `fraudulent`, `requested_by_customer` or `abandoned`.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPayments {
    /// `stripe`.
    pub provider: Option<String>,
    pub status: Option<PaymentStatus>,
    pub currency: Option<String>,
    /// In the currency's unit; needs `currency`.
    pub min_amount: Option<String>,
    pub max_amount: Option<String>,
    /// RFC 3339: created at or after.
    pub since: Option<String>,
    /// RFC 3339: created before.
    pub until: Option<String>,
    /// A Stripe customer id (`cus_…`) or an email.
    pub customer: Option<String>,
    /// 1 to 100, 20 by default.
    pub limit: Option<usize>,
    /// `pagination.next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A request body where none is required: empty is the default.
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    read_body(body)
}

pub(crate) fn check_id_text(field: &str, value: &str) -> Result<(), RestError> {
    // Provider ids have a prefix (`pm_`, `cus_`): anything else is refused.
    let well_formed = value.len() <= MAX_ID_LEN
        && value
            .split_once('_')
            .is_some_and(|(prefix, rest)| !prefix.is_empty() && !rest.is_empty())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !well_formed {
        return Err(RestError::invalid_field(
            field,
            format!("must be a provider id such as pm_… (letters, digits and _, at most {MAX_ID_LEN})"),
        ));
    }
    Ok(())
}

pub(crate) fn check_text(field: &str, value: &str) -> Result<(), RestError> {
    if value.chars().count() > MAX_TEXT_LEN || value.chars().any(|c| c.is_control()) {
        return Err(RestError::invalid_field(
            field,
            format!("must be at most {MAX_TEXT_LEN} characters without control characters"),
        ));
    }
    Ok(())
}

fn check_metadata(metadata: &Map<String, Value>) -> Result<(), RestError> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(RestError::invalid_field(
            "metadata",
            format!("at most {MAX_METADATA_KEYS} keys"),
        ));
    }
    for (key, value) in metadata {
        let field = format!(
            "metadata.{}",
            key.chars().take(MAX_METADATA_KEY_LEN).collect::<String>()
        );
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_LEN || key.chars().any(|c| c.is_control()) {
            return Err(RestError::invalid_field(
                &field,
                format!("keys are 1 to {MAX_METADATA_KEY_LEN} characters"),
            ));
        }
        match value {
            Value::String(s) if s.chars().count() <= MAX_METADATA_VALUE_LEN => {}
            _ => {
                return Err(RestError::invalid_field(
                    &field,
                    format!("values are strings of at most {MAX_METADATA_VALUE_LEN} characters"),
                ))
            }
        }
    }
    Ok(())
}

fn check_return_url(url: &str) -> Result<(), RestError> {
    let parsed = url::Url::parse(url).map_err(|_| RestError::invalid_field("return_url", "must be an absolute URL"))?;
    if url.len() > 2048 || !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(RestError::invalid_field(
            "return_url",
            "must be an absolute http(s) URL of at most 2048 characters",
        ));
    }
    Ok(())
}

pub(crate) fn currency_of(field: &str, text: &str) -> Result<Currency, RestError> {
    Currency::parse(text).map_err(|e| RestError::invalid_field(field, e.to_string()))
}

/// A positive amount in minor units, exactly.
pub(crate) fn minor_units(field: &str, currency: &Currency, amount: &Value) -> Result<i64, RestError> {
    let minor = currency
        .minor_units_of(amount)
        .map_err(|e| RestError::invalid_field(field, e.to_string()))?;
    if minor <= 0 {
        return Err(RestError::invalid_field(field, "must be greater than 0"));
    }
    Ok(minor)
}

/// A record id from the path; anything else is a 404 (no such thing).
pub(crate) fn record_id(text: &str, what: &str) -> Result<i64, RestError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| RestError::not_found(what))
}

pub(crate) fn model(instance: &Instance, name: &str) -> Result<Arc<crate::db::schema::ModelType>, RestError> {
    instance
        .current()
        .app
        .model_type(name)
        .cloned()
        .ok_or_else(|| RestError::internal(format!("the app has no {name} model")))
}

/// The principal's payment `id`, or 404 (another merchant's is not found).
fn load_payment(instance: &Instance, principal: &Principal, id: &str) -> Result<Record, RestError> {
    let id = record_id(id, "payment")?;
    let model = model(instance, PAYMENT_MODEL)?;
    store_of(instance, principal)
        .get_record(&model, id)
        .map_err(RestError::internal)?
        .ok_or_else(|| RestError::not_found("payment"))
}

/// The payment a request type's answer wrote, with the next action from
/// the provider's answer when the customer must act.
fn payment_answer(
    instance: &Instance,
    principal: &Principal,
    outcome: &crate::gateway::DispatchOutcome,
) -> Result<views::Payment, RestError> {
    let record =
        written_record(instance, principal, outcome, PAYMENT_MODEL)?.ok_or_else(|| match outcome.errors.first() {
            Some(error) => RestError::new(StatusCode::PAYMENT_REQUIRED, "payment_failed", error.message.clone()),
            None => RestError::internal("the request type wrote no payment"),
        })?;
    let mut view = views::payment(&record, principal.merchant.as_str());
    if let Some(error) = outcome.errors.first() {
        if view.failure.as_ref().is_none_or(|f| f.message.is_none()) {
            view.failure = Some(views::Failure {
                code: error.code.clone(),
                message: Some(error.message.clone()),
            });
        }
    }
    let body = outcome.response.as_ref().map(|r| &r["body"]);
    if let (Some(action), Some(next)) = (view.next_action.as_mut(), body.map(|b| &b["next_action"])) {
        if let Some(url) = next["redirect_to_url"]["url"].as_str() {
            action.kind = "redirect_to_url".into();
            action.redirect_url = Some(url.to_string());
        }
    }
    Ok(view)
}

/// The record a request type's mapper wrote (read back from the
/// merchant's store), if it wrote one of `model_name`.
pub(crate) fn written_record(
    instance: &Instance,
    principal: &Principal,
    outcome: &crate::gateway::DispatchOutcome,
    model_name: &str,
) -> Result<Option<Record>, RestError> {
    if outcome.model.as_deref().is_some_and(|m| m != model_name) {
        return Ok(None);
    }
    let Some(id) = outcome
        .record
        .as_ref()
        .and_then(|r| r["id"].as_str())
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    let model = model(instance, model_name)?;
    store_of(instance, principal)
        .get_record(&model, id)
        .map_err(RestError::internal)
}

#[utoipa::path(
    post, path = "/v1/payments", tag = "payments",
    request_body = CreatePayment,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same request")),
    responses(
        (status = 201, description = "The payment, also when declined (`status: failed`)", body = inline(PaymentResponse)),
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
    let input: CreatePayment = read_body(&body)?;
    let running = (instance.clone(), principal.clone());
    idempotency::run(&req, &instance, &principal, &body, move |key| {
        let (instance, principal) = running;
        create_payment(&instance, &principal, input, key)
    })
    .await
}

fn create_payment(
    instance: &Instance,
    principal: &Principal,
    input: CreatePayment,
    key: Option<String>,
) -> Result<(StatusCode, Value), RestError> {
    if let Some(provider) = &input.provider {
        if !provider.eq_ignore_ascii_case("stripe") {
            return Err(RestError::invalid_field("provider", "must be stripe"));
        }
    }
    let currency = currency_of("currency", &input.currency)?;
    let amount = minor_units("amount", &currency, &input.amount)?;
    let mut data = Map::new();
    match (&input.payment_method, &input.saved_card_id) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(RestError::invalid_field(
                "payment_method",
                "give either payment_method or saved_card_id",
            ))
        }
        (Some(method), None) => {
            check_id_text("payment_method", method)?;
            data.insert("payment_method".into(), json!(method));
        }
        (None, Some(card_id)) => {
            let card = super::cards::load_active_card(instance, principal, card_id)
                .map_err(|_| RestError::invalid_field("saved_card_id", "no such saved card"))?;
            let p = &card.properties;
            let (Some(method), Some(customer)) = (p.get("gateway_id"), p.get("customer_id")) else {
                return Err(RestError::invalid_field(
                    "saved_card_id",
                    "the card is not saved on a customer",
                ));
            };
            data.insert("payment_method".into(), method.clone());
            data.insert("customer".into(), customer.clone());
            // Charged without the customer present: a recurring charge.
            data.insert("off_session".into(), json!(true));
        }
    }
    if let Some(customer) = &input.customer {
        check_id_text("customer", customer)?;
        if data.contains_key("customer") {
            return Err(RestError::invalid_field("customer", "a saved card brings its customer"));
        }
        data.insert("customer".into(), json!(customer));
    }
    if let Some(url) = &input.return_url {
        check_return_url(url)?;
        data.insert("return_url".into(), json!(url));
    }
    if let Some(description) = &input.description {
        check_text("description", description)?;
        data.insert("description".into(), json!(description));
    }
    if let Some(metadata) = &input.metadata {
        check_metadata(metadata)?;
        data.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    if let Some(capture) = input.capture {
        data.insert("capture".into(), json!(capture));
    }
    data.insert("amount".into(), json!(amount));
    data.insert("currency".into(), json!(currency.code));
    let gateway_key = key
        .as_deref()
        .map(|k| idempotency::gateway_key(principal, k, "payment"));
    if let Some(key) = &key {
        data.insert("api_idempotency_key".into(), json!(key));
    }
    let tenant = tenant(instance, principal)?;
    let version = instance.current();
    let sent = instance.gateway.dispatch_for(
        &tenant,
        &version.app,
        "create_payment",
        Value::Object(data),
        gateway_key,
        crate::gateway::Caller::Visitor,
    );
    match sent {
        Ok(outcome) => success(StatusCode::CREATED, payment_answer(instance, principal, &outcome)?),
        // Declined: the payment exists, as failed, with the reason.
        Err(failure) if failure.kind == crate::gateway::FailureKind::Declined && failure.written.is_some() => {
            let id = failure.written.as_ref().map_or(0, |w| w.id);
            let model = model(instance, PAYMENT_MODEL)?;
            let record = store_of(instance, principal)
                .get_record(&model, id)
                .map_err(RestError::internal)?
                .ok_or_else(|| RestError::from_dispatch(failure.clone()))?;
            let mut view = views::payment(&record, principal.merchant.as_str());
            view.failure = Some(views::Failure {
                code: failure
                    .gateway_code
                    .clone()
                    .or_else(|| view.failure.as_ref().and_then(|f| f.code.clone())),
                message: Some(failure.message.clone()),
            });
            success(StatusCode::CREATED, view)
        }
        Err(failure) => Err(RestError::from_dispatch(failure)),
    }
}

#[utoipa::path(
    get, path = "/v1/payments", tag = "payments",
    params(ListPayments),
    responses(
        (status = 200, body = inline(PaymentListResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 429, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn list(req: HttpRequest, instance: web::Data<Arc<Instance>>) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::PaymentsRead).await?;
    let query = web::Query::<ListPayments>::from_query(req.query_string())
        .map_err(|e| RestError::invalid_parameter("query", e.to_string()))?
        .into_inner();
    let answer = web::block(move || list_payments(&instance, &principal, query))
        .await
        .map_err(RestError::internal)?;
    Ok(respond(answer?))
}

pub(crate) fn time_parameter(name: &str, text: &str) -> Result<Value, RestError> {
    let time = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|_| RestError::invalid_parameter(name, "must be an RFC 3339 time such as 2025-06-01T00:00:00Z"))?;
    Ok(json!(time.with_timezone(&chrono::Utc).to_rfc3339()))
}

pub(crate) fn page_query(
    filters: Vec<Filter>,
    limit: Option<usize>,
    cursor: Option<String>,
) -> Result<RecordQuery, RestError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(RestError::invalid_parameter(
            "limit",
            format!("must be 1 to {MAX_LIMIT}"),
        ));
    }
    if cursor.as_ref().is_some_and(|c| c.len() > 1000) {
        return Err(RestError::invalid_parameter("cursor", "is not a cursor of this list"));
    }
    Ok(RecordQuery {
        filters,
        first: Some(limit),
        after: cursor,
        ..RecordQuery::default()
    })
}

/// A page of records, or 400 for a cursor that is not one of this list's.
pub(crate) fn query_page(
    instance: &Instance,
    principal: &Principal,
    model_name: &str,
    query: &RecordQuery,
) -> Result<(Vec<Record>, Option<String>), RestError> {
    let model = model(instance, model_name)?;
    match store_of(instance, principal).query_records(&model, query) {
        Ok(page) => {
            let next = page.has_next_page.then_some(page.end_cursor).flatten();
            Ok((page.records, next))
        }
        Err(crate::db::StoreError::InvalidCursor(_)) => {
            Err(RestError::invalid_parameter("cursor", "is not a cursor of this list"))
        }
        Err(crate::db::StoreError::Validation(_)) => {
            Err(RestError::invalid_parameter("query", "a filter value is out of range"))
        }
        Err(e) => Err(RestError::internal(e)),
    }
}

fn list_payments(
    instance: &Instance,
    principal: &Principal,
    query: ListPayments,
) -> Result<(StatusCode, Value), RestError> {
    let mut filters = Vec::new();
    if let Some(provider) = &query.provider {
        if !provider.eq_ignore_ascii_case("stripe") {
            return Err(RestError::invalid_parameter("provider", "must be stripe"));
        }
    }
    if let Some(status) = query.status {
        filters.push(Filter::new(
            "state",
            FilterOp::In(status.states().iter().map(|s| json!(s)).collect()),
        ));
    }
    let currency = match &query.currency {
        Some(text) => Some(Currency::parse(text).map_err(|e| RestError::invalid_parameter("currency", e.to_string()))?),
        None => None,
    };
    if let Some(currency) = &currency {
        filters.push(Filter::new("currency", FilterOp::Eq(json!(currency.code))));
    }
    for (name, bound) in [("min_amount", &query.min_amount), ("max_amount", &query.max_amount)] {
        let Some(text) = bound else { continue };
        let Some(currency) = &currency else {
            return Err(RestError::invalid_parameter(
                name,
                "needs currency: amounts are in the currency's unit",
            ));
        };
        let minor = currency
            .minor_units(text)
            .map_err(|e| RestError::invalid_parameter(name, e.to_string()))?;
        let op = if name == "min_amount" {
            FilterOp::Gte(json!(minor))
        } else {
            FilterOp::Lte(json!(minor))
        };
        filters.push(Filter::new("amount", op));
    }
    if let Some(since) = &query.since {
        filters.push(Filter::new(
            "created_at",
            FilterOp::Gte(time_parameter("since", since)?),
        ));
    }
    if let Some(until) = &query.until {
        filters.push(Filter::new("created_at", FilterOp::Lt(time_parameter("until", until)?)));
    }
    if let Some(customer) = &query.customer {
        if customer.len() > MAX_ID_LEN {
            return Err(RestError::invalid_parameter("customer", "is too long"));
        }
        let property = if customer.contains('@') { "email" } else { "customer_id" };
        filters.push(Filter::new(property, FilterOp::Eq(json!(customer))));
    }
    let record_query = page_query(filters, query.limit, query.cursor)?;
    let (records, next) = query_page(instance, principal, PAYMENT_MODEL, &record_query)?;
    let views: Vec<views::Payment> = records
        .iter()
        .map(|r| views::payment(r, principal.merchant.as_str()))
        .collect();
    success_list(views, next)
}

#[utoipa::path(
    get, path = "/v1/payments/{id}", tag = "payments",
    params(("id" = String, Path, description = "The payment's id")),
    responses(
        (status = 200, body = inline(PaymentResponse)),
        (status = 401, body = inline(ErrorResponse)), (status = 403, body = inline(ErrorResponse)),
        (status = 404, body = inline(ErrorResponse)), (status = 429, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn get(
    req: HttpRequest,
    id: web::Path<String>,
    instance: web::Data<Arc<Instance>>,
) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::PaymentsRead).await?;
    let answer = web::block(move || {
        let record = load_payment(&instance, &principal, &id)?;
        success(StatusCode::OK, views::payment(&record, principal.merchant.as_str()))
    })
    .await
    .map_err(RestError::internal)?;
    Ok(respond(answer?))
}

#[utoipa::path(
    post, path = "/v1/payments/{id}/capture", tag = "payments",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Option<CapturePayment>),
    responses(
        (status = 200, body = inline(PaymentResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 404, body = inline(ErrorResponse)),
        (status = 409, body = inline(ErrorResponse)), (status = 422, body = inline(ErrorResponse)),
        (status = 429, body = inline(ErrorResponse)), (status = 502, body = inline(ErrorResponse)),
        (status = 402, body = inline(ErrorResponse)), (status = 503, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn capture(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::PaymentsWrite).await?;
    let input: CapturePayment = optional_body(&body)?;
    let running = (instance.clone(), principal.clone(), id.into_inner());
    idempotency::run(&req, &instance, &principal, &body, move |key| {
        let (instance, principal, id) = running;
        let record = load_payment(&instance, &principal, &id)?;
        let gateway_id = payment_gateway_id(&record)?;
        let mut data = json!({ "gateway_id": gateway_id });
        if let Some(amount) = &input.amount {
            let currency = record_currency(&record)?;
            data["amount_to_capture"] = json!(minor_units("amount", &currency, amount)?);
        }
        act_on_payment(&instance, &principal, "capture_payment", "capture", data, key)
    })
    .await
}

#[utoipa::path(
    post, path = "/v1/payments/{id}/cancel", tag = "payments",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Option<CancelPayment>),
    responses(
        (status = 200, body = inline(PaymentResponse)),
        (status = 400, body = inline(ErrorResponse)), (status = 401, body = inline(ErrorResponse)),
        (status = 403, body = inline(ErrorResponse)), (status = 404, body = inline(ErrorResponse)),
        (status = 409, body = inline(ErrorResponse)), (status = 422, body = inline(ErrorResponse)),
        (status = 429, body = inline(ErrorResponse)), (status = 502, body = inline(ErrorResponse)),
        (status = 402, body = inline(ErrorResponse)), (status = 503, body = inline(ErrorResponse)),
    ),
    security(("api_key" = []), ("bearer" = []))
)]
pub async fn cancel(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
) -> Result<HttpResponse, RestError> {
    let instance = instance.into_inner();
    let principal = authorize(&req, &instance, Scope::PaymentsWrite).await?;
    let input: CancelPayment = optional_body(&body)?;
    if let Some(reason) = &input.reason {
        if !["duplicate", "fraudulent", "requested_by_customer", "abandoned"].contains(&reason.as_str()) {
            return Err(RestError::invalid_field(
                "reason",
                "must be duplicate, fraudulent, requested_by_customer or abandoned",
            ));
        }
    }
    let running = (instance.clone(), principal.clone(), id.into_inner());
    idempotency::run(&req, &instance, &principal, &body, move |key| {
        let (instance, principal, id) = running;
        let record = load_payment(&instance, &principal, &id)?;
        let gateway_id = payment_gateway_id(&record)?;
        if !gateway_id.starts_with("pi_") {
            return Err(RestError::new(
                StatusCode::CONFLICT,
                "invalid_state",
                "only a PaymentIntent that has not succeeded can be canceled",
            ));
        }
        let data = json!({ "gateway_id": gateway_id, "cancellation_reason": input.reason });
        act_on_payment(&instance, &principal, "cancel_payment_intent", "cancel", data, key)
    })
    .await
}

/// Send `request_type` for one of the principal's payments (capture,
/// cancel) and answer with the payment as the mapper left it.
fn act_on_payment(
    instance: &Instance,
    principal: &Principal,
    request_type: &str,
    purpose: &str,
    data: Value,
    key: Option<String>,
) -> Result<(StatusCode, Value), RestError> {
    let tenant = tenant(instance, principal)?;
    let key = key.map(|k| idempotency::gateway_key(principal, &k, purpose));
    let outcome = dispatch(instance, &tenant, request_type, data, key)?;
    success(StatusCode::OK, payment_answer(instance, principal, &outcome)?)
}

pub(crate) fn payment_gateway_id(record: &Record) -> Result<String, RestError> {
    record
        .properties
        .get("gateway_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            RestError::new(
                StatusCode::CONFLICT,
                "invalid_state",
                "the payment has no provider reference yet",
            )
        })
}

pub(crate) fn record_currency(record: &Record) -> Result<Currency, RestError> {
    record
        .properties
        .get("currency")
        .and_then(Value::as_str)
        .and_then(|c| Currency::parse(c).ok())
        .ok_or_else(|| RestError::new(StatusCode::CONFLICT, "invalid_state", "the payment has no currency"))
}

#[allow(dead_code)] // named in the OpenAPI document only
#[derive(ToSchema)]
pub struct PaymentResponse {
    success: bool,
    data: views::Payment,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct PaymentListResponse {
    success: bool,
    data: Vec<views::Payment>,
    pagination: Pagination,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct Pagination {
    has_more: bool,
    /// Pass as `cursor` for the next page.
    next_cursor: Option<String>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct ErrorResponse {
    /// Always false.
    success: bool,
    error: ErrorBody,
}

#[allow(dead_code)]
#[derive(ToSchema)]
pub struct ErrorBody {
    /// `unauthorized`, `missing_scope`, `validation_error`, `not_found`, …
    code: String,
    message: String,
    /// Which field (`fields`), scope (`required_scope`) or parameter.
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
}
