//! Gateway secrets at rest: AES-256-GCM with a key derived from
//! `PAYFORMS_SECRET`. The database only ever holds `v1:` + base64(nonce ‖
//! ciphertext); without the master secret a stolen database reveals nothing.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

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

#[cfg(test)]
mod tests {
    use super::*;
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
