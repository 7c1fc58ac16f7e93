//! `www_form_encode` (platformOS): a hash as an
//! `application/x-www-form-urlencoded` body with Rails' brackets, e.g.
//! `{"a": {"b": 1}, "c": [2, 3], "q": "x y"}` → `a[b]=1&c[]=2&c[]=3&q=x+y`.
//!
//! How it differs from `form_encode` (payforms' Stripe body encoder): a
//! space is `+` (not `%20`), and arrays of plain values are `c[]=v`
//! (Rails) where `form_encode` writes `c[0]=v`. Arrays holding hashes or
//! arrays are indexed (`items[0][price]=p`), since Rails' unindexed form
//! cannot tell two items apart. Keys come sorted; brackets stay literal;
//! nil values are left out; nesting deeper than [`MAX_DEPTH`] or a body
//! longer than [`MAX_BODY_BYTES`] is an error.
//! The walk uses an explicit stack, never recursion.

use liquid_core::{Value, ValueView};

use super::fn_filter::{Args, FnFilter, Keywords};

/// Hashes and arrays nested deeper than this are refused.
pub const MAX_DEPTH: usize = 32;
/// A body longer than this is refused (long keys repeat in every nested
/// pair, so the body can outgrow the hash).
pub const MAX_BODY_BYTES: usize = 4 << 20;

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `value` (already a owned copy) under `key`, as pending work.
fn children(key: &str, value: &Value) -> Vec<(String, Value)> {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<_> = object.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            entries
                .into_iter()
                .map(|(child, v)| (format!("{key}[{}]", encode(child.as_str())), v.clone()))
                .collect()
        }
        Value::Array(items) => {
            let indexed = items.iter().any(|v| matches!(v, Value::Object(_) | Value::Array(_)));
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let child = if indexed {
                        format!("{key}[{i}]")
                    } else {
                        format!("{key}[]")
                    };
                    (child, v.clone())
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

fn www_form_encode(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    if input.is_nil() || input.is_state() {
        return Ok(Value::scalar(""));
    }
    let Some(object) = input.as_object() else {
        return Err(format!("expected a hash, got {}", input.type_name()));
    };
    let mut entries: Vec<_> = object.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    // Depth-first, in order: the stack holds (key, value, depth), last
    // item next.
    let mut stack: Vec<(String, Value, usize)> = entries
        .into_iter()
        .rev()
        .map(|(k, v)| (encode(k.as_str()), v.to_value(), 1))
        .collect();
    let mut pairs = Vec::new();
    let mut length = 0usize;
    while let Some((key, value, depth)) = stack.pop() {
        match &value {
            Value::Object(_) | Value::Array(_) => {
                if depth >= MAX_DEPTH {
                    return Err(format!("the hash nests more than {MAX_DEPTH} levels deep"));
                }
                stack.extend(children(&key, &value).into_iter().rev().map(|(k, v)| (k, v, depth + 1)));
            }
            Value::Scalar(scalar) => {
                let pair = format!("{key}={}", encode(&scalar.to_kstr()));
                length += pair.len() + 1;
                if length > MAX_BODY_BYTES {
                    return Err(format!("the encoded body is longer than {MAX_BODY_BYTES} bytes"));
                }
                pairs.push(pair);
            }
            _ => {}
        }
    }
    Ok(Value::scalar(pairs.join("&")))
}

pub(crate) const FILTERS: &[FnFilter] = &[FnFilter::new(
    "www_form_encode",
    "A hash as a form body with Rails brackets: a[b]=1&c[]=2 (space as +, nil left out).",
    (0, 0),
    Keywords::None,
    www_form_encode,
)];

#[cfg(test)]
mod tests {
    use super::MAX_DEPTH;
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::{object, Value};

    #[test]
    fn rails_brackets() {
        assert_eq!(
            render(
                "{{ h | www_form_encode }}|{{ h | form_encode }}",
                object!({"h": {"q": "x y&z", "c": [2, 3], "a": {"b": 1, "n": nil}, "items": [{"price": "p_1"}], "é": "✓"}})
            ),
            "a[b]=1&c[]=2&c[]=3&items[0][price]=p_1&q=x+y%26z&%C3%A9=%E2%9C%93|a[b]=1&c[0]=2&c[1]=3&items[0][price]=p_1&q=x%20y%26z&%C3%A9=%E2%9C%93"
        );
        assert_eq!(
            render(
                "{{ nil | www_form_encode }}|{{ e | www_form_encode }}",
                object!({"e": {}})
            ),
            "|"
        );
    }

    #[test]
    fn errors() {
        assert!(render_err("{{ 'x' | www_form_encode }}", object!({})).contains("expected a hash"));
        let mut deep = Value::scalar(1i64);
        for _ in 0..MAX_DEPTH + 1 {
            let mut o = liquid_core::Object::new();
            o.insert("k".into(), deep);
            deep = Value::Object(o);
        }
        assert!(render_err("{{ d | www_form_encode }}", object!({"d": deep})).contains("levels deep"));
        let long_key = "k".repeat(1 << 16);
        let leaves: Vec<Value> = (0..100i64).map(Value::scalar).collect();
        let mut wide = liquid_core::Object::new();
        wide.insert(long_key.into(), Value::Array(leaves));
        let err = render_err("{{ d | www_form_encode }}", object!({"d": wide}));
        assert!(err.contains("longer than"), "{err}");
    }
}
