//! Test and live mode: which Stripe keys belong to which, and the keys of
//! the active environment as they stand at run time.
//!
//! An instance runs in one environment (`PAYFORMS_ENVIRONMENT`, test by
//! default). A key is checked by its prefix before it is used or stored, so
//! a test key never runs a live shop and a live key never reaches the sandbox.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Environment {
    #[default]
    Test,
    Live,
}

impl Environment {
    pub const ALL: [Environment; 2] = [Environment::Test, Environment::Live];

    /// `test` or `live`, as stored and as written in settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Test => "test",
            Environment::Live => "live",
        }
    }

    /// `TEST` or `LIVE`, GraphQL's enum values.
    pub fn graphql_name(self) -> &'static str {
        match self {
            Environment::Test => "TEST",
            Environment::Live => "LIVE",
        }
    }

    /// Case-insensitive `test`/`live` (`production` is accepted for live).
    pub fn parse(text: &str) -> Option<Environment> {
        match text.trim().to_ascii_lowercase().as_str() {
            "test" => Some(Environment::Test),
            "live" | "production" => Some(Environment::Live),
            _ => None,
        }
    }

    pub fn livemode(self) -> bool {
        self == Environment::Live
    }

    pub fn from_livemode(livemode: bool) -> Environment {
        if livemode {
            Environment::Live
        } else {
            Environment::Test
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key was refused; the key itself is never part of the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the {what} has an invalid format: it must start with {expected} and hold only letters, digits and _")]
    Format { what: &'static str, expected: String },
    #[error("the {what} is a {found} key, but the environment is {environment}")]
    WrongEnvironment {
        what: &'static str,
        found: Environment,
        environment: Environment,
    },
}

/// The environment a key belongs to, from its prefix (`sk_test_`,
/// `rk_live_`, …), if `kinds` allows its kind.
fn key_environment(key: &str, kinds: &[&str]) -> Option<Environment> {
    let (kind, rest) = key.split_once('_')?;
    if !kinds.contains(&kind) {
        return None;
    }
    let (mode, body) = rest.split_once('_')?;
    let well_formed =
        !body.is_empty() && body.len() <= 250 && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return None;
    }
    Environment::parse(mode).filter(|_| mode == "test" || mode == "live")
}

/// A secret (`sk_`) or restricted (`rk_`) key of `environment`.
pub fn check_secret_key(environment: Environment, key: &str) -> Result<(), KeyError> {
    check(environment, key, &["sk", "rk"], "secret key", "sk_ or rk_")
}

/// A publishable (`pk_`) key of `environment`.
pub fn check_publishable_key(environment: Environment, key: &str) -> Result<(), KeyError> {
    check(environment, key, &["pk"], "publishable key", "pk_")
}

fn check(
    environment: Environment,
    key: &str,
    kinds: &[&str],
    what: &'static str,
    kind_prefix: &str,
) -> Result<(), KeyError> {
    match key_environment(key.trim(), kinds) {
        None => Err(KeyError::Format {
            what,
            expected: format!("{kind_prefix}{}_", environment.as_str()),
        }),
        Some(found) if found != environment => Err(KeyError::WrongEnvironment {
            what,
            found,
            environment,
        }),
        Some(_) => Ok(()),
    }
}

/// A key pair: both keys of `environment` (so they also match each other).
pub fn check_key_pair(environment: Environment, secret_key: &str, publishable_key: &str) -> Result<(), KeyError> {
    check_secret_key(environment, secret_key)?;
    check_publishable_key(environment, publishable_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_by_prefix_and_environment() {
        let (test, live) = (Environment::Test, Environment::Live);
        assert!(check_key_pair(test, "sk_test_abc123", "pk_test_xyz").is_ok());
        assert!(check_key_pair(live, "sk_live_abc123", "pk_live_xyz").is_ok());
        assert!(check_secret_key(live, "rk_live_restricted").is_ok());
        assert_eq!(
            check_secret_key(live, "sk_test_abc"),
            Err(KeyError::WrongEnvironment {
                what: "secret key",
                found: test,
                environment: live
            })
        );
        // A live secret key with a test publishable key: the pair does not match.
        assert!(check_key_pair(live, "sk_live_abc", "pk_test_abc").is_err());
        for bad in [
            "",
            "sk_",
            "sk_test_",
            "pk_test_abc",
            "sk_prod_abc",
            "sk_test_a b",
            "sk-test-abc",
            "whsec_x",
        ] {
            assert!(
                matches!(check_secret_key(test, bad), Err(KeyError::Format { .. })),
                "{bad}"
            );
        }
        assert!(check_publishable_key(test, "sk_test_abc").is_err());
        let message = check_secret_key(live, "sk_test_secretvalue").unwrap_err().to_string();
        assert!(!message.contains("secretvalue"), "{message}");
    }

    #[test]
    fn environments_parse_and_print() {
        assert_eq!(Environment::parse("LIVE"), Some(Environment::Live));
        assert_eq!(Environment::parse("production"), Some(Environment::Live));
        assert_eq!(Environment::parse(" test "), Some(Environment::Test));
        assert_eq!(Environment::parse("staging"), None);
        assert_eq!(Environment::Live.graphql_name(), "LIVE");
        assert!(!Environment::default().livemode());
    }
}
