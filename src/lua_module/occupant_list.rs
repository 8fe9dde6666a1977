//! `occupants_body` as a C function: the view of a room of thousands reads one flat list in
//! place. A table per occupant and mlua's conversions (a reference slot per value) made
//! garbage and work in proportion to the room, and under Prosody's collector settings the
//! garbage cost more than the rest of the view.
//!
//! Sound for the reason `crossing`'s closures are: values are read only while they are on the
//! stack and no Lua code runs (`lua_rawgeti` calls no metamethod and allocates nothing), and the
//! one push, the body, is of a string Rust owns. That push may take a collector step (finalizers
//! that call this function again get their own body) or raise out of memory, which `longjmp`s
//! over this frame and leaks the body, never reads or frees it again.

use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mlua::ffi;

use crate::response::{self, RoomOccupant};

/// `occupants_body(room, list)`: the 200 body of the view of a room's occupants, or nil when
/// `list` is not as below. `list` holds, for each occupant in order: its occupant JID
/// (`room/nickname`), real bare JID, role, affiliation, XEP-0421 id or `false`, the number of
/// its sessions, then each session's real full JID (sorted here).
pub(super) unsafe extern "C-unwind" fn occupants_body(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: see the module documentation.
    unsafe {
        let body = catch_unwind(AssertUnwindSafe(|| {
            let room = string_at(state, 1, None)?;
            let occupants = read_occupants(state)?;
            Some(response::occupants_body(&room, &occupants))
        }));
        match body {
            Ok(Some(body)) => {
                ffi::lua_pushlstring(state, body.as_ptr().cast(), body.len());
            }
            _ => ffi::lua_pushnil(state),
        }
        1
    }
}

/// The occupants in argument 2, or `None` when it is not a list of occupants.
///
/// # Safety
/// `state` is a running C function's state.
unsafe fn read_occupants(state: *mut ffi::lua_State) -> Option<Vec<RoomOccupant>> {
    unsafe {
        if ffi::lua_type(state, 2) != ffi::LUA_TTABLE {
            return None;
        }
        let len = ffi::lua_rawlen(state, 2) as ffi::lua_Integer;
        let mut occupants = Vec::new();
        let mut at: ffi::lua_Integer = 1;
        while at <= len {
            let nick = string_at(state, 2, Some(at))?;
            let mut occupant = RoomOccupant {
                nickname: nick.split_once('/')?.1.to_owned(),
                jid: string_at(state, 2, Some(at + 1))?,
                sessions: Vec::new(),
                role: string_at(state, 2, Some(at + 2))?,
                affiliation: string_at(state, 2, Some(at + 3))?,
                occupant_id: match is_false_at(state, at + 4) {
                    true => None,
                    false => Some(string_at(state, 2, Some(at + 4))?),
                },
            };
            let count = count_at(state, at + 5)?;
            at += 6;
            if count < 0 || count > len - at + 1 {
                return None;
            }
            for session in at..at + count {
                occupant.sessions.push(string_at(state, 2, Some(session))?);
            }
            occupant.sessions.sort_unstable();
            at += count;
            occupants.push(occupant);
        }
        Some(occupants)
    }
}

/// The string at stack `index`, or at position `position` of the table there; `None` for any
/// other type. Invalid UTF-8 is replaced, as everywhere a body quotes Prosody's strings.
///
/// # Safety
/// `state` is a running C function's state with a free stack slot.
unsafe fn string_at(
    state: *mut ffi::lua_State,
    index: c_int,
    position: Option<ffi::lua_Integer>,
) -> Option<String> {
    unsafe {
        let index = match position {
            Some(position) => {
                ffi::lua_rawgeti(state, index, position);
                -1
            }
            None => index,
        };
        let mut text = None;
        if ffi::lua_type(state, index) == ffi::LUA_TSTRING {
            let mut len = 0;
            let ptr = ffi::lua_tolstring(state, index, &mut len);
            if !ptr.is_null() {
                let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
                text = Some(String::from_utf8_lossy(bytes).into_owned());
            }
        }
        if position.is_some() {
            ffi::lua_pop(state, 1);
        }
        text
    }
}

/// Whether position `position` of argument 2 holds `false`.
///
/// # Safety
/// `state` is a running C function's state with a free stack slot.
unsafe fn is_false_at(state: *mut ffi::lua_State, position: ffi::lua_Integer) -> bool {
    unsafe {
        let is_false = ffi::lua_rawgeti(state, 2, position) == ffi::LUA_TBOOLEAN
            && ffi::lua_toboolean(state, -1) == 0;
        ffi::lua_pop(state, 1);
        is_false
    }
}

/// The count at position `position` of argument 2: a number without a fraction (Lua 5.1 has no
/// integers, and mlua's `lua_tointegerx` there rounds what is near one); `None` for anything else.
///
/// # Safety
/// `state` is a running C function's state with a free stack slot.
unsafe fn count_at(
    state: *mut ffi::lua_State,
    position: ffi::lua_Integer,
) -> Option<ffi::lua_Integer> {
    unsafe {
        let is_number = ffi::lua_rawgeti(state, 2, position) == ffi::LUA_TNUMBER;
        let value = ffi::lua_tonumber(state, -1);
        ffi::lua_pop(state, 1);
        (is_number && value.fract() == 0.0).then_some(value as ffi::lua_Integer)
    }
}
