//! The store's suite, written once and run on both backends: SQLite in a
//! temporary file and PostgreSQL in a fresh database per test (base URL from
//! PAYFORMS_TEST_PG; an unreachable server fails the tests).

use std::collections::HashSet;
use std::path::Path;

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName};
use serde_json::{json, Map, Value};

use super::aggregate::{DayTotal, DayTotalsQuery, MAX_DAYS, MAX_GROUPS_PER_DAY};
use super::connection::redact_url;
use super::models::webhook_event::{self, WebhookStatus};
use super::models::{form_submission, setting};
use super::query::{Filter, FilterOp, Order, OrderField, RecordQuery};
use super::schema::ModelType;
use super::sql::Conn;
use super::write::{RecordWrite, Target, WriteResult};
use super::{search, Backend, Record, Store, StoreError};
use crate::environment::Environment;
use crate::error::FieldError;
use crate::merchant_id::MerchantId;

const DEFAULT_TEST_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A migrated store that cleans up after itself.
pub(crate) struct TestDb {
    store: Option<Store>,
    _dir: Option<tempfile::TempDir>,
    /// Admin URL and database name, to drop it.
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub(crate) fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("data/test.db").display())).unwrap();
        store.migrate().unwrap();
        create_tables(&store);
        TestDb {
            store: Some(store),
            _dir: Some(dir),
            postgres: None,
        }
    }

    pub(crate) fn postgres() -> TestDb {
        let (base, name, url) = empty_postgres();
        let store = Store::connect(&url).unwrap();
        store.migrate().unwrap();
        create_tables(&store);
        TestDb {
            store: Some(store),
            _dir: None,
            postgres: Some((base, name)),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }
}

/// A new, empty PostgreSQL database: the server's URL, its name, its URL.
fn empty_postgres() -> (String, String, String) {
    let base = std::env::var("PAYFORMS_TEST_PG").unwrap_or_else(|_| DEFAULT_TEST_PG.to_string());
    let mut admin = PgConnection::establish(&base).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {} is unreachable (set PAYFORMS_TEST_PG): {e}",
            redact_url(&base)
        )
    });
    let name = format!("payforms_test_{}", uuid::Uuid::new_v4().simple());
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&name);
    (base, name, url.to_string())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop(self.store.take());
        if let Some((base, name)) = &self.postgres {
            // Best effort: a failed drop leaves a database, not a failed test.
            if let Ok(mut admin) = PgConnection::establish(base) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// The tables the suite writes: `payment` and `refund`.
fn create_tables(store: &Store) {
    store
        .migrate_models(&[&payment(), &refund(), &job()], Default::default())
        .unwrap();
}

/// Work for a background loop: claimed by state and due time.
fn job() -> ModelType {
    model(
        "modules/payments/job",
        "properties:\n  - { name: key, type: string, unique: true }\n  - { name: state, type: string, index: true }\n  - { name: due_at, type: datetime }\n",
    )
}

fn refund() -> ModelType {
    model(
        "modules/payments/refund",
        "properties:\n  - name: gateway_id\n    type: string\n    unique: true\n  - name: amount\n    type: integer\n",
    )
}

/// Generate `sqlite::NAME` and `postgres::NAME` for each `fn NAME(&Store)`.
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
    migrate_twice_and_ping,
    create_types_and_reads_back,
    invalid_writes_write_nothing,
    unique_properties_are_enforced,
    update_merges_and_null_removes,
    delete_returns_the_record,
    upsert_updates_or_creates,
    declared_rules_hold_for_every_writer,
    migrations_add_refuse_and_retype,
    find_matches_typed_values,
    filters_on_every_type,
    contains_matches_text_literally,
    numbered_pages_skip_records,
    filter_values_are_checked,
    order_by_property_and_missing_values,
    pagination_forwards_and_backwards_uses_an_index,
    fifty_concurrent_writers_lose_nothing,
    models_do_not_see_each_other,
    form_submissions_claim_once,
    webhook_events_lifecycle,
    claims_read_the_due_indexes,
    records_are_claimed_once_and_created_once,
    settings_round_trip,
    environments_do_not_see_each_other,
    keyed_writes_stay_in_their_environment,
    pre_livemode_tables_get_the_column,
    merchants_do_not_see_each_other,
    keyed_writes_stay_with_their_merchant,
    pre_merchant_tables_get_the_column,
    webhook_events_are_deduplicated_per_merchant,
    day_totals_group_by_utc_day_in_sql,
    day_totals_stay_in_their_partition,
    day_totals_are_bounded,
);

fn model(name: &str, yaml: &str) -> ModelType {
    let short = name.rsplit('/').next().unwrap();
    ModelType::parse(Path::new(&format!("schema/{short}.yml")), name, yaml).unwrap()
}

fn payment() -> ModelType {
    model(
        "modules/payments/payment",
        "name: payment
ordered_by: event_created
properties:
  - name: state
    type: string
    forward_only: [authorized, succeeded, refunded]
    final: [canceled]
  - name: event_created
    type: integer
  - name: gateway_id
    type: string
    unique: true
  - name: customer
    type: string
    index: true
  - name: amount
    type: integer
    index: true
  - name: currency
    type: string
  - name: rate
    type: float
  - name: captured
    type: boolean
  - name: paid_at
    type: datetime
  - name: metadata
    type: json
  - name: tags
    type: array
",
    )
}

