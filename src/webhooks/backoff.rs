//! How long a failed delivery or processing waits before its next try.

use std::time::Duration;

/// Backoff after `attempts` failures: 2 s, 4 s, 8 s … capped at 10 minutes.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 10) as u32;
    Duration::from_secs((1u64 << exponent).min(600))
}
