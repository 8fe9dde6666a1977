-- Prosody's stringprep (util.jid) for the JIDs the library's ASCII fast path was not sure of.
-- request(kind, muc, target, prepared) → the room JID (nil for every room) and the target,
-- prepared; or nil, nil, the name of the refusal (a key of the library's fixed refusals) and what
-- was asked. prepared == "target": the library prepared the room (on this component) already.
-- target is nil for a view of a room (kind "room"), which names no one.
-- jid(address) → the JID prepared, or nil; target(kind, target) → the nickname or account JID
-- prepared, or nil and the name of the refusal (for the items of a request with several).

local jid = require "util.jid";
local encodings = require "util.encodings";
local resourceprep, to_ascii = encodings.stringprep.resourceprep, encodings.idna.to_ascii;

-- A part that prepares to "" (U+00AD maps to nothing) is no JID, nor is a domain IDNA refuses
-- (Prosody 13.0.2 and later refuse it in preparation; 0.12 and 13.0.1 are held to the same rule).
local function prep(address)
	local node, host, resource = jid.prepped_split(address);
	if host == nil or host == "" or node == "" or resource == "" then return nil; end
	if host:sub(-1) == "." or not to_ascii(host) then return nil; end -- an empty label left, or IDNA's no
	return jid.join(node, host, resource);
end

local function target_of(kind, target)
	if kind == "nickname" then
		target = resourceprep(target);
		if not target or target == "" then return nil, "invalid_nickname"; end
		return target;
	end
	target = prep(target);
	if not target then return nil, "invalid_jid"; end
	if jid.host(target) == module.host then return nil, "jid_on_component"; end -- a room, not an account
	return target;
end

local function request(kind, muc, target, prepared)
	local room_prepared = prepared == "target";
	local room_jid = muc and (room_prepared and muc or prep(muc));
	if muc and not room_jid then return nil, nil, "invalid_muc"; end
	local refusal;
	if target ~= nil then -- nil: a view of a room names no one
		target, refusal = target_of(kind, target);
		if not target then return nil, nil, refusal; end
	end
	-- mod_muc would restore this component's persistent room of the same node for any host.
	if muc and not room_prepared and jid.host(room_jid) ~= module.host then return nil, nil, "room_not_found", room_jid; end
	return room_jid, target;
end

return { request = request; jid = prep; target = target_of };
