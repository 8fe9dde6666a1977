-- The component's rooms as mod_muc hands them out, with a storage fault made an error. When
-- Prosody cannot read a room from storage, mod_muc hands out a stand-in (locked, every join
-- refused, no occupants, no affiliations), on which a kick would find nobody and a ban would
-- change nothing that lasts: a request for it must be a 500, never a 404 or a 200.

local jid_split = require "util.jid".split;
local getpath = require "util.datamanager".getpath;

local get_room_from_jid = module:depends("muc").get_room_from_jid;

-- A room whose file name would be too long (NAME_MAX, 255 bytes) for Prosody's internal storage:
-- no such room was ever stored, so its read fails for a reason that is no fault.
local function unstorable(room_jid)
	local node, host = jid_split(room_jid);
	return #getpath(node, host, "config", "dat"):match("[^/]*$") > 255;
end

local rooms = {};

-- The room, or nil when there is none; raises when Prosody could not read it from storage.
function rooms.get(room_jid)
	local room = get_room_from_jid(room_jid);
	-- The stand-in's presence handlers are its own fields; a real room's come from its metatable.
	if room and rawget(room, "handle_first_presence") then
		if unstorable(room_jid) then return nil; end
		error(("Prosody could not read the room %s from storage"):format(room_jid), 0);
	end
	return room or nil;
end

return rooms;
