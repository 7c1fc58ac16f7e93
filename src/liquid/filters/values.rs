//! Looking at values: `type_of` (platformOS's Ruby class names),
//! `is_json_valid`, and `deep_clone` (a copy, for code written for
//! platformOS's mutable hashes; Liquid values here are never shared, so
//! it is the same value).

use liquid_core::model::ScalarCow;
use liquid_core::{Value, ValueView};

use super::fn_filter::{Args, FnFilter, Keywords};
use crate::liquid::value::{scalar_kind, ScalarKind};

/// Values nested deeper than this are refused by `deep_clone`.
pub const MAX_CLONE_DEPTH: usize = 128;

/// Text longer than this is not parsed by `is_json_valid` (it answers
/// false).
pub const MAX_JSON_CHECK_BYTES: usize = 1 << 20;

/// How deep `value` nests, counted without recursion; stops counting past
/// `limit`.
pub(crate) fn depth_exceeds(value: &dyn ValueView, limit: usize) -> bool {
    let mut stack: Vec<(&dyn ValueView, usize)> = vec![(value, 1)];
    while let Some((current, depth)) = stack.pop() {
        if depth > limit {
            return true;
        }
        if let Some(array) = current.as_array() {
            stack.extend(array.values().map(|v| (v, depth + 1)));
        } else if let Some(object) = current.as_object() {
            stack.extend(object.values().map(|v| (v, depth + 1)));
        }
    }
    false
}

fn scalar_class(scalar: &ScalarCow<'_>) -> &'static str {
    match scalar_kind(scalar) {
        ScalarKind::Integer => "Integer",
        ScalarKind::Float => "Float",
        ScalarKind::Bool => {
            if scalar.to_bool() == Some(true) {
                "TrueClass"
            } else {
                "FalseClass"
            }
        }
        ScalarKind::DateTime => "Time",
        ScalarKind::Date => "Date",
        ScalarKind::Str => "String",
    }
}

fn type_of(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    let name = if let Some(scalar) = input.as_scalar() {
        scalar_class(&scalar)
    } else if input.as_array().is_some() {
        "Array"
    } else if input.as_object().is_some() {
        "Hash"
    } else {
        "NilClass"
    };
    Ok(Value::scalar(name))
}

fn is_json_valid(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    let valid = match input.as_scalar() {
        Some(scalar) => {
            let text = scalar.to_kstr();
            text.len() <= MAX_JSON_CHECK_BYTES && serde_json::from_str::<serde::de::IgnoredAny>(text.as_str()).is_ok()
        }
        None => false,
    };
    Ok(Value::scalar(valid))
}

fn deep_clone(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    if depth_exceeds(input, MAX_CLONE_DEPTH) {
        return Err(format!("the value nests more than {MAX_CLONE_DEPTH} levels deep"));
    }
    Ok(input.to_value())
}

pub(crate) const FILTERS: &[FnFilter] = &[
    FnFilter::new(
        "type_of",
        "The Ruby class name platformOS gives: String, Integer, Float, TrueClass, FalseClass, NilClass, Hash, Array, Time, Date.",
        (0, 0),
        Keywords::None,
        type_of,
    ),
    FnFilter::new(
        "is_json_valid",
        "True when the text is valid JSON.",
        (0, 0),
        Keywords::None,
        is_json_valid,
    ),
    FnFilter::new("deep_clone", "A copy of the value.", (0, 0), Keywords::None, deep_clone),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::object;

    #[test]
    fn type_names() {
        assert_eq!(
            render(
                "{{ 's' | type_of }} {{ 1 | type_of }} {{ 1.5 | type_of }} {{ true | type_of }} {{ false | type_of }} {{ nil | type_of }} {{ h | type_of }} {{ a | type_of }} {{ 0 | to_time | type_of }}",
                object!({"h": {"k": 1}, "a": [1]})
            ),
            "String Integer Float TrueClass FalseClass NilClass Hash Array Time"
        );
    }

    #[test]
    fn json_validity() {
        assert_eq!(
            render(
                "{{ '{\"a\": [1, \"é\"]}' | is_json_valid }} {{ '{a: 1}' | is_json_valid }} {{ '' | is_json_valid }} {{ nil | is_json_valid }} {{ h | is_json_valid }}",
                object!({"h": {"k": 1}})
            ),
            "true false false false false"
        );
        // Deep nesting is valid JSON, checked without recursion.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(render("{{ d | is_json_valid }}", object!({"d": deep})), "true");
        let unbalanced = format!("{}{}", "[".repeat(10_000), "]".repeat(9_999));
        assert_eq!(render("{{ d | is_json_valid }}", object!({"d": unbalanced})), "false");
        let big = format!("\"{}\"", "x".repeat(MAX_JSON_CHECK_BYTES));
        assert_eq!(render("{{ d | is_json_valid }}", object!({"d": big})), "false");
    }

    #[test]
    fn deep_clone_copies_and_refuses_deep_values() {
        assert_eq!(
            render(
                "{% assign c = h | deep_clone %}{% hash_assign c['k'] = 2 %}{{ h.k }}{{ c.k }}",
                object!({"h": {"k": 1}})
            ),
            "12"
        );
        let mut deep = Value::Nil;
        for _ in 0..MAX_CLONE_DEPTH + 1 {
            deep = Value::Array(vec![deep]);
        }
        assert!(render_err("{{ d | deep_clone }}", object!({"d": deep})).contains("levels deep"));
    }
}
