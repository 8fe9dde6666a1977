//! The configured Authorization values and the constant-time check against them.

use std::hash::Hasher;

use siphasher::sip128::{Hasher128, SipHasher24};
use subtle::{Choice, ConstantTimeEq};

use crate::error::ConfigError;

/// The accepted `Authorization` header values, held as 128-bit SipHash-2-4 tags under a key
/// drawn at random when the module loads. Comparing a presented value's tag with every
/// configured one takes the same time whatever the value's content, which (if any) matches,
/// and whatever the configured values' lengths; without the key, a caller can neither predict
/// a tag nor find a value whose tag collides (SipHash is a keyed pseudorandom function).
pub struct Authorizer {
    key: [u8; 16],
    tags: Vec<[u8; 16]>,
    challenge: String,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("values", &self.tags.len())
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Checks the configured values and builds the `WWW-Authenticate` challenge for `host`.
    pub fn new<V: AsRef<[u8]>>(values: &[V], host: &str) -> Result<Self, ConfigError> {
        let mut key = [0; 16];
        getrandom::fill(&mut key).map_err(|_| ConfigError::NoRandomness)?;
        Self::with_key(values, host, key)
    }

    /// [`Authorizer::new`] with a given tag key.
    fn with_key<V: AsRef<[u8]>>(
        values: &[V],
        host: &str,
        key: [u8; 16],
    ) -> Result<Self, ConfigError> {
        let problem = |problem| Err(ConfigError::Authorization { problem });
        if values.is_empty() {
            return problem("is an empty list");
        }
        for value in values.iter().map(AsRef::as_ref) {
            if value.is_empty() {
                return problem("is empty (or a list holding an empty string)");
            }
            // Values no request can carry: such a setting is a mistake, not a secret.
            if value.iter().any(|&b| matches!(b, b'\0' | b'\r' | b'\n')) {
                return problem("holds a NUL, CR or LF, which no HTTP header can carry");
            }
            let white = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
            if white(value.first()) || white(value.last()) {
                return problem(
                    "begins or ends with white space, which HTTP strips from header values, so it could never match",
                );
            }
        }
        Ok(Self {
            key,
            tags: values.iter().map(|v| tag(&key, v.as_ref())).collect(),
            challenge: challenge(values, host),
        })
    }

    /// Whether `presented` is byte for byte one of the configured values. Every configured
    /// value is compared, in constant time, whatever matches.
    pub fn check(&self, presented: Option<&[u8]>) -> bool {
        let Some(presented) = presented else {
            return false;
        };
        let presented = tag(&self.key, presented);
        let matched = self
            .tags
            .iter()
            .fold(Choice::from(0), |acc, d| acc | d.ct_eq(&presented));
        matched.into()
    }

