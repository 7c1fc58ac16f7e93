//! Ports and the HTTP client tests talk to servers with.

use std::net::TcpListener;
use std::time::Duration;

/// A TCP port that was free on 127.0.0.1 a moment ago (the OS picked it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A blocking client that keeps cookies between requests and does NOT follow
/// redirects, so tests can assert the 303 and its Location themselves.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build the test HTTP client")
}

/// A short-timeout client for readiness probes.
pub(crate) fn probe_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(2))
        .build()
        .expect("build the probe HTTP client")
}
