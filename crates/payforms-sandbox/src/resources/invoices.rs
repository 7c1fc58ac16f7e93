//! Invoices and invoice items: subscription invoices (created, finalized
//! and paid through a PaymentIntent), manual invoices (create, add items,
//! finalize, pay, void), retrieve, update, list, lines.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{delete, get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::{self, LIST_PARAMS};
use super::super::money;
use super::super::state::State;
use super::payment_intents::{self, NewIntent};
use super::{customers, deleted, list_of, matches_filter, payment_methods, prices, subscriptions};

pub const ROUTES: &[ApiRoute] = &[
    post("/invoices", create),
    get("/invoices", list),
    get("/invoices/{id}", retrieve),
    post("/invoices/{id}", update),
    get("/invoices/{id}/lines", lines),
    post("/invoices/{id}/finalize", finalize_endpoint),
    post("/invoices/{id}/pay", pay),
    post("/invoices/{id}/void", void),
    post("/invoiceitems", create_item),
    get("/invoiceitems", list_items),
    get("/invoiceitems/{id}", retrieve_item),
    delete("/invoiceitems/{id}", delete_item),
];

fn fetch(state: &State, call: &Call, id: &str) -> Result<Value, ApiError> {
    state.objects.fetch(call.owner(), "invoice", "invoice", id, "invoice")
}

/// Why an invoice exists: its subscription (if any), Stripe's
/// `billing_reason`, and the period it bills.
pub struct Billing<'a> {
    pub subscription: Option<&'a str>,
    pub reason: &'a str,
    pub period: (i64, i64),
}

