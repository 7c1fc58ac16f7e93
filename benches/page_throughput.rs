//! `/checkout` over real HTTP against its anchor, in one run: the payforms
//! binary (`serve --sandbox`, release build) and a bare actix-web server
//! answering the exact bytes payforms rendered, both loaded by wrk with the
//! same settings on the same machine. Prints requests/s of each and the
//! ratio.
//!
//! cargo bench --bench page_throughput        (needs `wrk` on PATH)

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use common::{free_port, report, wrk, wrk_installed, Server, WRK_ARGS};

fn main() {
    if !wrk_installed() {
        eprintln!("page_throughput: wrk is not installed (Debian: apt-get install wrk); nothing measured");
        return;
    }
    // `cargo test --benches` runs this too: only `cargo bench` measures.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _payforms = Server(
        Command::new(env!("CARGO_BIN_EXE_payforms"))
            .args([
                "serve",
                "--sandbox",
                "--no-watch",
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--database")
            .arg(data.path().join("bench.sqlite3"))
            .arg("--app")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .env("PAYFORMS_SECRET", "page-throughput-benchmark-secret-0123456789")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start payforms"),
    );
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        if let Ok(response) = client.get(format!("{base}/checkout")).send() {
            if response.status().is_success() {
                break response.text().expect("the page");
            }
        }
        assert!(Instant::now() < deadline, "payforms did not answer on {base}");
        std::thread::sleep(Duration::from_millis(100));
    };

    // The anchor: the same bytes, no work.
    let anchor_port = free_port();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let body = web::Bytes::from(page.clone());
    let server = {
        let _inside = runtime.enter();
        HttpServer::new(move || {
            let body = body.clone();
            App::new().route(
                "/checkout",
                web::get().to(move || {
                    let body = body.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .insert_header(("cache-control", "no-store"))
                            .body(body)
                    }
                }),
            )
        })
        .workers(2)
        .bind(("127.0.0.1", anchor_port))
        .expect("bind the anchor")
        .run()
    };
    runtime.spawn(server);

    let payforms = wrk(&format!("{base}/checkout"), None);
    let anchor = wrk(&format!("http://127.0.0.1:{anchor_port}/checkout"), None);
    println!("GET /checkout ({} bytes), wrk {}:", page.len(), WRK_ARGS.join(" "));
    report("payforms", &payforms);
    report("bare actix anchor, same bytes", &anchor);
    println!(
        "  ratio {:.1}%",
        100.0 * payforms.requests_per_sec / anchor.requests_per_sec
    );
}
