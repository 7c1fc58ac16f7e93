//! Settings: environment variables override `payforms.toml` in the app folder.
//!
//! Secrets are wrapped in [`Secret`], whose `Debug`/`Display` never show the
//! value, so a stray `{:?}` cannot leak a key into a log line.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::environment::Environment;
use crate::signing::SigningKey;

/// Problems reading settings; messages never contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}: {message}")]
    File { file: String, line: usize, message: String },
    #[error("cannot create {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A secret value. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The clear value, for the few places that must send it (HTTP auth, HMAC keys).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `payforms.toml`: the same settings as the environment, lowercase.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    database_url: Option<String>,
    bind: Option<String>,
    secret: Option<String>,
    stripe_secret_key: Option<String>,
    stripe_publishable_key: Option<String>,
    stripe_webhook_secret: Option<String>,
    stripe_api_base: Option<String>,
    stripe_js_url: Option<String>,
    api_keys: Option<String>,
    admin_api_keys: Option<String>,
    public_url: Option<String>,
    merchant_webhook_urls: Option<String>,
    merchant_webhook_secret: Option<String>,
    content_security_policy: Option<String>,
    api_rate_limit: Option<String>,
    stripe_reads: Option<String>,
    operator_password: Option<String>,
    environment: Option<String>,
    encryption_key: Option<String>,
    previous_encryption_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: Option<Secret>,
    pub publishable_key: String,
    /// Several secrets are accepted at once, for rotation.
    pub webhook_secrets: Vec<Secret>,
    pub api_base: String,
    pub js_url: String,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub app_dir: PathBuf,
    pub database_url: String,
    pub bind: String,
    /// Signs forms and flash cookies; derives the key for secrets at rest.
    pub secret: Secret,
    pub stripe: StripeSettings,
    /// SHA-256 of each API key for `/api/*`; the keys themselves are not kept.
    pub api_key_hashes: Vec<[u8; 32]>,
    /// SHA-256 of each admin key (PAYFORMS_ADMIN_API_KEYS): an API key that
    /// may also read and change the gateway configuration.
    pub admin_api_key_hashes: Vec<[u8; 32]>,
    /// PAYFORMS_ENVIRONMENT was given (not the test default).
    pub environment_explicit: bool,
    pub public_url: Option<String>,
    pub merchant_webhook_urls: Vec<String>,
    pub merchant_webhook_secret: Option<Secret>,
    /// Replaces the Content-Security-Policy payforms builds from the Stripe
    /// settings (api/security_headers.rs).
    pub content_security_policy: Option<String>,
    /// Requests per API key (PAYFORMS_API_RATE_LIMIT); see [`RateLimit`].
    pub api_rate_limit: RateLimit,
    /// Where seed 004's `stripe_…` queries read (PAYFORMS_STRIPE_READS).
    pub stripe_reads: StripeReads,
    /// argon2 hash (PHC string) of PAYFORMS_OPERATOR_PASSWORD; the password
    /// itself is not kept.
    pub operator_password_hash: Option<String>,
    /// The keys every page view signs with, prepared once.
    pub signing: SigningKeys,
    /// Test or live (PAYFORMS_ENVIRONMENT): which keys are accepted, and
    /// which webhook events are applied.
    pub environment: Environment,
    /// PAYFORMS_ENCRYPTION_KEY: encrypts gateway secrets at rest instead of
    /// a key derived from PAYFORMS_SECRET.
    pub encryption_key: Option<Secret>,
    /// PAYFORMS_PREVIOUS_ENCRYPTION_KEY: still read while `payforms secrets
    /// rotate` moves the stored secrets to the current key.
    pub previous_encryption_key: Option<Secret>,
    /// The built-in sandbox plays Stripe (`serve --sandbox`).
    pub sandbox: bool,
    /// The stored configuration's keys, used when the settings give none;
    /// shared by every clone of these settings and swapped at run time.
    pub stored_keys: Arc<ActiveStoredKeys>,
}

