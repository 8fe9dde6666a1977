//! Per-address counting of failed authorizations, in memory bounded in bytes and with a cost
//! per request that does not depend on how full the table is.
//!
//! Entries live in a slab of at most `capacity` fixed-size slots, found through a hash map from
//! the address's canonical [`Key`]. Two intrusive lists thread the slab:
//! - `windows`: every entry in the order its window opened. A window's end (its first failure
//!   plus [`WINDOW`]) is also the end of its lockout, so this is the order lockouts end in.
//! - `unlocked`: the entries not locked out, least recently failed first.
//!
//! When the table is full, a new address takes the slot of an ended window, else of the least
//! recently failed address that is not locked out, else of the lockout that ends soonest: a new
//! address is always counted. Ended windows are forgotten lazily, when their slot is looked at.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How long a lockout window lasts, counted from an address's first failure.
pub const WINDOW: Duration = Duration::from_secs(60);

/// How many addresses are tracked at most.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// An address in canonical form, fixed in size whatever the caller sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// An IPv4 address, also when written as IPv4-mapped IPv6.
    V4([u8; 4]),
    /// The /64 prefix of an IPv6 address.
    V6Prefix([u8; 8]),
    /// The first 16 bytes of the SHA-256 of a value that is not an IP address.
    Other([u8; 16]),
}

impl Key {
    /// The canonical key of `ip` as Prosody reports it (`request.ip`, maybe from
    /// `X-Forwarded-For`).
    pub fn of(ip: &[u8]) -> Self {
        let parsed = std::str::from_utf8(ip)
            .ok()
            .and_then(|text| text.parse::<IpAddr>().ok());
        match parsed {
            Some(IpAddr::V4(v4)) => Self::V4(v4.octets()),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4.octets()),
                None => {
                    let [a, b, c, d, e, f, g, h, ..] = v6.octets();
                    Self::V6Prefix([a, b, c, d, e, f, g, h])
                }
            },
            None => {
                let digest = Sha256::digest(ip);
                let mut prefix = [0; 16];
                prefix.copy_from_slice(&digest[..16]);
                Self::Other(prefix)
            }
        }
    }
}

/// A slab index; [`NIL`] ends a list.
type Slot = u32;
const NIL: Slot = Slot::MAX;

/// Links of one entry in one intrusive list.
#[derive(Debug, Clone, Copy)]
struct Links {
    prev: Slot,
    next: Slot,
}

const UNLINKED: Links = Links {
    prev: NIL,
    next: NIL,
};

#[derive(Debug)]
struct Entry {
    key: Key,
    first_failure: Instant,
    failures: u32,
    windows: Links,
    unlocked: Links,
}

/// Ends of one intrusive list.
#[derive(Debug, Clone, Copy)]
struct List {
    head: Slot,
    tail: Slot,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
};

/// Which of an entry's two links a list uses.
#[derive(Debug, Clone, Copy)]
enum Which {
    Windows,
    Unlocked,
}

/// Failed authorizations per address within [`WINDOW`] of the address's first failure.
#[derive(Debug)]
pub struct Lockout {
    max_failures: u32,
    capacity: usize,
    slots: HashMap<Key, Slot>,
    entries: Vec<Entry>,
    windows: List,
    unlocked: List,
    /// Primitive steps taken (map and list operations), for the tests' cost-per-request check.
    #[cfg(test)]
    steps: u64,
}

impl Lockout {
    /// Allows `max_failures` failures per window (0 disables the lockout), tracking at most
    /// `capacity` addresses (at least one).
    pub fn new(max_failures: u32, capacity: usize) -> Self {
        Self {
            max_failures,
            capacity: capacity.clamp(1, NIL as usize),
            slots: HashMap::new(),
            entries: Vec::new(),
            windows: EMPTY,
            unlocked: EMPTY,
            #[cfg(test)]
            steps: 0,
        }
    }

    /// `Err(whole seconds until the lockout ends)` when `ip` has used up its failures.
    pub fn check(&mut self, ip: &[u8], now: Instant) -> Result<(), u64> {
        self.check_key(Key::of(ip), now)
    }

