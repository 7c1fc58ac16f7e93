//! Customers: create (with `payment_method` or `source`), retrieve, update,
//! delete (a tombstone, as Stripe answers), list.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{delete, get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::LIST_PARAMS;
use super::super::state::State;
use super::{deleted, email, list_of, payment_methods, sources, subscriptions, update_field, update_hash};

pub const ROUTES: &[ApiRoute] = &[
    post("/customers", create),
    get("/customers", list),
    get("/customers/{id}", retrieve),
    post("/customers/{id}", update),
    delete("/customers/{id}", remove),
];

const WRITABLE: &[&str] = &[
    "address",
    "balance",
    "description",
    "email",
    "invoice_prefix",
    "invoice_settings",
    "metadata",
    "name",
    "phone",
    "preferred_locales",
    "shipping",
    "source",
    "tax_exempt",
];

/// A customer that exists and is not deleted, or Stripe's 404.
pub fn fetch(state: &State, call: &Call, id: &str, param: &str) -> Result<Value, ApiError> {
    let customer = state.objects.fetch(call.owner(), "customer", "customer", id, param)?;
    if customer["deleted"] == true {
        return Err(ApiError::no_such("customer", id, param));
    }
    Ok(customer)
}

pub fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    let mut allowed = WRITABLE.to_vec();
    allowed.push("payment_method");
    p.allow(&allowed)?;
    let id = ids::new_id("cus_");
    let mut customer = json!({
        "id": id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": call.now,
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": null,
        "discount": null,
        "email": null,
        "invoice_prefix": invoice_prefix(&id),
        "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
        "livemode": false,
        "metadata": {},
        "name": null,
        "next_invoice_sequence": 1,
        "phone": null,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null
    });
    apply_fields(call, &mut customer)?;
    // Validate cards before anything is stored: a declined card creates no customer.
    let payment_method = match p.str("payment_method")? {
        Some(pm) => Some(payment_methods::resolve_for_attach(state, call, &pm, "payment_method")?),
        None => None,
    };
    let source = match p.str("source")? {
        Some(token) => Some(sources::check_token(state, call, &token, "source")?),
        None => None,
    };
    let mut default_pm = invoice_default_pm(call)?;
    // The same magic id twice in one request (`payment_method=pm_card_visa`
    // and `invoice_settings[default_payment_method]=pm_card_visa`) names
    // one PaymentMethod, as in Stripe's Billing guides.
    if let (Some(pm), Some(Some(default))) = (&payment_method, &default_pm) {
        if p.str("payment_method")?.as_deref() == Some(default.as_str()) {
            default_pm = Some(pm["id"].as_str().map(str::to_string));
        }
    }
    state.objects.insert(call.owner(), customer.clone());
    state.emit(call, "customer.created", &customer);
    if let Some(pm) = payment_method {
        payment_methods::attach_to(state, call, &pm, &id)?;
    }
    if let Some(token) = source {
        sources::add_card(state, call, &id, &token, "source")?;
        customer = fetch(state, call, &id, "id")?;
    }
    if let Some(pm) = default_pm {
        set_default_payment_method(state, call, &id, &pm)?;
        customer = fetch(state, call, &id, "id")?;
    }
    Ok(customer)
}

fn invoice_prefix(id: &str) -> String {
    id.chars().skip(4).take(8).collect::<String>().to_uppercase()
}

/// The simple members shared by create and update.
fn apply_fields(call: &Call, customer: &mut Value) -> Result<(), ApiError> {
    let p = &call.params;
    for field in ["description", "name", "phone", "invoice_prefix"] {
        update_field(p, customer, field)?;
    }
    if p.has("email") {
        customer["email"] = json!(email(p, "email")?);
    }
    update_hash(p, customer, "address")?;
    update_hash(p, customer, "shipping")?;
    if let Some(balance) = p.int("balance")? {
        customer["balance"] = json!(balance);
    }
    if let Some(tax_exempt) = p.choice("tax_exempt", &["exempt", "none", "reverse"])? {
        customer["tax_exempt"] = json!(tax_exempt);
    }
    if let Some(locales) = p.str_list("preferred_locales")? {
        customer["preferred_locales"] = json!(locales);
    }
    p.apply_metadata(&mut customer["metadata"])?;
    Ok(())
}

fn invoice_default_pm(call: &Call) -> Result<Option<Option<String>>, ApiError> {
    let Some(settings) = call.params.hash("invoice_settings")? else {
        return Ok(None);
    };
    settings.allow(&["default_payment_method", "custom_fields", "footer", "rendering_options"])?;
    settings.update_str("default_payment_method")
}

