//! Payouts from the platform's (or, with `Stripe-Account`, a connected
//! account's) available balance: create, retrieve, update, list. A payout
//! takes in every balance transaction not yet paid out in its currency;
//! `GET /v1/balance_transactions?payout=po_...` lists them. No time passes
//! in the sandbox, so a payout is `paid` at once (`payout.created`,
//! `payout.paid`).

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::LIST_PARAMS;
use super::super::money;
use super::super::state::State;
use super::balance::{self, Movement};
use super::{accounts, list_of, matches_filter};

pub const ROUTES: &[ApiRoute] = &[
    post("/payouts", create),
    get("/payouts", list),
    get("/payouts/{id}", retrieve),
    post("/payouts/{id}", update),
];

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "amount",
        "currency",
        "description",
        "metadata",
        "method",
        "statement_descriptor",
        "destination",
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
    let method = p
        .choice("method", &["standard", "instant"])?
        .unwrap_or_else(|| "standard".into());
    let mut destination = Value::Null;
    if let Some(account_id) = call.owner() {
        let account = accounts::fetch(state, account_id, "account")?;
        if account["payouts_enabled"] != true {
            return Err(
                ApiError::invalid("Payouts are not enabled for this account: it still has requirements due.")
                    .with_code("payouts_not_allowed"),
            );
        }
        destination = account["external_accounts"]["data"][0]["id"].clone();
    }
    let available = balance::available(state, call.owner(), &currency);
    if amount > available {
        return Err(ApiError::invalid(format!(
            "You have insufficient funds in your Stripe account for this transfer. Your card balance is too low ({} available). You can use the /v1/balance endpoint to view your Stripe balance.",
            money::display(available, &currency)
        ))
        .with_code("balance_insufficient"));
    }
    let id = ids::new_id("po_");
    let already_paid_out: Vec<String> = state.payout_members.values().flatten().cloned().collect();
    let mut members: Vec<String> = state
        .objects
        .newest_first(call.owner(), "balance_transaction")
        .filter(|t| t["currency"] == currency.as_str())
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .filter(|t| !already_paid_out.contains(t))
        .collect();
    members.reverse();
    let txn = balance::record(
        state,
        call,
        call.owner(),
        Movement {
            kind: "payout",
            reporting_category: "payout",
            amount: -amount,
            currency: &currency,
            fee: 0,
            source: &id,
            description: Some("STRIPE PAYOUT"),
        },
    );
    members.push(txn.clone());
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    let payout = json!({
        "id": id,
        "object": "payout",
        "amount": amount,
        "application_fee": null,
        "application_fee_amount": null,
        "arrival_date": call.now,
        "automatic": false,
        "balance_transaction": txn,
        "created": call.now,
        "currency": currency,
        "description": p.str("description")?,
        "destination": destination,
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "livemode": false,
        "metadata": metadata,
        "method": method,
        "original_payout": null,
        "reconciliation_status": "completed",
        "reversed_by": null,
        "source_type": "card",
        "statement_descriptor": p.str("statement_descriptor")?,
        "status": "paid",
        "type": "bank_account"
    });
    state.payout_members.insert(id, members);
    state.objects.insert(call.owner(), payout.clone());
    state.emit(call, "payout.created", &payout);
    state.emit(call, "payout.paid", &payout);
    Ok(payout)
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "payout", "payout", call.path("id"), "id")
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["metadata"])?;
    let before = state
        .objects
        .fetch(call.owner(), "payout", "payout", call.path("id"), "id")?;
    let mut payout = before.clone();
    call.params.apply_metadata(&mut payout["metadata"])?;
    if payout != before {
        state.objects.replace(payout.clone());
        state.emit_update(call, "payout.updated", &before, &payout);
    }
    Ok(payout)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["status", "destination", "arrival_date"]);
    call.params.allow(&allowed)?;
    let (status, destination) = (call.params.str("status")?, call.params.str("destination")?);
    list_of(state, call, "payout", "payout", "/v1/payouts", |p| {
        matches_filter(p, "status", &status) && matches_filter(p, "destination", &destination)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn payout_lists_its_balance_transactions() {
        let app = TestApp::new().await;
        let none = app.post("/v1/payouts", "amount=100&currency=usd").await;
        assert_eq!(none.status, 400);
        assert_eq!(none.body["error"]["code"], "balance_insufficient");
        let c1 = app
            .post("/v1/charges", "amount=1000&currency=usd&source=tok_visa")
            .await
            .body;
        let c2 = app
            .post("/v1/charges", "amount=2000&currency=usd&source=tok_visa")
            .await
            .body;
        let payout = app
            .post("/v1/payouts", "amount=1000&currency=usd&description=Weekly")
            .await;
        assert_eq!(payout.status, 200, "{}", payout.body);
        let po = payout.body["id"].as_str().unwrap().to_string();
        assert!(po.starts_with("po_"));
        assert_eq!(payout.body["status"], "paid");
        let txns = app.get(&format!("/v1/balance_transactions?payout={po}")).await.body;
        let sources: Vec<&str> = txns["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["source"].as_str().unwrap())
            .collect();
        assert_eq!(
            sources,
            vec![po.as_str(), c2["id"].as_str().unwrap(), c1["id"].as_str().unwrap()]
        );
        // A second payout only takes in what came after the first.
        let c3 = app
            .post("/v1/charges", "amount=3000&currency=usd&source=tok_visa")
            .await
            .body;
        let second = app.post("/v1/payouts", "amount=500&currency=usd").await.body;
        let txns = app
            .get(&format!(
                "/v1/balance_transactions?payout={}",
                second["id"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(txns["data"].as_array().unwrap().len(), 2);
        assert_eq!(txns["data"][1]["source"], c3["id"]);
        assert_eq!(app.get(&format!("/v1/payouts/{po}")).await.body["amount"], 1000);
        assert_eq!(app.get("/v1/payouts").await.body["data"].as_array().unwrap().len(), 2);
        assert_eq!(app.get("/v1/balance_transactions?payout=po_nope").await.status, 404);
    }

    #[actix_web::test]
    async fn connected_account_payouts_need_funds_and_enablement() {
        let app = TestApp::new().await;
        let acct = app.enabled_account().await;
        app.post("/v1/charges", "amount=5000&currency=usd&source=tok_visa")
            .await;
        app.post("/v1/transfers", &format!("amount=1500&currency=usd&destination={acct}"))
            .await;
        let payout = app.post_as(&acct, "/v1/payouts", "amount=1500&currency=usd").await;
        assert_eq!(payout.status, 200, "{}", payout.body);
        assert!(payout.body["destination"].as_str().unwrap().starts_with("ba_"));
        let txns = app
            .get_as(
                &acct,
                &format!(
                    "/v1/balance_transactions?payout={}",
                    payout.body["id"].as_str().unwrap()
                ),
            )
            .await
            .body;
        assert_eq!(txns["data"][1]["type"], "payment");
        let fresh = app.post("/v1/accounts", "type=custom").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let blocked = app.post_as(&fresh, "/v1/payouts", "amount=1&currency=usd").await;
        assert_eq!(blocked.body["error"]["code"], "payouts_not_allowed");
    }
}
