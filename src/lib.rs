//! mod_http_muc_kick's core: everything about a kick request that does not need Prosody.
//!
//! Pure functions from request parts to a decision ([`kicker::Kicker::decide`]) and the
//! response bodies ([`response`]). The Lua entry point in `lua_module` (built with one of the
//! `lua5x`/`luajit` features) only converts values; without those features the crate links no
//! Lua at all, so unit tests, benches and fuzz targets run without a Lua state.
#![warn(missing_docs)]

pub mod auth;
pub mod error;
pub mod jid;
pub mod kicker;
pub mod lockout;
pub mod prep;
pub mod request;
pub mod response;
pub mod view;

#[cfg(feature = "lua")]
mod lua_module;

pub use error::{ConfigError, KickError};
pub use kicker::{HttpRequest, Kicker, Settings};
pub use request::{Action, Ban, KickRequest, Target};
