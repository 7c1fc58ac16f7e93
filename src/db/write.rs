//! The one way records are written: forms, response mappers, the `record`
//! tag, webhook processors and the API all describe a [`RecordWrite`], and
//! the store runs it in one transaction with the model's declared rules.
//!
//! The rules (see `schema/*.yml`): `ordered_by:` skips a write carrying an
//! older ordering value than the record's (Stripe does not deliver events in
//! order); `forward_only:` and `final:` keep a property from moving back
//! (a late `processing` never overwrites `succeeded`). A write that breaks a
//! rule is not made at all: its other values are as old as the refused one.
//! The record is read with a row lock (PostgreSQL) or under the write lock
//! (SQLite), so two writers cannot both pass a check.
//!
//! Every write happens in one partition, the store's environment and
//! merchant: a create sets the record's `livemode` and `merchant` from it,
//! and an update, delete or keyed write only finds records of it, so a
//! test-mode write never touches a live record and one merchant's write
//! never touches another's. A write may name `livemode` or `merchant` among
//! its properties or its key (a mapper copying Stripe's object does): it
//! must agree with the store's, and is otherwise refused; no write changes
//! a record's `livemode` or `merchant`.

use serde_json::{Map, Value};

use super::models::record::Record;
use super::records::{self, lock_key, validate};
use super::schema::{ModelType, PropertyType};
use super::sql::{Arg, Conn};
use super::tables::parse_instant;
use super::typing::coerce;
use super::{Backend, Partition, StoreError};
use crate::error::FieldError;

/// A write of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordWrite {
    pub action: WriteAction,
    /// Properties to set; a null value means "not given".
    pub set: Map<String, Value>,
    /// Properties to clear.
    pub unset: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteAction {
    Create,
    Update(Target),
    /// Update the oldest record whose properties equal the key, or create
    /// one from the key and the set properties. An empty key always creates.
    Upsert(Map<String, Value>),
    /// Create one from the key and the set properties unless a record
    /// whose properties equal the key exists; that one is kept as it is.
    /// Several writers (or instances) racing on one key create one record.
    CreateOnce(Map<String, Value>),
    Delete(Target),
}

/// Which record an update or delete is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Id(i64),
    /// The oldest record whose properties equal these (`id` may be one).
    Matching(Map<String, Value>),
}

impl RecordWrite {
    pub fn create(set: Map<String, Value>) -> RecordWrite {
        RecordWrite {
            action: WriteAction::Create,
            set,
            unset: Vec::new(),
        }
    }

    pub fn update(target: Target, set: Map<String, Value>) -> RecordWrite {
        RecordWrite {
            action: WriteAction::Update(target),
            set,
            unset: Vec::new(),
        }
    }

    pub fn upsert(key: Map<String, Value>, set: Map<String, Value>) -> RecordWrite {
        RecordWrite {
            action: WriteAction::Upsert(key),
            set,
            unset: Vec::new(),
        }
    }

    pub fn create_once(key: Map<String, Value>, set: Map<String, Value>) -> RecordWrite {
        RecordWrite {
            action: WriteAction::CreateOnce(key),
            set,
            unset: Vec::new(),
        }
    }

    pub fn delete(target: Target) -> RecordWrite {
        RecordWrite {
            action: WriteAction::Delete(target),
            set: Map::new(),
            unset: Vec::new(),
        }
    }

