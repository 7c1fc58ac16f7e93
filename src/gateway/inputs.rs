//! A request type's input (`data`) made ready for its templates: values
//! coerced to the types its `fields:` declare, blank values left out, and
//! the path parameters its URL needs checked before anything is sent.

use serde_json::{Map, Value};

use super::contract::{DispatchFailure, FailureKind};
use crate::app::ApiCallNotification;
use crate::db::schema::PropertyType;
use crate::fields::coercion::{self, FieldKind};

/// `data` with each declared field coerced to its type. Forms post text
/// (`"yes"`, `"599"`, `'{"order": 7}'`), GraphQL sends typed values; a
/// template sees the same typed value either way. A blank value (`""`,
/// null) is left out, so `{% if data.x %}` means "given".
pub fn coerce(notification: &ApiCallNotification, data: Value) -> Result<Value, DispatchFailure> {
    let mut data = match data {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(DispatchFailure::new(
                FailureKind::InvalidInput,
                "the input of a request type must be an object",
            ))
        }
    };
    let Some(fields) = &notification.fields else {
        return Ok(Value::Object(data));
    };
    for (name, kind) in fields {
        let Some(value) = data.remove(name) else {
            continue;
        };
        // A field the notification may send empty keeps its empty text.
        if notification.send_blank.contains(name) && value.as_str().is_some_and(|s| s.trim().is_empty()) {
            data.insert(name.clone(), Value::String(String::new()));
            continue;
        }
        match coerce_value(*kind, value) {
            Ok(Some(typed)) => {
                data.insert(name.clone(), typed);
            }
            Ok(None) => {}
            Err(expected) => {
                return Err(DispatchFailure::new(
                    FailureKind::InvalidInput,
                    format!("{name}: {expected}"),
                ))
            }
        }
    }
    Ok(Value::Object(data))
}

/// `Ok(None)`: blank, left out.
fn coerce_value(kind: PropertyType, value: Value) -> Result<Option<Value>, &'static str> {
    let text = match &value {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => Some(s.trim()),
        _ => None,
    };
    match (kind, text) {
        (PropertyType::String | PropertyType::Datetime, Some(_)) => Ok(Some(value)),
        (PropertyType::String | PropertyType::Datetime, None) => match value {
            Value::Number(_) | Value::Bool(_) => Ok(Some(Value::String(value.to_string()))),
            _ => Err("must be a single value"),
        },
        // Text reads as a form field of the same type does.
        (PropertyType::Integer, Some(_)) => coercion::coerce(FieldKind::Integer, &value).map(Some),
        (PropertyType::Integer, None) => match value.as_i64() {
            Some(n) => Ok(Some(n.into())),
            None => Err("must be a whole number"),
        },
        (PropertyType::Float, Some(t)) => match t.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Some(n) => Ok(Some(Value::Number(n))),
            None => Err("must be a number"),
        },
        (PropertyType::Float, None) if value.is_number() => Ok(Some(value)),
        (PropertyType::Float, None) => Err("must be a number"),
        (PropertyType::Boolean, Some(_)) => coercion::coerce(FieldKind::Boolean, &value).map(Some),
        (PropertyType::Boolean, None) => match value {
            Value::Bool(_) => Ok(Some(value)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Some(Value::Bool(true))),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Some(Value::Bool(false))),
            _ => Err("must be true or false"),
        },
        // A hidden form field carries JSON as text.
        (PropertyType::Json, Some(t)) => match serde_json::from_str::<Value>(t) {
            Ok(parsed @ (Value::Object(_) | Value::Array(_))) => Ok(Some(parsed)),
            _ => Err("must be a JSON object or list"),
        },
        (PropertyType::Json, None) => match value {
            Value::Object(_) | Value::Array(_) => Ok(Some(value)),
            _ => Err("must be a JSON object or list"),
        },
        (PropertyType::Array, Some(_)) => Ok(Some(Value::Array(vec![value]))),
        (PropertyType::Array, None) => match value {
            Value::Array(_) => Ok(Some(value)),
            _ => Err("must be a list"),
        },
    }
}

/// The data the `to` template sees: each declared path parameter must be
/// given and is percent-encoded as one path segment, so a missing id can
/// never turn `/v1/customers/{id}` into the list `/v1/customers/`, and an
/// id can never add a segment of its own.
pub fn path_scope(notification: &ApiCallNotification, data: &Value) -> Result<Option<Value>, DispatchFailure> {
    if notification.path_params.is_empty() {
        return Ok(None);
    }
    let mut scope = data.as_object().cloned().unwrap_or_default();
    for name in &notification.path_params {
        let text = match data.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(DispatchFailure::new(
                    FailureKind::InvalidInput,
                    format!("{name}: is required (it is part of the request's URL)"),
                ))
            }
        };
        let encoded = percent_encoding::utf8_percent_encode(&text, PATH_SEGMENT).to_string();
        scope.insert(name.clone(), Value::String(encoded));
    }
    Ok(Some(Value::Object(scope)))
}

