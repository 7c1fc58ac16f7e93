//! `record_create|update|delete` and `customization_create|update|delete`,
//! through the store's write path (payforms' own mutations' rules).

use std::sync::Arc;

use async_graphql::dynamic::{Field, InputValue, ResolverContext, TypeRef};
use async_graphql::Error;

use super::{
    id_of, module_calls, optional_text, ready, record_result, record_shape, writable, writes, Tables, MUTATIONS,
};
use crate::db::schema::ModelType;
use crate::db::Store;
use crate::graphql::errors::{bad_field, from_store};

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
            let record = crate::graphql::store_for(&ctx, &store)
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
            let store = crate::graphql::store_for(&ctx, &store);
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
            let store = crate::graphql::store_for(&ctx, &store);
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
