//! Disputes: list and retrieve. The sandbox opens no disputes yet (Stripe
//! opens one for its dispute test cards), so the list is empty unless a
//! dispute object was stored; listing works so that reconciliation can ask.

use serde_json::Value;

use super::super::api_error::ApiError;
use super::super::endpoint::{get, ApiRoute, Call};
use super::super::list::LIST_PARAMS;
use super::super::state::State;
use super::{list_of, matches_filter};

pub const ROUTES: &[ApiRoute] = &[get("/disputes", list), get("/disputes/{id}", retrieve)];

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "dispute", "dispute", call.path("id"), "id")
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["charge", "payment_intent"]);
    call.params.allow(&allowed)?;
    let (charge, payment_intent) = (call.params.str("charge")?, call.params.str("payment_intent")?);
    list_of(state, call, "dispute", "dispute", "/v1/disputes", |d| {
        matches_filter(d, "charge", &charge) && matches_filter(d, "payment_intent", &payment_intent)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn disputes_list_and_a_missing_one_is_404() {
        let app = TestApp::new().await;
        let listed = app.get("/v1/disputes?limit=3").await;
        assert_eq!(listed.status, 200);
        assert_eq!(listed.body["object"], "list");
        assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(0));
        assert_eq!(app.get("/v1/disputes/dp_missing").await.status, 404);
    }
}
