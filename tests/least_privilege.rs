//! No key and no visitor may do more than its part: an API key reads the
//! runtime's own records but cannot write them, merchant notifications go
//! only to the configured URLs, and a GET page only reads.

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use payforms::db::schema::ModelType;
use payforms::db::Store;
use reqwest::blocking::Client;
use serde_json::{json, Map, Value};
use support::{copy_app, repo_root, wait_for, ServerOptions, TestServer};

const API_KEY: &str = "least-privilege-api-key-0123456789";

/// A browser: its own cookies, redirects not followed.
fn browser() -> Client {
    support::client()
}

fn graphql(server: &TestServer, query: &str) -> Value {
    browser()
        .post(server.url("/api/graphql"))
        .bearer_auth(API_KEY)
        .json(&json!({ "query": query }))
        .send()
        .expect("POST /api/graphql")
        .json()
        .expect("a JSON answer")
}

/// Counts the requests it receives and answers 200.
fn counting_receiver() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, count)
}

#[test]
fn system_models_are_readable_but_never_writable_through_the_api() {
    let server = TestServer::start(
        ServerOptions::new(repo_root())
            .arg("--sandbox")
            .env("PAYFORMS_API_KEYS", API_KEY),
    );
    for mutation in [
        r#"mutation { createMerchantDelivery(input: { url: "http://127.0.0.1:9/x", state: "pending" }) { id } }"#,
        r#"mutation { updateMerchantDelivery(id: "1", input: { state: "pending" }) { id } }"#,
        r#"mutation { deleteMerchantDelivery(id: "1") { id } }"#,
        r#"mutation { createGatewayRequest(input: { requestType: "x" }) { id } }"#,
        r#"mutation { deleteGatewayRequest(id: "1") { id } }"#,
        r#"mutation { createWebhookEndpoint(input: { url: "http://127.0.0.1:9/x" }) { id } }"#,
        r#"mutation { updateWebhookEndpoint(id: "1", input: { url: "x" }) { id } }"#,
        // Creating a Stripe webhook endpoint decides where Stripe sends every
        // event: only payforms' own start-up subscription does that.
        r#"mutation { send_stripe_createWebhookEndpoint(input: { url: "http://127.0.0.1:9/steal" }) { model } }"#,
    ] {
        let answer = graphql(&server, mutation);
        let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("Unknown field"), "{mutation}: {answer}");
        assert!(answer["data"].is_null(), "{answer}");
    }
    // They stay readable, and merchant models stay writable.
    let answer = graphql(
        &server,
        "{ merchantDeliveries { totalCount } gatewayRequests { totalCount } webhookEndpoints { totalCount } }",
    );
    assert!(answer["errors"].is_null(), "{answer}");
    let answer = graphql(
        &server,
        r#"mutation { createCustomer(input: { email: "a@example.com" }) { id email } }"#,
    );
    assert_eq!(answer["data"]["createCustomer"]["email"], "a@example.com", "{answer}");
}

