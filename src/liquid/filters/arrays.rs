//! platformOS's array filters: `array_add` (the same as `add_to_array`),
//! `array_prepend`, `array_compact`, `array_flatten`, `array_any`,
//! `array_index_of`, `array_map`, `array_group_by`, `array_sort_by`,
//! `array_detect`, `array_select`, `array_reject`. Each returns a new value;
//! nil input counts as an empty array.

use std::cmp::Ordering;

use liquid_core::model::{KString, ValueViewCmp};
use liquid_core::{Object, Value, ValueView};

use super::fn_filter::{Args, FnFilter, Keywords};
use super::hashes::key_text;

/// Nested arrays deeper than this are refused by `array_flatten`.
pub const MAX_FLATTEN_DEPTH: usize = 64;

fn array_input(input: &dyn ValueView) -> Result<Vec<Value>, String> {
    if input.is_nil() || input.is_state() {
        return Ok(Vec::new());
    }
    match input.as_array() {
        Some(array) => Ok(array.values().map(|v| v.to_value()).collect()),
        None => Err(format!("expected an array, got {}", input.type_name())),
    }
}

fn same(a: &dyn ValueView, b: &dyn ValueView) -> bool {
    ValueViewCmp::new(a) == ValueViewCmp::new(b)
}

/// `item[property]`, nil when the item is not a hash or lacks it.
fn property(item: &Value, name: &str) -> Value {
    match item {
        Value::Object(object) => object.get(name).cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    }
}

fn array_add(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let mut items = array_input(input)?;
    items.push(args.at(0).clone());
    Ok(Value::Array(items))
}

fn array_prepend(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let mut items = array_input(input)?;
    items.insert(0, args.at(0).clone());
    Ok(Value::Array(items))
}

fn array_compact(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    Ok(Value::Array(
        array_input(input)?.into_iter().filter(|v| !v.is_nil()).collect(),
    ))
}

/// Every element of nested arrays, in order, without recursion: a stack of
/// iterators, one per open array.
fn array_flatten(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    let mut flat = Vec::new();
    let mut stack = vec![array_input(input)?.into_iter()];
    while let Some(top) = stack.last_mut() {
        match top.next() {
            Some(Value::Array(inner)) => {
                if stack.len() >= MAX_FLATTEN_DEPTH {
                    return Err(format!("arrays nest more than {MAX_FLATTEN_DEPTH} levels deep"));
                }
                stack.push(inner.into_iter());
            }
            Some(value) => flat.push(value),
            None => {
                stack.pop();
            }
        }
    }
    Ok(Value::Array(flat))
}

fn array_any(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let wanted = args.at(0);
    Ok(Value::scalar(array_input(input)?.iter().any(|item| same(item, wanted))))
}

/// The position of the first element equal to the value; nil when absent
/// (Ruby's `Array#index`).
fn array_index_of(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let wanted = args.at(0);
    Ok(array_input(input)?
        .iter()
        .position(|item| same(item, wanted))
        .map_or(Value::Nil, |i| Value::scalar(i as i64)))
}

fn array_map(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let name = key_text(args.at(0))?;
    Ok(Value::Array(
        array_input(input)?.iter().map(|item| property(item, &name)).collect(),
    ))
}

/// A hash from each value of the property (as text; nil is `""`) to the
/// items having it, in their order.
fn array_group_by(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let name = key_text(args.at(0))?;
    let mut groups = Object::new();
    for item in array_input(input)? {
        let key = KString::from(property(&item, &name).to_kstr().into_owned());
        match groups.get_mut(key.as_str()) {
            Some(Value::Array(members)) => members.push(item),
            _ => {
                groups.insert(key, Value::Array(vec![item]));
            }
        }
    }
    Ok(Value::Object(groups))
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a.is_nil(), b.is_nil()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let number = |v: &Value| v.as_scalar().and_then(|s| s.to_float());
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.to_kstr().cmp(&b.to_kstr()),
    }
}

/// Sorted by the property: numbers by value, other values by text, nil
/// last; equal items keep their order.
fn array_sort_by(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let name = key_text(args.at(0))?;
    let mut keyed: Vec<(Value, Value)> = array_input(input)?
        .into_iter()
        .map(|item| (property(&item, &name), item))
        .collect();
    keyed.sort_by(|a, b| compare(&a.0, &b.0));
    Ok(Value::Array(keyed.into_iter().map(|(_, item)| item).collect()))
}

/// The conditions of `array_detect`/`array_select`/`array_reject`:
/// `key: value` pairs (platformOS's form), or one positional key and value.
fn conditions(args: &Args) -> Result<Vec<(KString, Value)>, String> {
    let mut list: Vec<(KString, Value)> = args
        .keyword
        .iter()
        .map(|(name, value)| (KString::from(name.clone()), value.clone()))
        .collect();
    match args.positional.as_slice() {
        [] => {}
        [key, value] => list.push((key_text(key)?, value.clone())),
        _ => return Err("expected key: value, or a key and a value".into()),
    }
    if list.is_empty() {
        return Err("expected key: value, or a key and a value".into());
    }
    Ok(list)
}

fn matches(item: &Value, conditions: &[(KString, Value)]) -> bool {
    conditions.iter().all(|(key, value)| same(&property(item, key), value))
}

fn array_detect(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let conditions = conditions(args)?;
    Ok(array_input(input)?
        .into_iter()
        .find(|item| matches(item, &conditions))
        .unwrap_or(Value::Nil))
}

fn array_select(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let conditions = conditions(args)?;
    Ok(Value::Array(
        array_input(input)?
            .into_iter()
            .filter(|item| matches(item, &conditions))
            .collect(),
    ))
}

