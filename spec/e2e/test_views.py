"""The read-only views (SPEC: "Seeing and reconciling" → Views): GET /muc_kick/occupants?muc=,
?jid= and GET /muc_kick/bans?muc= against real occupants, with the same authorization, lockout
and logging as the POST endpoint, strict query parsing, and 405 with Allow: GET, HEAD.

On a Prosody of this file's own (module scope): views.localhost keeps its rooms (persistent by
default) and locks an address out after 3 failures; tiny.localhost keeps two rooms live, so a
third evicts one. Every test logs in fresh clients.
"""

import glob
import itertools
import os
import re
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from support import assert_json, is_module_json, join, log_entries, serve
from test_bans import end_time, owner_sets

VIEWS = "views.localhost"   # the module, persistent rooms, 3 failures allowed
TINY = "tiny.localhost"     # the module, two live rooms at most
OTHER = "other.localhost"   # a MUC component without the module
NOIDS = "noids.localhost"   # the module, muc_occupant_id = false (no XEP-0421 ids)
TOKEN = "Bearer views-s3cret"
FAILURES = 3
USERS = (("alice", "alice-pw"), ("bob", "bob-pw"), ("carol", "carol-pw"))
OCCUPANT_ID = "urn:xmpp:occupant-id:0"
ADMIN = "http://jabber.org/protocol/muc#admin"
OTHER_METHODS = ["POST", "PUT", "DELETE", "PATCH", "TRACE"]

COMPONENTS = f'''
Component "{VIEWS}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    muc_room_default_persistent = true
    http_muc_kick_authorization_header = "{TOKEN}"
    http_muc_kick_max_auth_failures = {FAILURES}

Component "{TINY}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    muc_room_cache_size = 2
    http_muc_kick_authorization_header = "{TOKEN}"

Component "{OTHER}" "muc"
    muc_room_locking = false

Component "{NOIDS}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    muc_occupant_id = false
    http_muc_kick_authorization_header = "{TOKEN}"
'''


@pytest.fixture(scope="module")
def server():
    yield from serve(COMPONENTS, USERS)


@pytest.fixture
def get(api):
    """get(path, query, **call options): a GET of /muc_kick/<path>?<query> (query: dict, list or str)."""
    def send(path, query="", method="GET", token=TOKEN, host=VIEWS, **kwargs):
        if not isinstance(query, str):
            query = urllib.parse.urlencode(query)
        target = f"/muc_kick/{path}" + (f"?{query}" if query else "")
        return api.call(method, b"", token=token, host=host, path=target, **kwargs)
    return send


_rooms = itertools.count(1)


def new_room(host=VIEWS):
    return f"view{next(_rooms)}@{host}"


def prosody_major(server):
    match = re.search(r"Prosody version (\d+)\.", server.log())
    assert match, "no version line in the log"
    return int(match.group(1))


def occupant_id_seen(client, occupant):
    """The XEP-0421 id in the last presence `client` received from `occupant`, or None."""
    for presence in reversed(client.presences):
        if presence.get("from") == occupant and presence.get("type") is None:
            element = presence.find(f"{{{OCCUPANT_ID}}}occupant-id")
            return None if element is None else element.get("id")
    raise AssertionError(f"no presence from {occupant}")


def set_role(xmpp, moderator, room, nick, role):
    async def go():
        iq = moderator.make_iq_set(ito=room)
        query = ET.Element(f"{{{ADMIN}}}query")
        ET.SubElement(query, f"{{{ADMIN}}}item", nick=nick, role=role)
        iq.append(query)
        return (await iq.send(timeout=10))["type"]
    assert xmpp.run(go()) == "result"


def owner_bans(xmpp, owner, room, account, reason):
    """An owner's ban over XMPP with a reason (XEP-0045 §9.1)."""
    async def go():
        iq = owner.make_iq_set(ito=room)
        query = ET.Element(f"{{{ADMIN}}}query")
        item = ET.SubElement(query, f"{{{ADMIN}}}item", affiliation="outcast", jid=account)
        ET.SubElement(item, f"{{{ADMIN}}}reason").text = reason
        iq.append(query)
        return (await iq.send(timeout=10))["type"]
    assert xmpp.run(go()) == "result"


