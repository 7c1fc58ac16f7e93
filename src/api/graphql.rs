//! `POST /api/graphql` for programs (API key in `Authorization: Bearer`)
//! and the query console for `GET /api/graphql`.

use std::sync::Arc;

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::graphql::errors::{BAD_USER_INPUT, INTERNAL_SERVER_ERROR, UNAUTHENTICATED};
use crate::graphql::GraphqlEngine;
use crate::instance::Instance;

pub const ENDPOINT: &str = "/api/graphql";

/// Run a GraphQL request from a program. Answers 401 without a valid API
/// key, 400 for a body that is not a GraphQL request, else 200 with the
/// standard `{data, errors}` body.
pub(crate) async fn handle_post(
    engine: Arc<GraphqlEngine>,
    keys: ApiKeys<'_>,
    req: &HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let admin = is_authorized(authorization, keys.admin);
    if !admin && !is_authorized(authorization, keys.api) {
        return error_response(
            HttpResponse::Unauthorized(),
            "a valid API key is required: Authorization: Bearer <key>",
            UNAUTHENTICATED,
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error_response(
                HttpResponse::BadRequest(),
                &format!("the body must be JSON {{\"query\", \"variables\", \"operationName\"}}: {e}"),
                BAD_USER_INPUT,
            )
        }
    };
    let request = request.data(crate::graphql::stripe_config::ApiCaller { admin });
    // Resolvers call the synchronous store: keep them off the async workers.
    let outcome = web::block(move || futures::executor::block_on(engine.execute(request))).await;
    match outcome.map(|response| serde_json::to_vec(&response)) {
        Ok(Ok(body)) => HttpResponse::Ok().content_type(ContentType::json()).body(body),
        Ok(Err(e)) => {
            tracing::error!(target: "payforms::graphql", "cannot serialize a GraphQL response: {e}");
            error_response(
                HttpResponse::InternalServerError(),
                "internal error",
                INTERNAL_SERVER_ERROR,
            )
        }
        Err(e) => {
            tracing::error!(target: "payforms::graphql", "GraphQL worker failed: {e}");
            error_response(
                HttpResponse::InternalServerError(),
                "internal error",
                INTERNAL_SERVER_ERROR,
            )
        }
    }
}

fn error_response(mut builder: actix_web::HttpResponseBuilder, message: &str, code: &str) -> HttpResponse {
    builder
        .content_type(ContentType::json())
        .body(json!({"errors": [{"message": message, "extensions": {"code": code}}]}).to_string())
}

/// The hashes of the keys a request may bring: API keys, and admin keys
/// (which may also change the gateway configuration).
#[derive(Clone, Copy)]
pub(crate) struct ApiKeys<'a> {
    pub api: &'a [[u8; 32]],
    pub admin: &'a [[u8; 32]],
}

/// `Bearer <key>` whose SHA-256 is one of `api_key_hashes`, compared in
/// constant time against every hash. No configured key: nobody is let in.
pub fn is_authorized(authorization: Option<&str>, api_key_hashes: &[[u8; 32]]) -> bool {
    let Some(key) = authorization.and_then(bearer_token) else {
        return false;
    };
    let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let mut matched = Choice::from(0u8);
    for hash in api_key_hashes {
        matched |= digest.ct_eq(hash);
    }
    matched.into()
}

/// The token of `Bearer <token>` (scheme case-insensitive), if not empty.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The query console: a page, a script and a style sheet compiled into the
/// binary, so it needs no network and fits the Content-Security-Policy
/// (no inline script, no third-party origin).
fn console_page_response() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(CONSOLE_HTML)
}

/// `console.js` or `console.css` of the console; None for anything else.
fn console_asset_response(name: &str) -> Option<HttpResponse> {
    let (content_type, body) = match name {
        "console.js" => ("text/javascript; charset=utf-8", CONSOLE_JS),
        "console.css" => ("text/css; charset=utf-8", CONSOLE_CSS),
        _ => return None,
    };
    Some(
        HttpResponse::Ok()
            .content_type(content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(body),
    )
}

const CONSOLE_HTML: &str = include_str!("../graphql/console/index.html");
const CONSOLE_JS: &str = include_str!("../graphql/console/console.js");
const CONSOLE_CSS: &str = include_str!("../graphql/console/console.css");

pub async fn post(req: HttpRequest, body: web::Bytes, instance: web::Data<Arc<Instance>>) -> HttpResponse {
    let engine = instance.current().graphql.clone();
    let keys = ApiKeys {
        api: &instance.settings.api_key_hashes,
        admin: &instance.settings.admin_api_key_hashes,
    };
    handle_post(engine, keys, &req, body).await
}

pub async fn page() -> HttpResponse {
    console_page_response()
}

pub async fn console_asset(name: web::Path<String>) -> HttpResponse {
    console_asset_response(&name)
        .unwrap_or_else(|| HttpResponse::NotFound().content_type("text/plain").body("not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(key: &str) -> [u8; 32] {
        Sha256::digest(key.as_bytes()).into()
    }

    #[test]
    fn bearer_keys_are_checked_against_every_hash() {
        let hashes = [hash("first-key"), hash("second-key")];
        assert!(is_authorized(Some("Bearer first-key"), &hashes));
        assert!(is_authorized(Some("bearer second-key"), &hashes));
        assert!(is_authorized(Some("  Bearer   second-key  "), &hashes));
        assert!(!is_authorized(Some("Bearer third-key"), &hashes));
        assert!(!is_authorized(Some("Bearer "), &hashes));
        assert!(!is_authorized(Some("Basic first-key"), &hashes));
        assert!(!is_authorized(Some("first-key"), &hashes));
        assert!(!is_authorized(None, &hashes));
        // no key configured: closed
        assert!(!is_authorized(Some("Bearer first-key"), &[]));
        assert!(!is_authorized(Some("Bearer caf\u{e9}"), &hashes));
        assert!(is_authorized(Some("Bearer caf\u{e9}"), &[hash("caf\u{e9}")]));
    }

    #[test]
    fn the_console_is_self_contained() {
        let body = |response: HttpResponse| {
            let bytes = futures::executor::block_on(actix_web::body::to_bytes(response.into_body())).unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        };
        let html = body(console_page_response());
        assert!(html.contains("/api/graphql/console.js"));
        // Every script and style sheet is payforms' own: no other origin,
        // no inline script.
        assert!(!html.contains("http://") && !html.contains("https://"), "{html}");
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script src=\"/api/graphql/console.js\""));
        let js = body(console_asset_response("console.js").unwrap());
        assert!(js.contains("fetch(window.location.pathname"));
        assert!(console_asset_response("console.css").is_some());
        assert!(console_asset_response("../secret").is_none());
    }
}
