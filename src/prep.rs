//! An exact ASCII fast path of Prosody's JID preparation (`util.jid.prep`, RFC 7622).
//!
//! Each function returns `Some(prepared)` only where the result is certain to be what Prosody's
//! own preparation gives (on 0.12 and 13); `None` means "ask Prosody", never "invalid".

use std::borrow::Cow;

/// Nodeprep of a JID's local part, when certain.
pub fn nodeprep(_node: &str) -> Option<Cow<'_, str>> {
    None
}

/// Nameprep of a JID's domain part (with Prosody's removal of one trailing dot), when certain.
pub fn nameprep(_domain: &str) -> Option<Cow<'_, str>> {
    None
}

/// Resourceprep of a resource or MUC nickname, when certain.
pub fn resourceprep(_resource: &str) -> Option<Cow<'_, str>> {
    None
}

/// `util.jid.prep` of a whole JID, when certain.
pub fn jid(_jid: &str) -> Option<String> {
    None
}
