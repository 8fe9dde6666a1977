//! SPEC.md "Seeing and reconciling" → Views: what the core decides for a view request.

use std::time::Instant;

use http_muc_kick_core::kicker::{PreparedView, ViewHttpRequest};
use http_muc_kick_core::view::{View, ViewRequest};
use http_muc_kick_core::{HttpRequest, KickError, Kicker, Settings};

const SECRET: &str = "Bearer s3cret";
const IP: &[u8] = b"192.0.2.1";

fn kicker(max_auth_failures: Option<f64>) -> Kicker {
    Kicker::new(&Settings {
        host: "muc.localhost",
        authorization: &[SECRET],
        max_body_size: None,
        max_auth_failures,
    })
    .unwrap()
}

fn get<'a>(
    method: &'a [u8],
    authorization: Option<&'a str>,
    query: &'a str,
) -> ViewHttpRequest<'a> {
    ViewHttpRequest {
        method,
        ip: IP,
        authorization: authorization.map(str::as_bytes),
        query: query.as_bytes(),
    }
}

fn view(which: View, query: &str) -> Result<PreparedView<'_>, KickError> {
    kicker(None).decide_view(which, &get(b"GET", Some(SECRET), query), Instant::now())
}

fn status(result: Result<PreparedView<'_>, KickError>) -> u16 {
    result.map_or_else(|e| e.status(), |_| 200)
}

#[test]
fn get_and_head_are_allowed_every_other_method_is_the_views_405() {
    for method in [&b"GET"[..], b"HEAD"] {
        let decided = kicker(None).decide_view(
            View::Occupants,
            &get(method, Some(SECRET), "muc=r@muc.localhost"),
            Instant::now(),
        );
        assert!(decided.is_ok(), "{decided:?}");
    }
    let k = kicker(None);
    for method in [
        &b"POST"[..],
        b"PUT",
        b"DELETE",
        b"PATCH",
        b"TRACE",
        b"OPTIONS",
        b"get",
    ] {
        for auth in [None, Some(SECRET), Some("Bearer no")] {
            let err = kicker(None)
                .decide_view(
                    View::Bans,
                    &get(method, auth, "muc=r@muc.localhost"),
                    Instant::now(),
                )
                .unwrap_err();
            assert_eq!(err, KickError::ViewMethodNotAllowed);
            assert_eq!((err.status(), err.condition()), (405, "method-not-allowed"));
            let fixed = k.fixed(&err).unwrap();
            assert_eq!(fixed.message, "Only GET and HEAD are allowed on this path");
            assert_ne!(
                fixed.body,
                k.fixed(&KickError::MethodNotAllowed).unwrap().body
            );
        }
    }
}

#[test]
fn checks_run_in_spec_order_405_429_401_400_404() {
    let mut k = kicker(Some(1.0));
    let now = Instant::now();
    let bad_query = "muc=r@m&muc=r@m";
    // 400 only once authorized; 401 before the query; the failure counts toward the lockout.
    let decided = k.decide_view(View::Occupants, &get(b"GET", Some(SECRET), bad_query), now);
    assert_eq!(status(decided), 400);
    let decided = k.decide_view(View::Occupants, &get(b"GET", None, bad_query), now);
    assert_eq!(status(decided), 401);
    let decided = k.decide_view(View::Occupants, &get(b"GET", Some(SECRET), bad_query), now);
    assert_eq!(status(decided), 429);
    // 405 before 429, and a 405 is no failure
    let decided = k.decide_view(View::Occupants, &get(b"POST", None, bad_query), now);
    assert_eq!(status(decided), 405);
}

#[test]
fn the_lockout_is_the_post_endpoints_own() {
    let mut k = kicker(Some(1.0));
    let now = Instant::now();
    let post = HttpRequest {
        method: b"POST",
        ip: IP,
        authorization: None,
        transfer_encoding: None,
        body: b"{}",
    };
    assert_eq!(k.decide(&post, now).unwrap_err().status(), 401);
    let decided = k.decide_view(
        View::Bans,
        &get(b"GET", Some(SECRET), "muc=r@muc.localhost"),
        now,
    );
    assert!(
        matches!(decided, Err(KickError::TooManyFailures { .. })),
        "{decided:?}"
    );
    // and a view's failure locks POST out
    let mut k = kicker(Some(1.0));
    let decided = k.decide_view(View::Bans, &get(b"GET", None, "muc=r@muc.localhost"), now);
    assert_eq!(status(decided), 401);
    let post = HttpRequest {
        authorization: Some(SECRET.as_bytes()),
        ..post
    };
    assert_eq!(k.decide(&post, now).unwrap_err().status(), 429);
}

