//! Subscribing payforms to Stripe's webhooks (as Saleor does): one webhook
//! endpoint for `PAYFORMS_PUBLIC_URL/webhooks/stripe`, created through the
//! `create_webhook_endpoint` request type, its signing secret stored only
//! encrypted.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::config::Secret;
use crate::db::query::{Filter, FilterOp, RecordQuery};
use crate::instance::Instance;

pub use crate::db::schema::WEBHOOK_ENDPOINT_MODEL as ENDPOINT_MODEL;
/// The runtime-only request type that creates the endpoint.
pub const REQUEST_TYPE: &str = "modules/stripe/create_webhook_endpoint";

#[derive(Debug, PartialEq)]
pub enum Subscription {
    /// PAYFORMS_PUBLIC_URL is not set.
    NotConfigured,
    AlreadySubscribed(String),
    Subscribed(String),
    /// The endpoint now lists the event types the app's processors handle
    /// (a processor was added or removed since it was made).
    EventsUpdated(String),
}

/// Why payforms did not subscribe.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("PAYFORMS_PUBLIC_URL `{url}` is not a URL: {reason}")]
    NotAUrl { url: String, reason: url::ParseError },
    #[error(
        "PAYFORMS_PUBLIC_URL points at {0}, which Stripe cannot reach; payforms will not subscribe \
         to webhooks for localhost or 127.0.0.1. Use the public address of this server (or a tunnel such as ngrok)."
    )]
    Unreachable(String),
    #[error("PAYFORMS_PUBLIC_URL must be an http(s) URL")]
    NotHttp,
    #[error("the {ENDPOINT_MODEL} model is missing")]
    NoEndpointModel,
    #[error(transparent)]
    Store(#[from] crate::db::StoreError),
    #[error("creating the Stripe webhook endpoint failed: {0}")]
    Gateway(#[from] crate::gateway::DispatchFailure),
}

/// Refuse addresses Stripe cannot reach.
pub fn endpoint_url(public_url: &str) -> Result<String, SubscribeError> {
    let url = url::Url::parse(public_url.trim()).map_err(|reason| SubscribeError::NotAUrl {
        url: public_url.to_string(),
        reason,
    })?;
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    let local = host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "::1"
        || host == "0.0.0.0"
        || host.is_empty();
    if local {
        return Err(SubscribeError::Unreachable(host));
    }
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(SubscribeError::NotHttp);
    }
    Ok(format!("{}/webhooks/stripe", public_url.trim().trim_end_matches('/')))
}

/// Create the endpoint unless one for this URL is stored. Blocking.
pub fn ensure_subscribed(instance: &Instance) -> Result<Subscription, SubscribeError> {
    let Some(public_url) = &instance.settings.public_url else {
        return Ok(Subscription::NotConfigured);
    };
    let url = endpoint_url(public_url)?;
    let version = instance.current();
    let model = version
        .app
        .model_type(ENDPOINT_MODEL)
        .cloned()
        .ok_or(SubscribeError::NoEndpointModel)?;
    let mut matching = Map::new();
    matching.insert("url".into(), json!(url));
    let events = super::event_types::handled_event_types(&version.app);
    if let Some(existing) = instance.store.find_record(&model, &matching)? {
        let id = existing
            .properties
            .get("gateway_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let stored: BTreeSet<&str> = existing
            .properties
            .get("enabled_events")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let wanted: BTreeSet<&str> = events.iter().map(String::as_str).collect();
        if stored == wanted || id.is_empty() {
            return Ok(Subscription::AlreadySubscribed(id));
        }
        let data = json!({
            "gateway_id": id,
            "enabled_events": events,
            // One key per wanted list: a retry never applies an older list.
            "idempotency_key": format!(
                "pf_subscribe_events_{}",
                hex::encode(&crate::config::hash_api_key(&format!("{id} {}", events.join(",")))[..12])
            ),
        });
        instance
            .gateway
            .dispatch(&version.app, REQUEST_TYPE, data, None, crate::gateway::Caller::Runtime)?;
        return Ok(Subscription::EventsUpdated(id));
    }
    let data = json!({
        "url": url,
        "enabled_events": events,
        "description": "payforms",
        // The same key for the same URL: a crash and retry never makes two.
        "idempotency_key": format!("pf_subscribe_{}", hex::encode(&crate::config::hash_api_key(&url)[..12])),
    });
    let outcome = instance
        .gateway
        .dispatch(&version.app, REQUEST_TYPE, data, None, crate::gateway::Caller::Runtime)?;
    let gateway_id = outcome
        .record
        .as_ref()
        .and_then(|r| r["gateway_id"].as_str())
        .unwrap_or_default()
        .to_string();
    // Its secret verifies events from now on, not after the cache's time.
    instance.endpoint_secrets.reload(|| stored_secrets(instance));
    Ok(Subscription::Subscribed(gateway_id))
}

/// Decrypted signing secrets of the endpoints payforms created. Blocking.
pub fn stored_secrets(instance: &Instance) -> Vec<Secret> {
    let loaded = instance.current();
    let Some(model) = loaded.app.model_type(ENDPOINT_MODEL).cloned() else {
        return Vec::new();
    };
    let query = RecordQuery {
        filters: vec![Filter {
            property: "secret_encrypted".into(),
            op: FilterOp::Exists(true),
        }],
        first: Some(20),
        ..RecordQuery::default()
    };
    let Ok(page) = instance.store.query_records(&model, &query) else {
        return Vec::new();
    };
    page.records
        .iter()
        .filter_map(|r| r.properties.get("secret_encrypted").and_then(Value::as_str))
        .filter_map(|stored| match crate::secrets::decrypt(&instance.settings, stored) {
            Ok(secret) => Some(secret),
            Err(e) => {
                // Events signed with it will be refused: say why.
                tracing::error!("a webhook endpoint's signing secret cannot be read: {e}");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_local_addresses() {
        for url in [
            "http://localhost:8080",
            "http://127.0.0.1",
            "https://[::1]/",
            "http://0.0.0.0",
            "http://app.localhost",
        ] {
            let err = endpoint_url(url).unwrap_err();
            assert!(err.to_string().contains("cannot reach"), "{url}: {err}");
        }
        assert_eq!(
            endpoint_url("https://shop.example.com/").unwrap(),
            "https://shop.example.com/webhooks/stripe"
        );
        assert!(endpoint_url("not a url").is_err());
    }
}
