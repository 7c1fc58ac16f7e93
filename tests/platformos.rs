//! platformOS apps run as they are written: an app in platformOS's folders
//! (`tests/fixtures/platformos_app`, written for these tests) with
//! platformOS's front matter keys, the seed 000 guide's payment form and
//! payments list, served by the README's own command (`serve --sandbox`)
//! over HTTP.

#![cfg(feature = "sandbox")]

mod support;

use std::path::Path;
use std::process::Command;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::{client, form_html, graphql_as, input_values, repo_root, wait_for, ServerOptions, TestServer};
use tempfile::TempDir;

const API_KEY: &str = "pos-test-key-0123456789abcdef";

/// The fixture app, with the repository's `modules/payments` and
/// `modules/stripe` beside its own `modules/shop`.
fn fixture_app() -> TempDir {
    let dir = tempfile::Builder::new().prefix("payforms-pos-").tempdir().unwrap();
    copy_tree(&repo_root().join("tests/fixtures/platformos_app"), dir.path());
    for module in ["payments", "stripe"] {
        copy_tree(
            &repo_root().join("modules").join(module),
            &dir.path().join("modules").join(module),
        );
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

fn start(app: &Path) -> TestServer {
    TestServer::start(
        ServerOptions::new(app)
            .arg("--sandbox")
            .env("PAYFORMS_API_KEYS", API_KEY),
    )
}

fn graphql(server: &TestServer, query: &str) -> Value {
    graphql_as(server, API_KEY, query)
}

fn page(http: &Client, server: &TestServer, path: &str) -> (u16, String) {
    let answer = http.get(server.url(path)).send().unwrap();
    (answer.status().as_u16(), answer.text().unwrap())
}

/// This browser's CSRF token, printed by the fixture's home page.
fn csrf_token(http: &Client, server: &TestServer) -> String {
    let (_, home) = page(http, server, "/");
    let start = home.find("<p id=\"csrf\">").expect("the token paragraph") + "<p id=\"csrf\">".len();
    home[start..].split('<').next().unwrap_or_default().to_string()
}

#[test]
fn check_loads_the_platformos_layout_with_warnings_for_what_payforms_does_not_implement() {
    let app = fixture_app();
    let output = Command::new(env!("CARGO_BIN_EXE_payforms"))
        .args(["check", "--app"])
        .arg(app.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for warning in [
        "warning: app/views/pages/index.liquid:5: `searchable` is a platformOS key payforms does not implement",
        "warning: app/views/pages/index.liquid:6: `response_headers` is a platformOS key",
        "warning: modules/shop/public/notifications/api_call_notifications/create_customer.liquid:7: `delay`",
        "warning: app/custom_model_types/ticket.yml:9: property `code` is defined twice alike (first at line 4); the first is used",
        "warning: app/custom_model_types/ticket.yml:12: property `livemode` is a column every record already has",
        "warning: modules/shop/private/migrations:1: platformOS migrations are not run by payforms",
    ] {
        assert!(stdout.contains(warning), "missing `{warning}` in:\n{stdout}");
    }
    assert!(stdout.contains("ok: "), "{stdout}");
}

#[test]
fn pages_partials_layouts_and_models_in_platformos_folders_serve() {
    let app = fixture_app();
    let server = start(app.path());
    let http = client();

    let (status, home) = page(&http, &server, "/");
    assert_eq!(status, 200, "{home}");
    assert!(
        home.contains("class=\"plain-layout\""),
        "layout_name picks the layout: {home}"
    );
    assert!(home.contains("Hello, Ada, from app/views/partials."), "{home}");
    assert!(home.contains("module partial from modules/shop/public"), "{home}");
    // app/translations and a module's translations for `t`; app/lib holds
    // function partials.
    assert!(
        home.contains("<p id=\"t\">Welcome back, Ada! / Willkommen zurück, Ada! / Shop module / app.missing</p>"),
        "{home}"
    );
    assert!(home.contains("<p id=\"total\">Total: $5.99</p>"), "{home}");

    let (status, notes) = page(&http, &server, "/notes");
    assert_eq!(status, 200, "index.html.liquid is the page /notes: {notes}");
    assert!(
        notes.contains("class=\"pos-layout\""),
        "the application layout by default: {notes}"
    );
    assert!(notes.contains("<title>Notes</title>"), "{notes}");

    // A form in platformOS's shape: fields under `properties:`, posted as
    // form[properties_attributes][…]; the typed title is the visitor's, the
    // hidden body the page rendered is signed.
    let form = form_html(&notes, "new_note-form").expect("the note form").to_string();
    let mut post: Vec<(String, String)> = input_values(&form)
        .into_iter()
        .map(|(name, value)| {
            let typed = name == "form[properties_attributes][title]";
            (name, if typed { "First note".to_string() } else { value })
        })
        .collect();
    assert!(
        post.iter()
            .any(|(n, v)| n == "form[properties_attributes][body]" && v == "written by the page"),
        "{form}"
    );
    let saved = http.post(server.url("/forms/new_note")).form(&post).send().unwrap();
    assert_eq!(saved.status(), 303, "{}", saved.text().unwrap_or_default());
    let (_, notes) = page(&http, &server, "/notes");
    assert!(notes.contains("Note saved"), "{notes}");
    assert!(notes.contains("First note — written by the page"), "{notes}");
    for (name, value) in post.iter_mut() {
        if name == "form[properties_attributes][body]" {
            *value = "changed by the visitor".into();
        }
    }
    let refused = http.post(server.url("/forms/new_note")).form(&post).send().unwrap();
    assert!(
        refused.status().is_client_error(),
        "a signed value changed: {}",
        refused.status()
    );
    let (_, notes) = page(&http, &server, "/notes");
    assert!(!notes.contains("changed by the visitor"), "{notes}");

    // Models from app/schema and app/custom_model_types (its repeated
    // property and its livemode declaration tolerated).
    let models = graphql(&server, "{ notes { totalCount } tickets { totalCount } }");
    assert!(models["errors"].is_null(), "{models}");
    assert_eq!(models["data"]["tickets"]["totalCount"], 0);
    let made = graphql(
        &server,
        r#"mutation { createTicket(input: { code: "T-1", priceCents: 1250 }) { id code priceCents livemode } }"#,
    );
    assert!(made["errors"].is_null(), "{made}");
    assert_eq!(made["data"]["createTicket"]["code"], "T-1");
    assert_eq!(made["data"]["createTicket"]["livemode"], false);
}

#[test]
fn api_call_notification_keys_enabled_trigger_condition_and_callback() {
    let app = fixture_app();
    let server = start(app.path());
    let http = client();
    let token = csrf_token(&http, &server);
    let post = |path: &str, email: &str| -> Value {
        let answer = http
            .post(server.url(path))
            .form(&[("authenticity_token", token.as_str()), ("email", email)])
            .send()
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        answer.json().unwrap()
    };

    // trigger_condition renders true: sent (format: https, request_type:
    // Post, a form-encoded body written by hand), mapped by the Stripe
    // module's mapper, and the callback ran with the response.
    let sent = post("/shop/customers", "ada@example.com");
    assert_eq!(sent["skipped"], false, "{sent}");
    let customer_id = sent["record"]["gateway_id"]
        .as_str()
        .expect("a customer record")
        .to_string();
    assert!(customer_id.starts_with("cus_"), "{sent}");
    wait_for("the callback's log lines", std::time::Duration::from_secs(5), || {
        let log = server.log_text();
        (log.contains(&customer_id) && log.contains("shop-callback-status")).then_some(())
    });
    let stored = graphql(&server, "{ customers { nodes { email gatewayId } } }");
    assert_eq!(
        stored["data"]["customers"]["nodes"][0]["email"], "ada@example.com",
        "{stored}"
    );

    // The module's mapper is written as platformOS mappers are ("{{ x }}" in
    // JSON text): a description that tries to add a key stays text.
    let answer = http
        .post(server.url("/shop/customers"))
        .form(&[
            ("authenticity_token", token.as_str()),
            ("email", "bob@example.com"),
            ("description", r#"hi", "email": "evil@example.com"#),
        ])
        .send()
        .unwrap();
    let sneaky: Value = answer.json().unwrap();
    assert_eq!(sneaky["record"]["email"], "bob@example.com", "{sneaky}");
    assert_eq!(
        sneaky["record"]["description"], r#"hi", "email": "evil@example.com"#,
        "{sneaky}"
    );

    // trigger_condition does not render true: nothing is sent or stored.
    let skipped = post("/shop/customers", "not-an-email");
    assert_eq!(skipped["skipped"], true, "{skipped}");
    assert!(skipped["record"].is_null(), "{skipped}");
    let requests = graphql(&server, "{ customers { totalCount } gatewayRequests { totalCount } }");
    assert_eq!(requests["data"]["customers"]["totalCount"], 2, "{requests}");
    assert_eq!(
        requests["data"]["gatewayRequests"]["totalCount"], 2,
        "none sent for the skipped call: {requests}"
    );

    // The same through GraphQL: the request type's own mutation and
    // platformOS's api_call_send say it was skipped.
    let by_graphql = graphql(
        &server,
        r#"mutation { send_shop_createCustomer(input: { email: "still-not-an-email" }) { skipped record errors { message } }
                     api_call_send(template: { name: "create_customer" }, data: { email: "nope" }) { skipped response { status } errors { message } } }"#,
    );
    assert_eq!(
        by_graphql["data"]["send_shop_createCustomer"]["skipped"], true,
        "{by_graphql}"
    );
    assert!(
        by_graphql["data"]["send_shop_createCustomer"]["record"].is_null(),
        "{by_graphql}"
    );
    assert_eq!(by_graphql["data"]["api_call_send"]["skipped"], true, "{by_graphql}");
    assert!(
        by_graphql["data"]["api_call_send"]["response"].is_null(),
        "{by_graphql}"
    );
    let sent_by_graphql = graphql(
        &server,
        r#"mutation { api_call_send(template: { name: "create_customer" }, data: { email: "cy@example.com" }) { skipped response { status } } }"#,
    );
    assert_eq!(
        sent_by_graphql["data"]["api_call_send"]["skipped"], false,
        "{sent_by_graphql}"
    );
    assert_eq!(
        sent_by_graphql["data"]["api_call_send"]["response"]["status"], 200,
        "{sent_by_graphql}"
    );
    let requests = graphql(&server, "{ gatewayRequests { totalCount } }");
    assert_eq!(
        requests["data"]["gatewayRequests"]["totalCount"], 3,
        "only the email was sent: {requests}"
    );

    // enabled: false: the request type loads but is never sent.
    let retired = post("/shop/retired", "");
    assert!(
        retired["error"].as_str().unwrap_or_default().contains("turned off"),
        "{retired}"
    );
}

#[test]
fn a_failed_post_never_signs_a_value_the_visitor_sent() {
    let app = fixture_app();
    // The usual re-render idiom: show what was posted, else the default.
    let form_file = app.path().join("app/form_configurations/simple_payment_form.liquid");
    let text = std::fs::read_to_string(&form_file).unwrap();
    let echoing = text.replace(
        r#"value="{{amount}}""#,
        r#"value="{{ form_builder.fields.total_amount.value | default: amount }}""#,
    );
    assert_ne!(text, echoing);
    std::fs::write(&form_file, echoing).unwrap();
    let server = start(app.path());
    let http = client();
    let (_, pay) = page(&http, &server, "/guide/pay");
    let inputs = input_values(form_html(&pay, "simple_payment_form-form").unwrap());
    // A cheaper amount and a card-shaped value: refused, the form shown again.
    let mut post: Vec<(String, String)> = inputs
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                if n == "form[total_amount]" {
                    "0.50".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    post.push(("note".into(), "4242424242424242".into()));
    post.push(("stripeToken".into(), "tok_visa".into()));
    let refused = http
        .post(server.url("/forms/simple_payment_form"))
        .form(&post)
        .send()
        .unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let again = refused.text().unwrap();
    let form = form_html(&again, "simple_payment_form-form").expect("the form again");
    let shown = input_values(form);
    let amount = shown
        .iter()
        .find(|(n, _)| n == "form[total_amount]")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        amount,
        Some("5.99"),
        "the posted amount is not echoed (and signed): {form}"
    );
    // Posting that form as it is pays the signed amount.
    let mut resent = shown.clone();
    resent.push(("stripeToken".into(), "tok_visa".into()));
    let paid = http
        .post(server.url("/forms/simple_payment_form"))
        .form(&resent)
        .send()
        .unwrap();
    assert_eq!(paid.status(), 303, "{}", paid.text().unwrap_or_default());
    let payments = graphql(&server, "{ payments { nodes { amount } } }");
    assert_eq!(
        payments["data"]["payments"]["nodes"],
        json!([{ "amount": 599 }]),
        "{payments}"
    );
}

#[test]
fn the_seed_000_guide_s_payment_form_and_payments_list_work_on_a_page() {
    let app = fixture_app();
    let server = start(app.path());
    let http = client();

    let (status, pay) = page(&http, &server, "/guide/pay");
    assert_eq!(status, 200, "{pay}");
    let form = form_html(&pay, "simple_payment_form-form").expect("the guide's form");
    let inputs = input_values(form);
    let value = |name: &str| {
        inputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} in {inputs:?}"))
    };
    assert_eq!(value("form[currency]"), "USD");
    assert_eq!(value("form[total_amount]"), "5.99");
    assert!(
        !value("form[payment_method_id]").is_empty(),
        "payment_gateways gave a payment method: {form}"
    );
    assert!(
        pay.contains("data-key=\"pk_test_"),
        "the publishable key from payment_gateways: {pay}"
    );

    // What Stripe Checkout posts: the hidden inputs as rendered and its
    // token as stripeToken (a card token made by the sandbox, as Checkout
    // makes one from the card the visitor types).
    let mut post: Vec<(String, String)> = inputs.clone();
    post.push(("stripeToken".into(), "tok_visa".into()));
    let answer = http
        .post(server.url("/forms/simple_payment_form"))
        .form(&post)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 303, "{}", answer.text().unwrap_or_default());
    assert_eq!(answer.headers()["location"].to_str().unwrap(), "/guide/payments");

    let payments = graphql(&server, "{ payments { nodes { amount currency state } } }");
    let paid = &payments["data"]["payments"]["nodes"][0];
    assert_eq!(paid["amount"], 599, "{payments}");
    assert_eq!(paid["currency"], "usd");
    assert_eq!(paid["state"], "succeeded", "with_charge: true captures: {payments}");

    let (status, list) = page(&http, &server, "/guide/payments");
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("Payment successful!"), "the flash: {list}");
    assert!(list.contains("$5.99"), "pricify_cents of total_amount_cents: {list}");
    assert!(list.contains("succeeded"), "{list}");

    // A posted value never becomes JSON in default_payload: a token that
    // tries to add `total_amount` is only a (wrong) token.
    let (_, fresh) = page(&http, &server, "/guide/pay");
    let mut injected = input_values(form_html(&fresh, "simple_payment_form-form").expect("the form"));
    injected.push(("stripeToken".into(), r#"tok_visa","total_amount":"0.50"#.into()));
    let answer = http
        .post(server.url("/forms/simple_payment_form"))
        .form(&injected)
        .send()
        .unwrap();
    assert_ne!(answer.status(), 303, "the injected amount was not taken");
    let amounts = graphql(&server, "{ payments { nodes { amount } } }");
    let amounts: Vec<&Value> = amounts["data"]["payments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["amount"])
        .collect();
    assert!(amounts.iter().all(|a| **a == json!(599)), "{amounts:?}");

    // A changed hidden amount is refused: the rendered values are signed.
    let mut tampered: Vec<(String, String)> = inputs
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                if n == "form[total_amount]" {
                    "0.01".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    tampered.push(("stripeToken".into(), "tok_visa".into()));
    let refused = http
        .post(server.url("/forms/simple_payment_form"))
        .form(&tampered)
        .send()
        .unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
}

#[test]
fn hostile_platformos_inputs_keep_the_server_up_and_store_nothing() {
    let app = fixture_app();
    let server = start(app.path());
    let http = client();
    let (_, notes) = page(&http, &server, "/notes");
    let note_form: Vec<(String, String)> = input_values(form_html(&notes, "new_note-form").unwrap());
    let without = |skip: &str| -> Vec<(String, String)> {
        note_form
            .iter()
            .filter(|(n, _)| !n.starts_with(skip))
            .cloned()
            .collect()
    };
    let deep = format!("form[properties_attributes]{}", "[a]".repeat(12));
    // Past the 1 MiB form body limit.
    let huge = "x".repeat(2 * 1024 * 1024);
    for extra in [
        // properties_attributes as text, as a list, nested past the limit.
        vec![("form[properties_attributes]".to_string(), "text".to_string())],
        vec![("form[properties_attributes][]".to_string(), "a".to_string())],
        vec![(deep, "1".to_string())],
        // A signed field posted as a list, and a huge typed title.
        vec![
            ("form[properties_attributes][body][]".to_string(), "x".to_string()),
            ("form[properties_attributes][title]".to_string(), "t".to_string()),
        ],
        vec![("form[properties_attributes][title]".to_string(), huge.clone())],
        // A card number where a title goes.
        vec![(
            "form[properties_attributes][title]".to_string(),
            "4242 4242 4242 4242".to_string(),
        )],
    ] {
        let mut post = without("form[properties_attributes][title]");
        post.extend(extra);
        let answer = http.post(server.url("/forms/new_note")).form(&post).send().unwrap();
        let status = answer.status().as_u16();
        let last: Vec<(&str, usize)> = post.iter().rev().take(2).map(|(n, v)| (n.as_str(), v.len())).collect();
        assert!(
            (400..500).contains(&status),
            "refused, not stored nor a 500: {status} for {last:?}"
        );
    }

    // The guide's form with a huge or odd token, and amounts of the wrong type.
    let (_, pay) = page(&http, &server, "/guide/pay");
    let pay_form: Vec<(String, String)> = input_values(form_html(&pay, "simple_payment_form-form").unwrap());
    for (name, value) in [
        ("stripeToken", &huge[..200_000]),
        ("stripeToken", "\"}]{\\u0000"),
        ("form[total_amount][]", "5.99"),
        ("form[currency][x]", "usd"),
    ] {
        let mut post = pay_form.clone();
        post.push((name.to_string(), value.to_string()));
        let answer = http
            .post(server.url("/forms/simple_payment_form"))
            .form(&post)
            .send()
            .unwrap();
        assert_ne!(answer.status().as_u16(), 303, "{name}: nothing paid");
        assert!(answer.status().as_u16() < 500, "{name}: {}", answer.status());
    }

    // platformOS GraphQL shapes with hostile arguments answer errors.
    for query in [
        r#"{ records(per_page: 1000000, filter: { table: { value: "note" } }) { total_entries } }"#,
        r#"{ records(page: 2147483647, filter: { table: { value: "note" } }) { total_entries } }"#,
        r#"{ records(filter: { table: { value: "../../etc" } }) { total_entries } }"#,
        r#"{ records(filter: { table: { value: "note" }, properties: [{ name: "title", starts_with: "a" }] }) { total_entries } }"#,
        r#"mutation { record_create(record: { table: "modules/payments/gateway_request", properties: [{ name: "request_type", value: "x" }] }) { id } }"#,
        r#"mutation { record_create(record: { table: "ticket", properties: [{ name: "price_cents", value: "5.99" }] }) { id } }"#,
    ] {
        let answer = graphql(&server, query);
        assert!(answer["errors"].is_array(), "{query}: {answer}");
    }

    assert_eq!(http.get(server.url("/healthz")).send().unwrap().status().as_u16(), 200);
    let stored = graphql(
        &server,
        "{ notes { totalCount } payments { totalCount } tickets { totalCount } gatewayRequests { totalCount } }",
    );
    for model in ["notes", "payments", "tickets", "gatewayRequests"] {
        assert_eq!(stored["data"][model]["totalCount"], 0, "{model}: {stored}");
    }
}

/// An app that brings platformOS-style `modules/payments` and
/// `modules/stripe` of its own (`tests/fixtures/platformos_own_modules`):
/// its `gateway_request` model keeps payforms' request log properties, its
/// request type written for `https://api.stripe.com` goes to the sandbox,
/// and the keys it reads as `context.constants` are there for request
/// templates only.
#[test]
fn an_app_s_own_platformos_payments_modules_send_and_keep_the_request_log() {
    let dir = tempfile::Builder::new().prefix("payforms-pos-own-").tempdir().unwrap();
    copy_tree(&repo_root().join("tests/fixtures/platformos_own_modules"), dir.path());
    let checked = Command::new(env!("CARGO_BIN_EXE_payforms"))
        .args(["check", "--app"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        stdout.contains(
            "warning: modules/payments/public/custom_model_types/gateway_request.yml:2: \
             `modules/payments/gateway_request` is payforms' own model"
        ) && stdout.contains("added from this file: data, config, response"),
        "{stdout}"
    );

    let server = start(dir.path());
    let http = client();
    let token = csrf_token(&http, &server);
    let (_, home) = page(&http, &server, "/");
    assert!(
        home.contains("<p id=\"constants\"></p>"),
        "pages never see the keys: {home}"
    );

    let answer = http
        .post(server.url("/customers"))
        .form(&[("authenticity_token", token.as_str()), ("email", "own@example.com")])
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body = answer.text().unwrap();
    assert!(
        body.contains("<p id=\"status\">200</p>"),
        "sent with the key from context.constants: {body}"
    );
    assert!(body.contains("<p id=\"customer\">cus_"), "{body}");

    let log = graphql(
        &server,
        "{ gatewayRequests { nodes { requestType method url status requestBody } } }",
    );
    let entry = &log["data"]["gatewayRequests"]["nodes"][0];
    assert_eq!(entry["requestType"], "modules/stripe/create_customer", "{log}");
    assert_eq!(entry["method"], "POST", "{log}");
    assert_eq!(entry["status"], 200, "{log}");
    let url = entry["url"].as_str().unwrap_or_default();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/v1/customers"),
        "Stripe's public address went to the sandbox: {log}"
    );
    assert!(!log.to_string().contains("sk_test"), "no key in the log: {log}");
    wait_for("the callback's log line", std::time::Duration::from_secs(5), || {
        let text = server.log_text();
        assert!(!text.contains("the callback saw context"), "callbacks get no context");
        text.contains("own-modules-callback").then_some(())
    });

    // A request template that logs the keys and fails on one: the log line
    // and the error an API key gets back carry no key.
    let probe = graphql(
        &server,
        r#"mutation { api_call_send(template: { name: "debug_probe" }, data: { n: 2 }) { errors { message } } }"#,
    );
    let message = probe["errors"][0]["message"]
        .as_str()
        .or_else(|| probe["data"]["api_call_send"]["errors"][0]["message"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("[redacted]"),
        "the failing filter's input is redacted: {probe}"
    );
    assert!(!probe.to_string().contains("sk_test"), "{probe}");
    let text = server.log_text();
    assert!(text.contains("own-modules-debug"), "the template's log line is there");
    assert!(!text.contains("sk_test"), "no key in the server's log");
}

/// Hostile input to `api_call_send` and a request type's own mutation on
/// an app whose request types read `context.constants`: every answer is an
/// error, the server stays up, nothing is sent or stored, and no answer
/// holds a key.
#[test]
fn hostile_api_calls_to_an_app_s_own_modules_send_and_store_nothing() {
    let dir = tempfile::Builder::new().prefix("payforms-pos-own-").tempdir().unwrap();
    copy_tree(&repo_root().join("tests/fixtures/platformos_own_modules"), dir.path());
    let server = start(dir.path());
    let deep = format!("{}1{}", "{ a: ".repeat(200), " }".repeat(200));
    let huge_name = "x".repeat(200_000);
    let queries = [
        format!(r#"mutation {{ api_call_send(template: {{ name: "{huge_name}" }}, data: {{}}) {{ skipped }} }}"#),
        r#"mutation { api_call_send(template: { name: "../../payments/create_customer" }, data: {}) { skipped } }"#
            .to_string(),
        r#"mutation { api_call_send(template: { name: "create_customer" }, data: [1, 2]) { skipped } }"#.to_string(),
        r#"mutation { api_call_send(template: { name: "create_customer" }, data: "text") { skipped } }"#.to_string(),
        format!(r#"mutation {{ api_call_send(template: {{ name: "create_customer" }}, data: {deep}) {{ skipped }} }}"#),
        r#"mutation { api_call_send(template: { name: 12 }, data: {}) { skipped } }"#.to_string(),
        r#"mutation { send_stripe_createCustomer(input: [1]) { skipped } }"#.to_string(),
        r#"mutation { send_stripe_debugProbe(input: { n: "not a number" }) { skipped } }"#.to_string(),
    ];
    for query in &queries {
        let answer = graphql(&server, query);
        let shown: String = query.chars().take(120).collect();
        let refused = answer.get("errors").is_some()
            || answer["data"].as_object().is_some_and(|data| {
                data.values()
                    .any(|v| v["errors"].as_array().is_some_and(|e| !e.is_empty()))
            });
        assert!(refused, "{shown}: {answer}");
        assert!(!answer.to_string().contains("sk_test"), "{shown}: {answer}");
    }
    let health = client().get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200, "the server is still up");
    let log = graphql(&server, "{ gatewayRequests { totalCount } }");
    assert_eq!(
        log["data"]["gatewayRequests"]["totalCount"], 0,
        "nothing was sent: {log}"
    );
}
