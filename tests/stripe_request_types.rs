//! The shipped Stripe request types (modules/stripe), dispatched through
//! GraphQL by a real payforms server against a Stripe peer, with the stored
//! records read back through GraphQL. A flow both peers support runs on
//! both (`on_both!`): localstripe (a third-party fake) and `payforms sandbox`
//! (for what localstripe lacks: prices, Checkout, Connect, webhook
//! endpoints, payouts, and Stripe's error shapes).

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod stripe_support;
mod support;

use serde_json::{json, Value};
use stripe_support::{text, StripeEnv};

/// One #[test] per peer for a flow `fn name(env: &StripeEnv)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn localstripe() {
                super::$name(&super::StripeEnv::localstripe());
            }
            #[test]
            fn sandbox() {
                super::$name(&super::StripeEnv::sandbox());
            }
        }
    )*};
}

macro_rules! on_sandbox {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sandbox() {
                super::$name(&super::StripeEnv::sandbox());
            }
        }
    )*};
}

macro_rules! on_localstripe {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn localstripe() {
                super::$name(&super::StripeEnv::localstripe());
            }
        }
    )*};
}

on_both!(
    customer_lifecycle,
    customer_errors_store_nothing,
    authorize_capture_refund,
    declined_payment_is_never_stored_as_paid,
    payment_with_a_saved_card,
    payment_needing_authentication,
    confirm_later_and_cancel,
    legacy_charge_authorize_and_capture,
    credit_cards_from_tokens,
    payment_methods_attach_and_detach,
    setup_intent_for_later,
    products,
);
on_sandbox!(
    payment_with_a_card_token,
    partial_capture_is_not_a_refund,
    payment_options_reach_stripe,
    prices_and_subscriptions,
    checkout_sessions,
    connect_accounts_persons_transfers,
    payouts_list_their_transactions,
    webhook_endpoint_secret_is_stored_only_encrypted,
);
// Not on localstripe: subscriptions. payforms pins Stripe's current API
// version and expands `latest_invoice.confirmation_secret` (Basil and later);
// localstripe 1.15 speaks 2020 shapes and refuses that expansion ("Bad
// expand"), and has no Basil invoice members. Subscriptions are tested on
// the sandbox (`prices_and_subscriptions`, and the browser scenarios).
on_localstripe!(token_card_id_pays_directly);

/// The module's webhook processors: a change made in Stripe (not through
/// payforms) reaches the records through the signed event.
#[test]
fn webhook_events_update_records() {
    let secret = format!("whsec_{}", support::random_hex(12));
    let localstripe = support::Localstripe::start();
    let env = StripeEnv::with_options(
        stripe_support::Peer::Localstripe(localstripe),
        support::ServerOptions::default().webhook_secret(secret.clone()),
    );
    if let stripe_support::Peer::Localstripe(localstripe) = &env.peer {
        localstripe.register_webhook("payforms", &env.server.url("/webhooks/stripe"), &secret, &[]);
    }
    let record = env.dispatch_ok(
        "create_payment",
        json!({ "amount": 800, "currency": "usd", "paymentMethod": "pm_card_visa", "capture": false }),
    );
    let pi = text(&record["gateway_id"]);
    assert_eq!(record["state"], "authorized");
    let (status, _) = env.stripe_post(&format!("/v1/payment_intents/{pi}/capture"), &[]);
    assert_eq!(status, 200);
    support::wait_for(
        "payment_intent.succeeded to refresh the payment",
        std::time::Duration::from_secs(20),
        || {
            let stored = env.record_by_gateway_id("payments", "state amountCaptured", &pi);
            (stored["state"] == "succeeded").then_some(stored)
        },
    );

    let customer = text(&env.dispatch_ok("create_customer", json!({ "email": "hook@example.com" }))["gateway_id"]);
    let (status, _) = env.stripe_post(&format!("/v1/customers/{customer}"), &[("name", "Renamed in Stripe")]);
    assert_eq!(status, 200);
    support::wait_for(
        "customer.updated to refresh the customer",
        std::time::Duration::from_secs(20),
        || {
            let stored = env.record_by_gateway_id("customers", "name", &customer);
            (stored["name"] == "Renamed in Stripe").then_some(stored)
        },
    );
}

fn graphql_code(error: &Value) -> &str {
    error["extensions"]["code"].as_str().unwrap_or_default()
}

fn stripe_code(error: &Value) -> &str {
    error["extensions"]["stripeErrorCode"].as_str().unwrap_or_default()
}

