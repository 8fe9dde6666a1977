-- The read-only views: GET /muc_kick/occupants?muc=<room>, ?jid=<account or session> and GET
-- /muc_kick/bans?muc=<room>. The library decides (method, lockout, Authorization, query, a room on
-- another host) and builds every body; this file walks Prosody's rooms for them. A view changes
-- nothing, but brings back the evicted rooms that hold the account asked for, as a kick from
-- every room does (occupants.rooms_of).
--
-- views.routes(route, kicker, fixed, respond, refuser, bans, occupants) adds the views' routes to
-- the POST endpoint's route table and returns it: the library's calls and fixed refusals, the
-- module's respond() (the requests counter) and refuser() (logged as for POST, with the views' own
-- 405), and the one instance of the ban store and of the occupant index (module:require runs a
-- file anew: these keep state, so they come from the module).

local jid_bare = require "util.jid".bare;
local xpcall = require "util.xpcall".xpcall;
local traceback = debug.traceback;
local sort = table.sort;
local get_room = module:require("rooms").get; -- raises when Prosody could not read the room
local prepare = module:require("prep").request; -- Prosody's stringprep, where the library was unsure

-- Prosody 13 computes XEP-0421 ids (room:get_occupant_id) unless muc_occupant_id is off.
local with_occupant_ids = module:get_option_boolean("muc_occupant_id", true);

local kicker, fixed, respond, refuse, bans, occupants; -- set by views.routes

local function refuse_with(request, refusal, detail)
	return refuse(request, refusal.status, refusal.body, refusal.message, nil, detail);
end

-- One occupant, as the views show it.

local function sessions_of(occupant)
	local sessions = {};
	for real_jid in occupant:each_session() do sessions[#sessions + 1] = real_jid; end
	if sessions[2] then sort(sessions); end
	return sessions;
end

local function occupant_id(room, occupant)
	if with_occupant_ids and room.get_occupant_id then return room:get_occupant_id(occupant); end
	return nil;
end

local function nickname(room, occupant) return occupant.nick:sub(#room.jid + 2); end
-- room:get_affiliation, without its jid_split (a third of a view's cost over 1 000 occupants): the
-- account's own affiliation, else outcast when its whole domain is banned.
local function affiliation(room, occupant)
	local affiliations, bare_jid = rawget(room, "_affiliations"), occupant.bare_jid;
	if type(affiliations) ~= "table" then return room:get_affiliation(bare_jid) or "none"; end
	local own = affiliations[bare_jid];
	if own then return own; end
	local at = bare_jid:find("@", 1, true);
	return affiliations[at and bare_jid:sub(at + 1) or bare_jid] == "outcast" and "outcast" or "none";
end

-- The walks.

-- The flat list kicker.occupants_body reads (a table per occupant cost more in garbage than the
-- rest of the view): for each, its occupant JID, real bare JID, role, affiliation, id or false,
-- the number of its sessions, then those sessions.
local function occupants_of(room)
	local list, n = {}, 0;
	for _, occupant in occupants.each(room) do -- in place: each_occupant copies every occupant
		list[n + 1], list[n + 2], list[n + 3] = occupant.nick, occupant.bare_jid, occupant.role or "none";
		list[n + 4], list[n + 5] = affiliation(room, occupant), occupant_id(room, occupant) or false;
		local count_at = n + 6;
		n = count_at;
		for real_jid in occupant:each_session() do n = n + 1; list[n] = real_jid; end
		list[count_at] = n - count_at;
	end
	return list;
end

-- Every occupant of the account (a bare JID) or the one holding that session (a full JID), in
-- every room of the component; a room Prosody cannot bring back raises (a 500).
local function rooms_of(target)
	local found, fault = occupants.rooms_of(jid_bare(target));
	if not found then error(fault, 0); end
	local list = {};
	for _, held in ipairs(found) do
		local room = get_room(held.jid) or held; -- restored again if a later restore evicted it
		for _, occupant in ipairs(occupants.find(room, "jid", target)) do
			list[#list + 1] = { muc = room.jid; nickname = nickname(room, occupant);
				sessions = sessions_of(occupant); role = occupant.role or "none";
				affiliation = affiliation(room, occupant) };
		end
	end
	return list;
end

-- Every outcast: the module's ban in force with its end and reason, else the reason Prosody keeps
-- with the affiliation (13 keeps the one an owner gave), if any.
local function bans_of(room)
	local list = {};
	for outcast, _, data in room:each_affiliation("outcast") do
		local record = bans.held(room.jid, outcast);
		local reason = type(data) == "table" and type(data.reason) == "string" and data.reason or nil;
		list[#list + 1] = record
			and { jid = outcast; ["until"] = record["until"]; reason = record.reason; by_module = true }
			or { jid = outcast; reason = reason; by_module = false };
	end
	return list;
end

-- kind and target as the library decided them (the target prepared when prepared is true).
local function show(request, kind, target, prepared)
	if not prepared then
		local refusal, detail, _;
		if kind == "account" then
			_, target, refusal = prepare("jid", nil, target);
		else
			target, _, refusal, detail = prepare("room", target, nil);
		end
		if refusal then return refuse_with(request, fixed[refusal], detail); end
	end
	local body;
	if kind == "account" then
		body = kicker.account_rooms_body(target, rooms_of(target));
	else
		local room = get_room(target);
		if not room then return refuse_with(request, fixed.room_not_found, target); end
		if kind == "room" then
			body = kicker.occupants_body(room.jid, occupants_of(room)) or error("occupants_body refused the list", 0);
		else
			body = kicker.bans_body(room.jid, bans_of(room));
		end
	end
	module:log("debug", "View of %s (%s) for %s", target, kind, request.ip);
	return respond(200, body);
end

-- The handler of one view's path, for every routed method: the library answers all but a valid GET.
local function handler(name)
	return function (event)
		local request = event.request;
		local query = request.url and request.url.query;
		local kind, a, b, c, d = kicker.view(name, request.method, request.ip, request.headers.authorization, query);
		if kind == "refuse" then return refuse(request, a, b, c, d); end -- status, body, message, retry_after
		local done, response = xpcall(show, traceback, request, kind, a, b);
		if done then return response; end
		module:log("error", "View of %s (%s) requested by %s failed inside the server: %s", a, kind, request.ip, response);
		return respond(500, fixed.internal_error.body);
	end
end

local views = {};

local METHODS = { "GET", "POST", "PUT", "DELETE", "PATCH", "TRACE" }; -- HEAD is served by GET's handler

function views.routes(route, kicker_, fixed_, respond_, refuser, bans_, occupants_)
	kicker, fixed, respond, bans, occupants = kicker_, fixed_, respond_, bans_, occupants_;
	refuse = refuser("view", { status_code = 405; body = fixed.view_not_allowed.body;
		headers = { content_type = "application/json"; allow = "GET, HEAD" } });
	for _, name in ipairs({ "occupants", "bans" }) do
		local handle = handler(name);
		for _, method in ipairs(METHODS) do route[method .. " /" .. name] = handle; end
		-- OPTIONS only where the module routes it for POST: see mod_http_muc_kick.lua's end
		if route.OPTIONS then route["OPTIONS /" .. name] = handle; end
	end
	return route;
end

return views;
