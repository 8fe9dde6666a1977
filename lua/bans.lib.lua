-- The ban store of mod_http_muc_kick: the bans (XEP-0045 outcast) set through the HTTP API, the
-- affiliation each one replaced, and their timed lifts.
--
-- One record per ban in the component's storage (keyval store "http_muc_kick_ban", keyed by a
-- digest of room and account), held in memory too and read once at load: a ban, an unban or a
-- lift reads and writes that one record, however many bans are held. A record lives exactly as
-- long as the module's ban is the account's affiliation: a change by anyone else forgets it.
--   { room = "room@host", jid = "bare@jid", before = "member", ["until"] = <Unix time, or nil
--     until lifted>, reason = <text or nil>, by = <caller IP> }

local sha1 = require "util.hashes".sha1;
local datetime = require "util.datetime".datetime;
local new_heap = require "util.indexedbheap".create;
local now = require "util.time".now;
local jid_host = require "util.jid".host;
local xpcall = require "util.xpcall".xpcall;
local traceback = debug.traceback;
local logged_reason = module:require("logtext").reason;
local get_room = module:require("rooms").get; -- raises for a room Prosody cannot read

local store = module:open_store("http_muc_kick_ban");
local bans_counter = module:metric("counter", "bans", "", "Bans set through the HTTP API", {}):with_labels();
local unbans_counter = module:metric("counter", "unbans", "", "Bans lifted through the HTTP API", {}):with_labels();

local RETRY_SECONDS = 10; -- a lift that met a storage fault is tried again this often
local TICK_SECONDS = 0.02; -- lifts due together run this long at a time, then the server works

local held = {}; -- room JID -> { bare JID -> record }: the module's bans in force
local due = new_heap(); -- records whose lift (or retry) falls due, by when
local due_id = {}; -- record -> its id in due

local function ends(until_time) return until_time and "until " .. datetime(until_time) or "until lifted"; end

-- Storage: a fault raises (the request is a 500 and nothing changed, or the lift is retried).
local function key_of(record) return sha1(record.room .. "\0" .. record.jid, true); end
local function write(record, value)
	local done, err = store:set(key_of(record), value);
	if not done then error(("cannot write the ban of %s in %s: %s"):format(record.jid, record.room, err), 0); end
end
local function put(record) write(record, record); end
local function drop(record) write(record, nil); end

-- The lifts: one timer for the earliest; lifts due together run TICK_SECONDS at a time.
local timer, timer_at, pump;
local function arm()
	local at = due:peek();
	if not at or (timer_at and timer_at <= at) then return; end
	if timer then timer:stop(); end
	timer, timer_at = module:add_timer(math.max(0, at - now()), pump), at;
end
local function schedule(record, at)
	if due_id[record] then due:remove(due_id[record]); end
	due_id[record] = at and due:insert(record, at) or nil;
	arm();
end

local function hold(record)
	local bans_here = held[record.room] or {};
	held[record.room], bans_here[record.jid] = bans_here, record;
	schedule(record, record["until"]);
end
local function release(record)
	local bans_here = held[record.room];
	if bans_here and bans_here[record.jid] == record then bans_here[record.jid] = nil; end
	if bans_here and next(bans_here) == nil then held[record.room] = nil; end
	schedule(record, nil);
end
local function held_for(room_jid, bare_jid) local bans_here = held[room_jid]; return bans_here and bans_here[bare_jid]; end

-- The account's own affiliation. room:get_affiliation says outcast too when only its domain is
-- banned; each_affiliation would walk every outcast; the room's table (0.12 and 13) is one read.
local function own_affiliation(room, bare_jid)
	local affiliations = rawget(room, "_affiliations");
	if affiliations then return affiliations[bare_jid] or "none"; end
	local affiliation = room:get_affiliation(bare_jid) or "none";
	if affiliation ~= "outcast" or room:get_affiliation(jid_host(bare_jid)) ~= "outcast" then return affiliation; end
	for outcast in room:each_affiliation("outcast") do
		if outcast == bare_jid then return "outcast"; end
	end
	return "none";
end

-- The module's own affiliation changes, told apart from everyone else's in muc-set-affiliation.
local changing;
local function change(room, bare_jid, affiliation, reason)
	changing = room.jid .. "\0" .. bare_jid;
	local ok, done, _, condition = xpcall(room.set_affiliation, traceback, room, true, bare_jid, affiliation, reason);
	changing = nil;
	if not ok then error(done, 0); end
	return done, condition;
end

