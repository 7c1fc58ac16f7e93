//! PaymentIntents: create (optionally confirming), retrieve and confirm
//! (also from Stripe.js with the client secret), update, capture, cancel,
//! list. 3-D Secure cards stop in `requires_action`; confirming again (or
//! the Stripe.js mock's authentication step) completes them. A failed
//! confirmation answers 402 with the PaymentIntent embedded in the error.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::auth::KeyKind;
use super::super::cards::{Behaviour, Decline};
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::LIST_PARAMS;
use super::super::money;
use super::super::params::Params;
use super::super::sepa;
use super::super::state::State;
use super::charges::{self, ChargeOutcome, ChargeRequest};
use super::{confirmation_tokens, customers, invoices, list_of, payment_methods, refunds};

pub const ROUTES: &[ApiRoute] = &[
    post("/payment_intents", create),
    get("/payment_intents", list),
    get("/payment_intents/{id}", retrieve).public(),
    post("/payment_intents/{id}", update),
    post("/payment_intents/{id}/confirm", confirm_endpoint).public(),
    post("/payment_intents/{id}/capture", capture),
    post("/payment_intents/{id}/cancel", cancel),
    post("/payment_intents/{id}/_authenticate", authenticate_endpoint).public(),
];

const CONFIRMABLE: &[&str] = &["requires_payment_method", "requires_confirmation", "requires_action"];
const CANCELABLE: &[&str] = &[
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
];

/// What a new PaymentIntent needs (also used by invoices and Checkout).
#[derive(Debug, Clone, Default)]
pub struct NewIntent {
    pub amount: i64,
    pub currency: String,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Value,
    pub capture_method: String,
    pub invoice: Option<String>,
    pub setup_future_usage: Option<String>,
}

/// Store a new PaymentIntent (`payment_intent.created`).
pub fn make(state: &mut State, call: &Call, new: &NewIntent) -> Value {
    let id = ids::new_id("pi_");
    let mut pi = json!({
        "id": id,
        "object": "payment_intent",
        "amount": new.amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": null,
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": if new.capture_method.is_empty() { "automatic" } else { new.capture_method.as_str() },
        "client_secret": ids::client_secret(&id),
        "confirmation_method": "automatic",
        "created": call.now,
        "currency": new.currency,
        "customer": new.customer,
        "description": new.description,
        "invoice": new.invoice,
        "last_payment_error": null
    });
    super::extend(
        &mut pi,
        json!({
            "latest_charge": null,
            "livemode": false,
            "metadata": if new.metadata.is_object() { new.metadata.clone() } else { json!({}) },
            "next_action": null,
            "on_behalf_of": null,
            "payment_method": null,
            "payment_method_configuration_details": null,
            "payment_method_options": {"card": {"installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic"}},
            "payment_method_types": ["card"],
            "processing": null,
            "receipt_email": null,
            "review": null,
            "setup_future_usage": new.setup_future_usage,
            "shipping": null,
            "source": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": "requires_payment_method",
            "transfer_data": null,
            "transfer_group": null
        }),
    );
    state.objects.insert(call.owner(), pi.clone());
    state.emit(call, "payment_intent.created", &pi);
    pi
}

fn fetch(state: &State, call: &Call, id: &str) -> Result<Value, ApiError> {
    state
        .objects
        .fetch(call.owner(), "payment_intent", "payment_intent", id, "intent")
}

pub fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "amount",
        "currency",
        "customer",
        "payment_method",
        "payment_method_data",
        "confirmation_token",
        "payment_method_types",
        "payment_method_options",
        "automatic_payment_methods",
        "confirm",
        "capture_method",
        "confirmation_method",
        "metadata",
        "description",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "application_fee_amount",
        "transfer_data",
        "transfer_group",
        "on_behalf_of",
        "off_session",
        "setup_future_usage",
        "receipt_email",
        "return_url",
        "shipping",
        "use_stripe_sdk",
        "error_on_requires_action",
    ])?;
    let amount = p.required_int("amount")?;
    let currency = money::required_currency(p, "currency")?;
    money::check_charge_amount(amount, &currency, "amount")?;
    let customer = p.str("customer")?;
    if let Some(c) = &customer {
        customers::fetch(state, call, c, "customer")?;
    }
    let confirm = p.bool("confirm")?.unwrap_or(false);
    if p.has("off_session") && !confirm {
        return Err(ApiError::invalid_param(
            "off_session",
            "You can only pass off_session when confirm=true.",
        ));
    }
    if p.has("confirmation_token") && !confirm {
        return Err(ApiError::invalid_param(
            "confirmation_token",
            "You can only pass confirmation_token when confirm=true.",
        ));
    }
    if p.has("return_url") && !confirm {
        return Err(ApiError::invalid_param(
            "return_url",
            "You can only pass return_url when confirm=true.",
        ));
    }
    if let Some(types) = p.str_list("payment_method_types")? {
        if let Some(other) = types.iter().find(|t| *t != "card") {
            return Err(ApiError::invalid_param(
                "payment_method_types",
                format!("The payment method type {other} is not supported by the payforms sandbox (card only)."),
            ));
        }
    }
    let mut pi = make(
        state,
        call,
        &NewIntent {
            amount,
            currency,
            customer,
            capture_method: p
                .choice("capture_method", &["automatic", "automatic_async", "manual"])?
                .unwrap_or_default(),
            ..NewIntent::default()
        },
    );
    apply_fields(state, call, &mut pi)?;
    if let Some(method) = p.choice("confirmation_method", &["automatic", "manual"])? {
        pi["confirmation_method"] = json!(method);
    }
    if let Some(auto) = p.hash("automatic_payment_methods")? {
        auto.allow(&["enabled", "allow_redirects"])?;
        pi["automatic_payment_methods"] = json!({"allow_redirects": auto.str("allow_redirects")?.unwrap_or_else(|| "always".into()), "enabled": auto.bool("enabled")?.unwrap_or(false)});
    }
    if let Some(fee) = p.amount("application_fee_amount")? {
        if fee > amount {
            return Err(ApiError::invalid_param(
                "application_fee_amount",
                "The application fee cannot exceed the amount.",
            ));
        }
        pi["application_fee_amount"] = json!(fee);
    }
    if let Some(destination) = charges::destination_param(state, call)? {
        pi["transfer_data"] = json!({"destination": destination});
    }
    if let Some(obo) = p.str("on_behalf_of")? {
        pi["on_behalf_of"] = json!(obo);
    }
    let token_return_url = set_payment_method(state, call, &mut pi, p)?;
    state.objects.replace(pi.clone());
    if confirm {
        let off_session = off_session_flag(p)?;
        let return_url = p.str("return_url")?.or(token_return_url);
        return confirm_intent(state, call, pi, off_session, return_url);
    }
    Ok(pi)
}

