//! Mapping the gateway's answer: the response mapper renders what to store
//! (`model`, `operation`, `match`/`id`, `properties`, `unset`, `errors`),
//! and the record is written. A mapper sees answers that are not 2xx only
//! when its front matter says `map_errors: true`; otherwise such an answer
//! writes nothing and becomes the dispatch's failure.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::contract::{Caller, DispatchFailure, DispatchOutcome, FailureKind, GatewayErrorInfo};
use super::errors::{self, GatewayError};
use super::redact::redact;
use super::request::template_failure;
use super::transport::InboundResponse;
use crate::app::templates::render_json;
use crate::app::App;
use crate::config::Settings;
use crate::db::schema::ModelType;
use crate::db::write::RecordWrite;
use crate::db::{Store, StoreError};
use crate::liquid::host::{GraphqlSource, HostError, RenderHost};

/// What the response mapper renders.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapperOutput {
    model: Option<String>,
    operation: Option<String>,
    id: Option<Value>,
    #[serde(rename = "match")]
    matching: Option<Map<String, Value>>,
    /// Null values are "not given": an update keeps what is stored.
    properties: Option<Map<String, Value>>,
    /// Properties to clear.
    unset: Option<Vec<String>>,
    errors: Option<Vec<MapperError>>,
}

#[derive(Debug, Deserialize)]
struct MapperError {
    message: String,
    code: Option<String>,
    field: Option<String>,
}

/// Where a mapper's record goes.
pub struct MappingContext<'a> {
    pub app: &'a App,
    pub store: &'a Store,
    pub settings: &'a Settings,
    pub request_type: &'a str,
    pub secrets: &'a [&'a str],
    pub caller: Caller,
}

