//! API keys as Stripe reads them: `Authorization: Bearer sk_test_...`, basic
//! auth `sk_test_...:`, or (Stripe.js) a `key=pk_test_...` parameter.
//! The sandbox accepts only test keys; keys never appear whole in errors.

use base64::Engine;

use super::api_error::ApiError;

/// Which kind of key authenticated the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Secret,
    Publishable,
}

/// Which keys an endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Server-side calls only.
    Secret,
    /// Also Stripe.js calls with the publishable key.
    SecretOrPublishable,
}

/// `configured` empty accepts any key; else the key must equal it (compared
/// in constant time: the secret key is what guards the sandbox's data).
fn matches_configured(key: &str, configured: &str) -> bool {
    use subtle::ConstantTimeEq;
    configured.is_empty() || bool::from(key.as_bytes().ct_eq(configured.as_bytes()))
}

/// The key from an `Authorization` header value, if any.
pub fn key_from_header(header: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(rest.to_string()).filter(|k| !k.is_empty()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                ApiError::unauthorized("Invalid authorization header: the basic credentials are not valid base64.")
            })?;
        let user = decoded.split(':').next().unwrap_or("").to_string();
        return Ok(Some(user).filter(|k| !k.is_empty()));
    }
    Err(ApiError::unauthorized(
        "Invalid authorization header. Use Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    ))
}

/// The keys a sandbox accepts; an empty key accepts any test key of its kind.
#[derive(Debug, Clone, Copy)]
pub struct AcceptedKeys<'a> {
    pub secret: &'a str,
    pub publishable: &'a str,
}

/// Check a key against what the endpoint accepts and the sandbox's keys.
pub fn authenticate(key: Option<&str>, access: Access, accepted: AcceptedKeys<'_>) -> Result<KeyKind, ApiError> {
    let Some(key) = key else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        ));
    };
    if key.starts_with("sk_test_") && key.len() > "sk_test_".len() && matches_configured(key, accepted.secret) {
        return Ok(KeyKind::Secret);
    }
    if key.starts_with("pk_test_") && matches_configured(key, accepted.publishable) {
        return match access {
            Access::SecretOrPublishable => Ok(KeyKind::Publishable),
            Access::Secret => Err(ApiError::unauthorized(
                "This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.",
            )),
        };
    }
    let hint = if key.contains("_live_") {
        " The payforms sandbox accepts test keys only."
    } else {
        ""
    };
    Err(ApiError::unauthorized(format!(
        "Invalid API Key provided: {}.{hint}",
        redact(key)
    )))
}

/// `sk_test_abcdef123456` -> `sk_test_********3456`: enough to recognise, not to use.
pub fn redact(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let prefix_len = match key.match_indices('_').nth(1) {
        Some((i, _)) => key[..=i].chars().count(),
        None => 0,
    };
    if chars.len() <= prefix_len + 4 {
        return format!(
            "{}****",
            chars[..prefix_len.min(chars.len())].iter().collect::<String>()
        );
    }
    let prefix: String = chars[..prefix_len].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}{}{tail}", "*".repeat(chars.len() - prefix_len - 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_headers() {
        assert_eq!(
            key_from_header(Some("Bearer sk_test_abc")).unwrap().as_deref(),
            Some("sk_test_abc")
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("sk_test_abc:");
        assert_eq!(
            key_from_header(Some(&format!("Basic {basic}"))).unwrap().as_deref(),
            Some("sk_test_abc")
        );
        assert_eq!(key_from_header(None).unwrap(), None);
        assert_eq!(key_from_header(Some("Bearer ")).unwrap(), None);
        assert!(key_from_header(Some("Basic !!!")).is_err());
        assert!(key_from_header(Some("Token sk_test_abc")).is_err());
    }

    #[test]
    fn only_test_keys_are_accepted() {
        assert_eq!(
            authenticate(
                Some("sk_test_123"),
                Access::Secret,
                AcceptedKeys {
                    secret: "",
                    publishable: ""
                }
            )
            .unwrap(),
            KeyKind::Secret
        );
        // Built at run time so no live-looking key sits in the source.
        let live_key = format!("sk_{}_1234567890", "live");
        let live = authenticate(
            Some(&live_key),
            Access::Secret,
            AcceptedKeys {
                secret: "",
                publishable: "",
            },
        )
        .unwrap_err();
        assert_eq!(live.status, 401);
        assert!(!live.message.contains("1234567890"));
        assert!(live.message.contains("test keys only"));
        assert_eq!(
            authenticate(
                None,
                Access::Secret,
                AcceptedKeys {
                    secret: "",
                    publishable: ""
                }
            )
            .unwrap_err()
            .status,
            401
        );
        assert!(authenticate(
            Some("sk_test_"),
            Access::Secret,
            AcceptedKeys {
                secret: "",
                publishable: ""
            }
        )
        .is_err());
        assert!(authenticate(
            Some("garbage"),
            Access::Secret,
            AcceptedKeys {
                secret: "",
                publishable: ""
            }
        )
        .is_err());
    }

    #[test]
    fn publishable_keys_only_where_allowed_and_only_the_configured_one() {
        assert_eq!(
            authenticate(
                Some("pk_test_a"),
                Access::SecretOrPublishable,
                AcceptedKeys {
                    secret: "",
                    publishable: "pk_test_a"
                }
            )
            .unwrap(),
            KeyKind::Publishable
        );
        assert!(authenticate(
            Some("pk_test_a"),
            Access::Secret,
            AcceptedKeys {
                secret: "",
                publishable: "pk_test_a"
            }
        )
        .is_err());
        assert!(authenticate(
            Some("pk_test_b"),
            Access::SecretOrPublishable,
            AcceptedKeys {
                secret: "",
                publishable: "pk_test_a"
            }
        )
        .is_err());
        assert!(authenticate(
            Some("pk_test_b"),
            Access::SecretOrPublishable,
            AcceptedKeys {
                secret: "",
                publishable: ""
            }
        )
        .is_ok());
    }

    #[test]
    fn a_configured_secret_key_is_the_only_one_accepted() {
        let accepted = AcceptedKeys {
            secret: "sk_test_0123456789abcdef",
            publishable: "pk_test_a",
        };
        assert!(authenticate(Some("sk_test_0123456789abcdef"), Access::Secret, accepted).is_ok());
        let wrong = authenticate(Some("sk_test_payforms_sandbox"), Access::Secret, accepted).unwrap_err();
        assert_eq!(wrong.status, 401);
        assert!(authenticate(Some("sk_test_0123456789abcdeg"), Access::Secret, accepted).is_err());
    }

    #[test]
    fn redaction_keeps_prefix_and_last_four() {
        assert_eq!(redact("sk_test_abcdef123456"), "sk_test_********3456");
        assert_eq!(redact("sk_test_ab"), "sk_test_****");
        assert_eq!(redact("ключ"), "****");
    }
}