/// A draft invoice for `customer` with `lines` (`invoice.created`).
pub fn make(
    state: &mut State,
    call: &Call,
    customer: &Value,
    currency: &str,
    lines: Vec<Value>,
    billing: Billing,
) -> Value {
    let Billing {
        subscription,
        reason: billing_reason,
        period,
    } = billing;
    let id = ids::new_id("in_");
    let total: i64 = lines.iter().filter_map(|l| l["amount"].as_i64()).sum();
    let mut lines = lines;
    for line in &mut lines {
        line["invoice"] = json!(id);
    }
    let mut invoice = json!({
        "id": id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "payforms sandbox",
        "amount_due": total,
        "amount_paid": 0,
        "amount_remaining": total,
        "amount_shipping": 0,
        "application": null,
        "attempt_count": 0,
        "attempted": false,
        "auto_advance": true,
        "automatic_tax": {"enabled": false, "liability": null, "status": null},
        "billing_reason": billing_reason,
        "charge": null,
        "collection_method": "charge_automatically",
        "created": call.now,
        "currency": currency,
        "custom_fields": null,
        "customer": customer["id"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "default_payment_method": null
    });
    super::extend(
        &mut invoice,
        json!({
            "description": null,
            "discount": null,
            "due_date": null,
            "ending_balance": null,
            "footer": null,
            "hosted_invoice_url": null,
            "invoice_pdf": null,
            "last_finalization_error": null,
            "lines": list::envelope(lines, false, &format!("/v1/invoices/{id}/lines")),
            "livemode": false,
            "metadata": {},
            "next_payment_attempt": null,
            "number": null,
            "paid": false,
            "paid_out_of_band": false,
            "payment_intent": null,
            "period_end": period.1,
            "period_start": period.0,
            "starting_balance": 0,
            "status": "draft",
            "status_transitions": {"finalized_at": null, "marked_uncollectible_at": null, "paid_at": null, "voided_at": null},
            "subscription": subscription,
            "subtotal": total,
            "total": total,
            "webhooks_delivered_at": null
        }),
    );
    state.objects.insert(call.owner(), invoice.clone());
    state.emit(call, "invoice.created", &invoice);
    invoice
}

/// A subscription line: `quantity × price` for a period.
pub fn subscription_line(item: &Value, subscription: &str, period: (i64, i64), amount_override: Option<i64>) -> Value {
    let price = &item["price"];
    let quantity = item["quantity"].as_i64().unwrap_or(1);
    let currency = price["currency"].as_str().unwrap_or("usd");
    let unit = price["unit_amount"].as_i64().unwrap_or(0);
    let amount = amount_override.unwrap_or(unit * quantity);
    let description = match amount_override {
        Some(_) => format!("Trial period for {}", price["product"].as_str().unwrap_or("product")),
        None => format!(
            "{quantity} × {} (at {} / {})",
            price["product"].as_str().unwrap_or("product"),
            money::display(unit, currency),
            price["recurring"]["interval"].as_str().unwrap_or("period")
        ),
    };
    json!({
        "id": ids::new_id("il_"),
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": description,
        "discountable": true,
        "discounts": [],
        "invoice": null,
        "invoice_item": null,
        "livemode": false,
        "metadata": {},
        "period": {"start": period.0, "end": period.1},
        "price": price,
        "proration": false,
        "quantity": quantity,
        "subscription": subscription,
        "subscription_item": item["id"],
        "type": "subscription"
    })
}

/// Draft -> open (`invoice.finalized`); a zero invoice is paid at once,
/// otherwise a PaymentIntent is created for it.
pub fn finalize(state: &mut State, call: &Call, invoice_id: &str) -> Result<Value, ApiError> {
    let mut invoice = fetch(state, call, invoice_id)?;
    if invoice["status"] != "draft" {
        return Err(ApiError::unexpected_state(
            "invoice_not_editable",
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
        ));
    }
    let customer = invoice["customer"].as_str().unwrap_or_default().to_string();
    let sequence = state
        .objects
        .newest_first(call.owner(), "invoice")
        .filter(|i| i["customer"] == customer.as_str() && !i["number"].is_null())
        .count()
        + 1;
    let prefix = state
        .objects
        .get(call.owner(), &customer)
        .and_then(|c| c["invoice_prefix"].as_str())
        .unwrap_or("INV")
        .to_string();
    invoice["number"] = json!(format!("{prefix}-{sequence:04}"));
    invoice["status"] = json!("open");
    invoice["status_transitions"]["finalized_at"] = json!(call.now);
    let amount = invoice["amount_due"].as_i64().unwrap_or(0);
    if amount > 0 {
        let pi = payment_intents::make(
            state,
            call,
            &NewIntent {
                amount,
                currency: invoice["currency"].as_str().unwrap_or("usd").to_string(),
                customer: Some(customer.clone()),
                description: Some(match invoice["billing_reason"].as_str() {
                    Some("subscription_create") => "Subscription creation".to_string(),
                    _ => format!("Invoice {}", invoice["number"].as_str().unwrap_or("")),
                }),
                metadata: json!({}),
                capture_method: "automatic".into(),
                invoice: Some(invoice_id.to_string()),
                setup_future_usage: invoice["subscription"].as_str().map(|_| "off_session".to_string()),
            },
        );
        invoice["payment_intent"] = pi["id"].clone();
    }
    state.objects.replace(invoice.clone());
    state.emit(call, "invoice.finalized", &invoice);
    if amount == 0 {
        mark_paid(state, call, invoice_id, None, false)?;
        return fetch(state, call, invoice_id);
    }
    Ok(invoice)
}

/// Paid: `invoice.paid`, `invoice.payment_succeeded`, and the
/// subscription becomes active.
fn mark_paid(
    state: &mut State,
    call: &Call,
    invoice_id: &str,
    charge: Option<&Value>,
    out_of_band: bool,
) -> Result<(), ApiError> {
    let mut invoice = fetch(state, call, invoice_id)?;
    let due = invoice["amount_due"].as_i64().unwrap_or(0);
    invoice["status"] = json!("paid");
    invoice["paid"] = json!(true);
    invoice["paid_out_of_band"] = json!(out_of_band);
    invoice["amount_paid"] = json!(if out_of_band { 0 } else { due });
    invoice["amount_remaining"] = json!(0);
    invoice["attempted"] = json!(true);
    if charge.is_some() {
        invoice["attempt_count"] = json!(invoice["attempt_count"].as_i64().unwrap_or(0) + 1);
    }
    invoice["charge"] = charge.cloned().unwrap_or(Value::Null);
    invoice["status_transitions"]["paid_at"] = json!(call.now);
    state.objects.replace(invoice.clone());
    state.emit(call, "invoice.paid", &invoice);
    if !out_of_band {
        state.emit(call, "invoice.payment_succeeded", &invoice);
    }
    if let Some(sub) = invoice["subscription"].as_str() {
        subscriptions::on_invoice_paid(state, call, sub)?;
    }
    Ok(())
}

/// Called when an invoice's PaymentIntent succeeds.
pub fn on_intent_succeeded(state: &mut State, call: &Call, invoice_id: &str, pi: &Value) -> Result<(), ApiError> {
    let invoice = fetch(state, call, invoice_id)?;
    if invoice["status"] == "paid" {
        return Ok(());
    }
    mark_paid(state, call, invoice_id, Some(&pi["latest_charge"]), false)
}

/// Called when an invoice's PaymentIntent fails (`invoice.payment_failed`).
pub fn on_intent_failed(state: &mut State, call: &Call, invoice_id: &str, pi: &Value) -> Result<(), ApiError> {
    let mut invoice = fetch(state, call, invoice_id)?;
    invoice["attempted"] = json!(true);
    invoice["attempt_count"] = json!(invoice["attempt_count"].as_i64().unwrap_or(0) + 1);
    invoice["charge"] = pi["latest_charge"].clone();
    state.objects.replace(invoice.clone());
    state.emit(call, "invoice.payment_failed", &invoice);
    Ok(())
}

/// The customer's payment method for invoices: the invoice's own, the
/// customer's `invoice_settings.default_payment_method`, or default source.
pub fn default_payment_method(
    state: &State,
    call: &Call,
    customer_id: &str,
    preferred: Option<&str>,
) -> Option<String> {
    if let Some(pm) = preferred {
        return Some(pm.to_string());
    }
    let customer = state.objects.get(call.owner(), customer_id)?;
    customer["invoice_settings"]["default_payment_method"]
        .as_str()
        .or_else(|| customer["default_source"].as_str())
        .map(str::to_string)
}

/// Try to collect an open invoice with `payment_method`: confirms its
/// PaymentIntent (card errors come back as 402 with the intent embedded).
pub fn attempt_payment(
    state: &mut State,
    call: &Call,
    invoice_id: &str,
    payment_method: &str,
    off_session: bool,
) -> Result<Value, ApiError> {
    let invoice = fetch(state, call, invoice_id)?;
    let pi_id = invoice["payment_intent"].as_str().unwrap_or_default().to_string();
    let mut pi = state.objects.fetch(
        call.owner(),
        "payment_intent",
        "payment_intent",
        &pi_id,
        "payment_intent",
    )?;
    if pi["status"] == "requires_action" {
        pi["status"] = json!("requires_payment_method");
    }
    let pm = payment_methods::resolve(state, call, payment_method, "payment_method")?;
    pi["payment_method"] = pm["id"].clone();
    if pi["status"] == "requires_payment_method" {
        pi["status"] = json!("requires_confirmation");
    }
    state.objects.replace(pi.clone());
    payment_intents::confirm_intent(state, call, pi, off_session, None)?;
    fetch(state, call, invoice_id)
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    fetch(state, call, call.path("id"))
}

fn lines(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(LIST_PARAMS)?;
    let invoice = fetch(state, call, call.path("id"))?;
    let items = invoice["lines"]["data"].as_array().cloned().unwrap_or_default();
    list::page(
        items,
        &call.params,
        &format!("/v1/invoices/{}/lines", call.path("id")),
        "line item",
    )
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["customer", "subscription", "status", "collection_method", "due_date"]);
    call.params.allow(&allowed)?;
    let p = &call.params;
    let (customer, subscription) = (p.str("customer")?, p.str("subscription")?);
    let status = p.choice("status", &["draft", "open", "paid", "uncollectible", "void"])?;
    list_of(state, call, "invoice", "invoice", "/v1/invoices", |i| {
        matches_filter(i, "customer", &customer)
            && matches_filter(i, "subscription", &subscription)
            && matches_filter(i, "status", &status)
    })
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "customer",
        "auto_advance",
        "collection_method",
        "description",
        "metadata",
        "currency",
        "pending_invoice_items_behavior",
        "default_payment_method",
        "days_until_due",
        "footer",
    ])?;
    let customer_id = p.required_str("customer")?;
    let customer = customers::fetch(state, call, &customer_id, "customer")?;
    let include = p
        .choice("pending_invoice_items_behavior", &["exclude", "include"])?
        .as_deref()
        == Some("include");
    let pending: Vec<Value> = if include {
        state
            .objects
            .newest_first(call.owner(), "invoiceitem")
            .filter(|ii| ii["customer"] == customer_id.as_str() && ii["invoice"].is_null())
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let currency = match money::currency(p, "currency")? {
        Some(c) => c,
        None => pending
            .first()
            .and_then(|ii| ii["currency"].as_str())
            .unwrap_or("usd")
            .to_string(),
    };
    let billing = Billing {
        subscription: None,
        reason: "manual",
        period: (call.now, call.now),
    };
    let mut invoice = make(state, call, &customer, &currency, Vec::new(), billing);
    let id = invoice["id"].as_str().unwrap_or_default().to_string();
    if let Some(auto) = p.bool("auto_advance")? {
        invoice["auto_advance"] = json!(auto);
    }
    if let Some(method) = p.choice("collection_method", &["charge_automatically", "send_invoice"])? {
        invoice["collection_method"] = json!(method);
    }
    super::update_field(p, &mut invoice, "description")?;
    super::update_field(p, &mut invoice, "footer")?;
    super::update_field(p, &mut invoice, "default_payment_method")?;
    p.apply_metadata(&mut invoice["metadata"])?;
    state.objects.replace(invoice);
    for item in pending {
        attach_item(state, call, &id, item)?;
    }
    fetch(state, call, &id)
}