/// A connected account that may receive transfers, onboarded in steps the
/// way a multi-step form does: create, add the representative, then accept
/// the terms with the same request type (gateway_id makes it an update).
fn onboarded_account(env: &StripeEnv, email: &str) -> (Value, String) {
    let account = env.dispatch_ok(
        "create_account",
        json!({ "email": email, "country": "US", "externalId": "seller-1" }),
    );
    let id = text(&account["gateway_id"]);
    assert_eq!(account["state"], "pending", "{account}");
    assert_eq!(account["charges_enabled"], false);
    env.dispatch_ok(
        "create_person",
        json!({ "accountId": id, "firstName": "Zoë", "lastName": "Ñandú", "relationship": { "representative": true, "title": "CEO" } }),
    );
    let accepted_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let enabled = env.dispatch_ok(
        "create_account",
        json!({ "gatewayId": id, "businessType": "company", "tosAcceptanceDate": accepted_at, "tosAcceptanceIp": "127.0.0.1" }),
    );
    assert_eq!(enabled["id"], account["id"], "the same account record");
    assert_eq!(enabled["state"], "verified", "{enabled}");
    assert_eq!(enabled["charges_enabled"], true);
    assert_eq!(enabled["payouts_enabled"], true);
    (enabled, id)
}

fn customer_lifecycle(env: &StripeEnv) {
    let record = env.dispatch_ok(
        "create_customer",
        json!({
            "email": "ann@example.com",
            "name": "Ann Ünïcode ✓",
            "description": "first customer",
            "externalId": "user-12",
            "metadata": { "plan": "gold & silver" }
        }),
    );
    let id = text(&record["gateway_id"]);
    assert!(id.starts_with("cus_"), "{record}");
    let stored = env.record_by_gateway_id(
        "customers",
        "gatewayId email name description externalId metadata deleted",
        &id,
    );
    assert_eq!(stored["email"], "ann@example.com");
    assert_eq!(stored["name"], "Ann Ünïcode ✓");
    assert_eq!(stored["externalId"], "user-12");
    assert_eq!(stored["deleted"], false);
    assert_eq!(stored["metadata"]["plan"], "gold & silver");
    // external_id travels to Stripe in metadata, next to the caller's own.
    let (status, remote) = env.stripe_get(&format!("/v1/customers/{id}"));
    assert_eq!(status, 200);
    assert_eq!(remote["metadata"]["external_id"], "user-12");
    assert_eq!(remote["metadata"]["plan"], "gold & silver");
    assert_eq!(remote["name"], "Ann Ünïcode ✓");

    let updated = env.dispatch_ok(
        "update_customer",
        json!({ "gatewayId": id, "name": "Ann B.", "phone": "+33 1 23" }),
    );
    assert_eq!(updated["name"], "Ann B.");
    let (_, remote) = env.stripe_get(&format!("/v1/customers/{id}"));
    assert_eq!(remote["name"], "Ann B.");
    assert_eq!(remote["phone"], "+33 1 23");
    assert_eq!(remote["email"], "ann@example.com", "values not given are left alone");

    // An empty value (send_blank) clears it at Stripe and in the record.
    let cleared = env.dispatch_ok("update_customer", json!({ "gatewayId": id, "phone": "" }));
    let (_, remote) = env.stripe_get(&format!("/v1/customers/{id}"));
    assert!(remote["phone"].is_null() || remote["phone"] == "", "{remote}");
    // (Stripe answers null; localstripe keeps the empty text.)
    assert!(cleared["phone"].is_null() || cleared["phone"] == "", "{cleared}");
    assert_eq!(cleared["name"], "Ann B.");

    let fetched = env.dispatch_ok("get_customer", json!({ "gatewayId": id }));
    assert_eq!(fetched["id"], updated["id"], "get_customer refreshes the same record");
    assert_eq!(
        env.records("customers", "gatewayId", json!({ "gatewayId": { "eq": id } }))
            .len(),
        1
    );

    env.dispatch_ok("list_customers", json!({ "email": "ann@example.com", "limit": 5 }));
    let (status, listed) = env.last_response("list_customers");
    assert_eq!(status, 200);
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str()),
        "{listed}"
    );

    env.dispatch_ok("delete_customer", json!({ "gatewayId": id }));
    let stored = env.record_by_gateway_id("customers", "deleted email", &id);
    assert_eq!(stored["deleted"], true, "the record is kept, marked deleted");
    assert_eq!(stored["email"], "ann@example.com");
}

