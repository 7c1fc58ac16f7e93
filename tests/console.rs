//! The operator console (`modules/admin`) on the README's own command
//! (`serve --sandbox`): every page and form is the operator's only, and
//! signed in, every page renders with the data it is about.

#![cfg(feature = "sandbox")]

mod support;

use reqwest::blocking::{Client, Response};
use serde_json::Value;
use support::{client, form_html, graphql_as, input_values, repo_root, ServerOptions, TestServer};

const PASSWORD: &str = "console-pass-0123456789";
const API_KEY: &str = "console-test-key";

/// Every GET page of the console, with an id where the route has one.
const PAGES: [&str; 13] = [
    "/admin",
    "/admin/payments",
    "/admin/payments/1",
    "/admin/payments/1/refund",
    "/admin/customers",
    "/admin/customers/cus_none",
    "/admin/subscriptions",
    "/admin/subscriptions/1",
    "/admin/webhook_events",
    "/admin/deliveries",
    "/admin/requests",
    "/admin/settings",
    "/admin/payments?state=succeeded&currency=usd&min=1&max=100&from=2026-01-01&to=2030-01-01",
];

/// Every form the console posts to.
const FORM_POSTS: [(&str, &[(&str, &str)]); 5] = [
    ("/admin/webhook_events/replay", &[("all_failed", "1")]),
    ("/admin/webhook_events/replay", &[("id", "1")]),
    ("/admin/deliveries/retry", &[("id", "1")]),
    (
        "/admin/settings/keys",
        &[("name", "stolen"), ("scopes[]", "payments:read")],
    ),
    ("/admin/settings/keys/revoke", &[("key_id", "abc")]),
];

fn start() -> TestServer {
    TestServer::start(
        ServerOptions::new(repo_root())
            .arg("--sandbox")
            .env("PAYFORMS_OPERATOR_PASSWORD", PASSWORD)
            .env("PAYFORMS_API_KEYS", API_KEY),
    )
}

fn graphql(server: &TestServer, query: &str) -> Value {
    graphql_as(server, API_KEY, query)
}

/// The CSRF token of this browser (from the sign-in form).
fn token(http: &Client, server: &TestServer) -> String {
    let page = http.get(server.url("/sign_in")).send().unwrap().text().unwrap();
    input_values(form_html(&page, "sign-in").expect("the sign-in form"))
        .into_iter()
        .find(|(name, _)| name == "authenticity_token")
        .expect("a CSRF token")
        .1
}

fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[test]
fn without_a_session_every_page_redirects_to_sign_in_and_every_form_is_refused() {
    let server = start();
    let visitor = client();
    for page in PAGES {
        let answer = visitor.get(server.url(page)).send().unwrap();
        assert_eq!(answer.status(), 303, "{page}");
        assert!(location(&answer).starts_with("/sign_in?return_to="), "{page}");
    }
    let token = token(&visitor, &server);
    for (path, fields) in FORM_POSTS {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let without_token = visitor.post(server.url(path)).form(&form).send().unwrap();
        assert_eq!(without_token.status(), 403, "{path} without the CSRF token");
        form.push(("authenticity_token", token.as_str()));
        let with_token = visitor.post(server.url(path)).form(&form).send().unwrap();
        assert_eq!(with_token.status(), 303, "{path} without the operator");
        assert!(location(&with_token).starts_with("/sign_in"), "{path}");
    }
    let keys = graphql(&server, "{ customers { totalCount } }");
    assert!(keys["errors"].is_null(), "{keys}");
    assert!(!server.log_text().contains("stolen"), "no key was made for a visitor");
}

