//! Merchant notifications: after a Stripe event is processed,
//! payforms POSTs its own event (`payment.completed`, `payment.failed`,
//! `payment.refunded`) to every configured merchant URL, signed with
//! `Payforms-Signature: t=…,v1=…` (the Stripe scheme, payforms' secret).
//!
//! Each delivery is a `merchant_delivery` record (durable, visible through
//! GraphQL), retried with backoff by a background loop. The loop claims
//! what it sends (`pending` -> `sending` for a lease), so several instances
//! on one database send each notification once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::signature::signature_header;
use crate::db::claims::Claim;
use crate::db::models::webhook_event::WebhookEvent;
use crate::db::schema::ModelType;
use crate::db::write::RecordWrite;
use crate::db::Store;
use crate::instance::Instance;
use crate::merchant_id::MerchantId;

pub use crate::db::schema::MERCHANT_DELIVERY_MODEL as DELIVERY_MODEL;
pub const SIGNATURE_HEADER: &str = "Payforms-Signature";
const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed delivery is an instance's to send (a send times out
/// after 10 s); after that another instance may take it.
const CLAIM_SECONDS: i64 = 60;

/// The merchant event for a Stripe event, if any.
pub fn merchant_event_type(stripe_type: &str, object: &Value) -> Option<&'static str> {
    match stripe_type {
        "payment_intent.succeeded" => Some("payment.completed"),
        "payment_intent.payment_failed" => Some("payment.failed"),
        "charge.refunded" => Some("payment.refunded"),
        "charge.succeeded" if object["payment_intent"].is_null() => Some("payment.completed"),
        "charge.failed" if object["payment_intent"].is_null() => Some("payment.failed"),
        _ => None,
    }
}

/// The signing secret for merchant deliveries.
pub fn signing_secret(instance: &Instance) -> String {
    match &instance.settings.merchant_webhook_secret {
        Some(secret) => secret.expose().to_string(),
        None => hex::encode(instance.settings.derived_key("merchant-webhooks")),
    }
}

fn model(instance: &Instance) -> Option<Arc<ModelType>> {
    instance.current().app.model_type(DELIVERY_MODEL).cloned()
}

/// Whether an event of this type may become a merchant event (the charge
/// events only without a PaymentIntent: [`merchant_event_type`] decides).
pub fn may_notify(stripe_type: &str) -> bool {
    matches!(
        stripe_type,
        "payment_intent.succeeded"
            | "payment_intent.payment_failed"
            | "charge.refunded"
            | "charge.succeeded"
            | "charge.failed"
    )
}

/// The notification URLs of the merchants of a claimed batch of events,
/// read once for the batch: a lookup per processed event cost the worker a
/// pooled connection and a query each (two round trips on PostgreSQL). A
/// URL set while a batch runs is used from the next batch on; what is sent
/// is checked against the merchant's URL again at send time ([`deliver`]).
#[derive(Debug, Default)]
pub struct BatchTargets(HashMap<MerchantId, Vec<String>>);

impl BatchTargets {
    /// Look up the URLs of every merchant with an event in `events` that
    /// may notify (none are read for a batch that cannot). Blocking.
    pub fn for_events(instance: &Instance, events: &[WebhookEvent]) -> BatchTargets {
        let mut urls = HashMap::new();
        for event in events.iter().filter(|e| may_notify(&e.event_type)) {
            if !urls.contains_key(&event.merchant) {
                urls.insert(event.merchant.clone(), target_urls(instance, &event.merchant));
            }
        }
        BatchTargets(urls)
    }

    /// `merchant`'s URLs as read for the batch (none if it had no event
    /// that may notify).
    pub fn urls(&self, merchant: &MerchantId) -> &[String] {
        self.0.get(merchant).map_or(&[], Vec::as_slice)
    }
}

/// Record one pending delivery per merchant URL, through `store` (the
/// store of the event's merchant), the URLs read now. Blocking.
pub fn enqueue(instance: &Instance, store: &Store, event: &Value) {
    let object = &event["data"]["object"];
    if merchant_event_type(event["type"].as_str().unwrap_or_default(), object).is_none() {
        return;
    }
    enqueue_to(instance, store, event, &target_urls(instance, store.merchant()));
}

