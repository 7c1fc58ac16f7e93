//! Cryptographic filters: `compute_hmac` and `random_string`.
//!
//! Error messages never include the secret or the payload.

use base64::Engine;
use hmac::{Hmac, Mac};
use liquid_core::Expression;
use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterParameters, FilterReflection, FromFilterParameters, ParseFilter};
use liquid_core::{Result, Value, ValueView};
use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Sha256, Sha512};

use super::filter_error;
use super::json::json_text;

/// Longest string `random_string` makes; guards against a template asking
/// for gigabytes.
const RANDOM_STRING_MAX: i64 = 4096;
const RANDOM_STRING_DEFAULT: i64 = 12;

#[derive(Debug, FilterParameters)]
struct HmacArgs {
    #[parameter(description = "The secret key.", arg_type = "any")]
    secret: Expression,
    #[parameter(description = "sha256 (default) or sha512.", arg_type = "str")]
    algorithm: Option<Expression>,
    #[parameter(description = "hex (default) or base64.", arg_type = "str")]
    digest: Option<Expression>,
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "compute_hmac",
    description = "HMAC of the input text: payload | compute_hmac: secret, 'sha256', 'hex'.",
    parameters(HmacArgs),
    parsed(ComputeHmacFilter)
)]
pub struct ComputeHmac;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "compute_hmac"]
struct ComputeHmacFilter {
    #[parameters]
    args: HmacArgs,
}

fn mac_bytes<M: Mac + hmac::digest::KeyInit>(secret: &[u8], payload: &[u8]) -> Result<Vec<u8>> {
    // HMAC accepts keys of any length; the error branch is only for the type.
    let mut mac = <M as Mac>::new_from_slice(secret)
        .map_err(|_| filter_error("compute_hmac", "the secret has an invalid length"))?;
    mac.update(payload);
    Ok(mac.finalize().into_bytes().to_vec())
}

impl Filter for ComputeHmacFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        if args.secret.is_nil() || args.secret.to_kstr().is_empty() {
            return Err(filter_error("compute_hmac", "the secret is nil or empty"));
        }
        let secret = args.secret.to_kstr();
        // Hashes and arrays are signed as their `json` text.
        let payload = if input.is_object() || input.is_array() {
            json_text(input)
        } else {
            input.to_kstr().to_string()
        };
        let algorithm = args.algorithm.as_deref().unwrap_or("sha256");
        let bytes = match algorithm.to_ascii_lowercase().as_str() {
            "sha256" => mac_bytes::<Hmac<Sha256>>(secret.as_bytes(), payload.as_bytes())?,
            "sha512" => mac_bytes::<Hmac<Sha512>>(secret.as_bytes(), payload.as_bytes())?,
            other => {
                return Err(filter_error(
                    "compute_hmac",
                    format!("unsupported algorithm {other:?} (use sha256 or sha512)"),
                ))
            }
        };
        let digest = args.digest.as_deref().unwrap_or("hex");
        let text = match digest.to_ascii_lowercase().as_str() {
            "hex" => hex::encode(bytes),
            "base64" => base64::engine::general_purpose::STANDARD.encode(bytes),
            other => {
                return Err(filter_error(
                    "compute_hmac",
                    format!("unsupported digest {other:?} (use hex or base64)"),
                ))
            }
        };
        Ok(Value::scalar(text))
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "random_string",
    description = "Random alphanumeric string of the input length (default 12), from the OS RNG.",
    parsed(RandomStringFilter)
)]
pub struct RandomString;

#[derive(Debug, Default, Display_filter)]
#[name = "random_string"]
struct RandomStringFilter;

