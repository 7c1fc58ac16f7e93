//! `GET <slug>`: pages, with layouts, flash and the 404 page.

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::reply::Reply;
use serde_json::{Map, Value};

use crate::forms::csrf;
use crate::forms::feedback::Flash;
use crate::forms::feedback::SubmissionFeedback;
use crate::instance::{AppVersion, Instance};
use crate::render::context::{parse_params, RequestInfo, FLASH_COOKIE, VISITOR_COOKIE};
use crate::render::host::escape_attr;
use crate::render::page::{self, PageOutcome, PageRequest};

/// Every request no other route took.
pub async fn page(req: HttpRequest, payload: web::Payload, instance: web::Data<Arc<Instance>>) -> HttpResponse {
    let instance = instance.get_ref().clone();
    if let Some(reply) = recorded_page(&req, &instance) {
        return reply.into_response();
    }
    let body = match payload.to_bytes_limited(super::FORM_BODY_LIMIT).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => return bad_request(&format!("The request body could not be read: {e}")).into_response(),
        Err(_) => {
            return Reply::html(
                StatusCode::PAYLOAD_TOO_LARGE,
                simple_page("The request was not accepted", "The request body is too large."),
            )
            .into_response()
        }
    };
    let info = super::request_info::request_info(&req, &instance);
    let mut params = match parse_params(req.query_string()) {
        Ok(params) => params,
        Err(e) => return bad_request(&e.to_string()).into_response(),
    };
    if !body.is_empty() && is_urlencoded(&req) {
        match parse_params(&String::from_utf8_lossy(&body)) {
            Ok(body_params) => params.extend(body_params),
            Err(e) => return bad_request(&e.to_string()).into_response(),
        }
    }
    // HEAD is GET without the body (the server drops it).
    let method = match req.method().as_str().to_ascii_lowercase() {
        head if head == "head" => "get".to_string(),
        other => other,
    };
    let path = req.path().to_string();
    let mut info = info;
    if method != "get" {
        // A page that answers POST/PUT/DELETE may change things: only from
        // this site's own pages, with this visitor's CSRF token.
        let token = params
            .get("authenticity_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                req.headers()
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
        let visitor = (!info.new_visitor).then_some(info.visitor_id.as_str());
        if !super::origin::same_origin(&req) || !csrf::verify(&instance.settings, visitor, token.as_deref()) {
            return Reply::html(
                StatusCode::FORBIDDEN,
                simple_page(
                    "The request was not accepted",
                    "The CSRF token is missing or invalid; reload the page and try again.",
                ),
            )
            .into_response();
        }
        info.may_write = true;
    }
    let loaded = instance.current();
    if !info.may_write && loaded.app.renders_from_memory(&method, &path) {
        // Nothing on this page can block: render it here, without a hop
        // to the blocking pool and back.
        return render_route(&instance, &loaded, &method, &path, info, params, None, StatusCode::OK).into_response();
    }
    let result =
        web::block(move || render_route(&instance, &loaded, &method, &path, info, params, None, StatusCode::OK)).await;
    match result {
        Ok(reply) => reply.into_response(),
        Err(e) => internal_error(&format!("render task failed: {e}")).into_response(),
    }
}

/// A plain GET of a page whose skeleton is recorded: only the visitor, its
/// CSRF token and the path are needed, not the whole request description.
fn recorded_page(req: &HttpRequest, instance: &Instance) -> Option<Reply> {
    let plain_get = req.method() == actix_web::http::Method::GET || req.method() == actix_web::http::Method::HEAD;
    if !plain_get || req.cookie(FLASH_COOKIE).is_some() {
        return None;
    }
    // The page reads no parameter, but a malformed query is refused all
    // the same (by the full path, with its message).
    if !req.query_string().is_empty() && parse_params(req.query_string()).is_err() {
        return None;
    }
    let loaded = instance.current();
    let (content_type, skeleton) = page::recorded_skeleton(&loaded.app, req.path())?;
    let settings = &instance.settings;
    let (visitor_id, new_visitor) = super::request_info::visitor(req);
    let csrf_token = csrf::token_for(settings, &visitor_id);
    let page_path = match req.query_string() {
        "" => req.path().to_string(),
        query => format!("{}?{query}", req.path()),
    };
    let body = page::fill(skeleton, settings, &visitor_id, &csrf_token, &page_path);
    Some(answer(
        StatusCode::OK,
        content_type,
        body,
        new_visitor.then_some(visitor_id.as_str()),
        false,
        settings.serves_https(),
    ))
}