/// Where the active keys come from, in the order they win.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// STRIPE_SECRET_KEY and friends (or payforms.toml).
    Settings,
    /// `serve --sandbox`.
    Sandbox,
    /// A configuration stored with `configureStripe` / `payforms config stripe`.
    Stored,
    None,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Settings => "settings",
            KeySource::Sandbox => "sandbox",
            KeySource::Stored => "stored",
            KeySource::None => "none",
        }
    }
}

/// The stored configuration of the active environment, decrypted.
#[derive(Debug, Clone)]
pub struct StoredKeys {
    pub config_id: i64,
    /// When the row was last changed: a read that raced with a newer
    /// change never puts the older keys back.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub secret_key: Secret,
    pub publishable_key: String,
    pub webhook_secret: Option<Secret>,
}

/// The stored keys in use, swapped when a configuration changes (here or,
/// through the periodic refresh, on another instance).
#[derive(Debug, Default)]
pub struct ActiveStoredKeys(ArcSwapOption<StoredKeys>);

impl ActiveStoredKeys {
    pub fn get(&self) -> Option<Arc<StoredKeys>> {
        self.0.load_full()
    }

    /// Install `keys`; true when they differ from the ones in use.
    pub fn set(&self, keys: Option<StoredKeys>) -> bool {
        let new = keys.map(Arc::new);
        let mut changed = false;
        self.0.rcu(|current| {
            let (next, differs) = match (current.as_deref(), new.as_deref()) {
                (None, None) => (None, false),
                (Some(old), Some(fresh)) if old.config_id == fresh.config_id && fresh.updated_at < old.updated_at => {
                    (current.clone(), false)
                }
                (Some(old), Some(fresh)) => {
                    let same = old.config_id == fresh.config_id
                        && old.secret_key == fresh.secret_key
                        && old.publishable_key == fresh.publishable_key
                        && old.webhook_secret == fresh.webhook_secret;
                    (new.clone(), !same)
                }
                _ => (new.clone(), true),
            };
            changed = differs;
            next
        });
        changed
    }
}

/// HMAC keys derived from the master secret, one per use.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    /// A rendered form's state.
    pub forms: SigningKey,
    /// A visitor's CSRF token.
    pub csrf: SigningKey,
    /// The flash cookie.
    pub flash: SigningKey,
}

impl SigningKeys {
    fn derive(secret: &Secret) -> SigningKeys {
        SigningKeys {
            forms: SigningKey::new(&derive_key(secret, "forms")),
            csrf: SigningKey::new(&derive_key(secret, "csrf")),
            flash: SigningKey::new(&derive_key(secret, "flash")),
        }
    }
}

/// Values given on the command line, which win over everything.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub bind: Option<String>,
}

/// The shortest PAYFORMS_SECRET accepted: 256 bits, the size of the keys
/// derived from it.
pub const MIN_SECRET_BYTES: usize = 32;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const DEFAULT_STRIPE_JS_URL: &str = "https://js.stripe.com/v3/";

impl Settings {
    /// Read settings for the app in `app_dir` from the process environment.
    pub fn load(app_dir: &Path, overrides: &Overrides) -> Result<Settings, ConfigError> {
        Self::load_with(app_dir, overrides, |name| std::env::var(name).ok())
    }

