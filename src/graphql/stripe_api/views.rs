//! Stripe objects as seed 004's GraphQL API shows them, made either from a
//! local record (kept current by webhooks) or from Stripe's own JSON. Both
//! builders of a kind give the same answer for the same object: the record
//! holds what the answer needs (`gateway_status`, `gateway_created`,
//! subscription `items`, invoice `lines`), written by the module's mappers.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Number, Value};

use crate::db::models::record::Record;
use crate::money::Currency;

/// The kinds of object the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Customer,
    PaymentIntent,
    Subscription,
    Product,
    Price,
    Invoice,
    Refund,
    PaymentMethod,
}

impl Kind {
    /// Stripe's `object` value.
    pub fn object(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::PaymentIntent => "payment_intent",
            Kind::Subscription => "subscription",
            Kind::Product => "product",
            Kind::Price => "price",
            Kind::Invoice => "invoice",
            Kind::Refund => "refund",
            Kind::PaymentMethod => "payment_method",
        }
    }

    /// The record model that keeps this kind locally.
    pub fn model(self) -> &'static str {
        match self {
            Kind::Customer => "modules/payments/customer",
            Kind::PaymentIntent => "modules/payments/payment",
            Kind::Subscription => "modules/payments/subscription",
            Kind::Product => "modules/payments/product",
            Kind::Price => "modules/payments/price",
            Kind::Invoice => "modules/payments/invoice",
            Kind::Refund => "modules/payments/refund",
            Kind::PaymentMethod => "modules/payments/credit_card",
        }
    }

    /// "Customer not found", as seed 004 words it.
    pub fn not_found_message(self) -> &'static str {
        match self {
            Kind::Customer => "Customer not found",
            Kind::PaymentIntent => "Payment intent not found",
            Kind::Subscription => "Subscription not found",
            Kind::Product => "Product not found",
            Kind::Price => "Price not found",
            Kind::Invoice => "Invoice not found",
            Kind::Refund => "Refund not found",
            Kind::PaymentMethod => "Payment method not found",
        }
    }
}

/// Seed 004's timestamps: UTC with milliseconds, `2025-11-16T00:28:48.081Z`.
pub fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn from_unix(value: &Value) -> Option<String> {
    value
        .as_i64()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .map(time_text)
}

fn from_stored_time(value: &Value) -> Option<String> {
    value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|t| time_text(t.with_timezone(&Utc)))
}