/// `off_session`: `true`/`false`, or Stripe's `one_off`/`recurring`.
fn off_session_flag(p: &Params) -> Result<bool, ApiError> {
    match p.str("off_session")?.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") | Some("one_off") | Some("recurring") => Ok(true),
        Some(other) => Err(ApiError::invalid(format!("Invalid boolean: {other}")).with_param("off_session")),
    }
}

/// Members settable on create and update.
fn apply_fields(state: &State, call: &Call, pi: &mut Value) -> Result<(), ApiError> {
    let p = &call.params;
    for field in [
        "description",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
    ] {
        super::update_field(p, pi, field)?;
    }
    if p.has("receipt_email") {
        pi["receipt_email"] = json!(super::email(p, "receipt_email")?);
    }
    if p.has("setup_future_usage") {
        pi["setup_future_usage"] = json!(p.choice("setup_future_usage", &["on_session", "off_session"])?);
    }
    super::update_hash(p, pi, "shipping")?;
    p.apply_metadata(&mut pi["metadata"])?;
    if let Some(customer) = p.update_str("customer")? {
        if let Some(c) = &customer {
            customers::fetch(state, call, c, "customer")?;
        }
        pi["customer"] = json!(customer);
    }
    Ok(())
}

/// Take `payment_method` (an id or magic id), `payment_method_data` or a
/// `confirmation_token` (whose return URL, if any, is given back).
fn set_payment_method(state: &mut State, call: &Call, pi: &mut Value, p: &Params) -> Result<Option<String>, ApiError> {
    let mut return_url = None;
    let id = pi["id"].as_str().unwrap_or_default().to_string();
    let pm = if let Some(confirmation) = confirmation_tokens::from_params(state, call, p, &id)? {
        return_url = confirmation.return_url;
        if let Some(usage) = confirmation.setup_future_usage {
            pi["setup_future_usage"] = json!(usage);
        }
        Some(confirmation.payment_method)
    } else if let Some(id) = p.str("payment_method")? {
        Some(payment_methods::resolve(state, call, &id, "payment_method")?)
    } else if let Some(data) = p.hash("payment_method_data")? {
        let (card, billing) = payment_methods::card_from_data(state, call, &data)?;
        Some(payment_methods::store(state, call, card, billing))
    } else {
        None
    };
    let Some(pm) = pm else {
        return Ok(return_url);
    };
    if let (Some(_), None) = (pm["customer"].as_str(), pi["customer"].as_str()) {
        return Err(ApiError::invalid_param(
            "payment_method",
            format!(
                "The provided PaymentMethod ({}) is attached to a Customer; pass that customer to use it.",
                pm["id"].as_str().unwrap_or("")
            ),
        ));
    }
    if let (Some(owner), Some(customer)) = (pm["customer"].as_str(), pi["customer"].as_str()) {
        if owner != customer {
            return Err(ApiError::invalid_param(
                "payment_method",
                format!(
                    "The provided PaymentMethod ({}) is attached to a different Customer.",
                    pm["id"].as_str().unwrap_or("")
                ),
            ));
        }
    }
    pi["payment_method"] = pm["id"].clone();
    if pi["status"] == "requires_payment_method" {
        pi["status"] = json!("requires_confirmation");
    }
    Ok(return_url)
}

