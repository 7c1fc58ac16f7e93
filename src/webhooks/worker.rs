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

/// Run the worker until the runtime stops.
pub fn start(instance: Arc<Instance>, runtime: &tokio::runtime::Handle) -> WorkerSignal {
    let signal = WorkerSignal::default();
    let wake = signal.0.clone();
    runtime.spawn(async move {
        loop {
            let claiming = instance.clone();
            let claimed = tokio::task::spawn_blocking(move || {
                webhook_event::claim_due(&claiming.store, lease(), MAX_ATTEMPTS, 1)
            })
            .await;
            match claimed {
                Ok(Ok(events)) if !events.is_empty() => {
                    let processing = instance.clone();
                    let run = tokio::task::spawn_blocking(move || {
                        for event in events {
                            process(&processing, event);
                        }
                    });
                    if let Err(e) = run.await {
                        tracing::error!("webhook processing task failed: {e}");
                    }
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

/// Process one claimed event and record the outcome. Blocking.
pub fn process(instance: &Arc<Instance>, event: WebhookEvent) {
    let parsed: Result<Value, _> = serde_json::from_str(&event.payload);
    let result = match parsed {
        Ok(json) => processor::run(instance, &json).map(|outcome| (outcome, json)),
        Err(e) => Err(processor::ProcessorError::from(e)),
    };
    let store = &instance.store;
    let marked = match result {
        Ok((Outcome::Processed(output), json)) => {
            if !output.is_empty() {
                tracing::debug!(target: "payforms::webhooks", "{} {}: {output}", event.event_type, event.event_id);
            }
            super::merchant::enqueue(instance, &json);
            webhook_event::mark_processed(store, event.id)
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
            let retry_at = Utc::now()
                + chrono::Duration::from_std(backoff(event.attempts)).unwrap_or(chrono::Duration::seconds(60));
            webhook_event::mark_failed(store, event.id, &error.to_string(), retry_at)
        }
    };
    if let Err(e) = marked.map(drop) {
        // The lease expires and the event is claimed again; processors are
        // idempotent, so that is safe.
        tracing::error!("could not mark webhook {}: {e}", event.event_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(50), Duration::from_secs(600));
        assert_eq!(backoff(0), Duration::from_secs(2));
    }
}
