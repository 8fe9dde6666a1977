//! SPEC.md's status table, row by row, for everything the core decides.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use http_muc_kick_core::kicker::prosody_side_refusals;
use http_muc_kick_core::request::Unprepared;
use http_muc_kick_core::{Action, Ban, HttpRequest, KickError, Kicker, Settings, Target};

const SECRET: &str = "Bearer s3cret";
const IP: &[u8] = b"192.0.2.1";
const VALID: &[u8] = br#"{"muc":"r@muc.localhost","nickname":"B"}"#;

/// A POST from `IP`.
fn post<'a>(authorization: Option<&'a [u8]>, body: &'a [u8]) -> HttpRequest<'a> {
    HttpRequest {
        method: b"POST",
        ip: IP,
        authorization,
        transfer_encoding: None,
        body,
    }
}

fn kicker_with(max_body_size: Option<f64>, max_auth_failures: Option<f64>) -> Kicker {
    Kicker::new(&Settings {
        host: "muc.localhost",
        authorization: &[SECRET, "Bearer old"],
        max_body_size,
        max_auth_failures,
    })
    .unwrap()
}

/// A kick's parts, flattened for the assertions.
#[derive(Debug)]
struct Kick<'a> {
    prepared: bool,
    room: Cow<'a, str>,
    target: Target<'a>,
    reason: Option<Cow<'a, str>>,
    ban: Option<Ban>,
}

/// The decision on an authorized POST of `body`; a test fails if it is not a kick.
fn decide<'a>(kicker: &mut Kicker, body: &'a [u8]) -> Result<Kick<'a>, KickError> {
    let request = kicker.decide(&post(Some(SECRET.as_bytes()), body), Instant::now())?;
    match request.action {
        Action::Kick {
            room,
            target,
            reason,
            ban,
        } => Ok(Kick {
            prepared: request.unprepared == Unprepared::Nothing,
            room,
            target,
            reason,
            ban,
        }),
        other => panic!("not a kick: {other:?}"),
    }
}

/// The action an authorized POST of `body` asks for.
fn action_of(body: &str) -> Result<Action<'_>, KickError> {
    let mut kicker = kicker_with(None, None);
    kicker
        .decide(
            &post(Some(SECRET.as_bytes()), body.as_bytes()),
            Instant::now(),
        )
        .map(|request| request.action)
}

