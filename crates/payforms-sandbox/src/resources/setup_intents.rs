//! SetupIntents: save a card for later. Create (optionally confirming),
//! retrieve and confirm (also from Stripe.js with the client secret),
//! update, cancel, list. Success attaches the PaymentMethod to the customer
//! and lifts later off-session 3-D Secure challenges for it.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::cards::Behaviour;
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::LIST_PARAMS;
use super::super::params::Params;
use super::super::state::State;
use super::{confirmation_tokens, customers, list_of, matches_filter, payment_methods};

pub const ROUTES: &[ApiRoute] = &[
    post("/setup_intents", create),
    get("/setup_intents", list),
    get("/setup_intents/{id}", retrieve).public(),
    post("/setup_intents/{id}", update),
    post("/setup_intents/{id}/confirm", confirm_endpoint).public(),
    post("/setup_intents/{id}/cancel", cancel).public(),
    post("/setup_intents/{id}/_authenticate", authenticate_endpoint).public(),
];

const CONFIRMABLE: &[&str] = &["requires_payment_method", "requires_confirmation", "requires_action"];

/// Store a new SetupIntent (`setup_intent.created`).
pub fn make(state: &mut State, call: &Call, customer: Option<&str>, usage: &str, metadata: Value) -> Value {
    let id = ids::new_id("seti_");
    let seti = json!({
        "id": id,
        "object": "setup_intent",
        "application": null,
        "automatic_payment_methods": null,
        "cancellation_reason": null,
        "client_secret": ids::client_secret(&id),
        "created": call.now,
        "customer": customer,
        "description": null,
        "flow_directions": null,
        "last_setup_error": null,
        "latest_attempt": null,
        "livemode": false,
        "mandate": null,
        "metadata": metadata,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": null,
        "payment_method_configuration_details": null,
        "payment_method_options": {"card": {"mandate_options": null, "network": null, "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "single_use_mandate": null,
        "status": "requires_payment_method",
        "usage": usage
    });
    state.objects.insert(call.owner(), seti.clone());
    state.emit(call, "setup_intent.created", &seti);
    seti
}

fn fetch(state: &State, call: &Call, id: &str) -> Result<Value, ApiError> {
    state
        .objects
        .fetch(call.owner(), "setup_intent", "setupintent", id, "intent")
}

/// `payment_method`, `payment_method_data[...]` or a `confirmation_token`
/// onto the SetupIntent.
pub fn set_payment_method(state: &mut State, call: &Call, seti: &mut Value, p: &Params) -> Result<(), ApiError> {
    let id = seti["id"].as_str().unwrap_or_default().to_string();
    let pm = if let Some(confirmation) = confirmation_tokens::from_params(state, call, p, &id)? {
        confirmation.payment_method
    } else if let Some(id) = p.str("payment_method")? {
        payment_methods::resolve(state, call, &id, "payment_method")?
    } else if let Some(data) = p.hash("payment_method_data")? {
        let (card, billing) = payment_methods::card_from_data(state, call, &data)?;
        payment_methods::store(state, call, card, billing)
    } else {
        return Ok(());
    };
    if pm["object"] != "payment_method" {
        return Err(ApiError::no_such(
            "PaymentMethod",
            pm["id"].as_str().unwrap_or(""),
            "payment_method",
        ));
    }
    seti["payment_method"] = pm["id"].clone();
    seti["status"] = json!("requires_confirmation");
    seti["next_action"] = Value::Null;
    Ok(())
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "customer",
        "payment_method",
        "payment_method_data",
        "confirmation_token",
        "payment_method_types",
        "payment_method_options",
        "automatic_payment_methods",
        "confirm",
        "usage",
        "metadata",
        "description",
        "return_url",
        "on_behalf_of",
        "use_stripe_sdk",
    ])?;
    let customer = p.str("customer")?;
    if let Some(c) = &customer {
        customers::fetch(state, call, c, "customer")?;
    }
    let usage = p
        .choice("usage", &["on_session", "off_session"])?
        .unwrap_or_else(|| "off_session".into());
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    if p.has("confirmation_token") && !p.bool("confirm")?.unwrap_or(false) {
        return Err(ApiError::invalid_param(
            "confirmation_token",
            "You can only pass confirmation_token when confirm=true.",
        ));
    }
    let mut seti = make(state, call, customer.as_deref(), &usage, metadata);
    super::update_field(p, &mut seti, "description")?;
    set_payment_method(state, call, &mut seti, p)?;
    state.objects.replace(seti.clone());
    if p.bool("confirm")?.unwrap_or(false) {
        return confirm_setup(state, call, seti);
    }
    Ok(seti)
}

