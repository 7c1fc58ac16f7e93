//! API keys: what a program presents (`X-API-Key` or `Authorization:
//! Bearer`), whose merchant it acts for and what it may do (scopes).
//!
//! A stored key is `pfk_<key id>_<secret>`; only its SHA-256 is kept. Keys
//! from `PAYFORMS_API_KEYS` / `PAYFORMS_ADMIN_API_KEYS` are full-access keys
//! of the default merchant.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::MerchantError;
use crate::config::Settings;
use crate::db::models::merchant::{self as rows, ApiKeyRow, NewApiKey};
use crate::db::Store;
use crate::merchant_id::MerchantId;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    PaymentsRead,
    PaymentsWrite,
    RefundsWrite,
    MerchantRead,
    MerchantWrite,
    WebhooksRead,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::PaymentsRead,
        Scope::PaymentsWrite,
        Scope::RefundsWrite,
        Scope::MerchantRead,
        Scope::MerchantWrite,
        Scope::WebhooksRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PaymentsRead => "payments:read",
            Scope::PaymentsWrite => "payments:write",
            Scope::RefundsWrite => "refunds:write",
            Scope::MerchantRead => "merchant:read",
            Scope::MerchantWrite => "merchant:write",
            Scope::WebhooksRead => "webhooks:read",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text.trim())
    }

    /// What the scope lets a key do, for `keys create --help` and the docs.
    pub fn meaning(self) -> &'static str {
        match self {
            Scope::PaymentsRead => "read payments, refunds and saved cards (REST, GraphQL queries)",
            Scope::PaymentsWrite => {
                "create, capture and cancel payments, save and delete cards (REST, GraphQL mutations)"
            }
            Scope::RefundsWrite => "refund payments",
            Scope::MerchantRead => "read the merchant's configuration (never its secrets)",
            Scope::MerchantWrite => "set the merchant's Stripe credentials and notification URL",
            Scope::WebhooksRead => "read the merchant's received webhook events",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `payments:read,payments:write` (commas or spaces), or `all`. Unknown
/// scopes are an error that names them.
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for word in text.split([',', ' ']).map(str::trim).filter(|w| !w.is_empty()) {
        if word == "all" {
            scopes.extend(Scope::ALL);
            continue;
        }
        match Scope::parse(word) {
            Some(scope) => scopes.push(scope),
            None => {
                return Err(format!(
                    "unknown scope `{}`; the scopes are: {}",
                    word.chars().take(40).collect::<String>(),
                    Scope::ALL.map(Scope::as_str).join(", ")
                ))
            }
        }
    }
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err("name at least one scope".into());
    }
    Ok(scopes)
}

/// Who made a request: the merchant its key belongs to and the key's scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub merchant: MerchantId,
    pub scopes: Vec<Scope>,
    /// The key's public id (`env:<hash prefix>` for keys from settings),
    /// for rate limits and logs.
    pub key_id: String,
    /// A key from `PAYFORMS_ADMIN_API_KEYS`: may also change the instance's
    /// Stripe configuration.
    pub admin: bool,
}

impl Principal {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Ok, or the scope that is missing.
    pub fn require(&self, scope: Scope) -> Result<(), Scope> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(scope)
        }
    }
}

