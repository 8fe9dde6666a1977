//! An exact ASCII fast path of Prosody's JID preparation (`util.jid.prep`, RFC 7622).
//!
//! Each function returns `Some(prepared)` only where the result is certain to be what Prosody's
//! own preparation gives (on 0.12 and every 13.0.x); `None` means "ask Prosody", never "invalid".
//! A domain is certain only as a host name of letters, digits and hyphens (see [`nameprep`]).
//!
//! Why printable ASCII is certain: Prosody's stringprep (ICU, RFC 3454 tables of Unicode 3.2)
//! maps nothing in U+0020–U+007E to nothing, leaves it unchanged by NFKC, has no bidi property
//! there, and case-folds only `A`–`Z` (table B.2, used by nodeprep and nameprep, not by
//! resourceprep). Nodeprep alone prohibits some of these: the space and `"&'/:<>@`. Prosody
//! refuses a part of 1024 bytes or more before preparing it. Control characters (allowed by
//! nameprep) and everything else take Prosody's path. `spec/prep_spec.lua` checks all of this
//! against Prosody's own `util.jid.prep`.

use std::borrow::Cow;

use crate::jid::{JidParts, MAX_PART_BYTES};

/// Nodeprep of a JID's local part, when certain.
pub fn nodeprep(node: &str) -> Option<Cow<'_, str>> {
    prepare(node, is_node_char, Case::Fold)
}

/// Nameprep of a JID's domain part (with Prosody's removal of one trailing dot), when certain:
/// for a host name of letters, digits and hyphens. Prosody 13.0.2 and later also refuse a domain
/// that IDNA refuses (an empty label, one over 63 bytes, a hyphen at either end of a label or in
/// its third and fourth places, a name over 253 bytes, `_`, a space...), which 0.12 and 13.0.1
/// accept: every other domain goes to Prosody, which gives its own version's answer.
pub fn nameprep(domain: &str) -> Option<Cow<'_, str>> {
    // "." alone is refused by Prosody; here it becomes empty, which falls back.
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.len() > MAX_HOST_NAME_BYTES {
        return None;
    }
    match host_name_case(domain.as_bytes())? {
        Case::Fold => Some(Cow::Owned(domain.to_ascii_lowercase())),
        Case::Keep => Some(Cow::Borrowed(domain)),
    }
}

/// The longest host name IDNA accepts (without a trailing dot).
const MAX_HOST_NAME_BYTES: usize = 253;

/// The longest label IDNA accepts.
const MAX_LABEL_BYTES: usize = 63;

/// For a host name every Prosody and IDNA take as it is, whether it holds upper case to fold;
/// `None` for anything else. Each label: 1 to 63 letters, digits and hyphens, no hyphen at
/// either end nor in the third and fourth places (`xn--` and the like go to Prosody). One pass:
/// this runs for every JID of every request.
fn host_name_case(name: &[u8]) -> Option<Case> {
    let mut case = Case::Keep;
    let mut label_len = 0;
    let mut previous = b'.';
    for &b in name {
        match b {
            b'.' if label_len == 0 || previous == b'-' => return None,
            b'.' => label_len = 0,
            b'-' if label_len == 0 || (label_len == 3 && previous == b'-') => return None,
            b'-' | b'a'..=b'z' | b'0'..=b'9' => label_len += 1,
            b'A'..=b'Z' => {
                case = Case::Fold;
                label_len += 1;
            }
            _ => return None,
        }
        if label_len > MAX_LABEL_BYTES {
            return None;
        }
        previous = b;
    }
    (label_len != 0 && previous != b'-').then_some(case)
}

/// Resourceprep of a resource or MUC nickname, when certain.
pub fn resourceprep(resource: &str) -> Option<Cow<'_, str>> {
    prepare(resource, is_printable, Case::Keep)
}