    /// The write a template describes (a response mapper's JSON, the
    /// `record` tag), with one set of defaults for both: the operation is
    /// `update` when an `id` is given and `create` otherwise; `none` writes
    /// nothing (`Ok(None)`); an upsert without `match` is keyed by
    /// `gateway_id` when the properties have one (so is `create_once`, which
    /// leaves a matching record as it is); an update or delete needs
    /// an `id` or a `match`; null properties are "not given".
    pub fn from_template(
        operation: Option<&str>,
        id: Option<&Value>,
        matching: Option<Map<String, Value>>,
        set: Map<String, Value>,
        unset: Vec<String>,
    ) -> Result<Option<RecordWrite>, StoreError> {
        let id = match id.filter(|v| !v.is_null()) {
            None => None,
            Some(value) => Some(
                match value {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| StoreError::Validation(vec![FieldError::new("id", "must be a record id")]))?,
            ),
        };
        let operation = operation.unwrap_or(if id.is_some() { "update" } else { "create" });
        let target = || match (id, &matching) {
            (Some(id), _) => Ok(Target::Id(id)),
            (None, Some(matching)) if !matching.is_empty() => Ok(Target::Matching(matching.clone())),
            _ => Err(StoreError::Validation(vec![FieldError::new(
                "id",
                format!("{operation} needs an `id` or a `match`"),
            )])),
        };
        let action = match operation {
            "none" => return Ok(None),
            "create" => WriteAction::Create,
            "update" => WriteAction::Update(target()?),
            "delete" => WriteAction::Delete(target()?),
            "upsert" | "create_once" => {
                let key = match &matching {
                    Some(matching) => matching.clone(),
                    None => set
                        .get("gateway_id")
                        .filter(|v| !v.is_null())
                        .map(|v| Map::from_iter([("gateway_id".to_string(), v.clone())]))
                        .unwrap_or_default(),
                };
                if operation == "upsert" {
                    WriteAction::Upsert(key)
                } else {
                    WriteAction::CreateOnce(key)
                }
            }
            other => {
                return Err(StoreError::Validation(vec![FieldError::new(
                    "operation",
                    format!("`{other}` is not one of create, update, upsert, create_once, delete, none"),
                )]))
            }
        };
        Ok(Some(RecordWrite { action, set, unset }))
    }

    /// Clear these properties as well.
    pub fn unsetting(mut self, names: Vec<String>) -> RecordWrite {
        self.unset = names;
        self
    }

    /// Split a map where null means "clear" (GraphQL inputs, the store's
    /// older calls) into set and unset.
    pub fn nulls_clear(mut self) -> RecordWrite {
        let cleared: Vec<String> = self
            .set
            .iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| k.clone())
            .collect();
        self.set.retain(|_, v| !v.is_null());
        self.unset.extend(cleared);
        self
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteResult {
    Created(Record),
    Updated(Record),
    Deleted(Record),
    /// A declared rule refused the write; the record is as stored.
    Kept {
        record: Record,
        reason: String,
    },
    /// An update or delete found no record.
    NotFound,
}

impl WriteResult {
    pub fn record(&self) -> Option<&Record> {
        match self {
            WriteResult::Created(r) | WriteResult::Updated(r) | WriteResult::Deleted(r) => Some(r),
            WriteResult::Kept { record, .. } => Some(record),
            WriteResult::NotFound => None,
        }
    }

    pub fn into_record(self) -> Option<Record> {
        match self {
            WriteResult::Created(r) | WriteResult::Updated(r) | WriteResult::Deleted(r) => Some(r),
            WriteResult::Kept { record, .. } => Some(record),
            WriteResult::NotFound => None,
        }
    }

