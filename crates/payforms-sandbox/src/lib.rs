//! `payforms sandbox`: an honest Stripe-compatible test server.
//!
//! It speaks Stripe's wire format (bracket form encoding, Stripe's error
//! JSON, list pagination, `Idempotency-Key` replay, `Stripe-Account`), keeps
//! its objects in memory, understands Stripe's test cards and magic
//! `pm_card_*` / `tok_*` ids, records an event for every state change and
//! delivers it signed to webhook endpoints. It also serves a Stripe.js mock
//! at `/js.stripe.com/v3/` and hosted pages for Checkout and Connect
//! onboarding, so `payforms serve --sandbox` works offline.
//!
//! Simplifications (documented, deliberate): funds are available at once;
//! no time passes (trials and periods never roll over by themselves); fees
//! are 2.9% + 30 minor units; a connected account is enabled once it has
//! accepted the terms of service and has a representative (see
//! `resources::accounts`).

mod api_error;
mod auth;
mod cards;
mod current;
mod endpoint;
mod events;
mod expand;
mod form;
mod idempotency;
mod ids;
mod legacy;
mod list;
mod money;
mod objects;
mod pages;
mod params;
mod resources;
mod sepa;
mod state;
mod stripe_js;
#[cfg(test)]
mod test_support;
mod webhooks;

use std::sync::Arc;

use actix_web::{web, HttpRequest};
use parking_lot::Mutex;

pub use api_error::{ApiError, ErrorType};
pub use webhooks::signature_header;

use api_error::ApiError as Error;
use state::State;
use webhooks::{Dispatcher, RetryPolicy};

/// How to run the sandbox.
#[derive(Debug, Clone, Default)]
pub struct SandboxOptions {
    /// Receive every event, in addition to endpoints created via the API.
    pub webhook_targets: Vec<WebhookTarget>,
    /// The `sk_test_` key server calls must use; empty accepts any `sk_test_`.
    pub secret_key: String,
    /// The `pk_test_` key Stripe.js calls must use; empty accepts any `pk_test_`.
    pub publishable_key: String,
    /// The address browsers reach the sandbox at (hosted page URLs);
    /// `None`: taken from each request's Host.
    pub public_base: Option<String>,
    /// With a configured `secret_key`: every other `sk_test_` key is an
    /// account of its own (its objects, webhook endpoints and events apart
    /// from the others'), as separate Stripe accounts are. Up to
    /// [`MAX_ACCOUNTS`]; SEPA debits settle on the main account only.
    pub accounts_per_key: bool,
}

/// Most accounts besides the main one (a key beyond that is refused).
pub const MAX_ACCOUNTS: usize = 64;

/// A webhook receiver given at start-up (e.g. payforms' `/webhooks/stripe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: String,
}

/// The running sandbox; clones share one state.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
    accounts: Arc<Accounts>,
}

/// The main account and the others, by secret key.
pub(crate) struct Accounts {
    main: Arc<Inner>,
    others: Mutex<std::collections::HashMap<String, Arc<Inner>>>,
    policy: RetryPolicy,
}

impl Accounts {
    /// The account a request's `Authorization` key opens (made on first
    /// use); the main one for anything else, which then checks the key.
    pub(crate) fn for_request(&self, req: &HttpRequest) -> Arc<Inner> {
        let options = &self.main.options;
        if !options.accounts_per_key || options.secret_key.is_empty() {
            return self.main.clone();
        }
        let header = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        let Ok(Some(key)) = auth::key_from_header(header) else {
            return self.main.clone();
        };
        if key == options.secret_key || !key.starts_with("sk_test_") || key.len() > 255 {
            return self.main.clone();
        }
        let mut others = self.others.lock();
        if let Some(account) = others.get(&key) {
            return account.clone();
        }
        if others.len() >= MAX_ACCOUNTS {
            return self.main.clone();
        }
        let account = Inner::new(
            SandboxOptions {
                webhook_targets: Vec::new(),
                publishable_key: key.replacen("sk_test_", "pk_test_", 1),
                secret_key: key.clone(),
                public_base: options.public_base.clone(),
                accounts_per_key: false,
            },
            self.policy,
        );
        others.insert(key, account.clone());
        account
    }

    /// The account holding object `id` (hosted pages name only the object).
    pub(crate) fn holding(&self, id: &str) -> Arc<Inner> {
        if self.main.state.lock().objects.get_any(id).is_some() {
            return self.main.clone();
        }
        let others = self.others.lock();
        others
            .values()
            .find(|account| account.state.lock().objects.get_any(id).is_some())
            .cloned()
            .unwrap_or_else(|| self.main.clone())
    }
}

pub(crate) struct Inner {
    state: Arc<Mutex<State>>,
    dispatcher: Dispatcher,
    options: SandboxOptions,
}

