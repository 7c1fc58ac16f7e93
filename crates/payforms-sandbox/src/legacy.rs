//! Members that older Stripe API versions include (apps pinned to them
//! read them): a PaymentIntent's `charges` list, gone since 2022-11-15.
//! See [`super::current`] for the members of the current versions. Filled in wherever a PaymentIntent leaves the sandbox
//! (responses, expansions, errors, events), from the stored charges.

use serde_json::{json, Value};

use super::objects::Objects;

/// Add `charges` to every PaymentIntent inside `value`.
pub fn fill(objects: &Objects, owner: Option<&str>, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("object").and_then(Value::as_str) == Some("payment_intent") {
                if let Some(id) = map.get("id").and_then(Value::as_str).map(str::to_string) {
                    let data: Vec<Value> = objects
                        .newest_first(owner, "charge")
                        .filter(|c| c["payment_intent"] == id.as_str())
                        .cloned()
                        .collect();
                    map.insert(
                        "charges".into(),
                        json!({
                            "object": "list",
                            "data": data,
                            "has_more": false,
                            "total_count": data.len(),
                            "url": format!("/v1/charges?payment_intent={id}")
                        }),
                    );
                }
            }
            for (key, member) in map.iter_mut() {
                if key != "charges" {
                    fill(objects, owner, member);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                fill(objects, owner, item);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_intents_get_their_charges_wherever_they_are() {
        let mut objects = Objects::default();
        objects.insert(
            None,
            json!({"id": "ch_1", "object": "charge", "payment_intent": "pi_1"}),
        );
        objects.insert(
            None,
            json!({"id": "ch_2", "object": "charge", "payment_intent": "pi_2"}),
        );
        objects.insert(
            None,
            json!({"id": "ch_3", "object": "charge", "payment_intent": "pi_1"}),
        );
        let mut body = json!({"error": {"payment_intent": {"id": "pi_1", "object": "payment_intent"}}});
        fill(&objects, None, &mut body);
        let charges = &body["error"]["payment_intent"]["charges"];
        assert_eq!(charges["total_count"], 2);
        assert_eq!(charges["data"][0]["id"], "ch_3");
        let mut list = json!({"object": "list", "data": [{"id": "pi_9", "object": "payment_intent"}]});
        fill(&objects, None, &mut list);
        assert_eq!(list["data"][0]["charges"]["data"], json!([]));
        let mut other = json!({"id": "ch_1", "object": "charge"});
        fill(&objects, None, &mut other);
        assert!(other.get("charges").is_none());
    }
}
