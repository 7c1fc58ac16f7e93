//! What the runtime does for every request type, end to end through a form
//! on the real server and a recording gateway: module default headers under
//! the notification's own, inputs coerced to their declared types, blank
//! values left out of the body, path parameters required and encoded, a
//! mapper that runs only on 2xx and reads missing members as nil, a
//! template error that is a 500 without file paths for the visitor; and,
//! on a loaded app, wildcard webhook processors and the event list derived
//! from them.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{json, Value};
use support::{client, copy_app, form_html, input_values, random_hex, repo_root, ServerOptions, TestServer};

const API_KEY: &str = "request-types-test-key";

/// One request the gateway received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers `POST /v1/things/{id}` with a thing (402 for the id `declined`)
/// and records every request.
struct RecordingGateway {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl RecordingGateway {
    fn start() -> RecordingGateway {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let request = read_request(&stream);
                let (status, body) = if request.path.ends_with("/declined") {
                    (
                        "402 Payment Required",
                        json!({"error": {"type": "card_error", "code": "card_declined", "message": "declined"}}),
                    )
                } else {
                    (
                        "200 OK",
                        json!({"id": "thing_1", "object": "thing", "email": "thing@example.com"}),
                    )
                };
                log.lock().unwrap().push(request);
                let body = body.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        RecordingGateway { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn read_request(stream: &std::net::TcpStream) -> Received {
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            headers.push((name.to_string(), value.trim().to_string()));
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    Received {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The shipped app plus `modules/acme`: defaults, a request type, its
/// mapper, a broken request type, and a page with a form for each.
fn acme_app() -> tempfile::TempDir {
    let app = copy_app(repo_root());
    let root = app.path();
    write(
        root,
        "modules/acme/notifications/defaults.yml",
        r#"format: form
headers: >-
  {
    "Authorization": {{ gateway.secret_key | prepend: "Bearer " | json }},
    "X-Module": "acme",
    "X-Account": {{ data.account | json }}
  }
"#,
    );
    write(
        root,
        "modules/acme/notifications/api_call_notifications/echo.liquid",
        r#"---
to: '{{ gateway.api_base }}/v1/things/{{ data.thing_id }}'
headers: '{ "X-Module": "echo" }'
path_params: [thing_id]
send_blank: [note]
fields:
  thing_id: string
  capture: boolean
  amount: integer
  metadata: json
  note: string
---
{
  "capture": {{ data.capture | json }},
  "amount": {{ data.amount | json }},
  "metadata": {{ data.metadata | json }},
  "note": {{ data.note | json }},
  "nothing": { "inside": null, "list": [] }
}
"#,
    );
    write(
        root,
        "modules/acme/templates/response_mappers/echo.liquid",
        r#"{%- assign thing = response.body -%}
{
  "model": "modules/payments/customer",
  "operation": "upsert",
  "match": { "gateway_id": {{ thing.id | json }} },
  "properties": {
    "gateway_id": {{ thing.id | json }},
    "email": {{ thing.email | json }},
    "name": {{ thing.owner.name | json }}
  }
}
"#,
    );
    write(
        root,
        "modules/acme/notifications/api_call_notifications/broken.liquid",
        r#"---
to: '{{ gateway.api_base }}/v1/broken'
fields:
  n: integer
---
{ "n": {{ data.n | divided_by: 0 }} }
"#,
    );
    for (form, request_type) in [
        ("acme_echo", "modules/acme/echo"),
        ("acme_broken", "modules/acme/broken"),
    ] {
        write(
            root,
            &format!("form_configurations/{form}.liquid"),
            &format!(
                r#"---
resource: modules/payments/customer
request_type: {request_type}
fields:
  thing_id: {{ editable: true }}
  capture: {{ editable: true }}
  amount: {{ editable: true }}
  metadata: {{ editable: true }}
  note: {{ editable: true }}
  n: {{ editable: true }}
  account: {{ editable: true }}
redirect_to: /acme
---
{{% form id: '{form}' %}}
  <input name="form[thing_id]"><input name="form[capture]"><input name="form[amount]">
  <input name="form[metadata]"><input name="form[note]"><input name="form[n]"><input name="form[account]">
{{% endform %}}
"#
            ),
        );
    }
    write(
        root,
        "templates/pages/acme.liquid",
        "{% include_form 'acme_echo' %}{% include_form 'acme_broken' %}\n",
    );
    app
}

fn server(app: &Path, gateway: &RecordingGateway) -> TestServer {
    TestServer::start(
        ServerOptions::new(app)
            .env("STRIPE_API_BASE", &gateway.url)
            .env("STRIPE_SECRET_KEY", format!("sk_test_{}", random_hex(12)))
            .env("STRIPE_PUBLISHABLE_KEY", "pk_test_request_types")
            .env("STRIPE_WEBHOOK_SECRET", format!("whsec_{}", random_hex(12)))
            .env("PAYFORMS_API_KEYS", API_KEY),
    )
}

/// Post form `form` of /acme with `values` for its editable fields.
fn submit(server: &TestServer, form: &str, values: &[(&str, &str)]) -> reqwest::blocking::Response {
    let http = client();
    let html = http.get(server.url("/acme")).send().unwrap().text().unwrap();
    let mut fields = input_values(form_html(&html, form).expect("the form is on the page"));
    for (name, value) in fields.iter_mut() {
        if let Some((_, given)) = values.iter().find(|(n, _)| *name == format!("form[{n}]")) {
            *value = given.to_string();
        }
    }
    http.post(server.url(&format!("/forms/{form}")))
        .header("Accept", "application/json")
        .form(&fields)
        .send()
        .unwrap()
}

fn customers(server: &TestServer) -> Value {
    let body: Value = client()
        .post(server.url("/api/graphql"))
        .bearer_auth(API_KEY)
        .json(&json!({"query": "{ customers { totalCount edges { node { gatewayId email name } } } }"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    body["data"]["customers"].clone()
}

#[test]
fn the_runtime_types_inputs_merges_headers_and_leaves_blanks_out() {
    let gateway = RecordingGateway::start();
    let app = acme_app();
    let server = server(app.path(), &gateway);
    let response = submit(
        &server,
        "acme_echo",
        &[
            ("thing_id", "th/1 x"),
            ("capture", "yes"),
            ("amount", "599"),
            ("metadata", r#"{"order": 7}"#),
            ("note", ""),
        ],
    );
    assert_eq!(response.status(), 201, "{}", response.text().unwrap_or_default());
    let received = gateway.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    assert_eq!(request.method, "POST");
    // One path segment, whatever the input holds.
    assert_eq!(request.path, "/v1/things/th%2F1%20x");
    // The notification's header replaces the module's; a null one is not sent.
    assert_eq!(request.header("X-Module"), Some("echo"));
    assert!(request
        .header("Authorization")
        .is_some_and(|a| a.starts_with("Bearer sk_test_")));
    assert_eq!(request.header("X-Account"), None);
    // Typed values; the empty object is not sent, the note (send_blank) is
    // sent empty, which clears it at the gateway.
    assert_eq!(request.body, "amount=599&capture=true&metadata[order]=7&note=");

    // The mapper wrote the record; a member the answer lacks is nil.
    let stored = customers(&server);
    assert_eq!(stored["totalCount"], 1, "{stored}");
    assert_eq!(
        stored["edges"][0]["node"],
        json!({"gatewayId": "thing_1", "email": "thing@example.com", "name": null})
    );
}

#[test]
fn a_missing_path_parameter_is_the_visitors_error_and_nothing_is_sent() {
    let gateway = RecordingGateway::start();
    let app = acme_app();
    let server = server(app.path(), &gateway);
    let response = submit(&server, "acme_echo", &[("thing_id", "  "), ("capture", "no")]);
    assert_eq!(response.status(), 422);
    let body: Value = response.json().unwrap();
    let message = body["errors"]["base"][0].as_str().unwrap_or_default();
    assert!(message.contains("thing_id") && message.contains("required"), "{body}");
    assert!(gateway.received().is_empty(), "nothing reached the gateway");

    // An id can never walk to another resource, nor end a header.
    for values in [
        vec![("thing_id", "..")],
        vec![("thing_id", ".")],
        vec![("thing_id", "t1"), ("account", "acct_1\r\nX-Injected: 1")],
    ] {
        let response = submit(&server, "acme_echo", &values);
        assert_eq!(response.status(), 422, "{values:?}");
    }
    assert!(gateway.received().is_empty(), "{:?}", gateway.received());

    let response = submit(&server, "acme_echo", &[("thing_id", "t1"), ("capture", "maybe")]);
    assert_eq!(response.status(), 422);
    let body: Value = response.json().unwrap();
    assert!(body.to_string().contains("capture: must be true or false"), "{body}");
    assert!(gateway.received().is_empty());
}

#[test]
fn an_answer_that_is_not_2xx_writes_nothing_and_is_the_visitors_error() {
    let gateway = RecordingGateway::start();
    let app = acme_app();
    let server = server(app.path(), &gateway);
    let response = submit(&server, "acme_echo", &[("thing_id", "declined")]);
    assert_eq!(response.status(), 422);
    let body: Value = response.json().unwrap();
    assert!(body["errors"]["base"][0].as_str().is_some(), "{body}");
    assert_eq!(gateway.received().len(), 1);
    assert_eq!(customers(&server)["totalCount"], 0, "the mapper did not run");
}

#[test]
fn a_template_error_is_a_500_for_the_visitor_with_the_details_in_the_log() {
    let gateway = RecordingGateway::start();
    let app = acme_app();
    let server = server(app.path(), &gateway);
    let response = submit(&server, "acme_broken", &[("n", "3")]);
    assert_eq!(response.status(), 500);
    let text = response.text().unwrap();
    assert!(
        !text.contains(".liquid") && !text.contains("modules/acme"),
        "no file path reaches the visitor: {text}"
    );
    assert!(gateway.received().is_empty());
    support::wait_for(
        "the log to name the template",
        std::time::Duration::from_secs(5),
        || {
            server
                .log_text()
                .contains("modules/acme/notifications/api_call_notifications/broken.liquid")
                .then_some(())
        },
    );
}

#[test]
fn wildcard_processors_handle_their_family_and_are_subscribed() {
    let app = copy_app(repo_root());
    let root = app.path();
    write(
        root,
        "templates/webhook_processors/payment_intent.*.liquid",
        "any payment intent\n",
    );
    write(
        root,
        "templates/webhook_processors/customer.subscription.*.liquid",
        "any subscription\n",
    );
    write(root, "templates/webhook_processors/payout_paid.liquid", "a payout\n");
    let loaded = payforms::app::App::load(root).expect("the app loads");
    let processor = |event: &str| loaded.webhook_processor(event).map(|t| t.file.display().to_string());
    // An exact processor wins over a wildcard; the closest wildcard wins.
    assert!(processor("payment_intent.succeeded")
        .unwrap()
        .ends_with("payment_intent.succeeded.liquid"));
    assert!(processor("payment_intent.partially_funded")
        .unwrap()
        .ends_with("payment_intent.*.liquid"));
    assert!(processor("customer.subscription.paused")
        .unwrap()
        .ends_with("customer.subscription.*.liquid"));
    assert!(processor("customer.subscription.updated")
        .unwrap()
        .ends_with("customer.subscription.updated.liquid"));
    assert_eq!(processor("payout.failed"), None);

    let events = payforms::webhooks::event_types::handled_event_types(&loaded);
    for expected in [
        "payment_intent.created",
        "payment_intent.partially_funded",
        "customer.subscription.paused",
        "invoice.finalized",
        "payout.paid",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} is subscribed: {events:?}"
        );
    }
    assert!(!events.iter().any(|e| e.contains('*')), "{events:?}");
}

#[test]
fn check_names_a_mapper_that_writes_a_model_that_does_not_exist() {
    let app = copy_app(repo_root());
    write(
        app.path(),
        "templates/response_mappers/typo.liquid",
        "{\n  \"model\": \"modules/payments/paymnet\",\n  \"operation\": \"create\"\n}\n",
    );
    write(
        app.path(),
        "templates/webhook_processors/customer.created.liquid",
        "{% record r = 'modules/payments/custmer', properties: object %}\n",
    );
    // A page partial's "model" is the page's business.
    write(
        app.path(),
        "templates/partials/car_data.liquid",
        "<script>var car = { \"make\": \"Tesla\", \"model\": \"Roadster\" };</script>\n",
    );
    let output = std::process::Command::new(support::payforms_bin())
        .args(["check", "--app"])
        .arg(app.path())
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success());
    assert!(
        printed.contains("templates/response_mappers/typo.liquid:2") && printed.contains("modules/payments/paymnet"),
        "{printed}"
    );
    assert!(
        printed.contains("templates/webhook_processors/customer.created.liquid:1")
            && printed.contains("modules/payments/custmer"),
        "{printed}"
    );
    assert!(!printed.contains("Roadster"), "{printed}");
}

#[test]
fn a_scaffolded_request_type_loads() {
    let app = copy_app(repo_root());
    for spec in ["acme/create_coupon", "stripe/create_coupon"] {
        let made = std::process::Command::new(support::payforms_bin())
            .args(["new", "request-type", spec, "--app"])
            .arg(app.path())
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    }
    assert!(app.path().join("modules/acme/notifications/defaults.yml").is_file());
    let output = std::process::Command::new(support::payforms_bin())
        .args(["check", "--app"])
        .arg(app.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Answers `GET /v1/payment_intents/pi_real` as Stripe's current API does:
/// `latest_charge` is the charge's id unless the call expands it.
fn current_api_gateway() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let paths = Arc::new(Mutex::new(Vec::new()));
    let seen = paths.clone();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let request = read_request(&stream);
            let expanded = request.path.contains("expand") && request.path.contains("latest_charge");
            seen.lock().unwrap().push(request.path.clone());
            let charge = if expanded {
                json!({"id": "ch_real", "object": "charge", "amount": 1000, "amount_captured": 1000,
                       "amount_refunded": 1000, "captured": true, "refunded": true})
            } else {
                json!("ch_real")
            };
            let body = json!({"id": "pi_real", "object": "payment_intent", "status": "succeeded",
                              "amount": 1000, "amount_received": 1000, "currency": "usd",
                              "latest_charge": charge, "metadata": {}})
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, paths)
}

#[test]
fn refreshing_a_refunded_payment_keeps_it_refunded() {
    let (url, paths) = current_api_gateway();
    let server = TestServer::start(
        ServerOptions::new(repo_root())
            .env("STRIPE_API_BASE", &url)
            .env("STRIPE_SECRET_KEY", format!("sk_test_{}", random_hex(12)))
            .env("STRIPE_PUBLISHABLE_KEY", "pk_test_request_types")
            .env("STRIPE_WEBHOOK_SECRET", format!("whsec_{}", random_hex(12)))
            .env("PAYFORMS_API_KEYS", API_KEY),
    );
    let graphql = |query: &str| -> Value {
        client()
            .post(server.url("/api/graphql"))
            .bearer_auth(API_KEY)
            .json(&json!({ "query": query }))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let refreshed = graphql(
        r#"mutation { send_stripe_getPaymentIntent(input: {gatewayId: "pi_real"}) { record errors { message } } }"#,
    );
    let record = &refreshed["data"]["send_stripe_getPaymentIntent"]["record"];
    assert_eq!(record["state"], "refunded", "{refreshed}");
    assert_eq!(record["amount_refunded"], 1000, "{refreshed}");
    assert!(paths.lock().unwrap().iter().all(|p| p.contains("expand")), "{paths:?}");
}

#[test]
fn hostile_typed_inputs_are_refused_and_the_server_stays_up() {
    let gateway = RecordingGateway::start();
    let app = acme_app();
    let server = server(app.path(), &gateway);
    let deep = "[".repeat(100_000);
    let wide = format!(
        "{{{}}}",
        (0..20_000)
            .map(|i| format!("\"k{i}\": {i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    for (field, value) in [
        ("metadata", deep.as_str()),           // nesting far past the parser's limit
        ("metadata", "{\"unclosed\": "),       // malformed
        ("metadata", "12"),                    // JSON, but not an object or list
        ("amount", "99999999999999999999999"), // past i64
        ("amount", "5.99"),                    // wrong type
        ("capture", "sometimes"),
    ] {
        let response = submit(&server, "acme_echo", &[("thing_id", "t1"), (field, value)]);
        assert_eq!(response.status(), 422, "{field}: {}", &value[..value.len().min(40)]);
    }
    assert!(gateway.received().is_empty(), "nothing reached the gateway");
    assert_eq!(customers(&server)["totalCount"], 0, "nothing was stored");

    // A wide but well-formed object is an ordinary (large) input.
    let response = submit(&server, "acme_echo", &[("thing_id", "t1"), ("metadata", wide.as_str())]);
    assert!(response.status().as_u16() < 500, "{}", response.status());
    // Still alive.
    let page = client().get(server.url("/acme")).send().unwrap();
    assert_eq!(page.status(), 200);
}
