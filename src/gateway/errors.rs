//! Stripe errors turned into messages a visitor understands.

use serde_json::Value;

use super::contract::FailureKind;

/// A gateway error as read from Stripe's error JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError {
    pub http_status: u16,
    /// Stripe's `code` (card_declined, resource_missing, ...).
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub param: Option<String>,
    /// Friendly text for visitors.
    pub message: String,
    /// Stripe's own message, for logs and programs.
    pub gateway_message: String,
}

/// Friendly text for a Stripe error code, when we have one.
pub fn friendly_message(code: Option<&str>, decline_code: Option<&str>) -> Option<&'static str> {
    let text = |c: &str| match c {
        "card_declined" | "generic_decline" => Some("Your card was declined"),
        "insufficient_funds" => Some("Insufficient funds"),
        "invalid_number" | "incorrect_number" => Some("Invalid card number"),
        "expired_card" => Some("Card has expired"),
        "incorrect_cvc" | "invalid_cvc" => Some("Incorrect CVC code"),
        "processing_error" => Some("An error occurred while processing your card; try again"),
        "authentication_required" => Some("Your bank asks you to authenticate this payment"),
        _ => None,
    };
    // A decline code is more precise than the generic `card_declined`.
    decline_code
        .and_then(|d| text(d).filter(|_| d != "generic_decline"))
        .or_else(|| code.and_then(text))
}

/// Read Stripe's `{"error": {...}}` body.
pub fn from_response(status: u16, body: &Value) -> GatewayError {
    let error = &body["error"];
    let code = error["code"].as_str().map(str::to_string);
    let decline_code = error["decline_code"].as_str().map(str::to_string);
    let gateway_message = error["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("the gateway answered HTTP {status}"));
    let message = friendly_message(code.as_deref(), decline_code.as_deref())
        .map(str::to_string)
        .unwrap_or_else(|| gateway_message.clone());
    GatewayError {
        http_status: status,
        code: code.or_else(|| error["type"].as_str().map(str::to_string)),
        decline_code,
        param: error["param"].as_str().map(str::to_string),
        message,
        gateway_message,
    }
}

/// What kind of failure a gateway error is.
pub fn failure_kind(error: &GatewayError) -> FailureKind {
    match (error.http_status, error.code.as_deref()) {
        (404, _) | (_, Some("resource_missing")) => FailureKind::NotFound,
        (402, _) => FailureKind::Declined,
        (401, _) | (403, _) => FailureKind::GatewayAuthentication,
        (400, _) => FailureKind::InvalidInput,
        (429, _) => FailureKind::RateLimited,
        _ => FailureKind::GatewayError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn card_errors_get_friendly_text() {
        let e = from_response(
            402,
            &json!({"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}}),
        );
        assert_eq!(e.message, "Insufficient funds");
        assert_eq!(e.code.as_deref(), Some("card_declined"));
        assert_eq!(failure_kind(&e), FailureKind::Declined);
        let e = from_response(
            402,
            &json!({"error": {"type": "invalid_request_error", "code": "card_declined", "message": "The card was declined"}}),
        );
        assert_eq!(e.message, "Your card was declined");
        let e = from_response(
            402,
            &json!({"error": {"code": "card_declined", "decline_code": "generic_decline"}}),
        );
        assert_eq!(e.message, "Your card was declined");
    }

    #[test]
    fn other_errors_keep_stripe_text() {
        let e = from_response(
            404,
            &json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such customer: 'cus_x'"}}),
        );
        assert_eq!(e.message, "No such customer: 'cus_x'");
        assert_eq!(failure_kind(&e), FailureKind::NotFound);
        let e = from_response(500, &json!("not json"));
        assert_eq!(e.message, "the gateway answered HTTP 500");
        assert_eq!(failure_kind(&e), FailureKind::GatewayError);
    }
}