#[test]
fn signed_in_every_page_renders_and_the_forms_act() {
    let server = start();
    let operator = client();
    let token = token(&operator, &server);
    let signed_in = operator
        .post(server.url("/sign_in"))
        .form(&[
            ("authenticity_token", token.as_str()),
            ("password", PASSWORD),
            ("return_to", "/admin"),
        ])
        .send()
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/admin");

    // A payment to look at.
    let paid = graphql(
        &server,
        r#"mutation { stripe_createPaymentIntent(input: {amount: 25.5, currency: "usd", paymentMethodId: "pm_card_visa", confirm: true, metadata: {order: "console-1"}}) { id status } }"#,
    );
    assert_eq!(
        paid["data"]["stripe_createPaymentIntent"]["status"], "succeeded",
        "{paid}"
    );
    let pi = paid["data"]["stripe_createPaymentIntent"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    for page in PAGES {
        let answer = operator.get(server.url(page)).send().unwrap();
        let status = answer.status();
        let text = answer.text().unwrap();
        assert_eq!(status, 200, "{page}: {text}");
        assert!(text.contains("TEST MODE"), "{page} shows the environment");
    }
    let list = operator
        .get(server.url("/admin/payments"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(list.contains(&pi) && list.contains("$25.50"), "{list}");
    let search = operator
        .get(server.url(&format!("/admin/payments?q={pi}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(search.contains("1 payment(s)"), "{search}");
    let other = operator
        .get(server.url("/admin/payments?currency=eur"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(other.contains("No payments match"), "{other}");
    let detail = operator
        .get(server.url("/admin/payments/1"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(detail.contains("Gateway request create_payment"), "{detail}");

    // An API key made from the settings page is shown once, listed after.
    let made = operator
        .post(server.url("/admin/settings/keys"))
        .form(&[
            ("authenticity_token", token.as_str()),
            ("name", "from the console"),
            ("merchant", "default"),
            ("scopes[]", "payments:read"),
            ("scopes[]", "webhooks:read"),
        ])
        .send()
        .unwrap();
    assert_eq!(made.status(), 200);
    let made = made.text().unwrap();
    let key = made
        .split("id=\"new-api-key\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .to_string();
    assert!(key.starts_with("pfk_"), "{made}");
    let settings = operator
        .get(server.url("/admin/settings"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        settings.contains("from the console") && !settings.contains(&key),
        "the key is shown once"
    );
    let works = client()
        .get(server.url("/v1/payments"))
        .header("X-API-Key", &key)
        .send()
        .unwrap();
    assert_eq!(works.status(), 200, "the new key works");
    let key_id = key.split('_').nth(1).unwrap_or_default().to_string();
    let revoked = operator
        .post(server.url("/admin/settings/keys/revoke"))
        .form(&[("authenticity_token", token.as_str()), ("key_id", key_id.as_str())])
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 303);
    assert_eq!(location(&revoked), "/admin/settings");
    let refused = client()
        .get(server.url("/v1/payments"))
        .header("X-API-Key", &key)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 401, "the revoked key no longer works");

    // An operator's ordinary mistakes are said on the page, never a 500: a
    // second revoke, an unknown event or delivery, no scope ticked; one
    // scope ticked is a list of one.
    for (path, fields) in [
        ("/admin/settings/keys/revoke", vec![("key_id", key_id.as_str())]),
        ("/admin/webhook_events/replay", vec![("id", "99999")]),
        ("/admin/deliveries/retry", vec![("id", "99999")]),
        ("/admin/settings/keys", vec![("name", "no scope")]),
    ] {
        let mut form = fields.clone();
        form.push(("authenticity_token", token.as_str()));
        let answer = operator.post(server.url(path)).form(&form).send().unwrap();
        assert_eq!(answer.status(), 303, "{path} {fields:?}");
        let back = location(&answer);
        let page = operator.get(server.url(&back)).send().unwrap().text().unwrap();
        assert!(page.contains("flash alert"), "{path}: the mistake is said on {back}");
    }
    let one_scope = operator
        .post(server.url("/admin/settings/keys"))
        .form(&[
            ("authenticity_token", token.as_str()),
            ("name", "one scope"),
            ("scopes", "payments:read"),
        ])
        .send()
        .unwrap();
    assert_eq!(one_scope.status(), 200);
    assert!(one_scope.text().unwrap().contains("scopes payments:read"));

    // Hostile query strings: refused (400) or shown as no match, never a
    // 500, and the server keeps answering.
    let huge = "x".repeat(20_000);
    for query in [
        format!("/admin/payments?q={huge}"),
        "/admin/payments?min=1e400&currency=usd".to_string(),
        "/admin/payments?min=-5&max=abc&currency=usd".to_string(),
        "/admin/payments?from=garbage&to=2026-13-45".to_string(),
        "/admin/payments?after=garbage".to_string(),
        "/admin/payments?q[a][b][c]=1&currency[]=usd".to_string(),
        "/admin/payments/abc".to_string(),
        "/admin/payments/99999999999999999999".to_string(),
        "/admin/webhook_events?status=bogus".to_string(),
        "/admin/customers/%00%0a".to_string(),
        "/admin/requests?object=%27%20OR%201%3D1".to_string(),
    ] {
        let status = operator.get(server.url(&query)).send().unwrap().status().as_u16();
        assert!(
            status == 200 || status == 400,
            "{}: {status}",
            &query[..query.len().min(60)]
        );
    }
    assert_eq!(
        operator.get(server.url("/admin")).send().unwrap().status(),
        200,
        "still serving"
    );

    // The request log keeps no client secret.
    let log = operator
        .get(server.url("/admin/requests"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(log.contains("create_payment") && !log.contains("_secret_"), "{log}");
}