/// Set (or clear) `invoice_settings.default_payment_method`; the method
/// must be attached to this customer, as Stripe requires.
fn set_default_payment_method(
    state: &mut State,
    call: &Call,
    customer_id: &str,
    pm: &Option<String>,
) -> Result<(), ApiError> {
    let mut customer = fetch(state, call, customer_id, "id")?;
    if let Some(pm_id) = pm {
        let attached = state
            .objects
            .get(call.owner(), pm_id)
            .map(|v| v["customer"] == customer_id)
            .unwrap_or(false);
        if !attached {
            return Err(ApiError::invalid(format!(
                "The customer does not have a payment method with the ID {pm_id}. The payment method must be attached to the customer."
            ))
            .with_code("resource_missing")
            .with_param("invoice_settings[default_payment_method]"));
        }
    }
    customer["invoice_settings"]["default_payment_method"] = json!(pm);
    state.objects.replace(customer);
    Ok(())
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "customer", "customer", call.path("id"), "id")
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    let mut allowed = WRITABLE.to_vec();
    allowed.push("default_source");
    p.allow(&allowed)?;
    let id = call.path("id").to_string();
    let before = fetch(state, call, &id, "id")?;
    let mut customer = before.clone();
    apply_fields(call, &mut customer)?;
    if let Some(default_source) = p.update_str("default_source")? {
        if let Some(source) = &default_source {
            let owned = state
                .objects
                .get(call.owner(), source)
                .map(|v| v["customer"] == id.as_str())
                .unwrap_or(false);
            if !owned {
                return Err(ApiError::no_such("source", source, "default_source"));
            }
        }
        customer["default_source"] = json!(default_source);
    }
    let token = match p.str("source")? {
        Some(token) => Some(sources::check_token(state, call, &token, "source")?),
        None => None,
    };
    let default_pm = invoice_default_pm(call)?;
    state.objects.replace(customer);
    if let Some(token) = token {
        let card = sources::add_card(state, call, &id, &token, "source")?;
        // A new `source` on update becomes the default, as Stripe does.
        let mut with_default = fetch(state, call, &id, "id")?;
        with_default["default_source"] = card["id"].clone();
        state.objects.replace(with_default);
    }
    if let Some(pm) = default_pm {
        set_default_payment_method(state, call, &id, &pm)?;
    }
    let after = fetch(state, call, &id, "id")?;
    if after != before {
        state.emit_update(call, "customer.updated", &before, &after);
    }
    Ok(after)
}

