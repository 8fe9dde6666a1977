//! The request body: one strict JSON object → a validated [`KickRequest`].
//!
//! Parsing walks the whole text with serde_json (so every string, number and nesting level is
//! checked, also inside unknown fields), records the first problem with a known field, and only
//! then reports it: a syntax error anywhere wins over a field problem.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{ItemProblem, KickError};
use crate::jid;

/// A request that passed every check the core can make; what is left needs Prosody (the rooms,
/// their occupants, and stringprep where the core's ASCII fast path was not certain). Strings
/// borrow from the body unless JSON escapes or preparation forced a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KickRequest<'a> {
    /// Which JIDs of `action` are still as given, for Prosody to prepare (RFC 7622); the rest
    /// are in Prosody's prepared form, and a prepared room is on this component. For the
    /// actions with several items it speaks of the room alone ([`Unprepared::Target`]: the room
    /// is prepared; [`Unprepared::All`]: it is not): each [`Item`] says whether it is prepared.
    pub unprepared: Unprepared,
    /// What to do.
    pub action: Action<'a>,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// Kick `target` out of `room`; with `ban`, keep its account out.
    Kick {
        /// The room's bare JID.
        room: Cow<'a, str>,
        /// Who to kick.
        target: Target<'a>,
        /// The reason to show the room; `None` when absent or empty.
        reason: Option<Cow<'a, str>>,
        /// Whether and how long the account is banned after the kick.
        ban: Option<Ban>,
    },
    /// Lift the ban of `jid`'s account in `room`.
    Unban {
        /// The room's bare JID.
        room: Cow<'a, str>,
        /// The account, as given (a full JID stands for its bare JID).
        jid: Cow<'a, str>,
    },
    /// Kick `jid` (every session of a bare JID, or one full JID's) from every room.
    KickEverywhere {
        /// The real JID.
        jid: Cow<'a, str>,
        /// The reason to show the rooms; `None` when absent or empty.
        reason: Option<Cow<'a, str>>,
    },
    /// [`Action::Kick`] for each of several targets, in order.
    KickMany {
        /// The room's bare JID.
        room: Cow<'a, str>,
        /// Who to kick: 1 to [`MAX_TARGETS`] nicknames or JIDs.
        targets: Targets<'a>,
        /// The reason to show the room; `None` when absent or empty.
        reason: Option<Cow<'a, str>>,
        /// Whether and how long each account is banned after its kick.
        ban: Option<Ban>,
    },
    /// [`Action::Unban`] for each of 1 to [`MAX_TARGETS`] JIDs, in order.
    UnbanMany {
        /// The room's bare JID.
        room: Cow<'a, str>,
        /// The accounts.
        jids: Vec<Item<'a>>,
    },
    /// [`Action::KickEverywhere`] for each of 1 to [`MAX_TARGETS`] JIDs, in order.
    KickEverywhereMany {
        /// The real JIDs.
        jids: Vec<Item<'a>>,
        /// The reason to show the rooms; `None` when absent or empty.
        reason: Option<Cow<'a, str>>,
    },
    /// Kick every occupant of `room` whose real bare JID is not in `keep`.
    Keep {
        /// The room's bare JID.
        room: Cow<'a, str>,
        /// The accounts (bare JIDs) that stay; any number, none included.
        keep: Vec<Item<'a>>,
        /// The reason to show the room; `None` when absent or empty.
        reason: Option<Cow<'a, str>>,
        /// Only say what would be done.
        dry_run: bool,
    },
}

/// The targets of a request with several: all nicknames or all JIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets<'a> {
    /// Occupants by nickname.
    Nicknames(Vec<Item<'a>>),
    /// Real JIDs, bare or full.
    Jids(Vec<Item<'a>>),
}

impl<'a> Targets<'a> {
    /// The field they were given in: `nickname` or `jid`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Nicknames(_) => "nickname",
            Self::Jids(_) => "jid",
        }
    }

    /// The items, in the order given.
    pub fn items(&self) -> &[Item<'a>] {
        match self {
            Self::Nicknames(items) | Self::Jids(items) => items,
        }
    }

    /// The items, to prepare them.
    pub fn items_mut(&mut self) -> &mut [Item<'a>] {
        match self {
            Self::Nicknames(items) | Self::Jids(items) => items,
        }
    }
}

