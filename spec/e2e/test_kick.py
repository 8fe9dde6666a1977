"""200: the kick itself, as the room sees it, and every form of target SPEC.md accepts."""

import json

import pytest

from harness import has_status, kick_details
from support import (OLD_TOKEN, TOKEN, assert_json, assert_still_there, join, log_entries,
                     kick_presences, wait_kick)


def assert_kick_presence(presence, reason):
    """SPEC 'What the room sees': unavailable, item role none, the reason (or none), status 307."""
    assert presence.get("type") == "unavailable"
    assert has_status(presence, "307")
    role, text, has_reason = kick_details(presence)
    assert role == "none"
    if reason is None:
        assert not has_reason, "an empty <reason/> was sent for a kick without reason"
    else:
        assert has_reason and text == reason


def test_kick_by_nickname_with_reason_200_kicked_and_everyone_sees_presence_307(
        api, xmpp, alice, bob, new_room):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")

    response = api.post({"muc": room, "nickname": "Bob", "reason": "Spamming the room"})

    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert json.loads(response.body) == {"muc": room, "kicked": ["Bob"]}
    assert_kick_presence(wait_kick(xmpp, bob, room, "Bob"), "Spamming the room")
    assert_kick_presence(wait_kick(xmpp, alice, room, "Bob"), "Spamming the room")
    # the kicked session gets its own status 110 too; Alice is still in the room
    assert has_status(wait_kick(xmpp, bob, room, "Bob"), "110")
    assert_still_there(api, xmpp, alice, room, "Alice")


def test_kicked_occupant_is_gone_second_identical_kick_404_item_not_found(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    body = {"muc": room, "nickname": "Bob", "reason": "bye"}
    assert assert_json(api.post(body), 200) == {"muc": room, "kicked": ["Bob"]}
    wait_kick(xmpp, bob, room, "Bob")

    assert_json(api.post(body), 404, "item-not-found")
    assert len(kick_presences(bob, room, "Bob")) == 1


@pytest.mark.parametrize("reason", ["absent", "empty string", "null"])
def test_kick_without_reason_sends_no_reason_element(api, xmpp, alice, bob, new_room, reason):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    body = {"muc": room, "nickname": "Bob"}
    if reason == "empty string":
        body["reason"] = ""
    elif reason == "null":
        body["reason"] = None

    assert assert_json(api.post(body), 200) == {"muc": room, "kicked": ["Bob"]}
    assert_kick_presence(wait_kick(xmpp, bob, room, "Bob"), None)
    assert_kick_presence(wait_kick(xmpp, alice, room, "Bob"), None)


def test_reason_with_tab_lf_cr_and_non_ascii_is_kept(api, xmpp, alice, bob, new_room):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    reason = "Règle 3:\tno spam\nsecond line 🙂"

    assert assert_json(api.post({"muc": room, "nickname": "Bob", "reason": reason}), 200)
    assert_kick_presence(wait_kick(xmpp, alice, room, "Bob"), reason)
    # CR is XML-legal too (a parser may normalise it to LF, so compare after that)
    join(xmpp, bob, room, "Bob2")
    assert assert_json(api.post({"muc": room, "nickname": "Bob2", "reason": "a\rb"}), 200)
    _, text, _ = kick_details(wait_kick(xmpp, alice, room, "Bob2"))
    assert text.replace("\r\n", "\n").replace("\r", "\n") == "a\nb"


def test_kick_by_bare_jid_kicks_every_occupant_of_that_account(
        api, xmpp, alice, bob, bob_laptop, new_room):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "BobPhone")
    join(xmpp, bob_laptop, room, "BobLaptop")

    body = assert_json(api.post({"muc": room, "jid": "bob@localhost", "reason": "account banned"}), 200)

    assert body["muc"] == room
    assert sorted(body["kicked"]) == ["BobLaptop", "BobPhone"]
    assert_kick_presence(wait_kick(xmpp, bob, room, "BobPhone"), "account banned")
    assert_kick_presence(wait_kick(xmpp, bob_laptop, room, "BobLaptop"), "account banned")
    assert_kick_presence(wait_kick(xmpp, alice, room, "BobPhone"), "account banned")
    assert_kick_presence(wait_kick(xmpp, alice, room, "BobLaptop"), "account banned")
    # nobody else: Alice is still there
    assert_still_there(api, xmpp, alice, room, "Alice")


