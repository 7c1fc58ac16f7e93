//! Polling for things that happen asynchronously (webhook deliveries, start-up).

use std::time::{Duration, Instant};

/// Calls `probe` every 50 ms until it returns `Some`, and returns that value.
/// Panics with `what` once `timeout` has passed.
pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
