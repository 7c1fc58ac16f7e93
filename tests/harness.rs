//! Tests of the test harness itself (tests/support): peers start, isolate and
//! clean up; the signature helper agrees with a hand-computed vector and with
//! localstripe's own signer; the HTTP helpers behave as the suite expects.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use support::*;

#[test]
fn free_port_can_be_bound() {
    let port = free_port();
    assert_ne!(port, 0);
    TcpListener::bind(("127.0.0.1", port)).expect("the port free_port returned is bindable");
}

#[test]
fn signature_matches_hand_computed_vector() {
    // printf '1700000000.{"id":"evt_1"}' | openssl dgst -sha256 -hmac whsec_test
    let header = stripe_signature_header(r#"{"id":"evt_1"}"#, "whsec_test", 1_700_000_000);
    assert_eq!(
        header,
        "t=1700000000,v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
    );
}

#[test]
fn signature_depends_on_payload_secret_and_timestamp() {
    let base = stripe_signature_header("{}", "whsec_a", 1);
    assert_ne!(base, stripe_signature_header("{ }", "whsec_a", 1));
    assert_ne!(base, stripe_signature_header("{}", "whsec_b", 1));
    assert_ne!(base, stripe_signature_header("{}", "whsec_a", 2));
    // Unicode and newlines are signed byte for byte, not trimmed.
    let unicode = stripe_signature_header("{\"name\":\"Zoë ✓\"}\n", "whsec_a", 1);
    assert_ne!(unicode, stripe_signature_header("{\"name\":\"Zoë ✓\"}", "whsec_a", 1));
    assert!(stripe_signature_header_now("{}", "whsec_a").starts_with("t=1"));
}

#[test]
fn localstripe_starts_from_scratch_and_flushes() {
    let stripe = Localstripe::start();
    assert!(
        stripe.list_all("/v1/customers").is_empty(),
        "a fresh localstripe has no customers"
    );
    let (status, customer) = stripe.post("/v1/customers", &[("email", "zoë@example.com")]);
    assert_eq!(status, 200, "{customer}");
    assert!(customer["id"].as_str().unwrap().starts_with("cus_"));
    assert_eq!(customer["email"], "zoë@example.com");
    assert_eq!(stripe.list_all("/v1/customers").len(), 1);
    stripe.flush();
    assert!(stripe.list_all("/v1/customers").is_empty());
}

#[test]
fn localstripe_instances_do_not_share_data() {
    let one = Localstripe::start();
    let two = Localstripe::start();
    assert_ne!(one.port(), two.port());
    one.post("/v1/customers", &[("email", "a@example.com")]);
    assert_eq!(one.list_all("/v1/customers").len(), 1);
    assert!(two.list_all("/v1/customers").is_empty());
}

#[test]
fn localstripe_list_all_follows_pages() {
    let stripe = Localstripe::start();
    for i in 0..12 {
        let (status, _) = stripe.post("/v1/customers", &[("email", &format!("c{i}@example.com"))]);
        assert_eq!(status, 200);
    }
    let (_, first_page) = stripe.get("/v1/customers");
    assert_eq!(
        first_page["data"].as_array().unwrap().len(),
        10,
        "localstripe pages by 10"
    );
    assert_eq!(stripe.list_all("/v1/customers").len(), 12);
}

#[test]
fn localstripe_rejects_requests_without_key_and_serves_js_mock() {
    let stripe = Localstripe::start();
    let http = client();
    let unauthorized = http.get(format!("{}/v1/customers", stripe.base_url())).send().unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    let js = http.get(stripe.js_url()).send().unwrap();
    assert_eq!(js.status().as_u16(), 200);
    assert!(js.text().unwrap().contains("confirmCardPayment"));
    let no_slash = http.get(stripe.js_url().trim_end_matches('/')).send().unwrap();
    assert_eq!(no_slash.status().as_u16(), 404, "the mock needs its trailing slash");
}

#[test]
fn localstripe_webhook_signature_matches_independent_signer() {
    let stripe = Localstripe::start();
    let receiver = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/webhooks/stripe",
        receiver.local_addr().unwrap().port()
    );
    stripe.register_webhook("harness", &url, "whsec_harness", &["customer.created"]);
    stripe.post("/v1/customers", &[("email", "hook@example.com")]);

    receiver.set_nonblocking(false).unwrap();
    let (head, body) = accept_one_request(&receiver, Duration::from_secs(15));
    let signature = header_value(&head, "stripe-signature").expect("Stripe-Signature header");
    let timestamp: i64 = signature
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .expect("t= in Stripe-Signature");
    assert_eq!(signature, stripe_signature_header(&body, "whsec_harness", timestamp));
    let event: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["type"], "customer.created");
    assert_eq!(event["data"]["object"]["email"], "hook@example.com");
    assert_ne!(signature, stripe_signature_header(&body, "whsec_other", timestamp));
}

