//! The two calls every request makes, `decide` and `kicked_body`, as C closures over the Lua C
//! API. mlua's safe conversions cost about 6 000 instructions per call (a reference slot per
//! argument, a protected call per string pushed), more than the decision itself; reading the
//! arguments in place and pushing the results directly costs a few hundred.
//!
//! Why this is sound:
//! - Each closure's upvalue 1 is the userdata that owns the [`Crossing`] (so it lives as long as
//!   the closure), upvalue 2 a light userdata pointing at it. Nothing else reaches it, and the
//!   Rust code never calls back into Lua, so the `&mut` taken for one call is the only one.
//! - Arguments are read with `lua_tolstring` only when `lua_type` says they are strings (so
//!   nothing is converted or allocated); they stay on the stack, alive, for the whole call.
//! - Only the pushes can raise a Lua error (out of memory), which `longjmp`s over this frame.
//!   So everything is computed first, the owned strings are moved into the [`Crossing`]'s
//!   scratch, and the pushes see only `Copy` values: no destructor is pending when they run.
//! - A panic is caught and answered as a 500 before anything is pushed.

use std::borrow::Cow;
use std::ffi::{c_char, c_int};
use std::fmt::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use mlua::ffi;

use crate::error::KickError;
use crate::kicker::{HttpRequest, Kicker};
use crate::request::{Action, Ban, Target, Unprepared};
use crate::response;

/// The configured module, and the strings of the reply being pushed.
pub(super) struct Crossing {
    kicker: Kicker,
    /// Owned strings of the last reply; emptied at the start of each call.
    scratch: Vec<String>,
}

impl Crossing {
    pub(super) fn new(kicker: Kicker) -> Self {
        Self {
            kicker,
            scratch: Vec::new(),
        }
    }

    /// Keeps an owned string alive until the next call; its bytes do not move with the `String`.
    fn keep(&mut self, text: Cow<'_, str>) -> Out {
        let out = Out::Str(text.as_ptr(), text.len());
        if let Cow::Owned(owned) = text {
            self.scratch.push(owned);
        }
        out
    }

    /// `kind, room|nil, target, reason|nil, prepared, ban|nil` or
    /// `"refuse", status, body, message, retry_after|nil, nil`; see [`decide`].
    fn decide(&mut self, request: &HttpRequest<'_>) -> [Out; 6] {
        self.scratch.clear();
        let request = match self.kicker.decide(request, Instant::now()) {
            Ok(request) => request,
            Err(err) => return self.refusal(&err),
        };
        let prepared = match request.unprepared {
            Unprepared::Nothing => Out::Bool(true),
            Unprepared::Target => Out::text("target"),
            Unprepared::All => Out::Bool(false),
        };
        match request.action {
            Action::Kick {
                room,
                target,
                reason,
                ban,
            } => {
                let (kind, target) = match target {
                    Target::Nickname(nickname) => ("nickname", nickname),
                    Target::Jid(jid) => ("jid", jid),
                };
                let ban = match ban {
                    None => Out::Nil,
                    Some(Ban::UntilLifted) => Out::Bool(true),
                    Some(Ban::Seconds(seconds)) => Out::Int(seconds.into()),
                };
                [
                    Out::text(kind),
                    self.keep(room),
                    self.keep(target),
                    self.keep_optional(reason),
                    prepared,
                    ban,
                ]
            }
            Action::Unban { room, jid } => [
                Out::text("unban"),
                self.keep(room),
                self.keep(jid),
                Out::Nil,
                prepared,
                Out::Nil,
            ],
            Action::KickEverywhere { jid, reason } => [
                Out::text("everywhere"),
                Out::Nil,
                self.keep(jid),
                self.keep_optional(reason),
                prepared,
                Out::Nil,
            ],
        }
    }

    fn keep_optional(&mut self, text: Option<Cow<'_, str>>) -> Out {
        text.map_or(Out::Nil, |text| self.keep(text))
    }

    fn refusal(&mut self, err: &KickError) -> [Out; 6] {
        let retry_after = match err {
            KickError::TooManyFailures { retry_after } => Out::Int(*retry_after),
            _ => Out::Nil,
        };
        let status = Out::Int(err.status().into());
        if let Some(fixed) = self.kicker.fixed(err) {
            let message = Out::text(&fixed.message);
            return [
                Out::text("refuse"),
                status,
                Out::Nil,
                message,
                retry_after,
                Out::Nil,
            ];
        }
        let mut message = String::with_capacity(128);
        let _ = write!(message, "{err}");
        let body = self.keep(Cow::Owned(response::error_body_for(
            &message,
            err.condition(),
        )));
        if let Some(detail) = err.log_detail() {
            message.push_str(": ");
            message.push_str(detail);
        }
        [
            Out::text("refuse"),
            status,
            body,
            self.keep(Cow::Owned(message)),
            retry_after,
            Out::Nil,
        ]
    }

