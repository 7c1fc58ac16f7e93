//! The kinds of app files that carry front matter: pages, form
//! configurations, API call notifications and authorization policies.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::files::SourceFile;
use super::front_matter::{self, Document};
use super::templates::{CompiledTemplate, Output, Parsers};
use super::ProblemList;
use crate::db::schema::PropertyType;
use crate::error::LoadProblem;
use crate::fields::coercion::FieldKind;
use crate::fields::validation::{RuleSpec, Rules};

// ---------------------------------------------------------------- pages

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageFrontMatter {
    slug: Option<String>,
    method: Option<String>,
    /// `layout_name` is platformOS's spelling.
    #[serde(alias = "layout_name")]
    layout: Option<String>,
    #[serde(default)]
    authorization_policies: Vec<String>,
    metadata: Option<serde_json::Value>,
    /// `html` (default) or `json`, for the Content-Type.
    format: Option<String>,
}

/// platformOS keys of pages payforms does not implement.
const PAGE_FOREIGN_KEYS: [front_matter::ForeignKey; 11] = [
    ("name", "a page is found by its slug"),
    ("converter", "pages are Liquid"),
    ("max_deep_level", "a slug matches its segments exactly"),
    ("response_headers", "payforms sets the headers"),
    ("searchable", "there is no site search"),
    ("cache", "constant pages are cached on their own"),
    ("static_cache", "constant pages are cached on their own"),
    ("dynamic_cache", "constant pages are cached on their own"),
    ("redirect_to", "use {% redirect_to %} in the page"),
    ("redirect_code", "use {% redirect_to %} in the page"),
    ("handler", "pages are Liquid"),
];

#[derive(Debug)]
pub struct Page {
    pub name: String,
    /// Normalised: leading slash, no trailing slash (`/`, `/payments`).
    pub slug: String,
    segments: Vec<Segment>,
    pub method: String,
    pub layout: Option<String>,
    pub layout_line: usize,
    pub authorization_policies: Vec<String>,
    pub policies_line: usize,
    pub metadata: serde_json::Value,
    pub content_type: &'static str,
    pub template: CompiledTemplate,
    pub file: PathBuf,
    /// Nothing it renders can reach the store (`app::effects`): it is
    /// rendered on the HTTP worker, without the blocking pool.
    pub renders_from_memory: bool,
    /// Renders from memory and reads nothing of the request but its forms'
    /// own parts (`app::effects`): rendered once, see [`Skeleton`].
    pub renders_constant: bool,
    /// Filled by the first request that renders it without flash or form
    /// feedback; `None` inside when the output could not be split.
    pub skeleton: std::sync::OnceLock<Option<std::sync::Arc<Skeleton>>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
}

impl Page {
    /// Captured `:params` if `path` matches this page's slug.
    pub fn match_path(&self, path: &str) -> Option<Vec<(String, String)>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.clone(), part.to_string())),
            }
        }
        Some(params)
    }

    /// Literal routes before parameterised ones.
    pub fn route_rank(&self) -> (usize, String) {
        let params = self.segments.iter().filter(|s| matches!(s, Segment::Param(_))).count();
        (params, self.slug.clone())
    }
}

