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
            let delivery = match queues.get(&delivery.url).map(|tx| tx.send(delivery)) {
                Some(Ok(())) => continue,
                // The worker's runtime ended (e.g. a previous test); start a new one.
                Some(Err(mpsc::error::SendError(d))) => d,
                None => delivery,
            };
            if tokio::runtime::Handle::try_current().is_err() {
                tracing::warn!("sandbox webhook {} not delivered: no async runtime", delivery.event_id);
                continue;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            let url = delivery.url.clone();
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