/// Confirm: validate the card, stop for 3-D Secure, or succeed.
pub fn confirm_setup(state: &mut State, call: &Call, mut seti: Value) -> Result<Value, ApiError> {
    let status = seti["status"].as_str().unwrap_or_default().to_string();
    if !CONFIRMABLE.contains(&status.as_str()) {
        return Err(ApiError::unexpected_state(
            "setup_intent_unexpected_state",
            format!("You cannot confirm this SetupIntent because it has a status of {status}."),
        )
        .embed("setup_intent", seti));
    }
    let Some(pm_id) = seti["payment_method"].as_str().map(str::to_string) else {
        return Err(ApiError::unexpected_state(
            "setup_intent_unexpected_state",
            "You cannot confirm this SetupIntent because it's missing a payment method. Update it with a payment method, or confirm it with one.",
        )
        .embed("setup_intent", seti));
    };
    let card = payment_methods::card_of(state, &pm_id)?;
    let id = seti["id"].as_str().unwrap_or_default().to_string();
    match card.behaviour {
        Behaviour::Decline(decline) => {
            let pm = state.objects.get(call.owner(), &pm_id).cloned().unwrap_or(Value::Null);
            let error = decline.error().embed("payment_method", pm);
            seti["last_setup_error"] = error.to_body()["error"].clone();
            seti["status"] = json!("requires_payment_method");
            seti["payment_method"] = Value::Null;
            seti["next_action"] = Value::Null;
            state.objects.replace(seti.clone());
            state.emit(call, "setup_intent.setup_failed", &seti);
            return Err(error.embed("setup_intent", seti));
        }
        Behaviour::Authenticate { .. } if status != "requires_action" => {
            seti["status"] = json!("requires_action");
            seti["next_action"] = json!({
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": format!("{}/authenticate/{id}", call.base_url), "source": ids::new_id("src_")}
            });
            state.objects.replace(seti.clone());
            state.emit(call, "setup_intent.requires_action", &seti);
            return Ok(seti);
        }
        _ => {}
    }
    seti["status"] = json!("succeeded");
    seti["next_action"] = Value::Null;
    seti["last_setup_error"] = Value::Null;
    seti["latest_attempt"] = json!(ids::new_id("setatt_"));
    state.objects.replace(seti.clone());
    state.off_session_ready.insert(pm_id.clone());
    if let Some(customer) = seti["customer"].as_str() {
        if let Some(pm) = state.objects.get(call.owner(), &pm_id).cloned() {
            if pm["customer"].is_null() {
                payment_methods::attach_to(state, call, &pm, customer)?;
            }
        }
    }
    state.emit(call, "setup_intent.succeeded", &seti);
    Ok(seti)
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["client_secret"])?;
    let seti = fetch(state, call, call.path("id"))?;
    call.check_client_secret(&seti, "SetupIntent")?;
    Ok(seti)
}

