//! Subscriptions: create (items, default payment method, trial, payment
//! behaviour) with a first invoice paid through a PaymentIntent; retrieve;
//! update (metadata, cancel_at_period_end, items, default payment method);
//! DELETE cancels at once; list. No time passes in the sandbox, so periods
//! never renew by themselves and proration is not computed.

use chrono::Months;
use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::cards::Behaviour;
use super::super::endpoint::{delete, get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::{self, LIST_PARAMS};
use super::super::params::Params;
use super::super::state::State;
use super::{charges, customers, invoices, list_of, payment_methods, prices};

pub const ROUTES: &[ApiRoute] = &[
    post("/subscriptions", create),
    get("/subscriptions", list),
    get("/subscriptions/{id}", retrieve),
    post("/subscriptions/{id}", update),
    delete("/subscriptions/{id}", cancel),
];

fn fetch(state: &State, call: &Call, id: &str) -> Result<Value, ApiError> {
    state
        .objects
        .fetch(call.owner(), "subscription", "subscription", id, "id")
}

/// The end of a billing period starting at `start` (calendar months/years).
pub fn period_end(start: i64, interval: &str, count: i64) -> i64 {
    let count = count.max(1);
    let Some(begin) = chrono::DateTime::from_timestamp(start, 0) else {
        return start;
    };
    let months = |n: i64| {
        u32::try_from(n)
            .ok()
            .and_then(|n| begin.checked_add_months(Months::new(n)))
            .map(|d| d.timestamp())
            .unwrap_or(start)
    };
    match interval {
        "day" => start + count * 86_400,
        "week" => start + count * 7 * 86_400,
        "year" => months(count * 12),
        _ => months(count),
    }
}

/// A price for an item: `price` (recurring, active) or `price_data`.
fn item_price(state: &mut State, call: &Call, item: &Params) -> Result<Value, ApiError> {
    // `plan` is the legacy name: a price's id is also its plan id.
    let named = match (item.str("price")?, item.str("plan")?) {
        (Some(price), _) => Some((price, "price")),
        (None, Some(plan)) => Some((plan, "plan")),
        (None, None) => None,
    };
    let price = match (named, item.hash("price_data")?) {
        (Some((id, key)), _) => prices::fetch(state, call, &id, &item.full_name(key))?,
        (None, Some(data)) => {
            data.allow(&[
                "currency",
                "product",
                "unit_amount",
                "unit_amount_decimal",
                "recurring",
                "tax_behavior",
            ])?;
            if !data.has("recurring") {
                return Err(ApiError::missing_param(&data.full_name("recurring")));
            }
            let product = prices::product_for(state, call, &data)?;
            prices::from_params(state, call, &data, &product)?
        }
        (None, None) => return Err(ApiError::missing_param(&item.full_name("price"))),
    };
    if price["type"] != "recurring" {
        return Err(ApiError::invalid_param(
            &item.full_name("price"),
            format!("The price specified ({}) is set to `type=one_time` but this field only accepts prices with `type=recurring`.", price["id"].as_str().unwrap_or("")),
        ));
    }
    if price["active"] == false {
        return Err(ApiError::invalid_param(
            &item.full_name("price"),
            format!(
                "The price specified ({}) is inactive.",
                price["id"].as_str().unwrap_or("")
            ),
        ));
    }
    Ok(price)
}

fn plan_of(price: &Value) -> Value {
    json!({
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": price["recurring"]["interval"],
        "interval_count": price["recurring"]["interval_count"],
        "livemode": false,
        "metadata": price["metadata"],
        "nickname": price["nickname"],
        "product": price["product"],
        "usage_type": "licensed"
    })
}

fn make_item(
    call: &Call,
    subscription: &str,
    price: Value,
    quantity: i64,
    metadata: Value,
    period: (i64, i64),
) -> Value {
    json!({
        "id": ids::new_id("si_"),
        "object": "subscription_item",
        "billing_thresholds": null,
        "created": call.now,
        "current_period_end": period.1,
        "current_period_start": period.0,
        "discounts": [],
        "metadata": metadata,
        "plan": plan_of(&price),
        "price": price,
        "quantity": quantity,
        "subscription": subscription,
        "tax_rates": []
    })
}

/// Read `items[i][price|price_data|quantity|metadata]`: prices, quantities, metadata.
fn read_items(state: &mut State, call: &Call, items: &[Params]) -> Result<Vec<(Value, i64, Value)>, ApiError> {
    let mut read = Vec::new();
    for item in items {
        item.allow(&[
            "price",
            "price_data",
            "quantity",
            "metadata",
            "tax_rates",
            "discounts",
            "id",
            "deleted",
            "clear_usage",
            "plan",
        ])?;
        let price = item_price(state, call, item)?;
        let quantity = item.int("quantity")?.unwrap_or(1);
        if quantity < 1 {
            return Err(ApiError::invalid_param(
                &item.full_name("quantity"),
                "Quantity must be at least 1.",
            ));
        }
        let mut metadata = json!({});
        item.apply_metadata(&mut metadata)?;
        read.push((price, quantity, metadata));
    }
    Ok(read)
}

/// All items must share currency and billing interval.
fn check_compatible(prices: &[&Value]) -> Result<(), ApiError> {
    let Some(first) = prices.first() else {
        return Ok(());
    };
    for price in prices {
        if price["currency"] != first["currency"]
            || price["recurring"]["interval"] != first["recurring"]["interval"]
            || price["recurring"]["interval_count"] != first["recurring"]["interval_count"]
        {
            return Err(ApiError::invalid_param(
                "items",
                "Currency and interval fields must match across all plans on this subscription.",
            ));
        }
    }
    Ok(())
}

pub fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "customer",
        "items",
        "default_payment_method",
        "default_source",
        "trial_period_days",
        "trial_end",
        "metadata",
        "description",
        "payment_behavior",
        "cancel_at_period_end",
        "cancel_at",
        "collection_method",
        "days_until_due",
        "off_session",
        "proration_behavior",
        "payment_settings",
        "application_fee_percent",
        "transfer_data",
        "currency",
    ])?;
    let customer_id = p.required_str("customer")?;
    let customer = customers::fetch(state, call, &customer_id, "customer")?;
    let item_params = p.hash_list("items")?;
    if item_params.is_empty() {
        return Err(ApiError::missing_param("items"));
    }
    if item_params.len() > 20 {
        return Err(ApiError::invalid_param(
            "items",
            "A subscription can have at most 20 items.",
        ));
    }
    let items = read_items(state, call, &item_params)?;
    check_compatible(&items.iter().map(|(p, _, _)| p).collect::<Vec<_>>())?;
    let behaviour = p
        .choice(
            "payment_behavior",
            &[
                "allow_incomplete",
                "default_incomplete",
                "error_if_incomplete",
                "pending_if_incomplete",
            ],
        )?
        .unwrap_or_else(|| "allow_incomplete".into());
    let default_pm = p.str("default_payment_method")?.or(p.str("default_source")?);
    if let Some(pm) = &default_pm {
        let attached = state
            .objects
            .get(call.owner(), pm)
            .map(|v| v["customer"] == customer_id.as_str())
            .unwrap_or(false);
        if !attached {
            return Err(ApiError::invalid(format!(
                "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
            ))
            .with_code("resource_missing")
            .with_param("default_payment_method"));
        }
    }
    let trial_end = match (p.int("trial_period_days")?, p.str("trial_end")?) {
        (Some(days), _) if !(0..=730).contains(&days) => {
            return Err(ApiError::invalid_param(
                "trial_period_days",
                "trial_period_days must be between 0 and 730.",
            ))
        }
        (Some(0), _) => None,
        (Some(days), _) => Some(call.now + days * 86_400),
        (None, Some(end)) if end == "now" => None,
        (None, Some(end)) => {
            let end: i64 = end
                .parse()
                .map_err(|_| ApiError::invalid_param("trial_end", format!("Invalid timestamp: {end}")))?;
            if end <= call.now {
                return Err(ApiError::invalid_param("trial_end", "trial_end must be in the future."));
            }
            Some(end)
        }
        (None, None) => None,
    };
    let collection = p
        .choice("collection_method", &["charge_automatically", "send_invoice"])?
        .unwrap_or_else(|| "charge_automatically".into());
    let payment_method = invoices::default_payment_method(state, call, &customer_id, default_pm.as_deref());
    let needs_payment = trial_end.is_none() && collection == "charge_automatically";
    if needs_payment && payment_method.is_none() && behaviour != "default_incomplete" {
        return Err(ApiError::invalid(
            "This customer has no attached payment source or default payment method. Please consider adding a default payment method. For more information, visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority.",
        )
        .with_code("resource_missing"));
    }
    if needs_payment && behaviour == "error_if_incomplete" {
        // Stripe creates nothing when the first payment cannot complete.
        if let Some(pm) = &payment_method {
            let card = payment_methods::card_of(state, pm)?;
            let ready = state.off_session_ready.contains(pm);
            let blocked = match card.behaviour {
                Behaviour::Authenticate { setup_lifts_it, .. } if !(setup_lifts_it && ready) => {
                    Some(super::super::cards::Decline::AuthenticationRequired)
                }
                _ => charges::decline_for(&card, true),
            };
            if let Some(decline) = blocked {
                return Err(decline.error());
            }
        }
    }
    let (price0, _, _) = &items[0];
    let (interval, count) = (
        price0["recurring"]["interval"].as_str().unwrap_or("month").to_string(),
        price0["recurring"]["interval_count"].as_i64().unwrap_or(1),
    );
    let period = match trial_end {
        Some(end) => (call.now, end),
        None => (call.now, period_end(call.now, &interval, count)),
    };
    let id = ids::new_id("sub_");
    let item_objects: Vec<Value> = items
        .iter()
        .map(|(price, qty, meta)| make_item(call, &id, price.clone(), *qty, meta.clone(), period))
        .collect();
    let single = item_objects.len() == 1;
    let mut sub = json!({
        "id": id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"enabled": false, "liability": null},
        "billing_cycle_anchor": trial_end.unwrap_or(call.now),
        "billing_thresholds": null,
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "cancellation_details": {"comment": null, "feedback": null, "reason": null},
        "collection_method": collection,
        "created": call.now,
        "currency": price0["currency"],
        "current_period_end": period.1,
        "current_period_start": period.0,
        "customer": customer_id,
        "days_until_due": p.int("days_until_due")?,
        "default_payment_method": default_pm,
        "default_source": null,
        "default_tax_rates": []
    });
    super::extend(
        &mut sub,
        json!({
            "description": p.str("description")?,
            "discount": null,
            "discounts": [],
            "ended_at": null,
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": list::envelope(item_objects.clone(), false, &format!("/v1/subscription_items?subscription={id}")),
            "latest_invoice": null,
            "livemode": false,
            "metadata": {},
            "next_pending_invoice_item_invoice": null,
            "on_behalf_of": null,
            "pause_collection": null,
            "payment_settings": {"payment_method_options": null, "payment_method_types": null, "save_default_payment_method": "off"},
            "pending_invoice_item_interval": null,
            "pending_setup_intent": null,
            "pending_update": null,
            "plan": if single { plan_of(&item_objects[0]["price"]) } else { Value::Null },
            "quantity": if single { item_objects[0]["quantity"].clone() } else { Value::Null },
            "schedule": null,
            "start_date": call.now,
            "status": if trial_end.is_some() { "trialing" } else { "incomplete" },
            "test_clock": null,
            "transfer_data": null,
            "trial_end": trial_end,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": trial_end.map(|_| call.now)
        }),
    );
    if trial_end.is_none() && !needs_payment {
        sub["status"] = json!("active");
    }
    p.apply_metadata(&mut sub["metadata"])?;
    if p.bool("cancel_at_period_end")?.unwrap_or(false) {
        sub["cancel_at_period_end"] = json!(true);
        sub["cancel_at"] = json!(period.1);
    }
    state.objects.insert(call.owner(), sub.clone());
    state.emit(call, "customer.subscription.created", &sub);

    // The first invoice: free during a trial, else the items' total.
    let lines: Vec<Value> = item_objects
        .iter()
        .map(|item| invoices::subscription_line(item, &id, period, trial_end.map(|_| 0)))
        .collect();
    let currency = price0["currency"].as_str().unwrap_or("usd").to_string();
    let billing = invoices::Billing {
        subscription: Some(&id),
        reason: "subscription_create",
        period,
    };
    let invoice = invoices::make(state, call, &customer, &currency, lines, billing);
    let invoice_id = invoice["id"].as_str().unwrap_or_default().to_string();
    let mut with_invoice = fetch(state, call, &id)?;
    with_invoice["latest_invoice"] = json!(invoice_id);
    state.objects.replace(with_invoice);
    if collection == "send_invoice" {
        invoices::finalize(state, call, &invoice_id)?;
        return fetch(state, call, &id);
    }
    let invoice = invoices::finalize(state, call, &invoice_id)?;
    if invoice["status"] == "open" && behaviour != "default_incomplete" {
        if let Some(pm) = &payment_method {
            match invoices::attempt_payment(state, call, &invoice_id, pm, false) {
                Ok(_) => {}
                // allow_incomplete: the subscription stays incomplete.
                Err(e) if e.status == 402 => {}
                Err(e) => return Err(e),
            }
        }
    }
    fetch(state, call, &id)
}

