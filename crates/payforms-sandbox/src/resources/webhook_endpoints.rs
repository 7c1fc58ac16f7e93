//! Webhook endpoints: create (answers the signing `secret` once), retrieve,
//! update, delete, list. Events are delivered to every enabled endpoint
//! whose `enabled_events` match; `connect=true` endpoints get connected
//! accounts' events.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{delete, get, post, ApiRoute, Call};
use super::super::events::{is_event_type, API_VERSION};
use super::super::ids;
use super::super::list::LIST_PARAMS;
use super::super::params::Params;
use super::super::state::State;
use super::{deleted, list_of};

pub const ROUTES: &[ApiRoute] = &[
    post("/webhook_endpoints", create),
    get("/webhook_endpoints", list),
    get("/webhook_endpoints/{id}", retrieve),
    post("/webhook_endpoints/{id}", update),
    delete("/webhook_endpoints/{id}", remove),
];

fn url_param(p: &Params) -> Result<Option<String>, ApiError> {
    let Some(raw) = p.str("url")? else {
        return Ok(None);
    };
    match url::Url::parse(&raw) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(Some(raw)),
        _ => Err(ApiError::invalid_param(
            "url",
            format!("Invalid URL: {raw}. URLs must begin with http:// or https://."),
        )
        .with_code("url_invalid")),
    }
}

fn events_param(p: &Params) -> Result<Option<Vec<String>>, ApiError> {
    let Some(events) = p.str_list("enabled_events")? else {
        return Ok(None);
    };
    if events.is_empty() {
        return Err(ApiError::invalid_param(
            "enabled_events",
            "enabled_events must list at least one event type, or *.",
        ));
    }
    for (i, event) in events.iter().enumerate() {
        if !is_event_type(event) {
            return Err(ApiError::invalid_param(
                &format!("enabled_events[{i}]"),
                format!("Invalid event type: {event}"),
            ));
        }
    }
    Ok(Some(events))
}

fn fetch(state: &State, call: &Call) -> Result<Value, ApiError> {
    state
        .objects
        .fetch(None, "webhook_endpoint", "webhook endpoint", call.path("id"), "id")
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "url",
        "enabled_events",
        "description",
        "metadata",
        "api_version",
        "connect",
    ])?;
    if call.owner().is_some() {
        return Err(
            ApiError::invalid("Webhook endpoints belong to the platform; do not send Stripe-Account.").with_status(403),
        );
    }
    let url = url_param(p)?.ok_or_else(|| ApiError::missing_param("url"))?;
    let events = events_param(p)?.ok_or_else(|| ApiError::missing_param("enabled_events"))?;
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    let id = ids::new_id("we_");
    let secret = ids::webhook_secret();
    let endpoint = json!({
        "id": id,
        "object": "webhook_endpoint",
        "api_version": p.str("api_version")?.unwrap_or_else(|| API_VERSION.to_string()),
        "application": null,
        "connect": p.bool("connect")?.unwrap_or(false),
        "created": call.now,
        "description": p.str("description")?,
        "enabled_events": events,
        "livemode": false,
        "metadata": metadata,
        "status": "enabled",
        "url": url
    });
    state.endpoint_secrets.insert(id, secret.clone());
    state.objects.insert(None, endpoint.clone());
    // Only the creation answer carries the secret, as on Stripe.
    let mut answer = endpoint;
    answer["secret"] = json!(secret);
    Ok(answer)
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    fetch(state, call)
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&["url", "enabled_events", "description", "metadata", "disabled"])?;
    let mut endpoint = fetch(state, call)?;
    if let Some(url) = url_param(p)? {
        endpoint["url"] = json!(url);
    }
    if let Some(events) = events_param(p)? {
        endpoint["enabled_events"] = json!(events);
    }
    if let Some(disabled) = p.bool("disabled")? {
        endpoint["status"] = json!(if disabled { "disabled" } else { "enabled" });
    }
    super::update_field(p, &mut endpoint, "description")?;
    p.apply_metadata(&mut endpoint["metadata"])?;
    state.objects.replace(endpoint.clone());
    Ok(endpoint)
}

fn remove(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let endpoint = fetch(state, call)?;
    let id = endpoint["id"].as_str().unwrap_or_default().to_string();
    state.objects.remove(&id);
    Ok(deleted(&id, "webhook_endpoint"))
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(LIST_PARAMS)?;
    list_of(
        state,
        call,
        "webhook_endpoint",
        "webhook endpoint",
        "/v1/webhook_endpoints",
        |_| true,
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn create_shows_secret_once_then_list_update_delete() {
        let app = TestApp::new().await;
        let we = app
            .post("/v1/webhook_endpoints", "url=https%3A%2F%2Fshop.test%2Fwebhooks%2Fstripe&enabled_events[]=payment_intent.succeeded&enabled_events[]=charge.refunded&description=Shop")
            .await;
        assert_eq!(we.status, 200, "{}", we.body);
        let we = we.body;
        assert!(we["id"].as_str().unwrap().starts_with("we_"));
        assert!(we["secret"].as_str().unwrap().starts_with("whsec_"));
        assert_eq!(we["status"], "enabled");
        assert_eq!(we["enabled_events"][1], "charge.refunded");
        let id = we["id"].as_str().unwrap();
        let got = app.get(&format!("/v1/webhook_endpoints/{id}")).await.body;
        assert!(got.get("secret").is_none());
        let list = app.get("/v1/webhook_endpoints").await.body;
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        assert!(list["data"][0].get("secret").is_none());
        let updated = app
            .post(
                &format!("/v1/webhook_endpoints/{id}"),
                "disabled=true&enabled_events[]=*",
            )
            .await
            .body;
        assert_eq!(updated["status"], "disabled");
        assert_eq!(updated["enabled_events"][0], "*");
        assert_eq!(
            app.delete(&format!("/v1/webhook_endpoints/{id}")).await.body["deleted"],
            true
        );
        assert_eq!(app.get(&format!("/v1/webhook_endpoints/{id}")).await.status, 404);
    }

    #[actix_web::test]
    async fn validation() {
        let app = TestApp::new().await;
        assert_eq!(
            app.post("/v1/webhook_endpoints", "enabled_events[]=*").await.body["error"]["param"],
            "url"
        );
        assert_eq!(
            app.post("/v1/webhook_endpoints", "url=https%3A%2F%2Fa.test").await.body["error"]["param"],
            "enabled_events"
        );
        assert_eq!(
            app.post("/v1/webhook_endpoints", "url=ftp%3A%2F%2Fa.test&enabled_events[]=*")
                .await
                .body["error"]["param"],
            "url"
        );
        assert_eq!(
            app.post(
                "/v1/webhook_endpoints",
                "url=https%3A%2F%2Fa.test&enabled_events[]=Nope"
            )
            .await
            .body["error"]["param"],
            "enabled_events[0]"
        );
    }
}
