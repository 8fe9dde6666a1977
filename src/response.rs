//! Every response body: the one place that knows the JSON shapes.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::KickError;

/// The body sent when serialization itself fails (it cannot for these shapes).
const FALLBACK_BODY: &str = r#"{"error":"Internal error","condition":"internal-server-error"}"#;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    condition: &'a str,
}

#[derive(Serialize)]
struct KickedBody<'a, S: AsRef<str>> {
    muc: &'a str,
    #[serde(serialize_with = "serialize_strs")]
    kicked: &'a [S],
}

#[derive(Serialize)]
struct BannedBody<'a, S: AsRef<str>> {
    muc: &'a str,
    #[serde(serialize_with = "serialize_strs")]
    kicked: &'a [S],
    banned: &'a str,
    until: Option<String>,
}

#[derive(Serialize)]
struct UnbannedBody<'a> {
    muc: &'a str,
    unbanned: &'a str,
}

#[derive(Serialize)]
#[serde(bound(serialize = "S: AsRef<str>"))]
struct RoomsBody<'a, S: AsRef<str>> {
    rooms: Vec<KickedBody<'a, S>>,
}

/// One occupant in the view of a room (`GET /muc_kick/occupants?muc=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomOccupant {
    /// The nickname, as Prosody stored it.
    pub nickname: String,
    /// The real bare JID.
    pub jid: String,
    /// Every real full JID joined under the nickname.
    pub sessions: Vec<String>,
    /// The occupant's role.
    pub role: String,
    /// The account's affiliation in the room (`none` when it has none).
    pub affiliation: String,
    /// The XEP-0421 occupant id, where the Prosody in use computes one.
    pub occupant_id: Option<String>,
}

/// One room in the view of an account (`GET /muc_kick/occupants?jid=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRoom {
    /// The room's bare JID.
    pub muc: String,
    /// The nickname the account (or session) holds there.
    pub nickname: String,
    /// Every real full JID joined under that nickname.
    pub sessions: Vec<String>,
    /// The occupant's role.
    pub role: String,
    /// The account's affiliation in the room.
    pub affiliation: String,
}

/// One outcast in the view of a room's bans (`GET /muc_kick/bans?muc=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanEntry {
    /// The banned bare JID, or domain.
    pub jid: String,
    /// When the module's ban ends, as a Unix time; `None` until lifted or when not the module's.
    pub until: Option<i64>,
    /// The ban's reason, if any is known.
    pub reason: Option<String>,
    /// Whether it is this module's ban in force.
    pub by_module: bool,
}

#[derive(Serialize)]
struct OccupantsBody<'a> {
    muc: &'a str,
    occupants: &'a [RoomOccupant],
}

#[derive(Serialize)]
struct AccountRoomsBody<'a> {
    jid: &'a str,
    rooms: &'a [AccountRoom],
}

#[derive(Serialize)]
struct BansBody<'a> {
    muc: &'a str,
    bans: Vec<BanJson<'a>>,
}

#[derive(Serialize)]
struct BanJson<'a> {
    jid: &'a str,
    until: Option<String>,
    reason: Option<&'a str>,
    by_module: bool,
}

fn serialize_strs<S: AsRef<str>, Z: serde::Serializer>(
    items: &&[S],
    z: Z,
) -> Result<Z::Ok, Z::Error> {
    z.collect_seq(items.iter().map(AsRef::as_ref))
}

/// `{"error": "<message>", "condition": "<condition>"}` for `err`.
pub fn error_body(err: &KickError) -> String {
    error_body_for(&err.to_string(), err.condition())
}

/// The error body for an error whose text is `message`.
pub fn error_body_for(message: &str, condition: &str) -> String {
    let mut body = Vec::with_capacity(message.len() + condition.len() + 32);
    let written = serde_json::to_writer(
        &mut body,
        &ErrorBody {
            error: message,
            condition,
        },
    );
    match written.map(|()| String::from_utf8(body)) {
        Ok(Ok(body)) => body,
        _ => FALLBACK_BODY.to_owned(),
    }
}

/// `{"muc": "<room>", "kicked": ["<nickname>", ...]}`.
pub fn kicked_body<S: AsRef<str>>(room: &str, nicknames: &[S]) -> String {
    to_json(&KickedBody {
        muc: room,
        kicked: nicknames,
    })
}

/// `{"muc": "<room>", "kicked": [...], "banned": "<bare jid>", "until": "<RFC 3339>"|null}`;
/// `until` is a Unix time in seconds, or `None` for a ban until lifted.
pub fn banned_body<S: AsRef<str>>(
    room: &str,
    nicknames: &[S],
    banned: &str,
    until: Option<i64>,
) -> String {
    to_json(&BannedBody {
        muc: room,
        kicked: nicknames,
        banned,
        until: until.map(rfc3339),
    })
}

