//! The REST envelope: `{"success": true, "data": …}` for answers,
//! `{"success": false, "error": {"code", "message", "details"}}` with the
//! HTTP status for errors; bodies read with field-level errors.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::merchants::keys::Scope;

/// An error answer. `details` says which field, which scope, what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RestError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Boxed: errors travel in every `Result` of the REST layer.
    pub details: Box<Value>,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl RestError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> RestError {
        RestError {
            status,
            code,
            message: message.into(),
            details: Box::new(Value::Null),
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> RestError {
        self.details = Box::new(details);
        self
    }

    pub fn unauthorized() -> RestError {
        RestError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required: X-API-Key: <key> or Authorization: Bearer <key>",
        )
    }

    pub fn missing_scope(scope: Scope) -> RestError {
        RestError::new(
            StatusCode::FORBIDDEN,
            "missing_scope",
            format!("this API key lacks the scope `{scope}`"),
        )
        .with_details(json!({ "required_scope": scope.as_str() }))
    }

    pub fn rate_limited(seconds: u64) -> RestError {
        let mut error = RestError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests with this API key; retry in {seconds} s"),
        );
        error.retry_after = Some(seconds);
        error
    }

    pub fn not_found(what: &str) -> RestError {
        RestError::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    /// One field is wrong: 422 with `details.fields.<field>`.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> RestError {
        let message = message.into();
        RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            format!("{field}: {message}"),
        )
        .with_details(json!({ "fields": { field: message } }))
    }

    /// A query parameter is wrong: 400 naming it.
    pub fn invalid_parameter(name: &str, message: impl Into<String>) -> RestError {
        let message = message.into();
        RestError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("{name}: {message}"),
        )
        .with_details(json!({ "parameter": name }))
    }

    pub fn provider_not_configured() -> RestError {
        RestError::new(
            StatusCode::CONFLICT,
            "provider_not_configured",
            "this merchant has no Stripe credentials yet: PUT /v1/merchant/providers",
        )
    }

    /// Our own failure: the details go to the log only.
    pub fn internal(error: impl std::fmt::Display) -> RestError {
        tracing::error!(target: "payforms::rest", "internal error: {error}");
        RestError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error")
    }

    /// Whether the provider was asked (its answer is part of the error):
    /// only then is an Idempotency-Key's answer kept.
    pub fn reached_provider(&self) -> bool {
        self.code == "payment_failed"
            || self.code == "invalid_request"
            || (self.code.starts_with("provider_") && self.code != "provider_not_configured")
    }

    pub fn body(&self) -> Value {
        json!({
            "success": false,
            "error": { "code": self.code, "message": self.message, "details": *self.details },
        })
    }
}

impl ResponseError for RestError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(self.body())
    }
}

/// `{"success": true, "data": data}` with `status`.
pub fn success(status: StatusCode, data: impl Serialize) -> Result<(StatusCode, Value), RestError> {
    let data = serde_json::to_value(data).map_err(RestError::internal)?;
    Ok((status, json!({ "success": true, "data": data })))
}

/// A list: `data` and the cursor of the next page.
pub fn success_list(items: impl Serialize, next_cursor: Option<String>) -> Result<(StatusCode, Value), RestError> {
    let data = serde_json::to_value(items).map_err(RestError::internal)?;
    Ok((
        StatusCode::OK,
        json!({
            "success": true,
            "data": data,
            "pagination": { "has_more": next_cursor.is_some(), "next_cursor": next_cursor },
        }),
    ))
}

pub fn respond((status, body): (StatusCode, Value)) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// The JSON body as `T`; a wrong field is a 422 that names it (its path),
/// a body that is not JSON a 400.
pub fn read_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body must be a JSON object",
        ));
    }
    // serde_json bounds nesting (128 levels) on its own.
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        RestError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not JSON: {e}"),
        )
    })?;
    // Card numbers never reach payforms: not as a payment method, not in
    // metadata, not behind JSON escapes. Refused before anything reads
    // them; never echoed.
    if crate::card_numbers::value_holds_card_number(&value) {
        return Err(RestError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "card_number_refused",
            "card numbers are never sent to payforms: collect the card with Stripe.js and send its payment method (pm_…)",
        ));
    }
    let parsed: Result<T, _> = serde_path_to_error::deserialize(value);
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => {
            let path = e.path().to_string();
            // A value sent in the wrong place (a key where an object was
            // expected) is not echoed back.
            let message = without_quoted(&strip_position(&e.into_inner().to_string()));
            if path == "." || path.is_empty() {
                // A missing field names itself in serde's message.
                let field = message
                    .split('`')
                    .nth(1)
                    .filter(|_| message.starts_with("missing field") || message.starts_with("unknown field"))
                    .unwrap_or("body")
                    .to_string();
                return Err(RestError::invalid_field(&field, message));
            }
            Err(RestError::invalid_field(&path, message))
        }
    }
}

/// `invalid type: string "sk_live_…", expected …` without the string.
fn without_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

/// serde_json's " at line 1 column 12" says nothing to an API caller.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// Anything under `/v1` that is not an endpoint.
pub async fn not_found() -> HttpResponse {
    respond((
        StatusCode::NOT_FOUND,
        RestError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint; see /v1/openapi.json",
        )
        .body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        amount: String,
        nested: Option<Nested>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Nested {
        secret_key: String,
    }

    #[test]
    fn body_errors_name_the_field() {
        let missing = read_body::<Input>(br#"{}"#).unwrap_err();
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(missing.details["fields"]["amount"], "missing field `amount`");
        let nested = read_body::<Input>(br#"{"amount": "1", "nested": {"secret_key": 5}}"#).unwrap_err();
        assert!(
            nested.details["fields"]["nested.secret_key"].is_string(),
            "{:?}",
            nested.details
        );
        let unknown = read_body::<Input>(br#"{"amount": "1", "evil": 1}"#).unwrap_err();
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        let not_json = read_body::<Input>(b"{amount").unwrap_err();
        assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
        let trailing = read_body::<Input>(br#"{"amount": "1"} x"#).unwrap_err();
        assert_eq!(trailing.status, StatusCode::BAD_REQUEST);
        let escaped = read_body::<Input>(br#"{"amount": "\u0034242424242424242"}"#).unwrap_err();
        assert_eq!(escaped.code, "card_number_refused");
        let echoed = read_body::<Input>(br#"{"amount": "1", "nested": "hush-hush-value"}"#).unwrap_err();
        assert!(!echoed.message.contains("hush-hush-value"), "{}", echoed.message);
        let empty = read_body::<Input>(b"  ").unwrap_err();
        assert_eq!(empty.code, "invalid_json");
    }
}