    pub fn written(&self) -> bool {
        matches!(
            self,
            WriteResult::Created(_) | WriteResult::Updated(_) | WriteResult::Deleted(_)
        )
    }
}

/// Run `write` inside the caller's transaction, in the store's
/// `partition` (environment and merchant).
pub(crate) fn execute(
    conn: &mut Conn,
    model: &ModelType,
    mut write: RecordWrite,
    partition: Partition<'_>,
) -> Result<WriteResult, StoreError> {
    agree_on_partition(&mut write, partition)?;
    let changes = typed_changes(model, write.set, write.unset)?;
    match write.action {
        WriteAction::Create => {
            let set: Map<String, Value> = changes.into_iter().filter(|(_, v)| !v.is_null()).collect();
            records::create(conn, model, set, partition).map(WriteResult::Created)
        }
        WriteAction::Update(target) => match locate(conn, model, &target, partition)? {
            Some(record) => guarded_apply(conn, model, record, changes),
            None => Ok(WriteResult::NotFound),
        },
        WriteAction::Delete(target) => match locate(conn, model, &target, partition)? {
            Some(record) => records::delete(conn, model, record.id, partition).map(WriteResult::Deleted),
            None => Ok(WriteResult::NotFound),
        },
        WriteAction::Upsert(key) | WriteAction::CreateOnce(key) if key.is_empty() => {
            let set: Map<String, Value> = changes.into_iter().filter(|(_, v)| !v.is_null()).collect();
            records::create(conn, model, set, partition).map(WriteResult::Created)
        }
        WriteAction::Upsert(key) => keyed_write(conn, model, key, changes, false, partition),
        WriteAction::CreateOnce(key) => keyed_write(conn, model, key, changes, true, partition),
    }
}

/// Take `livemode` and `merchant` out of the write's properties, key and
/// match: the store decides them, and a value that disagrees (a live
/// object written by a test-mode instance, another merchant's id) refuses
/// the whole write.
fn agree_on_partition(write: &mut RecordWrite, partition: Partition<'_>) -> Result<(), StoreError> {
    let mut errors = Vec::new();
    agree_on(write, "livemode", &mut errors, |given| {
        match coerce(PropertyType::Boolean, given) {
            Ok(Value::Null) => None,
            Ok(Value::Bool(b)) if b == partition.livemode => None,
            Ok(_) => Some(format!(
                "is {given}, but this instance runs in {} mode: a record's livemode is the environment that writes \
                 it",
                crate::environment::Environment::from_livemode(partition.livemode)
            )),
            Err(why) => Some(why.to_string()),
        }
    });
    agree_on(write, "merchant", &mut errors, |given| match given {
        Value::Null => None,
        Value::String(text) if text == partition.merchant.as_str() => None,
        // The given value is not echoed: it may be anything a caller sent.
        _ => Some(format!(
            "names another merchant, but this store writes for merchant `{}`: a record's merchant is the \
             merchant that writes it",
            partition.merchant
        )),
    });
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Validation(errors))
    }
}

/// Remove the system column `name` from the write's properties, key and
/// match, checking each given value (`check` says why one disagrees); a
/// write may not clear it.
fn agree_on(
    write: &mut RecordWrite,
    name: &str,
    errors: &mut Vec<FieldError>,
    check: impl Fn(&Value) -> Option<String>,
) {
    let mut take = |map: &mut Map<String, Value>| {
        if let Some(why) = map.remove(name).and_then(|given| check(&given)) {
            errors.push(FieldError::new(name, why));
        }
    };
    take(&mut write.set);
    match &mut write.action {
        WriteAction::Upsert(key) | WriteAction::CreateOnce(key) => take(key),
        WriteAction::Update(Target::Matching(key)) | WriteAction::Delete(Target::Matching(key)) => take(key),
        _ => {}
    }
    if write.unset.iter().any(|unset| unset == name) {
        errors.push(FieldError::new(name, "is set by payforms and cannot be cleared"));
    }
}

/// An upsert, or a create-once when `once`: find the record by its key
/// (locked), then update it (or keep it) or create it.
fn keyed_write(
    conn: &mut Conn,
    model: &ModelType,
    key: Map<String, Value>,
    changes: Map<String, Value>,
    once: bool,
    partition: Partition<'_>,
) -> Result<WriteResult, StoreError> {
    // Typed as a write would type it, so "599" finds 599.
    let typed_key = validate(
        model,
        key.iter()
            .filter(|(k, _)| *k != "id")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )?;
    // Two writers of a key that finds nothing must not both create.
    if conn.backend() == Backend::Postgres {
        let mut sql = conn.sql("SELECT pg_advisory_xact_lock(");
        sql.bind(Arg::Int(lock_key(model, &typed_key, partition))).push(")");
        conn.execute(sql.keep_prepared())?;
    }
    match records::find(conn, model, &key, true, partition)? {
        Some(record) if once => Ok(WriteResult::Kept {
            record,
            reason: "a record with this key exists".into(),
        }),
        Some(record) => guarded_apply(conn, model, record, changes),
        None => {
            let mut all: Map<String, Value> = typed_key.into_iter().filter(|(_, v)| !v.is_null()).collect();
            all.extend(changes.into_iter().filter(|(_, v)| !v.is_null()));
            records::create(conn, model, all, partition).map(WriteResult::Created)
        }
    }
}

