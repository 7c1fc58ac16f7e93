//! Typing on write: each property type accepts a few spellings (form posts
//! send strings) and stores one normal form. Filters are typed the same
//! way, so they compare like with like.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Number, Value};

use serde::Deserialize;

/// The types a schema file may give a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyType {
    String,
    Integer,
    Float,
    Boolean,
    Datetime,
    Json,
    Array,
}

impl PropertyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Integer => "integer",
            PropertyType::Float => "float",
            PropertyType::Boolean => "boolean",
            PropertyType::Datetime => "datetime",
            PropertyType::Json => "json",
            PropertyType::Array => "array",
        }
    }
}

impl std::fmt::Display for PropertyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a value cannot be stored as a property's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unstorable {
    #[error("must not contain NUL characters")]
    Nul,
    #[error("must be {0}")]
    NotA(&'static str),
}

/// Convert `value` to the stored form of `kind`, or say why it cannot be.
/// `null` is always accepted; an empty string is `null` for every type but
/// string (a blank form field).
pub(crate) fn coerce(kind: PropertyType, value: &Value) -> Result<Value, Unstorable> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if kind != PropertyType::String && value.as_str().is_some_and(|s| s.trim().is_empty()) {
        return Ok(Value::Null);
    }
    match kind {
        PropertyType::String => match value {
            Value::String(s) if s.contains('\0') => Err(Unstorable::Nul),
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(Unstorable::NotA("a string")),
        },
        PropertyType::Integer => integer(value).map(Value::from).ok_or(Unstorable::NotA("an integer")),
        PropertyType::Float => float(value)
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or(Unstorable::NotA("a number")),
        PropertyType::Boolean => boolean(value).map(Value::Bool).ok_or(Unstorable::NotA("true or false")),
        PropertyType::Datetime => datetime(value)
            .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
            .ok_or(Unstorable::NotA("an RFC 3339 time or unix seconds")),
        PropertyType::Json => {
            if contains_nul(value) {
                Err(Unstorable::Nul)
            } else {
                Ok(value.clone())
            }
        }
        PropertyType::Array => match value {
            Value::Array(_) if contains_nul(value) => Err(Unstorable::Nul),
            Value::Array(_) => Ok(value.clone()),
            _ => Err(Unstorable::NotA("an array")),
        },
    }
}

/// PostgreSQL's JSONB cannot hold U+0000; refuse it on both backends.
fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn float(value: &Value) -> Option<f64> {
    let f = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    f.is_finite().then_some(f)
}

fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn datetime(value: &Value) -> Option<DateTime<Utc>> {
    let from_seconds = |secs: f64| {
        let whole = secs.floor();
        let nanos = ((secs - whole) * 1e9).round().min(999_999_999.0) as u32;
        DateTime::from_timestamp(whole as i64, nanos)
    };
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(secs) => DateTime::from_timestamp(secs, 0),
            None => n.as_f64().filter(|f| f.is_finite()).and_then(from_seconds),
        },
        Value::String(s) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return Some(t.with_timezone(&Utc));
            }
            if let Ok(secs) = s.parse::<i64>() {
                return DateTime::from_timestamp(secs, 0);
            }
            s.parse::<f64>().ok().filter(|f| f.is_finite()).and_then(from_seconds)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(kind: PropertyType, value: Value) -> Value {
        coerce(kind, &value).unwrap_or_else(|e| panic!("{kind} {value}: {e}"))
    }

    fn refused(kind: PropertyType, value: Value) -> bool {
        coerce(kind, &value).is_err()
    }

    #[test]
    fn null_and_blank_are_always_accepted() {
        for kind in [
            PropertyType::String,
            PropertyType::Integer,
            PropertyType::Float,
            PropertyType::Boolean,
            PropertyType::Datetime,
            PropertyType::Json,
            PropertyType::Array,
        ] {
            assert_eq!(ok(kind, Value::Null), Value::Null);
        }
        assert_eq!(ok(PropertyType::Integer, json!("  ")), Value::Null);
        assert_eq!(ok(PropertyType::String, json!("")), json!(""));
    }

    #[test]
    fn integers() {
        assert_eq!(ok(PropertyType::Integer, json!(599)), json!(599));
        assert_eq!(ok(PropertyType::Integer, json!("599")), json!(599));
        assert_eq!(ok(PropertyType::Integer, json!(" -12 ")), json!(-12));
        assert_eq!(ok(PropertyType::Integer, json!(5.0)), json!(5));
        assert_eq!(ok(PropertyType::Integer, json!(i64::MAX)), json!(i64::MAX));
        for bad in [
            json!("5.5"),
            json!(5.5),
            json!("abc"),
            json!(true),
            json!([1]),
            json!({"a": 1}),
        ] {
            assert!(refused(PropertyType::Integer, bad.clone()), "{bad}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(ok(PropertyType::Float, json!(1.5)), json!(1.5));
        assert_eq!(ok(PropertyType::Float, json!("2.25")), json!(2.25));
        assert_eq!(ok(PropertyType::Float, json!(3)), json!(3.0));
        for bad in [json!("NaN"), json!("inf"), json!("x"), json!(false)] {
            assert!(refused(PropertyType::Float, bad.clone()), "{bad}");
        }
    }

    #[test]
    fn booleans() {
        for (given, expected) in [
            (json!(true), true),
            (json!("true"), true),
            (json!("1"), true),
            (json!(1), true),
            (json!(false), false),
            (json!("false"), false),
            (json!("0"), false),
            (json!("FALSE"), false),
        ] {
            assert_eq!(ok(PropertyType::Boolean, given), json!(expected));
        }
        for bad in [json!("yes"), json!(2), json!([])] {
            assert!(refused(PropertyType::Boolean, bad.clone()), "{bad}");
        }
    }

    #[test]
    fn datetimes_are_normalised_to_utc() {
        assert_eq!(
            ok(PropertyType::Datetime, json!("2024-05-01T14:00:00+02:00")),
            json!("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            ok(PropertyType::Datetime, json!(1714564800)),
            json!("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            ok(PropertyType::Datetime, json!("1714564800")),
            json!("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            ok(PropertyType::Datetime, json!("2024-05-01T12:00:00.250Z")),
            json!("2024-05-01T12:00:00.250Z")
        );
        for bad in [json!("yesterday"), json!("2024-05-01"), json!(true)] {
            assert!(refused(PropertyType::Datetime, bad.clone()), "{bad}");
        }
    }

    #[test]
    fn strings_json_arrays() {
        assert_eq!(
            ok(PropertyType::String, json!("caf\u{e9} \u{1f600}")),
            json!("caf\u{e9} \u{1f600}")
        );
        assert_eq!(ok(PropertyType::String, json!(42)), json!("42"));
        assert!(refused(PropertyType::String, json!({"a": 1})));
        assert!(refused(PropertyType::String, json!("a\u{0}b")));
        assert_eq!(
            ok(PropertyType::Json, json!({"a": [1, {"b": null}]})),
            json!({"a": [1, {"b": null}]})
        );
        assert!(refused(PropertyType::Json, json!({"a": "\u{0}"})));
        assert_eq!(ok(PropertyType::Array, json!([1, "a", [2]])), json!([1, "a", [2]]));
        assert!(refused(PropertyType::Array, json!("[1]")));
    }
}
