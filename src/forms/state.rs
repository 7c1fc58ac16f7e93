//! The state a rendered form carries: its data and config, signed, with an
//! idempotency key and the page to show again on errors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Settings;
use crate::signing::{self, SignatureError};

/// How long a rendered form stays valid.
pub const FORM_LIFETIME_SECS: i64 = 24 * 60 * 60;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FormState {
    pub form: String,
    pub data: Value,
    pub config: Value,
    pub idempotency_key: String,
    /// Path (and query) of the page that rendered the form.
    pub page: String,
    /// The visitor the form was rendered for; a form lifted into another
    /// browser is refused.
    pub visitor: String,
    /// The key comes from the form's data (`idempotency_key` in the form
    /// configuration or the include's config), not from this render.
    #[serde(default)]
    pub key_from_data: bool,
}

impl FormState {
    pub fn seal(&self, settings: &Settings, now: i64) -> String {
        signing::seal(&settings.derived_key("forms"), self, now + FORM_LIFETIME_SECS)
    }

    pub fn open(settings: &Settings, token: &str, now: i64) -> Result<FormState, SignatureError> {
        signing::open(&settings.derived_key("forms"), token, now)
    }
}
