//! How one API request is served: decode Stripe's form encoding, check the
//! key, honour `Stripe-Account` and `Idempotency-Key`, run the resource's
//! handler under the state lock (rolling back everything if it fails
//! validation), expand ids, answer Stripe's JSON and deliver the events.

use std::sync::Arc;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::api_error::ApiError;
use super::auth::{self, Access, KeyKind};
use super::events::API_VERSION;
use super::expand;
use super::form;
use super::idempotency::{Lookup, StoredResponse};
use super::ids;
use super::params::Params;
use super::state::State;
use super::Accounts;
use super::Inner;
use super::{current, legacy};

/// A resource operation: pure state in, Stripe object out.
pub type Handler = fn(&mut State, &Call) -> Result<Value, ApiError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Delete,
}

impl Verb {
    fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Delete => Method::DELETE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Delete => "DELETE",
        }
    }
}

/// One endpoint under `/v1`.
#[derive(Clone, Copy)]
pub struct ApiRoute {
    pub verb: Verb,
    pub path: &'static str,
    pub access: Access,
    pub handler: Handler,
}

impl ApiRoute {
    /// Also callable from Stripe.js with the publishable key.
    pub const fn public(mut self) -> ApiRoute {
        self.access = Access::SecretOrPublishable;
        self
    }
}

pub const fn get(path: &'static str, handler: Handler) -> ApiRoute {
    ApiRoute {
        verb: Verb::Get,
        path,
        access: Access::Secret,
        handler,
    }
}

pub const fn post(path: &'static str, handler: Handler) -> ApiRoute {
    ApiRoute {
        verb: Verb::Post,
        path,
        access: Access::Secret,
        handler,
    }
}

pub const fn delete(path: &'static str, handler: Handler) -> ApiRoute {
    ApiRoute {
        verb: Verb::Delete,
        path,
        access: Access::Secret,
        handler,
    }
}

/// What a handler knows about the request.
#[derive(Debug, Clone)]
pub struct Call {
    pub params: Params,
    path_params: Vec<(String, String)>,
    /// The connected account from `Stripe-Account`, if any.
    pub account: Option<String>,
    pub key: KeyKind,
    pub now: i64,
    /// Where the sandbox is reachable, for hosted page URLs.
    pub base_url: String,
    pub request_id: String,
    pub idempotency_key: Option<String>,
    pub expand: Vec<String>,
}

impl Call {
    /// A call made by the sandbox itself (hosted pages), as the platform.
    pub fn internal(params: Params, base_url: &str) -> Call {
        Call {
            params,
            path_params: Vec::new(),
            account: None,
            key: KeyKind::Secret,
            now: chrono::Utc::now().timestamp(),
            base_url: base_url.to_string(),
            request_id: ids::request_id(),
            idempotency_key: None,
            expand: Vec::new(),
        }
    }

    /// A path parameter such as `{id}`.
    pub fn path(&self, name: &str) -> &str {
        self.path_params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The account whose objects this call sees (`None`: the platform).
    pub fn owner(&self) -> Option<&str> {
        self.account.as_deref()
    }

    pub fn expands(&self, field: &str) -> bool {
        self.expand
            .iter()
            .any(|p| p == field || p.starts_with(&format!("{field}.")))
    }

    /// With a publishable key, the object's `client_secret` must be sent.
    pub fn check_client_secret(&self, object: &Value, label: &str) -> Result<(), ApiError> {
        if self.key == KeyKind::Secret {
            return Ok(());
        }
        let sent = self.params.str("client_secret")?;
        match (sent.as_deref(), object["client_secret"].as_str()) {
            (Some(sent), Some(actual)) if sent == actual => Ok(()),
            (None, _) => Err(ApiError::missing_param("client_secret")),
            _ => Err(ApiError::invalid_param(
                "client_secret",
                format!("The client_secret provided does not match the client_secret associated with the {label}."),
            )),
        }
    }

    pub fn chrono_now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(self.now, 0).unwrap_or_else(chrono::Utc::now)
    }
}

/// The actix route for an API endpoint.
pub fn route(accounts: &Arc<Accounts>, api: ApiRoute) -> actix_web::Route {
    let accounts = accounts.clone();
    web::method(api.verb.method()).to(move |req: HttpRequest, body: Bytes| {
        let inner = accounts.for_request(&req);
        async move { run(&inner, &req, &body, api) }
    })
}

