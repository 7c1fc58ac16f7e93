//! `Idempotency-Key` of the REST API (`/v1`), as Stripe has it: a write
//! request that carries a key runs once; a retry with the same key and the
//! same request (method, path and body, hashed by the caller) gets the
//! first response back; the same key with another request is refused.
//!
//! A key is scoped by the store's environment and the merchant. Its row is
//! held `in_progress` by a [`Claim`] under a lease while the request runs,
//! then holds the response (`done`). A holder that died leaves its lease to
//! run out, and the next retry takes the key over. Keys expire
//! [`LIFETIME_SECS`] after the first request: an expired row is replaced by
//! the next request with its key, and [`purge_expired`] (run every
//! [`PURGE_EVERY`] by [`start_purger`]) deletes the rest.
//!
//! Exactly one of several concurrent [`begin`]s with one key executes: the
//! row is inserted with `ON CONFLICT DO NOTHING` and taken over with a
//! conditional `UPDATE`, in one transaction (SQLite has one writer;
//! PostgreSQL makes the loser of an insert or update race wait for the
//! winner's commit, then see its row).

use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::QueryableByName;

use crate::db::sql::{Arg, Conn, Sql};
use crate::db::{Store, StoreError};
use crate::error::FieldError;

/// How long a request holds its key before a retry may take it over (its
/// process is then presumed dead). A request that may run longer, such as
/// one that calls the gateway with retries, must [`renew`] its claim.
pub const LEASE_SECS: i64 = 300;

/// How long a key is remembered after its first request (Stripe's 24 hours).
pub const LIFETIME_SECS: i64 = 24 * 60 * 60;

/// The largest response body kept for replays. A larger one is not stored:
/// the key is still used up (the request ran and must not run again), and a
/// replay gets the status and content type with `body: None`. So is a body
/// with a NUL character, which PostgreSQL text cannot hold (JSON escapes it).
pub const MAX_STORED_BODY_BYTES: usize = 1 << 20;

/// The longest key and merchant id accepted (Stripe's limit for keys).
pub const MAX_KEY_BYTES: usize = 255;

/// How often [`start_purger`] deletes expired keys.
pub const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Expired rows deleted per transaction, so a large purge never holds the
/// SQLite writer for long.
const PURGE_BATCH: i64 = 1000;

/// What a request with an `Idempotency-Key` must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Run the request, then [`finish`] (or [`release`]) the claim.
    Execute(Claim),
    /// The key's request already ran: answer this.
    Replay(StoredResponse),
    /// The key was used with another request (method, path or body): 422.
    Mismatch,
    /// The key's request is still running elsewhere: 409, retry later.
    InProgress,
}

/// The right to run the request of one key, and to store its response.
/// Lost when its lease runs out and another request takes the key over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The key's row.
    pub id: i64,
    /// Tells this holder from one that took the row over later.
    token: String,
}

/// The first response of a key, for replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    /// `None`: the body was larger than [`MAX_STORED_BODY_BYTES`] (or held
    /// a NUL) and was not kept. The request did run; answer the status without the body
    /// (never run it again).
    pub body: Option<String>,
}

/// Is `key` acceptable as an `Idempotency-Key`: 1 to 255 visible ASCII
/// characters (no space, as `api::rest::idempotency::key_of` checks)?
pub fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_BYTES).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    request_hash: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Integer>)]
    response_status: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    response_content_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    response_body: Option<String>,
}

impl Row {
    fn response(self) -> Result<StoredResponse, StoreError> {
        let status = self
            .response_status
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| StoreError::Database(format!("idempotency key row {} has a bad status", self.id)))?;
        Ok(StoredResponse {
            status,
            content_type: self.response_content_type.unwrap_or_default(),
            body: self.response_body,
        })
    }
}

/// One key's row: `WHERE livemode = … AND merchant = … AND idempotency_key = …`.
struct Scope<'a> {
    livemode: bool,
    merchant: &'a str,
    key: &'a str,
}

