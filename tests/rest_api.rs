//! The REST API under /v1 on the README's own command (`serve --sandbox`),
//! on SQLite and PostgreSQL: seed 003's walkthrough for a merchant with
//! its own Stripe key (its own account in the sandbox), two merchants that
//! never see each other's data, scopes, Idempotency-Key and hostile input.

#![cfg(feature = "sandbox")]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use support::{client, payforms_bin, random_hex, repo_root, wait_for, PgDatabase, ServerOptions, TestServer};

const DEFAULT_KEY: &str = "rest-default-merchant-key";
const WALKTHROUGH_SCOPES: &str =
    "payments:read,payments:write,refunds:write,merchant:read,merchant:write,webhooks:read";

fn start(database: Option<&PgDatabase>) -> TestServer {
    let mut options = ServerOptions::new(repo_root())
        .arg("--sandbox")
        .env("PAYFORMS_API_KEYS", DEFAULT_KEY);
    if let Some(pg) = database {
        options = options.database(pg.url());
    }
    TestServer::start(options)
}

/// `payforms keys create` against the server's database; the key it prints.
fn create_key(server: &TestServer, merchant: Option<&str>, scopes: &str) -> String {
    let mut command = Command::new(payforms_bin());
    command
        .args([
            "keys",
            "create",
            "--scopes",
            scopes,
            "--database",
            server.database_url(),
        ])
        .arg("--app")
        .arg(repo_root());
    if let Some(merchant) = merchant {
        command.args(["--merchant", merchant]);
    }
    let output = command.output().expect("payforms keys create");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let key = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("pfk_"), "{key}");
    key
}

struct Api<'a> {
    http: Client,
    server: &'a TestServer,
    key: String,
}

impl Api<'_> {
    fn new<'a>(server: &'a TestServer, key: &str) -> Api<'a> {
        Api {
            http: client(),
            server,
            key: key.to_string(),
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>, idempotency_key: Option<&str>) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method, self.server.url(path))
            .header("X-API-Key", &self.key);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().expect("request")
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let response = self.send(method, path, body, None);
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}")),
        )
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body);
        assert!((200..300).contains(&status), "{method} {path}: {status} {answer}");
        assert_eq!(answer["success"], true, "{answer}");
        answer["data"].clone()
    }

    fn error(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let (got, answer) = self.call(method, path, body);
        assert_eq!(got, status, "{method} {path}: {answer}");
        assert_eq!(answer["success"], false, "{answer}");
        answer["error"].clone()
    }

    fn ids(&self, path: &str) -> Vec<String> {
        self.ok("GET", path, None)
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The embedded sandbox's API address, from the gateway settings.
fn sandbox_base(server: &TestServer) -> String {
    let answer: Value = client()
        .post(server.url("/api/graphql"))
        .bearer_auth(DEFAULT_KEY)
        .json(&json!({ "query": "{ paymentGateway { jsUrl } }" }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let js_url = answer["data"]["paymentGateway"]["jsUrl"]
        .as_str()
        .expect("jsUrl")
        .to_string();
    js_url.trim_end_matches("/js.stripe.com/v3/").to_string()
}

/// As a merchant does in Stripe's Dashboard: a webhook endpoint for the
/// merchant's payforms URL, made with the merchant's own key; its secret.
fn stripe_webhook_endpoint(server: &TestServer, stripe_key: &str, url: &str) -> String {
    let answer: Value = client()
        .post(format!("{}/v1/webhook_endpoints", sandbox_base(server)))
        .bearer_auth(stripe_key)
        .form(&[("url", url), ("enabled_events[]", "*")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    answer["secret"].as_str().expect("endpoint secret").to_string()
}

/// A merchant's notification receiver: every POST's headers and body.
fn receiver() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (_, headers, body) = support::read_request(&stream);
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
            let signature = headers.get("payforms-signature").cloned().unwrap_or_default();
            let _ = sender.send((signature, String::from_utf8_lossy(&body).into_owned()));
        }
    });
    (url, received)
}

/// A merchant with its own key, Stripe credentials and notification URL.
struct Merchant<'a> {
    api: Api<'a>,
    stripe_key: String,
    signing_secret: String,
    notifications: mpsc::Receiver<(String, String)>,
}

