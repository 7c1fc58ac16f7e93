//! Writing and reading records inside a transaction: validation against the
//! model, the row itself, and its side rows (typed values for filtering,
//! unique values for `unique: true`), all or nothing.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::connection::is_unique_violation;
use super::models::record::{in_model_order, now, Record, RecordRow, RECORD_COLUMNS};
use super::query::{Filter, FilterOp, Order, OrderField, RecordQuery};
use super::schema::ModelType;
use super::search;
use super::sql::{Arg, Conn, IntRow};
use super::typing::{coerce, index_key, unique_key};
use super::{Backend, StoreError};
use crate::error::FieldError;

/// Type every given property; any unknown or mistyped one fails the whole
/// write with field-level errors. Null (and a blank non-string) stays null,
/// meaning "remove".
pub(crate) fn validate(model: &ModelType, properties: Map<String, Value>) -> Result<Map<String, Value>, StoreError> {
    let mut typed = Map::with_capacity(properties.len());
    let mut errors = Vec::new();
    for (name, value) in properties {
        match model.property(&name) {
            None => errors.push(FieldError::new(
                name.as_str(),
                format!("is not a property of {}", model.short_name()),
            )),
            Some(def) => match coerce(def.kind, &value) {
                Ok(value) => drop(typed.insert(name, value)),
                Err(why) => errors.push(FieldError::new(name.as_str(), why.to_string())),
            },
        }
    }
    if errors.is_empty() {
        Ok(typed)
    } else {
        Err(StoreError::Validation(errors))
    }
}

/// Apply typed changes to stored properties: null removes.
fn merge(into: &mut Map<String, Value>, changes: Map<String, Value>) {
    for (name, value) in changes {
        if value.is_null() {
            into.remove(&name);
        } else {
            into.insert(name, value);
        }
    }
}

pub(crate) fn create(conn: &mut Conn, model: &ModelType, properties: Map<String, Value>) -> Result<Record, StoreError> {
    let mut stored = Map::new();
    merge(&mut stored, validate(model, properties)?);
    let stored = in_model_order(model, stored);
    let at = now();
    let mut sql = conn.sql("INSERT INTO records (model, properties, created_at, updated_at) VALUES (");
    sql.bind(Arg::Text(model.name.clone()))
        .push(", ")
        .bind(Arg::Json(Value::Object(stored.clone()).to_string()))
        .push(", ")
        .bind(Arg::Time(at.naive_utc()))
        .push(", ")
        .bind(Arg::Time(at.naive_utc()))
        .push(") RETURNING id AS n");
    let id = conn
        .first::<IntRow>(sql)?
        .ok_or_else(|| StoreError::Database("the insert returned no id".into()))?
        .n;
    write_side_rows(conn, model, id, &stored, at)?;
    Ok(Record {
        id,
        model: model.name.clone(),
        properties: stored,
        created_at: at,
        updated_at: at,
    })
}

pub(crate) fn update(
    conn: &mut Conn,
    model: &ModelType,
    id: i64,
    properties: Map<String, Value>,
) -> Result<Record, StoreError> {
    let changes = validate(model, properties)?;
    let mut record = get(conn, model, id, true)?.ok_or_else(|| not_found(model, id))?;
    merge(&mut record.properties, changes);
    record.properties = in_model_order(model, std::mem::take(&mut record.properties));
    record.updated_at = now();
    let mut sql = conn.sql("UPDATE records SET properties = ");
    sql.bind(Arg::Json(Value::Object(record.properties.clone()).to_string()))
        .push(", updated_at = ")
        .bind(Arg::Time(record.updated_at.naive_utc()))
        .push(" WHERE id = ")
        .bind(Arg::Int(id));
    conn.execute(sql)?;
    delete_side_rows(conn, id)?;
    write_side_rows(conn, model, id, &record.properties, record.created_at)?;
    Ok(record)
}

