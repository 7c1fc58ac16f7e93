//! ConfirmationTokens: what Stripe.js's `createConfirmationToken` makes of
//! the Payment Element (with the publishable key), so the server can create
//! and confirm an intent with `confirmation_token` in one call. Also the
//! server-side test helper, and retrieve. Each token is used once and
//! expires after 12 hours.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::auth::KeyKind;
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::params::Params;
use super::super::sepa::{self, BankAccount};
use super::super::state::State;
use super::payment_methods;

pub const ROUTES: &[ApiRoute] = &[
    post("/confirmation_tokens", create).public(),
    post("/test_helpers/confirmation_tokens", create),
    get("/confirmation_tokens/{id}", retrieve),
];

/// How long a token may wait before it is used.
const LIFETIME_SECS: i64 = 12 * 3600;

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "payment_method",
        "payment_method_data",
        "return_url",
        "setup_future_usage",
        "shipping",
        // Stripe.js sends these with every request.
        "key",
        "payment_user_agent",
    ])?;
    let id = ids::new_id("ctoken_");
    let (preview, mandate_data) = if let Some(pm_id) = p.str("payment_method")? {
        // A saved payment method is named only by the server (the test
        // helper, secret key); the browser enters a new one.
        if call.key == KeyKind::Publishable {
            return Err(ApiError::invalid_param(
                "payment_method",
                "A ConfirmationToken made with a publishable key takes payment_method_data, not a saved payment_method.",
            ));
        }
        let pm = payment_methods::resolve(state, call, &pm_id, "payment_method")?;
        let card = payment_methods::card_of(state, pm["id"].as_str().unwrap_or_default())?;
        let preview =
            json!({"card": card.payment_method_json(), "type": "card", "billing_details": pm["billing_details"]});
        state.cards.insert(id.clone(), card);
        (preview, Value::Null)
    } else {
        let data = p
            .hash("payment_method_data")?
            .ok_or_else(|| ApiError::missing_param("payment_method_data"))?;
        if data.str("type")?.as_deref() == Some("sepa_debit") {
            let (account, billing) = sepa_from_data(&data)?;
            let preview =
                json!({"sepa_debit": account.payment_method_json(), "type": "sepa_debit", "billing_details": billing});
            state.bank_accounts.insert(id.clone(), account);
            // The Payment Element shows the mandate; confirming accepts it.
            let mandate =
                json!({"customer_acceptance": {"type": "online", "online": {"ip_address": null, "user_agent": null}}});
            (preview, mandate)
        } else {
            let (card, billing) = payment_methods::card_from_data(state, call, &data)?;
            let preview = json!({"card": card.payment_method_json(), "type": "card", "billing_details": billing});
            state.cards.insert(id.clone(), card);
            (preview, Value::Null)
        }
    };
    let mut preview = preview;
    preview["allow_redisplay"] = json!("unspecified");
    preview["customer"] = Value::Null;
    let token = json!({
        "id": id,
        "object": "confirmation_token",
        "created": call.now,
        "expires_at": call.now + LIFETIME_SECS,
        "livemode": false,
        "mandate_data": mandate_data,
        "payment_intent": null,
        "payment_method_options": null,
        "payment_method_preview": preview,
        "return_url": p.str("return_url")?,
        "setup_future_usage": p.choice("setup_future_usage", &["on_session", "off_session"])?,
        "setup_intent": null,
        "shipping": p.plain_hash("shipping")?,
        "use_stripe_sdk": true
    });
    state.objects.insert(call.owner(), token.clone());
    Ok(token)
}

/// A SEPA Direct Debit's bank account and holder (name and email required).
fn sepa_from_data(data: &Params) -> Result<(BankAccount, Value), ApiError> {
    data.allow(&["type", "sepa_debit", "billing_details", "metadata", "allow_redisplay"])?;
    let sepa = data
        .hash("sepa_debit")?
        .ok_or_else(|| ApiError::missing_param("payment_method_data[sepa_debit]"))?;
    let account = BankAccount::from_params(&sepa, "payment_method_data[sepa_debit][iban]")?;
    let billing = payment_methods::billing_details(data.hash("billing_details")?)?;
    sepa::check_billing(&billing)?;
    Ok((account, billing))
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state.objects.fetch(
        call.owner(),
        "confirmation_token",
        "confirmation token",
        call.path("id"),
        "id",
    )
}