/// Confirm: charge the card, or stop for 3-D Secure, or fail with 402.
pub fn confirm_intent(
    state: &mut State,
    call: &Call,
    mut pi: Value,
    off_session: bool,
    return_url: Option<String>,
) -> Result<Value, ApiError> {
    let id = pi["id"].as_str().unwrap_or_default().to_string();
    let status = pi["status"].as_str().unwrap_or_default().to_string();
    if !CONFIRMABLE.contains(&status.as_str()) {
        return Err(ApiError::unexpected_state(
            "payment_intent_unexpected_state",
            format!("You cannot confirm this PaymentIntent because it has a status of {status}. Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_payment_method, requires_action."),
        )
        .embed("payment_intent", pi));
    }
    let Some(pm_id) = pi["payment_method"].as_str().map(str::to_string) else {
        return Err(ApiError::unexpected_state(
            "payment_intent_unexpected_state",
            "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
        )
        .embed("payment_intent", pi));
    };
    if state.bank_accounts.contains_key(&pm_id) {
        return sepa::start(state, call, pi, &pm_id);
    }
    let card = payment_methods::card_of(state, &pm_id)?;
    let was_waiting = status == "requires_action";
    let authenticated = was_waiting;
    if let Behaviour::Authenticate { setup_lifts_it, .. } = card.behaviour {
        let set_up = setup_lifts_it && state.off_session_ready.contains(&pm_id);
        if !authenticated && !set_up {
            if off_session {
                return fail(state, call, pi, Decline::AuthenticationRequired, &pm_id, None);
            }
            pi["status"] = json!("requires_action");
            pi["next_action"] = next_action(call, &id, return_url.as_deref());
            pi["last_payment_error"] = Value::Null;
            state.objects.replace(pi.clone());
            state.emit(call, "payment_intent.requires_action", &pi);
            return Ok(pi);
        }
    }
    let decline = charges::decline_for(&card, authenticated || state.off_session_ready.contains(&pm_id));
    let manual = pi["capture_method"] == "manual";
    let request = ChargeRequest {
        amount: pi["amount"].as_i64().unwrap_or(0),
        currency: pi["currency"].as_str().unwrap_or("usd").to_string(),
        customer: pi["customer"].as_str().map(str::to_string),
        payment_method: pm_id.clone(),
        source: None,
        capture: !manual,
        description: pi["description"].as_str().map(str::to_string),
        metadata: pi["metadata"].clone(),
        statement_descriptor: pi["statement_descriptor"].as_str().map(str::to_string),
        receipt_email: pi["receipt_email"].as_str().map(str::to_string),
        payment_intent: Some(id.clone()),
        invoice: pi["invoice"].as_str().map(str::to_string),
        application_fee_amount: pi["application_fee_amount"].as_i64(),
        destination: pi["transfer_data"]["destination"].as_str().map(str::to_string),
        transfer_group: pi["transfer_group"].as_str().map(str::to_string),
        on_behalf_of: pi["on_behalf_of"].as_str().map(str::to_string),
        billing_details: state
            .objects
            .get(call.owner(), &pm_id)
            .map(|pm| pm["billing_details"].clone())
            .unwrap_or(Value::Null),
    };
    match charges::charge(state, call, &request, &card, decline) {
        ChargeOutcome::Declined(charge, _) => {
            let decline = decline.unwrap_or(Decline::Generic);
            fail(state, call, pi, decline, &pm_id, charge["id"].as_str())
        }
        ChargeOutcome::Succeeded(charge) => {
            pi["latest_charge"] = charge["id"].clone();
            pi["next_action"] = Value::Null;
            pi["last_payment_error"] = Value::Null;
            if manual {
                pi["status"] = json!("requires_capture");
                pi["amount_capturable"] = pi["amount"].clone();
            } else {
                pi["status"] = json!("succeeded");
                pi["amount_received"] = pi["amount"].clone();
            }
            state.objects.replace(pi.clone());
            save_for_future_use(state, call, &pi, &pm_id)?;
            if manual {
                state.emit(call, "payment_intent.amount_capturable_updated", &pi);
            } else {
                state.emit(call, "payment_intent.succeeded", &pi);
                if let Some(invoice) = pi["invoice"].as_str() {
                    invoices::on_intent_succeeded(state, call, invoice, &pi)?;
                }
            }
            fetch(state, call, &id)
        }
    }
}

/// `setup_future_usage` (or off-session use) attaches the PaymentMethod to
/// the customer and lifts future 3-D Secure challenges for it.
fn save_for_future_use(state: &mut State, call: &Call, pi: &Value, pm_id: &str) -> Result<(), ApiError> {
    if pi["setup_future_usage"].is_null() {
        return Ok(());
    }
    state.off_session_ready.insert(pm_id.to_string());
    if let Some(customer) = pi["customer"].as_str() {
        if let Some(pm) = state.objects.get(call.owner(), pm_id).cloned() {
            if pm["object"] == "payment_method" && pm["customer"].is_null() {
                payment_methods::attach_to(state, call, &pm, customer)?;
            }
        }
    }
    Ok(())
}

