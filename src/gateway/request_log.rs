//! The request log: every attempt of every request type, stored as a
//! `gateway_request` record with secrets and card-shaped values redacted
//! and long bodies cut.

use serde_json::{json, Map, Value};

use super::redact::redact;
use super::request::OutboundRequest;
use crate::db::schema::ModelType;
use crate::db::Store;

/// One attempt's result: status, headers and body text, or why none came.
pub type Attempt = Result<(u16, Map<String, Value>, String), NoAnswer>;

/// Why an attempt got no answer. Never the URL or the body: they can carry
/// secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoAnswer {
    #[error("timed out")]
    TimedOut,
    #[error("connection failed")]
    ConnectionFailed,
    #[error("network error")]
    Network,
}

/// Longest response body kept in the request log.
const LOGGED_BODY_LIMIT: usize = 8 * 1024;

pub struct RequestLog<'a> {
    pub store: &'a Store,
    /// None when the app has no request-log model (`payforms check` says so).
    pub model: Option<&'a ModelType>,
    pub request_type: &'a str,
    pub secrets: &'a [&'a str],
}

impl RequestLog<'_> {
    pub fn record(&self, request: &OutboundRequest, attempt: u32, duration_ms: i64, outcome: &Attempt) {
        let (request_type, secrets) = (self.request_type, self.secrets);
        let url = redact(&request.url, secrets);
        match outcome {
            Ok((status, _, _)) => tracing::info!(
                "gateway {request_type} {} {url} -> {status} in {duration_ms}ms (attempt {attempt})",
                request.method
            ),
            Err(why) => tracing::warn!(
                "gateway {request_type} {} {url} failed: {why} (attempt {attempt})",
                request.method
            ),
        }
        let Some(model) = self.model else {
            return;
        };
        let (status, response_body, error_message) = match outcome {
            Ok((status, _, text)) => (json!(status), truncate(&redact(text, secrets)), Value::Null),
            Err(why) => (Value::Null, String::new(), json!(why.to_string())),
        };
        let request_body = request
            .body
            .as_ref()
            .map(|(b, _)| redact(b, secrets))
            .unwrap_or_default();
        let mut properties = Map::new();
        properties.insert("request_type".into(), json!(request_type));
        properties.insert("method".into(), json!(request.method.as_str()));
        properties.insert("url".into(), json!(url));
        properties.insert("status".into(), status);
        properties.insert("duration_ms".into(), json!(duration_ms));
        properties.insert("attempts".into(), json!(attempt));
        properties.insert("idempotency_key".into(), json!(request.idempotency_key));
        properties.insert("request_body".into(), json!(request_body));
        properties.insert("response_body".into(), json!(response_body));
        properties.insert("error_message".into(), error_message);
        if let Err(e) = self.store.create_record(model, properties) {
            tracing::warn!("could not log the gateway request: {e}");
        }
    }
}

fn truncate(text: &str) -> String {
    if text.len() <= LOGGED_BODY_LIMIT {
        return text.to_string();
    }
    let mut end = LOGGED_BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
