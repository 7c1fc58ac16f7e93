//! Stripe's bracket form encoding (`metadata[k]=v`, `items[0][price]=p`,
//! `expand[]=x`) decoded into nested JSON.
//!
//! Values stay strings, as they arrive; `params::Params` converts them where
//! Stripe's types say integer or boolean. A hash whose keys are all indices
//! becomes an array ordered by index, as Stripe's server reads `items[0]`.

use serde_json::{Map, Value};

use super::api_error::ApiError;

/// A parsed node before arrays are recognised.
#[derive(Debug)]
enum Node {
    Leaf(String),
    Branch(Vec<(String, Node)>),
}

/// Decode an `application/x-www-form-urlencoded` body or query string.
pub fn decode(input: &str) -> Result<Map<String, Value>, ApiError> {
    let mut root: Vec<(String, Node)> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(input.as_bytes()) {
        if key.is_empty() {
            continue;
        }
        let segments = split_key(&key)?;
        insert(&mut root, &segments, value.into_owned(), &key)?;
    }
    Ok(to_map(root))
}

/// `a[b][]` -> ["a", "b", ""]. An empty segment means "append".
fn split_key(key: &str) -> Result<Vec<String>, ApiError> {
    let malformed = || ApiError::invalid(format!("Invalid parameter name: {key}")).with_param(key);
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(malformed());
    }
    let mut segments = vec![head.to_string()];
    while !rest.is_empty() {
        if !rest.starts_with('[') {
            return Err(malformed());
        }
        let close = rest.find(']').ok_or_else(malformed)?;
        segments.push(rest[1..close].to_string());
        rest = &rest[close + 1..];
    }
    Ok(segments)
}

fn insert(
    children: &mut Vec<(String, Node)>,
    segments: &[String],
    value: String,
    full_key: &str,
) -> Result<(), ApiError> {
    let conflict = || ApiError::invalid(format!("Invalid hash: {full_key}")).with_param(full_key);
    let Some((first, rest)) = segments.split_first() else {
        return Ok(());
    };
    // `[]`: append, or (Rack's rule) continue the last element while it
    // lacks the next key, so `items[][price]=a&items[][quantity]=1` is one item.
    let name = if first.is_empty() {
        let continue_last = match (children.last(), rest.first()) {
            (Some((_, Node::Branch(last))), Some(next)) if !next.is_empty() => !last.iter().any(|(k, _)| k == next),
            _ => false,
        };
        if continue_last {
            (children.len() - 1).to_string()
        } else {
            children.len().to_string()
        }
    } else {
        first.clone()
    };
    if rest.is_empty() {
        match children.iter_mut().find(|(k, _)| *k == name) {
            Some((_, Node::Leaf(existing))) => *existing = value,
            Some((_, Node::Branch(_))) => return Err(conflict()),
            None => children.push((name, Node::Leaf(value))),
        }
        return Ok(());
    }
    let position = match children.iter().position(|(k, _)| *k == name) {
        Some(i) => i,
        None => {
            children.push((name, Node::Branch(Vec::new())));
            children.len() - 1
        }
    };
    match &mut children[position].1 {
        Node::Branch(grandchildren) => insert(grandchildren, rest, value, full_key),
        Node::Leaf(_) => Err(conflict()),
    }
}

fn to_map(children: Vec<(String, Node)>) -> Map<String, Value> {
    children.into_iter().map(|(key, node)| (key, to_value(node))).collect()
}

fn to_value(node: Node) -> Value {
    match node {
        Node::Leaf(s) => Value::String(s),
        Node::Branch(children) => {
            let indices: Option<Vec<u64>> = children.iter().map(|(k, _)| k.parse::<u64>().ok()).collect();
            match indices {
                Some(indices) if !children.is_empty() => {
                    let mut numbered: Vec<(u64, Node)> =
                        indices.into_iter().zip(children.into_iter().map(|(_, n)| n)).collect();
                    numbered.sort_by_key(|(i, _)| *i);
                    Value::Array(numbered.into_iter().map(|(_, n)| to_value(n)).collect())
                }
                _ => Value::Object(to_map(children)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Encode nested JSON back into Stripe's bracket form.
    fn encode(params: &Map<String, Value>) -> String {
        let mut pairs = Vec::new();
        for (key, value) in params {
            flatten(key.clone(), value, &mut pairs);
        }
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            serializer.append_pair(&k, &v);
        }
        serializer.finish()
    }

    fn flatten(prefix: String, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    flatten(format!("{prefix}[{k}]"), v, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    flatten(format!("{prefix}[{i}]"), v, out);
                }
            }
            Value::Null => out.push((prefix, String::new())),
            Value::String(s) => out.push((prefix, s.clone())),
            other => out.push((prefix, other.to_string())),
        }
    }

    fn decoded(input: &str) -> Value {
        Value::Object(decode(input).unwrap())
    }

    #[test]
    fn flat_and_nested_hashes() {
        assert_eq!(
            decoded("amount=2000&metadata[order]=42&metadata[note]=a+b%26c"),
            json!({"amount": "2000", "metadata": {"order": "42", "note": "a b&c"}})
        );
    }

    #[test]
    fn indexed_arrays_follow_index_order() {
        assert_eq!(
            decoded("items[1][price]=p2&items[0][price]=p1&items[0][quantity]=3"),
            json!({"items": [{"price": "p1", "quantity": "3"}, {"price": "p2"}]})
        );
    }

    #[test]
    fn empty_brackets_append_and_group_like_rack() {
        assert_eq!(
            decoded("expand[]=customer&expand[]=latest_charge"),
            json!({"expand": ["customer", "latest_charge"]})
        );
        assert_eq!(
            decoded("items[][price]=a&items[][quantity]=1&items[][price]=b"),
            json!({"items": [{"price": "a", "quantity": "1"}, {"price": "b"}]})
        );
    }

    #[test]
    fn deep_nesting_and_unicode() {
        assert_eq!(
            decoded("line_items[0][price_data][product_data][name]=Caf%C3%A9+%E2%98%95"),
            json!({"line_items": [{"price_data": {"product_data": {"name": "Café ☕"}}}]})
        );
    }

    #[test]
    fn empty_input_and_empty_values() {
        assert_eq!(decoded(""), json!({}));
        assert_eq!(decoded("description="), json!({"description": ""}));
        assert_eq!(decoded("&&"), json!({}));
    }

    #[test]
    fn later_scalar_wins_but_scalar_and_hash_conflict() {
        assert_eq!(decoded("a=1&a=2"), json!({"a": "2"}));
        let err = decode("metadata=x&metadata[k]=v").unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(err.param.as_deref(), Some("metadata[k]"));
        assert!(decode("metadata[k]=v&metadata=x").is_err());
    }

    #[test]
    fn malformed_names_are_rejected() {
        assert!(decode("a[b=1").is_err());
        assert!(decode("[a]=1").is_err());
        assert!(decode("a[b]c=1").is_err());
    }

    #[test]
    fn encode_round_trips() {
        let original = json!({"a": "1", "m": {"k": "v w"}, "items": [{"price": "p"}]});
        let Value::Object(map) = &original else { unreachable!() };
        assert_eq!(decoded(&encode(map)), original);
    }
}
