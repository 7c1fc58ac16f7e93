//! A running payforms instance: settings, store, and the current app.
//!
//! The app and the GraphQL schema built from it are swapped together
//! atomically on reload, so a request sees one consistent version.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::app::App;
use crate::config::Settings;
use crate::db::model_type::ModelType;
use crate::db::Store;
use crate::error::LoadProblem;
use crate::graphql::{GraphqlEngine, RequestDispatcher, RequestTypeInfo};

/// One consistent version of the app and what is derived from it.
pub struct Loaded {
    pub app: App,
    pub graphql: Arc<GraphqlEngine>,
}

pub struct Instance {
    pub settings: Settings,
    pub store: Store,
    current: ArcSwap<Loaded>,
    /// Sends request types to gateways; set once the gateway layer starts.
    dispatcher: ArcSwap<Option<Arc<dyn RequestDispatcher>>>,
    /// Which operator sign-ins still count (sign-out ends them all).
    pub operator_sessions: crate::operator::Sessions,
}

impl Instance {
    /// Load the app in `settings.app_dir` and open the store.
    pub fn start(settings: Settings, store: Store) -> Result<Arc<Instance>, Vec<LoadProblem>> {
        let app = App::load(&settings.app_dir)?;
        let graphql = build_graphql(&app, &store, None)?;
        let operator_sessions = crate::operator::Sessions::load(&store);
        Ok(Arc::new(Instance {
            settings,
            operator_sessions,
            store,
            current: ArcSwap::from_pointee(Loaded {
                app,
                graphql: Arc::new(graphql),
            }),
            dispatcher: ArcSwap::from_pointee(None),
        }))
    }

    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    pub fn dispatcher(&self) -> Option<Arc<dyn RequestDispatcher>> {
        self.dispatcher.load().as_ref().clone()
    }

    /// Install the gateway dispatcher and rebuild the schema so request-type
    /// mutations can reach it.
    pub fn set_dispatcher(&self, dispatcher: Arc<dyn RequestDispatcher>) -> Result<(), Vec<LoadProblem>> {
        self.dispatcher.store(Arc::new(Some(dispatcher)));
        self.reload()
    }

    /// Reload the app from disk. On problems the current version keeps
    /// serving and the problems are returned (and logged by the caller).
    pub fn reload(&self) -> Result<(), Vec<LoadProblem>> {
        let app = App::load(&self.settings.app_dir)?;
        let graphql = build_graphql(&app, &self.store, self.dispatcher())?;
        self.current.store(Arc::new(Loaded {
            app,
            graphql: Arc::new(graphql),
        }));
        Ok(())
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

pub fn build_graphql(
    app: &App,
    store: &Store,
    dispatcher: Option<Arc<dyn RequestDispatcher>>,
) -> Result<GraphqlEngine, Vec<LoadProblem>> {
    let mut models: Vec<ModelType> = app.model_types.values().map(|m| m.as_ref().clone()).collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    let mut request_types: Vec<RequestTypeInfo> = app
        .notifications
        .values()
        .map(|n| request_type_info(&n.name, n.fields.clone()))
        .collect();
    request_types.sort_by(|a, b| a.full_name.cmp(&b.full_name));
    GraphqlEngine::build(&models, &request_types, store.clone(), dispatcher)
}

/// `modules/stripe/create_customer` -> module `stripe`, name `create_customer`;
/// an app's own request type `refund_all` has module `app`.
fn request_type_info(
    full_name: &str,
    fields: Option<Vec<(String, crate::db::model_type::PropertyType)>>,
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
    }
}
