//! Requests per API key: a token bucket per key id, `burst` tokens,
//! refilled at `per_minute`. A request takes one token; without one it is
//! refused with the whole seconds until one is back (`Retry-After`).
//!
//! The bucket is kept as its GCRA form, one instant per key (when the
//! bucket would be full again if nothing else came), so the arithmetic is
//! whole nanoseconds and never drifts.
//!
//! Buckets live in memory, so the limit is per instance. Their number is
//! capped: a full bucket is the same as no bucket and is dropped first;
//! past that, the buckets with the most tokens left go (their keys start
//! again with a full burst, which only ever lets more through).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub use crate::config::RateLimit;

/// Buckets kept at most (each is an instant plus its key id).
pub const MAX_BUCKETS: usize = 100_000;

/// Refused: whole seconds (at least 1) until a token is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit exceeded; retry after {seconds} s")]
pub struct RetryAfter {
    pub seconds: u64,
}

#[derive(Debug)]
pub struct RateLimiter {
    /// Time for one token to come back; `None` when the limit is off.
    interval: Option<Duration>,
    /// How far ahead of now a bucket's full-again time may be and still
    /// hold a token: `interval * (burst - 1)`.
    tolerance: Duration,
    max_buckets: usize,
    /// Key id to the instant its bucket is full again.
    buckets: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter::with_max_buckets(limit, MAX_BUCKETS)
    }

    /// A limiter keeping at most `max_buckets` (at least 1) buckets.
    pub fn with_max_buckets(limit: RateLimit, max_buckets: usize) -> RateLimiter {
        let interval = (limit.per_minute > 0).then(|| Duration::from_secs(60) / limit.per_minute);
        // A burst of 0 would refuse everything: at least one token.
        let tolerance = interval
            .and_then(|i| i.checked_mul(limit.burst.max(1) - 1))
            .unwrap_or(Duration::MAX);
        RateLimiter {
            interval,
            tolerance,
            max_buckets: max_buckets.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// False when `per_minute` is 0: every check passes.
    pub fn is_enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// Take one token of `key_id`'s bucket at `now`, or say how long until
    /// there is one. A refused request takes nothing; a `now` earlier than
    /// an earlier call's refills nothing.
    pub fn check(&self, key_id: &str, now: Instant) -> Result<(), RetryAfter> {
        let Some(interval) = self.interval else {
            return Ok(());
        };
        let mut buckets = self.buckets.lock();
        if !buckets.contains_key(key_id) && buckets.len() >= self.max_buckets {
            self.make_room(&mut buckets, now);
        }
        let full_at = buckets.get(key_id).copied().unwrap_or(now).max(now);
        let ahead = full_at.saturating_duration_since(now);
        if ahead > self.tolerance {
            let wait = ahead - self.tolerance;
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(RetryAfter {
                seconds: seconds.max(1),
            });
        }
        // At most `burst` intervals ahead of now (a few minutes at the
        // slowest rate), so this cannot overflow an Instant.
        let next = full_at.checked_add(interval).unwrap_or(full_at);
        buckets.insert(key_id.to_string(), next);
        Ok(())
    }

    /// How many buckets are kept (for tests and metrics).
    pub fn buckets(&self) -> usize {
        self.buckets.lock().len()
    }

    /// Free at least a sixteenth of the buckets, so the sweep's cost is
    /// shared by the many inserts that follow it: full buckets first (no
    /// state is lost), then those with the most tokens left.
    fn make_room(&self, buckets: &mut HashMap<String, Instant>, now: Instant) {
        buckets.retain(|_, full_at| *full_at > now);
        let target = self.max_buckets - (self.max_buckets / 16).max(1);
        if buckets.len() <= target {
            return;
        }
        let excess = buckets.len() - target;
        let mut times: Vec<Instant> = buckets.values().copied().collect();
        // The `excess`-th earliest full-again time: every bucket full by
        // then goes (ties may take a few more).
        let (_, &mut threshold, _) = times.select_nth_unstable(excess - 1);
        buckets.retain(|_, full_at| *full_at > threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimit { per_minute, burst })
    }

    fn secs(n: f64) -> Duration {
        Duration::from_secs_f64(n)
    }

    #[test]
    fn a_burst_passes_then_requests_are_refused() {
        let limiter = limit(60, 5);
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.check("key_1", now), Ok(()));
        }
        assert_eq!(limiter.check("key_1", now), Err(RetryAfter { seconds: 1 }));
        assert_eq!(
            limiter.check("key_1", now),
            Err(RetryAfter { seconds: 1 }),
            "a refusal takes nothing"
        );
    }

    #[test]
    fn tokens_come_back_at_the_rate() {
        let limiter = limit(60, 2);
        let now = Instant::now();
        assert!(limiter.check("k", now).is_ok());
        assert!(limiter.check("k", now).is_ok());
        assert!(limiter.check("k", now + secs(0.5)).is_err());
        assert!(limiter.check("k", now + secs(1.0)).is_ok(), "one a second");
        assert!(limiter.check("k", now + secs(1.0)).is_err());
        // A long pause fills the bucket to the burst, no further.
        let later = now + secs(3600.0);
        assert!(limiter.check("k", later).is_ok());
        assert!(limiter.check("k", later).is_ok());
        assert!(limiter.check("k", later).is_err());
    }

    #[test]
    fn retry_after_is_the_whole_seconds_to_the_next_token() {
        let limiter = limit(6, 1); // one token every 10 s
        let now = Instant::now();
        assert!(limiter.check("k", now).is_ok());
        assert_eq!(limiter.check("k", now), Err(RetryAfter { seconds: 10 }));
        assert_eq!(limiter.check("k", now + secs(2.5)), Err(RetryAfter { seconds: 8 }));
        assert_eq!(limiter.check("k", now + secs(9.9)), Err(RetryAfter { seconds: 1 }));
        assert!(limiter.check("k", now + secs(10.0)).is_ok());

        let slow = limit(1, 1);
        assert!(slow.check("k", now).is_ok());
        assert_eq!(slow.check("k", now), Err(RetryAfter { seconds: 60 }));

        let fast = limit(6000, 1); // a token every 10 ms: still at least 1 s
        assert!(fast.check("k", now).is_ok());
        assert_eq!(fast.check("k", now), Err(RetryAfter { seconds: 1 }));
    }

    #[test]
    fn a_clock_going_back_refills_nothing() {
        let limiter = limit(60, 1);
        let now = Instant::now() + secs(100.0);
        assert!(limiter.check("k", now).is_ok());
        assert!(limiter.check("k", now - secs(50.0)).is_err());
        assert!(limiter.check("k", now + secs(1.0)).is_ok());
    }

    #[test]
    fn keys_have_their_own_buckets() {
        let limiter = limit(60, 1);
        let now = Instant::now();
        assert!(limiter.check("a", now).is_ok());
        assert!(limiter.check("a", now).is_err());
        assert!(limiter.check("b", now).is_ok());
        assert!(limiter.check("b", now).is_err());
    }

    #[test]
    fn off_lets_everything_through_and_keeps_nothing() {
        let limiter = RateLimiter::new(RateLimit::OFF);
        assert!(!limiter.is_enabled());
        let now = Instant::now();
        for i in 0..1000 {
            assert!(limiter.check(&format!("k{i}"), now).is_ok());
            assert!(limiter.check("same", now).is_ok());
        }
        assert_eq!(limiter.buckets(), 0);
    }

    #[test]
    fn extreme_limits_do_not_overflow() {
        let now = Instant::now();
        let huge = limit(u32::MAX, u32::MAX);
        for _ in 0..1000 {
            assert!(huge.check("k", now).is_ok());
        }
        let slow_and_deep = limit(1, u32::MAX);
        for _ in 0..1000 {
            assert!(slow_and_deep.check("k", now).is_ok());
        }
        let tiny = limit(1, 0);
        assert!(tiny.check("k", now).is_ok(), "a burst of 0 still lets one through");
        assert_eq!(tiny.check("k", now), Err(RetryAfter { seconds: 60 }));
    }

    #[test]
    fn a_flood_of_key_ids_stays_within_the_cap() {
        let limiter = RateLimiter::with_max_buckets(
            RateLimit {
                per_minute: 60,
                burst: 2,
            },
            1000,
        );
        let now = Instant::now();
        for i in 0..20_000 {
            // Each key spends a token, so none is full: the fullest must go.
            assert!(limiter
                .check(&format!("flood-{i}"), now + secs(i as f64 * 1e-6))
                .is_ok());
            assert!(limiter.buckets() <= 1000);
        }
        assert!(limiter.buckets() > 900, "a sweep frees what it must, not everything");
    }

    #[test]
    fn the_cap_drops_full_and_idle_buckets_before_busy_ones() {
        let limiter = RateLimiter::with_max_buckets(
            RateLimit {
                per_minute: 60,
                burst: 2,
            },
            16,
        );
        let start = Instant::now();
        // `busy` has spent its burst just now; the others long ago, so they
        // are full again by the time the cap is reached.
        for i in 0..15 {
            assert!(limiter.check(&format!("old-{i}"), start).is_ok());
        }
        let now = start + secs(600.0);
        assert!(limiter.check("busy", now).is_ok());
        assert!(limiter.check("busy", now).is_ok());
        assert!(limiter.check("busy", now).is_err());
        assert!(limiter.check("newcomer", now).is_ok());
        assert!(limiter.buckets() <= 16);
        assert!(limiter.check("busy", now).is_err(), "its empty bucket was kept");

        // Nothing full: those with the most tokens left go first.
        let limiter = RateLimiter::with_max_buckets(
            RateLimit {
                per_minute: 1,
                burst: 1,
            },
            16,
        );
        for i in 0..16 {
            assert!(limiter.check(&format!("k{i}"), start + secs(i as f64)).is_ok());
        }
        assert!(limiter.check("k16", start + secs(16.0)).is_ok());
        assert!(limiter.buckets() <= 16);
        assert!(
            limiter.check("k0", start + secs(17.0)).is_ok(),
            "evicted: a fresh bucket"
        );
        assert!(limiter.check("k15", start + secs(17.0)).is_err(), "kept: still empty");
    }

    #[test]
    fn checks_from_many_threads_share_one_bucket() {
        let limiter = std::sync::Arc::new(limit(1, 100));
        let now = Instant::now();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || (0..50).filter(|_| limiter.check("k", now).is_ok()).count())
            })
            .collect();
        let passed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(passed, 100);
    }

    #[test]
    fn the_setting_is_parsed() {
        let parse = RateLimit::parse;
        assert_eq!(parse("600/min"), Ok(RateLimit::default()));
        assert_eq!(
            parse("120/min"),
            Ok(RateLimit {
                per_minute: 120,
                burst: 12
            })
        );
        assert_eq!(
            parse("5/min"),
            Ok(RateLimit {
                per_minute: 5,
                burst: 1
            })
        );
        assert_eq!(
            parse(" 100/MIN , burst = 7 "),
            Ok(RateLimit {
                per_minute: 100,
                burst: 7
            })
        );
        assert_eq!(
            parse("10/min,burst=500"),
            Ok(RateLimit {
                per_minute: 10,
                burst: 500
            })
        );
        assert_eq!(parse("off"), Ok(RateLimit::OFF));
        assert_eq!(parse(" OFF "), Ok(RateLimit::OFF));
        assert_eq!(
            parse("4294967295/min,burst=4294967295"),
            Ok(RateLimit {
                per_minute: u32::MAX,
                burst: u32::MAX
            })
        );
    }

    #[test]
    fn hostile_settings_are_refused() {
        for text in [
            "",
            "0",
            "600",
            "0/min",
            "600/min,burst=0",
            "-1/min",
            "+5/min",
            "1.5/min",
            "4294967296/min",
            "99999999999999999999999999/min",
            "600/min,burst=-1",
            "600/min,burst=99999999999",
            "600/min,burst",
            "600/min,burst=",
            "600/min,bursts=5",
            "600/min,burst=5,burst=6",
            "600/sec",
            "600 / min",
            "/min",
            "\u{0}600/min",
            "６００/min",
            "on",
        ] {
            assert!(RateLimit::parse(text).is_err(), "{text:?} was accepted");
        }
        let message = RateLimit::parse("0/min").unwrap_err();
        assert!(message.contains("off"), "{message}");
    }

    #[test]
    fn the_setting_is_read_from_the_environment_and_the_file() {
        use crate::config::{Overrides, Settings};
        let dir = tempfile::tempdir().unwrap();
        let secret = |name: &str| (name == "PAYFORMS_SECRET").then(|| "s".repeat(32));
        let settings = Settings::load_with(dir.path(), &Overrides::default(), secret).unwrap();
        assert_eq!(settings.api_rate_limit, RateLimit::default());

        std::fs::write(
            dir.path().join("payforms.toml"),
            "api_rate_limit = \"30/min,burst=3\"\n",
        )
        .unwrap();
        let settings = Settings::load_with(dir.path(), &Overrides::default(), secret).unwrap();
        assert_eq!(
            settings.api_rate_limit,
            RateLimit {
                per_minute: 30,
                burst: 3
            }
        );

        let env = |name: &str| match name {
            "PAYFORMS_API_RATE_LIMIT" => Some("off".to_string()),
            other => secret(other),
        };
        let settings = Settings::load_with(dir.path(), &Overrides::default(), env).unwrap();
        assert_eq!(settings.api_rate_limit, RateLimit::OFF, "the environment wins");

        let hostile = format!("\u{1b}[31m{}/min", "9".repeat(10_000));
        let env = |name: &str| match name {
            "PAYFORMS_API_RATE_LIMIT" => Some(hostile.clone()),
            other => secret(other),
        };
        let message = Settings::load_with(dir.path(), &Overrides::default(), env)
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("PAYFORMS_API_RATE_LIMIT"), "{message}");
        assert!(message.len() < 300, "the value is shown short: {message}");
        assert!(!message.contains('\u{1b}'), "control characters are escaped: {message}");
    }
}