/// The `confirmation_token` of an intent's create or confirm parameters,
/// used for `intent_id`; None when there is none. It may not come with
/// `payment_method` or `payment_method_data`.
pub fn from_params(
    state: &mut State,
    call: &Call,
    p: &Params,
    intent_id: &str,
) -> Result<Option<Confirmation>, ApiError> {
    let Some(token) = p.str("confirmation_token")? else {
        return Ok(None);
    };
    if p.has("payment_method") || p.has("payment_method_data") {
        return Err(ApiError::invalid_param(
            "confirmation_token",
            "You cannot pass confirmation_token together with payment_method or payment_method_data.",
        ));
    }
    use_for(state, call, &token, intent_id).map(Some)
}

/// What confirming an intent with a token gives it.
pub struct Confirmation {
    /// The new PaymentMethod made from the token.
    pub payment_method: Value,
    pub return_url: Option<String>,
    pub setup_future_usage: Option<String>,
}

/// Use `token` for the intent `intent_id` (`payment_intent` or
/// `setup_intent` by its prefix): a new PaymentMethod from what the visitor
/// entered. A token is used once and only before it expires.
pub fn use_for(state: &mut State, call: &Call, token: &str, intent_id: &str) -> Result<Confirmation, ApiError> {
    let mut stored = state
        .objects
        .fetch(
            call.owner(),
            "confirmation_token",
            "confirmation token",
            token,
            "confirmation_token",
        )
        .map_err(|_| ApiError::no_such("ConfirmationToken", token, "confirmation_token"))?;
    if !stored["payment_intent"].is_null() || !stored["setup_intent"].is_null() {
        return Err(ApiError::invalid(format!(
            "This ConfirmationToken ({token}) has already been used to confirm an intent."
        ))
        .with_code("confirmation_token_already_used")
        .with_param("confirmation_token"));
    }
    if stored["expires_at"].as_i64().unwrap_or(0) < call.now {
        return Err(
            ApiError::invalid(format!("This ConfirmationToken ({token}) has expired."))
                .with_param("confirmation_token"),
        );
    }
    let billing = stored["payment_method_preview"]["billing_details"].clone();
    let payment_method = match state.bank_accounts.get(token).cloned() {
        Some(account) => payment_methods::store_sepa(state, call, account, billing),
        None => {
            let card = payment_methods::card_of(state, token)?;
            payment_methods::store(state, call, card, billing)
        }
    };
    let field = if intent_id.starts_with("seti_") {
        "setup_intent"
    } else {
        "payment_intent"
    };
    stored[field] = json!(intent_id);
    state.objects.replace(stored.clone());
    Ok(Confirmation {
        payment_method,
        return_url: stored["return_url"].as_str().map(str::to_string),
        setup_future_usage: stored["setup_future_usage"].as_str().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    const FROM_STRIPE_JS: &str = "payment_method_data[type]=card&payment_method_data[card][number]=4242424242424242\
        &payment_method_data[card][exp_month]=12&payment_method_data[card][exp_year]=2041&payment_method_data[card][cvc]=123\
        &payment_method_data[billing_details][name]=Jenny&key=pk_test_sandbox&payment_user_agent=mock";

    #[actix_web::test]
    async fn stripe_js_creates_a_token_the_server_reads() {
        let app = TestApp::new().await;
        let token = app
            .post_unauthenticated("/v1/confirmation_tokens", FROM_STRIPE_JS)
            .await;
        assert_eq!(token.status, 200, "{}", token.body);
        let id = token.body["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("ctoken_"));
        assert_eq!(token.body["payment_method_preview"]["card"]["last4"], "4242");
        assert_eq!(token.body["payment_method_preview"]["billing_details"]["name"], "Jenny");
        assert!(token.body.to_string().find("4242424242424242").is_none());
        let got = app.get(&format!("/v1/confirmation_tokens/{id}")).await;
        assert_eq!(got.body["id"], id.as_str());
        // Only with the secret key.
        let anonymous = app
            .get_with_key(&format!("/v1/confirmation_tokens/{id}"), "pk_test_sandbox")
            .await;
        assert_ne!(anonymous.status, 200);
    }

    #[actix_web::test]
    async fn a_payment_intent_is_created_and_confirmed_with_it_once() {
        let app = TestApp::new().await;
        let id = app
            .post_unauthenticated("/v1/confirmation_tokens", FROM_STRIPE_JS)
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let pi = app
            .post(
                "/v1/payment_intents",
                &format!("amount=599&currency=usd&confirm=true&confirmation_token={id}&automatic_payment_methods[enabled]=true"),
            )
            .await;
        assert_eq!(pi.status, 200, "{}", pi.body);
        assert_eq!(pi.body["status"], "succeeded");
        assert!(pi.body["payment_method"].as_str().unwrap().starts_with("pm_"));
        let used = app.get(&format!("/v1/confirmation_tokens/{id}")).await;
        assert_eq!(used.body["payment_intent"], pi.body["id"]);
        let again = app
            .post(
                "/v1/payment_intents",
                &format!("amount=599&currency=usd&confirm=true&confirmation_token={id}"),
            )
            .await;
        assert_eq!(again.status, 400);
        assert_eq!(again.body["error"]["code"], "confirmation_token_already_used");
    }

    #[actix_web::test]
    async fn declines_and_authentication_follow_the_test_cards() {
        let app = TestApp::new().await;
        for (number, status, code) in [
            ("4000000000000002", 402, "generic_decline"),
            ("4000000000009995", 402, "insufficient_funds"),
            ("4000002500003155", 200, ""),
        ] {
            let body = FROM_STRIPE_JS.replace("4242424242424242", number);
            let id = app.post_unauthenticated("/v1/confirmation_tokens", &body).await.body["id"]
                .as_str()
                .unwrap()
                .to_string();
            let pi = app
                .post(
                    "/v1/payment_intents",
                    &format!("amount=599&currency=usd&confirm=true&confirmation_token={id}"),
                )
                .await;
            assert_eq!(pi.status, status, "{number}: {}", pi.body);
            if status == 402 {
                assert_eq!(pi.body["error"]["decline_code"], code, "{}", pi.body);
                assert_eq!(pi.body["error"]["payment_intent"]["status"], "requires_payment_method");
            } else {
                assert_eq!(pi.body["status"], "requires_action");
                assert_eq!(pi.body["next_action"]["type"], "use_stripe_sdk");
            }
        }
        let unknown = app
            .post(
                "/v1/payment_intents",
                "amount=599&currency=usd&confirm=true&confirmation_token=ctoken_nope",
            )
            .await;
        assert_eq!(unknown.body["error"]["code"], "resource_missing", "{}", unknown.body);
        assert_eq!(unknown.body["error"]["param"], "confirmation_token");
    }

    #[actix_web::test]
    async fn a_setup_intent_saves_the_card_on_the_customer() {
        let app = TestApp::new().await;
        let customer = app.post("/v1/customers", "email=c%40example.com").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let id = app
            .post_unauthenticated("/v1/confirmation_tokens", FROM_STRIPE_JS)
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let unconfirmed = app
            .post(
                "/v1/setup_intents",
                &format!("customer={customer}&confirmation_token={id}"),
            )
            .await;
        assert_eq!(unconfirmed.status, 400, "{}", unconfirmed.body);
        let seti = app
            .post(
                "/v1/setup_intents",
                &format!("customer={customer}&confirm=true&usage=off_session&confirmation_token={id}"),
            )
            .await;
        assert_eq!(seti.status, 200, "{}", seti.body);
        assert_eq!(seti.body["status"], "succeeded");
        let pm = seti.body["payment_method"].as_str().unwrap();
        let attached = app.get(&format!("/v1/payment_methods/{pm}")).await;
        assert_eq!(attached.body["customer"], customer.as_str());
        let used = app.get(&format!("/v1/confirmation_tokens/{id}")).await;
        assert_eq!(used.body["setup_intent"], seti.body["id"]);
    }

    #[actix_web::test]
    async fn a_saved_card_is_not_for_the_browser_nor_without_its_customer() {
        let app = TestApp::new().await;
        let customer = app.post("/v1/customers", "email=c%40example.com").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let pm = app
            .post(
                "/v1/payment_methods",
                "type=card&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2041",
            )
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let attached = app
            .post(
                &format!("/v1/payment_methods/{pm}/attach"),
                &format!("customer={customer}"),
            )
            .await;
        assert_eq!(attached.status, 200, "{}", attached.body);
        let from_browser = app
            .post_unauthenticated(
                "/v1/confirmation_tokens",
                &format!("payment_method={pm}&key=pk_test_sandbox"),
            )
            .await;
        assert_eq!(from_browser.status, 400, "{}", from_browser.body);
        let without_customer = app
            .post(
                "/v1/payment_intents",
                &format!("amount=599&currency=usd&confirm=true&payment_method={pm}"),
            )
            .await;
        assert_eq!(without_customer.status, 400, "{}", without_customer.body);
        let with_customer = app
            .post(
                "/v1/payment_intents",
                &format!("amount=599&currency=usd&confirm=true&payment_method={pm}&customer={customer}"),
            )
            .await;
        assert_eq!(with_customer.status, 200, "{}", with_customer.body);
    }

    #[actix_web::test]
    async fn stripe_js_cannot_change_the_terms_of_a_payment() {
        let app = TestApp::new().await;
        let pi = app.post("/v1/payment_intents", "amount=599&currency=usd").await.body;
        let (id, secret) = (pi["id"].as_str().unwrap(), pi["client_secret"].as_str().unwrap());
        let changed = app
            .post_unauthenticated(
                &format!("/v1/payment_intents/{id}/confirm"),
                &format!(
                    "client_secret={secret}&payment_method=pm_card_visa&capture_method=manual&key=pk_test_sandbox"
                ),
            )
            .await;
        assert_eq!(changed.status, 400, "{}", changed.body);
        assert_eq!(changed.body["error"]["param"], "capture_method");
        let paid = app
            .post_unauthenticated(
                &format!("/v1/payment_intents/{id}/confirm"),
                &format!("client_secret={secret}&payment_method=pm_card_visa&key=pk_test_sandbox"),
            )
            .await;
        assert_eq!(paid.status, 200, "{}", paid.body);
        assert_eq!(paid.body["status"], "succeeded");
    }

    #[actix_web::test]
    async fn sepa_debits_are_processing_then_settle() {
        let app = TestApp::new().await;
        let sepa_token = |iban: &str| {
            format!(
                "payment_method_data[type]=sepa_debit&payment_method_data[sepa_debit][iban]={iban}\
                 &payment_method_data[billing_details][name]=Jenny&payment_method_data[billing_details][email]=j%40example.com\
                 &key=pk_test_sandbox"
            )
        };
        for (iban, settled) in [
            ("DE89370400440532013000", "succeeded"),
            ("DE62370400440532013001", "requires_payment_method"),
        ] {
            let token = app
                .post_unauthenticated("/v1/confirmation_tokens", &sepa_token(iban))
                .await;
            assert_eq!(token.status, 200, "{}", token.body);
            assert_eq!(
                token.body["payment_method_preview"]["sepa_debit"]["last4"],
                &iban[iban.len() - 4..]
            );
            let id = token.body["id"].as_str().unwrap();
            let usd = app
                .post(
                    "/v1/payment_intents",
                    &format!("amount=549&currency=usd&confirm=true&confirmation_token={id}"),
                )
                .await;
            assert_eq!(usd.status, 400, "euros only: {}", usd.body);
            let token = app
                .post_unauthenticated("/v1/confirmation_tokens", &sepa_token(iban))
                .await;
            let id = token.body["id"].as_str().unwrap();
            let pi = app
                .post(
                    "/v1/payment_intents",
                    &format!("amount=549&currency=eur&confirm=true&confirmation_token={id}"),
                )
                .await;
            assert_eq!(pi.status, 200, "{}", pi.body);
            assert_eq!(pi.body["status"], "processing");
            let pi_id = pi.body["id"].as_str().unwrap().to_string();
            app.with_state(|state, call| {
                super::super::super::sepa::settle_due(state, call, i64::MAX);
                Ok(())
            })
            .unwrap();
            let after = app.get(&format!("/v1/payment_intents/{pi_id}")).await;
            assert_eq!(after.body["status"], settled, "{iban}: {}", after.body);
        }
        let bad = app
            .post_unauthenticated("/v1/confirmation_tokens", &sepa_token("DE89370400440532013001"))
            .await;
        assert_eq!(bad.body["error"]["code"], "invalid_bank_account_iban", "{}", bad.body);
        // Whatever is typed: multibyte, huge, empty — a 400, never a panic.
        let huge = "9".repeat(100_000);
        for hostile in ["DE9Ä370400440532013000", "ÄÖÜ", "", huge.as_str()] {
            let answer = app
                .post_unauthenticated("/v1/confirmation_tokens", &sepa_token(hostile))
                .await;
            assert_eq!(answer.status, 400, "{hostile:.20}: {}", answer.body);
        }
    }
}