/// Put an invoice item on a draft invoice as a line and update totals.
fn attach_item(state: &mut State, call: &Call, invoice_id: &str, mut item: Value) -> Result<(), ApiError> {
    let mut invoice = fetch(state, call, invoice_id)?;
    if invoice["status"] != "draft" {
        return Err(ApiError::invalid_param(
            "invoice",
            "Invoice items can only be added to draft invoices.",
        ));
    }
    if invoice["currency"] != item["currency"] {
        return Err(ApiError::invalid_param(
            "currency",
            "The invoice item's currency must match the invoice's currency.",
        ));
    }
    item["invoice"] = json!(invoice_id);
    state.objects.replace(item.clone());
    let line = json!({
        "id": ids::new_id("il_"),
        "object": "line_item",
        "amount": item["amount"],
        "currency": item["currency"],
        "description": item["description"],
        "discountable": true,
        "discounts": [],
        "invoice": invoice_id,
        "invoice_item": item["id"],
        "livemode": false,
        "metadata": item["metadata"],
        "period": item["period"],
        "price": item["price"],
        "proration": false,
        "quantity": item["quantity"],
        "subscription": null,
        "subscription_item": null,
        "type": "invoiceitem"
    });
    if let Some(data) = invoice["lines"]["data"].as_array_mut() {
        data.push(line);
    }
    let total: i64 = invoice["lines"]["data"]
        .as_array()
        .map(|d| d.iter().filter_map(|l| l["amount"].as_i64()).sum())
        .unwrap_or(0);
    for field in ["amount_due", "amount_remaining", "subtotal", "total"] {
        invoice[field] = json!(total);
    }
    state.objects.replace(invoice);
    Ok(())
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "metadata",
        "description",
        "auto_advance",
        "footer",
        "default_payment_method",
    ])?;
    let before = fetch(state, call, call.path("id"))?;
    let mut invoice = before.clone();
    if before["status"] != "draft" && (p.has("description") || p.has("footer")) {
        return Err(ApiError::unexpected_state(
            "invoice_not_editable",
            "You can only update the description and footer of a draft invoice.",
        ));
    }
    super::update_field(p, &mut invoice, "description")?;
    super::update_field(p, &mut invoice, "footer")?;
    super::update_field(p, &mut invoice, "default_payment_method")?;
    if let Some(auto) = p.bool("auto_advance")? {
        invoice["auto_advance"] = json!(auto);
    }
    p.apply_metadata(&mut invoice["metadata"])?;
    if invoice != before {
        state.objects.replace(invoice.clone());
        state.emit_update(call, "invoice.updated", &before, &invoice);
    }
    Ok(invoice)
}

