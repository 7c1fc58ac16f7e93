//! Refunds: create for a charge or a PaymentIntent (full or partial, never
//! more than what is left), with `reason`, `metadata`,
//! `refund_application_fee` and `reverse_transfer`; retrieve, update, list.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::{self, LIST_PARAMS};
use super::super::money;
use super::super::state::State;
use super::balance::{self, Movement};
use super::{list_of, matches_filter, transfers};

pub const ROUTES: &[ApiRoute] = &[
    post("/refunds", create),
    get("/refunds", list),
    get("/refunds/{id}", retrieve),
    post("/refunds/{id}", update),
    get("/charges/{id}/refunds", list_for_charge),
];

const REASONS: &[&str] = &["duplicate", "fraudulent", "requested_by_customer"];

struct NewRefund {
    amount: i64,
    reason: Option<String>,
    metadata: Value,
    refund_application_fee: bool,
    reverse_transfer: bool,
}

fn build(call: &Call, charge: &Value, refund: &NewRefund) -> Value {
    json!({
        "id": ids::new_id("re_"),
        "object": "refund",
        "amount": refund.amount,
        "balance_transaction": null,
        "charge": charge["id"],
        "created": call.now,
        "currency": charge["currency"],
        "destination_details": {"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"},
        "metadata": refund.metadata,
        "payment_intent": charge["payment_intent"],
        "reason": refund.reason,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null
    })
}

/// Rebuild a charge's embedded `refunds` list from the refund objects.
pub fn sync_charge(state: &mut State, call: &Call, charge_id: &str) {
    let Some(mut charge) = state.objects.get(call.owner(), charge_id).cloned() else {
        return;
    };
    let data: Vec<Value> = state
        .objects
        .newest_first(call.owner(), "refund")
        .filter(|r| r["charge"] == charge_id)
        .cloned()
        .collect();
    charge["refunds"] = list::envelope(data, false, &format!("/v1/charges/{charge_id}/refunds"));
    state.objects.replace(charge);
}

