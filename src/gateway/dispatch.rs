//! The dispatch pipeline, one code path for forms, the `dispatch` tag and
//! GraphQL mutations: render -> send (bounded, safe retries) -> map -> store,
//! logging every attempt as a `gateway_request` record.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::errors::{self, GatewayError};
use super::redact::redact;
use crate::app::{ApiCallNotification, App, BodyFormat, NotificationMethod};
use crate::db::model_type::ModelType;
use crate::db::StoreError;
use crate::graphql::{DispatchFailure, DispatchOutcome, GatewayErrorInfo, RequestDispatcher};
use crate::instance::{Instance, Loaded};
use crate::liquid::filters::encoding::form_encode;
use crate::render::view::JsonView;
use crate::render::{self, RenderError};

/// Model of the request log.
pub use crate::db::model_type::GATEWAY_REQUEST_MODEL;
/// Longest response body kept in the request log.
const LOGGED_BODY_LIMIT: usize = 8 * 1024;

pub struct Gateway {
    instance: Weak<Instance>,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl Gateway {
    pub fn new(instance: Weak<Instance>, runtime: tokio::runtime::Handle) -> Result<Gateway, String> {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("payforms/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Gateway {
            instance,
            http,
            runtime,
        })
    }
}

/// What the response mapper renders.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapperOutput {
    model: Option<String>,
    operation: Option<String>,
    id: Option<Value>,
    #[serde(rename = "match")]
    matching: Option<Map<String, Value>>,
    properties: Option<Map<String, Value>>,
    errors: Option<Vec<MapperError>>,
}

#[derive(Debug, Deserialize)]
struct MapperError {
    message: String,
    code: Option<String>,
    field: Option<String>,
}

/// A rendered HTTP request.
struct OutboundRequest {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<(String, &'static str)>,
    timeout: Duration,
    retries: u32,
    idempotency_key: Option<String>,
}

/// What came back (after retries).
struct InboundResponse {
    status: u16,
    headers: Map<String, Value>,
    body: Value,
}

fn failure(code: &str, message: impl Into<String>) -> DispatchFailure {
    DispatchFailure {
        message: message.into(),
        code: code.to_string(),
        stripe_error_code: None,
    }
}

fn template_failure(e: RenderError) -> DispatchFailure {
    failure("TEMPLATE_ERROR", e.to_string())
}

impl RequestDispatcher for Gateway {
    fn dispatch(
        &self,
        request_type: &str,
        data: Value,
        idempotency_key: Option<String>,
    ) -> Result<DispatchOutcome, DispatchFailure> {
        if crate::graphql::is_runtime_only(request_type) {
            return Err(failure(
                "FORBIDDEN",
                format!("request type `{request_type}` is sent only by payforms itself"),
            ));
        }
        self.dispatch_with(request_type, data, idempotency_key, Caller::Visitor)
    }

    fn dispatch_as_runtime(
        &self,
        request_type: &str,
        data: Value,
        idempotency_key: Option<String>,
    ) -> Result<DispatchOutcome, DispatchFailure> {
        self.dispatch_with(request_type, data, idempotency_key, Caller::Runtime)
    }
}

/// Who asked for a dispatch: only the runtime may write its own models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Runtime,
    Visitor,
}

impl Gateway {
    fn dispatch_with(
        &self,
        request_type: &str,
        data: Value,
        idempotency_key: Option<String>,
        caller: Caller,
    ) -> Result<DispatchOutcome, DispatchFailure> {
        let instance = self
            .instance
            .upgrade()
            .ok_or_else(|| failure("UNAVAILABLE", "payforms is shutting down"))?;
        let loaded = instance.current();
        let notification = App::resolve(&loaded.app.notifications, request_type)
            .cloned()
            .ok_or_else(|| failure("NOT_FOUND", format!("unknown request type `{request_type}`")))?;
        let data = if data.is_null() { json!({}) } else { data };
        let idempotency_key = idempotency_key
            .or_else(|| data.get("idempotency_key").and_then(Value::as_str).map(str::to_string))
            // platformOS's documented spelling.
            .or_else(|| data.get("indempotency_key").and_then(Value::as_str).map(str::to_string))
            .filter(|k| !k.trim().is_empty());
        let config = data.get("config").cloned().unwrap_or_else(|| json!({}));
        let globals = json!({
            "data": data,
            "config": config,
            "gateway": gateway_scope(&instance),
        });
        let request = render_request(&notification, &globals, idempotency_key)?;
        let secrets = secret_values(&instance);
        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let response = self
            .runtime
            .block_on(self.send(&instance, request_type, &request, &secret_refs))?;
        map_response(
            &instance,
            &loaded,
            &notification.name,
            &globals,
            response,
            &secret_refs,
            caller,
        )
    }
}

