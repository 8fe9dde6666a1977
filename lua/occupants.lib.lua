-- The occupants a request names (find), and which live rooms of this component an account is in
-- (rooms_of): an index kept from MUC events, so that "every room" costs as much as that
-- account's rooms, never a walk of all rooms.
--
-- The truth is the room itself: each event re-reads the occupant of one nickname
-- (room:get_occupant_by_nick) and moves that nickname to the account holding it now, or out of
-- the index. Every change to a room's occupants (join, leave, kick, nick change, a session
-- joining or leaving an occupant, a ban, a room cleared by destroy) saves the occupant and then
-- broadcasts its presence, so muc-broadcast-presence sees each final state; the nick change and
-- the session moving between nicknames fire no join event. Restored rooms come back with their
-- occupants (muc-room-restored); evicted ones are not live and are left out by rooms_of.

local setmetatable, next, pairs = setmetatable, next, pairs;
local jid_resource = require "util.jid".resource;

local muc = module:depends("muc");

-- mod_muc exports no test of whether a room is live that neither bumps nor restores it. Its
-- live_rooms() is `return rooms:values()`: that upvalue is the util.cache of live rooms, whose
-- get() does neither. Should a Prosody hide it, rooms_of asks live_rooms() (a walk) instead.
local live_cache;
for i = 1, 10 do
	local name, value = debug.getupvalue(muc.live_rooms, i);
	if name == "rooms" and type(value) == "table" and value.get then live_cache = value; break; end
end
local function is_live(room)
	if live_cache then return live_cache:get(room.jid) == room; end
	for live in muc.live_rooms() do
		if live == room then return true; end
	end
	return false;
end
if not live_cache then
	module:log("warn", "mod_muc's room cache not found: every room will walk the live rooms");
end

-- Weak keys: a room that leaves the cache (evicted, destroyed) leaves the index with it.
local weak_keys = { __mode = "k" };
local holder_of = setmetatable({}, weak_keys); -- room -> { occupant JID -> bare JID holding it }
local rooms_by_account = {}; -- bare JID -> { room -> number of its occupants there }

local function sync(room, nick)
	local occupant = room:get_occupant_by_nick(nick);
	local account = occupant and occupant.bare_jid;
	local holders = holder_of[room];
	local previous = holders and holders[nick];
	if previous == account then return; end
	if previous then
		holders[nick] = nil;
		local rooms = rooms_by_account[previous];
		local count = rooms[room] - 1;
		rooms[room] = count > 0 and count or nil;
		if next(rooms) == nil then rooms_by_account[previous] = nil; end
	end
	if account then
		if not holders then holders = {}; holder_of[room] = holders; end
		holders[nick] = account;
		local rooms = rooms_by_account[account];
		if not rooms then rooms = setmetatable({}, weak_keys); rooms_by_account[account] = rooms; end
		rooms[room] = (rooms[room] or 0) + 1;
	end
end

local function index_room(room)
	for nick in room:each_occupant() do sync(room, nick); end
end

local function on_occupant(event) sync(event.room, event.occupant.nick); end
-- First among handlers, so one that stops the event cannot hide a change. Every change to an
-- occupant is broadcast (0.12 and 13), so the join and leave events would only repeat the work.
module:hook("muc-broadcast-presence", on_occupant, 1000);
module:hook("muc-room-restored", function (event) index_room(event.room); end, 1000);

-- Enabled or reloaded on a running server: start from the rooms live now.
for room in muc.live_rooms() do index_room(room); end

local occupants = {};
local none = {}; -- the empty list, returned without making one; never written to

-- A new array of the live rooms where bare_jid has at least one occupant (safe to iterate while
-- kicking changes the index).
function occupants.rooms_of(bare_jid)
	local found, rooms = {}, rooms_by_account[bare_jid] or {};
	for room in pairs(rooms) do
		if is_live(room) then found[#found + 1] = room; end
	end
	if next(rooms) == nil then rooms_by_account[bare_jid] = nil; end -- its rooms were all collected
	return found;
end

-- The occupants of room that a request names: by nickname, by a session's full JID, or every
-- occupant of an account's bare JID.
function occupants.find(room, kind, target)
	if kind == "nickname" or jid_resource(target) then
		local occupant = room:get_occupant_by_nick(kind == "nickname" and room.jid .. "/" .. target
			or room:get_occupant_jid(target));
		return occupant and { occupant } or none;
	end
	local found = {};
	for _, occupant in room:each_occupant() do
		if occupant.bare_jid == target then found[#found + 1] = occupant; end
	end
	return found;
end

return occupants;