fn onboard<'a>(server: &'a TestServer, id: &str) -> Merchant<'a> {
    let api = Api::new(server, &create_key(server, Some(id), WALKTHROUGH_SCOPES));
    let stripe_key = format!("sk_test_{id}_{}", random_hex(8));
    let webhook_secret =
        stripe_webhook_endpoint(server, &stripe_key, &server.url(&format!("/v1/webhooks/stripe/{id}")));
    let configured = api.ok(
        "PUT",
        "/v1/merchant/providers",
        Some(json!({ "provider": "stripe", "stripe": { "secret_key": stripe_key, "webhook_secret": webhook_secret } })),
    );
    assert_eq!(configured["providers"]["stripe"]["configured"], true, "{configured}");
    assert_eq!(
        configured["providers"]["stripe"]["secret_key_last4"],
        &stripe_key[stripe_key.len() - 4..]
    );
    let text = configured.to_string();
    assert!(
        !text.contains(&stripe_key) && !text.contains(&webhook_secret),
        "secrets are never returned: {text}"
    );
    let (url, notifications) = receiver();
    let webhook = api.ok("PUT", "/v1/merchant/webhook", Some(json!({ "webhook_url": url })));
    assert_eq!(webhook["webhook_url"], url.as_str());
    let signing_secret = webhook["signing_secret"].as_str().unwrap().to_string();
    assert!(signing_secret.starts_with("whsec_"));
    let shown = api.ok("GET", "/v1/merchant", None);
    assert!(!shown.to_string().contains(&signing_secret), "shown once only: {shown}");
    Merchant {
        api,
        stripe_key,
        signing_secret,
        notifications,
    }
}

fn pay(api: &Api<'_>, amount: Value, payment_method: &str) -> Value {
    api.ok(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": amount, "currency": "USD", "provider": "stripe", "payment_method": payment_method })),
    )
}

