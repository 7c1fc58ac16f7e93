//! `POST /api/graphql` for programs (API key in `Authorization: Bearer`)
//! and the query console for `GET /api/graphql`.

use std::sync::Arc;

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::graphql::errors::{BAD_USER_INPUT, FORBIDDEN, INTERNAL_SERVER_ERROR, UNAUTHENTICATED};
use crate::graphql::GraphqlEngine;
use crate::instance::Instance;
use crate::merchants::keys::{self, Principal, Scope};

pub const ENDPOINT: &str = "/api/graphql";

/// Run a GraphQL request from a program. Answers 401 without a valid API
/// key (`principal`), 403 for a key of another merchant than the default
/// one or without the scope the operation needs (`payments:read` for
/// queries, `payments:write` for mutations), 400 for a body that is not a
/// GraphQL request, else 200 with the standard `{data, errors}` body.
pub(crate) async fn handle_post(
    engine: Arc<GraphqlEngine>,
    principal: Option<Principal>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(principal) = principal else {
        return error_response(
            HttpResponse::Unauthorized(),
            "a valid API key is required: Authorization: Bearer <key> or X-API-Key: <key>",
            UNAUTHENTICATED,
        );
    };
    if !principal.merchant.is_default() {
        return error_response(
            HttpResponse::Forbidden(),
            "GraphQL serves the default merchant's records; other merchants use the REST API under /v1",
            FORBIDDEN,
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
    // GraphQL reaches every record and request type of the default
    // merchant: reading needs every read scope, a mutation every write one.
    let needed: &[Scope] = if is_mutation(&request) {
        &[Scope::PaymentsWrite, Scope::RefundsWrite]
    } else {
        &[Scope::PaymentsRead, Scope::WebhooksRead]
    };
    if let Some(scope) = needed.iter().find(|s| !principal.has(**s)) {
        return error_response(
            HttpResponse::Forbidden(),
            &format!("this API key lacks the scope `{scope}`"),
            FORBIDDEN,
        );
    }
    let request = request.data(crate::graphql::stripe_config::ApiCaller { admin: principal.admin });
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

/// Whether the operation the request runs is a mutation. A document that
/// does not parse counts as a query: the engine answers its syntax error.
fn is_mutation(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    // The limits first: the parser recurses per nesting level. A document
    // over them is refused by the engine before anything runs.
    if crate::graphql::limits::check_text(&request.query).is_err() {
        return false;
    }
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let is_mutation = |ty: OperationType| ty == OperationType::Mutation;
    match &document.operations {
        DocumentOperations::Single(operation) => is_mutation(operation.node.ty),
        DocumentOperations::Multiple(operations) => match &request.operation_name {
            Some(name) => operations.get(name.as_str()).is_some_and(|op| is_mutation(op.node.ty)),
            // Ambiguous: the engine refuses it; the strictest scope applies.
            None => operations.values().any(|op| is_mutation(op.node.ty)),
        },
    }
}

fn error_response(mut builder: actix_web::HttpResponseBuilder, message: &str, code: &str) -> HttpResponse {
    builder
        .content_type(ContentType::json())
        .body(json!({"errors": [{"message": message, "extensions": {"code": code}}]}).to_string())
}

/// The hashes of the keys a request may bring: API keys, and admin keys
/// (which may also change the gateway configuration). The server asks
/// `merchants::keys::authenticate`; this is for tests without a store.
#[cfg(test)]
#[derive(Clone, Copy)]
pub(crate) struct ApiKeys<'a> {
    pub api: &'a [[u8; 32]],
    pub admin: &'a [[u8; 32]],
}

#[cfg(test)]
impl ApiKeys<'_> {
    /// The full-access principal of the default merchant for a settings key.
    pub(crate) fn principal(&self, authorization: Option<&str>) -> Option<Principal> {
        let admin = is_authorized(authorization, self.admin);
        (admin || is_authorized(authorization, self.api)).then(|| Principal {
            merchant: crate::merchant_id::MerchantId::default_merchant(),
            scopes: Scope::ALL.to_vec(),
            key_id: "env".into(),
            admin,
        })
    }
}

/// `Bearer <key>` whose SHA-256 is one of `api_key_hashes`, compared in
/// constant time against every hash. No configured key: nobody is let in.
#[cfg(test)]
pub fn is_authorized(authorization: Option<&str>, api_key_hashes: &[[u8; 32]]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::{Choice, ConstantTimeEq};
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
#[cfg(test)]
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
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let key =
        keys::presented_key(header("x-api-key").as_deref(), header("authorization").as_deref()).map(str::to_string);
    let principal = match key {
        Some(key) => {
            let instance = instance.clone();
            match web::block(move || keys::authenticate(&instance.settings, &instance.store, &key)).await {
                Ok(Ok(principal)) => principal,
                Ok(Err(e)) => {
                    tracing::error!(target: "payforms::graphql", "API key lookup failed: {e}");
                    return error_response(
                        HttpResponse::InternalServerError(),
                        "internal error",
                        INTERNAL_SERVER_ERROR,
                    );
                }
                Err(e) => {
                    tracing::error!(target: "payforms::graphql", "API key lookup failed: {e}");
                    return error_response(
                        HttpResponse::InternalServerError(),
                        "internal error",
                        INTERNAL_SERVER_ERROR,
                    );
                }
            }
        }
        None => None,
    };
    handle_post(engine, principal, body).await
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
    use sha2::{Digest, Sha256};

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
