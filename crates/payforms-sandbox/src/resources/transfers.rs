//! Transfers to connected accounts (create, retrieve, update, list) and
//! their reversals. The destination must be a connected account whose
//! `transfers` capability is active (as Stripe requires); the platform's
//! available balance is not checked (test mode lets it go negative).

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::{self, LIST_PARAMS};
use super::super::money;
use super::super::state::State;
use super::balance::{self, Movement};
use super::{list_of, matches_filter};

pub const ROUTES: &[ApiRoute] = &[
    post("/transfers", create),
    get("/transfers", list),
    get("/transfers/{id}", retrieve),
    post("/transfers/{id}", update),
    post("/transfers/{id}/reversals", create_reversal),
    get("/transfers/{id}/reversals", list_reversals),
];

/// A connected account of the platform, able to receive transfers.
pub fn connected_account(state: &State, id: &str, param: &str) -> Result<Value, ApiError> {
    let account = match state.objects.get(None, id) {
        Some(a) if a["object"] == "account" => a.clone(),
        _ => return Err(ApiError::no_such("destination", id, param)),
    };
    if account["capabilities"]["transfers"] != "active" {
        return Err(ApiError::invalid(
            "Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments",
        )
        .with_code("insufficient_capabilities_for_transfer")
        .with_param(param));
    }
    Ok(account)
}

pub struct NewTransfer {
    pub amount: i64,
    pub currency: String,
    pub destination: String,
    pub description: Option<String>,
    pub metadata: Value,
    pub transfer_group: Option<String>,
    pub source_transaction: Option<String>,
}

/// Move money to a connected account: the transfer on the platform, a
/// payment (`py_`) on the destination, both balances (`transfer.created`).
pub fn make(state: &mut State, call: &Call, new: &NewTransfer) -> Value {
    let id = ids::new_id("tr_");
    let payment_id = ids::new_id("py_");
    let txn = balance::record(
        state,
        call,
        call.owner(),
        Movement {
            kind: "transfer",
            reporting_category: "transfer",
            amount: -new.amount,
            currency: &new.currency,
            fee: 0,
            source: &id,
            description: new.description.as_deref(),
        },
    );
    let payment_txn = balance::record(
        state,
        call,
        Some(&new.destination),
        Movement {
            kind: "payment",
            reporting_category: "charge",
            amount: new.amount,
            currency: &new.currency,
            fee: 0,
            source: &payment_id,
            description: None,
        },
    );
    let payment = json!({
        "id": payment_id,
        "object": "charge",
        "amount": new.amount,
        "amount_captured": new.amount,
        "amount_refunded": 0,
        "balance_transaction": payment_txn,
        "captured": true,
        "created": call.now,
        "currency": new.currency,
        "livemode": false,
        "metadata": {},
        "paid": true,
        "refunded": false,
        "source_transfer": id,
        "status": "succeeded"
    });
    state.objects.insert(Some(&new.destination), payment);
    let transfer = json!({
        "id": id,
        "object": "transfer",
        "amount": new.amount,
        "amount_reversed": 0,
        "balance_transaction": txn,
        "created": call.now,
        "currency": new.currency,
        "description": new.description,
        "destination": new.destination,
        "destination_payment": payment_id,
        "livemode": false,
        "metadata": new.metadata,
        "reversals": list::envelope(Vec::new(), false, &format!("/v1/transfers/{id}/reversals")),
        "reversed": false,
        "source_transaction": new.source_transaction,
        "source_type": "card",
        "transfer_group": new.transfer_group
    });
    state.objects.insert(call.owner(), transfer.clone());
    state.emit(call, "transfer.created", &transfer);
    transfer
}

