//! The Lua boundary: converts Lua values into core calls and results back. Nothing else.
//!
//! What runs once (loading, options) uses mlua's safe API; the calls every request makes are
//! the C closures of `crossing`, and the view of a room reads its flat list in place
//! (`occupant_list`).

mod crossing;
mod occupant_list;

use mlua::{BorrowedStr, Function, Lua, Table, Value, Variadic};

use crate::error::{ConfigError, KickError};
use crate::kicker::{self, Kicker, Settings};
use crate::request::{Action, Ban, Unprepared};
use crate::response;

use crossing::Crossing;

/// `require "http_muc_kick_core"` (or `package.loadlib`): `{ new = function(settings) }`.
#[mlua::lua_module]
fn http_muc_kick_core(lua: &Lua) -> mlua::Result<Table> {
    let exports = lua.create_table()?;
    exports.set("new", lua.create_function(new)?)?;
    exports.set("prep", lua.create_function(prep)?)?;
    Ok(exports)
}

/// `new{ host, authorization, max_body_size, max_auth_failures }` → `kicker, fixed` or
/// `nil, message` when an option is unusable. `kicker` is a table of the per-request calls
/// `decide` and `kicked_body`.
fn new(lua: &Lua, settings: Table) -> mlua::Result<(Value, Value)> {
    let host: String = settings.get("host")?;
    let max_body_size = number(settings.get("max_body_size")?);
    let max_auth_failures = number(settings.get("max_auth_failures")?);
    let built = authorization_values(settings.get("authorization")?).and_then(|values| {
        Kicker::new(&Settings {
            host: &host,
            authorization: &values,
            max_body_size,
            max_auth_failures,
        })
    });
    match built {
        Ok(kicker) => {
            let fixed = fixed_responses(lua, &kicker)?;
            Ok((
                Value::Table(per_request_calls(lua, kicker)?),
                Value::Table(fixed),
            ))
        }
        Err(e) => Ok((Value::Nil, Value::String(lua.create_string(e.to_string())?))),
    }
}

/// `{ decide = ..., view = ..., kicked_body = ..., ... }`: the C closures of `crossing` over one kicker, and
/// the bodies built with mlua's safe API.
fn per_request_calls(lua: &Lua, kicker: Kicker) -> mlua::Result<Table> {
    let host = kicker.host().to_owned();
    // SAFETY: `push_calls` needs three free slots, which exec_raw ensures, and runs protected.
    let (decide, view, kicked_body): (Function, Function, Function) = unsafe {
        lua.exec_raw((), |state| {
            crossing::push_calls(state, Crossing::new(kicker))
        })?
    };
    let calls = lua.create_table()?;
    calls.set("decide", decide)?;
    calls.set("kicked_body", kicked_body)?;
    calls.set("view", view)?;
    // SAFETY: a plain C function (no upvalues) of the same Lua's API.
    calls.set("occupants_body", unsafe {
        lua.create_c_function(occupant_list::occupants_body)?
    })?;
    calls.set(
        "account_rooms_body",
        lua.create_function(account_rooms_body)?,
    )?;
    calls.set("bans_body", lua.create_function(bans_body)?)?;
    calls.set("banned_body", lua.create_function(banned_body)?)?;
    calls.set("unbanned_body", lua.create_function(unbanned_body)?)?;
    calls.set("rooms_body", lua.create_function(rooms_body)?)?;
    calls.set("room_refused", lua.create_function(room_refused)?)?;
    calls.set("domain_banned", lua.create_function(domain_banned)?)?;
    calls.set(
        "plan",
        lua.create_function(move |lua, body: mlua::String| plan(lua, &host, &body.as_bytes()))?,
    )?;
    calls.set("invalid_item", lua.create_function(invalid_item)?)?;
    calls.set("results_body", lua.create_function(results_body)?)?;
    calls.set("keep_body", lua.create_function(keep_body)?)?;
    Ok(calls)
}

