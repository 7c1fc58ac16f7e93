//! The compensation loop: claims money journal rows whose time has come
//! (left open by a process that died, or a compensation due for a retry)
//! and resolves them. Claims are leases in the database, so several
//! instances on one PostgreSQL never give one payment back twice.

use std::sync::Arc;
use std::time::Duration;

use super::compensation::{claim_lease, Compensator};
use crate::db::models::money_journal::{self, ABANDONED};
use crate::db::StoreError;
use crate::instance::Instance;

/// Rows claimed at once.
const BATCH: usize = 16;

/// Run the loop until the runtime stops.
pub fn start(instance: Arc<Instance>, runtime: &tokio::runtime::Handle) {
    runtime.spawn(async move {
        loop {
            let working = instance.clone();
            let pause = match tokio::task::spawn_blocking(move || run_due(&working)).await {
                Ok(Ok(0)) => Duration::from_secs(2),
                Ok(Ok(_)) => Duration::ZERO,
                Ok(Err(e)) => {
                    tracing::error!("money journal unavailable: {e}");
                    Duration::from_secs(5)
                }
                Err(e) => {
                    tracing::error!("compensation task failed: {e}");
                    Duration::from_secs(5)
                }
            };
            tokio::time::sleep(pause).await;
        }
    });
}

/// Claim and resolve the rows due now; how many there were. Blocking.
pub fn run_due(instance: &Instance) -> Result<usize, StoreError> {
    let claimed = money_journal::claim_due(&instance.store, claim_lease(), BATCH)?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let version = instance.current();
    let compensator = Compensator {
        app: &version.app,
        store: &instance.store,
        gateway: instance.gateway.as_ref(),
    };
    for entry in &claimed {
        let reason = entry.reason.as_deref().unwrap_or(ABANDONED);
        match compensator.resolve(entry, None, reason) {
            Ok(resolution) => tracing::info!("money journal {}: {resolution:?}", entry.id),
            Err(e) => tracing::error!("money journal {}: {e}", entry.id),
        }
    }
    Ok(claimed.len())
}
