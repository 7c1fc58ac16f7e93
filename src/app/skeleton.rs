//! A page's output that is the same for every request, with the places
//! where each request's own parts go. A page that renders from memory and
//! reads nothing of the request (`app::effects::renders_constant`) is
//! rendered once per app version; a request then only fills in its forms
//! (CSRF token, sealed state, idempotency key) around the cached text.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::definitions::FormConfiguration;

#[derive(Debug)]
pub struct Skeleton {
    pub parts: Vec<SkeletonPart>,
}

#[derive(Debug)]
pub enum SkeletonPart {
    Text(String),
    /// A `{% form %}` block, filled in per request.
    Form(FormCall),
}

/// What a `{% form %}` block renders from, apart from the request.
#[derive(Debug)]
pub struct FormCall {
    pub form: Arc<FormConfiguration>,
    pub data: Value,
    pub config: Value,
    /// The tag's arguments (`id`, `class`).
    pub args: Map<String, Value>,
    /// The form's rendered inner HTML.
    pub body_html: String,
    /// The idempotency key derived from the form's data, if any (else a
    /// fresh one per request).
    pub derived_key: Option<String>,
}
