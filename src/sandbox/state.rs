//! Everything the sandbox remembers, behind one lock: Stripe objects plus
//! the facts Stripe keeps but never shows (which card is behind a
//! PaymentMethod, endpoint secrets, used tokens, what a payout contained).

use std::collections::{HashMap, HashSet};

use super::cards::Card;
use super::idempotency::IdempotencyLog;
use super::objects::Objects;

#[derive(Default)]
pub struct State {
    pub objects: Objects,
    /// The test card behind each `pm_`, `card_` and `tok_` id.
    pub cards: HashMap<String, Card>,
    /// Tokens already consumed (a token can be used once).
    pub used_tokens: HashSet<String>,
    /// PaymentMethods set up for off-session use (3-D Secure done once).
    pub off_session_ready: HashSet<String>,
    /// PaymentIntents / SetupIntents whose 3-D Secure step the visitor failed.
    pub failed_authentications: HashSet<String>,
    /// Signing secret per webhook endpoint (`we_` -> `whsec_`).
    pub endpoint_secrets: HashMap<String, String>,
    /// Balance transactions included in each payout (`po_` -> `txn_`s).
    pub payout_members: HashMap<String, Vec<String>>,
    pub idempotency: IdempotencyLog,
    /// Events created by the request being served, delivered once it commits.
    pub outbox: Vec<String>,
}
