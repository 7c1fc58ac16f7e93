//! SEPA Direct Debit, the sandbox's one delayed-notification payment method:
//! a PaymentIntent paid from a bank account stays `processing` for a moment
//! (days, at a real bank), then succeeds or fails, and the webhook says so.
//! Stripe's test IBANs: DE89370400440532013000 succeeds,
//! DE62370400440532013001 fails.

use serde_json::{json, Value};

use super::api_error::ApiError;
use super::endpoint::Call;
use super::ids;
use super::params::Params;
use super::state::State;

/// The IBAN whose debits fail (Stripe's test IBAN for a failure).
pub const FAILING_IBAN: &str = "DE62370400440532013001";
/// How long a debit stays `processing` in the sandbox.
pub const SETTLE_AFTER_MS: i64 = 1_500;

/// A bank account behind a `sepa_debit` PaymentMethod.
#[derive(Debug, Clone, PartialEq)]
pub struct BankAccount {
    pub country: String,
    pub bank_code: String,
    pub last4: String,
    pub fingerprint: String,
    pub fails: bool,
}

impl BankAccount {
    /// Read `sepa_debit[iban]`: letters, check digits and the mod-97 check
    /// every IBAN passes.
    pub fn from_params(params: &Params, param: &str) -> Result<BankAccount, ApiError> {
        let iban: String = params
            .required_str("iban")?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let invalid = || {
            ApiError::invalid_param(param, "The IBAN you provided appears to be invalid.")
                .with_code("invalid_bank_account_iban")
        };
        // ASCII first: the checks below slice by byte.
        let shaped = iban.is_ascii()
            && iban.len() >= 15
            && iban.len() <= 34
            && iban[..2].chars().all(|c| c.is_ascii_uppercase())
            && iban[2..4].chars().all(|c| c.is_ascii_digit())
            && iban.chars().all(|c| c.is_ascii_alphanumeric());
        if !shaped || !mod97_is_one(&iban) {
            return Err(invalid());
        }
        Ok(BankAccount {
            country: iban[..2].to_string(),
            bank_code: iban[4..12.min(iban.len())].to_string(),
            last4: iban[iban.len() - 4..].to_string(),
            fingerprint: ids::fingerprint(&iban),
            fails: iban == FAILING_IBAN,
        })
    }

    /// The `sepa_debit` hash of a PaymentMethod.
    pub fn payment_method_json(&self) -> Value {
        json!({
            "bank_code": self.bank_code,
            "branch_code": "",
            "country": self.country,
            "fingerprint": self.fingerprint,
            "generated_from": {"charge": null, "setup_attempt": null},
            "last4": self.last4
        })
    }
}

/// ISO 13616: move the first four characters to the end, letters to
/// numbers (A=10 …), the whole number mod 97 is 1 — computed piecewise.
fn mod97_is_one(iban: &str) -> bool {
    let rearranged = format!("{}{}", &iban[4..], &iban[..4]);
    let mut remainder: u32 = 0;
    for c in rearranged.chars() {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// Billing details a SEPA debit needs: the account holder's name and email.
pub fn check_billing(billing: &Value) -> Result<(), ApiError> {
    for field in ["name", "email"] {
        if billing[field].as_str().is_none_or(str::is_empty) {
            return Err(ApiError::missing_param(&format!("billing_details[{field}]")));
        }
    }
    Ok(())
}

/// A debit waiting at the bank.
#[derive(Debug, Clone)]
pub struct Pending {
    pub owner: Option<String>,
    pub payment_intent: String,
    pub payment_method: String,
    pub due_ms: i64,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Start the debit for `pi`: `processing` now, settled later.
pub fn start(state: &mut State, call: &Call, mut pi: Value, pm_id: &str) -> Result<Value, ApiError> {
    if pi["currency"] != "eur" {
        return Err(ApiError::invalid_param(
            "payment_method",
            "SEPA Direct Debit takes payments in eur only.",
        ));
    }
    pi["status"] = json!("processing");
    pi["next_action"] = Value::Null;
    pi["last_payment_error"] = Value::Null;
    state.objects.replace(pi.clone());
    state.emit(call, "payment_intent.processing", &pi);
    state.pending_debits.push(Pending {
        owner: call.owner().map(str::to_string),
        payment_intent: pi["id"].as_str().unwrap_or_default().to_string(),
        payment_method: pm_id.to_string(),
        due_ms: now_ms() + SETTLE_AFTER_MS,
    });
    Ok(pi)
}

/// Settle every debit due at `now_ms`: the charge and `payment_intent.succeeded`,
/// or `payment_intent.payment_failed`.
pub fn settle_due(state: &mut State, call: &Call, now_ms: i64) {
    let (due, waiting): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut state.pending_debits)
        .into_iter()
        .partition(|p| p.due_ms <= now_ms);
    state.pending_debits = waiting;
    for debit in due {
        let owner = debit.owner.as_deref();
        let Some(mut pi) = state.objects.get(owner, &debit.payment_intent).cloned() else {
            continue;
        };
        if pi["status"] != "processing" {
            continue;
        }
        let account = state.bank_accounts.get(&debit.payment_method).cloned();
        let fails = account.as_ref().is_none_or(|a| a.fails);
        let mut call = call.clone();
        call.account = debit.owner.clone();
        if fails {
            pi["status"] = json!("requires_payment_method");
            pi["payment_method"] = Value::Null;
            pi["last_payment_error"] = json!({
                "type": "card_error",
                "code": "insufficient_funds",
                "decline_code": "insufficient_funds",
                "message": "The customer's account has insufficient funds to cover this payment.",
                "payment_method": state.objects.get(owner, &debit.payment_method).cloned().unwrap_or(Value::Null)
            });
            state.objects.replace(pi.clone());
            state.emit(&call, "payment_intent.payment_failed", &pi);
            continue;
        }
        let amount = pi["amount"].as_i64().unwrap_or(0);
        let charge = json!({
            "id": ids::new_id("py_"),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "captured": true,
            "created": call.now,
            "currency": pi["currency"],
            "customer": pi["customer"],
            "description": pi["description"],
            "livemode": false,
            "metadata": pi["metadata"],
            "paid": true,
            "payment_intent": pi["id"],
            "payment_method": debit.payment_method,
            "payment_method_details": {
                "type": "sepa_debit",
                "sepa_debit": account.map(|a| a.payment_method_json()).unwrap_or(Value::Null)
            },
            "refunded": false,
            "refunds": {"object": "list", "data": [], "has_more": false, "url": "/v1/refunds"},
            "status": "succeeded"
        });
        state.objects.insert(owner, charge.clone());
        state.emit(&call, "charge.succeeded", &charge);
        pi["status"] = json!("succeeded");
        pi["latest_charge"] = charge["id"].clone();
        pi["amount_received"] = json!(amount);
        state.objects.replace(pi.clone());
        state.emit(&call, "payment_intent.succeeded", &pi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_test_ibans_pass_the_check() {
        assert!(mod97_is_one("DE89370400440532013000"));
        assert!(mod97_is_one(FAILING_IBAN));
        assert!(!mod97_is_one("DE89370400440532013001"));
    }
}