fn array_reject(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let conditions = conditions(args)?;
    Ok(Value::Array(
        array_input(input)?
            .into_iter()
            .filter(|item| !matches(item, &conditions))
            .collect(),
    ))
}

pub(crate) const FILTERS: &[FnFilter] = &[
    FnFilter::new(
        "array_add",
        "Appends one element: a | array_add: x (the same as add_to_array).",
        (1, 1),
        Keywords::None,
        array_add,
    ),
    FnFilter::new(
        "array_prepend",
        "Puts one element first: a | array_prepend: x.",
        (1, 1),
        Keywords::None,
        array_prepend,
    ),
    FnFilter::new(
        "array_compact",
        "Drops nil elements.",
        (0, 0),
        Keywords::None,
        array_compact,
    ),
    FnFilter::new(
        "array_flatten",
        "The elements of nested arrays, in order, as one array.",
        (0, 0),
        Keywords::None,
        array_flatten,
    ),
    FnFilter::new(
        "array_any",
        "True when an element equals the value: a | array_any: x.",
        (1, 1),
        Keywords::None,
        array_any,
    ),
    FnFilter::new(
        "array_index_of",
        "The position of the first element equal to the value, or nil.",
        (1, 1),
        Keywords::None,
        array_index_of,
    ),
    FnFilter::new(
        "array_map",
        "One property of each element: a | array_map: 'name'.",
        (1, 1),
        Keywords::None,
        array_map,
    ),
    FnFilter::new(
        "array_group_by",
        "A hash from each value of a property to the elements having it.",
        (1, 1),
        Keywords::None,
        array_group_by,
    ),
    FnFilter::new(
        "array_sort_by",
        "Sorted by a property (numbers by value, nil last).",
        (1, 1),
        Keywords::None,
        array_sort_by,
    ),
    FnFilter::new(
        "array_detect",
        "The first element whose keys equal the values: a | array_detect: id: 3 (or 'id', 3).",
        (0, 2),
        Keywords::Any,
        array_detect,
    ),
    FnFilter::new(
        "array_select",
        "The elements whose keys equal the values: a | array_select: state: 'paid'.",
        (0, 2),
        Keywords::Any,
        array_select,
    ),
    FnFilter::new(
        "array_reject",
        "The elements whose keys do not all equal the values.",
        (0, 2),
        Keywords::Any,
        array_reject,
    ),
];

#[cfg(test)]
mod tests {
    use super::MAX_FLATTEN_DEPTH;
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::{object, Value};

    fn globals() -> liquid_core::Object {
        object!({
            "a": [1, nil, "b"],
            "n": [1, [2, [3, []]], 4],
            "rows": [
                {"id": 1, "state": "paid", "amount": 500},
                {"id": 2, "state": "open", "amount": 90},
                {"id": 3, "state": "paid"},
                {"id": 4, "state": "paid", "amount": 1000}
            ]
        })
    }

    #[test]
    fn add_prepend_compact() {
        assert_eq!(
            render(
                "{{ a | array_add: 'ü' | json }}|{{ nil | array_add: 1 | json }}|{{ a | array_prepend: 0 | json }}|{{ a | array_compact | json }}",
                globals()
            ),
            r#"[1,null,"b","ü"]|[1]|[0,1,null,"b"]|[1,"b"]"#
        );
    }

    #[test]
    fn flatten_any_index_of() {
        assert_eq!(
            render(
                "{{ n | array_flatten | json }}|{{ a | array_any: 'b' }}|{{ a | array_any: 2 }}|{{ a | array_index_of: 'b' }}|{{ a | array_index_of: 9 | json }}",
                globals()
            ),
            "[1,2,3,4]|true|false|2|null"
        );
    }

    #[test]
    fn flatten_refuses_deep_nesting_without_recursing() {
        let mut deep = Value::Array(vec![Value::scalar(1i64)]);
        for _ in 0..MAX_FLATTEN_DEPTH + 1 {
            deep = Value::Array(vec![deep]);
        }
        let err = render_err("{{ d | array_flatten }}", object!({"d": deep}));
        assert!(err.contains("levels deep"), "{err}");
    }

    #[test]
    fn map_group_sort() {
        assert_eq!(
            render(
                "{{ rows | array_map: 'id' | join: ',' }}|{{ rows | array_group_by: 'state' | hash_dig: 'paid' | array_map: 'id' | join: ',' }}|{{ rows | array_sort_by: 'amount' | array_map: 'id' | join: ',' }}",
                globals()
            ),
            "1,2,3,4|1,3,4|2,1,4,3"
        );
    }

    #[test]
    fn detect_select_reject() {
        assert_eq!(
            render(
                "{{ rows | array_detect: state: 'paid', amount: 1000 | hash_dig: 'id' }}|{{ rows | array_detect: 'id', 2 | hash_dig: 'state' }}|{{ rows | array_detect: id: 9 | json }}\
                 |{{ rows | array_select: state: 'paid' | size }}|{{ rows | array_reject: state: 'paid' | array_map: 'id' | join: ',' }}",
                globals()
            ),
            "4|open|null|3|2"
        );
    }

    #[test]
    fn errors() {
        assert!(render_err("{{ 'x' | array_add: 1 }}", globals()).contains("expected an array"));
        assert!(render_err("{{ rows | array_detect }}", globals()).contains("key: value"));
        assert!(render_err("{{ rows | array_map: rows }}", globals()).contains("must be text"));
        assert!(render_err("{{ rows | array_select: 'a', 1, 2 }}", globals()).contains("takes 0 to 2"));
    }
}
