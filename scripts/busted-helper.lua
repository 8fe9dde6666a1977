-- busted helper (named in .busted): `require "http_muc_kick_core"` loads the build made for
-- the Lua busted runs under (target/lua5.x or target/luajit), whatever package.cpath says.
local lua = package.loaded.jit and "luajit" or "lua" .. _VERSION:match("5%.%d");
local path = ("target/%s/release/libhttp_muc_kick_core.so"):format(lua);
package.preload.http_muc_kick_core = assert(package.loadlib(path, "luaopen_http_muc_kick_core"));
