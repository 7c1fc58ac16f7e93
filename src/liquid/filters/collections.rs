//! Building arrays and hashes in templates: `add_to_array`, `add_hash_key`;
//! and `sum` (Shopify's: totals of counts and minor-unit amounts).
//! Both return a new value (Liquid values are immutable); assign it back.

use liquid_core::model::KString;
use liquid_core::Expression;
use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterParameters, FilterReflection, FromFilterParameters, ParseFilter};
use liquid_core::{Object, Result, Value, ValueView};

use super::filter_error;

#[derive(Debug, FilterParameters)]
struct AddToArrayArgs {
    #[parameter(description = "The element to append.", arg_type = "any")]
    element: Expression,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "add_to_array",
    description = "Appends one element: a | add_to_array: x (nil input gives [x]).",
    parameters(AddToArrayArgs),
    parsed(AddToArrayFilter)
)]
pub struct AddToArray;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "add_to_array"]
struct AddToArrayFilter {
    #[parameters]
    args: AddToArrayArgs,
}

impl Filter for AddToArrayFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let mut items = if input.is_nil() || input.is_state() {
            Vec::new()
        } else if let Some(array) = input.as_array() {
            array.values().map(|v| v.to_value()).collect()
        } else {
            return Err(filter_error(
                "add_to_array",
                format!("expected an array or nil, got {}", input.type_name()),
            ));
        };
        items.push(args.element.to_value());
        Ok(Value::Array(items))
    }
}

#[derive(Debug, FilterParameters)]
struct SumArgs {
    #[parameter(description = "The property to add up, for an array of hashes.", arg_type = "str")]
    property: Option<Expression>,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "sum",
    description = "Adds up an array of whole numbers, or one property of an array of hashes: counts | sum, rows | sum: 'amount'. Nil and missing values count as 0; anything else is an error (money is whole minor units).",
    parameters(SumArgs),
    parsed(SumFilter)
)]
pub struct Sum;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "sum"]
struct SumFilter {
    #[parameters]
    args: SumArgs,
}

impl Filter for SumFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        if input.is_nil() {
            return Ok(Value::scalar(0_i64));
        }
        let Some(array) = input.as_array() else {
            return Err(filter_error(
                "sum",
                format!("expected an array, got {}", input.type_name()),
            ));
        };
        let mut total: i64 = 0;
        for item in array.values() {
            let value = match &args.property {
                Some(property) => item
                    .as_object()
                    .and_then(|object| object.get(property.as_str()))
                    .map(|v| v.to_value())
                    .unwrap_or(Value::Nil),
                None => item.to_value(),
            };
            if value.is_nil() {
                continue;
            }
            let whole = value
                .as_scalar()
                .and_then(|scalar| {
                    scalar
                        .to_integer()
                        .or_else(|| scalar.to_kstr().trim().parse::<i64>().ok())
                })
                .ok_or_else(|| filter_error("sum", format!("{} is not a whole number", value.to_kstr())))?;
            total = total
                .checked_add(whole)
                .ok_or_else(|| filter_error("sum", "the total is too large"))?;
        }
        Ok(Value::scalar(total))
    }
}

#[derive(Debug, FilterParameters)]
struct AddHashKeyArgs {
    #[parameter(description = "The key.", arg_type = "any")]
    key: Expression,
    #[parameter(description = "The value.", arg_type = "any")]
    value: Expression,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "add_hash_key",
    description = "Sets one key: h | add_hash_key: 'k', v (nil input gives {k: v}; an existing key is replaced).",
    parameters(AddHashKeyArgs),
    parsed(AddHashKeyFilter)
)]
pub struct AddHashKey;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "add_hash_key"]
struct AddHashKeyFilter {
    #[parameters]
    args: AddHashKeyArgs,
}

