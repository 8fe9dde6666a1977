-- Test-only module for the e2e suite: another module's muc-occupant-left hook that raises,
-- the server fault SPEC.md's 500 row is about. Enabled only on the "raise.localhost" component.

module:hook("muc-occupant-left", function (event)
	error("e2e_raise_on_leave: hook raised on purpose for " .. tostring(event.nick));
end);
