//! The read-only views (`GET /muc_kick/occupants`, `GET /muc_kick/bans`): the query string,
//! `application/x-www-form-urlencoded` UTF-8 → a validated [`ViewRequest`].
//!
//! Stricter than browsers' parsing: a `%` not followed by two hex digits, or bytes that are not
//! UTF-8 once decoded, are a 400 anywhere in the query (unknown parameters too), as a body's
//! JSON is checked whole. Each known parameter may appear once; unknown ones are ignored. The
//! JIDs get the same checks as in a body (see [`crate::request`]).

use std::borrow::Cow;

use crate::error::KickError;
use crate::request;

/// Which view a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `/muc_kick/occupants`: `muc` (a room's occupants) or `jid` (an account's rooms).
    Occupants,
    /// `/muc_kick/bans`: `muc`, the room's outcasts.
    Bans,
}

impl View {
    /// The view of a path's last segment (`occupants`, `bans`), as the Lua glue names it.
    pub fn of(name: &[u8]) -> Option<Self> {
        match name {
            b"occupants" => Some(Self::Occupants),
            b"bans" => Some(Self::Bans),
            _ => None,
        }
    }
}

/// A view request that passed every check the core can make. The JIDs are as decoded from the
/// query until [`crate::kicker::Kicker::decide_view`] prepares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewRequest<'a> {
    /// The occupants of a room.
    RoomOccupants {
        /// The room's bare JID.
        room: Cow<'a, str>,
    },
    /// The rooms where an account (a bare JID) or one session (a full JID) is an occupant.
    AccountRooms {
        /// The real JID, an account with a node.
        jid: Cow<'a, str>,
    },
    /// The outcasts of a room.
    Bans {
        /// The room's bare JID.
        room: Cow<'a, str>,
    },
}

/// Parses and validates the query string of a view (without the `?`; empty when absent).
pub fn parse(view: View, query: &[u8]) -> Result<ViewRequest<'_>, KickError> {
    let mut muc = None;
    let mut jid = None;
    for pair in query.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (pair.get(..at), pair.get(at + 1..)),
            None => (Some(pair), None),
        };
        let name = decode(name.unwrap_or_default())?;
        let value = decode(value.unwrap_or_default())?;
        let (slot, name) = match (view, name.as_ref()) {
            (_, "muc") => (&mut muc, "muc"),
            (View::Occupants, "jid") => (&mut jid, "jid"),
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(KickError::DuplicateParameter { name });
        }
    }
    match (view, muc, jid) {
        (View::Occupants, Some(room), None) => {
            request::check_room_jid(&room)?;
            Ok(ViewRequest::RoomOccupants { room })
        }
        (View::Occupants, None, Some(jid)) => {
            request::check_jid(&jid)?;
            Ok(ViewRequest::AccountRooms { jid })
        }
        (View::Occupants, _, _) => Err(KickError::ViewAmbiguous),
        (View::Bans, Some(room), _) => {
            request::check_room_jid(&room)?;
            Ok(ViewRequest::Bans { room })
        }
        (View::Bans, None, _) => Err(KickError::MissingParameter { name: "muc" }),
    }
}

