//! Helpers of the Stripe module's integration tests (tests/stripe_*.rs): a
//! payforms server wired to one Stripe peer — localstripe or `payforms
//! sandbox` — and GraphQL calls of the shipped request types.
//!
//! Lives in a folder so cargo does not build it as a test of its own; each
//! test file declares `mod support;` and `mod stripe_support;`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::support::{client, free_port, payforms_bin, random_hex, Localstripe, ServerOptions, TestServer};

/// Publishable key the sandbox's Stripe.js mock accepts (src/cli.rs).
pub const SANDBOX_PUBLISHABLE_KEY: &str = "pk_test_payforms_sandbox";
const SANDBOX_SECRET_KEY: &str = "sk_test_payforms_module_tests";

/// `payforms sandbox` on a free port, killed on Drop.
pub struct Sandbox {
    port: u16,
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Sandbox {
    pub fn start() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("payforms-sandbox-")
            .tempdir()
            .expect("temp dir");
        let log = dir.path().join("sandbox.log");
        let port = free_port();
        let file = std::fs::File::create(&log).expect("sandbox log");
        let err = file.try_clone().expect("sandbox log");
        let child = Command::new(payforms_bin())
            .args(["sandbox", "--bind", &format!("127.0.0.1:{port}")])
            .env_remove("STRIPE_SECRET_KEY")
            .env_remove("DATABASE_URL")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .expect("start `payforms sandbox`");
        let mut sandbox = Sandbox {
            port,
            child,
            log,
            _dir: dir,
        };
        sandbox.wait_ready();
        sandbox
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        let http = client();
        loop {
            let ready = http
                .get(format!("{}/v1/customers", self.base_url()))
                .bearer_auth(SANDBOX_SECRET_KEY)
                .timeout(Duration::from_secs(2))
                .send()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("payforms sandbox exited ({status}):\n{}", self.log_text());
            }
            if started.elapsed() > Duration::from_secs(30) {
                panic!("payforms sandbox did not answer in 30 s:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which Stripe the server talks to.
pub enum Peer {
    Localstripe(Localstripe),
    Sandbox(Sandbox),
}

impl Peer {
    pub fn base_url(&self) -> String {
        match self {
            Peer::Localstripe(l) => l.base_url(),
            Peer::Sandbox(s) => s.base_url(),
        }
    }

    pub fn secret_key(&self) -> &'static str {
        match self {
            Peer::Localstripe(l) => l.secret_key(),
            Peer::Sandbox(_) => SANDBOX_SECRET_KEY,
        }
    }

    pub fn publishable_key(&self) -> &'static str {
        match self {
            Peer::Localstripe(l) => l.publishable_key(),
            Peer::Sandbox(_) => SANDBOX_PUBLISHABLE_KEY,
        }
    }

    pub fn is_localstripe(&self) -> bool {
        matches!(self, Peer::Localstripe(_))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Peer::Localstripe(_) => "localstripe",
            Peer::Sandbox(_) => "sandbox",
        }
    }
}

/// A payforms server (the repository's app, so modules/stripe as shipped)
/// talking to one peer, with a GraphQL API key.
pub struct StripeEnv {
    // Field order: the server stops before its peer.
    pub server: TestServer,
    pub peer: Peer,
    api_key: String,
}

impl StripeEnv {
    pub fn localstripe() -> StripeEnv {
        StripeEnv::with_peer(Peer::Localstripe(Localstripe::start()))
    }

    pub fn sandbox() -> StripeEnv {
        StripeEnv::with_peer(Peer::Sandbox(Sandbox::start()))
    }

    pub fn with_peer(peer: Peer) -> StripeEnv {
        StripeEnv::with_options(peer, ServerOptions::default())
    }

    /// `options` (e.g. a copied app) plus the peer's settings and an API key.
    pub fn with_options(peer: Peer, options: ServerOptions) -> StripeEnv {
        let api_key = format!("test-api-{}", random_hex(12));
        let base = peer.base_url();
        let options = options
            .env("STRIPE_API_BASE", base.clone())
            .env("STRIPE_JS_URL", format!("{base}/js.stripe.com/v3/"))
            .env("STRIPE_SECRET_KEY", peer.secret_key())
            .env("STRIPE_PUBLISHABLE_KEY", peer.publishable_key())
            .env("PAYFORMS_API_KEYS", api_key.clone());
        let server = TestServer::start(options);
        StripeEnv { server, peer, api_key }
    }

