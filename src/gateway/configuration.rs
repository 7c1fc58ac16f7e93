//! Stripe configurations per environment, set at run time (GraphQL's
//! `configureStripe`, `payforms config stripe`): keys checked by prefix,
//! secrets encrypted before they are stored, never returned, and the
//! active environment's keys installed into the running settings.
//!
//! Keys from the settings (STRIPE_SECRET_KEY, or the sandbox) win over a
//! stored configuration; the stored one is then kept but not used.

use serde_json::Value;

use crate::config::{KeySource, Secret, Settings, StoredKeys};
use crate::db::models::gateway_config::{self, GatewayConfig, NewGatewayConfig};
use crate::db::{Store, StoreError};
use crate::environment::{check_key_pair, check_publishable_key, check_secret_key, Environment, KeyError};
use crate::secrets::SecretError;

pub const STRIPE: &str = "stripe";

const SECRET_KEY: &str = "secret_key";
const WEBHOOK_SECRET: &str = "webhook_secret";

/// What a stored secret is bound to: its row's gateway and environment and
/// its column, so a ciphertext copied elsewhere does not open.
fn context(environment: Environment, column: &str) -> String {
    format!("gateway_configs:{STRIPE}:{environment}:{column}")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigurationError {
    #[error("Invalid Stripe keys format: {0}")]
    InvalidKeys(#[from] KeyError),
    #[error("Invalid webhook secret format: it must start with whsec_")]
    InvalidWebhookSecret,
    #[error("Configuration already exists for the {0} environment; use updateStripeConfig")]
    AlreadyExists(Environment),
    #[error("Configuration not found for the {0} environment")]
    NotFound(Environment),
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("Stripe did not accept the new keys ({0}); nothing was changed")]
    NotAccepted(String),
    #[error(
        "a live configuration is stored, but PAYFORMS_ENVIRONMENT is not set (test is only the default): \
         set PAYFORMS_ENVIRONMENT=live, or =test if this instance is meant for testing"
    )]
    EnvironmentNotGiven,
    #[error("the stored secrets cannot be read: {0}")]
    Secret(#[from] SecretError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

impl ConfigurationError {
    /// The GraphQL/API error code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigurationError::InvalidKeys(_)
            | ConfigurationError::InvalidWebhookSecret
            | ConfigurationError::AlreadyExists(_)
            | ConfigurationError::Missing(_)
            | ConfigurationError::NotAccepted(_)
            | ConfigurationError::EnvironmentNotGiven => "BAD_USER_INPUT",
            ConfigurationError::NotFound(_) => "NOT_FOUND",
            ConfigurationError::Secret(_) | ConfigurationError::Store(_) => "INTERNAL_SERVER_ERROR",
        }
    }
}

/// What `configureStripe` / `updateStripeConfig` are given.
#[derive(Debug, Clone, Default)]
pub struct ConfigInput {
    pub environment: Option<Environment>,
    pub secret_key: Option<Secret>,
    pub publishable_key: Option<String>,
    pub webhook_secret: Option<Secret>,
}

/// The connection check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connected,
    Failed(String),
}

/// A configuration as it may be shown: no secret, ever.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigView {
    pub id: i64,
    pub environment: Environment,
    pub publishable_key: String,
    pub webhook_url: String,
    pub has_webhook_secret: bool,
    /// `unchecked`, `connected` or `failed`.
    pub status: String,
    pub status_reason: Option<String>,
    pub checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The instance's environment, and its keys come from this configuration.
    pub in_use: bool,
}

/// Where Stripe sends this instance's events.
pub fn webhook_url(settings: &Settings) -> String {
    let base = match &settings.public_url {
        Some(public) => public.trim().trim_end_matches('/').to_string(),
        None => format!("http://{}", settings.bind),
    };
    format!("{base}/webhooks/{STRIPE}")
}