pub(crate) fn delete(conn: &mut Conn, model: &ModelType, id: i64) -> Result<Record, StoreError> {
    let record = get(conn, model, id, true)?.ok_or_else(|| not_found(model, id))?;
    delete_side_rows(conn, id)?;
    let mut sql = conn.sql("DELETE FROM records WHERE id = ");
    sql.bind(Arg::Int(id));
    conn.execute(sql)?;
    Ok(record)
}

/// The record `id` of `model`; `lock` takes a row lock on PostgreSQL (SQLite
/// writers already hold the database lock).
pub(crate) fn get(conn: &mut Conn, model: &ModelType, id: i64, lock: bool) -> Result<Option<Record>, StoreError> {
    let mut sql = conn.sql(&format!("SELECT {RECORD_COLUMNS} FROM records r WHERE r.id = "));
    sql.bind(Arg::Int(id))
        .push(" AND r.model = ")
        .bind(Arg::Text(model.name.clone()));
    if lock && conn.backend() == Backend::Postgres {
        sql.push(" FOR UPDATE");
    }
    conn.first::<RecordRow>(sql)?
        .map(|row| row.into_record(model))
        .transpose()
}

/// The first record (oldest id) whose properties equal `matching` (`null`
/// means absent; `id` may be matched too).
pub(crate) fn find(
    conn: &mut Conn,
    model: &ModelType,
    matching: &Map<String, Value>,
) -> Result<Option<Record>, StoreError> {
    let query = RecordQuery {
        filters: matching
            .iter()
            .map(|(name, value)| Filter::new(name.as_str(), FilterOp::Eq(value.clone())))
            .collect(),
        order: Order {
            field: OrderField::Id,
            descending: false,
        },
        first: Some(1),
        ..RecordQuery::default()
    };
    Ok(search::first_page(conn, model, &query)?.into_iter().next())
}

/// Update the first record matching `matching`, or create one from
/// `matching` and `properties`. An empty `matching` always creates.
/// PostgreSQL takes an advisory lock on (model, matching) so two concurrent
/// upserts of one key cannot both create; SQLite writers are serialised.
pub(crate) fn upsert(
    conn: &mut Conn,
    model: &ModelType,
    matching: &Map<String, Value>,
    properties: Map<String, Value>,
) -> Result<Record, StoreError> {
    upsert_unless(conn, model, matching, properties, &|_| false).map(|(record, _)| record)
}

/// Upsert, except that an existing record for which `keep` says true is left
/// as it is; decided inside the transaction (and the key's lock), so two
/// writers cannot both pass the check. Returns the record and whether it
/// was written.
pub(crate) fn upsert_unless(
    conn: &mut Conn,
    model: &ModelType,
    matching: &Map<String, Value>,
    properties: Map<String, Value>,
    keep: &dyn Fn(&Record) -> bool,
) -> Result<(Record, bool), StoreError> {
    if matching.is_empty() {
        return create(conn, model, properties).map(|r| (r, true));
    }
    // Validate the key the same way a write would, so "599" matches 599.
    let typed_matching = validate(
        model,
        matching
            .iter()
            .filter(|(k, _)| *k != "id")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )?;
    if conn.backend() == Backend::Postgres {
        let mut sql = conn.sql("SELECT pg_advisory_xact_lock(");
        sql.bind(Arg::Int(lock_key(model, &typed_matching))).push(")");
        conn.execute(sql)?;
    }
    match find(conn, model, matching)? {
        Some(found) if keep(&found) => Ok((found, false)),
        Some(found) => update(conn, model, found.id, properties).map(|r| (r, true)),
        None => {
            let mut all = typed_matching;
            all.extend(properties);
            create(conn, model, all).map(|r| (r, true))
        }
    }
}