/// The set properties (nulls dropped) and the unset ones (as nulls), typed.
fn typed_changes(
    model: &ModelType,
    set: Map<String, Value>,
    unset: Vec<String>,
) -> Result<Map<String, Value>, StoreError> {
    let mut changes: Map<String, Value> = set.into_iter().filter(|(_, v)| !v.is_null()).collect();
    let mut errors = Vec::new();
    for name in unset {
        if model.property(&name).is_none() {
            errors.push(FieldError::new(
                name.as_str(),
                format!("is not a property of {}", model.short_name()),
            ));
        } else {
            changes.insert(name, Value::Null);
        }
    }
    match validate(model, changes) {
        Ok(typed) if errors.is_empty() => Ok(typed),
        Ok(_) => Err(StoreError::Validation(errors)),
        Err(StoreError::Validation(mut more)) => {
            more.append(&mut errors);
            Err(StoreError::Validation(more))
        }
        Err(other) => Err(other),
    }
}

fn locate(
    conn: &mut Conn,
    model: &ModelType,
    target: &Target,
    partition: Partition<'_>,
) -> Result<Option<Record>, StoreError> {
    match target {
        Target::Id(id) => records::get(conn, model, *id, true, partition),
        Target::Matching(matching) if matching.is_empty() => Ok(None),
        Target::Matching(matching) => records::find(conn, model, matching, true, partition),
    }
}

fn guarded_apply(
    conn: &mut Conn,
    model: &ModelType,
    record: Record,
    changes: Map<String, Value>,
) -> Result<WriteResult, StoreError> {
    if let Some(reason) = refusal(model, &record.properties, &changes) {
        tracing::info!("kept {} {}: {reason}", model.short_name(), record.id);
        return Ok(WriteResult::Kept { record, reason });
    }
    records::apply(conn, model, record, changes).map(WriteResult::Updated)
}

/// Why the model's rules refuse `changes` to a record holding `stored`.
pub(crate) fn refusal(model: &ModelType, stored: &Map<String, Value>, changes: &Map<String, Value>) -> Option<String> {
    if let Some(key) = &model.ordered_by {
        let kind = model.property(key).map_or(PropertyType::Integer, |d| d.kind);
        if let (Some(have), Some(new)) = (stored.get(key), changes.get(key).filter(|v| !v.is_null())) {
            if is_older(kind, new, have) {
                return Some(format!("its {key} ({new}) is older than the record's ({have})"));
            }
        }
    }
    for def in model.properties.iter().filter(|d| d.has_state_rules()) {
        let Some(new) = changes.get(&def.name) else {
            continue;
        };
        let Some(old) = stored.get(&def.name) else {
            continue;
        };
        if new == old {
            continue;
        }
        if def.final_values.contains(old) {
            return Some(format!("{} is {old}, a final value (not moved to {new})", def.name));
        }
        if let Some(from) = def.forward_only.iter().position(|v| v == old) {
            let onward = def.final_values.contains(new) || def.forward_only.iter().position(|v| v == new) > Some(from);
            if !onward {
                return Some(format!(
                    "{} may only move forward from {old} (not back to {new})",
                    def.name
                ));
            }
        }
    }
    None
}