/// CORS preflight, as api.stripe.com answers it for browsers.
pub async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"))
        .insert_header((
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, Idempotency-Key, Stripe-Account, Stripe-Version",
        ))
        .insert_header(("Access-Control-Max-Age", "300"))
        .finish()
}

/// Stripe's answer for a URL or method it does not serve.
pub async fn unrecognized(req: HttpRequest) -> HttpResponse {
    ApiError::invalid(format!(
        "Unrecognized request URL ({}: {}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
        req.method(),
        req.path()
    ))
    .with_status(404)
    .to_response()
}

struct Reply {
    status: u16,
    body: String,
    replayed: bool,
}

fn run(inner: &Inner, req: &HttpRequest, body: &[u8], api: ApiRoute) -> HttpResponse {
    let request_id = ids::request_id();
    let idempotency_key = header(req, "Idempotency-Key").filter(|_| api.verb == Verb::Post);
    // Stripe answers in the version asked for; the sandbox echoes it (its
    // objects carry the members of both older and newer versions).
    let version = header(req, "Stripe-Version").unwrap_or_else(|| API_VERSION.to_string());
    let reply = match serve(inner, req, body, api, &request_id, idempotency_key.clone()) {
        Ok(reply) => reply,
        Err(error) => Reply {
            status: error.status,
            body: error.to_body().to_string(),
            replayed: false,
        },
    };
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response
        .content_type("application/json")
        // Stripe.js calls the API from shop pages on other origins.
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Request-Id", request_id))
        .insert_header(("Stripe-Version", version));
    if let Some(key) = idempotency_key {
        response.insert_header(("Idempotency-Key", key));
        if reply.replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
    }
    response.body(reply.body)
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Decode query string and (for POST) the form body; the body wins.
fn decode_params(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut params = form::decode(req.query_string())?;
    if body.is_empty() {
        return Ok(params);
    }
    if let Some(content_type) = req.headers().get(CONTENT_TYPE) {
        let text = content_type.to_str().unwrap_or("");
        let essence = text.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(ApiError::invalid(format!(
                "Invalid request: unsupported Content-Type {text}. If error persists and you need assistance, please contact support@stripe.com."
            )));
        }
    }
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::invalid("Invalid request: the body is not valid UTF-8."))?;
    params.extend(form::decode(text)?);
    Ok(params)
}

fn serve(
    inner: &Inner,
    req: &HttpRequest,
    body: &[u8],
    api: ApiRoute,
    request_id: &str,
    idempotency_key: Option<String>,
) -> Result<Reply, ApiError> {
    let mut decoded = decode_params(req, body)?;
    // Stripe.js sends its key and user agent as parameters.
    let body_key = match decoded.remove("key") {
        Some(Value::String(k)) => Some(k),
        _ => None,
    };
    decoded.remove("payment_user_agent");
    let header_key = auth::key_from_header(header(req, "Authorization").as_deref())?;
    let key = auth::authenticate(
        header_key.or(body_key).as_deref(),
        api.access,
        auth::AcceptedKeys {
            secret: &inner.options.secret_key,
            publishable: &inner.options.publishable_key,
        },
    )?;
    let params = Params::new(decoded);
    let expand = params.str_list("expand")?.unwrap_or_default();
    expand::validate(&expand)?;
    let call = Call {
        params,
        path_params: req
            .match_info()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        account: header(req, "Stripe-Account"),
        key,
        now: chrono::Utc::now().timestamp(),
        base_url: inner.base_url(req),
        request_id: request_id.to_string(),
        idempotency_key: idempotency_key.clone(),
        expand,
    };
    let endpoint = format!("{} {}", api.verb.as_str(), req.path());
    let params_value = Value::Object(call.params.as_map().clone());
    // The answer is rendered under the lock (errors included: they embed
    // objects); the closure's `Result` only tells `transact` to keep or undo.
    let mut rendered: Option<Reply> = None;
    let outcome = inner.transact(|state| {
        if let Some(account) = call.owner() {
            check_account_access(state, account)?;
        }
        if let Some(key) = &idempotency_key {
            let lookup = state
                .idempotency
                .lookup(call.owner(), key, &endpoint, &params_value, call.now)?;
            if let Lookup::Replay(stored) = lookup {
                rendered = Some(Reply {
                    status: stored.status,
                    body: stored.body,
                    replayed: true,
                });
                return Ok(());
            }
        }
        let result = (api.handler)(state, &call).and_then(|mut value| {
            expand::apply(&state.objects, call.owner(), &mut value, &call.expand)?;
            Ok(value)
        });
        let (status, mut body) = match &result {
            Ok(value) => (200, value.clone()),
            Err(error) => (error.status, error.to_body()),
        };
        legacy::fill(&state.objects, call.owner(), &mut body);
        current::fill(&state.objects, call.owner(), &mut body);
        let reply = Reply {
            status,
            body: body.to_string(),
            replayed: false,
        };
        // Only executed requests are remembered: successes and card errors.
        let executed = reply.status == 200 || reply.status == 402;
        if let (Some(key), true) = (&idempotency_key, executed) {
            let stored = StoredResponse {
                status: reply.status,
                body: reply.body.clone(),
            };
            state
                .idempotency
                .record(call.owner(), key, &endpoint, &params_value, stored, call.now);
        }
        rendered = Some(reply);
        result.map(|_| ())
    });
    match (rendered, outcome) {
        (Some(reply), _) => Ok(reply),
        (None, Err(error)) => Err(error),
        (None, Ok(())) => Err(ApiError::internal("The sandbox produced no answer.")),
    }
}

