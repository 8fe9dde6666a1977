-- The ASCII fast path of JID preparation (src/prep.rs, exported as core.prep) against Prosody's
-- own util.jid.prep, on Debian's Prosody (/usr/lib/prosody: 0.12 on Debian 12, 13.0.1 on 13) and the
-- one beside it (target/prosody13, when unpacked: 13.0.1 on Debian 12, the newest 13.0.x on 13).
-- Run from the repository root after `make build`: busted --lua=lua5.4 spec/prep_spec.lua
-- Prosody's util.encodings.so is built for Debian's Lua 5.4: under another Lua the comparison
-- with Prosody is pending and only the Prosody-free checks run.
package.cpath = "target/release/lib?.so;" .. package.cpath;
local core = require "http_muc_kick_core";

local PROSODY_TREES = {
	{ name = "Debian's Prosody", root = "/usr/lib/prosody" },
	{ name = "the Prosody beside it", root = "target/prosody13/usr/lib/prosody" },
};

-- Where the fast path must answer, with what Prosody gives (checked against it below).
local TYPICAL = {
	["room@muc.localhost"] = "room@muc.localhost";
	["muc.localhost"] = "muc.localhost";
	["Bob"] = "bob";
	["muc.localhost/Bob"] = "muc.localhost/Bob";
	["muc.localhost/alice_2"] = "muc.localhost/alice_2";
	["room@muc.localhost/Some Nick"] = "room@muc.localhost/Some Nick";
	["bob@localhost/phone"] = "bob@localhost/phone";
	["Room-1@MUC.Example.org./Bob"] = "room-1@muc.example.org/Bob";
	["support.team@conference.example.com/O'Brien (away)"] = "support.team@conference.example.com/O'Brien (away)";
};

-- Prosody's util.jid from one tree, bound to that tree's own util.encodings.so. Prosody's
-- launcher puts CFG_SOURCEDIR/?.lua and CFG_SOURCEDIR/?.so first on package.path/cpath; here both
-- trees live in one Lua, so each tree's two files are loaded by path instead of through the shared
-- package.loaded (13's util.jid requires "prosody.util.encodings", which needs 13's loader.lua).
local function load_prosody_jid(root)
	if _VERSION ~= "Lua 5.4" then
		return nil, "Prosody's util.encodings is built for Lua 5.4, this is " .. _VERSION;
	end
	local open_encodings, err = package.loadlib(root .. "/util/encodings.so", "luaopen_util_encodings");
	if not open_encodings then
		return nil, err;
	end
	local encodings = open_encodings();
	-- 13.0.2+ also checks a host with util.net (an IP literal) before IDNA.
	local open_net = package.loadlib(root .. "/util/net.so", "luaopen_util_net");
	local net = open_net and open_net();
	local function require_in_tree(name)
		name = name:gsub("^prosody%.", "");
		if name == "util.net" and net then
			return net;
		end
		assert(name == "util.encodings", name);
		return encodings;
	end
	local env = setmetatable({ require = require_in_tree }, { __index = _G });
	local chunk = assert(loadfile(root .. "/util/jid.lua", "t", env));
	return chunk();
end

-- Park and Miller's minimal standard generator: the same corpus on every run and every Lua.
local function prng(seed)
	local state = seed;
	return function (n)
		state = state * 48271 % 2147483647;
		return state % n + 1;
	end
end

local ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
local JID_ISH = ASCII_LETTERS .. "..--__@@//  ";
local PRINTABLE = {};
for byte = 0x20, 0x7e do PRINTABLE[#PRINTABLE + 1] = string.char(byte); end

-- Code points stringprep treats specially, for the random Unicode cases.
local SPECIAL = {
	-- mapped to nothing (RFC 3454 B.1)
	0x00AD, 0x034F, 0x1806, 0x180B, 0x180D, 0x200B, 0x200C, 0x200D, 0x2060, 0xFE00, 0xFE0F, 0xFEFF,
	-- prohibited: non-ASCII spaces and controls, private use, non-characters, bidi and tag
	-- characters (C.1.2-C.9)
	0x0080, 0x009F, 0x00A0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
	0x06DD, 0x070F, 0x180E, 0x2061, 0x206A, 0xFFF9, 0xFFFC, 0x1D173, 0xE000, 0xF8FF, 0xF0000,
	0x10FFFD, 0xFDD0, 0xFFFE, 0xFFFF, 0x1FFFE, 0xFFFD, 0x2FF0, 0x0340, 0x200E, 0x202A, 0x206E,
	0xE0001, 0xE0041,
	-- folded or normalized into ASCII, some into "@", "/" or "." after Prosody split the JID
	0x212A, 0x2126, 0x017F, 0x0130, 0x00DF, 0x1E9E, 0xFB00, 0xFB01, 0xFF21, 0xFF41, 0x24B6,
	0xFF20, 0xFE6B, 0xFF0F, 0x2100, 0x2105, 0x2024, 0xFF0E, 0x3002, 0xFF61, 0x00C0, 0x00E9,
	-- right-to-left (bidi rule) and combining marks
	0x05D0, 0x0627, 0x0661, 0x0301, 0x0308,
	-- unassigned in Unicode 3.2
	0x0221, 0x0870, 0x1F600, 0x2FFFF,
};

local function pick_char(rand, s)
	local i = rand(#s);
	return s:sub(i, i);
end

local function unicode_char(rand)
	local pick = rand(20);
	if pick <= 8 then return PRINTABLE[rand(#PRINTABLE)]; end
	if pick == 9 then return string.char(rand(32) - 1); end
	if pick <= 15 then return utf8.char(SPECIAL[rand(#SPECIAL)]); end
	if pick <= 18 then
		local cp = 0x7f + rand(0xffff - 0x7f);
		if cp >= 0xd800 and cp <= 0xdfff then cp = cp - 0x800; end -- no surrogates
		return utf8.char(cp);
	end
	return utf8.char(0xffff + rand(0x10ffff - 0xffff));
end

local function random_text(rand, length, char)
	local chars = {};
	for i = 1, length do chars[i] = char(rand); end
	return table.concat(chars);
end

-- Mostly-letter parts with a few characters from `char` mixed in.
local function random_part(rand, char)
	local chars = {};
	for i = 1, rand(8) do
		chars[i] = rand(3) == 1 and char(rand) or pick_char(rand, ASCII_LETTERS);
	end
	return table.concat(chars);
end

local function random_jid(rand, char)
	local j = random_part(rand, char);
	if rand(3) > 1 then j = random_part(rand, char) .. "@" .. j; end
	if rand(2) == 1 then j = j .. "/" .. random_part(rand, char); end
	return j;
end

-- Every case, as whole JIDs, built once and only where Prosody's util.jid loads. Each JID part is
-- also checked alone (a domain alone, node@localhost, localhost/resource): that is how nodeprep,
-- nameprep and resourceprep are compared with Prosody's.
local cases;
local function corpus()
	if cases then return cases; end
	cases = {};
	local function add(j) cases[#cases + 1] = j; end

	for j in pairs(TYPICAL) do add(j); end
	for _, j in ipairs({
		"", "@", "/", "@/", "a@", "@a", "a/", "/a", "a@b/", "a@/b", "a@b@c", "a/b@c", "a@b/c@d/e",
		".", "..", "...", "a.", "a..", ".a", "a.b.", "a@.", "a@./r", "a@b./r", "a@b../r", "./r",
		"a b", " ", "a@ ", " @a", "a@b/ ", "a@b/  x  ", "a@-", "-@-/-", "a@b/@", "a@b//",
		"localhost", "LOCALHOST", "LocalHost.", "xn--bcher-kva.example", "_x._tcp.example",
		"a@b/\\20", "a\\20b@c", "1@2/3", "[::1]", "a@[::1]/r", "a@127.0.0.1",
	}) do add(j); end

	-- Every ASCII character in each part: alone, inside, first and last.
	for byte = 0, 127 do
		local c = string.char(byte);
		for _, part in ipairs({ c, "a" .. c .. "b", c .. "ab", "ab" .. c }) do
			add(part .. "@localhost");
			add(part);
			add("localhost/" .. part);
			add("room@muc.localhost/" .. part);
			add(part .. "@" .. part .. "/" .. part);
		end
	end

	-- Case folding: every letter in each part, and mixed case.
	for byte = ("A"):byte(), ("Z"):byte() do
		local upper = string.char(byte);
		local lower = upper:lower();
		add(upper .. "@" .. upper .. "/" .. upper);
		add(lower .. "@" .. lower .. "/" .. lower);
		add("R" .. lower .. "oM@Muc.LocalHost/Nick" .. upper);
	end

	-- Length limits: Prosody refuses a part of 1024 bytes or more (the domain after its one
	-- trailing dot is removed).
	for _, n in ipairs({ 1022, 1023, 1024, 1025 }) do
		local long = string.rep("a", n - 1) .. "B";
		add(long .. "@localhost");
		add(long);
		add(long .. ".");
		add(long .. "..");
		add("localhost/" .. long);
		add(long .. "@" .. long .. "/" .. long);
	end

	local rand = prng(20250611);
	for _ = 1, 800 do add(random_text(rand, rand(16), function (r) return pick_char(r, JID_ISH); end)); end
	for _ = 1, 800 do add(random_jid(rand, function (r) return PRINTABLE[r(#PRINTABLE)]; end)); end
	for _ = 1, 1500 do add(random_jid(rand, unicode_char)); end
	for _ = 1, 300 do add(random_text(rand, rand(6), unicode_char)); end
	return cases;
end

local function printable_ascii(s)
	return not s:find("[^\32-\126]");
end

-- Whether the domain of JID j (Prosody's split: after the first "@" before the first "/", one
-- trailing dot removed) is a host name of letters, digits and hyphens, labels of 1 to 63 bytes
-- without a hyphen at either end or in the third and fourth places, 253 bytes at most: the
-- domains the fast path answers for (13.0.2+ refuse others that 0.12 and 13.0.1 accept).
local function host_name(j)
	local domain = j:match("^[^@/]*@([^/]*)") or j:match("^([^/]*)");
	domain = domain:gsub("%.$", "");
	if #domain > 253 then
		return false;
	end
	for label in (domain .. "."):gmatch("([^.]*)%.") do
		if not label:match("^%w[%w-]*$") or #label > 63 or label:match("%-$") or label:sub(3, 4) == "--" then
			return false;
		end
	end
	return true;
end

describe("prep() without Prosody", function ()
	it("takes the fast path for typical ASCII JIDs", function ()
		for j, prepared in pairs(TYPICAL) do
			assert.equal(prepared, core.prep(j), j);
		end
	end);

	it("leaves to Prosody what is not plain ASCII or not a JID", function ()
		for _, j in ipairs({ "caf\195\169@localhost", "\226\132\170", "localhost/Zo\195\171", "a@b\0", "a@b/\t",
			"a b@localhost", "", "@", "a@b@c", "a@b/", ".", string.rep("a", 1024) }) do
			assert.is_false(core.prep(j), j);
		end
	end);
end);

for _, tree in ipairs(PROSODY_TREES) do
	describe("prep() against " .. tree.name .. "'s util.jid.prep", function ()
		local loaded, prosody_jid, why = pcall(load_prosody_jid, tree.root);
		if not (loaded and prosody_jid) then
			pending(tree.name .. " not loadable here: " .. tostring(loaded and why or prosody_jid));
			return;
		end
		local prosody_prep = prosody_jid.prep;
		local CORPUS = corpus();

		it("gives exactly Prosody's result wherever it answers (" .. #CORPUS .. " cases)", function ()
			local differences, shown = 0, {};
			for _, j in ipairs(CORPUS) do
				local fast = core.prep(j);
				if fast ~= false and fast ~= prosody_prep(j) then
					differences = differences + 1;
					if #shown < 20 then
						shown[#shown + 1] = ("%q: Prosody %q, fast path %q"):format(j, tostring((prosody_prep(j))), fast);
					end
				end
			end
			assert.equal(0, differences, table.concat(shown, "\n"));
		end);

		it("answers for every printable-ASCII JID with a host name that Prosody accepts", function ()
			local taken, missed = 0, {};
			for _, j in ipairs(CORPUS) do
				if printable_ascii(j) and host_name(j) and prosody_prep(j) ~= nil then
					if core.prep(j) then
						taken = taken + 1;
					elseif #missed < 20 then
						missed[#missed + 1] = ("%q"):format(j);
					end
				end
			end
			assert.same({}, missed);
			assert.is_true(taken > 1000, "fast path taken " .. taken .. " times");
		end);

		it("agrees with Prosody on the typical cases", function ()
			for j, prepared in pairs(TYPICAL) do
				assert.equal(prepared, prosody_prep(j), j);
			end
		end);

		it("never answers for bytes that are not UTF-8 (Prosody refuses them)", function ()
			for _, j in ipairs({ "\255", "a\195", "\237\160\128@b", "\192\175", "a@b/\128", "a@\244\144\128\128" }) do
				assert.is_nil(prosody_prep(j), j);
				local called, fast = pcall(core.prep, j);
				assert.is_true(not called or fast == false, j);
			end
		end);
	end);
end
