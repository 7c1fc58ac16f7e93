//! Upgrading a database written by the entity-attribute-value version
//! (every record in `records` + `record_values`): `payforms migrate` copies
//! each record into its model's table with the same id, times and every
//! property, keeps the old tables until `--drop-legacy`, and the app serves
//! the copied records.
//!
//! The fixtures were written by that version's own binary (`serve
//! --sandbox`, driven through its forms, request types and webhooks) and
//! dumped with `sqlite3 .dump` and `pg_dump --inserts`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use serde_json::{Map, Value};

use payforms::app::App;
use payforms::db::Store;
use support::{copy_app, payforms_bin, repo_root, PgDatabase};

#[derive(QueryableByName, Debug)]
struct LegacyRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = Text)]
    properties: String,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    updated_at: NaiveDateTime,
}

const LEGACY_QUERY: &str =
    "SELECT id, model, CAST(properties AS TEXT) AS properties, created_at, updated_at FROM records ORDER BY id";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures").join(name)).expect("fixture")
}

fn migrate(app: &Path, database: &str, flags: &[&str]) -> String {
    let output = Command::new(payforms_bin())
        .arg("migrate")
        .arg("--app")
        .arg(app)
        .arg("--database")
        .arg(database)
        .args(flags)
        .env("PAYFORMS_SECRET", "fixture-secret-0123456789abcdef0123456789abcdef")
        .output()
        .expect("payforms migrate");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "migrate failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Every legacy record is in its model's table: same id, same times, every
/// property with the same (typed) value. Returns records per model.
fn assert_nothing_lost(database: &str, legacy: &[LegacyRow], app: &Path) -> BTreeMap<String, usize> {
    let app = App::load(app).expect("the demo app loads");
    let store = Store::connect(database).expect("store");
    let mut per_model = BTreeMap::new();
    for row in legacy {
        let model = app
            .model_type(&row.model)
            .unwrap_or_else(|| panic!("the fixture's model {} is in the app", row.model));
        let copied = store
            .get_record(model, row.id)
            .unwrap()
            .unwrap_or_else(|| panic!("{} {} was not copied", row.model, row.id));
        let mut properties: Map<String, Value> = serde_json::from_str(&row.properties).unwrap();
        assert!(!properties.is_empty() || row.model == "order", "{row:?}");
        to_stored_precision(model, &mut properties);
        let mut copied_properties = copied.properties.clone();
        to_stored_precision(model, &mut copied_properties);
        assert_eq!(
            Value::Object(copied_properties),
            Value::Object(properties),
            "{} {}",
            row.model,
            row.id
        );
        assert_eq!(
            copied.created_at.naive_utc(),
            row.created_at,
            "{} {}",
            row.model,
            row.id
        );
        assert_eq!(
            copied.updated_at.naive_utc(),
            row.updated_at,
            "{} {}",
            row.model,
            row.id
        );
        *per_model.entry(row.model.clone()).or_insert(0) += 1;
    }
    for (name, count) in &per_model {
        let model = app.model_type(name).unwrap();
        assert_eq!(store.count_records(model, &[]).unwrap(), *count as i64, "{name}");
    }
    per_model
}

/// Datetimes are compared as instants. Datetime columns keep microseconds (PostgreSQL's precision, and SQLite's
/// text so both agree); the old store kept the nanoseconds it was given.
/// Anything else must come back exactly as it was.
fn to_stored_precision(model: &payforms::db::schema::ModelType, properties: &mut Map<String, Value>) {
    for (name, value) in properties.iter_mut() {
        let Some(def) = model.property(name) else { continue };
        if def.kind != payforms::db::schema::PropertyType::Datetime {
            continue;
        }
        let Value::String(text) = value else { continue };
        let instant = chrono::DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{name}: {text}: {e}"))
            .with_timezone(&chrono::Utc);
        let micros = chrono::DateTime::from_timestamp_micros(instant.timestamp_micros()).unwrap();
        *value = Value::String(micros.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    }
}

#[test]
fn a_sqlite_database_of_the_previous_version_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let database = format!("sqlite://{}", path.display());
    let legacy = {
        let mut conn = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        conn.batch_execute(&fixture("eav-v1.sqlite.sql")).unwrap();
        diesel::sql_query(LEGACY_QUERY).load::<LegacyRow>(&mut conn).unwrap()
    };
    assert!(legacy.len() > 200, "{}", legacy.len());
    let app = copy_app(repo_root());

    let plan = migrate(app.path(), &database, &["--dry-run"]);
    assert!(
        plan.contains("-- create table payment for modules/payments/payment and copy its 39 record(s)"),
        "{plan}"
    );
    let applied = migrate(app.path(), &database, &[]);
    assert!(
        applied.contains("legacy tables (records, record_values, record_uniques"),
        "{applied}"
    );
    let per_model = assert_nothing_lost(&database, &legacy, app.path());
    assert_eq!(per_model.len(), 18, "{per_model:?}");
    assert_eq!(per_model["modules/payments/payment"], 39);

    // Running it again copies nothing twice; --drop-legacy drops the old tables.
    assert!(migrate(app.path(), &database, &[]).contains("matches the schema files"));
    assert_nothing_lost(&database, &legacy, app.path());
    migrate(app.path(), &database, &["--drop-legacy"]);
    let mut conn = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let tables: Vec<String> = diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table'")
        .load::<Name>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert!(!tables.contains(&"records".to_string()), "{tables:?}");
    assert!(tables.contains(&"payment".to_string()), "{tables:?}");
}

#[test]
fn a_postgres_database_of_the_previous_version_loses_nothing() {
    let db = PgDatabase::fresh();
    let legacy = {
        let mut conn = PgConnection::establish(db.url()).unwrap();
        conn.batch_execute(&fixture("eav-v1.postgres.sql")).unwrap();
        conn.batch_execute("SET search_path TO public").unwrap();
        diesel::sql_query(LEGACY_QUERY).load::<LegacyRow>(&mut conn).unwrap()
    };
    assert!(legacy.len() > 180, "{}", legacy.len());
    let app = copy_app(repo_root());
    migrate(app.path(), db.url(), &[]);
    let per_model = assert_nothing_lost(db.url(), &legacy, app.path());
    assert_eq!(per_model["modules/payments/payment"], 35);
    // New records continue after the copied ids.
    let next = db.query("SELECT nextval(pg_get_serial_sequence('\"payment\"', 'id'))");
    let max = db.query("SELECT MAX(id) FROM payment");
    assert!(
        next.parse::<i64>().unwrap() > max.parse::<i64>().unwrap(),
        "{next} {max}"
    );
    // psql shows a payment table with typed columns.
    let types = db.query(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'payment' AND column_name = 'amount'",
    );
    assert_eq!(types, "bigint");
    assert_eq!(
        db.query("SELECT COUNT(*) FROM payment WHERE state = 'succeeded'"),
        db.query("SELECT COUNT(*) FROM records WHERE model = 'modules/payments/payment' AND properties->>'state' = 'succeeded'")
    );
    migrate(app.path(), db.url(), &["--drop-legacy"]);
    assert_eq!(
        db.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'records'"),
        "0"
    );
}
