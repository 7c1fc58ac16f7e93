//! Seed 004's errors: `NOT_FOUND` with `stripeErrorCode: resource_missing`,
//! `BAD_USER_INPUT` with the field, `PAYMENT_FAILED` with the friendly
//! message of the card error.

use async_graphql::{Error, ErrorExtensions};

use super::views::Kind;
use crate::gateway::{DispatchFailure, FailureKind};
use crate::graphql::errors::{coded, BAD_USER_INPUT, NOT_FOUND};

pub(super) fn bad_input(field: &str, message: impl Into<String>) -> Error {
    let field = field.to_string();
    Error::new(message).extend_with(move |_, e| {
        e.set("code", BAD_USER_INPUT);
        e.set("field", field.clone());
    })
}

pub(super) fn not_found(kind: Kind) -> Error {
    Error::new(kind.not_found_message()).extend_with(|_, e| {
        e.set("code", NOT_FOUND);
        e.set("stripeErrorCode", "resource_missing");
    })
}

pub(super) fn is_not_found(error: &Error) -> bool {
    error
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .is_some_and(|code| *code == async_graphql::Value::from(NOT_FOUND))
}

pub(super) fn internal(error: impl std::fmt::Display) -> Error {
    tracing::error!(error = %error, "Stripe API resolver failed");
    coded("INTERNAL_SERVER_ERROR", "the request could not be completed")
}

/// A failure of the request type, as seed 004's error. `own_id`: the
/// object the operation is about; "Customer not found" is said only when
/// Stripe misses that one (a missing price or payment method keeps
/// Stripe's own words).
pub(super) fn failure_error(kind: Kind, own_id: Option<&str>, failure: DispatchFailure) -> Error {
    let DispatchFailure {
        kind: failure_kind,
        message,
        gateway_code,
        ..
    } = failure;
    let missing = failure_kind == FailureKind::NotFound || gateway_code.as_deref() == Some("resource_missing");
    match failure_kind {
        _ if missing && own_id.is_some_and(|id| message.contains(id)) => not_found(kind),
        _ if missing => Error::new(message).extend_with(|_, e| {
            e.set("code", NOT_FOUND);
            e.set("stripeErrorCode", "resource_missing");
        }),
        FailureKind::Declined => {
            // The gateway's message is already the friendly one.
            Error::new(message).extend_with(move |_, e| {
                e.set("code", "PAYMENT_FAILED");
                if let Some(code) = &gateway_code {
                    e.set("stripeErrorCode", code.clone());
                }
            })
        }
        other => Error::new(message).extend_with(move |_, e| {
            e.set("code", other.graphql_code());
            if let Some(code) = &gateway_code {
                e.set("stripeErrorCode", code.clone());
            }
        }),
    }
}

/// An error the response mapper reported (a declined card on confirm).
pub(super) fn mapper_error(kind: Kind, error: &crate::gateway::GatewayErrorInfo) -> Error {
    let code = error.code.clone();
    let friendly = crate::gateway::errors::friendly_message(code.as_deref(), None);
    let message = friendly.map_or_else(|| error.message.clone(), str::to_string);
    let is_card_error = friendly.is_some() || matches!(kind, Kind::PaymentIntent | Kind::Invoice);
    Error::new(message).extend_with(move |_, e| {
        e.set(
            "code",
            if is_card_error {
                "PAYMENT_FAILED"
            } else {
                BAD_USER_INPUT
            },
        );
        if let Some(code) = &code {
            e.set("stripeErrorCode", code.clone());
        }
    })
}