fn customer_errors_store_nothing(env: &StripeEnv) {
    let error = env.dispatch_err("get_customer", json!({ "gatewayId": "cus_doesnotexist" }));
    assert_eq!(graphql_code(&error), "NOT_FOUND", "{error}");
    // An id that is not URL-safe stays inside its path segment.
    let error = env.dispatch_err("get_customer", json!({ "gatewayId": "../customers?limit=1" }));
    assert_eq!(graphql_code(&error), "NOT_FOUND", "{error}");
    // Updating without an id must never fall through to creating one.
    let before = env.stripe_get("/v1/customers?limit=100").1["data"]
        .as_array()
        .unwrap()
        .len();
    let error = env.dispatch_err("update_customer", json!({ "name": "nobody" }));
    assert!(!graphql_code(&error).is_empty(), "{error}");
    let after = env.stripe_get("/v1/customers?limit=100").1["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "no customer was created");
    assert!(
        env.records("customers", "gatewayId", json!({})).is_empty(),
        "nothing stored"
    );
}

fn authorize_capture_refund(env: &StripeEnv) {
    let record = env.dispatch_ok(
        "create_payment",
        json!({
            "amount": 599,
            "currency": "USD",
            "paymentMethod": "pm_card_visa",
            "capture": false,
            "externalId": "order-7",
            "metadata": { "order": "7" }
        }),
    );
    let pi = text(&record["gateway_id"]);
    assert!(pi.starts_with("pi_"), "{record}");
    assert_eq!(record["state"], "authorized");
    assert_eq!(record["amount"], 599);
    assert_eq!(record["currency"], "usd");
    assert_eq!(record["capture_method"], "manual");
    assert_eq!(record["amount_captured"], 0);
    assert_eq!(record["external_id"], "order-7");
    assert!(text(&record["client_secret"]).starts_with(&pi));

    let captured = env.dispatch_ok("capture_payment", json!({ "gatewayId": pi }));
    assert_eq!(captured["id"], record["id"], "the same payment record");
    assert_eq!(captured["state"], "succeeded");
    assert_eq!(captured["amount_captured"], 599);
    assert_eq!(captured["amount_refunded"], 0);

    let payment_id = text(&record["id"]);
    let refund = env.dispatch_ok(
        "create_refund",
        json!({ "gatewayId": pi, "amount": 100, "paymentId": payment_id }),
    );
    assert!(text(&refund["gateway_id"]).starts_with("re_"), "{refund}");
    assert_eq!(refund["amount"], 100);
    assert_eq!(refund["payment_intent_id"], pi.as_str());
    assert_eq!(refund["payment_id"], payment_id.as_str());
    assert_eq!(refund["state"], "succeeded");

    // Refunds show on the charge (the PaymentIntent carries it only in API
    // 2020-08-27's `charges`): get_charge refreshes the payment from it.
    let charge = text(&captured["charge_id"]);
    let refreshed = env.dispatch_ok("get_charge", json!({ "gatewayId": charge }));
    assert_eq!(
        refreshed["id"], record["id"],
        "the charge refreshes its PaymentIntent's payment"
    );
    assert_eq!(refreshed["state"], "partially_refunded");
    assert_eq!(refreshed["amount_refunded"], 100);
    let stored = env.record_by_gateway_id("payments", "state amountRefunded amountCaptured metadata", &pi);
    assert_eq!(stored["state"], "partially_refunded");
    assert_eq!(stored["metadata"]["order"], "7");

    env.dispatch_ok("create_refund", json!({ "paymentIntent": pi, "amount": 499 }));
    let refreshed = env.dispatch_ok("get_charge", json!({ "gatewayId": charge }));
    assert_eq!(refreshed["state"], "refunded");
    assert_eq!(refreshed["amount_refunded"], 599);

    env.dispatch_ok("list_refunds", json!({ "paymentIntent": pi }));
    let (status, listed) = env.last_response("list_refunds");
    assert_eq!(status, 200);
    let amounts: Vec<i64> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["amount"].as_i64())
        .collect();
    assert!(amounts.contains(&100) && amounts.contains(&499), "{listed}");
    assert_eq!(
        env.records("refunds", "gatewayId", json!({ "paymentIntentId": { "eq": pi } }))
            .len(),
        2
    );

    env.dispatch_ok("list_payment_intents", json!({ "limit": 3 }));
    let (status, listed) = env.last_response("list_payment_intents");
    assert_eq!(status, 200);
    assert!(listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == pi.as_str()));
}

fn declined_payment_is_never_stored_as_paid(env: &StripeEnv) {
    // localstripe declines pm_card_chargeCustomerFail when charged; Stripe
    // (and the sandbox) pm_card_chargeDeclined.
    let method = if env.peer.is_localstripe() {
        "pm_card_chargeCustomerFail"
    } else {
        "pm_card_chargeDeclined"
    };
    let error = env.dispatch_err(
        "create_payment",
        json!({ "amount": 1200, "currency": "usd", "paymentMethod": method }),
    );
    assert_eq!(graphql_code(&error), "PAYMENT_FAILED", "{error}");
    assert_eq!(stripe_code(&error), "card_declined", "{error}");
    assert_eq!(error["message"], "Your card was declined");
    let payments = env.records("payments", "gatewayId state amount errorCode", json!({}));
    assert!(payments.iter().all(|p| p["state"] != "succeeded"), "{payments:?}");
    if !env.peer.is_localstripe() {
        // Stripe embeds the PaymentIntent in the error: it is kept as failed.
        assert_eq!(payments.len(), 1, "{payments:?}");
        assert_eq!(payments[0]["state"], "failed");
        assert_eq!(payments[0]["amount"], 1200);
        assert!(!payments[0]["errorCode"].is_null());
    }
}

