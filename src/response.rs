//! Every response body: the one place that knows the JSON shapes.

use serde::Serialize;

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

fn serialize_strs<S: AsRef<str>, Z: serde::Serializer>(
    items: &&[S],
    z: Z,
) -> Result<Z::Ok, Z::Error> {
    z.collect_seq(items.iter().map(AsRef::as_ref))
}

/// `{"error": "<message>", "condition": "<condition>"}` for `err`.
pub fn error_body(err: &KickError) -> String {
    to_json(&ErrorBody {
        error: &err.to_string(),
        condition: err.condition(),
    })
}

/// `{"muc": "<room>", "kicked": ["<nickname>", ...]}`.
pub fn kicked_body<S: AsRef<str>>(room: &str, nicknames: &[S]) -> String {
    to_json(&KickedBody {
        muc: room,
        kicked: nicknames,
    })
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
    fn fallback_body_is_the_internal_error_body() {
        assert_eq!(FALLBACK_BODY, error_body(&KickError::Internal));
    }
}
