//! Webhook throughput on SQLite and PostgreSQL, with the repository's app
//! (the shipped modules/stripe processors):
//! - verified + stored per second: signed events POSTed to /webhooks/stripe
//!   (the real actix app, 16 concurrent connections) with the worker stopped,
//!   so this is signature check + JSON parse + durable insert + 2xx;
//! - processed per second: the worker started on the full inbox, until every
//!   event is processed (claim, processor template, state lookup, record
//!   upsert, mark processed).
//!
//! Half the events are customer.created, half payment_intent.succeeded,
//! all with distinct objects.
//!
//! Each backend runs twice: with 1,000 processed events already stored, then
//! with PAYFORMS_BENCH_STORED (default 100,000),
//! so the cost per event must not grow with the inbox.
//!
//!   cargo bench --bench webhooks
//!   PAYFORMS_BENCH_EVENTS=5000 PAYFORMS_BENCH_PG=postgres://postgres@127.0.0.1:5432/test cargo bench --bench webhooks
//!
//! PostgreSQL: a fresh database is created (and dropped) through `psql` on
//! the server of PAYFORMS_BENCH_PG (default postgres://postgres@127.0.0.1:5432/test);
//! PAYFORMS_BENCH_PG=off skips it.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use payforms::config::{Overrides, Settings};
use payforms::db::models::webhook_event::{self, WebhookStatus};
use payforms::db::Store;
use payforms::instance::Instance;
use payforms::webhooks::signature::signature_header;
use payforms::webhooks::worker::{self, WorkerSignal};
use serde_json::json;

const SECRET: &str = "whsec_bench_0123456789abcdef";
const CONCURRENCY: usize = 16;
const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

struct Figures {
    stored_per_sec: f64,
    processed_per_sec: f64,
    ingest: Duration,
    drain: Duration,
}

fn events(count: usize) -> Vec<String> {
    let created = chrono::Utc::now().timestamp();
    (0..count)
        .map(|n| {
            let (kind, object) = if n % 2 == 0 {
                (
                    "customer.created",
                    json!({"id": format!("cus_bench_{n}"), "object": "customer", "email": format!("b{n}@example.com"), "metadata": {}}),
                )
            } else {
                (
                    "payment_intent.succeeded",
                    json!({"id": format!("pi_bench_{n}"), "object": "payment_intent", "amount": 1000 + n, "amount_received": 1000 + n,
                           "currency": "usd", "status": "succeeded", "customer": "cus_bench_0", "capture_method": "automatic", "metadata": {}}),
                )
            };
            json!({"id": format!("evt_bench_{n}"), "object": "event", "type": kind, "created": created,
                   "data": {"object": object}})
            .to_string()
        })
        .collect()
}

/// Fill the inbox with `count` events already processed (as a live inbox
/// holds them), in one statement, before a measured run.
fn preload(database_url: &str, count: usize) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    if count == 0 {
        return;
    }
    let payload = r#"{"id":"evt_old","object":"event","type":"customer.updated","data":{"object":{"id":"cus_old","object":"customer","email":"old@example.com","metadata":{}}}}"#;
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
         INSERT INTO webhook_events (gateway, event_id, event_type, payload, status, attempts, next_attempt_at, created_at, processed_at) \
         SELECT 'stripe', 'evt_old_' || i, 'customer.updated', '{payload}', 'processed', 1, \
         '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:01' FROM n; ANALYZE webhook_events"
    );
    if database_url.starts_with("postgres") {
        let mut conn = diesel::PgConnection::establish(database_url).expect("PostgreSQL");
        conn.batch_execute(&sql).expect("preload");
    } else {
        let mut conn = diesel::SqliteConnection::establish(database_url).expect("SQLite");
        conn.batch_execute(&sql).expect("preload");
        // Out of the WAL before measuring, as it would be long after.
        conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
            .expect("checkpoint");
    }
}