fn payment_with_a_saved_card(env: &StripeEnv) {
    let (customer, card) = env.customer_with_card("saved@example.com");
    let stored = env.record_by_gateway_id("customers", "defaultPaymentMethod", &customer);
    assert_eq!(stored["defaultPaymentMethod"], card.as_str());
    let record = env.dispatch_ok(
        "create_payment",
        json!({ "amount": 700, "currency": "eur", "customer": customer, "source": card }),
    );
    assert_eq!(record["state"], "succeeded");
    assert_eq!(record["customer_id"], customer.as_str());
    assert_eq!(record["payment_method_id"], card.as_str());
    assert_eq!(record["amount_captured"], 700);
}

fn payment_needing_authentication(env: &StripeEnv) {
    let method = env.payment_method("4000002500003155");
    let record = env.dispatch_ok(
        "create_payment",
        json!({ "amount": 900, "currency": "usd", "paymentMethod": method }),
    );
    assert_eq!(record["state"], "requires_action");
    let pi = text(&record["gateway_id"]);
    assert!(
        text(&record["client_secret"]).starts_with(&format!("{pi}_secret_")),
        "{record}"
    );
    assert_eq!(record["amount_captured"], 0);
}

fn confirm_later_and_cancel(env: &StripeEnv) {
    let record = env.dispatch_ok(
        "create_payment",
        json!({ "amount": 350, "currency": "usd", "description": "" }),
    );
    assert_eq!(record["state"], "pending", "no payment method: nothing confirmed");
    let pi = text(&record["gateway_id"]);
    let updated = env.dispatch_ok(
        "update_payment_intent",
        json!({ "gatewayId": pi, "paymentMethod": "pm_card_visa" }),
    );
    assert_eq!(updated["state"], "pending");
    let confirmed = env.dispatch_ok("confirm_payment_intent", json!({ "gatewayId": pi }));
    assert_eq!(confirmed["state"], "succeeded");
    assert_eq!(confirmed["id"], record["id"]);

    let held = env.dispatch_ok(
        "create_payment",
        json!({ "amount": 480, "currency": "usd", "paymentMethod": "pm_card_visa", "capture": false }),
    );
    let canceled = env.dispatch_ok(
        "cancel_payment_intent",
        json!({ "gatewayId": text(&held["gateway_id"]) }),
    );
    assert_eq!(canceled["state"], "canceled");
    // A succeeded payment cannot be canceled; its record stays as it was.
    let error = env.dispatch_err("cancel_payment_intent", json!({ "gatewayId": pi }));
    assert_eq!(graphql_code(&error), "BAD_USER_INPUT", "{error}");
    assert_eq!(env.record_by_gateway_id("payments", "state", &pi)["state"], "succeeded");
}

fn legacy_charge_authorize_and_capture(env: &StripeEnv) {
    let (customer, _card) = env.customer_with_card("charge@example.com");
    let record = env.dispatch_ok(
        "create_charge",
        json!({ "amount": 1000, "currency": "usd", "customer": customer, "capture": false, "externalId": "5" }),
    );
    let charge = text(&record["gateway_id"]);
    assert!(charge.starts_with("ch_"), "{record}");
    assert_eq!(record["kind"], "charge");
    assert_eq!(record["state"], "authorized");
    assert_eq!(record["external_id"], "5");
    let captured = env.dispatch_ok("capture_payment", json!({ "gatewayId": charge }));
    assert_eq!(captured["id"], record["id"]);
    assert_eq!(captured["state"], "succeeded");
    assert_eq!(captured["amount_captured"], 1000);
}

fn credit_cards_from_tokens(env: &StripeEnv) {
    let customer = text(&env.dispatch_ok("create_customer", json!({ "email": "cards@example.com" }))["gateway_id"]);
    let token = env.card_token("4242424242424242");
    let card = env.dispatch_ok(
        "create_credit_card",
        json!({ "customerId": customer, "source": text(&token["id"]), "externalId": "user-9" }),
    );
    let card_id = text(&card["gateway_id"]);
    assert!(card_id.starts_with("card_"), "{card}");
    assert_eq!(card["customer_id"], customer.as_str());
    assert_eq!(card["last4"], "4242");
    assert_eq!(card["exp_month"], 12);
    assert_eq!(card["exp_year"], 2031);
    assert_eq!(card["external_id"], "user-9");
    assert!(card["brand"].as_str().unwrap().eq_ignore_ascii_case("visa"));

    // A card declined when saved is reported and not stored.
    let declined = env.card_token("4000000000000002");
    let error = env.dispatch_err(
        "create_credit_card",
        json!({ "customerId": customer, "source": text(&declined["id"]) }),
    );
    assert_eq!(stripe_code(&error), "card_declined", "{error}");
    assert_eq!(
        env.records("creditCards", "gatewayId", json!({ "customerId": { "eq": customer } }))
            .len(),
        1
    );

    env.dispatch_ok(
        "delete_credit_card",
        json!({ "customerId": customer, "gatewayId": card_id }),
    );
    assert!(env
        .records("creditCards", "gatewayId", json!({ "gatewayId": { "eq": card_id } }))
        .is_empty());
}

