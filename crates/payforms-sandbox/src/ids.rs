//! Stripe-shaped identifiers: `cus_` + 24 base62 characters, client secrets
//! `pi_..._secret_...`, `cs_test_...`, `acct_1...`, `whsec_...`.

use rand::distributions::Alphanumeric;
use rand::Rng;

fn random_chars(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// A new id with Stripe's prefix, e.g. `new_id("cus_")`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", random_chars(24))
}

/// Connected account ids are shorter and start with `acct_1`.
pub fn account_id() -> String {
    format!("acct_1{}", random_chars(15))
}

/// Checkout Session ids are long and carry the mode: `cs_test_...`.
pub fn checkout_session_id() -> String {
    format!("cs_test_{}", random_chars(58))
}

/// `pi_x_secret_y`, as Stripe.js expects for PaymentIntents and SetupIntents.
pub fn client_secret(object_id: &str) -> String {
    format!("{object_id}_secret_{}", random_chars(25))
}

/// A webhook endpoint signing secret.
pub fn webhook_secret() -> String {
    format!("whsec_{}", random_chars(32))
}

/// A request id for the `Request-Id` header and events' `request.id`.
pub fn request_id() -> String {
    format!("req_{}", random_chars(14))
}

/// A stable card fingerprint derived from the card number, as Stripe gives
/// the same fingerprint to every token of one card.
pub fn fingerprint(card_number: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("payforms-sandbox:{card_number}").as_bytes());
    let alphabet: Vec<char> = ('0'..='9').chain('a'..='z').chain('A'..='Z').collect();
    digest
        .iter()
        .take(16)
        .map(|b| alphabet[usize::from(*b) % alphabet.len()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_are_unique() {
        let a = new_id("cus_");
        let b = new_id("cus_");
        assert!(a.starts_with("cus_") && a.len() == 28);
        assert_ne!(a, b);
        assert!(a[4..].chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn special_shapes() {
        assert!(account_id().starts_with("acct_1"));
        assert_eq!(account_id().len(), 21);
        assert!(checkout_session_id().starts_with("cs_test_"));
        let secret = client_secret("pi_123");
        assert!(secret.starts_with("pi_123_secret_"));
        assert!(webhook_secret().starts_with("whsec_"));
    }

    #[test]
    fn fingerprint_is_stable_per_card() {
        assert_eq!(fingerprint("4242424242424242"), fingerprint("4242424242424242"));
        assert_ne!(fingerprint("4242424242424242"), fingerprint("4000000000000002"));
        assert_eq!(fingerprint("4242424242424242").len(), 16);
    }
}
