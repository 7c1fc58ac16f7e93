//! Checkout Sessions (payment, setup, subscription): create with
//! `line_items` (`price` or `price_data`, `quantity`), retrieve, list,
//! line items, expire. The session's `url` is the sandbox's hosted page
//! (`pages.rs`); paying there completes the session through the same
//! PaymentIntent / SetupIntent / Subscription code the API uses, sends
//! `checkout.session.completed` and redirects to `success_url`.

use serde_json::{json, Map, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::{self, LIST_PARAMS};
use super::super::money;
use super::super::params::Params;
use super::super::state::State;
use super::{
    customers, list_of, matches_filter, payment_intents, payment_methods, prices, setup_intents, subscriptions,
};

pub const ROUTES: &[ApiRoute] = &[
    post("/checkout/sessions", create),
    get("/checkout/sessions", list),
    get("/checkout/sessions/{id}", retrieve),
    get("/checkout/sessions/{id}/line_items", line_items),
    post("/checkout/sessions/{id}/expire", expire),
];

/// The test cards offered on the hosted page: (magic id, label).
pub const HOSTED_CARDS: &[(&str, &str)] = &[
    ("pm_card_visa", "Visa •••• 4242 (succeeds)"),
    ("pm_card_mastercard", "Mastercard •••• 4444 (succeeds)"),
    ("pm_card_chargeDeclined", "Visa •••• 0002 (declined)"),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "Visa •••• 9995 (insufficient funds)",
    ),
];

pub fn fetch(state: &State, call: &Call, id: &str) -> Result<Value, ApiError> {
    state
        .objects
        .fetch(call.owner(), "checkout.session", "checkout.session", id, "session")
}

fn http_url(p: &Params, key: &str) -> Result<Option<String>, ApiError> {
    let Some(raw) = p.str(key)? else {
        return Ok(None);
    };
    match url::Url::parse(&raw.replace("{CHECKOUT_SESSION_ID}", "x")) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(Some(raw)),
        _ => Err(ApiError::invalid_param(key, format!("Not a valid URL: {raw}")).with_code("url_invalid")),
    }
}

/// Read `line_items[i]`: stored line item objects (`li_`) with their prices.
fn read_line_items(state: &mut State, call: &Call, items: &[Params], mode: &str) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for item in items {
        item.allow(&[
            "price",
            "price_data",
            "quantity",
            "adjustable_quantity",
            "tax_rates",
            "dynamic_tax_rates",
        ])?;
        let quantity = item
            .int("quantity")?
            .ok_or_else(|| ApiError::missing_param(&item.full_name("quantity")))?;
        if !(1..=999_999).contains(&quantity) {
            return Err(ApiError::invalid_param(
                &item.full_name("quantity"),
                "Quantity must be between 1 and 999999.",
            ));
        }
        let price = match (item.str("price")?, item.hash("price_data")?) {
            (Some(id), None) => prices::fetch(state, call, &id, &item.full_name("price"))?,
            (None, Some(data)) => {
                data.allow(&[
                    "currency",
                    "product",
                    "product_data",
                    "unit_amount",
                    "unit_amount_decimal",
                    "recurring",
                    "tax_behavior",
                ])?;
                let product = prices::product_for(state, call, &data)?;
                prices::from_params(state, call, &data, &product)?
            }
            (Some(_), Some(_)) => {
                return Err(
                    ApiError::invalid("You may only specify one of these parameters: price, price_data.")
                        .with_param(&item.full_name("price")),
                )
            }
            (None, None) => return Err(ApiError::missing_param(&item.full_name("price"))),
        };
        let recurring = price["type"] == "recurring";
        if mode == "payment" && recurring {
            return Err(ApiError::invalid_param(
                &item.full_name("price"),
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
            ));
        }
        if mode == "subscription" && !recurring {
            return Err(ApiError::invalid_param(
                &item.full_name("price"),
                "The payforms sandbox supports recurring prices only in `subscription` mode.",
            ));
        }
        let unit = price["unit_amount"].as_i64().unwrap_or(0);
        let name = state
            .objects
            .get(call.owner(), price["product"].as_str().unwrap_or(""))
            .and_then(|p| p["name"].as_str().map(str::to_string));
        out.push(json!({
            "id": ids::new_id("li_"),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": unit * quantity,
            "amount_tax": 0,
            "amount_total": unit * quantity,
            "currency": price["currency"],
            "description": name,
            "price": price,
            "quantity": quantity
        }));
    }
    if let Some(first) = out.first() {
        if out.iter().any(|i| i["currency"] != first["currency"]) {
            return Err(ApiError::invalid_param(
                "line_items",
                "All line items must use the same currency.",
            ));
        }
    }
    Ok(out)
}

