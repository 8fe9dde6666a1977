//! Arbitrary bytes as a view's method, the caller's address, an Authorization value and the query,
//! for each view, to a kicker whose lockout is on (two failures per address): the core must never
//! panic, every refusal must render a body carrying its condition, every accepted view must render
//! its body, and a locked-out address must stay locked for the rest of the input.
#![no_main]

use std::time::Instant;

use http_muc_kick_core::kicker::ViewHttpRequest;
use http_muc_kick_core::response::{self, BanEntry};
use http_muc_kick_core::view::{View, ViewRequest};
use http_muc_kick_core::{KickError, Kicker, Settings};
use libfuzzer_sys::fuzz_target;

/// Splits off the part before the first `\n`, or `None` when there is none.
fn field(data: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(end) => (data.get(..end), data.get(end + 1..).unwrap_or_default()),
        None => (None, data),
    }
}

fuzz_target!(|data: &[u8]| {
    let (method, rest) = field(data);
    let (ip, rest) = field(rest);
    let (authorization, query) = field(rest);
    let Ok(mut kicker) = Kicker::new(&Settings {
        host: "muc.localhost",
        authorization: &["Bearer fuzz"],
        max_body_size: None,
        max_auth_failures: Some(2.0),
    }) else {
        return;
    };
    let now = Instant::now();
    let mut locked = false;
    for (view, authorization) in [
        (View::Occupants, authorization),
        (View::Bans, Some(&b"Bearer fuzz"[..])),
        (View::Occupants, None),
        (View::Bans, None),
        (View::Occupants, Some(b"Bearer fuzz")),
    ] {
        let request = ViewHttpRequest {
            method: method.unwrap_or(b"GET"),
            ip: ip.unwrap_or_default(),
            authorization,
            query,
        };
        match kicker.decide_view(view, &request, now) {
            Ok(accepted) => {
                assert!(!locked, "a locked-out address got through");
                let body = match &accepted.view {
                    ViewRequest::RoomOccupants { room } => response::occupants_body(room, &[]),
                    ViewRequest::AccountRooms { jid } => response::account_rooms_body(jid, &[]),
                    ViewRequest::Bans { room } => response::bans_body(
                        room,
                        &[BanEntry {
                            jid: room.to_string(),
                            until: None,
                            reason: Some(room.to_string()),
                            by_module: false,
                        }],
                    ),
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
