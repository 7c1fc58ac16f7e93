//! The durable webhook inbox: an event is stored (unique per gateway,
//! merchant and event id) before the gateway gets its 2xx, then claimed,
//! processed and marked. A claim is a lease (`locked_until`): if the
//! process dies the event becomes due again, so nothing is lost.
//!
//! Each event belongs to the merchant whose endpoint received it, and is
//! processed with that merchant's store; deduplication is per merchant, so
//! one merchant cannot make another's event a "duplicate" by sending its id
//! first. Claims take every merchant's due events (one worker serves all).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use diesel::QueryableByName;

use crate::db::models::record::now;
use crate::db::sql::{Arg, Conn, Sql};
use crate::db::{Store, StoreError};
use crate::merchant_id::MerchantId;

/// Longest `last_error` kept.
const MAX_ERROR_CHARS: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    Pending,
    Processing,
    Processed,
    Skipped,
    Failed,
}

impl WebhookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Pending => "pending",
            WebhookStatus::Processing => "processing",
            WebhookStatus::Processed => "processed",
            WebhookStatus::Skipped => "skipped",
            WebhookStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<WebhookStatus> {
        Some(match text {
            "pending" => WebhookStatus::Pending,
            "processing" => WebhookStatus::Processing,
            "processed" => WebhookStatus::Processed,
            "skipped" => WebhookStatus::Skipped,
            "failed" => WebhookStatus::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WebhookEvent {
    pub id: i64,
    pub gateway: String,
    /// The merchant whose endpoint received the event.
    pub merchant: MerchantId,
    pub event_id: String,
    pub event_type: String,
    /// The raw body as received.
    pub payload: String,
    /// The Stripe object it is about (`data.object.id`), when it names one.
    pub object_id: Option<String>,
    pub status: WebhookStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, gateway, merchant, event_id, event_type, payload, object_id, status, attempts, \
                       last_error, next_attempt_at, locked_until, created_at, processed_at";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    gateway: String,
    #[diesel(sql_type = Text)]
    merchant: String,
    #[diesel(sql_type = Text)]
    event_id: String,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Nullable<Text>)]
    object_id: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Timestamp)]
    next_attempt_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    locked_until: Option<NaiveDateTime>,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    processed_at: Option<NaiveDateTime>,
}

impl Row {
    fn into_event(self) -> Result<WebhookEvent, StoreError> {
        let status = WebhookStatus::parse(&self.status)
            .ok_or_else(|| StoreError::Database(format!("webhook event {} has status `{}`", self.id, self.status)))?;
        let merchant = MerchantId::parse(&self.merchant)
            .ok_or_else(|| StoreError::Database(format!("webhook event {} has no valid merchant", self.id)))?;
        Ok(WebhookEvent {
            id: self.id,
            gateway: self.gateway,
            merchant,
            event_id: self.event_id,
            event_type: self.event_type,
            payload: self.payload,
            object_id: self.object_id,
            status,
            attempts: self.attempts,
            last_error: self.last_error,
            next_attempt_at: self.next_attempt_at.and_utc(),
            locked_until: self.locked_until.map(|t| t.and_utc()),
            created_at: self.created_at.and_utc(),
            processed_at: self.processed_at.map(|t| t.and_utc()),
        })
    }
}

fn load_where(conn: &mut Conn, condition: &str, args: Vec<Arg>) -> Result<Vec<WebhookEvent>, StoreError> {
    let mut sql = conn.sql(&format!("SELECT {COLUMNS} FROM webhook_events WHERE "));
    let mut parts = condition.split('?');
    if let Some(head) = parts.next() {
        sql.push(head);
    }
    for (part, arg) in parts.zip(args) {
        sql.bind(arg).push(part);
    }
    conn.load::<Row>(sql)?.into_iter().map(Row::into_event).collect()
}

fn by_id(conn: &mut Conn, id: i64) -> Result<Option<WebhookEvent>, StoreError> {
    Ok(load_where(conn, "id = ?", vec![Arg::Int(id)])?.into_iter().next())
}

/// An event to store, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub gateway: String,
    /// The merchant whose endpoint received it.
    pub merchant: MerchantId,
    pub event_id: String,
    pub event_type: String,
    /// The raw body.
    pub payload: String,
    /// `data.object.id`, when the event names an object.
    pub object_id: Option<String>,
}