    /// The `WWW-Authenticate` header value: one challenge per distinct scheme.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

fn tag(key: &[u8; 16], value: &[u8]) -> [u8; 16] {
    let mut hasher = SipHasher24::new_with_key(key);
    hasher.write(value);
    hasher.finish128().as_bytes()
}

/// One `<Scheme> realm="<host>"` per distinct scheme among `values`, in configured order. The
/// scheme is the word before the first space; a value without one (or whose first word is not
/// an HTTP token) is announced as Bearer. The values themselves never appear.
fn challenge<V: AsRef<[u8]>>(values: &[V], host: &str) -> String {
    let mut schemes: Vec<&str> = Vec::new();
    for value in values.iter().map(AsRef::as_ref) {
        let scheme = value
            .iter()
            .position(|&b| b == b' ')
            .and_then(|space| value.get(..space))
            .and_then(|word| std::str::from_utf8(word).ok())
            .filter(|word| word.bytes().all(is_token_char))
            .unwrap_or("Bearer");
        if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
            schemes.push(scheme);
        }
    }
    let realm: String = host
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect();
    schemes
        .iter()
        .map(|scheme| format!("{scheme} realm=\"{realm}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// RFC 9110 `tchar`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorizer(values: &[&str]) -> Authorizer {
        Authorizer::new(values, "muc.localhost").unwrap()
    }

    #[test]
    fn accepts_exactly_a_configured_value() {
        let auth = authorizer(&["Bearer secret"]);
        assert!(auth.check(Some(b"Bearer secret")));
        assert!(!auth.check(Some(b"Bearer secret2")));
        assert!(!auth.check(Some(b"Bearer secre")));
        assert!(!auth.check(Some(b"bearer secret")));
        assert!(!auth.check(Some(b"")));
        assert!(!auth.check(None));
    }

    #[test]
    fn a_list_accepts_any_of_its_values() {
        let auth = authorizer(&["Bearer new", "Bearer old"]);
        assert!(auth.check(Some(b"Bearer new")));
        assert!(auth.check(Some(b"Bearer old")));
        assert!(!auth.check(Some(b"Bearer new, Bearer old")));
    }

    #[test]
    fn refuses_unusable_values() {
        let empty: [&str; 0] = [];
        for values in [
            &empty[..],
            &[""],
            &["ok", ""],
            &["a\r\nb"],
            &["a\0"],
            &[" lead"],
            &["\tlead"],
            &["trail "],
            &["Bearer trail\t"],
        ] {
            assert!(
                Authorizer::new(values, "h").is_err(),
                "{values:?} should be refused"
            );
        }
    }

    #[test]
    fn accepts_values_a_request_can_carry() {
        for value in ["Bearer\tx", "Bearer \u{1}x", "Bearer \u{e9}"] {
            let auth = authorizer(&[value]);
            assert!(auth.check(Some(value.as_bytes())), "{value:?}");
        }
    }

    #[test]
    fn config_errors_name_the_option_but_never_the_value() {
        let err = Authorizer::new(&["bad\nhunter2"], "h")
            .unwrap_err()
            .to_string();
        assert!(err.contains("http_muc_kick_authorization_header"));
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn the_same_value_configured_twice_still_matches() {
        let auth = authorizer(&["Bearer same", "Bearer same"]);
        assert!(auth.check(Some(b"Bearer same")));
        let auth = authorizer(&["Bearer a", "Bearer b", "Bearer a"]);
        assert!(auth.check(Some(b"Bearer a")));
        assert!(auth.check(Some(b"Bearer b")));
    }

    #[test]
    fn a_first_word_that_is_not_a_token_is_announced_as_bearer() {
        for value in [
            "a/b c",
            "Bear\u{e9}r x",
            "(x) y",
            "a\"b c",
            "a,b c",
            "a=b c",
        ] {
            assert_eq!(
                authorizer(&[value]).challenge(),
                r#"Bearer realm="muc.localhost""#,
                "{value:?}"
            );
        }
        assert_eq!(
            authorizer(&["!#$%&'*+-.^_`|~09azAZ x"]).challenge(),
            r#"!#$%&'*+-.^_`|~09azAZ realm="muc.localhost""#
        );
    }

    #[test]
    fn the_realm_escapes_quotes_and_backslashes() {
        let auth = Authorizer::new(&["Bearer x"], r#"a"b\c"#).unwrap();
        assert_eq!(auth.challenge(), r#"Bearer realm="a\"b\\c""#);
    }

    #[test]
    fn challenge_has_one_entry_per_distinct_scheme() {
        let auth = authorizer(&["Bearer a", "Basic Zm9v", "bearer b", "rawtoken"]);
        assert_eq!(
            auth.challenge(),
            r#"Bearer realm="muc.localhost", Basic realm="muc.localhost""#
        );
        assert_eq!(
            authorizer(&["rawtoken"]).challenge(),
            r#"Bearer realm="muc.localhost""#
        );
    }

    #[test]
    fn tags_depend_on_the_key_and_the_whole_value() {
        let (a, b) = ([1; 16], [2; 16]);
        assert_ne!(tag(&a, b"Bearer x"), tag(&b, b"Bearer x"));
        assert_ne!(tag(&a, b"Bearer x"), tag(&a, b"Bearer y"));
        assert_ne!(tag(&a, b"Bearer x"), tag(&a, b"Bearer x\0"));
        assert_eq!(tag(&a, b"Bearer x"), tag(&a, b"Bearer x"));
        let auth = Authorizer::with_key(&["Bearer x"], "h", a).unwrap();
        assert!(auth.check(Some(b"Bearer x")));
    }

    #[test]
    fn each_load_draws_its_own_key() {
        let one = authorizer(&["Bearer x"]);
        let two = authorizer(&["Bearer x"]);
        assert_ne!(one.key, two.key);
        assert_ne!(one.tags, two.tags);
    }

    #[test]
    fn debug_output_hides_the_values() {
        let shown = format!("{:?}", authorizer(&["Bearer hunter2", "Bearer x"]));
        assert!(!shown.contains("hunter2"));
        assert_eq!(shown, "Authorizer { values: 2, .. }");
    }
}
