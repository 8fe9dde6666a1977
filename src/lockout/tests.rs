use proptest::prelude::*;

use super::*;

const IP: &[u8] = b"203.0.113.7";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn fail(lockout: &mut Lockout, ip: &[u8], times: u32, now: Instant) {
    for _ in 0..times {
        lockout.record_failure(ip, now);
    }
}

fn locked(lockout: &mut Lockout, ip: &[u8], now: Instant) -> bool {
    lockout.check(ip, now).is_err()
}

fn v4(n: u32) -> Vec<u8> {
    std::net::Ipv4Addr::from(n).to_string().into_bytes()
}

#[test]
fn locks_out_after_max_failures_until_the_window_ends() {
    let start = Instant::now();
    let mut lockout = Lockout::new(3, 100);
    fail(&mut lockout, IP, 2, start);
    assert_eq!(lockout.check(IP, start), Ok(()));
    fail(&mut lockout, IP, 1, start + secs(10));
    assert_eq!(lockout.check(IP, start + secs(10)), Err(50));
    assert_eq!(
        lockout.check(IP, start + Duration::from_millis(59_500)),
        Err(1)
    );
    assert_eq!(
        lockout.check(IP, start + Duration::from_millis(59_999)),
        Err(1)
    );
    assert_eq!(lockout.check(IP, start + WINDOW), Ok(()));
}

#[test]
fn retry_after_is_the_full_window_right_after_the_first_failure() {
    let now = Instant::now();
    let mut lockout = Lockout::new(1, 10);
    fail(&mut lockout, IP, 1, now);
    assert_eq!(lockout.check(IP, now), Err(60));
}

#[test]
fn failures_after_the_window_ended_start_a_new_window() {
    let start = Instant::now();
    let mut lockout = Lockout::new(2, 10);
    fail(&mut lockout, IP, 2, start);
    assert!(locked(&mut lockout, IP, start));
    let later = start + WINDOW + secs(1);
    fail(&mut lockout, IP, 1, later);
    assert!(
        !locked(&mut lockout, IP, later),
        "one failure in the new window"
    );
    fail(&mut lockout, IP, 1, later + secs(30));
    assert_eq!(lockout.check(IP, later + secs(30)), Err(30));
}

#[test]
fn an_unlocked_window_also_ends_sixty_seconds_after_its_first_failure() {
    let start = Instant::now();
    let mut lockout = Lockout::new(2, 10);
    fail(&mut lockout, IP, 1, start);
    fail(&mut lockout, IP, 1, start + WINDOW);
    assert!(!locked(&mut lockout, IP, start + WINDOW));
}

