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

pub mod contract;
pub mod errors;
pub mod inputs;
pub mod mapping;
pub mod redact;
pub mod request;
pub mod request_log;
pub mod resend;
pub mod transport;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Map, Value};

pub use contract::{
    Caller, DispatchFailure, DispatchOutcome, FailureKind, GatewayErrorInfo, RequestDispatcher, Resent,
};

use crate::app::App;
use crate::config::Settings;
use crate::db::Store;

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

    /// What templates see as `gateway`: the base URL and keys from settings.
    fn scope(&self) -> Value {
        let stripe = &self.settings.stripe;
        json!({
            "name": "stripe",
            "api_base": stripe.api_base,
            "secret_key": stripe.secret_key.as_ref().map(|s| s.expose().to_string()).unwrap_or_default(),
            "publishable_key": stripe.publishable_key,
        })
    }

    /// Every secret that must never reach the request log or an answer.
    fn secret_values(&self) -> Vec<String> {
        let stripe = &self.settings.stripe;
        let mut values: Vec<String> = Vec::new();
        if let Some(key) = &stripe.secret_key {
            values.push(key.expose().to_string());
        }
        values.extend(stripe.webhook_secrets.iter().map(|s| s.expose().to_string()));
        values.push(self.settings.secret.expose().to_string());
        values
    }
}

impl RequestDispatcher for Gateway {
    fn dispatch(
        &self,
        app: &App,
        request_type: &str,
        data: Value,
        idempotency_key: Option<String>,
        caller: Caller,
    ) -> Result<DispatchOutcome, DispatchFailure> {
        let notification = App::resolve(&app.notifications, request_type).ok_or_else(|| {
            DispatchFailure::new(FailureKind::NotFound, format!("unknown request type `{request_type}`"))
        })?;
        if notification.runtime_only && caller != Caller::Runtime {
            return Err(DispatchFailure::new(
                FailureKind::Forbidden,
                format!("request type `{request_type}` is sent only by payforms itself"),
            ));
        }
        let data = inputs::coerce(notification, data)?;
        let idempotency_key = idempotency_key
            .or_else(|| data.get("idempotency_key").and_then(Value::as_str).map(str::to_string))
            // platformOS's documented spelling.
            .or_else(|| data.get("indempotency_key").and_then(Value::as_str).map(str::to_string))
            .filter(|k| !k.trim().is_empty());
        let config = data.get("config").cloned().unwrap_or_else(|| json!({}));
        let mut globals = Map::new();
        globals.insert("data".into(), data);
        globals.insert("config".into(), config);
        globals.insert("gateway".into(), self.scope());
        let globals = Value::Object(globals);
        let request = request::render_request(notification, &globals, idempotency_key)?;
        let secrets = self.secret_values();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let model = app.model_type(GATEWAY_REQUEST_MODEL).map(|m| m.as_ref());
        let log = request_log::RequestLog {
            store: &self.store,
            model,
            request_type,
            secrets: &secrets,
        };
        let response = self.runtime.block_on(transport::send(&self.http, &request, &log))?;
        let cx = mapping::MappingContext {
            app,
            store: &self.store,
            settings: &self.settings,
            request_type: &notification.name,
            secrets: &secrets,
            caller,
        };
        mapping::map_response(&cx, globals, response)
    }

    fn resend(&self, app: &App, request_type: &str, data: Value, key: &str) -> Result<Resent, DispatchFailure> {
        self.resend_unmapped(app, request_type, data, key)
    }
}
