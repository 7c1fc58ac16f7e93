//! `records` and the older `customizations`: one model's records, a
//! numbered page, as platformOS answers them.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldValue, InputValue, ResolverContext, TypeRef};
use async_graphql::Error;

use super::{filters, module_calls, optional_text, ready, record_shape, Tables};
use crate::db::query::{Filter, FilterOp, RecordQuery};
use crate::db::schema::ModelType;
use crate::db::Store;
use crate::graphql::errors::{bad_field, from_store};
use crate::graphql::filters::parse_id;
use crate::graphql::paging::{self, Paging};

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
            let store = crate::graphql::store_for(&ctx, &store);
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
                let store = crate::graphql::store_for(&ctx, &store);
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