fn props(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn fields(error: StoreError) -> Vec<FieldError> {
    match error {
        StoreError::Validation(fields) => fields,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn ids(records: &[Record]) -> Vec<i64> {
    records.iter().map(|r| r.id).collect()
}

fn query(filters: Vec<Filter>) -> RecordQuery {
    RecordQuery {
        filters,
        first: Some(250),
        ..RecordQuery::default()
    }
}

fn eq(property: &str, value: Value) -> Filter {
    Filter::new(property, FilterOp::Eq(value))
}

fn migrate_twice_and_ping(store: &Store) {
    store.migrate().unwrap();
    store.migrate().unwrap();
    store.ping().unwrap();
}

fn create_types_and_reads_back(store: &Store) {
    let model = payment();
    let record = store
        .create_record(
            &model,
            props(json!({
                "tags": ["a", "caf\u{e9}"],
                "amount": "599",
                "currency": "eur",
                "rate": "0.5",
                "captured": "1",
                "paid_at": "2024-05-01T14:00:00+02:00",
                "metadata": {"order": {"lines": [1, 2]}, "note": null},
                "gateway_id": "pi_\u{1f600}",
                "customer": null,
            })),
        )
        .unwrap();
    assert!(record.id > 0);
    assert_eq!(record.model, "modules/payments/payment");
    // Typed, normalised, nulls dropped, in the model's order.
    assert_eq!(
        Value::Object(record.properties.clone()),
        json!({
            "gateway_id": "pi_\u{1f600}",
            "amount": 599,
            "currency": "eur",
            "rate": 0.5,
            "captured": true,
            "paid_at": "2024-05-01T12:00:00Z",
            "metadata": {"order": {"lines": [1, 2]}, "note": null},
            "tags": ["a", "caf\u{e9}"],
        })
    );
    assert_eq!(
        record.properties.keys().collect::<Vec<_>>(),
        [
            "gateway_id",
            "amount",
            "currency",
            "rate",
            "captured",
            "paid_at",
            "metadata",
            "tags"
        ]
    );
    assert_eq!(record.created_at, record.updated_at);
    let read = store.get_record(&model, record.id).unwrap().unwrap();
    assert_eq!(read, record);
    let liquid = record.to_liquid_json();
    assert_eq!(liquid["id"], json!(record.id.to_string()));
    assert_eq!(liquid["amount"], json!(599));
    assert!(liquid["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(store.get_record(&model, record.id + 1000).unwrap(), None);

    let empty = store.create_record(&model, Map::new()).unwrap();
    assert!(empty.properties.is_empty());
    assert!(empty.id > record.id);
}

fn invalid_writes_write_nothing(store: &Store) {
    let model = payment();
    let errors = fields(
        store
            .create_record(
                &model,
                props(json!({"amount": "5.99", "colour": "red", "currency": "usd"})),
            )
            .unwrap_err(),
    );
    assert_eq!(
        errors,
        [
            FieldError::new("amount", "must be an integer"),
            FieldError::new("colour", "is not a property of payment"),
        ]
    );
    assert_eq!(store.count_records(&model, &[]).unwrap(), 0);

    let record = store.create_record(&model, props(json!({"amount": 1}))).unwrap();
    let error = store
        .update_record(&model, record.id, props(json!({"amount": 2, "tags": "not an array"})))
        .unwrap_err();
    assert_eq!(fields(error), [FieldError::new("tags", "must be an array")]);
    assert_eq!(store.get_record(&model, record.id).unwrap().unwrap(), record);

    // A batch is all or nothing.
    let batch = vec![props(json!({"amount": 3})), props(json!({"amount": "x"}))];
    assert!(store.create_records(&model, batch).is_err());
    assert_eq!(store.count_records(&model, &[]).unwrap(), 1);
    let display = StoreError::Validation(vec![FieldError::new("a", "is bad"), FieldError::new("b", "too")]);
    assert_eq!(display.to_string(), "a is bad, b too");
}

fn unique_properties_are_enforced(store: &Store) {
    let model = payment();
    let first = store
        .create_record(&model, props(json!({"gateway_id": "pi_1", "amount": 1})))
        .unwrap();
    let taken = store
        .create_record(&model, props(json!({"gateway_id": "pi_1", "amount": 2})))
        .unwrap_err();
    assert_eq!(fields(taken), [FieldError::new("gateway_id", "has already been taken")]);
    assert_eq!(store.count_records(&model, &[]).unwrap(), 1);

    // Updating another record to a taken value fails and changes nothing.
    let second = store
        .create_record(&model, props(json!({"gateway_id": "pi_2"})))
        .unwrap();
    let taken = store
        .update_record(&model, second.id, props(json!({"gateway_id": "pi_1", "amount": 9})))
        .unwrap_err();
    assert_eq!(fields(taken), [FieldError::new("gateway_id", "has already been taken")]);
    assert_eq!(store.get_record(&model, second.id).unwrap().unwrap(), second);

    // Keeping one's own value is fine; freeing a value makes it available.
    store
        .update_record(&model, first.id, props(json!({"gateway_id": "pi_1", "amount": 5})))
        .unwrap();
    store
        .update_record(&model, first.id, props(json!({"gateway_id": null})))
        .unwrap();
    store
        .update_record(&model, second.id, props(json!({"gateway_id": "pi_1"})))
        .unwrap();
    store.delete_record(&model, second.id).unwrap();
    store
        .create_record(&model, props(json!({"gateway_id": "pi_1"})))
        .unwrap();

    // An indexed value has a length limit, the same on both backends (a
    // PostgreSQL index entry cannot hold much more); the limit itself fits.
    let long = "x".repeat(2_001);
    let refused = fields(
        store
            .create_record(&model, props(json!({"gateway_id": long})))
            .unwrap_err(),
    );
    assert_eq!(refused[0].field, "gateway_id");
    assert!(refused[0].message.contains("too long"), "{}", refused[0].message);
    let longest = "x".repeat(2_000);
    store
        .create_record(&model, props(json!({"gateway_id": longest})))
        .unwrap();
    assert!(store
        .create_record(&model, props(json!({"gateway_id": longest})))
        .is_err());
}

fn update_merges_and_null_removes(store: &Store) {
    let model = payment();
    let record = store
        .create_record(
            &model,
            props(json!({"amount": 1, "currency": "usd", "customer": "cus_1"})),
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let updated = store
        .update_record(
            &model,
            record.id,
            props(json!({"amount": "2", "customer": null, "captured": "false"})),
        )
        .unwrap();
    assert_eq!(
        Value::Object(updated.properties.clone()),
        json!({"amount": 2, "currency": "usd", "captured": false})
    );
    assert_eq!(updated.created_at, record.created_at);
    assert!(updated.updated_at > record.updated_at);
    assert_eq!(store.get_record(&model, record.id).unwrap().unwrap(), updated);
    // The index follows: the old value no longer matches, the new one does.
    assert_eq!(
        store.count_records(&model, &[eq("customer", json!("cus_1"))]).unwrap(),
        0
    );
    assert_eq!(store.count_records(&model, &[eq("amount", json!(2))]).unwrap(), 1);

    assert!(matches!(
        store.update_record(&model, record.id + 99, Map::new()),
        Err(StoreError::NotFound { id, .. }) if id == record.id + 99
    ));
    assert!(matches!(
        store.update_record(&refund(), record.id, props(json!({"amount": 1}))),
        Err(StoreError::NotFound { .. })
    ));
}

fn delete_returns_the_record(store: &Store) {
    let model = payment();
    let record = store
        .create_record(&model, props(json!({"gateway_id": "pi_d", "amount": 7})))
        .unwrap();
    assert_eq!(store.delete_record(&model, record.id).unwrap(), record);
    assert_eq!(store.get_record(&model, record.id).unwrap(), None);
    assert_eq!(store.count_records(&model, &[eq("amount", json!(7))]).unwrap(), 0);
    assert!(matches!(
        store.delete_record(&model, record.id),
        Err(StoreError::NotFound { .. })
    ));
}

fn migrations_add_refuse_and_retype(store: &Store) {
    use super::migrate::{MigrateError, MigrateOptions};
    let v1 = model(
        "order",
        "properties:\n  - { name: ref, type: string }\n  - { name: total, type: string }\n",
    );
    let all =
        |order: &ModelType| store.migrate_models(&[&payment(), &refund(), &job(), order], MigrateOptions::default());
    all(&v1).unwrap();
    store
        .create_record(&v1, props(json!({"ref": "A", "total": "12"})))
        .unwrap();
    store
        .create_record(&v1, props(json!({"ref": "B", "total": "lots"})))
        .unwrap();
    // Additive: a property and an index; the old rows have null there.
    let v2 = model(
        "order",
        "properties:\n  - { name: ref, type: string, unique: true }\n  - { name: total, type: string }\n  - { name: tier, type: string, index: true }\n",
    );
    let report = all(&v2).unwrap();
    let done: Vec<&str> = report.changes.iter().map(|c| c.description.as_str()).collect();
    assert_eq!(
        done,
        ["make order.ref unique", "add tier (string) to order"],
        "{done:?}"
    );
    assert!(all(&v2).unwrap().changes.is_empty(), "a second run has nothing to do");
    store
        .create_record(&v2, props(json!({"ref": "C", "tier": "gold"})))
        .unwrap();
    assert_eq!(
        fields(store.create_record(&v2, props(json!({"ref": "C"}))).unwrap_err())[0].field,
        "ref"
    );
    assert_eq!(store.count_records(&v2, &[eq("tier", json!("gold"))]).unwrap(), 1);
    // Destructive: refused at file:line, nothing changed.
    let v3 = model(
        "order",
        "properties:\n  - { name: ref, type: string }\n  - { name: total, type: integer }\n",
    );
    let Err(MigrateError::Refused(problems)) = all(&v3) else {
        panic!("a removal and a type change must be refused");
    };
    let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("schema/order.yml:3: `total` changes type")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("schema/order.yml:1: property `tier` was removed")),
        "{lines:?}"
    );
    assert_eq!(store.count_records(&v2, &[eq("tier", json!("gold"))]).unwrap(), 1);
    // Allowed: values that fit are converted, the others are reported lost.
    let allowed = MigrateOptions {
        allow_destructive: true,
        ..MigrateOptions::default()
    };
    let report = store.migrate_models(&[&payment(), &refund(), &v3], allowed).unwrap();
    assert!(
        report.notes.iter().any(|n| n.contains("1 value(s) could not be kept")),
        "{:?}",
        report.notes
    );
    let by_id = RecordQuery {
        order: Order {
            field: OrderField::Id,
            descending: false,
        },
        ..RecordQuery::default()
    };
    let totals: Vec<Value> = store
        .query_records(&v3, &by_id)
        .unwrap()
        .records
        .iter()
        .map(|r| r.properties.get("total").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(totals, [json!(12), Value::Null, Value::Null]);
    // A removed model: refused, then dropped when allowed.
    let Err(MigrateError::Refused(problems)) =
        store.migrate_models(&[&payment(), &refund()], MigrateOptions::default())
    else {
        panic!("dropping a table must be refused");
    };
    assert!(
        problems[0]
            .to_string()
            .starts_with("schema/order.yml:1: model `order` was removed"),
        "{problems:?}"
    );
    store.migrate_models(&[&payment(), &refund()], allowed).unwrap();
    assert!(store.count_records(&v3, &[]).is_err(), "the table is gone");
}

fn upsert(
    store: &Store,
    model: &ModelType,
    key: &Map<String, Value>,
    set: Map<String, Value>,
) -> Result<Record, StoreError> {
    Ok(store
        .write(model, RecordWrite::upsert(key.clone(), set))?
        .into_record()
        .expect("an upsert always has a record"))
}

fn declared_rules_hold_for_every_writer(store: &Store) {
    let model = payment();
    let key = props(json!({"gateway_id": "pi_s"}));
    let write = |set: Value| {
        store
            .write(&model, RecordWrite::upsert(key.clone(), props(set)))
            .unwrap()
    };
    assert!(matches!(
        write(json!({"state": "processing", "event_created": 100})),
        WriteResult::Created(_)
    ));
    assert!(matches!(
        write(json!({"state": "succeeded", "event_created": 100})),
        WriteResult::Updated(_)
    ));
    // Same second, later state already stored: the late one is not made.
    let WriteResult::Kept { record, reason } = write(json!({"state": "processing", "event_created": 100, "amount": 5}))
    else {
        panic!("a backward move must be kept");
    };
    assert_eq!(record.properties["state"], json!("succeeded"));
    assert!(
        !record.properties.contains_key("amount"),
        "nothing of a refused write is made"
    );
    assert!(reason.contains("succeeded"), "{reason}");
    // An older event is not made, whatever its state.
    assert!(matches!(
        write(json!({"state": "refunded", "event_created": 50})),
        WriteResult::Kept { .. }
    ));
    // An update by id (a form, a mapper) obeys the same rules.
    let id = record.id;
    let by_id = store
        .write(
            &model,
            RecordWrite::update(Target::Id(id), props(json!({"state": "authorized"}))),
        )
        .unwrap();
    assert!(matches!(by_id, WriteResult::Kept { .. }));
    assert!(matches!(
        write(json!({"state": "refunded", "event_created": 200})),
        WriteResult::Updated(_)
    ));
    let cleared = RecordWrite::update(Target::Id(id), Map::new()).unsetting(vec!["state".into()]);
    assert!(matches!(
        store.write(&model, cleared).unwrap(),
        WriteResult::Kept { .. }
    ));

    // Racing writers of one record: whatever the interleaving, it ends at
    // the furthest state any of them reached.
    let key = props(json!({"gateway_id": "pi_race_state"}));
    upsert(store, &model, &key, props(json!({"state": "authorized"}))).unwrap();
    let states = ["processing", "succeeded", "authorized", "refunded", "pending"];
    std::thread::scope(|scope| {
        for i in 0..20 {
            let (store, model, key) = (store.clone(), model.clone(), key.clone());
            let state = states[i % states.len()];
            scope.spawn(move || {
                let via_id = i % 2 == 0;
                let set = props(json!({"state": state, "event_created": 300}));
                if via_id {
                    let found = store.find_record(&model, &key).unwrap().unwrap();
                    store
                        .write(&model, RecordWrite::update(Target::Id(found.id), set))
                        .unwrap();
                } else {
                    store.write(&model, RecordWrite::upsert(key, set)).unwrap();
                }
            });
        }
    });
    let end = store.find_record(&model, &key).unwrap().unwrap();
    assert_eq!(end.properties["state"], json!("refunded"));
}

fn upsert_updates_or_creates(store: &Store) {
    let model = payment();
    let matching = props(json!({"gateway_id": "pi_u"}));
    let created = upsert(
        store,
        &model,
        &matching,
        props(json!({"amount": 100, "currency": "eur"})),
    )
    .unwrap();
    assert_eq!(created.properties["gateway_id"], json!("pi_u"));
    let updated = upsert(store, &model, &matching, props(json!({"amount": "150"}))).unwrap();
    assert_eq!(updated.id, created.id);
    assert_eq!(
        Value::Object(updated.properties),
        json!({"gateway_id": "pi_u", "amount": 150, "currency": "eur"})
    );
    assert_eq!(store.count_records(&model, &[]).unwrap(), 1);
    // Matching on several properties, typed like writes.
    let by_two = props(json!({"customer": "cus_9", "amount": "150"}));
    let third = upsert(store, &model, &by_two, props(json!({"currency": "gbp"}))).unwrap();
    assert_ne!(third.id, created.id);
    let again = upsert(store, &model, &by_two, props(json!({"captured": true}))).unwrap();
    assert_eq!(again.id, third.id);
    // An empty match always creates; a bad match is a field error.
    let fresh = upsert(store, &model, &Map::new(), props(json!({"amount": 1}))).unwrap();
    assert!(fresh.id > third.id);
    let bad = upsert(store, &model, &props(json!({"amount": "lots"})), Map::new());
    assert_eq!(fields(bad.unwrap_err())[0].field, "amount");

    // Concurrent upserts of one key create one record.
    let key = props(json!({"gateway_id": "pi_race"}));
    std::thread::scope(|scope| {
        for i in 0..8 {
            let (store, model, key) = (store.clone(), model.clone(), key.clone());
            scope.spawn(move || upsert(&store, &model, &key, props(json!({"amount": i}))).unwrap());
        }
    });
    assert_eq!(
        store
            .count_records(&model, &[eq("gateway_id", json!("pi_race"))])
            .unwrap(),
        1
    );
}

fn find_matches_typed_values(store: &Store) {
    let model = payment();
    let a = store
        .create_record(&model, props(json!({"customer": "cus_f", "amount": 10})))
        .unwrap();
    let b = store
        .create_record(&model, props(json!({"customer": "cus_f"})))
        .unwrap();
    let found = store.find_record(&model, &props(json!({"customer": "cus_f"}))).unwrap();
    assert_eq!(found.map(|r| r.id), Some(a.id), "oldest first");
    let found = store
        .find_record(&model, &props(json!({"customer": "cus_f", "amount": "10"})))
        .unwrap();
    assert_eq!(found.map(|r| r.id), Some(a.id));
    let found = store
        .find_record(&model, &props(json!({"customer": "cus_f", "amount": null})))
        .unwrap();
    assert_eq!(found.map(|r| r.id), Some(b.id));
    let found = store
        .find_record(&model, &props(json!({"id": b.id.to_string()})))
        .unwrap();
    assert_eq!(found.map(|r| r.id), Some(b.id));
    assert_eq!(
        store
            .find_record(&model, &props(json!({"customer": "nobody"})))
            .unwrap(),
        None
    );
}

fn filters_on_every_type(store: &Store) {
    let model = payment();
    let long = "\u{e9}".repeat(300);
    let rows = vec![
        json!({"customer": "cus_a", "amount": 100, "rate": 0.5, "captured": true,
               "paid_at": "2024-01-01T00:00:00Z", "metadata": {"k": 1, "j": [true]}, "tags": ["x"], "currency": long}),
        json!({"customer": "cus_b", "amount": 200, "rate": 1.5, "captured": false,
               "paid_at": "2024-01-01T00:00:00.5Z", "metadata": {"k": 2}}),
        json!({"customer": "cus_a", "amount": 300, "rate": 2.5, "paid_at": 1704067300}),
        json!({"customer": "Zo\u{eb}", "amount": -5}),
        json!({}),
    ];
    let records = store
        .create_records(&model, rows.into_iter().map(props).collect())
        .unwrap();
    let id = |i: usize| records[i].id;
    let check = |filters: Vec<Filter>, expected: Vec<usize>| {
        let page = store.query_records(&model, &query(filters.clone())).unwrap();
        let mut got = ids(&page.records);
        got.sort();
        let want: Vec<i64> = expected.iter().map(|&i| id(i)).collect();
        assert_eq!(got, want, "{filters:?}");
        assert_eq!(page.total_count, want.len() as i64, "{filters:?}");
        assert_eq!(store.count_records(&model, &filters).unwrap(), want.len() as i64);
    };
    use FilterOp::*;
    check(vec![eq("customer", json!("cus_a"))], vec![0, 2]);
    check(vec![eq("customer", json!("Zo\u{eb}"))], vec![3]);
    check(vec![eq("currency", json!(long))], vec![0]);
    check(vec![eq("amount", json!("200"))], vec![1]);
    check(vec![Filter::new("customer", Ne(json!("cus_a")))], vec![1, 3, 4]);
    check(
        vec![Filter::new("customer", In(vec![json!("cus_b"), json!("Zo\u{eb}")]))],
        vec![1, 3],
    );
    check(vec![Filter::new("customer", In(vec![]))], vec![]);
    check(
        vec![Filter::new("amount", In(vec![json!(100), json!("-5")]))],
        vec![0, 3],
    );
    check(vec![Filter::new("amount", Gt(json!(100)))], vec![1, 2]);
    check(vec![Filter::new("amount", Gte(json!(100)))], vec![0, 1, 2]);
    check(vec![Filter::new("amount", Lt(json!("100")))], vec![3]);
    check(vec![Filter::new("amount", Lte(json!(100)))], vec![0, 3]);
    check(
        vec![
            Filter::new("rate", Gte(json!(1.5))),
            Filter::new("rate", Lt(json!(2.5))),
        ],
        vec![1],
    );
    check(vec![eq("rate", json!("2.5"))], vec![2]);
    check(vec![eq("captured", json!("true"))], vec![0]);
    check(vec![eq("captured", json!(false))], vec![1]);
    check(vec![Filter::new("captured", Exists(true))], vec![0, 1]);
    check(vec![Filter::new("captured", Exists(false))], vec![2, 3, 4]);
    check(vec![eq("captured", Value::Null)], vec![2, 3, 4]);
    // Datetimes compare in time order, whatever the spelling.
    check(
        vec![Filter::new("paid_at", Gt(json!("2024-01-01T01:00:00+01:00")))],
        vec![1, 2],
    );
    check(vec![eq("paid_at", json!(1704067200))], vec![0]);
    check(
        vec![Filter::new("paid_at", Lt(json!("2024-01-01T00:01:00Z")))],
        vec![0, 1],
    );
    // JSON and arrays: equality (object key order does not matter) and presence.
    check(vec![eq("metadata", json!({"j": [true], "k": 1}))], vec![0]);
    check(vec![eq("tags", json!(["x"]))], vec![0]);
    check(vec![Filter::new("metadata", Exists(true))], vec![0, 1]);
    // Several filters together, and ids.
    check(
        vec![eq("customer", json!("cus_a")), Filter::new("amount", Gt(json!(150)))],
        vec![2],
    );
    check(
        vec![eq("customer", json!("cus_a")), Filter::new("captured", Exists(false))],
        vec![2],
    );
    check(vec![eq("id", json!(id(1)))], vec![1]);
    check(
        vec![Filter::new("id", In(vec![json!(id(0)), json!(id(4).to_string())]))],
        vec![0, 4],
    );
    check(vec![Filter::new("id", Gt(json!(id(2))))], vec![3, 4]);
    check(
        vec![Filter::new("id", Ne(json!(id(2)))), eq("customer", json!("cus_a"))],
        vec![0],
    );
    check(vec![Filter::new("id", Exists(false))], vec![]);
}

/// `contains` (platformOS's property filter): a substring, case-sensitive,
/// `%` and `_` taken literally; only on string properties.
fn contains_matches_text_literally(store: &Store) {
    let model = payment();
    let records = store
        .create_records(
            &model,
            vec![
                props(json!({"customer": "cus_100%_a"})),
                props(json!({"customer": "cus_100xya"})),
                props(json!({"customer": "CUS_200"})),
                props(json!({})),
            ],
        )
        .unwrap();
    let found = |text: &str| {
        let filters = vec![Filter::new("customer", FilterOp::Contains(text.into()))];
        let mut got = ids(&store.query_records(&model, &query(filters)).unwrap().records);
        got.sort();
        got
    };
    assert_eq!(found("%_"), vec![records[0].id]);
    assert_eq!(found("0%_a"), vec![records[0].id]);
    assert_eq!(found("100"), vec![records[0].id, records[1].id]);
    assert_eq!(found("cus"), vec![records[0].id, records[1].id]);
    assert_eq!(found("nothing"), Vec::<i64>::new());
    let on_integer = RecordQuery {
        filters: vec![Filter::new("amount", FilterOp::Contains("1".into()))],
        ..RecordQuery::default()
    };
    let refused = fields(store.query_records(&model, &on_integer).unwrap_err());
    assert_eq!(refused[0].field, "amount");
}

/// `offset` pages (platformOS's `page`/`per_page`) in the query's order,
/// with the same filters and counts as cursor pages.
fn numbered_pages_skip_records(store: &Store) {
    let model = payment();
    let batch = (0..7).map(|i| props(json!({"amount": i, "currency": "usd"}))).collect();
    let records = store.create_records(&model, batch).unwrap();
    store
        .create_record(&model, props(json!({"amount": 99, "currency": "eur"})))
        .unwrap();
    let page = |offset: usize| {
        store
            .query_records(
                &model,
                &RecordQuery {
                    filters: vec![eq("currency", json!("usd"))],
                    order: Order {
                        field: OrderField::Property("amount".into()),
                        descending: false,
                    },
                    first: Some(3),
                    offset: Some(offset),
                    ..RecordQuery::default()
                },
            )
            .unwrap()
    };
    let first = page(0);
    assert_eq!(ids(&first.records), ids(&records[0..3]));
    assert!(first.has_next_page && !first.has_previous_page);
    assert_eq!(first.total_count, 7);
    let last = page(6);
    assert_eq!(ids(&last.records), ids(&records[6..7]));
    assert!(!last.has_next_page && last.has_previous_page);
    assert!(page(9).records.is_empty());
    let too_deep = RecordQuery {
        offset: Some(crate::db::query::MAX_OFFSET + 1),
        ..RecordQuery::default()
    };
    assert_eq!(
        fields(store.query_records(&model, &too_deep).unwrap_err())[0].field,
        "page"
    );
    let with_cursor = RecordQuery {
        offset: Some(0),
        after: Some(first.end_cursor.clone().unwrap_or_default()),
        ..RecordQuery::default()
    };
    assert_eq!(
        fields(store.query_records(&model, &with_cursor).unwrap_err())[0].field,
        "page"
    );
}

fn filter_values_are_checked(store: &Store) {
    let model = payment();
    store.create_record(&model, props(json!({"amount": 1}))).unwrap();
    let refused = |filter: Filter| {
        let error = store.query_records(&model, &query(vec![filter.clone()])).unwrap_err();
        let fields = fields(error);
        assert_eq!(fields.len(), 1, "{filter:?}");
        fields[0].field.clone()
    };
    assert_eq!(refused(eq("amount", json!("abc"))), "amount");
    assert_eq!(refused(Filter::new("customer", FilterOp::Gt(json!("a")))), "customer");
    assert_eq!(
        refused(Filter::new("amount", FilterOp::In(vec![json!(1), Value::Null]))),
        "amount"
    );
    assert_eq!(refused(Filter::new("amount", FilterOp::Gt(Value::Null))), "amount");
    assert_eq!(refused(eq("nope", json!(1))), "nope");
    assert_eq!(refused(eq("id", json!("x"))), "id");
    assert!(matches!(
        store.count_records(&model, &[eq("amount", json!([1]))]),
        Err(StoreError::Validation(_))
    ));

    let too_big = RecordQuery {
        first: Some(251),
        ..RecordQuery::default()
    };
    assert_eq!(
        fields(store.query_records(&model, &too_big).unwrap_err())[0].field,
        "first"
    );
    let bad_cursor = RecordQuery {
        after: Some("garbage".into()),
        ..RecordQuery::default()
    };
    assert!(matches!(
        store.query_records(&model, &bad_cursor),
        Err(StoreError::InvalidCursor(_))
    ));
    let bad_order = RecordQuery {
        order: Order {
            field: OrderField::Property("nope".into()),
            descending: false,
        },
        ..RecordQuery::default()
    };
    assert!(matches!(
        store.query_records(&model, &bad_order),
        Err(StoreError::Validation(_))
    ));
}

/// Walk every page of `base` forwards (first/after) and backwards
/// (last/before) with `size`, checking flags, cursors and counts.
fn walk(store: &Store, model: &ModelType, base: &RecordQuery, size: usize) -> (Vec<i64>, Vec<i64>) {
    let mut forward = Vec::new();
    let mut after = None;
    let mut first_page = true;
    loop {
        let page = store
            .query_records(
                model,
                &RecordQuery {
                    first: Some(size),
                    after: after.clone(),
                    last: None,
                    before: None,
                    ..base.clone()
                },
            )
            .unwrap();
        assert_eq!(page.has_previous_page, !first_page);
        assert!(page.records.len() <= size);
        forward.extend(ids(&page.records));
        if !page.has_next_page {
            break;
        }
        assert_eq!(page.records.len(), size);
        after = page.end_cursor.clone();
        first_page = false;
    }
    let mut backward = Vec::new();
    let mut before = None;
    let mut last_page = true;
    loop {
        let page = store
            .query_records(
                model,
                &RecordQuery {
                    first: None,
                    after: None,
                    last: Some(size),
                    before: before.clone(),
                    ..base.clone()
                },
            )
            .unwrap();
        assert_eq!(page.has_next_page, !last_page);
        let mut chunk = ids(&page.records);
        chunk.extend(backward);
        backward = chunk;
        if !page.has_previous_page {
            break;
        }
        assert_eq!(page.records.len(), size);
        before = page.start_cursor.clone();
        last_page = false;
    }
    (forward, backward)
}

fn order_by_property_and_missing_values(store: &Store) {
    let model = payment();
    let amounts = [
        json!(30),
        json!(10),
        Value::Null,
        json!(20),
        json!(10),
        Value::Null,
        json!(-1),
    ];
    let batch = amounts
        .iter()
        .map(|a| props(json!({"amount": a, "currency": "eur"})))
        .collect();
    let records = store.create_records(&model, batch).unwrap();
    let mut expected: Vec<(bool, i64, i64)> = records
        .iter()
        .map(|r| {
            let amount = r.properties.get("amount").and_then(Value::as_i64);
            (amount.is_none(), amount.unwrap_or(0), r.id)
        })
        .collect();
    expected.sort();
    let ascending: Vec<i64> = expected.iter().map(|e| e.2).collect();
    for descending in [false, true] {
        let base = RecordQuery {
            filters: vec![eq("currency", json!("eur"))],
            order: Order {
                field: OrderField::Property("amount".into()),
                descending,
            },
            ..RecordQuery::default()
        };
        let mut want = ascending.clone();
        if descending {
            want.reverse();
        }
        for size in [1, 2, 3, 7, 10] {
            let (forward, backward) = walk(store, &model, &base, size);
            assert_eq!(forward, want, "size {size} descending {descending}");
            assert_eq!(backward, want, "size {size} descending {descending}");
        }
    }
    // By id and by updated_at.
    let mut by_id = ids(&records);
    let (forward, backward) = walk(
        store,
        &model,
        &RecordQuery {
            order: Order {
                field: OrderField::Id,
                descending: false,
            },
            ..RecordQuery::default()
        },
        3,
    );
    assert_eq!((forward.clone(), backward), (by_id.clone(), by_id.clone()));
    store
        .update_record(&model, records[0].id, props(json!({"amount": 31})))
        .unwrap();
    let page = store
        .query_records(
            &model,
            &RecordQuery {
                order: Order {
                    field: OrderField::UpdatedAt,
                    descending: true,
                },
                first: Some(1),
                ..RecordQuery::default()
            },
        )
        .unwrap();
    assert_eq!(ids(&page.records), [records[0].id]);
    by_id.reverse();
    // first and last together: the last 2 of the first 4.
    let page = store
        .query_records(
            &model,
            &RecordQuery {
                order: Order {
                    field: OrderField::Id,
                    descending: true,
                },
                first: Some(4),
                last: Some(2),
                ..RecordQuery::default()
            },
        )
        .unwrap();
    assert_eq!(ids(&page.records), by_id[2..4]);
    assert!(page.has_previous_page && page.has_next_page);
}

#[derive(QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanRow {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    plan: String,
}

fn explain(store: &Store, model: &ModelType, query: &RecordQuery) -> Vec<String> {
    store
        .database()
        .with_conn(|conn| {
            let inner = search::page_sql(conn, model, query)?;
            let prefix = match conn.backend() {
                Backend::Sqlite => "EXPLAIN QUERY PLAN ",
                Backend::Postgres => "EXPLAIN ",
            };
            let mut sql = conn.sql(prefix);
            sql.append(&inner);
            Ok(match conn {
                Conn::Sqlite(_) => conn.load::<SqlitePlanRow>(sql)?.into_iter().map(|r| r.detail).collect(),
                Conn::Postgres(_) => conn.load::<PgPlanRow>(sql)?.into_iter().map(|r| r.plan).collect(),
            })
        })
        .unwrap()
}

fn assert_uses_index(store: &Store, plan: &[String], index: &str) {
    let text = plan.join("\n");
    eprintln!("{:?} plan:\n{text}", store.backend());
    match store.backend() {
        Backend::Sqlite => {
            assert!(text.contains(&format!("INDEX {index}")), "{text}");
            assert!(
                !plan.iter().any(|line| line.trim() == "SCAN t"),
                "full scan of the table:\n{text}"
            );
        }
        Backend::Postgres => {
            assert!(text.contains(index), "{text}");
            assert!(!text.contains("Seq Scan on payment"), "full scan of the table:\n{text}");
        }
    }
}

fn pagination_forwards_and_backwards_uses_an_index(store: &Store) {
    let model = payment();
    let batch: Vec<Map<String, Value>> = (0..10_000)
        .map(|i| {
            props(json!({
                "gateway_id": format!("pi_{i}"),
                "customer": format!("cus_{}", i % 100),
                "amount": (i * 37) % 1000,
                "currency": if i % 2 == 0 { "eur" } else { "usd" },
            }))
        })
        .collect();
    let records = store.create_records(&model, batch).unwrap();
    assert_eq!(store.count_records(&model, &[]).unwrap(), 10_000);
    // Filter + first:5, newest first: one ordered read of the value index.
    let by_customer = RecordQuery {
        filters: vec![eq("customer", json!("cus_7"))],
        first: Some(5),
        ..RecordQuery::default()
    };
    let page = store.query_records(&model, &by_customer).unwrap();
    let after = RecordQuery {
        after: page.end_cursor.clone(),
        ..by_customer.clone()
    };
    let by_range = RecordQuery {
        filters: vec![Filter::new("amount", FilterOp::Gte(json!(995)))],
        first: Some(5),
        ..RecordQuery::default()
    };
    // Seed 003's `since`: the newest records, by when they were made.
    let since = records[9_990]
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let by_time = RecordQuery {
        filters: vec![Filter::new("created_at", FilterOp::Gte(json!(since)))],
        first: Some(5),
        ..RecordQuery::default()
    };
    let check_plans = || {
        assert_uses_index(store, &explain(store, &model, &by_time), "payment_created_at_idx");
        let plan = explain(store, &model, &by_customer);
        assert_uses_index(store, &plan, "payment_customer_idx");
        if store.backend() == Backend::Sqlite {
            assert!(
                !plan.iter().any(|l| l.contains("TEMP B-TREE")),
                "sorts instead of reading in order: {plan:?}"
            );
        }
        assert_uses_index(store, &explain(store, &model, &after), "payment_customer_idx");
        // Either backend may read the (livemode, created_at) index backwards
        // and stop at the page's end instead of the amount range (its cost
        // model's choice; still no full scan).
        assert_uses_index(store, &explain(store, &model, &by_range), "payment_");
    };
    // Before statistics exist, and after (what autovacuum does shortly
    // after a bulk load).
    check_plans();
    let analyze = match store.backend() {
        Backend::Sqlite => "ANALYZE",
        Backend::Postgres => "ANALYZE payment",
    };
    store.database().with_conn(|conn| Ok(conn.batch(analyze)?)).unwrap();
    check_plans();

    // Every page, both ways, equals the expected order (ties broken by id).
    let mut expected: Vec<&Record> = records
        .iter()
        .filter(|r| r.properties["customer"] == json!("cus_7"))
        .collect();
    expected.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
    let want: Vec<i64> = expected.iter().map(|r| r.id).collect();
    assert_eq!(want.len(), 100);
    assert_eq!(page.total_count, 100);
    assert_eq!(ids(&page.records), want[..5]);
    let (forward, backward) = walk(store, &model, &by_customer, 5);
    assert_eq!(forward, want);
    assert_eq!(backward, want);
    let (forward, _) = walk(store, &model, &by_customer, 7);
    assert_eq!(forward, want);
    let newest = store.query_records(&model, &by_time).unwrap();
    assert!(newest.total_count >= 10, "{}", newest.total_count);
    assert!(newest.records.iter().all(|r| r.created_at >= records[9_990].created_at));

    // Two filters and ascending order.
    let base = RecordQuery {
        filters: vec![
            eq("customer", json!("cus_7")),
            Filter::new("amount", FilterOp::Lt(json!(500))),
        ],
        order: Order {
            field: OrderField::CreatedAt,
            descending: false,
        },
        ..RecordQuery::default()
    };
    let mut want: Vec<i64> = expected
        .iter()
        .filter(|r| r.properties["amount"].as_i64().unwrap() < 500)
        .map(|r| r.id)
        .collect();
    want.reverse();
    let (forward, backward) = walk(store, &model, &base, 5);
    assert_eq!(forward, want);
    assert_eq!(backward, want);
}

fn fifty_concurrent_writers_lose_nothing(store: &Store) {
    let model = payment();
    let results: Vec<Result<Record, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (store, model) = (store.clone(), model.clone());
                scope.spawn(move || {
                    store.create_record(&model, props(json!({"gateway_id": format!("pi_c{i}"), "amount": i})))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created: Vec<Record> = results.into_iter().map(Result::unwrap).collect();
    let distinct: HashSet<i64> = created.iter().map(|r| r.id).collect();
    assert_eq!(distinct.len(), 50);
    assert_eq!(store.count_records(&model, &[]).unwrap(), 50);
    for record in &created {
        assert_eq!(store.get_record(&model, record.id).unwrap().as_ref(), Some(record));
    }
}

fn models_do_not_see_each_other(store: &Store) {
    let payment = payment();
    let refund = refund();
    store.create_record(&payment, props(json!({"amount": 5}))).unwrap();
    let p = store
        .create_record(&payment, props(json!({"gateway_id": "x", "amount": 1})))
        .unwrap();
    let r = store
        .create_record(&refund, props(json!({"gateway_id": "x", "amount": 1})))
        .unwrap();
    assert_eq!(store.count_records(&payment, &[eq("amount", json!(1))]).unwrap(), 1);
    assert_eq!(
        ids(&store.query_records(&refund, &RecordQuery::default()).unwrap().records),
        [r.id]
    );
    assert_eq!(store.get_record(&refund, p.id).unwrap(), None);
    assert!(store.delete_record(&refund, p.id).is_err());
    assert!(store.get_record(&payment, p.id).unwrap().is_some());
}

fn form_submissions_claim_once(store: &Store) {
    use form_submission::Claim;
    assert_eq!(form_submission::claim(store, "key-1", "pay").unwrap(), Claim::New);
    assert_eq!(
        form_submission::claim(store, "key-1", "pay").unwrap(),
        Claim::InProgress
    );
    let result = json!({"location": "/thanks", "record": {"id": "1", "note": "caf\u{e9}"}});
    form_submission::complete(store, "key-1", &result).unwrap();
    assert_eq!(
        form_submission::claim(store, "key-1", "pay").unwrap(),
        Claim::Done(result.clone())
    );
    // A finished key is not released; an unfinished one is.
    form_submission::release(store, "key-1").unwrap();
    assert_eq!(
        form_submission::claim(store, "key-1", "pay").unwrap(),
        Claim::Done(result)
    );
    assert_eq!(form_submission::claim(store, "key-2", "pay").unwrap(), Claim::New);
    form_submission::release(store, "key-2").unwrap();
    assert_eq!(form_submission::get(store, "key-2").unwrap(), None);
    assert_eq!(form_submission::claim(store, "key-2", "pay").unwrap(), Claim::New);
    let stored = form_submission::get(store, "key-2").unwrap().unwrap();
    assert_eq!(
        (stored.form.as_str(), stored.status.as_str(), stored.result),
        ("pay", "processing", None)
    );
    assert!(form_submission::complete(store, "never-claimed", &json!({})).is_err());

    // A claim left `processing` by a request that died is taken over once
    // its lease is over, and by one request only.
    assert_eq!(form_submission::claim(store, "key-3", "pay").unwrap(), Claim::New);
    assert_eq!(
        form_submission::claim(store, "key-3", "pay").unwrap(),
        Claim::InProgress
    );
    let long_ago = (crate::db::models::record::now()
        - chrono::Duration::seconds(form_submission::CLAIM_LEASE_SECS + 60))
    .naive_utc();
    store
        .database()
        .with_conn(|conn| {
            let mut sql = conn.sql("UPDATE form_submissions SET created_at = ");
            sql.bind(super::sql::Arg::Time(long_ago))
                .push(" WHERE idempotency_key = 'key-3'");
            Ok(conn.execute(sql)?)
        })
        .unwrap();
    assert_eq!(form_submission::claim(store, "key-3", "pay").unwrap(), Claim::New);
    assert_eq!(
        form_submission::claim(store, "key-3", "pay").unwrap(),
        Claim::InProgress
    );

    // Many posts of one form at once: exactly one claims it.
    let claims: Vec<Claim> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|_| scope.spawn(|| form_submission::claim(store, "key-race", "pay").unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(claims.iter().filter(|c| **c == Claim::New).count(), 1);
}

fn webhook_events_lifecycle(store: &Store) {
    let (event, inserted) = webhook_event::insert_if_absent(
        store,
        "stripe",
        &MerchantId::default(),
        "evt_1",
        "payment_intent.succeeded",
        "{\"id\":\"evt_1\"}",
    )
    .unwrap();
    assert!(inserted);
    assert_eq!(event.status, WebhookStatus::Pending);
    assert_eq!(event.attempts, 0);
    let (again, inserted) =
        webhook_event::insert_if_absent(store, "stripe", &MerchantId::default(), "evt_1", "other", "{}").unwrap();
    assert!(!inserted);
    assert_eq!(again, event);
    // Another gateway may reuse an event id.
    let (_, inserted) =
        webhook_event::insert_if_absent(store, "other", &MerchantId::default(), "evt_1", "x", "{}").unwrap();
    assert!(inserted);
    assert_eq!(
        webhook_event::find(store, "stripe", &MerchantId::default(), "evt_1")
            .unwrap()
            .unwrap()
            .id,
        event.id
    );

    // Claimed once; a second worker gets nothing while the lease holds.
    let claimed = webhook_event::claim_due(store, Duration::seconds(60), 5, 10).unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed
        .iter()
        .all(|e| e.status == WebhookStatus::Processing && e.attempts == 1));
    assert!(webhook_event::claim_due(store, Duration::seconds(60), 5, 10)
        .unwrap()
        .is_empty());

    // A failure is retried when due, then processed.
    let failed = webhook_event::mark_failed(
        store,
        event.id,
        "template error at line 3",
        chrono::Utc::now() - Duration::seconds(1),
    )
    .unwrap();
    assert_eq!(failed.status, WebhookStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("template error at line 3"));
    let retried = webhook_event::claim_due(store, Duration::seconds(60), 5, 10).unwrap();
    assert_eq!(ids_of(&retried), [event.id]);
    assert_eq!(retried[0].attempts, 2);
    let done = webhook_event::mark_processed(store, event.id).unwrap();
    assert_eq!(done.status, WebhookStatus::Processed);
    assert!(done.processed_at.is_some() && done.locked_until.is_none());

    // An expired lease (the worker died) makes the event due again.
    let other = webhook_event::find(store, "other", &MerchantId::default(), "evt_1")
        .unwrap()
        .unwrap();
    let reclaimed = webhook_event::claim_due(store, Duration::seconds(-1), 5, 10).unwrap();
    assert!(reclaimed.is_empty(), "lease still held");
    webhook_event::mark_failed(store, other.id, "x", chrono::Utc::now() - Duration::seconds(1)).unwrap();
    // Out of attempts: not due, but visible and requeueable.
    assert!(webhook_event::claim_due(store, Duration::seconds(-1), 1, 10)
        .unwrap()
        .is_empty());
    let lost = webhook_event::claim_due(store, Duration::seconds(-1), 5, 10).unwrap();
    assert_eq!(ids_of(&lost), [other.id]);
    let again = webhook_event::claim_due(store, Duration::seconds(60), 5, 10).unwrap();
    assert_eq!(ids_of(&again), [other.id], "an expired lease is due again");
    webhook_event::mark_skipped(store, other.id, "no processor for x").unwrap();
    assert_eq!(
        webhook_event::requeue(store, other.id).unwrap().status,
        WebhookStatus::Pending
    );

    let all = webhook_event::list(store, None, &webhook_event::EventFilter::default(), 10, None).unwrap();
    assert_eq!(ids_of(&all), [other.id, event.id]);
    assert_eq!(
        ids_of(&webhook_event::list(store, None, &webhook_event::EventFilter::default(), 10, Some(other.id)).unwrap()),
        [event.id]
    );
    let processed = webhook_event::list(
        store,
        None,
        &webhook_event::EventFilter {
            status: Some(WebhookStatus::Processed),
            object_ids: None,
        },
        10,
        None,
    )
    .unwrap();
    assert_eq!(ids_of(&processed), [event.id]);
    // One object's events: `data.object.id` is kept when the event is stored.
    let (about_pi, _) = webhook_event::insert_if_absent(
        store,
        "stripe",
        &MerchantId::default(),
        "evt_about_pi",
        "payment_intent.created",
        r#"{"id": "evt_about_pi", "data": {"object": {"id": "pi_timeline"}}}"#,
    )
    .unwrap();
    assert_eq!(about_pi.object_id.as_deref(), Some("pi_timeline"));
    let about = |ids: Vec<&str>| {
        let filter = webhook_event::EventFilter {
            status: None,
            object_ids: Some(ids.into_iter().map(String::from).collect()),
        };
        ids_of(&webhook_event::list(store, None, &filter, 10, None).unwrap())
    };
    assert_eq!(about(vec!["pi_timeline", "ch_other"]), [about_pi.id]);
    assert!(about(vec!["pi_nothing"]).is_empty());
    assert!(about(vec![]).is_empty());
    webhook_event::mark_failed(store, other.id, &"e".repeat(5000), chrono::Utc::now()).unwrap();
    assert_eq!(
        webhook_event::get(store, other.id)
            .unwrap()
            .unwrap()
            .last_error
            .unwrap()
            .len(),
        2000
    );
    assert_eq!(webhook_event::requeue_failed(store, None).unwrap(), 1);
    assert!(matches!(
        webhook_event::mark_processed(store, 999_999),
        Err(StoreError::NotFound { .. })
    ));
}

/// With 5,000 processed events and a few due ones stored, both claim
/// statements read their partial index and never scan or sort the inbox.
fn claims_read_the_due_indexes(store: &Store) {
    use webhook_event::{claim_sql, Due};
    for i in 0..5_000 {
        let (event, _) = webhook_event::insert_if_absent(
            store,
            "stripe",
            &MerchantId::default(),
            &format!("evt_old_{i}"),
            "x",
            "{}",
        )
        .unwrap();
        if i % 100 != 0 {
            webhook_event::mark_processed(store, event.id).unwrap();
        }
    }
    store
        .database()
        .with_conn(|conn| Ok(conn.batch("ANALYZE webhook_events")?))
        .unwrap();
    for (due, index) in [
        (Due::Waiting, "webhook_events_waiting"),
        (Due::LeaseExpired, "webhook_events_leased"),
    ] {
        let plan: Vec<String> = store
            .database()
            .with_conn(|conn| {
                let at = chrono::Utc::now().naive_utc();
                let claim = claim_sql(conn, due, at, Duration::seconds(60), 6, 64);
                let mut sql = conn.sql(match conn.backend() {
                    Backend::Sqlite => "EXPLAIN QUERY PLAN ",
                    Backend::Postgres => "EXPLAIN ",
                });
                sql.append(&claim);
                Ok(match conn {
                    Conn::Sqlite(_) => conn.load::<SqlitePlanRow>(sql)?.into_iter().map(|r| r.detail).collect(),
                    Conn::Postgres(_) => conn.load::<PgPlanRow>(sql)?.into_iter().map(|r| r.plan).collect(),
                })
            })
            .unwrap();
        let text = plan.join("\n");
        // PostgreSQL picks by cost between the due index and the status
        // index (both read only unfinished events); SQLite is told.
        let used = match store.backend() {
            Backend::Sqlite => text.contains(index),
            Backend::Postgres => text.contains(index) || text.contains("webhook_events_by_status"),
        };
        assert!(used, "{due:?} on {:?}:\n{text}", store.backend());
        // PostgreSQL may sort the few due rows it found in the index (its
        // cost model's choice with 50 due); never the inbox.
        assert!(!text.contains("TEMP B-TREE"), "{due:?} sorts:\n{text}");
        assert!(
            !text.contains("SCAN webhook_events") && !text.contains("Seq Scan"),
            "{due:?} scans:\n{text}"
        );
    }
    let claimed = webhook_event::claim_due(store, Duration::seconds(60), 6, 64).unwrap();
    assert_eq!(claimed.len(), 50);
    assert!(claimed.windows(2).all(|w| w[0].id < w[1].id), "arrival order");
}

/// Four claimers racing over 100 due jobs take each exactly once; a claim
/// whose lease ran out is taken again; jobs not due are left; a model whose
/// state has rules cannot be claimed. Racing create-once writers of one
/// key create one record.
fn records_are_claimed_once_and_created_once(store: &Store) {
    use crate::db::claims::Claim;
    let model = job();
    let now = chrono::Utc::now();
    let at = |seconds: i64| json!((now + Duration::seconds(seconds)).to_rfc3339());
    for i in 0..110 {
        let due = if i < 100 { at(-5) } else { at(3600) };
        store
            .create_record(
                &model,
                props(json!({"key": format!("job_{i}"), "state": "pending", "due_at": due})),
            )
            .unwrap();
    }
    let claim = |lease: i64| Claim {
        state: "state",
        due_at: "due_at",
        waiting: "pending",
        claimed: "sending",
        lease: Duration::seconds(lease),
        limit: 7,
    };
    let taken: Vec<i64> = std::thread::scope(|scope| {
        let claimers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let batch = store.claim_due_records(&model, &claim(60)).unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        assert!(batch.len() <= 7);
                        assert!(batch.iter().all(|r| r.properties["state"] == json!("sending")));
                        mine.extend(batch.iter().map(|r| r.id));
                    }
                })
            })
            .collect();
        claimers.into_iter().flat_map(|c| c.join().unwrap()).collect()
    });
    let mut unique = taken.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!((taken.len(), unique.len()), (100, 100), "each due job once");
    // A lease that has run out (a dead instance): due again.
    let first = taken[0];
    store
        .update_record(&model, first, props(json!({"due_at": at(-1)})))
        .unwrap();
    let again = store.claim_due_records(&model, &claim(60)).unwrap();
    assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), [first]);
    let payment_claim = Claim {
        due_at: "paid_at",
        ..claim(60)
    };
    assert!(matches!(
        store.claim_due_records(&payment(), &payment_claim),
        Err(StoreError::Validation(_))
    ));

    let model = &model;
    let results: Vec<WriteResult> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..8)
            .map(|i| {
                scope.spawn(move || {
                    store
                        .write(
                            model,
                            RecordWrite::create_once(
                                props(json!({"key": "once"})),
                                props(json!({"state": format!("w{i}")})),
                            ),
                        )
                        .unwrap()
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let created = results.iter().filter(|r| matches!(r, WriteResult::Created(_))).count();
    assert_eq!(created, 1, "{results:?}");
    let kept_states: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            WriteResult::Kept { record, .. } => Some(record.properties["state"].clone()),
            _ => None,
        })
        .collect();
    let winner = store
        .find_record(model, &props(json!({"key": "once"})))
        .unwrap()
        .unwrap();
    assert!(
        kept_states.iter().all(|s| *s == winner.properties["state"]),
        "nothing overwritten"
    );
}

fn ids_of(events: &[webhook_event::WebhookEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id).collect()
}

fn settings_round_trip(store: &Store) {
    assert_eq!(setting::get(store, "stripe.secret").unwrap(), None);
    setting::set(store, "stripe.secret", "v1:ciphertext").unwrap();
    setting::set(store, "stripe.secret", "v1:rotated \u{1f511}").unwrap();
    assert_eq!(
        setting::get(store, "stripe.secret").unwrap().as_deref(),
        Some("v1:rotated \u{1f511}")
    );
    assert_eq!(setting::get_or_insert(store, "secret", "first").unwrap(), "first");
    assert_eq!(setting::get_or_insert(store, "secret", "second").unwrap(), "first");
    assert!(setting::delete(store, "secret").unwrap());
    assert!(!setting::delete(store, "secret").unwrap());
    setting::set(store, "", "").unwrap();
    assert_eq!(setting::get(store, "").unwrap().as_deref(), Some(""));
}

#[test]
fn connection_errors_never_show_the_password() {
    let error = Store::connect("postgres://app:hunter2secret@127.0.0.1:1/nothing").unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StoreError::Pool(_)), "{message}");
    assert!(!message.contains("hunter2secret"), "{message}");
    assert!(message.contains("***"), "{message}");
}

