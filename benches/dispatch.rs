//! The dispatch pipeline's own overhead: render the notification, send it to
//! a gateway that answers instantly (a local server), run the response
//! mapper, write the record and the gateway_request log. Prints median and
//! p99 per dispatch, and the bare HTTP round trip for comparison.
//!
//! cargo bench --bench dispatch

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use payforms::config::{Overrides, Settings};
use payforms::db::Store;
use payforms::gateway::{Caller, Gateway, RequestDispatcher};
use payforms::instance::Instance;
use serde_json::json;

const DISPATCHES: usize = 2000;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

fn bench_app(root: &Path) {
    let payments = Path::new(env!("CARGO_MANIFEST_DIR")).join("modules/payments/schema");
    for entry in fs::read_dir(&payments).expect("payments schema") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        write(
            root,
            &format!("modules/payments/schema/{name}"),
            &fs::read_to_string(entry.path()).expect("read"),
        );
    }
    write(
        root,
        "modules/bench/notifications/api_call_notifications/create_customer.liquid",
        "---\nto: '{{ gateway.api_base }}/v1/customers'\nrequest_type: POST\nheaders: '{ \"Authorization\": \"Bearer {{ gateway.secret_key }}\" }'\nformat: form\n---\n{ \"email\": {{ data.email | json }}, \"metadata\": {\"n\": {{ data.n | json }} } }\n",
    );
    write(
        root,
        "modules/bench/templates/response_mappers/create_customer.liquid",
        "{ \"model\": \"modules/payments/customer\", \"operation\": \"upsert\", \"match\": { \"gateway_id\": {{ response.body.id | json }} }, \"properties\": { \"gateway_id\": {{ response.body.id | json }}, \"email\": {{ response.body.email | json }} } }\n",
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The gateway: answers every POST at once with a fixed customer.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let gateway_address = listener.local_addr().expect("address");
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        App::new().route(
            "/v1/customers",
            web::post().to(move || {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async move {
                    HttpResponse::Ok()
                        .json(json!({"id": format!("cus_{n}"), "object": "customer", "email": "a@example.com"}))
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    runtime.spawn(server);

    let app = tempfile::tempdir().expect("temp app");
    bench_app(app.path());
    let mut settings = Settings::load(app.path(), &Overrides::default()).expect("settings");
    settings.database_url = app.path().join("bench.sqlite3").display().to_string();
    settings.stripe.api_base = format!("http://{gateway_address}");
    settings.stripe.secret_key = Some(payforms::config::Secret::new("sk_test_bench"));
    let store = Store::connect(&settings.database_url).expect("store");
    store.migrate().expect("migrate");
    let gateway = Arc::new(Gateway::new(&settings, store.clone(), runtime.handle().clone()).expect("gateway"));
    let instance = Instance::start(settings, store, gateway.clone()).expect("instance");

    let http = reqwest::Client::new();
    let bare_url = format!("http://{gateway_address}/v1/customers");
    let mut bare = Vec::with_capacity(DISPATCHES);
    for _ in 0..DISPATCHES {
        let started = Instant::now();
        runtime.block_on(async {
            http.post(&bare_url)
                .body("email=a")
                .send()
                .await
                .expect("send")
                .bytes()
                .await
                .expect("body")
        });
        bare.push(started.elapsed());
    }
    let mut timings = Vec::with_capacity(DISPATCHES);
    let dispatcher = gateway.clone();
    let version = instance.current();
    let handle = std::thread::spawn(move || {
        for n in 0..DISPATCHES {
            let started = Instant::now();
            let outcome = dispatcher
                .dispatch(
                    &version.app,
                    "modules/bench/create_customer",
                    json!({"email": "a@example.com", "n": n}),
                    None,
                    Caller::Visitor,
                )
                .expect("dispatch");
            assert!(outcome.record.is_some());
            timings.push(started.elapsed());
        }
        timings
    });
    let mut timings = handle.join().expect("dispatch thread");
    timings.sort();
    bare.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("dispatch (render + send + map + record + request log), {DISPATCHES} sequential, SQLite:");
    println!(
        "  median {:.3} ms   p99 {:.3} ms",
        ms(percentile(&timings, 0.5)),
        ms(percentile(&timings, 0.99))
    );
    println!("bare HTTP round trip to the same gateway:");
    println!(
        "  median {:.3} ms   p99 {:.3} ms",
        ms(percentile(&bare, 0.5)),
        ms(percentile(&bare, 0.99))
    );
    println!(
        "pipeline overhead (median difference): {:.3} ms",
        ms(percentile(&timings, 0.5)) - ms(percentile(&bare, 0.5))
    );
}
