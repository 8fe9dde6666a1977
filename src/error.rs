//! The one error type: every way a request can be refused, mapped onto SPEC.md's status table.

use thiserror::Error;

/// Why a request was refused. Each variant is one cause from SPEC.md's status table; the
/// `Display` text is the `error` message sent to the API client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KickError {
    /// The HTTP method is not POST (405).
    #[error("Only POST is allowed on this endpoint")]
    MethodNotAllowed,
    /// A method other than GET or HEAD on a view's path (405).
    #[error("Only GET and HEAD are allowed on this path")]
    ViewMethodNotAllowed,
    /// The caller's IP is locked out after too many failed authorizations (429).
    #[error("Too many failed authorizations from this address; retry later")]
    TooManyFailures {
        /// Seconds until the lockout ends, for `Retry-After`.
        retry_after: u64,
    },
    /// `Authorization` missing or not one of the configured values (401).
    #[error("Authorization failed")]
    Unauthorized,
    /// The body was sent with a transfer coding, which Prosody does not decode (411).
    #[error("Send the body with a Content-Length: chunked request bodies are not read")]
    LengthRequired,
    /// The body is larger than `http_muc_kick_max_body_size` (413).
    #[error("Request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body is not one well-formed JSON text (400).
    #[error("Body is not valid JSON: {detail}")]
    InvalidJson {
        /// What serde_json found wrong, with line and column.
        detail: String,
    },
    /// The body is JSON but not an object (400).
    #[error("Body must be a JSON object, not {found}")]
    NotAnObject {
        /// The kind of JSON value found instead.
        found: &'static str,
    },
    /// A known field appears more than once (400).
    #[error("Field `{field}` is given more than once")]
    DuplicateField {
        /// The repeated field.
        field: &'static str,
    },
    /// A known field holds something other than a string or null (400).
    #[error("Field `{field}` must be a string, not {found}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// The kind of JSON value found instead.
        found: &'static str,
    },
    /// `muc` is absent or null (400).
    #[error("Field `{field}` is required")]
    MissingField {
        /// The missing field.
        field: &'static str,
    },
    /// A field's value is of the right JSON type family but not one it accepts (400).
    #[error("Field `{field}` must be {expected}")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// What it accepts.
        expected: &'static str,
    },
    /// A field was given beside one it cannot go with (400).
    #[error("Field `{field}` cannot be given with `{with}`")]
    NotWith {
        /// The field that must go.
        field: &'static str,
        /// The field it cannot go with.
        with: &'static str,
    },
    /// A field was given without the one it belongs with (400).
    #[error("Field `{field}` can only be given with `{with}`")]
    OnlyWith {
        /// The field that must go.
        field: &'static str,
        /// The field it needs.
        with: &'static str,
    },
    /// An item of a list field (`nickname`, `jid` or `keep` as an array) is not valid (400).
    #[error("Field `{field}[{index}]` {problem}")]
    InvalidItem {
        /// The field.
        field: &'static str,
        /// The item's index in the array, from 0.
        index: usize,
        /// What is wrong with it.
        problem: ItemProblem,
    },
    /// A field that acts on one room was given without `muc` (400).
    #[error("Field `{field}` needs `muc`: it acts on one room")]
    NeedsRoom {
        /// The field.
        field: &'static str,
    },
    /// Neither or both of `nickname` and `jid` were given (400).
    #[error("Give exactly one of `nickname` and `jid`")]
    TargetAmbiguous,
    /// A JID field is not a JID of the required shape (400).
    #[error("Field `{field}` is not a valid JID: {reason}")]
    InvalidJid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The nickname is empty, too long, or refused by preparation (400).
    #[error("Field `nickname` is not a valid nickname: {reason}")]
    InvalidNickname {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The reason holds characters XML 1.0 cannot carry (400).
    #[error("Field `reason` contains a character XML cannot carry (U+{code_point:04X})")]
    InvalidReason {
        /// The first offending character.
        code_point: u32,
    },
    /// A view's query is not `application/x-www-form-urlencoded` UTF-8 (400).
    #[error("Query is not valid application/x-www-form-urlencoded UTF-8: {detail}")]
    InvalidQuery {
        /// What is wrong with it.
        detail: String,
    },
    /// A known query parameter appears more than once (400).
    #[error("Parameter `{name}` is given more than once")]
    DuplicateParameter {
        /// The repeated parameter.
        name: &'static str,
    },
    /// A required query parameter is absent (400).
    #[error("Parameter `{name}` is required")]
    MissingParameter {
        /// The missing parameter.
        name: &'static str,
    },
    /// Neither or both of `muc` and `jid` in the occupants view's query (400).
    #[error("Give exactly one of the parameters `muc` and `jid`")]
    ViewAmbiguous,
    /// No such room on this component (404).
    #[error("No such room on this component")]
    RoomNotFound,
    /// The room's domain is another host, so it is no room of this component (404).
    #[error("No such room on this component")]
    RoomElsewhere {
        /// The prepared room JID that was asked for, for the log.
        room: String,
    },
    /// No occupant matches the nickname or JID (404).
    #[error("No such occupant in the room")]
    OccupantNotFound,
    /// The MUC refused the kick for a reason other than a missing occupant (403).
    #[error("The room refused the kick")]
    Forbidden,
    /// The room refused an affiliation change, e.g. to ban its last owner (403).
    #[error("The room refused the change: {condition}")]
    RoomRefused {
        /// Prosody's error condition.
        condition: String,
    },
    /// A ban by nickname whose occupant's real JID is a domain: Prosody would ban the whole
    /// domain (409).
    #[error(
        "The occupant's real JID is a domain, not an account: a ban would ban the whole domain"
    )]
    DomainOccupant,
    /// An unban that a ban of the account's whole domain would defeat (409).
    #[error(
        "The whole domain {domain} is banned in the room, so the account would stay banned: lift that ban instead"
    )]
    DomainBanned {
        /// The banned domain.
        domain: String,
    },
    /// An unban for an account that is not banned in the room (404).
    #[error("That account is not banned in the room")]
    NotBanned,
    /// A fault inside the server (500); the cause is logged, not sent.
    #[error("Internal error")]
    Internal,
}