/// An amount in minor units as the currency's decimal number (`1235` USD
/// is `12.35`), or null when either is unknown. The number is made from
/// the exact decimal text, so it prints as that text.
pub fn decimal(minor: &Value, currency: &Value) -> Value {
    let (Some(minor), Some(code)) = (minor.as_i64(), currency.as_str()) else {
        return Value::Null;
    };
    let Ok(currency) = Currency::parse(code) else {
        return Value::Null;
    };
    let text = currency.decimal_text(minor);
    // Whole amounts print as integers (`25`, not `25.0`), as JSON from a
    // browser would.
    let whole = match text.split_once('.') {
        Some((units, fraction)) if fraction.bytes().all(|b| b == b'0') => units,
        Some(_) => "",
        None => text.as_str(),
    };
    if let Ok(units) = whole.parse::<i64>() {
        return Value::from(units);
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// An id, or the id of an expanded object.
fn id_of(value: &Value) -> Value {
    match value {
        Value::String(_) => value.clone(),
        Value::Object(object) => object.get("id").cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn metadata_of(value: &Value) -> Value {
    match value {
        Value::Object(_) => value.clone(),
        _ => json!({}),
    }
}

/// A record's property, null when missing.
fn property<'a>(record: &'a Record, name: &str) -> &'a Value {
    record.properties.get(name).unwrap_or(&Value::Null)
}

/// When Stripe created the object; a record written before payforms kept
/// that falls back to when payforms first saw it.
fn record_created(record: &Record) -> Value {
    from_stored_time(property(record, "gateway_created"))
        .map_or_else(|| json!(time_text(record.created_at)), Value::from)
}

fn stripe_created(object: &Value) -> Value {
    from_unix(&object["created"]).map_or(Value::Null, Value::from)
}

/// The view of `record` of `kind`.
pub fn from_record(kind: Kind, record: &Record) -> Value {
    let p = |name: &str| property(record, name).clone();
    let mut view = match kind {
        Kind::Customer => json!({
            "name": p("name"), "email": p("email"), "phone": p("phone"), "description": p("description"),
            "defaultPaymentMethodId": p("default_payment_method"),
        }),
        Kind::PaymentIntent => {
            let currency = p("currency");
            json!({
                "customerId": p("customer_id"),
                "paymentMethodId": p("payment_method_id"),
                "currency": currency,
                "amount": decimal(property(record, "amount"), &currency),
                "amountMinor": p("amount"),
                "status": match p("gateway_status") {
                    Value::Null => json!(status_of_state(property(record, "state").as_str().unwrap_or_default())),
                    status => status,
                },
                "clientSecret": p("client_secret"),
                "description": p("description"),
            })
        }
        Kind::Subscription => {
            let items = match property(record, "items") {
                Value::Array(items) => items
                    .iter()
                    .map(|item| json!({"id": item["id"], "priceId": item["price_id"], "quantity": item["quantity"]}))
                    .collect(),
                _ if record.properties.contains_key("price_id") => {
                    vec![json!({"id": null, "priceId": p("price_id"), "quantity": p("quantity")})]
                }
                _ => Vec::new(),
            };
            json!({
                "customerId": p("customer_id"),
                "status": p("state"),
                "currentPeriodStart": from_stored_time(property(record, "current_period_start")),
                "currentPeriodEnd": from_stored_time(property(record, "current_period_end")),
                "cancelAtPeriodEnd": property(record, "cancel_at_period_end").as_bool().unwrap_or(false),
                "canceledAt": from_stored_time(property(record, "canceled_at")),
                "latestInvoiceId": p("latest_invoice_id"),
                "items": {"data": items},
            })
        }
        Kind::Product => json!({
            "name": p("name"), "description": p("description"),
            "active": property(record, "active").as_bool().unwrap_or(false),
        }),
        Kind::Price => {
            let currency = p("currency");
            json!({
                "productId": p("product_id"),
                "active": property(record, "active").as_bool().unwrap_or(false),
                "currency": currency,
                "unitAmount": decimal(property(record, "unit_amount"), &currency),
                "unitAmountMinor": p("unit_amount"),
                "recurring": match p("recurring_interval") {
                    Value::Null => Value::Null,
                    interval => json!({"interval": interval, "intervalCount": p("recurring_interval_count")}),
                },
            })
        }
        Kind::Invoice => {
            let currency = p("currency");
            let lines = match property(record, "lines") {
                Value::Array(lines) => lines.iter().map(|line| invoice_line(line, &line["amount"])).collect(),
                _ => Vec::new(),
            };
            json!({
                "customerId": p("customer_id"),
                "subscriptionId": p("subscription_id"),
                "currency": currency,
                "amountPaid": decimal(property(record, "amount_paid"), &currency),
                "amountDue": decimal(property(record, "amount_due"), &currency),
                "amountPaidMinor": p("amount_paid"),
                "amountDueMinor": p("amount_due"),
                "status": p("state"),
                "hostedInvoiceUrl": p("hosted_invoice_url"),
                "lineItems": {"data": lines},
            })
        }
        Kind::Refund => {
            let currency = p("currency");
            json!({
                "paymentIntentId": p("payment_intent_id"),
                "reason": p("reason"),
                "status": p("state"),
                "currency": currency,
                "amount": decimal(property(record, "amount"), &currency),
                "amountMinor": p("amount"),
            })
        }
        Kind::PaymentMethod => json!({
            "customerId": p("customer_id"),
            "type": "card",
            "card": {
                "brand": p("brand"), "expMonth": p("exp_month"), "expYear": p("exp_year"), "last4": p("last4"),
            },
        }),
    };
    finish(
        &mut view,
        kind,
        p("gateway_id"),
        metadata_of(property(record, "metadata")),
        record_created(record),
    );
    view
}

/// The view of Stripe's `object` of `kind`.
pub fn from_stripe(kind: Kind, object: &Value) -> Value {
    let s = |name: &str| object.get(name).cloned().unwrap_or(Value::Null);
    let mut view = match kind {
        Kind::Customer => json!({
            "name": s("name"), "email": s("email"), "phone": s("phone"), "description": s("description"),
            "defaultPaymentMethodId": match id_of(&object["invoice_settings"]["default_payment_method"]) {
                Value::Null => id_of(&object["default_source"]),
                id => id,
            },
        }),
        Kind::PaymentIntent => json!({
            "customerId": id_of(&object["customer"]),
            "paymentMethodId": id_of(&object["payment_method"]),
            "currency": s("currency"),
            "amount": decimal(&object["amount"], &object["currency"]),
            "amountMinor": s("amount"),
            "status": s("status"),
            "clientSecret": s("client_secret"),
            "description": s("description"),
        }),
        Kind::Subscription => {
            let items: Vec<Value> = object["items"]["data"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|item| {
                            let price = if item["price"].is_null() {
                                &item["plan"]
                            } else {
                                &item["price"]
                            };
                            json!({"id": item["id"], "priceId": id_of(price), "quantity": item["quantity"]})
                        })
                        .collect()
                })
                .unwrap_or_default();
            // Newer API versions keep the period on the item.
            let first_item = &object["items"]["data"][0];
            let period = |name: &str| {
                let on_item = &first_item[name];
                from_unix(if on_item.is_null() { &object[name] } else { on_item })
            };
            json!({
                "customerId": id_of(&object["customer"]),
                "status": s("status"),
                "currentPeriodStart": period("current_period_start"),
                "currentPeriodEnd": period("current_period_end"),
                "cancelAtPeriodEnd": object["cancel_at_period_end"].as_bool().unwrap_or(false),
                "canceledAt": from_unix(&object["canceled_at"]),
                "latestInvoiceId": id_of(&object["latest_invoice"]),
                "items": {"data": items},
            })
        }
        Kind::Product => json!({
            "name": s("name"), "description": s("description"),
            "active": object["active"].as_bool().unwrap_or(false),
        }),
        Kind::Price => json!({
            "productId": id_of(&object["product"]),
            "active": object["active"].as_bool().unwrap_or(false),
            "currency": s("currency"),
            "unitAmount": decimal(&object["unit_amount"], &object["currency"]),
            "unitAmountMinor": s("unit_amount"),
            "recurring": match object["recurring"]["interval"].clone() {
                Value::Null => Value::Null,
                interval => json!({"interval": interval, "intervalCount": object["recurring"]["interval_count"]}),
            },
        }),
        Kind::Invoice => {
            let lines: Vec<Value> = object["lines"]["data"]
                .as_array()
                .map(|lines| lines.iter().map(|line| invoice_line(line, &line["amount"])).collect())
                .unwrap_or_default();
            let subscription = match &object["parent"]["subscription_details"]["subscription"] {
                Value::Null => id_of(&object["subscription"]),
                nested => id_of(nested),
            };
            json!({
                "customerId": id_of(&object["customer"]),
                "subscriptionId": subscription,
                "currency": s("currency"),
                "amountPaid": decimal(&default_zero(&object["amount_paid"]), &object["currency"]),
                "amountDue": decimal(&default_zero(&object["amount_due"]), &object["currency"]),
                "amountPaidMinor": default_zero(&object["amount_paid"]),
                "amountDueMinor": default_zero(&object["amount_due"]),
                "status": s("status"),
                "hostedInvoiceUrl": s("hosted_invoice_url"),
                "lineItems": {"data": lines},
            })
        }
        Kind::Refund => json!({
            "paymentIntentId": id_of(&object["payment_intent"]),
            "reason": s("reason"),
            "status": s("status"),
            "currency": s("currency"),
            "amount": decimal(&object["amount"], &object["currency"]),
            "amountMinor": s("amount"),
        }),
        Kind::PaymentMethod => {
            let card = &object["card"];
            json!({
                "customerId": id_of(&object["customer"]),
                "type": object["type"].as_str().unwrap_or("card"),
                "card": {
                    "brand": card["brand"], "expMonth": card["exp_month"], "expYear": card["exp_year"], "last4": card["last4"],
                },
            })
        }
    };
    finish(
        &mut view,
        kind,
        s("id"),
        metadata_of(&object["metadata"]),
        stripe_created(object),
    );
    view
}

