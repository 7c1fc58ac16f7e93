//! Merchants: the tenants of one payforms instance. Each has its own Stripe
//! credentials, notification URL and records; the app's own pages and forms
//! act as the merchant `default`, which uses the instance's Stripe keys.
//!
//! Secrets are encrypted bound to the merchant and column
//! (`merchants:<id>:<column>`), so a ciphertext copied to another merchant
//! does not open there.

pub mod keys;

use crate::config::{Secret, Settings};
use crate::db::models::merchant::{self as rows, MerchantRow};
use crate::db::{Store, StoreError};
use crate::environment::{self, Environment};
use crate::gateway::configuration::ConnectionStatus;
use crate::merchant_id::MerchantId;
use crate::secrets;

const STRIPE_SECRET_KEY: &str = "stripe_secret_key";
const STRIPE_WEBHOOK_SECRET: &str = "stripe_webhook_secret";
const WEBHOOK_SIGNING_SECRET: &str = "webhook_signing_secret";
/// Longest notification URL accepted.
const MAX_URL_LEN: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    #[error("unknown merchant `{0}`")]
    Unknown(String),
    #[error("this merchant has no Stripe credentials yet: PUT /v1/merchant/providers")]
    NotConfigured,
    #[error("{0}")]
    InvalidKey(#[from] environment::KeyError),
    #[error("the webhook secret must be whsec_ followed by 16 to 300 letters and digits")]
    InvalidWebhookSecret,
    #[error("the Stripe key was refused: {0}")]
    Refused(String),
    #[error("the default merchant uses the instance's Stripe configuration (configureStripe or `payforms config stripe set`)")]
    DefaultUsesInstanceKeys,
    #[error("{0}")]
    InvalidUrl(String),
    #[error("a stored secret of merchant `{0}` cannot be read with the current encryption keys")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn context(id: &str, column: &str) -> String {
    format!("merchants:{id}:{column}")
}

/// A merchant's Stripe secret key (None: not configured; the default
/// merchant's comes from the instance settings instead).
pub fn stripe_secret_key(settings: &Settings, row: &MerchantRow) -> Result<Option<Secret>, MerchantError> {
    open(
        settings,
        row,
        row.stripe_secret_key_encrypted.as_deref(),
        STRIPE_SECRET_KEY,
    )
}

/// The secret that signs the merchant's Stripe webhooks.
pub fn stripe_webhook_secret(settings: &Settings, row: &MerchantRow) -> Result<Option<Secret>, MerchantError> {
    open(
        settings,
        row,
        row.stripe_webhook_secret_encrypted.as_deref(),
        STRIPE_WEBHOOK_SECRET,
    )
}

/// The secret payforms signs the merchant's notifications with.
pub fn webhook_signing_secret(settings: &Settings, row: &MerchantRow) -> Result<Option<Secret>, MerchantError> {
    open(
        settings,
        row,
        row.webhook_signing_secret_encrypted.as_deref(),
        WEBHOOK_SIGNING_SECRET,
    )
}

fn open(
    settings: &Settings,
    row: &MerchantRow,
    stored: Option<&str>,
    column: &str,
) -> Result<Option<Secret>, MerchantError> {
    let Some(stored) = stored else {
        return Ok(None);
    };
    let secret = secrets::decrypt_for(settings, stored, &context(&row.id, column))
        .map_err(|_| MerchantError::Unreadable(row.id.clone()))?;
    // Checked again when read: a key stored for another environment (the
    // instance was switched) is never sent.
    environment::check_secret_key(settings.environment, secret.expose()).or_else(|e| match column {
        STRIPE_SECRET_KEY => Err(MerchantError::InvalidKey(e)),
        _ => Ok(()),
    })?;
    Ok(Some(secret))
}

/// The tenant `merchant`'s requests are sent as: the default merchant uses
/// the instance's keys; another its own (an error when it has none).
pub fn tenant(
    settings: &Settings,
    store: &Store,
    merchant: &MerchantId,
) -> Result<crate::gateway::Tenant, MerchantError> {
    if merchant.is_default() {
        return Ok(crate::gateway::Tenant::default());
    }
    let row = rows::get(store, merchant.as_str())?.ok_or_else(|| MerchantError::Unknown(merchant.to_string()))?;
    let secret_key = stripe_secret_key(settings, &row)?.ok_or(MerchantError::NotConfigured)?;
    Ok(crate::gateway::Tenant {
        merchant: merchant.clone(),
        secret_key: Some(secret_key),
    })
}