pub fn load_page(
    parsers: &Parsers,
    file: &SourceFile,
    text: &str,
    warnings: &mut Vec<LoadProblem>,
) -> Result<Page, ProblemList> {
    let doc = front_matter::split(&file.rel, text)?;
    let fm: PageFrontMatter = front_matter::parse_tolerant(&file.rel, &doc, &PAGE_FOREIGN_KEYS, warnings)?;
    let raw_slug = fm.slug.clone().unwrap_or_else(|| slug_from_path(&file.local_name));
    let slug = format!("/{}", raw_slug.trim_matches('/'));
    let segments = slug
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_prefix(':') {
            Some(name) => Segment::Param(name.to_string()),
            None => Segment::Literal(s.to_string()),
        })
        .collect();
    let method = fm.method.unwrap_or_else(|| "get".into()).to_ascii_lowercase();
    if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
        return Err(LoadProblem::new(
            &file.rel,
            front_matter::line_of_key(&doc, "method"),
            format!("method `{method}` is not one of get, post, put, patch, delete"),
        )
        .into());
    }
    let content_type = match fm.format.as_deref() {
        None | Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("text") => "text/plain; charset=utf-8",
        Some(other) => {
            return Err(LoadProblem::new(
                &file.rel,
                front_matter::line_of_key(&doc, "format"),
                format!("format `{other}` is not one of html, json, text"),
            )
            .into())
        }
    };
    let output = if content_type.starts_with("text/html") {
        Output::Html
    } else {
        Output::Data
    };
    // A layout named in front matter is required; with none named, the app's
    // `application` layout is used when it exists (checked at render).
    let layout = match fm.layout {
        Some(l) if l.trim().is_empty() => None,
        Some(l) => Some(l),
        None if output == Output::Html => Some(String::new()),
        None => None,
    };
    let template = parsers.compile(&file.rel, doc.body_line, doc.body, output)?;
    Ok(Page {
        name: file.name.clone(),
        slug,
        segments,
        method,
        layout_line: front_matter::line_of_any_key(&doc, &["layout", "layout_name"]),
        layout: layout.filter(|l| !l.is_empty()),
        policies_line: front_matter::line_of_key(&doc, "authorization_policies"),
        authorization_policies: fm.authorization_policies,
        metadata: fm.metadata.unwrap_or_else(|| serde_json::json!({})),
        content_type,
        template,
        file: file.rel.clone(),
        renders_from_memory: false,
        renders_constant: false,
        skeleton: std::sync::OnceLock::new(),
    })
}

/// `index` -> `/`, `payments/index` -> `/payments`, `checkout` -> `/checkout`.
fn slug_from_path(local_name: &str) -> String {
    let trimmed = local_name.strip_suffix("/index").unwrap_or(local_name);
    if trimmed == "index" {
        String::new()
    } else {
        trimmed.to_string()
    }
}

// ---------------------------------------------------------------- forms

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormFrontMatter {
    name: Option<String>,
    resource: String,
    request_type: Option<String>,
    #[serde(default)]
    fields: serde_yaml::Mapping,
    default_payload: Option<String>,
    redirect_to: Option<String>,
    flash_notice: Option<String>,
    flash_alert: Option<String>,
    idempotency_key: Option<String>,
    already_done: Option<String>,
    retry_cancels: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    authorization_policies: Vec<String>,
    /// platformOS: who may submit; payforms' forms are anyone's (signed
    /// state and authorization policies decide what a post may do).
    resource_owner: Option<String>,
}

/// platformOS keys of form configurations payforms does not implement.
const FORM_FOREIGN_KEYS: [front_matter::ForeignKey; 10] = [
    (
        "callback_actions",
        "a form's request type and its response mapper do the work",
    ),
    (
        "async_callback_actions",
        "a form's request type and its response mapper do the work",
    ),
    ("email_notifications", "payforms sends no email"),
    ("sms_notifications", "payforms sends no SMS"),
    ("api_call_notifications", "name one with `request_type`"),
    ("spam_protection", "forms carry a CSRF token and signed state"),
    ("response_headers", "payforms sets the headers"),
    ("return_to", "use `redirect_to`"),
    ("live_reindex", "there is no search index"),
    ("configuration", "use `fields`"),
];

