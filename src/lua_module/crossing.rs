//! The calls every request makes, `decide` and `kicked_body` (and `view` for the views), as C
//! closures over the Lua C API. mlua's safe conversions cost about 6 000 instructions per call (a reference slot per
//! argument, a protected call per string pushed), more than the decision itself; reading the
//! arguments in place and pushing the results directly costs a few hundred.
//!
//! Why this is sound, whatever Lua code runs around the closures (finalizers, the debug
//! library, arguments of any type); `view` is made like `decide` (the same owner, its arguments
//! read in place, its answer a [`Reply`]), so each point holds for the three closures alike:
//! - Nothing in Lua memory is trusted to find the [`Crossing`]: the debug library can give any
//!   value any metatable, user value or upvalue, and edit the registry. Each closure's only
//!   upvalue is its owner, a full userdata made by [`push_calls`]; [`OWNERS`], in Rust memory,
//!   maps the owner's address to the boxed `Crossing`. The owner's `__gc`, run by the collector
//!   or called by hand with any value, removes that value's entry, if any, and drops its
//!   `Crossing`. A closure
//!   whose upvalue is not a full userdata with an entry (its owner was finalized, or
//!   `debug.setupvalue` put another value there) raises a Lua error before reading anything.
//!   Another owner's userdata put there makes the closure act for that owner, which is alive.
//!   An owner freed without its `__gc` (`debug.setmetatable` took it away) leaves its entry and
//!   its `Crossing` alive: a leak, and a userdata later made at that address reaches a live
//!   `Crossing`, never freed memory. While an owner lives no other userdata has its address, so
//!   its entry is removed only by the thread running its Lua state.
//! - The `&mut Crossing` of a call lives only while the answer is computed, and no Lua code
//!   runs then (the Rust code never calls into Lua): no other call and no `__gc` can reach it,
//!   and the owner, the running closure's upvalue, stays alive. Arguments are read with
//!   `lua_tolstring` only when `lua_type` says they are strings (so nothing is converted or
//!   allocated), and only during that computation, while they are on the stack.
//! - Pushing runs Lua code: `lua_pushlstring` may take a collector step, which runs finalizers,
//!   which may call the closures again, call the owner's `__gc` by hand, or replace the call's
//!   stack slots with `debug.setlocal`. So every string a call pushes is first copied into its
//!   own [`Reply`] (or is `'static`): while pushing it reads nothing another call, a `__gc` or
//!   the debug library can change or free, and a nested call gets its own exact answer.
//! - A push can raise a Lua error (out of memory, or before Lua 5.4 an error in a finalizer),
//!   which `longjmp`s over this frame (LuaJIT unwinds it, dropping what it owns): the `Reply`,
//!   or `kicked_body`'s body, is then leaked, never freed or read again; nothing else is
//!   pending (no lock is held while pushing).
//! - A panic is caught and answered as a 500 before anything is pushed.

use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int};
use std::fmt::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use mlua::ffi;

use crate::error::KickError;
use crate::kicker::{HttpRequest, Kicker, ViewHttpRequest};
use crate::request::{Action, Ban, Target, Unprepared};
use crate::response;
use crate::view::{View, ViewRequest};

/// The configured module behind one set of closures.
pub(super) struct Crossing {
    kicker: Kicker,
}

/// Every live owner: the address of its userdata → its [`Crossing`]. See the module
/// documentation.
static OWNERS: Mutex<BTreeMap<usize, Box<UnsafeCell<Crossing>>>> = Mutex::new(BTreeMap::new());

