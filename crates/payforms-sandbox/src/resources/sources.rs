//! A customer's card sources (`/v1/customers/{id}/sources`): add from a
//! token (the card keeps the token's `card_` id), retrieve, delete, list.
//! The first card becomes the customer's `default_source`.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{delete, get, post, ApiRoute, Call};
use super::super::list::LIST_PARAMS;
use super::super::state::State;
use super::{customers, deleted, list_of, tokens};

pub const ROUTES: &[ApiRoute] = &[
    post("/customers/{id}/sources", create),
    get("/customers/{id}/sources", list),
    get("/customers/{id}/sources/{source}", retrieve),
    post("/customers/{id}/sources/{source}", update),
    delete("/customers/{id}/sources/{source}", remove),
];

/// Check a token can become a source (exists, unused, card not declined),
/// without changing anything. Returns the token id to pass to `add_card`.
pub fn check_token(state: &State, call: &Call, token: &str, param: &str) -> Result<String, ApiError> {
    if !token.starts_with("tok_") {
        return Err(ApiError::no_such("source", token, param));
    }
    let (_, card, _) = tokens::peek(state, call, token, param)?;
    if let Some(decline) = card.attach_decline() {
        return Err(decline.error().with_param(param));
    }
    Ok(token.to_string())
}

/// Add the token's card to the customer (`customer.source.created`).
pub fn add_card(
    state: &mut State,
    call: &Call,
    customer_id: &str,
    token: &str,
    param: &str,
) -> Result<Value, ApiError> {
    let (_, _, card_json) = tokens::peek(state, call, token, param)?;
    let (card_id, card) = tokens::consume(state, call, token, param)?;
    let mut source = card_json;
    source["id"] = json!(card_id);
    source["customer"] = json!(customer_id);
    state.cards.insert(card_id.clone(), card);
    state.objects.insert(call.owner(), source.clone());
    state.emit(call, "customer.source.created", &source);
    let mut customer = customers::fetch(state, call, customer_id, "customer")?;
    if customer["default_source"].is_null() {
        let before = customer.clone();
        customer["default_source"] = json!(card_id);
        state.objects.replace(customer.clone());
        state.emit_update(call, "customer.updated", &before, &customer);
    }
    Ok(source)
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["source", "metadata", "validate"])?;
    let customer = call.path("id").to_string();
    customers::fetch(state, call, &customer, "id")?;
    let token = call.params.required_str("source")?;
    check_token(state, call, &token, "source")?;
    let mut card = add_card(state, call, &customer, &token, "source")?;
    if call.params.has("metadata") {
        call.params.apply_metadata(&mut card["metadata"])?;
        state.objects.replace(card.clone());
    }
    Ok(card)
}

fn owned_card(state: &State, call: &Call) -> Result<Value, ApiError> {
    let customer = call.path("id");
    customers::fetch(state, call, customer, "id")?;
    let id = call.path("source");
    match state.objects.get(call.owner(), id) {
        Some(card) if card["object"] == "card" && card["customer"] == customer => Ok(card.clone()),
        _ => Err(ApiError::no_such("source", id, "id")),
    }
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    owned_card(state, call)
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&["metadata", "name", "exp_month", "exp_year", "address_zip"])?;
    let before = owned_card(state, call)?;
    let mut card = before.clone();
    p.apply_metadata(&mut card["metadata"])?;
    if let Some(name) = p.update_str("name")? {
        card["name"] = json!(name);
    }
    if let Some(zip) = p.update_str("address_zip")? {
        card["address_zip"] = json!(zip);
    }
    if let Some(month) = p.int("exp_month")? {
        card["exp_month"] = json!(month);
    }
    if let Some(year) = p.int("exp_year")? {
        card["exp_year"] = json!(year);
    }
    state.objects.replace(card.clone());
    if card != before {
        state.emit_update(call, "customer.source.updated", &before, &card);
    }
    Ok(card)
}