def leave(xmpp, client, occupant):
    async def go():
        client.send_presence(pto=occupant, ptype="unavailable")
        await client.wait_for(lambda p: p.get("from") == occupant and p.get("type") == "unavailable")
    xmpp.run(go())


def by_nickname(occupants):
    return sorted(occupants, key=lambda o: o["nickname"])


def lua(server, code):
    output = server.shell(">" + code)
    match = re.search(r"Result: (\S+)", output)
    assert match, output
    return match.group(1)


# GET /muc_kick/occupants?muc=


def test_occupants_of_a_room_every_occupant_once_with_sessions_role_affiliation_and_occupant_id(
        get, server, xmpp, connect):
    room = new_room()
    alice, carol = connect("alice"), connect("carol")
    phone, laptop = connect("bob", "phone"), connect("bob", "laptop")
    join(xmpp, alice, room, "Alice")            # creates the room: owner, moderator
    join(xmpp, phone, room, "Bob")
    join(xmpp, laptop, room, "Bob")             # a second session under the same nickname
    join(xmpp, carol, room, "Carol")
    owner_sets(xmpp, alice, room, "carol@localhost", "member")
    set_role(xmpp, alice, room, "Carol", "visitor")
    # the ids as the room's occupants see them (13); taken after the last change of each
    time.sleep(0.3)
    ids = {nick: occupant_id_seen(alice, f"{room}/{nick}") for nick in ("Alice", "Bob", "Carol")}

    body = assert_json(get("occupants", {"muc": room}), 200)

    assert all(ids.values()), ids   # 0.12 and 13 both send XEP-0421 ids
    assert set(body) == {"muc", "occupants"}
    assert body["muc"] == room
    assert by_nickname(body["occupants"]) == [
        {"nickname": "Alice", "jid": "alice@localhost", "sessions": ["alice@localhost/desk"],
         "role": "moderator", "affiliation": "owner", "occupant_id": ids["Alice"]},
        {"nickname": "Bob", "jid": "bob@localhost",
         "sessions": ["bob@localhost/laptop", "bob@localhost/phone"],
         "role": "participant", "affiliation": "none", "occupant_id": ids["Bob"]},
        {"nickname": "Carol", "jid": "carol@localhost", "sessions": ["carol@localhost/desk"],
         "role": "visitor", "affiliation": "member", "occupant_id": ids["Carol"]},
    ]


def test_occupant_id_is_null_where_prosody_gives_none(get, xmpp, connect):
    room = new_room(NOIDS)
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    assert occupant_id_seen(alice, f"{room}/Alice") is None

    body = assert_json(get("occupants", {"muc": room}, host=NOIDS), 200)

    assert body == {"muc": room, "occupants": [
        {"nickname": "Alice", "jid": "alice@localhost", "sessions": ["alice@localhost/desk"],
         "role": "moderator", "affiliation": "owner", "occupant_id": None}]}


def test_the_room_is_found_after_preparation_and_answered_in_prepared_form(get, xmpp, connect):
    room = f"r\u00f6om{next(_rooms)}@{VIEWS}"
    join(xmpp, connect("alice"), room, "Alice")

    for asked in (room.upper(), room.replace("\u00f6", "\u00d6")):   # the fast path and Prosody's
        body = assert_json(get("occupants", {"muc": asked}), 200)
        assert body["muc"] == room
        assert [o["nickname"] for o in body["occupants"]] == ["Alice"]


def test_a_persistent_room_with_nobody_in_it_is_an_empty_list(get, xmpp, connect):
    room = new_room()
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    leave(xmpp, alice, f"{room}/Alice")

    response = get("occupants", {"muc": room})

    assert assert_json(response, 200) == {"muc": room, "occupants": []}
    assert response.body == f'{{"muc":"{room}","occupants":[]}}'
    assert assert_json(get("bans", {"muc": room}), 200) == {"muc": room, "bans": []}