fn next_action(call: &Call, id: &str, return_url: Option<&str>) -> Value {
    let page = format!("{}/authenticate/{id}", call.base_url);
    match return_url {
        Some(return_url) => json!({
            "type": "redirect_to_url",
            "redirect_to_url": {"return_url": return_url, "url": format!("{page}?return_url={}", url_encode(return_url))}
        }),
        None => json!({
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "stripe_js": page, "source": ids::new_id("src_")}
        }),
    }
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The PaymentIntent goes back to `requires_payment_method` with the error
/// in `last_payment_error`; the 402 embeds it, as Stripe does.
fn fail(
    state: &mut State,
    call: &Call,
    mut pi: Value,
    decline: Decline,
    pm_id: &str,
    charge: Option<&str>,
) -> Result<Value, ApiError> {
    let pm = state.objects.get(call.owner(), pm_id).cloned().unwrap_or(Value::Null);
    let mut error = decline.error().embed("payment_method", pm);
    if let Some(charge) = charge {
        error = error.embed("charge", json!(charge));
        pi["latest_charge"] = json!(charge);
    }
    pi["last_payment_error"] = error.to_body()["error"].clone();
    pi["status"] = json!("requires_payment_method");
    pi["payment_method"] = Value::Null;
    pi["next_action"] = Value::Null;
    state.objects.replace(pi.clone());
    state.emit(call, "payment_intent.payment_failed", &pi);
    if let Some(invoice) = pi["invoice"].as_str() {
        invoices::on_intent_failed(state, call, invoice, &pi)?;
    }
    Err(error.embed("payment_intent", pi))
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["client_secret"])?;
    let pi = fetch(state, call, call.path("id"))?;
    call.check_client_secret(&pi, "PaymentIntent")?;
    Ok(pi)
}

fn confirm_endpoint(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "payment_method",
        "payment_method_data",
        "confirmation_token",
        "payment_method_options",
        "payment_method_types",
        "off_session",
        "return_url",
        "receipt_email",
        "setup_future_usage",
        "capture_method",
        "shipping",
        "mandate_data",
        "error_on_requires_action",
        "use_stripe_sdk",
        "client_secret",
    ])?;
    let mut pi = fetch(state, call, call.path("id"))?;
    call.check_client_secret(&pi, "PaymentIntent")?;
    if call.key == KeyKind::Publishable {
        // Stripe.js may only say how to pay, not change the terms.
        for secret_only in ["capture_method", "off_session", "error_on_requires_action"] {
            if p.has(secret_only) {
                return Err(ApiError::invalid_param(
                    secret_only,
                    format!("{secret_only} can only be set with a secret key."),
                ));
            }
        }
    }
    let status = pi["status"].as_str().unwrap_or_default().to_string();
    let mut token_return_url = None;
    let new_method = p.has("payment_method") || p.has("payment_method_data") || p.has("confirmation_token");
    if new_method && CONFIRMABLE.contains(&status.as_str()) {
        if status == "requires_action" {
            // A new payment method starts the attempt over.
            pi["status"] = json!("requires_payment_method");
        }
        token_return_url = set_payment_method(state, call, &mut pi, p)?;
    }
    if p.has("setup_future_usage") {
        pi["setup_future_usage"] = json!(p.choice("setup_future_usage", &["on_session", "off_session"])?);
    }
    if p.has("receipt_email") {
        pi["receipt_email"] = json!(super::email(p, "receipt_email")?);
    }
    if let Some(method) = p.choice("capture_method", &["automatic", "automatic_async", "manual"])? {
        pi["capture_method"] = json!(method);
    }
    state.objects.replace(pi.clone());
    let return_url = p.str("return_url")?.or(token_return_url);
    confirm_intent(state, call, pi, off_session_flag(p)?, return_url)
}

/// The visitor's 3-D Secure answer (the Stripe.js mock and the hosted
/// authentication page): success completes the payment, failure returns
/// the PaymentIntent to `requires_payment_method`.
pub fn authenticate(state: &mut State, call: &Call, id: &str, success: bool) -> Result<Value, ApiError> {
    let mut pi = fetch(state, call, id)?;
    if pi["status"] != "requires_action" {
        return Err(ApiError::unexpected_state(
            "payment_intent_unexpected_state",
            format!(
                "This PaymentIntent has a status of {} and is not waiting for authentication.",
                pi["status"].as_str().unwrap_or("")
            ),
        ));
    }
    if success {
        return match confirm_intent(state, call, pi, false, None) {
            // A card declined after authentication: the intent carries the error.
            Err(e) if e.status == 402 => fetch(state, call, id),
            other => other,
        };
    }
    let pm = pi["payment_method"]
        .as_str()
        .and_then(|p| state.objects.get(call.owner(), p).cloned())
        .unwrap_or(Value::Null);
    let error = ApiError::card(
        "payment_intent_authentication_failure",
        "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
    )
    .embed("payment_method", pm);
    let mut body = error.to_body()["error"].clone();
    body["type"] = json!("invalid_request_error");
    pi["last_payment_error"] = body;
    pi["status"] = json!("requires_payment_method");
    pi["payment_method"] = Value::Null;
    pi["next_action"] = Value::Null;
    state.objects.replace(pi.clone());
    state.emit(call, "payment_intent.payment_failed", &pi);
    if let Some(invoice) = pi["invoice"].as_str() {
        invoices::on_intent_failed(state, call, invoice, &pi)?;
    }
    Ok(pi)
}

