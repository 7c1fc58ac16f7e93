//! Seed 004's inputs turned into the data of the module's request types,
//! checked first: Stripe ids, metadata, URLs, and decimal amounts made
//! exact minor units with the currency's exponent.

use async_graphql::dynamic::ResolverContext;
use async_graphql::Error;
use serde_json::{json, Map, Value};

use super::errors::bad_input;
use super::views::Kind;
use super::MAX_ID_LEN;
use crate::graphql::values::to_json;
use crate::money::Currency;

pub(super) fn gateway_id(id: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("gateway_id".into(), json!(id));
    data
}

pub(super) fn input_of(ctx: &ResolverContext<'_>) -> Value {
    ctx.args.get("input").map_or(Value::Null, |v| to_json(v.as_value()))
}

/// A Stripe id: short, printable, no path or query characters (it goes
/// into the request type's URL).
pub(super) fn check_id(field: &str, id: &str) -> Result<(), Error> {
    let fine = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if fine {
        Ok(())
    } else {
        Err(bad_input(field, format!("{field} is not a Stripe id")))
    }
}

pub(super) fn required_id(ctx: &ResolverContext<'_>) -> Result<String, Error> {
    let id = ctx.args.try_get("id")?.string()?.to_string();
    check_id("id", &id)?;
    Ok(id)
}

pub(super) fn optional_text(ctx: &ResolverContext<'_>, name: &str) -> Result<Option<String>, Error> {
    match ctx.args.get(name).filter(|v| !v.is_null()) {
        Some(value) => {
            let text = value.string()?.to_string();
            check_id(name, &text)?;
            Ok(Some(text))
        }
        None => Ok(None),
    }
}

/// A text field of an input object, if given.
pub(super) fn text_field(input: &Value, name: &str) -> Result<Option<String>, Error> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(bad_input(name, format!("{name} must be text"))),
    }
}

/// Copy the given fields of `input` into the request type's data, under
/// the request type's names; ids are checked.
pub(super) fn copy(input: &Value, data: &mut Map<String, Value>, names: &[(&str, &str)]) -> Result<(), Error> {
    for (from, to) in names {
        let Some(value) = input.get(*from).filter(|v| !v.is_null()) else {
            continue;
        };
        if from.ends_with("Id") || *from == "defaultPaymentMethod" {
            check_id(from, value.as_str().unwrap_or_default())?;
        }
        if *from == "metadata" {
            check_metadata(value)?;
        }
        data.insert((*to).into(), value.clone());
    }
    Ok(())
}

/// Stripe's metadata: at most 50 keys of up to 40 characters, flat values
/// of up to 500.
pub(super) fn check_metadata(value: &Value) -> Result<(), Error> {
    let Value::Object(map) = value else {
        return Err(bad_input("metadata", "metadata must be an object"));
    };
    if map.len() > 50 {
        return Err(bad_input("metadata", "metadata has more than 50 keys"));
    }
    for (key, value) in map {
        let flat = match value {
            Value::String(text) => text.chars().count() <= 500,
            Value::Number(_) | Value::Bool(_) | Value::Null => true,
            _ => false,
        };
        if key.is_empty() || key.chars().count() > 40 || !flat {
            return Err(bad_input(
                "metadata",
                "metadata keys are 1 to 40 characters, values text, numbers or booleans of up to 500",
            ));
        }
    }
    Ok(())
}

pub(super) fn check_return_url(url: &str) -> Result<(), Error> {
    let fine = url.len() <= 2048
        && (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(char::is_whitespace);
    if fine {
        Ok(())
    } else {
        Err(bad_input("returnUrl", "returnUrl must be an http(s) URL"))
    }
}

/// The caller's `idempotencyKey`: 1 to 255 printable ASCII characters
/// (it becomes an HTTP header).
pub(crate) fn idempotency_key(args: &async_graphql::dynamic::ObjectAccessor<'_>) -> Result<Option<String>, Error> {
    let Some(value) = args.get("idempotencyKey").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let key = value.string()?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad_input(
            "idempotencyKey",
            "idempotencyKey must be 1 to 255 printable characters without spaces",
        ));
    }
    Ok(Some(key.to_string()))
}

/// A list's `status` filter: one of Stripe's statuses of that kind.
pub(super) fn check_status(kind: Kind, status: &str) -> Result<(), Error> {
    let known: &[&str] = match kind {
        Kind::Subscription => &[
            "incomplete",
            "incomplete_expired",
            "trialing",
            "active",
            "past_due",
            "canceled",
            "unpaid",
            "paused",
            "all",
            "ended",
        ],
        Kind::Invoice => &["draft", "open", "paid", "uncollectible", "void"],
        _ => &[],
    };
    if known.contains(&status) {
        Ok(())
    } else {
        Err(bad_input(
            "status",
            format!("status must be one of {}", known.join(", ")),
        ))
    }
}