/// Release the uncaptured rest of an authorisation (partial capture, or
/// cancelling an uncaptured PaymentIntent): a refund with no money moved.
pub fn release(state: &mut State, call: &Call, charge: &Value, amount: i64) -> Result<Value, ApiError> {
    let refund = build(
        call,
        charge,
        &NewRefund {
            amount,
            reason: None,
            metadata: json!({}),
            refund_application_fee: false,
            reverse_transfer: false,
        },
    );
    state.objects.insert(call.owner(), refund.clone());
    let charge_id = charge["id"].as_str().unwrap_or_default().to_string();
    let mut updated = state
        .objects
        .fetch(call.owner(), "charge", "charge", &charge_id, "charge")?;
    let refunded = updated["amount_refunded"].as_i64().unwrap_or(0) + amount;
    updated["amount_refunded"] = json!(refunded);
    updated["refunded"] = json!(updated["captured"] == false && refunded >= updated["amount"].as_i64().unwrap_or(0));
    state.objects.replace(updated);
    sync_charge(state, call, &charge_id);
    state.emit(call, "refund.created", &refund);
    Ok(refund)
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "charge",
        "payment_intent",
        "amount",
        "reason",
        "metadata",
        "refund_application_fee",
        "reverse_transfer",
        "instructions_email",
    ])?;
    let charge_id = match (p.str("charge")?, p.str("payment_intent")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You can only specify one of these parameters: charge, payment_intent.",
            ))
        }
        (Some(charge), None) => {
            state
                .objects
                .fetch(call.owner(), "charge", "charge", &charge, "charge")?;
            charge
        }
        (None, Some(pi)) => {
            let intent =
                state
                    .objects
                    .fetch(call.owner(), "payment_intent", "payment_intent", &pi, "payment_intent")?;
            if intent["status"] != "succeeded" {
                return Err(ApiError::invalid(format!(
                    "This PaymentIntent ({pi}) does not have a successful charge to refund."
                ))
                .with_code("charge_not_refundable")
                .with_param("payment_intent"));
            }
            intent["latest_charge"].as_str().map(str::to_string).ok_or_else(|| {
                ApiError::invalid(format!(
                    "This PaymentIntent ({pi}) does not have a successful charge to refund."
                ))
                .with_param("payment_intent")
            })?
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
            )
            .with_code("parameter_missing"))
        }
    };
    let charge = state
        .objects
        .fetch(call.owner(), "charge", "charge", &charge_id, "charge")?;
    if charge["status"] != "succeeded" {
        return Err(ApiError::invalid(format!(
            "Charge {charge_id} did not succeed, so there is nothing to refund."
        ))
        .with_code("charge_not_refundable"));
    }
    if charge["refunded"] == true {
        return Err(
            ApiError::invalid(format!("Charge {charge_id} has already been refunded."))
                .with_code("charge_already_refunded"),
        );
    }
    let captured = charge["captured"] == true;
    // Stripe counts the released part of a partial capture in
    // `amount_refunded`, so what is left is always `amount - amount_refunded`.
    let charged = charge["amount"].as_i64().unwrap_or(0);
    let remaining = charged - charge["amount_refunded"].as_i64().unwrap_or(0);
    // Transfers and fees are shared in proportion to what was captured.
    let base = if captured {
        charge["amount_captured"].as_i64().unwrap_or(0)
    } else {
        charged
    };
    let currency = charge["currency"].as_str().unwrap_or("usd").to_string();
    let amount = match p.int("amount")? {
        None => remaining,
        Some(a) if a <= 0 => {
            return Err(ApiError::invalid_param(
                "amount",
                format!("Invalid positive integer: {a}"),
            ))
        }
        Some(a) if a > remaining => {
            return Err(ApiError::invalid(format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                money::display(a, &currency),
                money::display(remaining, &currency)
            ))
            .with_code("amount_too_large")
            .with_param("amount"))
        }
        Some(a) => a,
    };
    if !captured && amount != remaining {
        return Err(ApiError::invalid(
            "An uncaptured charge can only be refunded in full; capture part of it instead.",
        )
        .with_param("amount"));
    }
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    let new = NewRefund {
        amount,
        reason: p.choice("reason", REASONS)?,
        metadata,
        refund_application_fee: p.bool("refund_application_fee")?.unwrap_or(false),
        reverse_transfer: p.bool("reverse_transfer")?.unwrap_or(false),
    };
    let mut refund = build(call, &charge, &new);
    let refund_id = refund["id"].as_str().unwrap_or_default().to_string();
    if captured {
        let txn = balance::record(
            state,
            call,
            call.owner(),
            Movement {
                kind: "refund",
                reporting_category: "refund",
                amount: -amount,
                currency: &currency,
                fee: 0,
                source: &refund_id,
                description: Some("REFUND FOR CHARGE"),
            },
        );
        refund["balance_transaction"] = json!(txn);
    }
    let share = |total: i64| if base > 0 { total * amount / base } else { 0 };
    if new.reverse_transfer {
        if let Some(transfer) = charge["transfer"].as_str() {
            let total = state
                .objects
                .get(call.owner(), transfer)
                .and_then(|t| t["amount"].as_i64())
                .unwrap_or(0);
            let reversal = transfers::reverse(state, call, transfer, share(total))?;
            refund["transfer_reversal"] = reversal["id"].clone();
        }
    }
    if new.refund_application_fee {
        if let Some(fee_id) = charge["application_fee"].as_str() {
            refund_fee(
                state,
                call,
                fee_id,
                share(charge["application_fee_amount"].as_i64().unwrap_or(0)),
            );
        }
    }
    state.objects.insert(call.owner(), refund.clone());
    let mut updated = charge.clone();
    let refunded_total = charge["amount_refunded"].as_i64().unwrap_or(0) + amount;
    updated["amount_refunded"] = json!(refunded_total);
    updated["refunded"] = json!(refunded_total >= charged);
    state.objects.replace(updated);
    sync_charge(state, call, &charge_id);
    let after = state
        .objects
        .fetch(call.owner(), "charge", "charge", &charge_id, "charge")?;
    state.emit(call, "refund.created", &refund);
    state.emit_update(call, "charge.refunded", &charge, &after);
    Ok(refund)
}

