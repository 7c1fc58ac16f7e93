//! platformOS's GraphQL shapes over payforms' models, so the queries
//! platformOS templates and modules were written with run as written:
//! `records` / `record_create|update|delete`, the older `customizations` /
//! `customization_create|update|delete`, numbered pages on every model
//! connection ([`paging`]), and the Payment fields of platformOS's
//! "Integrating Stripe" guide ([`payments`]).
//!
//! Every write goes through the same store write path (and the same rules)
//! as payforms' own mutations: system models are never written, a GET page
//! never runs a mutation, and each request reads and writes its merchant's
//! and environment's partition only.

mod filters;
mod module_calls;
pub mod payments;
mod record_shape;
mod writes;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, TypeRef,
};
use async_graphql::Error;

use super::errors::{bad_field, coded, from_store, not_found, FORBIDDEN};
use super::filters::parse_id;
use super::paging::{self, Paging};
use super::values::to_graphql;
use crate::db::query::{Filter, FilterOp, RecordQuery};
use crate::db::schema::{is_system_model, ModelType};
use crate::db::{Record, Store};

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

fn writable(model: &ModelType) -> Result<(), Error> {
    if is_system_model(&model.name) {
        return Err(coded(
            FORBIDDEN,
            format!("{} records are written by payforms only", model.name),
        ));
    }
    Ok(())
}

fn ready<'a>(result: Result<Option<FieldValue<'a>>, Error>) -> FieldFuture<'a> {
    FieldFuture::new(futures::future::ready(result))
}

fn record_result<'a>(model: &ModelType, record: &Record) -> Option<FieldValue<'a>> {
    Some(FieldValue::value(to_graphql(record_shape::record_value(model, record))))
}

fn id_of(ctx: &ResolverContext<'_>) -> Result<i64, Error> {
    parse_id(&ctx.args.try_get("id")?).ok_or_else(|| bad_field("id", "is not a valid record id"))
}

fn optional_text(ctx: &ResolverContext<'_>, name: &str) -> Result<Option<String>, Error> {
    match ctx.args.get(name).filter(|v| !v.is_null()) {
        Some(value) => Ok(Some(value.string()?.to_string())),
        None => Ok(None),
    }
}

/// Read one page and answer it as a `PlatformosRecordCollection`.
fn collection<'a>(
    store: &Store,
    model: &ModelType,
    mut query: RecordQuery,
    paging: Paging,
) -> Result<Option<FieldValue<'a>>, Error> {
    paging.apply(&mut query);
    let page = store
        .query_records(model, &query)
        .map_err(|e| from_store(e, &str::to_string))?;
    Ok(Some(FieldValue::value(record_shape::collection_value(
        model, &page, &paging,
    ))))
}

fn default_paging(ctx: &ResolverContext<'_>) -> Result<Paging, Error> {
    Ok(Paging::read(&ctx.args)?.unwrap_or(Paging {
        per_page: paging::DEFAULT_PER_PAGE,
        page: 1,
    }))
}

/// `records(per_page:, page:, filter: { table: { value: } ... }, sort:)`.
fn records_query(tables: &Arc<Tables>, store: &Store) -> Field {
    let (tables, store) = (tables.clone(), store.clone());
    let mut field = Field::new("records", TypeRef::named_nn(record_shape::COLLECTION), move |ctx| {
        let result = (|| {
            let paging = default_paging(&ctx)?;
            let filter = ctx
                .args
                .get("filter")
                .filter(|v| !v.is_null())
                .ok_or_else(|| {
                    bad_field(
                        "filter",
                        "is required to name the model: filter: { table: { value: \"...\" } }",
                    )
                })?
                .object()?;
            let table = filter
                .get("table")
                .filter(|v| !v.is_null())
                .ok_or_else(|| {
                    bad_field(
                        "table",
                        "is required to name the model: filter: { table: { value: \"...\" } }",
                    )
                })?
                .object()?;
            let name = match (table.get("value"), table.get("exact")) {
                (Some(v), _) if !v.is_null() => v.string()?.to_string(),
                (_, Some(v)) if !v.is_null() => v.string()?.to_string(),
                _ => return Err(bad_field("table", "give one model: table: { value: \"...\" }")),
            };
            if table
                .iter()
                .any(|(op, v)| !v.is_null() && !["value", "exact"].contains(&op.as_str()))
            {
                return Err(bad_field("table", "reads one model: table: { value: \"...\" }"));
            }
            let model = tables.resolve(&name)?;
            let store = super::store_for(&ctx, &store);
            let mut query = RecordQuery::default();
            filters::records_filter(&mut query, model, store.environment(), &filter)?;
            if let Some(sort) = ctx.args.get("sort").filter(|v| !v.is_null()) {
                filters::records_sort(&mut query, model, &sort)?;
            }
            collection(store, model, query, paging)
        })();
        ready(result)
    })
    .description("platformOS's records query: one model's records (filter.table), a numbered page.");
    for argument in paging::arguments() {
        field = field.argument(argument);
    }
    field
        .argument(InputValue::new("filter", TypeRef::named(filters::RECORDS_FILTER)))
        .argument(InputValue::new("sort", TypeRef::named_nn_list(filters::RECORDS_SORT)))
}

