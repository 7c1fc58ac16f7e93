//! Gateways: sending request types (templated API calls) and mapping what
//! comes back into records.
//!
//! A request type is a pair of templates, as a connector is a request
//! builder plus a response transformer: the API call notification renders
//! the HTTP request, the response mapper renders what to store. The
//! runtime does what every request type would otherwise repeat: typed
//! inputs, path parameters, blank values left out, default headers,
//! idempotency keys, retries, the request log, redaction.
//!
//! One dispatch: [`inputs`] -> [`request`] -> [`transport`] (logging each
//! attempt with [`request_log`]) -> [`mapping`].

pub mod configuration;
pub mod contract;
pub mod errors;
pub mod inputs;
pub mod mapping;
pub use crate::redact;
pub mod request;
pub mod request_log;
pub mod resend;
pub mod transport;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};

pub use contract::{
    Caller, DispatchFailure, DispatchOutcome, FailureKind, GatewayErrorInfo, RequestDispatcher, Resent, Tenant,
};

use crate::app::App;
use crate::config::Settings;
use crate::db::Store;

/// Refuse, before anything is sent, a currency the app's gateway defaults
/// do not accept.
fn accepted_currency(app: &App, data: &Value) -> Result<(), DispatchFailure> {
    let Some(defaults) = app.gateway_defaults.get("stripe") else {
        return Ok(());
    };
    // The payment's currency and a Checkout line's own (`price_data`).
    let lines = data.get("line_items").and_then(Value::as_array);
    let currencies = std::iter::once(data.get("currency"))
        .chain(
            lines
                .into_iter()
                .flatten()
                .map(|line| line.pointer("/price_data/currency")),
        )
        .flatten();
    for currency in currencies {
        let refused = match currency {
            Value::Null => continue,
            Value::String(code) if defaults.accepts_currency(code) => continue,
            Value::String(code) => code.chars().take(16).collect::<String>(),
            _ => "(not text)".to_string(),
        };
        return Err(DispatchFailure::new(
            FailureKind::InvalidInput,
            format!(
                "currency `{refused}` is not accepted here (accepted: {}); nothing was charged",
                defaults.currencies.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Model of the request log.
pub use crate::db::schema::GATEWAY_REQUEST_MODEL;

/// A random idempotency key (one per rendered form, or per write sent
/// without one).
pub fn new_idempotency_key() -> String {
    let mut bytes = [0u8; 18];
    // The thread's CSPRNG (seeded from the OS): no system call per form.
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("pf_{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for gateway calls: {0}")]
pub struct GatewayStartError(#[from] reqwest::Error);

/// The Stripe gateway: built from settings, the store and an HTTP client,
/// before the instance that uses it.
pub struct Gateway {
    settings: Settings,
    store: Store,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl Gateway {
    pub fn new(
        settings: &Settings,
        store: Store,
        runtime: tokio::runtime::Handle,
    ) -> Result<Gateway, GatewayStartError> {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("payforms/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Gateway {
            settings: settings.clone(),
            store,
            http,
            runtime,
        })
    }

    /// What templates see as `gateway`: the base URL and keys from settings,
    /// and the app's defaults for the gateway (`gateways/stripe.yml`).
    fn scope(&self, app: &App, tenant: &Tenant) -> Value {
        let settings = &self.settings;
        let secret_key = match &tenant.secret_key {
            Some(key) => Some(key.clone()),
            None => settings.stripe_secret_key(),
        };
        let defaults = app.gateway_defaults.get("stripe");
        let none: &[String] = &[];
        json!({
            "capture_method": defaults.map(|d| d.capture).unwrap_or_default().as_str(),
            "currencies": defaults.map_or(none, |d| &d.currencies),
            "payment_methods": defaults.map_or(none, |d| &d.payment_methods),
            "name": "stripe",
            "api_base": settings.stripe.api_base,
            "secret_key": secret_key.map(|s| s.expose().to_string()).unwrap_or_default(),
            "merchant": tenant.merchant.as_str(),
            "publishable_key": settings.stripe_publishable_key(),
            "environment": settings.environment.as_str(),
            "livemode": settings.environment.livemode(),
        })
    }

    /// `failure` with every secret taken out of its message.
    fn redacted(&self, tenant: &Tenant, mut failure: DispatchFailure) -> DispatchFailure {
        let secrets = self.secret_values(tenant);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        failure.message = redact::redact(&failure.message, &secrets);
        failure
    }

    /// Every secret that must never reach the request log or an answer.
    fn secret_values(&self, tenant: &Tenant) -> Vec<String> {
        let settings = &self.settings;
        let mut values: Vec<String> = Vec::new();
        if let Some(key) = &tenant.secret_key {
            values.push(key.expose().to_string());
        }
        if let Some(key) = settings.stripe_secret_key() {
            values.push(key.expose().to_string());
        }
        values.extend(settings.stripe_webhook_secrets().iter().map(|s| s.expose().to_string()));
        values.push(self.settings.secret.expose().to_string());
        values
    }
}

/// What a request type's `to`, headers and body render with: `data`,
/// `config`, `gateway`, and platformOS's `context.constants` for the
/// Stripe keys (what platformOS's Stripe module reads: `stripe_sk_key`,
/// `stripe_pk_key`, `payment_livemode`), the same keys `gateway` holds.
/// Mappers and callbacks get neither `gateway` nor `context`.
fn request_globals(data: Value, gateway: Value) -> Value {
    let config = data.get("config").cloned().unwrap_or_else(|| json!({}));
    let constants = json!({
        "stripe_sk_key": gateway["secret_key"],
        "stripe_pk_key": gateway["publishable_key"],
        "payment_livemode": if gateway["livemode"] == true { "true" } else { "false" },
    });
    json!({
        "data": data,
        "config": config,
        "gateway": gateway,
        "context": { "constants": constants },
    })
}

impl RequestDispatcher for Gateway {
    fn check_connection(&self, secret_key: &crate::config::Secret) -> configuration::ConnectionStatus {
        use configuration::ConnectionStatus;
        if self.settings.sandbox
            && !secret_key.expose().starts_with("sk_test_")
            && !secret_key.expose().starts_with("rk_test_")
        {
            return ConnectionStatus::Failed("the sandbox plays Stripe in test mode only".into());
        }
        let url = format!("{}/v1/balance", self.settings.stripe.api_base);
        let request = self
            .http
            .get(&url)
            .bearer_auth(secret_key.expose())
            .timeout(Duration::from_secs(10));
        let answer = self.runtime.block_on(async move {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            Ok::<_, reqwest::Error>((status, body))
        });
        let secrets = [secret_key.expose()];
        match answer {
            Ok((200, _)) => ConnectionStatus::Connected,
            Ok((status, body)) => {
                ConnectionStatus::Failed(redact::redact(&configuration::failure_reason(status, &body), &secrets))
            }
            Err(e) => ConnectionStatus::Failed(redact::redact(&format!("Stripe could not be reached: {e}"), &secrets)),
        }
    }

    fn dispatch(
        &self,
        app: &App,
        request_type: &str,
        data: Value,
        idempotency_key: Option<String>,
        caller: Caller,
    ) -> Result<DispatchOutcome, DispatchFailure> {
        self.dispatch_for(&Tenant::default(), app, request_type, data, idempotency_key, caller)
    }

    fn dispatch_for(
        &self,
        tenant: &Tenant,
        app: &App,
        request_type: &str,
        data: Value,
        idempotency_key: Option<String>,
        caller: Caller,
    ) -> Result<DispatchOutcome, DispatchFailure> {
        // A template's error can quote a value it was rendering, and request
        // templates hold the keys: no message leaves with one in it.
        self.dispatch_unredacted(tenant, app, request_type, data, idempotency_key, caller)
            .map_err(|failure| self.redacted(tenant, failure))
    }

    fn resend(&self, app: &App, request_type: &str, data: Value, key: &str) -> Result<Resent, DispatchFailure> {
        let tenant = Tenant::default();
        match self.resend_unmapped(app, request_type, data, key) {
            Ok(Resent::NotSent(failure)) => Ok(Resent::NotSent(self.redacted(&tenant, failure))),
            Ok(answered) => Ok(answered),
            Err(failure) => Err(self.redacted(&tenant, failure)),
        }
    }
}

impl Gateway {
    fn dispatch_unredacted(
        &self,
        tenant: &Tenant,
        app: &App,
        request_type: &str,
        data: Value,
        idempotency_key: Option<String>,
        caller: Caller,
    ) -> Result<DispatchOutcome, DispatchFailure> {
        // Another merchant's request reads and writes only its records, and
        // is never sent with the instance's keys.
        if !tenant.merchant.is_default() && tenant.secret_key.is_none() {
            return Err(DispatchFailure::new(
                FailureKind::GatewayAuthentication,
                format!("merchant `{}` has no Stripe credentials", tenant.merchant),
            ));
        }
        let store = self.store.clone().with_merchant(tenant.merchant.clone());
        let notification = App::resolve(&app.notifications, request_type).ok_or_else(|| {
            DispatchFailure::new(FailureKind::NotFound, format!("unknown request type `{request_type}`"))
        })?;
        if notification.runtime_only && caller != Caller::Runtime {
            return Err(DispatchFailure::new(
                FailureKind::Forbidden,
                format!("request type `{request_type}` is sent only by payforms itself"),
            ));
        }
        if !notification.enabled {
            return Err(DispatchFailure::new(
                FailureKind::Forbidden,
                format!("request type `{request_type}` is turned off (`enabled: false`)"),
            ));
        }
        let data = inputs::coerce(notification, data)?;
        accepted_currency(app, &data)?;
        let idempotency_key = idempotency_key
            .or_else(|| data.get("idempotency_key").and_then(Value::as_str).map(str::to_string))
            // platformOS's documented spelling.
            .or_else(|| data.get("indempotency_key").and_then(Value::as_str).map(str::to_string))
            .filter(|k| !k.trim().is_empty());
        let globals = request_globals(data, self.scope(app, tenant));
        if !request::should_send(notification, &globals)? {
            tracing::info!(request_type, "not sent: its trigger_condition did not render `true`");
            return Ok(DispatchOutcome {
                skipped: true,
                ..DispatchOutcome::default()
            });
        }
        let request = request::render_request(notification, &globals, idempotency_key)?;
        let secrets = self.secret_values(tenant);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let model = app.model_type(GATEWAY_REQUEST_MODEL).map(|m| m.as_ref());
        let log = request_log::RequestLog {
            store: &store,
            model,
            request_type,
            secrets: &secrets,
        };
        let response = self.runtime.block_on(transport::send(&self.http, &request, &log))?;
        let cx = mapping::MappingContext {
            app,
            store: &store,
            settings: &self.settings,
            request_type: &notification.name,
            secrets: &secrets,
            caller,
        };
        mapping::map_response(&cx, globals, response)
    }
}
