//! JID syntax as Prosody's `util.jid.split` sees it (RFC 7622 structure), without preparation:
//! stringprep runs in Prosody, which is what stored the occupants we must find.

/// The longest a JID part may be, in bytes (RFC 7622 §3.1).
pub const MAX_PART_BYTES: usize = 1023;

/// A JID split into its parts, borrowing from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JidParts<'a> {
    /// The part before `@`, if any.
    pub node: Option<&'a str>,
    /// The domain part.
    pub domain: &'a str,
    /// The part after the first `/`, if any.
    pub resource: Option<&'a str>,
}

/// The parts of `jid` as Prosody's `util.jid.split` finds them, unchecked: the resource is
/// everything after the first `/`, the node what comes before the first `@` ahead of it.
pub fn parts(jid: &str) -> JidParts<'_> {
    let (bare, resource) = match jid.split_once('/') {
        Some((bare, resource)) => (bare, Some(resource)),
        None => (jid, None),
    };
    let (node, domain) = match bare.split_once('@') {
        Some((node, domain)) => (Some(node), domain),
        None => (None, bare),
    };
    JidParts {
        node,
        domain,
        resource,
    }
}

/// Splits `jid` the way Prosody does ([`parts`]), checking that the part before the resource
/// holds at most one `@` and that no part is empty or too long. Returns a client-facing reason
/// when the syntax is wrong.
///
/// A control character (U+0000 to U+001F, U+007F) is refused anywhere: no JID can hold one
/// (RFC 7622), and although Prosody's nameprep lets them through in a domain, a stanza naming such
/// a JID either fails to build or changes in transit.
pub fn split(jid: &str) -> Result<JidParts<'_>, &'static str> {
    if jid.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("it holds a control character, which no JID can");
    }
    let JidParts {
        node,
        domain,
        resource,
    } = parts(jid);
    if domain.is_empty() {
        return Err("the domain part is empty");
    }
    if domain.contains('@') {
        return Err("it contains more than one @ before the resource");
    }
    if node.is_some_and(str::is_empty) {
        return Err("the part before @ is empty");
    }
    if resource.is_some_and(str::is_empty) {
        return Err("the part after / is empty");
    }
    let too_long = |part: Option<&str>| part.is_some_and(|p| p.len() > MAX_PART_BYTES);
    if too_long(node) || too_long(Some(domain)) || too_long(resource) {
        return Err("a part is longer than 1023 bytes");
    }
    Ok(JidParts {
        node,
        domain,
        resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_full_jid() {
        let parts = split("room@chat.example.org/nick").unwrap();
        assert_eq!(parts.node, Some("room"));
        assert_eq!(parts.domain, "chat.example.org");
        assert_eq!(parts.resource, Some("nick"));
    }

    #[test]
    fn resource_may_hold_at_and_slash() {
        let parts = split("a@b/c@d/e").unwrap();
        assert_eq!(parts.resource, Some("c@d/e"));
    }

    #[test]
    fn slash_before_at_means_no_node() {
        let parts = split("host/user@x").unwrap();
        assert_eq!(parts.node, None);
        assert_eq!(parts.domain, "host");
    }

    #[test]
    fn refuses_malformed_jids() {
        for bad in [
            "",
            "@host",
            "node@",
            "a@b@c",
            "host/",
            "node@host/",
            "/res",
            "@",
        ] {
            assert!(split(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn control_characters_are_refused_in_every_part() {
        for bad in [
            "a@b\u{4}c",
            "a@b\tc",
            "a@b\nc",
            "a@b\u{7f}",
            "\u{0}a@b",
            "a@b/c\u{1f}",
            "b\u{14}c",
        ] {
            assert!(split(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(split("a@b c/d e").is_ok());
    }

    #[test]
    fn part_length_limit_is_1023_bytes() {
        let node = "n".repeat(MAX_PART_BYTES);
        assert!(split(&format!("{node}@host")).is_ok());
        assert!(split(&format!("{node}n@host")).is_err());
        assert!(split(&format!("room@{}", "d".repeat(1024))).is_err());
        assert!(split(&format!("room@host/{}", "r".repeat(1024))).is_err());
    }
}