fn authenticate_endpoint(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["success", "client_secret"])?;
    let pi = fetch(state, call, call.path("id"))?;
    call.check_client_secret(&pi, "PaymentIntent")?;
    let success = call.params.bool("success")?.unwrap_or(false);
    authenticate(state, call, call.path("id"), success)
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "amount",
        "currency",
        "customer",
        "description",
        "metadata",
        "payment_method",
        "payment_method_data",
        "payment_method_types",
        "receipt_email",
        "setup_future_usage",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
        "application_fee_amount",
        "capture_method",
        "shipping",
    ])?;
    let id = call.path("id").to_string();
    let mut pi = fetch(state, call, &id)?;
    let status = pi["status"].as_str().unwrap_or_default().to_string();
    let changes_payment = [
        "amount",
        "currency",
        "customer",
        "payment_method",
        "payment_method_data",
        "capture_method",
        "application_fee_amount",
    ]
    .iter()
    .any(|k| p.has(k));
    if changes_payment && !CONFIRMABLE.contains(&status.as_str()) {
        return Err(ApiError::unexpected_state(
            "payment_intent_unexpected_state",
            format!("This PaymentIntent could not be updated because it has a status of {status}. You may only update the amount, currency, customer or payment method of a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation, requires_action."),
        ));
    }
    if let Some(amount) = p.int("amount")? {
        let currency =
            money::currency(p, "currency")?.unwrap_or_else(|| pi["currency"].as_str().unwrap_or("usd").to_string());
        money::check_charge_amount(amount, &currency, "amount")?;
        pi["amount"] = json!(amount);
    }
    if let Some(currency) = money::currency(p, "currency")? {
        money::check_charge_amount(pi["amount"].as_i64().unwrap_or(0), &currency, "amount")?;
        pi["currency"] = json!(currency);
    }
    if let Some(fee) = p.amount("application_fee_amount")? {
        pi["application_fee_amount"] = json!(fee);
    }
    if let Some(method) = p.choice("capture_method", &["automatic", "automatic_async", "manual"])? {
        pi["capture_method"] = json!(method);
    }
    apply_fields(state, call, &mut pi)?;
    if status == "requires_action" && (p.has("payment_method") || p.has("payment_method_data")) {
        pi["status"] = json!("requires_payment_method");
        pi["next_action"] = Value::Null;
    }
    set_payment_method(state, call, &mut pi, p)?;
    state.objects.replace(pi.clone());
    Ok(pi)
}

fn capture(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "amount_to_capture",
        "application_fee_amount",
        "final_capture",
        "metadata",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_data",
    ])?;
    let id = call.path("id").to_string();
    let mut pi = fetch(state, call, &id)?;
    if pi["status"] != "requires_capture" {
        return Err(ApiError::unexpected_state(
            "payment_intent_unexpected_state",
            format!("This PaymentIntent could not be captured because it has a status of {}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.", pi["status"].as_str().unwrap_or("")),
        )
        .embed("payment_intent", pi));
    }
    let capturable = pi["amount_capturable"].as_i64().unwrap_or(0);
    let amount = p.int("amount_to_capture")?.unwrap_or(capturable);
    if amount <= 0 || amount > capturable {
        return Err(ApiError::invalid(format!(
            "The amount_to_capture must be a positive integer no greater than the amount_capturable ({capturable})."
        ))
        .with_code("amount_too_large")
        .with_param("amount_to_capture"));
    }
    let charge_id = pi["latest_charge"].as_str().unwrap_or_default().to_string();
    if let Some(fee) = p.amount("application_fee_amount")? {
        pi["application_fee_amount"] = json!(fee);
        let mut charge = state
            .objects
            .fetch(call.owner(), "charge", "charge", &charge_id, "charge")?;
        charge["application_fee_amount"] = json!(fee);
        state.objects.replace(charge);
    }
    p.apply_metadata(&mut pi["metadata"])?;
    charges::capture(state, call, &charge_id, Some(amount))?;
    pi["status"] = json!("succeeded");
    pi["amount_received"] = json!(amount);
    pi["amount_capturable"] = json!(0);
    state.objects.replace(pi.clone());
    state.emit(call, "payment_intent.succeeded", &pi);
    if let Some(invoice) = pi["invoice"].as_str() {
        invoices::on_intent_succeeded(state, call, invoice, &pi)?;
    }
    Ok(pi)
}

