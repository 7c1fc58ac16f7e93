//! PaymentMethods (type `card`): create from card details or a token
//! (Stripe.js may call it with the publishable key), retrieve, update,
//! attach, detach, list by customer. Magic ids (`pm_card_visa`) become a
//! new PaymentMethod each time they are used, as on Stripe.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::cards::{self, Card};
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::LIST_PARAMS;
use super::super::params::Params;
use super::super::sepa::BankAccount;
use super::super::state::State;
use super::{customers, list_of, tokens};

pub const ROUTES: &[ApiRoute] = &[
    post("/payment_methods", create).public(),
    get("/payment_methods", list),
    get("/payment_methods/{id}", retrieve),
    post("/payment_methods/{id}", update),
    post("/payment_methods/{id}/attach", attach),
    post("/payment_methods/{id}/detach", detach),
    get("/customers/{id}/payment_methods", list_for_customer),
];

/// Read `billing_details[...]` into Stripe's full shape.
pub fn billing_details(params: Option<Params>) -> Result<Value, ApiError> {
    let mut details = json!({
        "address": {"city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null},
        "email": null,
        "name": null,
        "phone": null
    });
    let Some(p) = params else {
        return Ok(details);
    };
    p.allow(&["address", "email", "name", "phone"])?;
    for field in ["email", "name", "phone"] {
        if let Some(v) = p.str(field)? {
            details[field] = json!(v);
        }
    }
    if let Some(address) = p.hash("address")? {
        address.allow(&["city", "country", "line1", "line2", "postal_code", "state"])?;
        for field in ["city", "country", "line1", "line2", "postal_code", "state"] {
            if let Some(v) = address.str(field)? {
                details["address"][field] = json!(v);
            }
        }
    }
    Ok(details)
}

/// Store a new card PaymentMethod for `card`.
pub fn store(state: &mut State, call: &Call, card: Card, billing: Value) -> Value {
    let pm = json!({
        "id": ids::new_id("pm_"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing,
        "card": card.payment_method_json(),
        "created": call.now,
        "customer": null,
        "livemode": false,
        "metadata": {},
        "type": "card"
    });
    if let Some(id) = pm["id"].as_str() {
        state.cards.insert(id.to_string(), card);
    }
    state.objects.insert(call.owner(), pm.clone());
    pm
}

/// Store a new `sepa_debit` PaymentMethod for `account`.
pub fn store_sepa(state: &mut State, call: &Call, account: BankAccount, billing: Value) -> Value {
    let pm = json!({
        "id": ids::new_id("pm_"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": billing,
        "created": call.now,
        "customer": null,
        "livemode": false,
        "metadata": {},
        "sepa_debit": account.payment_method_json(),
        "type": "sepa_debit"
    });
    if let Some(id) = pm["id"].as_str() {
        state.bank_accounts.insert(id.to_string(), account);
    }
    state.objects.insert(call.owner(), pm.clone());
    pm
}

/// The card and billing details of card `payment_method_data` (an intent's,
/// or a ConfirmationToken's).
pub fn card_from_data(state: &mut State, call: &Call, data: &Params) -> Result<(Card, Value), ApiError> {
    data.allow(&["type", "card", "billing_details", "metadata", "allow_redisplay"])?;
    let kind = data.required_str("type")?;
    if kind != "card" {
        return Err(ApiError::invalid_param(
            "payment_method_data[type]",
            format!("The payment method type {kind} is not supported here by the payforms sandbox."),
        ));
    }
    let card_params = data
        .hash("card")?
        .ok_or_else(|| ApiError::missing_param("payment_method_data[card]"))?;
    let card = card_from_params(state, call, &card_params)?;
    let billing = billing_details(data.hash("billing_details")?)?;
    Ok((card, billing))
}

/// A card (from `card[...]` or `card[token]`) for a new PaymentMethod.
pub fn card_from_params(state: &mut State, call: &Call, card: &Params) -> Result<Card, ApiError> {
    if let Some(token) = card.str("token")? {
        card.allow(&["token"])?;
        let (_, card) = tokens::consume(state, call, &token, &card.full_name("token"))?;
        return Ok(card);
    }
    cards::from_params(card, call.chrono_now())
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&["type", "card", "billing_details", "metadata", "allow_redisplay"])?;
    let kind = p.required_str("type")?;
    if kind != "card" {
        return Err(ApiError::invalid_param(
            "type",
            format!("Invalid type: {kind}. The payforms sandbox supports card payment methods only."),
        ));
    }
    let card_params = p.hash("card")?.ok_or_else(|| ApiError::missing_param("card"))?;
    let billing = billing_details(p.hash("billing_details")?)?;
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    let card = card_from_params(state, call, &card_params)?;
    let mut pm = store(state, call, card, billing);
    pm["metadata"] = metadata;
    if let Some(allow) = p.choice("allow_redisplay", &["always", "limited", "unspecified"])? {
        pm["allow_redisplay"] = json!(allow);
    }
    state.objects.replace(pm.clone());
    Ok(pm)
}

/// `pm_...`, a magic `pm_card_*` (stored as a new PaymentMethod) or a card
/// source `card_...` usable for a payment.
pub fn resolve(state: &mut State, call: &Call, id: &str, param: &str) -> Result<Value, ApiError> {
    if let Some(card) = cards::magic(id).filter(|_| id.starts_with("pm_card_")) {
        let billing = billing_details(None)?;
        return Ok(store(state, call, card, billing));
    }
    match state.objects.get(call.owner(), id) {
        Some(v) if v["object"] == "payment_method" || v["object"] == "card" => Ok(v.clone()),
        _ => Err(ApiError::no_such("PaymentMethod", id, param)),
    }
}

/// The test card behind a PaymentMethod or card source.
pub fn card_of(state: &State, id: &str) -> Result<Card, ApiError> {
    state
        .cards
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("The sandbox lost the card behind {id}.")))
}

