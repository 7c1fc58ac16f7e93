//! Compensation: giving money back when a submission fails after a request
//! type that moves money (`moves_money: true`) was sent.
//!
//! The journal row is written before the request is sent. When the
//! submission finishes it is settled; when it fails, or when its process
//! died and another instance claimed it, this module learns what the
//! gateway holds (the answer it got, or the same request resent with the
//! same idempotency key, which the gateway replays) and gives it back: an
//! uncaptured PaymentIntent is canceled, a captured one refunded, through
//! the module's own `cancel_payment_intent` / `create_refund` request types
//! (so an app's override applies), with a key derived from the original
//! one, so a retry never refunds twice. The payment record says why.

use chrono::{Duration, Utc};
use serde_json::{json, Map, Value};

use crate::app::{ApiCallNotification, App};
use crate::db::models::form_submission;
use crate::db::models::money_journal::{self, JournalEntry, JournalOutcome};
use crate::db::write::RecordWrite;
use crate::db::{Store, StoreError};
use crate::gateway::{Caller, RequestDispatcher, Resent};

/// The model compensation is recorded on.
pub const PAYMENT_MODEL: &str = "modules/payments/payment";

/// What the visitor is told once the money was given back (or is being).
pub const GIVEN_BACK_MESSAGE: &str =
    "The payment could not be completed, so it was reversed: no charge was kept. Please try again.";
pub const GIVING_BACK_MESSAGE: &str =
    "The payment could not be completed; it is being reversed and no charge will be kept. Please try again.";

/// The idempotency key of the call that gives back what `key` took: derived,
/// so every retry of one compensation is one refund at the gateway.
pub fn compensation_key(key: &str) -> String {
    format!("{key}:compensate")
}

/// How long the submission holds its journal row: the request with every
/// retry (the transport's backoff is at most 3 s), plus time to map the
/// answer and finish. After that another instance may resolve it.
pub fn open_lease(notification: &ApiCallNotification) -> Duration {
    let attempts = i64::from(notification.retries) + 1;
    let seconds = i64::try_from(notification.timeout.as_secs()).unwrap_or(300);
    Duration::seconds(seconds * attempts + 3 * (attempts - 1) + 20)
}

/// How long a claimed compensation is held (a resend and a refund, each
/// with retries).
pub fn claim_lease() -> Duration {
    Duration::minutes(5)
}

/// Wait before retrying a compensation that did not complete: 4 s, 8 s …
/// capped at 10 minutes; it is retried until the gateway confirms.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 9) as u32 + 1;
    Duration::seconds((1i64 << exponent).min(600))
}

/// What resolving a journal row came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The gateway holds nothing for it: the submission's own error stands.
    NothingHeld,
    /// Refunded or canceled, confirmed by the gateway.
    GivenBack(JournalOutcome),
    /// The submission had finished after all: the money is kept.
    Settled,
    /// Not confirmed yet: retried later (the reason, for the log).
    Pending(String),
}

/// What the gateway holds for a money-moving request, from its answer.
#[derive(Debug, Clone, PartialEq)]
enum Held {
    Nothing,
    /// Uncaptured or unfinished: cancel.
    Cancelable(Value),
    /// Captured: refund.
    Refundable(Value),
    /// Already given back.
    Refunded(Value),
    /// Unknown yet (processing, a gateway error, an object we cannot give back).
    Unknown(String),
}

fn held(status: u16, body: &Value) -> Held {
    if status == 409 || status == 429 || status >= 500 {
        return Held::Unknown(format!("the gateway answered HTTP {status}"));
    }
    if !(200..300).contains(&status) {
        // A card error carries its PaymentIntent; anything else was refused.
        return match body["error"].get("payment_intent") {
            Some(intent) if intent.is_object() => held(200, intent),
            _ => Held::Nothing,
        };
    }
    match body["object"].as_str() {
        Some("payment_intent") => match body["status"].as_str() {
            Some("succeeded") => Held::Refundable(body.clone()),
            Some("requires_capture" | "requires_confirmation" | "requires_action") => Held::Cancelable(body.clone()),
            Some("canceled" | "requires_payment_method") => Held::Nothing,
            other => Held::Unknown(format!(
                "the PaymentIntent is {}",
                other.unwrap_or("in an unknown state")
            )),
        },
        Some("charge") => match (body["status"].as_str(), body["refunded"].as_bool()) {
            (Some("failed"), _) => Held::Nothing,
            (_, Some(true)) => Held::Refunded(body.clone()),
            // An uncaptured charge is released by refunding it.
            _ => Held::Refundable(body.clone()),
        },
        other => Held::Unknown(format!(
            "cannot give back a `{}` object",
            other.unwrap_or("(no object)")
        )),
    }
}

