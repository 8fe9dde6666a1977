-- The ban store of mod_http_muc_kick: bans (XEP-0045 outcast) set through the HTTP API, the
-- affiliation each one replaced, and the timed lifts.
--
-- Kept in the component's storage (keyval store "http_muc_kick_bans", Prosody's default
-- "internal" driver writes one file per room under data_path), so bans outlive module:reload
-- and a restart; at load every timed ban is scheduled again, and one already over is lifted
-- at once. One record per room, keyed by the room's node:
--   { ["bare@jid"] = { before = "member", ["until"] = <Unix time, or nil until lifted>,
--                      reason = <text or nil>, by = <caller IP> } }

local jid_split = require "util.jid".split;
local datetime = require "util.datetime".datetime;
local xpcall = require "util.xpcall".xpcall;
local traceback = debug.traceback;
local logged_reason = module:require("logtext").reason;

local get_room_from_jid = module:depends("muc").get_room_from_jid;
local store = module:open_store("http_muc_kick_bans");
local bans_counter = module:metric("counter", "bans", "", "Bans set through the HTTP API", {}):with_labels();
local unbans_counter = module:metric("counter", "unbans", "", "Bans lifted through the HTTP API", {}):with_labels();

local lifts = {}; -- pending timed lifts, by "<bare jid> <room jid>"
local stored = {}; -- room JID -> true where the store holds records, so an empty room costs nothing

local function ends(until_time) return until_time and "until " .. datetime(until_time) or "until lifted"; end

-- The room's records; a storage fault raises (the caller answers 500, nothing changed).
local function load_records(room_jid)
	local records, err = store:get((jid_split(room_jid)));
	if not records and err then error(("cannot read the bans of %s: %s"):format(room_jid, err)); end
	return records or {};
end

local function save_records(room_jid, records)
	stored[room_jid] = next(records) ~= nil or nil;
	local saved, err = store:set((jid_split(room_jid)), next(records) and records or nil);
	if not saved then
		module:log("error", "Could not store the bans of %s (a restart will forget them): %s", room_jid, err);
	end
end

local lift;
local function schedule(room_jid, bare_jid, until_time)
	local key = bare_jid .. " " .. room_jid;
	if lifts[key] then lifts[key]:stop(); end
	lifts[key] = until_time and module:add_timer(math.max(0, until_time - os.time()), function ()
		lifts[key] = nil;
		local done, err = xpcall(lift, traceback, room_jid, bare_jid, until_time);
		if not done then module:log("error", "Timed lift of the ban of %s in %s failed: %s", bare_jid, room_jid, err); end
	end) or nil; -- the timer function returns nothing, so it runs once
end

-- At until_time: back to the affiliation from before, if nobody changed it meanwhile.
function lift(room_jid, bare_jid, until_time)
	local records = load_records(room_jid);
	local record = records[bare_jid];
	if not record or record["until"] ~= until_time then return; end -- unbanned or banned again
	records[bare_jid] = nil;
	save_records(room_jid, records);
	local room = get_room_from_jid(room_jid);
	local outcome = "the room is gone";
	if room and room:get_affiliation(bare_jid) ~= "outcast" then
		outcome = "its affiliation was changed meanwhile, left alone";
	elseif room then
		local done, _, condition = room:set_affiliation(true, bare_jid, record.before);
		outcome = done and "affiliation back to " .. record.before or "the room refused: " .. tostring(condition);
	end
	module:log("info", "Timed lift: the ban of %s in %s ended (%s, %s, set on request from %s): %s",
		bare_jid, room_jid, ends(until_time), logged_reason(record.reason), record.by, outcome);
end

-- Prosody refuses a server (actor true) nothing; its own rule for owners: a room keeps one.
local function is_last_owner(room, bare_jid)
	if room:get_affiliation(bare_jid) ~= "owner" then return false; end
	for owner in room:each_affiliation("owner") do
		if owner ~= bare_jid then return false; end
	end
	return true;
end

local bans = {};

-- The nicknames of the account's occupants it removed, or nil, the condition of a refusal.
function bans.ban(room, bare_jid, reason, until_time, ip)
	local records = load_records(room.jid);
	if is_last_owner(room, bare_jid) then return nil, "conflict"; end
	local current = room:get_affiliation(bare_jid) or "none";
	local earlier = records[bare_jid];
	local before = current ~= "outcast" and current or earlier and earlier.before or "none";
	local nicknames = {};
	for _, occupant in room:each_occupant() do
		if occupant.bare_jid == bare_jid then nicknames[#nicknames + 1] = occupant.nick:sub(#room.jid + 2); end
	end
	local done, _, condition = room:set_affiliation(true, bare_jid, "outcast", reason);
	if not done then return nil, condition; end
	if get_room_from_jid(room.jid) == room then -- a temporary room is gone with its last occupant
		records[bare_jid] = { before = before; ["until"] = until_time; reason = reason; by = ip };
		save_records(room.jid, records);
		schedule(room.jid, bare_jid, until_time);
	end
	module:log("info", "Banned %s from %s %s (was %s), %s, on request from %s",
		bare_jid, room.jid, ends(until_time), before, logged_reason(reason), ip);
	bans_counter:add(1);
	return nicknames;
end

-- true, or nil, "item-not-found" (not banned), or nil, the condition of a refusal.
function bans.unban(room, bare_jid, ip)
	if room:get_affiliation(bare_jid) ~= "outcast" then return nil, "item-not-found"; end
	local records = load_records(room.jid);
	local record = records[bare_jid] or {};
	local before = record.before or "none";
	local done, _, condition = room:set_affiliation(true, bare_jid, before);
	if not done then return nil, condition; end
	records[bare_jid] = nil;
	save_records(room.jid, records);
	schedule(room.jid, bare_jid, nil);
	module:log("info", "Unbanned %s in %s (ban %s, %s): affiliation back to %s, on request from %s",
		bare_jid, room.jid, ends(record["until"]), logged_reason(record.reason), before, ip);
	unbans_counter:add(1);
	return true;
end

-- A room that is destroyed (a temporary one when it empties) takes its bans with it.
module:hook("muc-room-destroyed", function (event)
	if stored[event.room.jid] then save_records(event.room.jid, {}); end
end);

-- Catch-up at load: every timed ban is scheduled again; one whose time passed is lifted now.
for node in store:users() do
	local room_jid = node .. "@" .. module.host;
	local done, records = pcall(load_records, room_jid);
	if not done then module:log("error", "Timed bans not scheduled: %s", records); end
	for bare_jid, record in pairs(done and records or {}) do
		stored[room_jid] = true;
		if record["until"] then schedule(room_jid, bare_jid, record["until"]); end
	end
end

return bans;
