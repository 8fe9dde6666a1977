-- The occupants a request names (find), and which rooms of this component an account is in
-- (rooms_of): an index kept from MUC events, so that "every room" costs as much as that
-- account's rooms, never a walk of all rooms or of storage.
--
-- The truth is the room itself: each event re-reads the occupant of one nickname
-- (room:get_occupant_by_nick) and moves that nickname to the account holding it now, or out of
-- the index. Every change to a room's occupants (join, leave, kick, nick change, a session
-- joining or leaving an occupant, a ban, a room cleared by destroy) saves the occupant and then
-- broadcasts its presence, so muc-broadcast-presence sees each final state; the nick change and
-- the session moving between nicknames fire no join event.
--
-- Rooms are kept by JID. mod_muc evicts the least recently used room past muc_room_cache_size,
-- saving it with its occupants, and restores it with them on its next stanza or
-- get_room_from_jid (muc-room-restored, which re-reads it). An evicted room cannot change (any
-- stanza to it restores it first), so its entries stay as they were; rooms_of restores the
-- evicted rooms of that one account, and no other. A destroyed room leaves the index; the
-- entries of evicted rooms are handed to the next instance on module:reload.

local next, pairs, ipairs = next, pairs, ipairs;
local jid_resource = require "util.jid".resource;

local muc = module:depends("muc");
local get_room_from_jid = muc.get_room_from_jid;

-- mod_muc exports no test of whether a room is live that neither bumps nor restores it. Its
-- live_rooms() is `return rooms:values()`: that upvalue is the util.cache of live rooms, whose
-- get() does neither. Should a Prosody hide it, live() asks live_rooms() (a walk) instead.
local live_cache;
for i = 1, 10 do
	local name, value = debug.getupvalue(muc.live_rooms, i);
	if name == "rooms" and type(value) == "table" and value.get then live_cache = value; break; end
end
local function live(room_jid) -- the live room of that JID, or nil
	if live_cache then return live_cache:get(room_jid); end
	for room in muc.live_rooms() do
		if room.jid == room_jid then return room; end
	end
end
if not live_cache then
	module:log("warn", "mod_muc's room cache not found: every room will walk the live rooms");
end

-- The occupant of room at occupant_jid, not to be written to: read where mod_muc keeps it (0.12
-- and 13), as room:get_occupant_by_nick() (and each_occupant(), for every one) copies it, with its
-- sessions, first.
local function at(room, occupant_jid)
	local held = room._occupants; -- every request reads it: no rawget, as no metamethod answers it
	if held then return held[occupant_jid]; end
	return room:get_occupant_by_nick(occupant_jid);
end

local holder_of = {}; -- room JID -> { occupant JID -> bare JID holding it }
local rooms_by_account = {}; -- bare JID -> { room JID -> number of its occupants there }

local function hold(room_jid, nick, account)
	local holders = holder_of[room_jid];
	local previous = holders and holders[nick];
	if previous == account then return; end
	if previous then
		holders[nick] = nil;
		if next(holders) == nil then holder_of[room_jid] = nil; end
		local rooms = rooms_by_account[previous];
		local count = rooms[room_jid] - 1;
		rooms[room_jid] = count > 0 and count or nil;
		if next(rooms) == nil then rooms_by_account[previous] = nil; end
	end
	if account then
		holders = holder_of[room_jid];
		if not holders then holders = {}; holder_of[room_jid] = holders; end
		holders[nick] = account;
		local rooms = rooms_by_account[account];
		if not rooms then rooms = {}; rooms_by_account[account] = rooms; end
		rooms[room_jid] = (rooms[room_jid] or 0) + 1;
	end
end

