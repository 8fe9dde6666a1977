//! The request body: one strict JSON object → a validated [`KickRequest`].
//!
//! Parsing walks the whole text with serde_json (so every string, number and nesting level is
//! checked, also inside unknown fields), records the first problem with a known field, and only
//! then reports it: a syntax error anywhere wins over a field problem.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::KickError;
use crate::jid;

/// A request that passed every check the core can make; what is left needs Prosody (the room,
/// its occupants, and stringprep where the core's ASCII fast path was not certain). Strings
/// borrow from the body unless JSON escapes or preparation forced a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KickRequest<'a> {
    /// Whether `room` and the target are in Prosody's prepared form (RFC 7622) and the room is
    /// on this component; when false they are as given, for Prosody to prepare and check.
    pub prepared: bool,
    /// The room's bare JID.
    pub room: Cow<'a, str>,
    /// Who to kick.
    pub target: Target<'a>,
    /// The reason to show the room; `None` when absent or empty.
    pub reason: Option<Cow<'a, str>>,
}

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
    let fields = TopLevel::deserialize(&mut deserializer)
        .and_then(|top| deserializer.end().map(|()| top))
        .map_err(|e| KickError::InvalidJson {
            detail: e.to_string(),
        })?
        .0?;
    fields.validate()
}

/// One known field: whether it appeared, and its string value if it was not null.
#[derive(Default)]
struct Slot<'a> {
    seen: bool,
    value: Option<Cow<'a, str>>,
}

/// The known fields of the body, before validation.
#[derive(Default)]
struct Fields<'a> {
    muc: Slot<'a>,
    nickname: Slot<'a>,
    jid: Slot<'a>,
    reason: Slot<'a>,
}

impl<'a> Fields<'a> {
    fn slot(&mut self, key: &str) -> Option<(&'static str, &mut Slot<'a>)> {
        match key {
            "muc" => Some(("muc", &mut self.muc)),
            "nickname" => Some(("nickname", &mut self.nickname)),
            "jid" => Some(("jid", &mut self.jid)),
            "reason" => Some(("reason", &mut self.reason)),
            _ => None,
        }
    }

    fn validate(self) -> Result<KickRequest<'a>, KickError> {
        let room = self
            .muc
            .value
            .ok_or(KickError::MissingField { field: "muc" })?;
        check_room_jid(&room)?;
        let target = match (self.nickname.value, self.jid.value) {
            (Some(nickname), None) => {
                check_nickname(&nickname)?;
                Target::Nickname(nickname)
            }
            (None, Some(real_jid)) => {
                jid::split(&real_jid).map_err(|reason| KickError::InvalidJid {
                    field: "jid",
                    reason,
                })?;
                Target::Jid(real_jid)
            }
            _ => return Err(KickError::TargetAmbiguous),
        };
        let reason = self.reason.value.filter(|r| !r.is_empty());
        if let Some(c) = reason.as_deref().and_then(first_non_xml_char) {
            return Err(KickError::InvalidReason {
                code_point: u32::from(c),
            });
        }
        Ok(KickRequest {
            prepared: false,
            room,
            target,
            reason,
        })
    }
}

fn check_room_jid(room: &str) -> Result<(), KickError> {
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
    if nickname.is_empty() {
        return Err(KickError::InvalidNickname {
            reason: "it is empty",
        });
    }
    if nickname.len() > jid::MAX_PART_BYTES {
        return Err(KickError::InvalidNickname {
            reason: "it is longer than 1023 bytes",
        });
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

/// The whole body: a field problem is the inner error, a syntax problem the outer one.
struct TopLevel<'a>(Result<Fields<'a>, KickError>);

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
            let value = map.next_value::<Json<'de>>()?;
            let Json::Text(key) = key else { continue };
            let Some((field, slot)) = fields.slot(&key) else {
                continue;
            };
            if slot.seen {
                problem.get_or_insert(KickError::DuplicateField { field });
            }
            slot.seen = true;
            match value {
                Json::Text(text) => slot.value = Some(text),
                Json::Null => {}
                Json::Other(found) => {
                    problem.get_or_insert(KickError::WrongType { field, found });
                }
            }
        }
        Ok(TopLevel(problem.map_or(Ok(fields), Err)))
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

/// Any JSON value, fully parsed (strings decoded and checked) but kept only when it is text.
enum Json<'a> {
    Text(Cow<'a, str>),
    Null,
    Other(&'static str),
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

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Json::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Json::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Json::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Json::Other("a number"))
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
