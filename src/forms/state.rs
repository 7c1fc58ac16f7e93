//! The state a rendered form carries: its data and config, signed, with an
//! idempotency key and the page to show again on errors.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Settings;
use crate::signing::SignatureError;

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

/// A [`FormState`] made of borrowed parts, sealed as the same token, so a
/// page's forms are signed without copying their data and config.
#[derive(Debug, Serialize)]
pub struct FormStateRef<'a> {
    pub form: &'a str,
    pub data: &'a Value,
    pub config: &'a Value,
    pub idempotency_key: &'a str,
    pub page: &'a str,
    pub visitor: &'a str,
    pub key_from_data: bool,
}

impl FormStateRef<'_> {
    pub fn seal(&self, settings: &Settings, now: i64) -> String {
        settings.signing.forms.seal(self, now + FORM_LIFETIME_SECS)
    }
}

impl FormState {
    pub fn seal(&self, settings: &Settings, now: i64) -> String {
        FormStateRef {
            form: &self.form,
            data: &self.data,
            config: &self.config,
            idempotency_key: &self.idempotency_key,
            page: &self.page,
            visitor: &self.visitor,
            key_from_data: self.key_from_data,
        }
        .seal(settings, now)
    }

    pub fn open(settings: &Settings, token: &str, now: i64) -> Result<FormState, SignatureError> {
        settings.signing.forms.open(token, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;
    use serde_json::json;

    #[test]
    fn a_borrowed_state_opens_as_the_owned_one() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::load_with(dir.path(), &Overrides::default(), |name| {
            (name == "PAYFORMS_SECRET").then(|| "s".repeat(40))
        })
        .unwrap();
        let state = FormState {
            form: "checkout".into(),
            data: json!({"amount": 599, "note": "<ñ>"}),
            config: json!({"currency": "usd"}),
            idempotency_key: "key-1".into(),
            page: "/checkout?x=1".into(),
            visitor: "v1".into(),
            key_from_data: true,
        };
        let sealed = state.seal(&settings, 1_000);
        assert_eq!(FormState::open(&settings, &sealed, 1_000).unwrap(), state);
        assert!(FormState::open(&settings, &sealed, 1_000 + FORM_LIFETIME_SECS + 1).is_err());
    }
}
