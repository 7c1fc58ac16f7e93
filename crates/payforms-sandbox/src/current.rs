//! Members the current Stripe API versions (Basil, 2025-03-31, and later)
//! have where older ones had others, so payforms' templates, pinned to the
//! current version, read what Stripe sends them:
//! - an invoice's subscription under `parent.subscription_details`, and the
//!   secret to finish its payment in `confirmation_secret`;
//! - a subscription's billing period on each of its items.
//!
//! Like [`super::legacy`], the sandbox answers with both shapes (the older
//! members stay), filled in wherever an object leaves the sandbox and
//! before an expansion looks for them.

use serde_json::{json, Map, Value};

use super::objects::Objects;

/// Add the current members to `map` itself (not to what it contains).
pub fn complete(objects: &Objects, owner: Option<&str>, map: &mut Map<String, Value>) {
    match map.get("object").and_then(Value::as_str) {
        Some("invoice") => complete_invoice(objects, owner, map),
        Some("subscription") => complete_subscription(map),
        _ => {}
    }
}

fn complete_invoice(objects: &Objects, owner: Option<&str>, map: &mut Map<String, Value>) {
    if !map.contains_key("parent") {
        let parent = match map.get("subscription") {
            Some(subscription) if !subscription.is_null() => json!({
                "type": "subscription_details",
                "quote_details": null,
                "subscription_details": {
                    "subscription": subscription,
                    "metadata": map.get("subscription_details").and_then(|d| d.get("metadata")).cloned().unwrap_or(json!({}))
                }
            }),
            _ => Value::Null,
        };
        map.insert("parent".into(), parent);
    }
    if map.get("confirmation_secret").is_none_or(|v| v.is_null()) {
        let secret = match map.get("payment_intent") {
            Some(Value::Object(pi)) => pi.get("client_secret").cloned(),
            Some(Value::String(id)) => objects.get(owner, id).and_then(|pi| pi.get("client_secret")).cloned(),
            _ => None,
        };
        let value = match secret {
            Some(secret) if !secret.is_null() => json!({ "client_secret": secret, "type": "payment_intent" }),
            _ => Value::Null,
        };
        map.insert("confirmation_secret".into(), value);
    }
}

fn complete_subscription(map: &mut Map<String, Value>) {
    let start = map.get("current_period_start").cloned().unwrap_or(Value::Null);
    let end = map.get("current_period_end").cloned().unwrap_or(Value::Null);
    if let Some(Value::Array(items)) = map.get_mut("items").and_then(|i| i.get_mut("data")) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            item.entry("current_period_start").or_insert_with(|| start.clone());
            item.entry("current_period_end").or_insert_with(|| end.clone());
        }
    }
}

/// Add the current members to every invoice and subscription inside `value`
/// (walked with an explicit stack).
pub fn fill(objects: &Objects, owner: Option<&str>, value: &mut Value) {
    let mut pending: Vec<&mut Value> = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                complete(objects, owner, map);
                pending.extend(map.values_mut());
            }
            Value::Array(items) => pending.extend(items.iter_mut()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoices_and_subscriptions_get_the_current_members() {
        let mut objects = Objects::default();
        objects.insert(
            None,
            json!({"id": "pi_1", "object": "payment_intent", "client_secret": "pi_1_secret_x"}),
        );
        let mut body = json!({
            "object": "subscription",
            "current_period_start": 1, "current_period_end": 2,
            "items": {"object": "list", "data": [{"object": "subscription_item", "id": "si_1"}]},
            "latest_invoice": {"object": "invoice", "id": "in_1", "subscription": "sub_1", "payment_intent": "pi_1"}
        });
        fill(&objects, None, &mut body);
        assert_eq!(body["items"]["data"][0]["current_period_end"], 2);
        assert_eq!(
            body["latest_invoice"]["parent"]["subscription_details"]["subscription"],
            "sub_1"
        );
        assert_eq!(
            body["latest_invoice"]["confirmation_secret"]["client_secret"],
            "pi_1_secret_x"
        );
        let mut alone = json!({"object": "invoice", "id": "in_2", "subscription": null, "payment_intent": null});
        fill(&objects, None, &mut alone);
        assert!(alone["parent"].is_null() && alone["confirmation_secret"].is_null());
    }
}