/// Record one pending delivery per URL in `urls` (the merchant's, as read
/// for this event's batch), through `store` (the store of the event's
/// merchant). Blocking.
pub fn enqueue_to(instance: &Instance, store: &Store, event: &Value, urls: &[String]) {
    let object = &event["data"]["object"];
    let Some(kind) = merchant_event_type(event["type"].as_str().unwrap_or_default(), object) else {
        return;
    };
    if urls.is_empty() {
        return;
    }
    let Some(model) = model(instance) else {
        tracing::warn!("merchant notifications need the {DELIVERY_MODEL} model");
        return;
    };
    let event_id = event["id"].as_str().unwrap_or_default();
    let payload = json!({
        "id": format!("pf_{event_id}"),
        "type": kind,
        "created": Utc::now().timestamp(),
        "source_event": event_id,
        "data": {
            "provider": "stripe",
            "provider_ref": object["id"],
            "amount": object["amount"],
            "amount_refunded": object["amount_refunded"],
            "currency": object["currency"],
            "status": object["status"],
        }
    });
    for url in urls {
        let mut properties = Map::new();
        properties.insert("delivery_id".into(), json!(format!("{event_id}:{url}")));
        properties.insert("event_id".into(), json!(event_id));
        properties.insert("event_type".into(), json!(kind));
        properties.insert("url".into(), json!(url));
        properties.insert("payload".into(), payload.clone());
        properties.insert("state".into(), json!("pending"));
        properties.insert("attempts".into(), json!(0));
        properties.insert("next_attempt_at".into(), json!(Utc::now().to_rfc3339()));
        let mut key = Map::new();
        key.insert("delivery_id".into(), properties["delivery_id"].clone());
        // Keyed by event and URL: processing an event again, here or on
        // another instance, adds nothing.
        if let Err(e) = store.write(&model, RecordWrite::create_once(key, properties)) {
            tracing::warn!("could not record a merchant delivery: {e}");
        }
    }
}

/// The URLs of [`targets`] (a URL whose secret cannot be read is not one).
fn target_urls(instance: &Instance, merchant: &MerchantId) -> Vec<String> {
    targets(instance, merchant).into_iter().map(|(url, _)| url).collect()
}