/// A key given with nothing (`authorization_policies:`, or platformOS's
/// `authorization_policies: ''`) is an empty list.
fn null_as_empty<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrBlank {
        List(Vec<String>),
        Blank(Option<String>),
    }
    match ListOrBlank::deserialize(deserializer)? {
        ListOrBlank::List(list) => Ok(list),
        ListOrBlank::Blank(None) => Ok(Vec::new()),
        ListOrBlank::Blank(Some(text)) if text.trim().is_empty() => Ok(Vec::new()),
        ListOrBlank::Blank(Some(text)) => Ok(vec![text]),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldFrontMatter {
    #[serde(default)]
    validation: RuleSpec,
    /// platformOS: `virtual: true` marks a field that is not stored; payforms
    /// stores only the model's properties anyway.
    property_options: Option<serde_yaml::Mapping>,
    #[serde(default)]
    editable: bool,
    #[serde(default, rename = "type")]
    kind: FieldKind,
}

#[derive(Debug)]
pub struct FormField {
    pub name: String,
    /// The visitor may type this value; every other value comes from the
    /// signed state and may not change.
    pub editable: bool,
    /// platformOS's `fields: { properties: … }`: the visitor's to type
    /// (as platformOS accepts it) unless the form signed a value for it
    /// (its data, or a hidden input its template rendered), which then
    /// may not change.
    pub typed_unless_signed: bool,
    /// What a typed value is coerced to (`type:`; string by default).
    pub kind: FieldKind,
    pub rules: Rules,
}

#[derive(Debug)]
pub struct FormConfiguration {
    pub name: String,
    pub resource: String,
    pub resource_line: usize,
    pub request_type: Option<String>,
    pub request_type_line: usize,
    pub fields: Vec<FormField>,
    pub default_payload: Option<CompiledTemplate>,
    pub redirect_to: Option<CompiledTemplate>,
    pub flash_notice: Option<CompiledTemplate>,
    pub flash_alert: Option<CompiledTemplate>,
    /// Renders the idempotency key from `data`/`config` (e.g. `order-{{
    /// data.order_id }}`): every render for the same order shares it, so the
    /// order is paid once however often its page is shown. Empty output (or
    /// no template): a fresh key per render.
    pub idempotency_key: Option<CompiledTemplate>,
    /// The message when a form with a data-derived key was already
    /// submitted and processed.
    pub already_done: Option<CompiledTemplate>,
    /// A request type sent with the earlier attempt's record before a new
    /// attempt replaces it (e.g. cancel its PaymentIntent, so a 3-D Secure
    /// still open in another tab cannot complete a second payment). If it
    /// fails, the new attempt is refused.
    pub retry_cancels: Option<String>,
    pub authorization_policies: Vec<String>,
    pub policies_line: usize,
    /// `resource: Payment`, platformOS's built-in payment: its fields are
    /// turned into the Stripe module's inputs before sending
    /// (`forms::platformos_payment`).
    pub platformos_payment: bool,
    pub body: CompiledTemplate,
    pub file: PathBuf,
}

impl FormConfiguration {
    pub fn field(&self, name: &str) -> Option<&FormField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

pub fn load_form(
    parsers: &Parsers,
    file: &SourceFile,
    text: &str,
    warnings: &mut Vec<LoadProblem>,
) -> Result<FormConfiguration, ProblemList> {
    let doc = front_matter::split(&file.rel, text)?;
    let fm: FormFrontMatter = front_matter::parse_tolerant(&file.rel, &doc, &FORM_FOREIGN_KEYS, warnings)?;
    let mut problems = Vec::new();
    if let Some(owner) = fm.resource_owner.as_deref().filter(|o| *o != "anyone") {
        warnings.push(LoadProblem::new(
            &file.rel,
            front_matter::line_of_key(&doc, "resource_owner"),
            format!(
                "`resource_owner: {owner}` is not implemented: any visitor may submit a payforms form; \
                 protect it with authorization_policies"
            ),
        ));
    }
    let name = match fm.name {
        Some(n) if file.module.is_some() && !n.starts_with("modules/") => {
            format!("modules/{}/{n}", file.module.as_deref().unwrap_or_default())
        }
        Some(n) => n,
        None => file.name.clone(),
    };
    let mut fields = Vec::new();
    for (key, value, from_properties) in platformos_fields(fm.fields) {
        let Some(field_name) = key.as_str().map(str::to_string) else {
            problems.push(LoadProblem::new(
                &file.rel,
                front_matter::line_of_key(&doc, "fields"),
                "field names must be strings",
            ));
            continue;
        };
        let line = front_matter::line_containing(&doc, &format!("{field_name}:"));
        let spec: FieldFrontMatter = if value.is_null() {
            FieldFrontMatter::default()
        } else {
            match serde_yaml::from_value(value) {
                Ok(spec) => spec,
                Err(e) => {
                    problems.push(LoadProblem::new(&file.rel, line, format!("field `{field_name}`: {e}")));
                    continue;
                }
            }
        };
        for (option, _) in spec.property_options.iter().flatten() {
            let option = option.as_str().unwrap_or_default();
            if option != "virtual" {
                warnings.push(LoadProblem::new(
                    &file.rel,
                    line,
                    format!("field `{field_name}`: property option `{option}` is not implemented; ignored"),
                ));
            }
        }
        match Rules::compile(&spec.validation) {
            Ok(rules) => fields.push(FormField {
                name: field_name,
                editable: spec.editable,
                typed_unless_signed: from_properties,
                kind: spec.kind,
                rules,
            }),
            Err(message) => problems.push(LoadProblem::new(
                &file.rel,
                line,
                format!("field `{field_name}`: {message}"),
            )),
        }
    }
    let mut liquid_field = |key: &str, value: &Option<String>, output: Output| -> Option<CompiledTemplate> {
        let text = value.as_ref()?;
        let line = front_matter::line_of_key(&doc, key);
        match parsers.compile(&file.rel, line, text, output) {
            Ok(t) => Some(t),
            Err(p) => {
                problems.push(p);
                None
            }
        }
    };
    // A posted value (`{{ context.params.stripeToken }}`) can never add or
    // replace a key.
    let default_payload_json = fm.default_payload.as_deref().map(json_body);
    let default_payload = liquid_field("default_payload", &default_payload_json, Output::Data);
    let redirect_to = liquid_field("redirect_to", &fm.redirect_to, Output::Data);
    let flash_notice = liquid_field("flash_notice", &fm.flash_notice, Output::Data);
    let flash_alert = liquid_field("flash_alert", &fm.flash_alert, Output::Data);
    let idempotency_key = liquid_field("idempotency_key", &fm.idempotency_key, Output::Data);
    let already_done = liquid_field("already_done", &fm.already_done, Output::Data);
    let body = match parsers.compile(&file.rel, doc.body_line, doc.body, Output::Html) {
        Ok(b) => Some(b),
        Err(p) => {
            problems.push(p);
            None
        }
    };
    let platformos_payment = fm.resource == PLATFORMOS_PAYMENT.0;
    let (resource, request_type) = if platformos_payment {
        (
            PLATFORMOS_PAYMENT.1.to_string(),
            fm.request_type.or_else(|| Some(PLATFORMOS_PAYMENT.2.to_string())),
        )
    } else {
        (fm.resource, fm.request_type)
    };
    match body {
        Some(body) if problems.is_empty() => Ok(FormConfiguration {
            name,
            resource,
            resource_line: front_matter::line_of_key(&doc, "resource"),
            request_type,
            request_type_line: front_matter::line_of_key(&doc, "request_type"),
            fields,
            default_payload,
            redirect_to,
            flash_notice,
            flash_alert,
            idempotency_key,
            already_done,
            retry_cancels: fm.retry_cancels,
            authorization_policies: fm.authorization_policies,
            policies_line: front_matter::line_of_key(&doc, "authorization_policies"),
            platformos_payment,
            body,
            file: file.rel.clone(),
        }),
        _ => Err(problems.into()),
    }
}

/// platformOS's built-in `Payment` resource: the model its records are and
/// the request type it sends (its fields are turned into that request
/// type's inputs by `forms::platformos_payment`).
const PLATFORMOS_PAYMENT: (&str, &str, &str) = ("Payment", "modules/payments/payment", "modules/stripe/create_payment");

/// A template that renders JSON, read as a `parse_json` body: each `{{ }}`
/// is escaped for its place in the JSON (see `liquid::autoescape`), so a
/// value can never add or replace a key. Same lines as `text`.
fn json_body(text: &str) -> String {
    format!("{{% parse_json pf_json_body %}}{text}{{% endparse_json %}}{{{{ pf_json_body | json }}}}")
}

/// A form's fields in payforms' shape: platformOS nests a model's fields
/// under `properties:` (`fields: { properties: { amount: … }, note: … }`);
/// those are fields of the same name.
/// Each with whether it came from platformOS's `properties:`.
fn platformos_fields(fields: serde_yaml::Mapping) -> Vec<(serde_yaml::Value, serde_yaml::Value, bool)> {
    let mut flat = Vec::new();
    for (key, value) in fields {
        match (key.as_str(), value) {
            (Some("properties"), serde_yaml::Value::Mapping(nested)) => {
                flat.extend(nested.into_iter().map(|(k, v)| (k, v, true)))
            }
            (_, value) => flat.push((key, value, false)),
        }
    }
    flat
}

// ------------------------------------------------- API call notifications

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationFrontMatter {
    to: String,
    request_type: Option<String>,
    headers: Option<String>,
    format: Option<String>,
    /// Seconds.
    timeout: Option<u64>,
    retries: Option<u32>,
    /// Typed inputs: `{ email: string, amount: integer }`; values are
    /// coerced to these types before the templates see them.
    /// `fields:` with nothing under it (only `path_params`) is typed too.
    #[serde(default, deserialize_with = "present_or_null")]
    fields: Option<serde_yaml::Mapping>,
    /// Inputs the URL is made of: required, and encoded as path segments.
    #[serde(default)]
    path_params: Vec<String>,
    /// Sent only by payforms itself, never by a form, page, API key or
    /// processor (e.g. the webhook subscription, which decides where every
    /// event goes).
    #[serde(default)]
    runtime_only: bool,
    /// The request can take or authorize money (create, confirm, capture a
    /// payment): journaled before it is sent, and given back when the rest
    /// of its submission fails.
    #[serde(default)]
    moves_money: bool,
    /// Body keys (and inputs) sent even when empty: `""` clears a value at
    /// the gateway (`description=`, `metadata[key]=`).
    #[serde(default)]
    send_blank: Vec<String>,
    /// platformOS: the request type's name; payforms names it by its file.
    name: Option<String>,
    /// platformOS: `false` turns the request type off (sending it fails).
    enabled: Option<bool>,
    /// platformOS: Liquid that must render `true` for the call to be made.
    trigger_condition: Option<serde_yaml::Value>,
    /// platformOS: Liquid run with `response` after the answer arrives.
    callback: Option<String>,
}

/// platformOS keys of API call notifications payforms does not implement.
const NOTIFICATION_FOREIGN_KEYS: [front_matter::ForeignKey; 2] = [
    ("delay", "requests are sent when asked for"),
    ("to_async", "requests are sent when asked for"),
];

/// `notifications/defaults.yml` of the app or of a module: what every
/// request type of it has unless its own front matter says otherwise.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsFile {
    headers: Option<String>,
    format: Option<String>,
    timeout: Option<u64>,
    retries: Option<u32>,
}

/// Compiled `notifications/defaults.yml`.
#[derive(Debug, Default, Clone)]
pub struct NotificationDefaults {
    /// Rendered first; the notification's own `headers` add to them and
    /// replace those of the same name.
    pub headers: Option<CompiledTemplate>,
    pub format: Option<String>,
    pub timeout: Option<u64>,
    pub retries: Option<u32>,
}

pub use super::files::NOTIFICATION_DEFAULTS_FILE;
pub fn load_notification_defaults(
    parsers: &Parsers,
    rel: &std::path::Path,
    text: &str,
) -> Result<NotificationDefaults, ProblemList> {
    let file: DefaultsFile = serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map_or(1, |l| l.line());
        LoadProblem::new(rel, line, format!("notification defaults: {e}"))
    })?;
    let headers = match &file.headers {
        Some(headers) => {
            // A block scalar (`headers: >-`) starts on the next line.
            let line = text
                .lines()
                .position(|l| l.starts_with("headers:"))
                .map_or(1, |i| i + 2);
            Some(parsers.compile(rel, line, headers, Output::Data)?)
        }
        None => None,
    };
    Ok(NotificationDefaults {
        headers,
        format: file.format,
        timeout: file.timeout,
        retries: file.retries,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// Stripe's bracket form encoding.
    Form,
    Json,
}

/// The HTTP method of a notification: fixed, or Liquid deciding per call
/// (`{% if data.at_period_end %}POST{% else %}DELETE{% endif %}`).
#[derive(Debug)]
pub enum NotificationMethod {
    Fixed(String),
    Rendered(CompiledTemplate),
}

pub const HTTP_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

#[derive(Debug)]
pub struct ApiCallNotification {
    pub name: String,
    pub to: CompiledTemplate,
    pub method: NotificationMethod,
    /// The module's (or app's) `notifications/defaults.yml` headers.
    pub default_headers: Option<CompiledTemplate>,
    pub headers: Option<CompiledTemplate>,
    pub format: BodyFormat,
    pub timeout: Duration,
    pub retries: u32,
    pub fields: Option<Vec<(String, PropertyType)>>,
    pub path_params: Vec<String>,
    pub runtime_only: bool,
    /// `moves_money: true`: see [`crate::payments::compensation`].
    pub moves_money: bool,
    pub send_blank: Vec<String>,
    /// `enabled: false`: the request type loads but is never sent.
    pub enabled: bool,
    /// Renders `true` for the request to be sent; anything else skips it.
    pub trigger_condition: Option<CompiledTemplate>,
    /// Rendered with `response` after every answer; its output is
    /// discarded (logging only: records are written by response mappers).
    pub callback: Option<CompiledTemplate>,
    pub body: CompiledTemplate,
    pub file: PathBuf,
}

pub fn load_notification(
    parsers: &Parsers,
    file: &SourceFile,
    text: &str,
    defaults: &NotificationDefaults,
    warnings: &mut Vec<LoadProblem>,
) -> Result<ApiCallNotification, ProblemList> {
    let doc = front_matter::split(&file.rel, text)?;
    let fm: NotificationFrontMatter =
        front_matter::parse_tolerant(&file.rel, &doc, &NOTIFICATION_FOREIGN_KEYS, warnings)?;
    let mut problems = Vec::new();
    if let Some(name) = fm.name.as_deref().filter(|n| *n != file.local_name && *n != file.name) {
        warnings.push(LoadProblem::new(
            &file.rel,
            front_matter::line_of_key(&doc, "name"),
            format!(
                "`name: {name}` is ignored: this request type is `{}`, named by its file",
                file.name
            ),
        ));
    }
    let method_text = fm.request_type.unwrap_or_else(|| "POST".into());
    let method = if method_text.contains("{{") || method_text.contains("{%") {
        match parsers.compile(
            &file.rel,
            front_matter::line_of_key(&doc, "request_type"),
            &method_text,
            Output::Data,
        ) {
            Ok(t) => NotificationMethod::Rendered(t),
            Err(p) => {
                problems.push(p);
                NotificationMethod::Fixed("POST".into())
            }
        }
    } else {
        let method = method_text.trim().to_ascii_uppercase();
        if !HTTP_METHODS.contains(&method.as_str()) {
            problems.push(LoadProblem::new(
                &file.rel,
                front_matter::line_of_key(&doc, "request_type"),
                format!("request_type `{method}` is not an HTTP method (GET, POST, PUT, PATCH, DELETE)"),
            ));
        }
        NotificationMethod::Fixed(method)
    };
    let format = match fm.format.as_deref().or(defaults.format.as_deref()) {
        // platformOS's `http`/`https`: the body is sent as it renders (a
        // JSON body is form encoded, as with `form`).
        None | Some("form" | "http" | "https") => BodyFormat::Form,
        Some("json") => BodyFormat::Json,
        Some(other) => {
            problems.push(LoadProblem::new(
                &file.rel,
                front_matter::line_of_key(&doc, "format"),
                format!("format `{other}` is not `form`, `json`, or platformOS's `http`/`https`"),
            ));
            BodyFormat::Form
        }
    };
    let mut fields = fm
        .fields
        .map(|mapping| parse_typed_fields(&file.rel, &doc, mapping, &mut problems));
    // A path parameter is a text input of the request type.
    if let Some(fields) = fields.as_mut() {
        for name in &fm.path_params {
            if !fields.iter().any(|(n, _)| n == name) {
                fields.insert(0, (name.clone(), PropertyType::String));
            }
        }
    }
    let trigger_text = match &fm.trigger_condition {
        None | Some(serde_yaml::Value::Null) => None,
        Some(serde_yaml::Value::Bool(b)) => Some(b.to_string()),
        Some(serde_yaml::Value::String(text)) => Some(text.clone()),
        Some(_) => {
            problems.push(LoadProblem::new(
                &file.rel,
                front_matter::line_of_key(&doc, "trigger_condition"),
                "trigger_condition must be true, false or Liquid text",
            ));
            None
        }
    };
    let mut compile = |key: &str, text: &str| match parsers.compile(
        &file.rel,
        front_matter::line_of_key(&doc, key),
        text,
        Output::Data,
    ) {
        Ok(t) => Some(t),
        Err(p) => {
            problems.push(p);
            None
        }
    };
    let to = compile("to", &fm.to);
    let headers = fm.headers.as_deref().and_then(|h| compile("headers", h));
    let trigger_condition = trigger_text.and_then(|text| compile("trigger_condition", &text));
    let callback = fm
        .callback
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .and_then(|c| compile("callback", c));
    let body = match parsers.compile(&file.rel, doc.body_line, doc.body, Output::Data) {
        Ok(b) => Some(b),
        Err(p) => {
            problems.push(p);
            None
        }
    };
    match (to, body) {
        (Some(to), Some(body)) if problems.is_empty() => Ok(ApiCallNotification {
            name: file.name.clone(),
            to,
            method,
            default_headers: defaults.headers.clone(),
            headers,
            format,
            timeout: Duration::from_secs(fm.timeout.or(defaults.timeout).unwrap_or(30).clamp(1, 300)),
            retries: fm.retries.or(defaults.retries).unwrap_or(2).min(10),
            fields,
            path_params: fm.path_params,
            runtime_only: fm.runtime_only,
            moves_money: fm.moves_money,
            send_blank: fm.send_blank,
            enabled: fm.enabled.unwrap_or(true),
            trigger_condition,
            callback,
            body,
            file: file.rel.clone(),
        }),
        _ => Err(problems.into()),
    }
}

/// A key that is present deserializes to `Some`, even when its value is
/// null (`fields:` followed by nothing).
fn present_or_null<'de, D>(deserializer: D) -> Result<Option<serde_yaml::Mapping>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<serde_yaml::Mapping>::deserialize(deserializer)?;
    Ok(Some(value.unwrap_or_default()))
}

