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
            Ok((status, _, text)) => (
                json!(status),
                truncate(&without_client_secrets(&redact(text, secrets))),
                Value::Null,
            ),
            Err(why) => (Value::Null, String::new(), json!(why.to_string())),
        };
        let request_body = request
            .body
            .as_ref()
            .map(|(b, _)| redact(b, secrets))
            .unwrap_or_default();
        let body_text = match outcome {
            Ok((_, _, text)) => text.as_str(),
            Err(_) => "",
        };
        let mut properties = Map::new();
        properties.insert("object_id".into(), json!(object_id(&request.url, body_text)));
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

/// The log keeps no client secret (`pi_…_secret_…`): with the publishable
/// key it confirms or reads the intent. Only the log: the answer itself
/// still carries it to the browser that needs it.
fn without_client_secrets(text: &str) -> String {
    static SHAPE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    match SHAPE.get_or_init(|| regex::Regex::new(r"\b[a-z]+_[A-Za-z0-9]+_secret_[A-Za-z0-9]+").ok()) {
        Some(re) => re.replace_all(text, "[redacted]").into_owned(),
        None => text.to_string(),
    }
}

/// The Stripe object a request was about, for listing one payment's
/// requests: the answer's `id`, a declined payment's intent, else the last
/// id-shaped segment of the path (`/v1/payment_intents/pi_1/confirm`).
fn object_id(url: &str, body: &str) -> Option<String> {
    let is_id = |text: &str| {
        text.len() <= 255
            && text.split_once('_').is_some_and(|(prefix, rest)| {
                !prefix.is_empty()
                    && !rest.is_empty()
                    && prefix.bytes().all(|b| b.is_ascii_lowercase())
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
    };
    let from_body = serde_json::from_str::<Value>(body).ok().and_then(|answer| {
        [&answer["id"], &answer["error"]["payment_intent"]["id"]]
            .into_iter()
            .find_map(|id| id.as_str().filter(|id| is_id(id)).map(str::to_string))
    });
    from_body.or_else(|| {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        path.rsplit('/').find(|segment| is_id(segment)).map(str::to_string)
    })
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

#[cfg(test)]
mod tests {
    use super::{object_id, without_client_secrets};

    #[test]
    fn client_secrets_stay_out_of_the_log() {
        let body = r#"{"id": "pi_1", "client_secret": "pi_1_secret_AbC9", "status": "ok"}"#;
        let logged = without_client_secrets(body);
        assert!(!logged.contains("_secret_"), "{logged}");
        assert!(logged.contains("\"id\": \"pi_1\""));
    }

    #[test]
    fn a_request_is_about_the_object_it_answered_or_named() {
        assert_eq!(
            object_id(
                "https://api.stripe.com/v1/refunds",
                r#"{"id": "re_1", "object": "refund"}"#
            )
            .as_deref(),
            Some("re_1")
        );
        assert_eq!(
            object_id(
                "https://x/v1/payment_intents/pi_2/confirm",
                r#"{"error": {"payment_intent": {"id": "pi_2"}}}"#
            )
            .as_deref(),
            Some("pi_2")
        );
        assert_eq!(
            object_id("https://x/v1/payment_intents/pi_3/cancel?a=b", "not json").as_deref(),
            Some("pi_3")
        );
        assert_eq!(object_id("https://x/v1/balance", "{}"), None);
        assert_eq!(object_id("https://x/v1/customers", r#"{"id": "../etc"}"#), None);
    }
}
