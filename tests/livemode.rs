//! Records carry `livemode`: a record created by a test-mode instance is
//! test, and an instance started in live mode on the same database neither
//! lists it nor changes it (it reads it only when asked with
//! `livemode: false`). No Stripe call is made: the live keys only pass the
//! prefix check.

mod support;

use serde_json::{json, Value};
use support::{client, copy_app, repo_root, ServerOptions, TestServer};

const API_KEY: &str = "livemode-api-key";
const WEBHOOK_SECRET: &str = "whsec_livemode_test";

fn graphql(server: &TestServer, query: &str) -> Value {
    let response = client()
        .post(server.url("/api/graphql"))
        .bearer_auth(API_KEY)
        .json(&json!({ "query": query }))
        .send()
        .expect("graphql request");
    assert_eq!(response.status(), 200);
    response.json().expect("graphql json")
}

fn data(answer: Value) -> Value {
    assert!(answer.get("errors").is_none(), "graphql errors: {answer}");
    answer["data"].clone()
}

/// A page whose `{% graphql %}` counts the customers it sees.
const COUNT_PAGE: &str = "{% graphql r %}query { customers { totalCount } }{% endgraphql %}\
                          <p id=n>{{ r.customers.totalCount }}</p>";

fn start(app: &std::path::Path, database: &str, environment: &[(&str, &str)]) -> TestServer {
    let mut options = ServerOptions::new(app)
        .database(database)
        .env("PAYFORMS_API_KEYS", API_KEY)
        // Nothing here talks to Stripe; were it to, it would fail fast (https:
        // because a live instance refuses a plain-HTTP Stripe address).
        .env("STRIPE_API_BASE", "https://127.0.0.1:9");
    for (key, value) in environment {
        options = options.env(*key, *value);
    }
    TestServer::start(options)
}