    /// Read settings with an explicit environment (tests).
    pub fn load_with(
        app_dir: &Path,
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let file = read_file_settings(app_dir)?;
        let pick = |var: &str, from_file: &Option<String>| -> Option<String> {
            env(var).filter(|v| !v.trim().is_empty()).or_else(|| from_file.clone())
        };

        let database_url = overrides
            .database_url
            .clone()
            .or_else(|| pick("DATABASE_URL", &file.database_url))
            .unwrap_or_else(|| default_database_path(app_dir));
        let bind = overrides
            .bind
            .clone()
            .or_else(|| pick("PAYFORMS_BIND", &file.bind))
            .unwrap_or_else(|| DEFAULT_BIND.to_string());
        let secret = match pick("PAYFORMS_SECRET", &file.secret) {
            Some(value) if value.len() < MIN_SECRET_BYTES => {
                return Err(ConfigError::Invalid(format!(
                    "PAYFORMS_SECRET is {} bytes; it must be at least {MIN_SECRET_BYTES} bytes, because it signs \
                     forms and derives the key that encrypts gateway secrets (make one with `openssl rand -hex 32`, \
                     or leave it unset and payforms generates one in data/.payforms_secret)",
                    value.len()
                )))
            }
            Some(value) => Secret::new(value),
            None => stored_or_generated_secret(app_dir)?,
        };
        let stripe = StripeSettings {
            // Keys copied from a file often end in a newline.
            secret_key: pick("STRIPE_SECRET_KEY", &file.stripe_secret_key).map(|k| Secret::new(k.trim())),
            publishable_key: pick("STRIPE_PUBLISHABLE_KEY", &file.stripe_publishable_key)
                .map(|k| k.trim().to_string())
                .unwrap_or_default(),
            webhook_secrets: split_list(pick("STRIPE_WEBHOOK_SECRET", &file.stripe_webhook_secret))
                .into_iter()
                .map(Secret::new)
                .collect(),
            api_base: pick("STRIPE_API_BASE", &file.stripe_api_base)
                .unwrap_or_else(|| DEFAULT_STRIPE_API_BASE.to_string())
                .trim_end_matches('/')
                .to_string(),
            js_url: pick("STRIPE_JS_URL", &file.stripe_js_url).unwrap_or_else(|| DEFAULT_STRIPE_JS_URL.to_string()),
        };
        let environment_text = pick("PAYFORMS_ENVIRONMENT", &file.environment);
        let environment_explicit = environment_text.is_some();
        let environment = match environment_text {
            Some(text) => Environment::parse(&text).ok_or_else(|| {
                ConfigError::Invalid(format!("PAYFORMS_ENVIRONMENT is `{text}`; it must be `test` or `live`"))
            })?,
            None => Environment::Test,
        };
        if let Some(key) = &stripe.secret_key {
            crate::environment::check_secret_key(environment, key.expose())
                .map_err(|e| ConfigError::Invalid(format!("STRIPE_SECRET_KEY: {e}")))?;
        }
        if !stripe.publishable_key.is_empty() {
            crate::environment::check_publishable_key(environment, &stripe.publishable_key)
                .map_err(|e| ConfigError::Invalid(format!("STRIPE_PUBLISHABLE_KEY: {e}")))?;
        }
        if environment == Environment::Live {
            // A leftover localstripe or sandbox address would send live keys
            // in clear to a server that lets every payment succeed.
            for (name, url) in [("STRIPE_API_BASE", &stripe.api_base), ("STRIPE_JS_URL", &stripe.js_url)] {
                if !url.to_ascii_lowercase().starts_with("https://") {
                    return Err(ConfigError::Invalid(format!(
                        "{name} is {url}; in live mode it must be an https:// address (unset it to use Stripe's)"
                    )));
                }
            }
        }
        let encryption_key = |name: &str, from_file: &Option<String>| {
            match pick(name, from_file) {
            Some(value) if value.len() < MIN_SECRET_BYTES => Err(ConfigError::Invalid(format!(
                "{name} is {} bytes; it must be at least {MIN_SECRET_BYTES} bytes (make one with `openssl rand -hex 32`)",
                value.len()
            ))),
            other => Ok(other.map(Secret::new)),
        }
        };
        let admin_api_key_hashes = split_list(pick("PAYFORMS_ADMIN_API_KEYS", &file.admin_api_keys))
            .iter()
            .map(|key| hash_api_key(key))
            .collect();
        let api_key_hashes = split_list(pick("PAYFORMS_API_KEYS", &file.api_keys))
            .iter()
            .map(|key| hash_api_key(key))
            .collect();
        let operator_password_hash = match pick("PAYFORMS_OPERATOR_PASSWORD", &file.operator_password) {
            Some(password) => Some(
                crate::password::hash_password(&password, &derive_key(&secret, "operator-password-salt"))
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?,
            ),
            None => None,
        };
        Ok(Settings {
            environment,
            encryption_key: encryption_key("PAYFORMS_ENCRYPTION_KEY", &file.encryption_key)?,
            previous_encryption_key: encryption_key("PAYFORMS_PREVIOUS_ENCRYPTION_KEY", &file.previous_encryption_key)?,
            sandbox: false,
            stored_keys: Arc::new(ActiveStoredKeys::default()),
            signing: SigningKeys::derive(&secret),
            app_dir: app_dir.to_path_buf(),
            database_url,
            bind,
            secret,
            stripe,
            api_key_hashes,
            admin_api_key_hashes,
            environment_explicit,
            public_url: pick("PAYFORMS_PUBLIC_URL", &file.public_url),
            merchant_webhook_urls: split_list(pick("PAYFORMS_MERCHANT_WEBHOOK_URLS", &file.merchant_webhook_urls)),
            merchant_webhook_secret: pick("PAYFORMS_MERCHANT_WEBHOOK_SECRET", &file.merchant_webhook_secret)
                .map(Secret::new),
            content_security_policy: pick("PAYFORMS_CONTENT_SECURITY_POLICY", &file.content_security_policy),
            api_rate_limit: api_rate_limit(pick("PAYFORMS_API_RATE_LIMIT", &file.api_rate_limit))?,
            stripe_reads: StripeReads::parse(pick("PAYFORMS_STRIPE_READS", &file.stripe_reads))?,
            operator_password_hash,
        })
    }