/// The object an event body is about (`data.object.id`): a short printable
/// id, or None.
pub fn object_id_of(payload: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Event {
        data: Option<Data>,
    }
    #[derive(serde::Deserialize)]
    struct Data {
        object: Option<Object>,
    }
    #[derive(serde::Deserialize)]
    struct Object {
        id: Option<String>,
    }
    let event: Event = serde_json::from_str(payload).ok()?;
    event.data?.object?.id.filter(|id| is_object_id(id))
}

/// What an object id may be: 1 to 255 printable ASCII characters.
pub fn is_object_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Store a received event unless one with the same gateway, merchant and
/// event id is there; returns the stored event and whether this call
/// inserted it.
pub fn insert_if_absent(
    store: &Store,
    gateway: &str,
    merchant: &MerchantId,
    event_id: &str,
    event_type: &str,
    payload: &str,
) -> Result<(WebhookEvent, bool), StoreError> {
    let event = NewEvent {
        gateway: gateway.to_string(),
        merchant: merchant.clone(),
        event_id: event_id.to_string(),
        event_type: event_type.to_string(),
        payload: payload.to_string(),
        object_id: object_id_of(payload),
    };
    store.database().with_transaction(|conn| {
        let sql = insert_sql(conn, &event, now().naive_utc());
        let inserted = !conn.load::<IdRow>(sql)?.is_empty();
        let stored = by_key(conn, &event.gateway, &event.merchant, &event.event_id)?
            .ok_or_else(|| StoreError::Database("the stored webhook event vanished".into()))?;
        Ok((stored, inserted))
    })
}

/// Insert one received event unless its gateway, merchant and event id are
/// stored; returns its new id, or no row. Kept prepared: one shape.
fn insert_sql(conn: &mut Conn, event: &NewEvent, at: NaiveDateTime) -> Sql {
    let mut sql = conn.sql(
        "INSERT INTO webhook_events (gateway, merchant, event_id, event_type, payload, object_id, status, \
         attempts, next_attempt_at, created_at) VALUES ",
    );
    sql.bind_list(vec![
        Arg::Text(event.gateway.clone()),
        Arg::Text(event.merchant.as_str().to_string()),
        Arg::Text(event.event_id.clone()),
        Arg::Text(event.event_type.clone()),
        Arg::Text(event.payload.clone()),
        Arg::OptText(event.object_id.clone()),
        Arg::Text("pending".into()),
        Arg::Int(0),
        Arg::Time(at),
        Arg::Time(at),
    ])
    .push(" ON CONFLICT (gateway, merchant, event_id) DO NOTHING RETURNING id");
    sql.keep_prepared()
}

/// Store received events in one transaction (one commit for the batch);
/// for each, whether it is new (false: that gateway, merchant and event id
/// were stored before, or earlier in the batch).
pub fn insert_new(store: &Store, events: &[NewEvent]) -> Result<Vec<bool>, StoreError> {
    store.database().with_transaction(|conn| {
        let at = now().naive_utc();
        let mut new = Vec::with_capacity(events.len());
        for event in events {
            let sql = insert_sql(conn, event, at);
            new.push(!conn.load::<IdRow>(sql)?.is_empty());
        }
        Ok(new)
    })
}

fn by_key(
    conn: &mut Conn,
    gateway: &str,
    merchant: &MerchantId,
    event_id: &str,
) -> Result<Option<WebhookEvent>, StoreError> {
    Ok(load_where(
        conn,
        "gateway = ? AND merchant = ? AND event_id = ?",
        vec![
            Arg::Text(gateway.to_string()),
            Arg::Text(merchant.as_str().to_string()),
            Arg::Text(event_id.to_string()),
        ],
    )?
    .into_iter()
    .next())
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)] // only its presence counts
    id: i64,
}

pub fn get(store: &Store, id: i64) -> Result<Option<WebhookEvent>, StoreError> {
    store.database().with_conn(|conn| by_id(conn, id))
}

/// The event `event_id` that `merchant` received from `gateway`.
pub fn find(
    store: &Store,
    gateway: &str,
    merchant: &MerchantId,
    event_id: &str,
) -> Result<Option<WebhookEvent>, StoreError> {
    store
        .database()
        .with_conn(|conn| by_key(conn, gateway, merchant, event_id))
}

/// Newest first, of one merchant when `merchant` says (every merchant's
/// otherwise: the operator's view); `after_id` continues a listing (events
/// with smaller ids).
/// Which events a listing shows.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub status: Option<WebhookStatus>,
    /// Only events about one of these objects (at most 100).
    pub object_ids: Option<Vec<String>>,
}