/// The responses Lua sends without asking Rust again, plus the `WWW-Authenticate` value.
fn fixed_responses(lua: &Lua, kicker: &Kicker) -> mlua::Result<Table> {
    let fixed = lua.create_table()?;
    for (name, err) in kicker::prosody_side_refusals() {
        fixed.set(name, refusal(lua, &err)?)?;
    }
    let bodies = lua.create_table()?;
    for refusal in kicker.fixed_refusals() {
        bodies.set(refusal.status, refusal.body.as_str())?;
    }
    fixed.set("bodies", bodies)?;
    let view_not_allowed = lua.create_table()?;
    view_not_allowed.set("status", kicker.view_not_allowed().status)?;
    view_not_allowed.set("body", kicker.view_not_allowed().body.as_str())?;
    view_not_allowed.set("message", kicker.view_not_allowed().message.as_str())?;
    fixed.set("view_not_allowed", view_not_allowed)?;
    fixed.set("www_authenticate", kicker.challenge())?;
    Ok(fixed)
}

/// A string, or a list (sequence) of strings; anything else is refused.
fn authorization_values(value: Value) -> Result<Vec<Vec<u8>>, ConfigError> {
    let wrong = ConfigError::Authorization {
        problem: "must be a string or a list of strings",
    };
    match value {
        Value::Nil => Err(ConfigError::Authorization {
            problem: "is not set",
        }),
        Value::String(s) => Ok(vec![s.as_bytes().to_vec()]),
        Value::Table(list) => {
            let values: Vec<Vec<u8>> = list
                .sequence_values::<Value>()
                .map(|v| match v {
                    Ok(Value::String(s)) => Ok(s.as_bytes().to_vec()),
                    _ => Err(wrong.clone()),
                })
                .collect::<Result<_, _>>()?;
            if list.pairs::<Value, Value>().count() != values.len() {
                return Err(wrong);
            }
            Ok(values)
        }
        _ => Err(wrong),
    }
}

/// A numeric option: unset is `None`; something that is not a number is NaN, which the core
/// refuses with the option's name.
fn number(value: Value) -> Option<f64> {
    match value {
        Value::Nil => None,
        Value::Integer(i) => Some(i as f64),
        Value::Number(n) => Some(n),
        Value::String(s) => Some(
            s.to_str()
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(f64::NAN),
        ),
        _ => Some(f64::NAN),
    }
}

/// `banned_body(room, banned, until|nil, nickname, ...)`: the 200 body of a ban; `until` is a
/// Unix time.
fn banned_body(
    _: &Lua,
    (room, banned, until, nicknames): (
        BorrowedStr,
        BorrowedStr,
        Option<i64>,
        Variadic<BorrowedStr>,
    ),
) -> mlua::Result<String> {
    let nicknames: Vec<&str> = nicknames.iter().map(|n| n.as_ref()).collect();
    Ok(response::banned_body(&room, &nicknames, &banned, until))
}

/// `unbanned_body(room, unbanned)`: the 200 body of an unban.
fn unbanned_body(_: &Lua, (room, unbanned): (BorrowedStr, BorrowedStr)) -> mlua::Result<String> {
    Ok(response::unbanned_body(&room, &unbanned))
}

/// `rooms_body({ { muc = room, kicked = { nickname, ... } }, ... })`: the 200 body of a kick
/// from every room.
fn rooms_body(_: &Lua, rooms: Vec<Table>) -> mlua::Result<String> {
    let rooms = rooms
        .iter()
        .map(|room| {
            Ok((
                room.get::<String>("muc")?,
                room.get::<Vec<String>>("kicked")?,
            ))
        })
        .collect::<mlua::Result<Vec<_>>>()?;
    Ok(response::rooms_body(&rooms))
}