def test_kick_by_full_jid_kicks_only_the_occupant_of_that_session(
        api, xmpp, alice, bob, bob_laptop, new_room):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "BobPhone")
    join(xmpp, bob_laptop, room, "BobLaptop")

    body = assert_json(api.post({"muc": room, "jid": "bob@localhost/phone"}), 200)

    assert body == {"muc": room, "kicked": ["BobPhone"]}
    assert_kick_presence(wait_kick(xmpp, bob, room, "BobPhone"), None)
    assert_kick_presence(wait_kick(xmpp, alice, room, "BobPhone"), None)
    # the laptop session's occupant stayed
    assert_still_there(api, xmpp, bob_laptop, room, "BobLaptop")


def test_one_nickname_joined_from_two_sessions_every_session_receives_the_kick(
        api, xmpp, alice, bob, bob_laptop, new_room):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    join(xmpp, bob_laptop, room, "Bob")

    assert assert_json(api.post({"muc": room, "nickname": "Bob", "reason": "out"}), 200) == \
        {"muc": room, "kicked": ["Bob"]}
    assert_kick_presence(wait_kick(xmpp, bob, room, "Bob"), "out")
    assert_kick_presence(wait_kick(xmpp, bob_laptop, room, "Bob"), "out")
    assert_kick_presence(wait_kick(xmpp, alice, room, "Bob"), "out")