#[test]
fn pg_database_is_fresh_usable_and_dropped() {
    let name;
    {
        let db = PgDatabase::fresh();
        name = db.name().to_string();
        assert!(name.starts_with("payforms_t_"));
        assert!(
            db.url().starts_with("postgres://") && db.url().ends_with(&name),
            "{}",
            db.url()
        );
        assert_eq!(db.query("SELECT current_database()"), name);
        db.query("CREATE TABLE t (v text); INSERT INTO t VALUES ('zoë')");
        assert_eq!(db.query("SELECT v FROM t"), "zoë");
        let other = PgDatabase::fresh();
        assert_ne!(other.name(), name);
        assert_eq!(other.query("SELECT count(*) FROM pg_tables WHERE tablename = 't'"), "0");
    }
    let left = Command::new("psql")
        .args([&admin_url(), "-X", "-A", "-t", "-c"])
        .arg(format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&left.stdout).trim(),
        "0",
        "database dropped on Drop"
    );
}

#[test]
fn copy_app_takes_app_files_and_leaves_build_output() {
    let src = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = src.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("payforms.toml", "bind = \"x\"");
    write("templates/pages/index.liquid", "héllo");
    write("modules/stripe/templates/partials/card.liquid", "card");
    write("target/debug/payforms", "binary");
    write(".git/HEAD", "ref");
    write("data/payforms.sqlite3", "db");
    write("src/main.rs", "fn main() {}");

    let copy = copy_app(src.path());
    let read = |rel: &str| std::fs::read_to_string(copy.path().join(rel)).ok();
    assert_eq!(read("payforms.toml").as_deref(), Some("bind = \"x\""));
    assert_eq!(read("templates/pages/index.liquid").as_deref(), Some("héllo"));
    assert_eq!(
        read("modules/stripe/templates/partials/card.liquid").as_deref(),
        Some("card")
    );
    for absent in ["target", ".git", "data", "src", "schema"] {
        assert!(!copy.path().join(absent).exists(), "{absent} must not be copied");
    }
    // The copy is independent of the source.
    std::fs::write(copy.path().join("templates/pages/index.liquid"), "changed").unwrap();
    assert_eq!(
        std::fs::read_to_string(src.path().join("templates/pages/index.liquid")).unwrap(),
        "héllo"
    );
}