fn finalize_endpoint(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["auto_advance"])?;
    finalize(state, call, call.path("id"))
}

fn pay(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "payment_method",
        "source",
        "paid_out_of_band",
        "off_session",
        "forgive",
        "mandate",
    ])?;
    let id = call.path("id").to_string();
    let mut invoice = fetch(state, call, &id)?;
    match invoice["status"].as_str() {
        Some("paid") => {
            return Err(ApiError::unexpected_state(
                "invoice_already_paid",
                "Invoice is already paid",
            ))
        }
        Some("void") | Some("uncollectible") => {
            return Err(ApiError::unexpected_state(
                "invoice_not_payable",
                format!(
                    "This invoice is {} and cannot be paid.",
                    invoice["status"].as_str().unwrap_or("")
                ),
            ))
        }
        Some("draft") => invoice = finalize(state, call, &id)?,
        _ => {}
    }
    if invoice["status"] == "paid" {
        return Ok(invoice);
    }
    if p.bool("paid_out_of_band")?.unwrap_or(false) {
        if let Some(pi) = invoice["payment_intent"].as_str() {
            let mut intent =
                state
                    .objects
                    .fetch(call.owner(), "payment_intent", "payment_intent", pi, "payment_intent")?;
            intent["status"] = json!("canceled");
            intent["canceled_at"] = json!(call.now);
            state.objects.replace(intent);
        }
        mark_paid(state, call, &id, None, true)?;
        return fetch(state, call, &id);
    }
    let preferred = p
        .str("payment_method")?
        .or(p.str("source")?)
        .or_else(|| invoice["default_payment_method"].as_str().map(str::to_string));
    let customer = invoice["customer"].as_str().unwrap_or_default().to_string();
    let Some(pm) = default_payment_method(state, call, &customer, preferred.as_deref()) else {
        return Err(ApiError::invalid(
            "This customer has no attached payment source or default payment method. Please consider adding a default payment method.",
        )
        .with_code("resource_missing")
        .with_param("payment_method"));
    };
    let off_session = p.bool("off_session")?.unwrap_or(true);
    attempt_payment(state, call, &id, &pm, off_session)
}