/// `account_rooms_body(jid, { { muc, nickname, sessions = { full jid, ... }, role, affiliation },
/// ... })`: the 200 body of the view of an account's rooms.
fn account_rooms_body(_: &Lua, (jid, rooms): (BorrowedStr, Vec<Table>)) -> mlua::Result<String> {
    let rooms = rooms
        .iter()
        .map(|r| {
            Ok(response::AccountRoom {
                muc: r.raw_get("muc")?,
                nickname: r.raw_get("nickname")?,
                sessions: r.raw_get("sessions")?,
                role: r.raw_get("role")?,
                affiliation: r.raw_get("affiliation")?,
            })
        })
        .collect::<mlua::Result<Vec<_>>>()?;
    Ok(response::account_rooms_body(&jid, &rooms))
}

/// `bans_body(room, { { jid, ["until"] = Unix time|nil, reason = text|nil, by_module = bool },
/// ... })`: the 200 body of the view of a room's bans.
fn bans_body(_: &Lua, (room, bans): (BorrowedStr, Vec<Table>)) -> mlua::Result<String> {
    let bans = bans
        .iter()
        .map(|b| {
            Ok(response::BanEntry {
                jid: b.raw_get("jid")?,
                until: b.raw_get::<Option<f64>>("until")?.map(|t| t.floor() as i64),
                reason: b.raw_get("reason")?,
                by_module: b.raw_get("by_module")?,
            })
        })
        .collect::<mlua::Result<Vec<_>>>()?;
    Ok(response::bans_body(&room, &bans))
}

/// `room_refused(condition)` → `{ status, body, message }`, like the fixed refusals: the 403 of
/// a refused affiliation change.
fn room_refused(lua: &Lua, condition: String) -> mlua::Result<Table> {
    refusal(lua, &KickError::RoomRefused { condition })
}

/// `domain_banned(domain)` → `{ status, body, message }`: the 409 of an unban that a ban of the
/// account's whole domain would defeat.
fn domain_banned(lua: &Lua, domain: String) -> mlua::Result<Table> {
    refusal(lua, &KickError::DomainBanned { domain })
}

/// `plan(body)`, for a body `decide` answered `"many"`: what to do, as a table
/// `{ kind, muc, prepared, field, items = { { given, prepared }, ... }, reason, ban, dry_run }`:
/// `kind` is `"nickname"`, `"jid"` (a kick or ban), `"unban"`, `"everywhere"` or `"keep"`;
/// `muc` the room (nil for every room), `prepared` whether it is in prepared form and on this
/// component; `field` the list's field; each item's `prepared` its prepared form or `false`
/// where Prosody's stringprep must decide; `ban` nil, `true` or seconds. `nil, message` for
/// any other body.
fn plan(lua: &Lua, host: &str, body: &[u8]) -> mlua::Result<(Value, Value)> {
    let request = match kicker::plan(host, body) {
        Ok(request) => request,
        Err(err) => {
            return Ok((
                Value::Nil,
                Value::String(lua.create_string(err.to_string())?),
            ));
        }
    };
    let room_prepared = request.unprepared != Unprepared::All;
    let plan = lua.create_table()?;
    let (kind, room, items, reason, ban, dry_run) = match request.action {
        Action::KickMany {
            room,
            targets,
            reason,
            ban,
        } => (
            targets.field(),
            Some(room),
            targets.items().to_vec(),
            reason,
            ban,
            false,
        ),
        Action::UnbanMany { room, jids } => ("unban", Some(room), jids, None, None, false),
        Action::KickEverywhereMany { jids, reason } => {
            ("everywhere", None, jids, reason, None, false)
        }
        Action::Keep {
            room,
            keep,
            reason,
            dry_run,
        } => ("keep", Some(room), keep, reason, None, dry_run),
        Action::Kick { .. } | Action::Unban { .. } | Action::KickEverywhere { .. } => {
            let message = "not a request with several targets or keep";
            return Ok((Value::Nil, Value::String(lua.create_string(message)?)));
        }
    };
    plan.set("kind", kind)?;
    plan.set(
        "field",
        match kind {
            "nickname" | "keep" => kind,
            _ => "jid",
        },
    )?;
    plan.set("muc", room.as_deref())?;
    plan.set("prepared", room_prepared)?;
    let list = lua.create_table_with_capacity(items.len(), 0)?;
    for item in &items {
        let entry = lua.create_table_with_capacity(0, 2)?;
        entry.set("given", item.given.as_ref())?;
        match &item.prepared {
            Some(prepared) => entry.set("prepared", prepared.as_ref())?,
            None => entry.set("prepared", false)?,
        }
        list.raw_push(entry)?;
    }
    plan.set("items", list)?;
    plan.set("reason", reason.as_deref())?;
    match ban {
        None => {}
        Some(Ban::UntilLifted) => plan.set("ban", true)?,
        Some(Ban::Seconds(seconds)) => plan.set("ban", seconds)?,
    }
    plan.set("dry_run", dry_run)?;
    Ok((Value::Table(plan), Value::Nil))
}

