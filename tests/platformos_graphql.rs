//! platformOS's GraphQL shapes through pages of the real server, on SQLite
//! and PostgreSQL: `records` (filters, sort, numbered pages) and
//! `record_create|update|delete` from POST pages, the older
//! `customizations` and `customization_*` as platformOS's payments module
//! writes them, a GET page that tries a mutation, and the queries of
//! platformOS's "Integrating Stripe" guide (seed 000) as typed there.
//! The fixture app is the shipped app plus tests/fixtures/platformos_graphql.

mod support;

use std::path::Path;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::{client, copy_app, html_unescape, repo_root, PgDatabase, ServerOptions, TestServer};
use tempfile::TempDir;

const PUBLISHABLE_KEY: &str = "pk_test_platformos_guide";
const SECRET_KEY: &str = "sk_test_platformos_guide";
const ADMIN_KEY: &str = "platformos-graphql-admin-key";

fn copy_into(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("fixture folder") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("fixture folder copy");
            copy_into(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("fixture file copy");
        }
    }
}

fn fixture_app() -> TempDir {
    let app = copy_app(repo_root());
    copy_into(&repo_root().join("tests/fixtures/platformos_graphql"), app.path());
    app
}

fn start(app: &TempDir, database: Option<&PgDatabase>) -> TestServer {
    let mut options = ServerOptions::new(app.path())
        .env("STRIPE_SECRET_KEY", SECRET_KEY)
        .env("STRIPE_PUBLISHABLE_KEY", PUBLISHABLE_KEY)
        .env("PAYFORMS_ADMIN_API_KEYS", ADMIN_KEY);
    if let Some(database) = database {
        options = options.database(database.url());
    }
    TestServer::start(options)
}

/// The text of the element with `id` (`<p id="x">…</p>`), unescaped.
fn element(html: &str, id: &str) -> String {
    let open = format!("id=\"{id}\">");
    let start = html.find(&open).unwrap_or_else(|| panic!("no #{id} in:\n{html}")) + open.len();
    let end = html[start..].find("</").expect("a closing tag") + start;
    html_unescape(&html[start..end]).trim().to_string()
}

fn out(html: &str) -> Value {
    let text = element(html, "out");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("#out is not JSON ({e}): {text}"))
}

struct Visitor {
    http: Client,
    token: String,
}

impl Visitor {
    /// A browser with a session and its CSRF token (from a page).
    fn new(server: &TestServer) -> Visitor {
        let http = client();
        let page = get(&http, server, "/pos/orders");
        let token = element(&page, "csrf");
        assert!(!token.is_empty());
        Visitor { http, token }
    }

    fn post(&self, server: &TestServer, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form = fields.to_vec();
        form.push(("authenticity_token", self.token.as_str()));
        let answer = self
            .http
            .post(server.url(path))
            .header("Origin", server.base_url())
            .form(&form)
            .send()
            .expect("POST");
        let status = answer.status().as_u16();
        (status, answer.text().expect("a body"))
    }

    fn post_ok(&self, server: &TestServer, path: &str, fields: &[(&str, &str)]) -> Value {
        let (status, body) = self.post(server, path, fields);
        assert_eq!(status, 200, "POST {path} {fields:?}:\n{body}");
        out(&body)
    }
}

fn get(http: &Client, server: &TestServer, path: &str) -> String {
    let answer = http.get(server.url(path)).send().expect("GET");
    let status = answer.status().as_u16();
    let body = answer.text().expect("a body");
    if status != 200 {
        let log = server.log_text();
        let tail: Vec<&str> = log.lines().rev().take(8).collect();
        panic!("GET {path}: {status}\n{body}\nlog (newest first):\n{}", tail.join("\n"));
    }
    body
}

