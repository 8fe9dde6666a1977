//! The failure lockout driven by arbitrary operations on arbitrary addresses, with a table of
//! eight entries so that eviction runs all the time: it must never panic, never hold more than
//! its capacity, and always count a new address (after `max` failures it is locked out).
#![no_main]

use std::time::{Duration, Instant};

use http_muc_kick_core::lockout::Lockout;
use libfuzzer_sys::fuzz_target;

const CAPACITY: usize = 8;

/// A few spellings that share keys, and raw bytes for everything else.
fn address(selector: u8, data: &[u8]) -> Vec<u8> {
    let n = selector % 16;
    match selector / 16 {
        0 => format!("10.0.0.{n}").into_bytes(),
        1 => format!("::ffff:10.0.0.{n}").into_bytes(),
        2 => format!("2001:db8:0:{n}::1").into_bytes(),
        3 => format!("2001:DB8:0:{n}:ffff::2").into_bytes(),
        _ => data.get(..usize::from(n)).unwrap_or(data).to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&max, ops)) = data.split_first() else {
        return;
    };
    let max = u32::from(max % 4) + 1;
    let mut lockout = Lockout::new(max, CAPACITY);
    let mut now = Instant::now();
    for (i, op) in ops.chunks(2).enumerate() {
        let (kind, selector) = match op {
            [kind, selector] => (*kind, *selector),
            _ => return,
        };
        let ip = address(selector, ops.get(i..).unwrap_or_default());
        match kind % 4 {
            0 => {
                let _ = lockout.check(&ip, now);
            }
            1 => lockout.record_failure(&ip, now),
            2 => {
                for _ in 0..max {
                    lockout.record_failure(&ip, now);
                }
                assert!(lockout.check(&ip, now).is_err(), "a new address was not counted");
            }
            _ => now += Duration::from_secs(u64::from(selector % 90)),
        }
        assert!(lockout.tracked() <= CAPACITY);
    }
});