fn owners() -> MutexGuard<'static, BTreeMap<usize, Box<UnsafeCell<Crossing>>>> {
    OWNERS.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Crossing {
    pub(super) fn new(kicker: Kicker) -> Self {
        Self { kicker }
    }

    /// `kind, room|nil, target, reason|nil, prepared, ban|nil` or
    /// `"refuse", status, body, message, retry_after|nil, nil`; see [`decide`].
    fn decide(&mut self, request: &HttpRequest<'_>) -> Reply {
        let request = match self.kicker.decide(request, Instant::now()) {
            Ok(request) => request,
            Err(err) => return self.refusal(&err),
        };
        let prepared = match request.unprepared {
            Unprepared::Nothing => Out::Bool(true),
            Unprepared::Target => Out::Static("target"),
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
                let mut text = String::with_capacity(
                    room.len() + target.len() + reason.as_ref().map_or(0, |r| r.len()),
                );
                let room = keep(&mut text, &room);
                let target = keep(&mut text, &target);
                let reason = keep_optional(&mut text, reason);
                Reply {
                    outs: [Out::Static(kind), room, target, reason, prepared, ban],
                    text,
                }
            }
            Action::Unban { room, jid } => {
                let mut text = String::with_capacity(room.len() + jid.len());
                let room = keep(&mut text, &room);
                let jid = keep(&mut text, &jid);
                Reply {
                    outs: [
                        Out::Static("unban"),
                        room,
                        jid,
                        Out::Nil,
                        prepared,
                        Out::Nil,
                    ],
                    text,
                }
            }
            Action::KickEverywhere { jid, reason } => {
                let mut text =
                    String::with_capacity(jid.len() + reason.as_ref().map_or(0, |r| r.len()));
                let jid = keep(&mut text, &jid);
                let reason = keep_optional(&mut text, reason);
                Reply {
                    outs: [
                        Out::Static("everywhere"),
                        Out::Nil,
                        jid,
                        reason,
                        prepared,
                        Out::Nil,
                    ],
                    text,
                }
            }
            // Several targets, or keep: Lua asks `plan(body)` for the items (mlua's safe API).
            Action::KickMany { .. }
            | Action::UnbanMany { .. }
            | Action::KickEverywhereMany { .. }
            | Action::Keep { .. } => Reply {
                outs: [
                    Out::Static("many"),
                    Out::Nil,
                    Out::Nil,
                    Out::Nil,
                    Out::Nil,
                    Out::Nil,
                ],
                text: String::new(),
            },
        }
    }

    /// `kind, jid, prepared, nil, nil, nil` or `"refuse", status, body, message,
    /// retry_after|nil, nil`; see [`view`].
    fn view(&mut self, view: Option<View>, request: &ViewHttpRequest<'_>) -> Reply {
        let Some(view) = view else {
            return self.refusal(&KickError::Internal);
        };
        let decided = match self.kicker.decide_view(view, request, Instant::now()) {
            Ok(decided) => decided,
            Err(err) => return self.refusal(&err),
        };
        let (kind, jid) = match decided.view {
            ViewRequest::RoomOccupants { room } => ("room", room),
            ViewRequest::AccountRooms { jid } => ("account", jid),
            ViewRequest::Bans { room } => ("bans", room),
        };
        let mut text = String::with_capacity(jid.len());
        let jid = keep(&mut text, &jid);
        Reply {
            outs: [
                Out::Static(kind),
                jid,
                Out::Bool(decided.prepared),
                Out::Nil,
                Out::Nil,
                Out::Nil,
            ],
            text,
        }
    }

    fn refusal(&self, err: &KickError) -> Reply {
        let retry_after = match err {
            KickError::TooManyFailures { retry_after } => Out::Int(*retry_after),
            _ => Out::Nil,
        };
        let status = Out::Int(err.status().into());
        let mut text = String::with_capacity(128);
        if let Some(fixed) = self.kicker.fixed(err) {
            let message = keep(&mut text, &fixed.message);
            return Reply {
                outs: [
                    Out::Static("refuse"),
                    status,
                    Out::Nil,
                    message,
                    retry_after,
                    Out::Nil,
                ],
                text,
            };
        }
        let _ = write!(text, "{err}");
        let body = response::error_body_for(&text, err.condition());
        if let Some(detail) = err.log_detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        let message = Out::Text(0, text.len());
        let body = keep(&mut text, &body);
        Reply {
            outs: [
                Out::Static("refuse"),
                status,
                body,
                message,
                retry_after,
                Out::Nil,
            ],
            text,
        }
    }
}

/// Appends `part` to `text`; the [`Out`] names it there.
fn keep(text: &mut String, part: &str) -> Out {
    let start = text.len();
    text.push_str(part);
    Out::Text(start, part.len())
}

fn keep_optional(text: &mut String, part: Option<Cow<'_, str>>) -> Out {
    part.map_or(Out::Nil, |part| keep(text, &part))
}