    /// POST /api/graphql; the whole answer ({data, errors}).
    pub fn graphql(&self, query: &str, variables: Value) -> Value {
        let response = client()
            .post(self.server.url("/api/graphql"))
            .bearer_auth(&self.api_key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .expect("POST /api/graphql");
        let status = response.status();
        let body: Value = response.json().expect("GraphQL answers JSON");
        assert!(status.is_success(), "GraphQL answered {status}: {body}");
        body
    }

    /// Runs `send_stripe_<mutation>(input:, idempotencyKey:)` for request type
    /// `name` (snake_case, e.g. "create_customer") with `input` in
    /// GraphQL's camelCase. Ok(payload {record, model, errors}) or Err(the
    /// GraphQL errors).
    pub fn dispatch_with_key(&self, name: &str, input: Value, key: Option<&str>) -> Result<Value, Vec<Value>> {
        let pascal = pascal_case(name);
        let mutation = format!("send_stripe_{}", camel_case(name));
        let query = format!(
            "mutation($input: SendStripe{pascal}Input, $key: String) {{ \
               {mutation}(input: $input, idempotencyKey: $key) {{ record model errors {{ message code field }} }} }}"
        );
        let body = self.graphql(&query, json!({ "input": input, "key": key }));
        match body.get("errors").and_then(Value::as_array) {
            Some(errors) if !errors.is_empty() => Err(errors.clone()),
            _ => Ok(body["data"][&mutation].clone()),
        }
    }

    pub fn dispatch(&self, name: &str, input: Value) -> Result<Value, Vec<Value>> {
        self.dispatch_with_key(name, input, None)
    }

    /// Like `dispatch`, failing the test on a GraphQL error; the written record.
    pub fn dispatch_ok(&self, name: &str, input: Value) -> Value {
        match self.dispatch(name, input) {
            Ok(payload) => {
                let errors = payload["errors"].as_array().cloned().unwrap_or_default();
                assert!(errors.is_empty(), "{name} reported errors: {errors:?}");
                payload["record"].clone()
            }
            Err(errors) => panic!(
                "{name} on {} failed: {errors:?}\n--- server log ---\n{}",
                self.peer.name(),
                tail(&self.server.log_text(), 40)
            ),
        }
    }

    /// Like `dispatch`, expecting a GraphQL error; the first one.
    pub fn dispatch_err(&self, name: &str, input: Value) -> Value {
        match self.dispatch(name, input) {
            Ok(payload) => panic!("{name} should have failed, answered {payload}"),
            Err(errors) => errors[0].clone(),
        }
    }

    /// Nodes of a model's connection query, e.g. `records("payments",
    /// "gatewayId state amount", json!({"gatewayId": {"eq": "pi_1"}}))`.
    pub fn records(&self, connection: &str, fields: &str, filter: Value) -> Vec<Value> {
        let filter_type = format!("{}Filter", pascal_case(&singular(connection)));
        let query = format!(
            "query($filter: {filter_type}) {{ {connection}(first: 50, filter: $filter) {{ edges {{ node {{ id {fields} }} }} }} }}"
        );
        let body = self.graphql(&query, json!({ "filter": filter }));
        assert!(body.get("errors").is_none(), "query {connection} failed: {body}");
        body["data"][connection]["edges"]
            .as_array()
            .map(|edges| edges.iter().map(|e| e["node"].clone()).collect())
            .unwrap_or_default()
    }

    /// The one record of `connection` whose gatewayId is `gateway_id`.
    pub fn record_by_gateway_id(&self, connection: &str, fields: &str, gateway_id: &str) -> Value {
        let found = self.records(connection, fields, json!({ "gatewayId": { "eq": gateway_id } }));
        assert_eq!(
            found.len(),
            1,
            "expected one {connection} record with gatewayId {gateway_id}, found {found:?}"
        );
        found[0].clone()
    }

    /// The response body the request log kept for the last call of a request
    /// type (lists store no record; their answer is checked here).
    pub fn last_response(&self, request_type: &str) -> (i64, Value) {
        let found = self.records(
            "gatewayRequests",
            "requestType status responseBody createdAt",
            json!({ "requestType": { "eq": format!("modules/stripe/{request_type}") } }),
        );
        let last = found
            .first()
            .unwrap_or_else(|| panic!("no gateway_request logged for {request_type}"));
        let body = last["responseBody"].as_str().unwrap_or_default();
        (
            last["status"].as_i64().unwrap_or(0),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    }

    /// Direct calls to the peer, to arrange and to check what payforms did.
    pub fn stripe_post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = client()
            .post(format!("{}{path}", self.peer.base_url()))
            .bearer_auth(self.peer.secret_key())
            .form(form)
            .send()
            .expect("POST to the Stripe peer");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    pub fn stripe_get(&self, path: &str) -> (u16, Value) {
        let response = client()
            .get(format!("{}{path}", self.peer.base_url()))
            .bearer_auth(self.peer.secret_key())
            .send()
            .expect("GET from the Stripe peer");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// A card token made the way Stripe.js makes one.
    pub fn card_token(&self, number: &str) -> Value {
        let (status, token) = self.stripe_post(
            "/v1/tokens",
            &[
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2031"),
                ("card[cvc]", "123"),
            ],
        );
        assert_eq!(status, 200, "token for {number}: {token}");
        token
    }

    /// A PaymentMethod for a test card number.
    pub fn payment_method(&self, number: &str) -> String {
        let (status, pm) = self.stripe_post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2031"),
                ("card[cvc]", "123"),
            ],
        );
        assert_eq!(status, 200, "payment method for {number}: {pm}");
        text(&pm["id"])
    }

    /// A customer with a saved visa card (through create_customer itself).
    pub fn customer_with_card(&self, email: &str) -> (String, String) {
        let token = self.card_token("4242424242424242");
        let record = self.dispatch_ok(
            "create_customer",
            json!({ "email": email, "source": text(&token["id"]) }),
        );
        let customer = text(&record["gateway_id"]);
        (customer, text(&token["card"]["id"]))
    }
}

pub fn text(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| panic!("expected text, got {value}"))
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `create_customer` -> `createCustomer`.
pub fn camel_case(snake: &str) -> String {
    let pascal = pascal_case(snake);
    let mut chars = pascal.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// `create_customer` -> `CreateCustomer`.
pub fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `payments` -> `payment`, `gatewayRequests` -> `gateway_request`.
fn singular(connection: &str) -> String {
    let mut snake = String::new();
    for c in connection.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake.strip_suffix('s').unwrap_or(&snake).to_string()
}

#[test]
fn names_follow_graphql_habits() {
    assert_eq!(camel_case("create_customer"), "createCustomer");
    assert_eq!(pascal_case("get_payout"), "GetPayout");
    assert_eq!(singular("payments"), "payment");
    assert_eq!(singular("gatewayRequests"), "gateway_request");
    assert_eq!(singular("creditCards"), "credit_card");
}