/// Where `merchant`'s notifications go, each URL with the secret that signs
/// what is sent there: the settings' URLs (the default merchant's) and the
/// URL a merchant set with `PUT /v1/merchant/webhook`. Read when deliveries
/// are recorded (once per claimed batch, see [`BatchTargets`]) and again
/// when each is sent. Blocking.
pub fn targets(instance: &Instance, merchant: &MerchantId) -> Vec<(String, String)> {
    let mut targets = Vec::new();
    if merchant.is_default() {
        let secret = signing_secret(instance);
        targets.extend(
            instance
                .settings
                .merchant_webhook_urls
                .iter()
                .map(|url| (url.clone(), secret.clone())),
        );
    }
    match crate::merchants::get(&instance.store, merchant) {
        Ok(Some(row)) => {
            if let (Some(url), Ok(Some(secret))) = (
                row.webhook_url.clone(),
                crate::merchants::webhook_signing_secret(&instance.settings, &row),
            ) {
                if !targets.iter().any(|(known, _)| *known == url) {
                    targets.push((url, secret.expose().to_string()));
                }
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("merchant {merchant}'s notification URL unavailable: {e}"),
    }
    targets
}

/// Deliver due notifications until the runtime stops.
pub fn start(instance: Arc<Instance>, runtime: &tokio::runtime::Handle) {
    // No redirects: a notification goes to the configured URL or nowhere.
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("merchant notifications are off: {e}");
            return;
        }
    };
    runtime.spawn(async move {
        loop {
            let loading = instance.clone();
            let due = tokio::task::spawn_blocking(move || due_deliveries(&loading))
                .await
                .unwrap_or_default();
            if due.is_empty() {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            // Sent at once, each within the client's timeout, so the batch
            // ends well inside its claim's lease.
            futures::future::join_all(
                due.into_iter()
                    .map(|(merchant, id, properties)| deliver(&instance, &client, merchant, id, properties)),
            )
            .await;
        }
    });
}

/// Claim the deliveries that are due (pending and due, or `sending` whose
/// claim ran out because its instance died): `sending` for the lease, so no
/// other instance sends them meanwhile.
fn due_deliveries(instance: &Instance) -> Vec<(MerchantId, i64, Map<String, Value>)> {
    let Some(model) = model(instance) else {
        return Vec::new();
    };
    // The default merchant, and every merchant that has a URL (the only
    // ones whose events record deliveries).
    let mut merchants = vec![MerchantId::default_merchant()];
    match crate::db::models::merchant::with_webhook_url(&instance.store) {
        Ok(rows) => merchants.extend(
            rows.iter()
                .filter_map(|row| MerchantId::parse(&row.id))
                .filter(|m| !m.is_default()),
        ),
        Err(e) => tracing::warn!("merchant deliveries unavailable: {e}"),
    }
    let claim = Claim {
        state: "state",
        due_at: "next_attempt_at",
        waiting: "pending",
        claimed: "sending",
        lease: chrono::Duration::seconds(CLAIM_SECONDS),
        limit: 20,
    };
    let mut due = Vec::new();
    for merchant in merchants {
        let store = instance.store.clone().with_merchant(merchant.clone());
        match store.claim_due_records(&model, &claim) {
            Ok(records) => due.extend(records.into_iter().map(|r| (merchant.clone(), r.id, r.properties))),
            Err(e) => tracing::warn!("merchant deliveries unavailable: {e}"),
        }
    }
    due
}

async fn deliver(
    instance: &Arc<Instance>,
    client: &reqwest::Client,
    merchant: MerchantId,
    id: i64,
    properties: Map<String, Value>,
) {
    let url = properties
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let attempts = properties.get("attempts").and_then(Value::as_i64).unwrap_or(0) + 1;
    // Checked again at send time: a record that names any other URL than
    // its merchant's (the URL changed, or something wrote the record) is
    // never signed or sent.
    let looking = (instance.clone(), merchant.clone());
    let targets = tokio::task::spawn_blocking(move || targets(&looking.0, &looking.1))
        .await
        .unwrap_or_default();
    let Some(secret) = targets
        .into_iter()
        .find(|(known, _)| *known == url)
        .map(|(_, secret)| secret)
    else {
        tracing::warn!("merchant delivery {id} names a URL that is not configured; not sent");
        let mut update = Map::new();
        update.insert("attempts".into(), json!(attempts));
        update.insert("state".into(), json!("refused"));
        update.insert(
            "last_error".into(),
            json!("the URL is not the merchant's notification URL"),
        );
        save_update(instance, &merchant, id, update).await;
        return;
    };
    // A merchant's URL is resolved again now: a name that has come to
    // point at a private address is not sent to (the settings' URLs and
    // the sandbox demo are the operator's own).
    if !merchant.is_default() && !instance.settings.sandbox && !resolves_publicly(&url).await {
        let mut update = Map::new();
        update.insert("attempts".into(), json!(attempts));
        update.insert("state".into(), json!("refused"));
        update.insert("last_error".into(), json!("the URL resolves to a private address"));
        save_update(instance, &merchant, id, update).await;
        return;
    }
    let body = properties.get("payload").cloned().unwrap_or(Value::Null).to_string();
    let header = signature_header(&secret, Utc::now().timestamp(), body.as_bytes());
    let result = client
        .post(&url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, header)
        .body(body)
        .send()
        .await;
    let mut update = Map::new();
    update.insert("attempts".into(), json!(attempts));
    match result {
        Ok(response) if response.status().is_success() => {
            update.insert("state".into(), json!("delivered"));
            update.insert("response_status".into(), json!(response.status().as_u16()));
            update.insert("delivered_at".into(), json!(Utc::now().to_rfc3339()));
        }
        other => {
            let (status, error) = match other {
                Ok(response) => (
                    json!(response.status().as_u16()),
                    format!("HTTP {}", response.status().as_u16()),
                ),
                Err(e) => (
                    Value::Null,
                    if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        "connection failed".to_string()
                    },
                ),
            };
            let next: DateTime<Utc> = Utc::now()
                + chrono::Duration::from_std(super::backoff::backoff(attempts as i32))
                    .unwrap_or(chrono::Duration::seconds(60));
            update.insert(
                "state".into(),
                json!(if attempts >= MAX_ATTEMPTS { "failed" } else { "pending" }),
            );
            update.insert("response_status".into(), status);
            update.insert("last_error".into(), json!(error));
            update.insert("next_attempt_at".into(), json!(next.to_rfc3339()));
        }
    }
    save_update(instance, &merchant, id, update).await;
}

/// Every address the URL's host resolves to is public.
async fn resolves_publicly(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        return false;
    };
    // host_str keeps an IPv6 literal's brackets, as lookup_host wants them.
    let target = format!("{host}:{port}");
    let found = tokio::net::lookup_host(target).await;
    match found {
        Ok(addresses) => {
            let addresses: Vec<_> = addresses.collect();
            !addresses.is_empty() && addresses.iter().all(|a| crate::merchants::is_public_ip(a.ip()))
        }
        Err(_) => false,
    }
}

async fn save_update(instance: &Arc<Instance>, merchant: &MerchantId, id: i64, update: Map<String, Value>) {
    let updating = instance.clone();
    let store = instance.store.clone().with_merchant(merchant.clone());
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(model) = model(&updating) {
            if let Err(e) = store.update_record(&model, id, update) {
                tracing::warn!("could not update merchant delivery {id}: {e}");
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_mapping() {
        assert_eq!(
            merchant_event_type("payment_intent.succeeded", &json!({})),
            Some("payment.completed")
        );
        assert_eq!(
            merchant_event_type("payment_intent.payment_failed", &json!({})),
            Some("payment.failed")
        );
        assert_eq!(
            merchant_event_type("charge.refunded", &json!({})),
            Some("payment.refunded")
        );
        assert_eq!(
            merchant_event_type("charge.succeeded", &json!({"payment_intent": "pi_1"})),
            None
        );
        assert_eq!(merchant_event_type("customer.created", &json!({})), None);
    }
}
