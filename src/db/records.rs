//! Writing and reading the rows of a model's table inside a transaction:
//! validation against the model, then one row; `unique: true` is the
//! database's unique index, reported as a field error.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::connection::is_unique_violation;
use super::models::record::{now, Record};
use super::query::{Filter, FilterOp, Order, OrderField, RecordQuery};
use super::schema::{ModelType, PropertyType};
use super::search;
use super::sql::{Arg, Conn};
use super::tables::{bind_value, quoted, row_json, RowJson, MAX_INDEXED_TEXT_BYTES};
use super::typing::coerce;
use super::{Backend, Partition, StoreError};
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
                Ok(Value::String(text))
                    if (def.unique || def.index)
                        && def.kind == PropertyType::String
                        && text.len() > MAX_INDEXED_TEXT_BYTES =>
                {
                    errors.push(FieldError::new(
                        name.as_str(),
                        format!("is too long for an indexed property (at most {MAX_INDEXED_TEXT_BYTES} bytes)"),
                    ))
                }
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

/// Create a record in `partition` (its environment and merchant).
pub(crate) fn create(
    conn: &mut Conn,
    model: &ModelType,
    properties: Map<String, Value>,
    partition: Partition<'_>,
) -> Result<Record, StoreError> {
    let mut stored = Map::new();
    merge(&mut stored, validate(model, properties)?);
    insert(conn, model, None, stored, partition, now(), None)
}

/// Insert a row (with its id when copying records in); `updated_at`
/// defaults to `created_at`.
pub(crate) fn insert(
    conn: &mut Conn,
    model: &ModelType,
    id: Option<i64>,
    stored: Map<String, Value>,
    partition: Partition<'_>,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Record, StoreError> {
    let updated_at = updated_at.unwrap_or(created_at);
    let mut args = Vec::with_capacity(model.properties.len() + 5);
    args.extend([
        Arg::Instant(Some(created_at)),
        Arg::Instant(Some(updated_at)),
        Arg::OptBool(Some(partition.livemode)),
        Arg::Text(partition.merchant.as_str().to_string()),
    ]);
    if let Some(id) = id {
        args.push(Arg::Int(id));
    }
    // Every column, null where not given: one statement per model, kept
    // prepared.
    for def in &model.properties {
        args.push(bind_value(def.kind, stored.get(&def.name)));
    }
    // Created records (no id given) share one head, built once per model.
    let head = match id {
        None => model
            .statements
            .insert_head
            .get_or_init(|| insert_head(model, false))
            .clone(),
        Some(_) => insert_head(model, true),
    };
    let mut sql = conn.sql(&head);
    sql.bind_list(args).push(" RETURNING \"id\" AS n");
    let id = unique_checked(model, &stored, conn.first::<super::sql::IntRow>(sql.keep_prepared()))?
        .ok_or_else(|| StoreError::Database("the insert returned no id".into()))?
        .n;
    Ok(Record {
        id,
        model: model.name.clone(),
        properties: super::models::record::in_model_order(model, stored),
        created_at,
        updated_at,
        livemode: partition.livemode,
        merchant: partition.merchant.clone(),
    })
}

/// `INSERT INTO table (columns) VALUES `, the columns in the order
/// [`insert`] binds them (`id` after the system columns when `with_id`).
fn insert_head(model: &ModelType, with_id: bool) -> String {
    let mut columns = vec!["\"created_at\"", "\"updated_at\"", "\"livemode\"", "\"merchant\""]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    if with_id {
        columns.push("\"id\"".into());
    }
    columns.extend(model.properties.iter().map(|def| quoted(&def.name)));
    format!("INSERT INTO {} ({}) VALUES ", quoted(model.table()), columns.join(", "))
}

/// Write typed `changes` (null clears) to a record read in this transaction.
pub(crate) fn apply(
    conn: &mut Conn,
    model: &ModelType,
    mut record: Record,
    changes: Map<String, Value>,
) -> Result<Record, StoreError> {
    record.updated_at = now();
    let mut sql = conn.sql(&format!("UPDATE {} SET \"updated_at\" = ", quoted(model.table())));
    sql.bind(Arg::Instant(Some(record.updated_at)));
    for (name, value) in &changes {
        if let Some(def) = model.property(name) {
            sql.push(&format!(", {} = ", quoted(name)))
                .bind(bind_value(def.kind, Some(value)));
        }
    }
    sql.push(" WHERE \"id\" = ").bind(Arg::Int(record.id));
    unique_checked(model, &changes, conn.execute(sql.keep_prepared()))?;
    merge(&mut record.properties, changes);
    record.properties = super::models::record::in_model_order(model, std::mem::take(&mut record.properties));
    Ok(record)
}

pub(crate) fn delete(
    conn: &mut Conn,
    model: &ModelType,
    id: i64,
    partition: Partition<'_>,
) -> Result<Record, StoreError> {
    let record = get(conn, model, id, true, partition)?.ok_or_else(|| not_found(model, id))?;
    let mut sql = conn.sql(&format!("DELETE FROM {} WHERE \"id\" = ", quoted(model.table())));
    sql.bind(Arg::Int(id));
    conn.execute(sql)?;
    Ok(record)
}

