//! The operator's sign-in guards the demo's pages that move money or show
//! every visitor's data (/refunds, /authorize, /saved_cards, /credit_cards).

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod support;

use reqwest::blocking::{Client, Response};
use reqwest::redirect::Policy;
use support::{form_html, input_values, repo_root, ServerOptions, TestServer};

const PASSWORD: &str = "operator-pass-0123456789";
const OPERATOR_PAGES: [&str; 5] = [
    "/refunds",
    "/authorize",
    "/saved_cards",
    "/credit_cards",
    "/subscription",
];

/// A browser: its own cookies, redirects not followed.
/// A browser: its own cookies, redirects not followed.
fn browser() -> Client {
    support::client()
}

fn start(password: Option<&str>) -> TestServer {
    let options = ServerOptions::new(repo_root()).arg("--sandbox");
    TestServer::start(match password {
        Some(password) => options.env("PAYFORMS_OPERATOR_PASSWORD", password),
        None => options,
    })
}

fn sign_in_fields(http: &Client, server: &TestServer, return_to: &str) -> Vec<(String, String)> {
    let page = http
        .get(server.url("/sign_in"))
        .query(&[("return_to", return_to)])
        .send()
        .expect("GET /sign_in");
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    input_values(form_html(&html, "sign-in").expect("the sign-in form"))
}

fn sign_in(http: &Client, server: &TestServer, password: &str, return_to: &str) -> Response {
    let mut fields = sign_in_fields(http, server, return_to);
    fields.retain(|(name, _)| name != "password");
    fields.push(("password".into(), password.into()));
    http.post(server.url("/sign_in"))
        .form(&fields)
        .send()
        .expect("POST /sign_in")
}

fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