    /// The 200 body for `room` and the nicknames kicked.
    fn kicked_body(&mut self, room: &[u8], nicknames: &[&[u8]]) -> Out {
        self.scratch.clear();
        let nicknames: Vec<Cow<'_, str>> = nicknames
            .iter()
            .map(|n| String::from_utf8_lossy(n))
            .collect();
        let body = response::kicked_body(&String::from_utf8_lossy(room), &nicknames);
        self.keep(Cow::Owned(body))
    }
}

/// One value to push: plain data, so a `longjmp` over the pushes skips no destructor.
#[derive(Clone, Copy)]
enum Out {
    Str(*const u8, usize),
    Int(u64),
    Bool(bool),
    Nil,
}

impl Out {
    fn text(text: &str) -> Self {
        Self::Str(text.as_ptr(), text.len())
    }

    /// # Safety
    /// `Str` points at live bytes; the stack has room for one more value.
    unsafe fn push(self, state: *mut ffi::lua_State) {
        unsafe {
            match self {
                Self::Str(ptr, len) => {
                    ffi::lua_pushlstring(state, ptr.cast::<c_char>(), len);
                }
                Self::Int(n) => {
                    ffi::lua_pushinteger(state, ffi::lua_Integer::try_from(n).unwrap_or(0))
                }
                Self::Bool(b) => ffi::lua_pushboolean(state, c_int::from(b)),
                Self::Nil => ffi::lua_pushnil(state),
            }
        }
    }
}

/// # Safety
/// `state` is a running C closure made by [`super::make_closure`].
unsafe fn crossing<'a>(state: *mut ffi::lua_State) -> &'a mut Crossing {
    unsafe { &mut *ffi::lua_touserdata(state, ffi::lua_upvalueindex(2)).cast::<Crossing>() }
}

/// Argument `index` if it is a string; it borrows from the Lua stack.
///
/// # Safety
/// `state` is a running C function's state; the result is used only during that call.
unsafe fn arg<'a>(state: *mut ffi::lua_State, index: c_int) -> Option<&'a [u8]> {
    unsafe {
        if ffi::lua_type(state, index) != ffi::LUA_TSTRING {
            return None;
        }
        let mut len = 0;
        let ptr = ffi::lua_tolstring(state, index, &mut len);
        (!ptr.is_null()).then(|| std::slice::from_raw_parts(ptr.cast::<u8>(), len))
    }
}

/// The answer to a panic, which the core never means to raise.
fn internal_error() -> [Out; 6] {
    const BODY: &str = r#"{"error":"Internal error","condition":"internal-server-error"}"#;
    [
        Out::text("refuse"),
        Out::Int(500),
        Out::text(BODY),
        Out::text("the native library panicked"),
        Out::Nil,
        Out::Nil,
    ]
}

/// `decide(method, ip, authorization, transfer_encoding, body)`; an argument that is not a
/// string counts as absent. Six results:
/// - a kick: `"nickname"|"jid", room, target, reason|nil, prepared, ban` where `ban` is nil,
///   `true` (until lifted) or whole seconds;
/// - an unban: `"unban", room, jid, nil, prepared, nil`;
/// - a kick from every room: `"everywhere", nil, jid, reason|nil, prepared, nil`;
/// - a refusal: `"refuse", status, body, message, retry_after|nil, nil`, where `body` is nil for
///   the refusals whose body never changes (`fixed.bodies[status]` has it, built at load).
///
/// `prepared`: `true` when every JID is in Prosody's prepared form (and the room on this
/// component); `"target"` when the room is and the target is as given; `false` when all are as
/// given, for Prosody's stringprep.
pub(super) unsafe extern "C-unwind" fn decide(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: see the module documentation.
    unsafe {
        let crossing = crossing(state);
        let request = HttpRequest {
            method: arg(state, 1).unwrap_or_default(),
            ip: arg(state, 2).unwrap_or_default(),
            authorization: arg(state, 3),
            transfer_encoding: arg(state, 4),
            body: arg(state, 5).unwrap_or_default(),
        };
        let reply = catch_unwind(AssertUnwindSafe(|| crossing.decide(&request)))
            .unwrap_or_else(|_| internal_error());
        for out in reply {
            out.push(state);
        }
        6
    }
}

/// `kicked_body(room, nickname, ...)`: the 200 body.
pub(super) unsafe extern "C-unwind" fn kicked_body(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: see the module documentation.
    unsafe {
        let crossing = crossing(state);
        let top = ffi::lua_gettop(state);
        let body = catch_unwind(AssertUnwindSafe(|| {
            let room = arg(state, 1).unwrap_or_default();
            let nicknames: Vec<&[u8]> = (2..=top).filter_map(|i| arg(state, i)).collect();
            crossing.kicked_body(room, &nicknames)
        }))
        .unwrap_or(Out::Nil);
        body.push(state);
        1
    }
}
