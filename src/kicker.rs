//! The configured module: options parsed once at load, and the per-request decision.

use std::borrow::Cow;
use std::time::Instant;

use crate::auth::Authorizer;
use crate::error::{ConfigError, ItemProblem, KickError};
use crate::jid;
use crate::lockout::{self, Lockout};
use crate::prep;
use crate::request::{self, Action, Item, KickRequest, Target, Unprepared};
use crate::response;
use crate::view::{self, View, ViewRequest};

/// Default for `http_muc_kick_max_body_size`.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 16_384;
/// Default for `http_muc_kick_max_auth_failures`.
pub const DEFAULT_MAX_AUTH_FAILURES: u64 = 10;

/// The module's options as read from Prosody's configuration, not yet checked.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a, V> {
    /// The component's host, for the `WWW-Authenticate` realm.
    pub host: &'a str,
    /// `http_muc_kick_authorization_header`, as a list (a single string is a list of one).
    pub authorization: &'a [V],
    /// `http_muc_kick_max_body_size`, if set.
    pub max_body_size: Option<f64>,
    /// `http_muc_kick_max_auth_failures`, if set.
    pub max_auth_failures: Option<f64>,
}

/// The parts of an HTTP request the decision needs. Nothing is copied.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The HTTP method, e.g. `POST`.
    pub method: &'a [u8],
    /// The caller's IP as Prosody reports it.
    pub ip: &'a [u8],
    /// The `Authorization` header, if present.
    pub authorization: Option<&'a [u8]>,
    /// The `Transfer-Encoding` header, if present.
    pub transfer_encoding: Option<&'a [u8]>,
    /// The raw body.
    pub body: &'a [u8],
}

/// The parts of a view's HTTP request the decision needs. Nothing is copied.
#[derive(Debug, Clone, Copy)]
pub struct ViewHttpRequest<'a> {
    /// The HTTP method, e.g. `GET`.
    pub method: &'a [u8],
    /// The caller's IP as Prosody reports it.
    pub ip: &'a [u8],
    /// The `Authorization` header, if present.
    pub authorization: Option<&'a [u8]>,
    /// The query string, without the `?` (empty when there is none).
    pub query: &'a [u8],
}

/// A valid view request; its JIDs are in Prosody's prepared form (and a room on this
/// component) when `prepared`, else as decoded, for Prosody's stringprep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedView<'a> {
    /// What to show.
    pub view: ViewRequest<'a>,
    /// Whether the fast path prepared every JID.
    pub prepared: bool,
}

/// Why a JID is refused when Prosody's stringprep refuses it.
pub const PREP_REFUSED_JID: &str = "Prosody's JID preparation (RFC 7622) refused it";
/// Why a nickname is refused when Prosody's resourceprep refuses it.
pub const PREP_REFUSED_NICKNAME: &str = "Prosody's nickname preparation (resourceprep) refused it";

/// The 400 of item `index` of `field` refused on the Prosody side (`refusal` is the name of
/// the single form's refusal: `invalid_jid`, `invalid_nickname` or `jid_on_component`).
pub fn item_refused(field: &'static str, index: usize, refusal: &str) -> KickError {
    let problem = match refusal {
        "invalid_nickname" => ItemProblem::InvalidNickname(PREP_REFUSED_NICKNAME),
        "jid_on_component" => ItemProblem::InvalidJid(request::ON_THIS_COMPONENT),
        _ => ItemProblem::InvalidJid(PREP_REFUSED_JID),
    };
    KickError::InvalidItem {
        field,
        index,
        problem,
    }
}

