//! The REST API against its own OpenAPI document, on the README's command
//! (`serve --sandbox`): Schemathesis generates requests from
//! `/v1/openapi.json` (valid and invalid ones, a bounded number per
//! operation) and checks that no answer is a server error and every answer
//! fits the document. The reference page is served by payforms itself.
//!
//! Needs `schemathesis` on the PATH (`scripts/test --setup-only` installs it).

#![cfg(feature = "sandbox")]

mod support;

use std::process::Command;

use support::{client, payforms_bin, repo_root, ServerOptions, TestServer};

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_schema() {
    let server = TestServer::start(ServerOptions::new(repo_root()).arg("--sandbox"));
    let output = Command::new(payforms_bin())
        .args(["keys", "create", "--scopes", "all", "--database", server.database_url()])
        .arg("--app")
        .arg(repo_root())
        .output()
        .expect("payforms keys create");
    assert!(output.status.success());
    let key = String::from_utf8(output.stdout).unwrap().trim().to_string();
    let reports = tempfile::tempdir().unwrap();
    let run = Command::new("schemathesis")
        .current_dir(reports.path())
        .args(["run", &server.url("/v1/openapi.json")])
        .args(["--header", &format!("X-API-Key: {key}")])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", "8", "--max-time", "75", "--seed", "20261207"])
        .args(["--no-color", "--request-timeout", "20"])
        .output()
        .expect("schemathesis on the PATH: run scripts/test --setup-only");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{report}");
    assert!(report.contains("passed"), "{report}");
    assert!(!server.log_text().contains(" 500 "), "no request answered 500");
}

#[test]
fn the_reference_page_renders_the_document_without_other_origins() {
    let server = TestServer::start(ServerOptions::new(repo_root()).arg("--sandbox"));
    let http = client();
    let page = http.get(server.url("/v1/docs")).send().unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let policy = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let html = page.text().unwrap();
    assert!(
        html.contains("/v1/docs/reference.js") && html.contains("/v1/openapi.json"),
        "{html}"
    );
    assert!(!html.contains("https://"), "no CDN: {html}");
    assert!(
        policy.contains("script-src 'self'") || policy.contains("default-src 'self'"),
        "{policy}"
    );
    for asset in ["reference.js", "reference.css"] {
        let answer = http.get(server.url(&format!("/v1/docs/{asset}"))).send().unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{asset}");
    }
    let document: serde_json::Value = http.get(server.url("/v1/openapi.json")).send().unwrap().json().unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(document["paths"]["/v1/payments"]["post"].is_object());
}