fn is_older(kind: PropertyType, new: &Value, have: &Value) -> bool {
    match kind {
        PropertyType::Datetime => match (
            new.as_str().and_then(parse_instant),
            have.as_str().and_then(parse_instant),
        ) {
            (Some(new), Some(have)) => new < have,
            _ => false,
        },
        _ => match (new.as_f64(), have.as_f64()) {
            (Some(new), Some(have)) => new < have,
            _ => false,
        },
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
            "payment",
            "ordered_by: event_created\nproperties:\n  - { name: state, type: string, forward_only: [authorized, succeeded, partially_refunded, refunded], final: [canceled] }\n  - { name: event_created, type: integer }\n  - { name: note, type: string }\n",
        )
        .unwrap()
    }

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn refused(stored: Value, changes: Value) -> bool {
        refusal(&model(), &map(stored), &map(changes)).is_some()
    }

    #[test]
    fn forward_only_values_move_forward_or_to_a_final_value() {
        assert!(refused(json!({"state": "succeeded"}), json!({"state": "processing"})));
        assert!(refused(json!({"state": "succeeded"}), json!({"state": "authorized"})));
        assert!(refused(json!({"state": "refunded"}), json!({"state": null})));
        assert!(!refused(json!({"state": "succeeded"}), json!({"state": "refunded"})));
        assert!(!refused(json!({"state": "authorized"}), json!({"state": "canceled"})));
        assert!(!refused(
            json!({"state": "succeeded"}),
            json!({"state": "succeeded", "note": "x"})
        ));
        assert!(!refused(json!({"state": "succeeded"}), json!({"note": "x"})));
        // Values outside the lists move freely among themselves.
        assert!(!refused(json!({"state": "failed"}), json!({"state": "pending"})));
        assert!(!refused(json!({"state": "processing"}), json!({"state": "succeeded"})));
    }

    #[test]
    fn final_values_never_change() {
        assert!(refused(json!({"state": "canceled"}), json!({"state": "succeeded"})));
        assert!(refused(json!({"state": "canceled"}), json!({"state": null})));
        assert!(!refused(json!({"state": "canceled"}), json!({"note": "x"})));
    }

    #[test]
    fn older_ordering_values_are_refused_and_ties_pass() {
        assert!(refused(
            json!({"event_created": 200}),
            json!({"event_created": 100, "note": "x"})
        ));
        assert!(!refused(json!({"event_created": 200}), json!({"event_created": 200})));
        assert!(!refused(json!({"event_created": 200}), json!({"event_created": 300})));
        assert!(!refused(json!({}), json!({"event_created": 1})));
        assert!(!refused(json!({"event_created": 200}), json!({"note": "a form"})));
        let why = refusal(
            &model(),
            &map(json!({"state": "succeeded"})),
            &map(json!({"state": "processing"})),
        )
        .unwrap();
        assert!(why.contains("succeeded") && why.contains("processing"), "{why}");
    }

    #[test]
    fn templates_share_one_set_of_defaults() {
        let write = |op: Option<&str>, id: Option<Value>, matching: Option<Value>, set: Value| {
            RecordWrite::from_template(op, id.as_ref(), matching.map(map), map(set), Vec::new())
        };
        let created = write(None, None, None, json!({"a": 1})).unwrap().unwrap();
        assert_eq!(created.action, WriteAction::Create);
        let updated = write(None, Some(json!("12")), None, json!({})).unwrap().unwrap();
        assert_eq!(updated.action, WriteAction::Update(Target::Id(12)));
        let keyed = write(Some("upsert"), None, None, json!({"gateway_id": "pi_1"}))
            .unwrap()
            .unwrap();
        assert_eq!(keyed.action, WriteAction::Upsert(map(json!({"gateway_id": "pi_1"}))));
        let once = write(Some("create_once"), None, None, json!({"gateway_id": "pi_1"}))
            .unwrap()
            .unwrap();
        assert_eq!(once.action, WriteAction::CreateOnce(map(json!({"gateway_id": "pi_1"}))));
        let matched = write(Some("delete"), None, Some(json!({"k": 1})), json!({}))
            .unwrap()
            .unwrap();
        assert_eq!(
            matched.action,
            WriteAction::Delete(Target::Matching(map(json!({"k": 1}))))
        );
        assert!(write(Some("none"), None, None, json!({})).unwrap().is_none());
        assert!(write(Some("update"), None, None, json!({})).is_err());
        assert!(write(Some("merge"), None, None, json!({})).is_err());
        assert!(write(None, Some(json!("x")), None, json!({})).is_err());
    }

    #[test]
    fn nulls_clear_splits_set_and_unset() {
        let write = RecordWrite::update(Target::Id(1), map(json!({"a": 1, "b": null}))).nulls_clear();
        assert_eq!(write.set, map(json!({"a": 1})));
        assert_eq!(write.unset, ["b"]);
    }
}