fn view(settings: &Settings, config: GatewayConfig) -> ConfigView {
    let in_use = config.environment == settings.environment && settings.key_source() == KeySource::Stored;
    ConfigView {
        id: config.id,
        environment: config.environment,
        publishable_key: config.publishable_key,
        webhook_url: webhook_url(settings),
        has_webhook_secret: config.webhook_secret_encrypted.is_some(),
        status: config.status,
        status_reason: config.status_reason,
        checked_at: config.checked_at,
        in_use,
    }
}

fn check_webhook_secret(secret: Option<&Secret>) -> Result<(), ConfigurationError> {
    match secret {
        Some(s) if !s.expose().starts_with("whsec_") || s.expose().len() > 300 => {
            Err(ConfigurationError::InvalidWebhookSecret)
        }
        _ => Ok(()),
    }
}

/// Asks the gateway whether a secret key is accepted (Stripe: the balance).
pub type Checker<'a> = &'a dyn Fn(&Secret) -> ConnectionStatus;

/// Keys for the instance's own environment are checked before they are
/// stored, so a typo or a revoked key never replaces working ones; keys of
/// the other environment are not sent anywhere (this instance's API
/// address may be a test server) and stay `unchecked`.
fn check_before_storing(
    settings: &Settings,
    environment: Environment,
    secret_key: &Secret,
    check: Checker<'_>,
) -> Result<Option<ConnectionStatus>, ConfigurationError> {
    if environment != settings.environment {
        return Ok(None);
    }
    match check(secret_key) {
        ConnectionStatus::Connected => Ok(Some(ConnectionStatus::Connected)),
        ConnectionStatus::Failed(reason) => Err(ConfigurationError::NotAccepted(reason)),
    }
}

/// Store a new configuration for `input.environment`; refused when one
/// exists, or when Stripe refuses the keys of the instance's environment.
pub fn configure(
    settings: &Settings,
    store: &Store,
    input: ConfigInput,
    check: Checker<'_>,
) -> Result<ConfigView, ConfigurationError> {
    let environment = input.environment.ok_or(ConfigurationError::Missing("environment"))?;
    let secret_key = input.secret_key.ok_or(ConfigurationError::Missing("secretKey"))?;
    let publishable_key = input
        .publishable_key
        .map(|k| k.trim().to_string())
        .ok_or(ConfigurationError::Missing("publishableKey"))?;
    check_key_pair(environment, secret_key.expose().trim(), &publishable_key)?;
    check_webhook_secret(input.webhook_secret.as_ref())?;
    if gateway_config::get(store, STRIPE, environment)?.is_some() {
        return Err(ConfigurationError::AlreadyExists(environment));
    }
    let secret_key = Secret::new(secret_key.expose().trim());
    let status = check_before_storing(settings, environment, &secret_key, check)?;
    let new = NewGatewayConfig {
        gateway: STRIPE.to_string(),
        environment,
        publishable_key,
        secret_key_encrypted: crate::secrets::encrypt_for(settings, &secret_key, &context(environment, SECRET_KEY)),
        webhook_secret_encrypted: input
            .webhook_secret
            .map(|s| crate::secrets::encrypt_for(settings, &s, &context(environment, WEBHOOK_SECRET))),
    };
    let stored = gateway_config::insert(store, &new)?.ok_or(ConfigurationError::AlreadyExists(environment))?;
    tracing::warn!(
        "Stripe configuration stored for the {environment} environment (secret key ending {})",
        key_tail(&secret_key)
    );
    finish(settings, store, stored.id, environment, status)
}

/// Record the check's outcome, install the keys if they are the
/// instance's, and show the configuration as stored.
fn finish(
    settings: &Settings,
    store: &Store,
    id: i64,
    environment: Environment,
    status: Option<ConnectionStatus>,
) -> Result<ConfigView, ConfigurationError> {
    if let Some(status) = &status {
        record_status(store, id, status)?;
    }
    install_active(settings, store)?;
    get(settings, store, environment)?.ok_or(ConfigurationError::NotFound(environment))
}

/// The last four characters of a key, for an audit line.
fn key_tail(key: &Secret) -> String {
    let text = key.expose();
    text.get(text.len().saturating_sub(4)..).unwrap_or("").to_string()
}