/// `util.jid.prep` of a whole JID, when certain.
pub fn jid(jid: &str) -> Option<String> {
    // Unchecked parts: empty or long ones are left to the preparation functions to refuse.
    let JidParts {
        node,
        domain,
        resource,
    } = crate::jid::parts(jid);
    if domain.contains('@') {
        return None;
    }
    let node = match node {
        Some(node) => Some(nodeprep(node)?),
        None => None,
    };
    let domain = nameprep(domain)?;
    let resource = match resource {
        Some(resource) => Some(resourceprep(resource)?),
        None => None,
    };

    let mut prepared = String::with_capacity(jid.len());
    if let Some(node) = node {
        prepared.push_str(&node);
        prepared.push('@');
    }
    prepared.push_str(&domain);
    if let Some(resource) = resource {
        prepared.push('/');
        prepared.push_str(&resource);
    }
    Some(prepared)
}

/// Whether a profile maps `A`–`Z` to lower case (RFC 3454 table B.2).
#[derive(Clone, Copy)]
enum Case {
    Fold,
    Keep,
}

/// `part` prepared, if it is non-empty, short enough and made only of `allowed` bytes.
fn prepare(part: &str, allowed: fn(u8) -> bool, case: Case) -> Option<Cow<'_, str>> {
    if part.is_empty() || part.len() > MAX_PART_BYTES || !part.bytes().all(allowed) {
        return None;
    }
    match case {
        Case::Fold if part.bytes().any(|b| b.is_ascii_uppercase()) => {
            Some(Cow::Owned(part.to_ascii_lowercase()))
        }
        _ => Some(Cow::Borrowed(part)),
    }
}

/// U+0020–U+007E: what nameprep and resourceprep keep (or only case-fold).
fn is_printable(b: u8) -> bool {
    b == b' ' || b.is_ascii_graphic()
}