@pytest.mark.parametrize("path", ["occupants", "bans"])
@pytest.mark.parametrize("room", [f"nosuchroom@{VIEWS}", f"room@{OTHER}", f"r\u00f6om@{OTHER}",
                                  f"room@{TINY}"], ids=["none here", "another host", "another host, not ASCII",
                                                        "another component with the module"])
def test_no_such_room_is_404(get, path, room):
    body = assert_json(get(path, {"muc": room}), 404, "item-not-found")
    assert body == {"error": "No such room on this component", "condition": "item-not-found"}


# GET /muc_kick/occupants?jid=


def test_rooms_of_an_account_every_occupant_of_it_in_every_room_and_of_a_session_only_its_own(get, xmpp, connect):
    both, phone_only, without = new_room(), new_room(), new_room()
    alice = connect("alice")
    phone, laptop = connect("bob", "phone"), connect("bob", "laptop")
    join(xmpp, alice, both, "Alice")
    join(xmpp, alice, without, "Alice")
    join(xmpp, phone, both, "Bob")
    join(xmpp, laptop, both, "Bob")
    join(xmpp, phone, phone_only, "Bobby")     # creates it: owner
    join(xmpp, laptop, phone_only, "BobL")      # a second nickname of the account there
    room_both = {"muc": both, "nickname": "Bob", "sessions": ["bob@localhost/laptop", "bob@localhost/phone"],
                 "role": "participant", "affiliation": "none"}
    room_phone = {"muc": phone_only, "nickname": "Bobby", "sessions": ["bob@localhost/phone"],
                  "role": "moderator", "affiliation": "owner"}
    room_laptop = {"muc": phone_only, "nickname": "BobL", "sessions": ["bob@localhost/laptop"],
                   "role": "moderator", "affiliation": "owner"}

    def in_order(rooms):
        return sorted(rooms, key=lambda r: (r["muc"], r["nickname"]))

    body = assert_json(get("occupants", {"jid": "BOB@localhost"}), 200)
    assert set(body) == {"jid", "rooms"} and body["jid"] == "bob@localhost"
    assert in_order(body["rooms"]) == in_order([room_both, room_phone, room_laptop])

    body = assert_json(get("occupants", {"jid": "bob@localhost/laptop"}), 200)
    assert body["jid"] == "bob@localhost/laptop"
    assert in_order(body["rooms"]) == in_order([room_both, room_laptop])
    assert assert_json(get("occupants", {"jid": "bob@localhost/nowhere"}), 200) == {
        "jid": "bob@localhost/nowhere", "rooms": []}


def test_an_account_in_no_room_is_an_empty_list_not_a_404(get):
    response = get("occupants", {"jid": "carol@localhost"})
    assert assert_json(response, 200) == {"jid": "carol@localhost", "rooms": []}
    assert response.body == '{"jid":"carol@localhost","rooms":[]}'
    body = assert_json(get("occupants", "jid=c%C3%96rol@localhost"), 200)   # Prosody's preparation
    assert body == {"jid": "c\u00f6rol@localhost", "rooms": []}


def test_rooms_mod_muc_evicted_are_included(get, server, xmpp, connect):
    first, second, third = (new_room(TINY) for _ in range(3))
    bob, alice = connect("bob"), connect("alice")
    join(xmpp, bob, first, "Bob")
    join(xmpp, alice, second, "Alice")
    join(xmpp, alice, third, "Alice")
    assert f"Evicting room {first}" in server.log()
    assert lua(server, f'for r in prosody.hosts["{TINY}"].modules.muc.live_rooms() do '
                       f'if r.jid == "{first}" then return "live" end end return "evicted"') == "evicted"

    body = assert_json(get("occupants", {"jid": "bob@localhost"}, host=TINY), 200)

    assert body == {"jid": "bob@localhost", "rooms": [
        {"muc": first, "nickname": "Bob", "sessions": ["bob@localhost/desk"],
         "role": "moderator", "affiliation": "owner"}]}