/// The nested `*_data` hash as given, after checking its members.
fn data_hash(p: &Params, key: &str, allowed: &[&str]) -> Result<Value, ApiError> {
    match p.hash(key)? {
        Some(h) => {
            h.allow(allowed)?;
            Ok(Value::Object(h.as_map().clone()))
        }
        None => Ok(json!({})),
    }
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "mode",
        "success_url",
        "cancel_url",
        "line_items",
        "customer",
        "customer_email",
        "customer_creation",
        "client_reference_id",
        "metadata",
        "payment_intent_data",
        "subscription_data",
        "setup_intent_data",
        "currency",
        "payment_method_types",
        "expires_at",
        "locale",
        "allow_promotion_codes",
        "billing_address_collection",
        "submit_type",
        "ui_mode",
        "automatic_tax",
        "phone_number_collection",
    ])?;
    let mode = p
        .choice("mode", &["payment", "setup", "subscription"])?
        .ok_or_else(|| ApiError::missing_param("mode"))?;
    if let Some(ui) = p.str("ui_mode")? {
        if ui != "hosted" {
            return Err(ApiError::invalid_param(
                "ui_mode",
                "The payforms sandbox serves hosted Checkout only.",
            ));
        }
    }
    let success_url = http_url(p, "success_url")?.ok_or_else(|| ApiError::missing_param("success_url"))?;
    let cancel_url = http_url(p, "cancel_url")?;
    let customer = p.str("customer")?;
    let customer_email = super::email(p, "customer_email")?;
    if customer.is_some() && customer_email.is_some() {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: customer, customer_email.",
        ));
    }
    let customer_obj = match &customer {
        Some(c) => Some(customers::fetch(state, call, c, "customer")?),
        None => None,
    };
    if let Some(types) = p.str_list("payment_method_types")? {
        if let Some(other) = types.iter().find(|t| *t != "card") {
            return Err(ApiError::invalid_param(
                "payment_method_types",
                format!("The payment method type {other} is not supported by the payforms sandbox (card only)."),
            ));
        }
    }
    let item_params = p.hash_list("line_items")?;
    if mode == "setup" && !item_params.is_empty() {
        return Err(ApiError::invalid_param(
            "line_items",
            "line_items cannot be used in `setup` mode.",
        ));
    }
    if mode != "setup" && item_params.is_empty() {
        return Err(ApiError::missing_param("line_items"));
    }
    if mode != "payment" && p.has("payment_intent_data") {
        return Err(ApiError::invalid_param(
            "payment_intent_data",
            "payment_intent_data can only be used in `payment` mode.",
        ));
    }
    if mode != "subscription" && p.has("subscription_data") {
        return Err(ApiError::invalid_param(
            "subscription_data",
            "subscription_data can only be used in `subscription` mode.",
        ));
    }
    let payment_intent_data = data_hash(
        p,
        "payment_intent_data",
        &[
            "metadata",
            "description",
            "capture_method",
            "application_fee_amount",
            "transfer_data",
            "setup_future_usage",
            "statement_descriptor",
            "statement_descriptor_suffix",
            "transfer_group",
            "receipt_email",
            "on_behalf_of",
            "shipping",
        ],
    )?;
    let subscription_data = data_hash(
        p,
        "subscription_data",
        &[
            "trial_period_days",
            "metadata",
            "description",
            "trial_end",
            "application_fee_percent",
            "transfer_data",
        ],
    )?;
    let setup_intent_data = data_hash(p, "setup_intent_data", &["metadata", "description", "on_behalf_of"])?;
    let items = read_line_items(state, call, &item_params, &mode)?;
    let currency = match items.first() {
        Some(first) => first["currency"].as_str().map(str::to_string),
        None => money::currency(p, "currency")?,
    };
    let trial = subscription_data.get("trial_period_days").is_some() || subscription_data.get("trial_end").is_some();
    let subtotal: i64 = items.iter().filter_map(|i| i["amount_total"].as_i64()).sum();
    let total = if trial { 0 } else { subtotal };
    let expires_at = match p.int("expires_at")? {
        Some(t) if t < call.now + 1800 || t > call.now + 86_400 => {
            return Err(ApiError::invalid_param(
                "expires_at",
                "expires_at must be between 30 minutes and 24 hours from now.",
            ))
        }
        Some(t) => t,
        None => call.now + 86_400,
    };
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    let id = ids::checkout_session_id();
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "after_expiration": null,
        "allow_promotion_codes": p.bool("allow_promotion_codes")?,
        "amount_subtotal": if mode == "setup" { Value::Null } else { json!(subtotal) },
        "amount_total": if mode == "setup" { Value::Null } else { json!(total) },
        "automatic_tax": {"enabled": false, "liability": null, "status": null},
        "billing_address_collection": p.choice("billing_address_collection", &["auto", "required"])?,
        "cancel_url": cancel_url,
        "client_reference_id": p.str("client_reference_id")?,
        "client_secret": null,
        "consent": null,
        "created": call.now,
        "currency": currency,
        "customer": customer,
        "customer_creation": if customer.is_some() { Value::Null } else { json!(p.choice("customer_creation", &["always", "if_required"])?.unwrap_or_else(|| "if_required".into())) },
        "customer_details": customer_obj.as_ref().map(|c| json!({"address": null, "email": c["email"], "name": c["name"], "phone": c["phone"], "tax_exempt": "none", "tax_ids": []})),
        "customer_email": customer_email,
        "expires_at": expires_at,
        "invoice": null,
        "livemode": false,
        "locale": p.str("locale")?,
        "metadata": metadata,
        "mode": mode,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_types": ["card"],
        "payment_status": if mode == "setup" { "no_payment_required" } else { "unpaid" },
        "setup_intent": null,
        "status": "open",
        "submit_type": p.choice("submit_type", &["auto", "book", "donate", "pay", "subscribe"])?,
        "subscription": null,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": format!("{}/checkout/pay/{id}", call.base_url)
    });
    state.checkout_line_items.insert(id.clone(), items);
    state.checkout_data.insert(id.clone(), json!({"payment_intent_data": payment_intent_data, "subscription_data": subscription_data, "setup_intent_data": setup_intent_data}));
    state.objects.insert(call.owner(), session.clone());
    Ok(with_line_items(state, call, session))
}

