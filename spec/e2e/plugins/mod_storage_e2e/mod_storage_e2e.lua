-- Test-only storage driver for the e2e suite: the stores of another driver (e2e_storage_backend:
-- "internal" or "sql"), failing on demand and logging what each call writes.
--
-- A call fails (nil, "e2e storage fault") while <data_path>/e2e-storage-faults holds a line
-- "<store> <method>" for it, e.g. "http_muc_kick_ban set" or "config get". Every set is logged
-- as "e2e storage: set <store> <bytes>", the bytes of the value serialized, so a test can count
-- the writes of a request and their size.

local serialize = require "util.serialization".serialize;

local backend_name = module:get_option_string("e2e_storage_backend", "internal");
local backend = assert(require "core.storagemanager".load_driver(module.host, backend_name), backend_name);
local faults_file = prosody.paths.data .. "/e2e-storage-faults";

local function faulty(store, method)
	local file = io.open(faults_file);
	if not file then return false; end
	local faults = file:read("*a");
	file:close();
	for line in faults:gmatch("[^\n]+") do
		if line == store .. " " .. method then return true; end
	end
	return false;
end

local driver = {};

function driver:open(store, typ) -- luacheck: ignore 212/self
	local inner, err = backend:open(store, typ);
	if not inner then return nil, err; end
	return setmetatable({}, { __index = function (_, method)
		local call = inner[method];
		if type(call) ~= "function" then return call; end
		return function (_, ...)
			if faulty(store, method) then
				module:log("info", "e2e storage: %s %s fails on demand", method, store);
				return nil, "e2e storage fault";
			end
			if method == "set" then
				local _, value = ...;
				module:log("info", "e2e storage: set %s %d", store, value == nil and 0 or #serialize(value));
			end
			return call(inner, ...);
		end;
	end });
end

function driver:purge(user) -- luacheck: ignore 212/self
	return backend:purge(user);
end

module:provides("storage", driver);
