//! Test and live environments with keys configured at run time (GraphQL
//! `configureStripe`), against the standalone sandbox: keys checked by
//! prefix, secrets never in the database or the log in clear, payments
//! with the stored keys, events of the other environment kept but not
//! applied, and `payforms secrets rotate`.
#![cfg(feature = "sandbox")]

mod stripe_support;
mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use stripe_support::Sandbox;
use support::{client, payforms_bin, random_hex, wait_for, ServerOptions, TestServer};

const API_KEY: &str = "environments-api-key";
const WEBHOOK_SECRET: &str = "whsec_environments_stored";

fn graphql(server: &TestServer, query: &str, variables: Value) -> Value {
    client()
        .post(server.url("/api/graphql"))
        .bearer_auth(API_KEY)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

const CONFIGURE: &str = "mutation($input: ConfigureStripeInput!) { configureStripe(input: $input) { \
                         id environment publishableKey webhookUrl connectionStatus statusReason inUse } }";

fn start(sandbox: &Sandbox, environment: &str) -> TestServer {
    TestServer::start(
        ServerOptions::default()
            .env("STRIPE_API_BASE", sandbox.base_url())
            .env("PAYFORMS_ADMIN_API_KEYS", API_KEY)
            .env("PAYFORMS_ENVIRONMENT", environment),
    )
}

fn error_code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

#[test]
fn keys_configured_at_run_time_take_payments_and_never_appear_in_clear() {
    let sandbox = Sandbox::start();
    let server = start(&sandbox, "test");
    let secret_key = format!("sk_test_{}", random_hex(12));

    // A live configuration refuses test keys, and a malformed key.
    for (secret, publishable) in [(secret_key.as_str(), "pk_test_env"), ("sk_live_x", "pk_test_env")] {
        let refused = graphql(
            &server,
            CONFIGURE,
            json!({"input": {"environment": "LIVE", "secretKey": secret, "publishableKey": publishable}}),
        );
        assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
        assert!(
            refused["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid Stripe keys format"),
            "{refused}"
        );
        assert!(!refused.to_string().contains(&secret_key), "{refused}");
    }

    let configured = graphql(
        &server,
        CONFIGURE,
        json!({"input": {"environment": "TEST", "secretKey": secret_key, "publishableKey": "pk_test_env",
                          "webhookSecret": WEBHOOK_SECRET}}),
    );
    let config = &configured["data"]["configureStripe"];
    assert_eq!(config["environment"], "TEST", "{configured}");
    assert_eq!(config["connectionStatus"], "connected", "{configured}");
    assert_eq!(config["inUse"], true);
    assert_eq!(
        config["webhookUrl"],
        format!("http://127.0.0.1:{}/webhooks/stripe", server.port())
    );

    // One configuration per environment.
    let again = graphql(
        &server,
        CONFIGURE,
        json!({"input": {"environment": "TEST", "secretKey": secret_key, "publishableKey": "pk_test_env"}}),
    );
    assert_eq!(error_code(&again), "BAD_USER_INPUT", "{again}");
    assert!(again.to_string().contains("already exists"), "{again}");

    // The keys are read back without their secrets.
    let read = graphql(
        &server,
        "{ stripeConfig(environment: TEST) { id publishableKey connectionStatus hasWebhookSecret } }",
        json!({}),
    );
    assert_eq!(read["data"]["stripeConfig"]["hasWebhookSecret"], true, "{read}");
    assert!(!read.to_string().contains("sk_test_"), "{read}");

    // Pages show the stored publishable key; a card payment goes through
    // with the stored secret key.
    let http = client();
    let pay_page = support::buy_and_open_pay_page(&http, &server);
    assert!(pay_page.contains("data-publishable-key=\"pk_test_env\""));
    let fields = support::checkout_fields_with_token(&http, &server, "tok_visa");
    let paid = http
        .post(server.url("/forms/simple_payment_form"))
        .header("Accept", "application/json")
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(paid.status(), 201, "{}", paid.text().unwrap_or_default());

    // A live event reaching this test instance is stored, not applied; a
    // test event is applied. Both are signed with the stored secret.
    let event = |id: &str, livemode: bool| {
        json!({"id": id, "object": "event", "type": "customer.created", "livemode": livemode,
               "created": 1_700_000_000,
               "data": {"object": {"id": format!("cus_{id}"), "object": "customer", "email": "e@example.com",
                                    "livemode": livemode, "created": 1_700_000_000}}})
        .to_string()
    };
    for (id, livemode) in [("evt_live_one", true), ("evt_test_one", false)] {
        let body = event(id, livemode);
        let status = client()
            .post(server.url("/webhooks/stripe"))
            .header(
                "Stripe-Signature",
                support::stripe_signature_header_now(&body, WEBHOOK_SECRET),
            )
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let events = || {
        graphql(
            &server,
            "{ stripe_webhookEvents(first: 10) { nodes { eventId status lastError } } }",
            json!({}),
        )["data"]["stripe_webhookEvents"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let settled = |nodes: &[Value], id: &str| {
        nodes
            .iter()
            .find(|n| n["eventId"] == id)
            .filter(|n| n["status"] != "pending" && n["status"] != "processing")
            .cloned()
    };
    wait_for("both events settled", Duration::from_secs(20), || {
        let nodes = events();
        (settled(&nodes, "evt_live_one").is_some() && settled(&nodes, "evt_test_one").is_some()).then_some(())
    });
    let nodes = events();
    let live = settled(&nodes, "evt_live_one").unwrap();
    assert_eq!(live["status"], "skipped", "{live}");
    assert!(live["lastError"].as_str().unwrap().contains("live event"), "{live}");
    assert_eq!(settled(&nodes, "evt_test_one").unwrap()["status"], "processed");

    // Nothing holds the secrets in clear: not the database, not the log.
    let database = std::fs::read(server.database_url()).unwrap();
    let needle = |haystack: &[u8], secret: &str| haystack.windows(secret.len()).any(|w| w == secret.as_bytes());
    assert!(!needle(&database, &secret_key), "the secret key is in the database");
    assert!(
        !needle(&database, WEBHOOK_SECRET),
        "the webhook secret is in the database"
    );
    let log = server.log_text();
    assert!(
        !log.contains(&secret_key) && !log.contains(WEBHOOK_SECRET),
        "a secret is in the log"
    );
}

#[test]
fn a_live_instance_refuses_the_sandbox_and_test_keys() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let output = Command::new(payforms_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PAYFORMS_SECRET", "environments-test-secret-0123456789abcdef")
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let app = support::repo_root().display().to_string();
    let database = dir.path().join("live.sqlite3").display().to_string();
    let (ok, stderr) = run(
        &[
            "serve",
            "--sandbox",
            "--app",
            &app,
            "--database",
            &database,
            "--bind",
            "127.0.0.1:0",
        ],
        &[("PAYFORMS_ENVIRONMENT", "live")],
    );
    assert!(!ok && stderr.contains("test mode only"), "{stderr}");
    let (ok, stderr) = run(
        &["serve", "--app", &app, "--database", &database, "--bind", "127.0.0.1:0"],
        &[
            ("PAYFORMS_ENVIRONMENT", "live"),
            ("STRIPE_SECRET_KEY", "sk_test_abcdef"),
        ],
    );
    assert!(!ok && stderr.contains("STRIPE_SECRET_KEY"), "{stderr}");
    assert!(!stderr.contains("abcdef"), "the key is not repeated: {stderr}");
}

#[test]
fn rotation_keeps_every_configuration_readable() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("rotate.sqlite3").display().to_string();
    let app = support::repo_root().display().to_string();
    let old_key = format!("old-encryption-key-{}", random_hex(16));
    let new_key = format!("new-encryption-key-{}", random_hex(16));
    let secret_key = format!("sk_test_{}", random_hex(12));
    let run = |args: &[&str], env: &[(&str, &str)], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(payforms_bin())
            .args(args)
            .args(["--app", &app, "--database", &database])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PAYFORMS_SECRET", "environments-test-secret-0123456789abcdef")
            .env("STRIPE_API_BASE", sandbox.base_url())
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    };
    let (ok, out) = run(
        &[
            "config",
            "stripe",
            "set",
            "--environment",
            "test",
            "--publishable-key",
            "pk_test_rot",
            "--secret-key",
            "-",
        ],
        &[("PAYFORMS_ENCRYPTION_KEY", &old_key)],
        &format!("{secret_key}\n"),
    );
    assert!(ok && out.contains("connected"), "{out}");
    assert!(!out.contains(&secret_key), "{out}");
    // With only the new key, the stored configuration cannot be read.
    let (ok, out) = run(
        &["config", "stripe", "check", "--environment", "test"],
        &[("PAYFORMS_ENCRYPTION_KEY", &new_key)],
        "",
    );
    assert!(!ok, "{out}");
    let (ok, out) = run(
        &["secrets", "rotate"],
        &[
            ("PAYFORMS_ENCRYPTION_KEY", &new_key),
            ("PAYFORMS_PREVIOUS_ENCRYPTION_KEY", &old_key),
        ],
        "",
    );
    assert!(ok && out.contains("1 secret(s) re-encrypted"), "{out}");
    let (ok, out) = run(
        &["config", "stripe", "check", "--environment", "test"],
        &[("PAYFORMS_ENCRYPTION_KEY", &new_key)],
        "",
    );
    assert!(ok && out.contains("connected"), "{out}");
    let stored = std::fs::read(&database).unwrap();
    assert!(!stored.windows(secret_key.len()).any(|w| w == secret_key.as_bytes()));
}

#[test]
fn gateway_defaults_are_checked_at_load_enforced_at_dispatch_and_shown_to_front_ends() {
    let app = support::copy_app(support::repo_root());
    std::fs::write(
        app.path().join("gateways/stripe.yml"),
        "currencies: [usd, eur, gbp, jpy]\npayment_methods: [card]\ncapture: manual\n",
    )
    .unwrap();
    let env = stripe_support::StripeEnv::with_options(
        stripe_support::Peer::Sandbox(Sandbox::start()),
        ServerOptions::new(app.path()),
    );

    let gateway = env.graphql(
        "{ paymentGateway { name environment livemode publishableKey currencies paymentMethods captureMethod } }",
        json!({}),
    );
    let gateway = &gateway["data"]["paymentGateway"];
    assert_eq!(gateway["environment"], "TEST", "{gateway}");
    assert_eq!(gateway["livemode"], false);
    assert_eq!(gateway["publishableKey"], env.peer.publishable_key());
    assert_eq!(gateway["currencies"], json!(["usd", "eur", "gbp", "jpy"]));
    assert_eq!(gateway["paymentMethods"], json!(["card"]));
    assert_eq!(gateway["captureMethod"], "manual");

    // A currency the app does not accept is refused before Stripe is called.
    let refused = env.dispatch_err(
        "create_payment",
        json!({"amount": 500, "currency": "chf", "paymentMethod": "pm_card_visa"}),
    );
    assert!(
        refused["message"].as_str().unwrap_or("").contains("not accepted"),
        "{refused}"
    );
    // Manual capture is the default when the form does not say.
    let payment = env.dispatch_ok(
        "create_payment",
        json!({"amount": 500, "currency": "usd", "paymentMethod": "pm_card_visa"}),
    );
    assert_eq!(payment["state"], "authorized", "{payment}");
    let captured = env.dispatch_ok(
        "create_payment",
        json!({"amount": 700, "currency": "usd", "paymentMethod": "pm_card_visa", "capture": true}),
    );
    assert_eq!(captured["state"], "succeeded", "{captured}");

    // `payforms check` names a form whose currencies the gateway refuses.
    std::fs::write(app.path().join("gateways/stripe.yml"), "currencies: [usd]\n").unwrap();
    let output = Command::new(payforms_bin())
        .args(["check", "--app"])
        .arg(app.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(
        printed.contains("form_configurations/create_order_form.liquid:9: field `currency` accepts eur, gbp"),
        "{printed}"
    );
}

#[test]
fn only_admin_keys_touch_the_configuration_and_a_forgotten_environment_refuses_to_start() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("forgotten.sqlite3").display().to_string();
    let server = TestServer::start(
        ServerOptions::default()
            .database(database.clone())
            .env("STRIPE_API_BASE", sandbox.base_url())
            .env("PAYFORMS_API_KEYS", "plain-api-key")
            .env("PAYFORMS_ADMIN_API_KEYS", API_KEY),
    );
    let ask = |key: &str| -> Value {
        client()
            .post(server.url("/api/graphql"))
            .bearer_auth(key)
            .json(
                &json!({"query": CONFIGURE, "variables": {"input": {"environment": "LIVE",
                "secretKey": "sk_live_stored", "publishableKey": "pk_live_stored"}}}),
            )
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let plain = ask("plain-api-key");
    assert_eq!(error_code(&plain), "FORBIDDEN", "{plain}");
    // The admin key stores it; a test instance sends a live key nowhere.
    let admin = ask(API_KEY);
    assert_eq!(
        admin["data"]["configureStripe"]["connectionStatus"], "unchecked",
        "{admin}"
    );
    let secret = server.options().secret().unwrap().to_string();
    drop(server);

    // The same database without PAYFORMS_ENVIRONMENT: refused, since a
    // live configuration is stored.
    // (A server that started anyway is stopped by the timeout below.)
    let mut child = Command::new(payforms_bin())
        .args([
            "serve",
            "--no-watch",
            "--bind",
            "127.0.0.1:0",
            "--database",
            &database,
            "--app",
        ])
        .arg(support::repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PAYFORMS_SECRET", &secret)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.is_some_and(|s| !s.success()), "the server started: {stderr}");
    assert!(stderr.contains("PAYFORMS_ENVIRONMENT is not set"), "{stderr}");
}