fn parse_typed_fields(
    file: &std::path::Path,
    doc: &Document<'_>,
    mapping: serde_yaml::Mapping,
    problems: &mut Vec<LoadProblem>,
) -> Vec<(String, PropertyType)> {
    let mut fields = Vec::new();
    for (key, value) in mapping {
        let name = key.as_str().unwrap_or_default().to_string();
        let line = front_matter::line_containing(doc, &format!("{name}:"));
        let kind = match value.as_str() {
            Some("string") => PropertyType::String,
            Some("integer") => PropertyType::Integer,
            Some("float") => PropertyType::Float,
            Some("boolean") => PropertyType::Boolean,
            Some("datetime") => PropertyType::Datetime,
            Some("json") => PropertyType::Json,
            Some("array") => PropertyType::Array,
            _ => {
                problems.push(LoadProblem::new(
                    file,
                    line,
                    format!(
                        "field `{name}`: type must be one of string, integer, float, boolean, datetime, json, array"
                    ),
                ));
                continue;
            }
        };
        fields.push((name, kind));
    }
    fields
}

// ------------------------------------------------------ response mappers

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapperFrontMatter {
    #[serde(default)]
    map_errors: bool,
}

#[derive(Debug, Clone)]
pub struct ResponseMapper {
    /// Also map answers that are not 2xx (e.g. a declined PaymentIntent
    /// inside a 402, stored as failed). Otherwise such an answer writes
    /// nothing.
    pub map_errors: bool,
    pub template: CompiledTemplate,
}

