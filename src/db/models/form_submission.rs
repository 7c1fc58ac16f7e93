//! One rendered form, one effect: a submission claims its idempotency key
//! before anything is written or sent to a gateway, and records what it
//! produced so a second post of the same form replays the answer.

use chrono::NaiveDateTime;
use diesel::sql_types::{Nullable, Text, Timestamp};
use diesel::QueryableByName;
use serde_json::Value;

use crate::db::sql::{Arg, Conn};
use crate::db::{Store, StoreError};

/// How long a claim may stay `processing` before another request may take
/// it over: far beyond a gateway call with its retries.
pub const CLAIM_LEASE_SECS: i64 = 10 * 60;

/// What claiming an idempotency key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key was free and is now ours.
    New,
    /// Another request holds the key and has not finished.
    InProgress,
    /// The key was used and finished; this is what it produced.
    Done(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FormSubmission {
    pub idempotency_key: String,
    pub form: String,
    /// `processing` or `done`.
    pub status: String,
    pub result: Option<Value>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    idempotency_key: String,
    #[diesel(sql_type = Text)]
    form: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    result: Option<String>,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
}

impl Row {
    fn into_submission(self) -> Result<FormSubmission, StoreError> {
        let result = self
            .result
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| StoreError::Database(format!("stored submission result is malformed: {e}")))?;
        Ok(FormSubmission {
            idempotency_key: self.idempotency_key,
            form: self.form,
            status: self.status,
            result,
            created_at: self.created_at.and_utc(),
        })
    }
}

fn load(conn: &mut Conn, key: &str) -> Result<Option<FormSubmission>, StoreError> {
    let mut sql = conn
        .sql("SELECT idempotency_key, form, status, result, created_at FROM form_submissions WHERE idempotency_key = ");
    sql.bind(Arg::Text(key.to_string()));
    conn.first::<Row>(sql)?.map(Row::into_submission).transpose()
}

pub fn get(store: &Store, key: &str) -> Result<Option<FormSubmission>, StoreError> {
    store.database().with_conn(|conn| load(conn, key))
}

/// Claim `key` for `form`: insert it as `processing` unless present.
pub fn claim(store: &Store, key: &str, form: &str) -> Result<Claim, StoreError> {
    store.database().with_transaction(|conn| {
        let mut sql =
            conn.sql("INSERT INTO form_submissions (idempotency_key, form, status, result, created_at) VALUES (");
        sql.bind(Arg::Text(key.to_string()))
            .push(", ")
            .bind(Arg::Text(form.to_string()))
            .push(", 'processing', NULL, ")
            .bind(Arg::Time(crate::db::models::record::now().naive_utc()))
            .push(") ON CONFLICT (idempotency_key) DO NOTHING");
        if conn.execute(sql)? == 1 {
            return Ok(Claim::New);
        }
        // A claim still `processing` long after any gateway call could
        // have ended belongs to a request that died (a crash, a kill): take
        // it over, or the key (an order's) would be stuck for good.
        let cutoff = crate::db::models::record::now() - chrono::Duration::seconds(CLAIM_LEASE_SECS);
        let mut takeover = conn.sql("UPDATE form_submissions SET created_at = ");
        takeover
            .bind(Arg::Time(crate::db::models::record::now().naive_utc()))
            .push(" WHERE status = 'processing' AND idempotency_key = ")
            .bind(Arg::Text(key.to_string()))
            .push(" AND created_at < ")
            .bind(Arg::Time(cutoff.naive_utc()));
        if conn.execute(takeover)? == 1 {
            return Ok(Claim::New);
        }
        match load(conn, key)? {
            Some(FormSubmission {
                status,
                result: Some(result),
                ..
            }) if status == "done" => Ok(Claim::Done(result)),
            Some(_) => Ok(Claim::InProgress),
            // Released between our insert and read: the caller may retry.
            None => Ok(Claim::InProgress),
        }
    })
}

/// Give `key` back (the submission was invalid or failed before any effect).
/// A finished key is kept.
pub fn release(store: &Store, key: &str) -> Result<(), StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("DELETE FROM form_submissions WHERE status = 'processing' AND idempotency_key = ");
        sql.bind(Arg::Text(key.to_string()));
        conn.execute(sql)?;
        Ok(())
    })
}

/// Take a finished key back for a new attempt (an order whose earlier
/// attempt did not pay). True when this caller now holds it; false when
/// another request took it first.
pub fn reopen(store: &Store, key: &str) -> Result<bool, StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("UPDATE form_submissions SET status = 'processing', result = NULL WHERE status = 'done' AND idempotency_key = ");
        sql.bind(Arg::Text(key.to_string()));
        Ok(conn.execute(sql)? == 1)
    })
}

/// Record what the submission produced, so a replay gets the same answer.
pub fn complete(store: &Store, key: &str, result: &Value) -> Result<(), StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("UPDATE form_submissions SET status = 'done', result = ");
        sql.bind(Arg::Text(result.to_string()))
            .push(" WHERE idempotency_key = ")
            .bind(Arg::Text(key.to_string()));
        match conn.execute(sql)? {
            1 => Ok(()),
            _ => Err(StoreError::Database(
                "the submission's idempotency key was not claimed".into(),
            )),
        }
    })
}