/// Resolve a PaymentMethod about to be attached and check what Stripe
/// checks first: not someone else's, and the card passes validation.
pub fn resolve_for_attach(state: &mut State, call: &Call, id: &str, param: &str) -> Result<Value, ApiError> {
    let pm = resolve(state, call, id, param)?;
    if pm["object"] != "payment_method" {
        return Err(ApiError::no_such("PaymentMethod", id, param));
    }
    let pm_id = pm["id"].as_str().unwrap_or(id);
    if let Some(decline) = card_of(state, pm_id)?.attach_decline() {
        return Err(decline.error().embed("payment_method", pm.clone()));
    }
    Ok(pm)
}

/// Attach a resolved PaymentMethod to a customer (`payment_method.attached`).
pub fn attach_to(state: &mut State, call: &Call, pm: &Value, customer: &str) -> Result<Value, ApiError> {
    match pm["customer"].as_str() {
        Some(current) if current == customer => return Ok(pm.clone()),
        Some(_) => {
            return Err(
                ApiError::invalid("The payment method you provided has already been attached to a customer.")
                    .with_code("payment_method_already_attached"),
            )
        }
        None => {}
    }
    let mut attached = pm.clone();
    attached["customer"] = json!(customer);
    state.objects.replace(attached.clone());
    state.emit(call, "payment_method.attached", &attached);
    Ok(attached)
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let id = call.path("id");
    state
        .objects
        .fetch(call.owner(), "payment_method", "PaymentMethod", id, "id")
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&["billing_details", "card", "metadata", "allow_redisplay"])?;
    let id = call.path("id").to_string();
    let before = state
        .objects
        .fetch(call.owner(), "payment_method", "PaymentMethod", &id, "id")?;
    let mut pm = before.clone();
    if let Some(billing) = p.hash("billing_details")? {
        let fresh = billing_details(Some(billing))?;
        for field in ["email", "name", "phone"] {
            if !fresh[field].is_null() {
                pm["billing_details"][field] = fresh[field].clone();
            }
        }
        for (k, v) in fresh["address"].as_object().into_iter().flatten() {
            if !v.is_null() {
                pm["billing_details"]["address"][k] = v.clone();
            }
        }
    }
    if let Some(card) = p.hash("card")? {
        card.allow(&["exp_month", "exp_year"])?;
        if let Some(month) = card.int("exp_month")? {
            if !(1..=12).contains(&month) {
                return Err(
                    ApiError::card("invalid_expiry_month", "Your card's expiration month is invalid.")
                        .with_param("exp_month"),
                );
            }
            pm["card"]["exp_month"] = json!(month);
        }
        if let Some(year) = card.int("exp_year")? {
            pm["card"]["exp_year"] = json!(if year < 100 { year + 2000 } else { year });
        }
    }
    if let Some(allow) = p.choice("allow_redisplay", &["always", "limited", "unspecified"])? {
        pm["allow_redisplay"] = json!(allow);
    }
    p.apply_metadata(&mut pm["metadata"])?;
    state.objects.replace(pm.clone());
    if pm != before {
        state.emit_update(call, "payment_method.updated", &before, &pm);
    }
    Ok(pm)
}

