//! Arbitrary bytes as the caller's address, Authorization header, transfer coding and body, to
//! a kicker whose lockout is on (two failures per address): the core must never panic, every
//! refusal must render a JSON body whose condition matches its status, every accepted request
//! must render its 200 body, and a locked-out address must stay locked for the rest of the input.
#![no_main]

use std::time::Instant;

use http_muc_kick_core::request::Item;
use http_muc_kick_core::{Action, HttpRequest, KickError, Kicker, Settings, response};
use libfuzzer_sys::fuzz_target;

/// Splits off the part before the first `\n`, or `None` when there is none.
fn field(data: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(end) => (data.get(..end), data.get(end + 1..).unwrap_or_default()),
        None => (None, data),
    }
}

/// The results body of `items`, each reported found (200) and missing (404) in turn.
fn results(room: Option<&str>, field: &str, items: &[Item<'_>]) -> String {
    let found = response::kicked_body(room.unwrap_or_default(), &["x"]);
    let missing = response::error_body(&KickError::OccupantNotFound);
    let outcomes: Vec<response::Outcome<'_>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| response::Outcome {
            given: &item.given,
            status: if i % 2 == 0 { 200 } else { 404 },
            body: if i % 2 == 0 { &found } else { &missing },
        })
        .collect();
    let body = response::results_body(room, field, &outcomes);
    assert!(!body.contains("internal-server-error"));
    body
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
                    Action::KickMany { room, targets, .. } => {
                        assert!((1..=100).contains(&targets.items().len()));
                        results(Some(room), targets.field(), targets.items())
                    }
                    Action::UnbanMany { room, jids } => results(Some(room), "jid", jids),
                    Action::KickEverywhereMany { jids, .. } => results(None, "jid", jids),
                    Action::Keep { room, keep, dry_run, .. } => {
                        let given: Vec<&str> = keep.iter().map(|i| i.given.as_ref()).collect();
                        response::keep_body(room, &given, &given, *dry_run)
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
