//! `GET /assets/...`: the app's static files.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::instance::Instance;

pub async fn asset(req: HttpRequest, path: web::Path<String>, instance: web::Data<Arc<Instance>>) -> HttpResponse {
    let loaded = instance.current();
    let name = path.into_inner();
    // Only files the loader found are served, so `..` cannot escape the app.
    let Some(file) = loaded.app.assets.get(&name).cloned() else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("asset not found");
    };
    let versioned = req.query_string().contains("v=");
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let mime = mime_guess::from_path(&file).first_or_octet_stream();
            let cache = if versioned {
                "public, max-age=31536000, immutable"
            } else {
                "public, max-age=60"
            };
            HttpResponse::Ok()
                .content_type(mime.essence_str().to_string())
                .insert_header(("cache-control", cache))
                .body(bytes)
        }
        Err(_) => HttpResponse::NotFound()
            .content_type("text/plain")
            .body("asset not found"),
    }
}