/// An answer ready to push, owned by the call that pushes it: its strings are in `text` or
/// `'static`, so nothing another call or Lua code does while it is pushed can change them.
struct Reply {
    text: String,
    outs: [Out; 6],
}

/// One value to push: plain data, so a `longjmp` over the pushes skips no destructor.
#[derive(Clone, Copy)]
enum Out {
    /// `len` bytes of the reply's text from `start`.
    Text(usize, usize),
    Static(&'static str),
    Int(u64),
    Bool(bool),
    Nil,
}

impl Reply {
    /// # Safety
    /// `state` is a running C function's state with room for six more values.
    unsafe fn push(&self, state: *mut ffi::lua_State) {
        for out in self.outs {
            unsafe {
                match out {
                    Out::Text(start, len) => {
                        push_str(state, self.text.get(start..start + len).unwrap_or_default())
                    }
                    Out::Static(text) => push_str(state, text),
                    Out::Int(n) => {
                        ffi::lua_pushinteger(state, ffi::lua_Integer::try_from(n).unwrap_or(0))
                    }
                    Out::Bool(b) => ffi::lua_pushboolean(state, c_int::from(b)),
                    Out::Nil => ffi::lua_pushnil(state),
                }
            }
        }
    }

    /// The answer to a panic, which the core never means to raise.
    fn internal_error() -> Self {
        const BODY: &str = r#"{"error":"Internal error","condition":"internal-server-error"}"#;
        Self {
            text: String::new(),
            outs: [
                Out::Static("refuse"),
                Out::Int(500),
                Out::Static(BODY),
                Out::Static("the native library panicked"),
                Out::Nil,
                Out::Nil,
            ],
        }
    }
}

/// # Safety
/// `state` has room for one more value. May raise a Lua error (out of memory, or a finalizer's
/// error on Lua 5.1 to 5.3), which skips the caller's destructors.
unsafe fn push_str(state: *mut ffi::lua_State, text: &str) {
    unsafe {
        ffi::lua_pushlstring(state, text.as_ptr().cast::<c_char>(), text.len());
    }
}

/// Leaves `decide, view, kicked_body` on the stack: C closures whose only upvalue is a new owner
/// of `crossing` (one owner for the three), a full userdata whose `__gc` drops it.
///
/// # Safety
/// `state` has room for three more values. Run protected: a Lua error (out of memory) skips
/// this frame, leaking `crossing` if it comes before the owner is registered.
pub(super) unsafe fn push_calls(state: *mut ffi::lua_State, crossing: Crossing) {
    unsafe {
        let address = ffi::lua_newuserdata(state, 1) as usize;
        ffi::lua_createtable(state, 0, 1);
        ffi::lua_pushcfunction(state, owner_gc);
        ffi::lua_setfield(state, -2, c"__gc".as_ptr());
        ffi::lua_setmetatable(state, -2);
        // The address is this live userdata's: an entry there is a stale one, whose userdata
        // was freed without its `__gc` and which nothing can reach any more.
        let stale = owners().insert(address, Box::new(UnsafeCell::new(crossing)));
        drop(stale);
        ffi::lua_pushvalue(state, -1);
        ffi::lua_pushcclosure(state, decide, 1);
        ffi::lua_insert(state, -2);
        ffi::lua_pushvalue(state, -1);
        ffi::lua_pushcclosure(state, view, 1);
        ffi::lua_insert(state, -2);
        ffi::lua_pushcclosure(state, kicked_body, 1);
    }
}

/// The owner's `__gc`: drops the [`Crossing`] of the userdata given, if it is an owner that has
/// one. Any value may be given, any number of times (it can be called by hand).
unsafe extern "C-unwind" fn owner_gc(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: see the module documentation.
    unsafe {
        if ffi::lua_type(state, 1) == ffi::LUA_TUSERDATA {
            let address = ffi::lua_touserdata(state, 1) as usize;
            let removed = owners().remove(&address);
            let _ = catch_unwind(AssertUnwindSafe(|| drop(removed)));
        }
    }
    0
}

/// The running closure's [`Crossing`], or a Lua error when its upvalue is not a live owner.
///
/// # Safety
/// `state` is a running C closure of [`push_calls`]; the result is used only until the call
/// first runs Lua code (see the module documentation).
unsafe fn crossing<'a>(state: *mut ffi::lua_State) -> &'a mut Crossing {
    unsafe {
        let owner = ffi::lua_upvalueindex(1);
        let found = (ffi::lua_type(state, owner) == ffi::LUA_TUSERDATA)
            .then(|| {
                let address = ffi::lua_touserdata(state, owner) as usize;
                owners().get(&address).map(|cell| cell.get())
            })
            .flatten();
        match found {
            Some(crossing) => &mut *crossing,
            None => {
                push_str(
                    state,
                    "http_muc_kick_core: this kicker is gone (its owner was collected or its upvalue replaced)",
                );
                ffi::lua_error(state)
            }
        }
    }
}

/// Argument `index` if it is a string; it borrows from the Lua stack.
///
/// # Safety
/// `state` is a running C function's state; the result is used only until the call first runs
/// Lua code.
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

/// `decide(method, ip, authorization, transfer_encoding, body)`; an argument that is not a
/// string counts as absent. Six results:
/// - a kick: `"nickname"|"jid", room, target, reason|nil, prepared, ban` where `ban` is nil,
///   `true` (until lifted) or whole seconds;
/// - an unban: `"unban", room, jid, nil, prepared, nil`;
/// - a kick from every room: `"everywhere", nil, jid, reason|nil, prepared, nil`;
/// - several targets or keep: `"many"` and five nils (`plan(body)` then gives the items);
/// - a refusal: `"refuse", status, body, message, retry_after|nil, nil`, where `body` is nil for
///   the refusals whose body never changes (`fixed.bodies[status]` has it, built at load).
///
/// `prepared`: `true` when every JID is in Prosody's prepared form (and the room on this
/// component); `"target"` when the room is and the target is as given; `false` when all are as
/// given, for Prosody's stringprep.
///
/// A Lua error when the closure's owner is gone.
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
            .unwrap_or_else(|_| Reply::internal_error());
        reply.push(state);
        6
    }
}

