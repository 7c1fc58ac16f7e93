//! platformOS's built-in `Payment` resource: a form configuration with
//! `resource: Payment` (as platformOS's Stripe guide writes it) records a
//! `modules/payments/payment` through the Stripe module's `create_payment`
//! request type. Its fields keep platformOS's names; this turns them into
//! the request type's inputs:
//!
//! | platformOS | request type |
//! | --- | --- |
//! | `total_amount` (decimal, in the currency's unit) or `total_amount_cents` | `amount` (minor units, exact) |
//! | `currency` | `currency` (lower case) |
//! | `credit_card_token` (Stripe Checkout's `tok_…`) | `source` |
//! | `with_charge` (true: capture now; else authorize only) | `capture` |
//! | `payer_id`, `payment_method_id` | `metadata` |
//! | `description`, `email`, `external_id` | the same |
//!
//! The form configuration is read as such in `app::definitions`.

use serde_json::{json, Map, Value};

use crate::error::FieldError;
use crate::money::Currency;

/// The request type's inputs from a submission's payload (its fields, data
/// and default_payload, already validated by the form's own rules).
pub fn request_data(payload: &Map<String, Value>) -> Result<Map<String, Value>, FieldError> {
    let text = |key: &str| -> Option<String> {
        match payload.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    let currency_code = text("currency").ok_or_else(|| FieldError::new("currency", "can't be blank"))?;
    let currency = Currency::parse(&currency_code).map_err(|e| FieldError::new("currency", e.to_string()))?;
    let given = |key: &str| payload.get(key).is_some_and(|v| !v.is_null() && v != "");
    if given("total_amount_cents") && given("total_amount") {
        return Err(FieldError::new(
            "total_amount",
            "give total_amount or total_amount_cents, not both",
        ));
    }
    let amount = match (payload.get("total_amount_cents"), payload.get("total_amount")) {
        (Some(cents), _) if !cents.is_null() && cents != "" => match cents {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .filter(|minor| *minor > 0)
        .ok_or_else(|| FieldError::new("total_amount_cents", "must be a whole number of cents above 0"))?,
        (_, Some(amount)) if !amount.is_null() && amount != "" => currency
            .minor_units_of(amount)
            .map_err(|e| FieldError::new("total_amount", e.to_string()))?,
        _ => return Err(FieldError::new("total_amount", "can't be blank")),
    };
    if amount <= 0 {
        return Err(FieldError::new("total_amount", "must be greater than 0"));
    }
    let token = text("credit_card_token").ok_or_else(|| {
        FieldError::new(
            "base",
            "No card was given: the page must post Stripe's token (credit_card_token)",
        )
    })?;
    if !is_token(&token) {
        return Err(FieldError::new(
            "credit_card_token",
            "is not a card token from Stripe (tok_…, pm_…, card_…, src_…)",
        ));
    }
    let with_charge = match payload.get("with_charge") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.trim(), "true" | "1"),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    };
    let mut data = Map::new();
    data.insert("amount".into(), json!(amount));
    data.insert("currency".into(), json!(currency_code.to_ascii_lowercase()));
    data.insert("source".into(), json!(token));
    data.insert("capture".into(), json!(with_charge));
    for key in ["description", "email", "external_id"] {
        if let Some(value) = text(key) {
            data.insert(key.into(), json!(value));
        }
    }
    let mut metadata = Map::new();
    for key in ["payer_id", "payment_method_id"] {
        if let Some(value) = text(key) {
            metadata.insert(key.into(), json!(value));
        }
    }
    if !metadata.is_empty() {
        data.insert("metadata".into(), Value::Object(metadata));
    }
    Ok(data)
}

/// What Stripe's scripts hand a page for a card: checked before anything is
/// sent, so text from the request never reaches Stripe as a token.
fn is_token(text: &str) -> bool {
    let known = ["tok_", "pm_", "card_", "src_"]
        .iter()
        .any(|prefix| text.starts_with(prefix));
    known && text.len() <= 255 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_guide_s_fields_become_the_request_type_s_inputs() {
        let data = request_data(&payload(json!({
            "payer_id": "42", "payment_method_id": "1", "currency": "USD", "total_amount": "5.99",
            "credit_card_token": "tok_visa", "with_charge": true,
        })))
        .unwrap();
        assert_eq!(
            Value::Object(data),
            json!({
                "amount": 599, "currency": "usd", "source": "tok_visa", "capture": true,
                "metadata": { "payer_id": "42", "payment_method_id": "1" },
            })
        );
        let authorize = request_data(&payload(json!({
            "currency": "jpy", "total_amount": 500, "credit_card_token": "tok_visa",
        })))
        .unwrap();
        assert_eq!(authorize["amount"], 500);
        assert_eq!(
            authorize["capture"], false,
            "without with_charge the payment is only authorized"
        );
        let cents = request_data(&payload(json!({
            "currency": "usd", "total_amount_cents": "1234", "credit_card_token": "tok_visa", "with_charge": "true",
        })))
        .unwrap();
        assert_eq!(cents["amount"], 1234);
        assert_eq!(cents["capture"], true);
    }

    #[test]
    fn amounts_are_exact_or_refused() {
        for (amount, field) in [
            (json!("5.999"), "total_amount"),
            (json!("-1"), "total_amount"),
            (json!("0"), "total_amount"),
            (json!("1e400"), "total_amount"),
            (json!("abc"), "total_amount"),
        ] {
            let error = request_data(&payload(json!({
                "currency": "usd", "total_amount": amount, "credit_card_token": "tok_visa",
            })))
            .unwrap_err();
            assert_eq!(error.field, field, "{amount}");
        }
        let error = request_data(&payload(json!({
            "currency": "usd", "total_amount_cents": "5.5", "credit_card_token": "tok_visa",
        })))
        .unwrap_err();
        assert_eq!(error.field, "total_amount_cents");
        let error = request_data(&payload(json!({ "currency": "usd", "total_amount": "5" }))).unwrap_err();
        assert_eq!(error.field, "base");
        let both = request_data(&payload(json!({
            "currency": "usd", "total_amount": "5.99", "total_amount_cents": 51, "credit_card_token": "tok_visa",
        })))
        .unwrap_err();
        assert_eq!(both.field, "total_amount", "two amounts are never guessed between");
        for token in [
            "tok_visa\",\"x",
            "sk_test_123",
            "tok_ visa",
            &format!("tok_{}", "a".repeat(300)),
        ] {
            let error = request_data(&payload(json!({
                "currency": "usd", "total_amount": "5", "credit_card_token": token,
            })))
            .unwrap_err();
            assert_eq!(error.field, "credit_card_token", "{token}");
        }
        let error = request_data(&payload(json!({ "currency": "dollars", "total_amount": "5" }))).unwrap_err();
        assert_eq!(error.field, "currency");
    }
}