/// What compensation needs: the app version (its request types and the
/// payment model), the store and the gateway.
pub struct Compensator<'a> {
    pub app: &'a App,
    pub store: &'a Store,
    pub gateway: &'a dyn RequestDispatcher,
}

impl Compensator<'_> {
    /// Resolve a row this caller holds (its own, or claimed): learn what the
    /// gateway holds (from `answer`, else by resending the request), give it
    /// back, record why, and close the row, or leave it due for a retry.
    /// `reason` is why the submission failed (for the payment record).
    pub fn resolve(
        &self,
        entry: &JournalEntry,
        answer: Option<(u16, Value)>,
        reason: &str,
    ) -> Result<Resolution, StoreError> {
        // A claimed row whose submission did finish (it died after): keep.
        if let Some(submission) = &entry.submission_key {
            if form_submission::get(self.store, submission)?.is_some_and(|s| s.status == "done") {
                money_journal::close(self.store, entry.id, JournalOutcome::Settled, None)?;
                return Ok(Resolution::Settled);
            }
        }
        let (status, body) = match answer {
            Some(answer) => answer,
            None => {
                let resent = self.gateway.resend(
                    self.app,
                    &entry.request_type,
                    entry.data.clone(),
                    &entry.idempotency_key,
                );
                match resent {
                    Ok(Resent::Answered { status, body }) => (status, body),
                    Ok(Resent::NotSent(why)) => {
                        tracing::info!(
                            "money journal {}: `{}` cannot be rendered, so it was never sent: {why}",
                            entry.id,
                            entry.request_type
                        );
                        money_journal::close(self.store, entry.id, JournalOutcome::NotSent, None)?;
                        return Ok(Resolution::NothingHeld);
                    }
                    Err(why) => return self.later(entry, &why.message, None),
                }
            }
        };
        // A replayed answer shows the PaymentIntent as it was at the first
        // call; someone may have captured (or canceled) it since.
        let (status, body) = match self.current_intent(&entry.request_type, &body) {
            Some(current) => (200, current),
            None => (status, body),
        };
        let (object, refund) = match held(status, &body) {
            Held::Nothing => {
                money_journal::close(self.store, entry.id, JournalOutcome::NothingHeld, body["id"].as_str())?;
                return Ok(Resolution::NothingHeld);
            }
            Held::Unknown(why) => return self.later(entry, &why, body["id"].as_str()),
            Held::Refunded(object) => {
                return self.given_back(entry, &object, JournalOutcome::Refunded, reason);
            }
            Held::Cancelable(object) => (object, false),
            Held::Refundable(object) => (object, true),
        };
        let Some(id) = object["id"].as_str() else {
            return self.later(entry, "the gateway's answer has no id", None);
        };
        let module = module_of(&entry.request_type);
        let (request_type, data, outcome) = if refund {
            let target = if object["object"] == "charge" {
                "charge"
            } else {
                "payment_intent"
            };
            let data = json!({
                (target): id,
                "reason": "requested_by_customer",
                "metadata": { "payforms_compensates": entry.idempotency_key },
            });
            (format!("{module}create_refund"), data, JournalOutcome::Refunded)
        } else {
            let data = json!({ "gateway_id": id, "cancellation_reason": "abandoned" });
            (format!("{module}cancel_payment_intent"), data, JournalOutcome::Canceled)
        };
        let sent = self.gateway.dispatch(
            self.app,
            &request_type,
            data,
            Some(compensation_key(&entry.idempotency_key)),
            Caller::Runtime,
        );
        match sent {
            Ok(done) if done.errors.is_empty() => self.given_back(entry, &object, outcome, reason),
            Ok(done) => {
                let why: Vec<String> = done.errors.into_iter().map(|e| e.message).collect();
                self.later(entry, &format!("{request_type}: {}", why.join("; ")), Some(id))
            }
            // Given back already (by an operator, or a retry that was not recorded).
            Err(failure) if refund && matches!(failure.gateway_code.as_deref(), Some("charge_already_refunded")) => {
                self.given_back(entry, &object, outcome, reason)
            }
            Err(failure) => self.later(entry, &format!("{request_type}: {}", failure.message), Some(id)),
        }
    }

    /// The PaymentIntent of `answer` as the gateway holds it now
    /// (`get_payment_intent` of the same module); None when the answer is
    /// not a PaymentIntent or the gateway cannot tell (the answer is used).
    fn current_intent(&self, request_type: &str, answer: &Value) -> Option<Value> {
        let intent = if answer["object"] == "payment_intent" {
            answer
        } else {
            answer["error"].get("payment_intent")?
        };
        let id = intent["id"].as_str()?;
        let fetched = self
            .gateway
            .dispatch(
                self.app,
                &format!("{}get_payment_intent", module_of(request_type)),
                json!({ "gateway_id": id }),
                None,
                Caller::Runtime,
            )
            .ok()?
            .response?;
        (fetched["status"].as_u64() == Some(200) && fetched["body"]["object"] == "payment_intent")
            .then(|| fetched["body"].clone())
    }

    fn later(&self, entry: &JournalEntry, why: &str, gateway_id: Option<&str>) -> Result<Resolution, StoreError> {
        let retry_at = Utc::now() + backoff(entry.attempts.max(1));
        tracing::warn!(
            "money journal {}: compensation not confirmed yet ({why}); retrying at {retry_at}",
            entry.id
        );
        money_journal::retry_later(self.store, entry.id, why, retry_at, gateway_id)?;
        Ok(Resolution::Pending(why.to_string()))
    }

    fn given_back(
        &self,
        entry: &JournalEntry,
        object: &Value,
        outcome: JournalOutcome,
        reason: &str,
    ) -> Result<Resolution, StoreError> {
        let id = object["id"].as_str();
        if let Some(id) = id {
            // The money is back either way; a record that cannot be written
            // is logged, not retried.
            if let Err(e) = self.record_on_payment(id, object, outcome, reason) {
                tracing::error!(
                    "money journal {}: the payment record for {id} could not be updated: {e}",
                    entry.id
                );
            }
        }
        tracing::info!(
            "money journal {}: {} {} ({reason})",
            entry.id,
            outcome.as_str(),
            id.unwrap_or("?")
        );
        money_journal::close(self.store, entry.id, outcome, id)?;
        Ok(Resolution::GivenBack(outcome))
    }

    /// `compensation_state` and `compensation_reason` on the payment of the
    /// gateway object (created when the failed mapper wrote none).
    fn record_on_payment(
        &self,
        id: &str,
        object: &Value,
        outcome: JournalOutcome,
        reason: &str,
    ) -> Result<(), StoreError> {
        let Some(model) = self.app.model_type(PAYMENT_MODEL) else {
            return Ok(());
        };
        let mut properties = Map::new();
        properties.insert("compensation_state".into(), json!(outcome.as_str()));
        properties.insert(
            "compensation_reason".into(),
            json!(reason.chars().take(500).collect::<String>()),
        );
        for (property, key) in [("amount", "amount"), ("currency", "currency")] {
            if model.property(property).is_some() && !object[key].is_null() {
                properties.insert(property.into(), object[key].clone());
            }
        }
        properties.retain(|name, _| model.property(name).is_some());
        let mut matching = Map::new();
        matching.insert("gateway_id".into(), json!(id));
        let write = RecordWrite::from_template(Some("upsert"), None, Some(matching), properties, Vec::new())?;
        if let Some(write) = write {
            self.store.write(model, write)?;
        }
        Ok(())
    }
}

