//! `payforms reconcile`: compare what Stripe holds with the stored records
//! and repair what a missed webhook left behind.
//!
//! Stripe's payment intents, refunds and disputes of the period are listed
//! through the shipped list request types (so an app's override applies).
//! Each object is then run through the processor of the event that would
//! have announced its current state, as if that event had arrived now: the
//! same mapping and state rules as a delivered webhook, so a repair can
//! never move a record backwards. Whatever the processor changed is a
//! repair; what could not be processed is reported with its id.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::processor::{self, Outcome};
use crate::db::schema::ModelType;
use crate::gateway::{Caller, DispatchFailure};
use crate::instance::Instance;

/// At most this many objects of one kind per run (pages of 100).
const MAX_OBJECTS: usize = 100_000;
const PAGE: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    PaymentIntent,
    Refund,
    Dispute,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 3] = [ObjectKind::PaymentIntent, ObjectKind::Refund, ObjectKind::Dispute];

    fn list_request_type(self) -> &'static str {
        match self {
            ObjectKind::PaymentIntent => "list_payment_intents",
            ObjectKind::Refund => "list_refunds",
            ObjectKind::Dispute => "list_disputes",
        }
    }

    /// The model whose record (by `gateway_id`) the object ends up in.
    fn model(self) -> &'static str {
        match self {
            ObjectKind::PaymentIntent => "modules/payments/payment",
            ObjectKind::Refund => "modules/payments/refund",
            // A dispute is kept on its payment (dispute_id, dispute_state).
            ObjectKind::Dispute => "modules/payments/payment",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            ObjectKind::PaymentIntent => "payment intents",
            ObjectKind::Refund => "refunds",
            ObjectKind::Dispute => "disputes",
        }
    }
}

/// The event that announces `object`'s current state; None when nothing
/// has happened to it that a record should show (e.g. a PaymentIntent
/// still waiting for its payment method).
fn event_type(kind: ObjectKind, object: &Value) -> Option<&'static str> {
    let status = object["status"].as_str().unwrap_or_default();
    match kind {
        ObjectKind::PaymentIntent => match status {
            "succeeded" => Some("payment_intent.succeeded"),
            "canceled" => Some("payment_intent.canceled"),
            "requires_capture" => Some("payment_intent.amount_capturable_updated"),
            "processing" => Some("payment_intent.processing"),
            "requires_action" => Some("payment_intent.requires_action"),
            "requires_payment_method" if !object["last_payment_error"].is_null() => {
                Some("payment_intent.payment_failed")
            }
            _ => None,
        },
        ObjectKind::Refund => Some("refund.updated"),
        ObjectKind::Dispute => Some("charge.dispute.created"),
    }
}