/// Refusals decided on the Prosody side (room and occupant lookups, preparation, the kick),
/// named for the Lua glue. Their bodies never change, so they are built once.
pub fn prosody_side_refusals() -> [(&'static str, KickError); 10] {
    let prep = PREP_REFUSED_JID;
    [
        ("room_not_found", KickError::RoomNotFound),
        ("occupant_not_found", KickError::OccupantNotFound),
        ("not_banned", KickError::NotBanned),
        ("forbidden", KickError::Forbidden),
        ("domain_occupant", KickError::DomainOccupant),
        ("internal_error", KickError::Internal),
        (
            "invalid_muc",
            KickError::InvalidJid {
                field: "muc",
                reason: prep,
            },
        ),
        (
            "invalid_jid",
            KickError::InvalidJid {
                field: "jid",
                reason: prep,
            },
        ),
        (
            "jid_on_component",
            KickError::InvalidJid {
                field: "jid",
                reason: request::ON_THIS_COMPONENT,
            },
        ),
        (
            "invalid_nickname",
            KickError::InvalidNickname {
                reason: PREP_REFUSED_NICKNAME,
            },
        ),
    ]
}

/// The module's configuration plus its one piece of state, the failure lockout.
#[derive(Debug)]
pub struct Kicker {
    host: String,
    authorizer: Authorizer,
    lockout: Lockout,
    max_body_size: usize,
    /// The refusals whose body and message never change.
    fixed: [Fixed; 5],
    /// The views' 405, whose status the POST endpoint's 405 shares.
    view_not_allowed: Fixed,
}

/// A refusal's body and message, built once at load.
#[derive(Debug)]
pub struct Fixed {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
    /// The error's text, for the log.
    pub message: String,
}

impl Fixed {
    fn of(err: &KickError) -> Self {
        Self {
            status: err.status(),
            body: response::error_body(err),
            message: err.to_string(),
        }
    }
}

impl Kicker {
    /// Checks the options; the error names the option at fault and how to set it.
    pub fn new<V: AsRef<[u8]>>(settings: &Settings<'_, V>) -> Result<Self, ConfigError> {
        let authorizer = Authorizer::new(settings.authorization, settings.host)?;
        let max_body_size = count(
            "http_muc_kick_max_body_size",
            settings.max_body_size,
            DEFAULT_MAX_BODY_SIZE,
        )?;
        let max_failures = count(
            "http_muc_kick_max_auth_failures",
            settings.max_auth_failures,
            DEFAULT_MAX_AUTH_FAILURES,
        )?;
        let too_large = KickError::BodyTooLarge {
            limit: max_body_size,
        };
        Ok(Self {
            host: settings.host.to_owned(),
            authorizer,
            lockout: Lockout::new(
                u32::try_from(max_failures).unwrap_or(u32::MAX),
                lockout::DEFAULT_CAPACITY,
            ),
            max_body_size,
            fixed: [
                Fixed::of(&KickError::MethodNotAllowed),
                Fixed::of(&KickError::Unauthorized),
                Fixed::of(&KickError::TooManyFailures { retry_after: 0 }),
                Fixed::of(&too_large),
                Fixed::of(&KickError::LengthRequired),
            ],
            view_not_allowed: Fixed::of(&KickError::ViewMethodNotAllowed),
        })
    }

    /// Runs SPEC.md's checks in order: method (405) → lockout (429) → Authorization (401) →
    /// transfer coding (411) → body size (413) → body and fields (400); then prepares the JIDs
    /// where the ASCII fast path is certain, which also finds a room on another host (404).
    pub fn decide<'a>(
        &mut self,
        request: &HttpRequest<'a>,
        now: Instant,
    ) -> Result<KickRequest<'a>, KickError> {
        if request.method != b"POST" {
            return Err(KickError::MethodNotAllowed);
        }
        self.authorize(request.ip, request.authorization, now)?;
        // Any transfer coding on a request ends in chunked (RFC 9112 §6.1), and Prosody reads
        // no such body: the module would see an empty one.
        if request.transfer_encoding.is_some_and(|te| !te.is_empty()) {
            return Err(KickError::LengthRequired);
        }
        if request.body.len() > self.max_body_size {
            return Err(KickError::BodyTooLarge {
                limit: self.max_body_size,
            });
        }
        Preparation::new(&self.host).prepare(request::parse(request.body)?)
    }

    /// SPEC.md's checks for a view, in order: method (405) → lockout (429) → Authorization
    /// (401) → query (400); then prepares the JIDs where the ASCII fast path is certain, which
    /// also finds a room on another host (404).
    pub fn decide_view<'a>(
        &mut self,
        view: View,
        request: &ViewHttpRequest<'a>,
        now: Instant,
    ) -> Result<PreparedView<'a>, KickError> {
        if request.method != b"GET" && request.method != b"HEAD" {
            return Err(KickError::ViewMethodNotAllowed);
        }
        self.authorize(request.ip, request.authorization, now)?;
        let preparation = Preparation::new(&self.host);
        let as_given = |view| PreparedView {
            view,
            prepared: false,
        };
        let prepared = |view| PreparedView {
            view,
            prepared: true,
        };
        Ok(match view::parse(view, request.query)? {
            ViewRequest::RoomOccupants { room } => match preparation.room_for(&room, true)? {
                Some(room) => prepared(ViewRequest::RoomOccupants { room }),
                None => as_given(ViewRequest::RoomOccupants { room }),
            },
            ViewRequest::Bans { room } => match preparation.room_for(&room, true)? {
                Some(room) => prepared(ViewRequest::Bans { room }),
                None => as_given(ViewRequest::Bans { room }),
            },
            ViewRequest::AccountRooms { jid } => match preparation.prepared_jid(&jid)? {
                Some(jid) => prepared(ViewRequest::AccountRooms { jid }),
                None => as_given(ViewRequest::AccountRooms { jid }),
            },
        })
    }

    /// The failure lockout (429), then the `Authorization` check (401), which counts a failure.
    fn authorize(
        &mut self,
        ip: &[u8],
        authorization: Option<&[u8]>,
        now: Instant,
    ) -> Result<(), KickError> {
        let caller = lockout::Key::of(ip);
        self.lockout
            .check_key(caller, now)
            .map_err(|retry_after| KickError::TooManyFailures { retry_after })?;
        if !self.authorizer.check(authorization) {
            self.lockout.record_failure_key(caller, now);
            return Err(KickError::Unauthorized);
        }
        Ok(())
    }

    /// The JSON body for `err`; the fixed ones are built once, at load.
    pub fn body_for(&self, err: &KickError) -> Cow<'_, str> {
        match self.fixed(err) {
            Some(fixed) => Cow::Borrowed(&fixed.body),
            None => Cow::Owned(response::error_body(err)),
        }
    }

    /// Body and message of `err` when it is one of the refusals that never change (the two 405s,
    /// 401, 429, 413, 411): the same for every request, whatever the details. Each of them but
    /// the 405s is the only cause of its status.
    pub fn fixed(&self, err: &KickError) -> Option<&Fixed> {
        if *err == KickError::ViewMethodNotAllowed {
            return Some(&self.view_not_allowed);
        }
        let status = err.status();
        self.fixed.iter().find(|fixed| fixed.status == status)
    }

    /// The views' 405 (`Allow: GET, HEAD`), which never changes.
    pub fn view_not_allowed(&self) -> &Fixed {
        &self.view_not_allowed
    }

    /// Every refusal of the POST endpoint that never changes.
    pub fn fixed_refusals(&self) -> &[Fixed] {
        &self.fixed
    }

    /// The component's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The `WWW-Authenticate` header value for 401 responses.
    pub fn challenge(&self) -> &str {
        self.authorizer.challenge()
    }
}

