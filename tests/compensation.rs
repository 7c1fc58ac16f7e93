//! Compensation: when a submission fails after Stripe took or authorized
//! the money, payforms gives it back (refund or cancel) exactly once, says
//! why on the payment record and tells the visitor plainly; also when the
//! server is killed between the charge and the end of the submission.
//!
//! payforms talks to the standalone sandbox (`payforms sandbox`, which
//! outlives a killed server) through tests/support's FaultProxy.

#![cfg(feature = "sandbox")]

mod stripe_support;
mod support;

use std::fs;
use std::time::Duration;

use serde_json::{json, Value};
use stripe_support::{tail, Peer, Sandbox};
use support::{
    client, copy_app, form_html, input_values, random_hex, repo_root, wait_for, FaultProxy, ServerOptions, TestServer,
};

const PAY_PAGE: &str = r#"---
slug: pay
---
{% parse_json payment %}{ "amount": 599, "currency": "usd" }{% endparse_json %}
{% parse_json payment_config %}{ "redirect_to": "/paid", "form_id": "checkout-form" }{% endparse_json %}
{% include_form 'modules/stripe/create_payment_card_form', data: payment, config: payment_config %}
"#;

const AUTHORIZE_PAGE: &str = r#"---
slug: authorize
---
{% parse_json payment %}{ "amount": 1250, "currency": "eur", "capture": false }{% endparse_json %}
{% parse_json payment_config %}{ "redirect_to": "/paid", "form_id": "checkout-form" }{% endparse_json %}
{% include_form 'modules/stripe/create_payment_card_form', data: payment, config: payment_config %}
"#;

/// The shipped mapper's include, then a Liquid error (divided by zero).
const MAPPER_LIQUID_ERROR: &str = "{%- assign new_payment = true -%}{%- include 'modules/stripe/mappers/payment_intent_response' -%}{{ response.body.amount | divided_by: 0 }}";
/// Valid JSON the store refuses (no such property).
const MAPPER_INVALID_RECORD: &str = r#"{ "model": "modules/payments/payment", "operation": "create", "properties": { "gateway_id": {{ response.body.id | json }}, "no_such_property": 1 } }"#;
/// An app's own check after the payment: the order cannot be fulfilled.
const MAPPER_APP_CHECK: &str =
    r#"{%- if response.status < 300 -%}{ "errors": [{ "message": "Sorry, that item just sold out." }] }{%- endif -%}"#;

struct Env {
    // Field order: the server stops before its peers.
    server: TestServer,
    proxy: FaultProxy,
    peer: Peer,
    api_key: String,
    _app: tempfile::TempDir,
}

/// The repository's app with the pay pages, the given create_payment mapper
/// and, when `fast`, create_payment with a short timeout and no retries (so
/// its journal lease ends soon after a kill).
fn start(mapper: Option<&str>, fast: bool) -> Env {
    let app = copy_app(repo_root());
    let pages = app.path().join("templates/pages");
    fs::create_dir_all(&pages).unwrap();
    fs::write(pages.join("pay.liquid"), PAY_PAGE).unwrap();
    fs::write(pages.join("authorize.liquid"), AUTHORIZE_PAGE).unwrap();
    let stripe = app.path().join("modules/stripe");
    if let Some(mapper) = mapper {
        fs::write(
            stripe.join("templates/response_mappers/create_payment.liquid"),
            format!("---\nmap_errors: true\n---\n{mapper}"),
        )
        .unwrap();
    }
    if fast {
        let path = stripe.join("notifications/api_call_notifications/create_payment.liquid");
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("moves_money: true\n"),
            "create_payment declares moves_money"
        );
        fs::write(
            &path,
            text.replacen("moves_money: true\n", "moves_money: true\ntimeout: 3\nretries: 0\n", 1),
        )
        .unwrap();
    }
    let peer = Peer::Sandbox(Sandbox::start());
    let proxy = FaultProxy::start(&peer.base_url());
    let api_key = format!("test-api-{}", random_hex(12));
    let options = ServerOptions::new(app.path())
        .env("STRIPE_API_BASE", proxy.base_url())
        .env("STRIPE_JS_URL", format!("{}/js.stripe.com/v3/", peer.base_url()))
        .env("STRIPE_SECRET_KEY", peer.secret_key())
        .env("STRIPE_PUBLISHABLE_KEY", peer.publishable_key())
        .env("PAYFORMS_API_KEYS", api_key.clone());
    let server = TestServer::start(options);
    Env {
        server,
        proxy,
        peer,
        api_key,
        _app: app,
    }
}

impl Env {
    fn stripe_get(&self, path: &str) -> Value {
        let response = client()
            .get(format!("{}{path}", self.peer.base_url()))
            .bearer_auth(self.peer.secret_key())
            .send()
            .expect("GET from the sandbox");
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().expect("sandbox JSON")
    }