/// The record key an object is found by, in its kind's model.
fn record_key(kind: ObjectKind, object: &Value) -> Option<String> {
    let key = match kind {
        ObjectKind::PaymentIntent | ObjectKind::Refund => &object["id"],
        ObjectKind::Dispute => &object["payment_intent"],
    };
    key.as_str().map(str::to_string)
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KindReport {
    pub checked: usize,
    pub unchanged: usize,
    /// Ids of the objects whose records were created or corrected.
    pub repaired: Vec<String>,
    /// Ids (or the listing itself) that could not be reconciled, and why.
    pub failed: Vec<(String, String)>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub kinds: Vec<(ObjectKind, KindReport)>,
}

impl Report {
    pub fn repaired(&self) -> usize {
        self.kinds.iter().map(|(_, k)| k.repaired.len()).sum()
    }

    pub fn failed(&self) -> usize {
        self.kinds.iter().map(|(_, k)| k.failed.len()).sum()
    }
}

/// Reconcile every kind, for objects created at or after `since` (unix
/// seconds; all when None). Blocking.
pub fn reconcile(instance: &Arc<Instance>, since: Option<i64>) -> Report {
    let mut report = Report::default();
    for kind in ObjectKind::ALL {
        report.kinds.push((kind, reconcile_kind(instance, kind, since)));
    }
    report
}

fn reconcile_kind(instance: &Arc<Instance>, kind: ObjectKind, since: Option<i64>) -> KindReport {
    let mut report = KindReport::default();
    let loaded = instance.current();
    let model = loaded.app.model_type(kind.model()).cloned();
    let mut starting_after: Option<String> = None;
    loop {
        let mut data = json!({ "limit": PAGE });
        if let Some(since) = since {
            data["created_gte"] = json!(since);
        }
        if let Some(after) = &starting_after {
            data["starting_after"] = json!(after);
        }
        // The listed objects hold Stripe's state as of this moment: a repair
        // is stamped with it, so a real event created later still applies
        // and one created earlier (already reflected here) does not undo it.
        let listed_at = chrono::Utc::now().timestamp();
        let page = match list_page(instance, kind, data) {
            Ok(page) => page,
            Err(why) => {
                report.failed.push((format!("(listing {})", kind.plural()), why));
                return report;
            }
        };
        let objects = page["data"].as_array().cloned().unwrap_or_default();
        for object in &objects {
            report.checked += 1;
            let id = object["id"].as_str().unwrap_or("(no id)").to_string();
            match reconcile_object(instance, kind, model.as_deref(), object, listed_at) {
                Ok(true) => report.repaired.push(id),
                Ok(false) => report.unchanged += 1,
                Err(why) => report.failed.push((id, why)),
            }
        }
        let more = page["has_more"].as_bool().unwrap_or(false);
        starting_after = objects.last().and_then(|o| o["id"].as_str()).map(str::to_string);
        if !more || starting_after.is_none() || report.checked >= MAX_OBJECTS {
            return report;
        }
    }
}

/// One page of a list request type's answer body (`{data, has_more}`).
fn list_page(instance: &Arc<Instance>, kind: ObjectKind, data: Value) -> Result<Value, String> {
    let loaded = instance.current();
    let request_type = kind.list_request_type();
    let outcome = instance
        .gateway
        .dispatch(&loaded.app, request_type, data, None, Caller::Runtime)
        .map_err(|DispatchFailure { message, .. }| format!("{request_type}: {message}"))?;
    let response = outcome.response.unwrap_or(Value::Null);
    let status = response["status"].as_u64().unwrap_or(0);
    if status != 200 {
        return Err(format!("{request_type}: the gateway answered {status}"));
    }
    Ok(response["body"].clone())
}

/// Run the object through its processor; true when a record changed.
fn reconcile_object(
    instance: &Arc<Instance>,
    kind: ObjectKind,
    model: Option<&ModelType>,
    object: &Value,
    listed_at: i64,
) -> Result<bool, String> {
    let Some(event_type) = event_type(kind, object) else {
        return Ok(false);
    };
    let before = stored(instance, model, kind, object)?;
    let event = apply(instance, event_type, object, listed_at)?;
    let mut changed = before != stored(instance, model, kind, object)?;
    if changed {
        // The merchant hears of a repair as of a delivered event (only
        // then: an unchanged record was announced when it changed).
        super::merchant::enqueue(instance, &instance.store, &event);
    }
    // A refund also changes its payment (amount refunded, state), which
    // Stripe announces on the charge.
    if kind == ObjectKind::Refund {
        if let Some(charge_id) = object["charge"].as_str() {
            let payments = instance
                .current()
                .app
                .model_type(ObjectKind::PaymentIntent.model())
                .cloned();
            let payment_key = json!({ "id": object["payment_intent"] });
            let payment =
                |instance: &Instance| stored(instance, payments.as_deref(), ObjectKind::PaymentIntent, &payment_key);
            let payment_before = payment(instance)?;
            let charge = fetch_charge(instance, charge_id)?;
            let event = apply(instance, "charge.refunded", &charge, listed_at)?;
            if payment_before != payment(instance)? {
                super::merchant::enqueue(instance, &instance.store, &event);
                changed = true;
            }
        }
    }
    Ok(changed)
}

/// Run `object` through the processor of `event_type`, as an event created
/// at `created`; the event it made up.
fn apply(instance: &Arc<Instance>, event_type: &str, object: &Value, created: i64) -> Result<Value, String> {
    let event = json!({
        "id": format!("reconcile_{}", object["id"].as_str().unwrap_or_default()),
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": object["livemode"].as_bool().unwrap_or(false),
        "data": { "object": object },
    });
    match processor::run(instance, &instance.store, &event) {
        Ok(Outcome::Processed(_)) => Ok(event),
        Ok(Outcome::Skipped) => Err(format!("no webhook processor for {event_type}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The charge as Stripe holds it now (`get_charge`).
fn fetch_charge(instance: &Arc<Instance>, charge_id: &str) -> Result<Value, String> {
    let loaded = instance.current();
    let outcome = instance
        .gateway
        .dispatch(
            &loaded.app,
            "get_charge",
            json!({ "gateway_id": charge_id }),
            None,
            Caller::Runtime,
        )
        .map_err(|DispatchFailure { message, .. }| format!("get_charge: {message}"))?;
    let response = outcome.response.unwrap_or(Value::Null);
    match response["status"].as_u64() {
        Some(200) => Ok(response["body"].clone()),
        status => Err(format!("get_charge: the gateway answered {}", status.unwrap_or(0))),
    }
}

/// The record's properties that say what happened (not when it was
/// last told), or None when there is no record.
fn stored(
    instance: &Instance,
    model: Option<&ModelType>,
    kind: ObjectKind,
    object: &Value,
) -> Result<Option<Map<String, Value>>, String> {
    let (Some(model), Some(key)) = (model, record_key(kind, object)) else {
        return Ok(None);
    };
    let mut matching = Map::new();
    matching.insert("gateway_id".into(), Value::String(key));
    let record = instance
        .store
        .find_record(model, &matching)
        .map_err(|e| e.to_string())?;
    Ok(record.map(|r| {
        let mut properties = r.properties;
        properties.remove("event_created");
        properties
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_has_the_event_that_announces_it() {
        let pi = |status: &str| json!({"id": "pi_1", "status": status});
        assert_eq!(
            event_type(ObjectKind::PaymentIntent, &pi("succeeded")),
            Some("payment_intent.succeeded")
        );
        assert_eq!(
            event_type(ObjectKind::PaymentIntent, &pi("requires_capture")),
            Some("payment_intent.amount_capturable_updated")
        );
        assert_eq!(
            event_type(ObjectKind::PaymentIntent, &pi("requires_payment_method")),
            None
        );
        let failed = json!({"status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}});
        assert_eq!(
            event_type(ObjectKind::PaymentIntent, &failed),
            Some("payment_intent.payment_failed")
        );
        assert_eq!(
            record_key(ObjectKind::Dispute, &json!({"id": "dp_1", "payment_intent": "pi_9"})).as_deref(),
            Some("pi_9")
        );
    }
}