#[test]
fn sqlite_file_and_folders_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/app.db");
    let store = Store::connect(path.to_str().unwrap()).unwrap();
    store.migrate().unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.exists());
    let journal: String = store
        .database()
        .with_conn(|conn| {
            let rows =
                conn.load::<super::sql::TextRow>(conn.sql("SELECT journal_mode AS t FROM pragma_journal_mode"))?;
            Ok(rows.into_iter().next().map(|r| r.t).unwrap_or_default())
        })
        .unwrap();
    assert_eq!(journal, "wal");
}

/// The same database as a test-mode and a live-mode instance see it.
fn test_and_live(store: &Store) -> (Store, Store) {
    (
        store.clone().with_environment(Environment::Test),
        store.clone().with_environment(Environment::Live),
    )
}

fn environments_do_not_see_each_other(store: &Store) {
    let model = payment();
    let (test, live) = test_and_live(store);
    let live_one = live
        .create_record(&model, props(json!({"gateway_id": "pi_live", "amount": 100})))
        .unwrap();
    let test_one = test
        .create_record(&model, props(json!({"gateway_id": "pi_test", "amount": 200})))
        .unwrap();
    assert!(live_one.livemode && !test_one.livemode);
    // Listings, counts and reads by id default to the store's environment.
    assert_eq!(
        ids(&test.query_records(&model, &query(vec![])).unwrap().records),
        [test_one.id]
    );
    assert_eq!(
        ids(&live.query_records(&model, &query(vec![])).unwrap().records),
        [live_one.id]
    );
    assert_eq!(test.count_records(&model, &[]).unwrap(), 1);
    assert_eq!(test.query_records(&model, &query(vec![])).unwrap().total_count, 1);
    assert_eq!(test.get_record(&model, live_one.id).unwrap(), None);
    assert_eq!(live.get_record(&model, test_one.id).unwrap(), None);
    assert_eq!(
        test.find_record(&model, &props(json!({"gateway_id": "pi_live"})))
            .unwrap(),
        None
    );
    // Asking for the other environment reads it, and only it.
    let other = RecordQuery {
        environment: Some(Environment::Live),
        ..query(vec![])
    };
    let read = test.query_records(&model, &other).unwrap().records;
    assert_eq!(ids(&read), [live_one.id]);
    assert!(read[0].livemode);
    assert_eq!(
        test.get_record_in(&model, live_one.id, Environment::Live)
            .unwrap()
            .map(|r| r.id),
        Some(live_one.id)
    );
    // A test-mode update or delete by id does not reach a live record.
    assert!(matches!(
        test.update_record(&model, live_one.id, props(json!({"amount": 1}))),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        test.delete_record(&model, live_one.id),
        Err(StoreError::NotFound { .. })
    ));
    let updated = live
        .update_record(&model, live_one.id, props(json!({"amount": 101})))
        .unwrap();
    assert!(updated.livemode, "an update keeps livemode");
    // `livemode` in a write must agree with the environment.
    let agreeing = test
        .create_record(&model, props(json!({"gateway_id": "pi_t2", "livemode": false})))
        .unwrap();
    assert!(!agreeing.livemode);
    let refused = fields(
        test.create_record(&model, props(json!({"gateway_id": "pi_t3", "livemode": true})))
            .unwrap_err(),
    );
    assert_eq!(refused[0].field, "livemode");
    assert!(refused[0].message.contains("test mode"), "{}", refused[0].message);
    assert_eq!(
        fields(
            test.write(
                &model,
                RecordWrite::update(Target::Id(agreeing.id), Map::new()).unsetting(vec!["livemode".into()])
            )
            .unwrap_err()
        )[0]
        .field,
        "livemode"
    );
    assert_eq!(
        test.count_records(&model, &[]).unwrap(),
        2,
        "the refused write wrote nothing"
    );
    // Claims take only the claiming instance's environment's work.
    let due = chrono::Utc::now() - Duration::seconds(5);
    for (store, key) in [(&test, "t"), (&live, "l")] {
        store
            .create_record(
                &job(),
                props(json!({"key": key, "state": "pending", "due_at": due.to_rfc3339()})),
            )
            .unwrap();
    }
    let claim = super::claims::Claim {
        state: "state",
        due_at: "due_at",
        waiting: "pending",
        claimed: "sending",
        lease: Duration::seconds(60),
        limit: 10,
    };
    let claimed = live.claim_due_records(&job(), &claim).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].properties["key"], json!("l"));
    assert!(claimed[0].livemode);
}