fn payment_methods_attach_and_detach(env: &StripeEnv) {
    let customer = text(&env.dispatch_ok("create_customer", json!({ "email": "pm@example.com" }))["gateway_id"]);
    let method = env.payment_method("4242424242424242");
    let card = env.dispatch_ok(
        "attach_payment_method",
        json!({ "gatewayId": method, "customerId": customer }),
    );
    assert_eq!(card["gateway_id"], method.as_str());
    assert_eq!(card["customer_id"], customer.as_str());
    assert_eq!(card["last4"], "4242");

    env.dispatch_ok("list_payment_methods", json!({ "customer": customer }));
    let (status, listed) = env.last_response("list_payment_methods");
    assert_eq!(status, 200);
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == method.as_str()),
        "{listed}"
    );

    env.dispatch_ok("detach_payment_method", json!({ "gatewayId": method }));
    // Kept as history, without a customer: no customer's card list shows it.
    let kept = env.records(
        "creditCards",
        "gatewayId customerId",
        json!({ "gatewayId": { "eq": method } }),
    );
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0]["customerId"].is_null(), "{kept:?}");
}

fn setup_intent_for_later(env: &StripeEnv) {
    let customer = text(&env.dispatch_ok("create_customer", json!({ "email": "later@example.com" }))["gateway_id"]);
    let intent = env.dispatch_ok(
        "create_setup_intent",
        json!({ "customer": customer, "metadata": { "why": "later" } }),
    );
    let id = text(&intent["gateway_id"]);
    assert!(id.starts_with("seti_"), "{intent}");
    assert_eq!(intent["customer_id"], customer.as_str());
    assert_eq!(intent["state"], "requires_payment_method");
    assert!(text(&intent["client_secret"]).starts_with(&id));
    assert_eq!(intent["metadata"]["why"], "later");
}

fn products(env: &StripeEnv) {
    let product = env.dispatch_ok(
        "create_product",
        json!({ "name": "Sticker pack ✓", "description": "Ten stickers", "metadata": { "sku": "S-10" } }),
    );
    let id = text(&product["gateway_id"]);
    assert!(id.starts_with("prod_"), "{product}");
    assert_eq!(product["name"], "Sticker pack ✓");
    assert_eq!(product["active"], true);
    assert_eq!(product["metadata"]["sku"], "S-10");
    env.dispatch_ok("list_products", json!({ "active": true, "limit": 100 }));
    let (status, listed) = env.last_response("list_products");
    assert_eq!(status, 200);
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == id.as_str()),
        "{listed}"
    );
    // A product needs a name: Stripe refuses, nothing is stored.
    let error = env.dispatch_err("create_product", json!({ "description": "nameless" }));
    assert_eq!(graphql_code(&error), "BAD_USER_INPUT", "{error}");
    assert_eq!(env.records("products", "gatewayId", json!({})).len(), 1);
}

fn payment_with_a_card_token(env: &StripeEnv) {
    // Stripe turns a Stripe.js token into a PaymentMethod through
    // payment_method_data[card][token] (localstripe 1.15 cannot).
    let token = env.card_token("4242424242424242");
    let record = env.dispatch_ok(
        "create_payment",
        json!({ "amount": 599, "currency": "usd", "source": text(&token["id"]) }),
    );
    assert_eq!(record["state"], "succeeded", "{record}");
    assert_eq!(record["amount_captured"], 599);
}

fn token_card_id_pays_directly(env: &StripeEnv) {
    // What the card form posts on a Stripe.js mock: the token's card id.
    let token = env.card_token("4242424242424242");
    let record = env.dispatch_ok(
        "create_payment",
        json!({ "amount": 599, "currency": "usd", "source": text(&token["card"]["id"]) }),
    );
    assert_eq!(record["state"], "succeeded", "{record}");
    // localstripe refuses payment_method_data: a bare token is reported, not stored.
    let token = env.card_token("4242424242424242");
    let error = env.dispatch_err(
        "create_payment",
        json!({ "amount": 599, "currency": "usd", "source": text(&token["id"]) }),
    );
    assert_eq!(graphql_code(&error), "BAD_USER_INPUT", "{error}");
    assert_eq!(env.records("payments", "gatewayId", json!({})).len(), 1);
}

fn partial_capture_is_not_a_refund(env: &StripeEnv) {
    let record = env.dispatch_ok(
        "create_payment",
        json!({ "amount": 1000, "currency": "usd", "paymentMethod": "pm_card_visa", "capture": false }),
    );
    let captured = env.dispatch_ok(
        "capture_payment",
        json!({ "gatewayId": text(&record["gateway_id"]), "amountToCapture": 600 }),
    );
    assert_eq!(captured["state"], "succeeded", "{captured}");
    assert_eq!(captured["amount_captured"], 600);
    assert_eq!(captured["amount_refunded"], 0, "the released 400 is not a refund");
}

