//! platformOS's record filters and sorts (`records(filter:, sort:)`,
//! `customizations(id:, properties:, sort:)`) read into a store query.
//! Values are strings in platformOS; the store types them by the
//! property's schema type, on SQLite and PostgreSQL alike.

use async_graphql::dynamic::{Enum, InputObject, InputValue, ObjectAccessor, TypeRef, ValueAccessor};
use async_graphql::Error;
use serde_json::Value;

use crate::db::query::{Filter, FilterOp, Order, OrderField, RecordQuery};
use crate::db::schema::{ModelType, PropertyType};
use crate::environment::Environment;
use crate::graphql::errors::bad_field;
use crate::graphql::filters::MAX_IN_VALUES;

pub const RECORDS_FILTER: &str = "PlatformosRecordsFilter";
pub const VALUE_FILTER: &str = "PlatformosValueFilter";
pub const PROPERTY_FILTER: &str = "PlatformosPropertyFilter";
pub const RANGE: &str = "PlatformosRangeInput";
pub const TIME_FILTER: &str = "PlatformosTimeFilter";
pub const RECORDS_SORT: &str = "PlatformosRecordsSort";
pub const SORT_ORDER: &str = "PlatformosSortOrder";
pub const PROPERTY_SORT: &str = "PlatformosPropertySort";
pub const DIRECTION: &str = "PlatformosSortDirection";
pub const CUSTOMIZATION_SORT: &str = "PlatformosCustomizationSort";

/// Property conditions a filter may list.
pub const MAX_PROPERTY_FILTERS: usize = 32;

/// platformOS operators payforms does not run: refused by name.
const REFUSED_OPERATORS: [&str; 4] = ["starts_with", "ends_with", "not_contains", "not_value_in"];
const SUPPORTED: &str = "value, exact, not_value, contains, value_in, exists, range {gt gte lt lte}";

pub fn type_names() -> [&'static str; 10] {
    [
        RECORDS_FILTER,
        VALUE_FILTER,
        PROPERTY_FILTER,
        RANGE,
        TIME_FILTER,
        RECORDS_SORT,
        SORT_ORDER,
        PROPERTY_SORT,
        DIRECTION,
        CUSTOMIZATION_SORT,
    ]
}

pub fn inputs() -> (Vec<InputObject>, Enum) {
    let text = || TypeRef::named(TypeRef::STRING);
    let mut property = InputObject::new(PROPERTY_FILTER)
        .description(format!(
            "A condition on one property (its schema name); null values are ignored. Supported: {SUPPORTED}."
        ))
        .field(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)))
        .field(InputValue::new("value", text()).description("Equals (typed by the property)."))
        .field(InputValue::new("exact", text()).description("Equals, as `value`."))
        .field(InputValue::new("not_value", text()).description("Differs, or is missing."))
        .field(
            InputValue::new("contains", text()).description("A string property containing the text (case-sensitive)."),
        )
        .field(InputValue::new("value_in", TypeRef::named_nn_list(TypeRef::STRING)))
        .field(InputValue::new("exists", TypeRef::named(TypeRef::BOOLEAN)))
        .field(InputValue::new("range", TypeRef::named(RANGE)));
    for refused in REFUSED_OPERATORS {
        let ty = if refused == "not_value_in" {
            TypeRef::named_nn_list(TypeRef::STRING)
        } else {
            text()
        };
        property = property.field(InputValue::new(refused, ty).description("Not supported by payforms: refused."));
    }
    let range = InputObject::new(RANGE)
        .description("Bounds on a number or time property (values as text).")
        .field(InputValue::new("gt", text()))
        .field(InputValue::new("gte", text()))
        .field(InputValue::new("lt", text()))
        .field(InputValue::new("lte", text()));
    let value = InputObject::new(VALUE_FILTER)
        .field(InputValue::new("value", text()))
        .field(InputValue::new("exact", text()))
        .field(InputValue::new("not_value", text()))
        .field(InputValue::new("value_in", TypeRef::named_nn_list(TypeRef::STRING)));
    let time = InputObject::new(TIME_FILTER).field(InputValue::new("range", TypeRef::named(RANGE)));
    let filter = InputObject::new(RECORDS_FILTER)
        .description("All given conditions must hold; `table` names the model (required).")
        .field(InputValue::new("table", TypeRef::named(VALUE_FILTER)))
        .field(InputValue::new("id", TypeRef::named(VALUE_FILTER)))
        .field(InputValue::new("created_at", TypeRef::named(TIME_FILTER)))
        .field(InputValue::new("updated_at", TypeRef::named(TIME_FILTER)))
        .field(InputValue::new("properties", TypeRef::named_nn_list(PROPERTY_FILTER)));
    let sort_order = InputObject::new(SORT_ORDER).field(InputValue::new("order", TypeRef::named(DIRECTION)));
    let property_sort = InputObject::new(PROPERTY_SORT)
        .field(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)))
        .field(InputValue::new("order", TypeRef::named(DIRECTION)));
    let sort = InputObject::new(RECORDS_SORT)
        .description("One key: id, created_at, updated_at or a property.")
        .field(InputValue::new("id", TypeRef::named(SORT_ORDER)))
        .field(InputValue::new("created_at", TypeRef::named(SORT_ORDER)))
        .field(InputValue::new("updated_at", TypeRef::named(SORT_ORDER)))
        .field(InputValue::new("properties", TypeRef::named(PROPERTY_SORT)));
    let customization_sort = InputObject::new(CUSTOMIZATION_SORT)
        .description("`{ name: \"created_at\", order: \"DESC\" }`: id, created_at, updated_at or a property.")
        .field(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)))
        .field(InputValue::new("order", text()).description("ASC or DESC, any case; ASC unless given."));
    let direction = Enum::new(DIRECTION).item("ASC").item("DESC");
    (
        vec![
            property,
            range,
            value,
            time,
            filter,
            sort_order,
            property_sort,
            sort,
            customization_sort,
        ],
        direction,
    )
}

