//! Sending a rendered request: bounded time, retries only where they are
//! safe (network failures, 429 and 5xx, with the same idempotency key),
//! each attempt written to the request log.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::contract::{DispatchFailure, FailureKind};
use super::request::OutboundRequest;
use super::request_log::{Attempt, NoAnswer, RequestLog};

/// What came back (after retries).
pub struct InboundResponse {
    pub status: u16,
    pub headers: Map<String, Value>,
    pub body: Value,
}

pub async fn send(
    http: &reqwest::Client,
    request: &OutboundRequest,
    log: &RequestLog<'_>,
) -> Result<InboundResponse, DispatchFailure> {
    let attempts = request.retries + 1;
    let mut last_error = String::new();
    for attempt in 1..=attempts {
        let started = Instant::now();
        let outcome = attempt_once(http, request).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let retryable = match &outcome {
            Ok((status, _, _)) => *status == 429 || *status >= 500,
            Err(_) => true,
        };
        log.record(request, attempt, duration_ms, &outcome);
        match outcome {
            Ok((status, headers, text)) if !retryable || attempt == attempts => {
                let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
                return Ok(InboundResponse { status, headers, body });
            }
            Ok((status, _, _)) => last_error = format!("HTTP {status}"),
            Err(why) => last_error = why.to_string(),
        }
        if attempt < attempts {
            let backoff =
                Duration::from_millis(200u64.saturating_mul(1 << (attempt - 1).min(5))).min(Duration::from_secs(3));
            tokio::time::sleep(backoff).await;
        }
    }
    Err(DispatchFailure::new(
        FailureKind::GatewayDown,
        format!("The payment service could not be reached ({last_error}); nothing was charged. Please try again."),
    ))
}

async fn attempt_once(http: &reqwest::Client, request: &OutboundRequest) -> Attempt {
    let mut builder = http
        .request(request.method.clone(), &request.url)
        .timeout(request.timeout);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(key) = &request.idempotency_key {
        builder = builder.header("Idempotency-Key", key.as_str());
    }
    if let Some((body, content_type)) = &request.body {
        builder = builder.header("Content-Type", *content_type).body(body.clone());
    }
    let response = builder.send().await.map_err(|e| describe(&e))?;
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        if let Ok(v) = value.to_str() {
            headers.insert(name.as_str().to_string(), Value::String(v.to_string()));
        }
    }
    let text = response.text().await.map_err(|e| describe(&e))?;
    Ok((status, headers, text))
}

fn describe(e: &reqwest::Error) -> NoAnswer {
    if e.is_timeout() {
        NoAnswer::TimedOut
    } else if e.is_connect() {
        NoAnswer::ConnectionFailed
    } else {
        NoAnswer::Network
    }
}