fn keyed_writes_stay_in_their_environment(store: &Store) {
    let model = payment();
    let (test, live) = test_and_live(store);
    let key = props(json!({"gateway_id": "pi_shared"}));
    let live_one = upsert(&live, &model, &key, props(json!({"state": "succeeded", "amount": 500}))).unwrap();
    // A test-mode upsert of the same key leaves the live record alone and
    // creates a test one (unique keys are unique per environment).
    let created = test
        .write(
            &model,
            RecordWrite::upsert(key.clone(), props(json!({"state": "authorized", "amount": 1}))),
        )
        .unwrap();
    let WriteResult::Created(test_one) = created else {
        panic!("expected a new test record, got {created:?}");
    };
    assert_ne!(test_one.id, live_one.id);
    assert!(!test_one.livemode);
    let live_now = live.get_record(&model, live_one.id).unwrap().unwrap();
    assert_eq!(live_now, live_one, "the live record is unchanged");
    // The next test-mode upsert updates the test record only.
    let again = upsert(&test, &model, &key, props(json!({"amount": 2}))).unwrap();
    assert_eq!(again.id, test_one.id);
    assert_eq!(live.get_record(&model, live_one.id).unwrap().unwrap(), live_one);
    // Create-once and updates by match are scoped the same way.
    let once = test
        .write(&model, RecordWrite::create_once(key.clone(), Map::new()))
        .unwrap();
    assert!(
        matches!(once, WriteResult::Kept { ref record, .. } if record.id == test_one.id),
        "{once:?}"
    );
    let matched = test
        .write(
            &model,
            RecordWrite::update(Target::Matching(key.clone()), props(json!({"currency": "eur"}))),
        )
        .unwrap();
    assert_eq!(matched.record().map(|r| r.id), Some(test_one.id));
    assert_eq!(live.get_record(&model, live_one.id).unwrap().unwrap(), live_one);
    // A key naming the other environment is refused, not redirected.
    let mut live_key = key.clone();
    live_key.insert("livemode".into(), json!(true));
    assert_eq!(
        fields(
            test.write(&model, RecordWrite::upsert(live_key, Map::new()))
                .unwrap_err()
        )[0]
        .field,
        "livemode"
    );
    // Within one environment the key is still unique.
    assert_eq!(
        fields(
            live.create_record(&model, props(json!({"gateway_id": "pi_shared"})))
                .unwrap_err()
        )[0]
        .field,
        "gateway_id"
    );
    let by_key = |s: &Store| {
        s.count_records(&model, &[eq("gateway_id", json!("pi_shared"))])
            .unwrap()
    };
    assert_eq!((by_key(&test), by_key(&live)), (1, 1));
}