fn default_zero(value: &Value) -> Value {
    if value.is_null() {
        json!(0)
    } else {
        value.clone()
    }
}

/// An invoice line (stored or Stripe's: the same keys).
fn invoice_line(line: &Value, amount: &Value) -> Value {
    json!({
        "id": line["id"],
        "description": line["description"],
        "currency": line["currency"],
        "amount": decimal(amount, &line["currency"]),
        "amountMinor": amount,
        "quantity": line["quantity"],
    })
}

fn finish(view: &mut Value, kind: Kind, id: Value, metadata: Value, created: Value) {
    if let Value::Object(fields) = view {
        let mut common = Map::with_capacity(4);
        common.insert("id".into(), id);
        common.insert("object".into(), json!(kind.object()));
        common.insert("metadata".into(), metadata);
        common.insert("createdAt".into(), created);
        fields.extend(common);
    }
}

/// Stripe's PaymentIntent status for a payment record written before the
/// status itself was kept.
fn status_of_state(state: &str) -> &'static str {
    match state {
        "authorized" => "requires_capture",
        "succeeded" | "partially_refunded" | "refunded" | "disputed" => "succeeded",
        "requires_action" => "requires_action",
        "processing" => "processing",
        "canceled" => "canceled",
        _ => "requires_payment_method",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merchant_id::MerchantId;

    fn record(properties: Value) -> Record {
        let created = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap();
        Record {
            id: 1,
            model: "m".into(),
            properties: properties.as_object().cloned().unwrap(),
            created_at: created,
            updated_at: created,
            livemode: false,
            merchant: MerchantId::default(),
        }
    }

    #[test]
    fn amounts_are_decimal_in_the_currency_unit() {
        assert_eq!(decimal(&json!(1235), &json!("usd")), json!(12.35));
        assert_eq!(decimal(&json!(500), &json!("jpy")), json!(500));
        assert_eq!(decimal(&json!(1234), &json!("kwd")), json!(1.234));
        assert_eq!(decimal(&json!(2500), &json!("usd")), json!(25));
        assert_eq!(decimal(&json!(0), &json!("usd")), json!(0));
        assert_eq!(decimal(&json!(500), &json!("jpy")), json!(500));
        assert_eq!(decimal(&json!(-2500), &json!("usd")), json!(-25));
        assert_eq!(decimal(&json!(-1050), &json!("usd")), json!(-10.5));
        assert_eq!(decimal(&json!(1235), &json!("nope")), Value::Null);
        assert_eq!(decimal(&Value::Null, &json!("usd")), Value::Null);
        assert_eq!(
            serde_json::to_string(&decimal(&json!(3692), &json!("usd"))).unwrap(),
            "36.92"
        );
    }

    #[test]
    fn a_payment_intent_reads_the_same_from_its_record_and_from_stripe() {
        let stripe = json!({
            "id": "pi_1", "object": "payment_intent", "amount": 1235, "currency": "usd",
            "customer": "cus_1", "payment_method": {"id": "pm_1"}, "status": "requires_confirmation",
            "client_secret": "pi_1_secret_x", "created": 1_767_323_045, "metadata": {"a": "b"},
            "description": null,
        });
        let stored = record(json!({
            "gateway_id": "pi_1", "amount": 1235, "currency": "usd", "customer_id": "cus_1",
            "payment_method_id": "pm_1", "gateway_status": "requires_confirmation", "state": "pending",
            "client_secret": "pi_1_secret_x", "gateway_created": "2026-01-02T03:04:05Z", "metadata": {"a": "b"},
        }));
        let view = from_stripe(Kind::PaymentIntent, &stripe);
        assert_eq!(view, from_record(Kind::PaymentIntent, &stored));
        assert_eq!(view["amount"], json!(12.35));
        assert_eq!(view["createdAt"], json!("2026-01-02T03:04:05.000Z"));
        assert_eq!(view["object"], json!("payment_intent"));
    }

    #[test]
    fn a_subscription_keeps_its_items_either_way() {
        let stripe = json!({
            "id": "sub_1", "customer": "cus_1", "status": "active", "cancel_at_period_end": true,
            "created": 1_767_323_045, "metadata": {}, "latest_invoice": {"id": "in_1"}, "canceled_at": null,
            "items": {"data": [{"id": "si_1", "price": {"id": "price_1"}, "quantity": 2,
                "current_period_start": 1_767_323_045, "current_period_end": 1_770_001_445}]},
        });
        let stored = record(json!({
            "gateway_id": "sub_1", "customer_id": "cus_1", "state": "active", "cancel_at_period_end": true,
            "gateway_created": "2026-01-02T03:04:05Z", "metadata": {}, "latest_invoice_id": "in_1",
            "current_period_start": "2026-01-02T03:04:05Z", "current_period_end": "2026-02-02T03:04:05Z",
            "items": [{"id": "si_1", "price_id": "price_1", "quantity": 2}], "price_id": "price_1", "quantity": 2,
        }));
        assert_eq!(
            from_stripe(Kind::Subscription, &stripe),
            from_record(Kind::Subscription, &stored)
        );
    }

    #[test]
    fn an_old_record_without_the_stripe_status_gets_one_from_its_state() {
        let stored = record(json!({"gateway_id": "pi_1", "state": "authorized"}));
        let view = from_record(Kind::PaymentIntent, &stored);
        assert_eq!(view["status"], json!("requires_capture"));
        assert_eq!(view["createdAt"], json!("2026-01-02T03:04:05.000Z"));
        assert_eq!(view["metadata"], json!({}));
    }
}
