//! The Lua boundary: converts Lua values into core calls and results back. Nothing else.

use std::time::Instant;

use mlua::{
    BorrowedBytes, BorrowedStr, IntoLua, Lua, LuaString, Table, UserData, UserDataMethods, Value,
};

use crate::error::{ConfigError, KickError};
use crate::kicker::{self, HttpRequest, Kicker, Settings};
use crate::request::Target;
use crate::response;

/// `require "http_muc_kick_core"` (or `package.loadlib`): `{ new = function(settings) }`.
#[mlua::lua_module]
fn http_muc_kick_core(lua: &Lua) -> mlua::Result<Table> {
    let exports = lua.create_table()?;
    exports.set("new", lua.create_function(new)?)?;
    exports.set("prep", lua.create_function(prep)?)?;
    Ok(exports)
}

/// `new{ host, authorization, max_body_size, max_auth_failures }` → `kicker, fixed` or
/// `nil, message` when an option is unusable.
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
                Value::UserData(lua.create_userdata(Handle(kicker))?),
                Value::Table(fixed),
            ))
        }
        Err(e) => Ok((Value::Nil, Value::String(lua.create_string(e.to_string())?))),
    }
}

/// The responses Lua sends without asking Rust again, plus the `WWW-Authenticate` value.
fn fixed_responses(lua: &Lua, kicker: &Kicker) -> mlua::Result<Table> {
    let fixed = lua.create_table()?;
    for (name, err) in kicker::prosody_side_refusals() {
        let entry = lua.create_table()?;
        entry.set("status", err.status())?;
        entry.set("body", kicker.body_for(&err).as_ref())?;
        entry.set("message", err.to_string())?;
        fixed.set(name, entry)?;
    }
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

/// The configured module, held by Lua.
struct Handle(Kicker);

impl UserData for Handle {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method_mut("decide", decide);
        methods.add_method("kicked_body", kicked_body);
    }
}

/// `(method, ip, authorization, transfer_encoding, body)`: the request parts, borrowed from
/// Lua's strings.
type RequestParts = (
    BorrowedBytes,
    Option<BorrowedBytes>,
    Option<BorrowedBytes>,
    Option<BorrowedBytes>,
    BorrowedBytes,
);

/// `true, room, nickname|nil, jid|nil, reason|nil` or
/// `false, status, body, message, retry_after|nil`.
type Decision = (bool, Value, Value, Value, Value);

/// `kicker:decide(method, ip, authorization, transfer_encoding, body)`: the one call every request makes.
fn decide(
    lua: &Lua,
    Handle(kicker): &mut Handle,
    (method, ip, authorization, transfer_encoding, body): RequestParts,
) -> mlua::Result<Decision> {
    let request = HttpRequest {
        method: &method,
        ip: ip.as_deref().unwrap_or_default(),
        authorization: authorization.as_deref(),
        transfer_encoding: transfer_encoding.as_deref(),
        body: &body,
    };
    match kicker.decide(&request, Instant::now()) {
        Ok(kick) => {
            let (nickname, jid) = match &kick.target {
                Target::Nickname(nickname) => (Some(nickname.as_ref()), None),
                Target::Jid(jid) => (None, Some(jid.as_ref())),
            };
            Ok((
                true,
                text(lua, Some(&kick.room))?,
                text(lua, nickname)?,
                text(lua, jid)?,
                text(lua, kick.reason.as_deref())?,
            ))
        }
        Err(err) => {
            let retry_after = match err {
                KickError::TooManyFailures { retry_after } => retry_after.into_lua(lua)?,
                _ => Value::Nil,
            };
            Ok((
                false,
                err.status().into_lua(lua)?,
                text(lua, Some(&kicker.body_for(&err)))?,
                text(lua, Some(&err.to_string()))?,
                retry_after,
            ))
        }
    }
}

/// `kicker:kicked_body(room, { nickname, ... })`: the 200 body.
fn kicked_body(
    _: &Lua,
    _: &Handle,
    (room, nicknames): (BorrowedStr, Vec<LuaString>),
) -> mlua::Result<String> {
    let nicknames = nicknames
        .iter()
        .map(LuaString::to_str)
        .collect::<mlua::Result<Vec<_>>>()?;
    Ok(response::kicked_body(&room, &nicknames))
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
