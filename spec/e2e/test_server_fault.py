"""500 internal-server-error: another module's hook raises during the kick (raise.localhost)."""

from support import RAISE, RAISE_TOKEN, assert_json, entries_with_ip, join


def test_hook_raising_during_the_kick_is_500_with_json_and_an_error_log_line(
        api, server, xmpp, alice, bob, new_room):
    room = new_room(RAISE)
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")

    response = api.post({"muc": room, "nickname": "Bob", "reason": "r"}, token=RAISE_TOKEN, host=RAISE)

    assert assert_json(response, 500) == {"error": "Internal error",
                                          "condition": "internal-server-error"}
    errors = [e for e in entries_with_ip(server, api.ip)
              if e[1] == "error" and e[0] == f"{RAISE}:http_muc_kick"]
    assert len(errors) == 1, entries_with_ip(server, api.ip)
    # the cause is in the line: the hook's own error message
    assert "e2e_raise_on_leave: hook raised on purpose" in errors[0][2]
    # and what was asked, since the occupant may already be gone: target, room, reason
    assert all(part in errors[0][2] for part in ('"Bob"', f'"{room}"', '"r"')), errors[0][2]


def test_500_body_does_not_leak_the_cause(api, xmpp, bob, new_room):
    room = new_room(RAISE)
    join(xmpp, bob, room, "Bob")
    response = api.post({"muc": room, "nickname": "Bob"}, token=RAISE_TOKEN, host=RAISE)
    assert response.status == 500
    assert "raised on purpose" not in response.body
    assert "traceback" not in response.body.lower()
