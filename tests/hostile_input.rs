//! What an attacker sends, against the real binary on the demo app: every
//! request here is refused with a 4xx and a clear message, nothing is
//! stored, and the process is still alive afterwards.

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod support;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::{form_html, input_values, repo_root, ServerOptions, TestServer};

const API_KEY: &str = "hostile-input-api-key-0123456789";
const ADMIN_KEY: &str = "hostile-input-admin-key-0123456789";
const OPERATOR_PASSWORD: &str = "operator-pass-0123456789";
const CARD: &str = "4242424242424242";

fn start() -> TestServer {
    TestServer::start(
        ServerOptions::new(repo_root())
            .arg("--sandbox")
            .env("PAYFORMS_API_KEYS", API_KEY)
            .env("PAYFORMS_ADMIN_API_KEYS", ADMIN_KEY)
            .env("PAYFORMS_OPERATOR_PASSWORD", OPERATOR_PASSWORD),
    )
}

/// A browser: its own cookies, redirects not followed.
fn browser() -> Client {
    support::client()
}

fn assert_alive(server: &mut TestServer) {
    assert!(server.is_running(), "the server died:\n{}", server.log_text());
    let health = browser().get(server.url("/healthz")).send().expect("GET /healthz");
    assert_eq!(health.status(), 200);
    let page = browser().get(server.url("/checkout")).send().expect("GET /checkout");
    assert_eq!(page.status(), 200);
}

