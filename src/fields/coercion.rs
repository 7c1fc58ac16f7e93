//! What a visitor types, turned into the field's declared type before
//! anything validates, stores or sends it. A form body can nest
//! (`form[source][number]=…`), so a field declared a string must refuse a
//! group of values instead of forwarding it.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::FieldError;

/// `type:` of a form field; `string` unless declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    #[default]
    String,
    /// Whole numbers, e.g. amounts in the minor unit.
    Integer,
    /// `true`/`false`, `1`/`0`, `on`/`off` (checkboxes), `yes`/`no`.
    Boolean,
    /// A list of strings (`name[]=a&name[]=b`).
    Array,
}

/// `value` as `kind`, or the message for the field.
pub fn coerce(kind: FieldKind, value: &Value) -> Result<Value, &'static str> {
    match (kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (FieldKind::String, Value::String(_)) => Ok(value.clone()),
        (FieldKind::String, Value::Number(_) | Value::Bool(_)) => Ok(Value::String(value.to_string())),
        (FieldKind::String, _) => Err("must be a single value"),
        (FieldKind::Integer, Value::Number(n)) if n.is_i64() => Ok(value.clone()),
        (FieldKind::Integer, Value::String(text)) => {
            let text = text.trim();
            if text.is_empty() {
                return Ok(Value::Null);
            }
            text.parse::<i64>()
                .map(Value::from)
                .map_err(|_| "must be a whole number")
        }
        (FieldKind::Integer, _) => Err("must be a whole number"),
        (FieldKind::Boolean, Value::Bool(_)) => Ok(value.clone()),
        (FieldKind::Boolean, Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "on" | "yes" => Ok(Value::Bool(true)),
            "false" | "0" | "off" | "no" | "" => Ok(Value::Bool(false)),
            _ => Err("must be true or false"),
        },
        (FieldKind::Boolean, _) => Err("must be true or false"),
        (FieldKind::Array, Value::String(_)) => Ok(Value::Array(vec![value.clone()])),
        (FieldKind::Array, Value::Array(items)) if items.iter().all(Value::is_string) => Ok(value.clone()),
        (FieldKind::Array, _) => Err("must be a list of values"),
    }
}

/// Fields of `posted` (the `form[…]` group) holding something shaped like a
/// card number, plus `base` when any other parameter does. Card data is
/// entered in Stripe's own fields and never posted to payforms.
pub fn card_number_errors(posted: &Map<String, Value>, params: &Map<String, Value>) -> Vec<FieldError> {
    const MESSAGE: &str = "looks like a card number; card details are entered in the card field and never sent here";
    let mut errors: Vec<FieldError> = posted
        .iter()
        .filter(|(_, value)| holds_card_number(value))
        .map(|(name, _)| FieldError::new(name.clone(), MESSAGE))
        .collect();
    let elsewhere = params
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "form" | "authenticity_token" | "payforms_state"))
        .any(|(_, value)| holds_card_number(value));
    if elsewhere {
        errors.push(FieldError::new("base", format!("a parameter {MESSAGE}")));
    }
    errors
}

pub use crate::card_numbers::value_holds_card_number as holds_card_number;

/// `posted` without values that look like card numbers, for showing the
/// form again.
pub fn without_card_numbers(posted: &Map<String, Value>) -> Map<String, Value> {
    posted
        .iter()
        .map(|(name, value)| {
            let kept = if holds_card_number(value) {
                Value::String(String::new())
            } else {
                value.clone()
            };
            (name.clone(), kept)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_refuse_groups_and_lists() {
        assert_eq!(coerce(FieldKind::String, &json!("x")), Ok(json!("x")));
        assert!(coerce(FieldKind::String, &json!({"object": "card"})).is_err());
        assert!(coerce(FieldKind::String, &json!(["a"])).is_err());
    }

    #[test]
    fn integers_booleans_and_arrays() {
        assert_eq!(coerce(FieldKind::Integer, &json!(" 599 ")), Ok(json!(599)));
        assert_eq!(coerce(FieldKind::Integer, &json!("")), Ok(Value::Null));
        assert!(coerce(FieldKind::Integer, &json!("5.99")).is_err());
        assert!(coerce(FieldKind::Integer, &json!("99999999999999999999")).is_err());
        assert_eq!(coerce(FieldKind::Boolean, &json!("on")), Ok(json!(true)));
        assert_eq!(coerce(FieldKind::Boolean, &json!("0")), Ok(json!(false)));
        assert!(coerce(FieldKind::Boolean, &json!("maybe")).is_err());
        assert_eq!(coerce(FieldKind::Array, &json!("a")), Ok(json!(["a"])));
        assert!(coerce(FieldKind::Array, &json!([{"a": 1}])).is_err());
    }

    #[test]
    fn card_numbers_anywhere_are_named() {
        let posted = json!({"email": "a@b.c", "source": {"number": "4242 4242 4242 4242"}});
        let params = json!({"form": posted, "note": ["x", "5555555555554444"], "payforms_state": "1"});
        let errors = card_number_errors(posted.as_object().unwrap(), params.as_object().unwrap());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["source", "base"]);
        let shown = without_card_numbers(posted.as_object().unwrap());
        assert_eq!(shown["source"], "");
        assert_eq!(shown["email"], "a@b.c");
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[0-9 \\-]{0,24}".prop_map(Value::String),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z]{1,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any posted value: coerced or refused, and what a string field
        /// keeps is a string (or null).
        #[test]
        fn any_value_is_coerced_or_refused(value in any_json()) {
            match coerce(FieldKind::String, &value) {
                Ok(kept) => proptest::prop_assert!(kept.is_string() || kept.is_null()),
                Err(_) => proptest::prop_assert!(value.is_array() || value.is_object()),
            }
            for kind in [FieldKind::Integer, FieldKind::Boolean, FieldKind::Array] {
                let _ = coerce(kind, &value);
            }
            // Shown again, a form never carries a card number back.
            let posted: Map<String, Value> = [("f".to_string(), value)].into_iter().collect();
            proptest::prop_assert!(!holds_card_number(&Value::Object(without_card_numbers(&posted))));
        }

        /// Every valid test card number, spelled any common way, is found.
        #[test]
        fn test_cards_are_always_found(
            card in proptest::sample::select(vec!["4242424242424242", "5555555555554444", "378282246310005", "6011111111111117", "4000002500003155"]),
            separator in proptest::sample::select(vec!["", " ", "-"]),
            prefix in "([a-z]{0,6}[ =:])?",
        ) {
            let spaced: String = card
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(separator);
            let text = format!("{prefix}{spaced}");
            proptest::prop_assert!(holds_card_number(&Value::String(text)));
        }
    }
}
