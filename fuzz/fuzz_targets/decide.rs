//! Arbitrary bytes as Authorization header and body: the core must never panic, and every
//! refusal must render a JSON body whose condition matches its status.
#![no_main]

use std::time::Instant;

use http_muc_kick_core::{HttpRequest, Kicker, Settings, response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (authorization, body) = match data.iter().position(|&b| b == b'\n') {
        Some(split) => (data.get(..split), data.get(split + 1..).unwrap_or_default()),
        None => (None, data),
    };
    let Ok(mut kicker) = Kicker::new(&Settings {
        host: "muc.localhost",
        authorization: &["Bearer fuzz"],
        max_body_size: Some(1_000_000.0),
        max_auth_failures: Some(0.0),
    }) else {
        return;
    };
    for authorization in [authorization, Some(&b"Bearer fuzz"[..])] {
        let request = HttpRequest {
            method: b"POST",
            ip: b"192.0.2.1",
            authorization,
            transfer_encoding: None,
            body,
        };
        match kicker.decide(&request, Instant::now()) {
            Ok(kick) => {
                let _ = response::kicked_body(&kick.room, &[kick.room.as_ref()]);
            }
            Err(err) => {
                let rendered = kicker.body_for(&err);
                assert!(rendered.contains(err.condition()));
            }
        }
    }
});