fn present<'a>(value: Option<ValueAccessor<'a>>) -> Option<ValueAccessor<'a>> {
    value.filter(|v| !v.is_null())
}

/// A string-typed filter value (`value: "12"`; an Int variable is taken too).
fn text_of(field: &str, value: &ValueAccessor<'_>) -> Result<Value, Error> {
    match value.as_value() {
        async_graphql::Value::String(s) => Ok(Value::String(s.clone())),
        async_graphql::Value::Number(n) => Ok(Value::String(n.to_string())),
        async_graphql::Value::Boolean(b) => Ok(Value::String(b.to_string())),
        _ => Err(bad_field(field, "must be a string")),
    }
}

fn list_of(field: &str, value: &ValueAccessor<'_>) -> Result<Vec<Value>, Error> {
    let list = value.list().map_err(|e| bad_field(field, e.message))?;
    if list.len() > MAX_IN_VALUES {
        return Err(bad_field(
            field,
            format!("`value_in` takes at most {MAX_IN_VALUES} values, not {}", list.len()),
        ));
    }
    list.iter().map(|v| text_of(field, &v)).collect()
}

/// `value`/`exact`/`not_value`/`value_in` of a `PlatformosValueFilter`.
pub fn value_filter(query: &mut RecordQuery, column: &str, filter: &ObjectAccessor<'_>) -> Result<(), Error> {
    for (op, value) in filter.iter() {
        if value.is_null() {
            continue;
        }
        let op = match op.as_str() {
            "value" | "exact" => FilterOp::Eq(text_of(column, &value)?),
            "not_value" => FilterOp::Ne(text_of(column, &value)?),
            "value_in" => FilterOp::In(list_of(column, &value)?),
            other => return Err(bad_field(column, format!("`{other}` is not supported"))),
        };
        query.filters.push(Filter::new(column, op));
    }
    Ok(())
}

/// `{ range: { gte: "2026-01-01T00:00:00Z" } }` on `created_at`/`updated_at`.
fn time_filter(query: &mut RecordQuery, column: &str, filter: &ObjectAccessor<'_>) -> Result<(), Error> {
    if let Some(range) = present(filter.get("range")) {
        range_filter(query, column, &range.object()?)?;
    }
    Ok(())
}