/// A table as payforms made it before environments: no `livemode`, and
/// indexes without it; the catalogue lists its properties.
fn pre_livemode_tables_get_the_column(store: &Store) {
    use super::migrate::MigrateOptions;
    let ledger = model(
        "ledger",
        "properties:\n  - { name: ref, type: string, unique: true }\n  - { name: state, type: string, index: true }\n",
    );
    let (id, time) = match store.backend() {
        Backend::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
        Backend::Postgres => ("BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ"),
    };
    let old = format!(
        "CREATE TABLE \"ledger\" (\"id\" {id}, \"created_at\" {time} NOT NULL, \"updated_at\" {time} NOT NULL, \
         \"ref\" TEXT, \"state\" TEXT);
         CREATE INDEX \"ledger_created_at_idx\" ON \"ledger\" (\"created_at\", \"id\");
         CREATE INDEX \"ledger_updated_at_idx\" ON \"ledger\" (\"updated_at\", \"id\");
         CREATE UNIQUE INDEX \"ledger_ref_key\" ON \"ledger\" (\"ref\");
         CREATE INDEX \"ledger_state_idx\" ON \"ledger\" (\"state\", \"created_at\", \"id\");
         INSERT INTO model_tables (table_name, model, file) VALUES ('ledger', 'ledger', 'schema/ledger.yml');
         INSERT INTO model_columns (table_name, column_name, property_type, is_unique, is_indexed)
           VALUES ('ledger', 'ref', 'string', 1, 0), ('ledger', 'state', 'string', 0, 1);
         INSERT INTO \"ledger\" (\"created_at\", \"updated_at\", \"ref\", \"state\") VALUES
           ('2024-01-01T00:00:00.000000Z', '2024-01-01T00:00:00.000000Z', 'L-1', 'open'),
           ('2024-01-02T00:00:00.000000Z', '2024-01-02T00:00:00.000000Z', 'L-2', 'open');"
    );
    store.database().with_conn(|conn| Ok(conn.batch(&old)?)).unwrap();
    let models = [&payment(), &refund(), &job(), &ledger];
    let dry_run = MigrateOptions {
        dry_run: true,
        ..MigrateOptions::default()
    };
    let plan = store.migrate_models(&models, dry_run).unwrap();
    let described: Vec<&str> = plan.changes.iter().map(|c| c.description.as_str()).collect();
    assert_eq!(
        described,
        [
            "add the system column livemode to ledger (existing records: test)",
            "add the system column merchant to ledger (existing records: the default merchant's)"
        ]
    );
    let sql = plan.sql(store.backend());
    assert!(sql.contains("ALTER TABLE \"ledger\" ADD COLUMN \"livemode\""), "{sql}");
    assert!(
        sql.contains("ON \"ledger\" (\"livemode\", \"merchant\", \"created_at\", \"id\")"),
        "{sql}"
    );
    // The indexes are rebuilt once, after both columns are there.
    assert_eq!(sql.matches("CREATE UNIQUE INDEX").count(), 1, "{sql}");
    // Planning changed nothing; applying adds the column, old rows test.
    let (test, live) = test_and_live(store);
    assert!(test.count_records(&ledger, &[]).is_err(), "no livemode column yet");
    store.migrate_models(&models, MigrateOptions::default()).unwrap();
    assert!(store
        .migrate_models(&models, MigrateOptions::default())
        .unwrap()
        .changes
        .is_empty());
    let old_rows = test.query_records(&ledger, &query(vec![])).unwrap().records;
    assert_eq!(old_rows.len(), 2);
    assert!(old_rows.iter().all(|r| !r.livemode));
    assert_eq!(live.count_records(&ledger, &[]).unwrap(), 0);
    // The rebuilt unique index is per environment.
    assert!(
        live.create_record(&ledger, props(json!({"ref": "L-1"})))
            .unwrap()
            .livemode
    );
    assert_eq!(
        fields(test.create_record(&ledger, props(json!({"ref": "L-1"}))).unwrap_err())[0].field,
        "ref"
    );
    // Newest-first listings of one environment read the rebuilt index
    // (PostgreSQL scans a table this small whatever its indexes; the
    // 10,000-record test covers it there).
    if store.backend() == Backend::Sqlite {
        assert_uses_index(store, &explain(store, &ledger, &query(vec![])), "ledger_created_at_idx");
    }
}

