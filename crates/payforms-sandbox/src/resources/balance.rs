//! The balance and balance transactions (`txn_`): every captured charge,
//! refund, transfer and payout moves money, on the platform or on a
//! connected account. Funds are available at once (a documented
//! simplification: Stripe holds test charges as pending for a while).

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{get, ApiRoute, Call};
use super::super::ids;
use super::super::list::{self, LIST_PARAMS};
use super::super::state::State;
use super::list_of;

pub const ROUTES: &[ApiRoute] = &[
    get("/balance", retrieve_balance),
    get("/balance_transactions", list_transactions),
    get("/balance_transactions/{id}", retrieve_transaction),
];

/// What moved, for a new balance transaction.
pub struct Movement<'a> {
    /// `charge`, `refund`, `transfer`, `payment`, `payout`, `application_fee`, ...
    pub kind: &'a str,
    pub reporting_category: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub fee: i64,
    pub source: &'a str,
    pub description: Option<&'a str>,
}

/// Record a balance transaction on `owner`'s balance; returns its id.
pub fn record(state: &mut State, call: &Call, owner: Option<&str>, movement: Movement) -> String {
    let id = ids::new_id("txn_");
    let fee_details = if movement.fee != 0 {
        json!([{"amount": movement.fee, "application": null, "currency": movement.currency, "description": "Stripe processing fees", "type": "stripe_fee"}])
    } else {
        json!([])
    };
    let txn = json!({
        "id": id,
        "object": "balance_transaction",
        "amount": movement.amount,
        "available_on": call.now,
        "created": call.now,
        "currency": movement.currency,
        "description": movement.description,
        "exchange_rate": null,
        "fee": movement.fee,
        "fee_details": fee_details,
        "net": movement.amount - movement.fee,
        "reporting_category": movement.reporting_category,
        "source": movement.source,
        "status": "available",
        "type": movement.kind
    });
    state.objects.insert(owner, txn);
    id
}

/// Net available funds of one currency on `owner`'s balance.
pub fn available(state: &State, owner: Option<&str>, currency: &str) -> i64 {
    state
        .objects
        .newest_first(owner, "balance_transaction")
        .filter(|t| t["currency"] == currency)
        .filter_map(|t| t["net"].as_i64())
        .sum()
}

fn retrieve_balance(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let mut currencies: Vec<String> = state
        .objects
        .newest_first(call.owner(), "balance_transaction")
        .filter_map(|t| t["currency"].as_str().map(str::to_string))
        .collect();
    currencies.sort();
    currencies.dedup();
    if currencies.is_empty() {
        currencies.push("usd".to_string());
    }
    let available: Vec<Value> = currencies
        .iter()
        .map(|c| json!({"amount": available(state, call.owner(), c), "currency": c, "source_types": {"card": available(state, call.owner(), c)}}))
        .collect();
    let pending: Vec<Value> = currencies
        .iter()
        .map(|c| json!({"amount": 0, "currency": c, "source_types": {"card": 0}}))
        .collect();
    Ok(json!({"object": "balance", "available": available, "livemode": false, "pending": pending}))
}

fn retrieve_transaction(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state.objects.fetch(
        call.owner(),
        "balance_transaction",
        "balance transaction",
        call.path("id"),
        "id",
    )
}

fn list_transactions(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["payout", "type", "source", "currency"]);
    let p = &call.params;
    p.allow(&allowed)?;
    let (kind, source, currency) = (p.str("type")?, p.str("source")?, p.str("currency")?);
    let keep = |t: &Value| {
        [("type", &kind), ("source", &source), ("currency", &currency)]
            .iter()
            .all(|(field, wanted)| wanted.as_ref().map(|w| t[*field] == w.as_str()).unwrap_or(true))
    };
    let Some(payout) = p.str("payout")? else {
        return list_of(
            state,
            call,
            "balance_transaction",
            "balance transaction",
            "/v1/balance_transactions",
            keep,
        );
    };
    state
        .objects
        .fetch(call.owner(), "payout", "payout", &payout, "payout")?;
    let members = state.payout_members.get(&payout).cloned().unwrap_or_default();
    let items: Vec<Value> = members
        .iter()
        .rev()
        .filter_map(|id| state.objects.get(call.owner(), id).cloned())
        .filter(|t| keep(t))
        .collect();
    list::page(items, p, "/v1/balance_transactions", "balance transaction")
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn charges_and_refunds_move_the_balance() {
        let app = TestApp::new().await;
        let empty = app.get("/v1/balance").await.body;
        assert_eq!(empty["object"], "balance");
        assert_eq!(empty["available"][0]["amount"], 0);
        let charge = app
            .post("/v1/charges", "amount=1000&currency=usd&source=tok_visa")
            .await
            .body;
        let txn = app
            .get(&format!(
                "/v1/balance_transactions/{}",
                charge["balance_transaction"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(txn["type"], "charge");
        assert_eq!(txn["amount"], 1000);
        assert_eq!(txn["fee"], 59);
        assert_eq!(txn["net"], 941);
        assert_eq!(txn["source"], charge["id"]);
        app.post(
            "/v1/refunds",
            &format!("charge={}&amount=400", charge["id"].as_str().unwrap()),
        )
        .await;
        let balance = app.get("/v1/balance").await.body;
        assert_eq!(balance["available"][0]["amount"], 541);
        assert_eq!(balance["available"][0]["currency"], "usd");
        let refunds = app.get("/v1/balance_transactions?type=refund").await.body;
        assert_eq!(refunds["data"].as_array().unwrap().len(), 1);
        assert_eq!(refunds["data"][0]["amount"], -400);
        let missing = app.get("/v1/balance_transactions/txn_nope").await;
        assert_eq!(missing.status, 404);
    }
}
