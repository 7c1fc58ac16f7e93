//! URL encodings: `url_encode` (one value) and `form_encode` (a hash in
//! Stripe's bracket form, the body of an API call).

use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterReflection, ParseFilter};
use liquid_core::{Result, Value, ValueView};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::filter_error;
use crate::liquid::value::{scalar_kind, ScalarKind};

/// RFC 3986 unreserved characters stay; everything else (space included,
/// as `%20`) is percent-encoded as UTF-8.
const FORM_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, FORM_COMPONENT).to_string()
}

/// Stripe's form encoding of a hash: `metadata[k]=v`, `a[b][c]=v`,
/// `items[0][price]=p`, joined with `&`.
///
/// - Keys are sorted (Liquid objects do not keep insertion order, and a
///   stable order keeps bodies and signatures reproducible).
/// - Keys and values are percent-encoded as UTF-8 with only `A-Z a-z 0-9 - .
///   _ ~` left as is; a space is `%20`. The structural brackets stay literal.
/// - Nil values (and empty hashes/arrays) are skipped: nil means "not given".
///   To clear a field at Stripe, pass an empty string, which gives `key=`.
/// - Booleans are `true`/`false`; date times are unix seconds (Stripe's
///   timestamp form); numbers are their text.
///
/// Nil input gives an empty string; anything but a hash is an error.
pub fn form_encode(value: &dyn ValueView) -> std::result::Result<String, NotAHash> {
    if value.is_nil() || value.is_state() {
        return Ok(String::new());
    }
    let Some(object) = value.as_object() else {
        return Err(NotAHash(value.type_name()));
    };
    let mut pairs = Vec::new();
    let mut entries: Vec<_> = object.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in entries {
        encode_pair(&encode_component(key.as_str()), value, &mut pairs);
    }
    Ok(pairs.join("&"))
}

/// Only a hash has a form encoding.
#[derive(Debug, thiserror::Error)]
#[error("expected a hash, got {0}")]
pub struct NotAHash(&'static str);

fn encode_pair(key: &str, value: &dyn ValueView, pairs: &mut Vec<String>) {
    if let Some(object) = value.as_object() {
        let mut entries: Vec<_> = object.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (child, value) in entries {
            let child_key = format!("{key}[{}]", encode_component(child.as_str()));
            encode_pair(&child_key, value, pairs);
        }
    } else if let Some(array) = value.as_array() {
        for (index, value) in array.values().enumerate() {
            encode_pair(&format!("{key}[{index}]"), value, pairs);
        }
    } else if let Some(scalar) = value.as_scalar() {
        let text = match scalar_kind(&scalar) {
            ScalarKind::DateTime => match scalar.to_date_time() {
                Some(time) => time.unix_timestamp().to_string(),
                None => scalar.to_kstr().to_string(),
            },
            _ => scalar.to_kstr().to_string(),
        };
        pairs.push(format!("{key}={}", encode_component(&text)));
    }
    // Nil and empty/blank states: not given, so nothing is sent.
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "form_encode",
    description = "Encodes a hash as a Stripe form body: metadata[k]=v&items[0][price]=p (nil values skipped).",
    parsed(FormEncodeFilter)
)]
pub struct FormEncode;

#[derive(Debug, Default, Display_filter)]
#[name = "form_encode"]
struct FormEncodeFilter;

impl Filter for FormEncodeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        form_encode(input)
            .map(Value::scalar)
            .map_err(|e| filter_error("form_encode", e.to_string()))
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "url_encode",
    description = "application/x-www-form-urlencoded encoding of a value (space becomes +); nil stays nil.",
    parsed(UrlEncodeFilter)
)]
pub struct UrlEncode;

#[derive(Debug, Default, Display_filter)]
#[name = "url_encode"]
struct UrlEncodeFilter;

impl Filter for UrlEncodeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        if input.is_nil() {
            return Ok(Value::Nil);
        }
        let text = input.to_kstr();
        Ok(Value::scalar(
            url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liquid_core::{call_filter, value};

    #[test]
    fn url_encode_uses_plus_for_space_and_utf8() {
        assert_eq!(
            call_filter!(UrlEncode, "a b&c=d/é✓").unwrap(),
            value!("a+b%26c%3Dd%2F%C3%A9%E2%9C%93")
        );
        assert_eq!(
            call_filter!(UrlEncode, "foo+1@example.com").unwrap(),
            value!("foo%2B1%40example.com")
        );
        assert_eq!(call_filter!(UrlEncode, "-._*").unwrap(), value!("-._*"));
        assert_eq!(call_filter!(UrlEncode, "").unwrap(), value!(""));
        assert_eq!(call_filter!(UrlEncode, 599i64).unwrap(), value!("599"));
        assert_eq!(call_filter!(UrlEncode, Value::Nil).unwrap(), Value::Nil);
    }

    #[test]
    fn form_encode_flat_hash() {
        let input = value!({"currency": "usd", "amount": 599, "confirm": true});
        assert_eq!(
            call_filter!(FormEncode, input).unwrap(),
            value!("amount=599&confirm=true&currency=usd")
        );
    }

    #[test]
    fn form_encode_nested_hashes_and_arrays() {
        let input = value!({
            "metadata": {"order_id": "42", "note": "a b"},
            "items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}],
            "expand": ["customer", "invoice.subscription"],
            "a": {"b": {"c": "v"}}
        });
        assert_eq!(
            call_filter!(FormEncode, input).unwrap(),
            value!(
                "a[b][c]=v&expand[0]=customer&expand[1]=invoice.subscription\
                 &items[0][price]=price_1&items[0][quantity]=2&items[1][price]=price_2\
                 &metadata[note]=a%20b&metadata[order_id]=42"
            )
        );
    }

    #[test]
    fn form_encode_skips_nil_and_keeps_empty_strings() {
        let input = value!({"description": nil, "metadata": {"old": ""}, "tags": [], "x": {}});
        assert_eq!(call_filter!(FormEncode, input).unwrap(), value!("metadata[old]="));
        assert_eq!(call_filter!(FormEncode, Value::Nil).unwrap(), value!(""));
        assert_eq!(call_filter!(FormEncode, value!({})).unwrap(), value!(""));
    }

    #[test]
    fn form_encode_percent_encodes_keys_and_unicode_values() {
        let input = value!({"metadata": {"naïve key[x]": "Zoë & ✓=1"}});
        assert_eq!(
            call_filter!(FormEncode, input).unwrap(),
            value!("metadata[na%C3%AFve%20key%5Bx%5D]=Zo%C3%AB%20%26%20%E2%9C%93%3D1")
        );
    }

    #[test]
    fn form_encode_booleans_floats_and_times() {
        let time = liquid_core::model::DateTime::from_str("2024-01-31 10:00:00 +0000").unwrap();
        let mut object = liquid_core::Object::new();
        object.insert("at".into(), Value::scalar(time));
        object.insert("off".into(), Value::scalar(false));
        object.insert("rate".into(), Value::scalar(0.25f64));
        // Called directly: call_filter! would turn the date time into text.
        assert_eq!(
            form_encode(&Value::Object(object)).unwrap(),
            "at=1706695200&off=false&rate=0.25"
        );
    }

    #[test]
    fn form_encode_rejects_non_hashes() {
        assert!(call_filter!(FormEncode, "a=b").is_err());
        assert!(call_filter!(FormEncode, value!([1, 2])).is_err());
    }
}
