-- Built from a checkout: `luarocks make` (needs cargo) installs the module from source, and
-- `make rock` packs the result as a binary rock that `prosodyctl install /path/to/FILE.rock` installs
-- without a Rust toolchain. Both put mod_http_muc_kick.lua and the library built for the Lua
-- luarocks runs into share/lua/5.x/mod_http_muc_kick/, where Prosody finds the module.
rockspec_format = "3.0"
package = "mod_http_muc_kick"
version = "0.1.0-1"
source = {
	url = "git+file://.", -- no published source archive: build from a checkout
}
description = {
	summary = "Kick an occupant out of a Prosody MUC room with one authenticated HTTP POST",
	detailed = "A Prosody module (for a MUC component) over a small Rust library that checks the request.",
	license = "MIT",
	labels = { "prosody", "xmpp", "muc", "http" },
}
dependencies = {
	"lua >= 5.1, < 5.5",
}
build = {
	type = "command",
	build_command = [[make build LUA="$(LUA)"]],
	install_command = [[make install LUA="$(LUA)" PLUGIN_DIR="$(LUADIR)" DESTDIR=]],
}