/// Change the given fields of `input.environment`'s configuration (the
/// active environment when not given); the others stay as stored.
pub fn update(
    settings: &Settings,
    store: &Store,
    input: ConfigInput,
    check: Checker<'_>,
) -> Result<ConfigView, ConfigurationError> {
    let environment = input.environment.unwrap_or(settings.environment);
    let stored = gateway_config::get(store, STRIPE, environment)?.ok_or(ConfigurationError::NotFound(environment))?;
    if let Some(key) = &input.secret_key {
        check_secret_key(environment, key.expose().trim())?;
    }
    if let Some(key) = &input.publishable_key {
        check_publishable_key(environment, key.trim())?;
    }
    check_webhook_secret(input.webhook_secret.as_ref())?;
    let secret_key = match &input.secret_key {
        Some(key) => Secret::new(key.expose().trim()),
        None => crate::secrets::decrypt_for(
            settings,
            &stored.secret_key_encrypted,
            &context(environment, SECRET_KEY),
        )?,
    };
    let publishable_key = input
        .publishable_key
        .map(|k| k.trim().to_string())
        .unwrap_or(stored.publishable_key);
    // The pair as it will be stored must still match.
    check_key_pair(environment, secret_key.expose(), &publishable_key)?;
    let status = check_before_storing(settings, environment, &secret_key, check)?;
    let keys = NewGatewayConfig {
        gateway: STRIPE.to_string(),
        environment,
        publishable_key,
        secret_key_encrypted: match input.secret_key {
            Some(_) => crate::secrets::encrypt_for(settings, &secret_key, &context(environment, SECRET_KEY)),
            None => stored.secret_key_encrypted,
        },
        webhook_secret_encrypted: match input.webhook_secret {
            Some(secret) => Some(crate::secrets::encrypt_for(
                settings,
                &secret,
                &context(environment, WEBHOOK_SECRET),
            )),
            None => stored.webhook_secret_encrypted,
        },
    };
    let updated =
        gateway_config::update_keys(store, stored.id, &keys)?.ok_or(ConfigurationError::NotFound(environment))?;
    tracing::warn!(
        "Stripe configuration updated for the {environment} environment (secret key ending {})",
        key_tail(&secret_key)
    );
    finish(settings, store, updated.id, environment, status)
}

/// The stored configuration of `environment`, if any.
pub fn get(
    settings: &Settings,
    store: &Store,
    environment: Environment,
) -> Result<Option<ConfigView>, ConfigurationError> {
    Ok(gateway_config::get(store, STRIPE, environment)?.map(|c| view(settings, c)))
}

/// Read the active environment's stored configuration into `settings`
/// (shared with every clone); true when the keys in use changed.
pub fn install_active(settings: &Settings, store: &Store) -> Result<bool, ConfigurationError> {
    let keys = match gateway_config::get(store, STRIPE, settings.environment)? {
        Some(config) => Some(StoredKeys {
            config_id: config.id,
            updated_at: config.updated_at,
            secret_key: {
                let secret = crate::secrets::decrypt_for(
                    settings,
                    &config.secret_key_encrypted,
                    &context(config.environment, SECRET_KEY),
                )?;
                // A restored or edited row must not put a test key in a
                // live instance (or the reverse).
                check_key_pair(settings.environment, secret.expose(), &config.publishable_key)?;
                secret
            },
            publishable_key: config.publishable_key,
            webhook_secret: config
                .webhook_secret_encrypted
                .as_deref()
                .map(|stored| {
                    crate::secrets::decrypt_for(settings, stored, &context(config.environment, WEBHOOK_SECRET))
                })
                .transpose()?,
        }),
        None => None,
    };
    Ok(settings.stored_keys.set(keys))
}

/// An instance left in test mode by default on a database that holds a
/// live configuration is almost certainly a production server whose
/// PAYFORMS_ENVIRONMENT was lost: it would take test payments for real
/// orders. Refused unless the environment was given.
pub fn environment_is_deliberate(settings: &Settings, store: &Store) -> Result<bool, ConfigurationError> {
    if settings.environment_explicit || gateway_config::get(store, STRIPE, Environment::Live)?.is_none() {
        return Ok(true);
    }
    Err(ConfigurationError::EnvironmentNotGiven)
}