/// The first (or a later) invoice was paid: incomplete/past_due -> active.
pub fn on_invoice_paid(state: &mut State, call: &Call, id: &str) -> Result<(), ApiError> {
    let before = fetch(state, call, id)?;
    let status = before["status"].as_str().unwrap_or_default();
    if status != "incomplete" && status != "past_due" && status != "unpaid" {
        return Ok(());
    }
    let mut sub = before.clone();
    sub["status"] = json!("active");
    state.objects.replace(sub.clone());
    state.emit_update(call, "customer.subscription.updated", &before, &sub);
    Ok(())
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    fetch(state, call, call.path("id"))
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "cancel_at_period_end",
        "cancel_at",
        "metadata",
        "default_payment_method",
        "default_source",
        "description",
        "items",
        "proration_behavior",
        "payment_behavior",
        "trial_end",
        "cancellation_details",
        "days_until_due",
        "collection_method",
        "off_session",
    ])?;
    let id = call.path("id").to_string();
    let before = fetch(state, call, &id)?;
    let mut sub = before.clone();
    let canceled = before["status"] == "canceled";
    let touches_more = p
        .as_map()
        .keys()
        .any(|k| k != "metadata" && k != "cancellation_details" && k != "expand");
    if canceled && touches_more {
        return Err(ApiError::unexpected_state(
            "subscription_canceled",
            "A canceled subscription can only update its cancellation_details and metadata.",
        ));
    }
    if let Some(at_end) = p.bool("cancel_at_period_end")? {
        sub["cancel_at_period_end"] = json!(at_end);
        sub["cancel_at"] = if at_end {
            sub["current_period_end"].clone()
        } else {
            Value::Null
        };
        sub["canceled_at"] = if at_end { json!(call.now) } else { Value::Null };
        if !at_end {
            sub["cancellation_details"] = json!({"comment": null, "feedback": null, "reason": null});
        } else {
            sub["cancellation_details"]["reason"] = json!("cancellation_requested");
        }
    }
    if let Some(at) = p.update_str("cancel_at")? {
        match at {
            None => sub["cancel_at"] = Value::Null,
            Some(t) => {
                let t: i64 = t
                    .parse()
                    .map_err(|_| ApiError::invalid_param("cancel_at", format!("Invalid timestamp: {t}")))?;
                sub["cancel_at"] = json!(t);
            }
        }
    }
    if let Some(details) = p.hash("cancellation_details")? {
        details.allow(&["comment", "feedback"])?;
        if let Some(comment) = details.update_str("comment")? {
            sub["cancellation_details"]["comment"] = json!(comment);
        }
        if let Some(feedback) = details.choice(
            "feedback",
            &[
                "customer_service",
                "low_quality",
                "missing_features",
                "other",
                "switched_service",
                "too_complex",
                "too_expensive",
                "unused",
            ],
        )? {
            sub["cancellation_details"]["feedback"] = json!(feedback);
        }
    }
    if let Some(pm) = p.update_str("default_payment_method")? {
        if let Some(pm) = &pm {
            let attached = state
                .objects
                .get(call.owner(), pm)
                .map(|v| v["customer"] == sub["customer"])
                .unwrap_or(false);
            if !attached {
                return Err(ApiError::invalid(format!("The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."))
                    .with_code("resource_missing")
                    .with_param("default_payment_method"));
            }
        }
        sub["default_payment_method"] = json!(pm);
    }
    super::update_field(p, &mut sub, "description")?;
    if let Some(end) = p.str("trial_end")? {
        let end = if end == "now" {
            call.now
        } else {
            end.parse::<i64>()
                .map_err(|_| ApiError::invalid_param("trial_end", format!("Invalid timestamp: {end}")))?
        };
        if end <= call.now {
            if sub["status"] == "trialing" {
                sub["status"] = json!("active");
            }
        } else {
            // A new trial end is the end of the current (free) period.
            sub["status"] = json!("trialing");
            sub["current_period_end"] = json!(end);
        }
        sub["trial_end"] = json!(end);
    }
    p.apply_metadata(&mut sub["metadata"])?;
    let item_params = p.hash_list("items")?;
    if !item_params.is_empty() {
        update_items(state, call, &mut sub, &item_params)?;
    }
    if sub != before {
        state.objects.replace(sub.clone());
        state.emit_update(call, "customer.subscription.updated", &before, &sub);
    }
    Ok(sub)
}