fn void(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let mut invoice = fetch(state, call, call.path("id"))?;
    if invoice["status"] != "open" {
        return Err(ApiError::unexpected_state(
            "invoice_not_editable",
            format!(
                "You can only void an open invoice; this one is {}.",
                invoice["status"].as_str().unwrap_or("")
            ),
        ));
    }
    if let Some(pi) = invoice["payment_intent"].as_str() {
        let mut intent = state
            .objects
            .fetch(call.owner(), "payment_intent", "payment_intent", pi, "payment_intent")?;
        if intent["status"] != "succeeded" {
            intent["status"] = json!("canceled");
            intent["canceled_at"] = json!(call.now);
            intent["cancellation_reason"] = json!("void_invoice");
            state.objects.replace(intent.clone());
            state.emit(call, "payment_intent.canceled", &intent);
        }
    }
    invoice["status"] = json!("void");
    invoice["amount_remaining"] = json!(0);
    invoice["status_transitions"]["voided_at"] = json!(call.now);
    state.objects.replace(invoice.clone());
    state.emit(call, "invoice.voided", &invoice);
    Ok(invoice)
}

fn create_item(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "customer",
        "amount",
        "currency",
        "price",
        "price_data",
        "quantity",
        "description",
        "metadata",
        "invoice",
        "period",
    ])?;
    let customer = p.required_str("customer")?;
    customers::fetch(state, call, &customer, "customer")?;
    let quantity = p.int("quantity")?.unwrap_or(1);
    if quantity < 1 {
        return Err(ApiError::invalid_param("quantity", "Quantity must be at least 1."));
    }
    let price = if let Some(price) = p.str("price")? {
        Some(prices::fetch(state, call, &price, "price")?)
    } else if let Some(data) = p.hash("price_data")? {
        data.allow(&[
            "currency",
            "product",
            "unit_amount",
            "unit_amount_decimal",
            "tax_behavior",
        ])?;
        let product = prices::product_for(state, call, &data)?;
        Some(prices::from_params(state, call, &data, &product)?)
    } else {
        None
    };
    let (amount, currency) = match &price {
        Some(price) => (
            price["unit_amount"].as_i64().unwrap_or(0) * quantity,
            price["currency"].as_str().unwrap_or("usd").to_string(),
        ),
        None => (p.required_int("amount")?, money::required_currency(p, "currency")?),
    };
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    let item = json!({
        "id": ids::new_id("ii_"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer,
        "date": call.now,
        "description": p.str("description")?,
        "discountable": true,
        "invoice": null,
        "livemode": false,
        "metadata": metadata,
        "period": {"start": call.now, "end": call.now},
        "price": price,
        "proration": false,
        "quantity": quantity,
        "subscription": null,
        "unit_amount": if quantity > 0 { amount / quantity } else { amount }
    });
    state.objects.insert(call.owner(), item.clone());
    let id = item["id"].as_str().unwrap_or_default().to_string();
    if let Some(invoice) = p.str("invoice")? {
        fetch(state, call, &invoice)?;
        attach_item(state, call, &invoice, item)?;
    }
    state
        .objects
        .fetch(call.owner(), "invoiceitem", "invoiceitem", &id, "id")
}

