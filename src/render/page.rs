//! A page for one request, from a plain description of it: the route (or
//! the app's 404 page), its authorization policies, the page and its layout
//! rendered with a host for the tags. What the HTTP answer looks like is
//! `api`'s business.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::context::RequestInfo;
use super::host::{form_html, form_marker, PageHost};
use crate::access::policies;
use crate::app::templates::{render, RenderError};
use crate::app::{App, Page};
use crate::app::{FormCall, Skeleton, SkeletonPart};
use crate::config::Settings;
use crate::forms::feedback::{Flash, SubmissionFeedback};
use crate::instance::{AppVersion, Instance};
use crate::liquid::host::with_host;

/// What is asked for.
pub struct PageRequest<'a> {
    /// Lower case: `get`, `post`, …
    pub method: &'a str,
    pub path: &'a str,
    pub info: &'a RequestInfo,
    /// Query and form parameters (route parameters are added).
    pub params: Map<String, Value>,
    /// A failed submission to show again in its form.
    pub feedback: Option<SubmissionFeedback>,
}

/// What came of it.
#[derive(Debug)]
pub enum PageOutcome {
    Rendered {
        /// The app's 404 page was rendered.
        not_found: bool,
        content_type: &'static str,
        body: String,
    },
    /// No page, and the app has no 404 page.
    NotFound,
    /// A policy sends the visitor elsewhere (with the denied page as
    /// `return_to`, so signing in can lead back).
    Redirect { location: String, flash: Flash },
    /// A policy said no, with nowhere to send the visitor.
    Forbidden,
    /// A value the visitor sent was refused: a 400.
    BadInput(RenderError),
    /// The app failed: a 500, details for the log.
    Failed(RenderError),
}

pub fn render_route(instance: &Arc<Instance>, loaded: &Arc<AppVersion>, request: PageRequest<'_>) -> PageOutcome {
    let PageRequest {
        method,
        path,
        info,
        mut params,
        feedback,
    } = request;
    let app: &App = &loaded.app;
    let (page, not_found) = match app.route(method, path) {
        Some((page, route_params)) => {
            for (k, v) in route_params {
                params.insert(k, Value::String(v));
            }
            (page, false)
        }
        None => match app.not_found_page() {
            Some(page) => (page, true),
            None => return PageOutcome::NotFound,
        },
    };
    // The same text for everyone: fill in this request's forms around it.
    let plain_request =
        !info.may_write && feedback.is_none() && info.flash.notice.is_none() && info.flash.alert.is_none();
    if page.renders_constant && plain_request {
        let skeleton = page
            .skeleton
            .get_or_init(|| record_skeleton(instance, loaded, page, info, params.clone()));
        if let Some(skeleton) = skeleton {
            return PageOutcome::Rendered {
                not_found,
                content_type: page.content_type,
                body: fill(
                    skeleton,
                    &instance.settings,
                    &info.visitor_id,
                    &info.csrf_token,
                    &page_path(info),
                ),
            };
        }
    }
    let context = info.context(
        params,
        &instance.settings,
        json!({"slug": page.slug, "metadata": page.metadata}),
    );
    if let Err(denied) = policies::check(app, &page.authorization_policies, &context) {
        return match denied.redirect_to {
            Some(location) => PageOutcome::Redirect {
                location: with_return_to(&location, info),
                flash: Flash {
                    notice: None,
                    alert: denied.flash_alert,
                },
            },
            None => PageOutcome::Forbidden,
        };
    }
    match render_page(instance, loaded, page, info, context, feedback, false) {
        Ok((_, _, Some((location, flash)))) => PageOutcome::Redirect { location, flash },
        Ok((body, _, None)) => PageOutcome::Rendered {
            not_found,
            content_type: page.content_type,
            body,
        },
        Err(PageFailure {
            error,
            rejected_input: true,
        }) => PageOutcome::BadInput(error),
        Err(PageFailure { error, .. }) => PageOutcome::Failed(error),
    }
}

/// The path and query forms return to.
fn page_path(info: &RequestInfo) -> String {
    if info.query.is_empty() {
        info.path.clone()
    } else {
        format!("{}?{}", info.path, info.query)
    }
}

