//! Tamper-proof tokens: JSON + HMAC-SHA256, with an expiry.
//!
//! Used for a rendered form's state (its data, config and idempotency key),
//! for CSRF tokens and for the flash cookie. The format is
//! `base64url(json) "." base64url(mac)`; verification is constant-time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not match: it was changed after it was issued")]
    Tampered,
    #[error("the token has expired")]
    Expired,
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    /// Unix seconds after which the token is refused.
    exp: i64,
    body: T,
}

/// An HMAC-SHA256 key with its pads hashed once: signing with it costs
/// only the message's blocks. Cloned per use (a few hundred bytes).
#[derive(Clone)]
pub struct SigningKey(HmacSha256);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

impl SigningKey {
    pub fn new(key: &[u8]) -> SigningKey {
        // HMAC's own key schedule, done here so nothing can fail: a key
        // longer than a block is hashed, then zero-padded to the block.
        let mut block = [0u8; 64];
        if key.len() > block.len() {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        SigningKey(<HmacSha256 as hmac::digest::KeyInit>::new(&block.into()))
    }

    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Sign `body`, valid until `expires_at` (unix seconds).
    pub fn seal<T: Serialize>(&self, body: &T, expires_at: i64) -> String {
        let json = serde_json::to_vec(&Envelope { exp: expires_at, body }).unwrap_or_default();
        let mut token = URL_SAFE_NO_PAD.encode(&json);
        let signature = self.mac(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }

    /// Verify and decode a token made by [`SigningKey::seal`].
    pub fn open<T: DeserializeOwned>(&self, token: &str, now: i64) -> Result<T, SignatureError> {
        let (payload, signature) = token.trim().split_once('.').ok_or(SignatureError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SignatureError::Malformed)?;
        let mut verifier = self.0.clone();
        verifier.update(payload.as_bytes());
        verifier
            .verify_slice(&signature)
            .map_err(|_| SignatureError::Tampered)?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| SignatureError::Malformed)?;
        let envelope: Envelope<T> = serde_json::from_slice(&json).map_err(|_| SignatureError::Malformed)?;
        if envelope.exp < now {
            return Err(SignatureError::Expired);
        }
        Ok(envelope.body)
    }
}

pub fn mac(key: &[u8], message: &[u8]) -> Vec<u8> {
    SigningKey::new(key).mac(message).to_vec()
}

/// Sign `body`, valid until `expires_at` (unix seconds).
pub fn seal<T: Serialize>(key: &[u8], body: &T, expires_at: i64) -> String {
    SigningKey::new(key).seal(body, expires_at)
}

/// Verify and decode a token made by [`seal`].
pub fn open<T: DeserializeOwned>(key: &[u8], token: &str, now: i64) -> Result<T, SignatureError> {
    SigningKey::new(key).open(token, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip() {
        let token = seal(KEY, &json!({"amount": 599, "name": "ñ"}), 100);
        let body: Value = open(KEY, &token, 50).unwrap();
        assert_eq!(body["amount"], 599);
        assert_eq!(body["name"], "ñ");
    }

    #[test]
    fn any_change_is_detected() {
        let token = seal(KEY, &json!({"amount": 599}), 100);
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"exp":100,"body":{"amount":1}}"#);
        let signature = token.split_once('.').unwrap().1;
        let forged = format!("{forged_payload}.{signature}");
        assert_eq!(open::<Value>(KEY, &forged, 50), Err(SignatureError::Tampered));
        assert_eq!(open::<Value>(b"another key", &token, 50), Err(SignatureError::Tampered));
        assert_eq!(open::<Value>(KEY, "garbage", 50), Err(SignatureError::Malformed));
        assert_eq!(open::<Value>(KEY, "", 50), Err(SignatureError::Malformed));
    }

    #[test]
    fn a_prepared_key_signs_as_plain_hmac_does() {
        let long = [7u8; 100];
        for key in [&b""[..], KEY, &[1u8; 64][..], &long[..]] {
            let mut plain = HmacSha256::new_from_slice(key).unwrap();
            plain.update(b"message");
            let expected: [u8; 32] = plain.finalize().into_bytes().into();
            assert_eq!(
                SigningKey::new(key).mac(b"message"),
                expected,
                "key of {} bytes",
                key.len()
            );
        }
    }

    #[test]
    fn expiry_is_enforced() {
        let token = seal(KEY, &json!(1), 100);
        assert_eq!(open::<Value>(KEY, &token, 101), Err(SignatureError::Expired));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any form state token an attacker can send is refused, without a
        /// panic.
        #[test]
        fn any_token_is_refused(token in r"([A-Za-z0-9_\-]{0,80}\.?[A-Za-z0-9_\-]{0,50}|.{0,120})") {
            proptest::prop_assert!(open::<Value>(KEY, &token, 0).is_err());
        }

        /// Flipping any one character of a sealed token is detected.
        #[test]
        fn any_change_to_a_sealed_token_is_refused(amount in 0i64..1_000_000, at in 0usize..200, to in proptest::char::range('-', 'z')) {
            let token = seal(KEY, &json!({"amount": amount}), 100);
            let at = at % token.len();
            let mut changed: Vec<char> = token.chars().collect();
            if changed[at] == to {
                return Ok(());
            }
            changed[at] = to;
            let changed: String = changed.into_iter().collect();
            proptest::prop_assert!(open::<Value>(KEY, &changed, 0).is_err());
        }
    }
}