-- Forgets a record whose ban is no longer the module's; a failed deletion is retried.
local function forget(record, why)
	release(record);
	module:log("info", "The ban of %s in %s is no longer the module's (%s): its end restores nothing",
		record.jid, record.room, why);
	local done, err = pcall(drop, record);
	if not done then
		module:log("error", "%s; trying again in %d s", err, RETRY_SECONDS);
		record.forgotten = true;
		schedule(record, now() + RETRY_SECONDS);
	end
end

-- At its until: back to the affiliation from before, while the ban is still the module's.
local function lift(record)
	if record.forgotten then -- its deletion failed; a newer ban's record is not touched
		if not held_for(record.room, record.jid) then drop(record); end
		record.forgotten = nil;
		return;
	end
	if held_for(record.room, record.jid) ~= record then return; end
	local room = get_room(record.room); -- restoring it checks its bans (below)
	if held_for(record.room, record.jid) ~= record then return; end
	local outcome = "the room is gone";
	if room and own_affiliation(room, record.jid) ~= "outcast" then -- its change was missed once
		outcome = "its affiliation was changed meanwhile, left alone";
	elseif room and record.before == "outcast" then
		outcome = "it was banned before, and stays banned";
	elseif room then
		local done, condition = change(room, record.jid, record.before);
		outcome = done and "affiliation back to " .. record.before or "the room refused: " .. tostring(condition);
	end
	drop(record); -- a fault here is retried, and finds the affiliation changed
	release(record);
	module:log("info", "Timed lift: the ban of %s in %s ended (%s, %s, set on request from %s): %s",
		record.jid, record.room, ends(record["until"]), logged_reason(record.reason), record.by, outcome);
end

-- A lift cannot be split (Prosody saves the whole room in it), so the next one starts only if the
-- longest of this turn would still end within TICK_SECONDS.
function pump()
	local started, longest = now(), 0;
	repeat
		local at = due:peek();
		if not at or at > now() then timer, timer_at = nil, nil; arm(); return; end
		local _, record, id = due:pop();
		if due_id[record] == id then due_id[record] = nil; end
		local began = now();
		local done, err = xpcall(lift, traceback, record);
		if not done then
			module:log("error", "Timed lift of the ban of %s in %s failed, trying again in %d s: %s",
				record.jid, record.room, RETRY_SECONDS, err);
			schedule(record, now() + RETRY_SECONDS);
		end
		longest = math.max(longest, now() - began);
	until now() - started + longest > TICK_SECONDS
	timer_at = now();
	return 0; -- again on the server's next turn, after what it has waiting
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

