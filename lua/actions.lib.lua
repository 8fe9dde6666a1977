-- The actions of mod_http_muc_kick on the rooms: kick, ban, unban, every room, several targets
-- and keep. Everything here was checked by the library or by prep.lib.lua. Each action answers
-- the status and body of its response (the library built the body), plus for a refusal its
-- message and what was asked, for the log; the handler logs and responds, so a request with
-- several targets runs each through its single form and is counted once.
--
-- new(kicker, fixed, kicked_occupants, bans, occupants): the library's calls, its fixed refusals,
-- the metric of occupants kicked (each kick counts), and the module's one ban store and occupant
-- index (module:require runs a file anew: these keep state, so the views share them).

local jid = require "util.jid";
local unpack = table.unpack or unpack; -- luacheck: ignore 113/unpack
local get_room = module:require("rooms").get; -- mod_muc's, raising where storage failed (a 500)
local prepare = module:require("prep"); -- Prosody's stringprep, where the library was unsure
local logtext = module:require("logtext"); -- client text in log lines

local none = {}; -- the empty list, returned without making one; never written to

return function (kicker, fixed, kicked_occupants, bans, occupants)
local actions = {};
local kicked_body = kicker.kicked_body;

-- A refusal as the actions answer it: status, body, and for the log, the message and what was
-- asked (detail, in place).
local function refused(refusal, detail, place)
	return refusal.status, refusal.body, refusal.message, detail, place;
end

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
	local kicked, condition = kick_from(request, room, kind, target, reason);
	if not kicked then return refused(fixed.forbidden, condition); end
	if not kicked[1] then -- refused(), inline: the most common answer (each Lua call costs it ~400 Ir)
		local missing = fixed.occupant_not_found;
		return missing.status, missing.body, missing.message, target, room.jid;
	end
	return 200, kicked_body(room.jid, unpack(kicked));
end