/// The decrypted secret key of `environment`'s configuration, for a check.
pub fn stored_secret_key(
    settings: &Settings,
    store: &Store,
    environment: Environment,
) -> Result<(i64, Secret), ConfigurationError> {
    let config = gateway_config::get(store, STRIPE, environment)?.ok_or(ConfigurationError::NotFound(environment))?;
    Ok((
        config.id,
        crate::secrets::decrypt_for(
            settings,
            &config.secret_key_encrypted,
            &context(environment, SECRET_KEY),
        )?,
    ))
}

/// Record a check's outcome on configuration `id`.
pub fn record_status(store: &Store, id: i64, status: &ConnectionStatus) -> Result<(), ConfigurationError> {
    match status {
        ConnectionStatus::Connected => gateway_config::set_status(store, id, "connected", None)?,
        ConnectionStatus::Failed(reason) => gateway_config::set_status(store, id, "failed", Some(reason))?,
    }
    Ok(())
}

/// What `payforms secrets rotate` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// Secrets now encrypted with the current key.
    pub reencrypted: usize,
    /// Secrets already under the current key.
    pub current: usize,
    /// Where a stored value could not be read (or changed meanwhile): left
    /// as it is, to be looked at before the previous key is dropped.
    pub skipped: Vec<String>,
}

/// Re-encrypt every stored secret with the current key: the gateway
/// configurations and each record property whose name ends in
/// `_encrypted` (the webhook endpoints' signing secrets). A value no key
/// can read is left as it is and reported, never overwritten.
pub fn rotate_secrets(
    settings: &Settings,
    store: &Store,
    app: &crate::app::App,
) -> Result<RotationReport, ConfigurationError> {
    let mut report = RotationReport::default();
    // Some(new ciphertext) to write, None when already current; Err(why).
    let rotate_in = |stored: &str, context: &str| -> Result<Option<String>, String> {
        if !crate::secrets::needs_rotation(settings, stored) {
            return Ok(None);
        }
        crate::secrets::reencrypt_for(settings, stored, context)
            .map(Some)
            .map_err(|e| e.to_string())
    };
    let rotate = |stored: &str| rotate_in(stored, "");
    for config in gateway_config::all(store)? {
        let place = format!("the {} Stripe configuration", config.environment);
        let secret = rotate_in(&config.secret_key_encrypted, &context(config.environment, SECRET_KEY));
        let webhook = config
            .webhook_secret_encrypted
            .as_deref()
            .map(|stored| rotate_in(stored, &context(config.environment, WEBHOOK_SECRET)))
            .transpose();
        let (secret, webhook) = match (secret, webhook) {
            (Ok(secret), Ok(webhook)) => (secret, webhook.flatten()),
            (Err(why), _) | (_, Err(why)) => {
                report.skipped.push(format!("{place}: {why}"));
                continue;
            }
        };
        let count = usize::from(secret.is_some()) + usize::from(webhook.is_some());
        let held = 1 + usize::from(config.webhook_secret_encrypted.is_some());
        report.current += held - count;
        if count == 0 {
            continue;
        }
        let written = gateway_config::replace_ciphertexts(
            store,
            &config,
            secret.as_deref().unwrap_or(&config.secret_key_encrypted),
            webhook.as_deref().or(config.webhook_secret_encrypted.as_deref()),
        )?;
        if written {
            report.reencrypted += count;
        } else {
            report
                .skipped
                .push(format!("{place}: changed while rotating; run rotate again"));
        }
    }
    // Stored secrets of both environments move to the new key.
    for environment in crate::environment::Environment::ALL {
        rotate_records(app, &store.clone().with_environment(environment), &rotate, &mut report)?;
    }
    Ok(report)
}

