//! Stripe's error object and the HTTP statuses that go with it.
//!
//! Every failure the sandbox answers is one of these, rendered as
//! `{"error": {"type", "code", "message", "param", "decline_code"?, "doc_url"?, ...}}`.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Map, Value};

/// The `type` of a Stripe error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    InvalidRequest,
    Card,
    Idempotency,
    Api,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Card => "card_error",
            ErrorType::Idempotency => "idempotency_error",
            ErrorType::Api => "api_error",
        }
    }
}

/// One Stripe API error: status, type, code, message, param and the objects
/// Stripe embeds (a failed PaymentIntent, the declined charge's id, ...).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: u16,
    pub kind: ErrorType,
    pub code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    pub decline_code: Option<String>,
    /// Extra members of the error object: `payment_intent`, `setup_intent`,
    /// `payment_method`, `charge` (boxed: errors travel in every `Result`).
    embedded: Option<Box<Map<String, Value>>>,
}

impl ApiError {
    fn new(status: u16, kind: ErrorType, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            code: None,
            message: message.into(),
            param: None,
            decline_code: None,
            embedded: None,
        }
    }

    /// 400 invalid_request_error.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, ErrorType::InvalidRequest, message)
    }

    /// 402 card_error with Stripe's `code` (card_declined, expired_card, ...).
    pub fn card(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(402, ErrorType::Card, message).with_code(code)
    }

    /// 401: no key, a bad key, or the wrong kind of key.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, ErrorType::InvalidRequest, message)
    }

    /// 400 idempotency_error.
    pub fn idempotency(message: impl Into<String>) -> ApiError {
        ApiError::new(400, ErrorType::Idempotency, message)
    }

    /// 500 api_error: the sandbox itself failed.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, ErrorType::Api, message)
    }

    /// 404 resource_missing, worded as Stripe does: `No such customer: 'cus_x'`.
    pub fn no_such(label: &str, id: &str, param: &str) -> ApiError {
        ApiError::new(404, ErrorType::InvalidRequest, format!("No such {label}: '{id}'"))
            .with_code("resource_missing")
            .with_param(param)
    }

    /// 400 parameter_missing.
    pub fn missing_param(param: &str) -> ApiError {
        ApiError::invalid(format!("Missing required param: {param}."))
            .with_code("parameter_missing")
            .with_param(param)
    }

    /// 400 parameter_unknown.
    pub fn unknown_param(param: &str) -> ApiError {
        ApiError::invalid(format!("Received unknown parameter: {param}"))
            .with_code("parameter_unknown")
            .with_param(param)
    }

    /// 400 parameter_invalid_* for a value of the wrong shape or range.
    pub fn invalid_param(param: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(message)
            .with_code("parameter_invalid")
            .with_param(param)
    }

    /// 400 for an object in a state that forbids the operation.
    pub fn unexpected_state(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(message).with_code(code)
    }

    pub fn with_status(mut self, status: u16) -> ApiError {
        self.status = status;
        self
    }

    pub fn with_code(mut self, code: &str) -> ApiError {
        self.code = Some(code.to_string());
        self
    }

    pub fn with_param(mut self, param: &str) -> ApiError {
        self.param = Some(param.to_string());
        self
    }

    pub fn with_decline_code(mut self, decline_code: &str) -> ApiError {
        self.decline_code = Some(decline_code.to_string());
        self
    }

    /// Embed an object (or an id) in the error, e.g. `payment_intent`.
    pub fn embed(mut self, name: &str, value: Value) -> ApiError {
        self.embedded
            .get_or_insert_with(Default::default)
            .insert(name.to_string(), value);
        self
    }

    /// An embedded object, e.g. the failed `payment_intent`.
    pub fn embedded(&self, name: &str) -> Option<&Value> {
        self.embedded.as_ref().and_then(|m| m.get(name))
    }

    /// Drop the embedded objects (when the error is shown to a person).
    pub fn without_embedded(mut self) -> ApiError {
        self.embedded = None;
        self
    }

    /// The error as Stripe's JSON body.
    pub fn to_body(&self) -> Value {
        let mut error = Map::new();
        if let Some(code) = &self.code {
            error.insert("code".into(), json!(code));
        }
        if let Some(decline_code) = &self.decline_code {
            error.insert("decline_code".into(), json!(decline_code));
        }
        if let Some(code) = &self.code {
            let slug = code.replace('_', "-");
            error.insert(
                "doc_url".into(),
                json!(format!("https://stripe.com/docs/error-codes/{slug}")),
            );
        }
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        for (name, value) in self.embedded.iter().flat_map(|m| m.iter()) {
            error.insert(name.clone(), value.clone());
        }
        error.insert("type".into(), json!(self.kind.as_str()));
        json!({ "error": Value::Object(error) })
    }

    /// The HTTP status as actix's type (500 if the number were ever invalid).
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn to_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self.to_body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_such_uses_stripe_wording_and_code() {
        let e = ApiError::no_such("customer", "cus_x", "id");
        assert_eq!(e.status, 404);
        let body = e.to_body();
        assert_eq!(body["error"]["message"], "No such customer: 'cus_x'");
        assert_eq!(body["error"]["code"], "resource_missing");
        assert_eq!(body["error"]["param"], "id");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(
            body["error"]["doc_url"],
            "https://stripe.com/docs/error-codes/resource-missing"
        );
    }

    #[test]
    fn card_error_is_402_with_decline_code_and_embedded_objects() {
        let e = ApiError::card("card_declined", "Your card was declined.")
            .with_decline_code("insufficient_funds")
            .embed("charge", json!("ch_1"));
        assert_eq!(e.status_code(), StatusCode::PAYMENT_REQUIRED);
        let body = e.to_body();
        assert_eq!(body["error"]["type"], "card_error");
        assert_eq!(body["error"]["decline_code"], "insufficient_funds");
        assert_eq!(body["error"]["charge"], "ch_1");
        assert!(body["error"].get("param").is_none());
    }

    #[test]
    fn error_without_code_has_no_doc_url() {
        let body = ApiError::unauthorized("no key").to_body();
        assert!(body["error"].get("doc_url").is_none());
        assert!(body["error"].get("code").is_none());
        assert_eq!(body["error"]["message"], "no key");
    }
}
