//! GraphQL naming: snake_case in YAML and Liquid becomes camelCase fields,
//! PascalCase types and SCREAMING_SNAKE enum values; input keys go back to
//! snake_case.

use serde_json::{Map, Value};

/// Split on `_`, `-`, `/`, spaces and other non-alphanumerics.
fn words(name: &str) -> impl Iterator<Item = &str> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Upper-case the first character only (`card` -> `Card`, `3ds` -> `3ds`).
fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// `credit_card` -> `CreditCard`.
pub fn pascal_case(name: &str) -> String {
    words(name).map(capitalize).collect()
}

/// `credit_card` -> `creditCard`; `gateway_id` -> `gatewayId`.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in words(name).enumerate() {
        if i == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_lowercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(&capitalize(word));
        }
    }
    out
}

/// `gateway_id` -> `GATEWAY_ID`; `createdAt` -> `CREATED_AT`.
pub fn screaming_snake_case(name: &str) -> String {
    snake_case(name).to_ascii_uppercase()
}

/// `paymentMethodId` -> `payment_method_id`; `HTMLBody` -> `html_body`;
/// already snake_case names are unchanged; non-ASCII is kept as is.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let previous = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let starts_word = match previous {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                Some(_) => false,
            };
            if starts_word {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c == ' ' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// `credit_card` -> `creditCards`, `address` -> `addresses`, `company` -> `companies`.
pub fn plural(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    let ends_with_consonant_y = lower.ends_with('y')
        && lower
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|c| c.is_ascii_alphabetic() && !"aeiou".contains(c));
    if ends_with_consonant_y {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"].iter().any(|end| lower.ends_with(end)) {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

/// A GraphQL name: `[_A-Za-z][_0-9A-Za-z]*`, not starting with `__`.
pub fn is_graphql_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.starts_with("__")
}

/// Turn every object key of `value` into snake_case, recursively, except the
/// contents of `metadata` objects (free-form keys chosen by the caller).
pub fn snake_case_keys(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut out = Map::with_capacity(object.len());
            for (key, value) in object {
                let value = if key == "metadata" {
                    value
                } else {
                    snake_case_keys(value)
                };
                out.insert(snake_case(&key), value);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(snake_case_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cases() {
        assert_eq!(pascal_case("credit_card"), "CreditCard");
        assert_eq!(pascal_case("payment"), "Payment");
        assert_eq!(pascal_case("stripe-module"), "StripeModule");
        assert_eq!(camel_case("gateway_id"), "gatewayId");
        assert_eq!(camel_case("create_customer"), "createCustomer");
        assert_eq!(camel_case("address_line_1"), "addressLine1");
        assert_eq!(camel_case("_private"), "private");
        assert_eq!(camel_case(""), "");
        assert_eq!(screaming_snake_case("gateway_id"), "GATEWAY_ID");
        assert_eq!(screaming_snake_case("amount"), "AMOUNT");
    }

    #[test]
    fn snake_case_reverses_camel_case() {
        for name in [
            "payment_method_id",
            "amount",
            "automatic_payment_methods",
            "last4",
            "data1",
        ] {
            assert_eq!(snake_case(&camel_case(name)), name);
        }
        assert_eq!(snake_case("HTMLBody"), "html_body");
        assert_eq!(snake_case("returnURL"), "return_url");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("caf\u{e9}Name"), "caf\u{e9}_name");
        assert_eq!(snake_case(""), "");
    }

    #[test]
    fn plurals() {
        assert_eq!(plural("creditCard"), "creditCards");
        assert_eq!(plural("address"), "addresses");
        assert_eq!(plural("company"), "companies");
        assert_eq!(plural("day"), "days");
        assert_eq!(plural("box"), "boxes");
        assert_eq!(plural("batch"), "batches");
    }

    #[test]
    fn graphql_names() {
        assert!(is_graphql_name("creditCard"));
        assert!(is_graphql_name("_x1"));
        assert!(!is_graphql_name("1card"));
        assert!(!is_graphql_name("caf\u{e9}"));
        assert!(!is_graphql_name(""));
        assert!(!is_graphql_name("__type"));
        assert!(!is_graphql_name("a-b"));
    }

    #[test]
    fn snake_case_keys_is_recursive_but_keeps_metadata() {
        let input = json!({
            "customerId": "cus_1",
            "recurring": {"intervalCount": 1},
            "items": [{"priceId": "price_1"}],
            "metadata": {"orderId": "12", "nested": {"keepMe": true}},
            "note": "someValueInCamel"
        });
        assert_eq!(
            snake_case_keys(input),
            json!({
                "customer_id": "cus_1",
                "recurring": {"interval_count": 1},
                "items": [{"price_id": "price_1"}],
                "metadata": {"orderId": "12", "nested": {"keepMe": true}},
                "note": "someValueInCamel"
            })
        );
        assert_eq!(snake_case_keys(Value::Null), Value::Null);
    }
}