pub fn load_mapper(parsers: &Parsers, file: &SourceFile, text: &str) -> Result<ResponseMapper, ProblemList> {
    let doc = front_matter::split(&file.rel, text)?;
    let fm: MapperFrontMatter = if doc.yaml.trim().is_empty() {
        MapperFrontMatter::default()
    } else {
        front_matter::parse(&file.rel, &doc)?
    };
    // A value the gateway echoes back (a description the visitor typed) can
    // never add keys to what is written.
    let template = parsers.compile(&file.rel, doc.body_line, &json_body(doc.body), Output::Data)?;
    Ok(ResponseMapper {
        map_errors: fm.map_errors,
        template,
    })
}

// ------------------------------------------------ authorization policies

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFrontMatter {
    name: Option<String>,
    redirect_to: Option<String>,
    flash_alert: Option<String>,
}

#[derive(Debug)]
pub struct AuthorizationPolicy {
    pub name: String,
    pub redirect_to: Option<String>,
    pub flash_alert: Option<String>,
    /// Renders `true` to allow.
    pub template: CompiledTemplate,
}

/// platformOS keys of authorization policies payforms does not implement.
const POLICY_FOREIGN_KEYS: [front_matter::ForeignKey; 1] = [(
    "http_status",
    "a refused page answers 403, or redirects when `redirect_to` is set",
)];

