//! modules/stripe's ready-made forms and their partials, rendered by a real
//! payforms server and posted back the way payforms-stripe.js posts them
//! (`Accept: application/json`, the token in `form[source]`).

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod stripe_support;
mod support;

use std::fs;

use serde_json::{json, Value};
use stripe_support::{text, Peer, Sandbox, StripeEnv};
use support::{client, copy_app, form_html, input_values, repo_root, Localstripe, ServerOptions};

/// A page with every ready-made form of the module, so one GET renders all.
const FORMS_PAGE: &str = r#"---
slug: stripe-forms
---
{% parse_json payment %}{ "amount": 599, "currency": "usd", "description": "Sticker pack" }{% endparse_json %}
{% parse_json payment_config %}{ "ask_email": true, "card_label": "Card <b>number</b>" }{% endparse_json %}
{% include_form 'modules/stripe/create_payment_form', data: payment, config: payment_config %}
{% parse_json hostile %}{ "button": "<script>alert(1)</script>", "form_id": "hostile-form" }{% endparse_json %}
{% include_form 'modules/stripe/create_payment_form', data: payment, config: hostile %}
{% include_form 'modules/stripe/create_payment_card_form', data: payment %}
{% parse_json customer %}{ "email": "c@example.com" }{% endparse_json %}
{% parse_json customer_config %}{ "with_card": true }{% endparse_json %}
{% include_form 'modules/stripe/create_customer_form', data: customer, config: customer_config %}
{% parse_json card %}{ "customer_id": "cus_x" }{% endparse_json %}
{% include_form 'modules/stripe/create_credit_card_form', data: card %}
{% parse_json refund %}{ "payment_intent": "pi_x" }{% endparse_json %}
{% parse_json refund_config %}{ "ask_amount": true, "confirm": false }{% endparse_json %}
{% include_form 'modules/stripe/create_refund_form', data: refund, config: refund_config %}
{% parse_json capture %}{ "gateway_id": "pi_x" }{% endparse_json %}
{% include_form 'modules/stripe/capture_payment_form', data: capture %}
{% parse_json checkout %}{ "amount": 599, "currency": "usd", "name": "Sticker pack", "success_url": "http://shop.test/ok", "cancel_url": "http://shop.test/no" }{% endparse_json %}
{% include_form 'modules/stripe/create_checkout_session_form', data: checkout %}
{% parse_json subscription %}{ "customer": "cus_x", "price": "price_x" }{% endparse_json %}
{% include_form 'modules/stripe/create_subscription_form', data: subscription %}
{% parse_json account %}{ "country": "US" }{% endparse_json %}
{% include_form 'modules/stripe/create_account_form', data: account %}
{% parse_json remove %}{ "customer_id": "cus_x", "gateway_id": "card_x" }{% endparse_json %}
{% include_form 'modules/stripe/delete_credit_card_form', data: remove %}
"#;

/// A checkout page like an app would write: one card payment form.
const CHECKOUT_PAGE: &str = r#"---
slug: pay
---
{% parse_json payment %}{ "amount": 599, "currency": "usd" }{% endparse_json %}
{% parse_json payment_config %}{ "redirect_to": "/paid", "form_id": "checkout-form", "token_source": "card" }{% endparse_json %}
{% include_form 'modules/stripe/create_payment_card_form', data: payment, config: payment_config %}
"#;

const CHECKOUT_SESSION_PAGE: &str = r#"---
slug: start-checkout
---
{% parse_json checkout %}{ "amount": 1500, "currency": "usd", "name": "Poster", "success_url": "http://shop.test/ok", "cancel_url": "http://shop.test/no" }{% endparse_json %}
{% parse_json checkout_config %}{ "form_id": "checkout-session-form" }{% endparse_json %}
{% include_form 'modules/stripe/create_checkout_session_form', data: checkout, config: checkout_config %}
"#;

fn env_with_pages(peer: Peer) -> (StripeEnv, tempfile::TempDir) {
    let app = copy_app(repo_root());
    let pages = app.path().join("templates/pages");
    fs::create_dir_all(&pages).unwrap();
    fs::write(pages.join("stripe_forms.liquid"), FORMS_PAGE).unwrap();
    fs::write(pages.join("pay.liquid"), CHECKOUT_PAGE).unwrap();
    fs::write(pages.join("start_checkout.liquid"), CHECKOUT_SESSION_PAGE).unwrap();
    let env = StripeEnv::with_options(peer, ServerOptions::new(app.path()));
    (env, app)
}