impl KickError {
    /// What the log line adds to the message: what was asked for, where the body does not say.
    pub fn log_detail(&self) -> Option<&str> {
        match self {
            Self::RoomElsewhere { room } => Some(room),
            _ => None,
        }
    }

    /// The HTTP status code SPEC.md assigns to this cause.
    pub fn status(&self) -> u16 {
        match self {
            Self::MethodNotAllowed | Self::ViewMethodNotAllowed => 405,
            Self::TooManyFailures { .. } => 429,
            Self::Unauthorized => 401,
            Self::LengthRequired => 411,
            Self::BodyTooLarge { .. } => 413,
            Self::InvalidJson { .. }
            | Self::NotAnObject { .. }
            | Self::DuplicateField { .. }
            | Self::WrongType { .. }
            | Self::MissingField { .. }
            | Self::InvalidValue { .. }
            | Self::NotWith { .. }
            | Self::OnlyWith { .. }
            | Self::InvalidItem { .. }
            | Self::NeedsRoom { .. }
            | Self::TargetAmbiguous
            | Self::InvalidJid { .. }
            | Self::InvalidNickname { .. }
            | Self::InvalidReason { .. }
            | Self::InvalidQuery { .. }
            | Self::DuplicateParameter { .. }
            | Self::MissingParameter { .. }
            | Self::ViewAmbiguous => 400,
            Self::RoomNotFound
            | Self::RoomElsewhere { .. }
            | Self::OccupantNotFound
            | Self::NotBanned => 404,
            Self::Forbidden | Self::RoomRefused { .. } => 403,
            Self::DomainOccupant | Self::DomainBanned { .. } => 409,
            Self::Internal => 500,
        }
    }

    /// The `condition` of the JSON error body (XMPP-style error condition names).
    pub fn condition(&self) -> &'static str {
        match self.status() {
            400 => "bad-request",
            401 => "not-authorized",
            403 => "forbidden",
            404 => "item-not-found",
            405 => "method-not-allowed",
            409 => "conflict",
            411 => "length-required",
            413 => "payload-too-large",
            429 => "too-many-requests",
            _ => "internal-server-error",
        }
    }
}

/// What is wrong with one item of a list field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ItemProblem {
    /// The item is not a string.
    #[error("must be a string, not {found}")]
    NotAString {
        /// The kind of JSON value found instead.
        found: &'static str,
    },
    /// The item is not a JID of the required shape.
    #[error("is not a valid JID: {0}")]
    InvalidJid(&'static str),
    /// The item is not a valid nickname.
    #[error("is not a valid nickname: {0}")]
    InvalidNickname(&'static str),
}

/// Why the module's configuration was refused at load time. The message names the option and
/// says how to set it; it never contains a configured value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The authorization option is missing, empty, or not a string / list of strings.
    #[error(
        "http_muc_kick_authorization_header {problem}: set it to the exact Authorization header \
         value callers must send, e.g. http_muc_kick_authorization_header = \"Bearer <secret>\" \
         (or a list of such strings to rotate secrets)"
    )]
    Authorization {
        /// What is wrong with the configured value.
        problem: &'static str,
    },
    /// The system gave no random bytes for the Authorization check's key.
    #[error("the system's random number source failed; mod_http_muc_kick needs it at load")]
    NoRandomness,
    /// A numeric option is not a whole number of at least zero.
    #[error("{option} must be a whole number from 0 to 4294967295")]
    NotACount {
        /// The option's name.
        option: &'static str,
    },
}
