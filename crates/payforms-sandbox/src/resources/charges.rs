//! Charges: the Charges API (create with a `tok_`, `card_` or a customer's
//! default source; capture; update; list) and the one place where a card is
//! actually charged — PaymentIntents and invoices come through `charge`.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::cards::{Behaviour, Card, Decline};
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::{self, LIST_PARAMS};
use super::super::money;
use super::super::state::State;
use super::balance::{self, Movement};
use super::{customers, list_of, payment_methods, refunds, tokens, transfers, update_field};

pub const ROUTES: &[ApiRoute] = &[
    post("/charges", create),
    get("/charges", list),
    get("/charges/{id}", retrieve),
    post("/charges/{id}", update),
    post("/charges/{id}/capture", capture_endpoint),
];

/// Everything needed to charge a card once.
#[derive(Debug, Clone, Default)]
pub struct ChargeRequest {
    pub amount: i64,
    pub currency: String,
    pub customer: Option<String>,
    /// The `pm_` or `card_` charged.
    pub payment_method: String,
    /// The card object for Charges API charges (`source`), else `None`.
    pub source: Option<Value>,
    pub capture: bool,
    pub description: Option<String>,
    pub metadata: Value,
    pub statement_descriptor: Option<String>,
    pub receipt_email: Option<String>,
    pub payment_intent: Option<String>,
    pub invoice: Option<String>,
    pub application_fee_amount: Option<i64>,
    pub destination: Option<String>,
    pub transfer_group: Option<String>,
    pub on_behalf_of: Option<String>,
    pub billing_details: Value,
}

/// Which decline, if any, charging this card gives (3-D Secure having been
/// handled by the caller: `authenticated` says it was completed).
pub fn decline_for(card: &Card, authenticated: bool) -> Option<Decline> {
    match card.behaviour {
        Behaviour::Succeed => None,
        Behaviour::Decline(d) | Behaviour::DeclineOnCharge(d) => Some(d),
        Behaviour::Authenticate { after, .. } if authenticated => after,
        Behaviour::Authenticate { .. } => Some(Decline::AuthenticationRequired),
    }
}

/// What charging a card gave: either way a charge is stored.
pub enum ChargeOutcome {
    Succeeded(Value),
    /// The failed charge and the card error (which names the charge).
    Declined(Value, ApiError),
}

/// Charge a card. On success the charge is stored (`charge.succeeded`),
/// money moves if captured, destination transfers and application fees
/// are made. On decline a failed charge is stored (`charge.failed`).
pub fn charge(
    state: &mut State,
    call: &Call,
    request: &ChargeRequest,
    card: &Card,
    decline: Option<Decline>,
) -> ChargeOutcome {
    let id = ids::new_id("ch_");
    let mut charge = json!({
        "id": id,
        "object": "charge",
        "amount": request.amount,
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": request.application_fee_amount,
        "balance_transaction": null,
        "billing_details": request.billing_details,
        "calculated_statement_descriptor": request.statement_descriptor.clone().unwrap_or_else(|| "PAYFORMS SANDBOX".to_string()),
        "captured": false,
        "created": call.now,
        "currency": request.currency,
        "customer": request.customer,
        "description": request.description,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "fraud_details": {}
    });
    // Two halves: one json! this large exceeds the macro's recursion limit.
    super::extend(
        &mut charge,
        json!({
            "invoice": request.invoice,
            "livemode": false,
            "metadata": request.metadata,
            "on_behalf_of": request.on_behalf_of,
            "outcome": null,
            "paid": false,
            "payment_intent": request.payment_intent,
            "payment_method": request.payment_method,
            "payment_method_details": card.payment_method_details(),
            "receipt_email": request.receipt_email,
            "receipt_number": null,
            "receipt_url": null,
            "refunded": false,
            "refunds": list::envelope(Vec::new(), false, &format!("/v1/charges/{id}/refunds")),
            "review": null,
            "shipping": null,
            "source": request.source,
            "source_transfer": null,
            "statement_descriptor": request.statement_descriptor,
            "statement_descriptor_suffix": null,
            "status": "succeeded",
            "transfer": null,
            "transfer_data": request.destination.as_ref().map(|d| json!({"amount": null, "destination": d})),
            "transfer_group": request.transfer_group
        }),
    );
    if let Some(decline) = decline {
        let error = decline.error();
        charge["status"] = json!("failed");
        charge["failure_code"] = json!(error.code);
        charge["failure_message"] = json!(error.message);
        charge["outcome"] = json!({
            "network_status": "declined_by_network",
            "reason": decline.decline_code(),
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined"
        });
        state.objects.insert(call.owner(), charge.clone());
        state.emit(call, "charge.failed", &charge);
        return ChargeOutcome::Declined(charge, error.embed("charge", json!(id)));
    }
    charge["paid"] = json!(true);
    charge["outcome"] = json!({
        "network_status": "approved_by_network",
        "reason": null,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "Payment complete.",
        "type": "authorized"
    });
    state.objects.insert(call.owner(), charge.clone());
    if request.capture {
        settle(state, call, &mut charge, request.amount);
    }
    state.emit(call, "charge.succeeded", &charge);
    ChargeOutcome::Succeeded(charge)
}

