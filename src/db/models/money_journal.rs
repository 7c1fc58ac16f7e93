//! The money journal: one row per sent request type that can take money
//! (`moves_money: true`), written before it is sent. The submission that
//! sent it closes it as `settled` when it finishes; when it fails after the
//! money may have moved, the row is `compensating` until the gateway
//! confirms the money was given back. A row is held by a lease (`due_at`):
//! if its process dies, another instance claims it once the lease ends, so
//! an unfinished charge is always resolved, and by one instance at a time.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use diesel::QueryableByName;
use serde_json::Value;

use crate::db::models::record::now;
use crate::db::sql::{Arg, Conn};
use crate::db::{Backend, Store, StoreError};

/// Longest `reason` and `last_error` kept.
const MAX_TEXT_CHARS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalStatus {
    /// Sent (or about to be) by a submission that has not finished.
    Open,
    /// The submission failed after sending: being given back.
    Compensating,
    Closed,
}

impl JournalStatus {
    fn parse(text: &str) -> Option<JournalStatus> {
        Some(match text {
            "open" => JournalStatus::Open,
            "compensating" => JournalStatus::Compensating,
            "closed" => JournalStatus::Closed,
            _ => return None,
        })
    }
}

/// How a closed row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalOutcome {
    /// The submission finished: the money is kept.
    Settled,
    /// The gateway holds nothing for it (declined, never confirmed, already canceled).
    NothingHeld,
    /// The request could not even be rendered: nothing was sent.
    NotSent,
    Refunded,
    Canceled,
}

impl JournalOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalOutcome::Settled => "settled",
            JournalOutcome::NothingHeld => "nothing_held",
            JournalOutcome::NotSent => "not_sent",
            JournalOutcome::Refunded => "refunded",
            JournalOutcome::Canceled => "canceled",
        }
    }

    fn parse(text: &str) -> Option<JournalOutcome> {
        Some(match text {
            "settled" => JournalOutcome::Settled,
            "nothing_held" => JournalOutcome::NothingHeld,
            "not_sent" => JournalOutcome::NotSent,
            "refunded" => JournalOutcome::Refunded,
            "canceled" => JournalOutcome::Canceled,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub id: i64,
    /// The key the request was sent with (a resend replays its answer).
    pub idempotency_key: String,
    /// The form submission it belongs to.
    pub submission_key: Option<String>,
    pub request_type: String,
    /// The request type's inputs as dispatched.
    pub data: Value,
    pub status: JournalStatus,
    pub outcome: Option<JournalOutcome>,
    pub reason: Option<String>,
    /// The gateway's object (pi_..., ch_...), once known.
    pub gateway_id: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, idempotency_key, submission_key, request_type, data, status, outcome, reason, \
                       gateway_id, attempts, last_error, due_at, created_at, closed_at";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    idempotency_key: String,
    #[diesel(sql_type = Nullable<Text>)]
    submission_key: Option<String>,
    #[diesel(sql_type = Text)]
    request_type: String,
    #[diesel(sql_type = Text)]
    data: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    outcome: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    gateway_id: Option<String>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Timestamp)]
    due_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    closed_at: Option<NaiveDateTime>,
}

impl Row {
    fn into_entry(self) -> Result<JournalEntry, StoreError> {
        let malformed = |what: &str| StoreError::Database(format!("money journal row {} has a bad {what}", self.id));
        let status = JournalStatus::parse(&self.status).ok_or_else(|| malformed("status"))?;
        let outcome = match &self.outcome {
            Some(text) => Some(JournalOutcome::parse(text).ok_or_else(|| malformed("outcome"))?),
            None => None,
        };
        let data = serde_json::from_str(&self.data).map_err(|_| malformed("data"))?;
        Ok(JournalEntry {
            id: self.id,
            idempotency_key: self.idempotency_key,
            submission_key: self.submission_key,
            request_type: self.request_type,
            data,
            status,
            outcome,
            reason: self.reason,
            gateway_id: self.gateway_id,
            attempts: self.attempts,
            last_error: self.last_error,
            due_at: self.due_at.and_utc(),
            created_at: self.created_at.and_utc(),
            closed_at: self.closed_at.map(|t| t.and_utc()),
        })
    }
}