fn lock_key(model: &ModelType, matching: &Map<String, Value>) -> i64 {
    let mut entries: Vec<_> = matching.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut hasher = Sha256::new();
    hasher.update(model.name.as_bytes());
    for (name, value) in entries {
        hasher.update([0]);
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(value.to_string().as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

fn not_found(model: &ModelType, id: i64) -> StoreError {
    StoreError::NotFound {
        model: model.name.clone(),
        id,
    }
}

fn delete_side_rows(conn: &mut Conn, id: i64) -> Result<(), StoreError> {
    for table in ["record_values", "record_uniques"] {
        let mut sql = conn.sql(&format!("DELETE FROM {table} WHERE record_id = "));
        sql.bind(Arg::Int(id));
        conn.execute(sql)?;
    }
    Ok(())
}

/// Index rows for every non-null property, and a unique row for every
/// `unique: true` one; a taken unique value is a field error.
fn write_side_rows(
    conn: &mut Conn,
    model: &ModelType,
    id: i64,
    properties: &Map<String, Value>,
    created_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for def in &model.properties {
        let Some(value) = properties.get(&def.name) else {
            continue;
        };
        if let Some(key) = index_key(def.kind, value) {
            rows.push((def.name.clone(), key));
        }
    }
    if !rows.is_empty() {
        let mut sql = conn
            .sql("INSERT INTO record_values (record_id, model, property, text_value, num_value, created_at) VALUES ");
        for (i, (name, key)) in rows.into_iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind_list(vec![
                Arg::Int(id),
                Arg::Text(model.name.clone()),
                Arg::Text(name),
                Arg::OptText(key.text),
                Arg::OptNum(key.num),
                Arg::Time(created_at.naive_utc()),
            ]);
        }
        conn.execute(sql)?;
    }
    for def in model.properties.iter().filter(|d| d.unique) {
        let Some(key) = properties.get(&def.name).and_then(|v| unique_key(def.kind, v)) else {
            continue;
        };
        let mut sql = conn.sql("INSERT INTO record_uniques (model, property, value, record_id) VALUES ");
        sql.bind_list(vec![
            Arg::Text(model.name.clone()),
            Arg::Text(def.name.clone()),
            Arg::Text(key),
            Arg::Int(id),
        ]);
        match conn.execute(sql) {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Validation(vec![FieldError::new(
                    def.name.as_str(),
                    "has already been taken",
                )]))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn model() -> ModelType {
        ModelType::parse(
            Path::new("schema/payment.yml"),
            "modules/payments/payment",
            "properties:\n  - name: amount\n    type: integer\n  - name: status\n    type: string\n",
        )
        .unwrap()
    }

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn validation_types_and_collects_every_error() {
        let typed = validate(&model(), map(json!({"amount": "599", "status": "ok"}))).unwrap();
        assert_eq!(Value::Object(typed), json!({"amount": 599, "status": "ok"}));
        let Err(StoreError::Validation(errors)) =
            validate(&model(), map(json!({"amount": "abc", "colour": "red", "id": 3})))
        else {
            panic!("expected validation errors");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["amount", "colour", "id"]);
        assert_eq!(errors[1].message, "is not a property of payment");
        assert!(validate(&model(), Map::new()).unwrap().is_empty());
    }

    #[test]
    fn merge_removes_nulls_and_order_follows_the_model() {
        let mut stored = map(json!({"status": "new", "amount": 1}));
        merge(&mut stored, map(json!({"status": null, "amount": 2})));
        assert_eq!(Value::Object(stored), json!({"amount": 2}));
        let ordered = in_model_order(&model(), map(json!({"legacy": 1, "status": "a", "amount": 3})));
        assert_eq!(ordered.keys().collect::<Vec<_>>(), ["amount", "status", "legacy"]);
    }

    #[test]
    fn lock_keys_ignore_key_order_but_not_values() {
        let a = lock_key(&model(), &map(json!({"amount": 1, "status": "x"})));
        let b = lock_key(&model(), &map(json!({"status": "x", "amount": 1})));
        let c = lock_key(&model(), &map(json!({"status": "y", "amount": 1})));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
