//! What payforms refuses at start-up and what the running app must not let
//! through: short secrets, a sandbox reachable from other machines, guessable
//! sandbox keys, JSON injection through `parse_json`, hot reload stalled by
//! a log written into the app folder. Each test starts the real binary.

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod support;

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{client, copy_app, free_port, payforms_bin, repo_root, wait_for, ServerOptions, TestServer};

/// Runs `payforms ARGS` with `env` (and nothing inherited from PAYFORMS_*/STRIPE_*)
/// and expects it to exit on its own within 20 s; returns (success, stderr).
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(payforms_bin());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("PAYFORMS_") || key.starts_with("STRIPE_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start payforms");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait for payforms") {
            let output = child.wait_with_output().expect("payforms output");
            return (status.success(), String::from_utf8_lossy(&output.stderr).into_owned());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("payforms {args:?} kept running: it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_secret_shorter_than_32_bytes_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("db.sqlite3").display().to_string();
    let bind = format!("127.0.0.1:{}", free_port());
    let app = repo_root().display().to_string();
    let short = "s".repeat(31);
    let (ok, stderr) = run_to_exit(
        &[
            "serve",
            "--app",
            &app,
            "--bind",
            &bind,
            "--database",
            &database,
            "--no-watch",
        ],
        &[("PAYFORMS_SECRET", &short)],
    );
    assert!(!ok, "started with a 31-byte secret");
    assert!(stderr.contains("at least 32 bytes"), "the reason is given: {stderr}");
    assert!(!stderr.contains(&short), "the secret is not echoed: {stderr}");
    assert!(!dir.path().join("db.sqlite3").exists(), "nothing was created");
}

#[test]
fn the_sandbox_refuses_a_public_bind_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("db.sqlite3").display().to_string();
    let app = repo_root().display().to_string();
    let secret = "0123456789abcdef0123456789abcdef0123";
    let public = format!("0.0.0.0:{}", free_port());
    let (ok, stderr) = run_to_exit(
        &[
            "serve",
            "--app",
            &app,
            "--bind",
            &public,
            "--database",
            &database,
            "--no-watch",
            "--sandbox",
        ],
        &[("PAYFORMS_SECRET", secret)],
    );
    assert!(!ok, "serve --sandbox listened on {public}");
    assert!(stderr.contains("--allow-public-bind"), "the way out is named: {stderr}");
    let (ok, stderr) = run_to_exit(&["sandbox", "--bind", &public], &[]);
    assert!(!ok, "payforms sandbox listened on {public}");
    assert!(stderr.contains("--allow-public-bind"), "{stderr}");

    // With the flag it starts (and answers on loopback only: nothing is
    // sent anywhere else).
    let port = free_port();
    let mut child = Command::new(payforms_bin())
        .args([
            "serve",
            "--app",
            &app,
            "--database",
            &database,
            "--no-watch",
            "--sandbox",
            "--allow-public-bind",
        ])
        .args(["--bind", &format!("0.0.0.0:{port}")])
        .env("PAYFORMS_SECRET", secret)
        .env_remove("STRIPE_SECRET_KEY")
        .env_remove("STRIPE_API_BASE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start payforms");
    let health = format!("http://127.0.0.1:{port}/healthz");
    let started = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        client().get(&health).send().is_ok_and(|r| r.status() == 200)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "serve --sandbox --allow-public-bind did not start");
}