/// The key a request presents: `X-API-Key: <key>` or `Authorization:
/// Bearer <key>`.
pub fn presented_key<'a>(x_api_key: Option<&'a str>, authorization: Option<&'a str>) -> Option<&'a str> {
    if let Some(key) = x_api_key.map(str::trim).filter(|k| !k.is_empty()) {
        return Some(key);
    }
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn matches_any(digest: &[u8; 32], hashes: &[[u8; 32]]) -> bool {
    let mut matched = Choice::from(0u8);
    for hash in hashes {
        matched |= digest.ct_eq(hash);
    }
    matched.into()
}

/// The principal of `key`, or None (unknown or revoked). Blocking.
pub fn authenticate(settings: &Settings, store: &Store, key: &str) -> Result<Option<Principal>, MerchantError> {
    if key.len() > 256 {
        return Ok(None);
    }
    let digest = digest(key);
    let admin = matches_any(&digest, &settings.admin_api_key_hashes);
    if admin || matches_any(&digest, &settings.api_key_hashes) {
        return Ok(Some(Principal {
            merchant: MerchantId::default_merchant(),
            scopes: Scope::ALL.to_vec(),
            // Each settings key its own rate: named by its hash's start.
            key_id: format!("env:{}", hex::encode(&digest[..6])),
            admin,
        }));
    }
    if !key.starts_with("pfk_") {
        return Ok(None);
    }
    let Some(row) = rows::find_active_by_hash(store, &hex::encode(digest))? else {
        return Ok(None);
    };
    let Some(merchant) = MerchantId::parse(&row.merchant_id) else {
        return Ok(None);
    };
    if let Err(e) = rows::touch_key(store, row.id, chrono::Utc::now()) {
        tracing::warn!("could not note the use of API key {}: {e}", row.key_id);
    }
    Ok(Some(Principal {
        merchant,
        scopes: row.scopes.split(' ').filter_map(Scope::parse).collect(),
        key_id: row.key_id,
        admin: false,
    }))
}

/// A new key for `merchant` (created if absent) with `scopes`: the stored
/// row and the key itself, which exists nowhere else — show it once.
pub fn create(
    store: &Store,
    merchant: &MerchantId,
    scopes: &[Scope],
    name: Option<&str>,
) -> Result<(ApiKeyRow, String), MerchantError> {
    super::ensure(store, merchant)?;
    let mut id_bytes = [0u8; 8];
    let mut secret_bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut id_bytes);
    rand::rngs::OsRng.fill_bytes(&mut secret_bytes);
    let key_id = hex::encode(id_bytes);
    let key = format!("pfk_{key_id}_{}", hex::encode(secret_bytes));
    let scopes = scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
    let row = rows::insert_key(
        store,
        &NewApiKey {
            key_id: &key_id,
            merchant_id: merchant.as_str(),
            name,
            key_hash: &hex::encode(digest(&key)),
            scopes: &scopes,
        },
    )?;
    Ok((row, key))
}

pub fn list(store: &Store, merchant: Option<&MerchantId>) -> Result<Vec<ApiKeyRow>, MerchantError> {
    Ok(rows::list_keys(store, merchant.map(MerchantId::as_str))?)
}

/// Revoke `key_id` (the part after `pfk_`, or the whole key's id part).
pub fn revoke(store: &Store, key_id: &str) -> Result<bool, MerchantError> {
    let key_id = key_id.strip_prefix("pfk_").unwrap_or(key_id);
    let key_id = key_id.split('_').next().unwrap_or_default();
    Ok(rows::revoke_key(store, key_id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_from_commas_or_spaces_and_unknown_ones_are_named() {
        assert_eq!(
            parse_scopes("payments:read, payments:write").unwrap(),
            vec![Scope::PaymentsRead, Scope::PaymentsWrite]
        );
        assert_eq!(parse_scopes("all").unwrap(), Scope::ALL.to_vec());
        let error = parse_scopes("payments:read,payments:delete").unwrap_err();
        assert!(error.contains("payments:delete"), "{error}");
        assert!(parse_scopes(" , ").is_err());
    }

    #[test]
    fn either_header_presents_a_key() {
        assert_eq!(presented_key(Some("pfk_a_b"), None), Some("pfk_a_b"));
        assert_eq!(presented_key(None, Some("Bearer pfk_a_b")), Some("pfk_a_b"));
        assert_eq!(presented_key(None, Some("bearer   k ")), Some("k"));
        assert_eq!(presented_key(None, Some("Basic abc")), None);
        assert_eq!(presented_key(Some(" "), Some("Bearer ")), None);
    }
}
