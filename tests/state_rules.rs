//! The payment's declared state rules hold for every writer at once, on
//! PostgreSQL: once `succeeded`, a late `processing` written by a form's
//! response mapper, a request type's mapper called through GraphQL, or a
//! webhook processor never moves it back, however the writes interleave.
//! The rules live in `modules/payments/schema/payment.yml` and are enforced
//! inside each write's transaction, not by the templates.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use support::{
    client, graphql_as, repo_root, stripe_signature_header_now, wait_for, PgDatabase, ServerOptions, TestServer,
};

const API_KEY: &str = "state-rules-key";
const WEBHOOK_SECRET: &str = "whsec_state_rules_0123456789";
const GATEWAY_ID: &str = "pi_state_race";

/// A Stripe stand-in that answers every request, from any number of
/// connections at once, with the same PaymentIntent still `processing`:
/// what a slow gateway answers after the success event already arrived.
fn processing_gateway(requests: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let requests = requests.clone();
            thread::spawn(move || {
                support::read_request(&stream);
                requests.fetch_add(1, Ordering::SeqCst);
                let body = json!({
                    "id": GATEWAY_ID, "object": "payment_intent", "status": "processing",
                    "amount": 2500, "amount_received": 0, "currency": "eur", "capture_method": "automatic",
                    "client_secret": format!("{GATEWAY_ID}_secret_x"), "metadata": {}, "charges": {"data": []},
                })
                .to_string();
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

fn graphql(server: &TestServer, query: &str) -> Value {
    let body = graphql_as(server, API_KEY, query);
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

fn payments(server: &TestServer) -> Vec<Value> {
    let data = graphql(
        server,
        &format!(
            r#"{{ payments(first: 10, filter: {{ gatewayId: {{ eq: "{GATEWAY_ID}" }} }}) {{ nodes {{ id state eventCreated amount }} }} }}"#
        ),
    );
    data["payments"]["nodes"].as_array().cloned().unwrap_or_default()
}

fn event(id: &str, kind: &str, created: i64, status: &str) -> String {
    json!({
        "id": id, "object": "event", "type": kind, "created": created, "livemode": false,
        "data": { "object": {
            "id": GATEWAY_ID, "object": "payment_intent", "amount": 2500, "currency": "eur", "status": status,
            "capture_method": "automatic", "amount_received": if status == "succeeded" { 2500 } else { 0 },
            "metadata": {},
        } },
    })
    .to_string()
}

fn deliver(server: &TestServer, body: &str) {
    let response = client()
        .post(server.url("/webhooks/stripe"))
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", stripe_signature_header_now(body, WEBHOOK_SECRET))
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{body}");
}

/// The event's status once the worker is done with it.
fn event_status(server: &TestServer, event_id: &str) -> Option<String> {
    let data = graphql(
        server,
        "{ stripe_webhookEvents(first: 100) { nodes { eventId status lastError } } }",
    );
    data["stripe_webhookEvents"]["nodes"]
        .as_array()?
        .iter()
        .find(|e| e["eventId"] == event_id)
        .and_then(|e| e["status"].as_str().map(str::to_string))
        .filter(|s| matches!(s.as_str(), "processed" | "skipped" | "failed"))
}

/// The demo's own checkout: Buy, then pay the order with a card token
/// through `simple_payment_form` (request type `create_payment`).
fn pay_with_the_form(server: &TestServer) -> u16 {
    let http = client();
    let fields = support::checkout_fields_with_token(&http, server, "tok_visa");
    http.post(server.url("/forms/simple_payment_form"))
        .header("Accept", "application/json")
        .form(&fields)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn a_late_processing_never_overwrites_succeeded_whoever_writes_it() {
    let pg = PgDatabase::fresh();
    let requests = Arc::new(AtomicUsize::new(0));
    let gateway = processing_gateway(requests.clone());
    let server = TestServer::start(
        ServerOptions::new(repo_root())
            .database(pg.url())
            .env("STRIPE_API_BASE", &gateway)
            .env("STRIPE_SECRET_KEY", "sk_test_state_rules")
            .env("STRIPE_PUBLISHABLE_KEY", "pk_test_state_rules")
            .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("PAYFORMS_API_KEYS", API_KEY),
    );
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    deliver(
        &server,
        &event("evt_succeeded", "payment_intent.succeeded", t, "succeeded"),
    );
    wait_for("the success event", Duration::from_secs(30), || {
        event_status(&server, "evt_succeeded")
    });
    let paid = payments(&server);
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!(paid[0]["state"], "succeeded");

    // Everyone at once: forms paying through create_payment, GraphQL
    // refreshing through get_payment_intent, and `processing` events of the
    // same second and older, all saying `processing`.
    let late_events: Vec<(String, i64)> = (0..6)
        .map(|i| (format!("evt_processing_{i}"), if i % 2 == 0 { t } else { t - 30 }))
        .collect();
    let form_statuses = thread::scope(|scope| {
        let forms: Vec<_> = (0..4).map(|_| scope.spawn(|| pay_with_the_form(&server))).collect();
        for _ in 0..6 {
            scope.spawn(|| {
                let refreshed = graphql(
                    &server,
                    &format!(
                        r#"mutation {{ send_stripe_getPaymentIntent(input: {{gatewayId: "{GATEWAY_ID}"}}) {{ record errors {{ message }} }} }}"#
                    ),
                );
                let answer = &refreshed["send_stripe_getPaymentIntent"];
                assert_eq!(answer["errors"], json!([]), "{refreshed}");
                // The mapper's answer is the record as it stands: still succeeded.
                assert_eq!(answer["record"]["state"], "succeeded", "{refreshed}");
            });
        }
        for (id, created) in &late_events {
            let server = &server;
            scope.spawn(move || deliver(server, &event(id, "payment_intent.processing", *created, "processing")));
        }
        forms.into_iter().map(|f| f.join().unwrap()).collect::<Vec<_>>()
    });
    assert!(form_statuses.iter().all(|s| *s < 500), "{form_statuses:?}");
    for (id, _) in &late_events {
        let status = wait_for(&format!("{id} handled"), Duration::from_secs(30), || {
            event_status(&server, id)
        });
        assert_eq!(status, "processed", "{id}: kept is not a failure");
    }
    assert!(
        requests.load(Ordering::SeqCst) >= 10,
        "the forms and GraphQL reached the gateway"
    );

    let after = payments(&server);
    assert_eq!(after.len(), 1, "one payment for one PaymentIntent: {after:?}");
    assert_eq!(after[0]["id"], paid[0]["id"]);
    assert_eq!(after[0]["state"], "succeeded", "{after:?}");
    assert_eq!(after[0]["eventCreated"], json!(t));
    // And in the table itself, as a merchant's SQL tool sees it.
    assert_eq!(
        pg.query(&format!("SELECT state FROM payment WHERE gateway_id = '{GATEWAY_ID}'"))
            .trim(),
        "succeeded"
    );

    // The rules stop moves back, not on: a later full refund still lands.
    let refund = json!({
        "id": "evt_refunded_later", "object": "event", "type": "charge.refunded", "created": t + 5, "livemode": false,
        "data": { "object": {
            "id": "ch_state_race", "object": "charge", "amount": 2500, "amount_captured": 2500, "amount_refunded": 2500,
            "currency": "eur", "status": "succeeded", "captured": true, "paid": true, "refunded": true,
            "payment_intent": GATEWAY_ID, "metadata": {},
        } },
    })
    .to_string();
    deliver(&server, &refund);
    wait_for("the later refund", Duration::from_secs(30), || {
        event_status(&server, "evt_refunded_later")
    });
    assert_eq!(payments(&server)[0]["state"], "refunded");
}