fn cancel(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&["cancellation_reason"])?;
    let id = call.path("id").to_string();
    let mut pi = fetch(state, call, &id)?;
    let status = pi["status"].as_str().unwrap_or_default().to_string();
    if !CANCELABLE.contains(&status.as_str()) {
        return Err(ApiError::unexpected_state(
            "payment_intent_unexpected_state",
            format!("You cannot cancel this PaymentIntent because it has a status of {status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing."),
        )
        .embed("payment_intent", pi));
    }
    let reason = p.choice(
        "cancellation_reason",
        &["duplicate", "fraudulent", "requested_by_customer", "abandoned"],
    )?;
    if status == "requires_capture" {
        if let Some(charge_id) = pi["latest_charge"].as_str() {
            let charge = state
                .objects
                .fetch(call.owner(), "charge", "charge", charge_id, "charge")?;
            let amount = charge["amount"].as_i64().unwrap_or(0);
            refunds::release(state, call, &charge, amount)?;
        }
    }
    pi["status"] = json!("canceled");
    pi["canceled_at"] = json!(call.now);
    pi["cancellation_reason"] = json!(reason);
    pi["amount_capturable"] = json!(0);
    pi["next_action"] = Value::Null;
    state.objects.replace(pi.clone());
    state.emit(call, "payment_intent.canceled", &pi);
    Ok(pi)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("customer");
    call.params.allow(&allowed)?;
    let customer = call.params.str("customer")?;
    list_of(
        state,
        call,
        "payment_intent",
        "payment_intent",
        "/v1/payment_intents",
        |pi| super::matches_filter(pi, "customer", &customer),
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use serde_json::json;

    #[actix_web::test]
    async fn create_then_confirm_succeeds() {
        let app = TestApp::new().await;
        let pi = app
            .post(
                "/v1/payment_intents",
                "amount=1999&currency=usd&metadata[order]=A1&description=Mug&statement_descriptor=SHOP",
            )
            .await;
        assert_eq!(pi.status, 200, "{}", pi.body);
        let pi = pi.body;
        assert!(pi["id"].as_str().unwrap().starts_with("pi_"));
        assert_eq!(pi["status"], "requires_payment_method");
        assert!(pi["client_secret"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}_secret_", pi["id"].as_str().unwrap())));
        assert_eq!(pi["capture_method"], "automatic");
        let id = pi["id"].as_str().unwrap();
        let confirmed = app
            .post(
                &format!("/v1/payment_intents/{id}/confirm"),
                "payment_method=pm_card_visa",
            )
            .await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.body);
        let c = confirmed.body;
        assert_eq!(c["status"], "succeeded");
        assert_eq!(c["amount_received"], 1999);
        let charge = app
            .get(&format!("/v1/charges/{}", c["latest_charge"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(charge["payment_intent"], id);
        assert_eq!(charge["metadata"]["order"], "A1");
        assert_eq!(charge["statement_descriptor"], "SHOP");
        let types = app.event_types().await;
        assert_eq!(
            types,
            vec!["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]
        );
    }

    #[actix_web::test]
    async fn declined_confirm_embeds_the_intent() {
        let app = TestApp::new().await;
        for (pm, decline) in [
            ("pm_card_chargeDeclined", "generic_decline"),
            ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ] {
            let r = app
                .post(
                    "/v1/payment_intents",
                    &format!("amount=1000&currency=usd&payment_method={pm}&confirm=true"),
                )
                .await;
            assert_eq!(r.status, 402, "{}", r.body);
            let e = &r.body["error"];
            assert_eq!(e["type"], "card_error");
            assert_eq!(e["code"], "card_declined");
            assert_eq!(e["decline_code"], decline);
            assert_eq!(e["payment_intent"]["status"], "requires_payment_method");
            assert_eq!(e["payment_intent"]["last_payment_error"]["decline_code"], decline);
            assert!(e["charge"].as_str().unwrap().starts_with("ch_"));
            let stored = app
                .get(&format!(
                    "/v1/payment_intents/{}",
                    e["payment_intent"]["id"].as_str().unwrap()
                ))
                .await
                .body;
            assert_eq!(stored["status"], "requires_payment_method");
            assert_eq!(stored["payment_method"], json!(null));
            // The same intent can be retried with a good card.
            let retry = app
                .post(
                    &format!("/v1/payment_intents/{}/confirm", stored["id"].as_str().unwrap()),
                    "payment_method=pm_card_visa",
                )
                .await;
            assert_eq!(retry.body["status"], "succeeded");
        }
        assert!(app
            .event_types()
            .await
            .contains(&"payment_intent.payment_failed".to_string()));
    }

    #[actix_web::test]
    async fn raw_card_numbers_expired_and_cvc() {
        let app = TestApp::new().await;
        for (number, code) in [
            ("4000000000000069", "expired_card"),
            ("4000000000000127", "incorrect_cvc"),
        ] {
            let pm = app
                .post(
                    "/v1/payment_methods",
                    &format!("type=card&card[number]={number}&card[exp_month]=12&card[exp_year]=2040&card[cvc]=123"),
                )
                .await
                .body;
            let r = app
                .post(
                    "/v1/payment_intents",
                    &format!(
                        "amount=1000&currency=usd&payment_method={}&confirm=true",
                        pm["id"].as_str().unwrap()
                    ),
                )
                .await;
            assert_eq!(r.status, 402);
            assert_eq!(r.body["error"]["code"], code);
        }
    }

    #[actix_web::test]
    async fn three_d_secure_then_confirm_again() {
        let app = TestApp::new().await;
        let r = app
            .post(
                "/v1/payment_intents",
                "amount=1000&currency=eur&payment_method=pm_card_threeDSecure2Required&confirm=true",
            )
            .await
            .body;
        assert_eq!(r["status"], "requires_action");
        assert_eq!(r["next_action"]["type"], "use_stripe_sdk");
        assert!(r["client_secret"].is_string());
        let id = r["id"].as_str().unwrap();
        let done = app.post(&format!("/v1/payment_intents/{id}/confirm"), "").await.body;
        assert_eq!(done["status"], "succeeded");
        let types = app.event_types().await;
        assert!(types.contains(&"payment_intent.requires_action".to_string()));
        assert_eq!(types.last().unwrap(), "payment_intent.succeeded");
    }

    #[actix_web::test]
    async fn three_d_secure_with_return_url_and_off_session() {
        let app = TestApp::new().await;
        let r = app
            .post("/v1/payment_intents", "amount=1000&currency=usd&payment_method=pm_card_authenticationRequired&confirm=true&return_url=https%3A%2F%2Fshop.test%2Fdone")
            .await
            .body;
        assert_eq!(r["next_action"]["type"], "redirect_to_url");
        assert_eq!(
            r["next_action"]["redirect_to_url"]["return_url"],
            "https://shop.test/done"
        );
        let off = app
            .post(
                "/v1/payment_intents",
                "amount=1000&currency=usd&payment_method=pm_card_authenticationRequired&confirm=true&off_session=true",
            )
            .await;
        assert_eq!(off.status, 402);
        assert_eq!(off.body["error"]["code"], "authentication_required");
    }

    #[actix_web::test]
    async fn stripe_js_confirms_with_client_secret_and_authenticates() {
        let app = TestApp::new().await;
        let pi = app.post("/v1/payment_intents", "amount=1000&currency=usd").await.body;
        let id = pi["id"].as_str().unwrap();
        let secret = pi["client_secret"].as_str().unwrap();
        let no_secret = app
            .post_with_key(
                &format!("/v1/payment_intents/{id}/confirm"),
                "payment_method=pm_card_threeDSecure2Required",
                "pk_test_sandbox",
            )
            .await;
        assert_eq!(no_secret.status, 400);
        let wrong = app
            .post_with_key(
                &format!("/v1/payment_intents/{id}/confirm"),
                "payment_method=pm_card_visa&client_secret=pi_x_secret_y",
                "pk_test_sandbox",
            )
            .await;
        assert_eq!(wrong.status, 400);
        let waiting = app
            .post_with_key(
                &format!("/v1/payment_intents/{id}/confirm"),
                &format!("payment_method=pm_card_threeDSecure2Required&client_secret={secret}"),
                "pk_test_sandbox",
            )
            .await;
        assert_eq!(waiting.body["status"], "requires_action");
        let failed = app
            .post_with_key(
                &format!("/v1/payment_intents/{id}/_authenticate?success=false"),
                &format!("client_secret={secret}"),
                "pk_test_sandbox",
            )
            .await;
        assert_eq!(failed.body["status"], "requires_payment_method");
        assert_eq!(
            failed.body["last_payment_error"]["code"],
            "payment_intent_authentication_failure"
        );
        app.post_with_key(
            &format!("/v1/payment_intents/{id}/confirm"),
            &format!("payment_method=pm_card_threeDSecure2Required&client_secret={secret}"),
            "pk_test_sandbox",
        )
        .await;
        let ok = app
            .post_with_key(
                &format!("/v1/payment_intents/{id}/_authenticate?success=true"),
                &format!("client_secret={secret}"),
                "pk_test_sandbox",
            )
            .await;
        assert_eq!(ok.body["status"], "succeeded");
        let read = app
            .get_with_key(
                &format!("/v1/payment_intents/{id}?client_secret={secret}"),
                "pk_test_sandbox",
            )
            .await;
        assert_eq!(read.status, 200);
        let update = app
            .post_with_key(&format!("/v1/payment_intents/{id}"), "description=x", "pk_test_sandbox")
            .await;
        assert_eq!(update.status, 401);
    }

    #[actix_web::test]
    async fn manual_capture_partial_and_cancel() {
        let app = TestApp::new().await;
        let pi = app
            .post(
                "/v1/payment_intents",
                "amount=5000&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual",
            )
            .await
            .body;
        assert_eq!(pi["status"], "requires_capture");
        assert_eq!(pi["amount_capturable"], 5000);
        let id = pi["id"].as_str().unwrap();
        let too_much = app
            .post(&format!("/v1/payment_intents/{id}/capture"), "amount_to_capture=6000")
            .await;
        assert_eq!(too_much.status, 400);
        let captured = app
            .post(&format!("/v1/payment_intents/{id}/capture"), "amount_to_capture=3000")
            .await
            .body;
        assert_eq!(captured["status"], "succeeded");
        assert_eq!(captured["amount_received"], 3000);
        let twice = app.post(&format!("/v1/payment_intents/{id}/capture"), "").await;
        assert_eq!(twice.body["error"]["code"], "payment_intent_unexpected_state");
        let cant_cancel = app.post(&format!("/v1/payment_intents/{id}/cancel"), "").await;
        assert_eq!(cant_cancel.status, 400);

        let held = app
            .post(
                "/v1/payment_intents",
                "amount=5000&currency=usd&payment_method=pm_card_visa&confirm=true&capture_method=manual",
            )
            .await
            .body;
        let canceled = app
            .post(
                &format!("/v1/payment_intents/{}/cancel", held["id"].as_str().unwrap()),
                "cancellation_reason=requested_by_customer",
            )
            .await
            .body;
        assert_eq!(canceled["status"], "canceled");
        assert_eq!(canceled["cancellation_reason"], "requested_by_customer");
        let charge = app
            .get(&format!("/v1/charges/{}", held["latest_charge"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(charge["refunded"], true);
        let types = app.event_types().await;
        assert!(types.contains(&"payment_intent.amount_capturable_updated".to_string()));
        assert!(types.contains(&"payment_intent.canceled".to_string()));
    }

    #[actix_web::test]
    async fn older_api_versions_see_the_charges_list() {
        let app = TestApp::new().await;
        let pi = app
            .post(
                "/v1/payment_intents",
                "amount=1000&currency=usd&payment_method=pm_card_visa&confirm=true",
            )
            .await;
        assert_eq!(pi.body["charges"]["object"], "list");
        assert_eq!(pi.body["charges"]["data"][0]["id"], pi.body["latest_charge"]);
        let declined = app
            .post(
                "/v1/payment_intents",
                "amount=1000&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true",
            )
            .await;
        assert_eq!(
            declined.body["error"]["payment_intent"]["charges"]["data"][0]["status"], "failed",
            "{}",
            declined.body
        );
        let event = app.get("/v1/events?type=payment_intent.succeeded").await.body;
        assert_eq!(event["data"][0]["data"]["object"]["charges"]["total_count"], 1);
        let versioned = app
            .send(
                actix_web::test::TestRequest::get()
                    .uri("/v1/payment_intents")
                    .insert_header((
                        "Authorization",
                        format!("Bearer {}", super::super::super::test_support::SECRET_KEY),
                    ))
                    .insert_header(("Stripe-Version", "2020-08-27")),
            )
            .await;
        assert_eq!(versioned.headers.get("Stripe-Version").unwrap(), "2020-08-27");
    }

    #[actix_web::test]
    async fn update_rules_and_validation() {
        let app = TestApp::new().await;
        let pi = app.post("/v1/payment_intents", "amount=1000&currency=usd").await.body;
        let id = pi["id"].as_str().unwrap();
        let updated = app
            .post(
                &format!("/v1/payment_intents/{id}"),
                "amount=1500&metadata[k]=v&payment_method=pm_card_visa",
            )
            .await
            .body;
        assert_eq!(updated["amount"], 1500);
        assert_eq!(updated["status"], "requires_confirmation");
        app.post(&format!("/v1/payment_intents/{id}/confirm"), "").await;
        let late = app.post(&format!("/v1/payment_intents/{id}"), "amount=10").await;
        assert_eq!(late.status, 400);
        let meta = app
            .post(&format!("/v1/payment_intents/{id}"), "metadata[after]=yes")
            .await;
        assert_eq!(meta.status, 200);
        assert_eq!(
            app.post("/v1/payment_intents", "currency=usd").await.body["error"]["param"],
            "amount"
        );
        assert_eq!(
            app.post("/v1/payment_intents", "amount=1000&currency=usd&capture_method=later")
                .await
                .status,
            400
        );
        assert_eq!(
            app.post("/v1/payment_intents", "amount=1000&currency=usd&customer=cus_nope")
                .await
                .status,
            404
        );
        let no_pm = app
            .post("/v1/payment_intents", "amount=1000&currency=usd&confirm=true")
            .await;
        assert_eq!(no_pm.body["error"]["code"], "payment_intent_unexpected_state");
        // The rejected create stored nothing.
        let all = app.get("/v1/payment_intents").await.body;
        assert_eq!(all["data"].as_array().unwrap().len(), 1);
    }

    #[actix_web::test]
    async fn connect_fields_setup_future_usage_and_list() {
        let app = TestApp::new().await;
        let acct = app.enabled_account().await;
        let customer = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let pi = app
            .post(
                "/v1/payment_intents",
                &format!("amount=3000&currency=usd&customer={customer}&payment_method=pm_card_visa&confirm=true&application_fee_amount=300&transfer_data[destination]={acct}&transfer_group=ORDER7&setup_future_usage=off_session"),
            )
            .await;
        assert_eq!(pi.status, 200, "{}", pi.body);
        let charge = app
            .get(&format!("/v1/charges/{}", pi.body["latest_charge"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(charge["transfer_group"], "ORDER7");
        let transfer = app
            .get(&format!("/v1/transfers/{}", charge["transfer"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(transfer["amount"], 2700);
        let pms = app.get(&format!("/v1/customers/{customer}/payment_methods")).await.body;
        assert_eq!(pms["data"][0]["id"], pi.body["payment_method"]);
        let mine = app
            .get(&format!(
                "/v1/payment_intents?customer={customer}&expand[]=data.customer"
            ))
            .await
            .body;
        assert_eq!(mine["data"][0]["customer"]["id"], customer.as_str());
        let expanded = app
            .get(&format!(
                "/v1/payment_intents/{}?expand[]=latest_charge",
                pi.body["id"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(expanded["latest_charge"]["object"], "charge");
    }
}
