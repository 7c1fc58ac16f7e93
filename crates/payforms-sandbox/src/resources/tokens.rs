//! Card tokens: create from `card[...]` (Stripe.js does this with the
//! publishable key), retrieve; single use. Magic `tok_visa`-style ids work
//! anywhere a token does and give a fresh card each time.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::cards::{self, Card};
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::state::State;

pub const ROUTES: &[ApiRoute] = &[post("/tokens", create).public(), get("/tokens/{id}", retrieve)];

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["card", "customer"])?;
    if call.params.has("customer") {
        return Err(ApiError::invalid_param(
            "customer",
            "The payforms sandbox does not share customers' cards with connected accounts.",
        ));
    }
    let card_params = call
        .params
        .hash("card")?
        .ok_or_else(|| ApiError::missing_param("card"))?;
    let card = cards::from_params(&card_params, call.chrono_now())?;
    let name = card_params.str("name")?;
    let card_id = ids::new_id("card_");
    let mut card_json = card.source_json(&card_id, None, name.as_deref());
    for (param, field) in [
        ("address_line1", "address_line1"),
        ("address_line2", "address_line2"),
        ("address_city", "address_city"),
        ("address_state", "address_state"),
        ("address_zip", "address_zip"),
        ("address_country", "address_country"),
    ] {
        if let Some(v) = card_params.str(param)? {
            card_json[field] = json!(v);
        }
    }
    let token = json!({
        "id": ids::new_id("tok_"),
        "object": "token",
        "card": card_json,
        "client_ip": null,
        "created": call.now,
        "livemode": false,
        "type": "card",
        "used": false
    });
    if let Some(id) = token["id"].as_str() {
        state.cards.insert(id.to_string(), card.clone());
    }
    state.cards.insert(card_id, card);
    state.objects.insert(call.owner(), token.clone());
    Ok(token)
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "token", "token", call.path("id"), "id")
}

/// Look a token up without using it: its card id, card and card JSON.
pub fn peek(state: &State, call: &Call, token: &str, param: &str) -> Result<(String, Card, Value), ApiError> {
    if let Some(card) = cards::magic(token).filter(|_| token.starts_with("tok_")) {
        let id = ids::new_id("card_");
        let json = card.source_json(&id, None, None);
        return Ok((id, card, json));
    }
    let stored = state.objects.fetch(call.owner(), "token", "token", token, param)?;
    if stored["used"] == true {
        return Err(
            ApiError::invalid(format!("You cannot use a Stripe token more than once: {token}."))
                .with_code("token_already_used")
                .with_param(param),
        );
    }
    let card = state
        .cards
        .get(token)
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("The sandbox lost the card behind {token}.")))?;
    let card_id = stored["card"]["id"].as_str().unwrap_or_default().to_string();
    Ok((card_id, card, stored["card"].clone()))
}

/// Use a token once: its card id and card.
pub fn consume(state: &mut State, call: &Call, token: &str, param: &str) -> Result<(String, Card), ApiError> {
    let (card_id, card, _) = peek(state, call, token, param)?;
    if let Some(mut stored) = state.objects.get(call.owner(), token).cloned() {
        stored["used"] = json!(true);
        state.objects.replace(stored);
    }
    state.cards.insert(card_id.clone(), card.clone());
    Ok((card_id, card))
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn create_with_publishable_key_like_stripe_js() {
        let app = TestApp::new().await;
        let token = app
            .post_unauthenticated(
                "/v1/tokens",
                "card[number]=4000000000009995&card[exp_month]=12&card[exp_year]=2041&card[cvc]=123&key=pk_test_sandbox&payment_user_agent=mock",
            )
            .await;
        assert_eq!(token.status, 200, "{}", token.body);
        let t = token.body;
        assert!(t["id"].as_str().unwrap().starts_with("tok_"));
        assert_eq!(t["type"], "card");
        assert_eq!(t["used"], false);
        assert!(t["card"]["id"].as_str().unwrap().starts_with("card_"));
        assert_eq!(t["card"]["last4"], "9995");
        assert_eq!(t["card"]["brand"], "Visa");
        let got = app.get(&format!("/v1/tokens/{}", t["id"].as_str().unwrap())).await;
        assert_eq!(got.body["id"], t["id"]);
    }

    #[actix_web::test]
    async fn tokens_are_single_use_but_magic_tokens_are_not() {
        let app = TestApp::new().await;
        let token = app
            .post(
                "/v1/tokens",
                "card[number]=4242424242424242&card[exp_month]=1&card[exp_year]=2040",
            )
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let first = app
            .post("/v1/charges", &format!("amount=500&currency=usd&source={token}"))
            .await;
        assert_eq!(first.status, 200, "{}", first.body);
        let second = app
            .post("/v1/charges", &format!("amount=500&currency=usd&source={token}"))
            .await;
        assert_eq!(second.status, 400);
        assert_eq!(second.body["error"]["code"], "token_already_used");
        for _ in 0..2 {
            let magic = app.post("/v1/charges", "amount=500&currency=usd&source=tok_visa").await;
            assert_eq!(magic.status, 200);
        }
    }

    #[actix_web::test]
    async fn secret_free_requests_are_rejected() {
        let app = TestApp::new().await;
        let none = app
            .post_unauthenticated("/v1/tokens", "card[number]=4242424242424242")
            .await;
        assert_eq!(none.status, 401);
        let expired = app
            .post(
                "/v1/tokens",
                "card[number]=4242424242424242&card[exp_month]=1&card[exp_year]=2001",
            )
            .await;
        assert_eq!(expired.status, 402);
        assert_eq!(expired.body["error"]["code"], "invalid_expiry_year");
    }
}