fn run(runtime: &tokio::runtime::Runtime, database_url: &str, bodies: &[String], stored: usize) -> Figures {
    let app_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = |name: &str| match name {
        "PAYFORMS_SECRET" => Some("bench-secret-0123456789abcdef0123456789".to_string()),
        "STRIPE_WEBHOOK_SECRET" => Some(SECRET.to_string()),
        _ => None,
    };
    let overrides = Overrides {
        database_url: Some(database_url.to_string()),
        bind: None,
    };
    let settings = Settings::load_with(app_dir, &overrides, env).expect("settings");
    let store = Store::connect(&settings.database_url).expect("store");
    store.migrate().expect("migrate");
    preload(&settings.database_url, stored);
    let gateway_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let gateway =
        payforms::gateway::Gateway::new(&settings, store.clone(), gateway_runtime.handle().clone()).expect("gateway");
    let instance = Instance::start(settings, store, Arc::new(gateway)).unwrap_or_else(|problems| {
        panic!(
            "the app does not load: {}",
            problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n")
        )
    });

    // The HTTP app without a worker: ingestion alone.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/webhooks/stripe", listener.local_addr().expect("address"));
    // serve() is not Send: it gets a thread and a runtime of its own (as in `payforms serve`).
    let serving = instance.clone();
    std::thread::spawn(move || {
        let server_runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        let _ = server_runtime
            .block_on(async move { payforms::api::serve(serving, WorkerSignal::default(), listener)?.await });
    });
    let timestamp = chrono::Utc::now().timestamp();
    let signed: Vec<(String, String)> = bodies
        .iter()
        .map(|body| (signature_header(SECRET, timestamp, body.as_bytes()), body.clone()))
        .collect();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let statuses: Vec<u16> = runtime.block_on(
        futures::stream::iter(signed)
            .map(|(header, body)| {
                let http = http.clone();
                let url = url.clone();
                async move {
                    http.post(&url)
                        .header("Stripe-Signature", header)
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect(),
    );
    let ingest = started.elapsed();
    let refused = statuses.iter().filter(|s| **s != 200).count();
    assert_eq!(refused, 0, "every event is stored");

    // Now the worker drains the inbox.
    let started = Instant::now();
    let signal = worker::start(instance.clone(), runtime.handle());
    signal.wake();
    let store = &instance.store;
    loop {
        let waiting = webhook_event::list(
            store,
            None,
            &webhook_event::EventFilter {
                status: Some(WebhookStatus::Pending),
                object_ids: None,
            },
            1,
            None,
        )
        .expect("list")
        .len()
            + webhook_event::list(
                store,
                None,
                &webhook_event::EventFilter {
                    status: Some(WebhookStatus::Processing),
                    object_ids: None,
                },
                1,
                None,
            )
            .expect("list")
            .len();
        let failed = webhook_event::list(
            store,
            None,
            &webhook_event::EventFilter {
                status: Some(WebhookStatus::Failed),
                object_ids: None,
            },
            1,
            None,
        )
        .expect("list");
        assert!(
            failed.is_empty(),
            "a processor failed: {:?}",
            failed.first().map(|e| &e.last_error)
        );
        if waiting == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let drain = started.elapsed();
    let processed = count(store, WebhookStatus::Processed);
    assert_eq!(processed, bodies.len() + stored, "every event is processed");
    Figures {
        stored_per_sec: bodies.len() as f64 / ingest.as_secs_f64(),
        processed_per_sec: bodies.len() as f64 / drain.as_secs_f64(),
        ingest,
        drain,
    }
}

/// Events with this status (listing pages are capped at 1,000).
fn count(store: &Store, status: WebhookStatus) -> usize {
    let mut total = 0;
    let mut after = None;
    loop {
        let filter = webhook_event::EventFilter {
            status: Some(status),
            object_ids: None,
        };
        let page = webhook_event::list(store, None, &filter, 1000, after).expect("list");
        total += page.len();
        match page.last() {
            Some(last) if page.len() == 1000 => after = Some(last.id),
            _ => return total,
        }
    }
}

fn psql(url: &str, sql: &str) -> Result<(), String> {
    let output = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

fn report(backend: &str, count: usize, stored: usize, figures: &Figures) {
    println!(
        "{backend:<10} {count} events, {stored:>6} already stored: verified+stored {:>7.0}/s ({:.2?})   processed {:>6.0}/s ({:.2?})",
        figures.stored_per_sec, figures.ingest, figures.processed_per_sec, figures.drain
    );
}

const BASELINE_STORED: usize = 1_000;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing and must stay quick.
    let benching = std::env::args().any(|a| a == "--bench");
    let count: usize = std::env::var("PAYFORMS_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 2000 } else { 20 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bodies = events(count);
    // The second run of each backend starts with this many events stored.
    let stored: usize = std::env::var("PAYFORMS_BENCH_STORED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 100_000 } else { 200 });

    let dir = tempfile::tempdir().expect("temp dir");
    // The baseline run starts with 1,000 stored events (issue 17's "as data
    // grows" compares 1,000 with 100,000).
    let runs: Vec<usize> = if stored <= BASELINE_STORED {
        vec![stored]
    } else {
        vec![BASELINE_STORED, stored]
    };
    for &preloaded in &runs {
        let sqlite = dir
            .path()
            .join(format!("bench-{preloaded}.sqlite3"))
            .display()
            .to_string();
        report("SQLite", count, preloaded, &run(&runtime, &sqlite, &bodies, preloaded));
    }

    let admin = std::env::var("PAYFORMS_BENCH_PG").unwrap_or_else(|_| DEFAULT_PG.to_string());
    if admin == "off" {
        return;
    }
    for &preloaded in &runs {
        let name = format!("payforms_bench_{}_{preloaded}", std::process::id());
        psql(&admin, &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("PostgreSQL at {admin}: {e}"));
        let mut url = url::Url::parse(&admin).expect("PAYFORMS_BENCH_PG is a URL");
        url.set_path(&format!("/{name}"));
        let figures = run(&runtime, url.as_str(), &bodies, preloaded);
        report("PostgreSQL", count, preloaded, &figures);
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    for &preloaded in &runs {
        let _ = psql(
            &admin,
            &format!(
                "DROP DATABASE IF EXISTS payforms_bench_{}_{preloaded} WITH (FORCE)",
                std::process::id()
            ),
        );
    }
}