fn walkthrough(database: Option<&PgDatabase>) {
    let server = start(database);
    let acme = onboard(&server, "acme");
    let api = &acme.api;

    // Seed 003's first payment, with an Idempotency-Key.
    let body = json!({ "amount": 10.00, "currency": "USD", "provider": "stripe", "payment_method": "pm_card_visa" });
    let first = api.send("POST", "/v1/payments", Some(body.clone()), Some("test-stripe-001"));
    assert_eq!(first.status().as_u16(), 201);
    let first: Value = first.json().unwrap();
    let payment = &first["data"];
    assert_eq!(payment["status"], "completed", "{first}");
    assert_eq!(payment["amount"], "10.00");
    assert_eq!(payment["currency"], "USD");
    assert_eq!(payment["provider"], "stripe");
    assert_eq!(payment["merchant_id"], "acme");
    assert_eq!(payment["idempotency_key"], "test-stripe-001");
    assert!(
        payment["provider_ref"].as_str().unwrap().starts_with("pi_"),
        "{payment}"
    );
    let payment_id = payment["id"].as_str().unwrap().to_string();

    // The same key and request: the stored answer, marked as replayed.
    let replay = api.send("POST", "/v1/payments", Some(body.clone()), Some("test-stripe-001"));
    assert_eq!(replay.status().as_u16(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().unwrap(), first);
    // The same key with another request: refused.
    let other = api.send(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": 11, "currency": "USD", "payment_method": "pm_card_visa" })),
        Some("test-stripe-001"),
    );
    assert_eq!(other.status().as_u16(), 422);
    assert_eq!(
        other.json::<Value>().unwrap()["error"]["code"],
        "idempotency_key_reused"
    );

    // The key's Stripe account, not the instance's, took the payment.
    let pi = client()
        .get(format!(
            "{}/v1/payment_intents/{}",
            sandbox_base(&server),
            payment["provider_ref"].as_str().unwrap()
        ))
        .bearer_auth(&acme.stripe_key)
        .send()
        .unwrap();
    assert_eq!(pi.status().as_u16(), 200);

    // Declined.
    let declined = pay(api, json!("5.00"), "pm_card_declined");
    assert_eq!(declined["status"], "failed", "{declined}");
    assert!(declined["failure"]["message"].is_string(), "{declined}");

    // Excess precision, JPY without decimals.
    let error = api.error(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": "10.001", "currency": "USD", "payment_method": "pm_card_visa" })),
        422,
    );
    assert!(
        error["details"]["fields"]["amount"]
            .as_str()
            .unwrap()
            .contains("2 decimal places"),
        "{error}"
    );
    let error = api.error(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": 5.5, "currency": "JPY", "payment_method": "pm_card_visa" })),
        422,
    );
    assert!(error["details"]["fields"]["amount"].is_string(), "{error}");

    // Save a card, charge it off-session.
    let card = api.ok(
        "POST",
        "/v1/payments/cards",
        Some(json!({ "payment_method_id": "pm_card_visa", "customer_email": "jane@example.com", "customer_name": "Jane Doe" })),
    );
    assert_eq!(card["brand"], "visa", "{card}");
    assert_eq!(card["last4"], "4242");
    assert_eq!(card["is_default"], true);
    assert!(card["exp_year"].as_i64().unwrap() > 2000);
    let card_id = card["id"].as_str().unwrap().to_string();
    assert_eq!(api.ids("/v1/payments/cards"), vec![card_id.clone()]);
    let recurring = api.ok(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": 29.99, "currency": "USD", "provider": "stripe", "saved_card_id": card_id })),
    );
    assert_eq!(recurring["status"], "completed", "{recurring}");
    assert_eq!(recurring["amount"], "29.99");
    assert!(recurring["customer"].as_str().unwrap().starts_with("cus_"));

    // Partial refund, then a full one.
    let partial = api.ok(
        "POST",
        "/v1/refunds",
        Some(json!({ "payment_id": payment_id, "amount": "2.50" })),
    );
    assert_eq!(partial["status"], "completed", "{partial}");
    assert_eq!(partial["amount"], "2.50");
    assert_eq!(partial["payment_id"], payment_id.as_str());
    assert!(partial["provider_ref"].as_str().unwrap().starts_with("re_"));
    let after = api.ok("GET", &format!("/v1/payments/{payment_id}"), None);
    assert_eq!(after["status"], "completed");
    assert_eq!(after["amount_refunded"], "2.50", "{after}");
    let recurring_id = recurring["id"].as_str().unwrap();
    let full = api.ok("POST", "/v1/refunds", Some(json!({ "payment_id": recurring_id })));
    assert_eq!(full["amount"], "29.99");
    wait_for("the saved-card payment to be refunded", Duration::from_secs(20), || {
        let shown = api.ok("GET", &format!("/v1/payments/{recurring_id}"), None);
        (shown["status"] == "refunded").then_some(())
    });
    assert_eq!(
        api.ids(&format!("/v1/refunds?payment_id={payment_id}")),
        vec![partial["id"].as_str().unwrap()]
    );
    assert_eq!(api.ids("/v1/refunds").len(), 2);

    // Seed 003's three list filters.
    let completed = api.ok("GET", "/v1/payments?provider=stripe&status=completed", None);
    let completed_ids: Vec<&str> = completed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(completed_ids, vec![payment_id.as_str()], "{completed}");
    let failed = api.ids("/v1/payments?status=failed");
    assert_eq!(failed, vec![declined["id"].as_str().unwrap()]);
    let large = api.ids("/v1/payments?provider=stripe&min_amount=10&currency=USD");
    assert_eq!(large, vec![recurring_id.to_string(), payment_id.clone()]);
    let since = api.ids("/v1/payments?provider=stripe&since=2025-06-01T00:00:00Z");
    assert_eq!(since.len(), 3);
    assert!(api.ids("/v1/payments?until=2025-06-01T00:00:00Z").is_empty());
    let by_customer = api.ids(&format!(
        "/v1/payments?customer={}",
        recurring["customer"].as_str().unwrap()
    ));
    assert_eq!(by_customer, vec![recurring_id.to_string()]);
    // Cursor pagination: one by one, newest first, each once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/payments?limit=1&cursor={c}"),
            None => "/v1/payments?limit=1".into(),
        };
        let (_, page) = api.call("GET", &path, None);
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string()),
        );
        match page["pagination"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");

    // Delete the card: detached, kept as history.
    let deleted = api.ok("DELETE", &format!("/v1/payments/cards/{card_id}"), None);
    assert_eq!(deleted["active"], false, "{deleted}");
    assert!(api.ids("/v1/payments/cards").is_empty());
    assert_eq!(
        api.ids("/v1/payments/cards?include_deleted=true"),
        vec![card_id.clone()]
    );
    api.error(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": 1, "currency": "USD", "saved_card_id": card_id })),
        422,
    );

    // Authorize, capture part; authorize, cancel.
    let held = api.ok(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": "20.00", "currency": "USD", "payment_method": "pm_card_visa", "capture": false })),
    );
    assert_eq!(held["status"], "authorized", "{held}");
    let held_id = held["id"].as_str().unwrap();
    let captured = api.ok(
        "POST",
        &format!("/v1/payments/{held_id}/capture"),
        Some(json!({ "amount": "15.00" })),
    );
    assert_eq!(captured["status"], "completed", "{captured}");
    let held = api.ok(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": "7.00", "currency": "USD", "payment_method": "pm_card_visa", "capture": false })),
    );
    let canceled = api.ok(
        "POST",
        &format!("/v1/payments/{}/cancel", held["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(canceled["status"], "canceled", "{canceled}");

    // The merchant heard of the first payment, signed with its secret.
    // (Notifications arrive in any order: the one for this payment.)
    let (signature, raw, event) = loop {
        let (signature, raw) = acme
            .notifications
            .recv_timeout(Duration::from_secs(20))
            .expect("payment.completed at the merchant URL");
        let event: Value = serde_json::from_str(&raw).unwrap();
        if event["data"]["provider_ref"] == payment["provider_ref"] && event["type"] == "payment.completed" {
            break (signature, raw, event);
        }
    };
    assert_eq!(event["data"]["currency"], "usd", "{event}");
    let timestamp: i64 = signature
        .split(',')
        .find_map(|part| part.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .expect("t= in Payforms-Signature");
    assert_eq!(
        signature,
        support::stripe_signature_header(&raw, &acme.signing_secret, timestamp),
        "signed with the merchant's secret"
    );

    // The merchant's Stripe events arrived at its own URL.
    wait_for("the merchant's webhook events", Duration::from_secs(20), || {
        let events = api.ok("GET", "/v1/webhook-events", None);
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "payment_intent.succeeded" && e["status"] == "processed")
            .then_some(())
    });
}

#[test]
fn seed_003_walkthrough_on_sqlite() {
    walkthrough(None);
}

#[test]
fn seed_003_walkthrough_on_postgres() {
    let pg = PgDatabase::fresh();
    walkthrough(Some(&pg));
}

fn merchants_apart(database: Option<&PgDatabase>) {
    let server = start(database);
    let acme = onboard(&server, "acme");
    let globex = onboard(&server, "globex");
    let default = Api::new(&server, &create_key(&server, None, "all"));
    let mine = |m: &Api<'_>| {
        let payment = pay(m, json!(12), "pm_card_visa");
        let card = m.ok(
            "POST",
            "/v1/payments/cards",
            Some(json!({ "payment_method_id": "pm_card_visa" })),
        );
        let refund = m.ok(
            "POST",
            "/v1/refunds",
            Some(json!({ "payment_id": payment["id"], "amount": 1 })),
        );
        (
            payment["id"].as_str().unwrap().to_string(),
            card["id"].as_str().unwrap().to_string(),
            refund["id"].as_str().unwrap().to_string(),
        )
    };
    let acme_data = mine(&acme.api);
    let globex_data = mine(&globex.api);
    let default_data = mine(&default);
    for (api, own, others) in [
        (&acme.api, &acme_data, [&globex_data, &default_data]),
        (&globex.api, &globex_data, [&acme_data, &default_data]),
        (&default, &default_data, [&acme_data, &globex_data]),
    ] {
        assert_eq!(api.ids("/v1/payments"), vec![own.0.clone()]);
        assert_eq!(api.ids("/v1/payments/cards"), vec![own.1.clone()]);
        assert_eq!(api.ids("/v1/refunds"), vec![own.2.clone()]);
        for other in others {
            if other.0 == own.0 {
                continue; // the same record id in another merchant's table space
            }
            api.error("GET", &format!("/v1/payments/{}", other.0), None, 404);
            api.error("POST", &format!("/v1/payments/{}/capture", other.0), None, 404);
            api.error("POST", &format!("/v1/payments/{}/cancel", other.0), None, 404);
            api.error("DELETE", &format!("/v1/payments/cards/{}", other.1), None, 404);
            api.error("POST", "/v1/refunds", Some(json!({ "payment_id": other.0 })), 422);
            assert!(api.ids(&format!("/v1/refunds?payment_id={}", other.0)).is_empty());
        }
    }
    // Webhook events: each merchant sees only those of its own account.
    wait_for("both merchants' events", Duration::from_secs(20), || {
        let a = acme.api.ok("GET", "/v1/webhook-events", None);
        let g = globex.api.ok("GET", "/v1/webhook-events", None);
        (!a.as_array().unwrap().is_empty() && !g.as_array().unwrap().is_empty()).then_some((a, g))
    });
    let a = acme.api.ok("GET", "/v1/webhook-events", None).to_string();
    let g = globex.api.ok("GET", "/v1/webhook-events", None);
    for event in g.as_array().unwrap() {
        assert!(!a.contains(event["provider_event_id"].as_str().unwrap()), "{a}");
    }
    // A merchant's key cannot sign events for another merchant's URL.
    let forged = json!({ "id": "evt_forged", "type": "payment_intent.succeeded", "livemode": false,
        "created": 1, "data": { "object": { "id": "pi_forged", "object": "payment_intent", "amount": 1, "currency": "usd", "status": "succeeded" } } });
    let body = forged.to_string();
    let header = support::stripe_signature_header_now(&body, &format!("whsec_{}", random_hex(16)));
    let response = client()
        .post(server.url("/v1/webhooks/stripe/globex"))
        .header("Stripe-Signature", header)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}

#[test]
fn merchants_never_see_each_others_data_on_sqlite() {
    merchants_apart(None);
}

#[test]
fn merchants_never_see_each_others_data_on_postgres() {
    let pg = PgDatabase::fresh();
    merchants_apart(Some(&pg));
}

#[test]
fn keys_carry_scopes_and_can_be_revoked() {
    let server = start(None);
    let reader = create_key(&server, Some("acme"), "payments:read");
    let api = Api::new(&server, &reader);
    assert!(api.ok("GET", "/v1/payments", None).as_array().unwrap().is_empty());
    let error = api.error(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": 1, "currency": "USD", "payment_method": "pm_card_visa" })),
        403,
    );
    assert_eq!(error["code"], "missing_scope");
    assert_eq!(error["details"]["required_scope"], "payments:write");
    assert!(error["message"].as_str().unwrap().contains("payments:write"));
    api.error(
        "PUT",
        "/v1/merchant/webhook",
        Some(json!({ "webhook_url": "https://a.example/" })),
        403,
    );
    api.error("GET", "/v1/webhook-events", None, 403);

    // Both headers carry a key; none, a wrong or a revoked one is a 401.
    let bearer = client()
        .get(server.url("/v1/payments"))
        .bearer_auth(&reader)
        .send()
        .unwrap();
    assert_eq!(bearer.status().as_u16(), 200);
    assert_eq!(
        client()
            .get(server.url("/v1/payments"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    Api::new(&server, "pfk_0000_wrong").error("GET", "/v1/payments", None, 401);

    // GraphQL: the default merchant's read key queries but cannot mutate;
    // another merchant's key is refused.
    // GraphQL reaches every record: reading needs every read scope.
    let default_reader = create_key(&server, None, "payments:read,webhooks:read");
    let graphql = |key: &str, query: &str| {
        let response = client()
            .post(server.url("/api/graphql"))
            .header("X-API-Key", key)
            .json(&json!({ "query": query }))
            .send()
            .unwrap();
        (response.status().as_u16(), response.json::<Value>().unwrap())
    };
    let payments_only = create_key(&server, None, "payments:read");
    let (status, answer) = graphql(&payments_only, "{ payments(first: 1) { totalCount } }");
    assert_eq!(status, 403, "{answer}");
    assert!(answer.to_string().contains("webhooks:read"), "{answer}");
    let (status, _) = graphql(&default_reader, "{ payments(first: 1) { totalCount } }");
    assert_eq!(status, 200);
    let (status, answer) = graphql(
        &default_reader,
        r#"mutation { createCustomer(input: { email: "x@example.com" }) { id } }"#,
    );
    assert_eq!(status, 403, "{answer}");
    assert!(answer.to_string().contains("payments:write"));
    let (status, _) = graphql(&reader, "{ payments(first: 1) { totalCount } }");
    assert_eq!(status, 403);

    let output = Command::new(payforms_bin())
        .args(["keys", "revoke", &reader[..20], "--database", server.database_url()])
        .arg("--app")
        .arg(repo_root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    api.error("GET", "/v1/payments", None, 401);
    let listed = Command::new(payforms_bin())
        .args(["keys", "list", "--database", server.database_url()])
        .arg("--app")
        .arg(repo_root())
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("revoked") && !listed.contains(&reader), "{listed}");
    let stored = std::fs::read(server.database_url()).unwrap();
    assert!(
        !stored.windows(reader.len()).any(|w| w == reader.as_bytes()),
        "keys are stored hashed"
    );
}

#[test]
fn the_default_merchant_uses_the_instance_keys() {
    let server = start(None);
    let api = Api::new(&server, DEFAULT_KEY);
    let payment = pay(&api, json!("3.10"), "pm_card_visa");
    assert_eq!(payment["merchant_id"], "default");
    assert_eq!(payment["status"], "completed");
    let error = api.error(
        "PUT",
        "/v1/merchant/providers",
        Some(json!({ "provider": "stripe", "stripe": { "secret_key": "sk_test_abc" } })),
        409,
    );
    assert_eq!(error["code"], "default_merchant");
    // The payment is one of the app's own records, seen through GraphQL too.
    let answer: Value = client()
        .post(server.url("/api/graphql"))
        .bearer_auth(DEFAULT_KEY)
        .json(&json!({ "query": "{ payments(first: 5) { edges { node { gatewayId } } } }" }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        answer.to_string().contains(payment["provider_ref"].as_str().unwrap()),
        "{answer}"
    );
}

#[test]
fn hostile_requests_get_clear_errors() {
    let server = start(None);
    let api = Api::new(&server, DEFAULT_KEY);
    let raw = |body: Vec<u8>| {
        let response = client()
            .post(server.url("/v1/payments"))
            .header("X-API-Key", DEFAULT_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().unwrap_or(Value::Null))
    };
    let (status, answer) = raw(vec![b' '; 200 * 1024]);
    assert_eq!(status, 413, "{answer}");
    let (status, answer) = raw(b"{\"amount\":".to_vec());
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!("invalid_json")));
    let (status, _) = raw(format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
    assert!(status == 413 || status == 400);
    let error = api.error(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": 1, "currency": "USD", "payment_method": "pm_card_visa", "surprise": true })),
        422,
    );
    assert!(error["message"].as_str().unwrap().contains("surprise"), "{error}");
    let error = api.error(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": -1, "currency": "USD", "payment_method": "pm_card_visa" })),
        422,
    );
    assert!(error["details"]["fields"]["amount"].is_string());
    let error = api.error(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": 1, "currency": "dollars", "payment_method": "pm_card_visa" })),
        422,
    );
    assert!(error["details"]["fields"]["currency"].is_string());
    api.error("POST", "/v1/payments", Some(json!({ "amount": 1, "currency": "USD", "payment_method": "pm_card_visa", "metadata": { "a": { "nested": 1 } } })), 422);
    api.error("POST", "/v1/payments", Some(json!({ "amount": 1, "currency": "USD", "payment_method": "pm_card_visa", "return_url": "javascript:alert(1)" })), 422);
    api.error(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": "1e400", "currency": "USD", "payment_method": "pm_card_visa" })),
        422,
    );
    api.error("GET", "/v1/payments?limit=0", None, 400);
    api.error("GET", "/v1/payments?limit=100000", None, 400);
    api.error("GET", "/v1/payments?cursor=not-a-cursor", None, 400);
    api.error("GET", "/v1/payments?min_amount=10", None, 400);
    api.error("GET", "/v1/payments?since=yesterday", None, 400);
    api.error("GET", "/v1/payments?status=bogus", None, 400);
    api.error("GET", "/v1/payments/abc", None, 404);
    api.error("GET", "/v1/payments/99999999999999999999", None, 404);
    api.error("GET", "/v1/nothing-here", None, 404);
    let response = api.send(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": 1, "currency": "USD", "payment_method": "pm_card_visa" })),
        Some(&"k".repeat(300)),
    );
    assert_eq!(response.status().as_u16(), 400);
    // No card number reaches payforms, not even through the REST API.
    let error = api.error(
        "POST",
        "/v1/payments",
        Some(json!({ "amount": 1, "currency": "USD", "payment_method": "4242424242424242" })),
        422,
    );
    assert!(!error.to_string().contains("4242424242424242"), "{error}");
    assert!(!server.log_text().contains("4242424242424242"));
}

#[test]
fn one_idempotency_key_charges_once_however_many_ask_at_once() {
    let server = start(None);
    let body = json!({ "amount": "4.20", "currency": "EUR", "payment_method": "pm_card_visa" });
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let body = body.clone();
                let server = &server;
                scope.spawn(move || {
                    let api = Api::new(server, DEFAULT_KEY);
                    let response = api.send("POST", "/v1/payments", Some(body), Some("order-42"));
                    (response.status().as_u16(), response.json::<Value>().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, a)| a).collect();
    assert!(!created.is_empty(), "{answers:?}");
    for (status, answer) in &answers {
        assert!(
            *status == 201 || (*status == 409 && answer["error"]["code"] == "idempotency_key_in_use"),
            "{answers:?}"
        );
    }
    assert!(
        created.iter().all(|a| a["data"]["id"] == created[0]["data"]["id"]),
        "{answers:?}"
    );
    let api = Api::new(&server, DEFAULT_KEY);
    assert_eq!(api.ids("/v1/payments").len(), 1, "one payment");
    // Another merchant's equal key is its own.
    let other = Api::new(&server, &create_key(&server, None, "payments:read"));
    assert_eq!(other.ids("/v1/payments").len(), 1);
}

#[test]
fn each_key_has_its_own_rate() {
    let server = TestServer::start(
        ServerOptions::new(repo_root())
            .arg("--sandbox")
            .env("PAYFORMS_API_KEYS", DEFAULT_KEY)
            .env("PAYFORMS_API_RATE_LIMIT", "60/min,burst=3"),
    );
    let api = Api::new(&server, DEFAULT_KEY);
    for _ in 0..3 {
        api.ok("GET", "/v1/payments", None);
    }
    let refused = api.send("GET", "/v1/payments", None, None);
    assert_eq!(refused.status().as_u16(), 429);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert_eq!(refused.json::<Value>().unwrap()["error"]["code"], "rate_limited");
    // Another key is not held back.
    let other = Api::new(&server, &create_key(&server, None, "payments:read"));
    other.ok("GET", "/v1/payments", None);
}