#[test]
fn a_live_instance_does_not_see_test_records() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("shared.sqlite3").display().to_string();
    let app = copy_app(repo_root());
    std::fs::write(app.path().join("templates/pages/customer_count.liquid"), COUNT_PAGE).unwrap();
    let page_count = |server: &TestServer| {
        let body = client()
            .get(server.url("/customer_count"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(body.contains("<p id=n>"), "{body}");
        body
    };

    let test = start(app.path(), &database, &[("PAYFORMS_ENVIRONMENT", "test")]);
    let created = data(graphql(
        &test,
        r#"mutation { createCustomer(input: { email: "test@example.com" }) { id email livemode } }"#,
    ));
    let customer = &created["createCustomer"];
    assert_eq!(customer["livemode"], json!(false), "{created}");
    let id = customer["id"].as_str().unwrap().to_string();
    let listed = data(graphql(&test, "{ customers { totalCount nodes { id livemode } } }"));
    assert_eq!(listed["customers"]["totalCount"], json!(1), "{listed}");

    let live = start(
        app.path(),
        &database,
        &[
            ("PAYFORMS_ENVIRONMENT", "live"),
            ("STRIPE_SECRET_KEY", "sk_live_not_a_real_key"),
            ("STRIPE_PUBLISHABLE_KEY", "pk_live_not_a_real_key"),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    );
    // The live instance's default reads: nothing of test mode, from
    // programs and from templates alike.
    assert!(page_count(&test).contains("<p id=n>1</p>"));
    assert!(page_count(&live).contains("<p id=n>0</p>"), "{}", page_count(&live));
    let listed = data(graphql(&live, "{ customers { totalCount nodes { id } } }"));
    assert_eq!(listed["customers"], json!({"totalCount": 0, "nodes": []}), "{listed}");
    let single = graphql(&live, &format!(r#"{{ customer(id: "{id}") {{ id }} }}"#));
    assert_eq!(single["data"]["customer"], Value::Null, "{single}");
    assert_eq!(single["errors"][0]["extensions"]["code"], "NOT_FOUND", "{single}");
    // Nor can it change it.
    let update = graphql(
        &live,
        &format!(r#"mutation {{ updateCustomer(id: "{id}", input: {{ email: "x@example.com" }}) {{ id }} }}"#),
    );
    assert!(update.get("errors").is_some(), "{update}");
    // Asked for, test records are readable (and say so).
    let asked = data(graphql(
        &live,
        &format!(
            r#"{{ customers(livemode: false) {{ nodes {{ id email livemode }} }} customer(id: "{id}", livemode: false) {{ email }} }}"#
        ),
    ));
    assert_eq!(
        asked["customers"]["nodes"],
        json!([{"id": id, "email": "test@example.com", "livemode": false}]),
        "{asked}"
    );
    assert_eq!(asked["customer"]["email"], "test@example.com", "{asked}");

    // A record the live instance creates is live, and invisible to the test one.
    let made = data(graphql(
        &live,
        r#"mutation { createCustomer(input: { email: "live@example.com" }) { id livemode } }"#,
    ));
    assert_eq!(made["createCustomer"]["livemode"], json!(true), "{made}");
    let listed = data(graphql(&test, "{ customers { nodes { email livemode } } }"));
    assert_eq!(
        listed["customers"]["nodes"],
        json!([{"email": "test@example.com", "livemode": false}]),
        "{listed}"
    );
    let listed = data(graphql(&live, "{ customers { nodes { email livemode } } }"));
    assert_eq!(
        listed["customers"]["nodes"],
        json!([{"email": "live@example.com", "livemode": true}]),
        "{listed}"
    );

    // Events: a test-mode one (and one that does not say) is stored by the
    // live instance but touches nothing; a live one is applied.
    let event = |id: &str, livemode: Option<Value>| {
        let mut event = json!({"id": id, "object": "event", "type": "customer.created", "created": 1_700_000_000,
            "data": {"object": {"id": format!("cus_{id}"), "object": "customer", "email": format!("{id}@example.com"),
                                "created": 1_700_000_000}}});
        if let Some(livemode) = livemode {
            event["data"]["object"]["livemode"] = livemode.clone();
            event["livemode"] = livemode;
        }
        event.to_string()
    };
    for (id, livemode) in [
        ("evt_test", Some(json!(false))),
        ("evt_unsaid", None),
        ("evt_string", Some(json!("true"))),
        ("evt_live", Some(json!(true))),
    ] {
        let body = event(id, livemode);
        let status = client()
            .post(live.url("/webhooks/stripe"))
            .header(
                "Stripe-Signature",
                support::stripe_signature_header_now(&body, WEBHOOK_SECRET),
            )
            .body(body)
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let settled = support::wait_for("the four events settled", std::time::Duration::from_secs(20), || {
        let nodes = data(graphql(
            &live,
            "{ stripe_webhookEvents(first: 10) { nodes { eventId status lastError } } }",
        ))["stripe_webhookEvents"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let done = nodes
            .iter()
            .filter(|n| n["status"] != "pending" && n["status"] != "processing")
            .count();
        (done == 4).then_some(nodes)
    });
    let status_of = |id: &str| settled.iter().find(|n| n["eventId"] == id).map(|n| n["status"].clone());
    assert_eq!(status_of("evt_test"), Some(json!("skipped")), "{settled:?}");
    assert_eq!(status_of("evt_unsaid"), Some(json!("skipped")), "{settled:?}");
    assert_eq!(status_of("evt_string"), Some(json!("skipped")), "{settled:?}");
    assert_eq!(status_of("evt_live"), Some(json!("processed")), "{settled:?}");
    let live_emails = data(graphql(&live, "{ customers { nodes { email } } }"));
    assert_eq!(
        live_emails["customers"]["nodes"],
        json!([{"email": "evt_live@example.com"}, {"email": "live@example.com"}]),
        "{live_emails}"
    );
    let test_emails = data(graphql(&test, "{ customers { nodes { email } } }"));
    assert_eq!(
        test_emails["customers"]["nodes"],
        json!([{"email": "test@example.com"}]),
        "{test_emails}"
    );
}
