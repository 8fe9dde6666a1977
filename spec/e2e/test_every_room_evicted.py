"""Every room, with rooms mod_muc evicted from its cache (SPEC: "Keeping them out", **Every
room**; "Faults, at scale"). With Prosody's default muc_room_cache_size of 100, a component with
more live rooms evicts the least recently used: mod_muc saves the room, occupants included, and
restores it with them on its next stanza. The module brings back exactly the evicted rooms that
still hold the account, kicks it there, and restores no other room.

On a Prosody of this file's own (module scope): evict.localhost keeps the default cache size and
tiny.localhost keeps two rooms. Rooms are evicted by creating FILLERS new rooms (admin shell);
each test checks Prosody's own "Evicting room" line and that the room is no longer live.
"""

import glob
import itertools
import os
import re

import pytest

from harness import kick_presence_from
from support import Api, assert_json, join, kick_presences, serve, wait_kick
from test_every_room import kicked_by_room, no_kick_in, send_presence

EVICT = "evict.localhost"
TINY = "tiny.localhost"
TOKEN = "Bearer evicted-s3cret"
USERS = (("alice", "alice-pw"), ("bob", "bob-pw"), ("carol", "carol-pw"))
FILLERS = 110  # more than the default cache of 100: every room older than them is evicted

COMPONENTS = f'''
Component "{EVICT}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = "{TOKEN}"

Component "{TINY}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    muc_room_cache_size = 2
    http_muc_kick_authorization_header = "{TOKEN}"
'''


@pytest.fixture(scope="module")
def server():
    yield from serve(COMPONENTS, USERS)


@pytest.fixture
def kick_everywhere(server, ip):
    def send(target, host=EVICT):
        return Api(server, ip).post({"jid": target, "reason": "gone"}, token=TOKEN, host=host)
    return send


_rooms = itertools.count(1)


def rooms(count, host=EVICT):
    return [f"v{next(_rooms)}@{host}" for _ in range(count)]


def lua(server, code):
    output = server.shell(">" + code)
    match = re.search(r"Result: (\S+)", output)
    assert match, output
    return match.group(1)


def is_live(server, room):
    host = room.split("@", 1)[1]
    return lua(server, f'for r in prosody.hosts["{host}"].modules.muc.live_rooms() do '
                       f'if r.jid == "{room}" then return "live" end end return "evicted"') == "live"


def evict(server, *evicted):
    """FILLERS new rooms, so that every room used before them (`evicted` among them) is evicted."""
    fillers = rooms(FILLERS)
    names = ", ".join(f'"{room}"' for room in fillers)
    assert lua(server, f'local muc = prosody.hosts["{EVICT}"].modules.muc; '
                       f'for _, jid in ipairs({{ {names} }}) do assert(muc.create_room(jid)) end return true') == "true"
    log = server.log()
    for room in evicted:
        assert f"Evicting room {room}" in log
        assert not is_live(server, room)


def restored(server, room, since):
    return f"Restoring room {room} from storage" in server.log()[since:]


def test_an_evicted_room_that_holds_the_account_is_restored_and_the_kick_is_seen_by_all(
        connect, kick_everywhere, server, xmpp):
    evicted, live = rooms(2)
    alice, bob = connect("alice", "desk"), connect("bob", "phone")
    join(xmpp, alice, evicted, "Alice")
    join(xmpp, bob, evicted, "Bob")
    evict(server, evicted)
    join(xmpp, bob, live, "Bob")
    since = len(server.log())

    assert kicked_by_room(kick_everywhere("bob@localhost")) == {evicted: ["Bob"], live: ["Bob"]}

    assert restored(server, evicted, since)
    for seen_by in (bob, alice):
        wait_kick(xmpp, seen_by, evicted, "Bob")
    wait_kick(xmpp, bob, live, "Bob")
    assert is_live(server, evicted)
    assert_json(kick_everywhere("bob@localhost"), 404, "item-not-found")
    # alice is still in the restored room, and hears it: a kick of her now reaches her
    assert kicked_by_room(kick_everywhere("alice@localhost")) == {evicted: ["Alice"]}
    wait_kick(xmpp, alice, evicted, "Alice")


def test_rooms_the_account_left_or_that_were_destroyed_are_not_restored_and_it_is_404(
        connect, kick_everywhere, server, xmpp):
    left, destroyed, never = rooms(3)
    alice, bob = connect("alice", "desk"), connect("bob", "phone")
    for room in (left, destroyed, never):
        join(xmpp, alice, room, "Alice")
    join(xmpp, bob, left, "Bob")
    join(xmpp, bob, destroyed, "Bob")
    send_presence(xmpp, bob, f"{left}/Bob", "unavailable")
    assert lua(server, f'return prosody.hosts["{EVICT}"].modules.muc.get_room_from_jid("{destroyed}"):destroy()') == "true"
    evict(server, left, never)
    since = len(server.log())

    assert_json(kick_everywhere("bob@localhost"), 404, "item-not-found")
    assert_json(kick_everywhere("carol@localhost"), 404, "item-not-found")

    assert "Restoring room" not in server.log()[since:]
    assert not is_live(server, left) and not is_live(server, never)
    assert not kick_presences(alice, left, "Bob")


