//! What the REST API answers: payments, cards, refunds as seed 003 shows
//! them (amounts as decimal strings in the currency's unit), made from the
//! records the request types and webhook processors keep.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::db::models::record::Record;
use crate::money::Currency;

pub const PAYMENT_MODEL: &str = "modules/payments/payment";
pub const CARD_MODEL: &str = "modules/payments/credit_card";
pub const REFUND_MODEL: &str = "modules/payments/refund";
pub const CUSTOMER_MODEL: &str = "modules/payments/customer";

/// A payment's status: `completed` (succeeded, also when partly
/// refunded), `pending` (requires action or processing), `authorized`
/// (waiting for capture), `failed`, `canceled`, `refunded`, `disputed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Completed,
    Pending,
    Authorized,
    Failed,
    Canceled,
    Refunded,
    Disputed,
}

impl PaymentStatus {
    pub fn of_state(state: &str) -> PaymentStatus {
        match state {
            "succeeded" | "partially_refunded" => PaymentStatus::Completed,
            "authorized" => PaymentStatus::Authorized,
            "failed" => PaymentStatus::Failed,
            "canceled" => PaymentStatus::Canceled,
            "refunded" => PaymentStatus::Refunded,
            "disputed" => PaymentStatus::Disputed,
            _ => PaymentStatus::Pending,
        }
    }

    /// The record states a status stands for (list filters).
    pub fn states(self) -> &'static [&'static str] {
        match self {
            PaymentStatus::Completed => &["succeeded", "partially_refunded"],
            PaymentStatus::Pending => &["pending", "requires_action", "processing"],
            PaymentStatus::Authorized => &["authorized"],
            PaymentStatus::Failed => &["failed"],
            PaymentStatus::Canceled => &["canceled"],
            PaymentStatus::Refunded => &["refunded"],
            PaymentStatus::Disputed => &["disputed"],
        }
    }
}

/// Why a payment failed, as the provider said.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Failure {
    pub code: Option<String>,
    pub message: Option<String>,
}

/// What the client must do to finish a payment (3-D Secure): confirm it
/// with Stripe.js and `client_secret`, or send the customer to
/// `redirect_url`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextAction {
    /// `use_stripe_sdk` or `redirect_to_url`.
    #[serde(rename = "type")]
    pub kind: String,
    pub client_secret: Option<String>,
    pub redirect_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    pub id: String,
    pub merchant_id: String,
    /// In the currency's unit ("50.00" USD, "500" JPY).
    #[schema(example = "50.00")]
    pub amount: String,
    pub amount_refunded: String,
    #[schema(example = "USD")]
    pub currency: String,
    pub provider: String,
    pub status: PaymentStatus,
    /// The provider's id (Stripe PaymentIntent `pi_…`).
    pub provider_ref: Option<String>,
    pub idempotency_key: Option<String>,
    pub customer: Option<String>,
    pub payment_method: Option<String>,
    pub failure: Option<Failure>,
    pub next_action: Option<NextAction>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Card {
    pub id: String,
    pub provider: String,
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<i64>,
    pub exp_year: Option<i64>,
    pub is_default: bool,
    /// The provider's customer (`cus_…`) the card is saved on.
    pub customer: Option<String>,
    /// The provider's payment method (`pm_…`).
    pub provider_ref: Option<String>,
    /// False once deleted: detached at the provider, kept for history.
    pub active: bool,
    pub created_at: String,
}

/// A refund's status: `completed`, `pending`, `failed`, `canceled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Completed,
    Pending,
    Failed,
    Canceled,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Refund {
    pub id: String,
    pub payment_id: Option<String>,
    pub status: RefundStatus,
    pub provider_ref: Option<String>,
    #[schema(example = "25.00")]
    pub amount: String,
    pub currency: String,
    pub reason: Option<String>,
    pub created_at: String,
}

fn text(properties: &Map<String, Value>, name: &str) -> Option<String> {
    properties.get(name).and_then(Value::as_str).map(str::to_string)
}

fn integer(properties: &Map<String, Value>, name: &str) -> Option<i64> {
    properties.get(name).and_then(Value::as_i64)
}

pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `minor` as a decimal in `currency`'s unit; a record without a known
/// currency shows minor units as they are.
fn decimal(currency: Option<&str>, minor: i64) -> String {
    match currency.map(Currency::parse) {
        Some(Ok(currency)) => currency.decimal_text(minor),
        _ => minor.to_string(),
    }
}

pub fn payment(record: &Record, merchant: &str) -> Payment {
    let p = &record.properties;
    let currency = text(p, "currency");
    let state = text(p, "state").unwrap_or_default();
    let status = PaymentStatus::of_state(&state);
    let error_code = text(p, "error_code");
    let error_message = text(p, "error_message");
    let failure = (status == PaymentStatus::Failed || error_code.is_some()).then_some(Failure {
        code: error_code,
        message: error_message,
    });
    let next_action = (state == "requires_action").then(|| NextAction {
        kind: "use_stripe_sdk".into(),
        client_secret: text(p, "client_secret"),
        redirect_url: None,
    });
    Payment {
        id: record.id.to_string(),
        merchant_id: merchant.to_string(),
        amount: decimal(currency.as_deref(), integer(p, "amount").unwrap_or(0)),
        amount_refunded: decimal(currency.as_deref(), integer(p, "amount_refunded").unwrap_or(0)),
        currency: currency.as_deref().unwrap_or_default().to_ascii_uppercase(),
        provider: "stripe".into(),
        status,
        provider_ref: text(p, "gateway_id"),
        idempotency_key: text(p, "api_idempotency_key"),
        customer: text(p, "customer_id"),
        payment_method: text(p, "payment_method_id"),
        failure,
        next_action,
        metadata: p
            .get("metadata")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Map::new())),
        created_at: time_text(record.created_at),
        updated_at: time_text(record.updated_at),
    }
}

pub fn card(record: &Record) -> Card {
    let p = &record.properties;
    // A detached card keeps its record without a customer.
    let active = p.get("customer_id").is_some_and(Value::is_string);
    Card {
        id: record.id.to_string(),
        provider: "stripe".into(),
        brand: text(p, "brand"),
        last4: text(p, "last4"),
        exp_month: integer(p, "exp_month"),
        exp_year: integer(p, "exp_year"),
        is_default: active && p.get("is_default").and_then(Value::as_bool).unwrap_or(false),
        customer: text(p, "customer_id"),
        provider_ref: text(p, "gateway_id"),
        active,
        created_at: time_text(record.created_at),
    }
}

pub fn refund(record: &Record) -> Refund {
    let p = &record.properties;
    let currency = text(p, "currency");
    let status = match text(p, "state").as_deref() {
        Some("succeeded") => RefundStatus::Completed,
        Some("failed") => RefundStatus::Failed,
        Some("canceled") => RefundStatus::Canceled,
        _ => RefundStatus::Pending,
    };
    Refund {
        id: record.id.to_string(),
        payment_id: text(p, "payment_id"),
        status,
        provider_ref: text(p, "gateway_id"),
        amount: decimal(currency.as_deref(), integer(p, "amount").unwrap_or(0)),
        currency: currency.as_deref().unwrap_or_default().to_ascii_uppercase(),
        reason: text(p, "reason"),
        created_at: time_text(record.created_at),
    }
}
