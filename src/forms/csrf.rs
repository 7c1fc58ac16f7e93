//! CSRF protection without server sessions.
//!
//! Every visitor gets a random id in a cookie; the CSRF token is an HMAC of
//! that id. A cross-site page can make the browser send the cookie but cannot
//! read it, so it cannot produce the matching token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::config::Settings;

pub fn new_visitor_id() -> String {
    let mut bytes = [0u8; 16];
    // The thread's CSPRNG (seeded from the OS): no system call per visitor.
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn token_for(settings: &Settings, visitor_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(settings.signing.csrf.mac(visitor_id.as_bytes()))
}

/// Constant-time check of a posted token against the visitor's cookie.
pub fn verify(settings: &Settings, visitor_id: Option<&str>, token: Option<&str>) -> bool {
    match (visitor_id, token) {
        (Some(visitor), Some(token)) if !visitor.is_empty() && !token.is_empty() => {
            let expected = token_for(settings, visitor);
            expected.as_bytes().ct_eq(token.as_bytes()).into()
        }
        _ => false,
    }
}