/// Refund part of an application fee (`fr_`), as `refund_application_fee` asks.
fn refund_fee(state: &mut State, call: &Call, fee_id: &str, amount: i64) {
    let Some(mut fee) = state.objects.get(call.owner(), fee_id).cloned() else {
        return;
    };
    let refund = json!({
        "id": ids::new_id("fr_"),
        "object": "fee_refund",
        "amount": amount,
        "balance_transaction": null,
        "created": call.now,
        "currency": fee["currency"],
        "fee": fee_id,
        "metadata": {}
    });
    let total = fee["amount_refunded"].as_i64().unwrap_or(0) + amount;
    fee["amount_refunded"] = json!(total);
    fee["refunded"] = json!(total >= fee["amount"].as_i64().unwrap_or(0));
    if let Some(data) = fee["refunds"]["data"].as_array_mut() {
        data.insert(0, refund);
    }
    state.objects.replace(fee);
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "refund", "refund", call.path("id"), "id")
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["metadata"])?;
    let before = state
        .objects
        .fetch(call.owner(), "refund", "refund", call.path("id"), "id")?;
    let mut refund = before.clone();
    call.params.apply_metadata(&mut refund["metadata"])?;
    state.objects.replace(refund.clone());
    if let Some(charge) = refund["charge"].as_str() {
        sync_charge(state, call, charge);
    }
    if refund != before {
        state.emit_update(call, "refund.updated", &before, &refund);
    }
    Ok(refund)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["charge", "payment_intent"]);
    call.params.allow(&allowed)?;
    let (charge, intent) = (call.params.str("charge")?, call.params.str("payment_intent")?);
    list_of(state, call, "refund", "refund", "/v1/refunds", |r| {
        matches_filter(r, "charge", &charge) && matches_filter(r, "payment_intent", &intent)
    })
}