/// The core's ASCII fast path of Prosody's preparation, for the component `host`.
#[derive(Debug, Clone, Copy)]
pub struct Preparation<'h> {
    host: &'h str,
}

/// A request the decision accepted, parsed and prepared again from its body: for the shapes
/// with several targets, whose items `decide` does not hand over. The body was checked then,
/// so this fails only if it is not that body.
pub fn plan<'a>(host: &str, body: &'a [u8]) -> Result<KickRequest<'a>, KickError> {
    Preparation::new(host).prepare(request::parse(body)?)
}

impl<'h> Preparation<'h> {
    /// The fast path for rooms of `host`.
    pub fn new(host: &'h str) -> Self {
        Self { host }
    }

    /// `request` with what the fast path is certain of in prepared form. A room on another host
    /// is a 404 only when the rest is certain too: Prosody would find an invalid target first.
    pub fn prepare<'a>(&self, request: KickRequest<'a>) -> Result<KickRequest<'a>, KickError> {
        Ok(match request.action {
            Action::Kick {
                room,
                target,
                reason,
                ban,
            } => {
                let prepared = self.prepared_target(&target)?;
                match self.room_for(&room, prepared.is_some())? {
                    Some(room) => with_room(
                        prepared.is_some(),
                        Action::Kick {
                            room,
                            target: prepared.unwrap_or(target),
                            reason,
                            ban,
                        },
                    ),
                    None => as_given(Action::Kick {
                        room,
                        target,
                        reason,
                        ban,
                    }),
                }
            }
            Action::Unban { room, jid } => {
                let prepared = self.prepared_jid(&jid)?;
                match self.room_for(&room, prepared.is_some())? {
                    Some(room) => with_room(
                        prepared.is_some(),
                        Action::Unban {
                            room,
                            jid: prepared.unwrap_or(jid),
                        },
                    ),
                    None => as_given(Action::Unban { room, jid }),
                }
            }
            Action::KickEverywhere { jid, reason } => match self.prepared_jid(&jid)? {
                Some(jid) => with_room(true, Action::KickEverywhere { jid, reason }),
                None => as_given(Action::KickEverywhere { jid, reason }),
            },
            Action::KickMany {
                room,
                mut targets,
                reason,
                ban,
            } => {
                let certain = self.prepare_items(targets.field(), targets.items_mut())?;
                let (room, unprepared) = self.room_of_many(room, certain)?;
                KickRequest {
                    unprepared,
                    action: Action::KickMany {
                        room,
                        targets,
                        reason,
                        ban,
                    },
                }
            }
            Action::UnbanMany { room, mut jids } => {
                let certain = self.prepare_items("jid", &mut jids)?;
                let (room, unprepared) = self.room_of_many(room, certain)?;
                KickRequest {
                    unprepared,
                    action: Action::UnbanMany { room, jids },
                }
            }
            Action::KickEverywhereMany { mut jids, reason } => {
                self.prepare_items("jid", &mut jids)?;
                KickRequest {
                    unprepared: Unprepared::Target,
                    action: Action::KickEverywhereMany { jids, reason },
                }
            }
            Action::Keep {
                room,
                mut keep,
                reason,
                dry_run,
            } => {
                let certain = self.prepare_items("keep", &mut keep)?;
                let (room, unprepared) = self.room_of_many(room, certain)?;
                KickRequest {
                    unprepared,
                    action: Action::Keep {
                        room,
                        keep,
                        reason,
                        dry_run,
                    },
                }
            }
        })
    }

    /// The prepared room JID when the fast path is certain of it and it is on this component.
    /// One certain to be elsewhere is a 404, but only when the target is certain too: Prosody
    /// would find an invalid target first.
    fn room_for<'a>(
        &self,
        room: &Cow<'a, str>,
        target_certain: bool,
    ) -> Result<Option<Cow<'a, str>>, KickError> {
        let Some(prepared) = PreparedRoom::of(room, self.host) else {
            return Ok(None);
        };
        let room = prepared.changed.map_or_else(|| room.clone(), Cow::Owned);
        match (prepared.on_host, target_certain) {
            (true, _) => Ok(Some(room)),
            (false, true) => Err(KickError::RoomElsewhere {
                room: room.into_owned(),
            }),
            (false, false) => Ok(None),
        }
    }

    /// `target` prepared, when the fast path is certain of it; a JID on this component is no
    /// account (400).
    fn prepared_target<'a>(&self, target: &Target<'a>) -> Result<Option<Target<'a>>, KickError> {
        Ok(match target {
            Target::Nickname(nickname) => {
                prep::resourceprep(nickname).map(|_| Target::Nickname(nickname.clone()))
            }
            Target::Jid(real_jid) => self.prepared_jid(real_jid)?.map(Target::Jid),
        })
    }

    /// `real_jid` prepared, when the fast path is certain of it; one on this component is no
    /// account (400).
    fn prepared_jid<'a>(&self, real_jid: &str) -> Result<Option<Cow<'a, str>>, KickError> {
        let Some(prepared) = prep::jid(real_jid) else {
            return Ok(None);
        };
        if jid::parts(&prepared).domain == self.host {
            return Err(KickError::InvalidJid {
                field: "jid",
                reason: request::ON_THIS_COMPONENT,
            });
        }
        Ok(Some(Cow::Owned(prepared)))
    }

    /// Prepares each item the fast path is certain of (nicknames of `nickname`, JIDs of the
    /// other fields); whether it was certain of all. A JID on this component is no account: a
    /// 400 naming the item.
    fn prepare_items(
        &self,
        field: &'static str,
        items: &mut [Item<'_>],
    ) -> Result<bool, KickError> {
        let mut certain = true;
        for (index, item) in items.iter_mut().enumerate() {
            item.prepared = if field == "nickname" {
                prep::resourceprep(&item.given).map(|_| item.given.clone())
            } else {
                self.prepared_jid(&item.given)
                    .map_err(|_| KickError::InvalidItem {
                        field,
                        index,
                        problem: ItemProblem::InvalidJid(request::ON_THIS_COMPONENT),
                    })?
            };
            certain &= item.prepared.is_some();
        }
        Ok(certain)
    }

    /// The room of a request with several targets, prepared when the fast path is certain of it
    /// (then [`Unprepared::Target`]: each item says whether it is prepared), else as given
    /// ([`Unprepared::All`]).
    fn room_of_many<'a>(
        &self,
        room: Cow<'a, str>,
        items_certain: bool,
    ) -> Result<(Cow<'a, str>, Unprepared), KickError> {
        Ok(match self.room_for(&room, items_certain)? {
            Some(prepared) => (prepared, Unprepared::Target),
            None => (room, Unprepared::All),
        })
    }
}