/// `items[i][id]` changes (price, quantity, `deleted`), items without an id are added.
fn update_items(state: &mut State, call: &Call, sub: &mut Value, items: &[Params]) -> Result<(), ApiError> {
    let sub_id = sub["id"].as_str().unwrap_or_default().to_string();
    let period = (
        sub["current_period_start"].as_i64().unwrap_or(call.now),
        sub["current_period_end"].as_i64().unwrap_or(call.now),
    );
    let mut current: Vec<Value> = sub["items"]["data"].as_array().cloned().unwrap_or_default();
    for item in items {
        item.allow(&[
            "id",
            "price",
            "price_data",
            "quantity",
            "metadata",
            "deleted",
            "tax_rates",
            "discounts",
            "clear_usage",
            "plan",
        ])?;
        match item.str("id")? {
            Some(item_id) => {
                let Some(position) = current.iter().position(|i| i["id"] == item_id.as_str()) else {
                    return Err(ApiError::no_such("subscription item", &item_id, &item.full_name("id")));
                };
                if item.bool("deleted")?.unwrap_or(false) {
                    current.remove(position);
                    continue;
                }
                if item.has("price") || item.has("price_data") || item.has("plan") {
                    let price = item_price(state, call, item)?;
                    current[position]["plan"] = plan_of(&price);
                    current[position]["price"] = price;
                }
                if let Some(q) = item.int("quantity")? {
                    if q < 1 {
                        return Err(ApiError::invalid_param(
                            &item.full_name("quantity"),
                            "Quantity must be at least 1.",
                        ));
                    }
                    current[position]["quantity"] = json!(q);
                }
                item.apply_metadata(&mut current[position]["metadata"])?;
            }
            None => {
                let mut read = read_items(state, call, std::slice::from_ref(item))?;
                if let Some((price, qty, meta)) = read.pop() {
                    current.push(make_item(call, &sub_id, price, qty, meta, period));
                }
            }
        }
    }
    if current.is_empty() {
        return Err(ApiError::invalid_param(
            "items",
            "A subscription must keep at least one item; cancel it instead.",
        ));
    }
    check_compatible(&current.iter().map(|i| &i["price"]).collect::<Vec<_>>())?;
    let single = current.len() == 1;
    sub["plan"] = if single {
        current[0]["plan"].clone()
    } else {
        Value::Null
    };
    sub["quantity"] = if single {
        current[0]["quantity"].clone()
    } else {
        Value::Null
    };
    sub["items"]["data"] = json!(current);
    Ok(())
}

