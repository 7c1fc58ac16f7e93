//! Merchants: tenants sharing one payforms instance, each with its own
//! records. A merchant id names a partition of the store (the `merchant`
//! column every record and webhook event carries); it is stored and bound
//! as text, so it is kept to a small safe alphabet.

use std::fmt;
use std::sync::Arc;

/// Longest merchant id.
pub const MAX_MERCHANT_ID_LEN: usize = 64;

/// `^[a-z0-9_]{1,64}$`; cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MerchantId(Arc<str>);

/// The merchant the app's own pages and forms act as.
pub const DEFAULT_MERCHANT: &str = "default";

impl MerchantId {
    /// The merchant of every record written before merchants, and of a
    /// store no one has given another.
    pub fn default_merchant() -> MerchantId {
        MerchantId(Arc::from(DEFAULT_MERCHANT))
    }

    /// A merchant id if `text` is one: 1 to 64 of `a-z`, `0-9`, `_`.
    pub fn parse(text: &str) -> Option<MerchantId> {
        let valid = !text.is_empty()
            && text.len() <= MAX_MERCHANT_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        valid.then(|| MerchantId(Arc::from(text)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        &*self.0 == DEFAULT_MERCHANT
    }
}

impl Default for MerchantId {
    fn default() -> Self {
        MerchantId::default_merchant()
    }
}

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for MerchantId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_safe_alphabet_parses() {
        assert_eq!(
            MerchantId::parse("acme_2").map(|m| m.to_string()),
            Some("acme_2".into())
        );
        assert!(MerchantId::parse(&"a".repeat(64)).is_some());
        for bad in [
            "",
            "Acme",
            "a-b",
            "a b",
            "a.b",
            "é",
            "a'; DROP TABLE x; --",
            "a\0",
            "ａ",
            &"a".repeat(65),
        ] {
            assert_eq!(MerchantId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_default_merchant() {
        let default = MerchantId::default();
        assert_eq!(default, MerchantId::default_merchant());
        assert_eq!(default.as_str(), "default");
        assert!(default.is_default());
        assert_eq!(MerchantId::parse("default"), Some(default));
        assert!(!MerchantId::parse("acme").is_some_and(|m| m.is_default()));
        assert_eq!(
            serde_json::to_value(MerchantId::parse("acme")).ok(),
            Some(serde_json::json!("acme"))
        );
    }
}