/// `view(name, method, ip, authorization, query)`, `name` the view's path (`"occupants"` or
/// `"bans"`); an argument that is not a string counts as absent. Six results:
/// - `"room", room, prepared, nil, nil, nil`: the occupants of a room;
/// - `"account", jid, prepared, nil, nil, nil`: the rooms of an account or session;
/// - `"bans", room, prepared, nil, nil, nil`: the outcasts of a room;
/// - a refusal, as [`decide`]'s (the views' 405 has no body: `fixed.view_not_allowed` has it).
///
/// `prepared`: `true` when the JID is in Prosody's prepared form (a room on this component),
/// `false` when it is as decoded, for Prosody's stringprep. A name that is no view is a 500.
///
/// A Lua error when the closure's owner is gone.
pub(super) unsafe extern "C-unwind" fn view(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: see the module documentation.
    unsafe {
        let crossing = crossing(state);
        let which = View::of(arg(state, 1).unwrap_or_default());
        let request = ViewHttpRequest {
            method: arg(state, 2).unwrap_or_default(),
            ip: arg(state, 3).unwrap_or_default(),
            authorization: arg(state, 4),
            query: arg(state, 5).unwrap_or_default(),
        };
        let reply = catch_unwind(AssertUnwindSafe(|| crossing.view(which, &request)))
            .unwrap_or_else(|_| Reply::internal_error());
        reply.push(state);
        6
    }
}

/// `kicked_body(room, nickname, ...)`: the 200 body; nil if the library panicked. A Lua error
/// when the closure's owner is gone.
pub(super) unsafe extern "C-unwind" fn kicked_body(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: see the module documentation.
    unsafe {
        crossing(state);
        let top = ffi::lua_gettop(state);
        let body = catch_unwind(AssertUnwindSafe(|| {
            let room = String::from_utf8_lossy(arg(state, 1).unwrap_or_default());
            let nicknames: Vec<Cow<'_, str>> = (2..=top)
                .filter_map(|i| arg(state, i))
                .map(String::from_utf8_lossy)
                .collect();
            response::kicked_body(&room, &nicknames)
        }));
        match body {
            Ok(body) => push_str(state, &body),
            Err(_) => ffi::lua_pushnil(state),
        }
        1
    }
}
