//! The operator password as a stored argon2 hash: settings hash it at load,
//! so the clear text is never kept; sign-in verifies against the hash.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the operator password: {0}")]
pub struct HashError(String);

/// The PHC string (`$argon2id$...`) of `password`. The salt comes from
/// `salt_seed` (derived from PAYFORMS_SECRET), so the same password gives the
/// same hash on every start and sessions survive a restart, while another
/// installation, or another password, gives another hash.
pub fn hash_password(password: &str, salt_seed: &[u8; 32]) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&salt_seed[..16]).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}