/// Cancel at once (`customer.subscription.deleted`).
pub fn cancel_now(state: &mut State, call: &Call, id: &str) -> Result<Value, ApiError> {
    let before = fetch(state, call, id)?;
    if before["status"] == "canceled" {
        return Err(ApiError::no_such("subscription", id, "id"));
    }
    let mut sub = before.clone();
    sub["status"] = json!("canceled");
    sub["canceled_at"] = json!(call.now);
    sub["ended_at"] = json!(call.now);
    sub["cancel_at_period_end"] = json!(false);
    if sub["cancellation_details"]["reason"].is_null() {
        sub["cancellation_details"]["reason"] = json!("cancellation_requested");
    }
    state.objects.replace(sub.clone());
    state.emit(call, "customer.subscription.deleted", &sub);
    Ok(sub)
}

fn cancel(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&["invoice_now", "prorate", "cancellation_details"])?;
    let id = call.path("id").to_string();
    let mut sub = fetch(state, call, &id)?;
    if let Some(details) = call.params.hash("cancellation_details")? {
        details.allow(&["comment", "feedback"])?;
        sub["cancellation_details"]["comment"] = json!(details.str("comment")?);
        sub["cancellation_details"]["feedback"] = json!(details.str("feedback")?);
        state.objects.replace(sub);
    }
    cancel_now(state, call, &id)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend([
        "customer",
        "price",
        "status",
        "collection_method",
        "current_period_end",
        "current_period_start",
    ]);
    call.params.allow(&allowed)?;
    let p = &call.params;
    let customer = p.str("customer")?;
    let price = p.str("price")?;
    let status = p.choice(
        "status",
        &[
            "active",
            "past_due",
            "unpaid",
            "canceled",
            "incomplete",
            "incomplete_expired",
            "trialing",
            "paused",
            "all",
            "ended",
        ],
    )?;
    list_of(state, call, "subscription", "subscription", "/v1/subscriptions", |s| {
        let status_ok = match status.as_deref() {
            None => s["status"] != "canceled",
            Some("all") => true,
            Some("ended") => s["status"] == "canceled" || s["status"] == "incomplete_expired",
            Some(wanted) => s["status"] == wanted,
        };
        let price_ok = price
            .as_ref()
            .map(|pr| {
                s["items"]["data"]
                    .as_array()
                    .map(|items| items.iter().any(|i| i["price"]["id"] == pr.as_str()))
                    .unwrap_or(false)
            })
            .unwrap_or(true);
        status_ok && price_ok && super::matches_filter(s, "customer", &customer)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use super::period_end;
    use serde_json::json;

    async fn customer_with_card(app: &TestApp, pm: &str) -> (String, String) {
        let c = app.post("/v1/customers", &format!("payment_method={pm}")).await.body;
        let id = c["id"].as_str().unwrap().to_string();
        let pm = app.get(&format!("/v1/customers/{id}/payment_methods")).await.body["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        (id, pm)
    }

    #[test]
    fn periods_follow_the_calendar() {
        // 2024-01-31 + 1 month = 2024-02-29 (leap year, clamped)
        let jan31 = 1_706_659_200;
        assert_eq!(period_end(jan31, "month", 1), 1_709_164_800);
        assert_eq!(period_end(0, "day", 2), 172_800);
        assert_eq!(period_end(0, "week", 1), 604_800);
        assert_eq!(period_end(0, "year", 1), 31_536_000);
        assert_eq!(period_end(0, "month", 0), period_end(0, "month", 1));
    }

    #[actix_web::test]
    async fn active_subscription_with_paid_invoice() {
        let app = TestApp::new().await;
        let price = app.recurring_price(1500, "month").await;
        let (customer, pm) = customer_with_card(&app, "pm_card_visa").await;
        let sub = app
            .post("/v1/subscriptions", &format!("customer={customer}&items[0][price]={price}&items[0][quantity]=2&default_payment_method={pm}&metadata[plan]=pro&expand[]=latest_invoice.payment_intent"))
            .await;
        assert_eq!(sub.status, 200, "{}", sub.body);
        let s = &sub.body;
        assert!(s["id"].as_str().unwrap().starts_with("sub_"));
        assert_eq!(s["status"], "active");
        assert_eq!(s["items"]["data"][0]["price"]["id"], price.as_str());
        assert_eq!(s["items"]["data"][0]["quantity"], 2);
        assert_eq!(s["metadata"]["plan"], "pro");
        let invoice = &s["latest_invoice"];
        assert_eq!(invoice["status"], "paid");
        assert_eq!(invoice["amount_paid"], 3000);
        assert_eq!(invoice["payment_intent"]["status"], "succeeded");
        assert!(s["current_period_end"].as_i64().unwrap() > s["current_period_start"].as_i64().unwrap());
        let types = app.event_types().await;
        for t in [
            "customer.subscription.created",
            "invoice.created",
            "invoice.paid",
            "invoice.payment_succeeded",
            "customer.subscription.updated",
        ] {
            assert!(types.contains(&t.to_string()), "{t} in {types:?}");
        }
    }

    #[actix_web::test]
    async fn trialing_and_incomplete_subscriptions() {
        let app = TestApp::new().await;
        let price = app.recurring_price(900, "week").await;
        let (customer, _) = customer_with_card(&app, "pm_card_visa").await;
        let trial = app
            .post(
                "/v1/subscriptions",
                &format!("customer={customer}&items[0][price]={price}&trial_period_days=14"),
            )
            .await
            .body;
        assert_eq!(trial["status"], "trialing");
        assert_eq!(
            trial["trial_end"].as_i64().unwrap() - trial["trial_start"].as_i64().unwrap(),
            14 * 86_400
        );
        let invoice = app
            .get(&format!("/v1/invoices/{}", trial["latest_invoice"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(invoice["amount_due"], 0);
        assert_eq!(invoice["status"], "paid");

        let (declining, pm) = customer_with_card(&app, "pm_card_chargeCustomerFail").await;
        let incomplete = app
            .post(
                "/v1/subscriptions",
                &format!("customer={declining}&items[0][price]={price}&default_payment_method={pm}"),
            )
            .await;
        assert_eq!(incomplete.status, 200, "{}", incomplete.body);
        assert_eq!(incomplete.body["status"], "incomplete");
        let open = app
            .get(&format!(
                "/v1/invoices/{}",
                incomplete.body["latest_invoice"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(open["status"], "open");
        // Paying the invoice later with a good card activates the subscription.
        let paid = app
            .post(
                &format!("/v1/invoices/{}/pay", open["id"].as_str().unwrap()),
                "payment_method=pm_card_visa",
            )
            .await;
        assert_eq!(paid.body["status"], "paid");
        let now_active = app
            .get(&format!(
                "/v1/subscriptions/{}",
                incomplete.body["id"].as_str().unwrap()
            ))
            .await
            .body;
        assert_eq!(now_active["status"], "active");

        let strict = app
            .post("/v1/subscriptions", &format!("customer={declining}&items[0][price]={price}&default_payment_method={pm}&payment_behavior=error_if_incomplete"))
            .await;
        assert_eq!(strict.status, 402);
        let none = app.post("/v1/customers", "").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let no_pm = app
            .post("/v1/subscriptions", &format!("customer={none}&items[0][price]={price}"))
            .await;
        assert_eq!(no_pm.status, 400);
        let pending = app
            .post("/v1/subscriptions", &format!("customer={none}&items[0][price]={price}&payment_behavior=default_incomplete&expand[]=latest_invoice.payment_intent"))
            .await
            .body;
        assert_eq!(pending["status"], "incomplete");
        assert!(pending["latest_invoice"]["payment_intent"]["client_secret"].is_string());
    }

    #[actix_web::test]
    async fn three_d_secure_leaves_it_incomplete_until_confirmed() {
        let app = TestApp::new().await;
        let price = app.recurring_price(2000, "month").await;
        let (customer, pm) = customer_with_card(&app, "pm_card_threeDSecure2Required").await;
        let sub = app
            .post("/v1/subscriptions", &format!("customer={customer}&items[0][price]={price}&default_payment_method={pm}&expand[]=latest_invoice.payment_intent"))
            .await
            .body;
        assert_eq!(sub["status"], "incomplete");
        let pi = &sub["latest_invoice"]["payment_intent"];
        assert_eq!(pi["status"], "requires_action");
        app.post(
            &format!("/v1/payment_intents/{}/confirm", pi["id"].as_str().unwrap()),
            "",
        )
        .await;
        let active = app
            .get(&format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(active["status"], "active");
    }

    #[actix_web::test]
    async fn update_cancel_at_period_end_items_and_delete() {
        let app = TestApp::new().await;
        let monthly = app.recurring_price(1000, "month").await;
        let other = app.recurring_price(3000, "month").await;
        let (customer, pm) = customer_with_card(&app, "pm_card_visa").await;
        let sub = app
            .post(
                "/v1/subscriptions",
                &format!("customer={customer}&items[0][price]={monthly}&default_payment_method={pm}"),
            )
            .await
            .body;
        let id = sub["id"].as_str().unwrap();
        let item = sub["items"]["data"][0]["id"].as_str().unwrap();
        let scheduled = app
            .post(&format!("/v1/subscriptions/{id}"), "cancel_at_period_end=true")
            .await
            .body;
        assert_eq!(scheduled["cancel_at_period_end"], true);
        assert_eq!(scheduled["cancel_at"], sub["current_period_end"]);
        assert_eq!(scheduled["status"], "active");
        let swapped = app
            .post(
                &format!("/v1/subscriptions/{id}"),
                &format!("items[0][id]={item}&items[0][price]={other}&items[0][quantity]=3"),
            )
            .await
            .body;
        assert_eq!(swapped["items"]["data"][0]["price"]["id"], other.as_str());
        assert_eq!(swapped["quantity"], 3);
        let yearly = app.recurring_price(5000, "year").await;
        let mismatch = app
            .post(&format!("/v1/subscriptions/{id}"), &format!("items[0][price]={yearly}"))
            .await;
        assert_eq!(mismatch.status, 400);
        let canceled = app.delete(&format!("/v1/subscriptions/{id}")).await.body;
        assert_eq!(canceled["status"], "canceled");
        assert!(canceled["ended_at"].is_i64());
        let late = app
            .post(&format!("/v1/subscriptions/{id}"), "cancel_at_period_end=false")
            .await;
        assert_eq!(late.status, 400);
        let meta = app
            .post(&format!("/v1/subscriptions/{id}"), "metadata[why]=moved")
            .await;
        assert_eq!(meta.status, 200);
        assert_eq!(
            app.get(&format!("/v1/subscriptions?customer={customer}")).await.body["data"],
            json!([])
        );
        assert_eq!(
            app.get(&format!("/v1/subscriptions?customer={customer}&status=canceled"))
                .await
                .body["data"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let types = app.event_types().await;
        assert!(types.contains(&"customer.subscription.deleted".to_string()));
    }

    #[actix_web::test]
    async fn legacy_plan_items_and_trial_changes() {
        let app = TestApp::new().await;
        let price = app.recurring_price(700, "month").await;
        let (customer, _) = customer_with_card(&app, "pm_card_visa").await;
        let sub = app
            .post(
                "/v1/subscriptions",
                &format!("customer={customer}&items[0][plan]={price}&trial_period_days=3"),
            )
            .await;
        assert_eq!(sub.status, 200, "{}", sub.body);
        assert_eq!(sub.body["plan"]["id"], price.as_str());
        assert_eq!(sub.body["status"], "trialing");
        let id = sub.body["id"].as_str().unwrap();
        let later = sub.body["trial_end"].as_i64().unwrap() + 86_400;
        let extended = app
            .post(&format!("/v1/subscriptions/{id}"), &format!("trial_end={later}"))
            .await
            .body;
        assert_eq!(extended["trial_end"], later);
        assert_eq!(extended["current_period_end"], later);
        let ended = app
            .post(
                &format!("/v1/subscriptions/{id}"),
                "trial_end=now&proration_behavior=none",
            )
            .await
            .body;
        assert_eq!(ended["status"], "active");
        assert_eq!(
            app.post(&format!("/v1/subscriptions/{id}"), "trial_end=soon")
                .await
                .status,
            400
        );
    }

    #[actix_web::test]
    async fn validation() {
        let app = TestApp::new().await;
        let (customer, _) = customer_with_card(&app, "pm_card_visa").await;
        let product = app.post("/v1/products", "name=One").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let once = app
            .post("/v1/prices", &format!("product={product}&currency=usd&unit_amount=100"))
            .await
            .body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .post(
                "/v1/subscriptions",
                &format!("customer={customer}&items[0][price]={once}"),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["error"]["param"], "items[0][price]");
        assert_eq!(
            app.post("/v1/subscriptions", &format!("customer={customer}"))
                .await
                .body["error"]["param"],
            "items"
        );
        assert_eq!(
            app.post("/v1/subscriptions", "items[0][price]=price_x").await.body["error"]["param"],
            "customer"
        );
        let price = app.recurring_price(100, "month").await;
        let bad_pm = app
            .post(
                "/v1/subscriptions",
                &format!("customer={customer}&items[0][price]={price}&default_payment_method=pm_card_visa"),
            )
            .await;
        assert_eq!(bad_pm.status, 400);
        assert_eq!(app.get("/v1/subscriptions").await.body["data"], json!([]));
    }
}
