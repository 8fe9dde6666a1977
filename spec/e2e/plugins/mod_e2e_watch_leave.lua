-- Test-only module for the e2e suite: logs every muc-occupant-left event it sees, so a test can
-- check that a kick over HTTP gives other modules the usual MUC events.

module:hook("muc-occupant-left", function (event)
	module:log("info", "e2e_watch_leave: %s left %s", tostring(event.nick), tostring(event.room and event.room.jid));
end);