/// `Stripe-Account` must name one of the platform's connected accounts.
fn check_account_access(state: &State, account: &str) -> Result<(), ApiError> {
    match state.objects.get(None, account) {
        Some(a) if a["object"] == "account" => Ok(()),
        _ => Err(ApiError::invalid(format!(
            "The provided key does not have access to account '{account}' (or that account does not exist). Application access may have been revoked."
        ))
        .with_code("account_invalid")
        .with_status(403)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestApp, SECRET_KEY};
    use actix_web::test::TestRequest;
    use base64::Engine;

    fn form_post(path: &str) -> TestRequest {
        TestRequest::post()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {SECRET_KEY}")))
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
    }

    #[actix_web::test]
    async fn keys_are_checked_like_stripe() {
        let app = TestApp::new().await;
        let none = app.send(TestRequest::get().uri("/v1/customers")).await;
        assert_eq!(none.status, 401);
        assert!(none.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You did not provide an API key."));
        assert_eq!(none.body["error"]["type"], "invalid_request_error");
        let live_key = format!("sk_{}_abcdefghijkl", "live");
        let live = app.get_with_key("/v1/customers", &live_key).await;
        assert_eq!(live.status, 401);
        assert!(!live.body.to_string().contains("abcdefghijkl"));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET_KEY}:"));
        let ok = app
            .send(
                TestRequest::get()
                    .uri("/v1/customers")
                    .insert_header(("Authorization", format!("Basic {basic}"))),
            )
            .await;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body["object"], "list");
        let publishable = app.get_with_key("/v1/customers", "pk_test_sandbox").await;
        assert_eq!(publishable.status, 401);
    }

    #[actix_web::test]
    async fn json_bodies_are_refused_as_stripe_does() {
        let app = TestApp::new().await;
        let reply = app
            .send(
                TestRequest::post()
                    .uri("/v1/customers")
                    .insert_header(("Authorization", format!("Bearer {SECRET_KEY}")))
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload(r#"{"email":"a@b.c"}"#),
            )
            .await;
        assert_eq!(reply.status, 400);
        assert!(reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request: unsupported Content-Type application/json."));
        assert_eq!(app.get("/v1/customers").await.body["data"].as_array().unwrap().len(), 0);
    }

    #[actix_web::test]
    async fn browsers_may_call_the_api_cross_origin() {
        let app = TestApp::new().await;
        let preflight = app
            .send(
                TestRequest::default()
                    .method(actix_web::http::Method::OPTIONS)
                    .uri("/v1/tokens"),
            )
            .await;
        assert_eq!(preflight.status, 204);
        assert_eq!(preflight.headers.get("Access-Control-Allow-Origin").unwrap(), "*");
        let reply = app.get("/v1/customers").await;
        assert_eq!(reply.headers.get("Access-Control-Allow-Origin").unwrap(), "*");
    }

    #[actix_web::test]
    async fn unknown_urls_and_methods() {
        let app = TestApp::new().await;
        let reply = app.get("/v1/nope").await;
        assert_eq!(reply.status, 404);
        assert!(reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized request URL (GET: /v1/nope)."));
        let wrong_method = app.get("/v1/payment_intents/pi_1/confirm").await;
        assert_eq!(wrong_method.status, 404);
        assert_eq!(wrong_method.body["error"]["type"], "invalid_request_error");
    }

    #[actix_web::test]
    async fn responses_carry_stripe_headers_and_query_params_work_on_post() {
        let app = TestApp::new().await;
        let reply = app.post("/v1/customers?email=q%40x.io", "name=Q").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["email"], "q@x.io");
        assert!(reply
            .headers
            .get("Request-Id")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("req_"));
        assert!(reply.headers.get("Stripe-Version").is_some());
        assert_eq!(reply.headers.get("Content-Type").unwrap(), "application/json");
    }

    #[actix_web::test]
    async fn idempotency_keys_replay_and_conflict() {
        let app = TestApp::new().await;
        let first = app
            .send(
                form_post("/v1/customers")
                    .insert_header(("Idempotency-Key", "order-1"))
                    .set_payload("email=a%40b.io&name=A"),
            )
            .await;
        assert_eq!(first.status, 200);
        assert!(first.headers.get("Idempotent-Replayed").is_none());
        assert_eq!(first.headers.get("Idempotency-Key").unwrap(), "order-1");
        let again = app
            .send(
                form_post("/v1/customers")
                    .insert_header(("Idempotency-Key", "order-1"))
                    .set_payload("name=A&email=a%40b.io"),
            )
            .await;
        assert_eq!(again.status, 200);
        assert_eq!(again.body["id"], first.body["id"]);
        assert_eq!(again.headers.get("Idempotent-Replayed").unwrap(), "true");
        let conflict = app
            .send(
                form_post("/v1/customers")
                    .insert_header(("Idempotency-Key", "order-1"))
                    .set_payload("email=other%40b.io"),
            )
            .await;
        assert_eq!(conflict.status, 400);
        assert_eq!(conflict.body["error"]["type"], "idempotency_error");
        assert!(conflict.body["error"]["message"].as_str().unwrap().starts_with(
            "Keys for idempotent requests can only be used with the same parameters they were first used with"
        ));
        assert_eq!(app.get("/v1/customers").await.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.event_types().await.len(), 1);
    }

    #[actix_web::test]
    async fn idempotency_remembers_card_errors_but_not_validation_errors() {
        let app = TestApp::new().await;
        let invalid = app
            .send(
                form_post("/v1/charges")
                    .insert_header(("Idempotency-Key", "k2"))
                    .set_payload("amount=1&currency=usd&source=tok_visa"),
            )
            .await;
        assert_eq!(invalid.status, 400);
        let fixed = app
            .send(
                form_post("/v1/charges")
                    .insert_header(("Idempotency-Key", "k2"))
                    .set_payload("amount=1000&currency=usd&source=tok_visa"),
            )
            .await;
        assert_eq!(fixed.status, 200);
        assert!(fixed.headers.get("Idempotent-Replayed").is_none());
        for replayed in [false, true] {
            let declined = app
                .send(
                    form_post("/v1/charges")
                        .insert_header(("Idempotency-Key", "k3"))
                        .set_payload("amount=1000&currency=usd&source=tok_chargeDeclined"),
                )
                .await;
            assert_eq!(declined.status, 402);
            assert_eq!(declined.headers.get("Idempotent-Replayed").is_some(), replayed);
        }
        let failed = app.get("/v1/charges").await.body;
        assert_eq!(
            failed["data"].as_array().unwrap().len(),
            2,
            "one success, one decline: the replay charged nothing"
        );
    }

    #[actix_web::test]
    async fn the_public_serve_entry_point_answers_over_http() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let sandbox = super::super::Sandbox::new(super::super::SandboxOptions::default());
        let server = actix_web::rt::spawn(sandbox.serve(listener));
        let client = reqwest::Client::new();
        let reply = client
            .post(format!("http://{address}/v1/customers"))
            .basic_auth(SECRET_KEY, Some(""))
            .form(&[("email", "net@x.io"), ("metadata[source]", "http")])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let body: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(body["metadata"]["source"], "http");
        let js = client
            .get(format!("http://{address}/js.stripe.com/v3/"))
            .send()
            .await
            .unwrap();
        assert_eq!(js.status(), 200);
        server.abort();
    }
}
