//! `POST /api/graphql` for programs (API key in `Authorization: Bearer`)
//! and the GraphiQL page for `GET /api/graphql`.

use std::sync::Arc;

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpRequest, HttpResponse};
use async_graphql::http::GraphiQLSource;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::errors::{BAD_USER_INPUT, INTERNAL_SERVER_ERROR, UNAUTHENTICATED};
use super::GraphqlEngine;

pub const ENDPOINT: &str = "/api/graphql";

/// Run a GraphQL request from a program. Answers 401 without a valid API
/// key, 400 for a body that is not a GraphQL request, else 200 with the
/// standard `{data, errors}` body.
pub async fn handle_post(
    engine: Arc<GraphqlEngine>,
    api_key_hashes: &[[u8; 32]],
    req: &HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if !is_authorized(authorization, api_key_hashes) {
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

/// GraphiQL (from a CDN). When the CDN cannot be reached, a plain form
/// that posts the query with an API key is shown instead.
pub fn graphiql_page() -> HttpResponse {
    let page = GraphiQLSource::build()
        .endpoint(ENDPOINT)
        .title("payforms GraphQL")
        .finish();
    let page = match page.rfind("</body>") {
        Some(at) => format!("{}{FALLBACK}{}", &page[..at], &page[at..]),
        None => format!("{page}{FALLBACK}"),
    };
    HttpResponse::Ok().content_type(ContentType::html()).body(page)
}

/// Shown when GraphiQL did not load (offline). The key stays in the page.
const FALLBACK: &str = r#"
<div id="payforms-fallback" hidden style="font-family: sans-serif; max-width: 60em; margin: 1em auto;">
  <h1>payforms GraphQL</h1>
  <p>GraphiQL could not be loaded (no network?). Send a query with this form; results appear below.</p>
  <form id="payforms-form">
    <p><label>API key<br><input id="payforms-key" type="password" size="60" autocomplete="off"></label></p>
    <p><label>Query<br><textarea id="payforms-query" rows="14" cols="100">{ __schema { queryType { fields { name } } mutationType { fields { name } } } }</textarea></label></p>
    <p><label>Variables (JSON)<br><textarea id="payforms-variables" rows="4" cols="100">{}</textarea></label></p>
    <p><button type="submit">Run</button></p>
  </form>
  <pre id="payforms-result" style="background: #f4f4f4; padding: 1em; white-space: pre-wrap;"></pre>
</div>
<script>
window.addEventListener("load", function () {
  if (typeof window.GraphiQL !== "undefined") return;
  var graphiql = document.getElementById("graphiql");
  if (graphiql) graphiql.hidden = true;
  document.getElementById("payforms-fallback").hidden = false;
  document.getElementById("payforms-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var out = document.getElementById("payforms-result");
    var variables;
    try { variables = JSON.parse(document.getElementById("payforms-variables").value || "{}"); }
    catch (e) { out.textContent = "Variables are not JSON: " + e; return; }
    fetch(window.location.pathname, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Authorization": "Bearer " + document.getElementById("payforms-key").value
      },
      body: JSON.stringify({ query: document.getElementById("payforms-query").value, variables: variables })
    }).then(function (r) { return r.text(); })
      .then(function (text) {
        try { out.textContent = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { out.textContent = text; }
      })
      .catch(function (e) { out.textContent = "Request failed: " + e; });
  });
});
</script>
"#;

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
    fn graphiql_page_has_the_endpoint_and_a_fallback_form() {
        let response = graphiql_page();
        assert_eq!(response.status(), 200);
        let body = actix_web::body::to_bytes(response.into_body());
        let body = futures::executor::block_on(body).unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains(ENDPOINT));
        assert!(html.contains("payforms-fallback"));
        let fallback_at = html.find("payforms-fallback").unwrap();
        assert!(fallback_at < html.rfind("</body>").unwrap());
    }
}
