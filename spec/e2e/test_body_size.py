"""413 payload-too-large: http_muc_kick_max_body_size (64 on small.localhost, 16384 by default)."""

import json

from support import (MUC, SMALL, SMALL_LIMIT, SMALL_TOKEN, TOKEN, assert_json, assert_still_there,
                     join, kick_presences)


def padded(fields, size):
    """`fields` as JSON, padded with (insignificant) spaces to exactly `size` bytes."""
    body = json.dumps(fields, separators=(",", ":")).encode()
    assert len(body) <= size, (len(body), size)
    return body + b" " * (size - len(body))


def test_body_one_byte_over_the_limit_is_413_payload_too_large_and_kicks_nobody(
        api, xmpp, bob, new_room):
    room = new_room(SMALL, short=True)
    join(xmpp, bob, room, "B")

    response = api.post(padded({"muc": room, "nickname": "B"}, SMALL_LIMIT + 1),
                        token=SMALL_TOKEN, host=SMALL)

    assert_json(response, 413, "payload-too-large")
    assert kick_presences(bob, room, "B") == []
    assert_still_there(api, xmpp, bob, room, "B", host=SMALL, token=SMALL_TOKEN)


def test_body_of_exactly_the_limit_is_read(api, xmpp, bob, new_room):
    room = new_room(SMALL, short=True)
    join(xmpp, bob, room, "B")
    body = padded({"muc": room, "nickname": "B"}, SMALL_LIMIT)
    assert len(body) == SMALL_LIMIT

    response = api.post(body, token=SMALL_TOKEN, host=SMALL)

    assert assert_json(response, 200) == {"muc": room, "kicked": ["B"]}


def test_non_json_body_of_exactly_the_limit_is_400_not_413(api):
    response = api.post(b"x" * SMALL_LIMIT, token=SMALL_TOKEN, host=SMALL)
    assert_json(response, 400, "bad-request")


def test_much_larger_body_is_413(api):
    response = api.post(b"{" + b" " * 100_000 + b"}", token=SMALL_TOKEN, host=SMALL)
    assert_json(response, 413, "payload-too-large")


def test_401_comes_before_413_for_a_wrong_token(api):
    body = padded({"muc": f"x@{SMALL}", "nickname": "B"}, SMALL_LIMIT + 1)
    response = api.post(body, token="Bearer wrong", host=SMALL)
    assert_json(response, 401, "not-authorized")
    response = api.post(body, token=None, host=SMALL)
    assert_json(response, 401, "not-authorized")


def test_default_limit_is_16384_bytes(api, xmpp, bob, new_room):
    room = new_room(MUC)
    join(xmpp, bob, room, "Bob")
    fields = {"muc": room, "nickname": "Bob"}

    assert_json(api.post(padded(fields, 16385), token=TOKEN), 413, "payload-too-large")
    assert assert_json(api.post(padded(fields, 16384), token=TOKEN), 200) == \
        {"muc": room, "kicked": ["Bob"]}