#[test]
fn counts_each_address_separately() {
    let now = Instant::now();
    let mut lockout = Lockout::new(1, 100);
    fail(&mut lockout, IP, 1, now);
    assert!(locked(&mut lockout, IP, now));
    assert!(!locked(&mut lockout, b"198.51.100.1", now));
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
fn spellings_of_one_address_share_a_counter() {
    let now = Instant::now();
    for spellings in [
        &[
            "2001:db8::1",
            "2001:DB8::1",
            "2001:0db8:0:0::1",
            "2001:db8:0:0:0:0:0:1",
        ][..],
        &["203.0.113.7", "::ffff:203.0.113.7", "::FFFF:cb00:7107"],
    ] {
        let mut lockout = Lockout::new(spellings.len() as u32, 10);
        for ip in spellings {
            assert!(!locked(&mut lockout, ip.as_bytes(), now), "{ip}");
            lockout.record_failure(ip.as_bytes(), now);
        }
        for ip in spellings {
            assert!(locked(&mut lockout, ip.as_bytes(), now), "{ip}");
        }
        assert_eq!(lockout.tracked(), 1);
    }
}

#[test]
fn ipv6_addresses_count_per_64_prefix() {
    let now = Instant::now();
    let mut lockout = Lockout::new(2, 10);
    fail(&mut lockout, b"2001:db8::1", 1, now);
    fail(&mut lockout, b"2001:db8::ffff:1", 1, now);
    assert!(locked(&mut lockout, b"2001:db8::abcd", now));
    assert!(!locked(&mut lockout, b"2001:db8:0:1::1", now));
    assert_eq!(
        Key::of(b"2001:db8:0:1::1"),
        Key::V6Prefix([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1])
    );
}

#[test]
fn keys_are_canonical_and_fixed_in_size() {
    assert_eq!(Key::of(b"203.0.113.7"), Key::V4([203, 0, 113, 7]));
    assert_eq!(Key::of(b"::ffff:203.0.113.7"), Key::V4([203, 0, 113, 7]));
    let long = vec![b'x'; 9000];
    let Key::Other(digest) = Key::of(&long) else {
        panic!("not an IP address")
    };
    assert_eq!(digest.len(), 16);
    assert_ne!(Key::of(b"not an ip"), Key::of(b"not an ip "));
    assert_eq!(Key::of(b"not an ip"), Key::of(b"not an ip"));
    // Text that is not exactly an address is not guessed at.
    assert!(matches!(Key::of(b" 203.0.113.7"), Key::Other(_)));
    assert!(matches!(Key::of(b"[2001:db8::1]"), Key::Other(_)));
    assert!(matches!(Key::of(b"\xff\xfe"), Key::Other(_)));
    assert!(std::mem::size_of::<Key>() <= 17);
}

#[test]
fn when_full_the_least_recently_failed_unlocked_address_goes_first() {
    let now = Instant::now();
    let mut lockout = Lockout::new(3, 3);
    fail(&mut lockout, b"10.0.0.1", 1, now);
    fail(&mut lockout, b"10.0.0.2", 1, now + secs(1));
    fail(&mut lockout, b"10.0.0.3", 1, now + secs(2));
    // 10.0.0.1 failed again: now 10.0.0.2 is the least recently failed.
    fail(&mut lockout, b"10.0.0.1", 1, now + secs(3));
    fail(&mut lockout, b"10.0.0.4", 1, now + secs(4));
    assert_eq!(lockout.tracked(), 3);
    let t = now + secs(5);
    fail(&mut lockout, b"10.0.0.1", 1, t);
    assert!(
        locked(&mut lockout, b"10.0.0.1", t),
        "kept its two failures"
    );
    fail(&mut lockout, b"10.0.0.2", 2, t);
    assert!(
        !locked(&mut lockout, b"10.0.0.2", t),
        "forgotten, counts anew"
    );
}

#[test]
fn when_full_locked_addresses_stay_locked_while_an_unlocked_one_can_go() {
    let now = Instant::now();
    let mut lockout = Lockout::new(2, 50);
    fail(&mut lockout, IP, 2, now);
    for i in 0..10_000u32 {
        lockout.record_failure(&v4(i), now + Duration::from_millis(u64::from(i)));
    }
    assert_eq!(lockout.tracked(), 50);
    assert_eq!(lockout.check(IP, now + secs(10)), Err(50));
}

#[test]
fn when_every_entry_is_locked_the_soonest_ending_lockout_goes_and_the_new_address_counts() {
    let now = Instant::now();
    let mut lockout = Lockout::new(2, 3);
    // Windows open in the order b, a, c; a is locked last but its lockout ends second.
    fail(&mut lockout, b"10.0.0.2", 1, now);
    fail(&mut lockout, b"10.0.0.1", 1, now + secs(1));
    fail(&mut lockout, b"10.0.0.3", 2, now + secs(2));
    fail(&mut lockout, b"10.0.0.1", 1, now + secs(3));
    fail(&mut lockout, b"10.0.0.2", 1, now + secs(4));
    let t = now + secs(5);
    fail(&mut lockout, b"10.0.0.4", 2, t);
    assert!(
        locked(&mut lockout, b"10.0.0.4", t),
        "a new address is counted"
    );
    assert!(
        !locked(&mut lockout, b"10.0.0.2", t),
        "soonest end forgotten"
    );
    assert!(locked(&mut lockout, b"10.0.0.1", t));
    assert!(locked(&mut lockout, b"10.0.0.3", t));
    assert_eq!(lockout.tracked(), 3);
}

#[test]
fn when_full_an_ended_window_goes_before_any_live_one() {
    let now = Instant::now();
    let mut lockout = Lockout::new(5, 2);
    fail(&mut lockout, b"10.0.0.1", 3, now);
    fail(&mut lockout, b"10.0.0.2", 1, now + secs(30));
    fail(&mut lockout, b"10.0.0.1", 1, now + secs(40));
    // 10.0.0.2 is the least recently failed, but 10.0.0.1's window has ended.
    let t = now + WINDOW + secs(1);
    fail(&mut lockout, b"10.0.0.3", 1, t);
    fail(&mut lockout, b"10.0.0.2", 4, t);
    assert!(
        locked(&mut lockout, b"10.0.0.2", t),
        "kept its first failure"
    );
}

#[test]
fn a_locked_window_that_ended_and_fails_again_becomes_the_most_recently_failed() {
    let now = Instant::now();
    let mut lockout = Lockout::new(3, 3);
    fail(&mut lockout, b"10.0.0.1", 3, now);
    fail(&mut lockout, b"10.0.0.2", 1, now + secs(30));
    fail(&mut lockout, b"10.0.0.3", 1, now + secs(31));
    // 10.0.0.1's lockout ended; its new window makes it the most recently failed.
    fail(&mut lockout, b"10.0.0.1", 1, now + secs(61));
    let t = now + secs(62);
    fail(&mut lockout, b"10.0.0.4", 1, t);
    fail(&mut lockout, b"10.0.0.1", 2, t);
    assert!(locked(&mut lockout, b"10.0.0.1", t), "10.0.0.1 kept");
    fail(&mut lockout, b"10.0.0.3", 2, t);
    assert!(locked(&mut lockout, b"10.0.0.3", t), "10.0.0.3 kept");
}

#[test]
fn an_unlocked_window_that_ended_and_fails_again_becomes_the_most_recently_failed() {
    let now = Instant::now();
    let mut lockout = Lockout::new(3, 3);
    fail(&mut lockout, b"10.0.0.1", 1, now);
    fail(&mut lockout, b"10.0.0.2", 1, now + secs(10));
    fail(&mut lockout, b"10.0.0.3", 1, now + secs(20));
    fail(&mut lockout, b"10.0.0.1", 1, now + secs(61));
    let t = now + secs(62);
    fail(&mut lockout, b"10.0.0.4", 1, t);
    fail(&mut lockout, b"10.0.0.1", 2, t);
    assert!(locked(&mut lockout, b"10.0.0.1", t), "10.0.0.1 kept");
    fail(&mut lockout, b"10.0.0.3", 2, t);
    assert!(locked(&mut lockout, b"10.0.0.3", t), "10.0.0.3 kept");
    fail(&mut lockout, b"10.0.0.2", 2, t);
    assert!(
        !locked(&mut lockout, b"10.0.0.2", t),
        "10.0.0.2 was the one forgotten"
    );
}

#[test]
fn a_locked_address_that_fails_again_stays_locked_and_tracked_once() {
    let now = Instant::now();
    let mut lockout = Lockout::new(1, 4);
    fail(&mut lockout, IP, 100, now);
    assert_eq!(lockout.tracked(), 1);
    assert_eq!(lockout.check(IP, now + secs(59)), Err(1));
}

#[test]
fn a_capacity_of_zero_still_tracks_one_address() {
    let now = Instant::now();
    let mut lockout = Lockout::new(1, 0);
    fail(&mut lockout, IP, 1, now);
    assert!(locked(&mut lockout, IP, now));
}

/// The slots of `list`, walked forwards, after checking each back link.
fn walk(lockout: &Lockout, which: Which) -> Vec<Slot> {
    let list = match which {
        Which::Windows => lockout.windows,
        Which::Unlocked => lockout.unlocked,
    };
    let links = |slot: Slot| {
        let entry = &lockout.entries[slot as usize];
        match which {
            Which::Windows => entry.windows,
            Which::Unlocked => entry.unlocked,
        }
    };
    let (mut slots, mut prev, mut slot) = (Vec::new(), NIL, list.head);
    while slot != NIL {
        assert!(slots.len() <= lockout.entries.len(), "a cycle");
        assert_eq!(links(slot).prev, prev, "a broken back link");
        slots.push(slot);
        (prev, slot) = (slot, links(slot).next);
    }
    assert_eq!(list.tail, prev, "a wrong tail");
    slots
}

/// Every entry is on the windows list, in the order the windows opened; the unlocked list holds
/// exactly the entries that are not locked out; the map finds every entry by its key.
fn assert_consistent(lockout: &Lockout) {
    let windows = walk(lockout, Which::Windows);
    assert_eq!(windows.len(), lockout.entries.len());
    let opened: Vec<Instant> = windows
        .iter()
        .map(|&slot| lockout.entries[slot as usize].first_failure)
        .collect();
    assert!(
        opened.windows(2).all(|pair| pair[0] <= pair[1]),
        "windows out of order"
    );
    let mut unlocked = walk(lockout, Which::Unlocked);
    unlocked.sort_unstable();
    let expected: Vec<Slot> = (0..lockout.entries.len() as Slot)
        .filter(|&slot| !lockout.locked(slot))
        .collect();
    assert_eq!(unlocked, expected);
    assert_eq!(lockout.slots.len(), lockout.entries.len());
    for (slot, entry) in lockout.entries.iter().enumerate() {
        assert_eq!(lockout.slots.get(&entry.key), Some(&(slot as Slot)));
    }
}

/// Operations a request may cause: a check, or a failure.
#[derive(Debug, Clone)]
enum Op {
    Check(u16),
    Fail(u16),
    FailOnce(u16),
    Wait(u8),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            (0u16..300).prop_map(Op::Check),
            (0u16..300).prop_map(Op::Fail),
            (0u16..300).prop_map(Op::FailOnce),
            (0u8..90).prop_map(Op::Wait),
        ],
        1..600,
    )
}

