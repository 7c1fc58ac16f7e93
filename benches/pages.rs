//! Renders of the demo `/checkout` page per second, through the real actix
//! service (routing, cookies, context, precompiled templates, form signing),
//! without network noise.
//!
//! cargo bench --bench pages

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{test, web, App};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use payforms::config::{Overrides, Settings};
use payforms::db::Store;
use payforms::instance::Instance;

fn checkout(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = tempfile::tempdir().expect("temp dir");
    let database = data.path().join("bench.sqlite3");
    let mut settings = Settings::load(&root, &Overrides::default()).expect("settings");
    settings.database_url = database.display().to_string();
    let store = Store::connect(&settings.database_url).expect("store");
    store.migrate().expect("migrations");
    let gateway_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let gateway =
        payforms::gateway::Gateway::new(&settings, store.clone(), gateway_runtime.handle().clone()).expect("gateway");
    let instance: Arc<Instance> = Instance::start(settings, store, Arc::new(gateway)).expect("the demo app loads");

    let runtime = actix_web::rt::System::new();
    let service = runtime.block_on(test::init_service(
        App::new()
            .app_data(web::Data::new(instance))
            .configure(payforms::api::configure),
    ));
    let mut group = c.benchmark_group("pages");
    group.throughput(Throughput::Elements(1));
    group.bench_function("GET /checkout", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let request = test::TestRequest::get().uri("/checkout").to_request();
                let response = test::call_service(&service, request).await;
                assert!(response.status().is_success());
                let body = test::read_body(response).await;
                assert!(body.len() > 500);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, checkout);
criterion_main!(benches);
