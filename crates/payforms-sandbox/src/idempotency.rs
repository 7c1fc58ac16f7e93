//! `Idempotency-Key` on POST: the same key with the same endpoint and
//! parameters replays the first response (`Idempotent-Replayed: true`); a
//! different request under the same key is a 400 idempotency_error.
//!
//! As Stripe does, only requests that executed are remembered (successes and
//! card errors); a request rejected by validation leaves no result, so it can
//! be corrected and retried with the same key. Keys expire after 24 hours.

use std::collections::HashMap;

use serde_json::Value;

use super::api_error::ApiError;

const KEY_LIFETIME_SECONDS: i64 = 24 * 60 * 60;
const MAX_KEY_LENGTH: usize = 255;

/// The stored first response.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone)]
struct Entry {
    endpoint: String,
    fingerprint: String,
    response: StoredResponse,
    created: i64,
}

/// Keys are scoped per account (the platform or a `Stripe-Account`).
#[derive(Default)]
pub struct IdempotencyLog {
    entries: HashMap<(Option<String>, String), Entry>,
}

/// What a request under a key should do.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    /// First use: execute and `record` the response.
    Execute,
    /// Seen before with the same request: answer this.
    Replay(StoredResponse),
}

impl IdempotencyLog {
    /// Decide whether to execute or replay. `endpoint` is `POST /v1/...`,
    /// `params` the decoded parameters.
    pub fn lookup(
        &mut self,
        account: Option<&str>,
        key: &str,
        endpoint: &str,
        params: &Value,
        now: i64,
    ) -> Result<Lookup, ApiError> {
        if key.is_empty() || key.chars().count() > MAX_KEY_LENGTH {
            return Err(ApiError::invalid(format!(
                "Idempotency keys must be between 1 and {MAX_KEY_LENGTH} characters long."
            )));
        }
        self.entries.retain(|_, e| now - e.created < KEY_LIFETIME_SECONDS);
        let Some(entry) = self.entries.get(&(account.map(str::to_string), key.to_string())) else {
            return Ok(Lookup::Execute);
        };
        if entry.endpoint != endpoint {
            return Err(ApiError::idempotency(format!(
                "Keys for idempotent requests can only be used for the same endpoint they were first used for ('{}' vs '{endpoint}'). Try using a key other than '{key}' if you meant to execute a different request.",
                entry.endpoint
            )));
        }
        if entry.fingerprint != canonical(params) {
            return Err(ApiError::idempotency(format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
            )));
        }
        Ok(Lookup::Replay(entry.response.clone()))
    }

    pub fn record(
        &mut self,
        account: Option<&str>,
        key: &str,
        endpoint: &str,
        params: &Value,
        response: StoredResponse,
        now: i64,
    ) {
        self.entries.insert(
            (account.map(str::to_string), key.to_string()),
            Entry {
                endpoint: endpoint.to_string(),
                fingerprint: canonical(params),
                response,
                created: now,
            },
        );
    }
}

/// A text form of parameters that ignores member order, so `a=1&b=2` and
/// `b=2&a=1` are the same request.
pub fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = members
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(body: &str) -> StoredResponse {
        StoredResponse {
            status: 200,
            body: body.to_string(),
        }
    }

    #[test]
    fn same_request_replays_regardless_of_parameter_order() {
        let mut log = IdempotencyLog::default();
        let first = json!({"a": "1", "b": {"x": "1", "y": "2"}});
        assert_eq!(
            log.lookup(None, "k1", "POST /v1/customers", &first, 0).unwrap(),
            Lookup::Execute
        );
        log.record(None, "k1", "POST /v1/customers", &first, stored("{}"), 0);
        let reordered = json!({"b": {"y": "2", "x": "1"}, "a": "1"});
        assert_eq!(
            log.lookup(None, "k1", "POST /v1/customers", &reordered, 10).unwrap(),
            Lookup::Replay(stored("{}"))
        );
    }

    #[test]
    fn different_parameters_or_endpoint_conflict() {
        let mut log = IdempotencyLog::default();
        log.record(None, "k", "POST /v1/customers", &json!({"a": "1"}), stored("{}"), 0);
        let err = log
            .lookup(None, "k", "POST /v1/customers", &json!({"a": "2"}), 1)
            .unwrap_err();
        assert_eq!(err.kind.as_str(), "idempotency_error");
        assert!(err
            .message
            .starts_with("Keys for idempotent requests can only be used with the same parameters"));
        let err = log
            .lookup(None, "k", "POST /v1/charges", &json!({"a": "1"}), 1)
            .unwrap_err();
        assert!(err.message.contains("same endpoint"));
    }

    #[test]
    fn keys_are_scoped_per_account_and_expire() {
        let mut log = IdempotencyLog::default();
        log.record(None, "k", "POST /v1/customers", &json!({}), stored("{}"), 0);
        assert_eq!(
            log.lookup(Some("acct_1"), "k", "POST /v1/charges", &json!({}), 1)
                .unwrap(),
            Lookup::Execute
        );
        assert_eq!(
            log.lookup(None, "k", "POST /v1/charges", &json!({}), KEY_LIFETIME_SECONDS)
                .unwrap(),
            Lookup::Execute
        );
    }

    #[test]
    fn key_length_is_limited() {
        let mut log = IdempotencyLog::default();
        assert!(log.lookup(None, "", "POST /v1/x", &json!({}), 0).is_err());
        let long = "é".repeat(256);
        assert!(log.lookup(None, &long, "POST /v1/x", &json!({}), 0).is_err());
        let unicode = "ключ-🙂";
        assert_eq!(
            log.lookup(None, unicode, "POST /v1/x", &json!({}), 0).unwrap(),
            Lookup::Execute
        );
    }

    #[test]
    fn canonical_distinguishes_arrays_order_and_types() {
        assert_ne!(canonical(&json!(["a", "b"])), canonical(&json!(["b", "a"])));
        assert_ne!(canonical(&json!({"a": "1"})), canonical(&json!({"a": 1})));
        assert_eq!(canonical(&json!({})), "{}");
    }
}
