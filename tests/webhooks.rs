//! Stripe webhooks end to end, against the real server: the verified inbox
//! (signatures made by tests/tools/sign_webhook.py, independent of payforms),
//! the processors of modules/stripe and their ordering rules, retries and
//! `payforms webhooks replay`, real deliveries from localstripe, a burst with
//! a crash in the middle, the subscription on start-up, and merchant
//! notifications. Stored data is read back through GraphQL.

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{
    client, copy_app, free_port, payforms_bin, random_hex, repo_root, sign_batch, stripe_signature_header,
    stripe_signature_header_now, wait_for, Localstripe, PgDatabase, ServerOptions, TestServer,
};

const SECRET: &str = "whsec_webhooks_test_0a1b2c3d4e5f";
const API_KEY: &str = "webhooks-test-key";
/// Stripe's tolerance; the server must refuse anything older or newer.
const TOLERANCE: i64 = 300;

// ---------------------------------------------------------------- helpers

fn options(app: &Path, database: Option<&str>) -> ServerOptions {
    let options = ServerOptions::new(app)
        .webhook_secret(SECRET)
        .env("PAYFORMS_API_KEYS", API_KEY);
    match database {
        Some(url) => options.database(url),
        None => options,
    }
}

fn start(database: Option<&str>) -> TestServer {
    TestServer::start(options(&repo_root(), database))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A Stripe event body, serialized once: these exact bytes are signed and sent.
fn event(id: &str, kind: &str, created: i64, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2026-09-30.endive",
        "type": kind,
        "created": created,
        "livemode": false,
        "data": { "object": object },
    })
    .to_string()
}

