-- The Rust library beside the module, one build per Lua and named for it: another Lua's build
-- would fail in dlopen with a bare "undefined symbol", so it is refused by name first, with the
-- command that rebuilds it. Returns the library's exports.

local function load_native()
	local dir, running = module:get_directory(), package.loaded.jit and "jit" or _VERSION:match("5%.%d");
	local function library(lua) return ("%s/http_muc_kick_core-lua%s.so"):format(dir, lua); end
	local function named(lua) return lua == "jit" and "LuaJIT" or "Lua " .. lua; end
	local problem = library(running) .. " is missing";
	for _, built in ipairs({ running, "5.1", "5.2", "5.3", "5.4", "jit" }) do
		local file = io.open(library(built));
		if file then
			file:close();
			if built == running then return assert(package.loadlib(library(built), "luaopen_http_muc_kick_core"))(); end
			problem = ("%s is built for %s, but Prosody runs %s"):format(library(built), named(built), named(running));
			break;
		end
	end
	error(("%s: rebuild it with \"make install LUA=%s PLUGIN_DIR=%s\" in the module's source tree"):format(
		problem, running == "jit" and "luajit" or running, dir:match("^(.*)/[^/]+$") or dir), 0);
end
return load_native();