/// Capture `amount` of a charge: the balance transaction, destination
/// transfer and application fee. Stores the charge.
fn settle(state: &mut State, call: &Call, charge: &mut Value, amount: i64) {
    let id = charge["id"].as_str().unwrap_or_default().to_string();
    let currency = charge["currency"].as_str().unwrap_or("usd").to_string();
    let txn = balance::record(
        state,
        call,
        call.owner(),
        Movement {
            kind: "charge",
            reporting_category: "charge",
            amount,
            currency: &currency,
            fee: money::processing_fee(amount, &currency),
            source: &id,
            description: charge["description"].as_str(),
        },
    );
    charge["captured"] = json!(true);
    charge["amount_captured"] = json!(amount);
    charge["balance_transaction"] = json!(txn);
    let fee_amount = charge["application_fee_amount"].as_i64().unwrap_or(0);
    if let Some(destination) = charge["transfer_data"]["destination"].as_str().map(str::to_string) {
        let transfer = transfers::make(
            state,
            call,
            &transfers::NewTransfer {
                amount: (amount - fee_amount).max(0),
                currency: currency.clone(),
                destination,
                description: None,
                metadata: json!({}),
                transfer_group: charge["transfer_group"].as_str().map(str::to_string),
                source_transaction: Some(id.clone()),
            },
        );
        charge["transfer"] = transfer["id"].clone();
        if fee_amount > 0 {
            let fee_id = ids::new_id("fee_");
            let fee = json!({
                "id": fee_id,
                "object": "application_fee",
                "account": transfer["destination"],
                "amount": fee_amount,
                "amount_refunded": 0,
                "application": null,
                "balance_transaction": null,
                "charge": id,
                "created": call.now,
                "currency": currency,
                "livemode": false,
                "originating_transaction": null,
                "refunded": false,
                "refunds": list::envelope(Vec::new(), false, &format!("/v1/application_fees/{fee_id}/refunds"))
            });
            state.objects.insert(call.owner(), fee);
            charge["application_fee"] = json!(fee_id);
        }
    }
    state.objects.replace(charge.clone());
}

/// Capture an authorised charge (all or `amount`); the rest is released
/// as a refund, as Stripe does. Emits `charge.captured`.
pub fn capture(state: &mut State, call: &Call, charge_id: &str, amount: Option<i64>) -> Result<Value, ApiError> {
    let before = state
        .objects
        .fetch(call.owner(), "charge", "charge", charge_id, "charge")?;
    if before["captured"] == true {
        return Err(
            ApiError::invalid(format!("Charge {charge_id} has already been captured."))
                .with_code("charge_already_captured"),
        );
    }
    if before["refunded"] == true || before["status"] != "succeeded" {
        return Err(ApiError::invalid(format!(
            "Charge {charge_id} cannot be captured: it was refunded or failed."
        ))
        .with_code("charge_not_capturable"));
    }
    let authorised = before["amount"].as_i64().unwrap_or(0);
    let amount = amount.unwrap_or(authorised);
    if amount > authorised || amount <= 0 {
        return Err(ApiError::invalid(format!(
            "The amount to capture must be a positive integer no greater than the authorized amount ({authorised})."
        ))
        .with_code("amount_too_large")
        .with_param("amount"));
    }
    let mut charge = before.clone();
    settle(state, call, &mut charge, amount);
    if amount < authorised {
        refunds::release(state, call, &charge, authorised - amount)?;
        charge = state
            .objects
            .fetch(call.owner(), "charge", "charge", charge_id, "charge")?;
    }
    state.emit_update(call, "charge.captured", &before, &charge);
    Ok(charge)
}