/// Add `line_items` when the caller expands it.
fn with_line_items(state: &State, call: &Call, mut session: Value) -> Value {
    if call.expands("line_items") {
        let id = session["id"].as_str().unwrap_or_default().to_string();
        let items = state.checkout_line_items.get(&id).cloned().unwrap_or_default();
        session["line_items"] = list::envelope(items, false, &format!("/v1/checkout/sessions/{id}/line_items"));
    }
    session
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let session = fetch(state, call, call.path("id"))?;
    Ok(with_line_items(state, call, session))
}

fn line_items(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(LIST_PARAMS)?;
    let id = call.path("id").to_string();
    fetch(state, call, &id)?;
    let items = state.checkout_line_items.get(&id).cloned().unwrap_or_default();
    list::page(
        items,
        &call.params,
        &format!("/v1/checkout/sessions/{id}/line_items"),
        "line item",
    )
}

fn expire(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let mut session = fetch(state, call, call.path("id"))?;
    if session["status"] != "open" {
        return Err(ApiError::unexpected_state(
            "checkout_session_unexpected_state",
            format!(
                "Only Checkout Sessions with a status of open can be expired; this one is {}.",
                session["status"].as_str().unwrap_or("")
            ),
        ));
    }
    session["status"] = json!("expired");
    state.objects.replace(session.clone());
    state.emit(call, "checkout.session.expired", &session);
    Ok(session)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["customer", "payment_intent", "subscription", "status", "payment_link"]);
    call.params.allow(&allowed)?;
    let p = &call.params;
    let (customer, pi, sub, status) = (
        p.str("customer")?,
        p.str("payment_intent")?,
        p.str("subscription")?,
        p.choice("status", &["open", "complete", "expired"])?,
    );
    list_of(
        state,
        call,
        "checkout.session",
        "checkout.session",
        "/v1/checkout/sessions",
        |s| {
            matches_filter(s, "customer", &customer)
                && matches_filter(s, "payment_intent", &pi)
                && matches_filter(s, "subscription", &sub)
                && matches_filter(s, "status", &status)
        },
    )
}