fn gateway_scope(instance: &Instance) -> Value {
    let stripe = &instance.settings.stripe;
    json!({
        "name": "stripe",
        "api_base": stripe.api_base,
        "secret_key": stripe.secret_key.as_ref().map(|s| s.expose().to_string()).unwrap_or_default(),
        "publishable_key": stripe.publishable_key,
    })
}

fn secret_values(instance: &Instance) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    if let Some(key) = &instance.settings.stripe.secret_key {
        values.push(key.expose().to_string());
    }
    values.extend(
        instance
            .settings
            .stripe
            .webhook_secrets
            .iter()
            .map(|s| s.expose().to_string()),
    );
    values.push(instance.settings.secret.expose().to_string());
    values
}

fn render_request(
    notification: &ApiCallNotification,
    globals: &Value,
    idempotency_key: Option<String>,
) -> Result<OutboundRequest, DispatchFailure> {
    let url = render::render(&notification.to, globals)
        .map_err(template_failure)?
        .trim()
        .to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(failure(
            "TEMPLATE_ERROR",
            format!("{}: `to` must render an http(s) URL", notification.file.display()),
        ));
    }
    let mut headers = Vec::new();
    if let Some(template) = &notification.headers {
        match render::render_json(template, globals).map_err(template_failure)? {
            Value::Object(map) => {
                for (k, v) in map {
                    let value = match v {
                        Value::String(s) => s,
                        Value::Null => continue,
                        other => other.to_string(),
                    };
                    headers.push((k, value));
                }
            }
            Value::Null => {}
            _ => {
                return Err(failure(
                    "TEMPLATE_ERROR",
                    format!("{}: headers must render a JSON object", notification.file.display()),
                ))
            }
        }
    }
    let rendered = render::render(&notification.body, globals).map_err(template_failure)?;
    let rendered = rendered.trim();
    let encoded = match notification.format {
        BodyFormat::Json => rendered.to_string(),
        BodyFormat::Form if rendered.starts_with('{') => {
            let value: Value = serde_json::from_str(rendered).map_err(|e| {
                failure(
                    "TEMPLATE_ERROR",
                    format!(
                        "{}:{}: the body must render JSON, but {e}",
                        notification.file.display(),
                        notification.body.first_line
                    ),
                )
            })?;
            // The same encoder as the `form_encode` filter, over the JSON as is.
            form_encode(JsonView::new(&value)).map_err(|e| {
                failure(
                    "TEMPLATE_ERROR",
                    format!("{}: the body cannot be form encoded: {e}", notification.file.display()),
                )
            })?
        }
        BodyFormat::Form => rendered.to_string(),
    };
    let method_text = match &notification.method {
        NotificationMethod::Fixed(m) => m.clone(),
        NotificationMethod::Rendered(t) => render::render(t, globals)
            .map_err(template_failure)?
            .trim()
            .to_ascii_uppercase(),
    };
    if !crate::app::definitions::HTTP_METHODS.contains(&method_text.as_str()) {
        return Err(failure(
            "TEMPLATE_ERROR",
            format!(
                "{}: request_type rendered `{method_text}`, not an HTTP method",
                notification.file.display()
            ),
        ));
    }
    let method = reqwest::Method::from_bytes(method_text.as_bytes())
        .map_err(|_| failure("TEMPLATE_ERROR", format!("bad HTTP method {method_text}")))?;
    let (url, body) = if method == reqwest::Method::GET || method == reqwest::Method::DELETE {
        // Stripe takes the parameters of reads and deletes in the query string.
        let url = if encoded.is_empty() || notification.format == BodyFormat::Json {
            url
        } else if url.contains('?') {
            format!("{url}&{encoded}")
        } else {
            format!("{url}?{encoded}")
        };
        (url, None)
    } else {
        let content_type = match notification.format {
            BodyFormat::Form => "application/x-www-form-urlencoded",
            BodyFormat::Json => "application/json",
        };
        (url, Some((encoded, content_type)))
    };
    // Writes always carry a key, so a retry can never apply twice.
    let idempotency_key = match (&method, idempotency_key) {
        (_, Some(k)) => Some(k),
        (m, None) if *m == reqwest::Method::POST => Some(crate::forms::csrf::new_idempotency_key()),
        _ => None,
    };
    Ok(OutboundRequest {
        method,
        url,
        headers,
        body,
        timeout: notification.timeout,
        retries: notification.retries,
        idempotency_key,
    })
}

