//! JSON filters: `json` (value to text) and `to_hash` (text to object).

use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterReflection, ParseFilter};
use liquid_core::{Object, Result, Value, ValueView};

use super::filter_error;
use crate::liquid::value::{json_map_to_object, liquid_to_json};

/// Compact JSON text of a value. `<`, `>`, `&`, U+2028 and U+2029 are written
/// as `\u` escapes (still the same JSON) so the text is safe inside a
/// `<script>` element.
pub fn json_text(value: &dyn ValueView) -> String {
    let text = liquid_to_json(value).to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "json",
    description = "Compact JSON text of a value (nil gives null; object keys sorted).",
    parsed(JsonFilter)
)]
pub struct Json;

#[derive(Debug, Default, Display_filter)]
#[name = "json"]
struct JsonFilter;

impl Filter for JsonFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(Value::scalar(json_text(input)))
    }
}

/// The inside of a JSON string holding the value's text (no quotes).
fn json_string_inside(text: &str) -> String {
    let quoted = json_text(&Value::scalar(text.to_owned()));
    quoted[1..quoted.len() - 1].to_string()
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "pf_json_string",
    description = "The value's text escaped for the inside of a JSON string; added inside parse_json strings.",
    parsed(PfJsonStringFilter)
)]
pub struct PfJsonString;

#[derive(Debug, Default, Display_filter)]
#[name = "pf_json_string"]
struct PfJsonStringFilter;

impl Filter for PfJsonStringFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        // Escape exactly what `{{ value }}` would have printed.
        Ok(Value::scalar(json_string_inside(&input.render().to_string())))
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "pf_json_value",
    description = "The value as one JSON value; added to parse_json outputs outside strings.",
    parsed(PfJsonValueFilter)
)]
pub struct PfJsonValue;

#[derive(Debug, Default, Display_filter)]
#[name = "pf_json_value"]
struct PfJsonValueFilter;

impl Filter for PfJsonValueFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        if input.is_nil() || input.is_state() {
            return Ok(Value::scalar("null"));
        }
        if input.as_scalar().is_none() {
            return Ok(Value::scalar(json_text(input)));
        }
        // A number, a boolean, or text that is exactly one JSON scalar
        // literal (`599`, `true`, `null`) prints as that literal, as
        // `{{ amount }}` always did; any other text is one JSON string,
        // never more JSON.
        let text = input.render().to_string();
        let literal = matches!(
            serde_json::from_str::<serde_json::Value>(&text),
            Ok(serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null)
        );
        if literal {
            Ok(Value::scalar(text.trim().to_owned()))
        } else {
            Ok(Value::scalar(json_text(&Value::scalar(text))))
        }
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "to_hash",
    description = "JSON text or an object to an object; nil or empty text gives {}.",
    parsed(ToHashFilter)
)]
pub struct ToHash;

#[derive(Debug, Default, Display_filter)]
#[name = "to_hash"]
struct ToHashFilter;

impl Filter for ToHashFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        if input.is_nil() || input.is_state() {
            return Ok(Value::Object(Object::new()));
        }
        if input.is_object() {
            return Ok(input.to_value());
        }
        let Some(scalar) = input.as_scalar() else {
            return Err(filter_error(
                "to_hash",
                format!("expected JSON text or an object, got {}", input.type_name()),
            ));
        };
        let text = scalar.to_kstr();
        if text.trim().is_empty() {
            return Ok(Value::Object(Object::new()));
        }
        match serde_json::from_str::<serde_json::Value>(text.as_str()) {
            Ok(serde_json::Value::Object(map)) => Ok(Value::Object(json_map_to_object(&map))),
            Ok(other) => Err(filter_error(
                "to_hash",
                format!("expected a JSON object, got {}", json_kind(&other)),
            )),
            Err(err) => Err(filter_error("to_hash", format!("invalid JSON: {err}"))),
        }
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liquid_core::{call_filter, value};

    #[test]
    fn json_of_scalars_and_nil() {
        assert_eq!(call_filter!(Json, Value::Nil).unwrap(), value!("null"));
        assert_eq!(call_filter!(Json, 599i64).unwrap(), value!("599"));
        assert_eq!(call_filter!(Json, 5.5f64).unwrap(), value!("5.5"));
        assert_eq!(call_filter!(Json, true).unwrap(), value!("true"));
        assert_eq!(call_filter!(Json, "").unwrap(), value!("\"\""));
        assert_eq!(call_filter!(Json, "a\"b\n").unwrap(), value!("\"a\\\"b\\n\""));
    }

    #[test]
    fn json_of_nested_values_is_compact_and_sorted() {
        let input = value!({"b": [1, {"d": nil, "c": "x"}], "a": {}});
        assert_eq!(
            call_filter!(Json, input).unwrap(),
            value!(r#"{"a":{},"b":[1,{"c":"x","d":null}]}"#)
        );
        assert_eq!(call_filter!(Json, value!([])).unwrap(), value!("[]"));
    }

    #[test]
    fn json_keeps_unicode_and_escapes_script_breakers() {
        assert_eq!(call_filter!(Json, "Zoë ✓").unwrap(), value!("\"Zoë ✓\""));
        assert_eq!(
            call_filter!(Json, "</script><b>&\u{2028}").unwrap(),
            value!("\"\\u003c/script\\u003e\\u003cb\\u003e\\u0026\\u2028\"")
        );
    }

    #[test]
    fn to_hash_parses_objects() {
        assert_eq!(
            call_filter!(ToHash, r#"{"a": {"b": [1, "ü"]}, "n": null}"#).unwrap(),
            value!({"a": {"b": [1, "ü"]}, "n": nil})
        );
    }

    #[test]
    fn to_hash_passes_objects_through() {
        let input = value!({"k": "v"});
        assert_eq!(call_filter!(ToHash, input.clone()).unwrap(), input);
    }

    #[test]
    fn to_hash_nil_and_empty_give_empty_object() {
        let empty = Value::Object(Object::new());
        assert_eq!(call_filter!(ToHash, Value::Nil).unwrap(), empty);
        assert_eq!(call_filter!(ToHash, "").unwrap(), empty);
        assert_eq!(call_filter!(ToHash, " \n").unwrap(), empty);
    }

    #[test]
    fn to_hash_rejects_non_objects_and_bad_json() {
        let err = call_filter!(ToHash, "[1,2]").unwrap_err().to_string();
        assert!(err.contains("an array"), "{err}");
        let err = call_filter!(ToHash, "{\"a\":").unwrap_err().to_string();
        assert!(err.contains("invalid JSON"), "{err}");
        assert!(call_filter!(ToHash, value!([1])).is_err());
    }
}
