//! The [`RenderHost`] of a page render: gives tags access to forms, the
//! GraphQL engine, the gateway dispatcher and the log.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::app::FormCall;
use crate::app::FormConfiguration;
use crate::forms::csrf;
use crate::forms::feedback::SubmissionFeedback;
use crate::forms::state::FormStateRef;
use crate::gateway::Caller;
use crate::instance::{AppVersion, Instance};
use crate::liquid::host::{GraphqlSource, HostError, RecordRequest, RenderHost};

struct FormFrame {
    form: Arc<FormConfiguration>,
    data: Value,
    config: Value,
}

pub struct PageHost {
    pub instance: Arc<Instance>,
    pub loaded: Arc<AppVersion>,
    /// The `context` object of this request.
    pub context: Value,
    pub visitor_id: String,
    /// Path and query of the page being rendered (where errors return to).
    pub page_path: String,
    pub feedback: Option<SubmissionFeedback>,
    /// Dispatch, record writes and GraphQL mutations are allowed: a
    /// CSRF-checked non-GET request. A GET page only reads.
    pub may_write: bool,
    /// A GraphQL call failed on a value the visitor sent (a list where a
    /// string was expected, a NUL byte): the page answers 400, not 500.
    pub rejected_input: Cell<bool>,
    forms: RefCell<Vec<FormFrame>>,
    /// Set by `{% redirect_to %}`: where the page sends the visitor instead.
    pub redirect: RefCell<Option<(String, crate::forms::feedback::Flash)>>,
    /// Recording a page's skeleton: form blocks become markers and their
    /// inputs are kept here, to be filled in per request.
    recording: Option<RefCell<Vec<FormCall>>>,
}

/// Stands for the n-th form block in a recorded render: characters no
/// template writes (Unicode noncharacters), left alone by escaping.
pub fn form_marker(n: usize) -> String {
    format!("\u{FDD0}pf-form-{n}\u{FDD1}")
}

/// A `{% form %}` block for this request: the form's signed state (with a
/// fresh idempotency key unless its data gives one), the visitor's CSRF
/// token, and the rendered body.
pub fn form_html(
    settings: &crate::config::Settings,
    call: &FormCall,
    visitor_id: &str,
    csrf_token: &str,
    page_path: &str,
) -> String {
    let idempotency_key = match &call.derived_key {
        Some(key) => std::borrow::Cow::Borrowed(key.as_str()),
        None => std::borrow::Cow::Owned(crate::gateway::new_idempotency_key()),
    };
    let sealed = FormStateRef {
        form: &call.form.name,
        data: &call.data,
        config: &call.config,
        key_from_data: call.derived_key.is_some(),
        idempotency_key: &idempotency_key,
        page: page_path,
        visitor: visitor_id,
    }
    .seal(settings, chrono::Utc::now().timestamp());
    let text_arg = |key: &str| call.args.get(key).and_then(Value::as_str).map(str::to_string);
    let id = text_arg("id").unwrap_or_else(|| format!("{}-form", call.form.name.replace('/', "-")));
    let class = text_arg("class").or_else(|| text_arg("html-class")).unwrap_or_default();
    format!(
        "<form action=\"{action}\" method=\"post\" id=\"{id}\" class=\"{class}\" accept-charset=\"UTF-8\" data-payforms-form=\"{name}\">\n\
         <input type=\"hidden\" name=\"authenticity_token\" value=\"{csrf}\">\n\
         <input type=\"hidden\" name=\"payforms_state\" value=\"{state}\">\n\
         <input type=\"hidden\" name=\"idempotency_key\" value=\"{key}\">\n\
         {body_html}\n</form>",
        action = escape_attr(&form_action(&call.form.name)),
        id = escape_attr(&id),
        class = escape_attr(&class),
        name = escape_attr(&call.form.name),
        // The token and the state are base64url (and `.`): nothing to
        // escape. A key derived from the form's data may hold anything.
        csrf = csrf_token,
        state = sealed,
        key = if call.derived_key.is_some() {
            escape_attr(&idempotency_key)
        } else {
            idempotency_key.into_owned()
        },
        body_html = call.body_html,
    )
}