fn by_key(conn: &mut Conn, key: &str) -> Result<Option<JournalEntry>, StoreError> {
    let mut sql = conn.sql(&format!("SELECT {COLUMNS} FROM money_journal WHERE idempotency_key = "));
    sql.bind(Arg::Text(key.to_string()));
    conn.first::<Row>(sql)?.map(Row::into_entry).transpose()
}

pub fn get(store: &Store, key: &str) -> Result<Option<JournalEntry>, StoreError> {
    store.database().with_conn(|conn| by_key(conn, key))
}

/// What opening a journal row found.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// Written now; the caller holds it for `lease`.
    New(JournalEntry),
    /// A row with this key was there already (an earlier attempt).
    Exists(JournalEntry),
}

/// Write the row for a request about to be sent with `key`, held by the
/// caller for `lease` (longer than the request with its retries can take).
pub fn open(
    store: &Store,
    key: &str,
    submission_key: Option<&str>,
    request_type: &str,
    data: &Value,
    lease: Duration,
) -> Result<Opened, StoreError> {
    store.database().with_transaction(|conn| {
        let at = now();
        let mut sql = conn.sql(
            "INSERT INTO money_journal (idempotency_key, submission_key, request_type, data, status, attempts, \
             due_at, created_at) VALUES ",
        );
        sql.bind_list(vec![
            Arg::Text(key.to_string()),
            Arg::OptText(submission_key.map(str::to_string)),
            Arg::Text(request_type.to_string()),
            Arg::Text(data.to_string()),
            Arg::Text("open".into()),
            Arg::Int(0),
            Arg::Time((at + lease).naive_utc()),
            Arg::Time(at.naive_utc()),
        ])
        .push(" ON CONFLICT (idempotency_key) DO NOTHING");
        let inserted = conn.execute(sql)? == 1;
        let entry = by_key(conn, key)?.ok_or_else(|| StoreError::Database("the money journal row vanished".into()))?;
        Ok(if inserted {
            Opened::New(entry)
        } else {
            Opened::Exists(entry)
        })
    })
}

/// Run one `UPDATE money_journal SET … WHERE id = … AND <condition>`;
/// true when it changed the row.
fn update(store: &Store, id: i64, assignments: &str, args: Vec<Arg>, condition: &str) -> Result<bool, StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("UPDATE money_journal SET ");
        let mut parts = assignments.split('?');
        sql.push(parts.next().unwrap_or(""));
        for (part, arg) in parts.zip(args) {
            sql.bind(arg).push(part);
        }
        sql.push(" WHERE id = ")
            .bind(Arg::Int(id))
            .push(" AND ")
            .push(condition);
        Ok(conn.execute(sql)? == 1)
    })
}

/// The submission finished: the money is kept. False when the row is no
/// longer open (another instance found its lease ended and is giving the
/// money back): the submission must then not report success.
pub fn settle(store: &Store, id: i64) -> Result<bool, StoreError> {
    update(
        store,
        id,
        "status = 'closed', outcome = 'settled', closed_at = ?",
        vec![Arg::Time(now().naive_utc())],
        "status = 'open'",
    )
}

/// The submission that holds the open row failed: it compensates itself,
/// holding the row for `lease`. False when the row is no longer open.
pub fn begin_compensation(store: &Store, id: i64, reason: &str, lease: Duration) -> Result<bool, StoreError> {
    update(
        store,
        id,
        "status = 'compensating', reason = ?, due_at = ?",
        vec![Arg::Text(truncate(reason)), Arg::Time((now() + lease).naive_utc())],
        "status = 'open'",
    )
}

/// The gateway confirmed the outcome: the row is done.
pub fn close(store: &Store, id: i64, outcome: JournalOutcome, gateway_id: Option<&str>) -> Result<bool, StoreError> {
    update(
        store,
        id,
        "status = 'closed', outcome = ?, gateway_id = COALESCE(?, gateway_id), last_error = NULL, closed_at = ?",
        vec![
            Arg::Text(outcome.as_str().into()),
            Arg::OptText(gateway_id.map(str::to_string)),
            Arg::Time(now().naive_utc()),
        ],
        "status <> 'closed'",
    )
}