#[test]
fn a_delivery_to_an_unconfigured_url_is_never_signed_or_sent() {
    let (configured, _configured_hits) = counting_receiver();
    let (elsewhere, elsewhere_hits) = counting_receiver();
    let server = TestServer::start(
        ServerOptions::new(repo_root())
            .env("PAYFORMS_API_KEYS", API_KEY)
            .env("PAYFORMS_MERCHANT_WEBHOOK_URLS", &configured),
    );
    // Whatever wrote it (an old URL list, a compromised template, the
    // database itself), a pending delivery to another URL is refused.
    let schema = std::fs::read_to_string(repo_root().join("modules/payments/schema/merchant_delivery.yml")).unwrap();
    let model = ModelType::parse(
        std::path::Path::new("merchant_delivery.yml"),
        "modules/payments/merchant_delivery",
        &schema,
    )
    .expect("the merchant_delivery schema");
    let store = Store::connect(server.database_url()).expect("open the server's database");
    let mut forged = Map::new();
    forged.insert("delivery_id".into(), json!("evt_forged:elsewhere"));
    forged.insert("event_id".into(), json!("evt_forged"));
    forged.insert("event_type".into(), json!("payment.completed"));
    forged.insert("url".into(), json!(elsewhere));
    forged.insert("payload".into(), json!({"type": "payment.completed"}));
    forged.insert("state".into(), json!("pending"));
    forged.insert("attempts".into(), json!(0));
    forged.insert("next_attempt_at".into(), json!("2000-01-01T00:00:00Z"));
    store.create_record(&model, forged).expect("write the forged delivery");

    let delivery = wait_for("the forged delivery to be refused", Duration::from_secs(15), || {
        let answer = graphql(&server, "{ merchantDeliveries { nodes { eventId state lastError } } }");
        answer["data"]["merchantDeliveries"]["nodes"]
            .as_array()
            // "sending" is the worker's claim, not an outcome: wait for the outcome.
            .and_then(|nodes| {
                nodes
                    .iter()
                    .find(|n| n["state"] != "pending" && n["state"] != "sending")
                    .cloned()
            })
    });
    assert_eq!(delivery["eventId"], "evt_forged");
    assert_eq!(delivery["state"], "refused");
    assert!(delivery["lastError"]
        .as_str()
        .unwrap_or_default()
        .contains("not the merchant's notification URL"));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        elsewhere_hits.load(Ordering::SeqCst),
        0,
        "nothing was sent to the other URL"
    );
}

const WRITE_ON_GET: &str = r#"---
slug: write-on-get
---
{%- parse_json props -%}{ "email": "get@example.com" }{%- endparse_json -%}
{%- record r = 'modules/payments/customer', operation: 'create', properties: props -%}
written {{ r.id }}
"#;

const DISPATCH_ON_GET: &str = r#"---
slug: dispatch-on-get
---
{%- parse_json data -%}{ "email": "get@example.com" }{%- endparse_json -%}
{%- dispatch result = 'modules/stripe/create_customer', data: data -%}
dispatched {{ result.record.id }}
"#;

const MUTATION_ON_GET: &str = r#"---
slug: mutation-on-get
---
{%- graphql r -%}mutation { createCustomer(input: { email: "get@example.com" }) { id } }{%- endgraphql -%}
mutated {{ r.createCustomer.id }}
"#;

const WRITE_ON_POST: &str = r#"---
slug: write-on-post
method: post
---
{%- parse_json props -%}{ "email": "post@example.com" }{%- endparse_json -%}
{%- record r = 'modules/payments/customer', operation: 'create', properties: props -%}
written {{ r.email }}
"#;

/// A POST page (or a processor) forging a signing secret payforms would
/// then accept for webhooks.
const FORGE_ON_POST: &str = r#"---
slug: forge-on-post
method: post
---
{%- parse_json props -%}{ "url": "https://evil.example/hook", "secret_encrypted": "x" }{%- endparse_json -%}
{%- record r = 'modules/payments/webhook_endpoint', operation: 'create', properties: props -%}
forged {{ r.url }}
"#;

/// A POST page that answers with a redirect and a flash (`redirect_to`).
const REDIRECT_ON_POST: &str = r#"---
slug: redirect-on-post
method: post
---
{%- redirect_to '/token', notice: 'Saved' -%}
never shown
"#;

/// A redirect off the site is refused: a template is never an open redirect.
const REDIRECT_AWAY: &str = r#"---
slug: redirect-away
method: post
---
{%- redirect_to 'https://evil.example/' -%}
"#;

/// The operator's operations from a page that is not the operator's.
const OPERATOR_ON_POST: &str = r#"---
slug: operator-on-post
method: post
---
{%- graphql r -%}mutation { createApiKey(scopes: ["payments:read"]) { key } }{%- endgraphql -%}
key {{ r.createApiKey.key }}
"#;

const TOKEN_PAGE: &str = r#"---
slug: token
metadata: { no_layout: true }
---
{{ context.csrf_token }}
"#;