/// One valid item of a list field: the text as given and, once the core's fast path was
/// certain of it, its prepared form (`None`: Prosody's stringprep decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'a> {
    /// The item as given in the body.
    pub given: Cow<'a, str>,
    /// Its prepared form, when known.
    pub prepared: Option<Cow<'a, str>>,
}

impl<'a> Item<'a> {
    fn new(given: Cow<'a, str>) -> Self {
        Self {
            given,
            prepared: None,
        }
    }
}

/// The most targets one request may name in `nickname` or `jid`.
pub const MAX_TARGETS: usize = 100;

/// What the core's ASCII fast path left for Prosody's stringprep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unprepared {
    /// Nothing: every JID is prepared.
    Nothing,
    /// The target (nickname or JID) alone; the room is prepared and on this component.
    Target,
    /// Every JID, room included.
    All,
}

/// How long a ban lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ban {
    /// Until an unban lifts it.
    UntilLifted,
    /// This many seconds, from 1 to [`MAX_BAN_SECONDS`].
    Seconds(u32),
}

/// The longest timed ban: a year.
pub const MAX_BAN_SECONDS: u32 = 31_536_000;

/// The occupant(s) to kick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    /// An occupant by nickname.
    Nickname(Cow<'a, str>),
    /// Every occupant of a real bare JID, or the one holding a full JID's session.
    Jid(Cow<'a, str>),
}

/// Parses and validates a request body.
pub fn parse(body: &[u8]) -> Result<KickRequest<'_>, KickError> {
    let text = std::str::from_utf8(body).map_err(|e| KickError::InvalidJson {
        detail: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
    })?;
    if text.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
        return Err(KickError::InvalidJson {
            detail: "the body is empty; send a JSON object".into(),
        });
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    TopLevel::deserialize(&mut deserializer)
        .and_then(|top| deserializer.end().map(|()| top))
        .map_err(|e| KickError::InvalidJson {
            detail: e.to_string(),
        })?
        .0
}

/// One known field: whether it appeared, and its value if it was not null.
struct Slot<T> {
    seen: bool,
    value: Option<T>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            seen: false,
            value: None,
        }
    }
}

/// The known fields of the body, before validation.
#[derive(Default)]
struct Fields<'a> {
    muc: Slot<Cow<'a, str>>,
    nickname: Slot<Texts<'a>>,
    jid: Slot<Texts<'a>>,
    reason: Slot<Cow<'a, str>>,
    ban: Slot<Json<'a>>,
    unban: Slot<Json<'a>>,
    keep: Slot<Texts<'a>>,
    dry_run: Slot<Json<'a>>,
}

/// A known field's slot: text fields take strings, list fields a string or an array, flags
/// take any JSON value.
enum SlotRef<'s, 'a> {
    Text(&'s mut Slot<Cow<'a, str>>),
    List(&'s mut Slot<Texts<'a>>),
    Flag(&'s mut Slot<Json<'a>>),
}

/// What `keep` must be.
const KEEP_EXPECTED: &str = "an array of bare JIDs (accounts)";
/// What `nickname` and `jid` must be when they are arrays.
const TARGETS_EXPECTED: &str = "a string, or an array of 1 to 100 strings";

impl<'a> Fields<'a> {
    fn slot(&mut self, key: &str) -> Option<(&'static str, SlotRef<'_, 'a>)> {
        Some(match key {
            "muc" => ("muc", SlotRef::Text(&mut self.muc)),
            "nickname" => ("nickname", SlotRef::List(&mut self.nickname)),
            "jid" => ("jid", SlotRef::List(&mut self.jid)),
            "reason" => ("reason", SlotRef::Text(&mut self.reason)),
            "ban" => ("ban", SlotRef::Flag(&mut self.ban)),
            "unban" => ("unban", SlotRef::Flag(&mut self.unban)),
            "keep" => ("keep", SlotRef::List(&mut self.keep)),
            "dry_run" => ("dry_run", SlotRef::Flag(&mut self.dry_run)),
            _ => return None,
        })
    }