fn acme() -> MerchantId {
    MerchantId::parse("acme").unwrap()
}

/// The same database as the default merchant's store and acme's see it.
fn default_and_acme(store: &Store) -> (Store, Store) {
    (store.clone(), store.clone().with_merchant(acme()))
}

fn merchants_do_not_see_each_other(store: &Store) {
    let model = payment();
    let (ours, theirs) = default_and_acme(store);
    assert!(ours.merchant().is_default());
    assert_eq!(theirs.merchant(), &acme());
    let mine = ours
        .create_record(
            &model,
            props(json!({"gateway_id": "pi_d", "customer": "cus_1", "amount": 100})),
        )
        .unwrap();
    let batch: Vec<Map<String, Value>> = (0..3)
        .map(|i| props(json!({"gateway_id": format!("pi_a{i}"), "customer": "cus_1", "amount": 100 + i})))
        .collect();
    let acmes = theirs.create_records(&model, batch).unwrap();
    assert!(mine.merchant.is_default());
    assert!(acmes.iter().all(|r| r.merchant == acme()));
    assert_eq!(mine.to_liquid_json()["merchant"], json!("default"));

    // Reads by id, by match, pages (also of a named environment) and counts.
    assert_eq!(ours.get_record(&model, acmes[0].id).unwrap(), None);
    assert_eq!(theirs.get_record(&model, mine.id).unwrap(), None);
    assert_eq!(theirs.get_record_in(&model, mine.id, Environment::Test).unwrap(), None);
    assert_eq!(
        theirs.get_record(&model, acmes[0].id).unwrap().as_ref(),
        Some(&acmes[0])
    );
    assert_eq!(
        theirs
            .find_record(&model, &props(json!({"gateway_id": "pi_d"})))
            .unwrap(),
        None
    );
    assert_eq!(
        theirs.find_record(&model, &props(json!({"id": mine.id}))).unwrap(),
        None
    );
    let by_customer = query(vec![eq("customer", json!("cus_1"))]);
    assert_eq!(
        ids(&ours.query_records(&model, &by_customer).unwrap().records),
        [mine.id]
    );
    let page = theirs.query_records(&model, &by_customer).unwrap();
    assert_eq!(page.total_count, 3);
    assert!(page.records.iter().all(|r| r.merchant == acme()));
    let in_test = RecordQuery {
        environment: Some(Environment::Test),
        ..query(vec![])
    };
    assert_eq!(ids(&ours.query_records(&model, &in_test).unwrap().records), [mine.id]);
    assert_eq!(ours.count_records(&model, &[]).unwrap(), 1);
    assert_eq!(
        theirs.count_records(&model, &[eq("customer", json!("cus_1"))]).unwrap(),
        3
    );
    // A cursor walk stays in the merchant, both ways.
    let (forward, backward) = walk(&theirs, &model, &by_customer, 2);
    let mut want = ids(&acmes);
    want.reverse();
    assert_eq!(forward, want);
    assert_eq!(backward, want);
    // The other environment of the same merchant is another partition.
    let acme_live = theirs.clone().with_environment(Environment::Live);
    assert_eq!(acme_live.count_records(&model, &[]).unwrap(), 0);
    let live_one = acme_live
        .create_record(&model, props(json!({"gateway_id": "pi_live"})))
        .unwrap();
    assert!(live_one.livemode && live_one.merchant == acme());
    assert_eq!(theirs.count_records(&model, &[]).unwrap(), 3);
    assert_eq!(
        ours.get_record_in(&model, live_one.id, Environment::Live).unwrap(),
        None
    );

    // Updates and deletes by id do not reach another merchant's record.
    assert!(matches!(
        theirs.update_record(&model, mine.id, props(json!({"amount": 1}))),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        theirs.delete_record(&model, mine.id),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        theirs
            .write(
                &model,
                RecordWrite::update(
                    Target::Matching(props(json!({"id": mine.id}))),
                    props(json!({"amount": 1}))
                )
            )
            .unwrap(),
        WriteResult::NotFound
    ));
    assert_eq!(ours.get_record(&model, mine.id).unwrap().as_ref(), Some(&mine));
    let updated = theirs
        .update_record(&model, acmes[0].id, props(json!({"amount": 7})))
        .unwrap();
    assert_eq!(updated.merchant, acme(), "an update keeps the merchant");
    assert_eq!(theirs.delete_record(&model, acmes[2].id).unwrap().id, acmes[2].id);
    assert_eq!(ours.count_records(&model, &[]).unwrap(), 1);

    // `merchant` in a write must be the store's.
    let agreeing = theirs
        .create_record(&model, props(json!({"gateway_id": "pi_a9", "merchant": "acme"})))
        .unwrap();
    assert_eq!(agreeing.merchant, acme());
    let not_given = theirs
        .create_record(&model, props(json!({"gateway_id": "pi_a10", "merchant": null})))
        .unwrap();
    assert_eq!(not_given.merchant, acme());
    for other in [json!("default"), json!("ACME"), json!(7), json!({"id": "acme"})] {
        let refused = fields(
            theirs
                .create_record(&model, props(json!({"gateway_id": "pi_x", "merchant": other})))
                .unwrap_err(),
        );
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].field, "merchant");
        assert!(refused[0].message.contains("`acme`"), "{}", refused[0].message);
    }
    let refused = fields(
        ours.write(
            &model,
            RecordWrite::update(Target::Id(mine.id), props(json!({"merchant": "acme"}))),
        )
        .unwrap_err(),
    );
    assert_eq!(refused[0].field, "merchant");
    assert_eq!(
        fields(
            ours.write(
                &model,
                RecordWrite::update(Target::Id(mine.id), Map::new()).unsetting(vec!["merchant".into()])
            )
            .unwrap_err()
        )[0]
        .field,
        "merchant"
    );
    assert_eq!(
        fields(
            ours.write(
                &model,
                RecordWrite::delete(Target::Matching(props(
                    json!({"gateway_id": "pi_a0", "merchant": "acme"})
                )))
            )
            .unwrap_err()
        )[0]
        .field,
        "merchant"
    );
    assert_eq!(ours.get_record(&model, mine.id).unwrap().as_ref(), Some(&mine));
    assert_eq!(
        theirs.count_records(&model, &[]).unwrap(),
        4,
        "refused writes wrote nothing"
    );

    // Claims take only the claiming store's merchant's work.
    let due = chrono::Utc::now() - Duration::seconds(5);
    for (store, key) in [(&ours, "d"), (&theirs, "a")] {
        store
            .create_record(
                &job(),
                props(json!({"key": key, "state": "pending", "due_at": due.to_rfc3339()})),
            )
            .unwrap();
    }
    let claim = super::claims::Claim {
        state: "state",
        due_at: "due_at",
        waiting: "pending",
        claimed: "sending",
        lease: Duration::seconds(60),
        limit: 10,
    };
    let claimed = theirs.claim_due_records(&job(), &claim).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].properties["key"], json!("a"));
    assert_eq!(claimed[0].merchant, acme());
    assert!(theirs.claim_due_records(&job(), &claim).unwrap().is_empty());
    let claimed = ours.claim_due_records(&job(), &claim).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].properties["key"], json!("d"));
}