fn range_filter(query: &mut RecordQuery, column: &str, range: &ObjectAccessor<'_>) -> Result<(), Error> {
    for (bound, value) in range.iter() {
        if value.is_null() {
            continue;
        }
        let value = text_of(column, &value)?;
        let op = match bound.as_str() {
            "gt" => FilterOp::Gt(value),
            "gte" => FilterOp::Gte(value),
            "lt" => FilterOp::Lt(value),
            "lte" => FilterOp::Lte(value),
            other => return Err(bad_field(column, format!("`{other}` is not a range bound"))),
        };
        query.filters.push(Filter::new(column, op));
    }
    Ok(())
}

/// One `{ name: "state", value: "paid" }`: conditions on a property of
/// `model`. Null operands are ignored (platformOS's optional variables).
fn property_filter(
    query: &mut RecordQuery,
    model: &ModelType,
    environment: Environment,
    condition: &ObjectAccessor<'_>,
) -> Result<(), Error> {
    let name = condition.try_get("name")?.string()?.to_string();
    let shown: String = name.chars().take(64).collect();
    if name == "livemode" {
        return livemode_filter(query, environment, condition);
    }
    let Some(property) = model.property(&name) else {
        return Err(bad_field(
            "properties",
            format!("`{shown}` is not a property of {}", model.name),
        ));
    };
    for (op, value) in condition.iter() {
        if op.as_str() == "name" || value.is_null() {
            continue;
        }
        let filter_op = match op.as_str() {
            "value" | "exact" => FilterOp::Eq(text_of(&shown, &value)?),
            "not_value" => FilterOp::Ne(text_of(&shown, &value)?),
            "value_in" => FilterOp::In(list_of(&shown, &value)?),
            "exists" => FilterOp::Exists(value.boolean().map_err(|e| bad_field(&shown, e.message))?),
            "contains" => {
                if property.kind != PropertyType::String {
                    return Err(bad_field(
                        &shown,
                        format!("is a {} property; `contains` applies to strings", property.kind),
                    ));
                }
                FilterOp::Contains(value.string()?.to_string())
            }
            "range" => {
                range_filter(query, &name, &value.object()?)?;
                continue;
            }
            other => {
                return Err(bad_field(
                    &shown,
                    format!("the `{other}` filter is not supported by payforms; use one of: {SUPPORTED}"),
                ))
            }
        };
        query.filters.push(Filter::new(name.clone(), filter_op));
    }
    Ok(())
}

/// `{ name: "livemode", value: "true" }` (platformOS's payments module
/// keeps livemode as a property): payforms records carry it as their
/// environment, and a query reads the request's environment only, so the
/// condition keeps every record or none.
fn livemode_filter(
    query: &mut RecordQuery,
    environment: Environment,
    condition: &ObjectAccessor<'_>,
) -> Result<(), Error> {
    for (op, value) in condition.iter() {
        if op.as_str() == "name" || value.is_null() {
            continue;
        }
        let wanted = match (op.as_str(), text_of("livemode", &value)?) {
            ("value" | "exact", Value::String(text)) => text,
            (other, _) => {
                return Err(bad_field(
                    "livemode",
                    format!("takes `value: \"true\"` or `\"false\"`, not `{other}`"),
                ))
            }
        };
        let livemode = match wanted.trim() {
            "true" => true,
            "false" => false,
            _ => return Err(bad_field("livemode", "is \"true\" or \"false\"")),
        };
        if livemode != environment.livemode() {
            query.filters.push(Filter::new("id", FilterOp::In(Vec::new())));
        }
    }
    Ok(())
}

/// A list of property conditions (`filter.properties`, `customizations(properties:)`).
pub fn property_filters(
    query: &mut RecordQuery,
    model: &ModelType,
    environment: Environment,
    list: &ValueAccessor<'_>,
) -> Result<(), Error> {
    if let Ok(only) = list.object() {
        return property_filter(query, model, environment, &only);
    }
    let list = list.list()?;
    if list.len() > MAX_PROPERTY_FILTERS {
        return Err(bad_field(
            "properties",
            format!("at most {MAX_PROPERTY_FILTERS} conditions, not {}", list.len()),
        ));
    }
    for condition in list.iter() {
        property_filter(query, model, environment, &condition.object()?)?;
    }
    Ok(())
}

