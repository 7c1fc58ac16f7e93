//! platformOS's hash filters: `hash_merge`, `hash_add_key` (the same as
//! `add_hash_key`), `hash_delete_key`, `hash_keys`, `hash_values`,
//! `hash_dig`. Each returns a new value (Liquid values are immutable);
//! assign it back. Nil input counts as an empty hash.

use liquid_core::model::KString;
use liquid_core::{Object, Value, ValueView};

use super::fn_filter::{Args, FnFilter, Keywords};

/// A hash input as an object to work on: nil is empty, anything else but a
/// hash is an error.
pub(crate) fn hash_input(input: &dyn ValueView) -> Result<Object, String> {
    if input.is_nil() || input.is_state() {
        return Ok(Object::new());
    }
    match input.as_object().map(|o| o.to_value()) {
        Some(Value::Object(object)) => Ok(object),
        _ => Err(format!("expected a hash, got {}", input.type_name())),
    }
}

/// A key given to a filter: text (a number is its text).
pub(crate) fn key_text(value: &Value) -> Result<KString, String> {
    match value {
        Value::Scalar(scalar) => Ok(KString::from(scalar.to_kstr().into_owned())),
        other => Err(format!("the key must be text, got {}", other.type_name())),
    }
}

/// `h | hash_merge: other` adds every key of `other` (replacing the same
/// keys); `h | hash_merge: a: 1, b: x` adds the named keys. Both may be
/// combined; the named keys come last. Shallow, as platformOS's.
fn hash_merge(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let mut merged = hash_input(input)?;
    if let Some(other) = args.positional.first() {
        let other = hash_input(other).map_err(|e| format!("the hash to merge: {e}"))?;
        merged.extend(other);
    }
    for (name, value) in &args.keyword {
        merged.insert(KString::from(name.clone()), value.clone());
    }
    Ok(Value::Object(merged))
}

fn hash_add_key(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let mut object = hash_input(input)?;
    object.insert(key_text(args.at(0))?, args.at(1).clone());
    Ok(Value::Object(object))
}

fn hash_delete_key(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let mut object = hash_input(input)?;
    object.remove(key_text(args.at(0))?.as_str());
    Ok(Value::Object(object))
}

/// Entries in key order: Liquid hashes keep no insertion order, and a
/// stable order keeps pages reproducible.
fn sorted_entries(input: &dyn ValueView) -> Result<Vec<(KString, Value)>, String> {
    let mut entries: Vec<(KString, Value)> = hash_input(input)?.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

fn hash_keys(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    Ok(Value::Array(
        sorted_entries(input)?
            .into_iter()
            .map(|(k, _)| Value::scalar(k))
            .collect(),
    ))
}

fn hash_values(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    Ok(Value::Array(
        sorted_entries(input)?.into_iter().map(|(_, v)| v).collect(),
    ))
}

/// `h | hash_dig: 'a', 'b', 0`: the value at that path (hash keys and array
/// positions), nil when any step is missing. A single argument may also be
/// a dotted path (`'a.b'`), as platformOS accepts.
fn hash_dig(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let mut steps: Vec<String> = Vec::new();
    if let [Value::Scalar(single)] = args.positional.as_slice() {
        steps.extend(single.to_kstr().split('.').map(str::to_owned));
    } else {
        for step in &args.positional {
            steps.push(key_text(step)?.to_string());
        }
    }
    let mut current = input.to_value();
    for step in steps {
        let next = match &current {
            Value::Object(object) => object.get(step.as_str()).cloned(),
            Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i).cloned()),
            _ => None,
        };
        match next {
            Some(value) => current = value,
            None => return Ok(Value::Nil),
        }
    }
    Ok(current)
}

pub(crate) const FILTERS: &[FnFilter] = &[
    FnFilter::new(
        "hash_merge",
        "Adds the keys of another hash and/or name: value pairs: h | hash_merge: other, h | hash_merge: a: 1.",
        (0, 1),
        Keywords::Any,
        hash_merge,
    ),
    FnFilter::new(
        "hash_add_key",
        "Sets one key: h | hash_add_key: 'k', v (the same as add_hash_key).",
        (2, 2),
        Keywords::None,
        hash_add_key,
    ),
    FnFilter::new(
        "hash_delete_key",
        "Removes one key: h | hash_delete_key: 'k'.",
        (1, 1),
        Keywords::None,
        hash_delete_key,
    ),
    FnFilter::new(
        "hash_keys",
        "The keys of a hash, as an array (in key order).",
        (0, 0),
        Keywords::None,
        hash_keys,
    ),
    FnFilter::new(
        "hash_values",
        "The values of a hash, as an array (in key order).",
        (0, 0),
        Keywords::None,
        hash_values,
    ),
    FnFilter::new(
        "hash_dig",
        "The value at a path: h | hash_dig: 'a', 'b' (or 'a.b'); nil when missing.",
        (1, 32),
        Keywords::None,
        hash_dig,
    ),
];

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::object;

    fn globals() -> liquid_core::Object {
        object!({"h": {"a": 1, "b": {"c": [10, {"d": "é"}]}}, "o": {"a": 2, "z": true}})
    }

    #[test]
    fn hash_merge_with_a_hash_and_with_pairs() {
        assert_eq!(
            render("{{ h | hash_merge: o | json }}", globals()),
            r#"{"a":2,"b":{"c":[10,{"d":"é"}]},"z":true}"#
        );
        assert_eq!(
            render(
                "{{ o | hash_merge: a: 5, n: nil | json }}|{{ nil | hash_merge: x: 'y' | json }}",
                globals()
            ),
            r#"{"a":5,"n":null,"z":true}|{"x":"y"}"#
        );
        assert_eq!(
            render("{{ o | hash_merge: h, a: 0 | hash_keys | size }}", globals()),
            "3"
        );
    }

    #[test]
    fn add_delete_keys_values() {
        assert_eq!(
            render(
                "{{ o | hash_add_key: 'k', 1 | json }}|{{ o | hash_delete_key: 'a' | json }}|{{ o | hash_delete_key: 'none' | size }}",
                globals()
            ),
            r#"{"a":2,"k":1,"z":true}|{"z":true}|2"#
        );
        assert_eq!(
            render(
                "{{ o | hash_keys | join: ',' }}|{{ o | hash_values | json }}",
                globals()
            ),
            "a,z|[2,true]"
        );
    }

    #[test]
    fn hash_dig_paths() {
        assert_eq!(
            render(
                "{{ h | hash_dig: 'b', 'c', 1, 'd' }}|{{ h | hash_dig: 'b.c.0' }}|{{ h | hash_dig: 'x', 'y' | json }}|{{ h | hash_dig: 'a', 'b' | json }}",
                globals()
            ),
            "é|10|null|null"
        );
    }

    #[test]
    fn errors_name_the_filter() {
        let err = render_err("{{ 'text' | hash_keys }}", globals());
        assert!(err.contains("hash_keys") && err.contains("expected a hash"), "{err}");
        assert!(render_err("{{ h | hash_merge: 'x' }}", globals()).contains("the hash to merge"));
        assert!(render_err("{{ h | hash_add_key: 'k' }}", globals()).contains("takes 2"));
        assert!(render_err("{{ h | hash_delete_key: o }}", globals()).contains("must be text"));
        assert!(render_err("{{ h | hash_keys: a: 1 }}", globals()).contains("no name: value"));
    }
}