    fn intents(&self) -> Vec<Value> {
        self.stripe_get("/v1/payment_intents?limit=100")["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn refunds(&self, intent: &str) -> Vec<Value> {
        self.stripe_get(&format!("/v1/refunds?payment_intent={intent}&limit=100"))["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The payment records for `gateway_id` (through GraphQL).
    fn payments(&self, gateway_id: &str) -> Vec<Value> {
        let body: Value = client()
            .post(self.server.url("/api/graphql"))
            .bearer_auth(&self.api_key)
            .json(&json!({
                "query": "query($id: String) { payments(first: 10, filter: { gatewayId: { eq: $id } }) { edges { node { gatewayId amount currency compensationState compensationReason } } } }",
                "variables": { "id": gateway_id },
            }))
            .send()
            .expect("POST /api/graphql")
            .json()
            .expect("GraphQL JSON");
        assert!(body.get("errors").is_none(), "{body}");
        body["data"]["payments"]["edges"]
            .as_array()
            .map(|edges| edges.iter().map(|e| e["node"].clone()).collect())
            .unwrap_or_default()
    }

    /// GET `page`, post its checkout form paying with `pm_card_visa`; the
    /// status and the body. `json`: as payforms-stripe.js posts.
    fn pay(&self, page: &str, json: bool) -> (u16, String) {
        let http = client();
        let html = http.get(self.server.url(page)).send().unwrap().text().unwrap();
        let form = form_html(&html, "checkout-form").unwrap_or_else(|| panic!("no checkout form on {page}: {html}"));
        let mut fields = input_values(form);
        match fields.iter_mut().find(|(n, _)| n == "form[source]") {
            Some(field) => field.1 = "pm_card_visa".into(),
            None => fields.push(("form[source]".into(), "pm_card_visa".into())),
        }
        let mut request = http.post(self.server.url(&action_of(form)));
        if json {
            request = request.header("Accept", "application/json");
        }
        let response = request.form(&fields).send().expect("POST the checkout form");
        (response.status().as_u16(), response.text().unwrap_or_default())
    }

    fn log_tail(&self) -> String {
        tail(&self.server.log_text(), 40)
    }
}

/// Pay on `page` from another thread: the server is killed under the
/// request, so no answer is expected.
fn pay_in_background(env: &Env, page: &str) -> std::thread::JoinHandle<()> {
    let url = env.server.url(page);
    let base = env.server.base_url();
    std::thread::spawn(move || {
        let http = client();
        let html = http.get(url).send().unwrap().text().unwrap();
        let form = form_html(&html, "checkout-form").unwrap();
        let form_url = format!("{base}{}", action_of(form));
        let mut fields = input_values(form);
        match fields.iter_mut().find(|(n, _)| n == "form[source]") {
            Some(field) => field.1 = "pm_card_visa".into(),
            None => fields.push(("form[source]".into(), "pm_card_visa".into())),
        }
        let _ = http
            .post(form_url)
            .header("Accept", "application/json")
            .form(&fields)
            .send();
    })
}

/// The form's `action` path.
fn action_of(form: &str) -> String {
    let start = form.find("action=\"").expect("the form has an action") + "action=\"".len();
    let end = form[start..].find('"').expect("a closed action") + start;
    form[start..end].replace("&#x2F;", "/").replace("&#47;", "/")
}

/// The one PaymentIntent at the sandbox.
fn only_intent(env: &Env) -> Value {
    let intents = env.intents();
    assert_eq!(intents.len(), 1, "one PaymentIntent: {intents:?}\n{}", env.log_tail());
    intents[0].clone()
}

#[test]
fn a_mapper_error_after_the_charge_refunds_it() {
    let env = start(Some(MAPPER_LIQUID_ERROR), false);
    let (status, page) = env.pay("/pay", false);
    assert_eq!(status, 422, "{page}\n{}", env.log_tail());
    assert!(page.contains("no charge was kept"), "{page}");
    assert!(
        !page.contains(".liquid") && !page.contains("divided"),
        "no internals: {page}"
    );

    let intent = only_intent(&env);
    assert_eq!(intent["status"], "succeeded");
    let id = intent["id"].as_str().unwrap();
    let refunds = env.refunds(id);
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount"], 599);
    assert_eq!(refunds[0]["status"], "succeeded");
    // Sent by payforms' compensation (through modules/stripe/create_refund).
    assert!(
        refunds[0]["metadata"]["payforms_compensates"].is_string(),
        "{refunds:?}"
    );

    let payments = env.payments(id);
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["compensationState"], "refunded");
    let reason = payments[0]["compensationReason"].as_str().unwrap_or_default();
    assert!(reason.contains("could not be mapped"), "{reason}");

    // The background loop finds nothing left to do: still one refund.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(env.refunds(id).len(), 1);
}

#[test]
fn an_invalid_record_after_an_authorization_cancels_it() {
    let env = start(Some(MAPPER_INVALID_RECORD), false);
    let (status, body) = env.pay("/authorize", true);
    assert_eq!(status, 422, "{body}\n{}", env.log_tail());
    let answer: Value = serde_json::from_str(&body).unwrap();
    let message = answer["errors"]["base"][0].as_str().unwrap_or_default();
    assert!(message.contains("no charge was kept"), "{answer}");

    let intent = only_intent(&env);
    assert_eq!(intent["status"], "canceled", "{intent}");
    assert_eq!(intent["amount"], 1250);
    let id = intent["id"].as_str().unwrap();
    // Canceling releases the authorization (Stripe may show that as a
    // refund of the uncaptured charge); payforms itself refunded nothing.
    let refunds = env.refunds(id);
    assert!(
        refunds.iter().all(|r| r["metadata"]["payforms_compensates"].is_null()),
        "{refunds:?}"
    );
    let payments = env.payments(id);
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["compensationState"], "canceled");
    assert_eq!(payments[0]["currency"], "eur");
}

#[test]
fn an_app_check_after_the_charge_refunds_it() {
    let env = start(Some(MAPPER_APP_CHECK), false);
    let (status, body) = env.pay("/pay", true);
    assert_eq!(status, 422, "{body}\n{}", env.log_tail());
    assert!(body.contains("no charge was kept"), "{body}");
    let intent = only_intent(&env);
    let id = intent["id"].as_str().unwrap();
    assert_eq!(env.refunds(id).len(), 1);
    let payments = env.payments(id);
    assert_eq!(payments[0]["compensationState"], "refunded");
    assert!(
        payments[0]["compensationReason"]
            .as_str()
            .unwrap_or_default()
            .contains("sold out"),
        "{payments:?}"
    );
}

#[test]
fn a_successful_payment_is_kept() {
    let env = start(None, false);
    let (status, body) = env.pay("/pay", true);
    assert_eq!(status, 201, "{body}\n{}", env.log_tail());
    let intent = only_intent(&env);
    let id = intent["id"].as_str().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(env.refunds(id).is_empty());
    let payments = env.payments(id);
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["compensationState"], Value::Null);
}