/// `{"muc": "<room>", "unbanned": "<bare jid>"}`.
pub fn unbanned_body(room: &str, unbanned: &str) -> String {
    to_json(&UnbannedBody {
        muc: room,
        unbanned,
    })
}

/// `{"rooms": [{"muc": "<room>", "kicked": [...]}, ...]}`.
pub fn rooms_body<S: AsRef<str>>(rooms: &[(S, Vec<S>)]) -> String {
    to_json(&RoomsBody {
        rooms: rooms
            .iter()
            .map(|(room, kicked)| KickedBody {
                muc: room.as_ref(),
                kicked,
            })
            .collect(),
    })
}

/// `{"muc": "<room>", "occupants": [{"nickname", "jid", "sessions", "role", "affiliation",
/// "occupant_id"}, ...]}`.
pub fn occupants_body(room: &str, occupants: &[RoomOccupant]) -> String {
    to_json(&OccupantsBody {
        muc: room,
        occupants,
    })
}

/// `{"jid": "<jid>", "rooms": [{"muc", "nickname", "sessions", "role", "affiliation"}, ...]}`.
pub fn account_rooms_body(jid: &str, rooms: &[AccountRoom]) -> String {
    to_json(&AccountRoomsBody { jid, rooms })
}

/// `{"muc": "<room>", "bans": [{"jid", "until": "<RFC 3339>"|null, "reason"|null,
/// "by_module"}, ...]}`.
pub fn bans_body(room: &str, bans: &[BanEntry]) -> String {
    to_json(&BansBody {
        muc: room,
        bans: bans
            .iter()
            .map(|ban| BanJson {
                jid: &ban.jid,
                until: ban.until.map(rfc3339),
                reason: ban.reason.as_deref(),
                by_module: ban.by_module,
            })
            .collect(),
    })
}

/// `{"muc": "<room>", "kicked": [...], "kept": [...], "dry_run": <bool>}`: the 200 body of keep.
pub fn keep_body<S: AsRef<str>>(room: &str, kicked: &[S], kept: &[S], dry_run: bool) -> String {
    to_json(&KeepBody {
        muc: room,
        kicked,
        kept,
        dry_run,
    })
}

#[derive(Serialize)]
struct KeepBody<'a, S: AsRef<str>> {
    muc: &'a str,
    #[serde(serialize_with = "serialize_strs")]
    kicked: &'a [S],
    #[serde(serialize_with = "serialize_strs")]
    kept: &'a [S],
    dry_run: bool,
}

/// One target's outcome in a request with several: the item as given, and the status and body
/// its single form would have answered.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// The item as given in the request.
    pub given: &'a str,
    /// The single form's status.
    pub status: u16,
    /// The single form's body (one of this module's bodies).
    pub body: &'a str,
}

/// `{"muc": "<room>", "results": [...]}` (no `muc` for every room): each target as given
/// under `field`, then the fields of its single form's 200 body but `muc`, or, when that was
/// refused, `"error": {"status", "condition", "error"}`.
pub fn results_body(room: Option<&str>, field: &str, outcomes: &[Outcome<'_>]) -> String {
    let results = outcomes
        .iter()
        .map(|outcome| Entry {
            field,
            given: outcome.given,
            fields: fields_of(outcome),
        })
        .collect();
    to_json(&ResultsBody { muc: room, results })
}

#[derive(Serialize)]
struct ResultsBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    muc: Option<&'a str>,
    results: Vec<Entry<'a>>,
}

/// One result: the target, then what happened to it.
struct Entry<'a> {
    field: &'a str,
    given: &'a str,
    fields: Fields,
}

/// What happened to one target.
enum Fields {
    /// Its single form's 200 body's fields but `muc`, in order, each value as written.
    Done(Vec<(String, Box<RawValue>)>),
    /// Its single form was refused.
    Refused(ItemError),
}

#[derive(Serialize)]
struct ItemError {
    status: u16,
    condition: String,
    error: String,
}

#[derive(serde::Deserialize)]
struct ErrorFields {
    error: String,
    condition: String,
}

impl Serialize for Entry<'_> {
    fn serialize<Z: serde::Serializer>(&self, z: Z) -> Result<Z::Ok, Z::Error> {
        use serde::ser::SerializeMap;
        let mut map = z.serialize_map(None)?;
        map.serialize_entry(self.field, self.given)?;
        match &self.fields {
            Fields::Done(fields) => {
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
            }
            Fields::Refused(error) => map.serialize_entry("error", error)?,
        }
        map.end()
    }
}

