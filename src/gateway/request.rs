//! Rendering a request type's HTTP request: URL (with its path parameters
//! checked and encoded), headers (the module's defaults, then the
//! notification's own), method, and the body without blanks, encoded as the
//! notification's format says.

use std::time::Duration;

use serde_json::Value;

use super::contract::{DispatchFailure, FailureKind};
use super::inputs;
use crate::app::templates::{render, render_json, CompiledTemplate, RenderError};
use crate::app::{ApiCallNotification, BodyFormat, NotificationMethod};
use crate::liquid::filters::encoding::form_encode;
use crate::liquid::view::JsonView;

/// A rendered HTTP request.
pub struct OutboundRequest {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<(String, &'static str)>,
    pub timeout: Duration,
    pub retries: u32,
    pub idempotency_key: Option<String>,
}

pub fn template_failure(e: RenderError) -> DispatchFailure {
    DispatchFailure::new(FailureKind::Template, e.to_string())
}

fn template_problem(notification: &ApiCallNotification, message: impl std::fmt::Display) -> DispatchFailure {
    DispatchFailure::new(
        FailureKind::Template,
        format!("{}: {message}", notification.file.display()),
    )
}

/// Whether the request type is to be sent with `globals`: platformOS's
/// `trigger_condition` renders `true` (anything else skips the call).
pub fn should_send(notification: &ApiCallNotification, globals: &Value) -> Result<bool, DispatchFailure> {
    match &notification.trigger_condition {
        None => Ok(true),
        Some(condition) => Ok(render(condition, globals).map_err(template_failure)?.trim() == "true"),
    }
}

/// `globals` is an object holding `data`, `config` and `gateway`.
pub fn render_request(
    notification: &ApiCallNotification,
    globals: &Value,
    idempotency_key: Option<String>,
) -> Result<OutboundRequest, DispatchFailure> {
    let url = render_url(notification, globals)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for template in [&notification.default_headers, &notification.headers]
        .into_iter()
        .flatten()
    {
        merge_headers(&mut headers, notification, template, globals)?;
    }
    let rendered = render(&notification.body, globals).map_err(template_failure)?;
    let rendered = rendered.trim();
    let encoded = if rendered.starts_with('{') || rendered.starts_with('[') {
        let value: Value = serde_json::from_str(rendered).map_err(|e| {
            DispatchFailure::new(
                FailureKind::Template,
                format!(
                    "{}:{}: the body must render JSON, but {e}",
                    notification.file.display(),
                    notification.body.first_line
                ),
            )
        })?;
        let value = inputs::without_blanks(value, &notification.send_blank);
        match notification.format {
            BodyFormat::Json if value.is_null() => String::new(),
            BodyFormat::Json => value.to_string(),
            BodyFormat::Form if value.is_null() => String::new(),
            // The same encoder as the `form_encode` filter.
            BodyFormat::Form => form_encode(JsonView::new(&value))
                .map_err(|e| template_problem(notification, format!("the body cannot be form encoded: {e}")))?,
        }
    } else {
        rendered.to_string()
    };
    let method = method_of(notification, globals)?;
    let (url, body) = if method == reqwest::Method::GET || method == reqwest::Method::DELETE {
        // Reads and deletes take their parameters in the query string.
        let url = if encoded.is_empty() || notification.format == BodyFormat::Json {
            url
        } else if url.contains('?') {
            format!("{url}&{encoded}")
        } else {
            format!("{url}?{encoded}")
        };
        (url, None)
    } else {
        let content_type = match notification.format {
            BodyFormat::Form => "application/x-www-form-urlencoded",
            BodyFormat::Json => "application/json",
        };
        (url, Some((encoded, content_type)))
    };
    // Writes always carry a key, so a retry can never apply twice.
    let idempotency_key = match idempotency_key {
        Some(key) => Some(key),
        None if method == reqwest::Method::POST => Some(super::new_idempotency_key()),
        None => None,
    };
    Ok(OutboundRequest {
        method,
        url,
        headers,
        body,
        timeout: notification.timeout,
        retries: notification.retries,
        idempotency_key,
    })
}

fn render_url(notification: &ApiCallNotification, globals: &Value) -> Result<String, DispatchFailure> {
    let url = match inputs::path_scope(notification, &globals["data"])? {
        // Only a URL with path parameters needs its own copy of the data.
        Some(encoded) => {
            let mut scope = globals.as_object().cloned().unwrap_or_default();
            scope.insert("data".into(), encoded);
            render(&notification.to, &Value::Object(scope))
        }
        None => render(&notification.to, globals),
    }
    .map_err(template_failure)?
    .trim()
    .to_string();
    let url = to_configured_stripe(url, globals["gateway"]["api_base"].as_str().unwrap_or_default());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(template_problem(notification, "`to` must render an http(s) URL"));
    }
    if let Some(why) = unsafe_path(&url) {
        return Err(DispatchFailure::new(
            FailureKind::InvalidInput,
            format!("the request's URL {why}: an id in it is missing or not an id"),
        ));
    }
    Ok(url)
}

/// Stripe's public API address.
const STRIPE_PUBLIC_BASE: &str = "https://api.stripe.com";