/// Card, card id and card JSON for a Charges API `source`.
fn resolve_source(
    state: &mut State,
    call: &Call,
    source: &str,
    customer: Option<&str>,
) -> Result<(String, Card, Value), ApiError> {
    if source.starts_with("tok_") {
        let (_, _, card_json) = tokens::peek(state, call, source, "source")?;
        let (card_id, card) = tokens::consume(state, call, source, "source")?;
        let mut card_json = card_json;
        card_json["id"] = json!(card_id);
        return Ok((card_id, card, card_json));
    }
    let card = state.cards.get(source).cloned();
    let stored = state.objects.get(call.owner(), source).cloned();
    match (card, stored) {
        (Some(card), Some(json)) if json["object"] == "card" => {
            if let (Some(owner), Some(customer)) = (json["customer"].as_str(), customer) {
                if owner != customer {
                    return Err(ApiError::no_such("source", source, "source"));
                }
            }
            Ok((source.to_string(), card.clone(), json))
        }
        // The card of a token that was never attached (Stripe lets you charge it).
        (Some(card), None) if source.starts_with("card_") => {
            let json = card.source_json(source, None, None);
            Ok((source.to_string(), card, json))
        }
        _ => Err(ApiError::no_such("source", source, "source")),
    }
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "amount",
        "currency",
        "customer",
        "source",
        "capture",
        "description",
        "metadata",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "receipt_email",
        "application_fee_amount",
        "application_fee",
        "destination",
        "transfer_data",
        "transfer_group",
        "on_behalf_of",
        "shipping",
    ])?;
    let amount = p.required_int("amount")?;
    let currency = money::required_currency(p, "currency")?;
    money::check_charge_amount(amount, &currency, "amount")?;
    let customer = p.str("customer")?;
    let customer_obj = match &customer {
        Some(c) => Some(customers::fetch(state, call, c, "customer")?),
        None => None,
    };
    let source_id = match (p.str("source")?, &customer_obj) {
        (Some(s), _) => s,
        (None, Some(c)) => c["default_source"].as_str().map(str::to_string).ok_or_else(|| {
            ApiError::card("missing", "Cannot charge a customer that has no active card").with_param("card")
        })?,
        (None, None) => {
            return Err(ApiError::invalid("Must provide source or customer.")
                .with_code("parameter_missing")
                .with_param("source"))
        }
    };
    let application_fee_amount = p.amount("application_fee_amount")?.or(p.amount("application_fee")?);
    let destination = destination_param(state, call)?;
    if let Some(fee) = application_fee_amount {
        if fee > amount {
            return Err(ApiError::invalid_param(
                "application_fee_amount",
                "The application fee cannot exceed the charge amount.",
            ));
        }
    }
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    let receipt_email = super::email(p, "receipt_email")?;
    let (card_id, card, source_json) = resolve_source(state, call, &source_id, customer.as_deref())?;
    let request = ChargeRequest {
        amount,
        currency,
        customer,
        payment_method: card_id,
        source: Some(source_json),
        capture: p.bool("capture")?.unwrap_or(true),
        description: p.str("description")?,
        metadata,
        statement_descriptor: p.str("statement_descriptor")?,
        receipt_email,
        application_fee_amount,
        destination,
        transfer_group: p.str("transfer_group")?,
        on_behalf_of: p.str("on_behalf_of")?,
        billing_details: payment_methods::billing_details(None)?,
        ..ChargeRequest::default()
    };
    // The Charges API cannot do 3-D Secure: such cards are declined.
    let decline = decline_for(&card, false);
    match charge(state, call, &request, &card, decline) {
        ChargeOutcome::Succeeded(charge) => Ok(charge),
        ChargeOutcome::Declined(_, error) => Err(error),
    }
}

/// `transfer_data[destination]` (or the legacy `destination`): a connected account.
pub fn destination_param(state: &State, call: &Call) -> Result<Option<String>, ApiError> {
    let p = &call.params;
    let (account, param) = if let Some(data) = p.hash("transfer_data")? {
        data.allow(&["destination", "amount"])?;
        (Some(data.required_str("destination")?), "transfer_data[destination]")
    } else if let Some(legacy) = p.hash("destination")? {
        legacy.allow(&["account", "amount"])?;
        (Some(legacy.required_str("account")?), "destination[account]")
    } else {
        (p.str("destination")?, "destination")
    };
    if let Some(account) = &account {
        transfers::connected_account(state, account, param)?;
    }
    Ok(account)
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "charge", "charge", call.path("id"), "id")
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "description",
        "metadata",
        "receipt_email",
        "shipping",
        "fraud_details",
        "transfer_group",
    ])?;
    let id = call.path("id").to_string();
    let before = state.objects.fetch(call.owner(), "charge", "charge", &id, "id")?;
    let mut charge = before.clone();
    update_field(p, &mut charge, "description")?;
    update_field(p, &mut charge, "transfer_group")?;
    if p.has("receipt_email") {
        charge["receipt_email"] = json!(super::email(p, "receipt_email")?);
    }
    super::update_hash(p, &mut charge, "shipping")?;
    if let Some(fraud) = p.plain_hash("fraud_details")? {
        charge["fraud_details"] = fraud;
    }
    p.apply_metadata(&mut charge["metadata"])?;
    state.objects.replace(charge.clone());
    if charge != before {
        state.emit_update(call, "charge.updated", &before, &charge);
    }
    Ok(charge)
}

