"""400 bad-request: anything but one strict JSON object with valid fields, and nobody is kicked.

Every case targets Bob, who is in the room; after the 400 a valid kick must still find him (and
it must be the only kick he ever received), so a 400 that half-kicked or kicked shows up.
"""

import pytest

from harness import kick_details
from support import assert_json, assert_still_there, join, kick_presences, wait_kick

GOOD = b'{"muc": "%ROOM%", "nickname": "Bob"}'
DEEP = 130  # levels of arrays inside an unknown field, under the top-level object

# (test id, body template: %ROOM% is the test's room JID)
MALFORMED = [
    ("not JSON", b"muc=%ROOM%&nickname=Bob"),
    ("empty body", b""),
    ("only whitespace", b" \n\t "),
    ("byte order mark", b"\xef\xbb\xbf" + GOOD),
    ("trailing comma", b'{"muc": "%ROOM%", "nickname": "Bob",}'),
    ("block comment", b'{"muc": "%ROOM%", /* who */ "nickname": "Bob"}'),
    ("line comment", b'// kick\n{"muc": "%ROOM%", "nickname": "Bob"}'),
    ("single quotes", b"{'muc': '%ROOM%', 'nickname': 'Bob'}"),
    ("unquoted keys", b'{muc: "%ROOM%", nickname: "Bob"}'),
    ("raw control char in string", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "a\x01b"}'),
    ("raw newline in string", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "a\nb"}'),
    ("raw tab in string", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "a\tb"}'),
    ("unknown escape", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "a\\qb"}'),
    ("short unicode escape", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "\\u00e"}'),
    ("invalid UTF-8", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "\xff\xfe"}'),
    ("overlong UTF-8", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "\xc0\xaf"}'),
    ("UTF-8 encoded surrogate", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "\xed\xa0\x80"}'),
    ("lone surrogate escape", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "\\ud800"}'),
    ("lone low surrogate escape", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "x\\udc00"}'),
    ("NaN", b'{"muc": "%ROOM%", "nickname": "Bob", "x": NaN}'),
    ("Infinity", b'{"muc": "%ROOM%", "nickname": "Bob", "x": Infinity}'),
    ("leading zeros", b'{"muc": "%ROOM%", "nickname": "Bob", "x": 007}'),
    ("hex number", b'{"muc": "%ROOM%", "nickname": "Bob", "x": 0x1}'),
    ("text after the object", GOOD + b" trailing"),
    ("second object after the object", GOOD + GOOD),
    ("unterminated object", b'{"muc": "%ROOM%", "nickname": "Bob"'),
    ("UTF-16 body", GOOD.decode().encode("utf-16")),
    ("array at top level", b"[" + GOOD + b"]"),
    ("string at top level", b'"%ROOM%"'),
    ("number at top level", b"42"),
    ("null at top level", b"null"),
    ("true at top level", b"true"),
    ("duplicated nickname", b'{"muc": "%ROOM%", "nickname": "Bob", "nickname": "Bob"}'),
    ("duplicated muc", b'{"muc": "%ROOM%", "muc": "%ROOM%", "nickname": "Bob"}'),
    ("duplicated reason", b'{"muc": "%ROOM%", "nickname": "Bob", "reason": "a", "reason": "a"}'),
    ("duplicated jid", b'{"muc": "%ROOM%", "jid": "bob@localhost", "jid": "bob@localhost"}'),
    (f"nesting of {DEEP} levels inside an unknown field",
     b'{"muc": "%ROOM%", "nickname": "Bob", "x": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
    ("nesting of 1000 objects inside an unknown field",
     b'{"muc": "%ROOM%", "nickname": "Bob", "x": ' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}"),
]

FIELDS = [
    ("missing muc", {"nickname": "Bob"}),
    ("muc null", {"muc": None, "nickname": "Bob"}),
    ("muc a number", {"muc": 42, "nickname": "Bob"}),
    ("muc a list", {"muc": ["%ROOM%"], "nickname": "Bob"}),
    ("muc an object", {"muc": {"jid": "%ROOM%"}, "nickname": "Bob"}),
    ("muc true", {"muc": True, "nickname": "Bob"}),
    ("nickname a number", {"muc": "%ROOM%", "nickname": 7}),
    ("nickname an empty list", {"muc": "%ROOM%", "nickname": []}),
    ("nickname a list holding a number", {"muc": "%ROOM%", "nickname": ["Bob", 7]}),
    ("nickname a list of lists", {"muc": "%ROOM%", "nickname": [["Bob"]]}),
    ("nickname false", {"muc": "%ROOM%", "nickname": False}),
    ("jid a number", {"muc": "%ROOM%", "jid": 1}),
    ("jid an object", {"muc": "%ROOM%", "jid": {}}),
    ("reason a number", {"muc": "%ROOM%", "nickname": "Bob", "reason": 3}),
    ("reason a list", {"muc": "%ROOM%", "nickname": "Bob", "reason": ["spam"]}),
    ("reason true", {"muc": "%ROOM%", "nickname": "Bob", "reason": True}),
    ("both nickname and jid", {"muc": "%ROOM%", "nickname": "Bob", "jid": "bob@localhost"}),
    ("neither nickname nor jid", {"muc": "%ROOM%", "reason": "spam"}),
    ("neither: both null", {"muc": "%ROOM%", "nickname": None, "jid": None}),
    ("empty object", {}),
    ("muc empty", {"muc": "", "nickname": "Bob"}),
    ("muc without node", {"muc": "muc.localhost", "nickname": "Bob"}),
    ("muc with resource", {"muc": "%ROOM%/Bob", "nickname": "Bob"}),
    ("muc with empty resource", {"muc": "%ROOM%/", "nickname": "Bob"}),
    ("muc with space in node", {"muc": "no such@muc.localhost", "nickname": "Bob"}),
    ("muc with empty node", {"muc": "@muc.localhost", "nickname": "Bob"}),
    ("muc with empty domain", {"muc": "room@", "nickname": "Bob"}),
    ("muc node over 1023 bytes", {"muc": "r" * 1024 + "@muc.localhost", "nickname": "Bob"}),
    ("nickname empty", {"muc": "%ROOM%", "nickname": ""}),
    ("nickname with control char", {"muc": "%ROOM%", "nickname": "Bo\u0007b"}),
    ("nickname with private use char", {"muc": "%ROOM%", "nickname": "Bob\ue000"}),
    ("nickname violating bidi rules", {"muc": "%ROOM%", "nickname": "\u05d0Bob"}),
    ("nickname with U+FFFF", {"muc": "%ROOM%", "nickname": "Bob\uffff"}),
    ("nickname over 1023 bytes", {"muc": "%ROOM%", "nickname": "B" * 1024}),
    ("nickname over 1023 bytes in 512 two-byte chars", {"muc": "%ROOM%", "nickname": "é" * 512}),
    # 120 bytes as sent; NFKC turns each U+FDFA into 18 characters (33 bytes): 1320 once prepared
    ("nickname over 1023 bytes once prepared", {"muc": "%ROOM%", "nickname": "\ufdfa" * 40}),
    ("jid empty", {"muc": "%ROOM%", "jid": ""}),
    ("jid with space in node", {"muc": "%ROOM%", "jid": "bo b@localhost"}),
    ("jid with < in node", {"muc": "%ROOM%", "jid": "bo<b@localhost"}),
    ("jid with empty node", {"muc": "%ROOM%", "jid": "@localhost"}),
    ("jid with empty resource", {"muc": "%ROOM%", "jid": "bob@localhost/"}),
    ("jid with two @", {"muc": "%ROOM%", "jid": "bob@@localhost"}),
    ("jid with control char in resource", {"muc": "%ROOM%", "jid": "bob@localhost/ph\u0001one"}),
    ("jid with domain \".\"", {"muc": "%ROOM%", "jid": "bob@."}),
    ("jid node over 1023 bytes", {"muc": "%ROOM%", "jid": "b" * 1024 + "@localhost"}),
    ("jid resource over 1023 bytes", {"muc": "%ROOM%", "jid": "bob@localhost/" + "p" * 1024}),
    ("jid domain over 1023 bytes", {"muc": "%ROOM%", "jid": "bob@" + "d" * 1024}),
    # Prosody's nameprep lets control characters through in a domain; no JID can hold one.
    ("jid with control char in domain", {"muc": "%ROOM%", "jid": "bob@local\u0004host"}),
    ("jid with U+0014 in domain", {"muc": "%ROOM%", "jid": "bob@local\u0014host"}),
    ("muc with control char in domain", {"muc": "r@muc.local\u0001host", "nickname": "Bob"}),
    ("ban of a jid with control char in domain", {"muc": "%ROOM%", "jid": "x\u0004y", "ban": True}),
    ("unban of a jid with control char in domain", {"muc": "%ROOM%", "jid": "x\u0004y", "unban": True}),
    ("every room, control char in domain", {"jid": "bob@local\u0004host"}),
    # ban and unban (SPEC "Keeping them out"): anything but their values, or in the wrong shape
    ("ban a string", {"muc": "%ROOM%", "nickname": "Bob", "ban": "yes"}),
    ("ban 0", {"muc": "%ROOM%", "nickname": "Bob", "ban": 0}),
    ("ban negative", {"muc": "%ROOM%", "nickname": "Bob", "ban": -5}),
    ("ban 1.5", {"muc": "%ROOM%", "nickname": "Bob", "ban": 1.5}),
    ("ban over a year", {"muc": "%ROOM%", "nickname": "Bob", "ban": 31536001}),
    ("ban an object", {"muc": "%ROOM%", "nickname": "Bob", "ban": {}}),
    ("ban without muc", {"jid": "bob@localhost", "ban": True}),
    ("unban 1", {"muc": "%ROOM%", "jid": "bob@localhost", "unban": 1}),
    ("unban with nickname", {"muc": "%ROOM%", "nickname": "Bob", "unban": True}),
    ("unban with reason", {"muc": "%ROOM%", "jid": "bob@localhost", "unban": True, "reason": "r"}),
    ("unban with ban", {"muc": "%ROOM%", "jid": "bob@localhost", "unban": True, "ban": True}),
    ("unban without muc", {"jid": "bob@localhost", "unban": True}),
    ("unban without jid", {"muc": "%ROOM%", "unban": True}),
    ("nickname without muc", {"nickname": "Bob"}),
]

# A reason XML cannot carry: refused before anything happens to the room.
BAD_REASONS = [
    ("U+0000", "a\u0000b"), ("U+0001", "\u0001"), ("U+0008", "back\u0008space"),
    ("U+000B", "a\u000bb"), ("U+000C", "a\u000cb"), ("U+0014", "a\u0014b"),
    ("U+001F", "a\u001fb"), ("U+FFFE", "a\ufffeb"), ("U+FFFF", "a\uffffb"),
]


def _fill(value, room):
    if isinstance(value, str):
        return value.replace("%ROOM%", room)
    if isinstance(value, list):
        return [_fill(v, room) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, room) for k, v in value.items()}
    return value