/// `records(filter:)` beside `table`, which names the model.
pub fn records_filter(
    query: &mut RecordQuery,
    model: &ModelType,
    environment: Environment,
    filter: &ObjectAccessor<'_>,
) -> Result<(), Error> {
    if let Some(id) = present(filter.get("id")) {
        value_filter(query, "id", &id.object()?)?;
    }
    for column in ["created_at", "updated_at"] {
        if let Some(time) = present(filter.get(column)) {
            time_filter(query, column, &time.object()?)?;
        }
    }
    if let Some(properties) = present(filter.get("properties")) {
        property_filters(query, model, environment, &properties)?;
    }
    Ok(())
}

/// The one order a sort names (the store orders by one key, ties by id).
fn order_by(model: &ModelType, name: &str, descending: bool) -> Result<Order, Error> {
    let field = match name {
        "id" => OrderField::Id,
        "created_at" => OrderField::CreatedAt,
        "updated_at" => OrderField::UpdatedAt,
        property => match model.property(property) {
            Some(def) if !matches!(def.kind, PropertyType::Json | PropertyType::Array) => {
                OrderField::Property(property.to_string())
            }
            Some(def) => {
                return Err(bad_field(
                    "sort",
                    format!("`{property}` is a {} property and cannot order records", def.kind),
                ))
            }
            None => {
                let shown: String = property.chars().take(64).collect();
                return Err(bad_field(
                    "sort",
                    format!("`{shown}` is not a property of {}", model.name),
                ));
            }
        },
    };
    Ok(Order { field, descending })
}

/// Run `read` on the one sort given (payforms orders by one key, ties by id).
fn with_one_sort(
    sort: &ValueAccessor<'_>,
    read: impl FnOnce(&ObjectAccessor<'_>) -> Result<Order, Error>,
) -> Result<Option<Order>, Error> {
    // GraphQL takes one item for a list (`sort: { name: ... }`) as is.
    if let Ok(only) = sort.object() {
        return read(&only).map(Some);
    }
    let list = sort.list()?;
    match list.len() {
        0 => Ok(None),
        1 => match list.get(0) {
            Some(only) => read(&only.object()?).map(Some),
            None => Ok(None),
        },
        n => Err(bad_field(
            "sort",
            format!("payforms sorts by one key (ties by id), not {n}"),
        )),
    }
}

fn descending(order: Option<ValueAccessor<'_>>) -> Result<bool, Error> {
    Ok(match present(order) {
        Some(order) => order.enum_name()? == "DESC",
        None => false,
    })
}

/// `sort: [{ created_at: { order: DESC } }]` or `{ properties: { name, order } }`.
pub fn records_sort(query: &mut RecordQuery, model: &ModelType, sort: &ValueAccessor<'_>) -> Result<(), Error> {
    let order = with_one_sort(sort, |sort| {
        let keys: Vec<_> = sort.iter().filter(|(_, v)| !v.is_null()).collect();
        let [(key, value)] = keys.as_slice() else {
            return Err(bad_field(
                "sort",
                "name one key: id, created_at, updated_at or properties",
            ));
        };
        let value = value.object()?;
        if key.as_str() == "properties" {
            let name = value.try_get("name")?.string()?.to_string();
            order_by(model, &name, descending(value.get("order"))?)
        } else {
            order_by(model, key.as_str(), descending(value.get("order"))?)
        }
    })?;
    if let Some(order) = order {
        query.order = order;
    }
    Ok(())
}

/// `sort: { name: "created_at", order: "DESC" }` (customizations).
pub fn customization_sort(query: &mut RecordQuery, model: &ModelType, sort: &ValueAccessor<'_>) -> Result<(), Error> {
    let order = with_one_sort(sort, |sort| {
        let name = sort.try_get("name")?.string()?.to_string();
        let descending = match present(sort.get("order")) {
            Some(order) => match order.string()?.to_ascii_uppercase().as_str() {
                "DESC" => true,
                "ASC" => false,
                _ => return Err(bad_field("sort", "order is ASC or DESC")),
            },
            None => false,
        };
        order_by(model, &name, descending)
    })?;
    if let Some(order) = order {
        query.order = order;
    }
    Ok(())
}
