//! platformOS's GraphQL shapes over payforms' models, so the queries
//! platformOS templates and modules were written with run as written:
//! `records` / `record_create|update|delete`, the older `customizations` /
//! `customization_create|update|delete`, numbered pages on every model
//! connection ([`super::paging`]), the Payment fields of platformOS's
//! "Integrating Stripe" guide ([`payments`]) and the payments module's
//! other operations ([`module_calls`]).
//!
//! Every write goes through the same store write path (and the same rules)
//! as payforms' own mutations: system models are never written, a GET page
//! never runs a mutation, and each request reads and writes its merchant's
//! and environment's partition only.

mod filters;
mod module_calls;
mod mutations;
pub mod payments;
mod queries;
mod record_shape;
mod writes;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dynamic::{Enum, FieldFuture, FieldValue, InputObject, Object, ResolverContext};
use async_graphql::Error;

use super::errors::{bad_field, coded, from_store, not_found, FORBIDDEN};
use super::filters::parse_id;
use super::values::to_graphql;
use crate::db::schema::{is_system_model, ModelType};
use crate::db::{Record, Store};

pub use mutations::mutation_fields;
pub use queries::query_fields;

pub const QUERIES: [&str; 3] = ["records", "customizations", module_calls::QUERIES[0]];
pub const MUTATIONS: [&str; 8] = [
    module_calls::MUTATIONS[0],
    module_calls::MUTATIONS[1],
    "record_create",
    "record_update",
    "record_delete",
    "customization_create",
    "customization_update",
    "customization_delete",
];

pub fn type_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    names.extend(record_shape::type_names());
    names.extend(filters::type_names());
    names.extend(writes::type_names());
    names.extend(payments::type_names());
    names.extend(module_calls::type_names());
    names
}

pub fn scalars() -> Vec<async_graphql::dynamic::Scalar> {
    vec![module_calls::scalar()]
}

pub fn objects() -> Vec<Object> {
    let mut objects = record_shape::objects();
    objects.push(payments::payer_type());
    objects.extend(module_calls::objects());
    objects
}

pub fn inputs() -> (Vec<InputObject>, Enum) {
    let (mut inputs, direction) = filters::inputs();
    inputs.extend(writes::inputs());
    inputs.extend(module_calls::inputs());
    (inputs, direction)
}

/// The models the shapes reach by name, the forms whose `resource`
/// names one (`customization_create(form_configuration_name:)`), and what
/// the module operations need ([`module_calls`]).
pub struct Tables {
    models: Vec<Arc<ModelType>>,
    form_resources: HashMap<String, String>,
    pub partial_names: Vec<String>,
    /// Request types a template may send, by full name.
    pub sendable: Vec<String>,
    pub sender: Option<crate::graphql::RequestSender>,
}

impl Tables {
    pub fn new(
        models: Vec<Arc<ModelType>>,
        sender: Option<crate::graphql::RequestSender>,
        sendable: Vec<String>,
    ) -> Tables {
        let (form_resources, partial_names) = match &sender {
            Some(sender) => (form_resources(&sender.app), sender.app.partial_names.clone()),
            None => (HashMap::new(), Vec::new()),
        };
        Tables {
            models,
            form_resources,
            partial_names,
            sendable,
            sender,
        }
    }

    /// A model by full name (`modules/payments/payment`) or, for a
    /// module's model, by its short name (`payment`) when only one module
    /// model has it (else the caller must give the full name).
    pub fn resolve(&self, name: &str) -> Result<&Arc<ModelType>, Error> {
        if let Some(model) = self.models.iter().find(|m| m.name == name) {
            return Ok(model);
        }
        let shown: String = name.chars().take(100).collect();
        let short: Vec<&Arc<ModelType>> = if name.contains('/') {
            Vec::new()
        } else {
            self.models
                .iter()
                .filter(|m| m.name.starts_with("modules/") && m.short_name() == name)
                .collect()
        };
        match short.as_slice() {
            [model] => Ok(model),
            [] => Err(not_found(format!("there is no model `{shown}`"))),
            several => Err(bad_field(
                "table",
                format!(
                    "`{shown}` names several models ({}); give the full name",
                    several.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// The model a form configuration writes (its `resource`).
    fn form_model(&self, form: &str) -> Result<&Arc<ModelType>, Error> {
        let shown: String = form.chars().take(100).collect();
        let resource = self
            .form_resources
            .get(form)
            .or_else(|| crate::app::App::resolve(&self.form_resources, form))
            .ok_or_else(|| bad_field("form_configuration_name", format!("there is no form `{shown}`")))?;
        self.resolve(resource)
    }

    /// The writable model holding record `id` (ids are per model in
    /// payforms, so an id alone may name records of several models).
    fn model_of_id(&self, store: &Store, id: i64) -> Result<(&Arc<ModelType>, Record), Error> {
        let mut found = Vec::new();
        for model in self.models.iter().filter(|m| !is_system_model(&m.name)) {
            if let Some(record) = store
                .get_record(model, id)
                .map_err(|e| from_store(e, &str::to_string))?
            {
                found.push((model, record));
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(not_found(format!("record {id} not found"))),
            _ => Err(bad_field(
                "id",
                format!(
                    "record {id} exists in several tables ({}); name the table",
                    found
                        .iter()
                        .map(|(m, _)| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

pub(super) fn writable(model: &ModelType) -> Result<(), Error> {
    if is_system_model(&model.name) {
        return Err(coded(
            FORBIDDEN,
            format!("{} records are written by payforms only", model.name),
        ));
    }
    Ok(())
}

pub(super) fn ready<'a>(result: Result<Option<FieldValue<'a>>, Error>) -> FieldFuture<'a> {
    FieldFuture::new(futures::future::ready(result))
}

pub(super) fn record_result<'a>(model: &ModelType, record: &Record) -> Option<FieldValue<'a>> {
    Some(FieldValue::value(to_graphql(record_shape::record_value(model, record))))
}

pub(super) fn id_of(ctx: &ResolverContext<'_>) -> Result<i64, Error> {
    parse_id(&ctx.args.try_get("id")?).ok_or_else(|| bad_field("id", "is not a valid record id"))
}

pub(super) fn optional_text(ctx: &ResolverContext<'_>, name: &str) -> Result<Option<String>, Error> {
    match ctx.args.get(name).filter(|v| !v.is_null()) {
        Some(value) => Ok(Some(value.string()?.to_string())),
        None => Ok(None),
    }
}

/// Form name -> resource.
fn form_resources(app: &crate::app::App) -> HashMap<String, String> {
    app.forms
        .iter()
        .map(|(name, form)| (name.clone(), form.resource.clone()))
        .collect()
}
