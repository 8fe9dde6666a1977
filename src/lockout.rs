//! Per-IP counting of failed authorizations, in bounded memory.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How long a lockout window lasts, counted from an address's first failure.
pub const WINDOW: Duration = Duration::from_secs(60);

/// How many addresses are tracked at most; past that the oldest window that is not a lockout
/// is forgotten first.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Failed authorizations per address within [`WINDOW`] of the address's first failure.
#[derive(Debug)]
pub struct Lockout {
    max_failures: u32,
    capacity: usize,
    windows: HashMap<Rc<[u8]>, Window>,
    /// Addresses in the order their windows opened, which is also the order they expire in.
    opened: VecDeque<(Rc<[u8]>, Instant)>,
}

#[derive(Debug)]
struct Window {
    first_failure: Instant,
    failures: u32,
}

impl Lockout {
    /// Allows `max_failures` failures per window (0 disables the lockout), tracking at most
    /// `capacity` addresses.
    pub fn new(max_failures: u32, capacity: usize) -> Self {
        Self {
            max_failures,
            capacity: capacity.max(1),
            windows: HashMap::new(),
            opened: VecDeque::new(),
        }
    }

    /// `Err(seconds until the window ends)` when `ip` has used up its failures.
    pub fn check(&mut self, ip: &[u8], now: Instant) -> Result<(), u64> {
        if self.max_failures == 0 {
            return Ok(());
        }
        self.expire(now);
        match self.windows.get(ip) {
            Some(w) if w.failures >= self.max_failures => {
                let left = WINDOW.saturating_sub(now.saturating_duration_since(w.first_failure));
                Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failed authorization from `ip`.
    pub fn record_failure(&mut self, ip: &[u8], now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        self.expire(now);
        if let Some(w) = self.windows.get_mut(ip) {
            w.failures = w.failures.saturating_add(1);
            return;
        }
        if self.windows.len() >= self.capacity && !self.forget_oldest_unlocked() {
            // Every tracked address is locked out: keeping them locked matters more than
            // counting a new address's first failure.
            return;
        }
        let ip: Rc<[u8]> = Rc::from(ip);
        self.opened.push_back((Rc::clone(&ip), now));
        self.windows.insert(
            ip,
            Window {
                first_failure: now,
                failures: 1,
            },
        );
    }

    /// How many addresses are tracked now.
    pub fn tracked(&self) -> usize {
        self.windows.len()
    }

    fn expire(&mut self, now: Instant) {
        while self
            .opened
            .front()
            .is_some_and(|(_, opened)| now.saturating_duration_since(*opened) >= WINDOW)
        {
            self.forget_oldest();
        }
    }

    /// Makes room by forgetting the oldest window that is not a lockout; false if all are.
    fn forget_oldest_unlocked(&mut self) -> bool {
        let max_failures = self.max_failures;
        let windows = &self.windows;
        let unlocked = self
            .opened
            .iter()
            .position(|(ip, _)| windows.get(ip).is_some_and(|w| w.failures < max_failures));
        match unlocked.and_then(|index| self.opened.remove(index)) {
            Some((ip, _)) => {
                self.windows.remove(&ip);
                true
            }
            None => false,
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((ip, _)) = self.opened.pop_front() {
            self.windows.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &[u8] = b"203.0.113.7";

    fn fail(lockout: &mut Lockout, ip: &[u8], times: u32, now: Instant) {
        for _ in 0..times {
            lockout.record_failure(ip, now);
        }
    }

    #[test]
    fn locks_out_after_max_failures_until_the_window_ends() {
        let start = Instant::now();
        let mut lockout = Lockout::new(3, 100);
        fail(&mut lockout, IP, 2, start);
        assert_eq!(lockout.check(IP, start), Ok(()));
        fail(&mut lockout, IP, 1, start + Duration::from_secs(10));
        assert_eq!(lockout.check(IP, start + Duration::from_secs(10)), Err(50));
        assert_eq!(
            lockout.check(IP, start + Duration::from_millis(59_500)),
            Err(1)
        );
        assert_eq!(lockout.check(IP, start + WINDOW), Ok(()));
    }

    #[test]
    fn counts_each_address_separately() {
        let now = Instant::now();
        let mut lockout = Lockout::new(1, 100);
        fail(&mut lockout, IP, 1, now);
        assert!(lockout.check(IP, now).is_err());
        assert!(lockout.check(b"198.51.100.1", now).is_ok());
    }

    #[test]
    fn zero_disables_it() {
        let now = Instant::now();
        let mut lockout = Lockout::new(0, 100);
        fail(&mut lockout, IP, 1000, now);
        assert!(lockout.check(IP, now).is_ok());
        assert_eq!(lockout.tracked(), 0);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_addresses() {
        let now = Instant::now();
        let mut lockout = Lockout::new(2, 50);
        for i in 0..10_000u32 {
            lockout.record_failure(i.to_string().as_bytes(), now);
        }
        assert_eq!(lockout.tracked(), 50);
        fail(&mut lockout, b"9999", 1, now);
        assert!(lockout.check(b"9999", now).is_err());
        assert!(
            lockout.check(b"0", now).is_ok(),
            "oldest window forgotten first"
        );
    }

    #[test]
    fn a_flood_of_other_addresses_does_not_lift_a_lockout() {
        let now = Instant::now();
        let mut lockout = Lockout::new(2, 50);
        fail(&mut lockout, IP, 2, now);
        for i in 0..10_000u32 {
            lockout.record_failure(i.to_string().as_bytes(), now);
        }
        assert_eq!(lockout.tracked(), 50);
        assert_eq!(lockout.check(IP, now), Err(60));
    }

    #[test]
    fn when_every_tracked_address_is_locked_new_ones_are_not_tracked() {
        let now = Instant::now();
        let mut lockout = Lockout::new(1, 3);
        for ip in [&b"a"[..], b"b", b"c", b"d"] {
            lockout.record_failure(ip, now);
        }
        assert_eq!(lockout.tracked(), 3);
        for ip in [&b"a"[..], b"b", b"c"] {
            assert!(lockout.check(ip, now).is_err());
        }
        assert!(lockout.check(b"d", now).is_ok());
        assert!(
            lockout.check(b"a", now + WINDOW).is_ok(),
            "expiry still frees them"
        );
    }
}