fn payment_options_reach_stripe(env: &StripeEnv) {
    let (_, account) = onboarded_account(env, "seller@example.com");
    let record = env.dispatch_ok(
        "create_payment",
        json!({
            "amount": 2500,
            "currency": "usd",
            "paymentMethod": "pm_card_visa",
            "description": "Order 42 — ünïcode",
            "statementDescriptor": "PAYFORMS 42",
            "email": "buyer@example.com",
            "applicationFee": 250,
            "destination": account,
            "transferGroup": "order-42"
        }),
    );
    assert_eq!(record["state"], "succeeded");
    assert_eq!(record["description"], "Order 42 — ünïcode");
    assert_eq!(record["email"], "buyer@example.com");
    assert_eq!(record["application_fee"], 250);
    assert_eq!(record["destination"], account.as_str());
    assert_eq!(record["transfer_group"], "order-42");
    let (_, remote) = env.stripe_get(&format!("/v1/payment_intents/{}", text(&record["gateway_id"])));
    assert_eq!(remote["receipt_email"], "buyer@example.com");
    assert_eq!(remote["application_fee_amount"], 250);
    assert_eq!(remote["transfer_data"]["destination"], account.as_str());
    assert_eq!(remote["statement_descriptor"], "PAYFORMS 42");
}

fn prices_and_subscriptions(env: &StripeEnv) {
    let product = text(&env.dispatch_ok("create_product", json!({ "name": "Gold plan" }))["gateway_id"]);
    let price = env.dispatch_ok(
        "create_price",
        json!({ "productId": product, "unitAmount": 1500, "currency": "usd", "interval": "month" }),
    );
    let price_id = text(&price["gateway_id"]);
    assert!(price_id.starts_with("price_"), "{price}");
    assert_eq!(price["product_id"], product.as_str());
    assert_eq!(price["unit_amount"], 1500);
    assert_eq!(price["recurring_interval"], "month");
    env.dispatch_ok("list_prices", json!({ "product": product }));
    let (_, listed) = env.last_response("list_prices");
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == price_id.as_str()),
        "{listed}"
    );

    let (customer, _card) = env.customer_with_card("subscriber@example.com");
    let subscription = env.dispatch_ok(
        "create_subscription",
        json!({ "customer": customer, "price": price_id, "quantity": 2, "metadata": { "seat": "team" } }),
    );
    let sub = text(&subscription["gateway_id"]);
    assert!(sub.starts_with("sub_"), "{subscription}");
    assert_eq!(subscription["state"], "active");
    assert_eq!(subscription["price_id"], price_id.as_str());
    assert_eq!(subscription["quantity"], 2);
    assert_eq!(subscription["cancel_at_period_end"], false);
    assert!(
        subscription["current_period_end"].is_string(),
        "periods are stored as datetimes: {subscription}"
    );
    let invoice_id = text(&subscription["latest_invoice_id"]);

    let invoice = env.dispatch_ok("get_invoice", json!({ "gatewayId": invoice_id }));
    assert_eq!(invoice["subscription_id"], sub.as_str());
    assert_eq!(invoice["customer_id"], customer.as_str());
    assert_eq!(invoice["state"], "paid");
    assert_eq!(invoice["amount_paid"], 3000);
    assert!(invoice["lines"].as_array().is_some_and(|l| !l.is_empty()), "{invoice}");
    // Paying a paid invoice is refused and changes nothing.
    let error = env.dispatch_err("pay_invoice", json!({ "gatewayId": invoice_id }));
    assert_eq!(graphql_code(&error), "BAD_USER_INPUT", "{error}");
    assert_eq!(
        env.record_by_gateway_id("invoices", "state", &invoice_id)["state"],
        "paid"
    );
    env.dispatch_ok("list_invoices", json!({ "customer": customer }));
    let (_, listed) = env.last_response("list_invoices");
    assert!(listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == invoice_id.as_str()));

    let fetched = env.dispatch_ok("get_subscription", json!({ "gatewayId": sub }));
    assert_eq!(fetched["id"], subscription["id"]);
    let later = env.dispatch_ok(
        "update_subscription",
        json!({ "gatewayId": sub, "cancelAtPeriodEnd": true }),
    );
    assert_eq!(later["cancel_at_period_end"], true);
    assert_eq!(later["state"], "active");
    // Cancel at period end: the subscription runs on until its period ends.
    let at_end = env.dispatch_ok("cancel_subscription", json!({ "gatewayId": sub, "atPeriodEnd": true }));
    assert_eq!(at_end["cancel_at_period_end"], true, "{at_end}");
    assert_eq!(at_end["state"], "active", "{at_end}");
    assert_eq!(
        env.stripe_get(&format!("/v1/subscriptions/{sub}")).1["status"],
        "active"
    );

    let canceled = env.dispatch_ok("cancel_subscription", json!({ "gatewayId": sub }));
    assert_eq!(canceled["state"], "canceled");
    env.dispatch_ok("list_subscriptions", json!({ "customer": customer, "status": "all" }));
    let (_, listed) = env.last_response("list_subscriptions");
    assert!(listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == sub.as_str() && s["status"] == "canceled"));
}

