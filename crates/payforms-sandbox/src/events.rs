//! Events: every state change records an `evt_` (type, `data.object`,
//! `previous_attributes` for updates) and picks its webhook targets:
//! endpoints created through the API whose `enabled_events` match (platform
//! events to platform endpoints, connected-account events to `connect`
//! endpoints), plus the targets given in `SandboxOptions`, which get all.

use serde_json::{json, Map, Value};

use super::endpoint::Call;
use super::ids;
use super::state::State;
use super::webhooks::Delivery;
use super::WebhookTarget;

/// The API version stamped on events and webhook endpoints.
pub const API_VERSION: &str = "2024-06-20";

impl State {
    /// Record `kind` about `object` for the caller's account.
    pub fn emit(&mut self, call: &Call, kind: &str, object: &Value) {
        self.emit_for(call, call.owner(), kind, object, None);
    }

    /// Record an `.updated` event with the changed members' old values.
    pub fn emit_update(&mut self, call: &Call, kind: &str, before: &Value, after: &Value) {
        let previous = previous_attributes(before, after);
        self.emit_for(call, call.owner(), kind, after, Some(previous));
    }

    /// Record an event on behalf of a given account (`None`: the platform).
    pub fn emit_for(
        &mut self,
        call: &Call,
        account: Option<&str>,
        kind: &str,
        object: &Value,
        previous: Option<Value>,
    ) {
        let id = ids::new_id("evt_");
        let mut object = object.clone();
        super::legacy::fill(&self.objects, account, &mut object);
        super::current::fill(&self.objects, account, &mut object);
        let mut data = Map::new();
        data.insert("object".into(), object);
        if let Some(previous) = previous {
            data.insert("previous_attributes".into(), previous);
        }
        let mut event = json!({
            "id": id,
            "object": "event",
            "api_version": API_VERSION,
            "created": call.now,
            "data": Value::Object(data),
            "livemode": false,
            "pending_webhooks": 0,
            "request": {"id": call.request_id, "idempotency_key": call.idempotency_key},
            "type": kind
        });
        if let Some(account) = account {
            event["account"] = json!(account);
        }
        self.objects.insert(account, event);
        self.outbox.push(id);
    }

    /// Turn the pending events into deliveries and set each event's
    /// `pending_webhooks`. Called once the request has committed.
    pub fn take_deliveries(&mut self, extra_targets: &[WebhookTarget]) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        for event_id in std::mem::take(&mut self.outbox) {
            let Some(mut event) = self.objects.get_any(&event_id).cloned() else {
                continue;
            };
            let kind = event["type"].as_str().unwrap_or("").to_string();
            let for_connect = event.get("account").is_some();
            let mut targets: Vec<(String, String)> = self
                .objects
                .newest_first(None, "webhook_endpoint")
                .filter(|we| we["status"] == "enabled")
                .filter(|we| we["connect"].as_bool().unwrap_or(false) == for_connect)
                .filter(|we| matches(&we["enabled_events"], &kind))
                .filter_map(|we| {
                    let id = we["id"].as_str()?;
                    let url = we["url"].as_str()?;
                    Some((url.to_string(), self.endpoint_secrets.get(id)?.clone()))
                })
                .collect();
            targets.reverse(); // oldest endpoint first
            targets.extend(extra_targets.iter().map(|t| (t.url.clone(), t.secret.clone())));
            event["pending_webhooks"] = json!(targets.len());
            let payload = event.to_string();
            self.objects.replace(event);
            deliveries.extend(targets.into_iter().map(|(url, secret)| Delivery {
                event_id: event_id.clone(),
                url,
                secret,
                payload: payload.clone(),
            }));
        }
        deliveries
    }

    /// A target answered 2xx: one fewer pending webhook.
    pub fn webhook_delivered(&mut self, event_id: &str) {
        if let Some(mut event) = self.objects.get_any(event_id).cloned() {
            let pending = event["pending_webhooks"].as_i64().unwrap_or(0);
            event["pending_webhooks"] = json!((pending - 1).max(0));
            self.objects.replace(event);
        }
    }
}

/// Whether an endpoint's `enabled_events` includes `kind` (or `*`).
pub fn matches(enabled_events: &Value, kind: &str) -> bool {
    enabled_events
        .as_array()
        .map(|events| events.iter().any(|e| e == "*" || e == kind))
        .unwrap_or(false)
}

/// The top-level members that changed, with their old values.
pub fn previous_attributes(before: &Value, after: &Value) -> Value {
    let mut previous = Map::new();
    if let (Value::Object(old), Value::Object(new)) = (before, after) {
        for (key, old_value) in old {
            if new.get(key) != Some(old_value) {
                previous.insert(key.clone(), old_value.clone());
            }
        }
    }
    Value::Object(previous)
}

/// A plausible event type: `noun.verb`, lowercase, dots and underscores.
pub fn is_event_type(name: &str) -> bool {
    name == "*"
        || (name.contains('.')
            && name
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_attributes_lists_changed_members_only() {
        let before = json!({"a": 1, "b": {"x": 1}, "c": "same"});
        let after = json!({"a": 2, "b": {"x": 2}, "c": "same"});
        assert_eq!(previous_attributes(&before, &after), json!({"a": 1, "b": {"x": 1}}));
        assert_eq!(previous_attributes(&json!(null), &after), json!({}));
    }

    #[test]
    fn enabled_events_matching() {
        assert!(matches(&json!(["*"]), "customer.created"));
        assert!(matches(&json!(["customer.created"]), "customer.created"));
        assert!(!matches(&json!(["customer.updated"]), "customer.created"));
        assert!(!matches(&json!(null), "customer.created"));
    }

    #[test]
    fn event_type_names() {
        assert!(is_event_type("payment_intent.succeeded"));
        assert!(is_event_type("customer.subscription.created"));
        assert!(is_event_type("*"));
        assert!(!is_event_type("customer"));
        assert!(!is_event_type("Customer.Created"));
        assert!(!is_event_type("customer..created"));
        assert!(!is_event_type(""));
    }
}