pub fn list(
    store: &Store,
    merchant: Option<&MerchantId>,
    filter: &EventFilter,
    first: usize,
    after_id: Option<i64>,
) -> Result<Vec<WebhookEvent>, StoreError> {
    store.database().with_conn(|conn| {
        let mut condition = String::from("id < ?");
        let mut args = vec![Arg::Int(after_id.unwrap_or(i64::MAX))];
        if let Some(merchant) = merchant {
            condition.push_str(" AND merchant = ?");
            args.push(Arg::Text(merchant.as_str().to_string()));
        }
        if let Some(status) = filter.status {
            condition.push_str(" AND status = ?");
            args.push(Arg::Text(status.as_str().into()));
        }
        if let Some(ids) = &filter.object_ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let marks = vec!["?"; ids.len().min(100)].join(", ");
            condition.push_str(&format!(" AND object_id IN ({marks})"));
            args.extend(ids.iter().take(100).map(|id| Arg::Text(id.clone())));
        }
        condition.push_str(&format!(" ORDER BY id DESC LIMIT {}", first.min(1000)));
        load_where(conn, &condition, args)
    })
}

/// The due time of an event with no attempts left: it stays `failed` at the
/// far end of the waiting index until replayed.
pub fn never() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The two kinds of due event, each read from its own partial index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// `processing` whose lease ended (its worker died): `webhook_events_leased`.
    LeaseExpired,
    /// `pending`, or `failed` with attempts left, whose time has come:
    /// `webhook_events_waiting`, in due order.
    Waiting,
}

/// `UPDATE … WHERE id IN (the first `limit` due events) RETURNING …`.
/// SQLite is told which index (without statistics it may prefer the status
/// index and sort every waiting event); PostgreSQL's planner finds the
/// partial index itself, and skips rows another instance's claim holds.
pub(crate) fn claim_sql(
    conn: &mut Conn,
    due: Due,
    at: NaiveDateTime,
    lease: Duration,
    max_attempts: i32,
    limit: usize,
) -> Sql {
    let postgres = conn.backend() == crate::db::Backend::Postgres;
    let mut sql = conn.sql("UPDATE webhook_events SET status = 'processing', attempts = attempts + 1, locked_until = ");
    // PostgreSQL would hash-join a plain IN (subquery) against the whole
    // table; an array of the claimed ids is read by primary key.
    sql.bind(Arg::Time(at + lease)).push(if postgres {
        " WHERE id = ANY(ARRAY(SELECT id FROM webhook_events"
    } else {
        " WHERE id IN (SELECT id FROM webhook_events"
    });
    match (due, postgres) {
        (Due::LeaseExpired, false) => sql.push(" INDEXED BY webhook_events_leased"),
        (Due::Waiting, false) => sql.push(" INDEXED BY webhook_events_waiting"),
        (_, true) => &mut sql,
    };
    match due {
        Due::LeaseExpired => sql
            .push(" WHERE status = 'processing' AND locked_until < ")
            .bind(Arg::Time(at))
            .push(" ORDER BY locked_until"),
        Due::Waiting => sql
            .push(" WHERE status IN ('pending', 'failed') AND next_attempt_at <= ")
            .bind(Arg::Time(at))
            .push(" AND attempts < ")
            .bind(Arg::Int(i64::from(max_attempts)))
            .push(" ORDER BY next_attempt_at, id"),
    };
    sql.push(" LIMIT ").bind(Arg::Int(limit as i64));
    if postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
    sql.push(if postgres { "))" } else { ")" });
    sql.push(&format!(" RETURNING {COLUMNS}"));
    sql.keep_prepared()
}

/// Claim up to `limit` due events for `lease`: each becomes `processing`,
/// its attempts counted; expired leases first (older work, and an event
/// claimed by the second statement is never taken again by the first,
/// whatever the lease), then waiting events in due order. Reads stop at
/// `limit` however many events are stored. Two workers never claim one
/// event: SQLite has one writer; PostgreSQL skips locked rows.
pub fn claim_due(
    store: &Store,
    lease: Duration,
    max_attempts: i32,
    limit: usize,
) -> Result<Vec<WebhookEvent>, StoreError> {
    let limit = limit.clamp(1, 1000);
    store.database().with_transaction(|conn| {
        let at = now().naive_utc();
        let mut claimed = Vec::new();
        for due in [Due::LeaseExpired, Due::Waiting] {
            let room = limit - claimed.len();
            if room == 0 {
                break;
            }
            let sql = claim_sql(conn, due, at, lease, max_attempts, room);
            for row in conn.load::<Row>(sql)? {
                claimed.push(row.into_event()?);
            }
        }
        // RETURNING gives no order: hand events out in arrival order.
        claimed.sort_by_key(|e| e.id);
        Ok(claimed)
    })
}