fn keyed_writes_stay_with_their_merchant(store: &Store) {
    let model = payment();
    let (ours, theirs) = default_and_acme(store);
    let key = props(json!({"gateway_id": "pi_shared"}));
    let mine = upsert(&ours, &model, &key, props(json!({"state": "succeeded", "amount": 500}))).unwrap();
    // Another merchant's upsert of the same unique key creates its own
    // record and leaves ours alone.
    let created = theirs
        .write(
            &model,
            RecordWrite::upsert(key.clone(), props(json!({"state": "authorized", "amount": 1}))),
        )
        .unwrap();
    let WriteResult::Created(acmes) = created else {
        panic!("expected a new record for acme, got {created:?}");
    };
    assert_ne!(acmes.id, mine.id);
    assert_eq!(acmes.merchant, acme());
    assert_eq!(ours.get_record(&model, mine.id).unwrap().as_ref(), Some(&mine));
    let again = upsert(&theirs, &model, &key, props(json!({"amount": 2}))).unwrap();
    assert_eq!(again.id, acmes.id);
    assert_eq!(ours.get_record(&model, mine.id).unwrap().as_ref(), Some(&mine));
    // Create-once and updates by match are scoped the same way.
    let once = theirs
        .write(&model, RecordWrite::create_once(key.clone(), Map::new()))
        .unwrap();
    assert!(
        matches!(once, WriteResult::Kept { ref record, .. } if record.id == acmes.id),
        "{once:?}"
    );
    let matched = ours
        .write(
            &model,
            RecordWrite::update(Target::Matching(key.clone()), props(json!({"currency": "eur"}))),
        )
        .unwrap();
    assert_eq!(matched.record().map(|r| r.id), Some(mine.id));
    assert_eq!(
        theirs
            .get_record(&model, acmes.id)
            .unwrap()
            .unwrap()
            .properties
            .get("currency"),
        None
    );
    // A key naming another merchant is refused, not redirected.
    let mut other_key = key.clone();
    other_key.insert("merchant".into(), json!("default"));
    assert_eq!(
        fields(
            theirs
                .write(&model, RecordWrite::upsert(other_key, Map::new()))
                .unwrap_err()
        )[0]
        .field,
        "merchant"
    );
    // Within one merchant the key is still unique.
    assert_eq!(
        fields(
            theirs
                .create_record(&model, props(json!({"gateway_id": "pi_shared"})))
                .unwrap_err()
        )[0]
        .field,
        "gateway_id"
    );
    let by_key = |s: &Store| {
        s.count_records(&model, &[eq("gateway_id", json!("pi_shared"))])
            .unwrap()
    };
    assert_eq!((by_key(&ours), by_key(&theirs)), (1, 1));

    // Racing create-once writers of one new key, from two merchants at
    // once: one record each (PostgreSQL: each merchant has its own lock).
    let results: Vec<(bool, WriteResult)> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let (ours, theirs, model) = (&ours, &theirs, &model);
                scope.spawn(move || {
                    let store = if i % 2 == 0 { ours } else { theirs };
                    let write = RecordWrite::create_once(props(json!({"gateway_id": "pi_race"})), Map::new());
                    (i % 2 == 0, store.write(model, write).unwrap())
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for default in [true, false] {
        let created = results
            .iter()
            .filter(|(d, r)| *d == default && matches!(r, WriteResult::Created(_)))
            .count();
        assert_eq!(created, 1, "{results:?}");
    }
    let race = |s: &Store| s.count_records(&model, &[eq("gateway_id", json!("pi_race"))]).unwrap();
    assert_eq!((race(&ours), race(&theirs)), (1, 1));
}

/// A table as payforms made it before merchants: `livemode`, indexes with
/// it but without `merchant`, and records.
fn pre_merchant_tables_get_the_column(store: &Store) {
    use super::migrate::MigrateOptions;
    let ledger = model(
        "ledger",
        "properties:\n  - { name: ref, type: string, unique: true }\n  - { name: state, type: string, index: true }\n",
    );
    let (id, time, livemode, live) = match store.backend() {
        Backend::Sqlite => (
            "INTEGER PRIMARY KEY AUTOINCREMENT",
            "TEXT",
            "INTEGER NOT NULL DEFAULT 0",
            "1",
        ),
        Backend::Postgres => (
            "BIGSERIAL PRIMARY KEY",
            "TIMESTAMPTZ",
            "BOOLEAN NOT NULL DEFAULT FALSE",
            "TRUE",
        ),
    };
    let old = format!(
        "CREATE TABLE \"ledger\" (\"id\" {id}, \"created_at\" {time} NOT NULL, \"updated_at\" {time} NOT NULL, \
         \"livemode\" {livemode}, \"ref\" TEXT, \"state\" TEXT);
         CREATE INDEX \"ledger_created_at_idx\" ON \"ledger\" (\"livemode\", \"created_at\", \"id\");
         CREATE INDEX \"ledger_updated_at_idx\" ON \"ledger\" (\"livemode\", \"updated_at\", \"id\");
         CREATE UNIQUE INDEX \"ledger_ref_key\" ON \"ledger\" (\"ref\", \"livemode\");
         CREATE INDEX \"ledger_state_idx\" ON \"ledger\" (\"state\", \"livemode\", \"created_at\", \"id\");
         INSERT INTO model_tables (table_name, model, file) VALUES ('ledger', 'ledger', 'schema/ledger.yml');
         INSERT INTO model_columns (table_name, column_name, property_type, is_unique, is_indexed)
           VALUES ('ledger', 'ref', 'string', 1, 0), ('ledger', 'state', 'string', 0, 1);
         INSERT INTO \"ledger\" (\"created_at\", \"updated_at\", \"ref\", \"state\") VALUES
           ('2024-01-01T00:00:00.000000Z', '2024-01-01T00:00:00.000000Z', 'L-1', 'open'),
           ('2024-01-02T00:00:00.000000Z', '2024-01-02T00:00:00.000000Z', 'L-2', 'open');
         INSERT INTO \"ledger\" (\"created_at\", \"updated_at\", \"livemode\", \"ref\") VALUES
           ('2024-01-03T00:00:00.000000Z', '2024-01-03T00:00:00.000000Z', {live}, 'L-1');"
    );
    store.database().with_conn(|conn| Ok(conn.batch(&old)?)).unwrap();
    let models = [&payment(), &refund(), &job(), &ledger];
    let dry_run = MigrateOptions {
        dry_run: true,
        ..MigrateOptions::default()
    };
    let plan = store.migrate_models(&models, dry_run).unwrap();
    let described: Vec<&str> = plan.changes.iter().map(|c| c.description.as_str()).collect();
    assert_eq!(
        described,
        ["add the system column merchant to ledger (existing records: the default merchant's)"]
    );
    let sql = plan.sql(store.backend());
    assert!(
        sql.contains("ALTER TABLE \"ledger\" ADD COLUMN \"merchant\" TEXT NOT NULL DEFAULT 'default'"),
        "{sql}"
    );
    assert!(!sql.contains("ADD COLUMN \"livemode\""), "{sql}");
    for index in [
        "ON \"ledger\" (\"livemode\", \"merchant\", \"created_at\", \"id\")",
        "ON \"ledger\" (\"livemode\", \"merchant\", \"updated_at\", \"id\")",
        "ON \"ledger\" (\"ref\", \"livemode\", \"merchant\")",
        "ON \"ledger\" (\"state\", \"livemode\", \"merchant\", \"created_at\", \"id\")",
    ] {
        assert!(sql.contains(index), "{index} in {sql}");
    }
    // Planning changed nothing; applying adds the column, old rows the
    // default merchant's (in their own environments).
    assert!(store.count_records(&ledger, &[]).is_err(), "no merchant column yet");
    store.migrate_models(&models, MigrateOptions::default()).unwrap();
    assert!(store
        .migrate_models(&models, MigrateOptions::default())
        .unwrap()
        .changes
        .is_empty());
    let (ours, theirs) = default_and_acme(store);
    let old_rows = ours.query_records(&ledger, &query(vec![])).unwrap().records;
    assert_eq!(old_rows.len(), 2);
    assert!(old_rows.iter().all(|r| r.merchant.is_default() && !r.livemode));
    let live = ours.clone().with_environment(Environment::Live);
    assert_eq!(live.count_records(&ledger, &[]).unwrap(), 1);
    assert_eq!(theirs.count_records(&ledger, &[]).unwrap(), 0);
    // The rebuilt unique index is per merchant.
    assert_eq!(
        theirs
            .create_record(&ledger, props(json!({"ref": "L-1"})))
            .unwrap()
            .merchant,
        acme()
    );
    assert_eq!(
        fields(ours.create_record(&ledger, props(json!({"ref": "L-1"}))).unwrap_err())[0].field,
        "ref"
    );
    // One merchant's newest-first listing reads the rebuilt index
    // (PostgreSQL scans a table this small whatever its indexes; the
    // 10,000-record test covers it there).
    if store.backend() == Backend::Sqlite {
        assert_uses_index(store, &explain(store, &ledger, &query(vec![])), "ledger_created_at_idx");
    }
}

fn webhook_events_are_deduplicated_per_merchant(store: &Store) {
    let default = MerchantId::default();
    let acme = acme();
    let body = "{\"id\":\"evt_shared\"}";
    let insert = |merchant: &MerchantId, payload: &str| {
        webhook_event::insert_if_absent(store, "stripe", merchant, "evt_shared", "customer.created", payload).unwrap()
    };
    // One merchant sending another's event id first blocks nothing.
    let (theirs, inserted) = insert(&acme, body);
    assert!(inserted);
    assert_eq!(theirs.merchant, acme);
    let (ours, inserted) = insert(&default, body);
    assert!(inserted, "the default merchant's event is not a duplicate of acme's");
    assert_ne!(ours.id, theirs.id);
    assert!(ours.merchant.is_default());
    // A repeat for one merchant is a duplicate, kept as first stored.
    let (again, inserted) = insert(&acme, "{\"changed\":true}");
    assert!(!inserted);
    assert_eq!(again, theirs);
    // The batch path: per merchant, duplicates within the batch too.
    let event = |merchant: &MerchantId, id: &str| webhook_event::NewEvent {
        gateway: "stripe".into(),
        merchant: merchant.clone(),
        event_id: id.into(),
        event_type: "customer.created".into(),
        payload: "{}".into(),
        object_id: None,
    };
    let new = webhook_event::insert_new(
        store,
        &[
            event(&acme, "evt_batch"),
            event(&default, "evt_batch"),
            event(&acme, "evt_batch"),
            event(&default, "evt_shared"),
        ],
    )
    .unwrap();
    assert_eq!(new, [true, true, false, false]);
    // Found, listed and claimed with their merchant.
    let find = |merchant: &MerchantId, id: &str| webhook_event::find(store, "stripe", merchant, id).unwrap();
    assert_eq!(find(&acme, "evt_shared").map(|e| e.id), Some(theirs.id));
    assert_eq!(find(&default, "evt_shared").map(|e| e.id), Some(ours.id));
    assert_eq!(find(&MerchantId::parse("other").unwrap(), "evt_shared"), None);
    let acme_batch = find(&acme, "evt_batch").unwrap();
    let listed = webhook_event::list(store, Some(&acme), &webhook_event::EventFilter::default(), 10, None).unwrap();
    assert_eq!(ids_of(&listed), [acme_batch.id, theirs.id]);
    assert!(listed.iter().all(|e| e.merchant == acme));
    let pending = webhook_event::list(
        store,
        Some(&default),
        &webhook_event::EventFilter {
            status: Some(WebhookStatus::Pending),
            object_ids: None,
        },
        10,
        None,
    )
    .unwrap();
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|e| e.merchant.is_default()));
    assert_eq!(
        webhook_event::list(store, None, &webhook_event::EventFilter::default(), 10, None)
            .unwrap()
            .len(),
        4
    );
    let claimed = webhook_event::claim_due(store, Duration::seconds(60), 5, 10).unwrap();
    let mut merchants: Vec<&str> = claimed.iter().map(|e| e.merchant.as_str()).collect();
    merchants.sort_unstable();
    assert_eq!(merchants, ["acme", "acme", "default", "default"]);
}