fn checkout_sessions(env: &StripeEnv) {
    let session = env.dispatch_ok(
        "create_checkout_session",
        json!({
            "amount": 599,
            "currency": "usd",
            "name": "Sticker pack",
            "quantity": 2,
            "successUrl": "http://shop.test/done?session={CHECKOUT_SESSION_ID}",
            "cancelUrl": "http://shop.test/cart",
            "email": "buyer@example.com",
            "externalId": "cart-3"
        }),
    );
    let id = text(&session["gateway_id"]);
    assert!(id.starts_with("cs_"), "{session}");
    assert_eq!(session["mode"], "payment");
    assert_eq!(session["state"], "open");
    assert_eq!(session["amount_total"], 1198);
    assert!(text(&session["url"]).starts_with("http"), "{session}");
    let (_, remote) = env.stripe_get(&format!("/v1/checkout/sessions/{id}"));
    assert_eq!(remote["client_reference_id"], "cart-3");
    assert_eq!(remote["customer_email"], "buyer@example.com");
    let fetched = env.dispatch_ok("get_checkout_session", json!({ "gatewayId": id }));
    assert_eq!(fetched["id"], session["id"]);

    // Subscription mode from a recurring price.
    let product = text(&env.dispatch_ok("create_product", json!({ "name": "Club" }))["gateway_id"]);
    let price = text(
        &env.dispatch_ok(
            "create_price",
            json!({ "product": product, "amount": 900, "currency": "usd", "interval": "month" }),
        )["gateway_id"],
    );
    let session = env.dispatch_ok(
        "create_checkout_session",
        json!({ "mode": "subscription", "price": price, "successUrl": "http://shop.test/ok", "cancelUrl": "http://shop.test/no" }),
    );
    assert_eq!(session["mode"], "subscription");
    // Missing URLs: Stripe's error, nothing stored.
    let error = env.dispatch_err("create_checkout_session", json!({ "price": price }));
    assert_eq!(graphql_code(&error), "BAD_USER_INPUT", "{error}");
    assert_eq!(env.records("checkoutSessions", "gatewayId", json!({})).len(), 2);
}

fn connect_accounts_persons_transfers(env: &StripeEnv) {
    let (account, id) = onboarded_account(env, "seller@example.com");
    assert!(id.starts_with("acct_"), "{account}");
    assert_eq!(account["email"], "seller@example.com");
    assert_eq!(account["account_type"], "custom");
    assert_eq!(account["external_id"], "seller-1");
    let updated = env.dispatch_ok(
        "create_account",
        json!({ "gatewayId": id, "email": "seller2@example.com" }),
    );
    assert_eq!(updated["id"], account["id"]);
    assert_eq!(updated["email"], "seller2@example.com");
    let fetched = env.dispatch_ok("get_account", json!({ "gatewayId": id }));
    assert_eq!(fetched["id"], account["id"]);

    let person = env.dispatch_ok(
        "create_person",
        json!({
            "accountId": id,
            "firstName": "Élodie",
            "lastName": "Owner",
            "email": "elodie@example.com",
            "relationship": { "owner": true },
            "dob": { "day": 1, "month": 2, "year": 1980 }
        }),
    );
    assert!(text(&person["gateway_id"]).starts_with("person_"), "{person}");
    assert_eq!(person["account_id"], id.as_str());
    assert_eq!(person["first_name"], "Élodie");
    assert_eq!(person["relationship"]["owner"], true);
    env.dispatch_ok("get_persons", json!({ "gatewayId": id }));
    let (_, listed) = env.last_response("get_persons");
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(
        env.records("persons", "gatewayId", json!({ "accountId": { "eq": id } }))
            .len(),
        2
    );

    let transfer = env.dispatch_ok(
        "create_transfer",
        json!({ "amount": 700, "currency": "usd", "destination": id, "transferGroup": "order-9" }),
    );
    assert!(text(&transfer["gateway_id"]).starts_with("tr_"), "{transfer}");
    assert_eq!(transfer["destination"], id.as_str());
    assert_eq!(transfer["amount"], 700);
    assert_eq!(transfer["transfer_group"], "order-9");

    env.dispatch_ok("delete_account", json!({ "gatewayId": id }));
    assert!(env
        .records("accounts", "gatewayId", json!({ "gatewayId": { "eq": id } }))
        .is_empty());
}