fn is_urlencoded(req: &HttpRequest) -> bool {
    req.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Render the page for `method` + `path` (or the 404 page) into a response.
#[allow(clippy::too_many_arguments)]
pub fn render_route(
    instance: &Arc<Instance>,
    loaded: &Arc<AppVersion>,
    method: &str,
    path: &str,
    info: RequestInfo,
    params: Map<String, Value>,
    feedback: Option<SubmissionFeedback>,
    status: StatusCode,
) -> Reply {
    let request = PageRequest {
        method,
        path,
        info: &info,
        params,
        feedback,
    };
    match page::render_route(instance, loaded, request) {
        PageOutcome::Rendered {
            not_found,
            content_type,
            body,
        } => {
            let status = if not_found { StatusCode::NOT_FOUND } else { status };
            finish(&info, status, content_type, body)
        }
        PageOutcome::NotFound => not_found(&info, path),
        PageOutcome::Redirect { location, flash } => redirect_with_flash(instance, &info, &location, &flash),
        PageOutcome::Forbidden => finish(
            &info,
            StatusCode::FORBIDDEN,
            "text/html; charset=utf-8",
            simple_page("Forbidden", "You are not allowed to see this page."),
        ),
        PageOutcome::BadInput(error) => {
            tracing::warn!("a request parameter was refused: {error}");
            bad_request("A parameter of this request has the wrong type or content.")
        }
        PageOutcome::Failed(error) => {
            tracing::error!("{error}");
            internal_error("This page could not be rendered; the problem was logged.")
        }
    }
}

/// Add the visitor cookie (first visit) and clear a consumed flash.
fn finish(info: &RequestInfo, status: StatusCode, content_type: &str, body: String) -> Reply {
    answer(
        status,
        content_type,
        body,
        info.new_visitor.then_some(info.visitor_id.as_str()),
        info.had_flash,
        info.secure_cookies,
    )
}

/// A page's answer: never cached (it holds this visitor's tokens), with
/// the cookie of a `new_visitor` and the removal of a shown flash.
fn answer(
    status: StatusCode,
    content_type: &str,
    body: String,
    new_visitor: Option<&str>,
    had_flash: bool,
    secure_cookies: bool,
) -> Reply {
    let mut reply = Reply::html(status, body).header("cache-control", "no-store");
    reply.content_type = content_type.to_string();
    if let Some(visitor_id) = new_visitor {
        reply = reply.cookie(visitor_cookie(visitor_id, secure_cookies));
    }
    if had_flash {
        let mut gone = Cookie::build(FLASH_COOKIE, "")
            .path("/")
            .secure(secure_cookies)
            .finish();
        gone.make_removal();
        reply = reply.cookie(gone);
    }
    reply
}

pub fn visitor_cookie(id: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(VISITOR_COOKIE, id.to_string())
        .path("/")
        .secure(secure)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish()
}

/// 303 to `location` carrying `flash` to the next page.
/// Every redirect passes here, so none can leave the site or carry a
/// header break, whatever a template rendered.
pub fn redirect_with_flash(instance: &Instance, info: &RequestInfo, location: &str, flash: &Flash) -> Reply {
    let location = crate::access::redirect::local_path(location).unwrap_or("/");
    let reply = Reply::new(StatusCode::SEE_OTHER).header("location", location.to_string());
    with_flash(reply, instance, info, flash)
}

/// `reply` with the flash cookie (shown once by the next page) and, on a
/// first visit, the visitor cookie.
pub fn with_flash(mut reply: Reply, instance: &Instance, info: &RequestInfo, flash: &Flash) -> Reply {
    if info.new_visitor {
        reply = reply.cookie(visitor_cookie(&info.visitor_id, info.secure_cookies));
    }
    if flash.notice.is_some() || flash.alert.is_some() {
        let sealed = instance
            .settings
            .signing
            .flash
            .seal(flash, chrono::Utc::now().timestamp() + 300);
        reply = reply.cookie(
            Cookie::build(FLASH_COOKIE, sealed)
                .path("/")
                .secure(info.secure_cookies)
                .http_only(true)
                .same_site(SameSite::Lax)
                .finish(),
        );
    }
    reply
}

fn not_found(info: &RequestInfo, path: &str) -> Reply {
    finish(
        info,
        StatusCode::NOT_FOUND,
        "text/html; charset=utf-8",
        simple_page("Page not found", &format!("There is no page at {}.", escape_attr(path))),
    )
}

pub fn bad_request(message: &str) -> Reply {
    Reply::html(
        StatusCode::BAD_REQUEST,
        simple_page("The request was not accepted", &escape_attr(message)),
    )
}

pub fn internal_error(message: &str) -> Reply {
    Reply::html(
        StatusCode::INTERNAL_SERVER_ERROR,
        simple_page("Something went wrong", &escape_attr(message)),
    )
}

/// A minimal built-in page with a link onwards (a local path); `message`
/// must already be escaped.
pub fn simple_page_with_link(title: &str, message: &str, location: &str) -> String {
    let target = crate::access::redirect::local_path(location).unwrap_or("/");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{message}</p><p><a href=\"{href}\">Continue</a></p></body></html>",
        t = escape_attr(title),
        href = escape_attr(target)
    )
}

/// A minimal built-in page; `message` must already be escaped.
pub fn simple_page(title: &str, message: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{message}</p><p><a href=\"/\">Home</a></p></body></html>",
        t = escape_attr(title)
    )
}
