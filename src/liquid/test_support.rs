//! Test helpers: a recording fake [`RenderHost`] and one-call rendering with
//! the full dialect.

use std::sync::Arc;

use liquid::partials::{EagerCompiler, InMemorySource};
use liquid::Object;
use parking_lot::Mutex;
use serde_json::{json, Map, Value as Json};

use super::host::{GraphqlSource, HostError, RenderHost};

/// Records every call as one line; names containing `fail` make the host
/// answer with an error.
#[derive(Default)]
pub(crate) struct FakeHost {
    calls: Mutex<Vec<String>>,
}

impl FakeHost {
    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls.lock().clone()
    }

    fn record(&self, line: String) {
        self.calls.lock().push(line);
    }
}

fn check(name: &str) -> Result<(), HostError> {
    if name.contains("fail") {
        Err(HostError(format!("{name} exploded")))
    } else {
        Ok(())
    }
}

impl RenderHost for FakeHost {
    fn include_form(&self, name: &str, args: Map<String, Json>) -> Result<String, HostError> {
        self.record(format!("include_form {name} {}", Json::Object(args.clone())));
        check(name)?;
        Ok(format!("<div data-form=\"{name}\">{}</div>", Json::Object(args)))
    }

    fn form_block(&self, body_html: &str, args: Map<String, Json>) -> Result<String, HostError> {
        self.record(format!("form_block {}", Json::Object(args.clone())));
        check(body_html)?;
        Ok(format!("<form {}>{body_html}</form>", Json::Object(args)))
    }

    fn graphql(&self, query: GraphqlSource<'_>, variables: Map<String, Json>) -> Result<Json, HostError> {
        let (kind, text) = match query {
            GraphqlSource::Named(name) => ("named", name),
            GraphqlSource::Inline(text) => ("inline", text),
        };
        self.record(format!("graphql {kind} {text:?} {}", Json::Object(variables.clone())));
        check(text)?;
        Ok(json!({ "query": text, "variables": variables, "data": { "items": [{"id": 1}, {"id": 2}] } }))
    }

    fn dispatch(&self, request_type: &str, data: Json) -> Result<Json, HostError> {
        self.record(format!("dispatch {request_type} {data}"));
        check(request_type)?;
        Ok(json!({ "record": { "type": request_type, "data": data }, "errors": [] }))
    }

    fn log(&self, message: &str, level: &str) {
        self.record(format!("log {level} {message}"));
    }

    fn redirect_to(&self, location: &str, notice: Option<String>, alert: Option<String>) -> Result<(), HostError> {
        self.record(format!(
            "redirect_to {location} notice={} alert={}",
            notice.unwrap_or_default(),
            alert.unwrap_or_default()
        ));
        Ok(())
    }

    fn asset_url(&self, path: &str) -> String {
        self.record(format!("asset_url {path}"));
        format!("/assets/{path}?v=fake")
    }
}

fn parser(partials: &[(&str, &str)]) -> liquid::Parser {
    let mut source = InMemorySource::new();
    for (name, text) in partials {
        source.add(*name, *text);
    }
    let builder = liquid::ParserBuilder::with_stdlib().partials(EagerCompiler::new(source));
    super::dialect(builder).build().unwrap()
}

pub(crate) fn try_render(source: &str, partials: &[(&str, &str)], globals: &Object) -> Result<String, String> {
    let template = parser(partials).parse(source).map_err(|e| e.to_string())?;
    template.render(globals).map_err(|e| e.to_string())
}

/// Renders `source` with the dialect (no host installed unless the caller
/// wraps this in `with_host`); panics with the Liquid error on failure.
pub(crate) fn render(source: &str, globals: Object) -> String {
    render_with_partials(source, &[], globals)
}

pub(crate) fn render_with_partials(source: &str, partials: &[(&str, &str)], globals: Object) -> String {
    match try_render(source, partials, &globals) {
        Ok(out) => out,
        Err(err) => panic!("render failed: {err}"),
    }
}

/// Renders and returns the error text (parse or render); panics on success.
pub(crate) fn render_err(source: &str, globals: Object) -> String {
    match try_render(source, &[], &globals) {
        Ok(out) => panic!("expected an error, rendered {out:?}"),
        Err(err) => err,
    }
}

/// Renders with a fresh fake host installed; returns output and host calls.
pub(crate) fn render_with_host(source: &str, globals: Object) -> (Result<String, String>, Vec<String>) {
    let host = Arc::new(FakeHost::default());
    let out = super::host::with_host(host.clone(), || try_render(source, &[], &globals));
    (out, host.calls())
}

/// Renders `source` as a data template (notification, mapper, processor):
/// with the data rewrite the loader applies, globals from JSON.
pub(crate) fn render_data(source: &str, globals: Json) -> String {
    let globals = match globals {
        Json::Object(map) => super::json_map_to_object(&map),
        _ => Object::new(),
    };
    render(&super::escape_json_outputs(source), globals)
}