-- The nicknames of the account's occupants it removed, or nil and the condition of a refusal.
-- The record is written before the affiliation changes: a storage fault raises, nothing changed.
function bans.ban(room, bare_jid, reason, until_time, ip)
	if is_last_owner(room, bare_jid) then return nil, "conflict"; end
	local current, earlier = own_affiliation(room, bare_jid), held_for(room.jid, bare_jid);
	if earlier and current ~= "outcast" then -- a change the module missed (e.g. the room was new)
		forget(earlier, "its affiliation is " .. current .. " now");
		earlier = nil;
	end
	local before = earlier and earlier.before or current;
	local record = { room = room.jid; jid = bare_jid; before = before; ["until"] = until_time; reason = reason; by = ip };
	put(record);
	local nicknames = {};
	for _, occupant in room:each_occupant() do
		if occupant.bare_jid == bare_jid then nicknames[#nicknames + 1] = occupant.nick:sub(#room.jid + 2); end
	end
	if earlier then release(earlier); end
	held[room.jid] = held[room.jid] or {};
	held[room.jid][bare_jid] = record; -- so that a temporary room destroyed by this ban takes it along
	local ok, done, condition = pcall(change, room, bare_jid, "outcast", reason);
	if not ok then -- another module raised: keep what the room holds now, then answer 500
		if own_affiliation(room, bare_jid) == "outcast" then hold(record); else release(record); pcall(drop, record); end
		error(done, 0);
	end
	if not done then
		release(record);
		if earlier then hold(earlier); end
		local undone, err = pcall(earlier and put or drop, earlier or record);
		if not undone then module:log("error", "The refused ban of %s in %s stays stored: %s", bare_jid, room.jid, err); end
		return nil, condition;
	end
	if held_for(room.jid, bare_jid) == record then hold(record); end
	module:log("info", "Banned %s from %s %s (was %s), %s, on request from %s",
		bare_jid, room.jid, ends(until_time), before, logged_reason(reason), ip);
	bans_counter:add(1);
	return nicknames;
end

-- true; or nil, "item-not-found" (not banned); or nil, "domain", the banned domain that keeps it
-- out; or nil, the condition of a refusal. The record goes before the affiliation changes.
function bans.unban(room, bare_jid, ip)
	if room:get_affiliation(bare_jid) ~= "outcast" then return nil, "item-not-found"; end
	local record = held_for(room.jid, bare_jid);
	local before = record and record.before ~= "outcast" and record.before or "none";
	local domain = jid_host(bare_jid); -- a ban of it keeps out every account of it without its own affiliation
	if before == "none" and room:get_affiliation(domain) == "outcast" then return nil, "domain", domain; end
	if record then drop(record); end
	local ok, done, condition = pcall(change, room, bare_jid, before);
	if not ok or not done then
		if record and own_affiliation(room, bare_jid) == "outcast" then
			local kept, err = pcall(put, record);
			if not kept then module:log("error", "The ban of %s in %s will be forgotten at restart: %s", bare_jid, room.jid, err); end
		elseif record then
			release(record);
		end
		if not ok then error(done, 0); end
		return nil, condition;
	end
	if record then release(record); end
	module:log("info", "Unbanned %s in %s (ban %s, %s): affiliation back to %s, on request from %s",
		bare_jid, room.jid, ends(record and record["until"]), logged_reason(record and record.reason), before, ip);
	unbans_counter:add(1);
	return true;
end

-- The module's ban in force of bare_jid in the room (its record, not to be written to), or nil.
function bans.held(room_jid, bare_jid) return held_for(room_jid, bare_jid); end

-- Anyone else's change of an account's affiliation ends the module's say over it.
module:hook("muc-set-affiliation", function (event)
	local record = held_for(event.room.jid, event.jid);
	if record and changing ~= event.room.jid .. "\0" .. event.jid then
		forget(record, ("its affiliation was set to %s by someone else"):format(event.affiliation));
	end
end);

-- So do changes made while the module was not loaded: checked when the room is live again.
local function check(room)
	for bare_jid, record in pairs(held[room.jid] or {}) do
		if own_affiliation(room, bare_jid) ~= "outcast" then
			forget(record, "its affiliation was changed while the module was not loaded");
		end
	end
end
module:hook("muc-room-restored", function (event) check(event.room); end);

-- A room that is destroyed (a temporary one when it empties) takes its bans with it; a room made
-- anew under the name of one destroyed while the module was not loaded holds none of them.
local function room_gone(event)
	local bans_here = held[event.room.jid]; -- nil for most rooms: nothing made for them
	if not bans_here then return; end
	for _, record in pairs(bans_here) do forget(record, "the room was destroyed"); end
end
module:hook("muc-room-destroyed", room_gone);
module:hook("muc-room-created", room_gone);

-- Load: carry over the bans stored one record per room (before one record per ban), then hold
-- every stored ban; a lift whose time passed runs at once.
local legacy = module:open_store("http_muc_kick_bans");
local function carry_over(node) -- a ban stored anew since an earlier try is not overwritten
	local records, err = legacy:get(node);
	if not records and err then error(err, 0); end
	for bare_jid, old in pairs(records or {}) do
		local record = { room = node .. "@" .. module.host; jid = bare_jid; before = old.before or "none";
			["until"] = old["until"]; reason = old.reason; by = old.by };
		local newer, read_err = store:get(key_of(record));
		if read_err then error(read_err, 0); end
		if not newer then put(record); end
	end
	local done, set_err = legacy:set(node, nil);
	if not done then error("carried over, but the old record stays: " .. tostring(set_err), 0); end
end
local function each_stored(source)
	local names = {};
	local listed, err = pcall(function () for name in source:users() do names[#names + 1] = name; end end);
	if not listed then module:log("error", "Stored bans not listed (none of them is held): %s", err); end
	return ipairs(names);
end
local function is_ban(record)
	return type(record) == "table" and type(record.room) == "string" and type(record.jid) == "string"
		and type(record.before) == "string" and (record["until"] == nil or type(record["until"]) == "number");
end
for _, node in each_stored(legacy) do
	local done, err = pcall(carry_over, node);
	if not done then module:log("error", "The bans of room %s@%s were not carried over: %s", node, module.host, err); end
end
for _, key in each_stored(store) do
	local record, err = store:get(key);
	if is_ban(record) then
		hold(record);
	else
		module:log("error", "A stored ban (%s) was not read: %s", key, err or "not a ban record");
	end
end
for room in module:depends("muc").live_rooms() do check(room); end

return bans;