pub fn map_response(
    cx: &MappingContext<'_>,
    globals: Value,
    response: InboundResponse,
) -> Result<DispatchOutcome, DispatchFailure> {
    let succeeded = (200..300).contains(&response.status);
    let gateway_error = (!succeeded).then(|| errors::from_response(response.status, &response.body));
    let mut outcome = DispatchOutcome {
        response: Some(json!({ "status": response.status, "body": redact_value(&response.body, cx.secrets) })),
        ..DispatchOutcome::default()
    };
    if let Some(callback) = App::resolve(&cx.app.notifications, cx.request_type).and_then(|n| n.callback.as_ref()) {
        run_callback(cx, callback, &globals, &response);
    }
    let mapper = App::resolve(&cx.app.response_mappers, cx.request_type).filter(|m| succeeded || m.map_errors);
    if let Some(mapper) = mapper {
        let mut scope = match globals {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        scope.remove("gateway");
        scope.remove("context");
        scope.insert(
            "response".into(),
            json!({ "status": response.status, "headers": response.headers, "body": response.body }),
        );
        let host = Arc::new(MapperHost {
            settings: cx.settings.clone(),
        });
        let rendered = crate::liquid::host::with_host(host, || render_json(&mapper.template, &Value::Object(scope)))
            .map_err(template_failure)?;
        let file = &mapper.template.file;
        let output: MapperOutput = if rendered.is_null() {
            MapperOutput::default()
        } else {
            serde_json::from_value(rendered).map_err(|e| {
                DispatchFailure::new(
                    FailureKind::Template,
                    format!(
                        "{}:{}: the response mapper's JSON is not valid: {e}",
                        file.display(),
                        mapper.template.first_line
                    ),
                )
            })?
        };
        outcome.errors = output
            .errors
            .iter()
            .flatten()
            .map(|e| GatewayErrorInfo {
                message: e.message.clone(),
                code: e.code.clone(),
                field: e.field.clone(),
            })
            .collect();
        if let Some(model_name) = &output.model {
            let model = cx.app.model_type(model_name).cloned().ok_or_else(|| {
                DispatchFailure::new(
                    FailureKind::Template,
                    format!("{}: model `{model_name}` does not exist", file.display()),
                )
            })?;
            if cx.caller != Caller::Runtime && crate::db::schema::is_system_model(&model.name) {
                return Err(DispatchFailure::new(
                    FailureKind::Forbidden,
                    format!(
                        "{}: model `{model_name}` is written only by payforms itself",
                        file.display()
                    ),
                ));
            }
            outcome.record = write_record(cx.store, &model, output).map_err(|e| store_failure(&e))?;
            outcome.model = Some(model.name.clone());
        }
    }
    match gateway_error {
        Some(error) => {
            let mut failure = gateway_failure(&error);
            // A mapper that maps errors may have recorded the failure (a
            // declined payment): callers can show that record.
            let id = outcome
                .record
                .as_ref()
                .and_then(|r| r["id"].as_str())
                .and_then(|id| id.parse().ok());
            if let (Some(model), Some(id)) = (outcome.model, id) {
                failure.written = Some(super::contract::WrittenRecord { model, id });
            }
            Err(failure)
        }
        None => Ok(outcome),
    }
}

/// platformOS's `callback`: rendered after every answer with `data`,
/// `config` and `response` (`status`, `headers`, and `body` as the text
/// platformOS gives, secrets redacted), with the mapper's host (`log`, no
/// writes: records are the response mapper's job). Its output is discarded
/// and its failure only logged: the request was already made.
fn run_callback(
    cx: &MappingContext<'_>,
    callback: &crate::app::templates::CompiledTemplate,
    globals: &Value,
    response: &InboundResponse,
) {
    let mut scope = globals.as_object().cloned().unwrap_or_default();
    scope.remove("gateway");
    scope.remove("context");
    let body = redact_value(&response.body, cx.secrets);
    let body_text = match &body {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let headers = redact_value(&Value::Object(response.headers.clone()), cx.secrets);
    scope.insert(
        "response".into(),
        json!({ "status": response.status, "headers": headers, "body": body_text }),
    );
    let host = Arc::new(MapperHost {
        settings: cx.settings.clone(),
    });
    let result =
        crate::liquid::host::with_host(host, || crate::app::templates::render(callback, &Value::Object(scope)));
    if let Err(e) = result {
        tracing::warn!(
            request_type = cx.request_type,
            "callback failed: {}",
            redact(&e.to_string(), cx.secrets)
        );
    }
}

/// The host of a response mapper: it may only seal secrets.
struct MapperHost {
    settings: Settings,
}

impl RenderHost for MapperHost {
    fn include_form(&self, _: &str, _: Map<String, Value>) -> Result<String, HostError> {
        Err(mapper_only())
    }
    fn form_block(&self, _: &str, _: Map<String, Value>) -> Result<String, HostError> {
        Err(mapper_only())
    }
    fn graphql(&self, _: GraphqlSource<'_>, _: Map<String, Value>) -> Result<Value, HostError> {
        Err(mapper_only())
    }
    fn dispatch(&self, _: &str, _: Value) -> Result<Value, HostError> {
        Err(mapper_only())
    }
    fn log(&self, message: &str, _level: &str) {
        tracing::info!(target: "payforms::mappers", "{message}");
    }
    fn asset_url(&self, path: &str) -> String {
        format!("/assets/{path}")
    }
    fn encrypt_secret(&self, clear: &str) -> Result<String, HostError> {
        Ok(crate::secrets::encrypt(
            &self.settings,
            &crate::config::Secret::new(clear),
        ))
    }
}

fn mapper_only() -> HostError {
    HostError("a response mapper only maps the response to a record".into())
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
        kind: errors::failure_kind(error),
        message: error.message.clone(),
        gateway_code: error
            .decline_code
            .clone()
            .filter(|d| d != "generic_decline")
            .or_else(|| error.code.clone()),
        written: None,
    }
}

fn store_failure(e: &StoreError) -> DispatchFailure {
    match e {
        StoreError::Validation(fields) => DispatchFailure::new(
            FailureKind::InvalidInput,
            fields.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("; "),
        ),
        StoreError::NotFound { .. } => DispatchFailure::new(FailureKind::NotFound, e.to_string()),
        other => DispatchFailure::new(FailureKind::Internal, other.to_string()),
    }
}

/// The mapper's record, through the store's one write path (the model's
/// declared rules apply to mappers as to webhook processors).
fn write_record(store: &Store, model: &ModelType, output: MapperOutput) -> Result<Option<Value>, StoreError> {
    let write = RecordWrite::from_template(
        output.operation.as_deref(),
        output.id.as_ref(),
        output.matching,
        output.properties.unwrap_or_default(),
        output.unset.unwrap_or_default(),
    )?;
    let Some(write) = write else {
        return Ok(None);
    };
    Ok(store.write(model, write)?.record().map(|r| r.to_liquid_json()))
}