impl Filter for RandomStringFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let length = if input.is_nil() {
            RANDOM_STRING_DEFAULT
        } else {
            input.as_scalar().and_then(|s| s.to_integer()).ok_or_else(|| {
                filter_error(
                    "random_string",
                    format!("length must be a whole number, got {:?}", input.to_kstr().as_str()),
                )
            })?
        };
        if !(0..=RANDOM_STRING_MAX).contains(&length) {
            return Err(filter_error(
                "random_string",
                format!("length must be between 0 and {RANDOM_STRING_MAX}, got {length}"),
            ));
        }
        let text: String = rand::rngs::OsRng
            .sample_iter(&Alphanumeric)
            .take(length as usize)
            .map(char::from)
            .collect();
        Ok(Value::scalar(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liquid_core::{call_filter, value};

    // RFC 4231 test case 2.
    const KEY: &str = "Jefe";
    const DATA: &str = "what do ya want for nothing?";
    const SHA256_HEX: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    #[test]
    fn hmac_sha256_hex_by_default() {
        assert_eq!(call_filter!(ComputeHmac, DATA, KEY).unwrap(), value!(SHA256_HEX));
        assert_eq!(
            call_filter!(ComputeHmac, DATA, KEY, "SHA256", "hex").unwrap(),
            value!(SHA256_HEX)
        );
    }

    #[test]
    fn hmac_sha512_and_base64() {
        assert_eq!(
            call_filter!(ComputeHmac, DATA, KEY, "sha512").unwrap(),
            value!(
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
            )
        );
        let expected = base64::engine::general_purpose::STANDARD.encode(hex::decode(SHA256_HEX).unwrap());
        assert_eq!(
            call_filter!(ComputeHmac, DATA, KEY, "sha256", "base64").unwrap(),
            Value::scalar(expected)
        );
    }

    #[test]
    fn hmac_of_empty_nil_and_unicode_payloads() {
        let empty = call_filter!(ComputeHmac, "", KEY).unwrap();
        assert_eq!(call_filter!(ComputeHmac, Value::Nil, KEY).unwrap(), empty);
        let unicode = call_filter!(ComputeHmac, "Zoë ✓", "clé").unwrap();
        assert_eq!(unicode.to_kstr().len(), 64);
        assert_ne!(unicode, empty);
    }

    #[test]
    fn hmac_of_a_hash_signs_its_json() {
        let from_hash = call_filter!(ComputeHmac, value!({"b": 1, "a": [true]}), KEY).unwrap();
        let from_text = call_filter!(ComputeHmac, r#"{"a":[true],"b":1}"#, KEY).unwrap();
        assert_eq!(from_hash, from_text);
    }

    #[test]
    fn hmac_errors_do_not_leak_the_secret() {
        let err = call_filter!(ComputeHmac, DATA, "sk_live_secret", "md5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("md5") && !err.contains("sk_live_secret"), "{err}");
        assert!(call_filter!(ComputeHmac, DATA, KEY, "sha256", "binary").is_err());
        assert!(call_filter!(ComputeHmac, DATA, Value::Nil).is_err());
        assert!(call_filter!(ComputeHmac, DATA, "").is_err());
        assert!(call_filter!(ComputeHmac, DATA).is_err());
    }

    #[test]
    fn random_string_lengths_and_alphabet() {
        let s = call_filter!(RandomString, 16i64).unwrap().to_kstr().to_string();
        assert_eq!(s.len(), 16);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        let default = call_filter!(RandomString, Value::Nil).unwrap();
        assert_eq!(default.to_kstr().len(), 12);
        assert_eq!(call_filter!(RandomString, 0i64).unwrap(), value!(""));
        assert_eq!(call_filter!(RandomString, "8").unwrap().to_kstr().len(), 8);
    }

    #[test]
    fn random_strings_differ() {
        let a = call_filter!(RandomString, 32i64).unwrap();
        let b = call_filter!(RandomString, 32i64).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn random_string_rejects_bad_lengths() {
        assert!(call_filter!(RandomString, -1i64).is_err());
        assert!(call_filter!(RandomString, 1_000_000i64).is_err());
        assert!(call_filter!(RandomString, "abc").is_err());
        assert!(call_filter!(RandomString, 2.5f64).is_err());
    }
}
