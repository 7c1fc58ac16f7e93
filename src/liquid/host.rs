//! The bridge between Liquid tags and the running payforms instance.
//!
//! liquid-rust renders with no access to application state, so the tags that
//! need it (`form`, `include_form`, `graphql`, dispatch, `log`, `asset_url`)
//! call the [`RenderHost`] installed for the current thread by
//! [`with_host`]. Rendering is synchronous and happens on blocking threads, so
//! a thread-local is exact: one render, one host.

use std::cell::RefCell;
use std::sync::Arc;

use serde_json::{Map, Value};

/// Error a host operation reports back to the tag; the tag turns it into a
/// Liquid render error carrying the template position.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HostError(pub String);

/// What the current render may ask of payforms.
pub trait RenderHost {
    /// `{% include_form 'name', data: ..., config: ... %}`: render the named
    /// form configuration's body (with `form_builder`, `data`, `config`).
    fn include_form(&self, name: &str, args: Map<String, Value>) -> Result<String, HostError>;

    /// `{% form %}BODY{% endform %}`: wrap the already rendered body in the
    /// `<form>` element with CSRF token, signed state and idempotency key for
    /// the form currently being rendered by `include_form`.
    fn form_block(&self, body_html: &str, args: Map<String, Value>) -> Result<String, HostError>;

    /// `{% graphql g = 'modules/payments/get_payments', per_page: 5 %}` (stored
    /// query by name) or `{% graphql g %}...inline query...{% endgraphql %}`.
    fn graphql(&self, query: GraphqlSource<'_>, variables: Map<String, Value>) -> Result<Value, HostError>;

    /// Dispatch a request type (e.g. `modules/stripe/create_customer`) with
    /// `data`; returns `{ "record": ..., "errors": [...], "response": ... }`.
    fn dispatch(&self, request_type: &str, data: Value) -> Result<Value, HostError>;

    /// `{% log value, type: 'info' %}`.
    fn log(&self, message: &str, level: &str);

    /// `asset_url` filter: URL of a file under `assets/`, with a cache-busting
    /// version when the file exists.
    fn asset_url(&self, path: &str) -> String;

    /// `{% record r = 'modules/payments/payment', operation: 'upsert', match: m,
    /// properties: p %}`: write a record directly (webhook processors).
    /// Returns the record (or null when nothing was written).
    fn write_record(&self, request: RecordRequest) -> Result<Value, HostError> {
        let _ = request;
        Err(HostError("records cannot be written from this template".into()))
    }

    /// `{% redirect_to '/path', notice: … %}`: answer the page with a
    /// redirect (pages only).
    fn redirect_to(&self, location: &str, notice: Option<String>, alert: Option<String>) -> Result<(), HostError> {
        let _ = (location, notice, alert);
        Err(HostError("only a page can redirect".into()))
    }

    /// `encrypt_secret` filter; only response mappers may seal secrets.
    fn encrypt_secret(&self, clear: &str) -> Result<String, HostError> {
        let _ = clear;
        Err(HostError("secrets can only be encrypted in a response mapper".into()))
    }
}

/// What the `record` tag asks for.
#[derive(Debug, Clone, Default)]
pub struct RecordRequest {
    pub model: String,
    /// create | update | upsert | delete | none; see
    /// `db::write::RecordWrite::from_template` for the defaults.
    pub operation: Option<String>,
    pub id: Option<Value>,
    pub matching: Option<Map<String, Value>>,
    /// Null values are "not given": an update keeps what is stored.
    pub properties: Map<String, Value>,
    /// Properties to clear.
    pub unset: Vec<String>,
}

/// Where a `graphql` tag's query text comes from.
pub enum GraphqlSource<'a> {
    /// A stored query, e.g. `modules/payments/get_payments`.
    Named(&'a str),
    /// Query text written inline in a `{% graphql %}` block.
    Inline(&'a str),
}

thread_local! {
    static CURRENT_HOST: RefCell<Option<Arc<dyn RenderHost>>> = const { RefCell::new(None) };
}

/// Run `f` with `host` installed for this thread; restores the previous host
/// afterwards, so nested renders (include_form inside a page) work.
pub fn with_host<R>(host: Arc<dyn RenderHost>, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT_HOST.with(|cell| cell.replace(Some(host)));
    struct Restore(Option<Arc<dyn RenderHost>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT_HOST.with(|cell| {
                *cell.borrow_mut() = previous;
            });
        }
    }
    let _restore = Restore(previous);
    f()
}

/// The host of the current render, if any. Tags that need one and find none
/// (e.g. `payforms check` compiling templates) report a render error.
pub fn current_host() -> Option<Arc<dyn RenderHost>> {
    CURRENT_HOST.with(|cell| cell.borrow().clone())
}