fn status_of(body: &str) -> u16 {
    match action_of(body) {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

#[test]
fn valid_nickname_request_is_accepted_with_borrowed_strings() {
    let mut kicker = kicker_with(None, None);
    let body = br#"{"muc": "room@muc.localhost", "nickname": "Bob", "reason": "bye"}"#;
    let kick = decide(&mut kicker, body).unwrap();
    assert_eq!(kick.room, "room@muc.localhost");
    assert!(matches!(kick.room, Cow::Borrowed(_)));
    assert_eq!(kick.target, Target::Nickname("Bob".into()));
    assert_eq!(kick.reason.as_deref(), Some("bye"));
}

#[test]
fn jid_target_bare_or_full_is_accepted() {
    let mut kicker = kicker_with(None, None);
    for (real, prepared) in [
        ("bob@localhost", "bob@localhost"),
        ("BOB@LOCALHOST/phone", "bob@localhost/phone"),
    ] {
        let body = format!(r#"{{"muc": "r@muc.localhost", "jid": "{real}"}}"#);
        let kick = decide(&mut kicker, body.as_bytes()).unwrap();
        assert_eq!(kick.target, Target::Jid(prepared.into()));
        assert!(kick.prepared);
        assert_eq!(kick.reason, None);
    }
}

/// Accounts, not domains: a `jid` without a node, or on this component (a room or one of its
/// occupants), is a 400 in every shape, whatever the room.
#[test]
fn a_jid_that_is_no_account_is_a_400_in_every_shape() {
    let mut kicker = kicker_with(None, None);
    let no_node =
        "Field `jid` is not a valid JID: it has no node: it names a domain, not an account";
    let on_component = "Field `jid` is not a valid JID: it is on this component (a room or an occupant), not an account";
    for (jid, message) in [
        ("localhost", no_node),
        ("LOCALHOST/gateway", no_node),
        ("other.host", no_node),
        ("r@muc.localhost", on_component),
        ("R@MUC.LOCALHOST/Bob", on_component),
        ("muc.localhost", no_node),
    ] {
        for shape in [
            r#""muc": "r@muc.localhost", "#,
            r#""muc": "r@muc.localhost", "ban": true, "#,
            r#""muc": "r@muc.localhost", "unban": true, "#,
            r#""muc": "r@other.host", "#,
            "",
        ] {
            let body = format!(r#"{{{shape}"jid": "{jid}"}}"#);
            let err = decide(&mut kicker, body.as_bytes()).unwrap_err();
            assert_eq!(
                (err.status(), err.to_string()),
                (400, message.to_owned()),
                "{body}"
            );
        }
    }
}

#[test]
fn the_conflicts_are_409_conflict() {
    let domain = KickError::DomainBanned {
        domain: "example.org".into(),
    };
    for (err, message) in [
        (
            KickError::DomainOccupant,
            "The occupant's real JID is a domain, not an account: a ban would ban the whole domain",
        ),
        (
            domain,
            "The whole domain example.org is banned in the room, so the account would stay banned: lift that ban instead",
        ),
    ] {
        assert_eq!(
            (err.status(), err.condition(), err.to_string()),
            (409, "conflict", message.to_owned())
        );
    }
}

#[test]
fn plain_ascii_jids_are_prepared_by_the_core() {
    let mut kicker = kicker_with(None, None);
    let kick = decide(
        &mut kicker,
        br#"{"muc": "Room@MUC.localhost.", "nickname": "Bob"}"#,
    )
    .unwrap();
    assert!(kick.prepared);
    assert_eq!(kick.room, "room@muc.localhost");
    assert_eq!(kick.target, Target::Nickname("Bob".into()));
}

#[test]
fn what_the_fast_path_is_unsure_of_is_left_to_prosody_as_given() {
    let mut kicker = kicker_with(None, None);
    for body in [
        r#"{"muc": "r\u00e9@muc.localhost", "nickname": "Bob"}"#,
        r#"{"muc": "r@muc.localhost", "nickname": "B\u00f6b"}"#,
        r#"{"muc": "r@muc.localhost", "jid": "b\u00f6b@localhost"}"#,
        r#"{"muc": "a b@muc.localhost", "nickname": "Bob"}"#,
        r#"{"muc": "r@other.host", "nickname": "B\u00f6b"}"#,
        r#"{"muc": "r@other.host", "jid": "b\u00f6b@localhost"}"#,
        r#"{"muc": "r\u00e9@other.host", "nickname": "Bob"}"#,
    ] {
        let kick = decide(&mut kicker, body.as_bytes()).unwrap();
        assert!(!kick.prepared, "{body}");
        let raw: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(kick.room, raw["muc"].as_str().unwrap(), "{body}");
    }
}

#[test]
fn a_room_certain_to_be_on_another_host_is_404_naming_it_in_the_log() {
    let mut kicker = kicker_with(None, None);
    for (body, room) in [
        (
            r#"{"muc": "r@Other.Host", "nickname": "Bob"}"#,
            "r@other.host",
        ),
        (
            r#"{"muc": "r@muc.localhost.x", "jid": "b@h"}"#,
            "r@muc.localhost.x",
        ),
        (
            r#"{"muc": "r@localhost", "nickname": "Bob"}"#,
            "r@localhost",
        ),
    ] {
        let err = decide(&mut kicker, body.as_bytes()).unwrap_err();
        assert_eq!((err.status(), err.condition()), (404, "item-not-found"));
        assert_eq!(err.log_detail(), Some(room));
        assert_eq!(err.to_string(), KickError::RoomNotFound.to_string());
    }
}

#[test]
fn escapes_are_decoded_and_unknown_fields_ignored() {
    let mut kicker = kicker_with(None, None);
    let body = br#"{"x": [1, {"y": null}], "muc": "r@muc.localhost", "nickname": "\u0042ob", "reason": "a\nb", "z": 1.5e3}"#;
    let kick = decide(&mut kicker, body).unwrap();
    assert_eq!(kick.target, Target::Nickname("Bob".into()));
    assert_eq!(kick.reason.as_deref(), Some("a\nb"));
}

#[test]
fn null_counts_as_absent_and_empty_reason_as_none() {
    assert_eq!(
        status_of(r#"{"muc": "r@muc.localhost", "nickname": "Bob", "jid": null}"#),
        200
    );
    let mut kicker = kicker_with(None, None);
    let kick = decide(
        &mut kicker,
        br#"{"muc": "r@muc.localhost", "nickname": "B", "reason": ""}"#,
    )
    .unwrap();
    assert_eq!(kick.reason, None);
    let kick = decide(
        &mut kicker,
        br#"{"muc": "r@muc.localhost", "nickname": "B", "reason": null}"#,
    )
    .unwrap();
    assert_eq!(kick.reason, None);
}

#[test]
fn body_not_strict_json_is_400_bad_request() {
    let cases: &[&[u8]] = &[
        b"",
        b"   ",
        b"not json",
        b"\xEF\xBB\xBF{\"muc\":\"r@muc.localhost\",\"nickname\":\"B\"}",
        br#"{"muc":"r@muc.localhost","nickname":"B",}"#,
        br#"{"muc":"r@muc.localhost", /* c */ "nickname":"B"}"#,
        br#"{'muc':'r@m','nickname':'B'}"#,
        b"{\"muc\":\"r@muc.localhost\",\"nickname\":\"B\x01\"}",
        br#"{"muc":"r@muc.localhost","nickname":"\q"}"#,
        b"{\"muc\":\"r@muc.localhost\",\"nickname\":\"\xff\"}",
        b"{\"muc\":\"r@muc.localhost\",\"nickname\":\"B\",\"x\":\"\xc3\"}",
        br#"{"muc":"r@muc.localhost","nickname":"\ud800"}"#,
        br#"{"muc":"r@muc.localhost","nickname":"B","x":"\udc00"}"#,
        br#"{"muc":"r@muc.localhost","nickname":"B","x":NaN}"#,
        br#"{"muc":"r@muc.localhost","nickname":"B","x":01}"#,
        br#"{"muc":"r@muc.localhost","nickname":"B"} {}"#,
        br#"{"muc":"r@muc.localhost","nickname":"B"}x"#,
    ];
    for body in cases {
        let err = decide(&mut kicker_with(None, None), body).unwrap_err();
        assert!(
            matches!(err, KickError::InvalidJson { .. }),
            "{:?} gave {err:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!((err.status(), err.condition()), (400, "bad-request"));
    }
}

#[test]
fn nesting_deeper_than_127_levels_is_400() {
    let nested = |depth: usize| {
        format!(
            r#"{{"muc":"r@muc.localhost","nickname":"B","x":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    // The object plus 126 arrays is 127 levels: serde_json's limit. One more is refused.
    assert_eq!(status_of(&nested(126)), 200);
    assert_eq!(status_of(&nested(127)), 400);
    let deep = nested(100_000);
    let err = decide(&mut kicker_with(Some(1e6), None), deep.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
}

#[test]
fn body_must_be_an_object() {
    for (body, found) in [
        ("[]", "an array"),
        (r#"["r@muc.localhost","B"]"#, "an array"),
        (r#""r@muc.localhost""#, "a string"),
        ("1", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
    ] {
        let err = decide(&mut kicker_with(None, None), body.as_bytes()).unwrap_err();
        assert_eq!(err, KickError::NotAnObject { found }, "{body}");
    }
}

#[test]
fn field_problems_are_400_and_name_the_field() {
    let cases = [
        (
            r#"{"nickname":"B"}"#,
            KickError::MissingField { field: "muc" },
        ),
        (
            r#"{"muc":null,"nickname":"B"}"#,
            KickError::MissingField { field: "muc" },
        ),
        (r#"{"muc":"r@muc.localhost"}"#, KickError::TargetAmbiguous),
        (
            r#"{"muc":"r@muc.localhost","nickname":null,"jid":null}"#,
            KickError::TargetAmbiguous,
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":"B","jid":"b@h"}"#,
            KickError::TargetAmbiguous,
        ),
        (
            r#"{"muc":5,"nickname":"B"}"#,
            KickError::WrongType {
                field: "muc",
                found: "a number",
            },
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":{"B":1}}"#,
            KickError::WrongType {
                field: "nickname",
                found: "an object",
            },
        ),
        (
            r#"{"muc":"r@muc.localhost","jid":{}}"#,
            KickError::WrongType {
                field: "jid",
                found: "an object",
            },
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":"B","reason":true}"#,
            KickError::WrongType {
                field: "reason",
                found: "a boolean",
            },
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":"B","muc":"r@muc.localhost"}"#,
            KickError::DuplicateField { field: "muc" },
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":null,"nickname":"B"}"#,
            KickError::DuplicateField { field: "nickname" },
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":"","reason":"x"}"#,
            KickError::InvalidNickname {
                reason: "it is empty",
            },
        ),
    ];
    for (body, expected) in cases {
        let err = decide(&mut kicker_with(None, None), body.as_bytes()).unwrap_err();
        assert_eq!(err, expected, "{body}");
        assert_eq!(err.status(), 400);
        if let KickError::WrongType { field, .. } | KickError::DuplicateField { field } = err {
            assert!(err.to_string().contains(field));
        }
    }
}

#[test]
fn muc_must_be_a_bare_jid_with_a_node() {
    for muc in ["muc.localhost", "r@m/res", "@m", "r@", "a@b@c", ""] {
        let body = format!(r#"{{"muc":"{muc}","nickname":"B"}}"#);
        let err = decide(&mut kicker_with(None, None), body.as_bytes()).unwrap_err();
        assert!(
            matches!(err, KickError::InvalidJid { field: "muc", .. }),
            "{muc:?} gave {err:?}"
        );
    }
}

#[test]
fn jid_and_nickname_parts_over_1023_bytes_are_refused() {
    let long = "x".repeat(1024);
    for body in [
        format!(r#"{{"muc":"{long}@m","nickname":"B"}}"#),
        format!(r#"{{"muc":"r@muc.localhost","nickname":"{long}"}}"#),
        format!(r#"{{"muc":"r@muc.localhost","jid":"b@h/{long}"}}"#),
        format!(r#"{{"muc":"r@muc.localhost","jid":"{long}@h"}}"#),
    ] {
        assert_eq!(status_of(&body), 400, "{}", &body[..30]);
    }
    let ok = "x".repeat(1023);
    assert_eq!(
        status_of(&format!(r#"{{"muc":"r@muc.localhost","nickname":"{ok}"}}"#)),
        200
    );
}

#[test]
fn reason_xml_cannot_carry_is_400() {
    for bad in [
        r"\u0000", r"\u0001", r"\u0008", r"\u000b", r"\u000c", r"\u001f", r"\ufffe", r"\uffff",
    ] {
        let body = format!(r#"{{"muc":"r@muc.localhost","nickname":"B","reason":"x{bad}"}}"#);
        let err = decide(&mut kicker_with(None, None), body.as_bytes()).unwrap_err();
        assert!(
            matches!(err, KickError::InvalidReason { .. }),
            "{bad}: {err:?}"
        );
    }
    for good in [r"\t", r"\n", r"\r", r"\u007f", r"\ud83d\ude00", r"\ufffd"] {
        let body = format!(r#"{{"muc":"r@muc.localhost","nickname":"B","reason":"x{good}"}}"#);
        assert_eq!(status_of(&body), 200, "{good}");
    }
}

#[test]
fn authorization_missing_or_not_exact_is_401() {
    let mut kicker = kicker_with(None, Some(0.0));
    for auth in [
        None,
        Some(&b""[..]),
        Some(b"Bearer s3cre"),
        Some(b"bearer s3cret"),
        Some(b"Bearer s3cret "),
        Some(b"Bearer s3cret, Bearer old"),
    ] {
        let err = kicker
            .decide(&post(auth, b"{}"), Instant::now())
            .unwrap_err();
        assert_eq!((err.status(), err.condition()), (401, "not-authorized"));
    }
    let ok = kicker.decide(&post(Some(b"Bearer old"), VALID), Instant::now());
    assert!(ok.is_ok());
}

#[test]
fn checks_run_in_spec_order() {
    let mut kicker = kicker_with(Some(10.0), Some(1.0));
    let big_bad = b"x".repeat(11);
    let now = Instant::now();
    // 413 before 400, 401 before 413, 429 before 401.
    assert_eq!(
        kicker
            .decide(&post(Some(SECRET.as_bytes()), &big_bad), now)
            .unwrap_err()
            .status(),
        413
    );
    assert_eq!(
        kicker
            .decide(&post(None, &big_bad), now)
            .unwrap_err()
            .status(),
        401
    );
    assert_eq!(
        kicker
            .decide(&post(Some(SECRET.as_bytes()), &big_bad), now)
            .unwrap_err()
            .status(),
        429
    );
}

#[test]
fn a_chunked_body_is_411_after_authorization_and_before_size() {
    let mut kicker = kicker_with(Some(100.0), Some(1.0));
    let now = Instant::now();
    let big = b"x".repeat(101);
    for coding in [&b"chunked"[..], b"gzip, chunked", b"Chunked"] {
        let chunked = |authorization, body| HttpRequest {
            transfer_encoding: Some(coding),
            ..post(authorization, body)
        };
        for body in [&b""[..], VALID, &big] {
            let err = kicker
                .decide(&chunked(Some(SECRET.as_bytes()), body), now)
                .unwrap_err();
            assert_eq!((err.status(), err.condition()), (411, "length-required"));
        }
    }
    let empty_header = HttpRequest {
        transfer_encoding: Some(b""),
        ..post(Some(SECRET.as_bytes()), VALID)
    };
    assert!(kicker.decide(&empty_header, now).is_ok());
    let unauthorized = HttpRequest {
        transfer_encoding: Some(b"chunked"),
        ..post(None, VALID)
    };
    assert_eq!(kicker.decide(&unauthorized, now).unwrap_err().status(), 401);
}

#[test]
fn body_of_exactly_the_limit_is_read_one_more_is_413() {
    let body = br#"{"muc":"r@muc.localhost","nickname":"Bob"}"#;
    let limit = body.len() as f64;
    assert!(decide(&mut kicker_with(Some(limit), None), body).is_ok());
    let err = decide(&mut kicker_with(Some(limit - 1.0), None), body).unwrap_err();
    assert_eq!((err.status(), err.condition()), (413, "payload-too-large"));
    assert_eq!(
        err,
        KickError::BodyTooLarge {
            limit: body.len() - 1
        }
    );
}

#[test]
fn failures_past_the_limit_give_429_even_with_the_right_secret() {
    let mut kicker = kicker_with(None, Some(3.0));
    let start = Instant::now();
    let wrong = post(Some(b"Bearer nope"), b"");
    let right = post(Some(SECRET.as_bytes()), VALID);
    for _ in 0..3 {
        assert_eq!(kicker.decide(&wrong, start).unwrap_err().status(), 401);
    }
    assert!(kicker.decide(&right, start).is_err());
    let err = kicker
        .decide(&right, start + Duration::from_secs(20))
        .unwrap_err();
    assert_eq!(err, KickError::TooManyFailures { retry_after: 40 });
    assert_eq!(err.condition(), "too-many-requests");
    let other_ip = HttpRequest {
        ip: b"198.51.100.9",
        ..right
    };
    assert!(kicker.decide(&other_ip, start).is_ok());
    assert!(
        kicker
            .decide(&right, start + Duration::from_secs(60))
            .is_ok()
    );
}

#[test]
fn a_success_does_not_reset_the_failure_count() {
    let mut kicker = kicker_with(None, Some(2.0));
    let now = Instant::now();
    let wrong = post(None, b"");
    let right = post(Some(SECRET.as_bytes()), VALID);
    assert!(kicker.decide(&wrong, now).is_err());
    assert!(kicker.decide(&right, now).is_ok());
    assert!(kicker.decide(&wrong, now).is_err());
    assert_eq!(kicker.decide(&right, now).unwrap_err().status(), 429);
}

#[test]
fn zero_max_auth_failures_turns_the_lockout_off() {
    let mut kicker = kicker_with(None, Some(0.0));
    let wrong = post(None, b"");
    for _ in 0..100 {
        assert_eq!(
            kicker.decide(&wrong, Instant::now()).unwrap_err().status(),
            401
        );
    }
}

#[test]
fn every_status_has_its_condition() {
    let rows = [
        (KickError::Unauthorized, 401, "not-authorized"),
        (KickError::Forbidden, 403, "forbidden"),
        (KickError::RoomNotFound, 404, "item-not-found"),
        (KickError::OccupantNotFound, 404, "item-not-found"),
        (KickError::MethodNotAllowed, 405, "method-not-allowed"),
        (KickError::LengthRequired, 411, "length-required"),
        (
            KickError::BodyTooLarge { limit: 1 },
            413,
            "payload-too-large",
        ),
        (
            KickError::TooManyFailures { retry_after: 1 },
            429,
            "too-many-requests",
        ),
        (KickError::Internal, 500, "internal-server-error"),
        (KickError::TargetAmbiguous, 400, "bad-request"),
    ];
    for (err, status, condition) in rows {
        assert_eq!(
            (err.status(), err.condition()),
            (status, condition),
            "{err:?}"
        );
    }
}

#[test]
fn bodies_are_spec_json_and_never_carry_the_secret() {
    let kicker = kicker_with(None, None);
    let mut errors: Vec<KickError> = prosody_side_refusals()
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    errors.extend([
        KickError::Unauthorized,
        KickError::TooManyFailures { retry_after: 3 },
        KickError::BodyTooLarge { limit: 16384 },
        KickError::LengthRequired,
        KickError::MethodNotAllowed,
    ]);
    for err in errors {
        let body = kicker.body_for(&err);
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["condition"], err.condition());
        assert_eq!(value["error"], err.to_string());
        assert_eq!(value.as_object().map(|o| o.len()), Some(2));
        assert!(!body.contains("s3cret"));
    }
    assert_eq!(kicker.challenge(), r#"Bearer realm="muc.localhost""#);
}

#[test]
fn options_are_checked_at_load() {
    let make = |authorization: &[&str], size: Option<f64>, failures: Option<f64>| {
        Kicker::new(&Settings {
            host: "h",
            authorization,
            max_body_size: size,
            max_auth_failures: failures,
        })
    };
    assert!(make(&[], None, None).is_err());
    assert!(make(&[""], None, None).is_err());
    assert!(make(&["a", ""], None, None).is_err());
    for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY] {
        let err = make(&["a"], Some(bad), None).unwrap_err().to_string();
        assert!(err.contains("http_muc_kick_max_body_size"), "{err}");
        let err = make(&["a"], None, Some(bad)).unwrap_err().to_string();
        assert!(err.contains("http_muc_kick_max_auth_failures"), "{err}");
    }
    assert!(make(&["a"], Some(0.0), Some(0.0)).is_ok());
}

#[test]
fn any_method_but_post_is_405_first_whatever_the_authorization() {
    let mut kicker = kicker_with(None, Some(1.0));
    let now = Instant::now();
    for method in [
        &b"GET"[..],
        b"HEAD",
        b"PUT",
        b"DELETE",
        b"PATCH",
        b"TRACE",
        b"OPTIONS",
        b"post",
        b"",
    ] {
        for authorization in [None, Some(SECRET.as_bytes()), Some(&b"Bearer nope"[..])] {
            let request = HttpRequest {
                method,
                ..post(authorization, b"not even json")
            };
            let err = kicker.decide(&request, now).unwrap_err();
            assert_eq!((err.status(), err.condition()), (405, "method-not-allowed"));
        }
    }
    // ...and 405s never counted as failed authorizations: the first POST is judged on its own.
    assert!(
        kicker
            .decide(&post(Some(SECRET.as_bytes()), VALID), now)
            .is_ok()
    );
}

// SPEC.md, "Keeping them out: ban, unban, every room".

const ROOM: &str = "r@muc.localhost";

fn with_room(fields: &str) -> String {
    format!(r#"{{"muc":"{ROOM}",{fields}}}"#)
}

/// The 400 of `body`, whose message must name `field`.
fn assert_400_naming(body: &str, field: &str) {
    let err = action_of(body).unwrap_err();
    assert_eq!(
        (err.status(), err.condition()),
        (400, "bad-request"),
        "{body}"
    );
    assert!(
        err.to_string().contains(&format!("`{field}`")),
        "{body}: {err}"
    );
}

#[test]
fn ban_is_true_or_whole_seconds_from_1_to_a_year() {
    let mut kicker = kicker_with(None, None);
    for (value, ban) in [
        ("true", Some(Ban::UntilLifted)),
        ("1", Some(Ban::Seconds(1))),
        ("60", Some(Ban::Seconds(60))),
        ("60.0", Some(Ban::Seconds(60))),
        ("1e3", Some(Ban::Seconds(1000))),
        ("31536000", Some(Ban::Seconds(31_536_000))),
        ("false", None),
        ("null", None),
    ] {
        for target in [r#""nickname":"Bob""#, r#""jid":"bob@localhost""#] {
            let body = with_room(&format!(r#"{target},"reason":"r","ban":{value}"#));
            let kick = decide(&mut kicker, body.as_bytes()).unwrap();
            assert_eq!(kick.ban, ban, "{body}");
            assert_eq!(kick.reason.as_deref(), Some("r"));
        }
    }
}

#[test]
fn any_other_ban_is_400_naming_ban() {
    for value in [
        r#""yes""#, r#""60""#, "0", "-5", "1.5", "31536001", "1e10", "{}", "[]", "[60]",
    ] {
        assert_400_naming(
            &with_room(&format!(r#""nickname":"Bob","ban":{value}"#)),
            "ban",
        );
    }
}

#[test]
fn unban_takes_muc_and_jid_and_true() {
    let body = with_room(r#""jid":"BOB@localhost/phone","unban":true"#);
    let action = action_of(&body).unwrap();
    assert_eq!(
        action,
        Action::Unban {
            room: ROOM.into(),
            jid: "bob@localhost/phone".into()
        }
    );
    for absent in ["false", "null"] {
        let body = with_room(&format!(r#""jid":"bob@localhost","unban":{absent}"#));
        assert!(
            matches!(action_of(&body), Ok(Action::Kick { ban: None, .. })),
            "{body}"
        );
    }
}

#[test]
fn unban_with_anything_else_or_of_another_kind_is_400() {
    for value in [r#""yes""#, "1", "0", "{}", "[true]"] {
        assert_400_naming(
            &with_room(&format!(r#""jid":"b@h","unban":{value}"#)),
            "unban",
        );
    }
    for (fields, named) in [
        (r#""jid":"b@h","unban":true,"nickname":"Bob""#, "nickname"),
        (r#""jid":"b@h","unban":true,"reason":"r""#, "reason"),
        (r#""jid":"b@h","unban":true,"reason":"""#, "reason"),
        (r#""jid":"b@h","unban":true,"ban":true"#, "ban"),
        (r#""jid":"b@h","unban":true,"ban":60"#, "ban"),
        (r#""unban":true"#, "jid"),
        (r#""nickname":"Bob","unban":true"#, "nickname"),
        (r#""jid":"@h","unban":true"#, "jid"),
    ] {
        assert_400_naming(&with_room(fields), named);
    }
    assert_400_naming(
        r#"{"muc":"r@muc.localhost/x","jid":"b@h","unban":true}"#,
        "muc",
    );
}

#[test]
fn ban_or_unban_without_muc_is_400_naming_it() {
    assert_400_naming(r#"{"jid":"b@h","ban":true}"#, "ban");
    assert_400_naming(r#"{"nickname":"Bob","ban":60}"#, "ban");
    assert_400_naming(r#"{"jid":"b@h","unban":true}"#, "unban");
}

#[test]
fn a_jid_without_muc_is_a_kick_from_every_room() {
    for (real, prepared) in [
        ("BOB@localhost", "bob@localhost"),
        ("bob@localhost/phone", "bob@localhost/phone"),
    ] {
        let body = format!(r#"{{"jid":"{real}","reason":"spam"}}"#);
        assert_eq!(
            action_of(&body).unwrap(),
            Action::KickEverywhere {
                jid: prepared.into(),
                reason: Some("spam".into())
            }
        );
    }
    assert_eq!(
        action_of(r#"{"jid":"b\u00f6b@localhost","muc":null,"reason":""}"#).unwrap(),
        Action::KickEverywhere {
            jid: "böb@localhost".into(),
            reason: None
        }
    );
}

#[test]
fn without_muc_a_nickname_or_nothing_is_400() {
    assert_400_naming(r#"{"nickname":"Bob"}"#, "muc");
    assert_400_naming(r#"{"nickname":"Bob","jid":"b@h"}"#, "muc");
    assert_400_naming(r#"{}"#, "muc");
    assert_400_naming(r#"{"reason":"r"}"#, "muc");
    assert_400_naming(r#"{"jid":"b@h@x"}"#, "jid");
    assert_400_naming(r#"{"jid":"b@h","reason":"\u0001"}"#, "reason");
    assert_400_naming(r#"{"jid":"b@h","ban":"yes"}"#, "ban");
}

#[test]
fn ban_and_unban_given_twice_are_400() {
    assert_400_naming(&with_room(r#""nickname":"B","ban":true,"ban":true"#), "ban");
    assert_400_naming(
        &with_room(r#""jid":"b@h","unban":true,"unban":true"#),
        "unban",
    );
}

#[test]
fn prepared_only_what_the_fast_path_is_certain_of() {
    let mut kicker = kicker_with(None, None);
    let now = Instant::now();
    for (body, unprepared) in [
        (
            with_room(r#""jid":"b@localhost","unban":true"#),
            Unprepared::Nothing,
        ),
        (
            with_room(r#""jid":"b\u00f6b@localhost","unban":true"#),
            Unprepared::Target,
        ),
        (with_room(r#""nickname":"B\u00f6b""#), Unprepared::Target),
        (
            r#"{"muc":"r\u00e9@muc.localhost","jid":"b@h","unban":true}"#.into(),
            Unprepared::All,
        ),
        (
            r#"{"muc":"r@other.host","nickname":"B\u00f6b"}"#.into(),
            Unprepared::All,
        ),
        (r#"{"jid":"b\u00f6b@localhost"}"#.into(), Unprepared::All),
        (r#"{"jid":"b@localhost"}"#.into(), Unprepared::Nothing),
    ] {
        let request = kicker
            .decide(&post(Some(SECRET.as_bytes()), body.as_bytes()), now)
            .unwrap();
        assert_eq!(request.unprepared, unprepared, "{body}");
    }
    let request = kicker
        .decide(
            &post(
                Some(SECRET.as_bytes()),
                br#"{"muc":"Room@MUC.localhost","nickname":"B\u00f6b"}"#,
            ),
            now,
        )
        .unwrap();
    assert_eq!(
        request.action,
        Action::Kick {
            room: "room@muc.localhost".into(),
            target: Target::Nickname("Böb".into()),
            reason: None,
            ban: None
        }
    );
    let err = action_of(r#"{"muc":"r@other.host","jid":"b@h","unban":true}"#).unwrap_err();
    assert_eq!(err.log_detail(), Some("r@other.host"));
}

#[test]
fn refusals_of_keeping_them_out_have_their_status() {
    let refused = KickError::RoomRefused {
        condition: "not-acceptable".into(),
    };
    assert_eq!((refused.status(), refused.condition()), (403, "forbidden"));
    assert!(refused.to_string().contains("not-acceptable"));
    assert_eq!(
        (
            KickError::NotBanned.status(),
            KickError::NotBanned.condition()
        ),
        (404, "item-not-found")
    );
}

#[test]
fn fixed_refusal_bodies_are_built_once_at_load() {
    let kicker = kicker_with(None, None);
    for err in [
        KickError::MethodNotAllowed,
        KickError::Unauthorized,
        KickError::TooManyFailures { retry_after: 7 },
        KickError::BodyTooLarge { limit: 16384 },
        KickError::LengthRequired,
    ] {
        let body = kicker.body_for(&err);
        assert!(
            matches!(body, Cow::Borrowed(_)),
            "{err:?} built per request"
        );
        assert_eq!(body, http_muc_kick_core::response::error_body(&err));
    }
    assert!(matches!(
        kicker.body_for(&KickError::TargetAmbiguous),
        Cow::Owned(_)
    ));
}

#[test]
fn the_refusals_that_never_change_are_listed_with_their_status_and_body() {
    let kicker = kicker_with(Some(100.0), None);
    let mut listed: Vec<(u16, &str, &str)> = kicker
        .fixed_refusals()
        .iter()
        .map(|f| (f.status, f.body.as_str(), f.message.as_str()))
        .collect();
    listed.sort();
    let statuses: Vec<u16> = listed.iter().map(|(status, ..)| *status).collect();
    assert_eq!(statuses, [401, 405, 411, 413, 429]);
    for (status, body, message) in listed {
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(value["error"], message, "{status}");
    }
    let too_large = KickError::BodyTooLarge { limit: 100 };
    let fixed = kicker.fixed(&too_large).unwrap();
    assert_eq!(
        (fixed.status, fixed.message.as_str()),
        (413, "Request body is larger than 100 bytes")
    );
}