fn get_page(http: &reqwest::blocking::Client, env: &StripeEnv, path: &str) -> String {
    let response = http.get(env.server.url(path)).send().expect("GET page");
    let status = response.status();
    let html = response.text().unwrap();
    assert_eq!(
        status,
        200,
        "GET {path}: {html}\n{}",
        stripe_support::tail(&env.server.log_text(), 30)
    );
    html
}

/// Posts the form `id` of `html` with `extra` fields set, as JSON.
fn post_form(
    http: &reqwest::blocking::Client,
    env: &StripeEnv,
    html: &str,
    id: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let form = form_html(html, id).unwrap_or_else(|| panic!("no form #{id} in the page"));
    let action = regex_capture(form, r#"action="([^"]+)""#);
    let mut fields = input_values(form);
    for (name, value) in extra {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = (*value).to_string(),
            None => fields.push(((*name).to_string(), (*value).to_string())),
        }
    }
    let response = http
        .post(env.server.url(&action))
        .header("Accept", "application/json")
        .form(&fields)
        .send()
        .expect("POST form");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn regex_capture(text: &str, pattern: &str) -> String {
    let re = regex::Regex::new(pattern).unwrap();
    re.captures(text)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("{pattern} not found"))
}

#[test]
fn every_form_renders_with_its_partial() {
    let (env, _app) = env_with_pages(Peer::Localstripe(Localstripe::start()));
    let http = client();
    let html = get_page(&http, &env, "/stripe-forms");

    let payment = form_html(&html, "payforms-create-payment").expect("create_payment form");
    // The Payment Element, for the signed amount and currency.
    assert!(payment.contains(r#"id="payment-element""#), "{payment}");
    assert!(payment.contains("data-payforms-payment-element"), "{payment}");
    assert!(
        payment.contains(r#"data-mode="payment" data-amount="599" data-currency="usd""#),
        "{payment}"
    );
    assert!(
        !payment.contains("data-token-source"),
        "no branch on which Stripe.js is loaded"
    );
    assert!(payment.contains(r#"name="form[source]""#));
    assert!(
        payment.contains(r#"name="form[email]""#),
        "ask_email shows the email input"
    );
    assert!(payment.contains("Pay $5.99"), "{payment}");
    assert!(payment.contains(r#"data-confirm-payment="true""#));
    assert!(payment.contains(&format!(r#"data-publishable-key="{}""#, env.peer.publishable_key())));
    assert!(payment.contains(&format!(r#"data-js-url="{}/js.stripe.com/v3/""#, env.peer.base_url())));
    assert!(
        payment.contains("Card &lt;b&gt;number&lt;/b&gt;"),
        "config is escaped: {payment}"
    );
    assert!(payment.contains("/assets/modules/stripe/payforms-stripe.js"));
    assert!(payment.contains(r#"<button type="submit""#));
    assert!(!payment.contains("sk_test"), "no secret key in a page");

    let legacy = form_html(&html, "payforms-create-payment-card").expect("the legacy card form");
    assert!(legacy.contains(r#"id="card-element""#), "{legacy}");
    assert!(legacy.contains("data-payforms-card"), "{legacy}");

    let hostile = form_html(&html, "hostile-form").expect("second payment form");
    assert!(!hostile.contains("<script>alert(1)</script>"), "{hostile}");
    assert!(hostile.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{hostile}");

    let customer = form_html(&html, "payforms-create-customer").expect("create_customer form");
    assert!(
        customer.contains("data-payforms-card"),
        "with_card adds the card element"
    );
    assert!(
        customer.contains(r#"data-token-source="token""#),
        "a saved card needs the token"
    );
    let card = form_html(&html, "payforms-create-credit-card").expect("create_credit_card form");
    assert!(card.contains(r#"data-token-source="token""#));
    assert!(card.contains("Save card"));
    let refund = form_html(&html, "payforms-create-refund").expect("create_refund form");
    assert!(refund.contains(r#"name="form[amount]""#));
    assert!(
        !refund.contains("data-confirm="),
        "confirm: false asks nothing: {refund}"
    );
    let capture = form_html(&html, "payforms-capture-payment").expect("capture_payment form");
    assert!(capture.contains(">Capture<"));
    let checkout = form_html(&html, "payforms-create-checkout-session").expect("checkout form");
    assert!(checkout.contains(r#"data-redirect="record.url""#));
    assert!(checkout.contains("Pay $5.99"));
    let subscription = form_html(&html, "payforms-create-subscription").expect("subscription form");
    assert!(subscription.contains(r#"data-confirm-payment="true""#));
    assert!(form_html(&html, "payforms-create-account").is_some());
    let remove = form_html(&html, "payforms-delete-credit-card").expect("delete_credit_card form");
    assert!(remove.contains(r#"data-confirm="Remove this card?""#));

    let script = http
        .get(env.server.url("/assets/modules/stripe/payforms-stripe.js"))
        .send()
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().unwrap().contains("confirmCardPayment"));
}

#[test]
fn card_payment_form_pays_once() {
    let (env, _app) = env_with_pages(Peer::Localstripe(Localstripe::start()));
    let http = client();
    let html = get_page(&http, &env, "/pay");
    let token = env.card_token("4242424242424242");
    let card_id = text(&token["card"]["id"]);
    let (status, answer) = post_form(&http, &env, &html, "checkout-form", &[("form[source]", &card_id)]);
    assert_eq!(
        status,
        201,
        "{answer}\n{}",
        stripe_support::tail(&env.server.log_text(), 30)
    );
    assert_eq!(answer["redirect_to"], "/paid");
    let record = &answer["record"];
    assert_eq!(record["state"], "succeeded");
    assert_eq!(record["amount"], 599);

    // The same rendered form again (Back button, double click): one charge.
    let (status, again) = post_form(&http, &env, &html, "checkout-form", &[("form[source]", &card_id)]);
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["record"]["gateway_id"], record["gateway_id"]);
    let (_, intents) = env.stripe_get("/v1/payment_intents?limit=100");
    assert_eq!(
        intents["data"].as_array().unwrap().len(),
        1,
        "one PaymentIntent: {intents}"
    );

    // A changed amount is refused before anything is sent.
    let html = get_page(&http, &env, "/pay");
    let (status, refused) = post_form(
        &http,
        &env,
        &html,
        "checkout-form",
        &[("form[amount]", "1"), ("form[source]", &card_id)],
    );
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        env.stripe_get("/v1/payment_intents?limit=100").1["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn declined_card_is_reported_and_the_form_can_be_used_again() {
    let (env, _app) = env_with_pages(Peer::Localstripe(Localstripe::start()));
    let http = client();
    let html = get_page(&http, &env, "/pay");
    // 4000000000000341 is declined when charged (localstripe and Stripe).
    let declined = text(&env.card_token("4000000000000341")["card"]["id"]);
    let (status, answer) = post_form(&http, &env, &html, "checkout-form", &[("form[source]", &declined)]);
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["errors"]["base"], json!(["Your card was declined"]));
    let payments = env.records("payments", "state", json!({}));
    assert!(payments.iter().all(|p| p["state"] != "succeeded"), "{payments:?}");

    // A fresh rendering (what payforms-stripe.js fetches) pays with another card.
    let html = get_page(&http, &env, "/pay");
    let good = text(&env.card_token("4242424242424242")["card"]["id"]);
    let (status, answer) = post_form(&http, &env, &html, "checkout-form", &[("form[source]", &good)]);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["record"]["state"], "succeeded");
}

#[test]
fn checkout_form_stores_the_session_url() {
    let (env, _app) = env_with_pages(Peer::Sandbox(Sandbox::start()));
    let http = client();
    let html = get_page(&http, &env, "/start-checkout");
    let (status, answer) = post_form(&http, &env, &html, "checkout-session-form", &[]);
    assert_eq!(
        status,
        201,
        "{answer}\n{}",
        stripe_support::tail(&env.server.log_text(), 30)
    );
    let record = &answer["record"];
    assert!(text(&record["gateway_id"]).starts_with("cs_"), "{record}");
    assert!(
        text(&record["url"]).starts_with("http"),
        "payforms-stripe.js goes there: {record}"
    );
    assert_eq!(record["amount_total"], 1500);
}