impl Gateway {
    async fn send(
        &self,
        instance: &Arc<Instance>,
        request_type: &str,
        request: &OutboundRequest,
        secrets: &[&str],
    ) -> Result<InboundResponse, DispatchFailure> {
        let attempts = request.retries + 1;
        let mut last_error = String::new();
        for attempt in 1..=attempts {
            let started = Instant::now();
            let mut builder = self
                .http
                .request(request.method.clone(), &request.url)
                .timeout(request.timeout);
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            if let Some(key) = &request.idempotency_key {
                builder = builder.header("Idempotency-Key", key.as_str());
            }
            if let Some((body, content_type)) = &request.body {
                builder = builder.header("Content-Type", *content_type).body(body.clone());
            }
            let outcome = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let mut headers = Map::new();
                    for (name, value) in response.headers() {
                        if let Ok(v) = value.to_str() {
                            headers.insert(name.as_str().to_string(), Value::String(v.to_string()));
                        }
                    }
                    match response.text().await {
                        Ok(text) => Ok((status, headers, text)),
                        Err(e) => Err(describe_reqwest_error(&e)),
                    }
                }
                Err(e) => Err(describe_reqwest_error(&e)),
            };
            let duration_ms = started.elapsed().as_millis() as i64;
            let retryable = match &outcome {
                Ok((status, _, _)) => *status == 429 || *status >= 500,
                Err(_) => true,
            };
            log_attempt(instance, request_type, request, attempt, duration_ms, &outcome, secrets);
            match outcome {
                Ok((status, headers, text)) if !retryable || attempt == attempts => {
                    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    return Ok(InboundResponse { status, headers, body });
                }
                Ok((status, _, _)) => last_error = format!("HTTP {status}"),
                Err(message) => last_error = message,
            }
            if attempt < attempts {
                let backoff =
                    Duration::from_millis(200u64.saturating_mul(1 << (attempt - 1).min(5))).min(Duration::from_secs(3));
                tokio::time::sleep(backoff).await;
            }
        }
        Err(failure(
            "GATEWAY_UNAVAILABLE",
            format!("The payment service could not be reached ({last_error}); nothing was charged. Please try again."),
        ))
    }
}

fn describe_reqwest_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "network error".into()
    }
}

fn log_attempt(
    instance: &Instance,
    request_type: &str,
    request: &OutboundRequest,
    attempt: u32,
    duration_ms: i64,
    outcome: &Result<(u16, Map<String, Value>, String), String>,
    secrets: &[&str],
) {
    let Ok(model) = request_log_model(instance) else {
        return;
    };
    let (status, response_body, error_message) = match outcome {
        Ok((status, _, text)) => (json!(status), truncate(&redact(text, secrets)), Value::Null),
        Err(message) => (Value::Null, String::new(), json!(redact(message, secrets))),
    };
    let request_body = request
        .body
        .as_ref()
        .map(|(b, _)| redact(b, secrets))
        .unwrap_or_default();
    let mut properties = Map::new();
    properties.insert("request_type".into(), json!(request_type));
    properties.insert("method".into(), json!(request.method.as_str()));
    properties.insert("url".into(), json!(redact(&request.url, secrets)));
    properties.insert("status".into(), status);
    properties.insert("duration_ms".into(), json!(duration_ms));
    properties.insert("attempts".into(), json!(attempt));
    properties.insert("idempotency_key".into(), json!(request.idempotency_key));
    properties.insert("request_body".into(), json!(request_body));
    properties.insert("response_body".into(), json!(response_body));
    properties.insert("error_message".into(), error_message);
    if let Err(e) = instance.store.create_record(&model, properties) {
        tracing::warn!("could not log the gateway request: {e}");
    }
    match outcome {
        Ok((status, _, _)) => tracing::info!(
            "gateway {request_type} {} {} -> {status} in {duration_ms}ms (attempt {attempt})",
            request.method,
            redact(&request.url, secrets)
        ),
        Err(message) => tracing::warn!(
            "gateway {request_type} {} {} failed: {message} (attempt {attempt})",
            request.method,
            redact(&request.url, secrets)
        ),
    }
}

