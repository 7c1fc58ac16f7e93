//! Records written per second by 16 concurrent writers (one record per
//! transaction, as form submissions write them), with 1,000 and then
//! 200,000 records stored, and filtered pages of 10 read per second; on
//! SQLite (a temporary file) and PostgreSQL (a fresh database on the server
//! named by PAYFORMS_TEST_PG, dropped at the end).
//!
//! cargo bench --bench store   (PAYFORMS_BENCH_SECONDS=N per run, default 5;
//! PAYFORMS_BENCH_BACKEND=sqlite|postgres for one backend)

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::{json, Map, Value};

use payforms::db::query::{Filter, FilterOp, RecordQuery};
use payforms::db::schema::ModelType;
use payforms::db::Store;

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const WRITERS: usize = 16;
const READERS: usize = 4;

/// The shape of the Stripe module's payment: 26 typed columns, a unique
/// gateway id and three indexed properties.
fn payment() -> ModelType {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/modules/payments/schema/payment.yml"
    ))
    .expect("payment schema");
    ModelType::parse(Path::new("schema/payment.yml"), "modules/payments/payment", &text).expect("bench model")
}

fn properties(i: usize, tag: &str) -> Map<String, Value> {
    match json!({
        "gateway_id": format!("pi_{tag}_{i}"),
        "kind": "payment_intent",
        "state": if i.is_multiple_of(3) { "succeeded" } else { "requires_payment_method" },
        "customer_id": format!("cus_{}", i % 500),
        "amount": (i * 37) % 100_000,
        "currency": "eur",
        "description": "Order 1234",
        "email": format!("buyer{}@example.com", i % 500),
        "metadata": {"order_id": i.to_string()},
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn seconds() -> Duration {
    let s = std::env::var("PAYFORMS_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(s)
}

/// Run `work(thread, i)` on `threads` threads for the measuring time;
/// the rate of calls per second.
fn rate(threads: usize, work: impl Fn(usize, usize) + Sync) -> f64 {
    let stop = AtomicBool::new(false);
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (stop, done, work) = (&stop, &done, &work);
            scope.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    work(t, i);
                    i += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(seconds());
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn load_to(store: &Store, model: &ModelType, target: usize) {
    let have = store.count_records(model, &[]).expect("count") as usize;
    let mut next = have;
    while next < target {
        let end = (next + 5_000).min(target);
        let batch: Vec<_> = (next..end).map(|i| properties(i, "load")).collect();
        store.create_records(model, batch).expect("load");
        next = end;
    }
}

fn bench_backend(name: &str, store: &Store) {
    let model = payment();
    store.migrate_models(&[&model], Default::default()).expect("table");
    let write = |tag: &str| {
        rate(WRITERS, |t, i| {
            store
                .create_record(&model, properties(i, &format!("{tag}_{t}")))
                .expect("create");
        })
    };
    load_to(store, &model, 1_000);
    let small = write("small");
    load_to(store, &model, 200_000);
    // What autovacuum (PostgreSQL) or `PRAGMA optimize` would soon do after
    // a bulk load: without statistics the planner may combine two indexes.
    store.analyze(&model).expect("analyze");
    let large = write("large");
    let read = rate(READERS, |t, i| {
        let query = RecordQuery {
            filters: vec![
                Filter::new(
                    "customer_id",
                    FilterOp::Eq(json!(format!("cus_{}", (t * 7919 + i) % 500))),
                ),
                Filter::new("state", FilterOp::Eq(json!("succeeded"))),
            ],
            first: Some(10),
            ..RecordQuery::default()
        };
        let page = store.query_records(&model, &query).expect("query");
        assert_eq!(page.records.len(), 10);
    });
    println!(
        "{name:<10} writes/s ({WRITERS} writers) with 1,000 stored: {small:>8.0}   with 200,000 stored: {large:>8.0} \
         ({:.0}%)   filtered pages of 10/s ({READERS} readers): {read:>7.0}",
        100.0 * large / small
    );
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test --benches` run
    // only checks that this builds and starts.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let only = std::env::var("PAYFORMS_BENCH_BACKEND").ok();
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("bench.db").display())).expect("sqlite");
    store.migrate().expect("migrate");
    if wanted("sqlite") {
        bench_backend("sqlite", &store);
    }
    if !wanted("postgres") {
        return;
    }

    let base = std::env::var("PAYFORMS_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_string());
    let name = format!("payforms_bench_{}", std::process::id());
    let mut admin = PgConnection::establish(&base).expect("PostgreSQL (set PAYFORMS_TEST_PG)");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    let url = match base.rfind('/') {
        Some(slash) => format!("{}/{name}", &base[..slash]),
        None => panic!("PAYFORMS_TEST_PG must end with /DATABASE"),
    };
    {
        let store = Store::connect(&url).expect("postgres");
        store.migrate().expect("migrate");
        bench_backend("postgres", &store);
    }
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}
