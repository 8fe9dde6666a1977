"""No client input produces a 500 or a non-JSON answer, or stops Prosody (seeded, reproducible)."""

import json
import random

import pytest

from support import assert_json, assert_still_there, is_module_json, join

SEED = 0x6b69636b
ODD_CHARS = ["\u0000", "\u0007", "\t", "\n", "\u001f", "\u007f", "\u0085", "\u00a0", "\u00df",
             "\u0130", "\u0301", "\u05d0", "\u0627", "\u200b", "\u200e", "\u202e", "\u2028",
             "\ud800", "\udfff", "\ue000", "\ufdd0", "\ufeff", "\ufffd", "\ufffe", "\uffff",
             "\uff22", "\U0001f642", "\U0010ffff", "@", "/", "\\", "\"", "'", " ", "%", "&", "<"]


def _odd_string(rng):
    return "".join(rng.choice(ODD_CHARS + ["a", "B", "."]) for _ in range(rng.randint(0, 12)))


def _odd_bodies(rng, room, count):
    fields = ["muc", "nickname", "jid", "reason"]
    for _ in range(count // 2):
        body = {}
        for field in rng.sample(fields, rng.randint(0, 4)):
            body[field] = rng.choice([
                _odd_string(rng), room + _odd_string(rng), _odd_string(rng) + "@localhost",
                "bob@localhost/" + _odd_string(rng), None, 0, -1.5e308, [], {}, True])
        yield json.dumps(body, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    template = json.dumps({"muc": room, "nickname": "Nobody", "reason": "r"}).encode()
    for _ in range(count - count // 2):
        data = bytearray(template)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            at = rng.randrange(len(data) + 1)
            if op < 0.4 and data:
                data[min(at, len(data) - 1)] = rng.randrange(256)
            elif op < 0.7:
                data[at:at] = rng.choice([b"\\u", b"\\ud800", b"{", b"[", b"\"", b",", b"\x00",
                                          b"\xc3", b"\xff", b"null", b"1e999", b"-0"])
            else:
                del data[at:at + rng.randint(1, 5)]
        yield bytes(data)


@pytest.mark.parametrize("round_", range(4))
def test_odd_bodies_never_get_500_or_non_json(api, xmpp, bob, new_room, round_):
    room = new_room()
    join(xmpp, bob, room, "Bob")  # "Nobody" is never in the room; "Bob" is, and must stay
    rng = random.Random(SEED + round_)

    for body in _odd_bodies(rng, room, 120):
        response = api.post(body)
        assert is_module_json(response), (body, response)
        assert response.status in (400, 404), (body, response)

    assert_still_there(api, xmpp, bob, room, "Bob")


def test_odd_occupant_nicknames_found_or_404_never_500(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    rng = random.Random(SEED)
    for _ in range(150):
        nickname = _odd_string(rng)
        response = api.post(json.dumps({"muc": room, "nickname": nickname}).encode())
        assert response.status in (400, 404) or (
            response.status == 200 and response.json()["kicked"] == ["Bob"]), (nickname, response)
        if response.status == 200:  # an equivalent form of "Bob" (e.g. "\uff22"): rejoin elsewhere
            room = new_room()
            join(xmpp, bob, room, "Bob")
    assert_json(api.post({"muc": room, "nickname": "Bob"}), 200)
