//! Signed webhook delivery: `Stripe-Signature: t=<unix>,v1=<hex
//! HMAC-SHA256(secret, "<t>.<body>")>`, one ordered queue per target URL,
//! retries with exponential backoff, bounded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use sha2::Sha256;
use tokio::sync::mpsc;

use super::state::State;

/// One event to POST to one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub event_id: String,
    pub url: String,
    pub secret: String,
    pub payload: String,
}

/// How hard to try: `attempts` in all, waiting `first_delay`, then twice
/// as long each time.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// `t=...,v1=...` for a payload signed at `timestamp`.
pub fn signature_header(secret: &str, payload: &str, timestamp: i64) -> String {
    format!("t={timestamp},v1={}", sign(secret, &format!("{timestamp}.{payload}")))
}

fn sign(secret: &str, message: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Sends deliveries in the background, one worker per target URL so each
/// target sees events in the order they happened.
pub struct Dispatcher {
    client: Option<reqwest::Client>,
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<Delivery>>>,
    policy: RetryPolicy,
    state: Arc<Mutex<State>>,
}

impl Dispatcher {
    pub fn new(state: Arc<Mutex<State>>, policy: RetryPolicy) -> Dispatcher {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .user_agent("Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .build();
        if let Err(e) = &client {
            tracing::error!("sandbox webhooks disabled: cannot build an HTTP client: {e}");
        }
        Dispatcher {
            client: client.ok(),
            queues: Mutex::new(HashMap::new()),
            policy,
            state,
        }
    }

    /// Queue deliveries; needs to run inside a Tokio runtime (any actix handler).
    pub fn send(&self, deliveries: Vec<Delivery>) {
        let Some(client) = &self.client else {
            return;
        };
        for delivery in deliveries {
            let mut queues = self.queues.lock();
            let url = delivery.url.clone();
            let delivery = match queues.get(&url) {
                Some(tx) => match tx.send(delivery) {
                    Ok(()) => continue,
                    // The worker's runtime ended (e.g. a previous test); start a new one.
                    Err(mpsc::error::SendError(d)) => d,
                },
                None => delivery,
            };
            if tokio::runtime::Handle::try_current().is_err() {
                tracing::warn!("sandbox webhook {} not delivered: no async runtime", delivery.event_id);
                continue;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            if tx.send(delivery).is_ok() {
                tokio::spawn(worker(rx, client.clone(), self.policy, self.state.clone()));
                queues.insert(url, tx);
            }
        }
    }
}

async fn worker(
    mut queue: mpsc::UnboundedReceiver<Delivery>,
    client: reqwest::Client,
    policy: RetryPolicy,
    state: Arc<Mutex<State>>,
) {
    while let Some(delivery) = queue.recv().await {
        let mut delay = policy.first_delay;
        for attempt in 1..=policy.attempts.max(1) {
            match post(&client, &delivery).await {
                Ok(()) => {
                    state.lock().webhook_delivered(&delivery.event_id);
                    break;
                }
                Err(problem) => {
                    tracing::warn!(
                        "sandbox webhook {} to {} failed (attempt {attempt}/{}): {problem}",
                        delivery.event_id,
                        delivery.url,
                        policy.attempts
                    );
                    if attempt < policy.attempts {
                        tokio::time::sleep(delay).await;
                        delay = delay.saturating_mul(2);
                    }
                }
            }
        }
    }
}

async fn post(client: &reqwest::Client, delivery: &Delivery) -> Result<(), String> {
    let timestamp = chrono::Utc::now().timestamp();
    let response = client
        .post(&delivery.url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header(
            "Stripe-Signature",
            signature_header(&delivery.secret, &delivery.payload, timestamp),
        )
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_stripe_scheme() {
        // Computed independently: printf '1.{}' | openssl dgst -sha256 -hmac secret
        let header = signature_header("secret", "{}", 1);
        assert_eq!(
            header,
            "t=1,v1=1122767b193110cfec322b6f199b599edbf608ed087f2d27afb0b97d99523908"
        );
        assert_ne!(signature_header("other", "{}", 1), header);
        assert_ne!(signature_header("secret", "{}", 2), header);
    }
}

#[cfg(test)]
mod delivery_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    use hmac::{Hmac, Mac};
    use parking_lot::Mutex;
    use serde_json::Value;
    use sha2::Sha256;

    use super::super::test_support::TestApp;
    use super::super::{SandboxOptions, WebhookTarget};

    /// What a receiving endpoint saw: path, Stripe-Signature, body.
    type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

    /// A local receiver that fails the first request to /flaky, then accepts.
    fn start_receiver() -> (String, Seen, actix_web::dev::ServerHandle) {
        let seen: Seen = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen_by_server = seen.clone();
        let server = HttpServer::new(move || {
            let seen = seen_by_server.clone();
            let failures = failures.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let seen = seen.clone();
                let failures = failures.clone();
                async move {
                    let signature = req
                        .headers()
                        .get("Stripe-Signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let text = String::from_utf8_lossy(&body).into_owned();
                    if req.path() == "/flaky" {
                        let mut failed = failures.lock();
                        if *failed == 0 {
                            *failed += 1;
                            return HttpResponse::InternalServerError().finish();
                        }
                    }
                    seen.lock().push((req.path().to_string(), signature, text));
                    HttpResponse::Ok().finish()
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (base, seen, handle)
    }

    /// Check `t=...,v1=...` as a receiver would, with its own HMAC.
    fn verify(secret: &str, header: &str, body: &str) -> bool {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.split_once('=') {
                Some(("t", t)) => timestamp = Some(t.to_string()),
                Some(("v1", s)) => signatures.push(s.to_string()),
                _ => {}
            }
        }
        let Some(t) = timestamp else { return false };
        let now = chrono::Utc::now().timestamp();
        if (now - t.parse::<i64>().unwrap_or(0)).abs() > 300 {
            return false;
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        let expected = hex::encode(mac.finalize().into_bytes());
        signatures.contains(&expected)
    }

    async fn wait_for(seen: &Seen, count: usize) -> Vec<(String, String, String)> {
        for _ in 0..200 {
            if seen.lock().len() >= count {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
        seen.lock().clone()
    }

    #[actix_web::test]
    async fn signed_delivery_to_targets_and_matching_endpoints_with_retry() {
        let (base, seen, handle) = start_receiver();
        let app = TestApp::with_options(SandboxOptions {
            webhook_targets: vec![WebhookTarget {
                url: format!("{base}/flaky"),
                secret: "whsec_target".into(),
            }],
            secret_key: String::new(),
            publishable_key: "pk_test_sandbox".into(),
            public_base: None,
            accounts_per_key: false,
        });
        let endpoint = app
            .post(
                "/v1/webhook_endpoints",
                &format!("url={base}/endpoint&enabled_events[]=customer.updated"),
            )
            .await
            .body;
        let endpoint_secret = endpoint["secret"].as_str().unwrap().to_string();
        let customer = app.post("/v1/customers", "name=Hook").await.body;
        app.post(
            &format!("/v1/customers/{}", customer["id"].as_str().unwrap()),
            "name=Hooked",
        )
        .await;

        // The target gets both events (after one failed attempt); the endpoint only the update.
        let received = wait_for(&seen, 3).await;
        assert_eq!(received.len(), 3, "{received:?}");
        let at = |path: &str| received.iter().filter(|(p, ..)| p == path).cloned().collect::<Vec<_>>();
        let target = at("/flaky");
        assert_eq!(target.len(), 2);
        let types: Vec<String> = target
            .iter()
            .map(|(_, _, body)| {
                serde_json::from_str::<Value>(body).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            types,
            vec!["customer.created", "customer.updated"],
            "in order, despite the retry"
        );
        for (_, signature, body) in &target {
            assert!(verify("whsec_target", signature, body), "{signature}");
            assert!(!verify("whsec_other", signature, body));
        }
        let to_endpoint = at("/endpoint");
        assert_eq!(to_endpoint.len(), 1);
        let (_, signature, body) = &to_endpoint[0];
        assert!(verify(&endpoint_secret, signature, body));
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["type"], "customer.updated");
        assert_eq!(event["data"]["object"]["name"], "Hooked");
        assert_eq!(event["pending_webhooks"], 2);

        // Delivered events count down their pending webhooks.
        let mut pending = Value::Null;
        for _ in 0..100 {
            pending = app
                .get(&format!("/v1/events/{}", event["id"].as_str().unwrap()))
                .await
                .body["pending_webhooks"]
                .clone();
            if pending == 0 {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(pending, 0);
        handle.stop(true).await;
    }

    #[actix_web::test]
    async fn disabled_endpoints_and_failed_requests_send_nothing() {
        let (base, seen, handle) = start_receiver();
        let app = TestApp::new().await;
        let endpoint = app
            .post(
                "/v1/webhook_endpoints",
                &format!("url={base}/endpoint&enabled_events[]=*"),
            )
            .await
            .body;
        app.post(
            &format!("/v1/webhook_endpoints/{}", endpoint["id"].as_str().unwrap()),
            "disabled=true",
        )
        .await;
        app.post("/v1/customers", "name=Quiet").await;
        app.post(
            "/v1/webhook_endpoints",
            &format!("url={base}/second&enabled_events[]=*"),
        )
        .await;
        app.post("/v1/customers", "email=invalid").await;
        app.post("/v1/customers", "name=Loud").await;
        let received = wait_for(&seen, 1).await;
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let received_after = seen.lock().clone();
        assert_eq!(received.len(), 1);
        assert_eq!(received_after.len(), 1);
        assert_eq!(received_after[0].0, "/second");
        assert!(received_after[0].2.contains("Loud"));
        handle.stop(true).await;
    }
}