fn confirm_endpoint(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "payment_method",
        "payment_method_data",
        "confirmation_token",
        "payment_method_options",
        "return_url",
        "mandate_data",
        "use_stripe_sdk",
        "client_secret",
    ])?;
    let mut seti = fetch(state, call, call.path("id"))?;
    call.check_client_secret(&seti, "SetupIntent")?;
    if (p.has("payment_method") || p.has("payment_method_data") || p.has("confirmation_token"))
        && CONFIRMABLE.contains(&seti["status"].as_str().unwrap_or(""))
    {
        set_payment_method(state, call, &mut seti, p)?;
        state.objects.replace(seti.clone());
    }
    confirm_setup(state, call, seti)
}

fn authenticate_endpoint(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["success", "client_secret"])?;
    let seti = fetch(state, call, call.path("id"))?;
    call.check_client_secret(&seti, "SetupIntent")?;
    let success = call.params.bool("success")?.unwrap_or(false);
    authenticate(state, call, call.path("id"), success)
}

/// The visitor's 3-D Secure answer (Stripe.js mock, hosted page).
pub fn authenticate(state: &mut State, call: &Call, id: &str, success: bool) -> Result<Value, ApiError> {
    let mut seti = fetch(state, call, id)?;
    if seti["status"] != "requires_action" {
        return Err(ApiError::unexpected_state(
            "setup_intent_unexpected_state",
            "This SetupIntent is not waiting for authentication.",
        ));
    }
    if success {
        return confirm_setup(state, call, seti);
    }
    seti["status"] = json!("requires_payment_method");
    seti["payment_method"] = Value::Null;
    seti["next_action"] = Value::Null;
    seti["last_setup_error"] = json!({
        "code": "setup_intent_authentication_failure",
        "message": "The latest attempt to set up the payment method has failed because authentication failed.",
        "type": "invalid_request_error"
    });
    state.objects.replace(seti.clone());
    state.emit(call, "setup_intent.setup_failed", &seti);
    Ok(seti)
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "customer",
        "payment_method",
        "payment_method_data",
        "payment_method_types",
        "metadata",
        "description",
    ])?;
    let mut seti = fetch(state, call, call.path("id"))?;
    let finished = seti["status"] == "succeeded" || seti["status"] == "canceled";
    if finished && (p.has("payment_method") || p.has("customer")) {
        return Err(ApiError::unexpected_state(
            "setup_intent_unexpected_state",
            format!(
                "You cannot update this SetupIntent because it has a status of {}.",
                seti["status"].as_str().unwrap_or("")
            ),
        ));
    }
    if let Some(customer) = p.str("customer")? {
        customers::fetch(state, call, &customer, "customer")?;
        seti["customer"] = json!(customer);
    }
    super::update_field(p, &mut seti, "description")?;
    p.apply_metadata(&mut seti["metadata"])?;
    set_payment_method(state, call, &mut seti, p)?;
    state.objects.replace(seti.clone());
    Ok(seti)
}

