//! Test helpers: drive the sandbox's actix app in-process and read Stripe
//! JSON back.

use actix_web::http::header::HeaderMap;
use actix_web::{test, App};
use serde_json::Value;

use super::api_error::ApiError;
use super::endpoint::Call;
use super::params::Params;
use super::state::State;
use super::webhooks::RetryPolicy;
use super::{Sandbox, SandboxOptions};

pub const SECRET_KEY: &str = "sk_test_sandbox_unit_tests";

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

pub struct TestApp {
    pub sandbox: Sandbox,
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with_options(SandboxOptions {
            webhook_targets: Vec::new(),
            secret_key: String::new(),
            publishable_key: "pk_test_sandbox".into(),
            public_base: Some("http://sandbox.test".into()),
            accounts_per_key: false,
        })
    }

    pub fn with_options(options: SandboxOptions) -> TestApp {
        let policy = RetryPolicy {
            attempts: 4,
            first_delay: std::time::Duration::from_millis(20),
            timeout: std::time::Duration::from_secs(5),
        };
        TestApp {
            sandbox: Sandbox::with_retry_policy(options, policy),
        }
    }

    pub async fn send(&self, request: test::TestRequest) -> Reply {
        let sandbox = self.sandbox.clone();
        let app = test::init_service(App::new().configure(move |cfg| sandbox.configure(cfg))).await;
        let response = test::call_service(&app, request.to_request()).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = test::read_body(response).await;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply { status, body, headers }
    }

    fn form(request: test::TestRequest, body: &str) -> test::TestRequest {
        request
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(body.to_string())
    }

    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.post_with_key(path, body, SECRET_KEY).await
    }

    pub async fn post_with_key(&self, path: &str, body: &str, key: &str) -> Reply {
        let request = test::TestRequest::post()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {key}")));
        self.send(Self::form(request, body)).await
    }

    pub async fn post_unauthenticated(&self, path: &str, body: &str) -> Reply {
        self.send(Self::form(test::TestRequest::post().uri(path), body)).await
    }

    /// A POST as a connected account (`Stripe-Account`).
    pub async fn post_as(&self, account: &str, path: &str, body: &str) -> Reply {
        let request = test::TestRequest::post()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {SECRET_KEY}")))
            .insert_header(("Stripe-Account", account));
        self.send(Self::form(request, body)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.get_with_key(path, SECRET_KEY).await
    }

    pub async fn get_with_key(&self, path: &str, key: &str) -> Reply {
        self.send(
            test::TestRequest::get()
                .uri(path)
                .insert_header(("Authorization", format!("Bearer {key}"))),
        )
        .await
    }

    pub async fn get_as(&self, account: &str, path: &str) -> Reply {
        let request = test::TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {SECRET_KEY}")))
            .insert_header(("Stripe-Account", account));
        self.send(request).await
    }

    pub async fn get_expanded(&self, path: &str, field: &str) -> Reply {
        self.get(&format!("{path}?expand[]={field}")).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(
            test::TestRequest::delete()
                .uri(path)
                .insert_header(("Authorization", format!("Bearer {SECRET_KEY}"))),
        )
        .await
    }

    /// The platform's event types, oldest first.
    pub async fn event_types(&self) -> Vec<String> {
        let events = self.get("/v1/events?limit=100").await.body;
        let mut types: Vec<String> = events["data"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|e| e["type"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        types.reverse();
        types
    }

    /// A recurring USD price on a new product; its id.
    pub async fn recurring_price(&self, amount: i64, interval: &str) -> String {
        let price = self
            .post(
                "/v1/prices",
                &format!("currency=usd&unit_amount={amount}&product_data[name]=Plan&recurring[interval]={interval}"),
            )
            .await;
        assert_eq!(price.status, 200, "{}", price.body);
        price.body["id"].as_str().unwrap_or_default().to_string()
    }

    /// A connected account that can receive transfers and make payouts.
    pub async fn enabled_account(&self) -> String {
        let account = self
            .post(
                "/v1/accounts",
                "type=custom&business_type=individual&individual[first_name]=Ada&individual[last_name]=Byron&tos_acceptance[date]=1700000000&tos_acceptance[ip]=127.0.0.1&capabilities[transfers][requested]=true&capabilities[card_payments][requested]=true",
            )
            .await;
        assert_eq!(account.body["charges_enabled"], true, "{}", account.body);
        account.body["id"].as_str().unwrap_or_default().to_string()
    }

    /// Run sandbox logic directly, as the hosted pages do.
    pub fn with_state<T>(&self, change: impl FnOnce(&mut State, &Call) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let call = Call::internal(Params::default(), "http://sandbox.test");
        self.sandbox.inner.transact(|state| change(state, &call))
    }
}