impl Sandbox {
    pub fn new(opts: SandboxOptions) -> Sandbox {
        Sandbox::with_retry_policy(opts, RetryPolicy::default())
    }

    fn with_retry_policy(opts: SandboxOptions, policy: RetryPolicy) -> Sandbox {
        let inner = Inner::new(opts, policy);
        Sandbox {
            accounts: Arc::new(Accounts {
                main: inner.clone(),
                others: Mutex::new(std::collections::HashMap::new()),
                policy,
            }),
            inner,
        }
    }

    /// Serve on `listener` until the server is stopped.
    pub async fn serve(self, listener: std::net::TcpListener) -> std::io::Result<()> {
        let base = match &self.inner.options.public_base {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => format!("http://{}", listener.local_addr()?),
        };
        // Built before awaiting: the builder is not `Send`, the server is,
        // so this future can be spawned on a multi-threaded runtime.
        let inner = self.inner.clone();
        let server = self.server(listener)?;
        tokio::spawn(settle_debits(inner, base));
        server.await
    }

    fn server(self, listener: std::net::TcpListener) -> std::io::Result<actix_web::dev::Server> {
        let server = actix_web::HttpServer::new(move || {
            let sandbox = self.clone();
            actix_web::App::new().configure(move |cfg| sandbox.configure(cfg))
        })
        .workers(2)
        .listen(listener)?
        .run();
        Ok(server)
    }

    /// Mount the sandbox's routes (`/v1/...`, `/js.stripe.com/v3/`,
    /// `/checkout/pay/{id}`, `/connect/onboard/{id}`) into an app.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let mut scope = web::scope("/v1").default_service(web::to(endpoint::unrecognized));
        let routes = resources::all_routes();
        let mut paths: Vec<&'static str> = Vec::new();
        for route in &routes {
            if !paths.contains(&route.path) {
                paths.push(route.path);
            }
        }
        for path in paths {
            let mut resource = web::resource(path)
                .route(web::method(actix_web::http::Method::OPTIONS).to(endpoint::preflight))
                .default_service(web::to(endpoint::unrecognized));
            for route in routes.iter().filter(|r| r.path == path) {
                resource = resource.route(endpoint::route(&self.accounts, *route));
            }
            scope = scope.service(resource);
        }
        cfg.service(scope);
        stripe_js::configure(cfg, &self.inner);
        pages::configure(cfg, &self.accounts);
    }
}

/// The bank's clock: SEPA debits settle a moment after they start (and
/// their events go out), as long as the sandbox runs.
async fn settle_debits(inner: Arc<Inner>, base_url: String) {
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        if inner.state.lock().pending_debits.is_empty() {
            continue;
        }
        let call = endpoint::Call::internal(params::Params::new(serde_json::Map::new()), &base_url);
        let _ = inner.transact(|state| {
            sepa::settle_due(state, &call, sepa::now_ms());
            Ok(())
        });
    }
}

impl Inner {
    fn new(options: SandboxOptions, policy: RetryPolicy) -> Arc<Inner> {
        let state = Arc::new(Mutex::new(State::default()));
        Arc::new(Inner {
            dispatcher: Dispatcher::new(state.clone(), policy),
            state,
            options,
        })
    }

    /// Run `change` under the lock. A failure other than a card error
    /// (402, which Stripe records) leaves every object as it was. Events
    /// recorded by a kept change are then delivered.
    fn transact<T>(&self, change: impl FnOnce(&mut State) -> Result<T, Error>) -> Result<T, Error> {
        let (result, deliveries) = {
            let mut state = self.state.lock();
            state.objects.begin();
            let result = change(&mut state);
            let keep = match &result {
                Ok(_) => true,
                Err(e) => e.status == 402,
            };
            if keep {
                state.objects.commit();
            } else {
                state.objects.rollback();
                state.outbox.clear();
            }
            let deliveries = state.take_deliveries(&self.options.webhook_targets);
            (result, deliveries)
        };
        self.dispatcher.send(deliveries);
        result
    }

    /// Where browsers reach the sandbox, for hosted page URLs.
    fn base_url(&self, req: &HttpRequest) -> String {
        match &self.options.public_base {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `payforms serve --sandbox` spawns `serve` on a multi-threaded Tokio
    /// runtime: the future must be `Send` and work outside an actix System.
    #[test]
    fn serve_runs_on_a_plain_tokio_runtime() {
        fn assert_send<T: Send>(_: &T) {}
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let serving = Sandbox::new(SandboxOptions::default()).serve(listener);
        assert_send(&serving);
        let server = runtime.spawn(serving);
        let status = runtime.block_on(async {
            reqwest::Client::new()
                .get(format!("http://{address}/v1/customers"))
                .bearer_auth("sk_test_plain_tokio")
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        assert_eq!(status.unwrap(), 200);
        server.abort();
    }
}