pub fn get(store: &Store, id: &MerchantId) -> Result<Option<MerchantRow>, MerchantError> {
    Ok(rows::get(store, id.as_str())?)
}

/// The merchant `id`, created if absent; whether it was created.
pub fn ensure(store: &Store, id: &MerchantId) -> Result<(MerchantRow, bool), MerchantError> {
    Ok(rows::ensure(store, id.as_str(), id.as_str())?)
}

/// Store the merchant's Stripe credentials: the key must be of the
/// instance's environment and accepted by Stripe (`check`) before it
/// replaces the one in use.
pub fn set_stripe_credentials(
    settings: &Settings,
    store: &Store,
    id: &MerchantId,
    secret_key: &Secret,
    webhook_secret: Option<&Secret>,
    check: &dyn Fn(&Secret) -> ConnectionStatus,
) -> Result<MerchantRow, MerchantError> {
    if id.is_default() {
        return Err(MerchantError::DefaultUsesInstanceKeys);
    }
    let environment: Environment = settings.environment;
    environment::check_secret_key(environment, secret_key.expose())?;
    if let Some(secret) = webhook_secret {
        let body = secret.expose().strip_prefix("whsec_").unwrap_or_default();
        if !(16..=300).contains(&body.len()) || !body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(MerchantError::InvalidWebhookSecret);
        }
    }
    if let ConnectionStatus::Failed(reason) = check(secret_key) {
        return Err(MerchantError::Refused(reason));
    }
    rows::get(store, id.as_str())?.ok_or_else(|| MerchantError::Unknown(id.to_string()))?;
    let key = secrets::encrypt_for(settings, secret_key, &context(id.as_str(), STRIPE_SECRET_KEY));
    let webhook =
        webhook_secret.map(|s| secrets::encrypt_for(settings, s, &context(id.as_str(), STRIPE_WEBHOOK_SECRET)));
    let row = rows::set_stripe_credentials(store, id.as_str(), &key, webhook.as_deref())?
        .ok_or_else(|| MerchantError::Unknown(id.to_string()))?;
    tracing::info!(
        merchant = %id,
        "Stripe credentials of merchant {id} set (secret key ending {})",
        last4(secret_key.expose())
    );
    Ok(row)
}

/// Set the merchant's notification URL; a new signing secret is made and
/// returned (shown once). `allow_http`: plain http URLs are accepted (test
/// mode only, for local receivers).
pub fn set_webhook_url(
    settings: &Settings,
    store: &Store,
    id: &MerchantId,
    url: &str,
) -> Result<(MerchantRow, Secret), MerchantError> {
    // The sandbox demo delivers to local receivers; anywhere else a
    // merchant's URL must be a public address.
    let url = check_url(url, settings.environment, settings.sandbox)?;
    ensure(store, id)?;
    let secret = Secret::new(format!("whsec_{}", hex::encode(rand_bytes())));
    let encrypted = secrets::encrypt_for(settings, &secret, &context(id.as_str(), WEBHOOK_SIGNING_SECRET));
    let row = rows::set_webhook(store, id.as_str(), Some(&url), Some(&encrypted))?
        .ok_or_else(|| MerchantError::Unknown(id.to_string()))?;
    Ok((row, secret))
}

