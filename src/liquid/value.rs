//! Conversions between Liquid values and JSON values.
//!
//! Tags hand their arguments to the [`RenderHost`](super::host::RenderHost)
//! as JSON and assign JSON results back into the template, and several filters
//! (`json`, `to_hash`, `form_encode`) speak JSON. liquid-rust stores objects
//! in a `HashMap`, so key order is not kept by Liquid itself; JSON produced
//! here sorts keys so the same value always gives the same text (this matters
//! for signatures such as `compute_hmac` over `| json`).

use chrono::{DateTime as ChronoDateTime, FixedOffset, SecondsFormat};
use liquid_core::model::DateTime;
use liquid_core::model::{KString, ScalarCow};
use liquid_core::{Object, Value, ValueView};
use serde_json::{Map, Number, Value as Json};

/// The kind of a scalar, read from liquid's type name (liquid-core does not
/// expose its scalar enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarKind {
    Integer,
    Float,
    Bool,
    DateTime,
    Date,
    Str,
}

pub(crate) fn scalar_kind(scalar: &ScalarCow<'_>) -> ScalarKind {
    match scalar.type_name() {
        "whole number" => ScalarKind::Integer,
        "fractional number" => ScalarKind::Float,
        "boolean" => ScalarKind::Bool,
        "date time" => ScalarKind::DateTime,
        "date" => ScalarKind::Date,
        _ => ScalarKind::Str,
    }
}

/// A Liquid value as JSON. Nil and the `empty`/`blank` states become `null`;
/// dates become RFC 3339 text; object keys come out sorted.
pub fn liquid_to_json(value: &dyn ValueView) -> Json {
    if let Some(scalar) = value.as_scalar() {
        return scalar_to_json(&scalar);
    }
    if let Some(array) = value.as_array() {
        return Json::Array(array.values().map(liquid_to_json).collect());
    }
    if let Some(object) = value.as_object() {
        let mut entries: Vec<(String, Json)> = object
            .iter()
            .map(|(key, value)| (key.to_string(), liquid_to_json(value)))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        return Json::Object(entries.into_iter().collect::<Map<String, Json>>());
    }
    Json::Null
}

fn scalar_to_json(scalar: &ScalarCow<'_>) -> Json {
    match scalar_kind(scalar) {
        ScalarKind::Integer => scalar
            .to_integer()
            .map(|n| Json::Number(n.into()))
            .unwrap_or(Json::Null),
        ScalarKind::Float => scalar
            .to_float()
            .and_then(Number::from_f64)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        ScalarKind::Bool => Json::Bool(scalar.to_bool().unwrap_or(false)),
        ScalarKind::DateTime => match scalar.to_date_time() {
            Some(date_time) => Json::String(rfc3339(&date_time)),
            None => Json::Null,
        },
        ScalarKind::Date => Json::String(scalar.to_kstr().to_string()),
        ScalarKind::Str => Json::String(scalar.to_kstr().to_string()),
    }
}

/// A JSON value as a Liquid value. Integers that fit `i64` stay integers,
/// larger ones and fractions become floats; strings stay strings (no guessing
/// of dates).
pub fn json_to_liquid(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::scalar(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::scalar(i),
            None => n.as_f64().map(Value::scalar).unwrap_or(Value::Nil),
        },
        Json::String(s) => Value::scalar(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(json_to_liquid).collect()),
        Json::Object(map) => Value::Object(json_map_to_object(map)),
    }
}

/// A JSON object as a Liquid object.
pub fn json_map_to_object(map: &Map<String, Json>) -> Object {
    let mut object = Object::new();
    for (key, value) in map {
        object.insert(KString::from_ref(key), json_to_liquid(value));
    }
    object
}

/// Liquid `DateTime` as chrono, keeping its offset.
pub(crate) fn to_chrono(date_time: &DateTime) -> Option<ChronoDateTime<FixedOffset>> {
    let nanos = date_time.unix_timestamp_nanos();
    let seconds = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).ok()?;
    let offset = FixedOffset::east_opt(date_time.offset().whole_seconds())?;
    Some(ChronoDateTime::from_timestamp(seconds, subsec)?.with_timezone(&offset))
}

/// RFC 3339 text for JSON (`Z` for UTC).
pub(crate) fn rfc3339(date_time: &DateTime) -> String {
    match to_chrono(date_time) {
        Some(chrono) => chrono.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => date_time.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_nested_values_with_unicode() {
        let original = json!({
            "name": "Zoë ✓",
            "amount": 599,
            "ratio": 0.5,
            "paid": true,
            "missing": null,
            "items": [{"price": "price_1"}, [1, 2], []],
            "nested": {"deeper": {"key": "värde"}}
        });
        let liquid = json_to_liquid(&original);
        assert_eq!(liquid_to_json(&liquid), original);
    }

    #[test]
    fn object_keys_come_out_sorted() {
        let liquid = json_to_liquid(&json!({"b": 1, "a": 2, "c": {"z": 1, "y": 2}}));
        let text = serde_json::to_string(&liquid_to_json(&liquid)).unwrap();
        assert_eq!(text, r#"{"a":2,"b":1,"c":{"y":2,"z":1}}"#);
    }

    #[test]
    fn nil_and_states_are_null() {
        assert_eq!(liquid_to_json(&Value::Nil), Json::Null);
        assert_eq!(
            liquid_to_json(&Value::State(liquid_core::model::State::Empty)),
            Json::Null
        );
    }

    #[test]
    fn huge_integers_become_floats() {
        let liquid = json_to_liquid(&json!(18446744073709551615u64));
        assert_eq!(liquid.as_scalar().map(|s| scalar_kind(&s)), Some(ScalarKind::Float));
    }

    #[test]
    fn non_finite_floats_are_null() {
        assert_eq!(liquid_to_json(&Value::scalar(f64::NAN)), Json::Null);
    }

    #[test]
    fn date_times_are_rfc3339() {
        let date_time = liquid_core::model::DateTime::from_str("2024-02-29 13:14:15 +0100").unwrap();
        assert_eq!(
            liquid_to_json(&Value::scalar(date_time)),
            Json::String("2024-02-29T13:14:15+01:00".into())
        );
    }
}