    fn validate(self) -> Result<KickRequest<'a>, KickError> {
        let ban = ban(self.ban.value)?;
        let unban = unban(self.unban.value)?;
        let dry_run = dry_run(self.dry_run.value)?;
        let reason = self.reason.value;
        if let Some(keep) = self.keep.value {
            let not_with = |field| KickError::NotWith {
                field,
                with: "keep",
            };
            if self.nickname.value.is_some() {
                return Err(not_with("nickname"));
            }
            if self.jid.value.is_some() {
                return Err(not_with("jid"));
            }
            if ban.is_some() {
                return Err(not_with("ban"));
            }
            if unban {
                return Err(not_with("unban"));
            }
            let room = self
                .muc
                .value
                .ok_or(KickError::NeedsRoom { field: "keep" })?;
            check_room_jid(&room)?;
            let Texts::Many(keep) = keep else {
                return Err(KickError::InvalidValue {
                    field: "keep",
                    expected: KEEP_EXPECTED,
                });
            };
            return Ok(KickRequest {
                unprepared: Unprepared::All,
                action: Action::Keep {
                    room,
                    keep: items("keep", keep, None, bare_jid_problem)?,
                    reason: check_reason(reason)?,
                    dry_run: dry_run.unwrap_or(false),
                },
            });
        }
        if dry_run.is_some() {
            return Err(KickError::OnlyWith {
                field: "dry_run",
                with: "keep",
            });
        }
        let action = match (self.muc.value, unban) {
            (Some(room), true) => {
                let not_with = |field| KickError::NotWith {
                    field,
                    with: "unban",
                };
                if self.nickname.value.is_some() {
                    return Err(not_with("nickname"));
                }
                if reason.is_some() {
                    return Err(not_with("reason"));
                }
                if ban.is_some() {
                    return Err(not_with("ban"));
                }
                check_room_jid(&room)?;
                match self
                    .jid
                    .value
                    .ok_or(KickError::MissingField { field: "jid" })?
                {
                    Texts::One(jid) => {
                        check_jid(&jid)?;
                        Action::Unban { room, jid }
                    }
                    Texts::Many(jids) => Action::UnbanMany {
                        room,
                        jids: items("jid", jids, Some(MAX_TARGETS), jid_problem)?,
                    },
                }
            }
            (None, true) => return Err(KickError::NeedsRoom { field: "unban" }),
            (None, false) if ban.is_some() => return Err(KickError::NeedsRoom { field: "ban" }),
            (None, false) => match (self.nickname.value, self.jid.value) {
                (None, Some(Texts::One(jid))) => {
                    check_jid(&jid)?;
                    Action::KickEverywhere {
                        jid,
                        reason: check_reason(reason)?,
                    }
                }
                (None, Some(Texts::Many(jids))) => Action::KickEverywhereMany {
                    jids: items("jid", jids, Some(MAX_TARGETS), jid_problem)?,
                    reason: check_reason(reason)?,
                },
                _ => return Err(KickError::MissingField { field: "muc" }),
            },
            (Some(room), false) => {
                check_room_jid(&room)?;
                let targets =
                    match (self.nickname.value, self.jid.value) {
                        (Some(Texts::One(nickname)), None) => {
                            check_nickname(&nickname)?;
                            Named::One(Target::Nickname(nickname))
                        }
                        (None, Some(Texts::One(jid))) => {
                            check_jid(&jid)?;
                            Named::One(Target::Jid(jid))
                        }
                        (Some(Texts::Many(nicknames)), None) => Named::Many(Targets::Nicknames(
                            items("nickname", nicknames, Some(MAX_TARGETS), nickname_problem)?,
                        )),
                        (None, Some(Texts::Many(jids))) => Named::Many(Targets::Jids(items(
                            "jid",
                            jids,
                            Some(MAX_TARGETS),
                            jid_problem,
                        )?)),
                        _ => return Err(KickError::TargetAmbiguous),
                    };
                let reason = check_reason(reason)?;
                match targets {
                    Named::One(target) => Action::Kick {
                        room,
                        target,
                        reason,
                        ban,
                    },
                    Named::Many(targets) => Action::KickMany {
                        room,
                        targets,
                        reason,
                        ban,
                    },
                }
            }
        };
        Ok(KickRequest {
            unprepared: Unprepared::All,
            action,
        })
    }
}

/// Who a kick in one room names: one target, or several.
enum Named<'a> {
    One(Target<'a>),
    Many(Targets<'a>),
}

/// The items of a list field, each checked; all or nothing. `nickname` and `jid` hold 1 to
/// `max` items (`Some`), `keep` any number (`None`).
fn items<'a>(
    field: &'static str,
    list: Vec<Json<'a>>,
    max: Option<usize>,
    problem: fn(&str) -> Result<(), &'static str>,
) -> Result<Vec<Item<'a>>, KickError> {
    if max.is_some_and(|max| list.is_empty() || list.len() > max) {
        return Err(KickError::InvalidValue {
            field,
            expected: TARGETS_EXPECTED,
        });
    }
    let kind = if field == "nickname" {
        ItemProblem::InvalidNickname
    } else {
        ItemProblem::InvalidJid
    };
    list.into_iter()
        .enumerate()
        .map(|(index, value)| match value {
            Json::Text(text) => match problem(&text) {
                Ok(()) => Ok(Item::new(text)),
                Err(reason) => Err(KickError::InvalidItem {
                    field,
                    index,
                    problem: kind(reason),
                }),
            },
            other => Err(KickError::InvalidItem {
                field,
                index,
                problem: ItemProblem::NotAString {
                    found: other.kind(),
                },
            }),
        })
        .collect()
}