/// The record `id` of `model` if it belongs to `partition` (an id of the
/// other environment or of another merchant is not found); `lock` takes a
/// row lock on PostgreSQL (SQLite writers already hold the database lock).
pub(crate) fn get(
    conn: &mut Conn,
    model: &ModelType,
    id: i64,
    lock: bool,
    partition: Partition<'_>,
) -> Result<Option<Record>, StoreError> {
    let mut sql = conn.sql(&format!(
        "SELECT {} FROM {} t WHERE t.\"id\" = ",
        row_json(model, "t", conn.backend()),
        quoted(model.table())
    ));
    sql.bind(Arg::Int(id))
        .push(" AND t.\"livemode\" = ")
        .bind(Arg::OptBool(Some(partition.livemode)))
        .push(" AND t.\"merchant\" = ")
        .bind(Arg::Text(partition.merchant.as_str().to_string()));
    if lock && conn.backend() == Backend::Postgres {
        sql.push(" FOR UPDATE");
    }
    conn.first::<RowJson>(sql.keep_prepared())?
        .map(|row| row.into_record(model))
        .transpose()
}

/// The first record (oldest id) of `partition` whose properties equal
/// `matching` (`null` means absent; `id` may be matched too); `lock` as for
/// [`get`].
pub(crate) fn find(
    conn: &mut Conn,
    model: &ModelType,
    matching: &Map<String, Value>,
    lock: bool,
    partition: Partition<'_>,
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
    Ok(search::first_page(conn, model, &query, lock, partition)?
        .into_iter()
        .next())
}

/// A key for PostgreSQL's advisory lock on (model, environment, merchant,
/// matching): two upserts of one key that finds nothing cannot both create.
pub(crate) fn lock_key(model: &ModelType, matching: &Map<String, Value>, partition: Partition<'_>) -> i64 {
    let mut entries: Vec<_> = matching.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut hasher = Sha256::new();
    hasher.update(model.name.as_bytes());
    hasher.update([u8::from(partition.livemode)]);
    // Merchant ids hold no NUL, so the separator keeps them apart from names.
    hasher.update(partition.merchant.as_str().as_bytes());
    hasher.update([0]);
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

pub(crate) fn not_found(model: &ModelType, id: i64) -> StoreError {
    StoreError::NotFound {
        model: model.name.clone(),
        id,
    }
}

/// A unique index refusing the write becomes a field error on the unique
/// property the write set (the first, if it set several).
fn unique_checked<T>(
    model: &ModelType,
    written: &Map<String, Value>,
    result: diesel::QueryResult<T>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => Ok(value),
        Err(e) if is_unique_violation(&e) => {
            let field = model
                .properties
                .iter()
                .find(|def| def.unique && written.get(&def.name).is_some_and(|v| !v.is_null()))
                .map_or("id", |def| def.name.as_str());
            Err(StoreError::Validation(vec![FieldError::new(
                field,
                "has already been taken",
            )]))
        }
        Err(e) => Err(e.into()),
    }
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
        let ordered = super::super::models::record::in_model_order(
            &model(),
            map(json!({"legacy": 1, "status": "a", "amount": 3})),
        );
        assert_eq!(ordered.keys().collect::<Vec<_>>(), ["amount", "status", "legacy"]);
    }

    #[test]
    fn indexed_text_has_a_length_limit() {
        let model = ModelType::parse(
            Path::new("schema/payment.yml"),
            "payment",
            "properties:\n  - { name: ref, type: string, unique: true }\n  - { name: note, type: string }\n",
        )
        .unwrap();
        let long = "x".repeat(MAX_INDEXED_TEXT_BYTES + 1);
        assert!(validate(&model, map(json!({"note": long.clone()}))).is_ok());
        let Err(StoreError::Validation(errors)) = validate(&model, map(json!({"ref": long}))) else {
            panic!("a long unique value must be refused");
        };
        assert!(errors[0].message.contains("too long"), "{}", errors[0].message);
    }

    #[test]
    fn lock_keys_ignore_key_order_but_not_values() {
        let default = crate::merchant_id::MerchantId::default();
        let acme = crate::merchant_id::MerchantId::parse("acme").unwrap();
        let test = Partition {
            livemode: false,
            merchant: &default,
        };
        let a = lock_key(&model(), &map(json!({"amount": 1, "status": "x"})), test);
        let b = lock_key(&model(), &map(json!({"status": "x", "amount": 1})), test);
        let c = lock_key(&model(), &map(json!({"status": "y", "amount": 1})), test);
        let live = lock_key(
            &model(),
            &map(json!({"amount": 1, "status": "x"})),
            Partition { livemode: true, ..test },
        );
        let other_merchant = lock_key(
            &model(),
            &map(json!({"amount": 1, "status": "x"})),
            Partition {
                merchant: &acme,
                ..test
            },
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, live);
        assert_ne!(a, other_merchant);
    }
}