/// The compensation did not complete; due again at `retry_at`. `error`
/// must not contain secrets.
pub fn retry_later(
    store: &Store,
    id: i64,
    error: &str,
    retry_at: DateTime<Utc>,
    gateway_id: Option<&str>,
) -> Result<bool, StoreError> {
    update(
        store,
        id,
        "status = 'compensating', last_error = ?, due_at = ?, gateway_id = COALESCE(?, gateway_id)",
        vec![
            Arg::Text(truncate(error)),
            Arg::Time(retry_at.naive_utc()),
            Arg::OptText(gateway_id.map(str::to_string)),
        ],
        "status <> 'closed'",
    )
}

/// Why a row found open after its lease is compensated.
pub const ABANDONED: &str = "the submission did not finish after the request was sent (the process stopped)";

/// Claim up to `limit` rows whose time has come: open rows whose holder's
/// lease ended (its process died) and compensations due for a retry. Each
/// becomes `compensating`, held for `lease`, its attempts counted. Two
/// instances never claim one row: SQLite has one writer; PostgreSQL skips
/// rows another claim holds locked.
pub fn claim_due(store: &Store, lease: Duration, limit: usize) -> Result<Vec<JournalEntry>, StoreError> {
    let limit = limit.clamp(1, 1000);
    store.database().with_transaction(|conn| {
        let at = now();
        let postgres = conn.backend() == Backend::Postgres;
        let mut sql = conn.sql("UPDATE money_journal SET status = 'compensating', attempts = attempts + 1, due_at = ");
        sql.bind(Arg::Time((at + lease).naive_utc()))
            .push(", reason = COALESCE(reason, ")
            .bind(Arg::Text(ABANDONED.into()))
            .push(if postgres {
                ") WHERE id = ANY(ARRAY(SELECT id FROM money_journal"
            } else {
                ") WHERE id IN (SELECT id FROM money_journal"
            })
            .push(" WHERE status IN ('open', 'compensating') AND due_at <= ")
            .bind(Arg::Time(at.naive_utc()))
            .push(" ORDER BY due_at, id LIMIT ")
            .bind(Arg::Int(limit as i64));
        sql.push(if postgres { " FOR UPDATE SKIP LOCKED))" } else { ")" });
        sql.push(&format!(" RETURNING {COLUMNS}"));
        let mut claimed = conn
            .load::<Row>(sql)?
            .into_iter()
            .map(Row::into_entry)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|e| e.id);
        Ok(claimed)
    })
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::db::tests::TestDb;

    fn lease() -> Duration {
        Duration::seconds(60)
    }

    fn opened(store: &Store, key: &str, lease: Duration) -> JournalEntry {
        match open(
            store,
            key,
            Some("form-key"),
            "modules/stripe/create_payment",
            &json!({"amount": 599}),
            lease,
        ) {
            Ok(Opened::New(entry)) => entry,
            other => panic!("expected a new row, got {other:?}"),
        }
    }

    /// A held row is not claimed; once settled it is never claimed; a
    /// second open of one key finds the first.
    fn settled_rows_are_never_compensated(store: &Store) {
        let entry = opened(store, "k1", lease());
        assert_eq!(entry.status, JournalStatus::Open);
        assert_eq!(entry.data["amount"], 599);
        assert!(
            claim_due(store, lease(), 10).unwrap().is_empty(),
            "held by its submission"
        );
        assert!(settle(store, entry.id).unwrap());
        assert!(!settle(store, entry.id).unwrap(), "settled once");
        assert!(!begin_compensation(store, entry.id, "late", lease()).unwrap());
        match open(store, "k1", None, "x", &json!({}), lease()).unwrap() {
            Opened::Exists(found) => {
                assert_eq!(found.status, JournalStatus::Closed);
                assert_eq!(found.outcome, Some(JournalOutcome::Settled));
            }
            other => panic!("{other:?}"),
        }
        let past = Duration::seconds(-1);
        let stale = opened(store, "k2", past);
        assert!(settle(store, stale.id).unwrap());
        assert!(
            claim_due(store, lease(), 10).unwrap().is_empty(),
            "settled, even with its lease ended"
        );
    }

    /// An open row whose lease ended (its process died) is claimed once,
    /// with the reason saying so; the late holder can then not settle it.
    fn abandoned_rows_are_claimed_once(store: &Store) {
        let entry = opened(store, "k3", Duration::seconds(-1));
        let claimed = claim_due(store, lease(), 10).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, entry.id);
        assert_eq!(claimed[0].status, JournalStatus::Compensating);
        assert_eq!(claimed[0].attempts, 1);
        assert_eq!(claimed[0].reason.as_deref(), Some(ABANDONED));
        assert!(claim_due(store, lease(), 10).unwrap().is_empty(), "held by the claim");
        assert!(
            !settle(store, entry.id).unwrap(),
            "the late submission must not keep the money"
        );

        // A failed compensation is due again at its retry time, then done.
        assert!(retry_later(store, entry.id, "HTTP 500", now() - Duration::seconds(1), Some("pi_1")).unwrap());
        let again = claim_due(store, lease(), 10).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        assert_eq!(again[0].gateway_id.as_deref(), Some("pi_1"));
        assert_eq!(again[0].last_error.as_deref(), Some("HTTP 500"));
        assert!(close(store, entry.id, JournalOutcome::Refunded, None).unwrap());
        assert!(
            !close(store, entry.id, JournalOutcome::Refunded, None).unwrap(),
            "closed once"
        );
        let done = get(store, "k3").unwrap().unwrap();
        assert_eq!(done.outcome, Some(JournalOutcome::Refunded));
        assert_eq!(done.gateway_id.as_deref(), Some("pi_1"));
        assert!(done.closed_at.is_some());
        assert!(claim_due(store, lease(), 10).unwrap().is_empty());
    }

    /// The submission's own compensation holds the row: nobody claims it
    /// until its lease ends.
    fn own_compensation_holds_the_row(store: &Store) {
        let entry = opened(store, "k4", lease());
        assert!(begin_compensation(store, entry.id, "the response mapper failed", lease()).unwrap());
        assert!(claim_due(store, lease(), 10).unwrap().is_empty());
        let row = get(store, "k4").unwrap().unwrap();
        assert_eq!(row.status, JournalStatus::Compensating);
        assert_eq!(row.reason.as_deref(), Some("the response mapper failed"));
    }

    /// Many claimers at once (threads standing in for instances): each
    /// due row is claimed by exactly one.
    fn concurrent_claims_take_each_row_once(store: &Store) {
        let ids: Vec<i64> = (0..20)
            .map(|i| opened(store, &format!("c{i}"), Duration::seconds(-1)).id)
            .collect();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for _ in 0..10 {
                        mine.extend(claim_due(&store, lease(), 3).unwrap().into_iter().map(|e| e.id));
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<i64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort_unstable();
        assert_eq!(all, ids, "every row claimed, none twice");
    }

    mod sqlite {
        #[test]
        fn settled_rows_are_never_compensated() {
            super::settled_rows_are_never_compensated(super::TestDb::sqlite().store());
        }
        #[test]
        fn abandoned_rows_are_claimed_once() {
            super::abandoned_rows_are_claimed_once(super::TestDb::sqlite().store());
        }
        #[test]
        fn own_compensation_holds_the_row() {
            super::own_compensation_holds_the_row(super::TestDb::sqlite().store());
        }
        #[test]
        fn concurrent_claims_take_each_row_once() {
            super::concurrent_claims_take_each_row_once(super::TestDb::sqlite().store());
        }
    }

    mod postgres {
        #[test]
        fn settled_rows_are_never_compensated() {
            super::settled_rows_are_never_compensated(super::TestDb::postgres().store());
        }
        #[test]
        fn abandoned_rows_are_claimed_once() {
            super::abandoned_rows_are_claimed_once(super::TestDb::postgres().store());
        }
        #[test]
        fn own_compensation_holds_the_row() {
            super::own_compensation_holds_the_row(super::TestDb::postgres().store());
        }
        #[test]
        fn concurrent_claims_take_each_row_once() {
            super::concurrent_claims_take_each_row_once(super::TestDb::postgres().store());
        }
    }
}
