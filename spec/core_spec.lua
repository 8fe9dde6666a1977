-- The compiled library, loaded by a real Lua exactly as Prosody's Lua loads it.
-- Run from the repository root after `make build`: busted --lua=lua5.4 spec
package.cpath = "target/release/lib?.so;" .. package.cpath;
local core = require "http_muc_kick_core";

local SECRET = "Bearer s3cret";

local function new_kicker(overrides)
	local settings = { host = "muc.localhost", authorization = { SECRET, "Bearer old" } };
	for k, v in pairs(overrides or {}) do settings[k] = v; end
	return core.new(settings);
end

describe("new()", function ()
	it("returns the bodies of the refusals that never change, by status", function ()
		local _, fixed = new_kicker({ max_body_size = 100 });
		assert.same({ 401, 405, 411, 413, 429 }, (function ()
			local statuses = {};
			for status in pairs(fixed.bodies) do statuses[#statuses + 1] = status; end
			table.sort(statuses);
			return statuses;
		end)());
		assert.equal('{"error":"Too many failed authorizations from this address; retry later","condition":"too-many-requests"}',
			fixed.bodies[429]);
		assert.equal('{"error":"Request body is larger than 100 bytes","condition":"payload-too-large"}', fixed.bodies[413]);
	end);

	it("returns a kicker and the fixed responses", function ()
		local kicker, fixed = new_kicker();
		assert.equal("function", type(kicker.decide));
		assert.equal("function", type(kicker.kicked_body));
		assert.equal('Bearer realm="muc.localhost"', fixed.www_authenticate);
		for name, status in pairs({ room_not_found = 404, occupant_not_found = 404, not_banned = 404,
			forbidden = 403, internal_error = 500, invalid_muc = 400, invalid_jid = 400, invalid_nickname = 400,
			domain_occupant = 409, jid_on_component = 400 }) do
			assert.equal(status, fixed[name].status, name);
			assert.matches('^{"error":".+","condition":"[a-z-]+"}$', fixed[name].body);
			assert.equal("string", type(fixed[name].message));
		end
	end);

	it("accepts a single string or a list of strings", function ()
		assert.truthy((new_kicker({ authorization = SECRET })));
		assert.truthy((new_kicker({ authorization = { "a", "b", "c" } })));
	end);

	for label, value in pairs({
		missing = false, empty = "", ["empty list"] = {}, ["list with an empty string"] = { "a", "" },
		number = 42, ["list with a number"] = { "a", 1 }, ["table with keys"] = { x = "a" }, boolean = true,
	}) do
		it("refuses an authorization option that is " .. label .. ", naming the option", function ()
			local kicker, err = core.new({ host = "h", authorization = value or nil });
			assert.is_nil(kicker);
			assert.matches("http_muc_kick_authorization_header", err, 1, true);
		end);
	end

	it("says a missing authorization option is not set, and a wrong one what it must be", function ()
		local _, missing = core.new({ host = "h" });
		assert.matches("http_muc_kick_authorization_header is not set", missing, 1, true);
		local _, wrong = core.new({ host = "h", authorization = 42 });
		assert.matches("http_muc_kick_authorization_header must be a string or a list of strings", wrong, 1, true);
	end);

	it("refuses numeric options that are not whole numbers of at least 0", function ()
		for _, bad in ipairs({ -1, 1.5, "lots", {}, 0/0, math.huge }) do
			local kicker, err = new_kicker({ max_body_size = bad });
			assert.is_nil(kicker);
			assert.matches("http_muc_kick_max_body_size", err, 1, true);
			kicker, err = new_kicker({ max_auth_failures = bad });
			assert.is_nil(kicker);
			assert.matches("http_muc_kick_max_auth_failures", err, 1, true);
		end
		assert.truthy((new_kicker({ max_body_size = "100", max_auth_failures = 0 })));
	end);
end);

-- decide() answers "refuse", status, body, message, retry_after or kind, room, target, reason, prepared.
local function status_of(kicker, ...)
	local outcome, status = kicker.decide(...);
	return outcome == "refuse" and status or 200;
end

describe("numeric options", function ()
	local function body_of(size)
		local body = '{"muc":"r@muc.localhost","nickname":"B","x":"';
		return body .. ("x"):rep(size - #body - 2) .. '"}';
	end

	it("take a whole-number float as that number", function ()
		local kicker = assert(new_kicker({ max_body_size = 1024.0, max_auth_failures = 1e1 }));
		assert.equal(200, status_of(kicker, "POST", "192.0.2.9", SECRET, nil, body_of(1024)));
		assert.equal(413, status_of(kicker, "POST", "192.0.2.9", SECRET, nil, body_of(1025)));
		for _ = 1, 10 do
			assert.equal(401, status_of(kicker, "POST", "192.0.2.9", "wrong", nil, ""));
		end
		assert.equal(429, status_of(kicker, "POST", "192.0.2.9", SECRET, nil, body_of(100)));
	end);

	it("take an integer as that number", function ()
		local kicker = assert(new_kicker({ max_body_size = math.tointeger and math.tointeger(64) or 64 }));
		assert.equal(200, status_of(kicker, "POST", "192.0.2.9", SECRET, nil, body_of(64)));
		assert.equal(413, status_of(kicker, "POST", "192.0.2.9", SECRET, nil, body_of(65)));
	end);
end);

-- The body of a refusal that never changes: decide() returns none, new() built it.
local function fixed_body(status, overrides)
	local _, fixed = new_kicker(overrides);
	return fixed.bodies[status];
end

describe("kicker.decide()", function ()
	local VALID = '{"muc":"r@muc.localhost","nickname":"B"}';

	it("returns the kind of target, the room, the target, the reason and whether they are prepared", function ()
		local kicker = new_kicker();
		assert.same({ "nickname", "room@muc.localhost", "Bob", "bye", true },
			{ kicker.decide("POST", "192.0.2.1", SECRET, nil, '{"muc":"ROOM@muc.localhost","nickname":"Bob","reason":"bye"}') });
		assert.same({ "jid", "r@muc.localhost", "bob@localhost/phone", nil, true },
			{ kicker.decide("POST", "192.0.2.1", SECRET, nil, '{"muc":"r@muc.localhost","jid":"BOB@localhost/phone"}') });
	end);

	it("returns a ban as true (until lifted) or whole seconds, after the prepared flag", function ()
		local kicker = new_kicker();
		assert.same({ "nickname", "r@muc.localhost", "Bob", nil, true, true },
			{ kicker.decide("POST", "192.0.2.1", SECRET, nil, '{"muc":"r@muc.localhost","nickname":"Bob","ban":true}') });
		local _, _, _, _, _, seconds = kicker.decide("POST", "192.0.2.1", SECRET, nil,
			'{"muc":"r@muc.localhost","jid":"bob@localhost","ban":60}');
		assert.equal(60, seconds);
		assert.equal("integer", math.type and math.type(seconds) or "integer");
	end);

	it("returns an unban and a kick from every room as their own kinds", function ()
		local kicker = new_kicker();
		assert.same({ "unban", "r@muc.localhost", "bob@localhost", nil, true, nil },
			{ kicker.decide("POST", "192.0.2.1", SECRET, nil, '{"muc":"r@muc.localhost","jid":"Bob@localhost","unban":true}') });
		local everywhere = { kicker.decide("POST", "192.0.2.1", SECRET, nil, '{"jid":"bob@localhost/phone","reason":"x"}') };
		assert.same({ "everywhere", nil, "bob@localhost/phone", "x", true, nil }, everywhere);
		assert.equal(6, select("#", kicker.decide("POST", "192.0.2.1", SECRET, nil, '{"jid":"bob@localhost"}')));
	end);

	it("leaves to Prosody, as given, what the ASCII fast path is unsure of", function ()
		local kicker = new_kicker();
		assert.same({ "nickname", "room@muc.localhost", "Böb", nil, "target" },
			{ kicker.decide("POST", "192.0.2.1", SECRET, nil, '{"muc":"ROOM@muc.localhost","nickname":"B\\u00f6b"}') });
		assert.same({ "nickname", "RÖÖM@muc.localhost", "Bob", nil, false },
			{ kicker.decide("POST", "192.0.2.1", SECRET, nil, '{"muc":"R\\u00d6\\u00d6M@muc.localhost","nickname":"Bob"}') });
	end);

	it("returns status, body, message on refusal", function ()
		assert.same({ "refuse", 400, '{"error":"Body must be a JSON object, not an array","condition":"bad-request"}',
			"Body must be a JSON object, not an array" }, { new_kicker().decide("POST", "192.0.2.1", SECRET, nil, "[]") });
	end);

	it("answers 404 for a room certain to be on another host, naming it in the message only", function ()
		local outcome, status, body, message = new_kicker().decide("POST", "192.0.2.1", SECRET, nil,
			'{"muc":"r@Other.Host","nickname":"B"}');
		assert.same({ "refuse", 404 }, { outcome, status });
		assert.equal('{"error":"No such room on this component","condition":"item-not-found"}', body);
		assert.equal("No such room on this component: r@other.host", message);
	end);

	it("answers 405 for any method but POST, before looking at anything else", function ()
		local kicker = new_kicker({ max_auth_failures = 1 });
		for _, method in ipairs({ "GET", "HEAD", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS" }) do
			local outcome, status, body, message = kicker.decide(method, "192.0.2.1", "wrong", nil, "");
			assert.same({ "refuse", 405, nil, "Only POST is allowed on this endpoint" }, { outcome, status, body, message });
		end
		assert.equal('{"error":"Only POST is allowed on this endpoint","condition":"method-not-allowed"}', fixed_body(405));
		assert.equal(200, status_of(kicker, "POST", "192.0.2.1", SECRET, nil, VALID));
	end);

	it("treats a nil Authorization as missing (401)", function ()
		local outcome, status, body, message = new_kicker().decide("POST", "192.0.2.1", nil, nil, "{}");
		assert.same({ "refuse", 401, nil, "Authorization failed" }, { outcome, status, body, message });
		assert.equal('{"error":"Authorization failed","condition":"not-authorized"}', fixed_body(401));
	end);

	it("compares binary Authorization values byte for byte", function ()
		local kicker = new_kicker({ authorization = "Bearer \255\254x" });
		assert.equal(401, status_of(kicker, "POST", "ip", "Bearer \255", nil, "{}"));
		assert.equal(400, status_of(kicker, "POST", "ip", "Bearer \255\254x", nil, "{}"));
	end);

	it("refuses binary bodies (invalid UTF-8, NUL bytes) with 400", function ()
		local kicker = new_kicker();
		for _, body in ipairs({ "\0", '{"muc":"r@muc.localhost","nickname":"\255"}', VALID .. "\0" }) do
			assert.equal(400, status_of(kicker, "POST", "ip", SECRET, nil, body));
		end
	end);

	it("handles bodies far larger than the limit without reading them", function ()
		local outcome, status, body, message = new_kicker({ max_body_size = 16384 }).decide("POST", "ip", SECRET, nil,
			("x"):rep(10 * 1024 * 1024));
		assert.same({ "refuse", 413, nil, "Request body is larger than 16384 bytes" }, { outcome, status, body, message });
		assert.equal('{"error":"Request body is larger than 16384 bytes","condition":"payload-too-large"}',
			fixed_body(413, { max_body_size = 16384 }));
	end);

	it("passes large strings through intact", function ()
		local reason = ("é"):rep(100000);
		local outcome, _, _, got = new_kicker({ max_body_size = 1000000 }).decide("POST", "ip", SECRET, nil,
			'{"muc":"r@muc.localhost","nickname":"B","reason":"' .. reason .. '"}');
		assert.equal("nickname", outcome);
		assert.equal(reason, got);
	end);

	it("returns 429 with Retry-After seconds once an IP used up its failures", function ()
		local kicker = new_kicker({ max_auth_failures = 2 });
		assert.equal(401, status_of(kicker, "POST", "198.51.100.7", "wrong", nil, ""));
		assert.equal(401, status_of(kicker, "POST", "198.51.100.7", "wrong", nil, ""));
		local outcome, status, _, _, retry_after = kicker.decide("POST", "198.51.100.7", SECRET, nil, VALID);
		assert.same({ "refuse", 429 }, { outcome, status });
		assert.is_true(retry_after >= 1 and retry_after <= 60 and retry_after % 1 == 0);
		assert.equal(200, status_of(kicker, "POST", "198.51.100.8", SECRET, nil, VALID));
	end);

	it("answers 411 for a body sent with a transfer coding, after authorization", function ()
		local kicker = new_kicker();
		local outcome, status, body = kicker.decide("POST", "192.0.2.1", SECRET, "chunked", "");
		assert.same({ "refuse", 411, nil }, { outcome, status, body });
		assert.matches('"condition":"length-required"', fixed_body(411), 1, true);
		assert.equal(401, status_of(kicker, "POST", "192.0.2.1", "wrong", "chunked", ""));
	end);

	it("counts an argument that is not a string as absent, without raising", function ()
		local kicker = new_kicker();
		assert.equal(400, status_of(kicker, "POST", "ip", SECRET, nil, nil));
		assert.equal(400, status_of(kicker, "POST", "ip", SECRET, {}, {}));
		assert.equal(401, status_of(kicker, "POST", "ip", 42, nil, VALID));
		assert.equal(405, status_of(kicker));
	end);

	it("keeps the strings of one answer intact while the next is made", function ()
		local kicker = new_kicker();
		local first = { kicker.decide("POST", "ip", SECRET, nil, '{"muc":"A@muc.localhost","nickname":"B","reason":"\\u0041"}') };
		local second = { kicker.decide("POST", "ip", SECRET, nil, '{"muc":"C@muc.localhost","nickname":"D","reason":"\\u0045"}') };
		assert.same({ "nickname", "a@muc.localhost", "B", "A", true }, first);
		assert.same({ "nickname", "c@muc.localhost", "D", "E", true }, second);
	end);
end);

describe("kicker.kicked_body()", function ()
	it("builds the 200 body with JSON escaping", function ()
		local kicker = new_kicker();
		assert.equal('{"muc":"r@m","kicked":["Bob","a\\"b","Ｂ"]}', kicker.kicked_body("r@m", "Bob", 'a"b', "Ｂ"));
		assert.equal('{"muc":"r@m","kicked":[]}', kicker.kicked_body("r@m"));
	end);

	it("builds the bodies of a ban, an unban and a kick from every room", function ()
		local kicker = new_kicker();
		assert.equal('{"muc":"r@m","kicked":["Bob"],"banned":"bob@h","until":"2025-11-25T03:04:05Z"}',
			kicker.banned_body("r@m", "bob@h", 1764039845, "Bob"));
		assert.equal('{"muc":"r@m","kicked":[],"banned":"bob@h","until":null}', kicker.banned_body("r@m", "bob@h", nil));
		assert.equal('{"muc":"r@m","unbanned":"bob@h"}', kicker.unbanned_body("r@m", "bob@h"));
		assert.equal('{"rooms":[{"muc":"a@m","kicked":["B"]},{"muc":"b@m","kicked":["B","C"]}]}',
			kicker.rooms_body({ { muc = "a@m", kicked = { "B" } }, { muc = "b@m", kicked = { "B", "C" } } }));
	end);

	it("builds the 403 of a refused affiliation change with Prosody's condition", function ()
		local refusal = new_kicker().room_refused("not-acceptable");
		assert.equal(403, refusal.status);
		assert.equal('{"error":"The room refused the change: not-acceptable","condition":"forbidden"}', refusal.body);
		assert.equal("The room refused the change: not-acceptable", refusal.message);
	end);

	it("builds the 409 of an unban that a ban of the whole domain would defeat, naming the domain", function ()
		local refusal = new_kicker().domain_banned("example.org");
		assert.equal(409, refusal.status);
		assert.equal('{"error":"The whole domain example.org is banned in the room, so the account would stay banned: '
			.. 'lift that ban instead","condition":"conflict"}', refusal.body);
		assert.equal("The whole domain example.org is banned in the room, so the account would stay banned: "
			.. "lift that ban instead", refusal.message);
	end);

	it("replaces bytes that are not UTF-8, so the JSON stays valid", function ()
		assert.equal('{"muc":"r@m","kicked":["\239\191\189"]}', new_kicker().kicked_body("r@m", "\255"));
	end);
end);

describe("several targets and keep", function ()
	local function decide(kicker, body) return { kicker.decide("POST", "192.0.2.1", SECRET, nil, body) }; end

	it("decide() answers \"many\" and five nils for each shape, a 400 for an invalid item", function ()
		local kicker = new_kicker();
		for _, body in ipairs({
			'{"muc":"r@muc.localhost","nickname":["Bob"]}',
			'{"muc":"r@muc.localhost","jid":["bob@localhost"],"ban":60}',
			'{"muc":"r@muc.localhost","jid":["bob@localhost"],"unban":true}',
			'{"jid":["bob@localhost","carol@localhost"]}',
			'{"muc":"r@muc.localhost","keep":[],"dry_run":true}',
		}) do
			local answer = decide(kicker, body);
			assert.same({ "many" }, answer, body);
			assert.equal(6, select("#", kicker.decide("POST", "192.0.2.1", SECRET, nil, body)));
		end
		local outcome, status, body = kicker.decide("POST", "192.0.2.1", SECRET, nil, '{"muc":"r@muc.localhost","jid":["a@h",5]}');
		assert.same({ "refuse", 400 }, { outcome, status });
		assert.equal('{"error":"Field `jid[1]` must be a string, not a number","condition":"bad-request"}', body);
	end);

	it("plan() gives what to do: kind, room, field, items as given and prepared or false, reason, ban", function ()
		local kicker = new_kicker();
		assert.same({ kind = "nickname"; field = "nickname"; muc = "r@muc.localhost"; prepared = true;
			items = { { given = "Bob"; prepared = "Bob" }, { given = "\239\188\162ob"; prepared = false } };
			reason = "x"; ban = 60; dry_run = false },
			kicker.plan('{"muc":"R@muc.localhost","nickname":["Bob","\239\188\162ob"],"reason":"x","ban":60}'));
		assert.same({ kind = "unban"; field = "jid"; muc = "r@muc.localhost"; prepared = true;
			items = { { given = "BOB@localhost"; prepared = "bob@localhost" } }; dry_run = false },
			kicker.plan('{"muc":"r@muc.localhost","jid":["BOB@localhost"],"unban":true}'));
		assert.same({ kind = "everywhere"; field = "jid"; prepared = true;
			items = { { given = "a@h"; prepared = "a@h" } }; dry_run = false },
			kicker.plan('{"jid":["a@h"]}'));
		assert.same({ kind = "keep"; field = "keep"; muc = "r@muc.localhost"; prepared = true; items = {}; dry_run = true },
			kicker.plan('{"muc":"r@muc.localhost","keep":[],"dry_run":true}'));
		assert.same({ kind = "jid"; field = "jid"; muc = "r\195\182@muc.localhost"; prepared = false;
			items = { { given = "a@h"; prepared = "a@h" } }; ban = true; dry_run = false },
			kicker.plan('{"muc":"r\195\182@muc.localhost","jid":["a@h"],"ban":true}'));
	end);

	it("plan() answers nil and why for a body with one target or an invalid one", function ()
		local kicker = new_kicker();
		local plan, message = kicker.plan('{"muc":"r@muc.localhost","nickname":"Bob"}');
		assert.is_nil(plan);
		assert.equal("not a request with several targets or keep", message);
		plan, message = kicker.plan("{");
		assert.is_nil(plan);
		assert.matches("^Body is not valid JSON", message);
	end);

	it("invalid_item() builds the 400 of an item Prosody's preparation refused, naming its index", function ()
		local refusal = new_kicker().invalid_item("nickname", 3, "invalid_nickname");
		assert.equal(400, refusal.status);
		assert.equal("Field `nickname[3]` is not a valid nickname: Prosody's nickname preparation (resourceprep) refused it",
			refusal.message);
		assert.equal('{"error":"' .. refusal.message .. '","condition":"bad-request"}', refusal.body);
		assert.equal("Field `keep[0]` is not a valid JID: it is on this component (a room or an occupant), not an account",
			new_kicker().invalid_item("keep", 0, "jid_on_component").message);
		assert.equal("Field `jid[1]` is not a valid JID: Prosody's JID preparation (RFC 7622) refused it",
			new_kicker().invalid_item("jid", 1, "invalid_jid").message);
	end);

	it("results_body() turns each single form's answer into a result, keep_body() lists both sides", function ()
		local kicker = new_kicker();
		assert.equal('{"muc":"r@m","results":[{"nickname":"Bob","kicked":["Bob"]},'
			.. '{"nickname":"Eve","error":{"status":404,"condition":"item-not-found","error":"No such occupant in the room"}}]}',
			kicker.results_body("r@m", "nickname", {
				{ given = "Bob"; status = 200; body = kicker.kicked_body("r@m", "Bob") },
				{ given = "Eve"; status = 404; body = '{"error":"No such occupant in the room","condition":"item-not-found"}' },
			}));
		assert.equal('{"results":[{"jid":"a@h","rooms":[]}]}',
			kicker.results_body(nil, "jid", { { given = "a@h"; status = 200; body = '{"rooms":[]}' } }));
		assert.equal('{"muc":"r@m","kicked":["A","B"],"kept":[],"dry_run":true}', kicker.keep_body("r@m", { "A", "B" }, {}, true));
	end);

	it("occupants_body() answers nil for a list that is not one of occupants", function ()
		local kicker = new_kicker();
		local good = { "r@m/Bob", "bob@h", "participant", "none", false, 1, "bob@h/a" };
		assert.is_string(kicker.occupants_body("r@m", good));
		for name, list in pairs({
			["a room that is not a string"] = false, ["not a table"] = "r@m/Bob",
			["no nickname"] = { "r@m", "bob@h", "participant", "none", false, 1, "bob@h/a" },
			["a JID that is no string"] = { "r@m/Bob", 1, "participant", "none", false, 1, "bob@h/a" },
			["a role that is no string"] = { "r@m/Bob", "bob@h", true, "none", false, 1, "bob@h/a" },
			["an affiliation that is no string"] = { "r@m/Bob", "bob@h", "participant", {}, false, 1, "bob@h/a" },
			["an id that is true"] = { "r@m/Bob", "bob@h", "participant", "none", true, 1, "bob@h/a" },
			["a count that is no number"] = { "r@m/Bob", "bob@h", "participant", "none", false, "1", "bob@h/a" },
			["a count with a fraction"] = { "r@m/Bob", "bob@h", "participant", "none", false, 0.5, "bob@h/a" },
			["a count near zero"] = { "r@m/Bob", "bob@h", "participant", "none", false, 1e-20 },
			["a negative count"] = { "r@m/Bob", "bob@h", "participant", "none", false, -1, "bob@h/a" },
			["more sessions counted than listed"] = { "r@m/Bob", "bob@h", "participant", "none", false, 2, "bob@h/a" },
			["fewer sessions counted than listed"] = { "r@m/Bob", "bob@h", "participant", "none", false, 0, "bob@h/a" },
			["a session that is no string"] = { "r@m/Bob", "bob@h", "participant", "none", false, 1, 7 },
			["a cut-off occupant"] = { "r@m/Bob", "bob@h", "participant", "none", false },
		}) do
			assert.is_nil(kicker.occupants_body(name == "a room that is not a string" and 1 or "r@m",
				list == false and good or list), name);
		end
	end);

	it("occupants_body(), account_rooms_body() and bans_body() render the views from plain tables", function ()
		local kicker = new_kicker();
		assert.equal('{"muc":"r@m","occupants":[{"nickname":"Bob","jid":"bob@h","sessions":["bob@h/a","bob@h/b"],'
			.. '"role":"participant","affiliation":"member","occupant_id":"id="},{"nickname":"Eve","jid":"eve@h",'
			.. '"sessions":["eve@h/x"],"role":"moderator","affiliation":"owner","occupant_id":null}]}',
			kicker.occupants_body("r@m", {
				"r@m/Bob", "bob@h", "participant", "member", "id=", 2, "bob@h/b", "bob@h/a",
				"r@m/Eve", "eve@h", "moderator", "owner", false, 1, "eve@h/x",
			}));
		assert.equal('{"muc":"r@m","occupants":[]}', kicker.occupants_body("r@m", {}));
		assert.equal('{"muc":"r@m","occupants":[{"nickname":"a/b","jid":"j","sessions":[],"role":"r",'
			.. '"affiliation":"a","occupant_id":null}]}', kicker.occupants_body("r@m", { "r@m/a/b", "j", "r", "a", false, 0 }));
		assert.equal('{"jid":"bob@h","rooms":[{"muc":"r@m","nickname":"Bob","sessions":["bob@h/a"],'
			.. '"role":"visitor","affiliation":"none"}]}',
			kicker.account_rooms_body("bob@h", {
				{ muc = "r@m"; nickname = "Bob"; sessions = { "bob@h/a" }; role = "visitor"; affiliation = "none" },
			}));
		assert.equal('{"jid":"bob@h","rooms":[]}', kicker.account_rooms_body("bob@h", {}));
		assert.equal('{"muc":"r@m","bans":[{"jid":"bob@h","until":"1970-01-01T00:01:40Z","reason":"spam",'
			.. '"by_module":true},{"jid":"h","until":null,"reason":null,"by_module":false}]}',
			kicker.bans_body("r@m", {
				{ jid = "bob@h"; ["until"] = 100.5; reason = "spam"; by_module = true },
				{ jid = "h"; by_module = false },
			}));
	end);
end);