fn totals(records: &Value) -> Vec<i64> {
    records["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["properties"]["total_cents"].as_i64().expect("total_cents"))
        .collect()
}

fn records_and_mutations(server: &TestServer) {
    let visitor = Visitor::new(server);
    let mut ids = Vec::new();
    for (state, total, note) in [
        ("paid", "1500", "gift wrap"),
        ("open", "250", "call first"),
        ("paid", "999", "gift card"),
        ("open", "4000", ""),
        ("paid", "120", "no gift"),
    ] {
        let created = visitor.post_ok(
            server,
            "/pos/orders_create",
            &[
                ("state", state),
                ("total_cents", total),
                ("note", note),
                ("paid", "true"),
            ],
        );
        assert_eq!(created["properties"]["state"], state);
        assert_eq!(
            created["properties"]["total_cents"].to_string(),
            total,
            "typed as an integer"
        );
        assert_eq!(created["properties"]["paid"], true);
        ids.push(created["id"].as_str().expect("an id").to_string());
    }

    // Money is never read through a float: a 400, and nothing written.
    let (status, _) = visitor.post(
        server,
        "/pos/orders_create",
        &[("state", "open"), ("total_cents", "5.99")],
    );
    assert_eq!(status, 400);

    let page = get(&visitor.http, server, "/pos/orders?per_page=2&page=2");
    let records = out(&page);
    assert_eq!(totals(&records), vec![999, 1500], "sorted by total_cents, second page");
    assert_eq!(records["total_entries"], 5);
    assert_eq!(records["total_pages"], 3);
    assert_eq!(records["current_page"], 2);
    assert_eq!(records["has_next_page"], true);
    assert_eq!(records["has_previous_page"], true);
    assert_eq!(records["results"][0]["table"], "pos_order");
    assert_eq!(element(&page, "summary"), "page 2 of 3 (5 orders)");
    assert_eq!(page.matches("class=\"order\"").count(), 2);

    let filtered = |query: &str| totals(&out(&get(&visitor.http, server, &format!("/pos/orders?{query}"))));
    assert_eq!(filtered("state=paid"), vec![120, 999, 1500]);
    assert_eq!(filtered("note=gift"), vec![120, 999, 1500]);
    assert_eq!(filtered("note=gift%20c"), vec![999]);
    assert_eq!(filtered("state=paid&min_total=500"), vec![999, 1500]);
    assert_eq!(filtered("per_page=2&page=3"), vec![4000]);

    // A page size beyond platformOS's 100 is the visitor's mistake.
    let too_big = visitor
        .http
        .get(server.url("/pos/orders?per_page=101"))
        .send()
        .expect("GET");
    assert_eq!(too_big.status().as_u16(), 400);

    let updated = visitor.post_ok(server, "/pos/orders_update", &[("id", &ids[1]), ("state", "paid")]);
    assert_eq!(updated["properties"]["state"], "paid");
    assert_eq!(updated["properties"]["total_cents"], 250, "the other properties stay");
    assert_eq!(filtered("state=paid"), vec![120, 250, 999, 1500]);

    let deleted = visitor.post_ok(server, "/pos/orders_delete", &[("id", &ids[0])]);
    assert_eq!(deleted["properties"]["note"], "gift wrap");
    assert_eq!(filtered("state=paid"), vec![120, 250, 999]);

    // A GET page never writes.
    let sneaky = visitor.http.get(server.url("/pos/orders_sneaky")).send().expect("GET");
    assert_ne!(sneaky.status().as_u16(), 200);
    assert_eq!(filtered("state=sneaky"), Vec::<i64>::new());
    // Nor does a POST without the visitor's CSRF token.
    let forged = client()
        .post(server.url("/pos/orders_create"))
        .form(&[("state", "forged"), ("total_cents", "1")])
        .send()
        .expect("POST");
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(filtered("state=forged"), Vec::<i64>::new());
}

fn customizations(server: &TestServer) {
    let visitor = Visitor::new(server);
    let before = out(&get(&visitor.http, server, "/pos/by_state"))["total_entries"]
        .as_i64()
        .expect("a count");
    let mut ids = Vec::new();
    for (state, total) in [("draft", "100"), ("draft", "200"), ("sent", "300")] {
        let created = visitor.post_ok(
            server,
            "/pos/customization_write",
            &[("state", state), ("total_cents", total)],
        );
        assert_eq!(
            created["properties"]["total_cents"],
            total.parse::<i64>().expect("a number")
        );
        ids.push(created["id"].as_str().expect("an id").to_string());
    }
    let drafts = out(&get(&visitor.http, server, "/pos/by_state?state=draft"));
    assert_eq!(drafts["total_entries"], 2);
    let newest = &drafts["results"][0];
    assert_eq!(newest["id"], ids[1].as_str(), "newest first");
    assert_eq!(newest["state"], "draft");
    assert_eq!(
        newest["total_cents"], "200",
        "property(name:) is text, as in platformOS"
    );
    assert_eq!(newest["user"], Value::Null);
    // Without a state (a nil variable) the condition is left out.
    assert_eq!(
        out(&get(&visitor.http, server, "/pos/by_state"))["total_entries"],
        before + 3
    );

    visitor.post_ok(
        server,
        "/pos/customization_write",
        &[
            ("action", "update"),
            ("id", &ids[0]),
            ("state", "sent"),
            ("total_cents", "150"),
        ],
    );
    let sent = out(&get(&visitor.http, server, "/pos/by_state?state=sent"));
    assert_eq!(sent["total_entries"], 2);
    assert_eq!(sent["results"][1]["total_cents"], "150");
    let deleted = visitor.post_ok(
        server,
        "/pos/customization_write",
        &[("action", "delete"), ("id", &ids[2])],
    );
    assert_eq!(deleted["properties"]["state"], "sent");
    assert_eq!(
        out(&get(&visitor.http, server, "/pos/by_state?state=sent"))["total_entries"],
        1
    );
}

/// Seed 000: `payment_gateways` and `get_payments` as the guide types them.
fn stripe_guide(server: &TestServer) {
    let visitor = Visitor::new(server);
    for (payment, amount, customer, email) in [
        ("pi_guide_1", "599", "cus_guide_1", "ada@example.com"),
        ("pi_guide_2", "1250", "cus_guide_2", "grace@example.com"),
    ] {
        visitor.post_ok(
            server,
            "/pos/payment_seed",
            &[
                ("payment_id", payment),
                ("amount", amount),
                ("customer_id", customer),
                ("email", email),
                ("name", "Guide Reader"),
            ],
        );
    }
    let page = get(&visitor.http, server, "/pos/stripe_guide");
    assert_eq!(element(&page, "key"), PUBLISHABLE_KEY);
    assert_eq!(element(&page, "current"), PUBLISHABLE_KEY);
    assert_eq!(element(&page, "method"), "card Credit Card");
    // No live key: no gateway for live mode; the instance runs in test mode.
    assert_eq!(element(&page, "modes"), "live: 0, current: 1 (stripe, live key: none)");
    assert!(!page.contains(SECRET_KEY), "never a secret key");
    let rows: Vec<&str> = page.split("<tr class=\"payment\">").skip(1).collect();
    assert_eq!(rows.len(), 2, "{page}");
    assert!(
        rows[0].contains("grace@example.com") && rows[0].contains("12.50"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].contains("ada@example.com") && rows[1].contains("5.99"),
        "{}",
        rows[1]
    );
    assert!(rows[0].contains("<td>succeeded</td>"), "{}", rows[0]);
}

/// `payment_gateways(mode: live)` once the operator stored live keys: the
/// live publishable key is read from the stored configuration (this
/// instance runs in test mode), never the secret.
fn live_mode_gateway(server: &TestServer) {
    let configured: Value = client()
        .post(server.url("/api/graphql"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({
            "query": "mutation($input: ConfigureStripeInput!) { configureStripe(input: $input) { environment connectionStatus } }",
            "variables": {"input": {"environment": "LIVE", "secretKey": "sk_live_guide_secret", "publishableKey": "pk_live_guide"}},
        }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        configured["data"]["configureStripe"]["environment"], "LIVE",
        "{configured}"
    );
    let visitor = Visitor::new(server);
    let page = get(&visitor.http, server, "/pos/stripe_guide");
    assert_eq!(
        element(&page, "modes"),
        "live: 1, current: 1 (stripe, live key: pk_live_guide)"
    );
    assert_eq!(
        element(&page, "current"),
        PUBLISHABLE_KEY,
        "the instance's own mode is still test"
    );
    assert!(!page.contains("sk_live_guide_secret"), "never a secret key");
}

#[test]
fn platformos_shapes_on_sqlite() {
    let app = fixture_app();
    let server = start(&app, None);
    records_and_mutations(&server);
    customizations(&server);
    stripe_guide(&server);
    live_mode_gateway(&server);
}

#[test]
fn platformos_shapes_on_postgres() {
    let app = fixture_app();
    let database = PgDatabase::fresh();
    let server = start(&app, Some(&database));
    records_and_mutations(&server);
    customizations(&server);
    stripe_guide(&server);
    live_mode_gateway(&server);
}