/// Re-encrypt every `*_encrypted` property of one environment's records.
fn rotate_records(
    app: &crate::app::App,
    store: &Store,
    rotate: &dyn Fn(&str) -> Result<Option<String>, String>,
    report: &mut RotationReport,
) -> Result<(), ConfigurationError> {
    for model in app.model_types.values() {
        let encrypted: Vec<&str> = model
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| name.ends_with("_encrypted"))
            .collect();
        for property in encrypted {
            let mut after = None;
            loop {
                let query = crate::db::query::RecordQuery {
                    filters: vec![crate::db::query::Filter::new(
                        property,
                        crate::db::query::FilterOp::Exists(true),
                    )],
                    first: Some(100),
                    after: after.clone(),
                    ..Default::default()
                };
                let page = store.query_records(model, &query)?;
                for record in &page.records {
                    let Some(stored) = record.properties.get(property).and_then(Value::as_str) else {
                        continue;
                    };
                    match rotate(stored) {
                        Ok(Some(moved)) => {
                            let mut change = serde_json::Map::new();
                            change.insert(property.to_string(), Value::String(moved));
                            store.update_record(model, record.id, change)?;
                            report.reencrypted += 1;
                        }
                        Ok(None) => report.current += 1,
                        Err(why) => {
                            report
                                .skipped
                                .push(format!("{} {} {property}: {why}", model.short_name(), record.id))
                        }
                    }
                }
                if !page.has_next_page {
                    break;
                }
                after = page.end_cursor;
            }
        }
    }
    Ok(())
}