fn cancel(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["cancellation_reason", "client_secret"])?;
    let mut seti = fetch(state, call, call.path("id"))?;
    call.check_client_secret(&seti, "SetupIntent")?;
    if seti["status"] == "succeeded" || seti["status"] == "canceled" {
        return Err(ApiError::unexpected_state(
            "setup_intent_unexpected_state",
            format!(
                "You cannot cancel this SetupIntent because it has a status of {}.",
                seti["status"].as_str().unwrap_or("")
            ),
        ));
    }
    seti["status"] = json!("canceled");
    seti["cancellation_reason"] = json!(call.params.choice(
        "cancellation_reason",
        &["abandoned", "duplicate", "requested_by_customer"]
    )?);
    seti["next_action"] = Value::Null;
    state.objects.replace(seti.clone());
    state.emit(call, "setup_intent.canceled", &seti);
    Ok(seti)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["customer", "payment_method"]);
    call.params.allow(&allowed)?;
    let (customer, pm) = (call.params.str("customer")?, call.params.str("payment_method")?);
    list_of(state, call, "setup_intent", "setupintent", "/v1/setup_intents", |s| {
        matches_filter(s, "customer", &customer) && matches_filter(s, "payment_method", &pm)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn setup_then_charge_off_session_without_challenge() {
        let app = TestApp::new().await;
        let customer = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let seti = app
            .post("/v1/setup_intents", &format!("customer={customer}&metadata[k]=v"))
            .await
            .body;
        assert!(seti["id"].as_str().unwrap().starts_with("seti_"));
        assert_eq!(seti["status"], "requires_payment_method");
        assert_eq!(seti["usage"], "off_session");
        let id = seti["id"].as_str().unwrap();
        let waiting = app
            .post(
                &format!("/v1/setup_intents/{id}/confirm"),
                "payment_method=pm_card_authenticationRequiredOnSetup",
            )
            .await
            .body;
        assert_eq!(waiting["status"], "requires_action");
        let done = app.post(&format!("/v1/setup_intents/{id}/confirm"), "").await.body;
        assert_eq!(done["status"], "succeeded");
        let pm = done["payment_method"].as_str().unwrap();
        let attached = app.get(&format!("/v1/payment_methods/{pm}")).await.body;
        assert_eq!(attached["customer"], customer.as_str());
        // Set up once: charging it off-session needs no new authentication.
        let pi = app
            .post(
                "/v1/payment_intents",
                &format!(
                    "amount=1000&currency=usd&customer={customer}&payment_method={pm}&confirm=true&off_session=true"
                ),
            )
            .await;
        assert_eq!(pi.status, 200, "{}", pi.body);
        assert_eq!(pi.body["status"], "succeeded");
        let types = app.event_types().await;
        assert!(types.contains(&"setup_intent.succeeded".to_string()));
        assert!(types.contains(&"payment_method.attached".to_string()));
    }

    #[actix_web::test]
    async fn declined_setup_and_stripe_js_confirm() {
        let app = TestApp::new().await;
        let seti = app.post("/v1/setup_intents", "").await.body;
        let id = seti["id"].as_str().unwrap();
        let declined = app
            .post(
                &format!("/v1/setup_intents/{id}/confirm"),
                "payment_method=pm_card_chargeDeclined",
            )
            .await;
        assert_eq!(declined.status, 402);
        assert_eq!(
            declined.body["error"]["setup_intent"]["status"],
            "requires_payment_method"
        );
        let secret = seti["client_secret"].as_str().unwrap();
        let from_js = app
            .post_with_key(
                &format!("/v1/setup_intents/{id}/confirm"),
                &format!("client_secret={secret}&payment_method_data[type]=card&payment_method_data[card][number]=4242424242424242&payment_method_data[card][exp_month]=4&payment_method_data[card][exp_year]=2044"),
                "pk_test_sandbox",
            )
            .await;
        assert_eq!(from_js.status, 200, "{}", from_js.body);
        assert_eq!(from_js.body["status"], "succeeded");
        let confirm_again = app.post(&format!("/v1/setup_intents/{id}/confirm"), "").await;
        assert_eq!(confirm_again.status, 400);
        let got = app.get(&format!("/v1/setup_intents/{id}")).await.body;
        assert_eq!(got["status"], "succeeded");
    }

    #[actix_web::test]
    async fn create_confirmed_cancel_and_list() {
        let app = TestApp::new().await;
        let ok = app
            .post(
                "/v1/setup_intents",
                "payment_method=pm_card_visa&confirm=true&usage=on_session",
            )
            .await
            .body;
        assert_eq!(ok["status"], "succeeded");
        assert_eq!(ok["usage"], "on_session");
        let open = app.post("/v1/setup_intents", "").await.body;
        let canceled = app
            .post(
                &format!("/v1/setup_intents/{}/cancel", open["id"].as_str().unwrap()),
                "",
            )
            .await
            .body;
        assert_eq!(canceled["status"], "canceled");
        let list = app.get("/v1/setup_intents").await.body;
        assert_eq!(list["data"].as_array().unwrap().len(), 2);
        assert_eq!(app.post("/v1/setup_intents", "usage=sometimes").await.status, 400);
    }
}