    /// Where the active environment's keys come from: the settings win,
    /// then the sandbox, then the stored configuration.
    pub fn key_source(&self) -> KeySource {
        if self.stripe.secret_key.is_some() && self.sandbox {
            KeySource::Sandbox
        } else if self.stripe.secret_key.is_some() {
            KeySource::Settings
        } else if self.stored_keys.get().is_some() {
            KeySource::Stored
        } else {
            KeySource::None
        }
    }

    /// The active environment's secret key, if any.
    pub fn stripe_secret_key(&self) -> Option<Secret> {
        match &self.stripe.secret_key {
            Some(key) => Some(key.clone()),
            None => self.stored_keys.get().map(|k| k.secret_key.clone()),
        }
    }

    /// The active environment's publishable key ("" when none).
    pub fn stripe_publishable_key(&self) -> String {
        // Never the settings' publishable key beside a stored secret key:
        // the two could be of different accounts.
        if self.stripe.secret_key.is_some() || self.stored_keys.get().is_none() {
            return self.stripe.publishable_key.clone();
        }
        self.stored_keys
            .get()
            .map(|k| k.publishable_key.clone())
            .unwrap_or_default()
    }

    /// Every webhook signing secret of the settings and the stored configuration.
    pub fn stripe_webhook_secrets(&self) -> Vec<Secret> {
        let mut secrets = self.stripe.webhook_secrets.clone();
        if let Some(stored) = self.stored_keys.get().and_then(|k| k.webhook_secret.clone()) {
            secrets.push(stored);
        }
        secrets
    }

    /// True when PAYFORMS_PUBLIC_URL is https: cookies are then `Secure`.
    pub fn serves_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("https://"))
    }

    /// Where the gateway's hosted pages (Checkout) are: a form may send the
    /// visitor there, and only there, off this site. Stripe's own for real
    /// Stripe; a Stripe-compatible test server hosts them at its API origin.
    pub fn checkout_origins(&self) -> Vec<String> {
        let api = url::Url::parse(&self.stripe.api_base)
            .ok()
            .map(|url| url.origin().ascii_serialization())
            .filter(|origin| origin != "null");
        match api.as_deref() {
            None | Some("https://api.stripe.com") => vec!["https://checkout.stripe.com".to_string()],
            Some(fake) => vec![fake.to_string()],
        }
    }

    /// A sub-key derived from the master secret, so each use (forms, CSRF,
    /// flash, encryption) has its own key and one leaked use reveals nothing else.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        derive_key(&self.secret, purpose)
    }
}

/// A key for one `purpose`, derived from PAYFORMS_SECRET.
fn derive_key(secret: &Secret, purpose: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"payforms:");
    hasher.update(purpose.as_bytes());
    hasher.update(b":");
    hasher.update(secret.expose().as_bytes());
    hasher.finalize().into()
}

pub fn hash_api_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.trim().as_bytes()).into()
}

