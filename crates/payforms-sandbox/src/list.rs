//! Stripe's list envelope and cursor pagination:
//! `{"object":"list","data":[...],"has_more":bool,"url":"/v1/..."}`, newest
//! first, `limit` (1..=100, default 10), `starting_after`, `ending_before`,
//! and the `created` filter (`created=t` or `created[gte|gt|lte|lt]=t`).

use serde_json::{json, Value};

use super::api_error::ApiError;
use super::params::Params;

/// Parameters every list endpoint accepts.
pub const LIST_PARAMS: &[&str] = &["limit", "starting_after", "ending_before", "created"];

/// Wrap objects (already filtered, newest first) in a list, one page of them.
/// `label` words the 404 for an unknown cursor (`No such customer: ...`).
pub fn page(items: Vec<Value>, params: &Params, url: &str, label: &str) -> Result<Value, ApiError> {
    let limit = match params.int("limit")? {
        None => 10,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "limit",
                "Invalid limit: must be an integer between 1 and 100",
            ))
        }
    };
    let items = filter_created(items, params)?;
    let starting_after = params.str("starting_after")?;
    let ending_before = params.str("ending_before")?;
    if starting_after.is_some() && ending_before.is_some() {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: ending_before, starting_after.",
        ));
    }
    let position_of = |id: &str, param: &str| {
        items
            .iter()
            .position(|v| v["id"] == id)
            .ok_or_else(|| ApiError::no_such(label, id, param))
    };
    let (data, has_more) = if let Some(cursor) = starting_after {
        let after = position_of(&cursor, "starting_after")? + 1;
        let rest = &items[after..];
        (rest.iter().take(limit).cloned().collect(), rest.len() > limit)
    } else if let Some(cursor) = ending_before {
        let before = position_of(&cursor, "ending_before")?;
        let newer = &items[..before];
        let start = newer.len().saturating_sub(limit);
        (newer[start..].to_vec(), start > 0)
    } else {
        (items.iter().take(limit).cloned().collect(), items.len() > limit)
    };
    Ok(envelope(data, has_more, url))
}

/// A complete list (sub-lists embedded in objects: refunds, items, lines).
pub fn envelope(data: Vec<Value>, has_more: bool, url: &str) -> Value {
    json!({"object": "list", "data": data, "has_more": has_more, "url": url})
}

fn filter_created(items: Vec<Value>, params: &Params) -> Result<Vec<Value>, ApiError> {
    let mut bounds: Vec<(&str, i64)> = Vec::new();
    let is_range = matches!(params.as_map().get("created"), Some(Value::Object(_)));
    if !is_range {
        if let Some(t) = params.int("created")? {
            bounds.push(("eq", t));
        }
    } else if let Some(range) = params.hash("created")? {
        range.allow(&["gt", "gte", "lt", "lte"])?;
        for op in ["gt", "gte", "lt", "lte"] {
            if let Some(t) = range.int(op)? {
                bounds.push((op, t));
            }
        }
    }
    if bounds.is_empty() {
        return Ok(items);
    }
    Ok(items
        .into_iter()
        .filter(|v| {
            let created = v["created"].as_i64().unwrap_or(0);
            bounds.iter().all(|(op, t)| match *op {
                "gt" => created > *t,
                "gte" => created >= *t,
                "lt" => created < *t,
                "lte" => created <= *t,
                _ => created == *t,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::form;
    use super::*;

    fn items(n: usize) -> Vec<Value> {
        // newest first: id_{n-1} ... id_0, created = index
        (0..n)
            .rev()
            .map(|i| json!({"id": format!("x_{i}"), "created": i}))
            .collect()
    }

    fn ids(list: &Value) -> Vec<String> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn params(q: &str) -> Params {
        Params::new(form::decode(q).unwrap())
    }

    #[test]
    fn default_limit_is_ten_with_has_more() {
        let list = page(items(12), &params(""), "/v1/x", "x").unwrap();
        assert_eq!(list["object"], "list");
        assert_eq!(list["url"], "/v1/x");
        assert_eq!(ids(&list).len(), 10);
        assert_eq!(ids(&list)[0], "x_11");
        assert_eq!(list["has_more"], true);
    }

    #[test]
    fn starting_after_walks_to_older_items() {
        let list = page(items(5), &params("limit=2&starting_after=x_3"), "/v1/x", "x").unwrap();
        assert_eq!(ids(&list), vec!["x_2", "x_1"]);
        assert_eq!(list["has_more"], true);
        let last = page(items(5), &params("limit=2&starting_after=x_1"), "/v1/x", "x").unwrap();
        assert_eq!(ids(&last), vec!["x_0"]);
        assert_eq!(last["has_more"], false);
    }

    #[test]
    fn ending_before_walks_to_newer_items() {
        let list = page(items(5), &params("limit=2&ending_before=x_1"), "/v1/x", "x").unwrap();
        assert_eq!(ids(&list), vec!["x_3", "x_2"]);
        assert_eq!(list["has_more"], true);
        let first = page(items(5), &params("ending_before=x_4"), "/v1/x", "x").unwrap();
        assert!(ids(&first).is_empty());
        assert_eq!(first["has_more"], false);
    }

    #[test]
    fn bad_limits_and_cursors() {
        assert!(page(items(1), &params("limit=0"), "/v1/x", "x").is_err());
        assert!(page(items(1), &params("limit=101"), "/v1/x", "x").is_err());
        assert!(page(items(1), &params("limit=ten"), "/v1/x", "x").is_err());
        let err = page(items(1), &params("starting_after=cus_nope"), "/v1/x", "customer").unwrap_err();
        assert_eq!(err.status, 404);
        assert_eq!(err.message, "No such customer: 'cus_nope'");
        assert!(page(items(3), &params("starting_after=x_1&ending_before=x_2"), "/v1/x", "x").is_err());
    }

    #[test]
    fn empty_list() {
        let list = page(Vec::new(), &params(""), "/v1/x", "x").unwrap();
        assert_eq!(list["data"], json!([]));
        assert_eq!(list["has_more"], false);
    }

    #[test]
    fn created_filters() {
        let list = page(items(6), &params("created[gte]=2&created[lt]=4"), "/v1/x", "x").unwrap();
        assert_eq!(ids(&list), vec!["x_3", "x_2"]);
        let exact = page(items(6), &params("created=5"), "/v1/x", "x").unwrap();
        assert_eq!(ids(&exact), vec!["x_5"]);
        assert!(page(items(6), &params("created[since]=5"), "/v1/x", "x").is_err());
    }
}
