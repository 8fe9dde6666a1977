//! Arbitrary bytes as the caller's address, Authorization header, transfer coding and body, to
//! a kicker whose lockout is on (two failures per address): the core must never panic, every
//! refusal must render a JSON body whose condition matches its status, every accepted request
//! must render its 200 body, and a locked-out address must stay locked for the rest of the input.
#![no_main]

use std::time::Instant;

use http_muc_kick_core::{Action, HttpRequest, KickError, Kicker, Settings, response};
use libfuzzer_sys::fuzz_target;

/// Splits off the part before the first `\n`, or `None` when there is none.
fn field(data: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(end) => (data.get(..end), data.get(end + 1..).unwrap_or_default()),
        None => (None, data),
    }
}

fuzz_target!(|data: &[u8]| {
    let (ip, rest) = field(data);
    let (authorization, rest) = field(rest);
    let (transfer_encoding, body) = match rest.first() {
        Some(b'T') => (Some(&b"chunked"[..]), rest.get(1..).unwrap_or_default()),
        _ => (None, rest),
    };
    let Ok(mut kicker) = Kicker::new(&Settings {
        host: "muc.localhost",
        authorization: &["Bearer fuzz"],
        max_body_size: Some(1_000_000.0),
        max_auth_failures: Some(2.0),
    }) else {
        return;
    };
    let now = Instant::now();
    let mut locked = false;
    for authorization in [authorization, Some(&b"Bearer fuzz"[..]), None, None, Some(b"Bearer fuzz")] {
        let request = HttpRequest {
            method: b"POST",
            ip: ip.unwrap_or_default(),
            authorization,
            transfer_encoding,
            body,
        };
        match kicker.decide(&request, now) {
            Ok(accepted) => {
                assert!(!locked, "a locked-out address got through");
                let body = match &accepted.action {
                    Action::Kick { room, .. } | Action::Unban { room, .. } => {
                        response::kicked_body(room, &[room.as_ref()])
                    }
                    Action::KickEverywhere { jid, .. } => {
                        response::rooms_body(&[(jid.as_ref(), vec![jid.as_ref()])])
                    }
                };
                assert!(body.starts_with('{'));
            }
            Err(err) => {
                locked |= matches!(err, KickError::TooManyFailures { .. });
                let rendered = kicker.body_for(&err);
                assert!(rendered.contains(err.condition()));
            }
        }
    }
});