def _assert_400_and_bob_stays(api, xmpp, bob, room, body):
    join(xmpp, bob, room, "Bob")
    response = api.post(body)
    assert_json(response, 400, "bad-request")
    assert kick_presences(bob, room, "Bob") == []
    assert_still_there(api, xmpp, bob, room, "Bob")


@pytest.mark.parametrize("template", [t for _, t in MALFORMED], ids=[i for i, _ in MALFORMED])
def test_body_that_is_not_one_strict_json_object_is_400_bad_request_and_kicks_nobody(
        api, xmpp, bob, new_room, template):
    room = new_room()
    _assert_400_and_bob_stays(api, xmpp, bob, room, template.replace(b"%ROOM%", room.encode()))


@pytest.mark.parametrize("fields", [f for _, f in FIELDS], ids=[i for i, _ in FIELDS])
def test_missing_wrong_or_invalid_field_is_400_bad_request_and_kicks_nobody(
        api, xmpp, bob, new_room, fields):
    room = new_room()
    _assert_400_and_bob_stays(api, xmpp, bob, room, _fill(fields, room))


@pytest.mark.parametrize("reason", [r for _, r in BAD_REASONS], ids=[i for i, _ in BAD_REASONS])
def test_reason_with_a_character_xml_cannot_carry_is_400_and_the_occupant_is_not_kicked(
        api, xmpp, alice, bob, new_room, reason):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")

    assert_json(api.post({"muc": room, "nickname": "Bob", "reason": reason}), 400, "bad-request")

    # no half-kick: Bob is still an occupant, and the only kick anyone sees is the valid one
    presence = assert_still_there(api, xmpp, bob, room, "Bob", reason="valid reason")
    assert kick_details(presence)[1] == "valid reason"
    assert kick_details(wait_kick(xmpp, alice, room, "Bob"))[1] == "valid reason"
    assert len(kick_presences(alice, room, "Bob")) == 1
    # and Alice's stream survived: she can still be kicked and hear about it
    assert_still_there(api, xmpp, alice, room, "Alice")


