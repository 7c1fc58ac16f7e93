//! Events: retrieve and list (newest first, filter by `type`, `types[]`,
//! `created`). With `Stripe-Account`, a connected account's events.

use serde_json::Value;

use super::super::api_error::ApiError;
use super::super::endpoint::{get, ApiRoute, Call};
use super::super::list::LIST_PARAMS;
use super::super::state::State;
use super::list_of;

pub const ROUTES: &[ApiRoute] = &[get("/events", list), get("/events/{id}", retrieve)];

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "event", "event", call.path("id"), "id")
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["type", "types", "delivery_success"]);
    call.params.allow(&allowed)?;
    let kind = call.params.str("type")?;
    let kinds = call.params.str_list("types")?;
    if kind.is_some() && kinds.is_some() {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: type, types.",
        ));
    }
    // `type` may end in `*` (e.g. `customer.*`), as on Stripe.
    let matches = |t: &str| match &kind {
        None => true,
        Some(k) => match k.strip_suffix('*') {
            Some(prefix) => t.starts_with(prefix),
            None => t == k,
        },
    };
    let delivered = call.params.bool("delivery_success")?;
    list_of(state, call, "event", "event", "/v1/events", |e| {
        let t = e["type"].as_str().unwrap_or("");
        matches(t)
            && kinds.as_ref().map(|ks| ks.iter().any(|k| k == t)).unwrap_or(true)
            && delivered.map(|d| (e["pending_webhooks"] == 0) == d).unwrap_or(true)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn events_record_changes_with_previous_attributes() {
        let app = TestApp::new().await;
        let c = app.post("/v1/customers", "name=A").await.body;
        let id = c["id"].as_str().unwrap();
        app.post(&format!("/v1/customers/{id}"), "name=B").await;
        let updated = app.get("/v1/events?type=customer.updated").await.body;
        let event = &updated["data"][0];
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["object"], "event");
        assert_eq!(event["livemode"], false);
        assert!(event["api_version"].is_string());
        assert_eq!(event["data"]["object"]["name"], "B");
        assert_eq!(event["data"]["previous_attributes"]["name"], "A");
        assert!(event["request"]["id"].as_str().unwrap().starts_with("req_"));
        let got = app
            .get(&format!("/v1/events/{}", event["id"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(got["id"], event["id"]);
        let wildcard = app.get("/v1/events?type=customer.*").await.body;
        assert_eq!(wildcard["data"].as_array().unwrap().len(), 2);
        let several = app
            .get("/v1/events?types[]=customer.created&types[]=charge.succeeded")
            .await
            .body;
        assert_eq!(several["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.get("/v1/events/evt_nope").await.status, 404);
    }

    #[actix_web::test]
    async fn rejected_requests_record_no_events() {
        let app = TestApp::new().await;
        app.post("/v1/customers", "email=bad").await;
        app.post("/v1/customers", "source=tok_nope").await;
        assert!(app.event_types().await.is_empty());
    }
}
