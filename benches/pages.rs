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

/// What lenient member reads cost a page rendered per request: the same
/// template over a `context` the size of a real one, strict (as written)
/// and as the loader rewrites it (outputs escaped and read with `pf_dig`,
/// comparison operands read into `pf_lenient_N`).
fn lenient_reads(c: &mut Criterion) {
    let mut context = serde_json::Map::new();
    let mut headers = serde_json::Map::new();
    for i in 0..40 {
        headers.insert(
            format!("x-header-{i}"),
            serde_json::json!(format!("value {i} ").repeat(4)),
        );
    }
    context.insert("headers".into(), serde_json::Value::Object(headers));
    context.insert(
        "params".into(),
        serde_json::json!({"amount": "599", "currency": "usd", "email": "ada@example.com"}),
    );
    context.insert(
        "location".into(),
        serde_json::json!({"pathname": "/pay", "host": "shop.example"}),
    );
    let mut globals = serde_json::Map::new();
    globals.insert("context".into(), serde_json::Value::Object(context));
    let source = "{% for i in (1..10) %}<p>{{ context.params.amount }} {{ context.params.currency }}\
        {% if context.params.email == 'ada@example.com' %}{{ context.location.pathname }}{% endif %}</p>{% endfor %}";
    let parser = payforms::liquid::parser_builder().build().expect("parser");
    let strict = parser.parse(source).expect("strict template");
    let lenient = parser
        .parse(&payforms::liquid::autoescape_outputs(source))
        .expect("rewritten template");
    let view = payforms::liquid::view::Globals::new(&globals);
    let mut group = c.benchmark_group("lenient reads");
    group.throughput(Throughput::Elements(1));
    group.bench_function("strict, as written", |b| {
        b.iter(|| strict.render(view).expect("render"));
    });
    group.bench_function("as the loader rewrites it", |b| {
        b.iter(|| lenient.render(view).expect("render"));
    });
    group.finish();
}

criterion_group!(benches, checkout, lenient_reads);
criterion_main!(benches);