# GET /muc_kick/bans?muc=


def test_bans_every_outcast_with_the_modules_until_and_reason_or_prosodys_reason(
        get, api, server, xmpp, connect):
    room = new_room()
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    owner_bans(xmpp, alice, room, "carol@localhost", "Owner's reason")
    owner_sets(xmpp, alice, room, "spam.example", "outcast")              # a whole domain
    timed = assert_json(api.post({"muc": room, "jid": "bob@localhost", "ban": 3600, "reason": "Spamming"},
                                 token=TOKEN, host=VIEWS), 200)
    assert_json(api.post({"muc": room, "jid": "dave@localhost", "ban": True}, token=TOKEN, host=VIEWS), 200)
    kept_reason = "Owner's reason" if prosody_major(server) >= 13 else None

    body = assert_json(get("bans", {"muc": room}), 200)

    assert set(body) == {"muc", "bans"} and body["muc"] == room
    assert sorted(body["bans"], key=lambda b: b["jid"]) == [
        {"jid": "bob@localhost", "until": timed["until"], "reason": "Spamming", "by_module": True},
        {"jid": "carol@localhost", "until": None, "reason": kept_reason, "by_module": False},
        {"jid": "dave@localhost", "until": None, "reason": None, "by_module": True},
        {"jid": "spam.example", "until": None, "reason": None, "by_module": False},
    ]
    assert abs(end_time(timed["until"]) - (time.time() + 3600)) <= 3

    # an owner's own ban of bob replaces the module's: it is no longer the module's
    owner_bans(xmpp, alice, room, "bob@localhost", "Mine now")
    body = assert_json(get("bans", {"muc": room}), 200)
    bob = [b for b in body["bans"] if b["jid"] == "bob@localhost"]
    assert bob == [{"jid": "bob@localhost", "until": None,
                    "reason": "Mine now" if kept_reason else None, "by_module": False}]
    # an unban takes it off the list
    assert_json(api.post({"muc": room, "jid": "dave@localhost", "unban": True}, token=TOKEN, host=VIEWS), 200)
    assert "dave@localhost" not in [b["jid"] for b in assert_json(get("bans", {"muc": room}), 200)["bans"]]


# The query: 400


@pytest.mark.parametrize("path,query,message", [
    ("occupants", "muc=a@views.localhost&muc=a@views.localhost", "Parameter `muc` is given more than once"),
    ("occupants", "jid=a@localhost&jid=b@localhost", "Parameter `jid` is given more than once"),
    ("occupants", "m%75c=a@views.localhost&muc=a@views.localhost", "Parameter `muc` is given more than once"),
    ("bans", "muc=a@views.localhost&muc=b@views.localhost", "Parameter `muc` is given more than once"),
    ("occupants", "", "Give exactly one of the parameters `muc` and `jid`"),
    ("occupants", "other=1", "Give exactly one of the parameters `muc` and `jid`"),
    ("occupants", "muc=a@views.localhost&jid=b@localhost", "Give exactly one of the parameters `muc` and `jid`"),
    ("bans", "", "Parameter `muc` is required"),
    ("bans", "jid=b@localhost", "Parameter `muc` is required"),
    ("occupants", "muc=a%4@views.localhost",
     "Query is not valid application/x-www-form-urlencoded UTF-8: a % is not followed by two hexadecimal digits"),
    ("occupants", "muc=a@views.localhost&x=%zz",
     "Query is not valid application/x-www-form-urlencoded UTF-8: a % is not followed by two hexadecimal digits"),
    ("bans", "muc=%FF@views.localhost",
     "Query is not valid application/x-www-form-urlencoded UTF-8: it is not UTF-8 once decoded (byte 0)"),
    ("occupants", "jid=localhost",
     "Field `jid` is not a valid JID: it has no node: it names a domain, not an account"),
    ("occupants", "jid=room@views.localhost",
     "Field `jid` is not a valid JID: it is on this component (a room or an occupant), not an account"),
    ("occupants", "jid=room@VIEWS.localhost/Nick",
     "Field `jid` is not a valid JID: it is on this component (a room or an occupant), not an account"),
    ("occupants", "jid=r%C3%B6om@views.localhost",
     "Field `jid` is not a valid JID: it is on this component (a room or an occupant), not an account"),
    ("occupants", "jid=a%00b@localhost", "Field `jid` is not a valid JID: it holds a control character, which no JID can"),
    ("occupants", "muc=views.localhost",
     "Field `muc` is not a valid JID: it must be a bare room JID like room@chat.example.org"),
    ("bans", "muc=a@views.localhost/nick",
     "Field `muc` is not a valid JID: it must be a bare room JID like room@chat.example.org"),
    ("occupants", "muc=a%E2%80%8B%EF%BF%BF@views.localhost",
     "Field `muc` is not a valid JID: Prosody's JID preparation (RFC 7622) refused it"),
], ids=lambda v: v if len(v) < 40 else v[:40])
def test_query_refusals_are_400_naming_what_is_wrong(get, server, ip, path, query, message):
    body = assert_json(get(path, query), 400, "bad-request")
    assert body == {"error": message, "condition": "bad-request"}
    refused = [e for e in log_entries(server) if ip in e[2] and "Refused view request" in e[2]]
    assert len(refused) == 1 and refused[0][1] == "info", refused