    /// [`Lockout::check`] for an address already in canonical form.
    pub fn check_key(&mut self, key: Key, now: Instant) -> Result<(), u64> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let max_failures = self.max_failures;
        let Some(entry) = self.live_entry(key, now) else {
            return Ok(());
        };
        if entry.failures < max_failures {
            return Ok(());
        }
        let left = WINDOW.saturating_sub(now.saturating_duration_since(entry.first_failure));
        Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
    }

    /// Counts one failed authorization from `ip`.
    pub fn record_failure(&mut self, ip: &[u8], now: Instant) {
        self.record_failure_key(Key::of(ip), now);
    }

    /// [`Lockout::record_failure`] for an address already in canonical form.
    pub fn record_failure_key(&mut self, key: Key, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let slot = match self.find(key) {
            Some(slot) if self.ended(slot, now) => {
                self.restart(slot, now);
                slot
            }
            Some(slot) => slot,
            None => self.open(key, now),
        };
        self.count_failure(slot);
    }

    /// How many addresses are tracked now (ended windows included until their slot is reused).
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    fn find(&mut self, key: Key) -> Option<Slot> {
        self.step();
        self.slots.get(&key).copied()
    }

    fn entry(&self, slot: Slot) -> Option<&Entry> {
        self.entries.get(slot as usize)
    }

    fn entry_mut(&mut self, slot: Slot) -> Option<&mut Entry> {
        self.entries.get_mut(slot as usize)
    }

    /// The entry of `key` if its window has not ended.
    fn live_entry(&mut self, key: Key, now: Instant) -> Option<&Entry> {
        let slot = self.find(key)?;
        if self.ended(slot, now) {
            return None;
        }
        self.entry(slot)
    }

    fn ended(&self, slot: Slot, now: Instant) -> bool {
        self.entry(slot)
            .is_some_and(|e| now.saturating_duration_since(e.first_failure) >= WINDOW)
    }

    fn locked(&self, slot: Slot) -> bool {
        self.entry(slot)
            .is_some_and(|e| e.failures >= self.max_failures)
    }

    /// A slot for a new address: a fresh one while there is room, else the victim's.
    fn open(&mut self, key: Key, now: Instant) -> Slot {
        if self.entries.len() < self.capacity {
            let slot = self.entries.len() as Slot;
            self.entries.push(Entry {
                key,
                first_failure: now,
                failures: 0,
                windows: UNLINKED,
                unlocked: UNLINKED,
            });
            self.step();
            self.slots.insert(key, slot);
            self.push_back(Which::Windows, slot);
            self.push_back(Which::Unlocked, slot);
            return slot;
        }
        let victim = self.victim(now);
        let old_key = self.entry(victim).map(|e| e.key);
        if let Some(old_key) = old_key {
            self.step();
            self.slots.remove(&old_key);
        }
        if let Some(entry) = self.entry_mut(victim) {
            entry.key = key;
        }
        self.step();
        self.slots.insert(key, victim);
        self.restart(victim, now);
        victim
    }

    /// SPEC's order: an ended window, else the least recently failed address that is not
    /// locked out, else the lockout that ends soonest.
    fn victim(&self, now: Instant) -> Slot {
        let oldest = self.windows.head;
        if self.ended(oldest, now) || self.unlocked.head == NIL {
            oldest
        } else {
            self.unlocked.head
        }
    }

    /// Opens a new window in `slot` at `now`, with no failures yet.
    fn restart(&mut self, slot: Slot, now: Instant) {
        let was_locked = self.locked(slot);
        if let Some(entry) = self.entry_mut(slot) {
            entry.first_failure = now;
            entry.failures = 0;
        }
        self.unlink(Which::Windows, slot);
        self.push_back(Which::Windows, slot);
        if !was_locked {
            self.unlink(Which::Unlocked, slot);
        }
        self.push_back(Which::Unlocked, slot);
    }

    /// One more failure: the entry becomes the most recently failed, or locked out.
    fn count_failure(&mut self, slot: Slot) {
        if self.locked(slot) {
            if let Some(entry) = self.entry_mut(slot) {
                entry.failures = entry.failures.saturating_add(1);
            }
            return;
        }
        if let Some(entry) = self.entry_mut(slot) {
            entry.failures += 1;
        }
        self.unlink(Which::Unlocked, slot);
        if !self.locked(slot) {
            self.push_back(Which::Unlocked, slot);
        }
    }

    fn links(&mut self, which: Which, slot: Slot) -> Option<&mut Links> {
        let entry = self.entry_mut(slot)?;
        Some(match which {
            Which::Windows => &mut entry.windows,
            Which::Unlocked => &mut entry.unlocked,
        })
    }

    fn list(&mut self, which: Which) -> &mut List {
        match which {
            Which::Windows => &mut self.windows,
            Which::Unlocked => &mut self.unlocked,
        }
    }

    fn push_back(&mut self, which: Which, slot: Slot) {
        self.step();
        let tail = self.list(which).tail;
        if let Some(links) = self.links(which, slot) {
            *links = Links {
                prev: tail,
                next: NIL,
            };
        }
        match self.links(which, tail) {
            Some(tail_links) => tail_links.next = slot,
            None => self.list(which).head = slot,
        }
        self.list(which).tail = slot;
    }

    fn unlink(&mut self, which: Which, slot: Slot) {
        self.step();
        let Some(&mut Links { prev, next }) = self.links(which, slot) else {
            return;
        };
        match self.links(which, prev) {
            Some(prev_links) => prev_links.next = next,
            None => self.list(which).head = next,
        }
        match self.links(which, next) {
            Some(next_links) => next_links.prev = prev,
            None => self.list(which).tail = prev,
        }
        if let Some(links) = self.links(which, slot) {
            *links = UNLINKED;
        }
    }

    #[cfg(test)]
    fn step(&mut self) {
        self.steps += 1;
    }

    #[cfg(not(test))]
    fn step(&mut self) {}
}

#[cfg(test)]
mod tests;