local function drop_room(room_jid)
	local holders = holder_of[room_jid];
	if not holders then return; end
	local nicks = {};
	for nick in pairs(holders) do nicks[#nicks + 1] = nick; end
	for _, nick in ipairs(nicks) do hold(room_jid, nick, nil); end
end

local function sync(room, nick)
	local occupant = at(room, nick);
	hold(room.jid, nick, occupant and occupant.bare_jid);
end

local function index_room(room) -- what the room holds now, and nothing else
	drop_room(room.jid);
	for nick in room:each_occupant() do sync(room, nick); end
end

local function on_occupant(event) sync(event.room, event.occupant.nick); end
-- First among handlers, so one that stops the event cannot hide a change. Every change to an
-- occupant is broadcast (0.12 and 13), so the join and leave events would only repeat the work.
module:hook("muc-broadcast-presence", on_occupant, 1000);
module:hook("muc-room-restored", function (event) index_room(event.room); end, 1000);
module:hook("muc-room-destroyed", function (event) drop_room(event.room.jid); end, 1000);

-- Enabled or reloaded on a running server: start from the rooms live now, and from the evicted
-- rooms the previous instance knew (module.saved_state is what its module.save returned).
for room in muc.live_rooms() do index_room(room); end
local saved = module.saved_state and module.saved_state.evicted_occupants;
for room_jid, holders in pairs(saved or {}) do
	if not live(room_jid) then
		for nick, account in pairs(holders) do hold(room_jid, nick, account); end
	end
end

local save_before = module.save;
function module.save()
	local state = save_before and save_before() or {};
	local evicted = {};
	for room_jid, holders in pairs(holder_of) do
		if not live(room_jid) then evicted[room_jid] = holders; end
	end
	state.evicted_occupants = evicted;
	return state;
end

local occupants = {};
local none = {}; -- the empty list, returned without making one; never written to

-- An array (not to be written to) of the rooms where bare_jid has at least one occupant, evicted
-- ones restored (each read from storage before anything is done, so a fault changes nothing); or
-- nil and what went wrong (a room Prosody could not restore). With more such rooms than mod_muc
-- keeps live at once, a restore evicts one of them again: ask mod_muc for each just before use.
function occupants.rooms_of(bare_jid)
	local held = rooms_by_account[bare_jid];
	if not held then return none; end
	local found, evicted = {}, {};
	for room_jid in pairs(held) do
		local room = live(room_jid);
		if room then found[#found + 1] = room; else evicted[#evicted + 1] = room_jid; end
	end
	if not evicted[1] then return found; end
	-- Restoring evicts the least recently used rooms: first make this account's rooms the most
	-- recent, so that no restore evicts one of them.
	for _, room in ipairs(found) do get_room_from_jid(room.jid); end
	for _, room_jid in ipairs(evicted) do
		module:log("debug", "Restoring evicted room %s, which holds %s", room_jid, bare_jid);
		local room = get_room_from_jid(room_jid); -- muc-room-restored re-reads its occupants
		if room == nil then -- no such room in storage, and no error reading it
			module:log("warn", "Evicted room %s, which held %s, is gone from storage", room_jid, bare_jid);
			drop_room(room_jid);
		elseif not room or live(room_jid) ~= room then -- mod_muc's stand-in for a room it cannot read
			return nil, ("room %s could not be restored from storage"):format(room_jid);
		elseif not (rooms_by_account[bare_jid] or none)[room_jid] then
			return nil, ("room %s came back from storage without %s"):format(room_jid, bare_jid);
		else
			found[#found + 1] = room;
		end
	end
	return found;
end

-- Every occupant of room as (occupant JID, occupant), not to be written to: read in place, as
-- at() reads one.
function occupants.each(room)
	local held = rawget(room, "_occupants");
	if type(held) == "table" then return next, held, nil; end
	return room:each_occupant();
end

-- The occupants of room that a request names (not to be written to): by nickname, by a session's
-- full JID, or every occupant of an account's bare JID.
function occupants.find(room, kind, target)
	if kind == "nickname" or jid_resource(target) then
		local occupant_jid = kind == "nickname" and room.jid .. "/" .. target or room:get_occupant_jid(target);
		local occupant = occupant_jid and at(room, occupant_jid);
		return occupant and { occupant } or none;
	end
	local found = {};
	for _, occupant in occupants.each(room) do
		if occupant.bare_jid == target then found[#found + 1] = occupant; end
	end
	return found;
end

return occupants;
