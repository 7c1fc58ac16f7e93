//! Verifying `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]` over the raw
//! body, constant-time, with a timestamp tolerance and several secrets.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Stripe's default tolerance.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header")]
    Malformed,
    #[error("no v1 signature in the header")]
    NoV1,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
    #[error("no webhook secret is configured")]
    NoSecret,
}

/// Check `header` for `body` against any of `secrets` at time `now`.
pub fn verify(header: Option<&str>, body: &[u8], secrets: &[&str], now: i64) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(SignatureError::Malformed);
                }
                timestamp = Some(value.parse().map_err(|_| SignatureError::Malformed)?);
            }
            // Hex of a SHA-256 MAC; anything else is not a v1 signature.
            "v1" => match hex::decode(value) {
                Ok(bytes) if bytes.len() == 32 => signatures.push(bytes),
                _ => {}
            },
            // Other schemes (v0 test signatures, future ones) are ignored.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoV1);
    }
    // `abs_diff`: any i64 pair, no overflow (`t=-9223372036854775808`).
    if now.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let mut matched = false;
    for secret in secrets {
        let expected = expected_signature(secret, timestamp, body);
        for candidate in &signatures {
            // Evaluate every pair so timing does not reveal which one matched.
            matched |= bool::from(expected.as_slice().ct_eq(candidate.as_slice()));
        }
    }
    if matched {
        Ok(timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

pub fn expected_signature(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return Vec::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The header payforms sends to merchants (and the sandbox to apps).
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(expected_signature(secret, timestamp, body))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","type":"customer.created"}"#;

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        for t in [i64::MIN, i64::MAX, i64::MIN + 1] {
            let header = format!("t={t},v1={}", "ab".repeat(32));
            assert_eq!(
                verify(Some(&header), BODY, &["s"], 1_700_000_000),
                Err(SignatureError::Stale)
            );
            assert_eq!(
                verify(Some(&header), BODY, &["s"], i64::MIN),
                if t == i64::MIN || t == i64::MIN + 1 {
                    Err(SignatureError::Mismatch)
                } else {
                    Err(SignatureError::Stale)
                }
            );
        }
    }

    #[test]
    fn valid_and_rotated_secrets() {
        let header = signature_header("whsec_new", 1000, BODY);
        assert_eq!(verify(Some(&header), BODY, &["whsec_old", "whsec_new"], 1100), Ok(1000));
        assert_eq!(
            verify(Some(&header), BODY, &["whsec_old"], 1100),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn known_vector() {
        // Computed independently with Python:
        // hmac.new(b'whsec_test', b'1700000000.{}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature_header("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn stale_future_tampered_and_malformed() {
        let header = signature_header("s3cret", 1000, BODY);
        assert_eq!(
            verify(Some(&header), BODY, &["s3cret"], 1301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some(&header), BODY, &["s3cret"], 699),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some(&header), b"{}", &["s3cret"], 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(None, BODY, &["s3cret"], 1000), Err(SignatureError::Missing));
        assert_eq!(
            verify(Some("garbage"), BODY, &["s3cret"], 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=abc,v1=00"), BODY, &["s3cret"], 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=1000"), BODY, &["s3cret"], 1000),
            Err(SignatureError::NoV1)
        );
        assert_eq!(verify(Some(&header), BODY, &[], 1000), Err(SignatureError::NoSecret));
    }

    #[test]
    fn one_of_two_v1_valid_and_other_schemes_ignored() {
        let good = signature_header("s3cret", 1000, BODY);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=1000,v1={},v0=abc,v1={v1}", "0".repeat(64));
        assert_eq!(verify(Some(&header), BODY, &["s3cret"], 1000), Ok(1000));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any `Stripe-Signature` header: an error, never a panic, and
        /// never a match without the secret.
        #[test]
        fn any_header_is_refused_without_panic(header in r"(t=-?[0-9]{0,22}|v1=[0-9a-f]{0,70}|v0=x|[ ,=t1v]|.){0,40}", now in proptest::num::i64::ANY) {
            proptest::prop_assert!(verify(Some(&header), BODY, &["s3cret"], now).is_err());
        }

        #[test]
        fn a_signed_body_verifies_at_any_time_near_its_timestamp(body in proptest::collection::vec(proptest::num::u8::ANY, 0..200), t in -4_000_000_000i64..4_000_000_000i64, skew in -300i64..=300) {
            let header = signature_header("s3cret", t, &body);
            proptest::prop_assert_eq!(verify(Some(&header), &body, &["old", "s3cret"], t + skew), Ok(t));
        }
    }
}