fn attach(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["customer"])?;
    let customer = call.params.required_str("customer")?;
    customers::fetch(state, call, &customer, "customer")?;
    let id = call.path("id");
    let pm = resolve_for_attach(state, call, id, "payment_method")?;
    attach_to(state, call, &pm, &customer)
}

fn detach(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let id = call.path("id").to_string();
    let pm = state
        .objects
        .fetch(call.owner(), "payment_method", "PaymentMethod", &id, "payment_method")?;
    let Some(customer_id) = pm["customer"].as_str().map(str::to_string) else {
        return Err(ApiError::invalid(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
        )
        .with_code("payment_method_unexpected_state"));
    };
    let mut detached = pm.clone();
    detached["customer"] = Value::Null;
    state.objects.replace(detached.clone());
    if let Ok(mut customer) = customers::fetch(state, call, &customer_id, "customer") {
        if customer["invoice_settings"]["default_payment_method"] == id.as_str() {
            customer["invoice_settings"]["default_payment_method"] = Value::Null;
            state.objects.replace(customer);
        }
    }
    state.emit_update(call, "payment_method.detached", &pm, &detached);
    Ok(detached)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["customer", "type"]);
    call.params.allow(&allowed)?;
    let customer = call.params.str("customer")?;
    if let Some(c) = &customer {
        customers::fetch(state, call, c, "customer")?;
    }
    check_type(&call.params)?;
    list_of(
        state,
        call,
        "payment_method",
        "PaymentMethod",
        "/v1/payment_methods",
        |pm| customer.as_ref().map(|c| pm["customer"] == c.as_str()).unwrap_or(true),
    )
}

fn list_for_customer(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["type", "allow_redisplay"]);
    call.params.allow(&allowed)?;
    let customer = call.path("id").to_string();
    customers::fetch(state, call, &customer, "customer")?;
    check_type(&call.params)?;
    let url = format!("/v1/customers/{customer}/payment_methods");
    list_of(state, call, "payment_method", "PaymentMethod", &url, |pm| {
        pm["customer"] == customer.as_str()
    })
}

