//! The plain description of an HTTP request that pages and forms are
//! rendered from: visitor, flash, visible headers, CSRF token, operator
//! sign-in. Built here so actix types never leave `api`.

use actix_web::HttpRequest;
use serde_json::{Map, Value};

use crate::forms::feedback::Flash;
use crate::instance::Instance;
use crate::render::context::{valid_visitor_id, RequestInfo, FLASH_COOKIE, VISIBLE_HEADERS, VISITOR_COOKIE};

/// The visitor's id from its cookie, or a new one (then true).
pub fn visitor(req: &HttpRequest) -> (String, bool) {
    match req.cookie(VISITOR_COOKIE) {
        Some(c) if valid_visitor_id(c.value()) => (c.value().to_string(), false),
        _ => (crate::forms::csrf::new_visitor_id(), true),
    }
}

pub fn request_info(req: &HttpRequest, instance: &Instance) -> RequestInfo {
    let settings = &instance.settings;
    let (visitor_id, new_visitor) = visitor(req);
    let flash_cookie = req.cookie(FLASH_COOKIE);
    let had_flash = flash_cookie.is_some();
    let flash = flash_cookie
        .and_then(|c| {
            settings
                .signing
                .flash
                .open::<Flash>(c.value(), chrono::Utc::now().timestamp())
                .ok()
        })
        .unwrap_or_default();
    let mut headers = Map::new();
    for name in VISIBLE_HEADERS {
        if let Some(value) = req.headers().get(name).and_then(|v| v.to_str().ok()) {
            headers.insert(name.replace('-', "_"), Value::String(value.to_string()));
        }
    }
    let csrf_token = crate::forms::csrf::token_for(settings, &visitor_id);
    RequestInfo {
        visitor_id,
        new_visitor,
        flash,
        had_flash,
        path: req.path().to_string(),
        query: req.query_string().to_string(),
        host: req.connection_info().host().to_string(),
        origin: match &settings.public_url {
            Some(public) => public.trim_end_matches('/').to_string(),
            None => {
                let connection = req.connection_info();
                format!("{}://{}", connection.scheme(), connection.host())
            }
        },
        headers,
        csrf_token,
        secure_cookies: settings.serves_https(),
        operator: crate::operator::is_signed_in(
            settings,
            req.cookie(crate::operator::SESSION_COOKIE).as_ref().map(|c| c.value()),
            chrono::Utc::now().timestamp(),
            instance.operator_sessions.generation(),
        ),
        may_write: false,
    }
}
