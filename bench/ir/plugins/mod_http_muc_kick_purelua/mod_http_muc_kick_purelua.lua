-- mod_http_muc_kick_purelua: the kick endpoint of mod_http_muc_kick written in plain Lua on
-- Prosody's own libraries, the baseline of bench/ir. Not a product: util.json is not a strict
-- parser (a field given twice or a trailing comma gets through), and the lockout counts
-- request.ip as given (no canonical form, no /64 for IPv6).
--
-- Same order of checks as the module: method (405) → lockout (429) → Authorization (401) →
-- chunked (411) → body size (413) → body and fields (400) → preparation (400) → room and
-- occupant (404) → kick (200); same log lines, same metrics.

local jid = require "util.jid";
local json = require "util.json";
local hashes = require "util.hashes";
local cache = require "util.cache";
local monotonic = require "util.time".monotonic;
local urldecode = require "util.http".urldecode;

-- Options, read once.
local authorization = module:get_option_array("http_muc_kick_authorization_header");
local max_body_size = module:get_option_number("http_muc_kick_max_body_size", 16384);
local max_failures = module:get_option_number("http_muc_kick_max_auth_failures", 10);
if not authorization or #authorization == 0 then
	error("http_muc_kick_authorization_header is not set", 0);
end

local WINDOW = 60; -- seconds, from an address's first failure
local MAX_ADDRESSES = 10000;
local MAX_PART = 1023; -- bytes of a JID part or nickname after preparation
local TEXT_FIELDS = { "muc", "nickname", "jid", "reason" };

