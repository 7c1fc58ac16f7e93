//! Records written per second and filtered pages of 5 read per second, on
//! SQLite (a temporary file) and PostgreSQL (a fresh database on the server
//! named by PAYFORMS_TEST_PG, dropped at the end).
//!
//! cargo bench --bench store

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::{json, Map, Value};

use payforms::db::query::{Filter, FilterOp, RecordQuery};
use payforms::db::schema::ModelType;
use payforms::db::Store;

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Records in the model before reads are measured.
const LOADED: usize = 10_000;

fn payment() -> ModelType {
    ModelType::parse(
        Path::new("schema/payment.yml"),
        "modules/payments/payment",
        "properties:\n  - name: gateway_id\n    type: string\n    unique: true\n  - name: customer\n    type: string\n  \
         - name: amount\n    type: integer\n  - name: currency\n    type: string\n  - name: paid_at\n    type: datetime\n",
    )
    .expect("bench model")
}

fn properties(i: usize, tag: &str) -> Map<String, Value> {
    match json!({
        "gateway_id": format!("pi_{tag}_{i}"),
        "customer": format!("cus_{}", i % 100),
        "amount": (i * 37) % 1000,
        "currency": "eur",
        "paid_at": 1_714_564_800 + i,
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn bench_backend(c: &mut Criterion, name: &str, store: &Store) {
    let model = payment();
    let mut group = c.benchmark_group(format!("store/{name}"));
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(8));

    let counter = AtomicUsize::new(0);
    group.bench_function("create_record", |b| {
        b.iter(|| {
            let i = counter.fetch_add(1, Ordering::Relaxed);
            store.create_record(&model, properties(i, "w")).expect("create")
        })
    });

    let batch: Vec<_> = (0..LOADED).map(|i| properties(i, "r")).collect();
    store.create_records(&model, batch).expect("load");
    let page = |i: usize| RecordQuery {
        filters: vec![Filter::new("customer", FilterOp::Eq(json!(format!("cus_{}", i % 100))))],
        first: Some(5),
        ..RecordQuery::default()
    };
    let counter = AtomicUsize::new(0);
    group.bench_function("filtered_page_of_5", |b| {
        b.iter(|| {
            let i = counter.fetch_add(1, Ordering::Relaxed);
            let page = store.query_records(&model, &page(i)).expect("query");
            assert_eq!(page.records.len(), 5);
        })
    });
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::connect(&dir.path().join("bench.sqlite3").display().to_string()).expect("sqlite");
    store.migrate().expect("migrations");
    bench_backend(c, "sqlite", &store);
}

fn postgres(c: &mut Criterion) {
    let base = std::env::var("PAYFORMS_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_string());
    let mut admin = PgConnection::establish(&base).expect("PostgreSQL (PAYFORMS_TEST_PG) is reachable");
    let name = format!("payforms_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let mut url = url::Url::parse(&base).expect("PAYFORMS_TEST_PG is a URL");
    url.set_path(&name);
    {
        let store = Store::connect(url.as_str()).expect("postgres");
        store.migrate().expect("migrations");
        bench_backend(c, "postgres", &store);
    }
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
