-- mod_bench_floor: the floor of bench/ir, Prosody's own cost of a request to POST /muc_kick on
-- a MUC component. Whatever a kick module spends above this is its own.
--
-- Refusals: a fixed response table, nothing else. Kicks (the 200 windows send X-Bench-Room and
-- X-Bench-Occupant to every component alike, so the requests stay the same size): the room
-- lookup and set_role, nothing else. The occupants view (GET /occupants?muc=): the room lookup
-- and the cheapest walk of what the view shows (each occupant where mod_muc keeps it, its
-- sessions, its affiliation and, where Prosody has them, its XEP-0421 id), with a fixed body.

local get_room_from_jid = module:depends("muc").get_room_from_jid;
module:depends("http");

local function handle(event)
	local headers = event.request.headers;
	local room_jid = headers.x_bench_room;
	if not room_jid then
		return { status_code = 200, headers = { content_type = "application/json" }, body = '{"floor":"refused"}' };
	end
	local room = get_room_from_jid(room_jid);
	if room and room:set_role(true, headers.x_bench_occupant, "none") then
		return { status_code = 200, headers = { content_type = "application/json" }, body = '{"floor":"kicked"}' };
	end
	-- Never in a good run: the client checks every status, so a broken window is not measured.
	return { status_code = 500, headers = { content_type = "application/json" }, body = '{"floor":"not kicked"}' };
end

local function view(event)
	local room = get_room_from_jid(event.request.url.query:match("^muc=(.*)$"));
	local affiliations = room._affiliations;
	for _, occupant in pairs(room._occupants) do -- in place: each_occupant copies each occupant
		for _ in pairs(occupant.sessions) do end
		local _ = affiliations[occupant.bare_jid];
		if room.get_occupant_id then room:get_occupant_id(occupant); end
	end
	return { status_code = 200, headers = { content_type = "application/json" }, body = '{"floor":"occupants"}' };
end

module:provides("http", {
	name = "muc_kick";
	cors = { enabled = false };
	route = { POST = handle; ["GET /occupants"] = view };
});