/// Mark claimed events processed, in one statement.
pub fn mark_processed_all(store: &Store, ids: &[i64]) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    store.database().with_transaction(|conn| {
        let mut sql = conn.sql(
            "UPDATE webhook_events SET status = 'processed', locked_until = NULL, last_error = NULL, processed_at = ",
        );
        sql.bind(Arg::Time(now().naive_utc())).push(" WHERE id IN ");
        sql.bind_list(ids.iter().map(|id| Arg::Int(*id)).collect());
        Ok(conn.execute(sql)?)
    })
}

/// Claim one event by id if it is waiting (pending or failed), whatever its
/// retry time: `webhooks replay EVENT_ID` processes just that event.
pub fn claim_one(store: &Store, id: i64, lease: Duration) -> Result<Option<WebhookEvent>, StoreError> {
    store.database().with_transaction(|conn| {
        let at = now();
        let mut sql =
            conn.sql("UPDATE webhook_events SET status = 'processing', attempts = attempts + 1, locked_until = ");
        sql.bind(Arg::Time((at + lease).naive_utc()))
            .push(" WHERE id = ")
            .bind(Arg::Int(id))
            .push(" AND status IN ('pending', 'failed')");
        if conn.execute(sql)? == 1 {
            by_id(conn, id)
        } else {
            Ok(None)
        }
    })
}

fn set_outcome(store: &Store, id: i64, assignments: &str, args: Vec<Arg>) -> Result<WebhookEvent, StoreError> {
    store.database().with_transaction(|conn| {
        let mut sql = conn.sql("UPDATE webhook_events SET ");
        let mut parts = assignments.split('?');
        sql.push(parts.next().unwrap_or(""));
        for (part, arg) in parts.zip(args) {
            sql.bind(arg).push(part);
        }
        sql.push(" WHERE id = ").bind(Arg::Int(id));
        if conn.execute(sql)? == 0 {
            return Err(StoreError::NotFound {
                model: "webhook_event".into(),
                id,
            });
        }
        by_id(conn, id)?.ok_or(StoreError::NotFound {
            model: "webhook_event".into(),
            id,
        })
    })
}

pub fn mark_processed(store: &Store, id: i64) -> Result<WebhookEvent, StoreError> {
    set_outcome(
        store,
        id,
        "status = 'processed', locked_until = NULL, last_error = NULL, processed_at = ?",
        vec![Arg::Time(now().naive_utc())],
    )
}

/// Nothing to do for this event (no processor for its type, or stale).
pub fn mark_skipped(store: &Store, id: i64, reason: &str) -> Result<WebhookEvent, StoreError> {
    set_outcome(
        store,
        id,
        "status = 'skipped', locked_until = NULL, last_error = ?, processed_at = ?",
        vec![Arg::Text(truncate(reason)), Arg::Time(now().naive_utc())],
    )
}

/// Processing failed; due again at `retry_at` while attempts remain.
/// `error` must not contain secrets.
pub fn mark_failed(store: &Store, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<WebhookEvent, StoreError> {
    set_outcome(
        store,
        id,
        "status = 'failed', locked_until = NULL, last_error = ?, next_attempt_at = ?",
        vec![Arg::Text(truncate(error)), Arg::Time(retry_at.naive_utc())],
    )
}

/// Make an event due now with fresh attempts (`webhooks replay`).
pub fn requeue(store: &Store, id: i64) -> Result<WebhookEvent, StoreError> {
    set_outcome(
        store,
        id,
        "status = 'pending', attempts = 0, locked_until = NULL, processed_at = NULL, next_attempt_at = ?",
        vec![Arg::Time(now().naive_utc())],
    )
}

/// Requeue every failed event (of one merchant when `merchant` says);
/// returns how many.
pub fn requeue_failed(store: &Store, merchant: Option<&MerchantId>) -> Result<usize, StoreError> {
    store.database().with_transaction(|conn| {
        let mut sql = conn
            .sql("UPDATE webhook_events SET status = 'pending', attempts = 0, locked_until = NULL, next_attempt_at = ");
        sql.bind(Arg::Time(now().naive_utc())).push(" WHERE status = 'failed'");
        if let Some(merchant) = merchant {
            sql.push(" AND merchant = ")
                .bind(Arg::Text(merchant.as_str().to_string()));
        }
        Ok(conn.execute(sql)?)
    })
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}