fn payouts_list_their_transactions(env: &StripeEnv) {
    env.dispatch_ok(
        "create_payment",
        json!({ "amount": 5000, "currency": "usd", "paymentMethod": "pm_card_visa" }),
    );
    let (status, payout) = env.stripe_post("/v1/payouts", &[("amount", "1000"), ("currency", "usd")]);
    assert_eq!(status, 200, "{payout}");
    let payout_id = text(&payout["id"]);
    let record = env.dispatch_ok("get_payout", json!({ "payoutId": payout_id }));
    assert_eq!(record["gateway_id"], payout_id.as_str());
    let transactions = record["balance_transactions"].as_array().expect("balance transactions");
    assert!(!transactions.is_empty(), "{record}");
    assert!(transactions
        .iter()
        .all(|t| t["id"].as_str().is_some_and(|id| id.starts_with("txn_"))));
    if transactions.iter().any(|t| t["type"] == "payout") {
        assert_eq!(record["amount"], 1000);
    }
    // A connected account's payout goes with the Stripe-Account header.
    let account =
        text(&env.dispatch_ok("create_account", json!({ "email": "p@example.com", "country": "US" }))["gateway_id"]);
    let _ = env.dispatch("get_payout", json!({ "payoutId": payout_id, "accountId": account }));
    let logged = env.records(
        "gatewayRequests",
        "requestType url",
        json!({ "requestType": { "eq": "modules/stripe/get_payout" } }),
    );
    assert!(
        logged
            .iter()
            .all(|r| r["url"].as_str().unwrap().contains(&format!("payout={payout_id}"))),
        "{logged:?}"
    );
}

fn webhook_endpoint_secret_is_stored_only_encrypted(env: &StripeEnv) {
    // Where Stripe sends events is payforms' own business (its start-up
    // subscription, tests/webhooks.rs): no API key may create an endpoint.
    let refused = env.dispatch_err(
        "create_webhook_endpoint",
        json!({ "url": "https://evil.example/steal", "enabledEvents": ["*"] }),
    );
    assert!(
        refused["message"].as_str().unwrap_or_default().contains("Unknown"),
        "{refused}"
    );
    assert!(env.records("webhookEndpoints", "id", json!({})).is_empty());
    let logged = env.records(
        "gatewayRequests",
        "responseBody",
        json!({ "requestType": { "eq": "modules/stripe/create_webhook_endpoint" } }),
    );
    assert!(logged.is_empty(), "nothing was sent: {logged:?}");

    env.dispatch_ok("get_webhook_endpoints", json!({}));
    let (status, listed) = env.last_response("get_webhook_endpoints");
    assert_eq!(status, 200);
    assert!(listed["data"].as_array().is_some(), "{listed}");
}

/// Every request type of the brief ships as notification + mapper, pins the
/// API version, and the module loads without a problem.
#[test]
fn every_request_type_is_shipped_pinned_and_loads() {
    const REQUEST_TYPES: &[&str] = &[
        "create_customer",
        "get_customer",
        "update_customer",
        "delete_customer",
        "list_customers",
        "create_payment",
        "get_payment_intent",
        "update_payment_intent",
        "confirm_payment_intent",
        "cancel_payment_intent",
        "capture_payment",
        "list_payment_intents",
        "create_charge",
        "get_charge",
        "create_refund",
        "list_refunds",
        "create_credit_card",
        "delete_credit_card",
        "list_payment_methods",
        "attach_payment_method",
        "detach_payment_method",
        "create_setup_intent",
        "get_setup_intent",
        "create_checkout_session",
        "get_checkout_session",
        "create_product",
        "list_products",
        "create_price",
        "list_prices",
        "create_subscription",
        "get_subscription",
        "update_subscription",
        "cancel_subscription",
        "list_subscriptions",
        "get_invoice",
        "list_invoices",
        "pay_invoice",
        "create_account",
        "get_account",
        "delete_account",
        "create_person",
        "get_persons",
        "create_transfer",
        "get_payout",
        "create_webhook_endpoint",
        "get_webhook_endpoints",
    ];
    let module = support::repo_root().join("modules/stripe");
    let version = std::fs::read_to_string(module.join("templates/partials/api_version.liquid")).unwrap();
    assert!(
        version.trim_end().ends_with("2026-09-30.endive"),
        "the current API version: {version}"
    );
    let defaults = std::fs::read_to_string(module.join("notifications/defaults.yml")).unwrap();
    assert!(
        defaults.contains(r#""Stripe-Version": "{% include 'modules/stripe/api_version' %}""#),
        "every request type of the module is pinned by its defaults: {defaults}"
    );
    for name in REQUEST_TYPES {
        let notification = module.join(format!("notifications/api_call_notifications/{name}.liquid"));
        let text =
            std::fs::read_to_string(&notification).unwrap_or_else(|_| panic!("{} is missing", notification.display()));
        // The module's notifications/defaults.yml pins the version for all.
        assert!(
            !text.contains("Stripe-Version") || text.contains("include 'modules/stripe/api_version'"),
            "{name} must keep the API version of modules/stripe/api_version"
        );
        assert!(
            !text.contains("sk_test_") && !text.contains("sk_live_"),
            "{name}: keys come from settings"
        );
        let mapper = module.join(format!("templates/response_mappers/{name}.liquid"));
        assert!(mapper.is_file(), "{} is missing", mapper.display());
    }
    let output = std::process::Command::new(support::payforms_bin())
        .args(["check", "--app"])
        .arg(support::repo_root())
        .output()
        .expect("run payforms check");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "payforms check found problems:\n{printed}");
    assert!(
        !printed.contains("modules/stripe/"),
        "a problem in modules/stripe:\n{printed}"
    );
}