/// `dry_run`: a boolean; `null` is absent.
fn dry_run(value: Option<Json<'_>>) -> Result<Option<bool>, KickError> {
    match value {
        None => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(KickError::InvalidValue {
            field: "dry_run",
            expected: "a boolean",
        }),
    }
}

/// `ban`: `true` or a whole number of seconds in range; `false` and `null` are absent.
fn ban(value: Option<Json<'_>>) -> Result<Option<Ban>, KickError> {
    let invalid = KickError::InvalidValue {
        field: "ban",
        expected: "true or a whole number of seconds from 1 to 31536000",
    };
    match value {
        None | Some(Json::Bool(false)) => Ok(None),
        Some(Json::Bool(true)) => Ok(Some(Ban::UntilLifted)),
        Some(Json::Number(n))
            if n.fract() == 0.0 && (1.0..=f64::from(MAX_BAN_SECONDS)).contains(&n) =>
        {
            Ok(Some(Ban::Seconds(n as u32)))
        }
        Some(_) => Err(invalid),
    }
}

/// `unban`: `true`; `false` and `null` are absent.
fn unban(value: Option<Json<'_>>) -> Result<bool, KickError> {
    match value {
        None | Some(Json::Bool(false)) => Ok(false),
        Some(Json::Bool(true)) => Ok(true),
        Some(_) => Err(KickError::InvalidValue {
            field: "unban",
            expected: "true",
        }),
    }
}

/// A real JID of an account: one without a node is a domain, and a ban of it would ban the
/// whole domain.
pub(crate) fn check_jid(real_jid: &str) -> Result<(), KickError> {
    jid_problem(real_jid).map_err(|reason| KickError::InvalidJid {
        field: "jid",
        reason,
    })
}

/// What is wrong with `real_jid` as an account's JID, if anything.
fn jid_problem(real_jid: &str) -> Result<(), &'static str> {
    match jid::split(real_jid)?.node {
        Some(_) => Ok(()),
        None => Err(NOT_AN_ACCOUNT),
    }
}

/// What is wrong with `real_jid` as an account's bare JID (an item of `keep`), if anything.
fn bare_jid_problem(real_jid: &str) -> Result<(), &'static str> {
    jid_problem(real_jid)?;
    match jid::split(real_jid)?.resource {
        Some(_) => Err(NOT_BARE),
        None => Ok(()),
    }
}

/// Why an item of `keep` with a resource is refused.
pub const NOT_BARE: &str = "it has a resource: `keep` lists accounts, as bare JIDs";
/// Why a `jid` without a node is refused.
pub const NOT_AN_ACCOUNT: &str = "it has no node: it names a domain, not an account";
/// Why a `jid` on the module's own component is refused.
pub const ON_THIS_COMPONENT: &str =
    "it is on this component (a room or an occupant), not an account";

/// The reason, `None` when empty; refused when XML cannot carry it.
fn check_reason(reason: Option<Cow<'_, str>>) -> Result<Option<Cow<'_, str>>, KickError> {
    let reason = reason.filter(|r| !r.is_empty());
    match reason.as_deref().and_then(first_non_xml_char) {
        Some(c) => Err(KickError::InvalidReason {
            code_point: u32::from(c),
        }),
        None => Ok(reason),
    }
}

/// A bare room JID with a node.
pub(crate) fn check_room_jid(room: &str) -> Result<(), KickError> {
    let invalid = |reason| KickError::InvalidJid {
        field: "muc",
        reason,
    };
    let parts = jid::split(room).map_err(invalid)?;
    if parts.node.is_none() || parts.resource.is_some() {
        return Err(invalid(
            "it must be a bare room JID like room@chat.example.org",
        ));
    }
    Ok(())
}

fn check_nickname(nickname: &str) -> Result<(), KickError> {
    nickname_problem(nickname).map_err(|reason| KickError::InvalidNickname { reason })
}

/// What is wrong with `nickname`, if anything.
fn nickname_problem(nickname: &str) -> Result<(), &'static str> {
    if nickname.is_empty() {
        return Err("it is empty");
    }
    if nickname.len() > jid::MAX_PART_BYTES {
        return Err("it is longer than 1023 bytes");
    }
    Ok(())
}

