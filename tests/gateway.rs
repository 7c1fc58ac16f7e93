//! The dispatch pipeline against a gateway that misbehaves: retried with one
//! Idempotency-Key when it answers 500, a clear error when it is down, and no
//! secret in any log line or stored byte.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{json, Value};
use support::{client, free_port, graphql_as, random_hex, repo_root, ServerOptions, TestServer};

const API_KEY: &str = "gateway-test-key";

/// A Stripe stand-in that answers the first `failures` requests with 500,
/// then a succeeded PaymentIntent; it records each request's Idempotency-Key.
struct FlakyGateway {
    url: String,
    keys: Arc<Mutex<Vec<String>>>,
}

impl FlakyGateway {
    fn start(failures: usize) -> FlakyGateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(Vec::new()));
        let seen = keys.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = {
                    let mut keys = seen.lock().unwrap();
                    let key = handle(&stream);
                    keys.push(key);
                    keys.len()
                };
                let (status, body) = if n <= failures {
                    (
                        "500 Internal Server Error",
                        json!({"error": {"type": "api_error", "message": "try again"}}),
                    )
                } else {
                    (
                        "200 OK",
                        json!({"id": "pi_flaky", "object": "payment_intent", "status": "succeeded",
                        "amount": 599, "amount_received": 599, "currency": "usd", "capture_method": "automatic",
                        "client_secret": "pi_flaky_secret_x", "metadata": {}, "charges": {"data": []}}),
                    )
                };
                let body = body.to_string();
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FlakyGateway { url, keys }
    }

    fn keys(&self) -> Vec<String> {
        self.keys.lock().unwrap().clone()
    }
}

/// Read one request; returns its Idempotency-Key header.
fn handle(stream: &TcpStream) -> String {
    let mut reader = BufReader::new(stream);
    let mut key = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("idempotency-key:") {
            key = line[line.len() - v.len()..].trim().to_string();
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    key
}

fn graphql(server: &TestServer, query: &str) -> Value {
    let body = graphql_as(server, API_KEY, query);
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

/// Render /checkout and pay with a Visa token; returns the response.
fn pay(server: &TestServer) -> reqwest::blocking::Response {
    let http = client();
    let fields = support::checkout_fields_with_token(&http, server, "tok_visa");
    http.post(server.url("/forms/simple_payment_form"))
        .header("Accept", "application/json")
        .form(&fields)
        .send()
        .unwrap()
}

fn server_for(api_base: &str, secret_key: &str) -> TestServer {
    TestServer::start(
        ServerOptions::new(repo_root())
            .env("STRIPE_API_BASE", api_base)
            .env("STRIPE_SECRET_KEY", secret_key)
            .env("STRIPE_PUBLISHABLE_KEY", "pk_test_gateway")
            .env("STRIPE_WEBHOOK_SECRET", format!("whsec_{}", random_hex(12)))
            .env("PAYFORMS_API_KEYS", API_KEY),
    )
}

#[test]
fn two_500s_then_200_make_one_payment_with_three_attempts_and_one_key() {
    let gateway = FlakyGateway::start(2);
    let secret_key = format!("sk_test_{}", random_hex(12));
    let server = server_for(&gateway.url, &secret_key);
    let response = pay(&server);
    assert_eq!(response.status(), 201, "{}", response.text().unwrap_or_default());

    let keys = gateway.keys();
    assert_eq!(keys.len(), 3, "three attempts reached the gateway");
    assert!(
        !keys[0].is_empty() && keys.iter().all(|k| *k == keys[0]),
        "one Idempotency-Key: {keys:?}"
    );

    let data = graphql(
        &server,
        r#"{ payments { totalCount edges { node { state gatewayId } } }
             gatewayRequests(first: 10, orderBy: {field: ID, direction: ASC}) { edges { node { status attempts idempotencyKey } } } }"#,
    );
    assert_eq!(data["payments"]["totalCount"], 1);
    assert_eq!(data["payments"]["edges"][0]["node"]["state"], "succeeded");
    let log: Vec<&Value> = data["gatewayRequests"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(log.len(), 3, "the request log shows three attempts: {log:?}");
    assert_eq!(
        log.iter().map(|n| n["status"].as_i64().unwrap()).collect::<Vec<_>>(),
        vec![500, 500, 200]
    );
    assert!(log.iter().all(|n| n["idempotencyKey"] == keys[0].as_str()));

    // No secret reaches a log line or the database file.
    let secrets = [secret_key.as_str(), server.options().secret().unwrap()];
    let log_text = server.log_text();
    // SQLite in WAL mode: recent writes are in the -wal file.
    let mut database = std::fs::read(server.database_url()).unwrap();
    database.extend(std::fs::read(format!("{}-wal", server.database_url())).unwrap_or_default());
    let database = String::from_utf8_lossy(&database);
    assert!(database.contains("pi_flaky"), "the check reads the stored records");
    for secret in secrets {
        assert!(!log_text.contains(secret), "a secret is in the server log");
        assert!(!database.contains(secret), "a secret is in the database file");
    }
}

#[test]
fn a_gateway_that_is_down_gives_a_clear_error_and_stores_nothing_paid() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let server = server_for(&closed, "sk_test_down");
    let response = pay(&server);
    assert_eq!(response.status(), 422);
    let body: Value = response.json().unwrap();
    let message = body["errors"]["base"][0].as_str().unwrap_or_default();
    assert!(
        message.contains("could not be reached") && message.contains("nothing was charged"),
        "{body}"
    );
    let data = graphql(
        &server,
        r#"{ payments(filter: {state: {eq: "succeeded"}}) { totalCount } }"#,
    );
    assert_eq!(data["payments"]["totalCount"], 0);
}