pub(super) fn currency_of(field: &str, code: &str) -> Result<Currency, Error> {
    Currency::parse(code).map_err(|e| bad_input(field, format!("Invalid currency: {e}")))
}

/// A decimal amount in the currency's minor units, exactly: excess
/// precision is refused, never rounded.
pub(super) fn minor_units(field: &str, currency: &Currency, amount: &Value) -> Result<i64, Error> {
    let minor = minor_units_or_zero(field, currency, amount)?;
    if minor == 0 {
        return Err(bad_input(field, "Invalid amount: must be more than zero"));
    }
    Ok(minor)
}

/// Like [`minor_units`], where zero is a fine amount (a free price).
fn minor_units_or_zero(field: &str, currency: &Currency, amount: &Value) -> Result<i64, Error> {
    currency
        .minor_units_of(amount)
        .map_err(|e| bad_input(field, format!("Invalid amount: {e}")))
}

pub(super) fn customer_data(input: &Value) -> Result<Map<String, Value>, Error> {
    let mut data = Map::new();
    copy(
        input,
        &mut data,
        &[
            ("name", "name"),
            ("email", "email"),
            ("phone", "phone"),
            ("description", "description"),
            ("metadata", "metadata"),
        ],
    )?;
    for field in ["name", "email", "phone", "description"] {
        if data
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|t| t.chars().count() > 500)
        {
            return Err(bad_input(field, format!("{field} is longer than 500 characters")));
        }
    }
    Ok(data)
}

pub(super) fn payment_intent_data(input: &Value) -> Result<Map<String, Value>, Error> {
    let currency = currency_of("currency", input["currency"].as_str().unwrap_or_default())?;
    let mut data = Map::new();
    data.insert(
        "amount".into(),
        json!(minor_units("amount", &currency, &input["amount"])?),
    );
    data.insert("currency".into(), json!(currency.code.to_ascii_lowercase()));
    copy(
        input,
        &mut data,
        &[
            ("customerId", "customer"),
            ("paymentMethodId", "payment_method"),
            ("automaticPaymentMethods", "automatic_payment_methods"),
            ("description", "description"),
            ("receiptEmail", "email"),
            ("returnUrl", "return_url"),
            ("metadata", "metadata"),
        ],
    )?;
    if let Some(url) = data.get("return_url").and_then(Value::as_str) {
        check_return_url(url)?;
    }
    // Seed 004 confirms in a step of its own (stripe_confirmPaymentIntent)
    // unless the input asks for it now.
    data.insert("confirm".into(), json!(input["confirm"].as_bool().unwrap_or(false)));
    match input["captureMethod"].as_str() {
        None | Some("automatic") => {}
        Some("manual") => {
            data.insert("capture".into(), json!(false));
        }
        Some(_) => return Err(bad_input("captureMethod", "captureMethod must be automatic or manual")),
    }
    Ok(data)
}

pub(super) fn payment_intent_update(id: &str, input: &Value, current: &Value) -> Result<Map<String, Value>, Error> {
    let mut data = gateway_id(id);
    let code = input["currency"]
        .as_str()
        .or_else(|| current["currency"].as_str())
        .unwrap_or_default();
    // Stripe keeps the minor units when only the currency changes, which
    // would turn 12.35 USD into 1,235 JPY: a new currency needs its amount.
    if !input["currency"].is_null()
        && input["amount"].is_null()
        && input["currency"].as_str().map(str::to_ascii_lowercase)
            != current["currency"].as_str().map(str::to_ascii_lowercase)
    {
        return Err(bad_input("amount", "amount is required when the currency changes"));
    }
    if !input["currency"].is_null() || !input["amount"].is_null() {
        let currency = currency_of("currency", code)?;
        if !input["currency"].is_null() {
            data.insert("currency".into(), json!(currency.code.to_ascii_lowercase()));
        }
        if !input["amount"].is_null() {
            data.insert(
                "amount".into(),
                json!(minor_units("amount", &currency, &input["amount"])?),
            );
        }
    }
    copy(
        input,
        &mut data,
        &[
            ("customerId", "customer"),
            ("paymentMethodId", "payment_method"),
            ("description", "description"),
            ("metadata", "metadata"),
        ],
    )?;
    Ok(data)
}

/// Items are `[{priceId, quantity}]` (a single object is a list of one).
pub(super) fn subscription_data(input: &Value) -> Result<Map<String, Value>, Error> {
    let mut data = Map::new();
    copy(
        input,
        &mut data,
        &[
            ("customerId", "customer"),
            ("paymentBehavior", "payment_behavior"),
            ("defaultPaymentMethod", "default_payment_method"),
            ("metadata", "metadata"),
        ],
    )?;
    let items = match &input["items"] {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![input["items"].clone()],
        _ => Vec::new(),
    };
    if items.is_empty() || items.len() > 20 {
        return Err(bad_input("items", "a subscription has 1 to 20 items"));
    }
    let mut stripe_items = Vec::with_capacity(items.len());
    for item in &items {
        let price = item["priceId"].as_str().unwrap_or_default();
        check_id("priceId", price)?;
        let quantity = item["quantity"].as_i64().unwrap_or(1);
        if quantity < 1 {
            return Err(bad_input("quantity", "quantity must be at least 1"));
        }
        stripe_items.push(json!({"price": price, "quantity": quantity}));
    }
    data.insert("items".into(), Value::Array(stripe_items));
    // 0 days is no trial: Stripe wants the parameter left out.
    match input["trialPeriodDays"].as_i64() {
        None | Some(0) => {}
        Some(days) if (1..=730).contains(&days) => {
            data.insert("trial_period_days".into(), json!(days));
        }
        Some(_) => return Err(bad_input("trialPeriodDays", "trialPeriodDays must be 0 to 730")),
    }
    Ok(data)
}