/// Why Stripe refused a check, from its error body (`error.message`).
pub fn failure_reason(status: u16, body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string));
    // The caller redacts (`gateway::redact`): Stripe quotes the key, masked.
    match message {
        Some(message) => format!("Stripe answered {status}: {message}"),
        None => format!("Stripe answered {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn setup(environment: &'static str) -> (tempfile::TempDir, Settings, Store) {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::load_with(dir.path(), &Overrides::default(), move |name| match name {
            "PAYFORMS_SECRET" => Some("s".repeat(40)),
            "PAYFORMS_ENVIRONMENT" => Some(environment.to_string()),
            _ => None,
        })
        .unwrap();
        let store = Store::connect(dir.path().join("c.sqlite3").to_str().unwrap()).unwrap();
        store.migrate().unwrap();
        (dir, settings, store)
    }

    fn configure_ok(settings: &Settings, store: &Store, input: ConfigInput) -> Result<ConfigView, ConfigurationError> {
        configure(settings, store, input, &|_| ConnectionStatus::Connected)
    }

    fn update_ok(settings: &Settings, store: &Store, input: ConfigInput) -> Result<ConfigView, ConfigurationError> {
        update(settings, store, input, &|_| ConnectionStatus::Connected)
    }

    #[test]
    fn keys_the_gateway_refuses_replace_nothing() {
        let (_dir, settings, store) = setup("test");
        let refuse = |_: &Secret| ConnectionStatus::Failed("Invalid API Key provided".into());
        let refused = configure(
            &settings,
            &store,
            input(Environment::Test, "sk_test_bad", "pk_test_x"),
            &refuse,
        );
        assert!(matches!(refused, Err(ConfigurationError::NotAccepted(_))));
        assert!(gateway_config::all(&store).unwrap().is_empty());
        configure_ok(&settings, &store, input(Environment::Test, "sk_test_good", "pk_test_x")).unwrap();
        let update = ConfigInput {
            secret_key: Some(Secret::new("sk_test_revoked")),
            ..ConfigInput::default()
        };
        assert!(matches!(
            super::update(&settings, &store, update, &refuse),
            Err(ConfigurationError::NotAccepted(_))
        ));
        assert_eq!(settings.stripe_secret_key().unwrap().expose(), "sk_test_good");
        // Keys of the other environment are stored unchecked: never sent
        // to this instance's (test) API address.
        let never = |_: &Secret| -> ConnectionStatus { panic!("a live key was sent to a test instance's API") };
        let live = configure(
            &settings,
            &store,
            input(Environment::Live, "sk_live_l", "pk_live_l"),
            &never,
        )
        .unwrap();
        assert_eq!(live.status, "unchecked");
        assert!(!live.in_use);
    }

    fn input(environment: Environment, secret: &str, publishable: &str) -> ConfigInput {
        ConfigInput {
            environment: Some(environment),
            secret_key: Some(Secret::new(secret)),
            publishable_key: Some(publishable.to_string()),
            webhook_secret: Some(Secret::new("whsec_abc123")),
        }
    }

    #[test]
    fn a_configuration_per_environment_with_secrets_encrypted_and_the_active_one_in_use() {
        let (_dir, settings, store) = setup("live");
        let test = configure_ok(&settings, &store, input(Environment::Test, "sk_test_t1", "pk_test_t1")).unwrap();
        assert!(!test.in_use, "the instance runs live");
        assert!(settings.stripe_secret_key().is_none());
        let live = configure_ok(&settings, &store, input(Environment::Live, "sk_live_l1", "pk_live_l1")).unwrap();
        assert!(live.in_use);
        assert_eq!(settings.stripe_secret_key().unwrap().expose(), "sk_live_l1");
        assert_eq!(settings.stripe_publishable_key(), "pk_live_l1");
        assert_eq!(settings.stripe_webhook_secrets().len(), 1);
        // Stored encrypted only.
        let rows = gateway_config::all(&store).unwrap();
        assert_eq!(rows.len(), 2);
        for row in &rows {
            assert!(row.secret_key_encrypted.starts_with("v2:"));
            assert!(!row.secret_key_encrypted.contains("sk_"));
        }
        // A second configure is refused; live refuses test keys.
        assert!(matches!(
            configure_ok(&settings, &store, input(Environment::Live, "sk_live_l2", "pk_live_l2")),
            Err(ConfigurationError::AlreadyExists(Environment::Live))
        ));
        let refused = update_ok(
            &settings,
            &store,
            ConfigInput {
                secret_key: Some(Secret::new("sk_test_sneaky")),
                ..ConfigInput::default()
            },
        )
        .unwrap_err();
        assert_eq!(refused.code(), "BAD_USER_INPUT");
        assert!(!refused.to_string().contains("sneaky"));
        // An update changes only what is given, and the keys in use follow.
        let updated = update_ok(
            &settings,
            &store,
            ConfigInput {
                secret_key: Some(Secret::new("sk_live_l3")),
                ..ConfigInput::default()
            },
        )
        .unwrap();
        assert_eq!(updated.publishable_key, "pk_live_l1");
        assert_eq!(settings.stripe_secret_key().unwrap().expose(), "sk_live_l3");
        assert!(matches!(
            update_ok(&settings, &store, ConfigInput::default()).map(|v| v.status),
            Ok(status) if status == "connected"
        ));
    }

    #[test]
    fn a_refusal_never_carries_the_key() {
        let reason = failure_reason(
            401,
            r#"{"error":{"message":"Invalid API Key provided: sk_live_****abcd. Check it."}}"#,
        );
        assert_eq!(
            super::super::redact::redact(&reason, &[]),
            "Stripe answered 401: Invalid API Key provided: [redacted]. Check it."
        );
    }

    #[test]
    fn malformed_keys_are_refused() {
        let (_dir, settings, store) = setup("test");
        for (secret, publishable) in [
            ("sk_live_x", "pk_live_x"),
            ("sk_test_x", "pk_live_x"),
            ("nope", "pk_test_x"),
        ] {
            let error = configure_ok(&settings, &store, input(Environment::Test, secret, publishable)).unwrap_err();
            assert!(
                matches!(error, ConfigurationError::InvalidKeys(_)),
                "{secret} {publishable}"
            );
        }
        let mut bad_hook = input(Environment::Test, "sk_test_x", "pk_test_x");
        bad_hook.webhook_secret = Some(Secret::new("hunter2"));
        assert!(matches!(
            configure_ok(&settings, &store, bad_hook),
            Err(ConfigurationError::InvalidWebhookSecret)
        ));
        assert!(gateway_config::all(&store).unwrap().is_empty());
    }
}