/// Longest idempotency key a form may derive from its data.
const MAX_DERIVED_KEY_BYTES: usize = 200;

impl PageHost {
    /// The form's key from its data: `config.idempotency_key`, else the
    /// form configuration's `idempotency_key` template; None when neither
    /// gives text. Namespaced by form, so two forms never share a key.
    fn derived_idempotency_key(&self, frame: &FormFrame) -> Result<Option<String>, HostError> {
        let from_config = frame.config["idempotency_key"]
            .as_str()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        let text = match (from_config, &frame.form.idempotency_key) {
            (Some(text), _) => text,
            (None, Some(template)) => {
                let globals = json!({ "data": frame.data, "config": frame.config, "context": self.context });
                super::render(template, &globals)
                    .map_err(|e| HostError(e.to_string()))?
                    .trim()
                    .to_string()
            }
            (None, None) => return Ok(None),
        };
        if text.is_empty() {
            return Ok(None);
        }
        if text.len() > MAX_DERIVED_KEY_BYTES || text.chars().any(char::is_control) {
            return Err(HostError(format!(
                "form `{}`: the idempotency key must be text of at most {MAX_DERIVED_KEY_BYTES} bytes",
                frame.form.name
            )));
        }
        Ok(Some(format!("{}:{text}", frame.form.name)))
    }

    pub fn new(
        instance: Arc<Instance>,
        loaded: Arc<AppVersion>,
        context: Value,
        visitor_id: String,
        page_path: String,
        feedback: Option<SubmissionFeedback>,
        may_write: bool,
    ) -> PageHost {
        PageHost {
            instance,
            loaded,
            context,
            visitor_id,
            page_path,
            feedback,
            may_write,
            rejected_input: Cell::new(false),
            forms: RefCell::new(Vec::new()),
            redirect: RefCell::new(None),
            recording: None,
        }
    }

    /// A host that records form blocks instead of sealing them.
    pub fn recording(mut self) -> PageHost {
        self.recording = Some(RefCell::new(Vec::new()));
        self
    }

    /// The form blocks recorded so far, in order.
    pub fn take_recorded(&self) -> Vec<FormCall> {
        self.recording.as_ref().map(|r| r.take()).unwrap_or_default()
    }

    fn form_builder(&self, form: &FormConfiguration, data: &Value) -> Value {
        let feedback = self.feedback.as_ref().filter(|f| f.form == form.name);
        let mut fields = Map::new();
        let mut errors = Map::new();
        let mut names: Vec<String> = form.fields.iter().map(|f| f.name.clone()).collect();
        if let Value::Object(d) = data {
            for key in d.keys() {
                if !names.contains(key) {
                    names.push(key.clone());
                }
            }
        }
        for name in names {
            let submitted = feedback.and_then(|f| f.values.get(&name)).cloned();
            let value = submitted.unwrap_or_else(|| data.get(&name).cloned().unwrap_or(Value::Null));
            let field_errors: Vec<String> = feedback
                .map(|f| {
                    f.errors
                        .iter()
                        .filter(|e| e.field == name)
                        .map(|e| e.message.clone())
                        .collect()
                })
                .unwrap_or_default();
            // Every field has an `errors` entry (null when fine): Liquid
            // here is strict about unknown keys.
            errors.insert(
                name.clone(),
                if field_errors.is_empty() {
                    Value::Null
                } else {
                    Value::String(sentence(&name, &field_errors))
                },
            );
            fields.insert(
                name.clone(),
                json!({
                    "name": format!("form[{name}]"),
                    "id": format!("form_{name}"),
                    "value": value,
                    "editable": form.field(&name).map(|f| f.editable).unwrap_or(false),
                    "errors": field_errors,
                }),
            );
        }
        let base: Vec<String> = feedback
            .map(|f| {
                f.errors
                    .iter()
                    .filter(|e| e.field == "base")
                    .map(|e| e.message.clone())
                    .collect()
            })
            .unwrap_or_default();
        errors.insert(
            "base".into(),
            if base.is_empty() {
                Value::Null
            } else {
                Value::String(base.join(". "))
            },
        );
        // platformOS templates name a model's fields under `properties`
        // (`form_builder.fields.properties.amount.name`), posted as
        // `form[properties_attributes][amount]`: the same fields.
        if !fields.contains_key("properties") {
            let properties: Map<String, Value> = fields
                .iter()
                .map(|(name, field)| {
                    let mut field = field.clone();
                    field["name"] = Value::String(format!("form[properties_attributes][{name}]"));
                    (name.clone(), field)
                })
                .collect();
            fields.insert("properties".into(), Value::Object(properties));
        }
        json!({
            "name": form.name,
            "action": form_action(&form.name),
            "fields": fields,
            "errors": errors,
            "valid": errors.values().all(Value::is_null),
        })
    }
}

