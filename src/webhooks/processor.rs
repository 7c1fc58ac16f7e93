//! Running the processor template of one event.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::db::Store;
use crate::instance::{AppVersion, Instance};
use crate::liquid::host::{with_host, GraphqlSource, HostError, RecordRequest, RenderHost};

/// What processing an event came to.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The processor ran; this is what it rendered (logged).
    Processed(String),
    /// No processor for this event type.
    Skipped,
}

/// Why an event could not be processed (it is retried, then marked failed).
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error("stored payload is not JSON: {0}")]
    Payload(#[from] serde_json::Error),
    #[error(transparent)]
    Template(#[from] crate::app::templates::RenderError),
}

/// Run the processor for `event` (the whole event JSON), its record writes
/// going through `store` (the store of the event's merchant). Blocking.
pub fn run(instance: &Arc<Instance>, store: &Store, event: &Value) -> Result<Outcome, ProcessorError> {
    let loaded = instance.current();
    let event_type = event["type"].as_str().unwrap_or_default();
    let Some(template) = loaded.app.webhook_processor(event_type).cloned() else {
        return Ok(Outcome::Skipped);
    };
    let host = Arc::new(ProcessorHost {
        instance: instance.clone(),
        loaded: loaded.clone(),
        store: store.clone(),
    });
    let globals = json!({ "event": event, "object": event["data"]["object"] });
    with_host(host, || crate::app::templates::render(&template, &globals))
        .map(|text| Outcome::Processed(text.trim().to_string()))
        .map_err(ProcessorError::from)
}

struct ProcessorHost {
    instance: Arc<Instance>,
    loaded: Arc<AppVersion>,
    /// The event's merchant's store.
    store: Store,
}

impl ProcessorHost {
    /// The event's merchant as GraphQL and the gateway must serve it: its
    /// records, its Stripe key.
    fn tenant(&self) -> Result<crate::gateway::Tenant, HostError> {
        crate::merchants::tenant(&self.instance.settings, &self.instance.store, self.store.merchant())
            .map_err(|e| HostError(format!("merchant `{}`: {e}", self.store.merchant())))
    }
}

impl RenderHost for ProcessorHost {
    fn include_form(&self, _name: &str, _args: Map<String, Value>) -> Result<String, HostError> {
        Err(HostError("forms cannot be rendered in a webhook processor".into()))
    }

    fn form_block(&self, _body_html: &str, _args: Map<String, Value>) -> Result<String, HostError> {
        Err(HostError("forms cannot be rendered in a webhook processor".into()))
    }

    fn graphql(&self, query: GraphqlSource<'_>, variables: Map<String, Value>) -> Result<Value, HostError> {
        let text = match query {
            GraphqlSource::Named(name) => self
                .loaded
                .app
                .graph_query(name)
                .cloned()
                .ok_or_else(|| HostError(format!("graph query `{name}` does not exist")))?,
            GraphqlSource::Inline(text) => text.to_string(),
        };
        let answer = if self.store.merchant().is_default() {
            self.loaded.graphql.execute_blocking(&text, variables)
        } else {
            let tenant = crate::graphql::ForTenant {
                store: self.store.clone(),
                tenant: self.tenant()?,
            };
            self.loaded.graphql.execute_blocking_for(&text, variables, tenant)
        };
        answer.map_err(|errors| HostError(errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ")))
    }

    fn dispatch(&self, request_type: &str, data: Value) -> Result<Value, HostError> {
        let tenant = self.tenant()?;
        let outcome = self
            .instance
            .gateway
            .dispatch_for(
                &tenant,
                &self.loaded.app,
                request_type,
                data,
                None,
                crate::gateway::Caller::Visitor,
            )
            .map_err(|f| HostError(f.message))?;
        Ok(
            json!({ "record": outcome.record, "model": outcome.model, "response": outcome.response, "skipped": outcome.skipped }),
        )
    }

    fn log(&self, message: &str, level: &str) {
        match level {
            "error" => tracing::error!(target: "payforms::webhooks", "{message}"),
            "debug" => tracing::debug!(target: "payforms::webhooks", "{message}"),
            _ => tracing::info!(target: "payforms::webhooks", "{message}"),
        }
    }

    fn asset_url(&self, path: &str) -> String {
        format!("/assets/{}", path.trim_start_matches('/'))
    }

    fn write_record(&self, request: RecordRequest) -> Result<Value, HostError> {
        crate::render::records::write(&self.store, &self.loaded, request)
    }
}
