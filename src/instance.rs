//! A running payforms instance: settings, store, gateway, and the current
//! version of the app.
//!
//! The gateway is built first (from settings, store and an HTTP client);
//! the instance then loads the app once. The app and the GraphQL schema
//! built from it are swapped together atomically on reload, so a request
//! sees one consistent version from start to end.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::app::App;
use crate::config::Settings;
use crate::db::migrate::{MigrateError, MigrateOptions};
use crate::db::schema::ModelType;
use crate::db::Store;
use crate::error::LoadProblem;
use crate::gateway::RequestDispatcher;
use crate::graphql::{GraphqlEngine, RequestSender, RequestTypeInfo};

/// How often each instance reads the stored Stripe configuration again.
const STORED_KEYS_REFRESH_SECS: u64 = 5;

/// One version of the app (as loaded from disk) and the schema built from it.
pub struct AppVersion {
    pub app: Arc<App>,
    pub graphql: Arc<GraphqlEngine>,
}

pub struct Instance {
    pub settings: Settings,
    pub store: Store,
    /// Sends request types; every dispatch names the app version it uses.
    pub gateway: Arc<dyn RequestDispatcher>,
    current: ArcSwap<AppVersion>,
    /// Which operator sign-ins still count (sign-out ends them all).
    pub operator_sessions: crate::operator::Sessions,
    /// Signing secrets of the webhook endpoints payforms subscribed.
    pub endpoint_secrets: crate::secrets::SecretCache,
}

impl Instance {
    /// Load the app in `settings.app_dir`.
    pub fn start(
        settings: Settings,
        store: Store,
        gateway: Arc<dyn RequestDispatcher>,
    ) -> Result<Arc<Instance>, Vec<LoadProblem>> {
        // Whatever the caller opened, the instance's records are those of
        // its environment.
        let store = store.with_environment(settings.environment);
        let version = load_version(&settings, &store, &gateway)?;
        let operator_sessions = crate::operator::Sessions::load(&store);
        Ok(Arc::new(Instance {
            settings,
            operator_sessions,
            store,
            gateway,
            current: ArcSwap::from_pointee(version),
            endpoint_secrets: crate::secrets::SecretCache::new(std::time::Duration::from_secs(30)),
        }))
    }

    pub fn current(&self) -> Arc<AppVersion> {
        self.current.load_full()
    }

    /// Reload the app from disk. On problems the current version keeps
    /// serving and the problems are returned (and logged by the caller).
    pub fn reload(&self) -> Result<(), Vec<LoadProblem>> {
        let version = load_version(&self.settings, &self.store, &self.gateway)?;
        self.current.store(Arc::new(version));
        Ok(())
    }

    /// Keep the stored Stripe keys current: another instance (or this one)
    /// may configure them at any time. Pages rendered once hold the
    /// publishable key, so a change reloads the app.
    pub fn watch_stored_keys(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        let instance = Arc::downgrade(self);
        let mut shown = self.settings.stripe_publishable_key();
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(STORED_KEYS_REFRESH_SECS));
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(instance) = instance.upgrade() else {
                    return;
                };
                let refreshed = tokio::task::spawn_blocking(move || {
                    if let Err(e) = crate::gateway::configuration::install_active(&instance.settings, &instance.store) {
                        tracing::error!("Stripe configuration: {e}");
                    }
                    instance
                })
                .await;
                let Ok(instance) = refreshed else {
                    continue;
                };
                let now = instance.settings.stripe_publishable_key();
                if now != shown {
                    shown = now;
                    tracing::info!("Stripe keys changed: reloading the app");
                    let _ = tokio::task::spawn_blocking(move || instance.reload_and_log()).await;
                }
            }
        });
    }

    /// Reload and log the outcome; used by the file watcher.
    pub fn reload_and_log(&self) {
        match self.reload() {
            Ok(()) => tracing::info!("app reloaded"),
            Err(problems) => {
                for problem in &problems {
                    tracing::error!("{problem}");
                }
                tracing::warn!(
                    "{} problem(s) found; the last good version of the app keeps serving",
                    problems.len()
                );
            }
        }
    }
}

fn load_version(
    settings: &Settings,
    store: &Store,
    gateway: &Arc<dyn RequestDispatcher>,
) -> Result<AppVersion, Vec<LoadProblem>> {
    let app = Arc::new(App::load(&settings.app_dir)?);
    for warning in &app.warnings {
        tracing::warn!("{warning}");
    }
    migrate_tables(store, &app)?;
    let sender = RequestSender {
        gateway: gateway.clone(),
        app: app.clone(),
        settings: Some(settings.clone()),
    };
    let graphql = build_graphql(&app, store, Some(sender))?;
    Ok(AppVersion {
        app,
        graphql: Arc::new(graphql),
    })
}

/// Apply the additive changes the app's schema files ask of the database;
/// a change that would lose data is refused at its file:line, and the
/// caller keeps serving the last good version.
pub fn migrate_tables(store: &Store, app: &App) -> Result<(), Vec<LoadProblem>> {
    let models: Vec<&ModelType> = app.model_types.values().map(|m| m.as_ref()).collect();
    match store.migrate_models(&models, MigrateOptions::default()) {
        Ok(report) => {
            for change in &report.changes {
                tracing::info!("database: {}", change.description);
            }
            for note in &report.notes {
                tracing::info!("database: {note}");
            }
            Ok(())
        }
        Err(MigrateError::Refused(problems)) => Err(problems),
        Err(MigrateError::Store(e)) => Err(vec![LoadProblem::new(
            "schema",
            0,
            format!("the database could not be migrated to the schema files: {e}"),
        )]),
    }
}

pub fn build_graphql(
    app: &App,
    store: &Store,
    sender: Option<RequestSender>,
) -> Result<GraphqlEngine, Vec<LoadProblem>> {
    let mut models: Vec<ModelType> = app.model_types.values().map(|m| m.as_ref().clone()).collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    let mut request_types: Vec<RequestTypeInfo> = app
        .notifications
        .values()
        .map(|n| request_type_info(&n.name, n.fields.clone(), n.runtime_only))
        .collect();
    request_types.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    GraphqlEngine::build(&models, &request_types, store.clone(), sender)
}

/// `modules/stripe/create_customer` -> module `stripe`, name `create_customer`;
/// an app's own request type `refund_all` has module `app`.
fn request_type_info(
    full_name: &str,
    fields: Option<Vec<(String, crate::db::schema::PropertyType)>>,
    runtime_only: bool,
) -> RequestTypeInfo {
    let (module, name) = match full_name.strip_prefix("modules/").and_then(|rest| rest.split_once('/')) {
        Some((module, name)) => (module.to_string(), name.to_string()),
        None => ("app".to_string(), full_name.to_string()),
    };
    RequestTypeInfo {
        module,
        name,
        full_name: full_name.to_string(),
        fields,
        runtime_only,
    }
}