/// A request type written for Stripe's public address (platformOS's Stripe
/// module writes `to: https://api.stripe.com/v1/customers`) goes to the
/// Stripe API payforms is configured with: the sandbox, localstripe, or
/// Stripe itself. Only that exact host; any other URL is left as written.
fn to_configured_stripe(url: String, api_base: &str) -> String {
    let api_base = api_base.trim_end_matches('/');
    if api_base.is_empty() || api_base == STRIPE_PUBLIC_BASE {
        return url;
    }
    match url.strip_prefix(STRIPE_PUBLIC_BASE) {
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => format!("{api_base}{rest}"),
        _ => url,
    }
}

/// An empty, `.` or `..` segment in the URL's path: an id that is missing,
/// or one that would make the call reach another resource (`/cus_1/sources/..`
/// is `/cus_1`). None when every segment is an ordinary one.
fn unsafe_path(url: &str) -> Option<&'static str> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = match after_scheme.find('/') {
        Some(at) => &after_scheme[at..],
        None => return None,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (index, segment) in segments.iter().enumerate() {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if decoded == "." || decoded == ".." {
            return Some("has a `.` or `..` segment");
        }
        let last = index + 1 == segments.len();
        if segment.is_empty() && !(last && segments.len() == 1) {
            return Some("has an empty segment");
        }
    }
    None
}

/// Add the headers `template` renders; a later value replaces an earlier
/// one of the same name (case-insensitive), and null removes it.
fn merge_headers(
    headers: &mut Vec<(String, String)>,
    notification: &ApiCallNotification,
    template: &CompiledTemplate,
    globals: &Value,
) -> Result<(), DispatchFailure> {
    match render_json(template, globals).map_err(template_failure)? {
        Value::Object(map) => {
            for (name, value) in map {
                headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
                let value = match value {
                    Value::String(s) if s.is_empty() => continue,
                    Value::String(s) => s,
                    Value::Null => continue,
                    other => other.to_string(),
                };
                // A line break would end the header: refuse, never retry.
                if value.chars().any(char::is_control) {
                    return Err(DispatchFailure::new(
                        FailureKind::InvalidInput,
                        format!("header {name}: a value may not hold control characters"),
                    ));
                }
                headers.push((name, value));
            }
            Ok(())
        }
        Value::Null => Ok(()),
        _ => Err(template_problem(
            notification,
            format!("headers ({}) must render a JSON object", template.file.display()),
        )),
    }
}

fn method_of(notification: &ApiCallNotification, globals: &Value) -> Result<reqwest::Method, DispatchFailure> {
    let text = match &notification.method {
        NotificationMethod::Fixed(m) => m.clone(),
        NotificationMethod::Rendered(t) => render(t, globals)
            .map_err(template_failure)?
            .trim()
            .to_ascii_uppercase(),
    };
    if !crate::app::definitions::HTTP_METHODS.contains(&text.as_str()) {
        return Err(template_problem(
            notification,
            format!("request_type rendered `{text}`, not an HTTP method"),
        ));
    }
    reqwest::Method::from_bytes(text.as_bytes())
        .map_err(|_| template_problem(notification, format!("bad HTTP method {text}")))
}

#[cfg(test)]
mod tests {
    use super::unsafe_path;

    #[test]
    fn stripe_s_public_address_goes_to_the_configured_api() {
        let local = "http://127.0.0.1:8420/";
        for (url, expected) in [
            (
                "https://api.stripe.com/v1/customers",
                "http://127.0.0.1:8420/v1/customers",
            ),
            ("https://api.stripe.com?x=1", "http://127.0.0.1:8420?x=1"),
            (
                "https://api.stripe.com.evil.example/v1",
                "https://api.stripe.com.evil.example/v1",
            ),
            (
                "https://api.stripe.com@evil.example/v1",
                "https://api.stripe.com@evil.example/v1",
            ),
            ("https://files.stripe.com/v1/files", "https://files.stripe.com/v1/files"),
            ("http://api.stripe.com/v1", "http://api.stripe.com/v1"),
        ] {
            assert_eq!(super::to_configured_stripe(url.to_string(), local), expected, "{url}");
        }
        let live = "https://api.stripe.com/v1/customers".to_string();
        assert_eq!(
            super::to_configured_stripe(live.clone(), "https://api.stripe.com"),
            live
        );
        assert_eq!(super::to_configured_stripe(live.clone(), ""), live);
    }

    #[test]
    fn dot_and_empty_segments_are_refused() {
        for url in [
            "https://api.stripe.com/v1/customers/cus_1/sources/..",
            "https://api.stripe.com/v1/customers/%2E%2E/sources",
            "https://api.stripe.com/v1/things/./sub",
            "https://api.stripe.com/v1/customers/",
            "https://api.stripe.com/v1//sources",
        ] {
            assert!(unsafe_path(url).is_some(), "{url}");
        }
        for url in [
            "https://api.stripe.com/v1/customers/cus_1",
            "https://api.stripe.com/v1/customers?limit=3&x=/../",
            "https://api.stripe.com/",
            "https://api.stripe.com",
            "http://127.0.0.1:12111/v1/payment_intents/pi_1.x/confirm",
        ] {
            assert_eq!(unsafe_path(url), None, "{url}");
        }
    }
}