/// The older `customizations(name:, id:, properties:, is_deleted:, sort:)`.
fn customizations_query(tables: &Arc<Tables>, store: &Store) -> Field {
    let (tables, store) = (tables.clone(), store.clone());
    let mut field = Field::new(
        "customizations",
        TypeRef::named_nn(record_shape::COLLECTION),
        move |ctx| {
            let result = (|| {
                let paging = default_paging(&ctx)?;
                let name = optional_text(&ctx, "name")?.ok_or_else(|| {
                    bad_field(
                        "name",
                        "is required to name the model: customizations(name: \"modules/payments/payment\")",
                    )
                })?;
                let model = tables.resolve(&name)?;
                let mut query = RecordQuery::default();
                if let Some(id) = ctx.args.get("id").filter(|v| !v.is_null()) {
                    let id = parse_id(&id).ok_or_else(|| bad_field("id", "is not a valid record id"))?;
                    query.filters.push(Filter::new("id", FilterOp::Eq(id.into())));
                }
                // payforms keeps no deleted records: asking for them finds none.
                let deleted = ctx.args.get("is_deleted").filter(|v| !v.is_null());
                if deleted.map(|v| v.boolean()).transpose()? == Some(true) {
                    query.filters.push(Filter::new("id", FilterOp::In(Vec::new())));
                }
                let store = super::store_for(&ctx, &store);
                if let Some(properties) = ctx.args.get("properties").filter(|v| !v.is_null()) {
                    filters::property_filters(&mut query, model, store.environment(), &properties)?;
                }
                if let Some(sort) = ctx.args.get("sort").filter(|v| !v.is_null()) {
                    filters::customization_sort(&mut query, model, &sort)?;
                }
                collection(store, model, query, paging)
            })();
            ready(result)
        },
    )
    .description("platformOS's older records query, as its modules use it.");
    for argument in paging::arguments() {
        field = field.argument(argument);
    }
    field
        .argument(InputValue::new("name", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("id", TypeRef::named(TypeRef::ID)))
        .argument(
            InputValue::new("is_deleted", TypeRef::named(TypeRef::BOOLEAN))
                .description("true finds nothing: payforms keeps no deleted records."),
        )
        .argument(InputValue::new(
            "properties",
            TypeRef::named_nn_list(filters::PROPERTY_FILTER),
        ))
        .argument(InputValue::new(
            "sort",
            TypeRef::named_nn_list(filters::CUSTOMIZATION_SORT),
        ))
}

/// Each query with its name.
pub fn query_fields(tables: &Arc<Tables>, store: &Store) -> Vec<(&'static str, Field)> {
    vec![
        ("records", records_query(tables, store)),
        ("customizations", customizations_query(tables, store)),
        (
            module_calls::QUERIES[0],
            module_calls::partials_query(tables.partial_names.clone()),
        ),
    ]
}

/// Which input argument and which of its keys names the model.
#[derive(Clone, Copy)]
struct Shape {
    input: &'static str,
    input_type: &'static str,
    model_key: &'static str,
    /// `customization_*`: the model may come from the form's resource.
    takes_form: bool,
}

const RECORD: Shape = Shape {
    input: "record",
    input_type: writes::RECORD_INPUT,
    model_key: "table",
    takes_form: false,
};
const CUSTOMIZATION: Shape = Shape {
    input: "customization",
    input_type: writes::CUSTOMIZATION_INPUT,
    model_key: "name",
    takes_form: true,
};

/// The model a write names: the input's table/name, else the form's
/// resource; `None` when neither is given.
fn named_model<'t>(
    tables: &'t Tables,
    ctx: &ResolverContext<'_>,
    shape: Shape,
    explicit: Option<String>,
) -> Result<Option<&'t Arc<ModelType>>, Error> {
    if let Some(name) = explicit {
        return tables.resolve(&name).map(Some);
    }
    if shape.takes_form {
        if let Some(form) = optional_text(ctx, "form_configuration_name")? {
            return tables.form_model(&form).map(Some);
        }
    }
    Ok(None)
}

