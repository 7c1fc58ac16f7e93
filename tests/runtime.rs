//! The app runtime end to end: pages, forms (signed state, CSRF, validation,
//! idempotency), `payforms check`, hot reload. Each test starts the real
//! server on a free port and talks HTTP to it.

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod support;

use std::fs;
use std::process::Command;
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::{
    client, copy_app, form_html, input_values, payforms_bin, repo_root, wait_for, ServerOptions, TestServer,
};

const API_KEY: &str = "runtime-test-key";

/// The demo app's checkout charges through modules/stripe/create_payment, so
/// these tests run against the built-in Stripe sandbox.
fn start(app: &std::path::Path) -> TestServer {
    TestServer::start(
        ServerOptions::new(app)
            .env("PAYFORMS_API_KEYS", API_KEY)
            .arg("--sandbox"),
    )
}

fn graphql(server: &TestServer, query: &str) -> Value {
    let response = client()
        .post(server.url("/api/graphql"))
        .bearer_auth(API_KEY)
        .json(&json!({ "query": query }))
        .send()
        .expect("graphql request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().expect("graphql json");
    assert!(body.get("errors").is_none(), "graphql errors: {body}");
    body
}

fn payment_count(server: &TestServer) -> i64 {
    graphql(server, "{ payments { totalCount } }")["data"]["payments"]["totalCount"]
        .as_i64()
        .expect("totalCount")
}

/// Buy on /checkout and return the payment form's inputs on /pay.
fn checkout_form(http: &Client, server: &TestServer) -> Vec<(String, String)> {
    let html = support::buy_and_open_pay_page(http, server);
    let form = form_html(&html, "checkout-form").expect("the checkout form is on the page");
    assert!(form.contains(r#"action="/forms/simple_payment_form""#), "{form}");
    input_values(form)
}

fn set(fields: &mut [(String, String)], name: &str, value: &str) {
    for (n, v) in fields.iter_mut() {
        if n == name {
            *v = value.to_string();
        }
    }
}

fn post_form(http: &Client, server: &TestServer, fields: &[(String, String)]) -> reqwest::blocking::Response {
    http.post(server.url("/forms/simple_payment_form"))
        .form(fields)
        .send()
        .expect("POST form")
}

#[test]
fn pages_are_served_with_layout_and_404() {
    let server = start(&repo_root());
    let http = client();
    let index = http.get(server.url("/")).send().unwrap();
    assert_eq!(index.status(), 200);
    let html = index.text().unwrap();
    assert!(
        html.contains("payforms demo shop") && html.contains(r#"href="/checkout""#),
        "{html}"
    );
    assert!(
        html.contains("/assets/app.css?v="),
        "layout links the versioned asset: {html}"
    );
    let checkout = http.get(server.url("/checkout")).send().unwrap().text().unwrap();
    assert!(
        checkout.contains("$5.99"),
        "pricify_cents renders the price: {checkout}"
    );
    let payments = http.get(server.url("/payments")).send().unwrap();
    assert_eq!(payments.status(), 200);
    assert!(payments.text().unwrap().contains("Your receipts"));
    let missing = http.get(server.url("/no/such/page")).send().unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().unwrap().contains("Page not found"));
    let css = http.get(server.url("/assets/app.css")).send().unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    let health = http.get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.json::<Value>().unwrap()["database"], "ok");
}

#[test]
fn valid_post_stores_one_record_and_redirects_with_flash() {
    let server = start(&repo_root());
    let http = client();
    let mut fields = checkout_form(&http, &server);
    set(&mut fields, "form[email]", "buyer@example.com");
    // What Stripe.js would post for a Visa card.
    set(&mut fields, "form[source]", "tok_visa");
    let response = post_form(&http, &server, &fields);
    assert_eq!(response.status(), 303, "{}", response.text().unwrap_or_default());
    assert_eq!(response.headers()["location"], "/payments");
    assert_eq!(payment_count(&server), 1);

    let payments = http.get(server.url("/payments")).send().unwrap().text().unwrap();
    assert!(
        payments.contains("Payment successful!"),
        "flash notice shown once: {payments}"
    );
    assert!(payments.contains("$5.99"), "{payments}");
    let again = http.get(server.url("/payments")).send().unwrap().text().unwrap();
    assert!(!again.contains("Payment successful!"), "flash is consumed");

    // The same rendered form posted again (back button, double click) has one effect.
    let replay = post_form(&http, &server, &fields);
    assert_eq!(replay.status(), 303);
    assert_eq!(payment_count(&server), 1);

    let stored = graphql(
        &server,
        "{ payments(first: 1) { edges { node { amount currency state description } } } }",
    );
    let node = &stored["data"]["payments"]["edges"][0]["node"];
    assert_eq!(node["amount"], 599);
    assert_eq!(node["currency"], "usd");
}

#[test]
fn changed_hidden_amount_is_rejected_and_nothing_is_stored() {
    let server = start(&repo_root());
    let http = client();
    // The amount is signed into the page; a visitor who adds or changes it
    // (devtools, a crafted post) is refused.
    let mut fields = checkout_form(&http, &server);
    fields.retain(|(name, _)| name != "form[amount]");
    fields.push(("form[amount]".into(), "1".into()));
    set(&mut fields, "form[source]", "tok_visa");
    let response = post_form(&http, &server, &fields);
    assert_eq!(response.status(), 422);
    let body = response.text().unwrap();
    assert!(body.contains("amount") && body.contains("changed"), "{body}");

    // A forged signed state is rejected as well.
    let mut fields = checkout_form(&http, &server);
    set(&mut fields, "form[source]", "tok_visa");
    for (name, value) in fields.iter_mut() {
        if name == "payforms_state" {
            value.replace_range(10..12, "AA");
        }
    }
    let response = post_form(&http, &server, &fields);
    assert_eq!(response.status(), 422);
    assert_eq!(payment_count(&server), 0);
}

#[test]
fn posts_without_csrf_token_or_from_another_site_are_rejected() {
    let server = start(&repo_root());
    let http = client();
    let fields: Vec<(String, String)> = checkout_form(&http, &server)
        .into_iter()
        .filter(|(name, _)| name != "authenticity_token")
        .collect();
    let response = post_form(&http, &server, &fields);
    assert_eq!(response.status(), 403);

    let fields = checkout_form(&http, &server);
    let cross_site = http
        .post(server.url("/forms/simple_payment_form"))
        .header("Origin", "https://evil.example")
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(cross_site.status(), 403);

    // A token from another visitor (another browser) does not fit this one.
    let stranger = client();
    let response = post_form(&stranger, &server, &fields);
    assert_eq!(response.status(), 403);
    assert_eq!(payment_count(&server), 0);
}

/// An app with a plain sign-up form (no gateway): editable, validated fields.
fn newsletter_app() -> tempfile::TempDir {
    let app = copy_app(repo_root());
    fs::write(
        app.path().join("form_configurations/newsletter_form.liquid"),
        r#"---
name: newsletter_form
resource: modules/payments/customer
fields:
  email:
    editable: true
    validation: { presence: true, email: true }
  name:
    editable: true
    validation: { length: { maximum: 20 } }
redirect_to: /newsletter
flash_notice: Subscribed!
flash_alert: Please fix validation errors
---
{% form id: 'newsletter' %}
  <input name="{{ form_builder.fields.email.name }}" value="{{ form_builder.fields.email.value }}">
  {% if form_builder.errors.email %}<p class="field-error">{{ form_builder.errors.email }}</p>{% endif %}
  <input name="{{ form_builder.fields.name.name }}" value="{{ form_builder.fields.name.value }}">
  {% if form_builder.errors.name %}<p class="field-error">{{ form_builder.errors.name }}</p>{% endif %}
{% endform %}
"#,
    )
    .unwrap();
    fs::write(
        app.path().join("templates/pages/newsletter.liquid"),
        "<h1>Newsletter</h1>\n{% include_form 'newsletter_form' %}\n",
    )
    .unwrap();
    app
}

fn customer_count(server: &TestServer) -> i64 {
    graphql(server, "{ customers { totalCount } }")["data"]["customers"]["totalCount"]
        .as_i64()
        .expect("totalCount")
}

#[test]
fn validation_errors_show_the_form_again_with_values_and_messages() {
    let app = newsletter_app();
    let server = start(app.path());
    let http = client();
    let page = http.get(server.url("/newsletter")).send().unwrap().text().unwrap();
    let mut fields = input_values(form_html(&page, "newsletter").expect("the form"));
    set(&mut fields, "form[email]", "<b>not-an-email");
    set(&mut fields, "form[name]", "a name that is far too long");
    let response = http
        .post(server.url("/forms/newsletter_form"))
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().unwrap();
    assert!(html.contains("Please fix validation errors"), "flash_alert: {html}");
    assert!(html.contains("Email is not a valid email"), "field message: {html}");
    assert!(
        html.contains("Name is too long (maximum is 20 characters)"),
        "field message: {html}"
    );
    assert!(
        html.contains(r#"value="&lt;b&gt;not-an-email""#),
        "the entered value, escaped: {html}"
    );
    assert!(!html.contains("<b>not-an-email"), "no markup injection");

    let json_response = http
        .post(server.url("/forms/newsletter_form"))
        .header("Accept", "application/json")
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(json_response.status(), 422);
    let body: Value = json_response.json().unwrap();
    assert_eq!(body["errors"]["email"][0], "is not a valid email");
    assert_eq!(customer_count(&server), 0, "nothing stored");

    // Fixed values go through and store one record.
    set(&mut fields, "form[email]", "reader@example.com");
    set(&mut fields, "form[name]", "Zoë");
    let ok = http
        .post(server.url("/forms/newsletter_form"))
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(ok.status(), 303);
    assert_eq!(customer_count(&server), 1);
    let stored = graphql(&server, "{ customers(first: 1) { edges { node { email name } } } }");
    assert_eq!(stored["data"]["customers"]["edges"][0]["node"]["name"], "Zoë");
}

#[test]
fn check_passes_on_the_demo_and_lists_every_problem_of_a_broken_app() {
    let ok = Command::new(payforms_bin())
        .args(["check", "--app"])
        .arg(repo_root())
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));

    let app = copy_app(repo_root());
    fs::write(
        app.path().join("templates/pages/broken.liquid"),
        "<p>\n{% if %}\n</p>\n",
    )
    .unwrap();
    fs::write(
        app.path().join("form_configurations/bad_form.liquid"),
        "---\nname: bad_form\nresource: modules/payments/payment\nbogus_key: 1\n---\n<p></p>\n",
    )
    .unwrap();
    fs::write(
        app.path().join("templates/pages/bad_front_matter.liquid"),
        "---\nslug: x\nmethod: [1, 2]\n---\nbody\n",
    )
    .unwrap();
    let out = Command::new(payforms_bin())
        .args(["check", "--app"])
        .arg(app.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("templates/pages/broken.liquid:2:"), "{stdout}");
    assert!(
        stdout.contains("form_configurations/bad_form.liquid:4:") && stdout.contains("bogus_key"),
        "{stdout}"
    );
    assert!(
        stdout.contains("templates/pages/bad_front_matter.liquid:3:"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().filter(|l| l.contains(".liquid:")).count(), 3, "{stdout}");
}

#[test]
fn edited_page_is_served_on_the_next_request_and_a_broken_edit_keeps_the_old_one() {
    let app = copy_app(repo_root());
    let server = TestServer::start(ServerOptions::new(app.path()).watch(true).arg("--sandbox"));
    let http = client();
    let page = app.path().join("templates/pages/hello.liquid");
    fs::write(&page, "<p>version one</p>\n").unwrap();
    let fetch = |path: &str| {
        http.get(server.url(path))
            .send()
            .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
    };
    wait_for("the new page to be served", Duration::from_secs(10), || {
        fetch("/hello")
            .ok()
            .filter(|(s, b)| *s == 200 && b.contains("version one"))
    });
    fs::write(&page, "<p>version two</p>\n").unwrap();
    wait_for("the edit to be served", Duration::from_secs(10), || {
        fetch("/hello").ok().filter(|(_, b)| b.contains("version two"))
    });
    fs::write(&page, "<p>version three {% if %}</p>\n").unwrap();
    wait_for("the broken edit to be reported", Duration::from_secs(10), || {
        server
            .log_text()
            .contains("templates/pages/hello.liquid:1:")
            .then_some(())
    });
    let (status, body) = fetch("/hello").unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("version two"),
        "the last good version keeps serving: {body}"
    );
    fs::remove_file(&page).unwrap();
    wait_for("the deleted page to be gone", Duration::from_secs(10), || {
        fetch("/hello").ok().filter(|(s, _)| *s == 404)
    });
}

#[test]
fn template_output_cannot_inject_markup() {
    let app = copy_app(repo_root());
    fs::write(
        app.path().join("templates/pages/echo.liquid"),
        "<p id=q>{{ context.params.q }}</p><p id=safe>{{ '<i>ok</i>' | html_safe }}</p>",
    )
    .unwrap();
    let server = TestServer::start(ServerOptions::new(app.path()).arg("--sandbox"));
    let html = client()
        .get(server.url("/echo?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("<i>ok</i>"), "html_safe is not escaped: {html}");
}

#[test]
fn fifty_concurrent_form_posts_on_sqlite_all_land_once() {
    let app = newsletter_app();
    let server = std::sync::Arc::new(start(app.path()));
    let posts: Vec<_> = (0..50)
        .map(|i| {
            let server = server.clone();
            std::thread::spawn(move || {
                let http = client();
                let page = http.get(server.url("/newsletter")).send().unwrap().text().unwrap();
                let mut fields = input_values(form_html(&page, "newsletter").unwrap());
                set(&mut fields, "form[email]", &format!("reader{i}@example.com"));
                http.post(server.url("/forms/newsletter_form"))
                    .form(&fields)
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let statuses: Vec<u16> = posts.into_iter().map(|p| p.join().unwrap()).collect();
    let stored = statuses.iter().filter(|s| **s == 303).count();
    assert!(
        statuses.iter().all(|s| *s == 303 || *s >= 400),
        "every post gets an answer: {statuses:?}"
    );
    assert_eq!(stored, 50, "all succeed: {statuses:?}");
    assert_eq!(customer_count(&server), stored as i64, "none lost, none doubled");
}

#[test]
fn check_reports_graphql_naming_clashes_as_serve_would() {
    let app = copy_app(repo_root());
    fs::write(
        {
            fs::create_dir_all(app.path().join("schema")).unwrap();
            app.path().join("schema/page_info.yml")
        },
        "name: page_info\nproperties:\n  - { name: title, type: string }\n",
    )
    .unwrap();
    let out = Command::new(payforms_bin())
        .args(["check", "--app"])
        .arg(app.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("schema/page_info.yml:1:") && stdout.contains("PageInfo"),
        "{stdout}"
    );
}

#[test]
fn seed_config_options_button_modal_and_require_zip_reach_the_card_form() {
    let app = copy_app(repo_root());
    fs::write(
        app.path().join("templates/pages/modal.liquid"),
        "{% parse_json d %}{ \"amount\": 100, \"currency\": \"eur\" }{% endparse_json %}\
         {% parse_json c %}{ \"button_modal\": \"Pay now\", \"require_zip\": true }{% endparse_json %}\
         {% include_form 'modules/stripe/create_payment_form', data: d, config: c %}",
    )
    .unwrap();
    let server = TestServer::start(ServerOptions::new(app.path()).arg("--sandbox"));
    let html = client().get(server.url("/modal")).send().unwrap().text().unwrap();
    assert!(html.contains(">Pay now</button>"), "{html}");
    assert!(html.contains(r#"data-require-zip="true""#), "{html}");
}

/// The order number on a /pay page.
fn order_id(pay_page: &str) -> String {
    let at = pay_page.find("Order #").expect("the order number on /pay") + "Order #".len();
    pay_page[at..].chars().take_while(char::is_ascii_digit).collect()
}

fn pay_form_fields(http: &Client, server: &TestServer, order: &str) -> Vec<(String, String)> {
    let html = http
        .get(server.url(&format!("/pay?order={order}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    input_values(form_html(&html, "checkout-form").expect("the payment form on /pay"))
}

fn succeeded_payments(server: &TestServer) -> usize {
    graphql(server, "{ payments(first: 50) { nodes { state } } }")["data"]["payments"]["nodes"]
        .as_array()
        .map(|nodes| nodes.iter().filter(|n| n["state"] == "succeeded").count())
        .unwrap_or(0)
}

#[test]
fn an_order_is_paid_once_however_often_its_page_is_rendered() {
    let server = start(&repo_root());
    let http = client();
    let order = order_id(&support::buy_and_open_pay_page(&http, &server));
    let pay = |fields: Vec<(String, String)>, source: &str| {
        let mut fields = fields;
        set(&mut fields, "form[source]", source);
        http.post(server.url("/forms/simple_payment_form"))
            .header("Accept", "application/json")
            .form(&fields)
            .send()
            .unwrap()
    };
    // A declined card leaves the order open; the next card pays it.
    let declined = pay(pay_form_fields(&http, &server, &order), "tok_chargeDeclined");
    assert_eq!(declined.status(), 422);
    // Two renders of the order's page before it is paid (two tabs, or a
    // page the browser kept), and one more for the no-JavaScript post.
    let first_render = pay_form_fields(&http, &server, &order);
    let second_render = pay_form_fields(&http, &server, &order);
    let third_render = pay_form_fields(&http, &server, &order);
    let paid = pay(first_render.clone(), "tok_visa");
    assert!(paid.status().is_success(), "{}", paid.text().unwrap_or_default());
    assert_eq!(succeeded_payments(&server), 1);

    // The other render of the same order, another card: refused as
    // already paid, nothing charged.
    let again = pay(second_render, "tok_mastercard");
    assert_eq!(again.status(), 409);
    let body: Value = again.json().unwrap();
    assert_eq!(body["error"]["code"], "already_done");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("already paid"),
        "{body}"
    );
    // The very same post again is answered as the first time.
    let replay = pay(first_render, "tok_visa");
    assert!(replay.status().is_success(), "{}", replay.status());
    assert_eq!(succeeded_payments(&server), 1, "one order, one charge");

    // Without JavaScript the refusal is a page.
    let mut fields = third_render;
    set(&mut fields, "form[source]", "tok_amex");
    let page = http
        .post(server.url("/forms/simple_payment_form"))
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(page.status(), 409);
    assert!(page.text().unwrap().contains("already paid"));

    // Rendered now, the order's page says it is paid and has no form.
    let html = http
        .get(server.url(&format!("/pay?order={order}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(html.contains("This order is paid"), "{html}");
    assert!(form_html(&html, "checkout-form").is_none());

    // Another order is another payment.
    let second = order_id(&support::buy_and_open_pay_page(&http, &server));
    assert_ne!(second, order);
    assert!(pay(pay_form_fields(&http, &server, &second), "tok_visa")
        .status()
        .is_success());
    assert_eq!(succeeded_payments(&server), 2);
}

#[test]
fn an_order_is_only_its_buyers_and_unknown_orders_are_no_error() {
    let server = start(&repo_root());
    let buyer = client();
    let order = order_id(&support::buy_and_open_pay_page(&buyer, &server));
    // Another visitor (another cookie jar) sees no order, and no form.
    let stranger = client();
    let page = stranger.get(server.url(&format!("/pay?order={order}"))).send().unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    assert!(
        html.contains("No such order") && form_html(&html, "checkout-form").is_none(),
        "{html}"
    );
    for id in ["999999", "0"] {
        let page = buyer.get(server.url(&format!("/pay?order={id}"))).send().unwrap();
        assert_eq!(page.status(), 200, "order {id}");
        assert!(page.text().unwrap().contains("No such order"));
    }
    let odd = buyer.get(server.url("/pay?order=abc")).send().unwrap();
    assert_eq!(odd.status(), 400);
    // Only what Stripe.js makes pays, never a saved card's id.
    let mut fields = pay_form_fields(&buyer, &server, &order);
    set(&mut fields, "form[source]", "pm_card_visa");
    let refused = buyer
        .post(server.url("/forms/simple_payment_form"))
        .header("Accept", "application/json")
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 422);
    assert_eq!(succeeded_payments(&server), 0);
}

/// The hidden inputs of every form in `html`, by form id then input name.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    input_values(html)
        .into_iter()
        .filter(|(name, _)| ["authenticity_token", "payforms_state", "idempotency_key"].contains(&name.as_str()))
        .collect()
}

/// /checkout reads nothing of the request, so its text is rendered once per
/// app version; each request still gets its own CSRF token, sealed state
/// and idempotency key, posts work, a hot reload shows the new text, and a
/// page that reads the request is rendered for each.
#[test]
fn a_page_the_same_for_everyone_is_rendered_once_and_its_forms_per_request() {
    let app = copy_app(repo_root());
    fs::write(
        app.path().join("templates/pages/echo.liquid"),
        "<p id=q>{{ context.params.q }}</p>",
    )
    .unwrap();
    let server = TestServer::start(
        ServerOptions::new(app.path())
            .env("PAYFORMS_API_KEYS", API_KEY)
            .arg("--sandbox")
            .watch(true),
    );
    let (ana, ben) = (client(), client());
    let page = |http: &Client| http.get(server.url("/checkout")).send().unwrap().text().unwrap();
    let (first, second, other) = (page(&ana), page(&ana), page(&ben));
    let strip = |html: &str| {
        let mut text = html.to_string();
        for (_, value) in hidden_inputs(html) {
            text = text.replace(&value, "");
        }
        text
    };
    assert_eq!(strip(&first), strip(&second), "the same text around the forms");
    assert_eq!(strip(&first), strip(&other));
    let (a1, a2, b) = (hidden_inputs(&first), hidden_inputs(&second), hidden_inputs(&other));
    assert_eq!(a1.len(), 6, "two forms, three hidden inputs each: {a1:?}");
    for i in 0..a1.len() {
        match a1[i].0.as_str() {
            // The visitor's token: the same on both of Ana's pages, not Ben's.
            "authenticity_token" => {
                assert_eq!(a1[i].1, a2[i].1);
                assert_ne!(a1[i].1, b[i].1);
            }
            _ => assert_ne!(a1[i].1, a2[i].1, "{} is fresh per request", a1[i].0),
        }
    }
    // Ana's and Ben's Buy forms each make their own order.
    for (http, html) in [(&ana, &second), (&ben, &other)] {
        let buy = form_html(html, "buy-form").expect("buy form");
        let answer = http
            .post(server.url("/forms/create_order_form"))
            .form(&input_values(buy))
            .send()
            .unwrap();
        assert_eq!(answer.status(), 303);
        let location = answer.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/pay?order="), "{location}");
    }
    // A changed page is rendered anew (a new app version, a new skeleton).
    let checkout = app.path().join("templates/pages/checkout.liquid");
    let text = fs::read_to_string(&checkout).unwrap();
    fs::write(&checkout, text.replace("Sticker pack", "Badge pack")).unwrap();
    wait_for("the edited page", Duration::from_secs(20), || {
        page(&ana).contains("Badge pack").then_some(())
    });
    // A page that reads the request shows each request's value.
    for q in ["one", "two"] {
        let html = ana
            .get(server.url(&format!("/echo?q={q}")))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(html.contains(&format!("<p id=q>{q}</p>")), "{html}");
    }
}

/// The README runs `payforms serve --sandbox` inside the app folder, so the
/// app is the relative `.`: hot reload must see edits then too (it did
/// not: file events carry absolute paths).
#[test]
fn hot_reload_works_when_the_app_folder_is_given_as_a_relative_path() {
    let app = copy_app(repo_root());
    let name = app.path().file_name().expect("the app's folder name").to_owned();
    let relative = std::path::PathBuf::from("..").join(name);
    let server = TestServer::start(ServerOptions::new(&relative).arg("--sandbox").watch(true));
    assert_eq!(
        server.dir().parent(),
        app.path().parent(),
        "the server runs beside the app, so `{}` names it",
        relative.display()
    );
    let page = app.path().join("templates/pages/relative_reload.liquid");
    fs::write(&page, "---\nslug: relative-reload\n---\n<p id=v>one</p>").unwrap();
    let read = || {
        client()
            .get(server.url("/relative-reload"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    wait_for("the new page", Duration::from_secs(10), || {
        read().contains("<p id=v>one</p>").then_some(())
    });
    fs::write(&page, "---\nslug: relative-reload\n---\n<p id=v>two</p>").unwrap();
    wait_for("the edited page", Duration::from_secs(10), || {
        read().contains("<p id=v>two</p>").then_some(())
    });
}