/// Run `source`'s migrations up to (not including) the first whose name
/// contains `before`.
fn migrate_until<DB, C>(conn: &mut C, source: diesel_migrations::EmbeddedMigrations, before: &str)
where
    DB: diesel::backend::Backend,
    C: diesel_migrations::MigrationHarness<DB>,
    diesel_migrations::EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let pending = conn.pending_migrations(source).unwrap();
    for migration in pending {
        if migration.name().to_string().contains(before) {
            return;
        }
        conn.run_migration(&*migration).unwrap();
    }
    panic!("no migration named like {before}");
}

/// Events stored before merchants, in a database migrated as it was then:
/// the merchant migration keeps them (ids too) as the default merchant's,
/// and new ids continue after every id given before.
fn inbox_migration_keeps_old_events(store: &Store) {
    let default = MerchantId::default();
    let old = webhook_event::find(store, "stripe", &default, "evt_old")
        .unwrap()
        .unwrap();
    assert_eq!(old.id, 1);
    assert!(old.merchant.is_default());
    assert_eq!(old.status, WebhookStatus::Processed);
    assert_eq!(old.payload, "{\"id\":\"evt_old\"}");
    assert_eq!(
        webhook_event::list(store, Some(&default), &webhook_event::EventFilter::default(), 10, None)
            .unwrap()
            .len(),
        1
    );
    let (newer, inserted) =
        webhook_event::insert_if_absent(store, "stripe", &acme(), "evt_old", "customer.created", "{}").unwrap();
    assert!(inserted);
    assert!(newer.id > 2, "id 2 was given (and deleted) before: {}", newer.id);
}

const BEFORE_MERCHANTS: &str = "INSERT INTO webhook_events (gateway, event_id, event_type, payload, status, attempts, \
     next_attempt_at, created_at) VALUES \
     ('stripe', 'evt_old', 'customer.created', '{\"id\":\"evt_old\"}', 'processed', 1, \
      '2024-01-01 00:00:00', '2024-01-01 00:00:00'), \
     ('stripe', 'evt_gone', 'customer.created', '{}', 'pending', 0, '2024-01-01 00:00:00', '2024-01-01 00:00:00'); \
     DELETE FROM webhook_events WHERE event_id = 'evt_gone';";

const MERCHANT_MIGRATION: &str = "webhook_events_merchant";

#[test]
fn sqlite_inbox_migration_keeps_old_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let mut conn = diesel::SqliteConnection::establish(&path.display().to_string()).unwrap();
        migrate_until(&mut conn, super::connection::SQLITE_MIGRATIONS, MERCHANT_MIGRATION);
        conn.batch_execute(BEFORE_MERCHANTS).unwrap();
    }
    let store = Store::connect(&format!("sqlite://{}", path.display())).unwrap();
    store.migrate().unwrap();
    inbox_migration_keeps_old_events(&store);
}

#[test]
fn postgres_inbox_migration_keeps_old_events() {
    let (base, name, url) = empty_postgres();
    {
        let mut conn = PgConnection::establish(&url).unwrap();
        migrate_until(&mut conn, super::connection::POSTGRES_MIGRATIONS, MERCHANT_MIGRATION);
        conn.batch_execute(BEFORE_MERCHANTS).unwrap();
    }
    let store = Store::connect(&url).unwrap();
    store.migrate().unwrap();
    inbox_migration_keeps_old_events(&store);
    drop(store);
    if let Ok(mut admin) = PgConnection::establish(&base) {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

// ------------------------------------------------------------ day totals

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

fn totals(sum: Option<&str>, group_by: Option<&str>) -> DayTotalsQuery {
    DayTotalsQuery {
        sum: sum.map(str::to_string),
        group_by: group_by.map(str::to_string),
    }
}

fn day(day: &str, group: Option<&str>, count: i64, sum: Option<i64>) -> DayTotal {
    DayTotal {
        day: day.to_string(),
        group: group.map(str::to_string),
        count,
        sum,
    }
}

fn day_totals_group_by_utc_day_in_sql(store: &Store) {
    let model = payment();
    let batch = vec![
        props(json!({"amount": 100, "currency": "usd", "captured": true, "state": "succeeded"})),
        props(json!({"amount": 250, "currency": "eur", "captured": false, "state": "succeeded"})),
        props(json!({"amount": 1000, "currency": "usd", "captured": true, "state": "succeeded"})),
        props(json!({"amount": 5, "currency": "usd", "state": "failed"})),
        props(json!({"state": "succeeded"})),
    ];
    let records = store.create_records(&model, batch).unwrap();
    // The UTC day counts, whatever offset a time was given with.
    let times = [
        "2026-12-06T23:59:59.999999Z",
        "2026-12-07T00:30:00+01:00", // 2026-12-06 in UTC
        "2026-12-07T13:00:00+01:00",
        "2026-12-07T00:00:00Z",
        "2026-12-08T03:00:00+02:00",
    ];
    let moves: Vec<(i64, _)> = records.iter().zip(times).map(|(r, t)| (r.id, at(t))).collect();
    store.set_created_at_for_tests(&model, &moves).unwrap();
    let run = |filters: Vec<Filter>, sum: Option<&str>, group_by: Option<&str>| {
        store
            .day_totals(&model, &query(filters), &totals(sum, group_by))
            .unwrap()
    };

    assert_eq!(
        run(vec![], None, None),
        [
            day("2026-12-06", None, 2, None),
            day("2026-12-07", None, 2, None),
            day("2026-12-08", None, 1, None),
        ]
    );
    assert_eq!(
        run(vec![eq("state", json!("succeeded"))], Some("amount"), Some("currency")),
        [
            day("2026-12-06", Some("eur"), 1, Some(250)),
            day("2026-12-06", Some("usd"), 1, Some(100)),
            day("2026-12-07", Some("usd"), 1, Some(1000)),
            day("2026-12-08", None, 1, Some(0)),
        ]
    );
    assert_eq!(
        run(vec![], Some("amount"), Some("captured")),
        [
            day("2026-12-06", Some("false"), 1, Some(250)),
            day("2026-12-06", Some("true"), 1, Some(100)),
            day("2026-12-07", Some("true"), 1, Some(1000)),
            day("2026-12-07", None, 1, Some(5)),
            day("2026-12-08", None, 1, Some(0)),
        ]
    );
    let since = Filter::new("created_at", FilterOp::Gte(json!("2026-12-07T00:00:00Z")));
    assert_eq!(
        run(vec![since], Some("amount"), None),
        [
            day("2026-12-07", None, 2, Some(1005)),
            day("2026-12-08", None, 1, Some(0)),
        ]
    );

    // `sum` takes an integer property, `groupBy` a string or boolean one.
    for (bad, field) in [
        (totals(Some("currency"), None), "sum"),
        (totals(Some("rate"), None), "sum"),
        (totals(Some("nope"), None), "sum"),
        (totals(None, Some("amount")), "groupBy"),
        (totals(None, Some("metadata")), "groupBy"),
        (totals(None, Some("paid_at")), "groupBy"),
    ] {
        match store.day_totals(&model, &query(vec![]), &bad) {
            Err(StoreError::Validation(fields)) => assert_eq!(fields[0].field, field, "{bad:?}"),
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
}

fn day_totals_stay_in_their_partition(store: &Store) {
    let model = payment();
    let (ours, acme) = default_and_acme(store);
    let live = ours.clone().with_environment(Environment::Live);
    let mut moves = Vec::new();
    for (writer, amount) in [(&ours, 1), (&ours, 2), (&live, 40), (&acme, 300)] {
        let record = writer.create_record(&model, props(json!({"amount": amount}))).unwrap();
        moves.push((record.id, at("2026-12-07T10:00:00Z")));
    }
    store.set_created_at_for_tests(&model, &moves).unwrap();
    let sum = totals(Some("amount"), None);
    let one_day = |count, total| vec![day("2026-12-07", None, count, Some(total))];
    assert_eq!(ours.day_totals(&model, &query(vec![]), &sum).unwrap(), one_day(2, 3));
    assert_eq!(live.day_totals(&model, &query(vec![]), &sum).unwrap(), one_day(1, 40));
    assert_eq!(acme.day_totals(&model, &query(vec![]), &sum).unwrap(), one_day(1, 300));
    // A query naming the other environment reads that one, as a page does.
    let in_live = RecordQuery {
        environment: Some(Environment::Live),
        ..query(vec![])
    };
    assert_eq!(ours.day_totals(&model, &in_live, &sum).unwrap(), one_day(1, 40));
    let in_test = RecordQuery {
        environment: Some(Environment::Test),
        ..query(vec![])
    };
    assert_eq!(live.day_totals(&model, &in_test, &sum).unwrap(), one_day(2, 3));
    assert!(acme
        .clone()
        .with_environment(Environment::Live)
        .day_totals(&model, &query(vec![]), &sum)
        .unwrap()
        .is_empty());
}

fn day_totals_are_bounded(store: &Store) {
    let model = payment();
    let days = MAX_DAYS + 5;
    // One usd record a day; on the newest day also 24 single records of
    // other currencies and 3 of "zzz".
    let mut batch: Vec<Map<String, Value>> = (0..days).map(|_| props(json!({"currency": "usd"}))).collect();
    batch.extend((0..24).map(|i| props(json!({"currency": format!("c{i:02}")}))));
    batch.extend((0..3).map(|_| props(json!({"currency": "zzz"}))));
    let records = store.create_records(&model, batch).unwrap();
    let first_day = at("2020-01-01T12:00:00Z");
    let moves: Vec<(i64, _)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id, first_day + Duration::days(i.min(days - 1) as i64)))
        .collect();
    store.set_created_at_for_tests(&model, &moves).unwrap();

    let answer = store
        .day_totals(&model, &query(vec![]), &totals(None, Some("currency")))
        .unwrap();
    let date = |offset: usize| {
        (first_day + Duration::days(offset as i64))
            .format("%Y-%m-%d")
            .to_string()
    };
    let distinct: HashSet<&str> = answer.iter().map(|d| d.day.as_str()).collect();
    assert_eq!(distinct.len(), MAX_DAYS, "the newest days");
    assert_eq!(answer[0], day(&date(5), Some("usd"), 1, None));
    let newest: Vec<&DayTotal> = answer.iter().filter(|d| d.day == date(days - 1)).collect();
    assert_eq!(newest.len(), MAX_GROUPS_PER_DAY);
    // The groups with the most records, ties by their bytes; shown by group.
    let mut expected: Vec<String> = (0..MAX_GROUPS_PER_DAY - 1).map(|i| format!("c{i:02}")).collect();
    expected.push("zzz".into());
    let groups: Vec<String> = newest.iter().filter_map(|d| d.group.clone()).collect();
    assert_eq!(groups, expected);
    assert_eq!(newest.last().map(|d| d.count), Some(3));
    assert_eq!(answer.len(), MAX_DAYS - 1 + MAX_GROUPS_PER_DAY);
}