#[test]
fn input_values_reads_rendered_forms() {
    let html = r#"
      <form id="other"><input name="x" value="1"></form>
      <form method="post" id="checkout-form" action="/forms/pay">
        <input type="hidden" name="form[signed]" value="a.b&amp;c&quot;d&#39;&#x2713;">
        <input value='v2' type='hidden' name='authenticity_token'>
        <input name=plain value=bare>
        <input type="checkbox" name="off" value="1">
        <input type="checkbox" name="on" value="1" checked>
        <input type="text" name="empty">
        <input type="submit" value="Pay">
      </form>"#;
    let form = form_html(html, "checkout-form").expect("form found");
    assert!(!form.contains(r#"name="x""#));
    let values = input_values(form);
    let pairs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        pairs,
        vec![
            ("form[signed]", "a.b&c\"d'✓"),
            ("authenticity_token", "v2"),
            ("plain", "bare"),
            ("on", "1"),
            ("empty", ""),
        ]
    );
    assert!(form_html(html, "missing").is_none());
    assert!(input_values("").is_empty());
    assert_eq!(html_unescape("&lt;b&gt; &unknown; &#0;"), "<b> &unknown; \u{0}");
}

#[test]
fn client_keeps_cookies_and_does_not_follow_redirects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = std::thread::spawn(move || {
        let mut heads = Vec::new();
        for reply in [
            "HTTP/1.1 303 See Other\r\nLocation: /payments\r\nSet-Cookie: flash=ok; Path=/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        ] {
            let (mut stream, _) = listener.accept().unwrap();
            heads.push(read_request(&mut stream).0);
            stream.write_all(reply.as_bytes()).unwrap();
        }
        heads
    });
    let http = client();
    let first = http.post(format!("{base}/forms/pay")).send().unwrap();
    assert_eq!(first.status().as_u16(), 303, "303 is returned, not followed");
    assert_eq!(first.headers()["location"], "/payments");
    let second = http.get(format!("{base}/payments")).send().unwrap();
    assert_eq!(second.text().unwrap(), "hi");
    let heads = server.join().unwrap();
    assert_eq!(header_value(&heads[1], "cookie").as_deref(), Some("flash=ok"));
}

#[test]
fn wait_for_returns_the_first_value() {
    let mut calls = 0;
    let value = wait_for("third call", Duration::from_secs(5), || {
        calls += 1;
        (calls == 3).then_some(calls)
    });
    assert_eq!(value, 3);
}

#[test]
#[should_panic(expected = "timed out")]
fn wait_for_panics_on_timeout() {
    wait_for::<()>("nothing", Duration::from_millis(120), || None);
}

#[test]
fn test_server_serves_the_demo_app_and_survives_kill9() {
    let app = copy_app(repo_root());
    let mut server = TestServer::start(ServerOptions::new(app.path()));
    let http = client();
    assert_eq!(http.get(server.url("/healthz")).send().unwrap().status().as_u16(), 200);
    let port = server.port();
    let database = server.database_url().to_string();

    server.kill9();
    assert!(!server.is_running());
    assert!(
        http.get(server.url("/healthz")).send().is_err(),
        "nothing listens after kill9"
    );

    server.restart();
    assert!(server.is_running());
    assert_eq!((server.port(), server.database_url()), (port, database.as_str()));
    assert_eq!(http.get(server.url("/healthz")).send().unwrap().status().as_u16(), 200);
    let secret = server.options().secret().unwrap().to_string();
    assert!(
        !server.log_text().contains(&secret),
        "PAYFORMS_SECRET leaked into the log"
    );
}

#[test]
fn test_server_runs_on_a_fresh_postgres_database() {
    let db = PgDatabase::fresh();
    let app = copy_app(repo_root());
    let server = TestServer::start(ServerOptions::new(app.path()).database(db.url()));
    let health = client().get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(server.database_url(), db.url());
}

/// Accepts one HTTP request (with `Content-Length` body), answers 200.
fn accept_one_request(listener: &TcpListener, timeout: Duration) -> (String, String) {
    listener.set_nonblocking(true).unwrap();
    let stream = wait_for("an HTTP request", timeout, || listener.accept().ok().map(|(s, _)| s));
    let mut stream = stream;
    stream.set_nonblocking(false).unwrap();
    let request = read_request(&mut stream);
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    request
}

fn read_request(stream: &mut TcpStream) -> (String, String) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = header_value(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
    })
}
