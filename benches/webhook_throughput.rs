//! `POST /webhooks/stripe` over real HTTP against its anchor, in one run:
//! the payforms binary (release build) taking requests only (`--no-worker`)
//! on SQLite and on PostgreSQL, and again on SQLite with its worker
//! processing what arrives meanwhile, and a bare actix-web server that
//! verifies the same Stripe-Signature and inserts the raw event into SQLite
//! (WAL, synchronous=NORMAL, one row per request) before answering. All
//! three are loaded by wrk with the same settings, each request a distinct
//! signed `customer.created` event. Prints requests/s, p99 and non-2xx
//! answers of each, and the ratios.
//!
//! cargo bench --bench webhook_throughput   (needs `wrk`; PostgreSQL at
//! PAYFORMS_BENCH_PG, default postgres://postgres@127.0.0.1:5432/test, "off" skips it)

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use payforms::webhooks::signature::{signature_header, verify};

use common::{free_port, report, wrk, wrk_installed, Load, Server, WRK_ARGS};

const SECRET: &str = "whsec_throughput_0123456789abcdef";
const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
/// More than any server here answers in wrk's 8 seconds: none repeats.
const EVENTS_PER_TARGET: usize = 250_000;

/// Each wrk thread sends its own share of the signed events, once each.
const SCRIPT: &str = r#"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
  thread:set("nthreads", 2)
end
local requests = {}
local i = 0
function init(args)
  local f = assert(io.open(args[1], "r"))
  local n = 0
  while true do
    local sig = f:read("*l")
    if not sig then break end
    local body = f:read("*l")
    if n % nthreads == tid then
      requests[#requests + 1] = wrk.format("POST", nil,
        { ["Content-Type"] = "application/json", ["Stripe-Signature"] = sig }, body)
    end
    n = n + 1
  end
  f:close()
end
function request()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
"#;

/// Distinct signed events (signature line, body line), prefixed so each
/// target gets its own ids.
fn write_events(path: &Path, prefix: &str) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("events file"));
    let now = chrono::Utc::now().timestamp();
    for n in 0..EVENTS_PER_TARGET {
        let body = format!(
            r#"{{"id":"evt_{prefix}_{n}","object":"event","type":"customer.created","created":{now},"livemode":false,"data":{{"object":{{"id":"cus_{prefix}_{n}","object":"customer","email":"c{n}@example.com","metadata":{{}}}}}}}}"#
        );
        let header = signature_header(SECRET, now, body.as_bytes());
        writeln!(file, "{header}\n{body}").expect("write events");
    }
}

/// `worker`: false for `--no-worker` (an instance that only takes
/// requests), the ingest alone, as the anchor does.
fn start_payforms(data: &Path, database: &str, worker: bool) -> (Server, String) {
    let port = free_port();
    let mut args = vec!["serve", "--no-watch"];
    if !worker {
        args.push("--no-worker");
    }
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_payforms"))
            .args(args)
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .arg("--database")
            .arg(database)
            .arg("--app")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .current_dir(data)
            .env("PAYFORMS_SECRET", "webhook-throughput-benchmark-secret-0123456789")
            .env("STRIPE_WEBHOOK_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start payforms"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{base}/healthz"))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "payforms did not start on {base}");
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, format!("{base}/webhooks/stripe"))
}

/// The anchor's handler: verify, parse, insert, answer.
async fn anchor_receive(req: HttpRequest, body: web::Bytes, db: web::Data<Mutex<SqliteConnection>>) -> HttpResponse {
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let now = chrono::Utc::now().timestamp();
    if verify(header.as_deref(), &body, &[SECRET], now).is_err() {
        return HttpResponse::BadRequest().finish();
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let (id, kind) = (
        event["id"].as_str().unwrap_or_default().to_string(),
        event["type"].as_str().unwrap_or_default().to_string(),
    );
    let payload = String::from_utf8_lossy(&body).into_owned();
    let stored = web::block(move || {
        let mut conn = db.lock().map_err(|_| diesel::result::Error::BrokenTransactionManager)?;
        diesel::sql_query(
            "INSERT OR IGNORE INTO events (event_id, type, payload, created_at) VALUES (?, ?, ?, datetime('now'))",
        )
        .bind::<Text, _>(id)
        .bind::<Text, _>(kind)
        .bind::<Text, _>(payload)
        .execute(&mut *conn)
    })
    .await;
    match stored {
        Ok(Ok(_)) => HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"received":true}"#),
        _ => HttpResponse::ServiceUnavailable().finish(),
    }
}