/// Reverse part of a transfer (`trr_`): money comes back from the destination.
pub fn reverse(state: &mut State, call: &Call, transfer_id: &str, amount: i64) -> Result<Value, ApiError> {
    let before = state
        .objects
        .fetch(call.owner(), "transfer", "transfer", transfer_id, "transfer")?;
    let mut transfer = before.clone();
    let total = transfer["amount"].as_i64().unwrap_or(0);
    let reversed = transfer["amount_reversed"].as_i64().unwrap_or(0);
    let currency = transfer["currency"].as_str().unwrap_or("usd").to_string();
    if amount <= 0 || amount > total - reversed {
        return Err(ApiError::invalid(format!(
            "Transfer reversal amount ({}) is greater than the amount left on the transfer ({}).",
            money::display(amount, &currency),
            money::display(total - reversed, &currency)
        ))
        .with_code("amount_too_large")
        .with_param("amount"));
    }
    let id = ids::new_id("trr_");
    let txn = balance::record(
        state,
        call,
        call.owner(),
        Movement {
            kind: "transfer_refund",
            reporting_category: "transfer_reversal",
            amount,
            currency: &currency,
            fee: 0,
            source: &id,
            description: None,
        },
    );
    if let Some(destination) = transfer["destination"].as_str().map(str::to_string) {
        balance::record(
            state,
            call,
            Some(&destination),
            Movement {
                kind: "payment_refund",
                reporting_category: "refund",
                amount: -amount,
                currency: &currency,
                fee: 0,
                source: &id,
                description: None,
            },
        );
    }
    let reversal = json!({
        "id": id,
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": txn,
        "created": call.now,
        "currency": currency,
        "destination_payment_refund": null,
        "metadata": {},
        "source_refund": null,
        "transfer": transfer_id
    });
    transfer["amount_reversed"] = json!(reversed + amount);
    transfer["reversed"] = json!(reversed + amount >= total);
    if let Some(data) = transfer["reversals"]["data"].as_array_mut() {
        data.insert(0, reversal.clone());
    }
    state.objects.replace(transfer.clone());
    state.emit_update(call, "transfer.reversed", &before, &transfer);
    Ok(reversal)
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "amount",
        "currency",
        "destination",
        "description",
        "metadata",
        "transfer_group",
        "source_transaction",
        "source_type",
    ])?;
    let amount = p.required_int("amount")?;
    if amount <= 0 {
        return Err(ApiError::invalid_param(
            "amount",
            "This value must be greater than or equal to 1.",
        ));
    }
    let currency = money::required_currency(p, "currency")?;
    let destination = p.required_str("destination")?;
    connected_account(state, &destination, "destination")?;
    let source_transaction = p.str("source_transaction")?;
    if let Some(charge) = &source_transaction {
        state
            .objects
            .fetch(call.owner(), "charge", "charge", charge, "source_transaction")?;
    }
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    Ok(make(
        state,
        call,
        &NewTransfer {
            amount,
            currency,
            destination,
            description: p.str("description")?,
            metadata,
            transfer_group: p.str("transfer_group")?,
            source_transaction,
        },
    ))
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "transfer", "transfer", call.path("id"), "id")
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["description", "metadata"])?;
    let before = state
        .objects
        .fetch(call.owner(), "transfer", "transfer", call.path("id"), "id")?;
    let mut transfer = before.clone();
    super::update_field(&call.params, &mut transfer, "description")?;
    call.params.apply_metadata(&mut transfer["metadata"])?;
    if transfer != before {
        state.objects.replace(transfer.clone());
        state.emit_update(call, "transfer.updated", &before, &transfer);
    }
    Ok(transfer)
}