def test_room_jid_in_upper_case_finds_the_room(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    body = assert_json(api.post({"muc": room.upper(), "nickname": "Bob"}), 200)

    assert body == {"muc": room, "kicked": ["Bob"]}
    wait_kick(xmpp, bob, room, "Bob")


def test_fullwidth_nickname_finds_the_occupant_who_joined_as_its_ascii_form(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    body = assert_json(api.post({"muc": room, "nickname": "\uff22ob"}), 200)  # "Ｂob"

    assert body == {"muc": room, "kicked": ["Bob"]}
    wait_kick(xmpp, bob, room, "Bob")


def test_nickname_keeps_case_bob_does_not_find_Bob_404(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    assert_json(api.post({"muc": room, "nickname": "bob"}), 404, "item-not-found")
    assert_still_there(api, xmpp, bob, room, "Bob")


def test_full_jid_in_upper_case_finds_that_session(api, xmpp, bob, bob_laptop, new_room):
    room = new_room()
    join(xmpp, bob, room, "BobPhone")
    join(xmpp, bob_laptop, room, "BobLaptop")

    body = assert_json(api.post({"muc": room, "jid": "BOB@LOCALHOST/phone"}), 200)

    assert body == {"muc": room, "kicked": ["BobPhone"]}
    wait_kick(xmpp, bob, room, "BobPhone")
    assert_still_there(api, xmpp, bob_laptop, room, "BobLaptop")


def test_resource_keeps_case_bob_at_localhost_slash_PHONE_404(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    assert_json(api.post({"muc": room, "jid": "bob@localhost/PHONE"}), 404, "item-not-found")
    assert_still_there(api, xmpp, bob, room, "Bob")


def test_bare_jid_in_upper_case_finds_the_account(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    assert assert_json(api.post({"muc": room, "jid": "BOB@LocalHost"}), 200) == \
        {"muc": room, "kicked": ["Bob"]}
    wait_kick(xmpp, bob, room, "Bob")


def test_nickname_with_spaces_and_non_ascii_is_kicked(api, xmpp, alice, bob, new_room):
    room = new_room()
    nick = "Bób de Bouwer Ж"
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, nick)

    # sent as \u escapes; the reason's emoji as a surrogate pair (\ud83d\ude42): a valid pair
    body = json.dumps({"muc": room, "nickname": nick, "reason": "🙂"})
    assert "\\u00f3" in body and "\\ud83d\\ude42" in body
    assert assert_json(api.post(body), 200) == {"muc": room, "kicked": [nick]}
    assert_kick_presence(wait_kick(xmpp, alice, room, nick), "🙂")


def test_nickname_of_1023_bytes_is_accepted(api, xmpp, bob, new_room):
    room = new_room()
    nick = "N" * 1023
    join(xmpp, bob, room, nick)

    assert assert_json(api.post({"muc": room, "nickname": nick}), 200) == {"muc": room, "kicked": [nick]}
    wait_kick(xmpp, bob, room, nick)


@pytest.mark.parametrize("token", [TOKEN, OLD_TOKEN], ids=["first token", "second token"])
def test_either_token_of_the_list_option_works(api, xmpp, bob, new_room, token):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    assert assert_json(api.post({"muc": room, "nickname": "Bob"}, token=token), 200) == \
        {"muc": room, "kicked": ["Bob"]}
    wait_kick(xmpp, bob, room, "Bob")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_request_content_type_is_not_checked(api, xmpp, bob, new_room, content_type):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    headers = {"Content-Type": content_type} if content_type else None

    response = api.post({"muc": room, "nickname": "Bob"}, headers=headers)

    assert assert_json(response, 200) == {"muc": room, "kicked": ["Bob"]}
    wait_kick(xmpp, bob, room, "Bob")


def test_unknown_fields_are_ignored(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    body = {"muc": room, "nickname": "Bob", "x-trace": {"id": [1, 2.5, None, True, "s"]}, "bans": True, "unbanned": 1}

    assert assert_json(api.post(body), 200) == {"muc": room, "kicked": ["Bob"]}
    wait_kick(xmpp, bob, room, "Bob")


def test_100_levels_of_nesting_inside_an_unknown_field_are_accepted(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    deep = "[" * 100 + "]" * 100
    body = f'{{"muc": "{room}", "extra": {deep}, "nickname": "Bob"}}'

    assert assert_json(api.post(body), 200) == {"muc": room, "kicked": ["Bob"]}
    wait_kick(xmpp, bob, room, "Bob")


@pytest.mark.parametrize("absent", ["jid", "nickname"])
def test_a_field_that_is_null_counts_as_absent(api, xmpp, bob, new_room, absent):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    body = {"muc": room, "nickname": "Bob", "jid": "bob@localhost", "reason": None}
    body[absent] = None

    assert assert_json(api.post(body), 200) == {"muc": room, "kicked": ["Bob"]}
    assert_kick_presence(wait_kick(xmpp, bob, room, "Bob"), None)


def test_json_whitespace_and_escapes_are_accepted(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    escaped_room = room.replace("@", "\\u0040")
    body = f' \r\n\t{{ "muc" : "{escaped_room}" ,\n "nickname":"\\u0042ob", "reason": "a\\/b\\"c" }} \n'

    assert assert_json(api.post(body), 200) == {"muc": room, "kicked": ["Bob"]}
    _, reason, _ = kick_details(wait_kick(xmpp, bob, room, "Bob"))
    assert reason == 'a/b"c'


def test_other_modules_see_muc_occupant_left_for_the_kicked_occupant(api, server, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    assert_json(api.post({"muc": room, "nickname": "Bob"}), 200)

    seen = [e for e in log_entries(server) if e[0] == "muc.localhost:e2e_watch_leave"
            and f"e2e_watch_leave: {room}/Bob left {room}" in e[2]]
    assert len(seen) == 1, seen