/// What happened to one target, from its single form's answer; a body that is not one of the
/// module's counts as an internal error.
fn fields_of(outcome: &Outcome<'_>) -> Fields {
    let internal = || {
        Fields::Refused(ItemError {
            status: 500,
            condition: KickError::Internal.condition().to_owned(),
            error: KickError::Internal.to_string(),
        })
    };
    if outcome.status == 200 {
        return match serde_json::from_str::<Ordered>(outcome.body) {
            Ok(Ordered(fields)) => {
                Fields::Done(fields.into_iter().filter(|(key, _)| key != "muc").collect())
            }
            Err(_) => internal(),
        };
    }
    match serde_json::from_str::<ErrorFields>(outcome.body) {
        Ok(ErrorFields { error, condition }) => Fields::Refused(ItemError {
            status: outcome.status,
            condition,
            error,
        }),
        Err(_) => internal(),
    }
}

/// A JSON object's fields in the order written, each value as written.
struct Ordered(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> serde::de::Visitor<'de> for OrderedVisitor {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    fields.push(entry);
                }
                Ok(Ordered(fields))
            }
        }
        deserializer.deserialize_map(OrderedVisitor)
    }
}

/// A Unix time in seconds as RFC 3339 UTC with whole seconds, e.g. `2026-11-25T03:04:05Z`.
pub fn rfc3339(unix: i64) -> String {
    let (days, second_of_day) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| FALLBACK_BODY.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_message_and_condition() {
        assert_eq!(
            error_body(&KickError::OccupantNotFound),
            r#"{"error":"No such occupant in the room","condition":"item-not-found"}"#
        );
    }

    #[test]
    fn kicked_body_escapes_what_json_needs() {
        assert_eq!(
            kicked_body("room@muc", &["Bob", "a\"b\\c\u{1}", "Ｂ"]),
            r#"{"muc":"room@muc","kicked":["Bob","a\"b\\c\u0001","Ｂ"]}"#
        );
        assert_eq!(
            kicked_body::<&str>("r@m", &[]),
            r#"{"muc":"r@m","kicked":[]}"#
        );
    }

    #[test]
    fn ban_bodies_have_until_as_rfc3339_or_null() {
        assert_eq!(
            banned_body("r@m", &["Bob"], "bob@h", Some(1_764_039_845)),
            r#"{"muc":"r@m","kicked":["Bob"],"banned":"bob@h","until":"2025-11-25T03:04:05Z"}"#
        );
        assert_eq!(
            banned_body::<&str>("r@m", &[], "bob@h", None),
            r#"{"muc":"r@m","kicked":[],"banned":"bob@h","until":null}"#
        );
        assert_eq!(
            unbanned_body("r@m", "bob@h"),
            r#"{"muc":"r@m","unbanned":"bob@h"}"#
        );
    }

    #[test]
    fn rooms_body_lists_each_room_with_its_kicked() {
        assert_eq!(
            rooms_body(&[("a@m", vec!["Bob"]), ("b@m", vec!["B1", "B2"])]),
            r#"{"rooms":[{"muc":"a@m","kicked":["Bob"]},{"muc":"b@m","kicked":["B1","B2"]}]}"#
        );
    }

    #[test]
    fn occupants_body_lists_every_field_with_null_for_no_occupant_id() {
        let occupant = |nickname: &str, id: Option<&str>| RoomOccupant {
            nickname: nickname.into(),
            jid: "bob@h".into(),
            sessions: vec!["bob@h/phone".into(), "bob@h/laptop".into()],
            role: "participant".into(),
            affiliation: "member".into(),
            occupant_id: id.map(Into::into),
        };
        assert_eq!(
            occupants_body(
                "r@m",
                &[occupant("Bob", Some("aWQ=")), occupant("B\"", None)]
            ),
            concat!(
                r#"{"muc":"r@m","occupants":["#,
                r#"{"nickname":"Bob","jid":"bob@h","sessions":["bob@h/phone","bob@h/laptop"],"#,
                r#""role":"participant","affiliation":"member","occupant_id":"aWQ="},"#,
                r#"{"nickname":"B\"","jid":"bob@h","sessions":["bob@h/phone","bob@h/laptop"],"#,
                r#""role":"participant","affiliation":"member","occupant_id":null}]}"#
            )
        );
        assert_eq!(
            occupants_body("r@m", &[]),
            r#"{"muc":"r@m","occupants":[]}"#
        );
    }

    #[test]
    fn account_rooms_body_lists_each_room_and_is_a_list_when_empty() {
        let room = AccountRoom {
            muc: "a@m".into(),
            nickname: "Bob".into(),
            sessions: vec!["bob@h/phone".into()],
            role: "moderator".into(),
            affiliation: "owner".into(),
        };
        assert_eq!(
            account_rooms_body("bob@h", &[room]),
            concat!(
                r#"{"jid":"bob@h","rooms":[{"muc":"a@m","nickname":"Bob","#,
                r#""sessions":["bob@h/phone"],"role":"moderator","affiliation":"owner"}]}"#
            )
        );
        assert_eq!(
            account_rooms_body("bob@h", &[]),
            r#"{"jid":"bob@h","rooms":[]}"#
        );
    }

    #[test]
    fn bans_body_has_until_as_rfc3339_or_null_and_reason_or_null() {
        let bans = [
            BanEntry {
                jid: "bob@h".into(),
                until: Some(1_764_039_845),
                reason: Some("Spam".into()),
                by_module: true,
            },
            BanEntry {
                jid: "h2".into(),
                until: None,
                reason: None,
                by_module: false,
            },
        ];
        assert_eq!(
            bans_body("r@m", &bans),
            concat!(
                r#"{"muc":"r@m","bans":[{"jid":"bob@h","until":"2025-11-25T03:04:05Z","#,
                r#""reason":"Spam","by_module":true},"#,
                r#"{"jid":"h2","until":null,"reason":null,"by_module":false}]}"#
            )
        );
        assert_eq!(bans_body("r@m", &[]), r#"{"muc":"r@m","bans":[]}"#);
    }

    #[test]
    fn rfc3339_is_right_on_known_dates() {
        for (unix, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_164_799, "2024-02-28T23:59:59Z"),
            (1_709_164_800, "2024-02-29T00:00:00Z"),
            (1_735_689_599, "2024-12-31T23:59:59Z"),
            (4_102_444_800, "2100-01-01T00:00:00Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (7_289_654_399, "2200-12-31T23:59:59Z"),
            (13_574_606_400, "2400-02-29T12:00:00Z"),
            (13_574_649_600, "2400-03-01T00:00:00Z"),
            (951_868_800, "2000-03-01T00:00:00Z"),
            (978_307_200, "2001-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(unix), text, "{unix}");
        }
    }

    #[test]
    fn keep_body_lists_kicked_kept_and_whether_dry() {
        assert_eq!(
            keep_body("r@m", &["Bob", "Eve"], &["Alice"], false),
            r#"{"muc":"r@m","kicked":["Bob","Eve"],"kept":["Alice"],"dry_run":false}"#
        );
        assert_eq!(
            keep_body::<&str>("r@m", &[], &[], true),
            r#"{"muc":"r@m","kicked":[],"kept":[],"dry_run":true}"#
        );
    }

    #[test]
    fn results_body_turns_each_single_body_into_a_result() {
        let banned = banned_body("r@m", &["Bob"], "bob@h", None);
        let missing = error_body(&KickError::OccupantNotFound);
        let refused = error_body(&KickError::DomainBanned { domain: "h".into() });
        let outcomes = [
            Outcome {
                given: "Bob",
                status: 200,
                body: &banned,
            },
            Outcome {
                given: "Nobody",
                status: 404,
                body: &missing,
            },
            Outcome {
                given: "x\"y",
                status: 409,
                body: &refused,
            },
        ];
        assert_eq!(
            results_body(Some("r@m"), "nickname", &outcomes),
            concat!(
                r#"{"muc":"r@m","results":["#,
                r#"{"nickname":"Bob","kicked":["Bob"],"banned":"bob@h","until":null},"#,
                r#"{"nickname":"Nobody","error":{"status":404,"condition":"item-not-found","error":"No such occupant in the room"}},"#,
                r#"{"nickname":"x\"y","error":{"status":409,"condition":"conflict","error":"The whole domain h is banned in the room, so the account would stay banned: lift that ban instead"}}"#,
                "]}"
            )
        );
    }

    #[test]
    fn results_body_of_every_room_has_no_muc() {
        let rooms = rooms_body(&[("a@m", vec!["Bob"])]);
        let unbanned = unbanned_body("r@m", "bob@h");
        assert_eq!(
            results_body(
                None,
                "jid",
                &[Outcome {
                    given: "BOB@h",
                    status: 200,
                    body: &rooms,
                }]
            ),
            r#"{"results":[{"jid":"BOB@h","rooms":[{"muc":"a@m","kicked":["Bob"]}]}]}"#
        );
        assert_eq!(
            results_body(
                Some("r@m"),
                "jid",
                &[Outcome {
                    given: "bob@h",
                    status: 200,
                    body: &unbanned,
                }]
            ),
            r#"{"muc":"r@m","results":[{"jid":"bob@h","unbanned":"bob@h"}]}"#
        );
    }

    #[test]
    fn results_body_of_a_body_that_is_not_json_is_an_internal_error() {
        assert_eq!(
            results_body(
                Some("r@m"),
                "jid",
                &[Outcome {
                    given: "a@h",
                    status: 200,
                    body: "nope",
                }]
            ),
            r#"{"muc":"r@m","results":[{"jid":"a@h","error":{"status":500,"condition":"internal-server-error","error":"Internal error"}}]}"#
        );
    }

    #[test]
    fn fallback_body_is_the_internal_error_body() {
        assert_eq!(FALLBACK_BODY, error_body(&KickError::Internal));
    }
}