fn request_log_model(instance: &Instance) -> Result<Arc<ModelType>, ()> {
    instance
        .current()
        .app
        .model_type(GATEWAY_REQUEST_MODEL)
        .cloned()
        .ok_or(())
}

fn truncate(text: &str) -> String {
    if text.len() <= LOGGED_BODY_LIMIT {
        return text.to_string();
    }
    let mut end = LOGGED_BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn map_response(
    instance: &Arc<Instance>,
    loaded: &Loaded,
    request_type: &str,
    globals: &Value,
    response: InboundResponse,
    secrets: &[&str],
    caller: Caller,
) -> Result<DispatchOutcome, DispatchFailure> {
    let gateway_error = if (200..300).contains(&response.status) {
        None
    } else {
        Some(errors::from_response(response.status, &response.body))
    };
    let mut outcome = DispatchOutcome {
        record: None,
        model: None,
        errors: Vec::new(),
        response: Some(json!({ "status": response.status, "body": redact_value(&response.body, secrets) })),
    };
    if let Some(mapper) = App::resolve(&loaded.app.response_mappers, request_type) {
        let mut scope = match globals {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        scope.remove("gateway");
        scope.insert(
            "response".into(),
            json!({ "status": response.status, "headers": response.headers, "body": response.body }),
        );
        let sealer = Arc::new(MapperHost {
            instance: instance.clone(),
        });
        let rendered = crate::liquid::host::with_host(sealer, || render::render_json(mapper, &Value::Object(scope)))
            .map_err(template_failure)?;
        let output: MapperOutput = if rendered.is_null() {
            MapperOutput::default()
        } else {
            serde_json::from_value(rendered).map_err(|e| {
                failure(
                    "TEMPLATE_ERROR",
                    format!(
                        "{}:{}: the response mapper's JSON is not valid: {e}",
                        mapper.file.display(),
                        mapper.first_line
                    ),
                )
            })?
        };
        for e in output.errors.iter().flatten() {
            outcome.errors.push(GatewayErrorInfo {
                message: e.message.clone(),
                code: e.code.clone(),
                field: e.field.clone(),
            });
        }
        if let Some(model_name) = &output.model {
            let model = loaded.app.model_type(model_name).cloned().ok_or_else(|| {
                failure(
                    "TEMPLATE_ERROR",
                    format!("{}: model `{model_name}` does not exist", mapper.file.display()),
                )
            })?;
            if caller != Caller::Runtime && crate::db::model_type::is_system_model(&model.name) {
                return Err(failure(
                    "FORBIDDEN",
                    format!(
                        "{}: model `{model_name}` is written only by payforms itself",
                        mapper.file.display()
                    ),
                ));
            }
            let record = write_record(instance, &model, &output).map_err(|e| store_failure(&e))?;
            outcome.model = Some(model.name.clone());
            outcome.record = record;
        }
    }
    match gateway_error {
        Some(error) => Err(gateway_failure(&error)),
        None => Ok(outcome),
    }
}

/// The host of a response mapper: it may only seal secrets.
struct MapperHost {
    instance: Arc<Instance>,
}

impl crate::liquid::host::RenderHost for MapperHost {
    fn include_form(&self, _: &str, _: Map<String, Value>) -> Result<String, crate::liquid::host::HostError> {
        Err(mapper_only())
    }
    fn form_block(&self, _: &str, _: Map<String, Value>) -> Result<String, crate::liquid::host::HostError> {
        Err(mapper_only())
    }
    fn graphql(
        &self,
        _: crate::liquid::host::GraphqlSource<'_>,
        _: Map<String, Value>,
    ) -> Result<Value, crate::liquid::host::HostError> {
        Err(mapper_only())
    }
    fn dispatch(&self, _: &str, _: Value) -> Result<Value, crate::liquid::host::HostError> {
        Err(mapper_only())
    }
    fn log(&self, message: &str, _level: &str) {
        tracing::info!(target: "payforms::mappers", "{message}");
    }
    fn asset_url(&self, path: &str) -> String {
        format!("/assets/{path}")
    }
    fn encrypt_secret(&self, clear: &str) -> Result<String, crate::liquid::host::HostError> {
        Ok(crate::secrets::encrypt(
            &self.instance.settings,
            &crate::config::Secret::new(clear),
        ))
    }
}

fn mapper_only() -> crate::liquid::host::HostError {
    crate::liquid::host::HostError("a response mapper only maps the response to a record".into())
}

/// A response body with every known secret (and anything shaped like one)
/// replaced, for handing back to templates and programs.
fn redact_value(body: &Value, secrets: &[&str]) -> Value {
    let text = body.to_string();
    let clean = redact(&text, secrets);
    if clean == text {
        body.clone()
    } else {
        serde_json::from_str(&clean).unwrap_or(Value::Null)
    }
}

fn gateway_failure(error: &GatewayError) -> DispatchFailure {
    DispatchFailure {
        message: error.message.clone(),
        code: errors::graphql_code(error).to_string(),
        stripe_error_code: error
            .decline_code
            .clone()
            .filter(|d| d != "generic_decline")
            .or_else(|| error.code.clone()),
    }
}

fn store_failure(e: &StoreError) -> DispatchFailure {
    match e {
        StoreError::Validation(fields) => failure(
            "BAD_USER_INPUT",
            fields.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "),
        ),
        StoreError::NotFound { .. } => failure("NOT_FOUND", e.to_string()),
        other => failure("INTERNAL_SERVER_ERROR", other.to_string()),
    }
}

fn record_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn write_record(instance: &Instance, model: &ModelType, output: &MapperOutput) -> Result<Option<Value>, StoreError> {
    let store = &instance.store;
    let properties = output.properties.clone().unwrap_or_default();
    let operation = output
        .operation
        .as_deref()
        .unwrap_or(if output.id.is_some() { "update" } else { "create" });
    let by_id = output.id.as_ref().and_then(record_id);
    let record = match operation {
        "none" => return Ok(None),
        "create" => store.create_record(model, properties)?,
        "update" => match (by_id, &output.matching) {
            (Some(id), _) => store.update_record(model, id, properties)?,
            (None, Some(matching)) => match store.find_record(model, matching)? {
                Some(found) => store.update_record(model, found.id, properties)?,
                None => return Ok(None),
            },
            (None, None) => {
                return Err(StoreError::Validation(vec![crate::error::FieldError::new(
                    "id",
                    "update needs an `id` or a `match`",
                )]))
            }
        },
        "upsert" => {
            let matching = match &output.matching {
                Some(m) => m.clone(),
                None => {
                    let mut m = Map::new();
                    if let Some(gateway_id) = properties.get("gateway_id") {
                        m.insert("gateway_id".into(), gateway_id.clone());
                    }
                    m
                }
            };
            store.upsert_record(model, &matching, properties)?
        }
        "delete" => match (by_id, &output.matching) {
            (Some(id), _) => store.delete_record(model, id)?,
            (None, Some(matching)) => match store.find_record(model, matching)? {
                Some(found) => store.delete_record(model, found.id)?,
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        },
        other => {
            return Err(StoreError::Validation(vec![crate::error::FieldError::new(
                "operation",
                format!("`{other}` is not one of create, update, upsert, delete, none"),
            )]))
        }
    };
    Ok(Some(record.to_liquid_json()))
}