#[test]
fn operator_pages_need_the_operator_and_other_visitors_stay_out() {
    let server = start(Some(PASSWORD));
    let operator = browser();
    for page in OPERATOR_PAGES {
        let refused = operator.get(server.url(page)).send().unwrap();
        assert_eq!(refused.status(), 303, "{page} without a sign-in");
        let to = location(&refused);
        assert!(to.starts_with("/sign_in?return_to="), "{page} -> {to}");
    }
    // Public pages stay public.
    assert_eq!(operator.get(server.url("/checkout")).send().unwrap().status(), 200);

    let signed_in = sign_in(&operator, &server, PASSWORD, "/refunds");
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/refunds", "back to the page that asked");
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("pf_operator="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(PASSWORD), "{cookie}");
    for page in OPERATOR_PAGES {
        assert_eq!(
            operator.get(server.url(page)).send().unwrap().status(),
            200,
            "{page} signed in"
        );
    }

    // A second visitor (another cookie jar) cannot reach the refund forms.
    let visitor = browser();
    let refused = visitor.get(server.url("/refunds")).send().unwrap();
    assert_eq!(refused.status(), 303);

    // Sign-out needs the CSRF token, then the pages are closed again.
    let without_token = operator
        .post(server.url("/sign_out"))
        .form(&[("x", "y")])
        .send()
        .unwrap();
    assert_eq!(without_token.status(), 403);
    assert_eq!(operator.get(server.url("/refunds")).send().unwrap().status(), 200);
    let page = operator.get(server.url("/sign_in")).send().unwrap().text().unwrap();
    let token = input_values(form_html(&page, "sign-in").unwrap())
        .into_iter()
        .find(|(name, _)| name == "authenticity_token")
        .unwrap()
        .1;
    let out = operator
        .post(server.url("/sign_out"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(operator.get(server.url("/refunds")).send().unwrap().status(), 303);
    assert!(!server.log_text().contains(PASSWORD), "the password reached the log");
}

#[test]
fn wrong_passwords_are_refused_then_rate_limited() {
    let server = start(Some(PASSWORD));
    let http = browser();
    for attempt in 0..5 {
        let wrong = sign_in(&http, &server, "not-the-password", "/refunds");
        assert_eq!(wrong.status(), 401, "attempt {attempt}");
    }
    let limited = sign_in(&http, &server, PASSWORD, "/refunds");
    assert_eq!(
        limited.status(),
        429,
        "even the right password waits after five failures"
    );
    let wait: i64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(http.get(server.url("/refunds")).send().unwrap().status(), 303);
}

#[test]
fn sign_in_without_the_csrf_token_or_a_configured_password_is_refused() {
    let server = start(Some(PASSWORD));
    let http = browser();
    let _ = sign_in_fields(&http, &server, "/");
    let forged = http
        .post(server.url("/sign_in"))
        .form(&[("password", PASSWORD), ("authenticity_token", "forged")])
        .send()
        .unwrap();
    assert_eq!(forged.status(), 403);
    let cross_site = http
        .post(server.url("/sign_in"))
        .header("origin", "https://evil.example")
        .form(&[("password", PASSWORD)])
        .send()
        .unwrap();
    assert_eq!(cross_site.status(), 403);

    let closed = start(None);
    let http = browser();
    let page = http.get(closed.url("/sign_in")).send().unwrap().text().unwrap();
    assert!(page.contains("PAYFORMS_OPERATOR_PASSWORD"), "says why: {page}");
    let refused = sign_in(&http, &closed, "", "/refunds");
    assert_eq!(refused.status(), 401);
    assert_eq!(http.get(closed.url("/refunds")).send().unwrap().status(), 303);
}

#[test]
fn the_session_cookie_is_secure_behind_https() {
    let server = TestServer::start(
        ServerOptions::new(repo_root())
            .arg("--sandbox")
            .env("PAYFORMS_OPERATOR_PASSWORD", PASSWORD)
            .env("PAYFORMS_PUBLIC_URL", "https://shop.example"),
    );
    let http = browser();
    let signed_in = sign_in(&http, &server, PASSWORD, "/");
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("pf_operator="))
        .expect("a session cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
}

/// The `pf_operator=…` value a sign-in answer sets.
fn session_value(response: &Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("pf_operator="))
        .and_then(|c| c.split(';').next().map(str::to_string))
        .expect("a session cookie")
}

#[test]
fn sign_out_ends_copied_cookies_and_a_restart_keeps_the_session() {
    let mut server = start(Some(PASSWORD));
    let http = browser();
    let signed_in = sign_in(&http, &server, PASSWORD, "/refunds");
    let cookie = session_value(&signed_in);
    let with_cookie = |server: &TestServer| {
        Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap()
            .get(server.url("/refunds"))
            .header("cookie", &cookie)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(with_cookie(&server), 200, "the copied cookie works while signed in");
    server.restart();
    assert_eq!(with_cookie(&server), 200, "a restart keeps the session");

    let page = http.get(server.url("/sign_in")).send().unwrap().text().unwrap();
    let token = input_values(form_html(&page, "sign-in").unwrap())
        .into_iter()
        .find(|(name, _)| name == "authenticity_token")
        .unwrap()
        .1;
    let out = http
        .post(server.url("/sign_out"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(with_cookie(&server), 303, "a copy of the cookie is signed out too");
    server.restart();
    assert_eq!(with_cookie(&server), 303, "and stays signed out after a restart");
}

#[test]
fn concurrent_guesses_cannot_pass_the_limit() {
    let server = start(Some(PASSWORD));
    let http = browser();
    let fields = sign_in_fields(&http, &server, "/");
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..30)
            .map(|i| {
                let (http, fields, server) = (&http, &fields, &server);
                scope.spawn(move || {
                    let mut fields = fields.clone();
                    fields.retain(|(name, _)| name != "password");
                    fields.push(("password".into(), format!("guess-{i}")));
                    http.post(server.url("/sign_in"))
                        .form(&fields)
                        .send()
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    assert!(
        checked <= 5,
        "at most five passwords checked, not {checked}: {statuses:?}"
    );
    assert!(statuses.iter().all(|&s| s == 401 || s == 429), "{statuses:?}");
}

/// A POST page rendered for the signed-in operator may run the operator's
/// GraphQL operations (a key made from a console page); the same page for
/// anyone else is refused.
#[test]
fn a_page_for_the_signed_in_operator_runs_the_operator_operations() {
    let app = support::copy_app(repo_root());
    std::fs::write(
        app.path().join("templates/pages/make_key.liquid"),
        "---\nslug: make-key\nmethod: post\nmetadata: { no_layout: true }\n---\n\
         {%- graphql r -%}mutation { createApiKey(scopes: [\"payments:read\"], name: \"console\") { key apiKey { keyId } } }{%- endgraphql -%}\
         key {{ r.createApiKey.key }}",
    )
    .unwrap();
    let server = TestServer::start(
        ServerOptions::new(app.path())
            .arg("--sandbox")
            .env("PAYFORMS_OPERATOR_PASSWORD", PASSWORD),
    );
    let token_of = |http: &Client| {
        let page = http.get(server.url("/sign_in")).send().unwrap().text().unwrap();
        input_values(form_html(&page, "sign-in").unwrap())
            .into_iter()
            .find(|(name, _)| name == "authenticity_token")
            .unwrap()
            .1
    };
    let visitor = browser();
    let token = token_of(&visitor);
    let refused = visitor
        .post(server.url("/make-key"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(refused.status(), 500, "not the operator");

    let operator = browser();
    assert_eq!(sign_in(&operator, &server, PASSWORD, "/refunds").status(), 303);
    let token = token_of(&operator);
    let made = operator
        .post(server.url("/make-key"))
        .form(&[("authenticity_token", token.as_str())])
        .send()
        .unwrap();
    assert_eq!(made.status(), 200);
    let text = made.text().unwrap();
    assert!(text.trim().starts_with("key pfk_"), "{text}");
}
