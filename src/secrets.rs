//! Gateway secrets at rest: AES-256-GCM with a key derived from
//! `PAYFORMS_SECRET`. The database only ever holds `v1:` + base64(nonce ‖
//! ciphertext); without the master secret a stolen database reveals nothing.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

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

/// Written before PAYFORMS_ENCRYPTION_KEY existed: no key id, read by
/// trying each key.
const PREFIX_V1: &str = "v1:";
/// `v2:` + key id (8 hex) + `:` + base64(nonce ‖ ciphertext).
const PREFIX_V2: &str = "v2:";
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

/// One AES-256-GCM key and its public id (not the key: a hash of it).
struct AtRestKey {
    id: String,
    cipher: Aes256Gcm,
}

impl AtRestKey {
    fn new(key: [u8; 32]) -> AtRestKey {
        let mut hasher = Sha256::new();
        hasher.update(b"payforms:at-rest-key-id:");
        hasher.update(key);
        let id = hex::encode(&hasher.finalize()[..4]);
        AtRestKey {
            id,
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// A dedicated key (PAYFORMS_ENCRYPTION_KEY and its predecessor).
    fn dedicated(secret: &Secret) -> AtRestKey {
        let mut hasher = Sha256::new();
        hasher.update(b"payforms:secrets-at-rest:");
        hasher.update(secret.expose().as_bytes());
        AtRestKey::new(hasher.finalize().into())
    }
}

/// The key new secrets are encrypted with: PAYFORMS_ENCRYPTION_KEY, else
/// one derived from PAYFORMS_SECRET.
fn current_key(settings: &Settings) -> AtRestKey {
    match &settings.encryption_key {
        Some(key) => AtRestKey::dedicated(key),
        None => AtRestKey::new(settings.derived_key("secrets-at-rest")),
    }
}

/// Every key a stored secret may be encrypted with, current first.
fn readable_keys(settings: &Settings) -> Vec<AtRestKey> {
    let mut keys = vec![current_key(settings)];
    if let Some(previous) = &settings.previous_encryption_key {
        keys.push(AtRestKey::dedicated(previous));
    }
    if settings.encryption_key.is_some() {
        // Secrets stored before a dedicated key was set.
        keys.push(AtRestKey::new(settings.derived_key("secrets-at-rest")));
    }
    keys
}

pub fn encrypt(settings: &Settings, secret: &Secret) -> String {
    encrypt_for(settings, secret, "")
}

/// Encrypt `secret` bound to `context` (where it is stored, e.g.
/// `gateway_configs:stripe:live:secret_key`): the ciphertext opens only
/// with the same context, so it cannot be copied into another row or
/// column and be used there.
pub fn encrypt_for(settings: &Settings, secret: &Secret, context: &str) -> String {
    let key = current_key(settings);
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let payload = Payload {
        msg: secret.expose().as_bytes(),
        aad: context.as_bytes(),
    };
    // Encryption with a valid key and nonce size cannot fail.
    let ciphertext = key
        .cipher
        .encrypt(Nonce::from_slice(&nonce), payload)
        .unwrap_or_default();
    let mut bytes = nonce.to_vec();
    bytes.extend(ciphertext);
    format!("{PREFIX_V2}{}:{}", key.id, STANDARD.encode(bytes))
}

pub fn decrypt(settings: &Settings, stored: &str) -> Result<Secret, SecretError> {
    decrypt_for(settings, stored, "")
}

/// Decrypt what [`encrypt_for`] made with the same `context`.
pub fn decrypt_for(settings: &Settings, stored: &str, context: &str) -> Result<Secret, SecretError> {
    let (key_id, encoded) = if let Some(rest) = stored.strip_prefix(PREFIX_V2) {
        let (id, encoded) = rest.split_once(':').ok_or(SecretError::Malformed)?;
        (Some(id), encoded)
    } else {
        (None, stored.strip_prefix(PREFIX_V1).ok_or(SecretError::Malformed)?)
    };
    let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::Malformed)?;
    if bytes.len() < NONCE_BYTES + TAG_BYTES {
        return Err(SecretError::Malformed);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
    let clear = readable_keys(settings)
        .iter()
        .filter(|key| key_id.is_none_or(|id| id == key.id))
        .find_map(|key| {
            let payload = Payload {
                msg: ciphertext,
                aad: context.as_bytes(),
            };
            key.cipher.decrypt(Nonce::from_slice(nonce), payload).ok()
        })
        .ok_or(SecretError::WrongKey)?;
    String::from_utf8(clear)
        .map(Secret::new)
        .map_err(|_| SecretError::Malformed)
}

/// True when `stored` is not encrypted with the current key (and so is
/// re-encrypted by `payforms secrets rotate`).
pub fn needs_rotation(settings: &Settings, stored: &str) -> bool {
    let current = current_key(settings);
    match stored.strip_prefix(PREFIX_V2).and_then(|rest| rest.split_once(':')) {
        Some((id, _)) => id != current.id,
        None => true,
    }
}

/// `stored` decrypted and encrypted again with the current key, in the
/// same `context` ("" for an unbound secret).
pub fn reencrypt_for(settings: &Settings, stored: &str, context: &str) -> Result<String, SecretError> {
    decrypt_for(settings, stored, context).map(|secret| encrypt_for(settings, &secret, context))
}

/// `stored` decrypted and encrypted again with the current key.
pub fn reencrypt(settings: &Settings, stored: &str) -> Result<String, SecretError> {
    reencrypt_for(settings, stored, "")
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
    fn a_bound_secret_opens_only_in_its_context() {
        let s = settings("master-one-0123456789abcdef0123456789");
        let stored = encrypt_for(&s, &Secret::new("sk_live_x"), "gateway_configs:stripe:live:secret_key");
        assert_eq!(
            decrypt_for(&s, &stored, "gateway_configs:stripe:live:secret_key")
                .unwrap()
                .expose(),
            "sk_live_x"
        );
        assert_eq!(
            decrypt_for(&s, &stored, "gateway_configs:stripe:test:secret_key"),
            Err(SecretError::WrongKey)
        );
        assert_eq!(decrypt(&s, &stored), Err(SecretError::WrongKey));
        // Unbound secrets (and those written before contexts) still open.
        let unbound = encrypt(&s, &Secret::new("whsec_x"));
        assert_eq!(decrypt_for(&s, &unbound, "").unwrap().expose(), "whsec_x");
    }

    #[test]
    fn wrong_key_and_garbage() {
        let stored = encrypt(&settings("master-one-0123456789abcdef0123456789"), &Secret::new("x"));
        let other = settings("master-two-0123456789abcdef0123456789");
        assert_eq!(decrypt(&other, &stored), Err(SecretError::WrongKey));
        assert_eq!(decrypt(&other, "v1:!!"), Err(SecretError::Malformed));
        assert_eq!(decrypt(&other, "v2:abcd"), Err(SecretError::Malformed));
        assert_eq!(decrypt(&other, "plain"), Err(SecretError::Malformed));
    }

    fn with_keys(secret: &'static str, key: Option<&'static str>, previous: Option<&'static str>) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        Settings::load_with(dir.path(), &Overrides::default(), move |name| match name {
            "PAYFORMS_SECRET" => Some(secret.to_string()),
            "PAYFORMS_ENCRYPTION_KEY" => key.map(str::to_string),
            "PAYFORMS_PREVIOUS_ENCRYPTION_KEY" => previous.map(str::to_string),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn rotation_moves_secrets_to_the_new_key_and_old_ones_stay_readable_meanwhile() {
        const MASTER: &str = "master-one-0123456789abcdef0123456789";
        const FIRST: &str = "first-key-0123456789abcdef0123456789";
        const SECOND: &str = "second-key-0123456789abcdef0123456789";
        let derived = with_keys(MASTER, None, None);
        let old_v1 = {
            // What an earlier payforms wrote: v1, under the derived key.
            let v2 = encrypt(&derived, &Secret::new("sk_test_v1"));
            let body = v2.splitn(3, ':').nth(2).unwrap().to_string();
            format!("v1:{body}")
        };
        let first = with_keys(MASTER, Some(FIRST), None);
        // A dedicated key still reads what the derived key wrote.
        assert_eq!(decrypt(&first, &old_v1).unwrap().expose(), "sk_test_v1");
        assert!(needs_rotation(&first, &old_v1));
        let stored = encrypt(&first, &Secret::new("sk_test_abc"));
        assert!(!needs_rotation(&first, &stored));
        // Rotating to a second key: the first is the previous one.
        let rotating = with_keys(MASTER, Some(SECOND), Some(FIRST));
        assert!(needs_rotation(&rotating, &stored));
        let moved = reencrypt(&rotating, &stored).unwrap();
        assert!(!needs_rotation(&rotating, &moved));
        // Once the previous key is gone, only the moved secret is readable.
        let after = with_keys(MASTER, Some(SECOND), None);
        assert_eq!(decrypt(&after, &moved).unwrap().expose(), "sk_test_abc");
        assert_eq!(decrypt(&after, &stored), Err(SecretError::WrongKey));
    }
}