pub fn load_policy(
    parsers: &Parsers,
    file: &SourceFile,
    text: &str,
    warnings: &mut Vec<LoadProblem>,
) -> Result<AuthorizationPolicy, ProblemList> {
    let doc = front_matter::split(&file.rel, text)?;
    let fm: PolicyFrontMatter = front_matter::parse_tolerant(&file.rel, &doc, &POLICY_FOREIGN_KEYS, warnings)?;
    let template = parsers.compile(&file.rel, doc.body_line, doc.body, Output::Data)?;
    Ok(AuthorizationPolicy {
        name: fm.name.unwrap_or_else(|| file.name.clone()),
        redirect_to: fm.redirect_to,
        flash_alert: fm.flash_alert,
        template,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_from_paths() {
        assert_eq!(slug_from_path("index"), "");
        assert_eq!(slug_from_path("payments/index"), "payments");
        assert_eq!(slug_from_path("checkout"), "checkout");
    }
}

/// A page's output that is the same for every request, with the places
/// where each request's own parts go. A page that renders from memory and
/// reads nothing of the request (`app::effects::renders_constant`) is
/// rendered once per app version; a request then only fills in its forms
/// (CSRF token, sealed state, idempotency key) around the cached text.
#[derive(Debug)]
pub struct Skeleton {
    pub parts: Vec<SkeletonPart>,
}

#[derive(Debug)]
pub enum SkeletonPart {
    Text(String),
    /// A `{% form %}` block, filled in per request.
    Form(Box<FormCall>),
}

/// What a `{% form %}` block renders from, apart from the request.
#[derive(Debug)]
pub struct FormCall {
    pub form: std::sync::Arc<FormConfiguration>,
    pub data: serde_json::Value,
    pub config: serde_json::Value,
    /// The tag's arguments (`id`, `class`).
    pub args: serde_json::Map<String, serde_json::Value>,
    /// The form's rendered inner HTML.
    pub body_html: String,
    /// The idempotency key derived from the form's data, if any (else a
    /// fresh one per request).
    pub derived_key: Option<String>,
}