def test_a_session_in_an_evicted_room_is_found_by_its_full_jid(connect, kick_everywhere, server, xmpp):
    mine, laptops = rooms(2)
    phone, laptop = connect("bob", "phone"), connect("bob", "laptop")
    join(xmpp, phone, mine, "BobP")
    join(xmpp, laptop, mine, "BobL")
    join(xmpp, laptop, laptops, "BobL")
    evict(server, mine, laptops)
    since = len(server.log())

    assert kicked_by_room(kick_everywhere("bob@localhost/phone")) == {mine: ["BobP"]}
    wait_kick(xmpp, phone, mine, "BobP")
    wait_kick(xmpp, laptop, mine, "BobP")
    assert not kick_presences(laptop, mine, "BobL")
    assert restored(server, mine, since)
    # the laptop's evicted room is in the index too: only the phone's request passed it by
    assert kicked_by_room(kick_everywhere("bob@localhost")) == {mine: ["BobL"], laptops: ["BobL"]}


@pytest.mark.parametrize("evicted_when", ["before the reload", "after the reload"])
def test_after_module_reload_evicted_rooms_are_found_and_others_are_not_restored(
        connect, kick_everywhere, server, xmpp, evicted_when):
    held, left = rooms(2)
    alice, bob = connect("alice", "desk"), connect("bob", "phone")
    join(xmpp, alice, held, "Alice")
    join(xmpp, alice, left, "Alice")
    join(xmpp, bob, held, "Bob")
    join(xmpp, bob, left, "Bob")
    send_presence(xmpp, bob, f"{left}/Bob", "unavailable")
    if evicted_when == "before the reload":
        evict(server, held, left)
    server.shell(f"module:reload('http_muc_kick', '{EVICT}')")
    if evicted_when == "after the reload":
        evict(server, held, left)
    since = len(server.log())

    assert kicked_by_room(kick_everywhere("bob@localhost")) == {held: ["Bob"]}

    wait_kick(xmpp, bob, held, "Bob")
    wait_kick(xmpp, alice, held, "Bob")
    assert restored(server, held, since) and not restored(server, left, since)
    assert not is_live(server, left)


def state_file(server, room, store):
    node, host = room.split("@", 1)
    found = glob.glob(os.path.join(server.dir, "data", host.replace(".", "%2e"), store, f"{node}.dat"))
    assert len(found) == 1, (room, store, found)
    return found[0]


@pytest.mark.parametrize("store", ["config", "state"])
def test_an_evicted_room_prosody_cannot_read_from_storage_is_500_and_nobody_is_kicked(
        connect, kick_everywhere, server, xmpp, ip, store):
    broken, fine = rooms(2)
    alice, bob = connect("alice", "desk"), connect("bob", "phone")
    for room in (broken, fine):
        join(xmpp, alice, room, "Alice")
        join(xmpp, bob, room, "Bob")
    evict(server, broken, fine)
    path = state_file(server, broken, store)
    with open(path) as f:
        saved = f.read()
    with open(path, "w") as f:
        f.write("this is not what Prosody wrote {")

    response = kick_everywhere("bob@localhost")

    assert assert_json(response, 500) == {"error": "Internal error", "condition": "internal-server-error"}
    errors = [line for line in server.log().splitlines()
              if "\terror\t" in line and ip in line and broken in line]
    assert errors, "no error line naming the room"
    for room in (broken, fine):
        assert no_kick_in(xmpp, bob, room)
    if store == "config":  # mod_muc handed out a stand-in and kept nothing: repaired, all is found
        with open(path, "w") as f:
            f.write(saved)
        assert kicked_by_room(kick_everywhere("bob@localhost")) == {broken: ["Bob"], fine: ["Bob"]}
    else:  # mod_muc restored the room without its occupants (and dropped their saved state)
        assert not os.path.exists(path)
        assert kicked_by_room(kick_everywhere("bob@localhost")) == {fine: ["Bob"]}


def test_an_account_in_more_rooms_than_the_cache_keeps_live_is_kicked_from_all_of_them(
        connect, kick_everywhere, server, xmpp):
    first, second, third = rooms(3, TINY)
    bob = connect("bob", "phone")
    for room in (first, second, third):
        join(xmpp, bob, room, "Bob")
    assert f"Evicting room {first}" in server.log() and not is_live(server, first)

    response = kick_everywhere("bob@localhost", host=TINY)

    assert kicked_by_room(response) == {first: ["Bob"], second: ["Bob"], third: ["Bob"]}
    for room in (first, second, third):
        xmpp.run(bob.wait_for(kick_presence_from(f"{room}/Bob")))
