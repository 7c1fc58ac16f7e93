//! Durable storage of checked deliveries with group commit: concurrent
//! requests hand their events to one writer thread, which stores whatever
//! has arrived in one transaction (one commit, one WAL sync or PostgreSQL
//! flush for the batch) and answers each request only after that commit.
//! A request waits on a future, not on a blocking thread.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use tokio::sync::oneshot;

use super::inbox::Checked;
use crate::db::models::webhook_event::{self, NewEvent};
use crate::db::{Store, StoreError};
use crate::merchant_id::MerchantId;

/// Events stored in one transaction at most.
const MAX_BATCH: usize = 256;
/// Requests waiting to be stored at most; beyond, 503 (Stripe retries).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<bool, StoreError>>;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("too many events are waiting to be stored")]
    Busy,
    #[error("the event store has stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The sending side; cheap to clone. The writer thread ends when every
/// clone is dropped.
#[derive(Clone)]
pub struct Ingest {
    queue: SyncSender<(NewEvent, Reply)>,
}

impl Ingest {
    pub fn start(store: Store) -> Ingest {
        let (queue, arrivals) = mpsc::sync_channel(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("payforms-ingest".into())
            .spawn(move || write_batches(&store, &arrivals));
        if let Err(e) = spawned {
            // Every store() then answers Stopped: the endpoint says 503.
            tracing::error!("webhook ingest cannot start: {e}");
        }
        Ingest { queue }
    }

    /// Store one checked event that `merchant`'s endpoint received; true
    /// when it is new (for that merchant). Resolves after the commit that
    /// made it durable.
    pub async fn store(&self, merchant: MerchantId, event: Checked) -> Result<bool, IngestError> {
        let (reply, answer) = oneshot::channel();
        let event = NewEvent {
            gateway: event.gateway,
            merchant,
            event_id: event.event_id,
            event_type: event.event_type,
            payload: event.payload,
            object_id: event.object_id,
        };
        let job = (event, reply);
        match self.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(IngestError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(IngestError::Stopped),
        }
        Ok(answer.await.map_err(|_| IngestError::Stopped)??)
    }
}

fn write_batches(store: &Store, arrivals: &Receiver<(NewEvent, Reply)>) {
    loop {
        let Ok(first) = arrivals.recv() else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match arrivals.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (events, replies): (Vec<NewEvent>, Vec<Reply>) = batch.into_iter().unzip();
        match webhook_event::insert_new(store, &events) {
            Ok(new) => {
                for (reply, new) in replies.into_iter().zip(new) {
                    let _ = reply.send(Ok(new));
                }
            }
            Err(e) => {
                tracing::error!("{} webhook events not stored: {e}", replies.len());
                let message = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Database(message.clone())));
                }
            }
        }
    }
}