/// The `*_data` hash saved at creation, as request parameters.
fn saved(state: &State, id: &str, key: &str) -> Map<String, Value> {
    state
        .checkout_data
        .get(id)
        .and_then(|d| d[key].as_object().cloned())
        .unwrap_or_default()
}

/// Complete an open session the way the hosted page's Pay button does:
/// pay with `card` (a magic `pm_card_*` id), create what the mode calls
/// for, send `checkout.session.completed`. Returns where to redirect.
pub fn complete(
    state: &mut State,
    call: &Call,
    id: &str,
    card: &str,
    email: Option<String>,
) -> Result<String, ApiError> {
    let mut session = fetch(state, call, id)?;
    if session["status"] != "open" {
        return Err(ApiError::unexpected_state(
            "checkout_session_unexpected_state",
            format!("This Checkout Session is {}.", session["status"].as_str().unwrap_or("")),
        ));
    }
    if session["expires_at"].as_i64().unwrap_or(0) <= call.now {
        return Err(ApiError::unexpected_state(
            "checkout_session_unexpected_state",
            "This Checkout Session has expired.",
        ));
    }
    if !HOSTED_CARDS.iter().any(|(magic, _)| *magic == card) {
        return Err(ApiError::invalid_param("card", "Choose one of the offered test cards."));
    }
    let email = email
        .filter(|e| !e.trim().is_empty())
        .or_else(|| session["customer_email"].as_str().map(str::to_string));
    if let Some(e) = &email {
        let mut check = Map::new();
        check.insert("email".into(), json!(e));
        super::email(&Params::new(check), "email")?;
    }
    let mode = session["mode"].as_str().unwrap_or("payment").to_string();
    let needs_customer = mode == "subscription" || session["customer_creation"] == "always";
    let mut customer = session["customer"].as_str().map(str::to_string);
    if customer.is_none() && needs_customer {
        let mut params = Map::new();
        if let Some(e) = &email {
            params.insert("email".into(), json!(e));
        }
        let created = customers::create(state, &sub_call(call, params))?;
        customer = created["id"].as_str().map(str::to_string);
    }
    let items = state.checkout_line_items.get(id).cloned().unwrap_or_default();
    match mode.as_str() {
        "payment" => {
            let data = saved(state, id, "payment_intent_data");
            let mut params = data.clone();
            params.insert("amount".into(), session["amount_total"].clone());
            params.insert("currency".into(), session["currency"].clone());
            if let Some(c) = &customer {
                params.insert("customer".into(), json!(c));
            }
            params.insert("payment_method".into(), json!(card));
            params.insert("confirm".into(), json!("true"));
            if session["metadata"].as_object().map(|m| !m.is_empty()).unwrap_or(false)
                && !params.contains_key("metadata")
            {
                params.insert("metadata".into(), session["metadata"].clone());
            }
            let params = stringify(Value::Object(params));
            match payment_intents::create(state, &sub_call(call, params)) {
                Ok(pi) => {
                    session["payment_intent"] = pi["id"].clone();
                    session["payment_status"] = json!(if pi["status"] == "succeeded" { "paid" } else { "unpaid" });
                    if pi["status"] != "succeeded" && pi["status"] != "requires_capture" {
                        return Err(ApiError::card("card_declined", "This card needs authentication, which the sandbox's hosted page does not offer; choose another test card."));
                    }
                }
                Err(e) => {
                    // Keep the failed attempt (and any new customer) on the session.
                    if let Some(pi) = e.embedded("payment_intent").and_then(|pi| pi["id"].as_str()) {
                        session["payment_intent"] = json!(pi);
                    }
                    session["customer"] = json!(customer);
                    state.objects.replace(session);
                    return Err(e.without_embedded());
                }
            }
        }
        "setup" => {
            let data = saved(state, id, "setup_intent_data");
            let mut seti = setup_intents::make(
                state,
                call,
                customer.as_deref(),
                "off_session",
                data.get("metadata").cloned().unwrap_or(json!({})),
            );
            let mut p = Map::new();
            p.insert("payment_method".into(), json!(card));
            setup_intents::set_payment_method(state, call, &mut seti, &Params::new(p))?;
            state.objects.replace(seti.clone());
            let seti = setup_intents::confirm_setup(state, call, seti).map_err(ApiError::without_embedded)?;
            session["setup_intent"] = seti["id"].clone();
        }
        _ => {
            let customer_id = customer.clone().unwrap_or_default();
            let pm = payment_methods::resolve_for_attach(state, call, card, "payment_method")
                .map_err(ApiError::without_embedded)?;
            payment_methods::attach_to(state, call, &pm, &customer_id)?;
            let mut params = saved(state, id, "subscription_data");
            params.insert("customer".into(), json!(customer_id));
            params.insert("default_payment_method".into(), pm["id"].clone());
            params.insert("payment_behavior".into(), json!("error_if_incomplete"));
            let list: Vec<Value> = items
                .iter()
                .map(|i| json!({"price": i["price"]["id"], "quantity": i["quantity"]}))
                .collect();
            params.insert("items".into(), Value::Array(list));
            let params = stringify(Value::Object(params));
            let sub = subscriptions::create(state, &sub_call(call, params))?;
            session["subscription"] = sub["id"].clone();
            session["invoice"] = sub["latest_invoice"].clone();
            session["payment_status"] = json!(if sub["status"] == "trialing" {
                "no_payment_required"
            } else {
                "paid"
            });
        }
    }
    session["status"] = json!("complete");
    session["customer"] = json!(customer);
    if session["customer_details"].is_null() || email.is_some() {
        session["customer_details"] =
            json!({"address": null, "email": email, "name": null, "phone": null, "tax_exempt": "none", "tax_ids": []});
    }
    state.objects.replace(session.clone());
    state.emit(call, "checkout.session.completed", &session);
    Ok(session["success_url"]
        .as_str()
        .unwrap_or_default()
        .replace("{CHECKOUT_SESSION_ID}", id))
}

