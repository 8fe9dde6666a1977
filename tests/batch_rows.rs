//! SPEC.md "Seeing and reconciling": several targets and keep, as the core parses, validates
//! and prepares them.

use std::time::Instant;

use http_muc_kick_core::kicker::{self, item_refused};
use http_muc_kick_core::request::{Item, Targets, Unprepared};
use http_muc_kick_core::{Action, Ban, HttpRequest, KickError, KickRequest, Kicker, Settings};

const SECRET: &str = "Bearer s3cret";
const HOST: &str = "muc.localhost";

fn kicker() -> Kicker {
    Kicker::new(&Settings {
        host: HOST,
        authorization: &[SECRET],
        max_body_size: Some(1_000_000.0),
        max_auth_failures: None,
    })
    .unwrap()
}

fn decide(body: &str) -> Result<KickRequest<'_>, KickError> {
    let request = HttpRequest {
        method: b"POST",
        ip: b"192.0.2.1",
        authorization: Some(SECRET.as_bytes()),
        transfer_encoding: None,
        body: body.as_bytes(),
    };
    kicker().decide(&request, Instant::now())
}

/// Each item's text as given and its prepared form (None: for Prosody).
fn items<'a>(items: &'a [Item<'_>]) -> Vec<(&'a str, Option<&'a str>)> {
    items
        .iter()
        .map(|i| (i.given.as_ref(), i.prepared.as_deref()))
        .collect()
}

