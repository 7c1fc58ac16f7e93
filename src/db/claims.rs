//! Claiming due records for a background loop, atomically, so several
//! payforms instances on one database never take the same work.
//!
//! A claimable model has a state property and a datetime property saying
//! when the record is next due. A claim moves records that are waiting and
//! due, or claimed by a loop whose lease ran out (its instance died), to the
//! claimed state with the due time pushed to the lease's end, in one
//! statement per kind: SQLite has one writer; PostgreSQL skips rows another
//! instance's claim holds locked.

use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::BigInt;
use diesel::QueryableByName;

use super::records;
use super::schema::{ModelType, PropertyType};
use super::sql::{Arg, Conn};
use super::tables::quoted;
use super::{Backend, Partition, Record, StoreError};
use crate::error::FieldError;

/// What to claim, and for how long.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    /// The state property (a string), e.g. `state`.
    pub state: &'a str,
    /// The datetime property holding when the record is due, e.g. `next_attempt_at`.
    pub due_at: &'a str,
    /// The state of records waiting for their due time, e.g. `pending`.
    pub waiting: &'a str,
    /// The state of claimed records, e.g. `sending`.
    pub claimed: &'a str,
    /// How long a claim holds before another loop may take the record.
    pub lease: Duration,
    /// At most this many records per claim (1..=1000).
    pub limit: usize,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn check(model: &ModelType, claim: &Claim<'_>) -> Result<(), StoreError> {
    let kind = |name: &str| model.property(name).map(|p| p.kind);
    let mut errors = Vec::new();
    if kind(claim.state) != Some(PropertyType::String) {
        errors.push(FieldError::new(claim.state, "must be a string property to claim by"));
    }
    // A claim sets the state directly; a property with declared rules
    // changes only through a RecordWrite.
    if model
        .property(claim.state)
        .is_some_and(|p| !p.forward_only.is_empty() || !p.final_values.is_empty())
    {
        errors.push(FieldError::new(
            claim.state,
            "has state rules (forward_only, final) that a claim would bypass",
        ));
    }
    if kind(claim.due_at) != Some(PropertyType::Datetime) {
        errors.push(FieldError::new(claim.due_at, "must be a datetime property to claim by"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Validation(errors))
    }
}

/// Claim due records of `model` in `partition` (an instance works only on
/// its own environment's records, a merchant's loop only on its own; in
/// one transaction); returns them as they are after the claim, oldest
/// first.
pub(crate) fn claim_due(
    conn: &mut Conn,
    model: &ModelType,
    claim: &Claim<'_>,
    now: DateTime<Utc>,
    partition: Partition<'_>,
) -> Result<Vec<Record>, StoreError> {
    check(model, claim)?;
    let limit = claim.limit.clamp(1, 1000);
    let postgres = conn.backend() == Backend::Postgres;
    let table = quoted(model.table());
    let (state, due_at) = (quoted(claim.state), quoted(claim.due_at));
    let mut ids = Vec::new();
    // Expired leases first (older work), then waiting records in id order.
    for (from, comparison) in [(claim.claimed, " < "), (claim.waiting, " <= ")] {
        let room = limit - ids.len();
        if room == 0 {
            break;
        }
        let mut sql = conn.sql(&format!("UPDATE {table} SET {state} = "));
        sql.bind(Arg::Text(claim.claimed.to_string()))
            .push(&format!(", {due_at} = "))
            .bind(Arg::Instant(Some(now + claim.lease)))
            .push(", \"updated_at\" = ")
            .bind(Arg::Instant(Some(now)))
            .push(if postgres {
                " WHERE \"id\" = ANY(ARRAY(SELECT \"id\" FROM "
            } else {
                " WHERE \"id\" IN (SELECT \"id\" FROM "
            })
            .push(&format!("{table} WHERE {state} = "))
            .bind(Arg::Text(from.to_string()))
            .push(&format!(" AND {due_at}{comparison}"))
            .bind(Arg::Instant(Some(now)))
            .push(" AND \"livemode\" = ")
            .bind(Arg::OptBool(Some(partition.livemode)))
            .push(" AND \"merchant\" = ")
            .bind(Arg::Text(partition.merchant.as_str().to_string()))
            .push(" ORDER BY \"id\" LIMIT ")
            .bind(Arg::Int(room as i64));
        if postgres {
            sql.push(" FOR UPDATE SKIP LOCKED))");
        } else {
            sql.push(")");
        }
        sql.push(" RETURNING \"id\"");
        ids.extend(conn.load::<IdRow>(sql.keep_prepared())?.into_iter().map(|row| row.id));
    }
    ids.sort_unstable();
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(record) = records::get(conn, model, id, false, partition)? {
            claimed.push(record);
        }
    }
    Ok(claimed)
}
