//! Typing on write: each property type accepts a few spellings (form posts
//! send strings) and stores one normal form. The same rules give each value
//! its index keys, so filters compare like with like.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

use super::schema::PropertyType;

/// Longest text kept verbatim in an index key; longer text is keyed by its
/// digest (B-tree entries have a size limit on PostgreSQL).
const MAX_KEY_BYTES: usize = 256;
/// Marks a digest key; text starting with it is always digested, so a
/// verbatim key can never equal a digest key.
const DIGEST_MARK: char = '\u{1}';

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

/// How a stored (already coerced) value is indexed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IndexKey {
    pub text: Option<String>,
    pub num: Option<f64>,
}

/// Index keys of a stored value; `None` for null (no row: "does not exist").
pub(crate) fn index_key(kind: PropertyType, value: &Value) -> Option<IndexKey> {
    if value.is_null() {
        return None;
    }
    let key = match kind {
        PropertyType::String => IndexKey {
            text: Some(text_key(value.as_str()?)),
            num: None,
        },
        PropertyType::Integer => {
            let n = integer(value)?;
            IndexKey {
                text: Some(n.to_string()),
                num: Some(n as f64),
            }
        }
        PropertyType::Float => IndexKey {
            text: None,
            num: Some(float(value)?),
        },
        PropertyType::Boolean => IndexKey {
            text: Some(boolean(value)?.to_string()),
            num: None,
        },
        PropertyType::Datetime => IndexKey {
            text: None,
            num: Some(unix_seconds(datetime(value)?)),
        },
        // Equality only, on canonical text (object keys sorted).
        PropertyType::Json | PropertyType::Array => IndexKey {
            text: Some(text_key(&canonical_json(value))),
            num: None,
        },
    };
    Some(key)
}

/// The key under which `unique: true` values are kept.
pub(crate) fn unique_key(kind: PropertyType, value: &Value) -> Option<String> {
    let key = index_key(kind, value)?;
    match (key.text, key.num) {
        (Some(text), _) => Some(text),
        (None, Some(num)) => Some(format!("{num:e}")),
        (None, None) => None,
    }
}

/// JSON with object keys sorted, so equal values have equal text.
fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// The text key of a string: itself, or a digest when long.
pub(crate) fn text_key(s: &str) -> String {
    if s.len() <= MAX_KEY_BYTES && !s.starts_with(DIGEST_MARK) {
        return s.to_string();
    }
    format!("{DIGEST_MARK}{}", hex::encode(Sha256::digest(s.as_bytes())))
}

pub(crate) fn unix_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6
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
            assert_eq!(index_key(kind, &Value::Null), None);
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

    #[test]
    fn index_keys() {
        let key = index_key(PropertyType::Integer, &json!(599)).unwrap();
        assert_eq!(
            key,
            IndexKey {
                text: Some("599".into()),
                num: Some(599.0)
            }
        );
        let key = index_key(PropertyType::Datetime, &json!("2024-05-01T12:00:00.5Z")).unwrap();
        assert_eq!(key.num, Some(1714564800.5));
        let key = index_key(PropertyType::Json, &json!({"b": 1, "a": "\u{e9}"})).unwrap();
        assert_eq!(key.text.as_deref(), Some("{\"a\":\"\u{e9}\",\"b\":1}"));
        assert_eq!(key.num, None);
        assert_eq!(
            index_key(PropertyType::Boolean, &json!(true)).unwrap().text.as_deref(),
            Some("true")
        );
    }

    #[test]
    fn long_and_marked_text_is_digested() {
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        let key = text_key(&long);
        assert!(key.starts_with(DIGEST_MARK) && key.len() == 65);
        assert_eq!(text_key(&long), key);
        assert_ne!(text_key(&"y".repeat(MAX_KEY_BYTES + 1)), key);
        assert_eq!(text_key(&"x".repeat(MAX_KEY_BYTES)), "x".repeat(MAX_KEY_BYTES));
        assert!(text_key("\u{1}short").starts_with(DIGEST_MARK));
        assert_eq!(text_key("\u{1}short").len(), 65);
    }

    #[test]
    fn unique_keys_of_json_ignore_key_order() {
        assert_eq!(
            unique_key(PropertyType::Json, &json!({"a": 1, "b": [2]})),
            unique_key(PropertyType::Json, &json!({"b": [2], "a": 1}))
        );
        assert_eq!(
            unique_key(PropertyType::Float, &json!(1.5)),
            unique_key(PropertyType::Float, &json!(1.50))
        );
        assert_eq!(unique_key(PropertyType::String, &json!("a")).as_deref(), Some("a"));
    }
}