fn split_list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// How many requests one API key may make: a token bucket of `burst`
/// tokens refilled at `per_minute`; `per_minute == 0` is off. The limiter
/// itself is `api::rate_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    /// 10 requests a second sustained is far above what one integration
    /// creating payments needs (each write may wait on Stripe), yet keeps a
    /// runaway client loop from taking the instance; a burst of 60 (six
    /// seconds' worth) lets a batch of a few dozen requests through at once.
    fn default() -> RateLimit {
        RateLimit {
            per_minute: 600,
            burst: 60,
        }
    }
}

impl RateLimit {
    pub const OFF: RateLimit = RateLimit {
        per_minute: 0,
        burst: 0,
    };

    /// `off`, `<per_minute>/min` or `<per_minute>/min,burst=<n>`; without a
    /// burst, a tenth of a minute's worth (at least 1).
    pub fn parse(text: &str) -> Result<RateLimit, String> {
        let text = text.trim().to_ascii_lowercase();
        if text == "off" {
            return Ok(RateLimit::OFF);
        }
        let (rate, burst) = match text.split_once(',') {
            Some((rate, burst)) => (rate, Some(burst)),
            None => (text.as_str(), None),
        };
        let per_minute = rate
            .trim()
            .strip_suffix("/min")
            .ok_or_else(|| "it must be `<requests>/min`, `<requests>/min,burst=<n>` or `off`".to_string())
            .and_then(|n| whole_number(n, "the requests per minute"))?;
        let burst = match burst {
            None => (per_minute / 10).max(1),
            Some(burst) => burst
                .trim()
                .strip_prefix("burst")
                .and_then(|rest| rest.trim_start().strip_prefix('='))
                .ok_or_else(|| "after the comma it must say `burst=<n>`".to_string())
                .and_then(|n| whole_number(n, "the burst"))?,
        };
        Ok(RateLimit { per_minute, burst })
    }
}

/// A number from 1 to u32::MAX, digits only (no sign, no fraction).
fn whole_number(text: &str, what: &str) -> Result<u32, String> {
    let text = text.trim();
    let number = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>().ok()
    } else {
        None
    };
    match number {
        Some(0) => Err(format!("{what} must be at least 1 (use `off` to disable the limit)")),
        Some(n) => Ok(n),
        None => Err(format!("{what} must be a whole number from 1 to {}", u32::MAX)),
    }
}

/// PAYFORMS_API_RATE_LIMIT (or `api_rate_limit`); the default when unset.
/// Where the `stripe_…` GraphQL queries read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StripeReads {
    /// The local records when webhooks keep them current (a webhook
    /// signing secret is set), Stripe otherwise.
    #[default]
    Auto,
    /// Always Stripe: for an instance whose webhooks do not arrive.
    Stripe,
}

impl StripeReads {
    fn parse(text: Option<String>) -> Result<StripeReads, ConfigError> {
        match text.as_deref().map(str::trim) {
            None | Some("") | Some("auto") => Ok(StripeReads::Auto),
            Some("stripe") => Ok(StripeReads::Stripe),
            Some(_) => Err(ConfigError::Invalid(
                "PAYFORMS_STRIPE_READS (stripe_reads in payforms.toml) must be auto or stripe".into(),
            )),
        }
    }
}

fn api_rate_limit(text: Option<String>) -> Result<RateLimit, ConfigError> {
    let Some(text) = text else {
        return Ok(RateLimit::default());
    };
    RateLimit::parse(&text).map_err(|reason| {
        // The value is shown short and escaped: it may be anything.
        let shown: String = text.trim().chars().take(40).collect();
        ConfigError::Invalid(format!(
            "PAYFORMS_API_RATE_LIMIT (api_rate_limit in payforms.toml) is {:?}: {reason}",
            shown
        ))
    })
}

fn default_database_path(app_dir: &Path) -> String {
    app_dir.join("data").join("payforms.sqlite3").display().to_string()
}

fn read_file_settings(app_dir: &Path) -> Result<FileSettings, ConfigError> {
    let path = app_dir.join("payforms.toml");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileSettings::default()),
        Err(e) => {
            return Err(ConfigError::Io {
                path: path.display().to_string(),
                source: e,
            })
        }
    };
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1);
        ConfigError::File {
            file: "payforms.toml".to_string(),
            line,
            message: e.message().to_string(),
        }
    })
}

