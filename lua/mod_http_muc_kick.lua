-- mod_http_muc_kick: kick (and ban) occupants of MUC rooms with one authenticated HTTP POST.
--
-- The Rust library (native.lib.lua loads it) parses and checks the request, prepares plain ASCII
-- JIDs, compares the Authorization header and builds every response body. This file does what
-- needs Prosody: options, the route, the rooms, the kicks, logs and metrics.

local jid = require "util.jid";
local xpcall = require "util.xpcall".xpcall; -- passes arguments on Lua 5.1 too
local traceback = debug.traceback;
local unpack = table.unpack or unpack; -- luacheck: ignore 113/unpack

-- Options, checked once (by the library), before anything is served.
if module:get_host_type() ~= "component" or module:get_option_string("component_module") ~= "muc" then
	error("mod_http_muc_kick must be enabled on a MUC component (Component \"...\" \"muc\")", 0);
end

local kicker, fixed = module:require("native").new({
	host = module.host;
	authorization = module:get_option("http_muc_kick_authorization_header");
	max_body_size = module:get_option("http_muc_kick_max_body_size");
	max_auth_failures = module:get_option("http_muc_kick_max_auth_failures");
});
if not kicker then
	error(fixed, 0); -- Prosody logs it: "Error initializing module 'http_muc_kick' on '<host>': ..."
end

local decide, kicked_body = kicker.decide, kicker.kicked_body;
local get_room = module:require("rooms").get; -- mod_muc's, raising where storage failed (a 500)
module:depends("http");
local prepare = module:require("prep"); -- Prosody's stringprep, where the library was unsure
local bans = module:require("bans"); -- ban, unban, timed lifts and their storage
local occupants = module:require("occupants"); -- the occupants a request names, and their rooms
local logtext = module:require("logtext"); -- client text in log lines
local views = module:require("views"); -- GET /occupants and /bans, read-only

local requests_by_status = module:metric("counter", "requests", "",
	"HTTP kick requests, by response status", { "status" });
local requests = setmetatable({}, { __index = function (counters, status) -- one counter per status
	local counter = requests_by_status:with_labels(tostring(status));
	counters[status] = counter;
	return counter;
end });
local kicked_occupants = module:metric("counter", "kicked_occupants", "",
	"Occupants kicked through the HTTP API", {}):with_labels();

-- Responses (Prosody copies the headers of a returned table, so these can be shared)

local json = { content_type = "application/json" };
local headers_for = {
	[401] = { content_type = "application/json"; www_authenticate = fixed.www_authenticate };
	[405] = { content_type = "application/json"; allow = "POST" };
};

-- The refusals whose body never changes (the library returns no body for them) are built once.
local prebuilt = {};
for status, body in pairs(fixed.bodies) do
	prebuilt[status] = { status_code = status; headers = headers_for[status] or json; body = body };
end

local function respond(status, body, headers)
	requests[status]:add(1);
	return body and { status_code = status; headers = headers or headers_for[status] or json; body = body }
		or prebuilt[status];
end

-- detail (in place), what was asked for, goes to the log only; so does the address, cut short: a trusted
-- proxy passes any X-Forwarded-For text, and an attacker's 9 KB on every line would flood the log.
local function refuse(request, status, body, message, retry_after, detail, place)
	local level, ip = (status == 401 or status == 429) and "warn" or "info", request.ip;
	ip = #ip > 100 and ip:sub(1, 100) .. "..." or ip;
	if detail then -- every format argument costs when the line is written: the 401s' line has three
		module:log(level, "Refused kick request from %s: %s: %s%s%s (%d)", ip, message, detail,
			place and " in " or "", place or "", status);
	else
		module:log(level, "Refused kick request from %s: %s (%d)", ip, message, status);
	end
	local headers = retry_after and { content_type = "application/json"; retry_after = ("%d"):format(retry_after) };
	return respond(status, body or headers and fixed.bodies[status], headers);
end

local function refuse_with(request, refusal, detail, place)
	return refuse(request, refusal.status, refusal.body, refusal.message, nil, detail, place);
end


-- The rooms: everything here was checked by the library or by prepare().

local none = {}; -- the empty list, returned without making one; never written to