/// `modules/stripe/create_payment` -> `modules/stripe/`; an app's own
/// request type -> "" (its own `create_refund`, else a module's).
fn module_of(request_type: &str) -> String {
    match request_type
        .strip_prefix("modules/")
        .and_then(|rest| rest.split_once('/'))
    {
        Some((module, _)) => format!("modules/{module}/"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_held_follows_the_answer() {
        let pi = |status: &str| json!({ "object": "payment_intent", "id": "pi_1", "status": status });
        assert!(matches!(held(200, &pi("succeeded")), Held::Refundable(_)));
        assert!(matches!(held(200, &pi("requires_capture")), Held::Cancelable(_)));
        assert!(matches!(held(200, &pi("requires_action")), Held::Cancelable(_)));
        assert_eq!(held(200, &pi("canceled")), Held::Nothing);
        assert!(matches!(held(200, &pi("processing")), Held::Unknown(_)));
        let declined = json!({ "error": { "type": "card_error", "payment_intent": pi("requires_payment_method") } });
        assert_eq!(held(402, &declined), Held::Nothing);
        assert_eq!(
            held(400, &json!({ "error": { "type": "invalid_request_error" } })),
            Held::Nothing
        );
        assert!(matches!(held(500, &json!({})), Held::Unknown(_)));
        assert!(matches!(held(409, &json!({})), Held::Unknown(_)));
        let charge =
            json!({ "object": "charge", "id": "ch_1", "status": "succeeded", "captured": false, "refunded": false });
        assert!(matches!(held(200, &charge), Held::Refundable(_)));
        assert!(matches!(
            held(200, &json!({ "object": "invoice", "id": "in_1" })),
            Held::Unknown(_)
        ));
    }

    #[test]
    fn keys_and_modules() {
        assert_eq!(compensation_key("pf_abc"), "pf_abc:compensate");
        assert_eq!(module_of("modules/stripe/create_payment"), "modules/stripe/");
        assert_eq!(module_of("charge_card"), "");
        assert_eq!(backoff(1), Duration::seconds(4));
        assert_eq!(backoff(50), Duration::seconds(600));
    }
}