fn capture_endpoint(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "amount",
        "application_fee_amount",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_data",
        "transfer_group",
    ])?;
    let id = call.path("id").to_string();
    let charge = state.objects.fetch(call.owner(), "charge", "charge", &id, "id")?;
    if charge["payment_intent"].is_string() {
        return Err(ApiError::invalid(
            "This charge belongs to a PaymentIntent: capture the PaymentIntent instead (POST /v1/payment_intents/{id}/capture).",
        )
        .with_code("charge_not_capturable"));
    }
    if let Some(fee) = p.amount("application_fee_amount")? {
        let mut with_fee = charge;
        with_fee["application_fee_amount"] = json!(fee);
        state.objects.replace(with_fee);
    }
    capture(state, call, &id, p.amount("amount")?)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["customer", "payment_intent", "transfer_group"]);
    let p = &call.params;
    p.allow(&allowed)?;
    let (customer, payment_intent, group) = (p.str("customer")?, p.str("payment_intent")?, p.str("transfer_group")?);
    list_of(state, call, "charge", "charge", "/v1/charges", |c| {
        super::matches_filter(c, "customer", &customer)
            && super::matches_filter(c, "payment_intent", &payment_intent)
            && super::matches_filter(c, "transfer_group", &group)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use serde_json::json;

    #[actix_web::test]
    async fn charge_a_token_and_retrieve() {
        let app = TestApp::new().await;
        let charge = app
            .post(
                "/v1/charges",
                "amount=2000&currency=usd&source=tok_visa&description=Order+%E2%84%9642&metadata[order]=42",
            )
            .await;
        assert_eq!(charge.status, 200, "{}", charge.body);
        let c = &charge.body;
        assert!(c["id"].as_str().unwrap().starts_with("ch_"));
        assert_eq!(c["status"], "succeeded");
        assert_eq!(c["paid"], true);
        assert_eq!(c["captured"], true);
        assert_eq!(c["amount_captured"], 2000);
        assert_eq!(c["description"], "Order №42");
        assert_eq!(c["source"]["object"], "card");
        assert_eq!(c["payment_method_details"]["card"]["last4"], "4242");
        assert_eq!(c["outcome"]["type"], "authorized");
        let got = app.get(&format!("/v1/charges/{}", c["id"].as_str().unwrap())).await;
        assert_eq!(&got.body, c);
    }

    #[actix_web::test]
    async fn declines_are_402_card_errors_with_the_failed_charge() {
        let app = TestApp::new().await;
        for (token, code, decline) in [
            ("tok_chargeDeclined", "card_declined", "generic_decline"),
            (
                "tok_chargeDeclinedInsufficientFunds",
                "card_declined",
                "insufficient_funds",
            ),
            ("tok_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
            ("tok_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc"),
            ("tok_chargeCustomerFail", "card_declined", "generic_decline"),
        ] {
            let r = app
                .post("/v1/charges", &format!("amount=700&currency=eur&source={token}"))
                .await;
            assert_eq!(r.status, 402, "{token}");
            assert_eq!(r.body["error"]["type"], "card_error");
            assert_eq!(r.body["error"]["code"], code);
            assert_eq!(r.body["error"]["decline_code"], decline);
            let failed = app
                .get(&format!("/v1/charges/{}", r.body["error"]["charge"].as_str().unwrap()))
                .await
                .body;
            assert_eq!(failed["status"], "failed");
            assert_eq!(failed["failure_code"], code);
            assert_eq!(failed["balance_transaction"], json!(null));
        }
        assert!(app.event_types().await.iter().all(|t| t == "charge.failed"));
    }

    #[actix_web::test]
    async fn charge_a_customer_default_source_or_card_id() {
        let app = TestApp::new().await;
        let nocard = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .post("/v1/charges", &format!("amount=500&currency=usd&customer={nocard}"))
            .await;
        assert_eq!(r.status, 402);
        assert_eq!(r.body["error"]["code"], "missing");
        let c = app.post("/v1/customers", "source=tok_mastercard").await.body;
        let r = app
            .post(
                "/v1/charges",
                &format!("amount=500&currency=usd&customer={}", c["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["customer"], c["id"]);
        assert_eq!(r.body["source"]["id"], c["default_source"]);
        // A token's card id is chargeable too.
        let t = app
            .post(
                "/v1/tokens",
                "card[number]=4242424242424242&card[exp_month]=1&card[exp_year]=2040",
            )
            .await
            .body;
        let r = app
            .post(
                "/v1/charges",
                &format!("amount=500&currency=usd&source={}", t["card"]["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let none = app.post("/v1/charges", "amount=500&currency=usd").await;
        assert_eq!(none.status, 400);
    }

    #[actix_web::test]
    async fn authorise_then_capture_partially() {
        let app = TestApp::new().await;
        let c = app
            .post("/v1/charges", "amount=1000&currency=usd&source=tok_visa&capture=false")
            .await
            .body;
        assert_eq!(c["captured"], false);
        assert_eq!(c["balance_transaction"], json!(null));
        let id = c["id"].as_str().unwrap();
        let too_much = app.post(&format!("/v1/charges/{id}/capture"), "amount=2000").await;
        assert_eq!(too_much.status, 400);
        let captured = app.post(&format!("/v1/charges/{id}/capture"), "amount=600").await.body;
        assert_eq!(captured["captured"], true);
        assert_eq!(captured["amount_captured"], 600);
        assert_eq!(captured["amount_refunded"], 400);
        assert_eq!(captured["refunds"]["data"].as_array().unwrap().len(), 1);
        assert!(captured["balance_transaction"].is_string());
        let again = app.post(&format!("/v1/charges/{id}/capture"), "").await;
        assert_eq!(again.status, 400);
        assert!(app.event_types().await.contains(&"charge.captured".to_string()));
    }

    #[actix_web::test]
    async fn validation_and_list_filters() {
        let app = TestApp::new().await;
        let small = app.post("/v1/charges", "amount=10&currency=usd&source=tok_visa").await;
        assert_eq!(small.body["error"]["code"], "amount_too_small");
        let bad_amount = app.post("/v1/charges", "amount=ten&currency=usd&source=tok_visa").await;
        assert_eq!(bad_amount.body["error"]["param"], "amount");
        let no_currency = app.post("/v1/charges", "amount=1000&source=tok_visa").await;
        assert_eq!(
            no_currency.body["error"]["message"],
            "Missing required param: currency."
        );
        let c = app.post("/v1/customers", "source=tok_visa").await.body;
        let cid = c["id"].as_str().unwrap();
        app.post("/v1/charges", &format!("amount=1000&currency=usd&customer={cid}"))
            .await;
        app.post("/v1/charges", "amount=1000&currency=usd&source=tok_visa")
            .await;
        let mine = app.get(&format!("/v1/charges?customer={cid}")).await.body;
        assert_eq!(mine["data"].as_array().unwrap().len(), 1);
        let all = app.get("/v1/charges").await.body;
        assert_eq!(all["data"].as_array().unwrap().len(), 2);
        let updated = app
            .post(
                &format!("/v1/charges/{}", mine["data"][0]["id"].as_str().unwrap()),
                "metadata[a]=b",
            )
            .await
            .body;
        assert_eq!(updated["metadata"]["a"], "b");
    }

    #[actix_web::test]
    async fn destination_charge_transfers_minus_the_fee() {
        let app = TestApp::new().await;
        let acct = app.enabled_account().await;
        let c = app
            .post("/v1/charges", &format!("amount=1000&currency=usd&source=tok_visa&application_fee_amount=100&transfer_data[destination]={acct}"))
            .await;
        assert_eq!(c.status, 200, "{}", c.body);
        let transfer = app
            .get(&format!("/v1/transfers/{}", c.body["transfer"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(transfer["amount"], 900);
        assert_eq!(transfer["destination"], acct.as_str());
        assert!(c.body["application_fee"].as_str().unwrap().starts_with("fee_"));
        let missing = app
            .post(
                "/v1/charges",
                "amount=1000&currency=usd&source=tok_visa&transfer_data[destination]=acct_nope",
            )
            .await;
        assert_eq!(missing.status, 404);
    }
}
