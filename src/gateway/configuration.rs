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
            | ConfigurationError::Missing(_) => "BAD_USER_INPUT",
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

/// Store a new configuration for `input.environment`; refused when one exists.
pub fn configure(settings: &Settings, store: &Store, input: ConfigInput) -> Result<ConfigView, ConfigurationError> {
    let environment = input.environment.ok_or(ConfigurationError::Missing("environment"))?;
    let secret_key = input.secret_key.ok_or(ConfigurationError::Missing("secretKey"))?;
    let publishable_key = input
        .publishable_key
        .map(|k| k.trim().to_string())
        .ok_or(ConfigurationError::Missing("publishableKey"))?;
    check_key_pair(environment, secret_key.expose().trim(), &publishable_key)?;
    check_webhook_secret(input.webhook_secret.as_ref())?;
    let new = NewGatewayConfig {
        gateway: STRIPE.to_string(),
        environment,
        publishable_key,
        secret_key_encrypted: crate::secrets::encrypt(settings, &Secret::new(secret_key.expose().trim())),
        webhook_secret_encrypted: input.webhook_secret.map(|s| crate::secrets::encrypt(settings, &s)),
    };
    let stored = gateway_config::insert(store, &new)?.ok_or(ConfigurationError::AlreadyExists(environment))?;
    tracing::info!("Stripe configuration stored for the {environment} environment");
    install_active(settings, store)?;
    Ok(view(settings, stored))
}

/// Change the given fields of `input.environment`'s configuration (the
/// active environment when not given); the others stay as stored.
pub fn update(settings: &Settings, store: &Store, input: ConfigInput) -> Result<ConfigView, ConfigurationError> {
    let environment = input.environment.unwrap_or(settings.environment);
    let stored = gateway_config::get(store, STRIPE, environment)?.ok_or(ConfigurationError::NotFound(environment))?;
    if let Some(key) = &input.secret_key {
        check_secret_key(environment, key.expose().trim())?;
    }
    if let Some(key) = &input.publishable_key {
        check_publishable_key(environment, key.trim())?;
    }
    check_webhook_secret(input.webhook_secret.as_ref())?;
    let keys = NewGatewayConfig {
        gateway: STRIPE.to_string(),
        environment,
        publishable_key: input
            .publishable_key
            .map(|k| k.trim().to_string())
            .unwrap_or(stored.publishable_key),
        secret_key_encrypted: match input.secret_key {
            Some(key) => crate::secrets::encrypt(settings, &Secret::new(key.expose().trim())),
            None => stored.secret_key_encrypted,
        },
        webhook_secret_encrypted: match input.webhook_secret {
            Some(secret) => Some(crate::secrets::encrypt(settings, &secret)),
            None => stored.webhook_secret_encrypted,
        },
    };
    let updated =
        gateway_config::update_keys(store, stored.id, &keys)?.ok_or(ConfigurationError::NotFound(environment))?;
    tracing::info!("Stripe configuration updated for the {environment} environment");
    install_active(settings, store)?;
    Ok(view(settings, updated))
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
            secret_key: crate::secrets::decrypt(settings, &config.secret_key_encrypted)?,
            publishable_key: config.publishable_key,
            webhook_secret: config
                .webhook_secret_encrypted
                .as_deref()
                .map(|stored| crate::secrets::decrypt(settings, stored))
                .transpose()?,
        }),
        None => None,
    };
    Ok(settings.stored_keys.set(keys))
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
        crate::secrets::decrypt(settings, &config.secret_key_encrypted)?,
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
}

/// Re-encrypt every stored secret with the current key: the gateway
/// configurations and each record property whose name ends in
/// `_encrypted` (the webhook endpoints' signing secrets). Stops at the
/// first secret no key can read, so nothing is lost.
pub fn rotate_secrets(
    settings: &Settings,
    store: &Store,
    app: &crate::app::App,
) -> Result<RotationReport, ConfigurationError> {
    let mut report = RotationReport::default();
    let mut rotate = |stored: &str| -> Result<Option<String>, ConfigurationError> {
        if crate::secrets::needs_rotation(settings, stored) {
            report.reencrypted += 1;
            Ok(Some(crate::secrets::reencrypt(settings, stored)?))
        } else {
            report.current += 1;
            Ok(None)
        }
    };
    for config in gateway_config::all(store)? {
        let secret = rotate(&config.secret_key_encrypted)?;
        let webhook = match &config.webhook_secret_encrypted {
            Some(stored) => rotate(stored)?.map(Some),
            None => None,
        };
        if secret.is_some() || webhook.is_some() {
            gateway_config::replace_ciphertexts(
                store,
                config.id,
                secret.as_deref().unwrap_or(&config.secret_key_encrypted),
                webhook
                    .flatten()
                    .as_deref()
                    .or(config.webhook_secret_encrypted.as_deref()),
            )?;
        }
    }
    // Stored secrets of both environments move to the new key.
    for environment in crate::environment::Environment::ALL {
        rotate_records(app, &store.clone().with_environment(environment), &mut rotate)?;
    }
    Ok(report)
}

/// Re-encrypt every `*_encrypted` property of one environment's records.
fn rotate_records(
    app: &crate::app::App,
    store: &Store,
    rotate: &mut dyn FnMut(&str) -> Result<Option<String>, ConfigurationError>,
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
                    if let Some(moved) = rotate(stored)? {
                        let mut change = serde_json::Map::new();
                        change.insert(property.to_string(), Value::String(moved));
                        store.update_record(model, record.id, change)?;
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
        let test = configure(&settings, &store, input(Environment::Test, "sk_test_t1", "pk_test_t1")).unwrap();
        assert!(!test.in_use, "the instance runs live");
        assert!(settings.stripe_secret_key().is_none());
        let live = configure(&settings, &store, input(Environment::Live, "sk_live_l1", "pk_live_l1")).unwrap();
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
            configure(&settings, &store, input(Environment::Live, "sk_live_l2", "pk_live_l2")),
            Err(ConfigurationError::AlreadyExists(Environment::Live))
        ));
        let refused = update(
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
        let updated = update(
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
            update(&settings, &store, ConfigInput::default()).map(|v| v.status),
            Ok(status) if status == "unchecked"
        ));
    }

    #[test]
    fn malformed_keys_are_refused() {
        let (_dir, settings, store) = setup("test");
        for (secret, publishable) in [
            ("sk_live_x", "pk_live_x"),
            ("sk_test_x", "pk_live_x"),
            ("nope", "pk_test_x"),
        ] {
            let error = configure(&settings, &store, input(Environment::Test, secret, publishable)).unwrap_err();
            assert!(
                matches!(error, ConfigurationError::InvalidKeys(_)),
                "{secret} {publishable}"
            );
        }
        let mut bad_hook = input(Environment::Test, "sk_test_x", "pk_test_x");
        bad_hook.webhook_secret = Some(Secret::new("hunter2"));
        assert!(matches!(
            configure(&settings, &store, bad_hook),
            Err(ConfigurationError::InvalidWebhookSecret)
        ));
        assert!(gateway_config::all(&store).unwrap().is_empty());
    }
}