/// The first character XML 1.0 cannot carry (control characters other than tab, LF and CR,
/// and the non-characters U+FFFE and U+FFFF).
pub fn first_non_xml_char(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
    })
}

/// The whole body: a field problem (or the validated request) is the inner result, a syntax
/// problem the outer one. The fields are validated as soon as the object ends (a validated request
/// is smaller to move than the fields); a syntax error after it still wins.
struct TopLevel<'a>(Result<KickRequest<'a>, KickError>);

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        let mut problem = None;
        while let Some(key) = map.next_key::<Json<'de>>()? {
            let known = match &key {
                Json::Text(key) => fields.slot(key),
                _ => None,
            };
            let Some((field, slot)) = known else {
                map.next_value::<Json<'de>>()?;
                continue;
            };
            let seen = match slot {
                SlotRef::Text(slot) => {
                    match map.next_value::<Json<'de>>()? {
                        Json::Text(text) => slot.value = Some(text),
                        Json::Null => {}
                        other => {
                            problem.get_or_insert(KickError::WrongType {
                                field,
                                found: other.kind(),
                            });
                        }
                    }
                    std::mem::replace(&mut slot.seen, true)
                }
                SlotRef::List(slot) => {
                    match map.next_value::<Listed<'de>>()? {
                        Listed::Texts(texts) => slot.value = Some(texts),
                        Listed::Null => {}
                        Listed::Other(_) if field == "keep" => {
                            problem.get_or_insert(KickError::InvalidValue {
                                field,
                                expected: KEEP_EXPECTED,
                            });
                        }
                        Listed::Other(found) => {
                            problem.get_or_insert(KickError::WrongType { field, found });
                        }
                    }
                    std::mem::replace(&mut slot.seen, true)
                }
                SlotRef::Flag(slot) => {
                    let value = map.next_value::<Json<'de>>()?;
                    if !matches!(value, Json::Null) {
                        slot.value = Some(value);
                    }
                    std::mem::replace(&mut slot.seen, true)
                }
            };
            if seen {
                problem.get_or_insert(KickError::DuplicateField { field });
            }
        }
        Ok(TopLevel(match problem {
            Some(problem) => Err(problem),
            None => fields.validate(),
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(not_an_object("an array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(not_an_object("a string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(not_an_object("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(not_an_object("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(not_an_object("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(not_an_object("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(not_an_object("null"))
    }
}

fn not_an_object<'a>(found: &'static str) -> TopLevel<'a> {
    TopLevel(Err(KickError::NotAnObject { found }))
}

/// A list field's value: one string, or an array of values (each checked by validation).
enum Texts<'a> {
    One(Cow<'a, str>),
    Many(Vec<Json<'a>>),
}

/// Any JSON value, read for a list field: strings and arrays are kept.
enum Listed<'a> {
    Texts(Texts<'a>),
    Null,
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Listed<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListedVisitor)
    }
}

struct ListedVisitor;

impl<'de> Visitor<'de> for ListedVisitor {
    type Value = Listed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Listed::Texts(Texts::One(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Listed::Texts(Texts::One(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Listed::Texts(Texts::One(Cow::Owned(v))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Listed::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Listed::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Listed::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Listed::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Listed::Other("a number"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json<'de>>()? {
            items.push(item);
        }
        Ok(Listed::Texts(Texts::Many(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Json<'de>, Json<'de>>()?.is_some() {}
        Ok(Listed::Other("an object"))
    }
}

/// Any JSON value, fully parsed (strings decoded and checked); kept when it is text, a boolean
/// or a number, for the fields that take those.
enum Json<'a> {
    Text(Cow<'a, str>),
    Null,
    Bool(bool),
    Number(f64),
    Other(&'static str),
}

impl Json<'_> {
    /// What kind of JSON value this is, for messages.
    fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "a string",
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::Other(kind) => kind,
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::Text(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Json::Number(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(Json::Other("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Json<'de>, Json<'de>>()?.is_some() {}
        Ok(Json::Other("an object"))
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Json<'de>>()?.is_some() {}
    Ok(())
}