fn remove(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let id = call.path("id").to_string();
    let customer = fetch(state, call, &id, "id")?;
    // Stripe cancels the customer's subscriptions with it.
    let live: Vec<String> = state
        .objects
        .newest_first(call.owner(), "subscription")
        .filter(|s| s["customer"] == id.as_str() && s["status"] != "canceled" && s["status"] != "incomplete_expired")
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    for sub in live {
        subscriptions::cancel_now(state, call, &sub)?;
    }
    state.objects.replace(deleted(&id, "customer"));
    state.emit(call, "customer.deleted", &customer);
    Ok(deleted(&id, "customer"))
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("email");
    call.params.allow(&allowed)?;
    let email = call.params.str("email")?;
    list_of(state, call, "customer", "customer", "/v1/customers", |c| {
        email.as_ref().map(|e| c["email"] == e.as_str()).unwrap_or(true)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use serde_json::json;

    #[actix_web::test]
    async fn create_retrieve_update_delete() {
        let app = TestApp::new().await;
        let created = app
            .post(
                "/v1/customers",
                "email=ann%40example.com&name=Ann+%C3%85&metadata[order]=42",
            )
            .await;
        assert_eq!(created.status, 200, "{}", created.body);
        let c = &created.body;
        assert!(c["id"].as_str().unwrap().starts_with("cus_"));
        assert_eq!(c["object"], "customer");
        assert_eq!(c["name"], "Ann Å");
        assert_eq!(c["metadata"], json!({"order": "42"}));
        assert_eq!(c["livemode"], false);
        assert!(c["created"].as_i64().unwrap() > 0);
        let id = c["id"].as_str().unwrap();

        let got = app.get(&format!("/v1/customers/{id}")).await;
        assert_eq!(got.body, created.body);

        let updated = app
            .post(
                &format!("/v1/customers/{id}"),
                "name=&metadata[order]=&metadata[x]=y&description=VIP",
            )
            .await;
        assert_eq!(updated.status, 200);
        assert_eq!(updated.body["name"], json!(null));
        assert_eq!(updated.body["metadata"], json!({"x": "y"}));
        assert_eq!(updated.body["description"], "VIP");

        let gone = app.delete(&format!("/v1/customers/{id}")).await;
        assert_eq!(gone.body, json!({"id": id, "object": "customer", "deleted": true}));
        let tombstone = app.get(&format!("/v1/customers/{id}")).await;
        assert_eq!(tombstone.body["deleted"], true);
        let again = app.post(&format!("/v1/customers/{id}"), "name=x").await;
        assert_eq!(again.status, 404);
        assert_eq!(again.body["error"]["message"], format!("No such customer: '{id}'"));

        let types: Vec<String> = app.event_types().await;
        assert_eq!(types, vec!["customer.created", "customer.updated", "customer.deleted"]);
    }

    #[actix_web::test]
    async fn missing_customer_and_bad_params() {
        let app = TestApp::new().await;
        let missing = app.get("/v1/customers/cus_nope").await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["error"]["code"], "resource_missing");
        assert_eq!(missing.body["error"]["message"], "No such customer: 'cus_nope'");
        let unknown = app.post("/v1/customers", "nmae=x").await;
        assert_eq!(unknown.status, 400);
        assert_eq!(unknown.body["error"]["message"], "Received unknown parameter: nmae");
        let bad_email = app.post("/v1/customers", "email=not-an-email").await;
        assert_eq!(bad_email.status, 400);
        assert_eq!(bad_email.body["error"]["param"], "email");
        // Nothing was stored by the failed calls.
        assert_eq!(app.get("/v1/customers").await.body["data"], json!([]));
    }

    #[actix_web::test]
    async fn list_pagination_and_email_filter() {
        let app = TestApp::new().await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let c = app.post("/v1/customers", &format!("email=c{i}%40x.io")).await;
            ids.push(c.body["id"].as_str().unwrap().to_string());
        }
        let page = app.get("/v1/customers?limit=2").await.body;
        assert_eq!(page["object"], "list");
        assert_eq!(page["url"], "/v1/customers");
        assert_eq!(page["has_more"], true);
        assert_eq!(page["data"][0]["id"], ids[2].as_str());
        assert_eq!(page["data"][1]["id"], ids[1].as_str());
        let next = app
            .get(&format!("/v1/customers?limit=2&starting_after={}", ids[1]))
            .await
            .body;
        assert_eq!(next["data"][0]["id"], ids[0].as_str());
        assert_eq!(next["has_more"], false);
        let filtered = app.get("/v1/customers?email=c1%40x.io").await.body;
        assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
        assert_eq!(filtered["data"][0]["id"], ids[1].as_str());
    }

    #[actix_web::test]
    async fn create_with_payment_method_and_source() {
        let app = TestApp::new().await;
        let both = app
            .post(
                "/v1/customers",
                "payment_method=pm_card_visa&invoice_settings[default_payment_method]=pm_card_visa",
            )
            .await;
        assert_eq!(both.status, 200, "{}", both.body);
        let default_pm = both.body["invoice_settings"]["default_payment_method"]
            .as_str()
            .unwrap();
        let attached = app.get(&format!("/v1/payment_methods/{default_pm}")).await.body;
        assert_eq!(attached["customer"], both.body["id"]);
        let not_attached = app
            .post("/v1/customers", "invoice_settings[default_payment_method]=pm_card_visa")
            .await;
        assert_eq!(not_attached.status, 400, "{}", not_attached.body);
        let c = app.post("/v1/customers", "payment_method=pm_card_visa").await.body;
        let id = c["id"].as_str().unwrap();
        let pms = app
            .get(&format!("/v1/customers/{id}/payment_methods?type=card"))
            .await
            .body;
        let pm = pms["data"][0]["id"].as_str().unwrap().to_string();
        assert!(pm.starts_with("pm_"));
        let u = app
            .post(
                &format!("/v1/customers/{id}"),
                &format!("invoice_settings[default_payment_method]={pm}"),
            )
            .await;
        assert_eq!(u.body["invoice_settings"]["default_payment_method"], pm.as_str());

        let with_source = app.post("/v1/customers", "source=tok_visa&email=s%40x.io").await.body;
        assert!(with_source["default_source"].as_str().unwrap().starts_with("card_"));

        let declined = app.post("/v1/customers", "source=tok_chargeDeclined").await;
        assert_eq!(declined.status, 402);
        assert_eq!(declined.body["error"]["type"], "card_error");
        assert_eq!(declined.body["error"]["code"], "card_declined");
        // `both`, `c` and `with_source`; the declined one was never created.
        let list = app.get("/v1/customers").await.body;
        assert_eq!(list["data"].as_array().unwrap().len(), 3);
    }

    #[actix_web::test]
    async fn deleting_a_customer_cancels_its_subscriptions() {
        let app = TestApp::new().await;
        let price = app.recurring_price(1500, "month").await;
        let c = app.post("/v1/customers", "payment_method=pm_card_visa").await.body;
        let id = c["id"].as_str().unwrap();
        let pm = app.get(&format!("/v1/customers/{id}/payment_methods")).await.body["data"][0]["id"].clone();
        let sub = app
            .post(
                "/v1/subscriptions",
                &format!(
                    "customer={id}&items[0][price]={price}&default_payment_method={}",
                    pm.as_str().unwrap()
                ),
            )
            .await
            .body;
        assert_eq!(sub["status"], "active");
        app.delete(&format!("/v1/customers/{id}")).await;
        let after = app
            .get(&format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(after["status"], "canceled");
    }
}
