//! One GraphQL type per model: its object type, Relay connection, filter
//! and order inputs, the single and connection queries, and the create /
//! update / delete mutations.

use std::sync::Arc;

use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, TypeRef,
};
use async_graphql::Error;
use serde_json::{Map, Value};

use super::errors::{bad_field, not_found};
use super::filters::{self, parse_id};
pub use super::model_schema::ModelSchema;
use super::values::{key_field, property_type_ref, to_graphql, TIME};
use crate::db::Store;

/// The shared `PageInfo` type name.
pub const PAGE_INFO: &str = "PageInfo";

/// The shared `PageInfo` object.
pub fn page_info_type() -> Object {
    Object::new(PAGE_INFO)
        .field(key_field("hasNextPage", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(key_field("hasPreviousPage", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(key_field("startCursor", TypeRef::named(TypeRef::STRING)))
        .field(key_field("endCursor", TypeRef::named(TypeRef::STRING)))
}

/// Output and input types of one model.
pub fn types(plan: &ModelSchema) -> (Vec<Object>, Vec<InputObject>, async_graphql::dynamic::Enum) {
    let mut object = Object::new(&plan.type_name)
        .description(format!("A `{}` record.", plan.model.name))
        .field(key_field("id", TypeRef::named_nn(TypeRef::ID)))
        .field(key_field("createdAt", TypeRef::named_nn(TIME)))
        .field(key_field("updatedAt", TypeRef::named_nn(TIME)))
        .field(
            key_field("livemode", TypeRef::named_nn(TypeRef::BOOLEAN))
                .description("Written in live mode (true) or test mode; set by payforms."),
        )
        .field(
            key_field("merchant", TypeRef::named_nn(TypeRef::STRING))
                .description("The merchant the record belongs to; set by payforms."),
        );
    let mut input = InputObject::new(plan.input_type())
        .description("Properties to write; on update, only the given ones change (null clears one).");
    for field in &plan.fields {
        object = object.field(key_field(&field.graphql, property_type_ref(field.kind)));
        input = input.field(InputValue::new(&field.graphql, property_type_ref(field.kind)));
    }
    let edge = Object::new(plan.edge_type())
        .field(key_field("node", TypeRef::named_nn(&plan.type_name)))
        .field(key_field("cursor", TypeRef::named_nn(TypeRef::STRING)));
    let connection = Object::new(plan.connection_type())
        .field(key_field("edges", TypeRef::named_nn_list_nn(plan.edge_type())))
        .field(key_field("nodes", TypeRef::named_nn_list_nn(&plan.type_name)))
        .field(key_field("pageInfo", TypeRef::named_nn(PAGE_INFO)))
        .field(key_field("totalCount", TypeRef::named_nn(TypeRef::INT)));
    let (filter, order_field, order) = filters::model_inputs(plan);
    let mut inputs = vec![filter, order];
    // An input object needs at least one field.
    if !plan.fields.is_empty() {
        inputs.push(input);
    }
    (vec![object, edge, connection], inputs, order_field)
}

fn ready<'a>(result: Result<Option<Value>, Error>) -> FieldFuture<'a> {
    FieldFuture::new(futures::future::ready(
        result.map(|v| v.map(|v| FieldValue::value(to_graphql(v)))),
    ))
}

fn id_argument(ctx: &ResolverContext<'_>) -> Result<i64, Error> {
    let value = ctx.args.try_get("id")?;
    parse_id(&value).ok_or_else(|| bad_field("id", "is not a valid record id"))
}

/// `creditCard(id:, livemode:)` and `creditCards(...)`. Both read the
/// instance's active environment unless `livemode` names one.
pub fn query_fields(plan: &Arc<ModelSchema>, store: &Store) -> Vec<Field> {
    let single = {
        let (plan, store) = (plan.clone(), store.clone());
        Field::new(plan.single_query.clone(), TypeRef::named(&plan.type_name), move |ctx| {
            let result = id_argument(&ctx).and_then(|id| {
                let environment =
                    filters::environment_argument(&ctx.args)?.unwrap_or(super::store_for(&ctx, &store).environment());
                match super::store_for(&ctx, &store).get_record_in(&plan.model, id, environment) {
                    Ok(Some(record)) => Ok(Some(plan.record_value(&record))),
                    Ok(None) => Err(not_found(format!("{} {id} not found", plan.model.short_name()))),
                    Err(e) => Err(plan.store_error(e)),
                }
            });
            ready(result)
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
        .argument(filters::livemode_argument())
    };
    let connection = {
        let arguments = filters::connection_arguments(plan);
        let (plan, store) = (plan.clone(), store.clone());
        let mut field = Field::new(
            plan.connection_query.clone(),
            TypeRef::named_nn(plan.connection_type()),
            move |ctx| {
                let result = filters::record_query(&plan, &ctx.args).and_then(|query| {
                    super::store_for(&ctx, &store)
                        .query_records(&plan.model, &query)
                        .map(|page| Some(plan.page_value(&page, &query.order)))
                        .map_err(|e| plan.store_error(e))
                });
                ready(result)
            },
        );
        for argument in arguments {
            field = field.argument(argument);
        }
        field
    };
    vec![single, connection]
}

/// `createCreditCard`, `updateCreditCard`, `deleteCreditCard`.
pub fn mutation_fields(plan: &Arc<ModelSchema>, store: &Store) -> Vec<Field> {
    let [create_name, update_name, delete_name] = plan.mutation_names();
    let input_argument = || InputValue::new("input", TypeRef::named_nn(plan.input_type()));
    let has_input = !plan.fields.is_empty();

    let mut create = {
        let (plan, store) = (plan.clone(), store.clone());
        Field::new(create_name, TypeRef::named(&plan.type_name), move |ctx| {
            let result = input_properties(&plan, &ctx).and_then(|properties| {
                super::store_for(&ctx, &store)
                    .create_record(&plan.model, properties)
                    .map(|record| Some(plan.record_value(&record)))
                    .map_err(|e| plan.store_error(e))
            });
            ready(result)
        })
    };
    let mut update = {
        let (plan, store) = (plan.clone(), store.clone());
        Field::new(update_name, TypeRef::named(&plan.type_name), move |ctx| {
            let result = id_argument(&ctx).and_then(|id| {
                let properties = input_properties(&plan, &ctx)?;
                super::store_for(&ctx, &store)
                    .update_record(&plan.model, id, properties)
                    .map(|record| Some(plan.record_value(&record)))
                    .map_err(|e| plan.store_error(e))
            });
            ready(result)
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    };
    if has_input {
        create = create.argument(input_argument());
        update = update.argument(input_argument());
    }
    let delete = {
        let (plan, store) = (plan.clone(), store.clone());
        Field::new(delete_name, TypeRef::named(&plan.type_name), move |ctx| {
            let result = id_argument(&ctx).and_then(|id| {
                super::store_for(&ctx, &store)
                    .delete_record(&plan.model, id)
                    .map(|record| Some(plan.record_value(&record)))
                    .map_err(|e| plan.store_error(e))
            });
            ready(result)
        })
        .description("Returns the deleted record.")
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    };
    vec![create, update, delete]
}

fn input_properties(plan: &ModelSchema, ctx: &ResolverContext<'_>) -> Result<Map<String, Value>, Error> {
    match ctx.args.get("input") {
        Some(input) if !input.is_null() => plan.properties_from_input(&input.object()?),
        _ => Ok(Map::new()),
    }
}
