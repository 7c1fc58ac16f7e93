//! `payforms webhooks replay (EVENT_ID | --failed)`: process stored events again.

use std::sync::Arc;

use crate::db::models::webhook_event;
use crate::db::StoreError;
use crate::instance::Instance;

/// Why nothing was replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no stored event `{0}`")]
    UnknownEvent(String),
    #[error("event `{0}` is being processed right now; try again in a minute")]
    Busy(String),
    #[error("no failed events")]
    NothingFailed,
    #[error("name an event id or --failed")]
    NothingChosen,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Put the chosen events back in the queue and process what is due now.
/// Blocking. Returns one line per processed event: `evt_… type: status`.
pub fn replay(instance: &Arc<Instance>, event_id: Option<&str>, failed: bool) -> Result<Vec<String>, ReplayError> {
    let store = &instance.store;
    match event_id {
        Some(id) => {
            let event =
                // The instance's merchant: the command line names no other.
                webhook_event::find(store, "stripe", store.merchant(), id)?
                    .ok_or_else(|| ReplayError::UnknownEvent(id.to_string()))?;
            webhook_event::requeue(store, event.id)?;
            // Only the named event: others keep their own schedule.
            let Some(claimed) = webhook_event::claim_one(store, event.id, super::worker::lease())? else {
                return Err(ReplayError::Busy(id.to_string()));
            };
            super::worker::process(instance, claimed);
            let after = webhook_event::get(store, event.id)?;
            return Ok(after.into_iter().map(|e| report_line(&e)).collect());
        }
        None if failed => {
            if webhook_event::requeue_failed(store, None)? == 0 {
                return Err(ReplayError::NothingFailed);
            }
        }
        None => return Err(ReplayError::NothingChosen),
    }
    let mut report = Vec::new();
    loop {
        let claimed = webhook_event::claim_due(store, super::worker::lease(), super::worker::MAX_ATTEMPTS, 50)?;
        if claimed.is_empty() {
            break;
        }
        for event in claimed {
            let id = event.id;
            super::worker::process(instance, event);
            if let Some(after) = webhook_event::get(store, id)? {
                let error = after.last_error.map(|e| format!(" ({e})")).unwrap_or_default();
                report.push(format!(
                    "{} {}: {}{error}",
                    after.event_id,
                    after.event_type,
                    after.status.as_str()
                ));
            }
        }
    }
    Ok(report)
}

fn report_line(event: &webhook_event::WebhookEvent) -> String {
    let error = event.last_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
    format!(
        "{} {}: {}{error}",
        event.event_id,
        event.event_type,
        event.status.as_str()
    )
}