fn list_items(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["customer", "invoice", "pending"]);
    call.params.allow(&allowed)?;
    let (customer, invoice) = (call.params.str("customer")?, call.params.str("invoice")?);
    let pending = call.params.bool("pending")?;
    list_of(state, call, "invoiceitem", "invoiceitem", "/v1/invoiceitems", |ii| {
        matches_filter(ii, "customer", &customer)
            && matches_filter(ii, "invoice", &invoice)
            && pending.map(|p| ii["invoice"].is_null() == p).unwrap_or(true)
    })
}

fn retrieve_item(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "invoiceitem", "invoiceitem", call.path("id"), "id")
}

fn delete_item(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let id = call.path("id").to_string();
    let item = state
        .objects
        .fetch(call.owner(), "invoiceitem", "invoiceitem", &id, "id")?;
    if !item["invoice"].is_null() {
        return Err(ApiError::unexpected_state(
            "invoice_not_editable",
            "This invoice item is on an invoice and can no longer be deleted.",
        ));
    }
    state.objects.remove(&id);
    Ok(deleted(&id, "invoiceitem"))
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn manual_invoice_items_finalize_and_pay() {
        let app = TestApp::new().await;
        let customer = app
            .post("/v1/customers", "email=bill%40x.io&payment_method=pm_card_visa")
            .await
            .body;
        let cid = customer["id"].as_str().unwrap();
        let pm = app.get(&format!("/v1/customers/{cid}/payment_methods")).await.body["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.post(
            &format!("/v1/customers/{cid}"),
            &format!("invoice_settings[default_payment_method]={pm}"),
        )
        .await;
        let item = app
            .post(
                "/v1/invoiceitems",
                &format!("customer={cid}&amount=2500&currency=usd&description=Setup+fee"),
            )
            .await
            .body;
        assert!(item["id"].as_str().unwrap().starts_with("ii_"));
        let invoice = app
            .post(
                "/v1/invoices",
                &format!("customer={cid}&pending_invoice_items_behavior=include"),
            )
            .await
            .body;
        assert_eq!(invoice["status"], "draft");
        assert_eq!(invoice["amount_due"], 2500);
        assert_eq!(invoice["lines"]["data"][0]["invoice_item"], item["id"]);
        let id = invoice["id"].as_str().unwrap();
        let paid = app.post(&format!("/v1/invoices/{id}/pay"), "").await;
        assert_eq!(paid.status, 200, "{}", paid.body);
        assert_eq!(paid.body["status"], "paid");
        assert_eq!(paid.body["amount_paid"], 2500);
        assert!(paid.body["number"].as_str().unwrap().ends_with("-0001"));
        let again = app.post(&format!("/v1/invoices/{id}/pay"), "").await;
        assert_eq!(again.status, 400);
        let lines = app.get(&format!("/v1/invoices/{id}/lines")).await.body;
        assert_eq!(lines["data"].as_array().unwrap().len(), 1);
        let types = app.event_types().await;
        for t in [
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
        ] {
            assert!(types.contains(&t.to_string()), "{t}");
        }
    }

    #[actix_web::test]
    async fn declined_payment_void_and_list() {
        let app = TestApp::new().await;
        let customer = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let invoice = app
            .post("/v1/invoices", &format!("customer={customer}&currency=usd"))
            .await
            .body;
        let id = invoice["id"].as_str().unwrap();
        app.post(
            "/v1/invoiceitems",
            &format!("customer={customer}&amount=900&currency=usd&invoice={id}"),
        )
        .await;
        let no_pm = app.post(&format!("/v1/invoices/{id}/pay"), "").await;
        assert_eq!(no_pm.status, 400);
        let declined = app
            .post(
                &format!("/v1/invoices/{id}/pay"),
                "payment_method=pm_card_chargeDeclined",
            )
            .await;
        assert_eq!(declined.status, 402, "{}", declined.body);
        let open = app.get(&format!("/v1/invoices/{id}")).await.body;
        assert_eq!(open["status"], "open");
        assert_eq!(open["attempt_count"], 1);
        let voided = app.post(&format!("/v1/invoices/{id}/void"), "").await.body;
        assert_eq!(voided["status"], "void");
        let by_status = app
            .get(&format!("/v1/invoices?customer={customer}&status=void"))
            .await
            .body;
        assert_eq!(by_status["data"].as_array().unwrap().len(), 1);
        assert!(app.event_types().await.contains(&"invoice.payment_failed".to_string()));
        assert_eq!(app.get("/v1/invoices/in_nope").await.status, 404);
    }
}