fn list(n: usize, item: impl Fn(usize) -> String) -> String {
    (0..n)
        .map(|i| format!("\"{}\"", item(i)))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn kick_by_a_list_of_nicknames_keeps_each_as_given_in_order() {
    let request =
        decide(r#"{"muc":"R@MUC.localhost","nickname":["Bob","Ｂob","Bob"],"reason":"x"}"#)
            .unwrap();
    assert_eq!(request.unprepared, Unprepared::Target);
    let Action::KickMany {
        room,
        targets,
        reason,
        ban,
    } = request.action
    else {
        panic!("not a kick of several: {:?}", request.action);
    };
    assert_eq!(room, "r@muc.localhost");
    assert_eq!(targets.field(), "nickname");
    assert!(matches!(targets, Targets::Nicknames(_)));
    assert_eq!(
        items(targets.items()),
        [("Bob", Some("Bob")), ("Ｂob", None), ("Bob", Some("Bob"))]
    );
    assert_eq!(reason.as_deref(), Some("x"));
    assert_eq!(ban, None);
}

#[test]
fn ban_by_a_list_of_jids_prepares_each_and_keeps_the_ban() {
    let request =
        decide(r#"{"muc":"r@muc.localhost","jid":["BOB@Example.org","bob@example.org/phone","ö@example.org"],"ban":60}"#)
            .unwrap();
    let Action::KickMany { targets, ban, .. } = request.action else {
        panic!("not a ban of several: {:?}", request.action);
    };
    assert_eq!(targets.field(), "jid");
    assert_eq!(
        items(targets.items()),
        [
            ("BOB@Example.org", Some("bob@example.org")),
            ("bob@example.org/phone", Some("bob@example.org/phone")),
            ("ö@example.org", None),
        ]
    );
    assert_eq!(ban, Some(Ban::Seconds(60)));
}

#[test]
fn unban_and_every_room_take_lists_of_jids() {
    let request = decide(r#"{"muc":"r@muc.localhost","jid":["a@h","b@h"],"unban":true}"#).unwrap();
    let Action::UnbanMany { room, jids } = request.action else {
        panic!("not an unban of several: {:?}", request.action);
    };
    assert_eq!(room, "r@muc.localhost");
    assert_eq!(items(&jids), [("a@h", Some("a@h")), ("b@h", Some("b@h"))]);

    let request = decide(r#"{"jid":["a@h","b@h/r"],"reason":"bye"}"#).unwrap();
    let Action::KickEverywhereMany { jids, reason } = request.action else {
        panic!("not every room for several: {:?}", request.action);
    };
    assert_eq!(
        items(&jids),
        [("a@h", Some("a@h")), ("b@h/r", Some("b@h/r"))]
    );
    assert_eq!(reason.as_deref(), Some("bye"));
}

#[test]
fn one_to_a_hundred_targets_are_taken_none_or_more_are_400() {
    for n in [1, 2, 100] {
        let body = format!(
            r#"{{"muc":"r@muc.localhost","jid":[{}]}}"#,
            list(n, |i| format!("u{i}@h"))
        );
        let Action::KickMany { targets, .. } = decide(&body).unwrap().action else {
            panic!("{n} targets are not a kick of several");
        };
        assert_eq!(targets.items().len(), n);
    }
    for n in [0, 101, 1000] {
        for field in ["nickname", "jid"] {
            let body = format!(
                r#"{{"muc":"r@muc.localhost","{field}":[{}]}}"#,
                list(n, |i| format!("u{i}@h"))
            );
            let err = decide(&body).unwrap_err();
            assert_eq!(
                err,
                KickError::InvalidValue {
                    field: if field == "jid" { "jid" } else { "nickname" },
                    expected: "a string, or an array of 1 to 100 strings",
                },
                "{n} in {field}"
            );
            assert_eq!(err.status(), 400);
        }
    }
    let err = decide(r#"{"jid":[],"reason":"x"}"#).unwrap_err();
    assert!(
        matches!(err, KickError::InvalidValue { field: "jid", .. }),
        "{err:?}"
    );
    let err = decide(r#"{"muc":"r@muc.localhost","jid":[],"unban":true}"#).unwrap_err();
    assert!(
        matches!(err, KickError::InvalidValue { field: "jid", .. }),
        "{err:?}"
    );
}

#[test]
fn an_invalid_item_is_a_400_naming_the_field_and_its_index() {
    for (body, message) in [
        (
            r#"{"muc":"r@muc.localhost","jid":["example.org","a@h"]}"#,
            "Field `jid[0]` is not a valid JID: it has no node: it names a domain, not an account",
        ),
        (
            r#"{"muc":"r@muc.localhost","jid":["a@h","b@","c@h"]}"#,
            "Field `jid[1]` is not a valid JID: ",
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":["A","B",""]}"#,
            "Field `nickname[2]` is not a valid nickname: it is empty",
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":["A",7]}"#,
            "Field `nickname[1]` must be a string, not a number",
        ),
        (
            r#"{"muc":"r@muc.localhost","jid":["a@h",null]}"#,
            "Field `jid[1]` must be a string, not null",
        ),
        (
            r#"{"muc":"r@muc.localhost","jid":[["a@h"]]}"#,
            "Field `jid[0]` must be a string, not an array",
        ),
        (
            r#"{"muc":"r@muc.localhost","jid":["a@h",{}],"unban":true}"#,
            "Field `jid[1]` must be a string, not an object",
        ),
        (
            r#"{"jid":["a@h","b@h",true]}"#,
            "Field `jid[2]` must be a string, not a boolean",
        ),
        (
            r#"{"muc":"r@muc.localhost","jid":["a@h","r@muc.localhost"]}"#,
            "Field `jid[1]` is not a valid JID: it is on this component (a room or an occupant), not an account",
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":["a@h","b@h/res"]}"#,
            "Field `keep[1]` is not a valid JID: it has a resource: `keep` lists accounts, as bare JIDs",
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":["muc.localhost"]}"#,
            "Field `keep[0]` is not a valid JID: it has no node: it names a domain, not an account",
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":["x@muc.localhost"]}"#,
            "Field `keep[0]` is not a valid JID: it is on this component (a room or an occupant), not an account",
        ),
    ] {
        let err = decide(body).unwrap_err();
        assert_eq!(err.status(), 400, "{body}");
        assert!(
            matches!(err, KickError::InvalidItem { .. }),
            "{body}: {err:?}"
        );
        assert!(err.to_string().starts_with(message), "{body}: {err}");
    }
}

#[test]
fn the_first_invalid_item_is_named_at_every_place() {
    for index in [0usize, 50, 99] {
        let body = format!(
            r#"{{"muc":"r@muc.localhost","jid":[{}]}}"#,
            list(100, |i| if i == index {
                "nope".into()
            } else {
                format!("u{i}@h")
            })
        );
        assert_eq!(
            decide(&body).unwrap_err(),
            KickError::InvalidItem {
                field: "jid",
                index,
                problem: http_muc_kick_core::error::ItemProblem::InvalidJid(
                    "it has no node: it names a domain, not an account"
                ),
            }
        );
    }
}

#[test]
fn a_single_string_is_still_the_single_form() {
    assert!(matches!(
        decide(r#"{"muc":"r@muc.localhost","nickname":"B"}"#)
            .unwrap()
            .action,
        Action::Kick { .. }
    ));
    assert!(matches!(
        decide(r#"{"jid":"a@h"}"#).unwrap().action,
        Action::KickEverywhere { .. }
    ));
    assert!(matches!(
        decide(r#"{"muc":"r@muc.localhost","jid":"a@h","unban":true}"#)
            .unwrap()
            .action,
        Action::Unban { .. }
    ));
}

#[test]
fn keep_takes_any_number_of_bare_jids_and_dry_run() {
    let request =
        decide(r#"{"muc":"r@muc.localhost","keep":["A@H","ö@h"],"reason":"x","dry_run":true}"#)
            .unwrap();
    let Action::Keep {
        room,
        keep,
        reason,
        dry_run,
    } = request.action
    else {
        panic!("not keep: {:?}", request.action);
    };
    assert_eq!(room, "r@muc.localhost");
    assert_eq!(items(&keep), [("A@H", Some("a@h")), ("ö@h", None)]);
    assert_eq!(reason.as_deref(), Some("x"));
    assert!(dry_run);

    for (body, n, dry) in [
        (
            r#"{"muc":"r@muc.localhost","keep":[]}"#.to_owned(),
            0,
            false,
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":[],"dry_run":false}"#.to_owned(),
            0,
            false,
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":["a@h"],"dry_run":null}"#.to_owned(),
            1,
            false,
        ),
        (
            format!(
                r#"{{"muc":"r@muc.localhost","keep":[{}]}}"#,
                list(1000, |i| format!("u{i}@h"))
            ),
            1000,
            false,
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":[],"ban":false,"unban":null}"#.to_owned(),
            0,
            false,
        ),
    ] {
        let Action::Keep { keep, dry_run, .. } = decide(&body).unwrap().action else {
            panic!("not keep: {body}");
        };
        assert_eq!((keep.len(), dry_run), (n, dry), "{body}");
    }
}

#[test]
fn keep_and_dry_run_refuse_what_they_cannot_go_with() {
    let not_with = |field| KickError::NotWith {
        field,
        with: "keep",
    };
    let dry_run_alone = KickError::OnlyWith {
        field: "dry_run",
        with: "keep",
    };
    for (body, expected) in [
        (
            r#"{"muc":"r@muc.localhost","keep":[],"nickname":"B"}"#,
            not_with("nickname"),
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":[],"jid":["a@h"]}"#,
            not_with("jid"),
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":[],"ban":true}"#,
            not_with("ban"),
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":[],"unban":true}"#,
            not_with("unban"),
        ),
        (r#"{"keep":[]}"#, KickError::NeedsRoom { field: "keep" }),
        (
            r#"{"muc":"r@muc.localhost","keep":"a@h"}"#,
            KickError::InvalidValue {
                field: "keep",
                expected: "an array of bare JIDs (accounts)",
            },
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":{}}"#,
            KickError::InvalidValue {
                field: "keep",
                expected: "an array of bare JIDs (accounts)",
            },
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":[],"keep":[]}"#,
            KickError::DuplicateField { field: "keep" },
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":[],"dry_run":"yes"}"#,
            KickError::InvalidValue {
                field: "dry_run",
                expected: "a boolean",
            },
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":[],"dry_run":1}"#,
            KickError::InvalidValue {
                field: "dry_run",
                expected: "a boolean",
            },
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":"B","dry_run":true}"#,
            dry_run_alone.clone(),
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":"B","dry_run":false}"#,
            dry_run_alone.clone(),
        ),
        (r#"{"jid":["a@h"],"dry_run":true}"#, dry_run_alone.clone()),
        (
            r#"{"muc":"r@muc.localhost","jid":"a@h","unban":true,"dry_run":true}"#,
            dry_run_alone,
        ),
        (
            r#"{"muc":"r@muc.localhost","keep":[],"dry_run":true,"dry_run":true}"#,
            KickError::DuplicateField { field: "dry_run" },
        ),
    ] {
        let err = decide(body).unwrap_err();
        assert_eq!(err, expected, "{body}");
        assert_eq!(err.status(), 400, "{body}");
    }
    assert_eq!(
        KickError::OnlyWith {
            field: "dry_run",
            with: "keep"
        }
        .to_string(),
        "Field `dry_run` can only be given with `keep`"
    );
}

#[test]
fn several_targets_keep_the_single_forms_field_rules() {
    for (body, expected) in [
        (
            r#"{"muc":"r@muc.localhost","nickname":["B"],"jid":["a@h"]}"#,
            KickError::TargetAmbiguous,
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":["B"],"unban":true}"#,
            KickError::NotWith {
                field: "nickname",
                with: "unban",
            },
        ),
        (
            r#"{"nickname":["B"]}"#,
            KickError::MissingField { field: "muc" },
        ),
        (
            r#"{"jid":["a@h"],"ban":true}"#,
            KickError::NeedsRoom { field: "ban" },
        ),
        (
            r#"{"muc":"r@muc.localhost","nickname":["B"],"reason":"\u0001"}"#,
            KickError::InvalidReason { code_point: 1 },
        ),
        (
            r#"{"muc":"r@muc.localhost","jid":["a@h"],"jid":["a@h"]}"#,
            KickError::DuplicateField { field: "jid" },
        ),
    ] {
        assert_eq!(decide(body).unwrap_err(), expected, "{body}");
    }
}

#[test]
fn a_room_elsewhere_is_404_once_every_item_is_certain() {
    assert!(matches!(
        decide(r#"{"muc":"r@other.localhost","jid":["a@h","b@h"]}"#).unwrap_err(),
        KickError::RoomElsewhere { .. }
    ));
    assert!(matches!(
        decide(r#"{"muc":"r@other.localhost","keep":[]}"#).unwrap_err(),
        KickError::RoomElsewhere { .. }
    ));
    let request = decide(r#"{"muc":"r@other.localhost","jid":["a@h","ö@h"]}"#).unwrap();
    assert_eq!(request.unprepared, Unprepared::All);
}

#[test]
fn plan_reads_the_body_again_as_decide_did() {
    let body = br#"{"muc":"R@muc.localhost","nickname":["Bob","Bob"],"ban":true}"#;
    let plan = kicker::plan(HOST, body).unwrap();
    assert_eq!(plan.unprepared, Unprepared::Target);
    let Action::KickMany {
        room, targets, ban, ..
    } = plan.action
    else {
        panic!("not a kick of several");
    };
    assert_eq!(room, "r@muc.localhost");
    assert_eq!(
        items(targets.items()),
        [("Bob", Some("Bob")), ("Bob", Some("Bob"))]
    );
    assert_eq!(ban, Some(Ban::UntilLifted));
    assert!(kicker::plan(HOST, b"{").is_err());
}

#[test]
fn an_item_refused_by_prosody_is_named_like_the_core_names_it() {
    assert_eq!(
        item_refused("jid", 4, "invalid_jid").to_string(),
        "Field `jid[4]` is not a valid JID: Prosody's JID preparation (RFC 7622) refused it"
    );
    assert_eq!(
        item_refused("nickname", 0, "invalid_nickname").to_string(),
        "Field `nickname[0]` is not a valid nickname: Prosody's nickname preparation (resourceprep) refused it"
    );
    assert_eq!(
        item_refused("keep", 2, "jid_on_component").to_string(),
        "Field `keep[2]` is not a valid JID: it is on this component (a room or an occupant), not an account"
    );
    assert_eq!(item_refused("keep", 2, "jid_on_component").status(), 400);
}

#[test]
fn the_plan_of_a_batch_is_made_for_the_configured_host() {
    // The Lua boundary hands kicker.host() to plan(): a room there is prepared, one elsewhere a 404.
    let host = kicker().host().to_owned();
    assert_eq!(host, HOST);
    let body = br#"{"muc": "room@muc.localhost", "nickname": ["Bob"]}"#;
    assert!(kicker::plan(&host, body).is_ok());
    let elsewhere = br#"{"muc": "room@elsewhere.example", "nickname": ["Bob"]}"#;
    assert!(matches!(
        kicker::plan(&host, elsewhere),
        Err(KickError::RoomElsewhere { .. })
    ));
}
