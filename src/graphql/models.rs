//! One GraphQL type per model: its object type, Relay connection, filter
//! and order inputs, the single and connection queries, and the create /
//! update / delete mutations.

use std::sync::Arc;

use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, TypeRef,
};
use async_graphql::{Error, Name, Value as GqlValue};
use serde_json::{json, Map, Value};

use super::errors::{bad_field, not_found};
use super::filters::{self, parse_id};
pub use super::model_schema::ModelSchema;
use super::values::{key_field, property_type_ref, to_graphql, TIME};
use crate::db::aggregate::{MAX_DAYS, MAX_GROUPS_PER_DAY};
use crate::db::query::RecordQuery;
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

/// The shared `DayTotal` type name (`perDay` of every connection).
pub const DAY_TOTAL: &str = "DayTotal";

/// The shared `DayTotal` object.
pub fn day_total_type() -> Object {
    Object::new(DAY_TOTAL)
        .description("Records made on one UTC day (and of one group, with `groupBy`).")
        .field(key_field("day", TypeRef::named_nn(TypeRef::STRING)).description("The UTC day, `2026-12-07`."))
        .field(
            key_field("group", TypeRef::named(TypeRef::STRING))
                .description("The `groupBy` property's value; null without `groupBy` or for records without it."),
        )
        .field(key_field("count", TypeRef::named_nn(TypeRef::INT)))
        .field(
            key_field("sum", TypeRef::named(TypeRef::INT))
                .description("The `sum` property's total (minor units for money); null without `sum`."),
        )
}

/// What a connection query resolves to: its page (when a field of the
/// page is selected) and the query and store `perDay` totals over.
struct ConnectionValue {
    page: Option<GqlValue>,
    query: RecordQuery,
    store: Store,
}

/// Fields of a connection that are the page's.
const PAGE_FIELDS: [&str; 11] = [
    "edges",
    "nodes",
    "pageInfo",
    "totalCount",
    "results",
    "total_entries",
    "total_pages",
    "current_page",
    "per_page",
    "has_next_page",
    "has_previous_page",
];

/// A connection field read from its page.
fn page_field(name: &str, ty: TypeRef) -> Field {
    page_field_from(name, name, ty)
}

/// A connection field read from the page's `key` (`results` is `nodes`).
fn page_field_from(name: &str, key: &str, ty: TypeRef) -> Field {
    let key = Name::new(key);
    Field::new(name, ty, move |ctx| {
        let value = match ctx.parent_value.try_downcast_ref::<ConnectionValue>() {
            Ok(ConnectionValue {
                page: Some(GqlValue::Object(object)),
                ..
            }) => object.get(&key).cloned(),
            _ => None,
        };
        FieldFuture::Value(value.filter(|v| !matches!(v, GqlValue::Null)).map(FieldValue::value))
    })
}

/// `perDay(sum:, groupBy:)`: counts (and sums) per UTC day of every record
/// the connection's filter selects, grouped in SQL.
fn per_day_field(plan: &Arc<ModelSchema>) -> Field {
    let plan = plan.clone();
    Field::new("perDay", TypeRef::named_nn_list_nn(DAY_TOTAL), move |ctx| {
        let result = ctx
            .parent_value
            .try_downcast_ref::<ConnectionValue>()
            .and_then(|connection| {
                let totals = filters::day_totals_query(&plan, &ctx.args)?;
                let days = connection
                    .store
                    .day_totals(&plan.model, &connection.query, &totals)
                    .map_err(|e| plan.store_error(e))?;
                Ok(Some(FieldValue::list(days.into_iter().map(|day| {
                    FieldValue::value(to_graphql(
                        json!({"day": day.day, "group": day.group, "count": day.count, "sum": day.sum}),
                    ))
                }))))
            });
        FieldFuture::new(futures::future::ready(result))
    })
    .description(format!(
        "Records matching the filter (all pages) per UTC day of `createdAt`, oldest day first: \
         the newest {MAX_DAYS} days, at most {MAX_GROUPS_PER_DAY} groups a day (those with the most records)."
    ))
    .argument(
        InputValue::new("sum", TypeRef::named(TypeRef::STRING))
            .description("An Int property to total, e.g. \"amount\"."),
    )
    .argument(
        InputValue::new("groupBy", TypeRef::named(TypeRef::STRING))
            .description("A String or Boolean property whose values split each day, e.g. \"currency\"."),
    )
}

/// Output and input types of one model.
pub fn types(plan: &Arc<ModelSchema>) -> (Vec<Object>, Vec<InputObject>, async_graphql::dynamic::Enum) {
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
        .field(page_field("edges", TypeRef::named_nn_list_nn(plan.edge_type())))
        .field(page_field("nodes", TypeRef::named_nn_list_nn(&plan.type_name)))
        .field(page_field("pageInfo", TypeRef::named_nn(PAGE_INFO)))
        .field(page_field("totalCount", TypeRef::named_nn(TypeRef::INT)))
        // platformOS's names for the same page (`per_page`/`page` pages).
        .field(page_field_from(
            "results",
            "nodes",
            TypeRef::named_nn_list_nn(&plan.type_name),
        ))
        .field(page_field("total_entries", TypeRef::named_nn(TypeRef::INT)))
        .field(page_field("total_pages", TypeRef::named_nn(TypeRef::INT)))
        .field(
            page_field("current_page", TypeRef::named(TypeRef::INT))
                .description("Null for a page read after a cursor."),
        )
        .field(page_field("per_page", TypeRef::named_nn(TypeRef::INT)))
        .field(page_field("has_next_page", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(page_field("has_previous_page", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(per_day_field(plan));
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
                    let store = super::store_for(&ctx, &store).clone();
                    // Only `perDay` (or `__typename`) asked for: no page to read.
                    let look_ahead = ctx.look_ahead();
                    let page = if PAGE_FIELDS.iter().any(|name| look_ahead.field(name).exists()) {
                        let page = store
                            .query_records(&plan.model, &query)
                            .map_err(|e| plan.store_error(e))?;
                        Some(to_graphql(plan.page_value(&page, &query)))
                    } else {
                        None
                    };
                    Ok(Some(FieldValue::owned_any(ConnectionValue { page, query, store })))
                });
                FieldFuture::new(futures::future::ready(result))
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
