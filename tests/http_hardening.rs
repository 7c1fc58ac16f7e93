//! HTTP hardening of the real server: security headers on every kind of
//! response, `Secure` cookies behind https, redirects that never leave the
//! site (and never break a header after a record was stored), and a GraphQL
//! console that loads nothing from another origin.

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod support;

use std::fs;

use reqwest::blocking::Client;
use reqwest::redirect::Policy;
use support::{client, copy_app, form_html, input_values, repo_root, ServerOptions, TestServer};

fn no_redirects() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

fn assert_hardened(response: &reqwest::blocking::Response, what: &str) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name} header"))
            .to_string()
    };
    let csp = header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(
        csp.contains("script-src 'self' http://127.0.0.1:"),
        "{what}: Stripe.js of the sandbox: {csp}"
    );
    assert!(
        !csp.contains("'unsafe-inline'; ") || !csp.contains("script-src 'self' 'unsafe-inline'"),
        "{csp}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("referrer-policy"), "strict-origin-when-cross-origin", "{what}");
}

#[test]
fn every_kind_of_response_carries_the_security_headers() {
    let server = TestServer::start(
        ServerOptions::new(repo_root())
            .arg("--sandbox")
            .env("PAYFORMS_API_KEYS", "k"),
    );
    let http = no_redirects();
    for path in [
        "/",
        "/checkout",
        "/assets/app.css",
        "/no/such/page",
        "/api/graphql",
        "/healthz",
    ] {
        let response = http.get(server.url(path)).send().expect(path);
        assert_hardened(&response, path);
    }
    let form_post = http
        .post(server.url("/forms/simple_payment_form"))
        .form(&[("authenticity_token", "x")])
        .send()
        .expect("form post");
    assert!(form_post.status().is_client_error(), "{}", form_post.status());
    assert_hardened(&form_post, "a refused form post");
    let api = http
        .post(server.url("/api/graphql"))
        .bearer_auth("k")
        .json(&serde_json::json!({"query": "{ __typename }"}))
        .send()
        .expect("graphql");
    assert_hardened(&api, "POST /api/graphql");
}

#[test]
fn the_csp_can_be_set_in_payforms_toml() {
    let app = copy_app(repo_root());
    fs::write(
        app.path().join("payforms.toml"),
        "content_security_policy = \"default-src 'self'\"\n",
    )
    .unwrap();
    let server = TestServer::start(ServerOptions::new(app.path()).arg("--sandbox"));
    let response = client().get(server.url("/")).send().expect("GET /");
    assert_eq!(response.headers()["content-security-policy"], "default-src 'self'");
}

#[test]
fn cookies_are_secure_when_the_public_url_is_https() {
    let plain = TestServer::start(ServerOptions::new(repo_root()).arg("--sandbox"));
    let response = no_redirects().get(plain.url("/checkout")).send().expect("GET");
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("pf_visitor=") && !cookie.contains("Secure"),
        "{cookie}"
    );
    // The public URL is only used for webhook subscription, which needs a
    // Stripe key: the sandbox is not subscribed to (it is loopback anyway).
    let https = TestServer::start(
        ServerOptions::new(repo_root())
            .arg("--sandbox")
            .env("PAYFORMS_PUBLIC_URL", "https://shop.example"),
    );
    let response = no_redirects().get(https.url("/checkout")).send().expect("GET");
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
}

#[test]
fn a_redirect_built_from_a_parameter_stays_on_the_site() {
    let app = copy_app(repo_root());
    // A sign-up form whose redirect comes from the page's params, as an app
    // might write it.
    fs::create_dir_all(app.path().join("schema")).unwrap();
    fs::write(
        app.path().join("schema/signup.yml"),
        "name: signup\nproperties:\n  - { name: email, type: string }\n",
    )
    .unwrap();
    fs::write(
        app.path().join("form_configurations/signup_form.liquid"),
        "---\nname: signup_form\nresource: signup\nfields:\n  email:\n    editable: true\n\
         redirect_to: '{{ config.next }}'\n---\n{% form id: 'signup' %}\
         <input name=\"{{ form_builder.fields.email.name }}\"><button>Go</button>{% endform %}\n",
    )
    .unwrap();
    fs::write(
        app.path().join("templates/pages/signup.liquid"),
        "{% parse_json config %}{ \"next\": \"{{ context.params.next }}\" }{% endparse_json %}\
         {% include_form 'signup_form', config: config %}\n",
    )
    .unwrap();
    let server = TestServer::start(ServerOptions::new(app.path()).arg("--sandbox"));
    for next in [
        "/\t/evil.example",
        "//evil.example",
        "https://evil.example",
        "\\\\evil.example",
        "/\\evil.example",
        "/ok\r\nSet-Cookie: pwned=1",
        "/thanks",
    ] {
        let http = no_redirects();
        let page = http
            .get(server.url("/signup"))
            .query(&[("next", next)])
            .send()
            .expect("GET /signup");
        assert_eq!(page.status(), 200, "{next:?}");
        let html = page.text().unwrap();
        let mut fields = input_values(form_html(&html, "signup").expect("the form"));
        fields.retain(|(name, _)| name != "form[email]");
        fields.push(("form[email]".into(), "a@example.com".into()));
        let posted = http
            .post(server.url("/forms/signup_form"))
            .header("origin", server.base_url())
            .form(&fields)
            .send()
            .expect("POST");
        let status = posted.status();
        if status != 303 {
            let text = posted.text().unwrap_or_default();
            let at = text.find("<main").unwrap_or(0);
            panic!("{next:?}: {status}: {}", &text[at..(at + 1500).min(text.len())]);
        }
        let location = posted.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.starts_with('/') && !location.starts_with("//"),
            "{next:?} -> {location:?}"
        );
        assert!(
            !location.chars().any(|c| c.is_control() || c == '\\'),
            "{next:?} -> {location:?}"
        );
        assert!(posted
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap_or("").contains("pwned")));
        if next == "/thanks" {
            assert_eq!(location, "/thanks");
        } else {
            // Back to the page the form was on.
            assert!(location.starts_with("/signup?next="), "{next:?} -> {location:?}");
        }
    }
}

#[test]
fn the_graphql_console_loads_nothing_from_another_origin() {
    let server = TestServer::start(ServerOptions::new(repo_root()).arg("--sandbox"));
    let html = client().get(server.url("/api/graphql")).send().unwrap().text().unwrap();
    assert!(!html.contains("https://") && !html.contains("http://"), "{html}");
    let script = client().get(server.url("/api/graphql/console.js")).send().unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
}