/// "Amount can't be blank, must be greater than 0"
fn sentence(field: &str, messages: &[String]) -> String {
    let label = field.replace('_', " ");
    let mut label_chars = label.chars();
    let label = match label_chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + label_chars.as_str(),
        None => String::new(),
    };
    format!("{label} {}", messages.join(", "))
}

pub fn form_action(name: &str) -> String {
    format!("/forms/{name}")
}

impl RenderHost for PageHost {
    fn include_form(&self, name: &str, args: Map<String, Value>) -> Result<String, HostError> {
        let form = self
            .loaded
            .app
            .form(name)
            .cloned()
            .ok_or_else(|| HostError(format!("form `{name}` does not exist")))?;
        let data = args
            .get("data")
            .cloned()
            .filter(|d| !d.is_null())
            .unwrap_or_else(|| json!({}));
        let config = args
            .get("config")
            .cloned()
            .filter(|c| !c.is_null())
            .unwrap_or_else(|| json!({}));
        let mut globals = args.clone();
        globals.insert("context".into(), self.context.clone());
        globals.insert("data".into(), data.clone());
        globals.insert("config".into(), config.clone());
        globals.insert("form_builder".into(), self.form_builder(&form, &data));
        self.forms.borrow_mut().push(FormFrame {
            form: form.clone(),
            data,
            config,
        });
        let result = super::render(&form.body, &Value::Object(globals));
        self.forms.borrow_mut().pop();
        result.map_err(|e| HostError(e.to_string()))
    }

    fn form_block(&self, body_html: &str, args: Map<String, Value>) -> Result<String, HostError> {
        let frames = self.forms.borrow();
        let frame = frames.last().ok_or_else(|| {
            HostError("{% form %} can only be used in a form configuration rendered with include_form".into())
        })?;
        // Hidden inputs the form's template wrote for its own (signed)
        // fields are its data too, as platformOS forms pass values.
        let mut data = frame.data.clone();
        if let Value::Object(map) = &mut data {
            let names: Vec<&str> = frame
                .form
                .fields
                .iter()
                .filter(|f| !f.editable && !map.contains_key(&f.name))
                .map(|f| f.name.as_str())
                .collect();
            if !names.is_empty() {
                map.extend(super::hidden_inputs::signed_values(body_html, &names));
            }
        }
        let call = FormCall {
            form: frame.form.clone(),
            data,
            config: frame.config.clone(),
            args,
            body_html: body_html.to_string(),
            derived_key: self.derived_idempotency_key(frame)?,
        };
        match &self.recording {
            Some(calls) => {
                let mut calls = calls.borrow_mut();
                calls.push(call);
                Ok(form_marker(calls.len() - 1))
            }
            None => {
                let settings = &self.instance.settings;
                let csrf_token = csrf::token_for(settings, &self.visitor_id);
                Ok(form_html(
                    settings,
                    &call,
                    &self.visitor_id,
                    &csrf_token,
                    &self.page_path,
                ))
            }
        }
    }

