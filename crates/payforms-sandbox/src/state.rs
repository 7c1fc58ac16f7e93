//! Everything the sandbox remembers, behind one lock: Stripe objects plus
//! the facts Stripe keeps but never shows (which card is behind a
//! PaymentMethod, endpoint secrets, used tokens, what a payout contained).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::cards::Card;
use super::idempotency::IdempotencyLog;
use super::objects::Objects;

#[derive(Default)]
pub struct State {
    pub objects: Objects,
    /// The test card behind each `pm_`, `card_` and `tok_` id.
    pub cards: HashMap<String, Card>,
    /// The bank account behind each `sepa_debit` PaymentMethod (and the
    /// ConfirmationToken that made it).
    pub bank_accounts: HashMap<String, super::sepa::BankAccount>,
    /// SEPA debits still at the bank, settled by the sandbox's clock.
    pub pending_debits: Vec<super::sepa::Pending>,
    /// PaymentMethods set up for off-session use (3-D Secure done once).
    pub off_session_ready: HashSet<String>,
    /// Signing secret per webhook endpoint (`we_` -> `whsec_`).
    pub endpoint_secrets: HashMap<String, String>,
    /// Balance transactions included in each payout (`po_` -> `txn_`s).
    pub payout_members: HashMap<String, Vec<String>>,
    /// Checkout Sessions' line items (`li_`), shown only when asked for.
    pub checkout_line_items: HashMap<String, Vec<Value>>,
    /// Checkout Sessions' `payment_intent_data` / `subscription_data` /
    /// `setup_intent_data`, used when the session completes.
    pub checkout_data: HashMap<String, Value>,
    /// Where the hosted onboarding page returns to, per account (from the
    /// latest account link), so the page never redirects elsewhere.
    pub onboarding_return: HashMap<String, String>,
    pub idempotency: IdempotencyLog,
    /// Events created by the request being served, delivered once it commits.
    pub outbox: Vec<String>,
}