/// A call with other parameters, for reusing an endpoint's own logic.
fn sub_call(call: &Call, params: Map<String, Value>) -> Call {
    let mut inner = call.clone();
    inner.params = Params::new(params);
    inner.expand = Vec::new();
    inner
}

/// Numbers and booleans back into the strings a form would carry.
fn stringify(value: Value) -> Map<String, Value> {
    fn walk(v: Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, walk(v))).collect()),
            Value::Array(items) => Value::Array(items.into_iter().map(walk).collect()),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Bool(b) => Value::String(b.to_string()),
            other => other,
        }
    }
    match walk(value) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::state::State;
    use super::super::super::test_support::TestApp;
    use super::*;

    #[actix_web::test]
    async fn payment_session_shape_and_line_items() {
        let app = TestApp::new().await;
        let product = app.post("/v1/products", "name=Mug").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let price = app
            .post(
                "/v1/prices",
                &format!("product={product}&currency=usd&unit_amount=1200"),
            )
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let s = app
            .post(
                "/v1/checkout/sessions",
                &format!("mode=payment&success_url=https%3A%2F%2Fshop.test%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D&cancel_url=https%3A%2F%2Fshop.test%2Fno&line_items[0][price]={price}&line_items[0][quantity]=2&line_items[1][price_data][currency]=usd&line_items[1][price_data][unit_amount]=300&line_items[1][price_data][product_data][name]=Gift+wrap&line_items[1][quantity]=1&client_reference_id=order-9&metadata[order]=9&expand[]=line_items"),
            )
            .await;
        assert_eq!(s.status, 200, "{}", s.body);
        let s = s.body;
        assert!(s["id"].as_str().unwrap().starts_with("cs_test_"));
        assert_eq!(s["object"], "checkout.session");
        assert_eq!(s["status"], "open");
        assert_eq!(s["payment_status"], "unpaid");
        assert_eq!(s["amount_total"], 2700);
        assert_eq!(s["currency"], "usd");
        assert_eq!(s["client_reference_id"], "order-9");
        assert_eq!(
            s["url"],
            format!("http://sandbox.test/checkout/pay/{}", s["id"].as_str().unwrap())
        );
        assert_eq!(s["line_items"]["data"][1]["description"], "Gift wrap");
        let items = app
            .get(&format!(
                "/v1/checkout/sessions/{}/line_items",
                s["id"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(items["data"].as_array().unwrap().len(), 2);
        assert_eq!(items["data"][0]["amount_total"], 2400);
        let plain = app
            .get(&format!("/v1/checkout/sessions/{}", s["id"].as_str().unwrap()))
            .await
            .body;
        assert!(plain.get("line_items").is_none());
    }

    #[actix_web::test]
    async fn validation() {
        let app = TestApp::new().await;
        let price = app.recurring_price(500, "month").await;
        let no_mode = app
            .post("/v1/checkout/sessions", "success_url=https%3A%2F%2Fa.test")
            .await;
        assert_eq!(no_mode.body["error"]["param"], "mode");
        let no_items = app
            .post("/v1/checkout/sessions", "mode=payment&success_url=https%3A%2F%2Fa.test")
            .await;
        assert_eq!(no_items.body["error"]["param"], "line_items");
        let recurring = app.post("/v1/checkout/sessions", &format!("mode=payment&success_url=https%3A%2F%2Fa.test&line_items[0][price]={price}&line_items[0][quantity]=1")).await;
        assert_eq!(recurring.status, 400);
        assert!(recurring.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("recurring price"));
        let no_qty = app
            .post(
                "/v1/checkout/sessions",
                &format!("mode=subscription&success_url=https%3A%2F%2Fa.test&line_items[0][price]={price}"),
            )
            .await;
        assert_eq!(no_qty.body["error"]["param"], "line_items[0][quantity]");
        let bad_url = app
            .post("/v1/checkout/sessions", "mode=setup&success_url=javascript%3Aalert(1)")
            .await;
        assert_eq!(bad_url.body["error"]["param"], "success_url");
        assert_eq!(
            app.get("/v1/checkout/sessions").await.body["data"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
    }

    fn complete_now(app: &TestApp, id: &str, card: &str, email: Option<&str>) -> Result<String, ApiError> {
        app.with_state(|state: &mut State, call| complete(state, call, id, card, email.map(str::to_string)))
    }

    #[actix_web::test]
    async fn completing_a_payment_session() {
        let app = TestApp::new().await;
        let s = app
            .post("/v1/checkout/sessions", "mode=payment&success_url=https%3A%2F%2Fshop.test%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=1500&line_items[0][price_data][product_data][name]=Book&line_items[0][quantity]=1&customer_creation=always&payment_intent_data[metadata][order]=77")
            .await
            .body;
        let id = s["id"].as_str().unwrap();
        let declined = complete_now(&app, id, "pm_card_chargeDeclined", Some("buyer@x.io")).unwrap_err();
        assert_eq!(declined.status, 402);
        assert_eq!(
            app.get(&format!("/v1/checkout/sessions/{id}")).await.body["status"],
            "open"
        );
        let redirect = complete_now(&app, id, "pm_card_visa", Some("buyer@x.io")).unwrap();
        assert_eq!(redirect, format!("https://shop.test/ok?s={id}"));
        let done = app
            .get(&format!("/v1/checkout/sessions/{id}?expand[]=payment_intent"))
            .await
            .body;
        assert_eq!(done["status"], "complete");
        assert_eq!(done["payment_status"], "paid");
        assert_eq!(done["payment_intent"]["status"], "succeeded");
        assert_eq!(done["payment_intent"]["amount"], 1500);
        assert_eq!(done["payment_intent"]["metadata"]["order"], "77");
        assert_eq!(done["customer_details"]["email"], "buyer@x.io");
        assert!(done["customer"].as_str().unwrap().starts_with("cus_"));
        assert!(complete_now(&app, id, "pm_card_visa", None).is_err());
        let completed = app.get("/v1/events?type=checkout.session.completed").await.body;
        assert_eq!(completed["data"][0]["data"]["object"]["id"], id);
        let by_pi = app
            .get(&format!(
                "/v1/checkout/sessions?payment_intent={}",
                done["payment_intent"]["id"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(by_pi["data"].as_array().unwrap().len(), 1);
    }

    #[actix_web::test]
    async fn completing_setup_and_subscription_sessions() {
        let app = TestApp::new().await;
        let customer = app.post("/v1/customers", "email=sub%40x.io").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let setup = app
            .post(
                "/v1/checkout/sessions",
                &format!("mode=setup&customer={customer}&success_url=https%3A%2F%2Fshop.test%2Fok"),
            )
            .await
            .body;
        complete_now(&app, setup["id"].as_str().unwrap(), "pm_card_visa", None).unwrap();
        let setup = app
            .get(&format!(
                "/v1/checkout/sessions/{}?expand[]=setup_intent",
                setup["id"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(setup["setup_intent"]["status"], "succeeded");
        assert_eq!(setup["payment_status"], "no_payment_required");

        let price = app.recurring_price(900, "month").await;
        let sub = app
            .post("/v1/checkout/sessions", &format!("mode=subscription&success_url=https%3A%2F%2Fshop.test%2Fok&line_items[0][price]={price}&line_items[0][quantity]=1&customer_email=new%40x.io&subscription_data[metadata][tier]=gold"))
            .await
            .body;
        let sid = sub["id"].as_str().unwrap();
        complete_now(&app, sid, "pm_card_visa", None).unwrap();
        let done = app
            .get(&format!("/v1/checkout/sessions/{sid}?expand[]=subscription"))
            .await
            .body;
        assert_eq!(done["subscription"]["status"], "active");
        assert_eq!(done["subscription"]["metadata"]["tier"], "gold");
        assert_eq!(done["payment_status"], "paid");
        let new_customer = app
            .get(&format!("/v1/customers/{}", done["customer"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(new_customer["email"], "new@x.io");

        let open = app
            .post(
                "/v1/checkout/sessions",
                "mode=setup&success_url=https%3A%2F%2Fshop.test%2Fok",
            )
            .await
            .body;
        let expired = app
            .post(
                &format!("/v1/checkout/sessions/{}/expire", open["id"].as_str().unwrap()),
                "",
            )
            .await
            .body;
        assert_eq!(expired["status"], "expired");
        assert!(complete_now(&app, open["id"].as_str().unwrap(), "pm_card_visa", None).is_err());
    }
}