#[test]
fn get_pages_only_read_and_post_pages_need_the_csrf_token() {
    let app = copy_app(repo_root());
    let pages = app.path().join("templates/pages");
    for (name, text) in [
        ("write_on_get", WRITE_ON_GET),
        ("dispatch_on_get", DISPATCH_ON_GET),
        ("mutation_on_get", MUTATION_ON_GET),
        ("write_on_post", WRITE_ON_POST),
        ("forge_on_post", FORGE_ON_POST),
        ("redirect_on_post", REDIRECT_ON_POST),
        ("redirect_away", REDIRECT_AWAY),
        ("operator_on_post", OPERATOR_ON_POST),
        ("token", TOKEN_PAGE),
    ] {
        std::fs::write(pages.join(format!("{name}.liquid")), text).unwrap();
    }
    let server = TestServer::start(
        ServerOptions::new(app.path())
            .arg("--sandbox")
            .env("PAYFORMS_API_KEYS", API_KEY),
    );
    let http = browser();
    for (path, refusal) in [
        ("/write-on-get", "write records from a form"),
        (
            "/dispatch-on-get",
            "dispatch `modules/stripe/create_customer` from a form",
        ),
        ("/mutation-on-get", "GraphQL mutations run from forms"),
    ] {
        let page = http.get(server.url(path)).send().unwrap();
        assert_eq!(page.status(), 500, "{path}");
        // The log is written by a thread of its own: the line may follow
        // the answer by a moment.
        wait_for(&format!("{path}'s refusal in the log"), Duration::from_secs(5), || {
            server.log_text().contains(refusal).then_some(())
        });
    }
    let count = || graphql(&server, "{ customers { totalCount } }")["data"]["customers"]["totalCount"].clone();
    assert_eq!(count(), 0);

    // A POST page without the token, with another visitor's, or from
    // another site is refused before it renders.
    let token = http
        .get(server.url("/token"))
        .send()
        .unwrap()
        .text()
        .unwrap()
        .trim()
        .to_string();
    let refused = [
        http.post(server.url("/write-on-post"))
            .form(&[("x", "1")])
            .send()
            .unwrap(),
        browser()
            .post(server.url("/write-on-post"))
            .form(&[("authenticity_token", token.as_str())])
            .send()
            .unwrap(),
        http.post(server.url("/write-on-post"))
            .header("Origin", "https://evil.example")
            .form(&[("authenticity_token", token.as_str())])
            .send()
            .unwrap(),
    ];
    for answer in refused {
        assert_eq!(answer.status(), 403);
    }
    assert_eq!(count(), 0);
    let answer = http
        .post(server.url("/write-on-post"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().unwrap().contains("written post@example.com"));
    let answer = http
        .post(server.url("/write-on-post"))
        .header("X-CSRF-Token", &token)
        .send()
        .unwrap();
    let status = answer.status();
    assert_eq!(status, 200, "{}", answer.text().unwrap());
    assert_eq!(count(), 2);

    // Even a checked POST page cannot write the runtime's own records.
    let answer = http
        .post(server.url("/forge-on-post"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(answer.status(), 500);
    wait_for("the refusal in the log", Duration::from_secs(5), || {
        server
            .log_text()
            .contains("is written only by payforms itself")
            .then_some(())
    });
    let endpoints = graphql(&server, "{ webhookEndpoints { totalCount } }");
    assert_eq!(endpoints["data"]["webhookEndpoints"]["totalCount"], 0, "{endpoints}");

    // `redirect_to`: a 303 to a path of this site, the notice on the next page.
    let answer = http
        .post(server.url("/redirect-on-post"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(answer.status(), 303);
    assert_eq!(answer.headers()["location"], "/token");
    let away = http
        .post(server.url("/redirect-away"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(away.status(), 500, "an off-site redirect is the template's error");
    assert!(away.headers().get("location").is_none());

    // The operator's operations need the operator's session.
    let answer = http
        .post(server.url("/operator-on-post"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(answer.status(), 500);
    wait_for("the operator refusal in the log", Duration::from_secs(5), || {
        server.log_text().contains("only the signed-in operator").then_some(())
    });
}