/// The most primitive steps (map look-ups and updates, list links) one request may take.
const MAX_STEPS_PER_REQUEST: u64 = 12;

proptest! {
    #[test]
    fn never_more_than_capacity_and_a_new_address_is_always_counted(
        max in 1u32..4, capacity in 1usize..40, ops in ops()
    ) {
        let mut lockout = Lockout::new(max, capacity);
        let mut now = Instant::now();
        for op in ops {
            match op {
                Op::Check(n) => { let _ = lockout.check(&v4(n.into()), now); }
                Op::Fail(n) => {
                    let ip = v4(n.into());
                    fail(&mut lockout, &ip, max, now);
                    prop_assert!(locked(&mut lockout, &ip, now), "{n} not counted");
                }
                Op::FailOnce(n) => lockout.record_failure(&v4(n.into()), now),
                Op::Wait(s) => now += secs(s.into()),
            }
            prop_assert!(lockout.tracked() <= capacity);
            assert_consistent(&lockout);
        }
    }

    #[test]
    fn steps_per_request_do_not_depend_on_fill(
        max in 1u32..4, fill in 0u32..2000, ops in ops()
    ) {
        let mut lockout = Lockout::new(max, 2000);
        let mut now = Instant::now();
        for i in 0..fill {
            fail(&mut lockout, &v4(1_000_000 + i), max, now);
        }
        for op in ops {
            let before = lockout.steps;
            match op {
                Op::Check(n) => { let _ = lockout.check(&v4(n.into()), now); }
                Op::Fail(n) | Op::FailOnce(n) => lockout.record_failure(&v4(n.into()), now),
                Op::Wait(s) => now += secs(s.into()),
            }
            prop_assert!(lockout.steps - before <= MAX_STEPS_PER_REQUEST);
        }
    }
}