/// The `pk_test_` key and the sandbox address a sandboxed /checkout uses.
fn sandbox_of(server: &TestServer) -> (String, String) {
    let html = support::buy_and_open_pay_page(&client(), server);
    let key_at = html.find("pk_test_").expect("a publishable key on /checkout");
    let key: String = html[key_at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let js_at = html.find("/js.stripe.com/v3/").expect("the Stripe.js URL on /checkout");
    let origin_at = html[..js_at].rfind("http://").expect("the sandbox origin");
    (key, html[origin_at..js_at].to_string())
}

#[test]
fn sandbox_keys_are_random_per_database_and_the_old_fixed_key_is_refused() {
    let first = TestServer::start(ServerOptions::new(repo_root()).arg("--sandbox"));
    let second = TestServer::start(ServerOptions::new(repo_root()).arg("--sandbox"));
    let (first_key, first_origin) = sandbox_of(&first);
    let (second_key, _) = sandbox_of(&second);
    assert!(first_key.len() >= "pk_test_".len() + 32, "{first_key}");
    assert_ne!(first_key, "pk_test_payforms_sandbox");
    assert_ne!(first_key, second_key, "two databases share a sandbox key");
    // Any other sk_test_ key (the old fixed one too) is a Stripe account of
    // its own, as merchants' keys are: it sees none of the instance's
    // objects, such as a payment made on the shop.
    let http = client();
    let fields = support::checkout_fields_with_token(&http, &first, "tok_visa");
    let paid = http
        .post(first.url("/forms/simple_payment_form"))
        .form(&fields)
        .send()
        .expect("pay");
    assert!(
        paid.status().is_success() || paid.status().is_redirection(),
        "{}",
        paid.status()
    );
    for key in [
        "sk_test_payforms_sandbox".to_string(),
        format!("sk_test_{}", "0".repeat(32)),
    ] {
        let listed: serde_json::Value = client()
            .get(format!("{first_origin}/v1/payment_intents"))
            .bearer_auth(&key)
            .send()
            .expect("sandbox API")
            .json()
            .expect("JSON");
        assert_eq!(
            listed["data"],
            serde_json::json!([]),
            "{key} sees the instance's account: {listed}"
        );
    }
    // The instance's own key is not guessable from another account's.
    let refused = client()
        .get(format!("{first_origin}/v1/payment_intents"))
        .bearer_auth("pk_test_payforms_sandbox")
        .send()
        .expect("sandbox API");
    assert_eq!(refused.status(), 401, "a publishable key lists nothing");
}

#[test]
fn a_value_printed_in_parse_json_cannot_add_keys() {
    let app = copy_app(repo_root());
    fs::write(
        app.path().join("templates/pages/json_echo.liquid"),
        "{% parse_json d %}{ \"customer\": \"{{ context.params.customer }}\", \"role\": \"visitor\", \
         \"amount\": {{ context.params.amount }} }{% endparse_json %}\
         <p id=\"out\">{{ d.role }}|{{ d.customer }}|{{ d.amount }}</p>\n",
    )
    .unwrap();
    let server = TestServer::start(ServerOptions::new(app.path()).arg("--sandbox"));
    let http = client();
    let get = |query: &str| {
        let response = http
            .get(server.url(&format!("/json_echo?{query}")))
            .send()
            .expect("GET");
        (response.status().as_u16(), response.text().unwrap_or_default())
    };
    let (status, body) = get("customer=cus_x%22,%22role%22:%22admin&amount=599");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<p id=\"out\">visitor|"), "a key was injected: {body}");
    assert!(body.contains("|599</p>"), "{body}");
    let (status, body) = get("customer=x%22&amount=1,%22role%22:%22admin%22");
    assert_eq!(status, 200, "a lone quote must not break the page: {body}");
    assert!(
        body.contains("<p id=\"out\">visitor|x&quot;|1,&quot;role&quot;"),
        "{body}"
    );
    // The demo page the finding was made on.
    let (status, _) = {
        let response = http
            .get(server.url("/subscription?customer=cus_x%22,%22form_id%22:%22injected"))
            .send()
            .expect("GET /subscription");
        (response.status().as_u16(), ())
    };
    assert!(status < 500, "/subscription answered {status}");
    let response = http.get(server.url("/subscription?customer=x%22")).send().expect("GET");
    assert!(
        response.status().as_u16() < 500,
        "/subscription?customer=x\" answered {}",
        response.status()
    );
}

#[test]
fn a_log_written_into_the_app_folder_does_not_hold_back_a_reload() {
    let app = copy_app(repo_root());
    let server = TestServer::start(ServerOptions::new(app.path()).watch(true).arg("--sandbox"));
    let http = client();
    // A log line into the app folder every 10 ms, as a server whose log
    // lives in the app would write under steady traffic.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let writing = writing.clone();
        let log = app.path().join("server.log");
        std::thread::spawn(move || {
            let mut file = fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
            while writing.load(Ordering::Relaxed) {
                let _ = writeln!(file, "GET /checkout 200 1ms");
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let page = app.path().join("templates/pages/reloaded.liquid");
    fs::write(&page, "<p>fresh</p>\n").unwrap();
    let edited = Instant::now();
    let served = wait_for("the new page while the log is written", Duration::from_secs(5), || {
        http.get(server.url("/reloaded"))
            .send()
            .ok()
            .filter(|r| r.status() == 200)
            .and_then(|r| r.text().ok())
            .filter(|body| body.contains("fresh"))
            .map(|_| edited.elapsed())
    });
    writing.store(false, Ordering::Relaxed);
    let _ = writer.join();
    // The reload itself waits at most 150 ms after the change; polling and
    // loading the app add the rest.
    assert!(served < Duration::from_secs(5), "{served:?}");
    let reloads = server.log_text().matches("app reloaded").count();
    assert!(
        reloads <= 3,
        "the log file triggered reloads ({reloads}):\n{}",
        server.log_text()
    );
}
