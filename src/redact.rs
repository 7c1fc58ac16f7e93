//! Keeping secrets out of logs and stored records.

use std::sync::OnceLock;

use regex::Regex;

const REDACTED: &str = "[redacted]";

/// Replace every known secret and anything shaped like a Stripe secret
/// (`sk_live_…`, `sk_test_…`, `rk_…`, `whsec_…`, also as Stripe masks them
/// in errors: `sk_live_****abcd`) with `[redacted]`, and
/// every card-shaped number with the card mask.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 6) {
        out = out.replace(secret, REDACTED);
    }
    static SHAPES: OnceLock<Option<Regex>> = OnceLock::new();
    let out =
        match SHAPES.get_or_init(|| Regex::new(r"\b(sk|rk)_(live|test)_[A-Za-z0-9*]+|\bwhsec_[A-Za-z0-9+/=*]+").ok()) {
            Some(re) => re.replace_all(&out, REDACTED).into_owned(),
            None => out,
        };
    crate::card_numbers::mask_card_numbers(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_and_shapes_are_removed() {
        let text = "Authorization: Bearer sk_test_abc123 secret=whsec_zz9 custom=mysecretvalue";
        let out = redact(text, &["mysecretvalue"]);
        assert!(!out.contains("sk_test_abc123"));
        assert!(!out.contains("whsec_zz9"));
        assert!(!out.contains("mysecretvalue"));
        assert_eq!(out.matches(REDACTED).count(), 3);
    }

    #[test]
    fn masked_keys_in_gateway_errors_are_removed() {
        let out = redact("Invalid API Key provided: sk_live_****abcd. Check it.", &[]);
        assert_eq!(out, "Invalid API Key provided: [redacted]. Check it.");
    }

    #[test]
    fn card_numbers_are_masked() {
        let out = redact("source[number]=4242424242424242&amount=599", &[]);
        assert!(!out.contains("4242424242424242"), "{out}");
        assert!(out.contains("amount=599"));
    }

    #[test]
    fn ordinary_text_is_kept() {
        assert_eq!(
            redact("pi_123 client_secret pk_test_x", &[]),
            "pi_123 client_secret pk_test_x"
        );
    }
}
