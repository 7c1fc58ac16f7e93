//! Stripe's bracket form encoding: `metadata[k]=v`, `items[0][price]=p`.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

/// Everything but unreserved characters is escaped (RFC 3986), so keys and
/// values survive any decoder; brackets in keys are written literally, as
/// Stripe's own libraries do.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Encode a JSON object as `application/x-www-form-urlencoded` with nested
/// keys in brackets. Nulls are skipped; empty strings are sent (Stripe uses
/// `key=` to unset a value).
pub fn form_encode(value: &Value) -> String {
    let mut pairs = Vec::new();
    if let Value::Object(map) = value {
        for (key, child) in map {
            push_pairs(&mut pairs, key, child);
        }
    }
    pairs.join("&")
}

fn push_pairs(pairs: &mut Vec<String>, key: &str, value: &Value) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, child) in map {
                push_pairs(pairs, &format!("{key}[{k}]"), child);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                push_pairs(pairs, &format!("{key}[{i}]"), child);
            }
        }
        Value::String(s) => pairs.push(format!("{}={}", encode_key(key), encode(s))),
        Value::Bool(b) => pairs.push(format!("{}={b}", encode_key(key))),
        Value::Number(n) => pairs.push(format!("{}={n}", encode_key(key))),
    }
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

fn encode_key(key: &str) -> String {
    // Escape each part but keep the brackets readable.
    key.split_inclusive(['[', ']'])
        .map(|part| {
            let (text, bracket) = match part.char_indices().last() {
                Some((i, c)) if c == '[' || c == ']' => (&part[..i], &part[i..]),
                _ => (part, ""),
            };
            format!("{}{bracket}", encode(text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_hashes_and_arrays() {
        let body = json!({
            "amount": 599,
            "currency": "usd",
            "metadata": {"order": "A 1", "note": "ünï&="},
            "items": [{"price": "price_1", "quantity": 2}],
            "expand": ["latest_invoice.payment_intent"],
            "capture": false,
            "skip": null,
            "description": ""
        });
        assert_eq!(
            form_encode(&body),
            "amount=599&currency=usd&metadata[order]=A%201&metadata[note]=%C3%BCn%C3%AF%26%3D\
             &items[0][price]=price_1&items[0][quantity]=2&expand[0]=latest_invoice.payment_intent\
             &capture=false&description="
        );
    }

    #[test]
    fn empty_and_non_objects() {
        assert_eq!(form_encode(&json!({})), "");
        assert_eq!(form_encode(&json!("x")), "");
        assert_eq!(form_encode(&json!({"a": {}})), "");
    }

    #[test]
    fn keys_are_escaped_but_brackets_kept() {
        assert_eq!(form_encode(&json!({"metadata": {"a b": "c"}})), "metadata[a%20b]=c");
    }
}