/// `invalid_item(field, index, refusal)` → `{ status, body, message }`: the 400 of item
/// `index` (from 0) of `field`, which Prosody's preparation refused; `refusal` names the single
/// form's refusal (`invalid_jid`, `invalid_nickname`, `jid_on_component`).
fn invalid_item(
    lua: &Lua,
    (field, index, refused): (String, usize, String),
) -> mlua::Result<Table> {
    let field = match field.as_str() {
        "nickname" => "nickname",
        "keep" => "keep",
        _ => "jid",
    };
    refusal(lua, &kicker::item_refused(field, index, &refused))
}

/// `results_body(room|nil, field, { { given, status, body }, ... })`: the 200 body of a
/// request with several targets, from each target's single-form answer.
fn results_body(
    _: &Lua,
    (room, field, outcomes): (Option<String>, String, Vec<Table>),
) -> mlua::Result<String> {
    let outcomes = outcomes
        .iter()
        .map(|outcome| {
            Ok((
                outcome.get::<String>("given")?,
                outcome.get::<u16>("status")?,
                outcome.get::<String>("body")?,
            ))
        })
        .collect::<mlua::Result<Vec<_>>>()?;
    let outcomes: Vec<response::Outcome<'_>> = outcomes
        .iter()
        .map(|(given, status, body)| response::Outcome {
            given,
            status: *status,
            body,
        })
        .collect();
    Ok(response::results_body(room.as_deref(), &field, &outcomes))
}

/// `keep_body(room, { kicked nickname, ... }, { kept nickname, ... }, dry_run)`: the 200 body
/// of keep.
fn keep_body(
    _: &Lua,
    (room, kicked, kept, dry_run): (String, Vec<String>, Vec<String>, bool),
) -> mlua::Result<String> {
    Ok(response::keep_body(&room, &kicked, &kept, dry_run))
}

/// `{ status, body, message }` of `err`.
fn refusal(lua: &Lua, err: &KickError) -> mlua::Result<Table> {
    let refusal = lua.create_table()?;
    refusal.set("status", err.status())?;
    refusal.set("body", response::error_body(err))?;
    refusal.set("message", err.to_string())?;
    Ok(refusal)
}

/// A Lua string, or nil.
fn text(lua: &Lua, value: Option<&str>) -> mlua::Result<Value> {
    value.map_or(Ok(Value::Nil), |s| lua.create_string(s).map(Value::String))
}

/// `prep(jid)`: the fast path's prepared JID, or `false` where Prosody's own preparation must
/// decide. For the differential test against `util.jid.prep`.
fn prep(lua: &Lua, jid: BorrowedStr) -> mlua::Result<Value> {
    match crate::prep::jid(&jid) {
        Some(prepared) => text(lua, Some(&prepared)),
        None => Ok(Value::Boolean(false)),
    }
}