def test_unknown_parameters_are_ignored_and_plus_is_a_space(get, xmpp, connect):
    room = new_room()
    join(xmpp, connect("alice"), room, "Alice")
    body = assert_json(get("occupants", f"x=1&muc={room}&&y&z=a+b%20c"), 200)
    assert body["muc"] == room


# Authorization, lockout, methods


@pytest.mark.parametrize("path", ["occupants", "bans"])
def test_a_missing_or_wrong_authorization_is_401_before_the_query_is_read(get, path):
    for token in (None, "Bearer wrong"):
        response = get(path, "muc=bad&muc=twice", token=token)
        assert assert_json(response, 401, "not-authorized") == {
            "error": "Authorization failed", "condition": "not-authorized"}
        assert response.header("www-authenticate") == f'Bearer realm="{VIEWS}"'


def test_failures_on_views_and_on_post_share_one_lockout_429_with_retry_after(get, api, server, ip):
    assert_json(api.post({}, token="Bearer wrong", host=VIEWS), 401)
    for _ in range(FAILURES - 1):
        assert_json(get("bans", {"muc": f"x@{VIEWS}"}, token="Bearer wrong"), 401)

    for response in (get("occupants", {"muc": f"x@{VIEWS}"}), get("bans", "muc=twice&muc=twice"),
                     api.post({"muc": f"x@{VIEWS}", "nickname": "x"}, token=TOKEN, host=VIEWS)):
        assert_json(response, 429, "too-many-requests")
        assert 1 <= int(response.header("retry-after")) <= 60
    warned = [e for e in log_entries(server) if ip in e[2] and "Refused view request" in e[2]]
    assert [e[1] for e in warned] == ["warn"] * (FAILURES - 1 + 2), warned


@pytest.mark.parametrize("path", ["occupants", "bans"])
@pytest.mark.parametrize("method", OTHER_METHODS)
def test_other_methods_on_the_views_are_405_with_allow_get_head_whatever_the_authorization(get, method, path):
    for token in (TOKEN, None, "Bearer wrong"):
        response = get(path, {"muc": f"x@{VIEWS}"}, method=method, token=token)
        assert assert_json(response, 405, "method-not-allowed") == {
            "error": "Only GET and HEAD are allowed on this path", "condition": "method-not-allowed"}
        assert response.header("allow") == "GET, HEAD"
        assert response.header("www-authenticate") is None
    # 405s are no failures: the address is not locked out
    assert_json(get(path, {"muc": f"nosuch@{VIEWS}"}), 404)