fn create_reversal(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params
        .allow(&["amount", "description", "metadata", "refund_application_fee"])?;
    let id = call.path("id").to_string();
    let transfer = state.objects.fetch(call.owner(), "transfer", "transfer", &id, "id")?;
    let left = transfer["amount"].as_i64().unwrap_or(0) - transfer["amount_reversed"].as_i64().unwrap_or(0);
    let amount = call.params.int("amount")?.unwrap_or(left);
    let mut reversal = reverse(state, call, &id, amount)?;
    if call.params.has("metadata") {
        call.params.apply_metadata(&mut reversal["metadata"])?;
        let mut transfer = state.objects.fetch(call.owner(), "transfer", "transfer", &id, "id")?;
        if let Some(first) = transfer["reversals"]["data"].get_mut(0) {
            *first = reversal.clone();
        }
        state.objects.replace(transfer);
    }
    Ok(reversal)
}

fn list_reversals(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(LIST_PARAMS)?;
    let id = call.path("id").to_string();
    let transfer = state.objects.fetch(call.owner(), "transfer", "transfer", &id, "id")?;
    let items = transfer["reversals"]["data"].as_array().cloned().unwrap_or_default();
    list::page(
        items,
        &call.params,
        &format!("/v1/transfers/{id}/reversals"),
        "transfer reversal",
    )
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["destination", "transfer_group"]);
    call.params.allow(&allowed)?;
    let (destination, group) = (call.params.str("destination")?, call.params.str("transfer_group")?);
    list_of(state, call, "transfer", "transfer", "/v1/transfers", |t| {
        matches_filter(t, "destination", &destination) && matches_filter(t, "transfer_group", &group)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn transfer_to_an_enabled_account_and_reverse() {
        let app = TestApp::new().await;
        let acct = app.enabled_account().await;
        let t = app
            .post(
                "/v1/transfers",
                &format!("amount=700&currency=usd&destination={acct}&transfer_group=ORDER1&metadata[k]=v"),
            )
            .await;
        assert_eq!(t.status, 200, "{}", t.body);
        let t = t.body;
        assert!(t["id"].as_str().unwrap().starts_with("tr_"));
        assert!(t["destination_payment"].as_str().unwrap().starts_with("py_"));
        // The platform's balance may go negative; the destination receives the money.
        let platform = app.get("/v1/balance").await.body;
        assert_eq!(platform["available"][0]["amount"], -700);
        let connected = app.get_as(&acct, "/v1/balance").await.body;
        assert_eq!(connected["available"][0]["amount"], 700);
        let id = t["id"].as_str().unwrap();
        let reversal = app.post(&format!("/v1/transfers/{id}/reversals"), "amount=200").await;
        assert_eq!(reversal.status, 200, "{}", reversal.body);
        assert!(reversal.body["id"].as_str().unwrap().starts_with("trr_"));
        let over = app.post(&format!("/v1/transfers/{id}/reversals"), "amount=600").await;
        assert_eq!(over.status, 400);
        let got = app.get(&format!("/v1/transfers/{id}")).await.body;
        assert_eq!(got["amount_reversed"], 200);
        assert_eq!(got["reversals"]["data"].as_array().unwrap().len(), 1);
        let listed = app.get(&format!("/v1/transfers?destination={acct}")).await.body;
        assert_eq!(listed["data"].as_array().unwrap().len(), 1);
        assert!(app.event_types().await.contains(&"transfer.created".to_string()));
    }

    #[actix_web::test]
    async fn destination_must_exist_and_be_enabled() {
        let app = TestApp::new().await;
        let missing = app
            .post("/v1/transfers", "amount=700&currency=usd&destination=acct_nope")
            .await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["error"]["message"], "No such destination: 'acct_nope'");
        let fresh = app
            .post(
                "/v1/accounts",
                "type=custom&country=US&capabilities[transfers][requested]=true",
            )
            .await
            .body;
        let not_ready = app
            .post(
                "/v1/transfers",
                &format!("amount=700&currency=usd&destination={}", fresh["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(not_ready.status, 400);
        assert_eq!(
            not_ready.body["error"]["code"],
            "insufficient_capabilities_for_transfer"
        );
        assert_eq!(
            app.post("/v1/transfers", "amount=0&currency=usd&destination=acct_x")
                .await
                .status,
            400
        );
    }
}
