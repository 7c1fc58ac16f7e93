//! `GET/POST /sign_in` and `POST /sign_out`: the operator's sign-in.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages::{redirect_with_flash, visitor_cookie};
use super::reply::Reply;
use crate::access::redirect::local_path;
use crate::forms::csrf;
use crate::forms::feedback::Flash;
use crate::instance::Instance;
use crate::operator::{self, attempts::SignInAttempts, SESSION_COOKIE, SESSION_SECONDS};
use crate::render::context::RequestInfo;
use crate::render::host::escape_attr;

/// Largest sign-in form accepted (a password, a token, a path).
const SIGN_IN_BODY_LIMIT: usize = 4 * 1024;

pub async fn page(req: HttpRequest, instance: web::Data<std::sync::Arc<Instance>>) -> HttpResponse {
    let info = super::request_info::request_info(&req, &instance);
    let return_to = query_value(req.query_string(), "return_to");
    let message = if instance.settings.operator_password_hash.is_none() {
        Some("Sign-in is off: set PAYFORMS_OPERATOR_PASSWORD (or operator_password in payforms.toml) and restart.")
    } else {
        None
    };
    sign_in_page(
        &info,
        return_to.as_deref(),
        info.flash.alert.as_deref().or(message),
        StatusCode::OK,
    )
    .into_response()
}

pub async fn sign_in(
    req: HttpRequest,
    body: web::Bytes,
    instance: web::Data<std::sync::Arc<Instance>>,
    attempts: web::Data<SignInAttempts>,
) -> HttpResponse {
    let settings = &instance.settings;
    let info = super::request_info::request_info(&req, &instance);
    if body.len() > SIGN_IN_BODY_LIMIT {
        return sign_in_page(
            &info,
            None,
            Some("The sign-in form is too large."),
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .into_response();
    }
    let form = String::from_utf8_lossy(&body);
    let field = |name: &str| query_value(&form, name);
    let return_to = field("return_to");
    let token = field("authenticity_token");
    let visitor = (!info.new_visitor).then_some(info.visitor_id.as_str());
    if !super::origin::same_origin(&req) || !csrf::verify(settings, visitor, token.as_deref()) {
        return sign_in_page(
            &info,
            return_to.as_deref(),
            Some("This form has expired or came from another site; please sign in again."),
            StatusCode::FORBIDDEN,
        )
        .into_response();
    }
    let address = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let now = chrono::Utc::now().timestamp();
    let Some(_slot) = attempts.start_check() else {
        let reply = sign_in_page(
            &info,
            return_to.as_deref(),
            Some("Sign-in is busy; try again in a moment."),
            StatusCode::TOO_MANY_REQUESTS,
        );
        return reply.header("retry-after", "1").into_response();
    };
    if let Err(wait) = attempts.reserve(address, now) {
        let mut reply = sign_in_page(
            &info,
            return_to.as_deref(),
            Some("Too many failed attempts; wait a minute and try again."),
            StatusCode::TOO_MANY_REQUESTS,
        );
        reply = reply.header("retry-after", wait.to_string());
        return reply.into_response();
    }
    let password = field("password").unwrap_or_default();
    // argon2 takes tens of milliseconds on purpose: off the async workers.
    let checking = instance.get_ref().clone();
    let matches = web::block(move || operator::password_matches(&checking.settings, &password))
        .await
        .unwrap_or(false);
    if !matches {
        tracing::warn!(target: "payforms::operator", "failed operator sign-in from {address}");
        return sign_in_page(
            &info,
            return_to.as_deref(),
            Some("That password is not right."),
            StatusCode::UNAUTHORIZED,
        )
        .into_response();
    }
    attempts.succeeded(address);
    tracing::info!(target: "payforms::operator", "operator signed in from {address}");
    let location = return_to.as_deref().and_then(local_path).unwrap_or("/");
    let flash = Flash {
        notice: Some("Signed in.".into()),
        alert: None,
    };
    redirect_with_flash(&instance, &info, location, &flash)
        .cookie(session_cookie(
            operator::new_session(settings, now, instance.operator_sessions.generation()),
            info.secure_cookies,
            SESSION_SECONDS,
        ))
        .into_response()
}

pub async fn sign_out(
    req: HttpRequest,
    body: web::Bytes,
    instance: web::Data<std::sync::Arc<Instance>>,
) -> HttpResponse {
    let settings = &instance.settings;
    let info = super::request_info::request_info(&req, &instance);
    let form = String::from_utf8_lossy(&body[..body.len().min(SIGN_IN_BODY_LIMIT)]);
    let token = query_value(&form, "authenticity_token");
    let visitor = (!info.new_visitor).then_some(info.visitor_id.as_str());
    if !super::origin::same_origin(&req) || !csrf::verify(settings, visitor, token.as_deref()) {
        return HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("sign-out needs the page's CSRF token");
    }
    // Ends the session for every browser, not only this cookie: a copied
    // cookie stops working too.
    let ending = instance.get_ref().clone();
    if let Ok(Err(e)) = web::block(move || ending.operator_sessions.end_all(&ending.store)).await {
        tracing::error!(target: "payforms::operator", "could not end the operator's sessions: {e}");
    }
    let flash = Flash {
        notice: Some("Signed out.".into()),
        alert: None,
    };
    redirect_with_flash(&instance, &info, "/", &flash)
        .cookie(session_cookie(String::new(), info.secure_cookies, 0))
        .into_response()
}

fn session_cookie(value: String, secure: bool, max_age: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age))
        .finish()
}

/// The first value of `name` in a urlencoded string.
fn query_value(encoded: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn sign_in_page(info: &RequestInfo, return_to: Option<&str>, message: Option<&str>, status: StatusCode) -> Reply {
    let return_to = return_to.and_then(local_path).unwrap_or("/");
    let message = message
        .map(|m| format!("<p role=\"alert\" class=\"flash flash-alert\">{}</p>", escape_attr(m)))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Operator sign-in</title>\
         <link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body><main>\
         <h1>Operator sign-in</h1>{message}\
         <form action=\"/sign_in\" method=\"post\" id=\"sign-in\">\
         <input type=\"hidden\" name=\"authenticity_token\" value=\"{token}\">\
         <input type=\"hidden\" name=\"return_to\" value=\"{return_to}\">\
         <p><label>Password<br><input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><button type=\"submit\">Sign in</button></p></form></main></body></html>",
        token = escape_attr(&info.csrf_token),
        return_to = escape_attr(return_to),
    );
    let mut reply = Reply::html(status, html).header("cache-control", "no-store");
    if info.new_visitor {
        reply = reply.cookie(visitor_cookie(&info.visitor_id, info.secure_cookies));
    }
    if info.had_flash {
        // The policy's message is shown here; do not show it again later.
        let mut gone = Cookie::build(crate::render::context::FLASH_COOKIE, "")
            .path("/")
            .finish();
        gone.make_removal();
        reply = reply.cookie(gone);
    }
    reply
}