@pytest.mark.parametrize("path", ["occupants", "bans"])
def test_options_on_the_views_is_405_on_13_and_left_to_prosody_on_0_12(get, server, path):
    response = get(path, {"muc": f"x@{VIEWS}"}, method="OPTIONS")
    if prosody_major(server) >= 13:
        assert_json(response, 405, "method-not-allowed")
        assert response.header("allow") == "GET, HEAD"
    else:
        assert response.status != 405 and not is_module_json(response)


def test_head_answers_like_get_without_a_body(get, xmpp, connect):
    room = new_room()
    join(xmpp, connect("alice"), room, "Alice")
    for query, status in (({"muc": room}, 200), ({"muc": f"nosuch@{VIEWS}"}, 404), ("muc=a&muc=a", 400)):
        response = get("occupants", query, method="HEAD")
        assert response.status == status, response
        assert response.body == ""
        assert response.header("content-type") == "application/json"
    response = get("bans", {"muc": room}, method="HEAD", token=None)
    assert response.status == 401 and response.body == ""


def test_the_post_endpoint_is_unchanged_get_on_it_is_still_405_allow_post(api):
    response = api.call("GET", b"", token=TOKEN, host=VIEWS)
    assert_json(response, 405, "method-not-allowed")
    assert response.header("allow") == "POST"


def test_a_view_is_logged_at_debug_only_and_counted_by_status(get, server, ip, xmpp, connect):
    room = new_room()
    join(xmpp, connect("alice"), room, "Alice")
    before = server.request("GET", host="localhost", path="/metrics").body

    assert_json(get("occupants", {"muc": room}), 200)
    assert_json(get("bans", {"muc": room}), 200)

    lines = [e for e in log_entries(server) if ip in e[2]]
    assert lines and all(e[1] == "debug" for e in lines), lines
    after = server.request("GET", host="localhost", path="/metrics").body

    def count(text):
        match = re.search(r'prosody_mod_http_muc_kick__requests_total\{host="views\.localhost",status="200"\} (\S+)',
                          text)
        return float(match.group(1)) if match else 0.0
    assert count(after) - count(before) == 2


@pytest.mark.run_last(1)
def test_the_views_keep_working_across_module_reloads(get, server, xmpp, connect):
    room = new_room()
    join(xmpp, connect("alice"), room, "Alice")
    for _ in range(3):   # 0.12 fails every other reload when OPTIONS is routed without CORS
        server.shell(f"module:reload('http_muc_kick', '{VIEWS}')")
        body = assert_json(get("occupants", {"muc": room}), 200)
        assert [o["nickname"] for o in body["occupants"]] == ["Alice"]
        assert get("bans", {"muc": room}, method="DELETE").status == 405
    assert "table index is nil" not in server.log()


def test_a_room_prosody_cannot_read_from_storage_is_500_in_every_view(get, server, ip, xmpp, connect):
    broken, second, third = (new_room(TINY) for _ in range(3))
    bob, alice = connect("bob"), connect("alice")
    join(xmpp, bob, broken, "Bob")
    join(xmpp, alice, second, "Alice")
    join(xmpp, alice, third, "Alice")          # the cache keeps two: broken is evicted
    assert f"Evicting room {broken}" in server.log()
    node, host = broken.split("@")
    path = glob.glob(os.path.join(server.dir, "data", host.replace(".", "%2e"), "config", f"{node}.dat"))
    assert len(path) == 1, path
    with open(path[0], "w") as f:
        f.write("this is not what Prosody wrote {")

    for view, query in (("occupants", {"muc": broken}), ("bans", {"muc": broken}),
                        ("occupants", {"jid": "bob@localhost"})):
        response = get(view, query, host=TINY)
        assert assert_json(response, 500) == {"error": "Internal error", "condition": "internal-server-error"}
    errors = [e for e in log_entries(server) if e[1] == "error" and ip in e[2] and broken in e[2]]
    assert len(errors) == 3, errors
