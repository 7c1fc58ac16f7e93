//! The processing worker: takes stored events in order of arrival and runs
//! their processors, with retries and backoff.
//!
//! Claims live in the database (status `processing` with a lease), so a
//! crash mid-processing only delays the event: once the lease expires it is
//! claimed again. Processors write with upserts keyed by gateway ids and the
//! `event_created` rule, so running an event again changes nothing: once in
//! effect.

pub use super::backoff::backoff;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::Notify;

use super::merchant::BatchTargets;
use super::processor::{self, Outcome};
use crate::db::models::webhook_event::{self, WebhookEvent};
use crate::instance::Instance;

/// A processor that keeps failing is retried this many times in all.
pub const MAX_ATTEMPTS: i32 = 6;
/// How long a claim holds before another worker may take the event.
pub fn lease() -> chrono::Duration {
    chrono::Duration::seconds(60)
}

/// Wakes the worker when an event arrives.
#[derive(Clone, Default)]
pub struct WorkerSignal(Arc<Notify>);

impl WorkerSignal {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Events claimed at once: one claim statement and one "processed"
/// statement serve the whole batch.
pub const BATCH: usize = 64;
/// Events of one batch processed at once. Events of one object (one
/// PaymentIntent, its charges and refunds) share a lane and run in arrival
/// order; across objects the write path's state rules keep records right
/// whatever the order.
const LANES: usize = 8;

/// Run the worker until the runtime stops.
pub fn start(instance: Arc<Instance>, runtime: &tokio::runtime::Handle) -> WorkerSignal {
    let signal = WorkerSignal::default();
    let wake = signal.0.clone();
    runtime.spawn(async move {
        loop {
            let claiming = instance.clone();
            let claimed = tokio::task::spawn_blocking(move || {
                let events = webhook_event::claim_due(&claiming.store, lease(), MAX_ATTEMPTS, BATCH)?;
                // The batch's merchant URLs, read once for all its events.
                let targets = BatchTargets::for_events(&claiming, &events);
                Ok::<_, crate::db::StoreError>((events, targets))
            })
            .await;
            match claimed {
                Ok(Ok((events, targets))) if !events.is_empty() => {
                    process_batch(&instance, events, Arc::new(targets)).await
                }
                Ok(Ok(_)) => {
                    // Nothing due: sleep until woken or until a retry may be due.
                    let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
                }
                Ok(Err(e)) => {
                    tracing::error!("webhook inbox unavailable: {e}");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => {
                    tracing::error!("webhook claim task failed: {e}");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    });
    signal
}

/// A stored event's payload, parsed once for its lane and its processor.
type Parsed = Result<Value, serde_json::Error>;

/// Which lane an event runs in: by the PaymentIntent it concerns, else by
/// its object (else by its id, when the payload is not JSON).
fn lane_of(event: &WebhookEvent, parsed: &Parsed) -> usize {
    let key = parsed
        .as_ref()
        .ok()
        .and_then(|json| {
            let object = &json["data"]["object"];
            let id = match &object["payment_intent"] {
                Value::String(pi) => Some(pi.as_str()),
                Value::Object(pi) => pi.get("id").and_then(Value::as_str),
                _ => None,
            };
            id.or_else(|| object["id"].as_str())
        })
        .unwrap_or(&event.event_id);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(key, &mut hasher);
    (std::hash::Hasher::finish(&hasher) % LANES as u64) as usize
}

/// Process a claimed batch on up to LANES blocking threads, then mark the
/// processed ones in one statement.
async fn process_batch(instance: &Arc<Instance>, events: Vec<WebhookEvent>, targets: Arc<BatchTargets>) {
    let mut lanes: Vec<Vec<(WebhookEvent, Parsed)>> = (0..LANES).map(|_| Vec::new()).collect();
    for event in events {
        let parsed: Parsed = serde_json::from_str(&event.payload);
        lanes[lane_of(&event, &parsed)].push((event, parsed));
    }
    let running: Vec<_> = lanes
        .into_iter()
        .filter(|lane| !lane.is_empty())
        .map(|lane| {
            let instance = instance.clone();
            let targets = targets.clone();
            tokio::task::spawn_blocking(move || {
                lane.into_iter()
                    .filter_map(|(event, parsed)| process_unmarked(&instance, &targets, event, parsed))
                    .collect::<Vec<i64>>()
            })
        })
        .collect();
    let mut processed = Vec::new();
    for lane in running {
        match lane.await {
            Ok(ids) => processed.extend(ids),
            // Its events keep their lease and are claimed again when it ends.
            Err(e) => tracing::error!("webhook processing task failed: {e}"),
        }
    }
    let marking = instance.clone();
    let marked =
        tokio::task::spawn_blocking(move || webhook_event::mark_processed_all(&marking.store, &processed)).await;
    if !matches!(marked, Ok(Ok(_))) {
        // The leases expire and the events are claimed again; processors
        // are idempotent, so that is safe.
        tracing::error!("could not mark processed webhook events");
    }
}

/// Process one claimed event and record the outcome. Blocking.
pub fn process(instance: &Arc<Instance>, event: WebhookEvent) {
    let event_id = event.event_id.clone();
    let parsed = serde_json::from_str(&event.payload);
    let targets = BatchTargets::for_events(instance, std::slice::from_ref(&event));
    if let Some(id) = process_unmarked(instance, &targets, event, parsed) {
        if let Err(e) = webhook_event::mark_processed(&instance.store, id) {
            tracing::error!("could not mark webhook {event_id}: {e}");
        }
    }
}

/// Why an event of the other environment (a live event reaching a test
/// instance, or the reverse) is kept but not applied; None when it fits.
fn other_environment(instance: &Instance, event: &serde_json::Value) -> Option<String> {
    let ours = instance.settings.environment;
    let Some(livemode) = event.get("livemode").and_then(serde_json::Value::as_bool) else {
        // Stripe always says; a live instance applies only what says live.
        return ours
            .livemode()
            .then(|| "the event does not say livemode: true; this instance runs in live mode".to_string());
    };
    (livemode != ours.livemode()).then(|| {
        format!(
            "a {} event; this instance runs in {ours} mode, so it is stored but not applied",
            crate::environment::Environment::from_livemode(livemode)
        )
    })
}

/// Process one claimed event (`targets`: the merchant URLs read for its
/// batch); a skip or failure is recorded here, success is returned (its id)
/// for the caller to mark. Blocking.
fn process_unmarked(
    instance: &Arc<Instance>,
    targets: &BatchTargets,
    event: WebhookEvent,
    parsed: Parsed,
) -> Option<i64> {
    if let Ok(json) = &parsed {
        if let Some(reason) = other_environment(instance, json) {
            tracing::warn!("webhook {} {} not applied: {reason}", event.event_type, event.event_id);
            if let Err(e) = webhook_event::mark_skipped(&instance.store, event.id, &reason) {
                tracing::error!("could not mark webhook {}: {e}", event.event_id);
            }
            return None;
        }
    }
    // The event's records are its merchant's: read and written only
    // through that merchant's store.
    let merchant_store = instance.store.clone().with_merchant(event.merchant.clone());
    let result = match parsed {
        Ok(json) => processor::run(instance, &merchant_store, &json).map(|outcome| (outcome, json)),
        Err(e) => Err(processor::ProcessorError::from(e)),
    };
    // The inbox itself is the runtime's, whatever the merchant.
    let store = &instance.store;
    let marked = match result {
        Ok((Outcome::Processed(output), json)) => {
            if !output.is_empty() {
                tracing::debug!(target: "payforms::webhooks", "{} {}: {output}", event.event_type, event.event_id);
            }
            super::merchant::enqueue_to(instance, &merchant_store, &json, targets.urls(&event.merchant));
            return Some(event.id);
        }
        Ok((Outcome::Skipped, _)) => {
            webhook_event::mark_skipped(store, event.id, &format!("no processor for {}", event.event_type))
        }
        Err(error) => {
            tracing::warn!(
                "webhook {} {} failed (attempt {}): {error}",
                event.event_type,
                event.event_id,
                event.attempts
            );
            // `failed` with attempts left is due again at retry_at; once
            // MAX_ATTEMPTS is reached it stays failed until replayed.
            let retry_at = if event.attempts >= MAX_ATTEMPTS {
                webhook_event::never()
            } else {
                Utc::now()
                    + chrono::Duration::from_std(backoff(event.attempts)).unwrap_or(chrono::Duration::seconds(60))
            };
            webhook_event::mark_failed(store, event.id, &error.to_string(), retry_at)
        }
    };
    if let Err(e) = marked.map(drop) {
        tracing::error!("could not mark webhook {}: {e}", event.event_id);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::config::{Overrides, Settings};
    use crate::db::query::RecordQuery;
    use crate::db::Store;
    use crate::gateway::{Caller, DispatchFailure, DispatchOutcome, FailureKind, RequestDispatcher};
    use crate::merchant_id::MerchantId;
    use serde_json::json;

    /// The processors under test only write records.
    struct NoGateway;

    impl RequestDispatcher for NoGateway {
        fn dispatch(
            &self,
            _app: &App,
            request_type: &str,
            _data: Value,
            _key: Option<String>,
            _caller: Caller,
        ) -> Result<DispatchOutcome, DispatchFailure> {
            Err(DispatchFailure::new(
                FailureKind::Internal,
                format!("no gateway in this test ({request_type})"),
            ))
        }
    }

    /// The demo app (this repository) on a SQLite file in `dir`.
    fn instance(dir: &tempfile::TempDir) -> Arc<Instance> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let overrides = Overrides {
            database_url: Some(format!("sqlite://{}", dir.path().join("worker.db").display())),
            bind: None,
        };
        let settings = Settings::load_with(root, &overrides, |name| {
            (name == "PAYFORMS_SECRET").then(|| "s".repeat(40))
        })
        .unwrap();
        let store = Store::connect(&settings.database_url).unwrap();
        store.migrate().unwrap();
        match Instance::start(settings, store, Arc::new(NoGateway)) {
            Ok(instance) => instance,
            Err(problems) => panic!("{problems:?}"),
        }
    }

    /// Store, claim and process one event as `merchant`'s endpoint got it.
    fn receive(instance: &Arc<Instance>, merchant: &MerchantId, event: &Value) -> WebhookEvent {
        let store = &instance.store;
        let id = event["id"].as_str().unwrap();
        let kind = event["type"].as_str().unwrap();
        let (stored, _) =
            webhook_event::insert_if_absent(store, "stripe", merchant, id, kind, &event.to_string()).unwrap();
        let claimed = webhook_event::claim_one(store, stored.id, lease()).unwrap().unwrap();
        process(instance, claimed);
        webhook_event::get(store, stored.id).unwrap().unwrap()
    }

    #[test]
    fn an_event_writes_only_its_merchants_records() {
        let dir = tempfile::tempdir().unwrap();
        let instance = instance(&dir);
        let acme = MerchantId::parse("acme").unwrap();
        let customer = |id: &str, email: &str| {
            json!({"id": id, "object": "event", "type": "customer.created", "created": 1_700_000_000,
                   "livemode": false, "data": {"object": {"id": "cus_shared", "object": "customer",
                   "email": email, "livemode": false, "created": 1_700_000_000}}})
        };
        // Both merchants receive the same customer id (and event id).
        let done = receive(&instance, &acme, &customer("evt_1", "acme@example.com"));
        assert_eq!(
            done.status,
            webhook_event::WebhookStatus::Processed,
            "{:?}",
            done.last_error
        );
        let done = receive(
            &instance,
            &MerchantId::default(),
            &customer("evt_1", "default@example.com"),
        );
        assert_eq!(
            done.status,
            webhook_event::WebhookStatus::Processed,
            "{:?}",
            done.last_error
        );
        let model = instance
            .current()
            .app
            .model_type("modules/payments/customer")
            .cloned()
            .unwrap();
        let records = |store: &Store| store.query_records(&model, &RecordQuery::default()).unwrap().records;
        let theirs = records(&instance.store.clone().with_merchant(acme.clone()));
        let ours = records(&instance.store);
        assert_eq!(theirs.len(), 1);
        assert_eq!(ours.len(), 1);
        assert_eq!(theirs[0].merchant, acme);
        assert_eq!(theirs[0].properties["email"], json!("acme@example.com"));
        assert_eq!(ours[0].properties["email"], json!("default@example.com"));

        // A processor reading through {% graphql %} (the instance's store)
        // fails for another merchant's event instead of reading ours.
        let dispute = json!({"id": "evt_2", "object": "event", "type": "charge.dispute.created",
            "created": 1_700_000_001, "livemode": false, "data": {"object": {"id": "dp_1", "object": "dispute",
            "charge": "ch_1", "payment_intent": "pi_1", "reason": "fraudulent", "status": "needs_response",
            "livemode": false}}});
        let failed = receive(&instance, &acme, &dispute);
        assert_eq!(failed.status, webhook_event::WebhookStatus::Failed);
        let why = failed.last_error.unwrap_or_default();
        assert!(why.contains("merchant `acme`"), "{why}");
    }

    #[test]
    fn a_batch_records_deliveries_to_each_merchants_own_url_only() {
        let dir = tempfile::tempdir().unwrap();
        let instance = instance(&dir);
        let store = &instance.store;
        let acme = MerchantId::parse("acme").unwrap();
        let globex = MerchantId::parse("globex").unwrap();
        let url = "https://acme.example/hooks";
        crate::merchants::set_webhook_url(&instance.settings, store, &acme, url).unwrap();
        crate::merchants::ensure(store, &globex).unwrap();
        let succeeded = |id: &str, pi: &str| {
            json!({"id": id, "object": "event", "type": "payment_intent.succeeded", "created": 1_700_000_000,
                   "livemode": false, "data": {"object": {"id": pi, "object": "payment_intent", "amount": 1000,
                   "amount_received": 1000, "currency": "usd", "status": "succeeded",
                   "capture_method": "automatic", "metadata": {}, "livemode": false}}})
        };
        for (merchant, event) in [
            (&acme, succeeded("evt_a1", "pi_a1")),
            (&globex, succeeded("evt_g1", "pi_g1")),
            (&acme, succeeded("evt_a2", "pi_a2")),
        ] {
            let id = event["id"].as_str().unwrap();
            webhook_event::insert_if_absent(
                store,
                "stripe",
                merchant,
                id,
                "payment_intent.succeeded",
                &event.to_string(),
            )
            .unwrap();
        }
        // One claimed batch: each merchant's URLs are read once for it.
        let events = webhook_event::claim_due(store, lease(), MAX_ATTEMPTS, BATCH).unwrap();
        assert_eq!(events.len(), 3);
        let targets = BatchTargets::for_events(&instance, &events);
        assert_eq!(targets.urls(&acme), [url.to_string()]);
        assert!(targets.urls(&globex).is_empty());
        assert!(targets.urls(&MerchantId::default()).is_empty());
        for event in events {
            let parsed = serde_json::from_str(&event.payload);
            assert!(process_unmarked(&instance, &targets, event, parsed).is_some());
        }
        let model = instance
            .current()
            .app
            .model_type(super::super::merchant::DELIVERY_MODEL)
            .cloned()
            .unwrap();
        let deliveries = |merchant: &MerchantId| {
            store
                .clone()
                .with_merchant(merchant.clone())
                .query_records(&model, &RecordQuery::default())
                .unwrap()
                .records
        };
        let acme_deliveries = deliveries(&acme);
        assert_eq!(acme_deliveries.len(), 2, "{acme_deliveries:?}");
        for delivery in &acme_deliveries {
            assert_eq!(delivery.properties["url"], json!(url));
            assert_eq!(delivery.merchant, acme);
        }
        assert!(deliveries(&globex).is_empty());
        assert!(deliveries(&MerchantId::default()).is_empty());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(50), Duration::from_secs(600));
        assert_eq!(backoff(0), Duration::from_secs(2));
    }
}
