//! Filter and order inputs of connection queries, and their translation
//! into a store `RecordQuery`.

use async_graphql::dynamic::{Enum, InputObject, InputValue, ObjectAccessor, TypeRef, ValueAccessor};
use async_graphql::Error;
use serde_json::Value;

use super::errors::bad_field;
use super::model_schema::ModelSchema;
use super::values::{to_json, TIME};
use crate::db::aggregate::DayTotalsQuery;
use crate::db::query::{Filter, FilterOp, Order, OrderField, RecordQuery};
use crate::db::schema::PropertyType;
use crate::environment::Environment;

/// Values one `in` filter may list (each is an SQL parameter).
pub const MAX_IN_VALUES: usize = 1_000;
pub const ORDER_DIRECTION: &str = "OrderDirection";
const STRING_FILTER: &str = "StringFilter";
const INT_FILTER: &str = "IntFilter";
const FLOAT_FILTER: &str = "FloatFilter";
const TIME_FILTER: &str = "TimeFilter";
const BOOLEAN_FILTER: &str = "BooleanFilter";
const ID_FILTER: &str = "IDFilter";

/// The comparison inputs shared by every model, and the order direction.
pub fn shared_inputs() -> (Vec<InputObject>, Enum) {
    let comparable = |name: &str, scalar: &str, description: &str| {
        InputObject::new(name)
            .description(description)
            .field(InputValue::new("eq", TypeRef::named(scalar)))
            .field(InputValue::new("ne", TypeRef::named(scalar)).description("Differs, or is missing."))
            .field(InputValue::new("in", TypeRef::named_nn_list(scalar)))
            .field(InputValue::new("gt", TypeRef::named(scalar)))
            .field(InputValue::new("gte", TypeRef::named(scalar)))
            .field(InputValue::new("lt", TypeRef::named(scalar)))
            .field(InputValue::new("lte", TypeRef::named(scalar)))
            .field(exists())
    };
    let inputs = vec![
        InputObject::new(STRING_FILTER)
            .description("Conditions on a String property; all given conditions must hold.")
            .field(InputValue::new("eq", TypeRef::named(TypeRef::STRING)))
            .field(InputValue::new("ne", TypeRef::named(TypeRef::STRING)).description("Differs, or is missing."))
            .field(InputValue::new("in", TypeRef::named_nn_list(TypeRef::STRING)))
            .field(exists()),
        comparable(
            INT_FILTER,
            TypeRef::INT,
            "Conditions on an Int property; all given conditions must hold.",
        ),
        comparable(
            FLOAT_FILTER,
            TypeRef::FLOAT,
            "Conditions on a Float property; all given conditions must hold.",
        ),
        comparable(
            TIME_FILTER,
            TIME,
            "Conditions on a Time property, compared in time order.",
        ),
        InputObject::new(BOOLEAN_FILTER)
            .field(InputValue::new("eq", TypeRef::named(TypeRef::BOOLEAN)))
            .field(exists()),
        InputObject::new(ID_FILTER)
            .field(InputValue::new("eq", TypeRef::named(TypeRef::ID)))
            .field(InputValue::new("ne", TypeRef::named(TypeRef::ID)))
            .field(InputValue::new("in", TypeRef::named_nn_list(TypeRef::ID))),
    ];
    let direction = Enum::new(ORDER_DIRECTION).item("ASC").item("DESC");
    (inputs, direction)
}

fn exists() -> InputValue {
    InputValue::new("exists", TypeRef::named(TypeRef::BOOLEAN))
        .description("true: the property is set (not null); false: it is missing or null.")
}

/// json and array properties can be neither filtered nor ordered by.
fn filter_input_for(kind: PropertyType) -> Option<&'static str> {
    match kind {
        PropertyType::String => Some(STRING_FILTER),
        PropertyType::Integer => Some(INT_FILTER),
        PropertyType::Float => Some(FLOAT_FILTER),
        PropertyType::Datetime => Some(TIME_FILTER),
        PropertyType::Boolean => Some(BOOLEAN_FILTER),
        PropertyType::Json | PropertyType::Array => None,
    }
}