/// `action` with its room (if any) prepared; the target too when `target_certain`.
fn with_room(target_certain: bool, action: Action<'_>) -> KickRequest<'_> {
    KickRequest {
        unprepared: if target_certain {
            Unprepared::Nothing
        } else {
            Unprepared::Target
        },
        action,
    }
}

/// `action` with every JID as given, for Prosody's stringprep.
fn as_given(action: Action<'_>) -> KickRequest<'_> {
    KickRequest {
        unprepared: Unprepared::All,
        action,
    }
}

/// A bare room JID prepared by the fast path.
struct PreparedRoom {
    /// The prepared JID, where preparation changed the one given.
    changed: Option<String>,
    /// Whether its domain is the component's host.
    on_host: bool,
}

impl PreparedRoom {
    fn of(room: &str, host: &str) -> Option<Self> {
        let parts = jid::split(room).ok()?;
        let node = prep::nodeprep(parts.node?)?;
        // The component's host is in Prosody's prepared form: most rooms asked for are on it.
        let domain = match parts.domain {
            on_host if on_host == host => Cow::Borrowed(on_host),
            elsewhere => prep::nameprep(elsewhere)?,
        };
        let unchanged = matches!((&node, &domain), (Cow::Borrowed(_), Cow::Borrowed(_)))
            && node.len() + 1 + domain.len() == room.len();
        Some(Self {
            changed: (!unchanged).then(|| format!("{node}@{domain}")),
            on_host: domain == host,
        })
    }
}

/// A whole number of at least zero, or `default` when unset.
fn count(option: &'static str, value: Option<f64>, default: u64) -> Result<usize, ConfigError> {
    let value = value.unwrap_or(default as f64);
    let valid =
        value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= u32::MAX as f64;
    if valid {
        Ok(value as usize)
    } else {
        Err(ConfigError::NotACount { option })
    }
}