fn remove(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let card = owned_card(state, call)?;
    let id = call.path("source").to_string();
    let customer_id = call.path("id").to_string();
    state.objects.remove(&id);
    state.emit(call, "customer.source.deleted", &card);
    let mut customer = customers::fetch(state, call, &customer_id, "id")?;
    if customer["default_source"] == id.as_str() {
        let before = customer.clone();
        let next = state
            .objects
            .newest_first(call.owner(), "card")
            .find(|c| c["customer"] == customer_id.as_str())
            .map(|c| c["id"].clone())
            .unwrap_or(Value::Null);
        customer["default_source"] = next;
        state.objects.replace(customer.clone());
        state.emit_update(call, "customer.updated", &before, &customer);
    }
    let mut answer = deleted(&id, "card");
    answer["customer"] = json!(customer_id);
    Ok(answer)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("object");
    call.params.allow(&allowed)?;
    let customer = call.path("id").to_string();
    customers::fetch(state, call, &customer, "id")?;
    if let Some(object) = call.params.str("object")? {
        if object != "card" {
            return Ok(
                json!({"object": "list", "data": [], "has_more": false, "url": format!("/v1/customers/{customer}/sources")}),
            );
        }
    }
    let url = format!("/v1/customers/{customer}/sources");
    list_of(state, call, "card", "source", &url, |c| {
        c["customer"] == customer.as_str()
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use serde_json::json;

    #[actix_web::test]
    async fn add_list_and_delete_sources() {
        let app = TestApp::new().await;
        let customer = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let token = app
            .post(
                "/v1/tokens",
                "card[number]=5555555555554444&card[exp_month]=2&card[exp_year]=2039",
            )
            .await
            .body;
        let card = app
            .post(
                &format!("/v1/customers/{customer}/sources"),
                &format!("source={}", token["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(card.status, 200, "{}", card.body);
        // The source keeps the token's card id.
        assert_eq!(card.body["id"], token["card"]["id"]);
        assert_eq!(card.body["customer"], customer.as_str());
        assert_eq!(card.body["brand"], "MasterCard");
        let c = app.get(&format!("/v1/customers/{customer}")).await.body;
        assert_eq!(c["default_source"], card.body["id"]);

        let second = app
            .post(&format!("/v1/customers/{customer}/sources"), "source=tok_visa")
            .await
            .body;
        let list = app
            .get(&format!("/v1/customers/{customer}/sources?object=card"))
            .await
            .body;
        assert_eq!(list["data"].as_array().unwrap().len(), 2);
        assert_eq!(list["data"][0]["id"], second["id"]);

        let card_id = card.body["id"].as_str().unwrap();
        let gone = app
            .delete(&format!("/v1/customers/{customer}/sources/{card_id}"))
            .await
            .body;
        assert_eq!(gone["deleted"], true);
        let c = app.get(&format!("/v1/customers/{customer}")).await.body;
        assert_eq!(c["default_source"], second["id"]);
        let missing = app.get(&format!("/v1/customers/{customer}/sources/{card_id}")).await;
        assert_eq!(missing.status, 404);
        let types = app.event_types().await;
        assert!(types.contains(&"customer.source.created".to_string()));
        assert!(types.contains(&"customer.source.deleted".to_string()));
    }

    #[actix_web::test]
    async fn declined_and_reused_tokens() {
        let app = TestApp::new().await;
        let customer = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let declined = app
            .post(
                &format!("/v1/customers/{customer}/sources"),
                "source=tok_chargeDeclined",
            )
            .await;
        assert_eq!(declined.status, 402);
        assert_eq!(declined.body["error"]["decline_code"], "generic_decline");
        let list = app.get(&format!("/v1/customers/{customer}/sources")).await.body;
        assert_eq!(list["data"], json!([]));
        let missing = app
            .post(&format!("/v1/customers/{customer}/sources"), "source=tok_nope")
            .await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["error"]["message"], "No such token: 'tok_nope'");
    }
}