local function ban(request, room, kind, target, reason, seconds)
	local account = target;
	if kind == "nickname" then
		local occupant = occupants.find(room, kind, target)[1];
		if not occupant then return refused(fixed.occupant_not_found, target, room.jid); end
		account = occupant.bare_jid;
		if not jid.node(account) then return refused(fixed.domain_occupant, account, room.jid); end
	end
	account = jid.bare(account);
	local ends = seconds ~= true and os.time() + seconds or nil;
	local kicked, condition = bans.ban(room, account, reason, ends, request.ip);
	if not kicked then return refused(kicker.room_refused(tostring(condition)), account, room.jid); end
	kicked_occupants:add(#kicked);
	return 200, kicker.banned_body(room.jid, account, ends, unpack(kicked));
end

local function unban(request, room, account)
	account = jid.bare(account);
	local done, condition, domain = bans.unban(room, account, request.ip);
	if done then return 200, kicker.unbanned_body(room.jid, account); end
	if condition == "item-not-found" then return refused(fixed.not_banned, account, room.jid); end
	if condition == "domain" then return refused(kicker.domain_banned(domain), account, room.jid); end
	return refused(kicker.room_refused(tostring(condition)), account, room.jid);
end

local function kick_everywhere(request, target, reason)
	local rooms, found, fault = {}, occupants.rooms_of(jid.bare(target));
	if not found then error(fault, 0); end -- a room Prosody cannot bring back: the handler answers 500
	for _, held in ipairs(found) do
		local room = get_room(held.jid) or held; -- restored again if a later restore evicted it
		local kicked, refusal = kick_from(request, room, "jid", target, reason);
		if not kicked then return refused(fixed.forbidden, refusal); end
		if kicked[1] then rooms[#rooms + 1] = { muc = room.jid; kicked = kicked }; end
	end
	if not rooms[1] then return refused(fixed.occupant_not_found, target, "any room"); end
	return 200, kicker.rooms_body(rooms);
end

-- One target, prepared, in its room (nil for every room): the single form (act() has it inline).
local function one(request, kind, room, target, reason, seconds)
	if kind == "everywhere" then return kick_everywhere(request, target, reason); end
	if kind == "unban" then return unban(request, room, target); end
	if seconds then return ban(request, room, kind, target, reason, seconds); end
	return kick(request, room, kind, target, reason);
end

-- A request with one target, as decide() gave it: kind, room, target, reason, whether prepared, ban.
function actions.act(request, kind, room_jid, target, reason, prepared, seconds)
	if prepared ~= true then
		local refusal, detail;
		room_jid, target, refusal, detail = prepare.request(kind, room_jid, target, prepared);
		if refusal then return refused(fixed[refusal], detail); end
	end
	local room = room_jid and get_room(room_jid);
	if room_jid and not room then return refused(fixed.room_not_found, room_jid); end
	-- one(), inline: the single-target paths keep their cost
	if kind == "everywhere" then return kick_everywhere(request, target, reason); end
	if kind == "unban" then return unban(request, room, target); end
	if seconds then return ban(request, room, kind, target, reason, seconds); end
	return kick(request, room, kind, target, reason);
end

-- Keep: every occupant whose account is not in keep leaves (a kick each); a dry run only says who.
local function keep(request, room, accounts, reason, dry_run, progress)
	local kept_account, leaving, kept = {}, {}, {};
	for _, account in ipairs(accounts) do kept_account[account] = true; end
	for _, occupant in occupants.each(room) do
		local list = kept_account[occupant.bare_jid] and kept or leaving;
		list[#list + 1] = occupant.nick:sub(#room.jid + 2);
	end
	table.sort(leaving);
	table.sort(kept);
	if dry_run then
		module:log("info", "Dry run of keep in %s on request from %s: would kick %d (%s) and keep %d (%s), %s",
			room.jid, request.ip, #leaving, logtext.quoted(table.concat(leaving, ", ")), #kept,
			logtext.quoted(table.concat(kept, ", ")), logtext.reason(reason));
		return 200, kicker.keep_body(room.jid, leaving, kept, true);
	end
	local kicked = {};
	for _, nick in ipairs(leaving) do
		local done, refusal = kick_from(request, room, "nickname", nick, reason);
		if not done then return refused(fixed.forbidden, refusal); end
		if done[1] then kicked[#kicked + 1] = nick; progress[#progress + 1] = "kicked " .. tostring(logtext.quoted(nick)); end
	end
	return 200, kicker.keep_body(room.jid, kicked, kept, false);
end

-- A request with several targets, or keep (decide() said "many"): every item prepared first (all
-- or nothing), then each target in order through its single form, a repeated one done once.
-- progress lists what was done, for the log line of a fault part-way; log(request, status, body,
-- message, nil, detail, place, true) logs a target's refusal without responding.
function actions.many(request, progress, log)
	local plan = assert(kicker.plan(request.body));
	local field, items, room_jid = plan.field, plan.items, plan.muc;
	if room_jid and not plan.prepared then
		room_jid = prepare.jid(room_jid);
		if not room_jid then return refused(fixed.invalid_muc); end
	end
	local targets = {};
	for i, item in ipairs(items) do
		local target, refusal = item.prepared, nil;
		if not target then target, refusal = prepare.target(field == "nickname" and "nickname" or "jid", item.given); end
		if not target then return refused(kicker.invalid_item(field, i - 1, refusal), logtext.quoted(item.given)); end
		targets[i] = target;
	end
	local room;
	if room_jid then
		room = jid.host(room_jid) == module.host and get_room(room_jid);
		if not room then return refused(fixed.room_not_found, room_jid); end
	end
	if plan.kind == "keep" then return keep(request, room, targets, plan.reason, plan.dry_run, progress); end
	local outcomes, first = {}, {};
	for i, item in ipairs(items) do
		local done = first[targets[i]];
		if not done then
			local status, body, message, detail, place = one(request, plan.kind, room, targets[i], plan.reason, plan.ban);
			if message then log(request, status, body, message, nil, detail, place, true); end
			done = { status = status; body = body };
			first[targets[i]] = done;
			progress[#progress + 1] = ("%s[%d] %s: %d"):format(field, i - 1, tostring(logtext.quoted(item.given)), status);
		end
		outcomes[i] = { given = item.given; status = done.status; body = done.body };
	end
	return 200, kicker.results_body(room and room.jid, field, outcomes);
end

return actions;
end