pub(super) fn price_data(input: &Value) -> Result<Map<String, Value>, Error> {
    let currency = currency_of("currency", input["currency"].as_str().unwrap_or_default())?;
    let mut data = Map::new();
    copy(
        input,
        &mut data,
        &[
            ("productId", "product"),
            ("nickname", "nickname"),
            ("metadata", "metadata"),
        ],
    )?;
    data.insert(
        "unit_amount".into(),
        json!(minor_units_or_zero("unitAmount", &currency, &input["unitAmount"])?),
    );
    data.insert("currency".into(), json!(currency.code.to_ascii_lowercase()));
    if let Value::Object(recurring) = &input["recurring"] {
        let interval = recurring.get("interval").and_then(Value::as_str).unwrap_or_default();
        if !["day", "week", "month", "year"].contains(&interval) {
            return Err(bad_input("interval", "interval must be one of day, week, month, year"));
        }
        data.insert("interval".into(), json!(interval));
        if let Some(count) = recurring.get("intervalCount").and_then(Value::as_i64) {
            if !(1..=365).contains(&count) {
                return Err(bad_input("intervalCount", "intervalCount must be 1 to 365"));
            }
            data.insert("interval_count".into(), json!(count));
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_amounts_become_exact_minor_units_or_are_refused() {
        let minor = |amount: Value, code: &str| minor_units("amount", &Currency::parse(code).unwrap(), &amount).ok();
        assert_eq!(minor(json!(12.35), "usd"), Some(1235));
        assert_eq!(minor(json!(0.1), "usd"), Some(10));
        assert_eq!(minor(json!(200), "usd"), Some(20000));
        assert_eq!(minor(json!(500), "jpy"), Some(500));
        assert_eq!(minor(json!(1.234), "kwd"), Some(1234));
        assert_eq!(minor(json!(12.345), "usd"), None);
        assert_eq!(minor(json!(500.5), "jpy"), None);
        assert_eq!(minor(json!(1.2345), "kwd"), None);
        assert_eq!(minor(json!(0), "usd"), None);
        let free = minor_units_or_zero("unitAmount", &Currency::parse("usd").unwrap(), &json!(0));
        assert_eq!(free.ok(), Some(0));
        assert_eq!(minor(json!(-5), "usd"), None);
        assert_eq!(minor(json!("12.35"), "usd"), Some(1235));
    }

    #[test]
    fn stripe_ids_cannot_reach_outside_their_path() {
        assert!(check_id("id", "cus_Ts4xYz").is_ok());
        for hostile in [
            "",
            "../v1/balance",
            "cus_1?expand[]=x",
            "cus 1",
            "cus_1/..",
            &"a".repeat(256),
        ] {
            assert!(check_id("id", hostile).is_err(), "{hostile}");
        }
    }

    #[test]
    fn subscription_items_take_one_object_or_a_list() {
        let one =
            subscription_data(&json!({"customerId": "cus_1", "items": {"priceId": "price_1", "quantity": 2}})).unwrap();
        assert_eq!(one["items"], json!([{"price": "price_1", "quantity": 2}]));
        assert!(!one.contains_key("trial_period_days"));
        let trial =
            subscription_data(&json!({"customerId": "cus_1", "items": [{"priceId": "price_1"}], "trialPeriodDays": 7}))
                .unwrap();
        assert_eq!(trial["items"], json!([{"price": "price_1", "quantity": 1}]));
        assert_eq!(trial["trial_period_days"], 7);
        assert!(subscription_data(&json!({"customerId": "cus_1", "items": []})).is_err());
        assert!(
            subscription_data(&json!({"customerId": "cus_1", "items": {"priceId": "price_1", "quantity": 0}})).is_err()
        );
    }

    #[test]
    fn metadata_is_flat_and_bounded() {
        assert!(check_metadata(&json!({"order": "1", "premium": true, "n": 3})).is_ok());
        assert!(check_metadata(&json!({"nested": {"a": 1}})).is_err());
        assert!(check_metadata(&json!({"k": "x".repeat(501)})).is_err());
        assert!(check_metadata(&json!("text")).is_err());
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(check_metadata(&Value::Object(many)).is_err());
    }
}
