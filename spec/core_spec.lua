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
	it("returns a kicker and the fixed responses", function ()
		local kicker, fixed = new_kicker();
		assert.equal("userdata", type(kicker));
		assert.equal('Bearer realm="muc.localhost"', fixed.www_authenticate);
		for name, status in pairs({ room_not_found = 404, occupant_not_found = 404,
			forbidden = 403, internal_error = 500, invalid_muc = 400, invalid_jid = 400, invalid_nickname = 400 }) do
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

describe("numeric options", function ()
	local function body_of(size)
		local body = '{"muc":"r@m","nickname":"B","x":"';
		return body .. ("x"):rep(size - #body - 2) .. '"}';
	end

	it("take a whole-number float as that number", function ()
		local kicker = assert(new_kicker({ max_body_size = 1024.0, max_auth_failures = 1e1 }));
		assert.is_true((kicker:decide("POST", "192.0.2.9", SECRET, nil, body_of(1024))));
		assert.equal(413, select(2, kicker:decide("POST", "192.0.2.9", SECRET, nil, body_of(1025))));
		for _ = 1, 10 do
			assert.equal(401, select(2, kicker:decide("POST", "192.0.2.9", "wrong", nil, "")));
		end
		assert.equal(429, select(2, kicker:decide("POST", "192.0.2.9", SECRET, nil, body_of(100))));
	end);

	it("take an integer as that number", function ()
		local kicker = assert(new_kicker({ max_body_size = math.tointeger and math.tointeger(64) or 64 }));
		assert.is_true((kicker:decide("POST", "192.0.2.9", SECRET, nil, body_of(64))));
		assert.equal(413, select(2, kicker:decide("POST", "192.0.2.9", SECRET, nil, body_of(65))));
	end);
end);

describe("kicker:decide()", function ()
	it("returns the validated request as Lua strings, absent parts as nil", function ()
		local kicker = new_kicker();
		local ok, room, nick, real_jid, reason = kicker:decide("POST", "192.0.2.1", SECRET, nil,
			'{"muc":"ROOM@muc.localhost","nickname":"B\\u00f6b","reason":"bye"}');
		assert.same({ true, "ROOM@muc.localhost", "Böb", nil, "bye" }, { ok, room, nick, real_jid, reason });
		ok, room, nick, real_jid, reason = kicker:decide("POST", "192.0.2.1", SECRET, nil, '{"muc":"r@m","jid":"bob@localhost"}');
		assert.same({ true, "r@m", nil, "bob@localhost", nil }, { ok, room, nick, real_jid, reason });
	end);

	it("returns status, body, message on refusal", function ()
		local ok, status, body, message, retry_after = new_kicker():decide("POST", "192.0.2.1", SECRET, nil, "[]");
		assert.same({ false, 400, nil }, { ok, status, retry_after });
		assert.equal('{"error":"Body must be a JSON object, not an array","condition":"bad-request"}', body);
		assert.equal("Body must be a JSON object, not an array", message);
	end);

	it("answers 405 for any method but POST, before looking at anything else", function ()
		local kicker = new_kicker({ max_auth_failures = 1 });
		for _, method in ipairs({ "GET", "HEAD", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS" }) do
			local ok, status, body = kicker:decide(method, "192.0.2.1", "wrong", nil, "");
			assert.same({ false, 405 }, { ok, status });
			assert.equal('{"error":"Only POST is allowed on this endpoint","condition":"method-not-allowed"}', body);
		end
		assert.is_true((kicker:decide("POST", "192.0.2.1", SECRET, nil, '{"muc":"r@m","nickname":"B"}')));
	end);

	it("treats a nil Authorization as missing (401)", function ()
		local ok, status, body = new_kicker():decide("POST", "192.0.2.1", nil, nil, "{}");
		assert.same({ false, 401 }, { ok, status });
		assert.equal('{"error":"Authorization failed","condition":"not-authorized"}', body);
	end);

	it("compares binary Authorization values byte for byte", function ()
		local kicker = new_kicker({ authorization = "Bearer \255\254x" });
		assert.equal(401, select(2, kicker:decide("POST", "ip", "Bearer \255", nil, "{}")));
		assert.equal(400, select(2, kicker:decide("POST", "ip", "Bearer \255\254x", nil, "{}")));
	end);

	it("refuses binary bodies (invalid UTF-8, NUL bytes) with 400", function ()
		local kicker = new_kicker();
		for _, body in ipairs({ "\0", '{"muc":"r@m","nickname":"\255"}', '{"muc":"r@m","nickname":"B"}\0' }) do
			assert.equal(400, select(2, kicker:decide("POST", "ip", SECRET, nil, body)));
		end
	end);

	it("handles bodies far larger than the limit without reading them", function ()
		local kicker = new_kicker({ max_body_size = 16384 });
		local ok, status, body = kicker:decide("POST", "ip", SECRET, nil, ("x"):rep(10 * 1024 * 1024));
		assert.same({ false, 413 }, { ok, status });
		assert.equal('{"error":"Request body is larger than 16384 bytes","condition":"payload-too-large"}', body);
	end);

	it("passes large strings through intact", function ()
		local kicker = new_kicker({ max_body_size = 1000000 });
		local reason = ("é"):rep(100000);
		local ok, _, _, _, got = kicker:decide("POST", "ip", SECRET, nil, '{"muc":"r@m","nickname":"B","reason":"' .. reason .. '"}');
		assert.is_true(ok);
		assert.equal(reason, got);
	end);

	it("returns 429 with Retry-After seconds once an IP used up its failures", function ()
		local kicker = new_kicker({ max_auth_failures = 2 });
		assert.equal(401, select(2, kicker:decide("POST", "198.51.100.7", "wrong", nil, "")));
		assert.equal(401, select(2, kicker:decide("POST", "198.51.100.7", "wrong", nil, "")));
		local ok, status, _, _, retry_after = kicker:decide("POST", "198.51.100.7", SECRET, nil, '{"muc":"r@m","nickname":"B"}');
		assert.same({ false, 429 }, { ok, status });
		assert.is_true(math.type(retry_after) == "integer" and retry_after >= 1 and retry_after <= 60);
		assert.is_true((kicker:decide("POST", "198.51.100.8", SECRET, nil, '{"muc":"r@m","nickname":"B"}')));
	end);

	it("answers 411 for a body sent with a transfer coding, after authorization", function ()
		local kicker = new_kicker();
		local ok, status, body = kicker:decide("POST", "192.0.2.1", SECRET, "chunked", "");
		assert.same({ false, 411 }, { ok, status });
		assert.matches('"condition":"length-required"', body, 1, true);
		assert.equal(401, select(2, kicker:decide("POST", "192.0.2.1", "wrong", "chunked", "")));
	end);

	it("raises a Lua error (not a crash) for arguments of the wrong type", function ()
		local kicker = new_kicker();
		assert.has_error(function () kicker:decide("POST", "ip", SECRET, nil, nil); end);
		assert.has_error(function () kicker:decide("POST", "ip", SECRET, nil, {}); end);
		assert.has_error(function () kicker.decide(nil, "POST", "ip", SECRET, "{}"); end);
	end);
end);

describe("kicker:kicked_body()", function ()
	it("builds the 200 body with JSON escaping", function ()
		local kicker = new_kicker();
		assert.equal('{"muc":"r@m","kicked":["Bob","a\\"b","Ｂ"]}', kicker:kicked_body("r@m", { "Bob", 'a"b', "Ｂ" }));
		assert.equal('{"muc":"r@m","kicked":[]}', kicker:kicked_body("r@m", {}));
	end);

	it("raises on non-UTF-8 nicknames rather than emitting invalid JSON", function ()
		assert.has_error(function () new_kicker():kicked_body("r@m", { "\255" }); end);
	end);
end);
