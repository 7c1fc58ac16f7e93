//! `encrypt_secret`: `{{ response.body.secret | encrypt_secret | json }}` in a
//! response mapper stores a gateway secret only in its encrypted form.

use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterReflection, ParseFilter};
use liquid_core::{Result, Value, ValueView};

use super::filter_error;
use crate::liquid::host::current_host;

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "encrypt_secret",
    description = "Encrypts a secret with the instance key (response mappers only); nil stays nil.",
    parsed(EncryptSecretFilter)
)]
pub struct EncryptSecret;

#[derive(Debug, Default, Display_filter)]
#[name = "encrypt_secret"]
struct EncryptSecretFilter;

impl Filter for EncryptSecretFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        if input.is_nil() {
            return Ok(Value::Nil);
        }
        let clear = input.to_kstr();
        if clear.is_empty() {
            return Ok(Value::Nil);
        }
        let host = current_host().ok_or_else(|| filter_error("encrypt_secret", "needs a running payforms instance"))?;
        host.encrypt_secret(clear.as_str())
            .map(Value::scalar)
            .map_err(|e| filter_error("encrypt_secret", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liquid_core::{call_filter, value};

    #[test]
    fn nil_stays_nil_and_no_host_is_an_error() {
        assert_eq!(
            call_filter!(EncryptSecret, liquid_core::Value::Nil).unwrap(),
            value!(nil)
        );
        assert!(call_filter!(EncryptSecret, "whsec_x").is_err());
    }
}