fn create_mutation(name: &str, shape: Shape, tables: &Arc<Tables>, store: &Store) -> Field {
    let (tables, store) = (tables.clone(), store.clone());
    let mut field = Field::new(name, TypeRef::named(record_shape::RECORD), move |ctx| {
        let result = (|| {
            let input = ctx.args.try_get(shape.input)?.object()?;
            let explicit = writes::model_name(&input, shape.model_key)?;
            let model = named_model(&tables, &ctx, shape, explicit)?.ok_or_else(|| {
                bad_field(
                    shape.model_key,
                    format!(
                        "is required to name the model: {}: {{ {}: \"...\" }}{}",
                        shape.input,
                        shape.model_key,
                        if shape.takes_form {
                            ", or a form_configuration_name"
                        } else {
                            ""
                        }
                    ),
                )
            })?;
            writable(model)?;
            let properties = writes::properties(model, &input)?;
            let record = super::store_for(&ctx, &store)
                .create_record(model, properties)
                .map_err(|e| from_store(e, &str::to_string))?;
            Ok(record_result(model, &record))
        })();
        ready(result)
    })
    .argument(InputValue::new(shape.input, TypeRef::named_nn(shape.input_type)));
    if shape.takes_form {
        field = field.argument(form_argument());
    }
    field
}

fn form_argument() -> InputValue {
    InputValue::new("form_configuration_name", TypeRef::named(TypeRef::STRING)).description(
        "The form whose resource is the model when the input names none; its callbacks are not run \
         (payforms applies the model's own rules).",
    )
}

fn update_mutation(name: &str, shape: Shape, tables: &Arc<Tables>, store: &Store) -> Field {
    let (tables, store) = (tables.clone(), store.clone());
    let mut field = Field::new(name, TypeRef::named(record_shape::RECORD), move |ctx| {
        let result = (|| {
            let id = id_of(&ctx)?;
            let input = ctx.args.try_get(shape.input)?.object()?;
            let explicit = writes::model_name(&input, shape.model_key)?;
            let store = super::store_for(&ctx, &store);
            let model = match named_model(&tables, &ctx, shape, explicit)? {
                Some(model) => model,
                None => tables.model_of_id(store, id)?.0,
            };
            writable(model)?;
            let properties = writes::properties(model, &input)?;
            let record = store
                .update_record(model, id, properties)
                .map_err(|e| from_store(e, &str::to_string))?;
            Ok(record_result(model, &record))
        })();
        ready(result)
    })
    .description("Only the listed properties change; one listed without a value is cleared.")
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new(shape.input, TypeRef::named_nn(shape.input_type)));
    if shape.takes_form {
        field = field.argument(form_argument());
    }
    field
}

fn delete_mutation(name: &str, shape: Shape, tables: &Arc<Tables>, store: &Store) -> Field {
    let (tables, store) = (tables.clone(), store.clone());
    let mut field = Field::new(name, TypeRef::named(record_shape::RECORD), move |ctx| {
        let result = (|| {
            let id = id_of(&ctx)?;
            let explicit = optional_text(&ctx, shape.model_key)?;
            let store = super::store_for(&ctx, &store);
            let model = match named_model(&tables, &ctx, shape, explicit)? {
                Some(model) => model,
                None => tables.model_of_id(store, id)?.0,
            };
            writable(model)?;
            let record = store
                .delete_record(model, id)
                .map_err(|e| from_store(e, &str::to_string))?;
            Ok(record_result(model, &record))
        })();
        ready(result)
    })
    .description("Returns the deleted record.")
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new(shape.model_key, TypeRef::named(TypeRef::STRING)));
    if shape.takes_form {
        field = field.argument(form_argument());
    }
    field
}

/// Each mutation with its name.
pub fn mutation_fields(tables: &Arc<Tables>, store: &Store) -> Vec<(&'static str, Field)> {
    let [_, _, record_create, record_update, record_delete, customization_create, customization_update, customization_delete] =
        MUTATIONS;
    vec![
        (
            module_calls::MUTATIONS[0],
            module_calls::api_call_send(tables.sender.clone(), tables.sendable.clone()),
        ),
        (module_calls::MUTATIONS[1], module_calls::constant_set()),
        (record_create, create_mutation(record_create, RECORD, tables, store)),
        (record_update, update_mutation(record_update, RECORD, tables, store)),
        (record_delete, delete_mutation(record_delete, RECORD, tables, store)),
        (
            customization_create,
            create_mutation(customization_create, CUSTOMIZATION, tables, store),
        ),
        (
            customization_update,
            update_mutation(customization_update, CUSTOMIZATION, tables, store),
        ),
        (
            customization_delete,
            delete_mutation(customization_delete, CUSTOMIZATION, tables, store),
        ),
    ]
}

/// Form name -> resource.
fn form_resources(app: &crate::app::App) -> HashMap<String, String> {
    app.forms
        .iter()
        .map(|(name, form)| (name.clone(), form.resource.clone()))
        .collect()
}
