//! Which merchant a record, a key or a request belongs to.

use std::fmt;
use std::sync::Arc;

/// A merchant's id: 1 to 64 of `a-z`, `0-9`, `_`. The app's own pages and
/// forms act as the merchant `default`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MerchantId(Arc<str>);

pub const DEFAULT_MERCHANT: &str = "default";

impl MerchantId {
    pub fn default_merchant() -> MerchantId {
        MerchantId(Arc::from(DEFAULT_MERCHANT))
    }

    pub fn parse(text: &str) -> Option<MerchantId> {
        let valid = !text.is_empty()
            && text.len() <= 64
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