/// The secret kept in `data/.payforms_secret`, created on first start.
fn stored_or_generated_secret(app_dir: &Path) -> Result<Secret, ConfigError> {
    let dir = app_dir.join("data");
    let path = dir.join(".payforms_secret");
    if let Ok(existing) = fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= MIN_SECRET_BYTES {
            return Ok(Secret::new(existing));
        }
    }
    let io_err = |source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    };
    fs::create_dir_all(&dir).map_err(io_err)?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let value = hex::encode(bytes);
    write_private_file(&path, &value).map_err(io_err)?;
    Ok(Secret::new(value))
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn env_overrides_file_and_secrets_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("payforms.toml"),
            "bind = \"127.0.0.1:9000\"\nstripe_secret_key = \"sk_test_file\"\n",
        )
        .unwrap();
        let settings = Settings::load_with(
            dir.path(),
            &Overrides::default(),
            env_of(&[
                ("STRIPE_SECRET_KEY", "sk_test_env"),
                ("STRIPE_WEBHOOK_SECRET", "whsec_a, whsec_b"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.bind, "127.0.0.1:9000");
        assert_eq!(settings.stripe.secret_key.as_ref().unwrap().expose(), "sk_test_env");
        assert_eq!(settings.stripe.webhook_secrets.len(), 2);
        let debug = format!("{settings:?}");
        assert!(!debug.contains("sk_test_env"));
        assert!(!debug.contains("whsec_a"));
        assert!(!debug.contains(settings.secret.expose()));
    }

    #[test]
    fn secret_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Settings::load_with(dir.path(), &Overrides::default(), env_of(&[])).unwrap();
        let second = Settings::load_with(dir.path(), &Overrides::default(), env_of(&[])).unwrap();
        assert_eq!(first.secret, second.secret);
        assert_eq!(first.secret.expose().len(), 64);
    }

    #[test]
    fn short_secrets_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let err = Settings::load_with(
            dir.path(),
            &Overrides::default(),
            env_of(&[("PAYFORMS_SECRET", "0123456789abcdef0123456789abcde")]),
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("31 bytes") && message.contains("at least 32"),
            "{message}"
        );
        assert!(
            !message.contains("0123456789abcdef"),
            "the secret must not be echoed: {message}"
        );
        let ok = Settings::load_with(
            dir.path(),
            &Overrides::default(),
            env_of(&[("PAYFORMS_SECRET", "0123456789abcdef0123456789abcdef")]),
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn unknown_key_in_file_is_reported_with_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("payforms.toml"), "bind = \"x\"\nbogus = 1\n").unwrap();
        let err = Settings::load_with(dir.path(), &Overrides::default(), env_of(&[])).unwrap_err();
        assert!(err.to_string().starts_with("payforms.toml:2:"), "{err}");
    }

    #[test]
    fn api_keys_are_kept_only_as_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::load_with(
            dir.path(),
            &Overrides::default(),
            env_of(&[("PAYFORMS_API_KEYS", "key-one,key-two")]),
        )
        .unwrap();
        assert_eq!(
            settings.api_key_hashes,
            vec![hash_api_key("key-one"), hash_api_key("key-two")]
        );
    }

    #[test]
    fn a_change_of_stored_keys_is_noticed() {
        let active = ActiveStoredKeys::default();
        let keys = StoredKeys {
            config_id: 1,
            updated_at: chrono::Utc::now(),
            secret_key: Secret::new("sk_test_1"),
            publishable_key: "pk_test_1".into(),
            webhook_secret: None,
        };
        assert!(active.set(Some(keys.clone())));
        assert!(!active.set(Some(keys.clone())));
        assert!(active.set(Some(StoredKeys {
            secret_key: Secret::new("sk_test_2"),
            ..keys.clone()
        })));
        // An older read of the same row does not put older keys back.
        let newest = active.get().unwrap();
        assert!(!active.set(Some(StoredKeys {
            secret_key: Secret::new("sk_test_stale"),
            updated_at: newest.updated_at - chrono::Duration::seconds(1),
            ..keys.clone()
        })));
        assert_eq!(active.get().unwrap().secret_key.expose(), "sk_test_2");
        assert!(active.set(None));
        assert!(!active.set(None));
    }
}