impl Filter for AddHashKeyFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        if args.key.is_nil() || !args.key.is_scalar() {
            return Err(filter_error(
                "add_hash_key",
                format!("the key must be text, got {}", args.key.type_name()),
            ));
        }
        let mut object = if input.is_nil() || input.is_state() {
            Object::new()
        } else {
            match input.as_object().map(|o| o.to_value()) {
                Some(Value::Object(object)) => object,
                _ => {
                    return Err(filter_error(
                        "add_hash_key",
                        format!("expected a hash or nil, got {}", input.type_name()),
                    ))
                }
            }
        };
        object.insert(KString::from(args.key.to_kstr().into_owned()), args.value.to_value());
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liquid_core::{call_filter, value};

    #[test]
    fn add_to_array_appends() {
        assert_eq!(
            call_filter!(AddToArray, value!([1, "a"]), "ü").unwrap(),
            value!([1, "a", "ü"])
        );
    }

    #[test]
    fn add_to_array_nil_and_empty_start_new() {
        assert_eq!(call_filter!(AddToArray, Value::Nil, 1i64).unwrap(), value!([1]));
        assert_eq!(call_filter!(AddToArray, value!([]), 1i64).unwrap(), value!([1]));
    }

    #[test]
    fn add_to_array_nests_arrays_and_hashes_as_one_element() {
        assert_eq!(
            call_filter!(AddToArray, value!([[1]]), value!([2, 3])).unwrap(),
            value!([[1], [2, 3]])
        );
        assert_eq!(
            call_filter!(AddToArray, Value::Nil, value!({"price": "p"})).unwrap(),
            value!([{"price": "p"}])
        );
        assert_eq!(call_filter!(AddToArray, Value::Nil, Value::Nil).unwrap(), value!([nil]));
    }

    #[test]
    fn add_to_array_rejects_non_arrays() {
        assert!(call_filter!(AddToArray, "abc", 1i64).is_err());
        assert!(call_filter!(AddToArray, value!({"a": 1}), 1i64).is_err());
        assert!(call_filter!(AddToArray, value!([])).is_err());
    }

    #[test]
    fn add_hash_key_sets_and_replaces() {
        assert_eq!(
            call_filter!(AddHashKey, value!({"a": 1}), "b", value!({"c": [1]})).unwrap(),
            value!({"a": 1, "b": {"c": [1]}})
        );
        assert_eq!(
            call_filter!(AddHashKey, value!({"a": 1}), "a", 2i64).unwrap(),
            value!({"a": 2})
        );
    }

    #[test]
    fn add_hash_key_nil_input_and_unicode_keys() {
        assert_eq!(
            call_filter!(AddHashKey, Value::Nil, "clé ✓", Value::Nil).unwrap(),
            value!({"clé ✓": nil})
        );
        assert_eq!(
            call_filter!(AddHashKey, Value::Nil, 5i64, "x").unwrap(),
            value!({"5": "x"})
        );
    }

    #[test]
    fn add_hash_key_errors() {
        assert!(call_filter!(AddHashKey, value!([1]), "k", 1i64).is_err());
        assert!(call_filter!(AddHashKey, "text", "k", 1i64).is_err());
        assert!(call_filter!(AddHashKey, Value::Nil, Value::Nil, 1i64).is_err());
        assert!(call_filter!(AddHashKey, Value::Nil, value!([1]), 1i64).is_err());
        assert!(call_filter!(AddHashKey, Value::Nil, "k").is_err());
    }

    #[test]
    fn sum_adds_whole_numbers_or_a_property() {
        let rows = liquid_core::value!([{"count": 2, "sum": 599}, {"count": 1}, {"count": "3", "sum": 100}]);
        assert_eq!(call_filter!(Sum, rows.clone(), "count").unwrap(), Value::scalar(6_i64));
        assert_eq!(call_filter!(Sum, rows, "sum").unwrap(), Value::scalar(699_i64));
        assert_eq!(
            call_filter!(Sum, liquid_core::value!([1, 2, 3])).unwrap(),
            Value::scalar(6_i64)
        );
        assert_eq!(call_filter!(Sum, Value::Nil).unwrap(), Value::scalar(0_i64));
        assert!(call_filter!(Sum, liquid_core::value!([1.5])).is_err());
        assert!(call_filter!(Sum, liquid_core::value!(["x"])).is_err());
        assert!(call_filter!(Sum, Value::scalar("text")).is_err());
    }
}