#[test]
fn jids_are_prepared_by_the_fast_path_where_it_is_certain() {
    assert_eq!(
        view(View::Occupants, "muc=ROOM@MUC.LOCALHOST"),
        Ok(PreparedView {
            view: ViewRequest::RoomOccupants {
                room: "room@muc.localhost".into()
            },
            prepared: true
        })
    );
    assert_eq!(
        view(View::Bans, "muc=Room%40muc.localhost."),
        Ok(PreparedView {
            view: ViewRequest::Bans {
                room: "room@muc.localhost".into()
            },
            prepared: true
        })
    );
    assert_eq!(
        view(View::Occupants, "jid=Bob@LocalHost/Phone"),
        Ok(PreparedView {
            view: ViewRequest::AccountRooms {
                jid: "bob@localhost/Phone".into()
            },
            prepared: true
        })
    );
    // beyond ASCII, Prosody prepares
    assert_eq!(
        view(View::Occupants, "jid=b%C3%B6b@localhost"),
        Ok(PreparedView {
            view: ViewRequest::AccountRooms {
                jid: "böb@localhost".into()
            },
            prepared: false
        })
    );
    assert_eq!(
        view(View::Occupants, "muc=r%C3%B6@muc.localhost"),
        Ok(PreparedView {
            view: ViewRequest::RoomOccupants {
                room: "rö@muc.localhost".into()
            },
            prepared: false
        })
    );
}

#[test]
fn a_room_on_another_host_is_404_and_a_jid_on_this_component_400() {
    for which in [View::Occupants, View::Bans] {
        let err = view(which, "muc=r@other.localhost").unwrap_err();
        assert_eq!((err.status(), err.condition()), (404, "item-not-found"));
        assert_eq!(err.log_detail(), Some("r@other.localhost"));
    }
    for query in ["jid=r@muc.localhost", "jid=r@MUC.localhost/nick"] {
        let err = view(View::Occupants, query).unwrap_err();
        assert!(
            matches!(err, KickError::InvalidJid { field: "jid", .. }),
            "{query}: {err:?}"
        );
    }
}

#[test]
fn query_refusals_are_400_bad_request_naming_what_is_wrong() {
    for (which, query, message) in [
        (
            View::Occupants,
            "muc=a@b&muc=a@b",
            "Parameter `muc` is given more than once",
        ),
        (
            View::Occupants,
            "",
            "Give exactly one of the parameters `muc` and `jid`",
        ),
        (
            View::Occupants,
            "muc=a@b&jid=c@d",
            "Give exactly one of the parameters `muc` and `jid`",
        ),
        (View::Bans, "jid=c@d", "Parameter `muc` is required"),
        (
            View::Bans,
            "muc=%4",
            "Query is not valid application/x-www-form-urlencoded UTF-8: a % is not followed by two hexadecimal digits",
        ),
        (
            View::Occupants,
            "jid=localhost",
            "Field `jid` is not a valid JID: it has no node: it names a domain, not an account",
        ),
    ] {
        let err = view(which, query).unwrap_err();
        assert_eq!(
            (err.status(), err.condition(), err.to_string().as_str()),
            (400, "bad-request", message),
            "{query}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn any_request_is_decided_without_a_panic_and_every_refusal_renders(
        method in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8),
        query in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
        authorized in proptest::prelude::any::<bool>(),
        bans in proptest::prelude::any::<bool>(),
    ) {
        let mut k = kicker(Some(2.0));
        let which = if bans { View::Bans } else { View::Occupants };
        let request = ViewHttpRequest {
            method: &method,
            ip: IP,
            authorization: authorized.then_some(SECRET.as_bytes()),
            query: &query,
        };
        if let Err(err) = k.decide_view(which, &request, Instant::now()) {
            proptest::prop_assert!(k.body_for(&err).contains(err.condition()));
        }
    }
}
