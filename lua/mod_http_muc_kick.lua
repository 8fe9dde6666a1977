-- mod_http_muc_kick: kick (and ban) occupants of MUC rooms with one authenticated HTTP POST.
--
-- The Rust library (native.lib.lua loads it) parses and checks the request, prepares plain ASCII
-- JIDs, compares the Authorization header and builds every response body. This file does what
-- needs Prosody: options, the route and the handler, with its logs and metrics; actions.lib.lua acts
-- on the rooms.

local xpcall = require "util.xpcall".xpcall; -- passes arguments on Lua 5.1 too
local traceback = debug.traceback;

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

local decide = kicker.decide;
module:depends("http");
local logtext = module:require("logtext"); -- client text in log lines
local views = module:require("views"); -- GET /occupants and /bans, read-only

local requests_by_status = module:metric("counter", "requests", "",
	"HTTP requests to the module (kicks, bans, views), by response status", { "status" });
local requests = setmetatable({}, { __index = function (counters, status) -- one counter per status
	local counter = requests_by_status:with_labels(tostring(status));
	counters[status] = counter;
	return counter;
end });
local kicked_occupants = module:metric("counter", "kicked_occupants", "",
	"Occupants kicked through the HTTP API", {}):with_labels();
-- kick, ban, unban, every room, several targets, keep: each answers a status and a body, and for
-- a refusal what the log line says (the handler logs and responds)
local bans = module:require("bans"); -- ban, unban, timed lifts and their storage
local occupants = module:require("occupants"); -- the occupants a request names, and their rooms
local actions = module:require("actions")(kicker, fixed, kicked_occupants, bans, occupants);

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

-- refuser(noun, not_allowed) makes the refuse() of the POST endpoint ("kick") or of the views
-- ("view"), whose 405 response is not_allowed. refuse(request, status, body, message, retry_after,
-- detail, place, uncounted) logs (warn for 401 and 429, info for the rest) and responds. detail (in
-- place), what was asked for, goes to the log only; so does the address, cut short: a trusted
-- proxy passes any X-Forwarded-For text, and an attacker's 9 KB on every line would flood the log.
-- uncounted: only log (a target of a request with several, which responds once).
local log = module._log; -- module:log without its extra call, as Prosody's own modules do
local function refuser(noun, not_allowed)
	local line = "Refused " .. noun .. " request from %s: %s (%d)";
	local line_with_detail = "Refused " .. noun .. " request from %s: %s: %s%s%s (%d)";
	return function (request, status, body, message, retry_after, detail, place, uncounted)
		local level, ip = (status == 401 or status == 429) and "warn" or "info", request.ip;
		ip = #ip > 100 and ip:sub(1, 100) .. "..." or ip;
		if detail then -- every format argument costs when the line is written: the 401s' line has three
			log(level, line_with_detail, ip, message, detail, place and " in " or "", place or "", status);
		else
			log(level, line, ip, message, status);
		end
		if uncounted then return; end
		if status == 405 and not body then requests[405]:add(1); return not_allowed; end
		local headers = retry_after and { content_type = "application/json"; retry_after = ("%d"):format(retry_after) };
		return respond(status, body or headers and fixed.bodies[status], headers);
	end
end
local refuse = refuser("kick", prebuilt[405]);

-- The handler, for every routed method: the library answers all but a valid POST.

local function handle(event)
	local request = event.request;
	local headers = request.headers;
	local outcome, a, b, c, d, e = decide(request.method, request.ip, headers.authorization,
		headers.transfer_encoding, request.body);
	if outcome == "refuse" then
		return refuse(request, a, b, c, d); -- status, body, message, retry_after
	end
	if outcome == "many" then -- several targets, or keep: one request, counted once
		local progress = {};
		local done, status, body, message, detail, place = xpcall(actions.many, traceback, request, progress, refuse);
		if done then
			if message then return refuse(request, status, body, message, nil, detail, place); end
			return respond(status, body);
		end
		module:log("error", "Request from %s for several targets failed inside the server, after %s: %s",
			request.ip, progress[1] and table.concat(progress, ", ") or "nothing done", status);
		return respond(500, fixed.internal_error.body);
	end
	-- outcome is the kind of request; then room, target, reason, whether prepared, ban
	local done, status, body, message, detail, place = xpcall(actions.act, traceback, request, outcome, a, b, c, d, e);
	if done then
		if message then return refuse(request, status, body, message, nil, detail, place); end
		return respond(status, body);
	end
	module:log("error", "Kick of %s from %s (%s) requested by %s failed inside the server: %s",
		logtext.quoted(b), logtext.quoted(a), logtext.reason(c), request.ip, status);
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
	route = views.routes(route, kicker, fixed, respond, refuser, bans, occupants);
});