#[test]
fn a_charge_whose_server_was_killed_is_refunded_once_after_restart() {
    let mut env = start(None, true);
    env.proxy.hold_charges(true);
    let paying = pay_in_background(&env, "/pay");
    // The charge was made at the sandbox; payforms is waiting for its answer.
    let intent = env.proxy.wait_held(Duration::from_secs(30));
    env.server.kill9();
    let _ = paying.join();
    let id = intent["id"].as_str().expect("the held PaymentIntent").to_string();
    assert_eq!(intent["status"], "succeeded");
    assert!(env.refunds(&id).is_empty(), "nothing given back before the restart");

    env.proxy.hold_charges(false);
    env.server.restart();
    // Once the dead submission's lease ends, the restarted server resends
    // the charge with its key (replayed: no second charge) and refunds it.
    let refunds = wait_for("the refund after the restart", Duration::from_secs(90), || {
        let refunds = env.refunds(&id);
        (!refunds.is_empty()).then_some(refunds)
    });
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount"], 599);
    assert_eq!(env.intents().len(), 1, "the resend made no second PaymentIntent");
    let payment = wait_for("the payment record", Duration::from_secs(10), || {
        env.payments(&id)
            .into_iter()
            .find(|p| p["compensationState"] == "refunded")
    });
    assert!(
        payment["compensationReason"]
            .as_str()
            .unwrap_or_default()
            .contains("did not finish"),
        "{payment}"
    );

    // Restarted again (and given time): still one refund.
    env.server.restart();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(env.refunds(&id).len(), 1, "{}", env.log_tail());
}

#[test]
fn an_authorization_captured_elsewhere_while_the_server_was_down_is_refunded_not_canceled() {
    let mut env = start(None, true);
    env.proxy.hold_charges(true);
    let paying = pay_in_background(&env, "/authorize");
    let intent = env.proxy.wait_held(Duration::from_secs(30));
    env.server.kill9();
    let _ = paying.join();
    let id = intent["id"].as_str().expect("the held PaymentIntent").to_string();
    assert_eq!(intent["status"], "requires_capture");
    // Captured at Stripe meanwhile (an operator, another system): the
    // replayed first answer still says requires_capture.
    let captured: Value = client()
        .post(format!("{}/v1/payment_intents/{id}/capture", env.peer.base_url()))
        .bearer_auth(env.peer.secret_key())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(captured["status"], "succeeded", "{captured}");

    env.proxy.hold_charges(false);
    env.server.restart();
    let refunds = wait_for("the refund after the restart", Duration::from_secs(90), || {
        let refunds = env.refunds(&id);
        (!refunds.is_empty()).then_some(refunds)
    });
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount"], 1250);
    let payment = wait_for("the payment record", Duration::from_secs(10), || {
        env.payments(&id)
            .into_iter()
            .find(|p| p["compensationState"] == "refunded")
    });
    assert_eq!(payment["compensationState"], "refunded", "{payment}");
}