/// One name or value decoded: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode(text: &[u8]) -> Result<Cow<'_, str>, KickError> {
    let utf8 = |bytes| {
        std::str::from_utf8(bytes).map_err(|e| KickError::InvalidQuery {
            detail: format!("it is not UTF-8 once decoded (byte {})", e.valid_up_to()),
        })
    };
    if !text.iter().any(|&b| b == b'%' || b == b'+') {
        return utf8(text).map(Cow::Borrowed);
    }
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.iter();
    while let Some(&b) = rest.next() {
        bytes.push(match b {
            b'+' => b' ',
            b'%' => {
                let high = rest.next().and_then(|&h| hex(h));
                let low = rest.next().and_then(|&l| hex(l));
                match (high, low) {
                    (Some(high), Some(low)) => (high << 4) | low,
                    _ => {
                        return Err(KickError::InvalidQuery {
                            detail: "a % is not followed by two hexadecimal digits".into(),
                        });
                    }
                }
            }
            other => other,
        });
    }
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|e| KickError::InvalidQuery {
            detail: format!(
                "it is not UTF-8 once decoded (byte {})",
                e.utf8_error().valid_up_to()
            ),
        })
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `text` form-urlencoded the way a client may write it: `+` for a space, `%XX` for the
    /// other bytes that are not letters or digits (in either case of hex digit).
    fn encode(text: &str, upper: bool) -> String {
        text.bytes()
            .map(|b| match b {
                b' ' => "+".to_owned(),
                b if b.is_ascii_alphanumeric() => char::from(b).to_string(),
                b if upper => format!("%{b:02X}"),
                b => format!("%{b:02x}"),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn any_bytes_are_a_view_or_a_400_never_a_panic(
            query in proptest::collection::vec(any::<u8>(), 0..200), bans in any::<bool>()
        ) {
            let which = if bans { View::Bans } else { View::Occupants };
            if let Err(err) = parse(which, &query) {
                prop_assert_eq!(err.status(), 400);
            }
        }

        #[test]
        fn every_value_decodes_to_what_was_encoded(
            node in "[^@/\\x00-\\x1f\\x7f]{1,20}", resource in "[^\\x00-\\x1f\\x7f]{1,20}",
            upper in any::<bool>()
        ) {
            let value = format!("{node}@localhost/{resource}");
            let query = format!("x={}&jid={}", encode("a&b=c", upper), encode(&value, upper));
            let decided = parse(View::Occupants, query.as_bytes());
            prop_assert_eq!(decided, Ok(ViewRequest::AccountRooms { jid: value.into() }));
        }
    }

    fn room(q: &str) -> Result<ViewRequest<'_>, KickError> {
        parse(View::Occupants, q.as_bytes())
    }

    #[test]
    fn muc_names_a_room_and_jid_an_account() {
        assert_eq!(
            room("muc=r@muc.localhost"),
            Ok(ViewRequest::RoomOccupants {
                room: "r@muc.localhost".into()
            })
        );
        assert_eq!(
            room("jid=bob@localhost/phone"),
            Ok(ViewRequest::AccountRooms {
                jid: "bob@localhost/phone".into()
            })
        );
        assert_eq!(
            parse(View::Bans, b"muc=r@muc.localhost"),
            Ok(ViewRequest::Bans {
                room: "r@muc.localhost".into()
            })
        );
    }

    #[test]
    fn plus_is_a_space_and_percent_escapes_are_decoded_in_names_and_values() {
        assert_eq!(
            room("m%75c=r%40muc.localhost&x=a+b"),
            Ok(ViewRequest::RoomOccupants {
                room: "r@muc.localhost".into()
            })
        );
        assert_eq!(
            room("jid=bob@localhost/my+phone%2Fx%C3%A9"),
            Ok(ViewRequest::AccountRooms {
                jid: "bob@localhost/my phone/xé".into()
            })
        );
        // a decoded `&` or `=` is text, not a separator
        assert_eq!(
            room("jid=b%26o%3Db@localhost"),
            Ok(ViewRequest::AccountRooms {
                jid: "b&o=b@localhost".into()
            })
        );
    }

    #[test]
    fn unescaped_values_are_borrowed() {
        let Ok(ViewRequest::RoomOccupants { room }) = room("muc=r@m") else {
            panic!("not parsed");
        };
        assert!(matches!(room, Cow::Borrowed(_)));
    }

    #[test]
    fn unknown_and_empty_parameters_are_ignored() {
        assert_eq!(
            room("&a=1&&muc=r@m&b&jid2=x&"),
            Ok(ViewRequest::RoomOccupants { room: "r@m".into() })
        );
        // jid means nothing to /bans
        assert_eq!(
            parse(View::Bans, b"muc=r@m&jid=a@b&jid=c@d"),
            Ok(ViewRequest::Bans { room: "r@m".into() })
        );
    }

    #[test]
    fn a_parameter_given_twice_is_a_400_naming_it() {
        for (query, name) in [
            ("muc=r@m&muc=r@m", "muc"),
            ("jid=a@b&x=1&jid=a@b", "jid"),
            ("muc=r@m&m%75c=s@m", "muc"),
            ("muc&muc=r@m", "muc"),
        ] {
            assert_eq!(
                room(query),
                Err(KickError::DuplicateParameter { name }),
                "{query}"
            );
        }
        assert_eq!(
            parse(View::Bans, b"muc=a@b&muc=a@b"),
            Err(KickError::DuplicateParameter { name: "muc" })
        );
    }

    #[test]
    fn occupants_need_exactly_one_of_muc_and_jid() {
        for query in ["", "x=1", "muc=r@m&jid=a@b"] {
            assert_eq!(room(query), Err(KickError::ViewAmbiguous), "{query}");
        }
        assert_eq!(
            parse(View::Bans, b""),
            Err(KickError::MissingParameter { name: "muc" })
        );
    }

    #[test]
    fn bad_escapes_and_invalid_utf8_are_400_anywhere() {
        for query in [
            "muc=r%4@m",
            "muc=r@m%",
            "muc=r@m%zz",
            "muc=r@m&other=%g1",
            "muc=%FF@m",
            "muc=r@m&x=%C3",
            "m%ZZc=r@m",
        ] {
            assert!(
                matches!(room(query), Err(KickError::InvalidQuery { .. })),
                "{query}"
            );
        }
        assert!(matches!(
            parse(View::Occupants, b"muc=r@m&x=\xff"),
            Err(KickError::InvalidQuery { .. })
        ));
    }

    #[test]
    fn jids_are_checked_as_in_a_body() {
        for (query, field) in [
            ("muc=", "muc"),
            ("muc=muc.localhost", "muc"),
            ("muc=r@m/nick", "muc"),
            ("muc=a@b@c", "muc"),
            ("jid=localhost", "jid"),
            ("jid=", "jid"),
            ("jid=a%00b@localhost", "jid"),
            ("jid=@localhost", "jid"),
        ] {
            assert!(
                matches!(room(query), Err(KickError::InvalidJid { field: f, .. }) if f == field),
                "{query}: {:?}",
                room(query)
            );
        }
        assert!(matches!(
            parse(View::Bans, b"muc=localhost"),
            Err(KickError::InvalidJid { field: "muc", .. })
        ));
    }

    #[test]
    fn views_are_named_by_their_path() {
        assert_eq!(View::of(b"occupants"), Some(View::Occupants));
        assert_eq!(View::of(b"bans"), Some(View::Bans));
        assert_eq!(View::of(b"other"), None);
    }
}
