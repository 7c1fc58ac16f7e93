//! Rate limit for sign-in attempts: a few attempts per client address per
//! minute, and a ceiling for all addresses together (so many addresses
//! cannot guess in parallel). An attempt is counted before its password is
//! checked (and given back when it succeeds), so concurrent guesses cannot
//! slip past the count; and only a few password checks (argon2, ~19 MB
//! each) run at once. Kept in memory: a restart forgets, which is fine for
//! a limit measured in minutes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Failures one address may make per window.
pub const PER_ADDRESS: u32 = 5;
/// Failures all addresses together may make per window.
pub const OVERALL: u32 = 50;
/// The window, in seconds.
pub const WINDOW_SECONDS: i64 = 60;
/// Addresses remembered at most; the oldest windows are dropped first.
const MAX_ADDRESSES: usize = 10_000;
/// Password checks running at once; more are answered "busy".
pub const MAX_CONCURRENT_CHECKS: usize = 2;

#[derive(Default)]
pub struct SignInAttempts {
    inner: Mutex<Windows>,
    checks_running: AtomicUsize,
}

/// One running password check; dropping it frees the slot.
pub struct CheckSlot<'a>(&'a AtomicUsize);

impl Drop for CheckSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Default)]
struct Windows {
    per_address: HashMap<IpAddr, (i64, u32)>,
    overall: (i64, u32),
}

impl SignInAttempts {
    /// A slot to check a password in, or None while MAX_CONCURRENT_CHECKS run.
    pub fn start_check(&self) -> Option<CheckSlot<'_>> {
        let running = self.checks_running.fetch_add(1, Ordering::AcqRel);
        let slot = CheckSlot(&self.checks_running);
        (running < MAX_CONCURRENT_CHECKS).then_some(slot)
    }

    /// Count an attempt from `address` now, before its password is checked;
    /// `Err(seconds)` to wait when it may not try.
    pub fn reserve(&self, address: IpAddr, now: i64) -> Result<(), i64> {
        self.check(address, now)?;
        self.failed(address, now);
        Ok(())
    }

    /// `Err(seconds)` to wait when `address` may not try now.
    pub fn check(&self, address: IpAddr, now: i64) -> Result<(), i64> {
        let windows = self.inner.lock();
        let blocked = |(start, count): (i64, u32), limit: u32| {
            (now < start + WINDOW_SECONDS && count >= limit).then_some(start + WINDOW_SECONDS - now)
        };
        if let Some(wait) = windows.per_address.get(&address).and_then(|w| blocked(*w, PER_ADDRESS)) {
            return Err(wait.max(1));
        }
        if let Some(wait) = blocked(windows.overall, OVERALL) {
            return Err(wait.max(1));
        }
        Ok(())
    }

    /// Count a failed attempt from `address`.
    pub fn failed(&self, address: IpAddr, now: i64) {
        let mut windows = self.inner.lock();
        let bump = |window: &mut (i64, u32)| {
            if now >= window.0 + WINDOW_SECONDS {
                *window = (now, 0);
            }
            window.1 = window.1.saturating_add(1);
        };
        if windows.per_address.len() >= MAX_ADDRESSES && !windows.per_address.contains_key(&address) {
            windows
                .per_address
                .retain(|_, (start, _)| now < *start + WINDOW_SECONDS);
            if windows.per_address.len() >= MAX_ADDRESSES {
                windows.per_address.clear();
            }
        }
        bump(windows.per_address.entry(address).or_insert((now, 0)));
        bump(&mut windows.overall);
    }

    /// A successful sign-in clears the address's failures and gives its
    /// reserved attempt back.
    pub fn succeeded(&self, address: IpAddr) {
        let mut windows = self.inner.lock();
        windows.per_address.remove(&address);
        windows.overall.1 = windows.overall.1.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_held_back_after_its_failures_until_the_window_ends() {
        let attempts = SignInAttempts::default();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..PER_ADDRESS {
            assert!(attempts.check(a, 100).is_ok());
            attempts.failed(a, 100);
        }
        assert_eq!(attempts.check(a, 110), Err(50));
        assert!(attempts.check(b, 110).is_ok(), "another address is not held back");
        assert!(attempts.check(a, 100 + WINDOW_SECONDS).is_ok());
        attempts.failed(b, 110);
        attempts.succeeded(b);
        assert!(attempts.check(b, 110).is_ok());
    }

    #[test]
    fn attempts_are_counted_before_the_check_and_checks_are_bounded() {
        let attempts = SignInAttempts::default();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..PER_ADDRESS {
            assert!(attempts.reserve(a, 100).is_ok());
        }
        assert!(
            attempts.reserve(a, 100).is_err(),
            "the sixth is refused before any check"
        );
        let first = attempts.start_check();
        let second = attempts.start_check();
        assert!(first.is_some() && second.is_some());
        assert!(attempts.start_check().is_none(), "a third check waits");
        drop(first);
        assert!(attempts.start_check().is_some());
    }

    #[test]
    fn many_addresses_together_hit_the_overall_ceiling() {
        let attempts = SignInAttempts::default();
        for i in 0..OVERALL {
            let address = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            attempts.failed(address, 5);
        }
        assert!(attempts.check("192.0.2.1".parse().unwrap(), 6).is_err());
        assert!(attempts.check("192.0.2.1".parse().unwrap(), 5 + WINDOW_SECONDS).is_ok());
    }
}