/// `<Model>Filter`, `<Model>OrderField` and `<Model>Order` for one model.
pub fn model_inputs(plan: &ModelSchema) -> (InputObject, Enum, InputObject) {
    let mut filter = InputObject::new(plan.filter_type())
        .description("All given conditions must hold.")
        .field(InputValue::new("id", TypeRef::named(ID_FILTER)))
        .field(
            InputValue::new("createdAt", TypeRef::named(TIME_FILTER))
                .description("When the record was made: `gte`/`lt` for a date range."),
        )
        .field(InputValue::new("updatedAt", TypeRef::named(TIME_FILTER)));
    let mut order_field = Enum::new(plan.order_field_type())
        .item("ID")
        .item("CREATED_AT")
        .item("UPDATED_AT");
    for field in &plan.fields {
        if let Some(input) = filter_input_for(field.kind) {
            filter = filter.field(InputValue::new(&field.graphql, TypeRef::named(input)));
            order_field = order_field.item(field.order_value.as_str());
        }
    }
    let order = InputObject::new(plan.order_type())
        .field(InputValue::new("field", TypeRef::named_nn(plan.order_field_type())))
        .field(
            InputValue::new("direction", TypeRef::named(ORDER_DIRECTION))
                .description("ASC unless given.")
                .default_value(async_graphql::Value::Enum(async_graphql::Name::new("ASC"))),
        );
    (filter, order_field, order)
}

/// The connection arguments `first/after/last/before/filter/orderBy`.
pub fn connection_arguments(plan: &ModelSchema) -> Vec<InputValue> {
    vec![
        InputValue::new("first", TypeRef::named(TypeRef::INT))
            .description("Page size from the start (default 10, at most 250)."),
        InputValue::new("after", TypeRef::named(TypeRef::STRING)),
        InputValue::new("last", TypeRef::named(TypeRef::INT)).description("Page size from the end."),
        InputValue::new("before", TypeRef::named(TypeRef::STRING)),
        InputValue::new("filter", TypeRef::named(plan.filter_type())),
        InputValue::new("orderBy", TypeRef::named(plan.order_type())).description("Default: CREATED_AT DESC."),
        livemode_argument(),
    ]
    .into_iter()
    .chain(super::paging::arguments())
    .collect()
}

/// `livemode: Boolean`: which environment's records a query reads.
pub fn livemode_argument() -> InputValue {
    InputValue::new("livemode", TypeRef::named(TypeRef::BOOLEAN)).description(
        "true: live records, false: test records; omitted: the instance's active environment. \
         One query reads one environment.",
    )
}

/// The environment the `livemode` argument names, if given.
pub fn environment_argument(args: &ObjectAccessor<'_>) -> Result<Option<Environment>, Error> {
    match present(args.get("livemode")) {
        Some(value) => Ok(Some(Environment::from_livemode(
            value.boolean().map_err(|e| bad_field("livemode", e.message))?,
        ))),
        None => Ok(None),
    }
}

/// Read the connection arguments into a store query.
pub fn record_query(plan: &ModelSchema, args: &ObjectAccessor<'_>) -> Result<RecordQuery, Error> {
    let mut query = RecordQuery {
        first: page_size(args, "first")?,
        after: optional_string(args, "after")?,
        last: page_size(args, "last")?,
        before: optional_string(args, "before")?,
        environment: environment_argument(args)?,
        ..RecordQuery::default()
    };
    // platformOS's `per_page`/`page`: a numbered page instead of a cursor one.
    if let Some(paging) = super::paging::Paging::read(args)? {
        if query.first.is_some() || query.after.is_some() || query.last.is_some() || query.before.is_some() {
            return Err(bad_field(
                "per_page",
                "numbered pages (per_page/page) and cursors (first/after/last/before) do not mix",
            ));
        }
        paging.apply(&mut query);
    }
    if let Some(filter) = present(args.get("filter")) {
        let filter = filter.object()?;
        for (name, conditions) in filter.iter() {
            if conditions.is_null() {
                continue;
            }
            let (property, kind) = match name.as_str() {
                "id" => ("id".to_string(), None),
                "createdAt" => ("created_at".to_string(), Some(PropertyType::Datetime)),
                "updatedAt" => ("updated_at".to_string(), Some(PropertyType::Datetime)),
                name => match plan.field_by_graphql(name) {
                    Some(field) => (field.property.clone(), Some(field.kind)),
                    None => return Err(bad_field(name, "is not a filterable field")),
                },
            };
            let conditions = conditions.object()?;
            for (op, value) in conditions.iter() {
                if value.is_null() {
                    continue;
                }
                let op = filter_op(name.as_str(), op.as_str(), &value, kind)?;
                query.filters.push(Filter::new(property.clone(), op));
            }
        }
    }
    if let Some(order) = present(args.get("orderBy")) {
        let order = order.object()?;
        let field = order.try_get("field")?;
        let field = match field.enum_name()? {
            "ID" => OrderField::Id,
            "CREATED_AT" => OrderField::CreatedAt,
            "UPDATED_AT" => OrderField::UpdatedAt,
            other => match plan.fields.iter().find(|f| f.order_value == other) {
                Some(f) => OrderField::Property(f.property.clone()),
                None => return Err(bad_field("orderBy", format!("`{other}` is not a field to order by"))),
            },
        };
        let descending = match present(order.get("direction")) {
            Some(direction) => direction.enum_name()? == "DESC",
            None => false,
        };
        query.order = Order { field, descending };
    }
    Ok(query)
}