impl Scope<'_> {
    fn push_where(&self, sql: &mut Sql) {
        sql.push(" WHERE livemode = ")
            .bind(Arg::OptBool(Some(self.livemode)))
            .push(" AND merchant = ")
            .bind(Arg::Text(self.merchant.to_string()))
            .push(" AND idempotency_key = ")
            .bind(Arg::Text(self.key.to_string()));
    }
}

/// Times at the precision both databases keep, so what is compared is
/// what was stored.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn check(merchant: &str, key: &str) -> Result<(), StoreError> {
    let mut problems = Vec::new();
    if !valid_key(key) {
        problems.push(FieldError::new(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_BYTES} visible ASCII characters"),
        ));
    }
    if merchant.is_empty() || merchant.len() > MAX_KEY_BYTES || merchant.chars().any(char::is_control) {
        problems.push(FieldError::new(
            "merchant",
            format!("must be 1 to {MAX_KEY_BYTES} bytes without control characters"),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Validation(problems))
    }
}

/// Start the request carrying `key` for `merchant`, whose method, path and
/// body hash to `request_hash`; see [`Begin`]. A key outside
/// [`valid_key`] (or an empty merchant) is a `StoreError::Validation`.
pub fn begin(
    store: &Store,
    merchant: &str,
    key: &str,
    request_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Begin, StoreError> {
    check(merchant, key)?;
    let scope = Scope {
        livemode: store.livemode(),
        merchant,
        key,
    };
    let now = micros(now);
    let hash = hex::encode(request_hash);
    store.database().with_transaction(|conn| {
        // An expired key is forgotten, as if it had never been used.
        let mut expired = conn.sql("DELETE FROM api_idempotency");
        scope.push_where(&mut expired);
        expired.push(" AND expires_at <= ").bind(Arg::Time(now.naive_utc()));
        conn.execute(expired)?;
        // A row released between our insert's conflict and our read is
        // gone: insert again (a few times; then the key is busy).
        for _ in 0..3 {
            if let Some(claim) = insert(conn, &scope, &hash, now)? {
                return Ok(Begin::Execute(claim));
            }
            if let Some(claim) = take_over(conn, &scope, &hash, now)? {
                return Ok(Begin::Execute(claim));
            }
            let mut read = conn.sql(
                "SELECT id, request_hash, status, response_status, response_content_type, response_body \
                 FROM api_idempotency",
            );
            scope.push_where(&mut read);
            match conn.first::<Row>(read)? {
                None => continue,
                Some(row) if row.request_hash != hash => return Ok(Begin::Mismatch),
                Some(row) if row.status == "done" => return Ok(Begin::Replay(row.response()?)),
                // In progress, its lease running (else it was taken over).
                Some(_) => return Ok(Begin::InProgress),
            }
        }
        Ok(Begin::InProgress)
    })
}

/// Insert the key's row as ours unless it is there.
fn insert(conn: &mut Conn, scope: &Scope, hash: &str, now: DateTime<Utc>) -> Result<Option<Claim>, StoreError> {
    let token = new_token();
    let mut sql = conn.sql(
        "INSERT INTO api_idempotency (livemode, merchant, idempotency_key, request_hash, status, claim_token, \
         locked_until, created_at, expires_at) VALUES ",
    );
    sql.bind_list(vec![
        Arg::OptBool(Some(scope.livemode)),
        Arg::Text(scope.merchant.to_string()),
        Arg::Text(scope.key.to_string()),
        Arg::Text(hash.to_string()),
        Arg::Text("in_progress".into()),
        Arg::Text(token.clone()),
        Arg::Time((now + Duration::seconds(LEASE_SECS)).naive_utc()),
        Arg::Time(now.naive_utc()),
        Arg::Time((now + Duration::seconds(LIFETIME_SECS)).naive_utc()),
    ])
    .push(" ON CONFLICT (livemode, merchant, idempotency_key) DO NOTHING RETURNING id");
    Ok(conn.first::<IdRow>(sql)?.map(|row| Claim { id: row.id, token }))
}

/// Take over the key's row when it is our request's and its holder's lease
/// ran out (the process died). On PostgreSQL a concurrent taker waits for
/// the first one's commit, then finds the lease running: one wins.
fn take_over(conn: &mut Conn, scope: &Scope, hash: &str, now: DateTime<Utc>) -> Result<Option<Claim>, StoreError> {
    let token = new_token();
    let mut sql = conn.sql("UPDATE api_idempotency SET claim_token = ");
    sql.bind(Arg::Text(token.clone()))
        .push(", locked_until = ")
        .bind(Arg::Time((now + Duration::seconds(LEASE_SECS)).naive_utc()));
    scope.push_where(&mut sql);
    sql.push(" AND status = 'in_progress' AND request_hash = ")
        .bind(Arg::Text(hash.to_string()))
        .push(" AND locked_until <= ")
        .bind(Arg::Time(now.naive_utc()))
        .push(" RETURNING id");
    Ok(conn.first::<IdRow>(sql)?.map(|row| Claim { id: row.id, token }))
}

/// Store the response of the claimed request so retries replay it; the
/// key is then done. A body over [`MAX_STORED_BODY_BYTES`] (or with a NUL)
/// is not kept
/// (see [`StoredResponse::body`]). False when the claim was lost (its lease
/// ran out and a retry took the key over, or the key expired): nothing is
/// stored, and the response should still be answered.
pub fn finish(store: &Store, claim: &Claim, status: u16, content_type: &str, body: &str) -> Result<bool, StoreError> {
    let kept = (body.len() <= MAX_STORED_BODY_BYTES && !body.contains('\0')).then(|| body.to_string());
    store.database().with_transaction(|conn| {
        let mut sql = conn.sql("UPDATE api_idempotency SET status = 'done', response_status = ");
        sql.bind(Arg::Int(i64::from(status)))
            .push(", response_content_type = ")
            .bind(Arg::Text(content_type.to_string()))
            .push(", response_body = ")
            .bind(Arg::OptText(kept))
            .push(" WHERE id = ")
            .bind(Arg::Int(claim.id))
            .push(" AND claim_token = ")
            .bind(Arg::Text(claim.token.clone()))
            .push(" AND status = 'in_progress'");
        Ok(conn.execute(sql)? == 1)
    })
}

/// Forget the claimed key (the request failed before it had any effect,
/// or answered a 5xx of payforms' own), so a retry runs it. False when the
/// claim was lost; a finished key is never released.
pub fn release(store: &Store, claim: &Claim) -> Result<bool, StoreError> {
    store.database().with_transaction(|conn| {
        let mut sql = conn.sql("DELETE FROM api_idempotency WHERE id = ");
        sql.bind(Arg::Int(claim.id))
            .push(" AND claim_token = ")
            .bind(Arg::Text(claim.token.clone()))
            .push(" AND status = 'in_progress'");
        Ok(conn.execute(sql)? == 1)
    })
}

/// Hold the claim for another [`LEASE_SECS`] from `now` (a request still
/// running, e.g. before each gateway call). False when the claim was lost.
pub fn renew(store: &Store, claim: &Claim, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let until = micros(now) + Duration::seconds(LEASE_SECS);
    store.database().with_transaction(|conn| {
        let mut sql = conn.sql("UPDATE api_idempotency SET locked_until = ");
        sql.bind(Arg::Time(until.naive_utc()))
            // A running request's key must not expire under it.
            .push(", expires_at = CASE WHEN expires_at < ")
            .bind(Arg::Time(until.naive_utc()))
            .push(" THEN ")
            .bind(Arg::Time(until.naive_utc()))
            .push(" ELSE expires_at END WHERE id = ")
            .bind(Arg::Int(claim.id))
            .push(" AND claim_token = ")
            .bind(Arg::Text(claim.token.clone()))
            .push(" AND status = 'in_progress'");
        Ok(conn.execute(sql)? == 1)
    })
}

/// Delete the keys (of every environment) expired at `now`; how many.
pub fn purge_expired(store: &Store, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let now = micros(now);
    let mut purged = 0;
    loop {
        let deleted = store.database().with_transaction(|conn| {
            let mut sql = conn
                .sql("DELETE FROM api_idempotency WHERE id IN (SELECT id FROM api_idempotency WHERE expires_at <= ");
            sql.bind(Arg::Time(now.naive_utc()))
                .push(" ORDER BY expires_at LIMIT ")
                .bind(Arg::Int(PURGE_BATCH))
                .push(")");
            Ok(conn.execute(sql)?)
        })?;
        purged += deleted;
        if (deleted as i64) < PURGE_BATCH {
            return Ok(purged);
        }
    }
}

/// Purge expired keys every [`PURGE_EVERY`] until the runtime stops (start
/// it once per instance, beside the other background loops; several
/// instances purging one database is harmless).
pub fn start_purger(store: Store, runtime: &tokio::runtime::Handle) {
    runtime.spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let purging = store.clone();
            match tokio::task::spawn_blocking(move || purge_expired(&purging, Utc::now())).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::debug!("purged {n} expired idempotency keys"),
                Ok(Err(e)) => tracing::warn!("purging expired idempotency keys: {e}"),
                Err(e) => tracing::error!("idempotency key purge failed: {e}"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;
    use crate::db::tests::TestDb;
    use crate::environment::Environment;

    const A: [u8; 32] = [0xaa; 32];
    const B: [u8; 32] = [0xbb; 32];

    fn t0() -> DateTime<Utc> {
        micros(Utc::now())
    }

    fn secs(n: i64) -> Duration {
        Duration::seconds(n)
    }

    fn execute(store: &Store, merchant: &str, key: &str, hash: &[u8; 32], now: DateTime<Utc>) -> Claim {
        match begin(store, merchant, key, hash, now).unwrap() {
            Begin::Execute(claim) => claim,
            other => panic!("expected Execute, got {other:?}"),
        }
    }

    fn replay(store: &Store, merchant: &str, key: &str, hash: &[u8; 32], now: DateTime<Utc>) -> StoredResponse {
        match begin(store, merchant, key, hash, now).unwrap() {
            Begin::Replay(response) => response,
            other => panic!("expected Replay, got {other:?}"),
        }
    }

    fn rows(store: &Store) -> i64 {
        store
            .database()
            .with_conn(|conn| {
                let sql = conn.sql("SELECT COUNT(*) AS n FROM api_idempotency");
                Ok(conn.first::<crate::db::sql::IntRow>(sql)?.map_or(0, |r| r.n))
            })
            .unwrap()
    }

    /// First use runs; a retry while it runs is told so; once finished,
    /// retries replay the stored response.
    fn first_use_executes_then_replays(store: &Store) {
        let now = t0();
        let claim = execute(store, "acct_1", "key-1", &A, now);
        assert_eq!(
            begin(store, "acct_1", "key-1", &A, now + secs(1)).unwrap(),
            Begin::InProgress
        );
        assert!(finish(store, &claim, 201, "application/json", r#"{"id":"pay_1"}"#).unwrap());
        assert!(
            !finish(store, &claim, 500, "text/plain", "again").unwrap(),
            "finished once"
        );
        for later in [secs(2), secs(LEASE_SECS * 10)] {
            let response = replay(store, "acct_1", "key-1", &A, now + later);
            assert_eq!(
                response,
                StoredResponse {
                    status: 201,
                    content_type: "application/json".into(),
                    body: Some(r#"{"id":"pay_1"}"#.into()),
                }
            );
        }
        assert!(!release(store, &claim).unwrap(), "a finished key is never released");
        assert_eq!(replay(store, "acct_1", "key-1", &A, now + secs(3)).status, 201);
    }

    /// Another request under a used key is refused, finished or running,
    /// and even when its holder's lease ran out.
    fn another_request_is_a_mismatch(store: &Store) {
        let now = t0();
        let claim = execute(store, "acct_1", "key-2", &A, now);
        assert_eq!(begin(store, "acct_1", "key-2", &B, now).unwrap(), Begin::Mismatch);
        assert_eq!(
            begin(store, "acct_1", "key-2", &B, now + secs(LEASE_SECS + 1)).unwrap(),
            Begin::Mismatch,
            "a dead holder's key is not another request's to take"
        );
        assert!(
            finish(store, &claim, 200, "application/json", "{}").unwrap(),
            "still its holder's: nobody took it over"
        );
        let claim = execute(store, "acct_1", "key-3", &A, now);
        assert!(finish(store, &claim, 200, "application/json", "{}").unwrap());
        assert_eq!(
            begin(store, "acct_1", "key-3", &B, now + secs(1)).unwrap(),
            Begin::Mismatch
        );
        assert_eq!(replay(store, "acct_1", "key-3", &A, now + secs(1)).status, 200);
    }

    /// A holder whose lease ran out (its process died) loses the key to
    /// the next retry; the late holder can then neither finish nor release.
    fn a_dead_holder_is_taken_over(store: &Store) {
        let now = t0();
        let dead = execute(store, "acct_1", "key-4", &A, now);
        assert_eq!(
            begin(store, "acct_1", "key-4", &A, now + secs(LEASE_SECS - 1)).unwrap(),
            Begin::InProgress
        );
        let alive = execute(store, "acct_1", "key-4", &A, now + secs(LEASE_SECS));
        assert_eq!(alive.id, dead.id, "the same row, taken over");
        assert_ne!(alive, dead);
        assert_eq!(
            begin(store, "acct_1", "key-4", &A, now + secs(LEASE_SECS + 1)).unwrap(),
            Begin::InProgress,
            "held by the new claim"
        );
        assert!(!finish(store, &dead, 200, "application/json", "late").unwrap());
        assert!(!release(store, &dead).unwrap());
        assert!(finish(store, &alive, 200, "application/json", "on time").unwrap());
        let response = replay(store, "acct_1", "key-4", &A, now + secs(LEASE_SECS + 2));
        assert_eq!(response.body.as_deref(), Some("on time"));
    }

    /// A renewed claim keeps its key past the first lease.
    fn renewal_extends_the_lease(store: &Store) {
        let now = t0();
        let claim = execute(store, "acct_1", "key-5", &A, now);
        assert!(renew(store, &claim, now + secs(LEASE_SECS - 10)).unwrap());
        assert_eq!(
            begin(store, "acct_1", "key-5", &A, now + secs(LEASE_SECS + 1)).unwrap(),
            Begin::InProgress
        );
        let taker = execute(store, "acct_1", "key-5", &A, now + secs(2 * LEASE_SECS));
        assert!(!renew(store, &claim, now + secs(2 * LEASE_SECS)).unwrap(), "lost");
        assert!(renew(store, &taker, now + secs(2 * LEASE_SECS)).unwrap());
    }

    /// A released key runs again on retry, with the same or another request.
    fn a_released_key_runs_again(store: &Store) {
        let now = t0();
        let claim = execute(store, "acct_1", "key-6", &A, now);
        assert!(release(store, &claim).unwrap());
        assert!(!release(store, &claim).unwrap(), "released once");
        assert!(!finish(store, &claim, 200, "application/json", "{}").unwrap());
        let again = execute(store, "acct_1", "key-6", &B, now + secs(1));
        assert_ne!(again, claim);
        assert!(finish(store, &again, 402, "application/json", r#"{"error":{}}"#).unwrap());
        assert_eq!(replay(store, "acct_1", "key-6", &B, now + secs(2)).status, 402);
    }

    /// Keys are remembered 24 hours: then the next request with the key
    /// (even another one) runs, and the purge deletes what is left.
    fn keys_expire_after_a_day(store: &Store) {
        let now = t0();
        let day = secs(LIFETIME_SECS);
        let first = execute(store, "acct_1", "key-7", &A, now);
        assert!(finish(store, &first, 200, "application/json", "first").unwrap());
        assert_eq!(
            replay(store, "acct_1", "key-7", &A, now + day - secs(1))
                .body
                .as_deref(),
            Some("first")
        );
        let second = execute(store, "acct_1", "key-7", &B, now + day);
        assert!(!finish(store, &first, 200, "application/json", "stale").unwrap());
        assert!(finish(store, &second, 200, "application/json", "second").unwrap());
        assert_eq!(
            replay(store, "acct_1", "key-7", &B, now + day + secs(1))
                .body
                .as_deref(),
            Some("second")
        );
        // An unfinished key expires too.
        let _abandoned = execute(store, "acct_1", "key-8", &A, now);
        let young = execute(store, "acct_1", "key-9", &A, now + secs(10));
        assert!(finish(store, &young, 200, "application/json", "{}").unwrap());
        assert_eq!(rows(store), 3);
        assert_eq!(purge_expired(store, now + day - secs(1)).unwrap(), 0);
        assert_eq!(purge_expired(store, now + day).unwrap(), 1, "key-8");
        assert_eq!(purge_expired(store, now + day + secs(10)).unwrap(), 1, "key-9");
        assert_eq!(rows(store), 1, "key-7's second use");
        assert_eq!(purge_expired(store, now + day + day).unwrap(), 1);
        assert_eq!(rows(store), 0);
    }

    /// The purge deletes in batches until nothing expired is left.
    fn purge_takes_every_batch(store: &Store) {
        let now = t0();
        let count = PURGE_BATCH as usize * 2 + 5;
        store
            .database()
            .with_transaction(|conn| {
                for i in 0..count {
                    insert(
                        conn,
                        &Scope {
                            livemode: false,
                            merchant: "acct_1",
                            key: &format!("bulk-{i}"),
                        },
                        &hex::encode(A),
                        now,
                    )?;
                }
                Ok(())
            })
            .unwrap();
        execute(store, "acct_1", "fresh", &A, now + secs(1));
        assert_eq!(purge_expired(store, now + secs(LIFETIME_SECS)).unwrap(), count);
        assert_eq!(rows(store), 1);
    }

    /// Two merchants, or the two environments, with one key are unrelated.
    fn scopes_are_independent(store: &Store) {
        let now = t0();
        let one = execute(store, "acct_1", "shared", &A, now);
        let two = execute(store, "acct_2", "shared", &B, now);
        let live = store.clone().with_environment(Environment::Live);
        let three = execute(&live, "acct_1", "shared", &B, now);
        assert!(finish(store, &one, 200, "application/json", "one").unwrap());
        assert!(finish(store, &two, 201, "application/json", "two").unwrap());
        assert!(finish(&live, &three, 202, "application/json", "three").unwrap());
        assert_eq!(replay(store, "acct_1", "shared", &A, now).body.as_deref(), Some("one"));
        assert_eq!(replay(store, "acct_2", "shared", &B, now).body.as_deref(), Some("two"));
        assert_eq!(
            replay(&live, "acct_1", "shared", &B, now).body.as_deref(),
            Some("three")
        );
        assert_eq!(begin(store, "acct_2", "shared", &A, now).unwrap(), Begin::Mismatch);
    }

    /// A body over the cap is not kept, but the key stays used.
    fn oversized_bodies_are_not_kept(store: &Store) {
        let now = t0();
        let claim = execute(store, "acct_1", "big", &A, now);
        let body = "x".repeat(MAX_STORED_BODY_BYTES + 1);
        assert!(finish(store, &claim, 200, "application/json", &body).unwrap());
        let response = replay(store, "acct_1", "big", &A, now + secs(1));
        assert_eq!((response.status, response.body), (200, None));
        let claim = execute(store, "acct_1", "just-fits", &A, now);
        let body = "y".repeat(MAX_STORED_BODY_BYTES);
        assert!(finish(store, &claim, 200, "application/json", &body).unwrap());
        assert_eq!(
            replay(store, "acct_1", "just-fits", &A, now).body.map(|b| b.len()),
            Some(body.len())
        );
        let claim = execute(store, "acct_1", "nul", &A, now);
        assert!(finish(store, &claim, 200, "text/plain", "a\0b").unwrap());
        assert_eq!(replay(store, "acct_1", "nul", &A, now).body, None);
    }

    /// Keys the header rules refuse are refused here too; nothing is stored.
    fn bad_keys_are_refused(store: &Store) {
        let now = t0();
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        for key in [
            "",
            long.as_str(),
            "sp ace",
            "tab\there",
            "new\nline",
            "caf\u{e9}",
            "nul\0",
        ] {
            let result = begin(store, "acct_1", key, &A, now);
            assert!(matches!(result, Err(StoreError::Validation(_))), "{key:?}: {result:?}");
        }
        let long = "m".repeat(MAX_KEY_BYTES + 1);
        for merchant in ["", long.as_str(), "acct\0", "acct\n"] {
            let result = begin(store, merchant, "key", &A, now);
            assert!(
                matches!(result, Err(StoreError::Validation(_))),
                "{merchant:?}: {result:?}"
            );
        }
        execute(store, "acct_1", &"k".repeat(MAX_KEY_BYTES), &A, now);
        assert_eq!(rows(store), 1);
    }

    /// `threads` callers begin `key` at `now` at once; the claims won.
    fn race(store: &Store, key: &str, hash: [u8; 32], now: DateTime<Utc>, threads: usize) -> Vec<Begin> {
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let store = store.clone();
                let barrier = barrier.clone();
                let key = key.to_string();
                std::thread::spawn(move || {
                    barrier.wait();
                    begin(&store, "acct_1", &key, &hash, now).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    fn executed(outcomes: &[Begin]) -> usize {
        outcomes.iter().filter(|b| matches!(b, Begin::Execute(_))).count()
    }

    /// Concurrent first uses, takeovers and replacements of one key: one
    /// runs, the others are told it is in progress.
    fn concurrent_begins_execute_once(store: &Store) {
        let now = t0();
        for round in 0..5 {
            let key = format!("race-{round}");
            let outcomes = race(store, &key, A, now, 8);
            assert_eq!(executed(&outcomes), 1, "{outcomes:?}");
            assert_eq!(outcomes.iter().filter(|b| **b == Begin::InProgress).count(), 7);

            // The winner dies: its lease runs out, and one retry takes over.
            let outcomes = race(store, &key, A, now + secs(LEASE_SECS), 8);
            assert_eq!(executed(&outcomes), 1, "takeover: {outcomes:?}");

            // A day later the key is replaced by exactly one request.
            let outcomes = race(store, &key, B, now + secs(LIFETIME_SECS + 1), 8);
            assert_eq!(executed(&outcomes), 1, "replacement: {outcomes:?}");
        }
        assert_eq!(rows(store), 5);
    }

    #[test]
    fn keys_follow_the_header_rules() {
        assert!(valid_key("a"));
        assert!(valid_key("9f1c2b6e-6a5f-4b3c-9d2e-1f0a8b7c6d5e"));
        assert!(valid_key("~!#$%&'()*+,-./:;<=>?@[\\]^_`{|}"));
        assert!(!valid_key("with space"));
        assert!(valid_key(&"k".repeat(255)));
        assert!(!valid_key(""));
        assert!(!valid_key(&"k".repeat(256)));
        assert!(!valid_key("\u{7f}"));
        assert!(!valid_key("\u{ff21}"));
    }

    macro_rules! on_both_backends {
        ($($name:ident),* $(,)?) => {
            mod sqlite {
                $( #[test] fn $name() { let db = super::TestDb::sqlite(); super::$name(db.store()); } )*
            }
            mod postgres {
                $( #[test] fn $name() { let db = super::TestDb::postgres(); super::$name(db.store()); } )*
            }
        };
    }

    on_both_backends!(
        first_use_executes_then_replays,
        another_request_is_a_mismatch,
        a_dead_holder_is_taken_over,
        renewal_extends_the_lease,
        a_released_key_runs_again,
        keys_expire_after_a_day,
        purge_takes_every_batch,
        scopes_are_independent,
        oversized_bodies_are_not_kept,
        bad_keys_are_refused,
        concurrent_begins_execute_once,
    );
}
