-- mod_http_muc_kick: kick an occupant out of a MUC room with one authenticated HTTP POST.
--
-- The Rust library beside this file parses and checks the request, compares the
-- Authorization header and builds every response body. This file does what needs Prosody:
-- options, the route, stringprep, the room, the kick, logs and metrics.

local jid = require "util.jid";
local xpcall = require "util.xpcall".xpcall; -- passes arguments on Lua 5.1 too
local traceback = debug.traceback;

-- Options, checked once (by the library), before anything is served.
if module:get_host_type() ~= "component" or module:get_option_string("component_module") ~= "muc" then
	error("mod_http_muc_kick must be enabled on a MUC component (Component \"...\" \"muc\")", 0);
end

-- The Rust library, one build per Lua, named for it: another Lua's build would fail in dlopen
-- with a bare "undefined symbol", so it is refused by name first.
local function load_native()
	local dir = module:get_directory();
	local function library(lua) return ("%s/http_muc_kick_core-lua%s.so"):format(dir, lua); end
	local function lua_name(lua) return lua == "jit" and "LuaJIT" or "Lua " .. lua; end
	local running = package.loaded.jit and "jit" or _VERSION:match("5%.%d");
	local rebuild = ("rebuild it with \"make install LUA=%s PLUGIN_DIR=%s\" in the module's source tree"):format(
		running == "jit" and "luajit" or running, dir:match("^(.*)/[^/]+$") or dir);
	for _, built in ipairs({ running, "5.1", "5.2", "5.3", "5.4", "jit" }) do
		local file = io.open(library(built));
		if file then
			file:close();
			if built == running then
				return assert(package.loadlib(library(built), "luaopen_http_muc_kick_core"))();
			end
			error(("%s is built for %s, but Prosody runs %s: %s"):format(
				library(built), lua_name(built), lua_name(running), rebuild), 0);
		end
	end
	error(("%s is missing: %s"):format(library(running), rebuild), 0);
end
local kicker, fixed = load_native().new({
	host = module.host;
	authorization = module:get_option("http_muc_kick_authorization_header");
	max_body_size = module:get_option("http_muc_kick_max_body_size");
	max_auth_failures = module:get_option("http_muc_kick_max_auth_failures");
});
if not kicker then
	error(fixed, 0); -- Prosody logs it: "Error initializing module 'http_muc_kick' on '<host>': ..."
end

local get_room_from_jid = module:depends("muc").get_room_from_jid;
module:depends("http");

local requests_by_status = module:metric("counter", "requests", "",
	"HTTP kick requests, by response status", { "status" });
local kicked_occupants = module:metric("counter", "kicked_occupants", "",
	"Occupants kicked through the HTTP API", {}):with_labels();

-- Responses

local function respond(status, body, headers)
	requests_by_status:with_labels(tostring(status)):add(1);
	headers = headers or {};
	headers.content_type = "application/json";
	return { status_code = status, headers = headers, body = body };
end

local function refuse(request, status, body, message, retry_after)
	local headers;
	if status == 401 then
		headers = { www_authenticate = fixed.www_authenticate };
	elseif status == 429 then
		headers = { retry_after = tostring(retry_after) };
	elseif status == 405 then
		headers = { allow = "POST" };
	end
	local level = (status == 401 or status == 429) and "warn" or "info";
	module:log(level, "Refused kick request from %s: %s (%d)", request.ip, message, status);
	return respond(status, body, headers);
end

local function refuse_with(request, refusal, detail)
	local message = detail and ("%s: %s"):format(refusal.message, detail) or refusal.message;
	return refuse(request, refusal.status, refusal.body, message);
end

-- For log lines: client text on one line (%q alone would keep a newline).
local function quoted(text)
	return (("%q"):format(text or ""):gsub("\\\n", "\\n"));
end

-- util.jid.prep maps some characters to nothing (e.g. U+00AD): a part that preps to "" is no JID.
local function prep(address)
	local node, host, resource = jid.prepped_split(address);
	if host == nil or host == "" or node == "" or resource == "" then return nil; end
	return jid.join(node, host, resource);
end

-- The room: everything here was checked by the library except what needs stringprep.

local function find_occupants(room, occupant_jid, real_jid)
	if occupant_jid then
		return { room:get_occupant_by_nick(occupant_jid) };
	elseif jid.resource(real_jid) then
		return { room:get_occupant_by_nick(room:get_occupant_jid(real_jid)) };
	end
	local found = {};
	for _, occupant in room:each_occupant() do
		if occupant.bare_jid == real_jid then
			found[#found + 1] = occupant;
		end
	end
	return found;
end

local function kick_as_asked(request, muc, nickname, real_jid, reason)
	local room_jid = prep(muc);
	if not room_jid then return refuse_with(request, fixed.invalid_muc); end
	local occupant_jid;
	if nickname then
		occupant_jid = prep(room_jid .. "/" .. nickname);
		if not occupant_jid then return refuse_with(request, fixed.invalid_nickname); end
	else
		real_jid = prep(real_jid);
		if not real_jid then return refuse_with(request, fixed.invalid_jid); end
	end

	local room = jid.host(room_jid) == module.host and get_room_from_jid(room_jid);
	if not room then return refuse_with(request, fixed.room_not_found, room_jid); end

	local kicked = {};
	for _, occupant in ipairs(find_occupants(room, occupant_jid, real_jid)) do
		local done, _, condition = room:set_role(true, occupant.nick, "none", reason);
		local nick = jid.resource(occupant.nick);
		if done then
			kicked[#kicked + 1] = nick;
			module:log("info", "Kicked %s (%s) from %s, reason %s, on request from %s",
				nick, occupant.bare_jid, room_jid, quoted(reason), request.ip);
		elseif condition ~= "item-not-found" then
			return refuse_with(request, fixed.forbidden, ("%s (%s in %s)"):format(condition, nick, room_jid));
		end
	end
	if not kicked[1] then
		local target = occupant_jid and jid.resource(occupant_jid) or real_jid;
		return refuse_with(request, fixed.occupant_not_found, ("%s in %s"):format(target, room_jid));
	end
	kicked_occupants:add(#kicked);
	return respond(200, kicker:kicked_body(room_jid, kicked));
end

-- The handler, for every routed method: the library answers all but a valid POST.

local function handle(event)
	local request = event.request;
	local ok, a, b, c, d = kicker:decide(request.method, request.ip, request.headers.authorization,
		request.headers.transfer_encoding, request.body or "");
	if not ok then
		return refuse(request, a, b, c, d);
	end
	local muc, nickname, real_jid, reason = a, b, c, d;
	local done, response = xpcall(kick_as_asked, traceback, request, muc, nickname, real_jid, reason);
	if done then return response; end
	module:log("error", "Kick of %s from %s (reason %s) requested by %s failed inside the server: %s",
		quoted(nickname or real_jid), quoted(muc), quoted(reason), request.ip, response);
	return respond(500, fixed.internal_error.body);
end

local route = {
	POST = handle;
	GET = handle; -- HEAD too: Prosody serves HEAD with the GET handler
	PUT = handle;
	DELETE = handle;
	PATCH = handle;
	TRACE = handle;
};
-- Prosody 0.12's mod_http breaks module:reload when OPTIONS is routed with CORS disabled.
-- Unnumbered versions are development builds, newer than 0.12.
if (tonumber(tostring(prosody.version):match("^(%d+)%.")) or 13) >= 13 then
	route.OPTIONS = handle;
end

module:provides("http", {
	cors = { enabled = false };
	route = route;
});