fn rand_bytes() -> [u8; 24] {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// An absolute http(s) URL with a host and no credentials; live merchants
/// must use https.
fn check_url(text: &str, environment: Environment, allow_local: bool) -> Result<String, MerchantError> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_URL_LEN {
        return Err(MerchantError::InvalidUrl(format!(
            "webhook_url must be an absolute URL of at most {MAX_URL_LEN} characters"
        )));
    }
    let url = url::Url::parse(text).map_err(|e| MerchantError::InvalidUrl(format!("webhook_url is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if environment == Environment::Test => {}
        "http" => {
            return Err(MerchantError::InvalidUrl(
                "webhook_url must use https in live mode".into(),
            ))
        }
        _ => return Err(MerchantError::InvalidUrl("webhook_url must be an http(s) URL".into())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(MerchantError::InvalidUrl("webhook_url must name a host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(MerchantError::InvalidUrl(
            "webhook_url must not carry credentials".into(),
        ));
    }
    if !allow_local && !is_public_host(&url) {
        return Err(MerchantError::InvalidUrl(
            "webhook_url must be a public address (not loopback, private, link-local or internal)".into(),
        ));
    }
    Ok(url.to_string())
}

/// Whether a URL's host may be public: not an IP literal of a loopback,
/// private, link-local or otherwise special network, not `localhost` or an
/// internal-looking name. Names are resolved again when sending
/// ([`is_public_ip`]).
pub fn is_public_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_public_ip(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_public_ip(std::net::IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name.contains('.')
                && !["localhost", ".localhost", ".local", ".internal", ".lan", ".home.arpa"]
                    .iter()
                    .any(|suffix| name == suffix.trim_start_matches('.') || name.ends_with(suffix))
        }
        None => false,
    }
}

/// An address that is reachable on the internet (not loopback, private,
/// link-local, shared, documentation, multicast or unspecified).
pub fn is_public_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(std::net::IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

/// The last four characters, for audit lines.
pub fn last4(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// Re-encrypt every merchant's secrets under the current encryption key;
/// returns (rewritten, unreadable merchant ids).
pub fn rotate_secrets(settings: &Settings, store: &Store) -> Result<(usize, Vec<String>), MerchantError> {
    let mut rewritten = 0;
    let mut unreadable = Vec::new();
    for row in rows::all(store)? {
        let columns = [
            (&row.stripe_secret_key_encrypted, STRIPE_SECRET_KEY),
            (&row.stripe_webhook_secret_encrypted, STRIPE_WEBHOOK_SECRET),
            (&row.webhook_signing_secret_encrypted, WEBHOOK_SIGNING_SECRET),
        ];
        if !columns
            .iter()
            .any(|(stored, _)| stored.as_deref().is_some_and(|s| secrets::needs_rotation(settings, s)))
        {
            continue;
        }
        let mut new = row.clone();
        let mut failed = false;
        for (stored, column) in columns {
            let Some(stored) = stored else { continue };
            match secrets::reencrypt_for(settings, stored, &context(&row.id, column)) {
                Ok(text) => match column {
                    STRIPE_SECRET_KEY => new.stripe_secret_key_encrypted = Some(text),
                    STRIPE_WEBHOOK_SECRET => new.stripe_webhook_secret_encrypted = Some(text),
                    _ => new.webhook_signing_secret_encrypted = Some(text),
                },
                Err(_) => failed = true,
            }
        }
        if failed {
            unreadable.push(row.id.clone());
        } else if rows::replace_ciphertexts(store, &row, &new)? {
            rewritten += 1;
        }
    }
    Ok((rewritten, unreadable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_urls_are_absolute_http_urls_without_credentials() {
        let test = Environment::Test;
        assert!(check_url("https://shop.example/hooks", test, false).is_ok());
        assert!(
            check_url("http://127.0.0.1:9000/hooks", test, true).is_ok(),
            "sandbox: local receivers"
        );
        assert!(check_url("http://shop.example/hooks", Environment::Live, false).is_err());
        assert!(check_url("https://user:pw@shop.example/", test, false).is_err());
        assert!(check_url("ftp://shop.example/", test, false).is_err());
        assert!(check_url("/relative", test, false).is_err());
        assert!(check_url(&format!("https://a.example/{}", "x".repeat(3000)), test, false).is_err());
        assert!(check_url("", test, false).is_err());
        for local in [
            "http://127.0.0.1:9000/hooks",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:8080/",
            "http://metadata.google.internal/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            assert!(check_url(local, test, false).is_err(), "{local}");
        }
    }

    #[test]
    fn last4_never_shows_more_than_four_characters() {
        assert_eq!(last4("sk_test_abcdef"), "cdef");
        assert_eq!(last4("ab"), "ab");
    }
}
