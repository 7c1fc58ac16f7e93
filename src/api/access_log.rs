//! The access log: one line per request with its method, path (card-shaped
//! digits masked), status and time, never its query string (Stripe's
//! return URLs carry client secrets) nor anything a visitor typed.
//! Written through `tracing` (by the log's own thread), `/healthz` left out.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::Error;

pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let logged = req.path() != "/healthz" && tracing::enabled!(target: "payforms::access", tracing::Level::INFO);
    let line = logged.then(|| {
        format!(
            "{} {}",
            req.method(),
            crate::card_numbers::mask_card_numbers(req.path())
        )
    });
    let started = Instant::now();
    let response = next.call(req).await?;
    if let Some(line) = line {
        tracing::info!(
            target: "payforms::access",
            "{line} {} {:.3}ms",
            response.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(response)
}