fn graphql(server: &TestServer, query: &str) -> (u16, Value) {
    let response = browser()
        .post(server.url("/api/graphql"))
        .bearer_auth(API_KEY)
        .json(&json!({ "query": query }))
        .send()
        .expect("POST /api/graphql");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn first_error(answer: &Value) -> (&str, &str) {
    let error = &answer["errors"][0];
    (
        error["message"].as_str().unwrap_or_default(),
        error["extensions"]["code"].as_str().unwrap_or_default(),
    )
}

#[test]
fn deeply_nested_parameters_are_refused_and_the_server_lives() {
    let mut server = start();
    let http = browser();
    // Rendered once first, so the page is served from its recorded
    // skeleton: the query is still checked.
    assert_eq!(http.get(server.url("/checkout")).send().unwrap().status(), 200);
    let key = format!("a{}", "[b]".repeat(6_000));
    let nested = format!("{key}=1");
    let page = http
        .get(format!("{}?{nested}", server.url("/checkout")))
        .send()
        .expect("GET with 6,000 brackets");
    assert_eq!(page.status(), 400);
    assert!(page.text().unwrap().contains("longer than 256 bytes"));

    // Within the name length, deeper than 8 levels.
    let deep = format!("form{}=1", "[b]".repeat(9));
    let page = http
        .get(format!("{}?{deep}", server.url("/checkout")))
        .send()
        .expect("GET with 9 levels");
    assert_eq!(page.status(), 400);
    assert!(page.text().unwrap().contains("deeper than 8 levels"));

    for (path, body) in [("/forms/simple_payment_form", &nested), ("/checkout", &deep)] {
        let answer = http
            .post(server.url(path))
            .header("Accept", "application/json")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .expect("POST nested body");
        assert_eq!(answer.status(), 400, "POST {path}");
    }
    let many = vec!["x=1"; 1_001].join("&");
    let page = http
        .get(format!("{}?{many}", server.url("/checkout")))
        .send()
        .expect("GET with 1,001 parameters");
    assert_eq!(page.status(), 400);
    assert_alive(&mut server);
}

#[test]
fn graphql_nesting_size_and_aliases_are_bounded() {
    let mut server = start();
    let deep = format!("{{ __typename(x: {}1{}) }}", "[".repeat(2_000), "]".repeat(2_000));
    let (status, answer) = graphql(&server, &deep);
    assert_eq!(status, 200);
    let (message, code) = first_error(&answer);
    assert!(message.contains("nests deeper than 48"), "{answer}");
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(answer["data"].is_null());

    let aliases: String = (0..400)
        .map(|i| format!("p{i}: payments(first: 250) {{ edges {{ node {{ id }} }} }} "))
        .collect();
    let (_, answer) = graphql(&server, &format!("{{ {aliases} }}"));
    let (message, code) = first_error(&answer);
    assert!(message.contains("400 aliases; at most 30"), "{answer}");
    assert_eq!(code, "BAD_USER_INPUT");

    let long = format!("{{ __typename }} #{}", "x".repeat(40 * 1024));
    let (_, answer) = graphql(&server, &long);
    assert!(
        first_error(&answer).0.contains("at most 32768 are accepted"),
        "{answer}"
    );

    // Deeply nested variables are refused by the JSON reader.
    let mut variables = String::from("1");
    for _ in 0..2_000 {
        variables = format!("[{variables}]");
    }
    let body = format!(r#"{{"query":"query($x: Int) {{ __typename }}","variables":{{"x":{variables}}}}}"#);
    let answer = browser()
        .post(server.url("/api/graphql"))
        .bearer_auth(API_KEY)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .expect("POST nested variables");
    assert_eq!(answer.status(), 400);

    // Fragments that spread each other twice per level: 2 KB asking for
    // 2^45 fields is refused before anything walks them.
    let mut doubling = String::from("{ ...F45 }\nfragment F0 on Query { __typename }\n");
    for i in 1..=45 {
        doubling.push_str(&format!("fragment F{i} on Query {{ ...F{p} ...F{p} }}\n", p = i - 1));
    }
    let started = std::time::Instant::now();
    let (_, answer) = graphql(&server, &doubling);
    assert!(
        first_error(&answer).0.contains("once its fragments are expanded"),
        "{answer}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused at once");

    // An `in` filter of more values than SQL takes parameters.
    let many: Vec<String> = (0..1_001).map(|i| format!("\"s{i}\"")).collect();
    let (_, answer) = graphql(
        &server,
        &format!(
            "{{ payments(filter: {{ state: {{ in: [{}] }} }}) {{ totalCount }} }}",
            many.join(",")
        ),
    );
    assert!(first_error(&answer).0.contains("at most 1000 values"), "{answer}");

    // An ordinary query still runs.
    let (status, answer) = graphql(
        &server,
        "{ a: payments(first: 5) { totalCount } b: payments { totalCount } }",
    );
    assert_eq!(status, 200);
    assert!(answer["errors"].is_null(), "{answer}");
    assert_alive(&mut server);
}

/// GET /checkout in `http`'s session; the checkout form's fields.
fn checkout_form(http: &Client, server: &TestServer) -> Vec<(String, String)> {
    let html = support::buy_and_open_pay_page(http, server);
    input_values(form_html(&html, "checkout-form").expect("the checkout form"))
}

fn post_checkout(
    http: &Client,
    server: &TestServer,
    mut fields: Vec<(String, String)>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    fields.retain(|(name, _)| !extra.iter().any(|(n, _)| n == name));
    fields.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    let response = http
        .post(server.url("/forms/simple_payment_form"))
        .header("Accept", "application/json")
        .form(&fields)
        .send()
        .expect("POST the checkout form");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// `(field, message)` of every error of a JSON form answer
/// (`{"errors": {"field": ["message", …]}}`).
fn field_errors(answer: &Value) -> Vec<(String, String)> {
    answer["errors"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(field, messages)| {
            messages
                .as_array()
                .into_iter()
                .flatten()
                .map(move |m| (field.clone(), m.as_str().unwrap_or_default().to_string()))
        })
        .collect()
}

#[test]
fn raw_card_numbers_are_refused_and_never_stored_or_logged() {
    let mut server = start();
    let http = browser();
    for (extra, field) in [
        (
            vec![("form[source][object]", "card"), ("form[source][number]", CARD)],
            "source",
        ),
        (vec![("form[source]", "4242 4242 4242 4242")], "source"),
        (vec![("form[source]", "tok_visa"), ("form[email]", CARD)], "email"),
        (
            vec![("form[source]", "tok_visa"), ("note", "5555-5555-5555-4444")],
            "base",
        ),
    ] {
        let fields = checkout_form(&http, &server);
        let (status, answer) = post_checkout(&http, &server, fields, &extra);
        assert_eq!(status, 422, "{extra:?}: {answer}");
        let errors = field_errors(&answer);
        assert!(
            errors
                .iter()
                .any(|(f, m)| f == field && m.contains("looks like a card number")),
            "{extra:?}: {answer}"
        );
        assert!(!answer.to_string().contains(CARD), "{answer}");
    }
    // A card number with its expiry and CVC, or spelled with other
    // separators, is still a card number.
    for spelled in [
        "4242424242424242 1225 123",
        "4000056655665556-123",
        "4242.4242.4242.4242",
        "4242_4242_4242_4242",
        "4242  4242  4242  4242",
        "\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}",
    ] {
        let fields = checkout_form(&http, &server);
        let (status, answer) = post_checkout(&http, &server, fields, &[("form[source]", spelled)]);
        assert_eq!(status, 422, "{spelled}: {answer}");
    }
    // Through GraphQL too: in a variable or a literal, nothing is stored
    // or sent.
    for (query, variables) in [
        (
            "mutation($d: String) { createPayment(input: { description: $d }) { id } }",
            json!({ "d": "4111 1111 1111 1111" }),
        ),
        (
            r#"mutation { createPayment(input: { description: "4111111111111111" }) { id } }"#,
            json!({}),
        ),
    ] {
        let answer: Value = browser()
            .post(server.url("/api/graphql"))
            .bearer_auth(API_KEY)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let (message, code) = first_error(&answer);
        assert!(message.contains("looks like a card number"), "{answer}");
        assert_eq!(code, "BAD_USER_INPUT");
    }
    // A string field refuses a group of values even without a card number.
    let fields = checkout_form(&http, &server);
    let (status, answer) = post_checkout(
        &http,
        &server,
        fields,
        &[("form[source][object]", "card"), ("form[source][exp_month]", "12")],
    );
    assert_eq!(status, 422, "{answer}");
    assert!(field_errors(&answer).contains(&("source".to_string(), "must be a single value".to_string())));

    // Nothing reached the gateway, the database file or the log.
    let (_, answer) = graphql(&server, "{ gatewayRequests { totalCount } payments { totalCount } }");
    assert_eq!(answer["data"]["gatewayRequests"]["totalCount"], 0, "{answer}");
    assert_eq!(answer["data"]["payments"]["totalCount"], 0, "{answer}");
    let database = std::fs::read(server.dir().join("payforms.sqlite3")).expect("the SQLite file");
    assert!(!contains(&database, CARD.as_bytes()));
    assert!(!contains(&database, b"5555555555554444"));
    let log = server.log_text();
    assert!(!log.contains(CARD) && !log.contains("4242 4242 4242 4242"), "{log}");
    assert!(
        // Spelled either way; not "4111" alone, which a log timestamp's
        // microseconds may hold.
        !contains(&database, b"4111111111111111") && !log.contains("4111111111111111") && !log.contains("4111 1111"),
        "{log}"
    );
    // Nor does a card number in a path reach the access log.
    let _ = http.get(server.url("/pay/4242424242424242%2012")).send().unwrap();
    let _ = http.get(server.url("/4242.4242.4242.4242")).send().unwrap();
    let log = server.log_text();
    assert!(
        !log.contains("4242424242424242") && !log.contains("4242.4242.4242.4242"),
        "{log}"
    );
    assert_alive(&mut server);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Signs the operator in on `http`.
fn sign_in(http: &Client, server: &TestServer) {
    let html = http.get(server.url("/sign_in")).send().unwrap().text().unwrap();
    let mut fields = input_values(form_html(&html, "sign-in").expect("the sign-in form"));
    fields.retain(|(name, _)| name != "password");
    fields.push(("password".into(), OPERATOR_PASSWORD.into()));
    let answer = http.post(server.url("/sign_in")).form(&fields).send().unwrap();
    assert_eq!(answer.status(), 303);
}

#[test]
fn parameters_of_unexpected_types_are_a_400_not_a_500() {
    let mut server = start();
    let http = browser();
    sign_in(&http, &server);
    for url in [
        "/credit_cards?customer_id[]=a",
        "/credit_cards?customer_id=%00",
        "/credit_cards?customer_id[a]=1",
        "/saved_cards?customer=%00",
        "/saved_cards?customer[]=1",
    ] {
        let page = http.get(server.url(url)).send().unwrap();
        assert_eq!(page.status(), 400, "{url}");
        assert!(page.text().unwrap().contains("wrong type or content"), "{url}");
    }
    let head = http.head(server.url("/")).send().unwrap();
    assert_eq!(head.status(), 200, "HEAD is GET without the body");
    for url in [
        "/payments?page[]=1",
        "/checkout?customer=%00",
        "/?q=%FF%FE",
        "/refunds?payment_id[]=1",
    ] {
        let page = http.get(server.url(url)).send().unwrap();
        assert_eq!(page.status(), 200, "{url}");
    }
    assert_alive(&mut server);
}

#[test]
fn extreme_webhook_timestamps_are_refused_without_a_panic() {
    let mut server = start();
    for t in ["-9223372036854775808", "9223372036854775807", "99999999999999999999"] {
        let answer = browser()
            .post(server.url("/webhooks/stripe"))
            .header("Stripe-Signature", format!("t={t},v1={}", "ab".repeat(32)))
            .header("Content-Type", "application/json")
            .body(r#"{"id":"evt_x","type":"payment_intent.succeeded"}"#)
            .send()
            .expect("POST webhook");
        assert_eq!(answer.status(), 400, "t={t}");
    }
    assert_alive(&mut server);
}

#[test]
fn hostile_stripe_configurations_and_page_bodies_are_refused_and_nothing_is_stored() {
    let mut server = start();
    let configure = |input: Value| -> Value {
        browser()
            .post(server.url("/api/graphql"))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({
                "query": "mutation($input: ConfigureStripeInput!) { configureStripe(input: $input) { id } }",
                "variables": { "input": input },
            }))
            .send()
            .expect("POST configureStripe")
            .json()
            .unwrap_or(Value::Null)
    };
    let huge = format!("sk_test_{}", "a".repeat(200_000));
    let hostile = [
        json!({"environment": "TEST", "secretKey": huge, "publishableKey": "pk_test_x"}),
        json!({"environment": "TEST", "secretKey": "sk_test_\u{0}\n", "publishableKey": "pk_test_x"}),
        json!({"environment": "TEST", "secretKey": "sk_test_ｆｕｌｌ", "publishableKey": "pk_test_x"}),
        json!({"environment": "TEST", "secretKey": 5, "publishableKey": "pk_test_x"}),
        json!({"environment": "TEST", "secretKey": {"a": [[[[1]]]]}, "publishableKey": "pk_test_x"}),
        json!({"environment": "STAGING", "secretKey": "sk_test_x", "publishableKey": "pk_test_x"}),
        json!({"environment": "TEST", "secretKey": "sk_test_x", "publishableKey": "pk_test_x",
               "webhookSecret": "w".repeat(10_000)}),
    ];
    for input in hostile {
        let answer = configure(input);
        assert!(answer["errors"][0]["message"].is_string(), "{answer}");
        assert!(
            answer["data"].is_null() || answer["data"]["configureStripe"].is_null(),
            "{answer}"
        );
        assert!(!answer.to_string().contains("aaaaaaaaaa"), "the key is echoed back");
    }
    let stored = browser()
        .post(server.url("/api/graphql"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"query": "{ test: stripeConfig(environment: TEST) { id } live: stripeConfig(environment: LIVE) { id } }"}))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(stored["data"], json!({"test": null, "live": null}), "{stored}");

    // A page body over the limit is refused without being read whole.
    let big = browser()
        .post(server.url("/checkout"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("x={}", "a".repeat(2 * 1024 * 1024)))
        .send();
    if let Ok(response) = big {
        assert_eq!(response.status(), 413);
    }
    assert_alive(&mut server);
}