/// Printable ASCII minus what nodeprep prohibits (RFC 3454 C.1.1, RFC 6122 appendix A.5).
fn is_node_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'&' | b'\'' | b'/' | b':' | b'<' | b'>' | b'@')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn borrowed(prepared: Option<Cow<'_, str>>) -> bool {
        matches!(prepared, Some(Cow::Borrowed(_)))
    }

    #[test]
    fn typical_jids_take_the_fast_path() {
        assert_eq!(
            jid("room@muc.localhost").as_deref(),
            Some("room@muc.localhost")
        );
        assert_eq!(
            jid("bob@localhost/phone").as_deref(),
            Some("bob@localhost/phone")
        );
        assert_eq!(jid("muc.localhost").as_deref(), Some("muc.localhost"));
        assert_eq!(
            jid("muc.localhost/Some Nick").as_deref(),
            Some("muc.localhost/Some Nick")
        );
        for nick in [
            "Bob",
            "alice_2",
            "Some Nick",
            "a@b/c",
            "'quoted' & <tagged>",
        ] {
            assert_eq!(resourceprep(nick).as_deref(), Some(nick));
        }
    }

    #[test]
    fn node_and_domain_fold_ascii_case_resource_keeps_it() {
        assert_eq!(nodeprep("Room_1").as_deref(), Some("room_1"));
        assert_eq!(nameprep("MUC.LocalHost").as_deref(), Some("muc.localhost"));
        assert_eq!(resourceprep("Bob").as_deref(), Some("Bob"));
        assert_eq!(
            jid("Room@MUC.Example.ORG/Bob Smith").as_deref(),
            Some("room@muc.example.org/Bob Smith")
        );
    }

    #[test]
    fn unchanged_parts_are_borrowed() {
        assert!(borrowed(nodeprep("room")));
        assert!(borrowed(nameprep("muc.localhost")));
        assert!(borrowed(nameprep("muc.localhost.")));
        assert!(borrowed(resourceprep("Bob")));
        assert!(matches!(nodeprep("Room"), Some(Cow::Owned(_))));
    }

    #[test]
    fn every_ascii_byte_in_each_part() {
        for byte in 0..=127u8 {
            let part = format!("a{}b", char::from(byte));
            let printable = (0x20..0x7f).contains(&byte);
            let node_prohibited = b" \"&'/:<>@".contains(&byte);
            assert_eq!(
                nodeprep(&part).is_some(),
                printable && !node_prohibited,
                "{part:?}"
            );
            let host = byte.is_ascii_alphanumeric() || b"-.".contains(&byte);
            assert_eq!(nameprep(&part).is_some(), host, "{part:?}");
            assert_eq!(
                resourceprep(&part).as_deref(),
                printable.then_some(part.as_str())
            );
        }
    }

    #[test]
    fn one_trailing_dot_of_the_domain_is_removed() {
        assert_eq!(nameprep("localhost.").as_deref(), Some("localhost"));
        assert_eq!(nameprep("localhost.."), None); // an empty label: Prosody's answer
        assert_eq!(jid("a@localhost./r").as_deref(), Some("a@localhost/r"));
        assert_eq!(nameprep("."), None);
        assert_eq!(jid("a@./r"), None);
    }

    #[test]
    fn what_nodeprep_prohibits_falls_back() {
        for node in [
            "a b", "a\"b", "a&b", "a'b", "a:b", "a<b", "a>b", "a@b", "a/b",
        ] {
            assert_eq!(nodeprep(node), None, "{node:?}");
        }
        assert_eq!(jid("a b@localhost"), None);
    }

    #[test]
    fn control_characters_and_non_ascii_fall_back() {
        for part in [
            "a\0b",
            "a\tb",
            "a\nb",
            "a\x7fb",
            "é",
            "caf\u{e9}",
            "a\u{ad}b",
            "\u{212a}",
        ] {
            assert_eq!(nodeprep(part), None, "{part:?}");
            assert_eq!(nameprep(part), None, "{part:?}");
            assert_eq!(resourceprep(part), None, "{part:?}");
        }
        assert_eq!(jid("room@muc.localhost/Zo\u{eb}"), None);
    }

    #[test]
    fn parts_over_1023_bytes_fall_back() {
        let longest = "a".repeat(1023);
        let too_long = "a".repeat(1024);
        assert!(borrowed(nodeprep(&longest)));
        assert!(borrowed(resourceprep(&longest)));
        assert_eq!(nameprep(&longest), None); // a label over 63 bytes: Prosody's answer
        assert_eq!(nodeprep(&too_long), None);
        assert_eq!(nameprep(&too_long), None);
        assert_eq!(resourceprep(&too_long), None);
    }

    #[test]
    fn host_names_of_letters_digits_and_hyphens_take_the_fast_path_and_only_those() {
        let label = "a".repeat(63);
        let longest = [&label[..], &label, &label, &label[..61]].join("."); // 253 bytes
        for host in [
            "localhost",
            "a-b.example",
            "a--b",
            "0a.1",
            "127.0.0.1",
            &label,
            &longest,
        ] {
            assert!(borrowed(nameprep(host)), "{host:?}");
            assert!(borrowed(nameprep(&format!("{host}."))), "{host:?}.");
        }
        for host in [
            "-a",
            "a-",
            "a.-b",
            "ab--c",
            "xn--bcher-kva",
            "a_b",
            "a b",
            "a!b",
            "a..b",
            ".a",
            "[::1]",
            &"a".repeat(64),
            &format!("{longest}b"),
        ] {
            assert_eq!(nameprep(host), None, "{host:?}");
        }
    }

    #[test]
    fn malformed_jids_fall_back() {
        for j in [
            "", "@", "/", "@a", "a@", "a/", "a@b/", "a@b@c", "a@/b", "/b",
        ] {
            assert_eq!(jid(j), None, "{j:?}");
        }
        assert_eq!(nodeprep(""), None);
        assert_eq!(nameprep(""), None);
        assert_eq!(resourceprep(""), None);
    }

    #[test]
    fn the_resource_is_everything_after_the_first_slash() {
        assert_eq!(jid("a/b@c").as_deref(), Some("a/b@c"));
        assert_eq!(jid("A@B/c/D@e").as_deref(), Some("a@b/c/D@e"));
    }
}