/// `perDay`'s arguments: `sum` must name an Int property, `groupBy` a
/// String or Boolean one (by GraphQL name, or by property name).
pub fn day_totals_query(plan: &ModelSchema, args: &ObjectAccessor<'_>) -> Result<DayTotalsQuery, Error> {
    let property = |argument: &str, kinds: &[PropertyType], wanted: &str| -> Result<Option<String>, Error> {
        let Some(name) = optional_string(args, argument)? else {
            return Ok(None);
        };
        let field = plan
            .field_by_graphql(&name)
            .or_else(|| plan.fields.iter().find(|f| f.property == name));
        // The name is echoed back: cut it so the error stays small.
        let shown: String = name.chars().take(64).collect();
        match field {
            Some(field) if kinds.contains(&field.kind) => Ok(Some(field.property.clone())),
            Some(field) => Err(bad_field(
                argument,
                format!("`{shown}` is a {} property; {argument} takes {wanted}", field.kind),
            )),
            None => Err(bad_field(
                argument,
                format!("`{shown}` is not a property of {}", plan.model.short_name()),
            )),
        }
    };
    Ok(DayTotalsQuery {
        sum: property("sum", &[PropertyType::Integer], "an integer property")?,
        group_by: property(
            "groupBy",
            &[PropertyType::String, PropertyType::Boolean],
            "a string or boolean property",
        )?,
    })
}

fn present<'a>(value: Option<ValueAccessor<'a>>) -> Option<ValueAccessor<'a>> {
    value.filter(|v| !v.is_null())
}

fn optional_string(args: &ObjectAccessor<'_>, name: &str) -> Result<Option<String>, Error> {
    match present(args.get(name)) {
        Some(value) => Ok(Some(value.string()?.to_string())),
        None => Ok(None),
    }
}

pub fn page_size(args: &ObjectAccessor<'_>, name: &str) -> Result<Option<usize>, Error> {
    match present(args.get(name)) {
        Some(value) => {
            let n = value.i64()?;
            usize::try_from(n)
                .map(Some)
                .map_err(|_| bad_field(name, "must not be negative"))
        }
        None => Ok(None),
    }
}

/// One comparison on field `name`; `kind` is `None` for the record id.
fn filter_op(name: &str, op: &str, value: &ValueAccessor<'_>, kind: Option<PropertyType>) -> Result<FilterOp, Error> {
    let scalar = |v: &ValueAccessor<'_>| -> Result<Value, Error> {
        match kind {
            None => parse_id(v)
                .map(Value::from)
                .ok_or_else(|| bad_field(name, "is not a valid record id")),
            Some(_) => Ok(to_json(v.as_value())),
        }
    };
    Ok(match op {
        "eq" => FilterOp::Eq(scalar(value)?),
        "ne" => FilterOp::Ne(scalar(value)?),
        "gt" => FilterOp::Gt(scalar(value)?),
        "gte" => FilterOp::Gte(scalar(value)?),
        "lt" => FilterOp::Lt(scalar(value)?),
        "lte" => FilterOp::Lte(scalar(value)?),
        "exists" => FilterOp::Exists(value.boolean().map_err(|e| bad_field(name, e.message))?),
        "in" => {
            let list = value.list().map_err(|e| bad_field(name, e.message))?;
            if list.len() > MAX_IN_VALUES {
                return Err(bad_field(
                    name,
                    format!("`in` takes at most {MAX_IN_VALUES} values, not {}", list.len()),
                ));
            }
            FilterOp::In(list.iter().map(|v| scalar(&v)).collect::<Result<_, _>>()?)
        }
        other => return Err(bad_field(name, format!("`{other}` is not a comparison"))),
    })
}

/// An `ID` argument as a record id.
pub fn parse_id(value: &ValueAccessor<'_>) -> Option<i64> {
    match value.as_value() {
        async_graphql::Value::String(s) => s.trim().parse().ok(),
        async_graphql::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}