-- The nicknames kicked out of room, or nil and the condition the room refused with.
local function kick_from(request, room, kind, target, reason)
	local kicked;
	for _, occupant in ipairs(occupants.find(room, kind, target)) do
		local done, _, condition = room:set_role(true, occupant.nick, "none", reason);
		local nick = kind == "nickname" and target or occupant.nick:sub(#room.jid + 2);
		if done then
			kicked = kicked or {};
			kicked[#kicked + 1] = nick;
			module:log("info", "Kicked %s (%s) from %s, %s, on request from %s",
				nick, occupant.bare_jid, room.jid, logtext.reason(reason), request.ip);
		elseif condition ~= "item-not-found" then
			return nil, ("%s (%s in %s)"):format(condition, nick, room.jid);
		end
	end
	if not kicked then return none; end
	kicked_occupants:add(#kicked);
	return kicked;
end

local function kick(request, room, kind, target, reason)
	local kicked, refused = kick_from(request, room, kind, target, reason);
	if not kicked then return refuse_with(request, fixed.forbidden, refused); end
	if not kicked[1] then return refuse_with(request, fixed.occupant_not_found, target, room.jid); end
	return respond(200, kicked_body(room.jid, unpack(kicked)));
end

local function ban(request, room, kind, target, reason, seconds)
	local account = target;
	if kind == "nickname" then
		local occupant = occupants.find(room, kind, target)[1];
		if not occupant then return refuse_with(request, fixed.occupant_not_found, target, room.jid); end
		account = occupant.bare_jid;
		if not jid.node(account) then return refuse_with(request, fixed.domain_occupant, account, room.jid); end
	end
	account = jid.bare(account);
	local ends = seconds ~= true and os.time() + seconds or nil;
	local kicked, condition = bans.ban(room, account, reason, ends, request.ip);
	if not kicked then return refuse_with(request, kicker.room_refused(tostring(condition)), account, room.jid); end
	kicked_occupants:add(#kicked);
	return respond(200, kicker.banned_body(room.jid, account, ends, unpack(kicked)));
end

local function unban(request, room, account)
	account = jid.bare(account);
	local done, condition, domain = bans.unban(room, account, request.ip);
	if done then return respond(200, kicker.unbanned_body(room.jid, account)); end
	if condition == "item-not-found" then return refuse_with(request, fixed.not_banned, account, room.jid); end
	if condition == "domain" then return refuse_with(request, kicker.domain_banned(domain), account, room.jid); end
	return refuse_with(request, kicker.room_refused(tostring(condition)), account, room.jid);
end

local function kick_everywhere(request, target, reason)
	local rooms, found, fault = {}, occupants.rooms_of(jid.bare(target));
	if not found then error(fault, 0); end -- a room Prosody cannot bring back: handle() answers 500
	for _, held in ipairs(found) do
		local room = get_room(held.jid) or held; -- restored again if a later restore evicted it
		local kicked, refused = kick_from(request, room, "jid", target, reason);
		if not kicked then return refuse_with(request, fixed.forbidden, refused); end
		if kicked[1] then rooms[#rooms + 1] = { muc = room.jid; kicked = kicked }; end
	end
	if not rooms[1] then return refuse_with(request, fixed.occupant_not_found, target, "any room"); end
	return respond(200, kicker.rooms_body(rooms));
end

local function act(request, kind, room_jid, target, reason, prepared, seconds)
	if prepared ~= true then
		local refusal, detail;
		room_jid, target, refusal, detail = prepare(kind, room_jid, target, prepared);
		if refusal then return refuse_with(request, fixed[refusal], detail); end
	end
	if kind == "everywhere" then return kick_everywhere(request, target, reason); end
	local room = get_room(room_jid);
	if not room then return refuse_with(request, fixed.room_not_found, room_jid); end
	if kind == "unban" then return unban(request, room, target); end
	if seconds then return ban(request, room, kind, target, reason, seconds); end
	return kick(request, room, kind, target, reason);
end

-- The handler, for every routed method: the library answers all but a valid POST.

local function handle(event)
	local request = event.request;
	local headers = request.headers;
	local outcome, a, b, c, d, e = decide(request.method, request.ip, headers.authorization,
		headers.transfer_encoding, request.body);
	if outcome == "refuse" then
		return refuse(request, a, b, c, d); -- status, body, message, retry_after
	end
	-- outcome is the kind of request; then room, target, reason, whether prepared, ban
	local done, response = xpcall(act, traceback, request, outcome, a, b, c, d, e);
	if done then return response; end
	module:log("error", "Kick of %s from %s (%s) requested by %s failed inside the server: %s",
		logtext.quoted(b), logtext.quoted(a), logtext.reason(c), request.ip, response);
	return respond(500, fixed.internal_error.body);
end

-- HEAD is served by the GET handler.
local route = { POST = handle; GET = handle; PUT = handle; DELETE = handle; PATCH = handle; TRACE = handle };
-- Prosody 0.12's mod_http breaks module:reload when OPTIONS is routed with CORS disabled
-- (unnumbered versions are development builds, newer than 0.12).
if (tonumber(tostring(prosody.version):match("^(%d+)%.")) or 13) >= 13 then
	route.OPTIONS = handle;
end

module:provides("http", {
	cors = { enabled = false };
	route = views.routes(route, kicker, fixed, respond, bans, occupants);
});