/// Everything but unreserved characters is encoded in a path segment.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `value` without blank members: null, `""`, and objects or lists left
/// empty once their own blanks are gone. Stripe reads an empty parameter
/// as "unset", which is never what an absent input means, except under the
/// top-level keys of `send_blank` (a notification's `send_blank:`), where
/// only null goes: there `""` is sent, to clear the value at the gateway.
pub fn without_blanks(value: Value, send_blank: &[String]) -> Value {
    match value {
        Value::Object(map) if !send_blank.is_empty() => {
            let mut kept = Map::new();
            for (key, child) in map {
                let keep_empty = send_blank.contains(&key);
                let child = prune(child, keep_empty);
                if !is_blank(&child, keep_empty) {
                    kept.insert(key, child);
                }
            }
            Value::Object(kept)
        }
        other => prune(other, false),
    }
}

fn is_blank(value: &Value, keep_empty: bool) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty() && !keep_empty,
        Value::Object(m) => m.is_empty() && !keep_empty,
        Value::Array(a) => a.is_empty() && !keep_empty,
        _ => false,
    }
}

/// Iterative: the body is the app's, but its data can come from input.
fn prune(value: Value, keep_empty: bool) -> Value {
    // Post-order over an explicit stack of containers being rebuilt.
    enum Frame {
        Object(std::vec::IntoIter<(String, Value)>, Map<String, Value>, Option<String>),
        Array(std::vec::IntoIter<Value>, Vec<Value>, Option<String>),
    }
    fn open(value: Value, key: Option<String>) -> Result<Frame, (Option<String>, Value)> {
        match value {
            Value::Object(map) => Ok(Frame::Object(
                map.into_iter().collect::<Vec<_>>().into_iter(),
                Map::new(),
                key,
            )),
            Value::Array(items) => Ok(Frame::Array(items.into_iter(), Vec::new(), key)),
            other => Err((key, other)),
        }
    }
    let mut stack = match open(value, None) {
        Ok(frame) => vec![frame],
        Err((_, scalar)) => return scalar,
    };
    loop {
        let next = match stack.last_mut() {
            Some(Frame::Object(items, _, _)) => items.next().map(|(k, v)| (Some(k), v)),
            Some(Frame::Array(items, _, _)) => items.next().map(|v| (None, v)),
            None => return Value::Null,
        };
        let finished: (Option<String>, Value) = match next {
            Some((key, child)) => match open(child, key) {
                Ok(frame) => {
                    stack.push(frame);
                    continue;
                }
                Err(done) => done,
            },
            None => match stack.pop() {
                Some(Frame::Object(_, built, key)) => (key, Value::Object(built)),
                Some(Frame::Array(_, built, key)) => (key, Value::Array(built)),
                None => return Value::Null,
            },
        };
        let (key, child) = finished;
        match stack.last_mut() {
            None => return child,
            Some(Frame::Object(_, built, _)) => {
                if !is_blank(&child, keep_empty) {
                    built.insert(key.unwrap_or_default(), child);
                }
            }
            Some(Frame::Array(_, built, _)) => {
                if !is_blank(&child, keep_empty) {
                    built.push(child);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declared_fields_are_typed_and_blanks_left_out() {
        let cases = [
            (PropertyType::Boolean, json!("yes"), Some(json!(true))),
            (PropertyType::Boolean, json!("off"), Some(json!(false))),
            (PropertyType::Boolean, json!(""), None),
            (PropertyType::Integer, json!(" 599 "), Some(json!(599))),
            (PropertyType::Float, json!("12.5"), Some(json!(12.5))),
            (PropertyType::String, json!(42), Some(json!("42"))),
            (PropertyType::String, json!("  "), None),
            (PropertyType::Json, json!("{\"order\": 7}"), Some(json!({"order": 7}))),
            (PropertyType::Array, json!("a"), Some(json!(["a"]))),
        ];
        for (kind, input, expected) in cases {
            assert_eq!(coerce_value(kind, input.clone()), Ok(expected), "{kind:?} {input}");
        }
        assert!(coerce_value(PropertyType::Boolean, json!("maybe")).is_err());
        assert!(coerce_value(PropertyType::Integer, json!("5.99")).is_err());
        assert!(coerce_value(PropertyType::Json, json!("12")).is_err());
        assert!(coerce_value(PropertyType::String, json!({"a": 1})).is_err());
    }

    #[test]
    fn blanks_go_at_every_depth_and_other_values_stay() {
        let body = json!({
            "a": null, "b": "", "c": {"d": null, "e": {}}, "f": [null, "", 0, false],
            "g": "x", "h": {"i": [{"j": ""}], "k": 1}
        });
        assert_eq!(
            without_blanks(body.clone(), &[]),
            json!({"f": [0, false], "g": "x", "h": {"k": 1}})
        );
        // Under a send_blank key, "" is sent (it clears at the gateway).
        assert_eq!(
            without_blanks(body, &["b".to_string(), "h".to_string()]),
            json!({"b": "", "f": [0, false], "g": "x", "h": {"i": [{"j": ""}], "k": 1}})
        );
        assert_eq!(without_blanks(json!("text"), &[]), json!("text"));
        let mut deep = json!("leaf");
        for _ in 0..300 {
            deep = json!({ "n": deep });
        }
        assert!(without_blanks(deep, &[]).is_object());
    }
}
