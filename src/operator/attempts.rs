//! Rate limit for sign-in attempts: a few failures per client address per
//! minute, and a ceiling for all addresses together (so many addresses
//! cannot guess in parallel). Kept in memory: a restart forgets, which is
//! fine for a limit measured in minutes.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;

/// Failures one address may make per window.
pub const PER_ADDRESS: u32 = 5;
/// Failures all addresses together may make per window.
pub const OVERALL: u32 = 50;
/// The window, in seconds.
pub const WINDOW_SECONDS: i64 = 60;
/// Addresses remembered at most; the oldest windows are dropped first.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Default)]
pub struct SignInAttempts {
    inner: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    per_address: HashMap<IpAddr, (i64, u32)>,
    overall: (i64, u32),
}

impl SignInAttempts {
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

    /// A successful sign-in clears the address's failures.
    pub fn succeeded(&self, address: IpAddr) {
        self.inner.lock().per_address.remove(&address);
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