# Stringprep maps U+00AD (soft hyphen) to nothing: a part that prepares to "" is no valid JID,
# and the 400 names the field that holds it.
EMPTIED_BY_PREP = [
    ("muc node", {"muc": "\u00ad@muc.localhost", "nickname": "Bob"}, "muc"),
    ("muc node, kick by jid", {"muc": "\u00ad@muc.localhost", "jid": "bob@localhost"}, "muc"),
    ("nickname", {"muc": "%ROOM%", "nickname": "\u00ad"}, "nickname"),
    ("jid node", {"muc": "%ROOM%", "jid": "\u00ad@localhost"}, "jid"),
    ("jid resource", {"muc": "%ROOM%", "jid": "bob@localhost/\u00ad"}, "jid"),
]


@pytest.mark.parametrize("fields,field", [(f, n) for _, f, n in EMPTIED_BY_PREP],
                         ids=[i for i, _, _ in EMPTIED_BY_PREP])
def test_part_that_preparation_empties_is_400_naming_the_field_and_kicks_nobody(
        api, xmpp, bob, new_room, fields, field):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    body = assert_json(api.post(_fill(fields, room)), 400, "bad-request")
    assert f"`{field}`" in body["error"], body
    assert kick_presences(bob, room, "Bob") == []
    assert_still_there(api, xmpp, bob, room, "Bob")
