//! Values crossing the GraphQL boundary: the custom scalars, JSON <->
//! GraphQL conversion, and typing of stored properties for output.

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, Scalar, TypeRef};
use async_graphql::{Name, Value as GqlValue};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Number, Value};

use crate::db::schema::PropertyType;

/// ISO 8601 / RFC 3339 timestamps.
pub const TIME: &str = "Time";
/// Any JSON value (objects for metadata-like properties).
pub const MAP: &str = "Map";
/// Any JSON value, used as the element type of `array` properties.
pub const JSON: &str = "JSON";

pub fn scalars() -> Vec<Scalar> {
    vec![
        Scalar::new(TIME)
            .description(
                "An ISO 8601 (RFC 3339) timestamp, e.g. \"2025-11-16T00:28:48.081Z\"; input also accepts unix seconds.",
            )
            .validator(|value| match value {
                GqlValue::String(text) => DateTime::parse_from_rfc3339(text).is_ok(),
                GqlValue::Number(n) => n.is_i64(),
                _ => false,
            }),
        Scalar::new(MAP).description("A JSON value; usually an object of string keys (metadata)."),
        Scalar::new(JSON).description("Any JSON value."),
    ]
}

/// The GraphQL type of a property (nullable).
pub fn property_type_ref(kind: PropertyType) -> TypeRef {
    match kind {
        PropertyType::String => TypeRef::named(TypeRef::STRING),
        PropertyType::Integer => TypeRef::named(TypeRef::INT),
        PropertyType::Float => TypeRef::named(TypeRef::FLOAT),
        PropertyType::Boolean => TypeRef::named(TypeRef::BOOLEAN),
        PropertyType::Datetime => TypeRef::named(TIME),
        PropertyType::Json => TypeRef::named(MAP),
        PropertyType::Array => TypeRef::named_list(JSON),
    }
}

pub fn to_graphql(value: Value) -> GqlValue {
    GqlValue::from_json(value).unwrap_or(GqlValue::Null)
}

pub fn to_json(value: &GqlValue) -> Value {
    value.clone().into_json().unwrap_or(Value::Null)
}

/// Timestamps we produce: RFC 3339, UTC, microseconds (as the store's cursors).
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stored property typed for output, or `None` (null) when it is missing
/// or cannot be read as its declared type (e.g. written before the schema
/// changed).
pub fn typed_output(kind: PropertyType, value: &Value) -> Option<Value> {
    if value.is_null() {
        return None;
    }
    match kind {
        PropertyType::String => match value {
            Value::String(_) => Some(value.clone()),
            // numbers, booleans, objects: their JSON text
            _ => Some(Value::String(value.to_string())),
        },
        PropertyType::Integer => match value {
            Value::Number(n) if n.is_i64() => Some(value.clone()),
            Value::Number(n) => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| Value::from(f as i64)),
            Value::String(s) => s.trim().parse::<i64>().ok().map(Value::from),
            _ => None,
        },
        PropertyType::Float => match value {
            Value::Number(_) => Some(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number),
            _ => None,
        },
        PropertyType::Boolean => match value {
            Value::Bool(_) => Some(value.clone()),
            Value::String(s) if s == "true" || s == "1" => Some(Value::Bool(true)),
            Value::String(s) if s == "false" || s == "0" => Some(Value::Bool(false)),
            _ => None,
        },
        PropertyType::Datetime => match value {
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| Value::String(time_text(t.with_timezone(&Utc)))),
            Value::Number(n) => n
                .as_i64()
                .and_then(|secs| DateTime::from_timestamp(secs, 0))
                .map(|t| Value::String(time_text(t))),
            _ => None,
        },
        PropertyType::Json => Some(value.clone()),
        PropertyType::Array => match value {
            Value::Array(_) => Some(value.clone()),
            other => Some(Value::Array(vec![other.clone()])),
        },
    }
}

/// An output field that reads `key` from its parent, which is an object
/// value built by the resolver above it.
pub fn key_field(name: &str, ty: TypeRef) -> Field {
    let key = Name::new(name);
    Field::new(name, ty, move |ctx| {
        let value = match ctx.parent_value.as_value() {
            Some(GqlValue::Object(object)) => object.get(&key).cloned(),
            _ => None,
        };
        FieldFuture::Value(value.filter(|v| !matches!(v, GqlValue::Null)).map(FieldValue::value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_output_reads_each_kind() {
        assert_eq!(
            typed_output(PropertyType::String, &json!("caf\u{e9}")),
            Some(json!("caf\u{e9}"))
        );
        assert_eq!(typed_output(PropertyType::String, &json!(12)), Some(json!("12")));
        assert_eq!(typed_output(PropertyType::Integer, &json!(599)), Some(json!(599)));
        assert_eq!(typed_output(PropertyType::Integer, &json!("599")), Some(json!(599)));
        assert_eq!(typed_output(PropertyType::Integer, &json!(5.0)), Some(json!(5)));
        assert_eq!(typed_output(PropertyType::Integer, &json!(5.5)), None);
        assert_eq!(typed_output(PropertyType::Integer, &json!("abc")), None);
        assert_eq!(typed_output(PropertyType::Float, &json!("1.5")), Some(json!(1.5)));
        assert_eq!(typed_output(PropertyType::Boolean, &json!("0")), Some(json!(false)));
        assert_eq!(typed_output(PropertyType::Boolean, &json!("yes")), None);
        assert_eq!(
            typed_output(PropertyType::Datetime, &json!("2024-05-01T14:00:00+02:00")),
            Some(json!("2024-05-01T12:00:00.000000Z"))
        );
        assert_eq!(
            typed_output(PropertyType::Datetime, &json!(0)),
            Some(json!("1970-01-01T00:00:00.000000Z"))
        );
        assert_eq!(
            typed_output(PropertyType::Json, &json!({"a": [1]})),
            Some(json!({"a": [1]}))
        );
        assert_eq!(
            typed_output(PropertyType::Array, &json!([1, "x"])),
            Some(json!([1, "x"]))
        );
        assert_eq!(typed_output(PropertyType::Array, &json!("x")), Some(json!(["x"])));
        for kind in [PropertyType::String, PropertyType::Json, PropertyType::Array] {
            assert_eq!(typed_output(kind, &Value::Null), None);
        }
    }

    #[test]
    fn json_round_trips_through_graphql_values() {
        let value = json!({"a": [1, 2.5, "x", null, {"b": true}], "\u{e9}": "unicode"});
        assert_eq!(to_json(&to_graphql(value.clone())), value);
    }
}
