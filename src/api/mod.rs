//! The HTTP server: routes of DESIGN.md mapped to thin handlers.

pub mod access_log;
pub mod assets;
pub mod forms;
pub mod graphql;
pub mod health;
pub mod operator;
pub mod origin;
pub mod pages;
pub mod rate_limit;
pub mod reply;
pub mod request_info;
pub mod rest;
pub mod security_headers;
pub mod webhooks;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{middleware, web, App as ActixApp, HttpServer};

use crate::instance::Instance;
use crate::webhooks::worker::WorkerSignal;

/// Largest form post accepted.
pub(crate) const FORM_BODY_LIMIT: usize = 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(FORM_BODY_LIMIT))
        .route("/healthz", web::get().to(health::healthz))
        .route("/sign_in", web::get().to(operator::page))
        .route("/sign_in", web::post().to(operator::sign_in))
        .route("/sign_out", web::post().to(operator::sign_out))
        .route("/forms/{name:.+}", web::post().to(forms::submit_form))
        .route("/webhooks/{gateway}", web::post().to(webhooks::receive))
        .configure(rest::configure)
        .route("/api/graphql", web::post().to(graphql::post))
        .route("/api/graphql", web::get().to(graphql::page))
        .route("/api/graphql/{name}", web::get().to(graphql::console_asset))
        .route("/assets/{path:.+}", web::get().to(assets::asset))
        .default_service(web::to(pages::page));
}

/// The server for `instance` on `listener`; await it (or spawn it) to run.
/// Must be called inside a Tokio runtime.
pub fn serve(instance: Arc<Instance>, signal: WorkerSignal, listener: TcpListener) -> std::io::Result<Server> {
    let policy = security_headers::content_security_policy(&instance.settings);
    let instance_limit = instance.settings.api_rate_limit;
    let data = web::Data::new(instance);
    let signal = web::Data::new(signal);
    let ingest = web::Data::new(crate::webhooks::ingest::Ingest::start(data.store.clone()));
    let sign_in_attempts = web::Data::new(crate::operator::attempts::SignInAttempts::default());
    let rate_limiter = web::Data::new(rate_limit::RateLimiter::new(instance_limit));
    HttpServer::new(move || {
        ActixApp::new()
            .app_data(data.clone())
            .app_data(signal.clone())
            .app_data(ingest.clone())
            .app_data(sign_in_attempts.clone())
            .app_data(rate_limiter.clone())
            .wrap(security_headers::middleware(&policy))
            .wrap(middleware::from_fn(access_log::log_request))
            .configure(configure)
    })
    .listen(listener)
    .map(|server| server.run())
}
