//! What the rest of payforms may ask of a gateway, and what it answers:
//! forms, pages, GraphQL and webhook processors all dispatch through
//! [`RequestDispatcher`], with the app version they were called with.

use serde_json::Value;

use crate::app::App;

/// Who asked for a dispatch. Only the runtime may send request types marked
/// `runtime_only` (which decide where Stripe sends events) or write the
/// runtime's own models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A form, page, API key or webhook processor: anything an app author
    /// or a visitor can trigger.
    Visitor,
    Runtime,
}

/// Whose request it is: the merchant whose records it reads and writes
/// and, for any merchant but the default, the Stripe key it is sent with
/// (the default merchant uses the instance's keys).
#[derive(Debug, Clone, Default)]
pub struct Tenant {
    pub merchant: crate::merchant_id::MerchantId,
    pub secret_key: Option<crate::config::Secret>,
}

/// Sends a request type to its gateway: render, send, map, store.
pub trait RequestDispatcher: Send + Sync {
    /// `app` is the version the caller was loaded with, so a form and the
    /// request type it sends always come from one version of the app.
    fn dispatch(
        &self,
        app: &App,
        request_type: &str,
        data: Value,
        idempotency_key: Option<String>,
        caller: Caller,
    ) -> Result<DispatchOutcome, DispatchFailure>;

    /// [`dispatch`](Self::dispatch) for `tenant`. A dispatcher that knows no
    /// merchants serves only the default one.
    fn dispatch_for(
        &self,
        tenant: &Tenant,
        app: &App,
        request_type: &str,
        data: Value,
        idempotency_key: Option<String>,
        caller: Caller,
    ) -> Result<DispatchOutcome, DispatchFailure> {
        if !tenant.merchant.is_default() {
            return Err(DispatchFailure::new(
                FailureKind::Internal,
                "this gateway serves only the default merchant",
            ));
        }
        self.dispatch(app, request_type, data, idempotency_key, caller)
    }

    /// Ask the gateway whether `secret_key` is accepted (Stripe: read the
    /// balance). Blocking.
    fn check_connection(&self, secret_key: &crate::config::Secret) -> super::configuration::ConnectionStatus {
        let _ = secret_key;
        super::configuration::ConnectionStatus::Failed("this gateway cannot check a connection".into())
    }

    /// Send a request type again with the idempotency key it was sent with,
    /// and hand back the gateway's answer without mapping it: the gateway
    /// replays what it answered the first time, so nothing happens twice.
    /// Err: no answer (the gateway could not be reached).
    fn resend(&self, _app: &App, request_type: &str, _data: Value, _key: &str) -> Result<Resent, DispatchFailure> {
        Err(DispatchFailure::new(
            FailureKind::Internal,
            format!("this gateway cannot resend `{request_type}`"),
        ))
    }
}

/// What resending a request found.
#[derive(Debug, Clone, PartialEq)]
pub enum Resent {
    /// The gateway answered.
    Answered { status: u16, body: Value },
    /// The request cannot be rendered from its inputs (a template or an
    /// input fails): it is not sent now and was not sent before.
    NotSent(DispatchFailure),
}

/// The gateway answered; `errors` are the mapper's (e.g. a declined card).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DispatchOutcome {
    pub record: Option<Value>,
    pub model: Option<String>,
    pub errors: Vec<GatewayErrorInfo>,
    /// The gateway's answer `{ status, body }` (secrets redacted): how list
    /// request types, which store nothing, hand their results back.
    pub response: Option<Value>,
    /// Nothing was sent: the request type's `trigger_condition` did not
    /// render `true`.
    pub skipped: bool,
}

/// An error a response mapper reported, for the visitor.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayErrorInfo {
    pub message: String,
    pub code: Option<String>,
    pub field: Option<String>,
}

/// Why a dispatch did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The card or bank said no.
    Declined,
    /// The input is not acceptable (ours or the gateway's validation).
    InvalidInput,
    /// The request type, or the object at the gateway, does not exist.
    NotFound,
    /// The gateway could not be reached; nothing was charged.
    GatewayDown,
    /// The gateway refused our credentials.
    GatewayAuthentication,
    RateLimited,
    /// Any other error the gateway answered.
    GatewayError,
    /// The caller may not send this request type or write this model.
    Forbidden,
    /// A notification or mapper template failed: the app author's bug.
    Template,
    /// The store or payforms itself failed.
    Internal,
}

impl FailureKind {
    /// `extensions.code` in GraphQL answers.
    pub fn graphql_code(self) -> &'static str {
        match self {
            FailureKind::Declined => "PAYMENT_FAILED",
            FailureKind::InvalidInput => "BAD_USER_INPUT",
            FailureKind::NotFound => "NOT_FOUND",
            FailureKind::GatewayDown => "GATEWAY_UNAVAILABLE",
            FailureKind::GatewayAuthentication => "GATEWAY_AUTHENTICATION_FAILED",
            FailureKind::RateLimited => "RATE_LIMITED",
            FailureKind::GatewayError => "GATEWAY_ERROR",
            FailureKind::Forbidden => "FORBIDDEN",
            FailureKind::Template => "TEMPLATE_ERROR",
            FailureKind::Internal => "INTERNAL_SERVER_ERROR",
        }
    }

    /// Failures whose details are for the log, not for a visitor (they can
    /// name files and lines of the app).
    pub fn is_internal(self) -> bool {
        matches!(
            self,
            FailureKind::Template | FailureKind::Internal | FailureKind::Forbidden
        )
    }
}

/// The request could not be completed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DispatchFailure {
    pub kind: FailureKind,
    pub message: String,
    /// The gateway's own code, e.g. "card_declined" (`extensions.stripeErrorCode`).
    pub gateway_code: Option<String>,
    /// The record the response mapper wrote for the error answer (a
    /// declined payment), if any.
    pub written: Option<WrittenRecord>,
}

/// A record a mapper wrote: its model and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenRecord {
    pub model: String,
    pub id: i64,
}

impl DispatchFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> DispatchFailure {
        DispatchFailure {
            kind,
            message: message.into(),
            gateway_code: None,
            written: None,
        }
    }
}