    fn redirect_to(&self, location: &str, notice: Option<String>, alert: Option<String>) -> Result<(), HostError> {
        // Only a path of this site: a template must not become an open
        // redirect, whatever the value it was given.
        let location = crate::access::redirect::local_path(location).ok_or_else(|| {
            HostError(format!(
                "redirect_to takes a path of this site (`/…`), not `{location}`"
            ))
        })?;
        *self.redirect.borrow_mut() = Some((location.to_string(), crate::forms::feedback::Flash { notice, alert }));
        Ok(())
    }

    fn graphql(&self, query: GraphqlSource<'_>, variables: Map<String, Value>) -> Result<Value, HostError> {
        let text = match query {
            GraphqlSource::Named(name) => self.loaded.app.graph_query(name).cloned().ok_or_else(|| {
                HostError(format!(
                    "graph query `{name}` does not exist (graph_queries/{name}.graphql)"
                ))
            })?,
            GraphqlSource::Inline(text) => text.to_string(),
        };
        // The session decided `context.operator` (render::context); a
        // template cannot set it.
        let operator = self.context["operator"]["signed_in"] == Value::Bool(true);
        let result = self
            .loaded
            .graphql
            .execute_for_page(&text, variables, self.may_write, operator);
        result.map_err(|errors| {
            if errors.iter().any(is_input_error) {
                self.rejected_input.set(true);
            }
            HostError(errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "))
        })
    }

    fn dispatch(&self, request_type: &str, data: Value) -> Result<Value, HostError> {
        if !self.may_write {
            return Err(HostError(format!(
                "a GET page only reads: dispatch `{request_type}` from a form, a webhook processor or a POST page"
            )));
        }
        match self
            .instance
            .gateway
            .dispatch(&self.loaded.app, request_type, data, None, Caller::Visitor)
        {
            Ok(outcome) => Ok(json!({
                "record": outcome.record,
                "model": outcome.model,
                "response": outcome.response,
                "skipped": outcome.skipped,
                "errors": outcome.errors.iter().map(|e| json!({"message": e.message, "code": e.code, "field": e.field})).collect::<Vec<_>>(),
            })),
            Err(failure) => Ok(json!({
                "record": null,
                "errors": [{"message": failure.message, "code": failure.gateway_code.clone().unwrap_or_else(|| failure.kind.graphql_code().to_string())}],
            })),
        }
    }

    fn log(&self, message: &str, level: &str) {
        match level {
            "error" => tracing::error!(target: "payforms::template", "{message}"),
            "warn" | "warning" => tracing::warn!(target: "payforms::template", "{message}"),
            "debug" => tracing::debug!(target: "payforms::template", "{message}"),
            _ => tracing::info!(target: "payforms::template", "{message}"),
        }
    }

    fn write_record(&self, request: RecordRequest) -> Result<Value, HostError> {
        if !self.may_write {
            return Err(HostError(
                "a GET page only reads: write records from a form, a webhook processor or a POST page".into(),
            ));
        }
        super::records::write(&self.instance.store, &self.loaded, request)
    }

    fn asset_url(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        match self.loaded.app.asset_versions.get(path) {
            Some(version) => format!("/assets/{path}?v={version}"),
            None => format!("/assets/{path}"),
        }
    }
}

/// Escape text for an HTML attribute or text node.
/// Errors about the value of a variable (what the page passed from the
/// request), as opposed to the query itself.
fn is_input_error(error: &crate::graphql::GraphqlErrorInfo) -> bool {
    error.code == crate::graphql::errors::BAD_USER_INPUT
        || error.message.starts_with("Invalid value for argument")
        || (error.message.starts_with("Variable \"") && error.message.contains("expected type"))
}

pub use payforms_html::escape as escape_attr;