-- Configured values as SHA-256 digests, compared in constant time; one challenge per scheme.
local digests, challenges, announced = {}, {}, {};
for i, value in ipairs(authorization) do
	assert(type(value) == "string" and value ~= "", "http_muc_kick_authorization_header holds an empty or non-string value");
	digests[i] = hashes.sha256(value);
	local scheme = value:match("^([%w!#$%%&'*+%-.^_`|~]+) ") or "Bearer";
	if not announced[scheme] then
		announced[scheme] = true;
		challenges[#challenges + 1] = ('%s realm="%s"'):format(scheme, module.host);
	end
end
local www_authenticate = table.concat(challenges, ", ");
local TOO_LARGE = ("Request body is larger than %d bytes"):format(max_body_size);

local get_room_from_jid = module:depends("muc").get_room_from_jid;
module:depends("http");

local requests_by_status = module:metric("counter", "requests", "",
	"HTTP kick requests, by response status", { "status" });
local requests = setmetatable({}, { __index = function (counters, status) -- one counter per status
	local counter = requests_by_status:with_labels(tostring(status));
	counters[status] = counter;
	return counter;
end });
local kicked_occupants = module:metric("counter", "kicked_occupants", "",
	"Occupants kicked through the HTTP API", {}):with_labels();

-- Responses: every body for a given status and message is encoded once.

local CONDITIONS = {
	[400] = "bad-request", [401] = "not-authorized", [403] = "forbidden", [404] = "item-not-found",
	[405] = "method-not-allowed", [411] = "length-required", [413] = "payload-too-large",
	[429] = "too-many-requests", [500] = "internal-server-error",
};
local bodies = setmetatable({}, { __index = function (by_status, status)
	local of_status = setmetatable({}, { __index = function (by_message, message)
		local body = json.encode({ error = message, condition = CONDITIONS[status] });
		by_message[message] = body;
		return body;
	end });
	by_status[status] = of_status;
	return of_status;
end });

-- Prosody copies the headers of a returned table, so these can be shared.
local JSON = { content_type = "application/json" };
local HEADERS = {
	[401] = { content_type = "application/json", www_authenticate = www_authenticate };
	[405] = { content_type = "application/json", allow = "POST" };
};

local function respond(status, body, headers)
	requests[status]:add(1);
	return { status_code = status, headers = headers or HEADERS[status] or JSON, body = body };
end

-- `message` goes to the client and the log, `detail` (what was asked for) to the log only.
local function refuse(request, status, message, detail, headers)
	local level = (status == 401 or status == 429) and "warn" or "info";
	module:log(level, "Refused kick request from %s: %s%s%s (%d)", request.ip, message,
		detail and ": " or "", detail or "", status);
	return respond(status, bodies[status][message], headers);
end

-- For log lines: client text on one line.
local function quoted(text)
	return (("%q"):format(text or ""):gsub("\\\n", "\\n"));
end

-- The failure lockout: { count, since } per address, least recently failed evicted first, a
-- locked-out address never (while every entry is locked out, a new address is not counted).

local function locked(entry, now)
	return max_failures > 0 and entry.count >= max_failures and now - entry.since < WINDOW;
end

local failures = cache.new(MAX_ADDRESSES, function (_, entry)
	return not locked(entry, monotonic());
end);

local function retry_after(ip, now)
	local entry = failures:get(ip);
	if entry and locked(entry, now) then
		return math.max(1, math.ceil(entry.since + WINDOW - now));
	end
end

local function record_failure(ip, now)
	if max_failures == 0 then return; end
	local entry = failures:get(ip);
	if not entry or now - entry.since >= WINDOW then
		entry = { count = 0, since = now };
	end
	entry.count = entry.count + 1;
	failures:set(ip, entry);
end

local function authorized(presented)
	if not presented then return false; end
	local digest = hashes.sha256(presented);
	local matched = false;
	for _, expected in ipairs(digests) do -- every value compared, whatever matches
		matched = hashes.equals(digest, expected) or matched;
	end
	return matched;
end

-- The body: one JSON object with muc, exactly one of nickname/jid, maybe a reason.

local function text_field(data, name)
	local value = data[name];
	if value == nil or value == json.null then return nil; end
	if type(value) ~= "string" then return false, ("`%s` must be a string"):format(name); end
	if not utf8.len(value) then return false, ("`%s` is not valid UTF-8"):format(name); end
	return value;
end

local function parse(body)
	local ok, data = pcall(json.decode, body);
	if not ok or type(data) ~= "table" or getmetatable(data) ~= nil then
		return nil, "Body is not a JSON object";
	end
	local fields = {};
	for _, name in ipairs(TEXT_FIELDS) do
		local value, problem = text_field(data, name);
		if value == false then return nil, problem; end
		fields[name] = value;
	end
	if not fields.muc then return nil, "Missing field `muc`"; end
	if (fields.nickname == nil) == (fields.jid == nil) then
		return nil, "Give exactly one of `nickname` and `jid`";
	end
	local reason = fields.reason;
	if reason == "" then
		reason = nil;
	elseif reason and (reason:find("[\0-\8\11\12\14-\31]") or reason:find("\239\191[\190\191]")) then
		return nil, "`reason` holds characters XML cannot carry";
	end
	return fields.muc, fields.nickname, fields.jid, reason;
end

-- util.jid.prep maps some characters to nothing (e.g. U+00AD): a part that preps to "" is no JID.
local function prep(address)
	local node, host, resource = jid.prepped_split(address);
	if not host or host == "" or node == "" or resource == "" then return nil; end
	if #host > MAX_PART or (node and #node > MAX_PART) or (resource and #resource > MAX_PART) then return nil; end
	return jid.join(node, host, resource), node, resource;
end

-- The room

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

local function kick(request, muc, nickname, real_jid, reason)
	local room_jid, node, resource = prep(muc);
	if not room_jid or not node or resource then
		return refuse(request, 400, "Invalid `muc`: a bare room JID that preparation accepts");
	end
	local occupant_jid;
	if nickname then
		occupant_jid = prep(room_jid .. "/" .. nickname);
		if not occupant_jid then return refuse(request, 400, "Invalid `nickname`"); end
	else
		real_jid = prep(real_jid);
		if not real_jid then return refuse(request, 400, "Invalid `jid`"); end
	end

	local room = jid.host(room_jid) == module.host and get_room_from_jid(room_jid);
	if not room then return refuse(request, 404, "No such room on this component", room_jid); end

	local kicked = {};
	for _, occupant in ipairs(find_occupants(room, occupant_jid, real_jid)) do
		local done, _, condition = room:set_role(true, occupant.nick, "none", reason);
		local nick = jid.resource(occupant.nick);
		if done then
			kicked[#kicked + 1] = nick;
			module:log("info", "Kicked %s (%s) from %s, reason %s, on request from %s",
				nick, occupant.bare_jid, room_jid, quoted(reason), request.ip);
		elseif condition ~= "item-not-found" then
			return refuse(request, 403, "The room refused the kick", ("%s (%s in %s)"):format(condition, nick, room_jid));
		end
	end
	if not kicked[1] then
		local target = occupant_jid and jid.resource(occupant_jid) or real_jid;
		return refuse(request, 404, "No such occupant in the room", target .. " in " .. room_jid);
	end
	kicked_occupants:add(#kicked);
	return respond(200, json.encode({ muc = room_jid, kicked = kicked }));
end

-- The lockout (429), then the Authorization check (401); nil when the caller may go on.
local function refuse_caller(request)
	local now = monotonic();
	local wait = retry_after(request.ip, now);
	if wait then
		return refuse(request, 429, "Too many failed authorizations from this address; retry later", nil,
			{ content_type = "application/json", retry_after = tostring(wait) });
	end
	if not authorized(request.headers.authorization) then
		record_failure(request.ip, now);
		return refuse(request, 401, "Authorization failed");
	end
end

local function handle(event)
	local request = event.request;
	if request.method ~= "POST" then
		return refuse(request, 405, "Only POST is allowed on this endpoint");
	end
	local refused = refuse_caller(request);
	if refused then return refused; end
	if request.headers.transfer_encoding then
		return refuse(request, 411, "Chunked request bodies are not supported; send Content-Length");
	end
	local body = request.body or "";
	if #body > max_body_size then
		return refuse(request, 413, TOO_LARGE);
	end
	local muc, nickname, real_jid, reason = parse(body);
	if not muc then
		return refuse(request, 400, nickname);
	end
	local done, response = xpcall(kick, debug.traceback, request, muc, nickname, real_jid, reason);
	if done then return response; end
	module:log("error", "Kick of %s from %s requested by %s failed inside the server: %s",
		quoted(nickname or real_jid), quoted(muc), request.ip, response);
	return respond(500, bodies[500]["Internal error"]);
end

-- GET /occupants?muc=: the same checks up to Authorization, then the query (each parameter at
-- most once), the room and its occupants as util.json writes them.
local function occupants_view(request, query)
	local muc;
	for name, value in query:gmatch("([^&=]*)=?([^&]*)") do
		if urldecode(name) == "muc" then
			if muc then return refuse(request, 400, "`muc` is given twice"); end
			muc = urldecode(value);
		end
	end
	local room_jid = muc and prep(muc);
	if not room_jid or jid.resource(room_jid) then return refuse(request, 400, "Invalid `muc`"); end
	local room = jid.host(room_jid) == module.host and get_room_from_jid(room_jid);
	if not room then return refuse(request, 404, "No such room on this component", room_jid); end
	local list = {};
	for _, occupant in room:each_occupant() do
		local sessions = {};
		for real_jid in occupant:each_session() do sessions[#sessions + 1] = real_jid; end
		list[#list + 1] = { nickname = jid.resource(occupant.nick), jid = occupant.bare_jid,
			sessions = sessions, role = occupant.role, affiliation = room:get_affiliation(occupant.bare_jid) or "none",
			occupant_id = room.get_occupant_id and room:get_occupant_id(occupant) or json.null };
	end
	return respond(200, json.encode({ muc = room_jid, occupants = list }));
end

local function view(event)
	local request = event.request;
	if request.method ~= "GET" and request.method ~= "HEAD" then
		return refuse(request, 405, "Only GET and HEAD are allowed on this path");
	end
	local refused = refuse_caller(request);
	if refused then return refused; end
	return occupants_view(request, request.url.query or "");
end

local route = { POST = handle, GET = handle, PUT = handle, DELETE = handle, PATCH = handle, TRACE = handle };
for _, method in ipairs({ "GET", "POST", "PUT", "DELETE", "PATCH", "TRACE" }) do
	route[method .. " /occupants"] = view;
end

module:provides("http", {
	name = "muc_kick";
	cors = { enabled = false };
	route = route;
});
