//! Time per `Kicker::decide` for typical requests, without Lua or Prosody.
//! `cargo bench --no-default-features` (part of `make bench`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use http_muc_kick_core::{HttpRequest, Kicker, Settings};

const SECRET: &[u8] = b"Bearer 6f1c2a9e8d7b4c3a";

fn measure(name: &str, kicker: &mut Kicker, authorization: &[u8], body: &[u8]) {
    let request = HttpRequest {
        method: b"POST",
        ip: b"192.0.2.1",
        authorization: Some(authorization),
        transfer_encoding: None,
        body,
    };
    let iterations = 200_000u32;
    let start = Instant::now();
    for _ in 0..iterations {
        let _ = black_box(kicker.decide(black_box(&request), start));
    }
    let per_call: Duration = start.elapsed() / iterations;
    println!("{name:<40} {:>8} ns/request", per_call.as_nanos());
}

fn main() {
    let mut kicker = Kicker::new(&Settings {
        host: "muc.localhost",
        authorization: &[SECRET],
        max_body_size: None,
        max_auth_failures: Some(0.0),
    })
    .expect("valid settings");
    let valid = br#"{"muc": "snuggery@muc.localhost", "nickname": "Bob", "reason": "Spamming"}"#;
    measure("valid kick by nickname", &mut kicker, SECRET, valid);
    measure(
        "valid kick, escaped strings",
        &mut kicker,
        SECRET,
        br#"{"muc": "snuggery@muc.localhost", "nickname": "B\u00f6b", "reason": "a\nb"}"#,
    );
    measure(
        "400 trailing comma",
        &mut kicker,
        SECRET,
        br#"{"muc": "r@m", "nickname": "B",}"#,
    );
    measure("401 wrong token", &mut kicker, b"Bearer nope", valid);
    let big = format!(
        r#"{{"muc": "r@m", "nickname": "B", "x": "{}"}}"#,
        "x".repeat(16_000)
    );
    measure(
        "valid kick, 16 KB body",
        &mut kicker,
        SECRET,
        big.as_bytes(),
    );
}