/// POST /webhooks/stripe with the given Stripe-Signature header (or none).
fn deliver(server: &TestServer, body: &str, signature: Option<&str>) -> (u16, Value) {
    let mut request = client()
        .post(server.url("/webhooks/stripe"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    let response = request.send().expect("POST /webhooks/stripe");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// Delivered as Stripe would: signed now with the endpoint's secret.
fn deliver_signed(server: &TestServer, body: &str) -> (u16, Value) {
    deliver(server, body, Some(&stripe_signature_header_now(body, SECRET)))
}

fn graphql(server: &TestServer, query: &str, variables: Value) -> Value {
    let response = client()
        .post(server.url("/api/graphql"))
        .bearer_auth(API_KEY)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .expect("POST /api/graphql");
    assert_eq!(response.status().as_u16(), 200, "graphql status");
    let body: Value = response.json().expect("graphql json");
    assert!(body.get("errors").is_none(), "graphql errors for {query}: {body}");
    body["data"].clone()
}

/// Every stored webhook event (all pages), newest first.
fn stored_events(server: &TestServer) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = graphql(
            server,
            "query($after: String) { stripe_webhookEvents(first: 250, after: $after) { \
               nodes { eventId type data status attempts lastError processed } pageInfo { hasNextPage endCursor } } }",
            json!({ "after": after }),
        );
        let page = &data["stripe_webhookEvents"];
        all.extend(page["nodes"].as_array().cloned().unwrap_or_default());
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return all;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

fn stored_event(server: &TestServer, event_id: &str) -> Option<Value> {
    stored_events(server).into_iter().find(|e| e["eventId"] == event_id)
}

/// Waits until the stored event `event_id` is done (processed, skipped or failed).
fn wait_done(server: &TestServer, event_id: &str) -> Value {
    wait_for(
        &format!("event {event_id} to be processed"),
        Duration::from_secs(30),
        || {
            stored_event(server, event_id).filter(|e| {
                matches!(
                    e["status"].as_str(),
                    Some("processed") | Some("skipped") | Some("failed")
                )
            })
        },
    )
}

/// Every record of a model's connection query (e.g. "payments"), all pages.
fn records(server: &TestServer, connection: &str, fields: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let query = format!(
            "query($after: String) {{ {connection}(first: 250, after: $after) {{ nodes {{ {fields} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let data = graphql(server, &query, json!({ "after": after }));
        let page = &data[connection];
        all.extend(page["nodes"].as_array().cloned().unwrap_or_default());
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return all;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// The one record of `connection` with this gateway id.
fn record(server: &TestServer, connection: &str, gateway_id: &str, fields: &str) -> Option<Value> {
    let query = format!(
        "query($id: String) {{ {connection}(first: 2, filter: {{ gatewayId: {{ eq: $id }} }}) {{ nodes {{ {fields} }} }} }}"
    );
    let nodes = graphql(server, &query, json!({ "id": gateway_id }))[connection]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        nodes.len() <= 1,
        "one {connection} record per gateway id {gateway_id}: {nodes:?}"
    );
    nodes.into_iter().next()
}

const PAYMENT_FIELDS: &str = "id gatewayId kind state amount amountCaptured amountRefunded currency chargeId \
                              customerId paymentMethodId errorCode errorMessage disputeId disputeReason disputeState eventCreated";

fn payment(server: &TestServer, gateway_id: &str) -> Value {
    record(server, "payments", gateway_id, PAYMENT_FIELDS)
        .unwrap_or_else(|| panic!("no payment record for {gateway_id}"))
}

fn payment_intent(id: &str, status: &str) -> Value {
    json!({
        "id": id, "object": "payment_intent", "amount": 2500, "currency": "eur", "status": status,
        "customer": "cus_webhooks", "payment_method": "pm_webhooks", "capture_method": "automatic",
        "amount_received": if status == "succeeded" { 2500 } else { 0 },
        "metadata": { "order": "A-1" },
    })
}

fn charge_of(payment_intent: &str, charge: &str, amount_refunded: i64) -> Value {
    json!({
        "id": charge, "object": "charge", "amount": 2500, "amount_captured": 2500,
        "amount_refunded": amount_refunded, "currency": "eur", "status": "succeeded", "captured": true,
        "paid": true, "refunded": amount_refunded >= 2500, "payment_intent": payment_intent,
        "customer": "cus_webhooks", "payment_method": "pm_webhooks", "metadata": {},
    })
}

/// A sub-command of the payforms binary with the server's database and secret,
/// nothing inherited from the developer's shell.
fn payforms(server: &TestServer, app: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(payforms_bin());
    command
        .args(args)
        .arg("--app")
        .arg(app)
        .arg("--database")
        .arg(server.database_url());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if key.starts_with("PAYFORMS_") || key.starts_with("STRIPE_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command.envs(&server.options().env).current_dir(server.dir());
    command.output().expect("run payforms")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

// ------------------------------------------------------- the verified inbox

/// Only correctly signed, fresh, well-formed events are stored; a repeat
/// delivery answers 2xx and stores nothing new.
fn inbox_stores_only_valid_deliveries(database: Option<&str>) {
    let server = start(database);
    let t = now();
    let valid = event(
        "evt_valid",
        "customer.created",
        t,
        json!({"id": "cus_valid", "object": "customer"}),
    );
    let (status, body) = deliver_signed(&server, &valid);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], json!(false));

    let mut rejected = Vec::new();
    let mut refuse = |name: &str, body: &str, header: Option<String>, expected: u16| {
        let (status, answer) = deliver(&server, body, header.as_deref());
        assert_eq!(status, expected, "{name}: {answer}");
        assert!(answer["error"]["message"].is_string(), "{name} says why: {answer}");
        rejected.push(name.to_string());
    };
    let wrong = event("evt_wrong_secret", "customer.created", t, json!({"id": "cus_1"}));
    refuse(
        "wrong secret",
        &wrong,
        Some(stripe_signature_header(&wrong, "whsec_not_ours", t)),
        400,
    );
    let stale = event("evt_stale", "customer.created", t, json!({"id": "cus_2"}));
    refuse(
        "stale",
        &stale,
        Some(stripe_signature_header(&stale, SECRET, t - TOLERANCE - 30)),
        400,
    );
    let future = event("evt_future", "customer.created", t, json!({"id": "cus_3"}));
    refuse(
        "future",
        &future,
        Some(stripe_signature_header(&future, SECRET, t + TOLERANCE + 30)),
        400,
    );
    let missing = event("evt_missing_header", "customer.created", t, json!({"id": "cus_4"}));
    refuse("missing header", &missing, None, 400);
    let malformed = event("evt_malformed", "customer.created", t, json!({"id": "cus_5"}));
    refuse("malformed header", &malformed, Some("garbage".into()), 400);
    refuse(
        "non-numeric t",
        &malformed,
        Some(format!("t=abc,v1={}", "0".repeat(64))),
        400,
    );
    refuse("no v1", &malformed, Some(format!("t={t}")), 400);
    let signed_body = event(
        "evt_tampered",
        "payment_intent.succeeded",
        t,
        payment_intent("pi_tampered", "succeeded"),
    );
    let header = stripe_signature_header(&signed_body, SECRET, t);
    let tampered = signed_body.replace("2500", "1");
    assert_ne!(tampered, signed_body);
    refuse("tampered body", &tampered, Some(header), 400);
    let huge = event(
        "evt_oversized",
        "customer.created",
        t,
        json!({"id": "cus_6", "description": "x".repeat(256 * 1024)}),
    );
    refuse(
        "oversized body",
        &huge,
        Some(stripe_signature_header(&huge, SECRET, t)),
        413,
    );
    let not_an_event = json!({"hello": "world"}).to_string();
    refuse(
        "not an event",
        &not_an_event,
        Some(stripe_signature_header(&not_an_event, SECRET, t)),
        400,
    );

    // Correctly signed but hostile bodies: refused, nothing stored.
    let deep = format!(
        "{{\"id\":\"evt_deep\",\"type\":\"x\",\"data\":{}}}",
        "[".repeat(100_000)
    );
    let long_id = json!({"id": "e".repeat(300), "type": "customer.created"}).to_string();
    for (name, body) in [
        ("100,000-deep JSON", deep),
        ("not JSON", "{\"id\": \"evt_cut\", \"type\": ".to_string()),
        (
            "a number for an id",
            json!({"id": 42, "type": "customer.created"}).to_string(),
        ),
        (
            "an object for a type",
            json!({"id": "evt_obj", "type": {"a": 1}}).to_string(),
        ),
        ("an empty id", json!({"id": "", "type": "customer.created"}).to_string()),
        ("a 300-byte id", long_id),
        (
            "a lone surrogate in a string",
            "{\"id\":\"evt_\u{FFFD}\",\"type\":\"\\ud800\"}".to_string(),
        ),
    ] {
        let header = stripe_signature_header(&body, SECRET, t);
        refuse(name, &body, Some(header), 400);
    }

    // Two v1 signatures, the first bogus: Stripe sends one per secret in rotation.
    let two = event("evt_two_v1", "customer.created", t, json!({"id": "cus_two"}));
    let good = stripe_signature_header(&two, SECRET, t);
    let good_v1 = good.split_once(",v1=").expect("v1 in header").1;
    let (status, body) = deliver(
        &server,
        &two,
        Some(&format!("t={t},v1={},v1={good_v1}", "ab".repeat(32))),
    );
    assert_eq!(status, 200, "{body}");

    // The same event id again (Stripe retries): 2xx, flagged, nothing new, the first body kept.
    let repeat = event(
        "evt_valid",
        "customer.created",
        t,
        json!({"id": "cus_valid", "object": "customer", "email": "changed@example.com"}),
    );
    let (status, body) = deliver_signed(&server, &repeat);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["duplicate"], json!(true));

    let stored = stored_events(&server);
    let ids: BTreeSet<&str> = stored.iter().filter_map(|e| e["eventId"].as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["evt_valid", "evt_two_v1"]),
        "rejected {rejected:?}; stored {stored:?}"
    );
    assert_eq!(stored.len(), 2, "one row per event id");
    let first = stored.iter().find(|e| e["eventId"] == "evt_valid").expect("evt_valid");
    assert_eq!(
        first["data"],
        json!(valid),
        "the stored body is the first delivery, byte for byte"
    );
    assert_eq!(first["type"], "customer.created");
    // Both stored events are processed by the shipped customer.created processor.
    for id in ["evt_valid", "evt_two_v1"] {
        assert_eq!(wait_done(&server, id)["status"], "processed");
    }
    let customer = record(&server, "customers", "cus_valid", "gatewayId email eventCreated").expect("customer");
    assert_eq!(customer["eventCreated"], json!(t));
    assert_eq!(customer["email"], Value::Null, "the repeat delivery changed nothing");
}

#[test]
fn inbox_stores_only_valid_deliveries_sqlite() {
    inbox_stores_only_valid_deliveries(None);
}

#[test]
fn inbox_stores_only_valid_deliveries_postgres() {
    let pg = PgDatabase::fresh();
    inbox_stores_only_valid_deliveries(Some(pg.url()));
}

#[test]
fn rotated_secrets_are_all_accepted() {
    let server = TestServer::start(
        ServerOptions::new(repo_root())
            .webhook_secret("whsec_old_one, whsec_new_one")
            .env("PAYFORMS_API_KEYS", API_KEY),
    );
    let t = now();
    for (id, secret, expected) in [
        ("evt_old_secret", "whsec_old_one", 200),
        ("evt_new_secret", "whsec_new_one", 200),
        ("evt_other_secret", "whsec_other", 400),
    ] {
        let body = event(id, "customer.created", t, json!({"id": format!("cus_{id}")}));
        let (status, answer) = deliver(&server, &body, Some(&stripe_signature_header(&body, secret, t)));
        assert_eq!(status, expected, "{id}: {answer}");
    }
    let ids: BTreeSet<String> = stored_events(&server)
        .iter()
        .filter_map(|e| e["eventId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["evt_old_secret".to_string(), "evt_new_secret".to_string()])
    );
}

// ------------------------------------------------------------ processing

/// payment_intent.succeeded makes the payment; older or same-second events
/// cannot move it back; later ones move it on.
fn payment_follows_events_in_stripe_order(database: Option<&str>) {
    let server = start(database);
    let t = now();
    let succeeded = event(
        "evt_pi_succeeded",
        "payment_intent.succeeded",
        t,
        payment_intent("pi_order", "succeeded"),
    );
    assert_eq!(deliver_signed(&server, &succeeded).0, 200);
    assert_eq!(wait_done(&server, "evt_pi_succeeded")["status"], "processed");
    let paid = payment(&server, "pi_order");
    assert_eq!(paid["state"], "succeeded");
    assert_eq!(paid["amount"], 2500);
    assert_eq!(paid["amountCaptured"], 2500);
    assert_eq!(paid["currency"], "eur");
    assert_eq!(paid["customerId"], "cus_webhooks");
    assert_eq!(paid["kind"], "payment_intent");
    assert_eq!(paid["eventCreated"], json!(t));

    // Delivered late, created earlier: the event_created rule skips it.
    let late = event(
        "evt_pi_late_processing",
        "payment_intent.processing",
        t - 60,
        payment_intent("pi_order", "processing"),
    );
    // Same second as `succeeded`: only the state precedence keeps it succeeded.
    let same_second = event(
        "evt_pi_same_second",
        "payment_intent.processing",
        t,
        payment_intent("pi_order", "processing"),
    );
    let action = event(
        "evt_pi_same_second_action",
        "payment_intent.requires_action",
        t,
        payment_intent("pi_order", "requires_action"),
    );
    for (id, body) in [
        ("evt_pi_late_processing", &late),
        ("evt_pi_same_second", &same_second),
        ("evt_pi_same_second_action", &action),
    ] {
        assert_eq!(deliver_signed(&server, body).0, 200);
        assert_eq!(wait_done(&server, id)["status"], "processed", "{id}");
        let now_payment = payment(&server, "pi_order");
        assert_eq!(now_payment["state"], "succeeded", "after {id}");
        assert_eq!(now_payment["eventCreated"], json!(t), "after {id}");
        assert_eq!(now_payment["id"], paid["id"], "one record");
    }

    // Later events still move it forward: a partial, then a full refund.
    let partial = event(
        "evt_ch_partial",
        "charge.refunded",
        t + 5,
        charge_of("pi_order", "ch_order", 1000),
    );
    assert_eq!(deliver_signed(&server, &partial).0, 200);
    assert_eq!(wait_done(&server, "evt_ch_partial")["status"], "processed");
    let refunded = payment(&server, "pi_order");
    assert_eq!(refunded["state"], "partially_refunded");
    assert_eq!(refunded["amountRefunded"], 1000);
    assert_eq!(refunded["chargeId"], "ch_order");
    let full = event(
        "evt_ch_full",
        "charge.refunded",
        t + 9,
        charge_of("pi_order", "ch_order", 2500),
    );
    // And a stale copy of the partial refund arriving after the full one.
    let stale_partial = event(
        "evt_ch_partial_late",
        "charge.refunded",
        t + 7,
        charge_of("pi_order", "ch_order", 1000),
    );
    for (id, body) in [("evt_ch_full", &full), ("evt_ch_partial_late", &stale_partial)] {
        assert_eq!(deliver_signed(&server, body).0, 200);
        assert_eq!(wait_done(&server, id)["status"], "processed");
    }
    let refunded = payment(&server, "pi_order");
    assert_eq!(refunded["state"], "refunded");
    assert_eq!(refunded["amountRefunded"], 2500);
    assert_eq!(refunded["eventCreated"], json!(t + 9));

    // Among states that are not final the event time alone decides:
    // a failure, then an older `processing` delivered late.
    let mut failed_pi = payment_intent("pi_retry", "requires_payment_method");
    failed_pi["last_payment_error"] = json!({"code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."});
    let failed = event("evt_retry_failed", "payment_intent.payment_failed", t, failed_pi);
    let older = event(
        "evt_retry_processing",
        "payment_intent.processing",
        t - 3,
        payment_intent("pi_retry", "processing"),
    );
    for (id, body) in [("evt_retry_failed", &failed), ("evt_retry_processing", &older)] {
        assert_eq!(deliver_signed(&server, body).0, 200);
        assert_eq!(wait_done(&server, id)["status"], "processed");
    }
    let failed_payment = payment(&server, "pi_retry");
    assert_eq!(failed_payment["state"], "failed");
    assert_eq!(failed_payment["errorCode"], "insufficient_funds");
    assert_eq!(failed_payment["errorMessage"], "Your card has insufficient funds.");
    // A newer attempt that succeeds wins.
    let retried = event(
        "evt_retry_succeeded",
        "payment_intent.succeeded",
        t + 2,
        payment_intent("pi_retry", "succeeded"),
    );
    assert_eq!(deliver_signed(&server, &retried).0, 200);
    assert_eq!(wait_done(&server, "evt_retry_succeeded")["status"], "processed");
    let retried_payment = payment(&server, "pi_retry");
    assert_eq!(retried_payment["state"], "succeeded");
    assert_eq!(retried_payment["errorCode"], Value::Null);

    // An event type without a processor is stored and marked skipped.
    let unknown = event("evt_unknown_type", "balance.available", t, json!({"object": "balance"}));
    assert_eq!(deliver_signed(&server, &unknown).0, 200);
    let skipped = wait_done(&server, "evt_unknown_type");
    assert_eq!(skipped["status"], "skipped");
    assert_eq!(skipped["processed"], json!(false));
    assert_eq!(
        records(&server, "payments", "gatewayId").len(),
        2,
        "pi_order and pi_retry only"
    );
}

#[test]
fn payment_follows_events_in_stripe_order_sqlite() {
    payment_follows_events_in_stripe_order(None);
}

#[test]
fn payment_follows_events_in_stripe_order_postgres() {
    let pg = PgDatabase::fresh();
    payment_follows_events_in_stripe_order(Some(pg.url()));
}

/// The event types payforms subscribes to (one per processor of the
/// shipped app); each must have a working processor.
fn handled_events() -> Vec<String> {
    let app = payforms::app::App::load(&repo_root()).expect("the shipped app loads");
    payforms::webhooks::event_types::handled_event_types(&app)
}

/// One event of every type payforms subscribes to, in Stripe's order; each
/// processor keeps its record current. Sent again under new event ids (the
/// processors run a second time on the same objects) nothing changes.
#[test]
fn every_processor_keeps_its_record_current_and_is_idempotent() {
    let server = start(None);
    let t = now();
    let card = |id: &str, customer: Value| {
        json!({"id": id, "object": "payment_method", "type": "card", "customer": customer,
               "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034, "funding": "credit", "country": "US"},
               "metadata": {}})
    };
    let subscription = |status: &str, quantity: i64, cancel_at_period_end: bool| {
        json!({"id": "sub_all", "object": "subscription", "customer": "cus_all", "status": status,
               "current_period_start": t, "current_period_end": t + 2_592_000,
               "cancel_at_period_end": cancel_at_period_end, "canceled_at": if status == "canceled" { json!(t + 3) } else { Value::Null },
               "items": {"data": [{"id": "si_all", "price": {"id": "price_all"}, "quantity": quantity}]},
               "latest_invoice": "in_all", "metadata": {}})
    };
    let invoice = |status: &str, paid: i64| {
        json!({"id": "in_all", "object": "invoice", "customer": "cus_all", "subscription": "sub_all", "status": status,
               "amount_due": 1500, "amount_paid": paid, "currency": "usd",
               "lines": {"data": [{"id": "il_all", "description": "Plan", "amount": 1500, "currency": "usd", "quantity": 1, "price": {"id": "price_all"}}]},
               "metadata": {}})
    };
    let account = |id: &str, charges: bool, payouts: bool| {
        json!({"id": id, "object": "account", "type": "express", "email": "merchant@example.com", "country": "US",
               "charges_enabled": charges, "payouts_enabled": payouts, "details_submitted": charges,
               "requirements": {"currently_due": []}, "metadata": {}})
    };
    let mut capturable = payment_intent("pi_all", "requires_capture");
    capturable["capture_method"] = json!("manual");
    let events: Vec<(&str, i64, Value)> = vec![
        (
            "customer.created",
            t,
            json!({"id": "cus_all", "object": "customer", "email": "all@example.com", "name": "Ada", "metadata": {"external_id": "42"}}),
        ),
        (
            "customer.updated",
            t + 1,
            json!({"id": "cus_all", "object": "customer", "email": "ada@example.com", "name": "Ada Lovelace",
                                           "invoice_settings": {"default_payment_method": "pm_all"}, "metadata": {"external_id": "42"}}),
        ),
        (
            "customer.created",
            t,
            json!({"id": "cus_gone", "object": "customer", "email": "gone@example.com", "metadata": {}}),
        ),
        (
            "customer.deleted",
            t + 1,
            json!({"id": "cus_gone", "object": "customer", "email": "gone@example.com", "metadata": {}}),
        ),
        // Same second as the deletion, delivered after it: must not revive the customer.
        (
            "customer.updated",
            t + 1,
            json!({"id": "cus_gone", "object": "customer", "email": "gone@example.com", "metadata": {}}),
        ),
        ("payment_method.attached", t, card("pm_all", json!("cus_all"))),
        ("payment_method.attached", t, card("pm_old", json!("cus_all"))),
        ("payment_method.detached", t + 1, card("pm_old", Value::Null)),
        (
            "setup_intent.succeeded",
            t,
            json!({"id": "seti_all", "object": "setup_intent", "customer": "cus_all", "payment_method": "pm_all",
                                            "status": "succeeded", "usage": "off_session", "metadata": {}}),
        ),
        (
            "payment_intent.created",
            t,
            payment_intent("pi_all", "requires_payment_method"),
        ),
        (
            "payment_intent.requires_action",
            t,
            payment_intent("pi_all", "requires_action"),
        ),
        ("payment_intent.processing", t, payment_intent("pi_all", "processing")),
        ("payment_intent.amount_capturable_updated", t + 1, capturable),
        ("charge.captured", t + 2, charge_of("pi_all", "ch_all", 0)),
        ("payment_intent.succeeded", t + 2, payment_intent("pi_all", "succeeded")),
        ("charge.succeeded", t + 2, charge_of("pi_all", "ch_all", 0)),
        (
            "refund.updated",
            t + 3,
            json!({"id": "re_all", "object": "refund", "amount": 500, "currency": "eur", "charge": "ch_all",
                                         "payment_intent": "pi_all", "reason": "requested_by_customer", "status": "succeeded", "metadata": {}}),
        ),
        ("charge.refunded", t + 3, charge_of("pi_all", "ch_all", 500)),
        (
            "charge.dispute.created",
            t + 4,
            json!({"id": "dp_all", "object": "dispute", "amount": 2000, "currency": "eur", "charge": "ch_all",
                                                 "reason": "fraudulent", "status": "needs_response"}),
        ),
        ("payment_intent.canceled", t, {
            let mut pi = payment_intent("pi_canceled", "canceled");
            pi["cancellation_reason"] = json!("requested_by_customer");
            pi
        }),
        ("payment_intent.payment_failed", t, {
            let mut pi = payment_intent("pi_declined", "requires_payment_method");
            pi["last_payment_error"] = json!({"code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined."});
            pi
        }),
        // Delivered after the cancellation: a created event never changes a record.
        (
            "payment_intent.created",
            t,
            payment_intent("pi_canceled", "requires_payment_method"),
        ),
        // Same second as the cancellation, delivered after it: canceled is final.
        (
            "payment_intent.amount_capturable_updated",
            t,
            payment_intent("pi_canceled", "requires_capture"),
        ),
        (
            "charge.failed",
            t,
            json!({"id": "ch_legacy", "object": "charge", "amount": 700, "currency": "usd", "status": "failed", "captured": false,
                                    "refunded": false, "payment_intent": null, "failure_code": "card_declined",
                                    "failure_message": "Your card was declined.", "metadata": {}}),
        ),
        (
            "checkout.session.completed",
            t,
            json!({"id": "cs_paid", "object": "checkout.session", "mode": "payment", "payment_status": "paid",
                                                 "status": "complete", "amount_total": 2500, "currency": "eur", "customer": "cus_all",
                                                 "payment_intent": "pi_all", "success_url": "https://shop.example/ok",
                                                 "cancel_url": "https://shop.example/cancel", "metadata": {}}),
        ),
        // API 2020-08-27: no `status` on the session; the event type says it.
        (
            "checkout.session.expired",
            t,
            json!({"id": "cs_expired", "object": "checkout.session", "mode": "payment", "payment_status": "unpaid",
                                               "amount_total": 900, "currency": "eur", "success_url": "https://shop.example/ok",
                                               "cancel_url": "https://shop.example/cancel", "metadata": {}}),
        ),
        ("customer.subscription.created", t, subscription("incomplete", 1, false)),
        ("customer.subscription.updated", t + 1, subscription("active", 2, true)),
        (
            "customer.subscription.deleted",
            t + 3,
            subscription("canceled", 2, false),
        ),
        ("invoice.created", t, invoice("draft", 0)),
        ("invoice.finalized", t, invoice("open", 0)),
        ("invoice.payment_failed", t + 1, invoice("open", 0)),
        ("invoice.payment_succeeded", t + 2, invoice("paid", 1500)),
        ("invoice.paid", t + 2, invoice("paid", 1500)),
        // Same second as `paid`, delivered after it: paid is final.
        ("invoice.payment_failed", t + 2, invoice("open", 0)),
        ("account.updated", t, account("acct_pending", true, false)),
        ("account.updated", t, account("acct_verified", true, true)),
        ("account.updated", t + 1, account("acct_moving", false, false)),
        ("account.updated", t + 2, account("acct_moving", true, true)),
    ];
    let covered: BTreeSet<&str> = events.iter().map(|(kind, _, _)| *kind).collect();
    assert_eq!(
        covered,
        handled_events().iter().map(String::as_str).collect::<BTreeSet<_>>(),
        "every handled event type is covered"
    );

    let send_all = |suffix: &str| {
        let mut ids = Vec::new();
        for (n, (kind, created, object)) in events.iter().enumerate() {
            let id = format!("evt_{n:02}_{suffix}");
            let (status, body) = deliver_signed(&server, &event(&id, kind, *created, object.clone()));
            assert_eq!(status, 200, "{kind}: {body}");
            ids.push(id);
        }
        for id in &ids {
            let done = wait_done(&server, id);
            assert_eq!(done["status"], "processed", "{done}");
        }
    };
    send_all("first");

    let customer = record(
        &server,
        "customers",
        "cus_all",
        "email name deleted externalId defaultPaymentMethod eventCreated",
    )
    .expect("cus_all");
    assert_eq!(
        customer,
        json!({"email": "ada@example.com", "name": "Ada Lovelace", "deleted": false, "externalId": "42",
                                "defaultPaymentMethod": "pm_all", "eventCreated": t + 1})
    );
    let gone = record(&server, "customers", "cus_gone", "email deleted eventCreated").expect("cus_gone");
    assert_eq!(
        gone,
        json!({"email": "gone@example.com", "deleted": true, "eventCreated": t + 1})
    );

    let kept = record(
        &server,
        "creditCards",
        "pm_all",
        "customerId brand last4 expMonth expYear eventCreated",
    )
    .expect("pm_all");
    assert_eq!(
        kept,
        json!({"customerId": "cus_all", "brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2034, "eventCreated": t})
    );
    let detached = record(&server, "creditCards", "pm_old", "customerId eventCreated").expect("pm_old");
    assert_eq!(
        detached,
        json!({"customerId": null, "eventCreated": t + 1}),
        "a detached card belongs to no customer"
    );
    let cards = graphql(
        &server,
        "{ creditCards(filter: { customerId: { eq: \"cus_all\" } }) { totalCount } }",
        json!({}),
    );
    assert_eq!(cards["creditCards"]["totalCount"], 1);

    let setup = record(
        &server,
        "setupIntents",
        "seti_all",
        "state customerId paymentMethodId eventCreated",
    )
    .expect("seti_all");
    assert_eq!(
        setup,
        json!({"state": "succeeded", "customerId": "cus_all", "paymentMethodId": "pm_all", "eventCreated": t})
    );

    let paid = payment(&server, "pi_all");
    assert_eq!(paid["state"], "disputed");
    assert_eq!(paid["amountCaptured"], 2500);
    assert_eq!(paid["amountRefunded"], 500);
    assert_eq!(paid["chargeId"], "ch_all");
    assert_eq!(paid["disputeId"], "dp_all");
    assert_eq!(paid["disputeReason"], "fraudulent");
    assert_eq!(paid["disputeState"], "needs_response");
    assert_eq!(paid["eventCreated"], json!(t + 4));
    let refund = record(
        &server,
        "refunds",
        "re_all",
        "state amount currency chargeId paymentIntentId paymentId eventCreated",
    )
    .expect("re_all");
    assert_eq!(refund["state"], "succeeded");
    assert_eq!(refund["amount"], 500);
    assert_eq!(refund["chargeId"], "ch_all");
    assert_eq!(refund["paymentIntentId"], "pi_all");
    assert_eq!(refund["paymentId"], paid["id"], "linked to the payment record");
    let declined = payment(&server, "pi_declined");
    assert_eq!(
        (declined["state"].clone(), declined["errorCode"].clone()),
        (json!("failed"), json!("generic_decline"))
    );
    let canceled = payment(&server, "pi_canceled");
    assert_eq!(canceled["state"], "canceled");
    let legacy = payment(&server, "ch_legacy");
    assert_eq!(
        (
            legacy["state"].clone(),
            legacy["kind"].clone(),
            legacy["errorCode"].clone()
        ),
        (json!("failed"), json!("charge"), json!("card_declined"))
    );

    let completed = record(
        &server,
        "checkoutSessions",
        "cs_paid",
        "state paymentStatus paymentIntentId amountTotal eventCreated",
    )
    .expect("cs_paid");
    assert_eq!(
        completed,
        json!({"state": "complete", "paymentStatus": "paid", "paymentIntentId": "pi_all", "amountTotal": 2500, "eventCreated": t})
    );
    let expired = record(&server, "checkoutSessions", "cs_expired", "state").expect("cs_expired");
    assert_eq!(expired["state"], "expired");

    let sub = record(
        &server,
        "subscriptions",
        "sub_all",
        "state quantity priceId cancelAtPeriodEnd canceledAt latestInvoiceId eventCreated",
    )
    .expect("sub_all");
    assert_eq!(sub["state"], "canceled");
    assert_eq!(sub["quantity"], 2);
    assert_eq!(sub["priceId"], "price_all");
    assert_eq!(sub["latestInvoiceId"], "in_all");
    assert!(sub["canceledAt"].is_string(), "{sub}");
    assert_eq!(sub["eventCreated"], json!(t + 3));
    let inv = record(
        &server,
        "invoices",
        "in_all",
        "state amountDue amountPaid customerId subscriptionId lines eventCreated",
    )
    .expect("in_all");
    assert_eq!(inv["state"], "paid");
    assert_eq!(inv["amountPaid"], 1500);
    assert_eq!(inv["subscriptionId"], "sub_all");
    assert_eq!(inv["lines"][0]["id"], "il_all");
    assert_eq!(inv["eventCreated"], json!(t + 2));

    for (id, state) in [
        ("acct_pending", "pending"),
        ("acct_verified", "verified"),
        ("acct_moving", "verified"),
    ] {
        let acct = record(&server, "accounts", id, "state chargesEnabled payoutsEnabled").expect(id);
        assert_eq!(acct["state"], state, "{id}: {acct}");
    }

    // Idempotent: the same objects processed again change nothing.
    let snapshot = |server: &TestServer| -> BTreeMap<String, Vec<Value>> {
        [
            ("payments", PAYMENT_FIELDS),
            (
                "customers",
                "gatewayId email name deleted externalId defaultPaymentMethod eventCreated",
            ),
            ("creditCards", "gatewayId customerId brand last4 eventCreated"),
            ("setupIntents", "gatewayId state eventCreated"),
            ("refunds", "gatewayId state amount paymentId eventCreated"),
            ("checkoutSessions", "gatewayId state paymentStatus eventCreated"),
            (
                "subscriptions",
                "gatewayId state quantity cancelAtPeriodEnd canceledAt eventCreated",
            ),
            ("invoices", "gatewayId state amountPaid lines eventCreated"),
            ("accounts", "gatewayId state chargesEnabled payoutsEnabled eventCreated"),
        ]
        .into_iter()
        .map(|(connection, fields)| (connection.to_string(), records(server, connection, fields)))
        .collect()
    };
    let before = snapshot(&server);
    send_all("again");
    assert_eq!(snapshot(&server), before);
}

// ------------------------------------------------ failures, retries, replay

/// (The model's name is computed, so `payforms check` cannot see it.)
const BROKEN_PROCESSOR: &str =
    "{%- parse_json props -%}{ \"gateway_id\": {{ object.id | json }} }{%- endparse_json -%}\n\
     {%- assign missing = 'modules/payments/no_such' | append: '_model' -%}\n\
     {%- record r = missing, operation: 'upsert', match: props, properties: props -%}\n";

/// Waits until `event_id` has failed at least twice (retried with backoff)
/// with the processor's error visible.
fn wait_retried_failure(server: &TestServer, event_id: &str) {
    let failed = wait_for(&format!("{event_id} to be retried"), Duration::from_secs(40), || {
        stored_event(server, event_id).filter(|e| e["attempts"].as_i64().unwrap_or(0) >= 2 && e["status"] == "failed")
    });
    let error = failed["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("no_such_model"), "{failed}");
    assert_eq!(failed["processed"], json!(false));
}

#[test]
fn failing_processor_is_retried_and_replayed() {
    let app = copy_app(repo_root());
    // An app processor overrides the module's: this one writes an undefined model.
    let broken = app
        .path()
        .join("templates/webhook_processors/payment_intent.succeeded.liquid");
    std::fs::create_dir_all(broken.parent().expect("parent")).expect("mkdir");
    std::fs::write(&broken, BROKEN_PROCESSOR).expect("write the broken processor");
    let mut server = TestServer::start(options(app.path(), None));
    let t = now();
    let first = event(
        "evt_fail_one",
        "payment_intent.succeeded",
        t,
        payment_intent("pi_fail_one", "succeeded"),
    );
    assert_eq!(deliver_signed(&server, &first).0, 200);
    wait_retried_failure(&server, "evt_fail_one");
    assert!(records(&server, "payments", "gatewayId").is_empty());

    // Fixed on disk; the operator replays the event while the server is down.
    server.terminate();
    std::fs::remove_file(&broken).expect("remove the broken processor");
    let one = payforms(&server, app.path(), &["webhooks", "replay", "evt_fail_one"]);
    assert!(one.status.success(), "{}", text(&one));
    let stdout = String::from_utf8_lossy(&one.stdout);
    assert!(
        stdout.contains("evt_fail_one") && stdout.contains("processed"),
        "{}",
        text(&one)
    );
    let unknown = payforms(&server, app.path(), &["webhooks", "replay", "evt_never_received"]);
    assert!(!unknown.status.success(), "{}", text(&unknown));
    assert!(text(&unknown).contains("evt_never_received"), "{}", text(&unknown));

    // Broken again for a second event, then `replay --failed`.
    std::fs::write(&broken, BROKEN_PROCESSOR).expect("write the broken processor");
    server.restart();
    let second = event(
        "evt_fail_two",
        "payment_intent.succeeded",
        t,
        payment_intent("pi_fail_two", "succeeded"),
    );
    assert_eq!(deliver_signed(&server, &second).0, 200);
    wait_retried_failure(&server, "evt_fail_two");
    server.terminate();
    std::fs::remove_file(&broken).expect("remove the broken processor");
    let rest = payforms(&server, app.path(), &["webhooks", "replay", "--failed"]);
    assert!(rest.status.success(), "{}", text(&rest));
    let stdout = String::from_utf8_lossy(&rest.stdout);
    assert!(
        stdout.contains("evt_fail_two") && stdout.contains("processed"),
        "{}",
        text(&rest)
    );
    let nothing = payforms(&server, app.path(), &["webhooks", "replay", "--failed"]);
    assert!(!nothing.status.success(), "nothing left to replay: {}", text(&nothing));

    server.restart();
    for (id, pi) in [("evt_fail_one", "pi_fail_one"), ("evt_fail_two", "pi_fail_two")] {
        let done = stored_event(&server, id).expect("stored");
        assert_eq!(done["status"], "processed", "{done}");
        assert_eq!(done["lastError"], Value::Null);
        assert_eq!(payment(&server, pi)["state"], "succeeded");
    }
    // Replaying a processed event again changes nothing (idempotent).
    let before = records(&server, "payments", PAYMENT_FIELDS);
    let again = payforms(&server, app.path(), &["webhooks", "replay", "evt_fail_one"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(records(&server, "payments", PAYMENT_FIELDS), before);
}

// ------------------------------------------------------- real deliveries

#[test]
fn localstripe_deliveries_are_verified_and_processed() {
    let localstripe = Localstripe::start();
    let server = TestServer::start(options(&repo_root(), None).stripe(&localstripe));
    localstripe.register_webhook(
        "payforms",
        &server.url("/webhooks/stripe"),
        SECRET,
        &["customer.created", "invoice.payment_succeeded"],
    );
    let (status, customer) = localstripe.post(
        "/v1/customers",
        &[("email", "real@example.com"), ("name", "Real Delivery")],
    );
    assert_eq!(status, 200, "{customer}");
    let customer_id = customer["id"].as_str().expect("customer id").to_string();
    let (status, attached) = localstripe.post(
        "/v1/payment_methods/pm_card_visa/attach",
        &[("customer", customer_id.as_str())],
    );
    assert_eq!(status, 200, "{attached}");
    let pm = attached["id"].as_str().expect("pm id").to_string();
    let (status, body) = localstripe.post(
        &format!("/v1/customers/{customer_id}"),
        &[("invoice_settings[default_payment_method]", pm.as_str())],
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = localstripe.post(
        "/v1/plans",
        &[
            ("id", "plan_webhooks"),
            ("amount", "1234"),
            ("currency", "usd"),
            ("interval", "month"),
            ("product[name]", "Webhooks plan"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    // A subscription makes and pays its first invoice.
    let (status, subscription) = localstripe.post(
        "/v1/subscriptions",
        &[("customer", customer_id.as_str()), ("items[0][plan]", "plan_webhooks")],
    );
    assert_eq!(status, 200, "{subscription}");
    let invoice_id = subscription["latest_invoice"]
        .as_str()
        .expect("latest_invoice")
        .to_string();

    let delivered = wait_for(
        "localstripe's two events to be processed",
        Duration::from_secs(30),
        || {
            let events = stored_events(&server);
            let done: Vec<Value> = events.into_iter().filter(|e| e["status"] == "processed").collect();
            (done.len() == 2).then_some(done)
        },
    );
    let types: BTreeSet<&str> = delivered.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        BTreeSet::from(["customer.created", "invoice.payment_succeeded"]),
        "{}",
        localstripe.log_tail(20)
    );
    let stored =
        record(&server, "customers", &customer_id, "email name deleted eventCreated").expect("customer record");
    assert_eq!(stored["email"], "real@example.com");
    assert_eq!(stored["name"], "Real Delivery");
    assert_eq!(stored["deleted"], json!(false));
    let created_event: Value = serde_json::from_str(
        delivered
            .iter()
            .find(|e| e["type"] == "customer.created")
            .expect("customer.created")["data"]
            .as_str()
            .expect("data"),
    )
    .expect("stored event JSON");
    assert_eq!(stored["eventCreated"], created_event["created"]);
    let invoice = record(
        &server,
        "invoices",
        &invoice_id,
        "state amountPaid customerId subscriptionId currency",
    )
    .expect("invoice record");
    assert_eq!(invoice["state"], "paid");
    assert_eq!(invoice["amountPaid"], 1234);
    assert_eq!(invoice["customerId"], json!(customer_id));
    assert_eq!(invoice["currency"], "usd");
    assert!(
        localstripe.log_text().contains("successfully delivered"),
        "{}",
        localstripe.log_tail(20)
    );
}

// -------------------------------------------------- burst with a crash

/// 2,000 deliveries (1,800 distinct customer.created events, 200 repeats) on
/// 8 threads; the server is killed with SIGKILL mid-burst and restarted.
/// Every acknowledged event ends up applied exactly once: one customer record
/// per acknowledged id, carrying that event's `created`.
#[test]
fn burst_with_a_crash_applies_every_acknowledged_event_once() {
    const DISTINCT: usize = 1800;
    const REPEATS: usize = 200;
    let mut server = start(None);
    let base = now() - 10_000;
    let id_of = |n: usize| format!("cus_burst_{n:04}");
    let body_of = |n: usize| {
        event(
            &format!("evt_burst_{n:04}"),
            "customer.created",
            base + n as i64,
            json!({"id": id_of(n), "object": "customer", "email": format!("burst{n}@example.com"), "metadata": {}}),
        )
    };
    // Every event once plus every ninth again, shuffled (fixed seed: reproducible).
    let mut jobs: Vec<usize> = (0..DISTINCT)
        .chain((0..DISTINCT).step_by(DISTINCT / REPEATS).take(REPEATS))
        .collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..jobs.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        jobs.swap(i, (seed >> 33) as usize % (i + 1));
    }
    assert_eq!(jobs.len(), DISTINCT + REPEATS);
    let bodies: Vec<String> = (0..DISTINCT).map(body_of).collect();
    let headers = sign_batch(&bodies, SECRET);

    let url = server.url("/webhooks/stripe");
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let jobs = Arc::new(jobs);
    let bodies = Arc::new(bodies);
    let headers = Arc::new(headers);
    let started = Instant::now();
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (next, acked, jobs, bodies, headers, url) = (
                next.clone(),
                acked.clone(),
                jobs.clone(),
                bodies.clone(),
                headers.clone(),
                url.clone(),
            );
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("client");
                let mut outcomes: Vec<(usize, u16, usize)> = Vec::new();
                loop {
                    let slot = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&n) = jobs.get(slot) else { return outcomes };
                    // Like Stripe: no 2xx, deliver again (the server may be down).
                    let mut tries = 0;
                    loop {
                        tries += 1;
                        let sent = http
                            .post(&url)
                            .header("Stripe-Signature", &headers[n])
                            .header("Content-Type", "application/json")
                            .body(bodies[n].clone())
                            .send();
                        match sent {
                            Ok(response) if response.status().is_success() => {
                                acked.fetch_add(1, Ordering::SeqCst);
                                outcomes.push((n, response.status().as_u16(), tries));
                                break;
                            }
                            _ if tries < 300 => std::thread::sleep(Duration::from_millis(100)),
                            Ok(response) => {
                                outcomes.push((n, response.status().as_u16(), tries));
                                break;
                            }
                            Err(_) => {
                                outcomes.push((n, 0, tries));
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    wait_for(
        "a third of the burst to be acknowledged",
        Duration::from_secs(120),
        || (acked.load(Ordering::SeqCst) >= (DISTINCT + REPEATS) / 3).then_some(()),
    );
    server.kill9();
    let acked_before_kill = acked.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    server.restart();
    let outcomes: Vec<(usize, u16, usize)> = senders
        .into_iter()
        .flat_map(|sender| sender.join().expect("sender thread"))
        .collect();
    let sent_in = started.elapsed();
    assert_eq!(outcomes.len(), DISTINCT + REPEATS);
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|(_, status, _)| !(200..300).contains(status))
        .collect();
    assert!(
        failed.is_empty(),
        "every delivery is acknowledged once the server is back: {failed:?}"
    );
    assert!(
        outcomes.iter().any(|(_, _, tries)| *tries > 1),
        "the kill interrupted deliveries"
    );
    let acknowledged: BTreeSet<usize> = outcomes.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(acknowledged.len(), DISTINCT);

    // Processing finishes (an event claimed when the process died waits for its lease).
    wait_for("every stored event to be processed", Duration::from_secs(180), || {
        let data = graphql(
            &server,
            "{ pending: stripe_webhookEvents(status: \"pending\", first: 1) { nodes { eventId } } \
               processing: stripe_webhookEvents(status: \"processing\", first: 1) { nodes { eventId } } \
               failed: stripe_webhookEvents(status: \"failed\", first: 1) { nodes { eventId lastError } } \
               customers { totalCount } }",
            json!({}),
        );
        let failed = &data["failed"]["nodes"];
        assert_eq!(failed, &json!([]), "no event fails");
        let idle = data["pending"]["nodes"] == json!([]) && data["processing"]["nodes"] == json!([]);
        (idle && data["customers"]["totalCount"] == json!(DISTINCT)).then_some(())
    });
    let drained_in = started.elapsed();

    let customers = records(&server, "customers", "gatewayId eventCreated email");
    assert_eq!(customers.len(), DISTINCT, "one record per acknowledged id");
    let mut by_id: HashMap<String, Value> = HashMap::new();
    for customer in customers {
        let id = customer["gatewayId"].as_str().expect("gatewayId").to_string();
        assert!(by_id.insert(id.clone(), customer).is_none(), "{id} stored twice");
    }
    for n in &acknowledged {
        let customer = by_id
            .get(&id_of(*n))
            .unwrap_or_else(|| panic!("acknowledged {} lost", id_of(*n)));
        assert_eq!(customer["eventCreated"], json!(base + *n as i64), "{customer}");
        assert_eq!(customer["email"], json!(format!("burst{n}@example.com")));
    }
    let events = stored_events(&server);
    assert_eq!(events.len(), DISTINCT, "repeats are not stored again");
    assert!(events.iter().all(|e| e["status"] == "processed"));
    eprintln!(
        "burst: {} deliveries ({} acknowledged before the kill) sent in {:.1?}, all processed after {:.1?}",
        DISTINCT + REPEATS,
        acked_before_kill,
        sent_in,
        drained_in
    );
}

// ------------------------------------------- subscribing on start-up

#[test]
fn public_url_on_localhost_is_refused_at_start_up() {
    let server = TestServer::start(
        options(&repo_root(), None)
            .env("PAYFORMS_PUBLIC_URL", "http://localhost:1")
            .env("STRIPE_SECRET_KEY", "sk_test_never_used"),
    );
    let log = wait_for("the refusal in the log", Duration::from_secs(20), || {
        let log = server.log_text();
        log.contains("PAYFORMS_PUBLIC_URL").then_some(log)
    });
    assert!(
        log.contains("cannot reach") && log.contains("will not subscribe"),
        "{log}"
    );
    let endpoints = graphql(&server, "{ webhookEndpoints { totalCount } }", json!({}));
    assert_eq!(endpoints["webhookEndpoints"]["totalCount"], 0);
}

/// `payforms sandbox` on a free port; killed on Drop.
struct SandboxProcess {
    child: Child,
    base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

const SANDBOX_KEY: &str = "sk_test_webhooks_subscription";

impl SandboxProcess {
    fn start() -> SandboxProcess {
        let dir = tempfile::Builder::new()
            .prefix("payforms-sandbox-")
            .tempdir()
            .expect("temp dir");
        let log = dir.path().join("sandbox.log");
        let port = free_port();
        let out = std::fs::File::create(&log).expect("sandbox log");
        let child = Command::new(payforms_bin())
            .args(["sandbox", "--bind", &format!("127.0.0.1:{port}")])
            .env_remove("STRIPE_SECRET_KEY")
            .env_remove("DATABASE_URL")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start `payforms sandbox`");
        let mut sandbox = SandboxProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let probe = client();
        let url = format!("{}/v1/webhook_endpoints", sandbox.base);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = sandbox.child.try_wait() {
                panic!(
                    "payforms sandbox exited ({status}): {}",
                    std::fs::read_to_string(&sandbox.log).unwrap_or_default()
                );
            }
            if probe.get(&url).bearer_auth(SANDBOX_KEY).send().is_ok() {
                return sandbox;
            }
            assert!(Instant::now() < deadline, "payforms sandbox did not answer on {url}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn endpoints(&self) -> Vec<Value> {
        let response = client()
            .get(format!("{}/v1/webhook_endpoints?limit=100", self.base))
            .bearer_auth(SANDBOX_KEY)
            .send()
            .expect("GET /v1/webhook_endpoints");
        assert_eq!(response.status().as_u16(), 200);
        response.json::<Value>().expect("json")["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn subscription_is_made_once_and_its_secret_is_stored_only_encrypted() {
    let sandbox = SandboxProcess::start();
    let app = copy_app(repo_root());
    let mut server = TestServer::start(
        options(app.path(), None)
            .env("STRIPE_API_BASE", &sandbox.base)
            .env("STRIPE_SECRET_KEY", SANDBOX_KEY)
            .env("PAYFORMS_PUBLIC_URL", "https://shop.example"),
    );
    let fields = "gatewayId url state enabledEvents secretEncrypted";
    let endpoint = wait_for("the webhook endpoint record", Duration::from_secs(30), || {
        records(&server, "webhookEndpoints", fields).into_iter().next()
    });
    assert_eq!(endpoint["url"], "https://shop.example/webhooks/stripe");
    let events = endpoint["enabledEvents"].as_array().cloned().unwrap_or_default();
    assert!(
        events.contains(&json!("payment_intent.succeeded")) && events.contains(&json!("account.updated")),
        "{endpoint}"
    );
    let sealed = endpoint["secretEncrypted"].as_str().unwrap_or_default();
    assert!(
        !sealed.is_empty(),
        "the signing secret is kept (encrypted) so deliveries verify: {endpoint}"
    );
    assert!(!sealed.contains("whsec_"), "{endpoint}");
    assert_eq!(sandbox.endpoints().len(), 1, "{:?}", sandbox.endpoints());

    server.restart();
    wait_for(
        "the restarted server to check its subscription",
        Duration::from_secs(20),
        || server.log_text().matches("AlreadySubscribed").next().map(drop),
    );
    assert_eq!(
        sandbox.endpoints().len(),
        1,
        "not subscribed again: {:?}",
        sandbox.endpoints()
    );
    assert_eq!(records(&server, "webhookEndpoints", fields).len(), 1);

    // A processor added to the app: the endpoint is told, not made again,
    // and its signing secret is kept.
    std::fs::create_dir_all(app.path().join("templates/webhook_processors")).expect("processors folder");
    std::fs::write(
        app.path().join("templates/webhook_processors/price.*.liquid"),
        "{% log object.id %}\n",
    )
    .expect("write a processor");
    server.restart();
    wait_for("the endpoint's events to be updated", Duration::from_secs(20), || {
        server.log_text().contains("EventsUpdated").then_some(())
    });
    let endpoints = sandbox.endpoints();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    let remote_events = endpoints[0]["enabled_events"].as_array().cloned().unwrap_or_default();
    assert!(remote_events.contains(&json!("price.created")), "{endpoints:?}");
    let updated = records(&server, "webhookEndpoints", fields);
    assert_eq!(updated.len(), 1);
    assert!(
        updated[0]["enabledEvents"]
            .as_array()
            .is_some_and(|e| e.contains(&json!("price.updated"))),
        "{updated:?}"
    );
    assert_eq!(
        updated[0]["secretEncrypted"], endpoint["secretEncrypted"],
        "the secret is kept"
    );

    // The signing secret is nowhere in clear: not in records, not in the database file.
    let everything = serde_json::to_string(&records(&server, "webhookEndpoints", fields)).expect("json");
    assert!(!everything.contains("whsec_"), "{everything}");
    server.terminate();
    for entry in std::fs::read_dir(server.dir()).expect("server dir") {
        let path = entry.expect("entry").path();
        if path.to_string_lossy().contains("sqlite") {
            let bytes = std::fs::read(&path).expect("read database file");
            assert!(
                !bytes.windows(6).any(|w| w == b"whsec_"),
                "{} holds a secret in clear",
                path.display()
            );
        }
    }
    assert!(!server.log_text().contains("whsec_"), "the log shows no secret");
}

// ------------------------------------------------ merchant notifications

/// Headers (lower-case names, plus `:request-line`) and body of a received request.
type HttpRequest = (BTreeMap<String, String>, String);

/// A tiny HTTP server: records every request, answers 500 to the first
/// `failures` and 200 afterwards.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<HttpRequest>>>,
}

impl Receiver {
    fn start(failures: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let url = format!("http://{}/payforms-events", listener.local_addr().expect("address"));
        let requests: Arc<Mutex<Vec<HttpRequest>>> = Arc::default();
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Some(request) = read_request(&stream) else { continue };
                let count = {
                    let mut all = seen.lock().expect("lock");
                    all.push(request);
                    all.len()
                };
                let status = if count <= failures {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        Receiver { url, requests }
    }

    fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().expect("lock").clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<HttpRequest> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    headers.insert(":request-line".into(), line.trim_end().to_string());
    Some((headers, String::from_utf8_lossy(&body).into_owned()))
}

/// True when tests/tools/sign_webhook.py accepts `header` for `body`.
fn python_verifies(body: &str, secret: &str, header: &str) -> bool {
    let script = repo_root().join("tests/tools/sign_webhook.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["verify", "--secret", secret, "--header", header])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run sign_webhook.py verify");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write body");
    child.wait().expect("wait").success()
}

#[test]
fn merchant_is_notified_with_a_signed_event_and_failures_are_retried() {
    let merchant_secret = format!("merchant_{}", random_hex(12));
    let receiver = Receiver::start(1);
    let server = TestServer::start(
        options(&repo_root(), None)
            .env("PAYFORMS_MERCHANT_WEBHOOK_URLS", &receiver.url)
            .env("PAYFORMS_MERCHANT_WEBHOOK_SECRET", &merchant_secret),
    );
    let t = now();
    let body = event(
        "evt_merchant",
        "payment_intent.succeeded",
        t,
        payment_intent("pi_merchant", "succeeded"),
    );
    assert_eq!(deliver_signed(&server, &body).0, 200);
    // Not every event concerns the merchant.
    let quiet = event(
        "evt_quiet",
        "customer.created",
        t,
        json!({"id": "cus_quiet", "object": "customer"}),
    );
    assert_eq!(deliver_signed(&server, &quiet).0, 200);

    let requests = wait_for("a failed then a successful delivery", Duration::from_secs(30), || {
        let requests = receiver.requests();
        (requests.len() >= 2).then_some(requests)
    });
    for (headers, body) in &requests[..2] {
        assert!(
            headers[":request-line"].starts_with("POST /payforms-events "),
            "{headers:?}"
        );
        let signature = headers.get("payforms-signature").expect("Payforms-Signature header");
        assert!(
            python_verifies(body, &merchant_secret, signature),
            "signature {signature} over {body}"
        );
        assert!(!python_verifies(body, "some_other_secret", signature));
        let notification: Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(notification["type"], "payment.completed");
        assert_eq!(notification["source_event"], "evt_merchant");
        assert_eq!(notification["data"]["provider_ref"], "pi_merchant");
        assert_eq!(notification["data"]["amount"], 2500);
        assert_eq!(notification["data"]["currency"], "eur");
    }
    assert_eq!(requests[0].1, requests[1].1, "the retry sends the same event");
    let delivery = wait_for(
        "the delivery to be recorded as delivered",
        Duration::from_secs(10),
        || {
            records(
                &server,
                "merchantDeliveries",
                "eventId eventType state attempts responseStatus",
            )
            .into_iter()
            .find(|d| d["state"] == "delivered")
        },
    );
    assert_eq!(delivery["eventId"], "evt_merchant");
    assert_eq!(delivery["eventType"], "payment.completed");
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(delivery["responseStatus"], 200);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        receiver.requests().len(),
        2,
        "delivered once, nothing for customer.created"
    );
}

// ------------------------------------------------ a request-only instance

/// `serve --no-worker` stores events and leaves them for the instances that
/// process (here a second one on the same database file).
#[test]
fn a_no_worker_instance_stores_and_another_processes() {
    let taking = TestServer::start(options(&repo_root(), None).arg("--no-worker"));
    let database = taking.database_url().to_string();
    let body = event(
        "evt_no_worker",
        "customer.created",
        now(),
        json!({"id": "cus_no_worker", "object": "customer", "email": "nw@example.com", "metadata": {}}),
    );
    assert_eq!(deliver_signed(&taking, &body).0, 200);
    std::thread::sleep(Duration::from_millis(1500));
    let stored = stored_event(&taking, "evt_no_worker").expect("stored");
    assert_eq!(stored["status"], "pending", "not processed here");
    assert!(taking.log_text().contains("--no-worker"));

    let mut processing = options(&repo_root(), Some(&database));
    processing.env = taking.options().env.clone();
    let processing = TestServer::start(processing);
    assert_eq!(wait_done(&processing, "evt_no_worker")["status"], "processed");
    assert_eq!(wait_done(&taking, "evt_no_worker")["status"], "processed");
}
