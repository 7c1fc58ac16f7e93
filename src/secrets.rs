//! Gateway secrets at rest: AES-256-GCM with a key derived from
//! `PAYFORMS_SECRET`. The database only ever holds `v1:` + base64(nonce ‖
//! ciphertext); without the master secret a stolen database reveals nothing.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{Secret, Settings};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the stored secret is malformed")]
    Malformed,
    #[error("the stored secret cannot be decrypted with this PAYFORMS_SECRET")]
    WrongKey,
}

const PREFIX: &str = "v1:";

fn cipher(settings: &Settings) -> Aes256Gcm {
    let key = settings.derived_key("secrets-at-rest");
    Aes256Gcm::new(&key.into())
}

pub fn encrypt(settings: &Settings, secret: &Secret) -> String {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    // Encryption with a valid key and nonce size cannot fail.
    let ciphertext = cipher(settings)
        .encrypt(Nonce::from_slice(&nonce), secret.expose().as_bytes())
        .unwrap_or_default();
    let mut bytes = nonce.to_vec();
    bytes.extend(ciphertext);
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

pub fn decrypt(settings: &Settings, stored: &str) -> Result<Secret, SecretError> {
    let encoded = stored.strip_prefix(PREFIX).ok_or(SecretError::Malformed)?;
    let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::Malformed)?;
    if bytes.len() < 12 + 16 {
        return Err(SecretError::Malformed);
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let clear = cipher(settings)
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .map_err(|_| SecretError::WrongKey)?;
    String::from_utf8(clear)
        .map(Secret::new)
        .map_err(|_| SecretError::Malformed)
}

/// Decrypted secrets read from the database (the webhook endpoints payforms
/// subscribed), kept in memory for a short while so a request does not
/// query and decrypt them each time. Another instance may add one at any
/// moment: callers reload at once when no cached secret fits.
pub struct SecretCache {
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<Vec<Secret>>)>>,
}

impl SecretCache {
    pub fn new(ttl: Duration) -> SecretCache {
        SecretCache {
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The cached secrets while fresh, else `load`'s (then cached).
    pub fn get(&self, load: impl FnOnce() -> Vec<Secret>) -> Arc<Vec<Secret>> {
        if let Ok(guard) = self.cached.lock() {
            if let Some((at, secrets)) = guard.as_ref() {
                if at.elapsed() < self.ttl {
                    return secrets.clone();
                }
            }
        }
        self.reload(load)
    }

    /// When no cached secret fits: `load`'s secrets, unless the cache was
    /// filled less than `min_age` ago (a stream of forged requests then
    /// costs no database reads).
    pub fn refresh(&self, min_age: Duration, load: impl FnOnce() -> Vec<Secret>) -> Option<Arc<Vec<Secret>>> {
        if let Ok(guard) = self.cached.lock() {
            if guard.as_ref().is_some_and(|(at, _)| at.elapsed() < min_age) {
                return None;
            }
        }
        Some(self.reload(load))
    }

    /// `load`'s secrets, cached from now on.
    pub fn reload(&self, load: impl FnOnce() -> Vec<Secret>) -> Arc<Vec<Secret>> {
        let secrets = Arc::new(load());
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((Instant::now(), secrets.clone()));
        }
        secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_secrets_are_read_again_when_old_or_when_none_fits() {
        let loads = std::cell::Cell::new(0);
        let load = || {
            loads.set(loads.get() + 1);
            vec![Secret::new(format!("whsec_{}", loads.get()))]
        };
        let cache = SecretCache::new(Duration::from_millis(200));
        assert_eq!(cache.get(load)[0].expose(), "whsec_1");
        assert_eq!(cache.get(load)[0].expose(), "whsec_1", "fresh: not read again");
        // A mismatch right after a read does not read again (forged floods).
        assert!(cache.refresh(Duration::from_secs(1), load).is_none());
        assert_eq!(loads.get(), 1);
        let fresh = cache.refresh(Duration::ZERO, load).unwrap();
        assert_eq!(fresh[0].expose(), "whsec_2");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(cache.get(load)[0].expose(), "whsec_3", "old: read again");
    }
    use crate::config::Overrides;

    fn settings(secret: &'static str) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        Settings::load_with(dir.path(), &Overrides::default(), move |name| {
            (name == "PAYFORMS_SECRET").then(|| secret.to_string())
        })
        .unwrap()
    }

    #[test]
    fn round_trip_and_no_clear_text() {
        let s = settings("master-one-0123456789abcdef0123456789");
        let stored = encrypt(&s, &Secret::new("whsec_abcdef123456"));
        assert!(!stored.contains("whsec"));
        assert_eq!(decrypt(&s, &stored).unwrap().expose(), "whsec_abcdef123456");
        assert_ne!(
            stored,
            encrypt(&s, &Secret::new("whsec_abcdef123456")),
            "fresh nonce each time"
        );
    }

    #[test]
    fn wrong_key_and_garbage() {
        let stored = encrypt(&settings("master-one-0123456789abcdef0123456789"), &Secret::new("x"));
        let other = settings("master-two-0123456789abcdef0123456789");
        assert_eq!(decrypt(&other, &stored), Err(SecretError::WrongKey));
        assert_eq!(decrypt(&other, "v1:!!"), Err(SecretError::Malformed));
        assert_eq!(decrypt(&other, "plain"), Err(SecretError::Malformed));
    }
}
