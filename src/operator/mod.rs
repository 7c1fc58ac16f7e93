//! The operator: one person (or team) who may see every visitor's payments
//! and move money (refund, capture, charge a saved card). They sign in with
//! `PAYFORMS_OPERATOR_PASSWORD`, which payforms keeps only as an argon2
//! hash; a signed, expiring cookie then marks their browser. Templates see
//! `context.operator.signed_in`, and the shipped policy
//! `modules/payments/operator` lets only them through.

pub mod attempts;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Settings;
use crate::db::models::setting;
use crate::db::{Store, StoreError};
use crate::signing;

pub const SESSION_COOKIE: &str = "pf_operator";
/// How long a sign-in lasts.
pub const SESSION_SECONDS: i64 = 8 * 3600;

pub use crate::password::{hash_password, HashError};

/// True when `password` matches the stored hash (argon2 compares in
/// constant time). No hash configured: nobody can sign in.
pub fn password_matches(settings: &Settings, password: &str) -> bool {
    let Some(stored) = settings.operator_password_hash.as_deref() else {
        return false;
    };
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[derive(Serialize, Deserialize)]
struct Session {
    operator: bool,
    /// The sign-out generation the session was made in.
    #[serde(default)]
    generation: u64,
}

/// Which sign-ins still count: signing out moves to the next generation
/// (kept in the settings table, so a restart remembers) and every session
/// cookie of an earlier one stops working, on every browser.
#[derive(Debug, Default)]
pub struct Sessions {
    generation: AtomicU64,
}

const GENERATION_SETTING: &str = "operator_session_generation";

impl Sessions {
    pub fn load(store: &Store) -> Sessions {
        let generation = setting::get(store, GENERATION_SETTING)
            .ok()
            .flatten()
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        Sessions {
            generation: AtomicU64::new(generation),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// End every session made so far. Blocking (one write).
    pub fn end_all(&self, store: &Store) -> Result<(), StoreError> {
        let next = self.generation().saturating_add(1);
        setting::set(store, GENERATION_SETTING, &next.to_string())?;
        self.generation.store(next, Ordering::Release);
        Ok(())
    }
}

/// The session key depends on the password hash too, so changing the
/// password signs every operator out.
fn session_key(settings: &Settings) -> [u8; 32] {
    let hash = settings.operator_password_hash.as_deref().unwrap_or("");
    settings.derived_key(&format!("operator-session:{hash}"))
}

/// A new session cookie value, valid for SESSION_SECONDS from `now`.
pub fn new_session(settings: &Settings, now: i64, generation: u64) -> String {
    signing::seal(
        &session_key(settings),
        &Session {
            operator: true,
            generation,
        },
        now + SESSION_SECONDS,
    )
}

/// True when `cookie` is a valid, unexpired session of this operator, made
/// since the last sign-out (`generation`).
pub fn is_signed_in(settings: &Settings, cookie: Option<&str>, now: i64, generation: u64) -> bool {
    if settings.operator_password_hash.is_none() {
        return false;
    }
    cookie
        .and_then(|value| signing::open::<Session>(&session_key(settings), value, now).ok())
        .is_some_and(|session| session.operator && session.generation == generation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn settings(password: Option<&'static str>) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        Settings::load_with(dir.path(), &Overrides::default(), move |name| {
            (name == "PAYFORMS_OPERATOR_PASSWORD")
                .then(|| password.map(str::to_string))
                .flatten()
        })
        .unwrap()
    }

    #[test]
    fn the_password_is_kept_only_as_a_hash() {
        let settings = settings(Some("correct horse battery"));
        let hash = settings.operator_password_hash.clone().unwrap();
        assert!(hash.starts_with("$argon2"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(!format!("{settings:?}").contains("correct horse"));
        assert!(password_matches(&settings, "correct horse battery"));
        assert!(!password_matches(&settings, "correct horse batter"));
        assert!(!password_matches(&settings, ""));
    }

    #[test]
    fn the_hash_is_stable_per_installation_and_password() {
        let seed = [7u8; 32];
        let first = hash_password("pw-0123456789", &seed).unwrap();
        assert_eq!(first, hash_password("pw-0123456789", &seed).unwrap());
        assert_ne!(first, hash_password("pw-0123456780", &seed).unwrap());
        assert_ne!(first, hash_password("pw-0123456789", &[8u8; 32]).unwrap());
    }

    #[test]
    fn sessions_expire_and_need_a_configured_password() {
        let settings = settings(Some("pw-0123456789"));
        let cookie = new_session(&settings, 1_000, 3);
        assert!(is_signed_in(&settings, Some(&cookie), 1_000 + 60, 3));
        assert!(!is_signed_in(&settings, Some(&cookie), 1_000 + SESSION_SECONDS + 1, 3));
        assert!(!is_signed_in(&settings, Some("forged"), 1_000, 3));
        assert!(!is_signed_in(&settings, None, 1_000, 3));
        // After a sign-out (the next generation) the cookie no longer counts.
        assert!(!is_signed_in(&settings, Some(&cookie), 1_000 + 60, 4));
        // Another password (a new hash): old sessions are gone.
        let other = self::settings(Some("pw-0123456789"));
        assert!(!is_signed_in(&other, Some(&cookie), 1_000 + 60, 3));
        let none = self::settings(None);
        assert!(!password_matches(&none, "anything"));
        assert!(!is_signed_in(&none, Some(&cookie), 1_000, 3));
    }
}