fn list_for_charge(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(LIST_PARAMS)?;
    let charge = call.path("id").to_string();
    state
        .objects
        .fetch(call.owner(), "charge", "charge", &charge, "charge")?;
    let url = format!("/v1/charges/{charge}/refunds");
    list_of(state, call, "refund", "refund", &url, |r| {
        r["charge"] == charge.as_str()
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use serde_json::json;

    #[actix_web::test]
    async fn partial_then_full_then_over_refund() {
        let app = TestApp::new().await;
        let charge = app
            .post("/v1/charges", "amount=1000&currency=usd&source=tok_visa")
            .await
            .body;
        let ch = charge["id"].as_str().unwrap();
        let r1 = app
            .post(
                "/v1/refunds",
                &format!("charge={ch}&amount=300&reason=requested_by_customer&metadata[ticket]=7"),
            )
            .await;
        assert_eq!(r1.status, 200, "{}", r1.body);
        assert!(r1.body["id"].as_str().unwrap().starts_with("re_"));
        assert_eq!(r1.body["amount"], 300);
        assert_eq!(r1.body["status"], "succeeded");
        assert_eq!(r1.body["reason"], "requested_by_customer");
        assert_eq!(r1.body["metadata"], json!({"ticket": "7"}));
        let over = app.post("/v1/refunds", &format!("charge={ch}&amount=800")).await;
        assert_eq!(over.status, 400);
        assert_eq!(over.body["error"]["code"], "amount_too_large");
        assert_eq!(
            over.body["error"]["message"],
            "Refund amount (8.00 usd) is greater than unrefunded amount on charge (7.00 usd)"
        );
        let rest = app.post("/v1/refunds", &format!("charge={ch}")).await.body;
        assert_eq!(rest["amount"], 700);
        let c = app.get(&format!("/v1/charges/{ch}")).await.body;
        assert_eq!(c["refunded"], true);
        assert_eq!(c["amount_refunded"], 1000);
        assert_eq!(c["refunds"]["data"].as_array().unwrap().len(), 2);
        let again = app.post("/v1/refunds", &format!("charge={ch}")).await;
        assert_eq!(again.body["error"]["code"], "charge_already_refunded");
        let listed = app.get(&format!("/v1/refunds?charge={ch}")).await.body;
        assert_eq!(listed["data"][0]["id"], rest["id"]);
        let types = app.event_types().await;
        assert_eq!(types.iter().filter(|t| *t == "charge.refunded").count(), 2);
        assert_eq!(types.iter().filter(|t| *t == "refund.created").count(), 2);
    }

    #[actix_web::test]
    async fn refund_by_payment_intent_and_update() {
        let app = TestApp::new().await;
        let pi = app
            .post(
                "/v1/payment_intents",
                "amount=2500&currency=gbp&payment_method=pm_card_visa&confirm=true",
            )
            .await
            .body;
        let pid = pi["id"].as_str().unwrap();
        let refund = app
            .post("/v1/refunds", &format!("payment_intent={pid}&amount=500"))
            .await;
        assert_eq!(refund.status, 200, "{}", refund.body);
        assert_eq!(refund.body["payment_intent"], pid);
        assert_eq!(refund.body["charge"], pi["latest_charge"]);
        let rid = refund.body["id"].as_str().unwrap();
        let updated = app.post(&format!("/v1/refunds/{rid}"), "metadata[note]=ok").await.body;
        assert_eq!(updated["metadata"]["note"], "ok");
        assert!(app.event_types().await.contains(&"refund.updated".to_string()));
        let by_pi = app.get(&format!("/v1/refunds?payment_intent={pid}")).await.body;
        assert_eq!(by_pi["data"].as_array().unwrap().len(), 1);
        let got = app.get(&format!("/v1/refunds/{rid}")).await.body;
        assert_eq!(got["metadata"]["note"], "ok");
    }

    #[actix_web::test]
    async fn refund_after_a_partial_capture_counts_the_released_part() {
        let app = TestApp::new().await;
        let charge = app
            .post("/v1/charges", "amount=1000&currency=usd&source=tok_visa&capture=false")
            .await
            .body;
        let ch = charge["id"].as_str().unwrap();
        app.post(&format!("/v1/charges/{ch}/capture"), "amount=600").await;
        let too_much = app.post("/v1/refunds", &format!("charge={ch}&amount=700")).await;
        assert_eq!(too_much.status, 400);
        let refund = app.post("/v1/refunds", &format!("charge={ch}")).await.body;
        assert_eq!(refund["amount"], 600);
        let after = app.get(&format!("/v1/charges/{ch}")).await.body;
        assert_eq!(after["amount_refunded"], 1000);
        assert_eq!(after["refunded"], true);
        let balance = app.get("/v1/balance").await.body;
        assert_eq!(balance["available"][0]["amount"], 600 - 47 - 600);
    }

    #[actix_web::test]
    async fn bad_requests() {
        let app = TestApp::new().await;
        let neither = app.post("/v1/refunds", "amount=5").await;
        assert_eq!(neither.status, 400);
        let missing = app.post("/v1/refunds", "charge=ch_nope").await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["error"]["message"], "No such charge: 'ch_nope'");
        let charge = app
            .post("/v1/charges", "amount=1000&currency=usd&source=tok_visa")
            .await
            .body;
        let reason = app
            .post(
                "/v1/refunds",
                &format!("charge={}&reason=bored", charge["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(reason.status, 400);
        assert_eq!(reason.body["error"]["param"], "reason");
        let negative = app
            .post(
                "/v1/refunds",
                &format!("charge={}&amount=-1", charge["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(negative.status, 400);
        // Nothing was refunded by the rejected requests.
        let c = app
            .get(&format!("/v1/charges/{}", charge["id"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(c["amount_refunded"], 0);
    }

    #[actix_web::test]
    async fn reverse_transfer_and_refund_application_fee() {
        let app = TestApp::new().await;
        let acct = app.enabled_account().await;
        let charge = app
            .post("/v1/charges", &format!("amount=1000&currency=usd&source=tok_visa&application_fee_amount=200&transfer_data[destination]={acct}"))
            .await
            .body;
        let ch = charge["id"].as_str().unwrap();
        let refund = app
            .post(
                "/v1/refunds",
                &format!("charge={ch}&amount=500&reverse_transfer=true&refund_application_fee=true"),
            )
            .await;
        assert_eq!(refund.status, 200, "{}", refund.body);
        assert!(refund.body["transfer_reversal"].as_str().unwrap().starts_with("trr_"));
        let transfer = app
            .get(&format!("/v1/transfers/{}", charge["transfer"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(transfer["amount"], 800);
        assert_eq!(transfer["amount_reversed"], 400);
        let fee = app
            .get_expanded(&format!("/v1/charges/{ch}"), "application_fee")
            .await
            .body;
        assert_eq!(fee["application_fee"]["amount_refunded"], 100);
    }
}
