-- Test-only component for the e2e suite: a gateway whose address is a bare domain. The test
-- joins it to rooms through the admin shell; it swallows what rooms send it, so that no error
-- bounces back (a bounced presence makes a room drop the occupant).

for _, kind in ipairs({ "presence", "message", "iq" }) do
	module:hook(kind .. "/host", function () return true; end);
	module:hook(kind .. "/bare", function () return true; end);
	module:hook(kind .. "/full", function () return true; end);
end