fn start_anchor(runtime: &tokio::runtime::Runtime, database: &Path) -> String {
    let mut conn = SqliteConnection::establish(&database.display().to_string()).expect("anchor SQLite");
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         CREATE TABLE events (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, \
         payload TEXT NOT NULL, created_at TEXT NOT NULL);",
    )
    .expect("anchor table");
    let db = web::Data::new(Mutex::new(conn));
    let port = free_port();
    let server = {
        let _inside = runtime.enter();
        HttpServer::new(move || {
            App::new()
                .app_data(db.clone())
                .route("/webhooks/stripe", web::post().to(anchor_receive))
        })
        .workers(2)
        .bind(("127.0.0.1", port))
        .expect("bind the anchor")
        .run()
    };
    runtime.spawn(server);
    format!("http://127.0.0.1:{port}/webhooks/stripe")
}

fn psql(url: &str, sql: &str) -> bool {
    Command::new("psql")
        .args([url, "-X", "-q", "-c", sql])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn main() {
    if !wrk_installed() {
        eprintln!("webhook_throughput: wrk is not installed (Debian: apt-get install wrk); nothing measured");
        return;
    }
    // `cargo test --benches` runs this too: only `cargo bench` measures.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("events.lua");
    std::fs::write(&script, SCRIPT).expect("script");
    let load = |url: &str, prefix: &str| -> Load {
        let events = dir.path().join(format!("{prefix}.events"));
        write_events(&events, prefix);
        let path = events.display().to_string();
        wrk(url, Some((&script, &[path.as_str()])))
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let anchor_url = start_anchor(&runtime, &dir.path().join("anchor.sqlite3"));
    let anchor = load(&anchor_url, "anchor");

    let sqlite = {
        let database = dir.path().join("payforms.sqlite3").display().to_string();
        let (_server, url) = start_payforms(dir.path(), &database, false);
        load(&url, "sqlite")
    };
    let sqlite_with_worker = {
        let database = dir.path().join("payforms-worker.sqlite3").display().to_string();
        let (_server, url) = start_payforms(dir.path(), &database, true);
        load(&url, "sqlite_worker")
    };

    let admin = std::env::var("PAYFORMS_BENCH_PG").unwrap_or_else(|_| DEFAULT_PG.to_string());
    let postgres = if admin == "off" {
        None
    } else {
        let name = format!("payforms_ingest_{}", std::process::id());
        assert!(
            psql(&admin, &format!("CREATE DATABASE {name}")),
            "PostgreSQL at {admin}"
        );
        let mut url = url::Url::parse(&admin).expect("PAYFORMS_BENCH_PG is a URL");
        url.set_path(&format!("/{name}"));
        let measured = {
            let (_server, endpoint) = start_payforms(dir.path(), url.as_str(), false);
            load(&endpoint, "postgres")
        };
        psql(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        Some(measured)
    };

    println!(
        "POST /webhooks/stripe, distinct signed events, wrk {}:",
        WRK_ARGS.join(" ")
    );
    report("bare actix + SQLite anchor", &anchor);
    report("payforms --no-worker, SQLite", &sqlite);
    println!(
        "  ratio SQLite     {:.1}%",
        100.0 * sqlite.requests_per_sec / anchor.requests_per_sec
    );
    report("payforms with its worker, SQLite", &sqlite_with_worker);
    println!(
        "  ratio SQLite, processing meanwhile {:.1}%",
        100.0 * sqlite_with_worker.requests_per_sec / anchor.requests_per_sec
    );
    if let Some(postgres) = postgres {
        report("payforms --no-worker, PostgreSQL", &postgres);
        println!(
            "  ratio PostgreSQL {:.1}%",
            100.0 * postgres.requests_per_sec / anchor.requests_per_sec
        );
    }
}