fn check_type(p: &Params) -> Result<(), ApiError> {
    match p.str("type")?.as_deref() {
        None | Some("card") => Ok(()),
        Some(other) => Err(ApiError::invalid_param(
            "type",
            format!("Invalid type: {other}. The payforms sandbox supports card payment methods only."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use serde_json::json;

    #[actix_web::test]
    async fn create_from_card_number_never_echoes_it() {
        let app = TestApp::new().await;
        let pm = app
            .post(
                "/v1/payment_methods",
                "type=card&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2040&card[cvc]=123&billing_details[name]=J%C3%BCrgen&billing_details[address][postal_code]=10115",
            )
            .await;
        assert_eq!(pm.status, 200, "{}", pm.body);
        let pm = pm.body;
        assert!(pm["id"].as_str().unwrap().starts_with("pm_"));
        assert_eq!(pm["type"], "card");
        assert_eq!(pm["card"]["last4"], "4242");
        assert_eq!(pm["card"]["brand"], "visa");
        assert_eq!(pm["card"]["exp_year"], 2040);
        assert_eq!(pm["card"]["checks"]["cvc_check"], "pass");
        assert_eq!(pm["billing_details"]["name"], "Jürgen");
        assert_eq!(pm["billing_details"]["address"]["postal_code"], "10115");
        assert_eq!(pm["customer"], json!(null));
        assert!(!pm.to_string().contains("4242424242424242"));
    }

    #[actix_web::test]
    async fn create_validation() {
        let app = TestApp::new().await;
        let bad = app
            .post(
                "/v1/payment_methods",
                "type=card&card[number]=4242424242424241&card[exp_month]=12&card[exp_year]=2040",
            )
            .await;
        assert_eq!(bad.status, 402);
        assert_eq!(bad.body["error"]["code"], "incorrect_number");
        let missing = app.post("/v1/payment_methods", "card[number]=4242424242424242").await;
        assert_eq!(missing.body["error"]["message"], "Missing required param: type.");
        let other = app.post("/v1/payment_methods", "type=sepa_debit").await;
        assert_eq!(other.status, 400);
    }

    #[actix_web::test]
    async fn publishable_key_may_create_but_not_list() {
        let app = TestApp::new().await;
        let pm = app
            .post_with_key(
                "/v1/payment_methods",
                "type=card&card[token]=tok_visa",
                "pk_test_sandbox",
            )
            .await;
        assert_eq!(pm.status, 200, "{}", pm.body);
        let listed = app.get_with_key("/v1/payment_methods", "pk_test_sandbox").await;
        assert_eq!(listed.status, 401);
        let wrong = app
            .post_with_key("/v1/payment_methods", "type=card&card[token]=tok_visa", "pk_test_other")
            .await;
        assert_eq!(wrong.status, 401);
    }

    #[actix_web::test]
    async fn attach_detach_and_list() {
        let app = TestApp::new().await;
        let customer = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let attached = app
            .post(
                "/v1/payment_methods/pm_card_mastercard/attach",
                &format!("customer={customer}"),
            )
            .await;
        assert_eq!(attached.status, 200, "{}", attached.body);
        let pm_id = attached.body["id"].as_str().unwrap().to_string();
        assert_ne!(pm_id, "pm_card_mastercard");
        assert_eq!(attached.body["customer"], customer.as_str());
        assert_eq!(attached.body["card"]["brand"], "mastercard");

        let list = app
            .get(&format!("/v1/payment_methods?customer={customer}&type=card"))
            .await
            .body;
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        assert_eq!(list["data"][0]["id"], pm_id.as_str());

        let other = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let stolen = app
            .post(
                &format!("/v1/payment_methods/{pm_id}/attach"),
                &format!("customer={other}"),
            )
            .await;
        assert_eq!(stolen.status, 400);

        let detached = app.post(&format!("/v1/payment_methods/{pm_id}/detach"), "").await;
        assert_eq!(detached.body["customer"], json!(null));
        let twice = app.post(&format!("/v1/payment_methods/{pm_id}/detach"), "").await;
        assert_eq!(twice.status, 400);
        let empty = app.get(&format!("/v1/customers/{customer}/payment_methods")).await.body;
        assert_eq!(empty["data"], json!([]));
        let types = app.event_types().await;
        assert!(types.contains(&"payment_method.attached".to_string()));
        assert!(types.contains(&"payment_method.detached".to_string()));
    }

    #[actix_web::test]
    async fn declined_cards_cannot_be_attached() {
        let app = TestApp::new().await;
        let customer = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let declined = app
            .post(
                "/v1/payment_methods/pm_card_chargeDeclinedInsufficientFunds/attach",
                &format!("customer={customer}"),
            )
            .await;
        assert_eq!(declined.status, 402);
        assert_eq!(declined.body["error"]["decline_code"], "insufficient_funds");
        // 0341 attaches fine and only fails when charged.
        let later = app
            .post(
                "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
                &format!("customer={customer}"),
            )
            .await;
        assert_eq!(later.status, 200);
        let missing = app
            .post("/v1/payment_methods/pm_nope/attach", &format!("customer={customer}"))
            .await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["error"]["message"], "No such PaymentMethod: 'pm_nope'");
        let no_customer = app
            .post("/v1/payment_methods/pm_card_visa/attach", "customer=cus_nope")
            .await;
        assert_eq!(no_customer.status, 404);
    }

    #[actix_web::test]
    async fn update_metadata_and_expiry() {
        let app = TestApp::new().await;
        let pm = app
            .post("/v1/payment_methods", "type=card&card[token]=tok_visa")
            .await
            .body;
        let id = pm["id"].as_str().unwrap();
        let updated = app
            .post(
                &format!("/v1/payment_methods/{id}"),
                "metadata[k]=v&card[exp_month]=3&billing_details[email]=a%40b.c",
            )
            .await
            .body;
        assert_eq!(updated["metadata"]["k"], "v");
        assert_eq!(updated["card"]["exp_month"], 3);
        assert_eq!(updated["billing_details"]["email"], "a@b.c");
    }
}
