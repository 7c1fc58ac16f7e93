//! Which site a state-changing request comes from.

use actix_web::HttpRequest;

/// Browsers send `Origin` on cross-site posts; one naming another host is
/// refused even before the token is checked.
pub fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get("origin").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == "null" {
        return false;
    }
    let host = req.connection_info().host().to_string();
    url::Url::parse(origin)
        .ok()
        .map(|u| {
            let origin_host = match u.port() {
                Some(port) => format!("{}:{port}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_string(),
            };
            origin_host == host
        })
        .unwrap_or(false)
}