/// Render `page` once with its form blocks recorded, and split the text at
/// them. None (the page is then always rendered) when the render fails or
/// the blocks are not found in order, whole and once each (a filter
/// changed them).
fn record_skeleton(
    instance: &Arc<Instance>,
    loaded: &Arc<AppVersion>,
    page: &Page,
    info: &RequestInfo,
    params: Map<String, Value>,
) -> Option<Arc<Skeleton>> {
    let context = info.context(
        params,
        &instance.settings,
        json!({"slug": page.slug, "metadata": page.metadata}),
    );
    let (text, calls, redirect) = render_page(instance, loaded, page, info, context, None, true).ok()?;
    if redirect.is_some() {
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = text.as_str();
    for (n, call) in calls.into_iter().enumerate() {
        let marker = form_marker(n);
        let at = rest.find(&marker)?;
        parts.push(SkeletonPart::Text(rest[..at].to_string()));
        parts.push(SkeletonPart::Form(Box::new(call)));
        rest = &rest[at + marker.len()..];
    }
    parts.push(SkeletonPart::Text(rest.to_string()));
    // A marker left in the text: blocks out of order or repeated.
    let stray = form_marker(0);
    let stray = &stray[..stray.find("-0").unwrap_or(stray.len())];
    let clean = parts.iter().all(|part| match part {
        SkeletonPart::Text(text) => !text.contains(stray),
        SkeletonPart::Form(call) => !call.body_html.contains(stray),
    });
    clean.then(|| Arc::new(Skeleton { parts }))
}

/// The recorded skeleton of the page a plain `GET path` shows, with its
/// content type; None when that page is not constant or not recorded yet.
pub fn recorded_skeleton<'a>(app: &'a App, path: &str) -> Option<(&'a str, &'a Skeleton)> {
    let (page, _) = app.route("get", path)?;
    if !page.renders_constant {
        return None;
    }
    let skeleton = page.skeleton.get()?.as_deref()?;
    Some((page.content_type, skeleton))
}

/// The skeleton's text with this request's forms.
pub fn fill(skeleton: &Skeleton, settings: &Settings, visitor_id: &str, csrf_token: &str, page_path: &str) -> String {
    let mut body = String::with_capacity(
        skeleton
            .parts
            .iter()
            .map(|part| match part {
                SkeletonPart::Text(text) => text.len(),
                SkeletonPart::Form(call) => call.body_html.len() + 1024,
            })
            .sum(),
    );
    for part in &skeleton.parts {
        match part {
            SkeletonPart::Text(text) => body.push_str(text),
            SkeletonPart::Form(call) => body.push_str(&form_html(settings, call, visitor_id, csrf_token, page_path)),
        }
    }
    body
}

/// Why a page could not be rendered.
struct PageFailure {
    error: RenderError,
    /// The cause was a value the visitor sent, not the app: a 400.
    rejected_input: bool,
}

/// Render a page and its layout with a host for the tags; with `record`,
/// form blocks become markers and come back as calls.
/// A page's text, its recorded form blocks, and where `{% redirect_to %}`
/// sends the visitor instead (with the flash).
type RenderedPage = (String, Vec<FormCall>, Option<(String, Flash)>);

fn render_page(
    instance: &Arc<Instance>,
    loaded: &Arc<AppVersion>,
    page: &Page,
    info: &RequestInfo,
    context: Value,
    feedback: Option<SubmissionFeedback>,
    record: bool,
) -> Result<RenderedPage, PageFailure> {
    let host = PageHost::new(
        instance.clone(),
        loaded.clone(),
        context.clone(),
        info.visitor_id.clone(),
        page_path(info),
        feedback,
        info.may_write,
    );
    let host = if record { host.recording() } else { host };
    // The host lives on this render's thread only (tags reach it through a
    // thread-local), so it need not be Send or Sync.
    #[allow(clippy::arc_with_non_send_sync)]
    let host = Arc::new(host);
    let rendered = with_host(host.clone(), || {
        let content = render(&page.template, &json!({ "context": context }))?;
        let layout = match &page.layout {
            Some(name) => App::resolve(&loaded.app.layouts, name),
            None if page.content_type.starts_with("text/html")
                && !page.metadata.get("no_layout").is_some_and(|v| v == true) =>
            {
                loaded.app.layouts.get("application")
            }
            None => None,
        };
        match layout {
            Some(layout) => render(
                layout,
                &json!({ "context": context, "content_for_layout": content, "page": {"slug": page.slug, "metadata": page.metadata} }),
            ),
            None => Ok(content),
        }
    });
    rendered
        .map(|text| (text, host.take_recorded(), host.redirect.borrow_mut().take()))
        .map_err(|error| PageFailure {
            error,
            rejected_input: host.rejected_input.get(),
        })
}

/// `location` with `return_to=<this page>` added, unless it has one.
fn with_return_to(location: &str, info: &RequestInfo) -> String {
    if location.contains("return_to=") {
        return location.to_string();
    }
    let here = page_path(info);
    let separator = if location.contains('?') { '&' } else { '?' };
    let encoded: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    format!("{location}{separator}return_to={encoded}")
}
