//! `payforms webhooks replay (EVENT_ID | --failed)`: process stored events again.

use std::sync::Arc;

use crate::db::models::webhook_event;
use crate::instance::Instance;

/// Put the chosen events back in the queue and process what is due now.
/// Blocking. Returns one line per processed event: `evt_… type: status`.
pub fn replay(instance: &Arc<Instance>, event_id: Option<&str>, failed: bool) -> Result<Vec<String>, String> {
    let store = &instance.store;
    match event_id {
        Some(id) => {
            let event = webhook_event::find(store, "stripe", id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no stored event `{id}`"))?;
            webhook_event::requeue(store, event.id).map_err(|e| e.to_string())?;
            // Only the named event: others keep their own schedule.
            let Some(claimed) =
                webhook_event::claim_one(store, event.id, super::worker::lease()).map_err(|e| e.to_string())?
            else {
                return Err(format!(
                    "event `{id}` is being processed right now; try again in a minute"
                ));
            };
            super::worker::process(instance, claimed);
            let after = webhook_event::get(store, event.id).map_err(|e| e.to_string())?;
            return Ok(after.into_iter().map(|e| report_line(&e)).collect());
        }
        None if failed => {
            if webhook_event::requeue_failed(store).map_err(|e| e.to_string())? == 0 {
                return Err("no failed events".to_string());
            }
        }
        None => return Err("name an event id or --failed".to_string()),
    }
    let mut report = Vec::new();
    loop {
        let claimed = webhook_event::claim_due(store, super::worker::lease(), super::worker::MAX_ATTEMPTS, 50)
            .map_err(|e| e.to_string())?;
        if claimed.is_empty() {
            break;
        }
        for event in claimed {
            let id = event.id;
            super::worker::process(instance, event);
            if let Some(after) = webhook_event::get(store, id).map_err(|e| e.to_string())? {
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
