"""Keeping them out (SPEC: "Keeping them out: ban, unban, every room"): bans for good or for a
time, unban, timed lifts that survive module:reload and a restart, owners acting over XMPP,
accounts not domains, storage faults, and what a ban costs in storage however many are held.

On a Prosody of this file's own (module scope), once with each storage back end admins run
(Prosody's internal files, Debian's default, and SQL on SQLite, the code path of PostgreSQL and
MySQL too), behind a test driver that fails on demand and logs each write
(plugins/mod_storage_e2e). Restarts and reloads must not touch the shared server: bans.localhost keeps its rooms (persistent by default) and runs a module that vetoes
banning carol (a room refusing the change); temp.localhost has temporary rooms. Every test logs in
fresh clients, so no occupant is left behind for another test.
"""

import hashlib
import itertools
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from harness import HERE, MUC_USER, Prosody, has_status, muc_user
from support import PLUGIN_DIR, Api, assert_json, fresh_sessions, log_entries

BANS = "bans.localhost"   # persistent rooms, the module, a veto on banning carol
TEMP = "temp.localhost"   # temporary rooms, the module
GATEWAY = "gw.localhost"  # a component that joins rooms as an occupant whose real JID is a domain
TOKEN = "Bearer bans-s3cret"
SOURCE = f"{BANS}:http_muc_kick"
USERS = (("alice", "alice-pw"), ("bob", "bob-pw"), ("carol", "carol-pw"))
E2E_PLUGINS = os.path.join(HERE, "plugins")
LIFT_BOUND = 5            # SPEC: a timed ban ends within 5 seconds of its end time

COMPONENTS = '''
Component "{bans}" "muc"
    modules_enabled = {{ "http_muc_kick", "e2e_veto_carol_ban" }}
    muc_room_locking = false
    muc_room_default_persistent = true
    http_muc_kick_authorization_header = "{token}"
    storage = "e2e"
    e2e_storage_backend = "{backend}"

Component "{temp}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = "{token}"
    storage = "e2e"
    e2e_storage_backend = "{backend}"

Component "{gateway}" "e2e_gateway"
'''

# A room refusing an affiliation change the way any module can (XEP-0045 rules, invite lists...).
VETO_PLUGIN = '''
module:hook("muc-pre-set-affiliation", function (event)
	if event.jid == "carol@localhost" and event.affiliation == "outcast" then
		event.allowed = false;
		event.error = { type = "cancel"; condition = "not-allowed" };
	end
end);
'''


class BanServer:
    """This file's Prosody, which can be stopped and started again on the same data."""

    def __init__(self, backend):
        self.backend = backend
        self.dir = tempfile.mkdtemp(prefix="http_muc_kick_bans.")
        plugins = os.path.join(self.dir, "plugins")
        os.makedirs(os.path.join(plugins, "mod_e2e_veto_carol_ban"))
        with open(os.path.join(plugins, "mod_e2e_veto_carol_ban", "mod_e2e_veto_carol_ban.lua"), "w") as f:
            f.write(VETO_PLUGIN)
        self.extra = (f'plugin_paths = {{ "{os.path.abspath(PLUGIN_DIR)}", "{plugins}", "{E2E_PLUGINS}" }}\n'
                      'sql = { driver = "SQLite3", database = "prosody.sqlite" }')
        self.components = COMPONENTS.format(bans=BANS, temp=TEMP, token=TOKEN, backend=backend, gateway=GATEWAY)
        self.server = Prosody(PLUGIN_DIR, self.components, extra_global=self.extra, users=USERS, keep_dir=self.dir)

    def restart(self, down_until=None, crash=False):
        """Stop Prosody (or kill it: nothing runs at shutdown), stay down until `down_until`
        (a time.time()) if given, start it again on the same data."""
        if crash:
            self.server.proc.kill()
            self.server.proc.wait()
        self.server.stop()
        if down_until is not None:
            time.sleep(max(0.0, down_until - time.time()))
        self.server = Prosody(PLUGIN_DIR, self.components, extra_global=self.extra, keep_dir=self.dir)

    def fail(self, *calls):
        """Make the storage calls named (e.g. "http_muc_kick_ban set") fail until fail() clears them."""
        with open(os.path.join(self.dir, "data", "e2e-storage-faults"), "w") as f:
            f.write("".join(f"{call}\n" for call in calls))

    def shell(self, command):
        return self.server.shell(command)


@pytest.fixture(scope="module", params=["internal", "sql"])
def bans(request):
    if not os.path.exists(os.path.join(PLUGIN_DIR, "mod_http_muc_kick", "mod_http_muc_kick.lua")):
        pytest.exit(f"{PLUGIN_DIR} has no mod_http_muc_kick: run `make stage` first", returncode=2)
    instance = BanServer(request.param)
    try:
        yield instance
    finally:
        instance.server.cleanup()


@pytest.fixture
def connect(bans, xmpp):
    """connect("bob", "phone"): a fresh logged-in session on the current server, stopped at the end."""
    with fresh_sessions(xmpp, lambda: bans.server.c2s_port) as make:
        yield make


@pytest.fixture
def post(bans, ip):
    """POST a body to /muc_kick of the room's component, from this test's IP."""
    def send(body):
        host = body.get("muc", BANS).split("@")[-1]
        return Api(bans.server, ip).post(body, token=TOKEN, host=host)
    return send


# The room as Prosody holds it, through the admin shell


def _room(room):
    return f'prosody.hosts["{room.split("@")[1]}"].modules.muc.get_room_from_jid("{room}")'


def affiliation(bans, room, account):
    output = bans.shell(f'>{_room(room)}:get_affiliation("{account}")')
    match = re.search(r"Result: (\S+)", output)
    assert match, output
    return None if match.group(1) == "nil" else match.group(1)


def set_affiliation(bans, room, account, value):
    output = bans.shell(f'>{_room(room)}:set_affiliation(true, "{account}", "{value}")')
    assert "Result: true" in output, output


def wait_for_affiliation(bans, room, account, value, deadline):
    """time.time() when `account` had `value` in `room`, or None if not by `deadline`."""
    while True:
        if affiliation(bans, room, account) == value:
            return time.time()
        if time.time() > deadline:
            return None
        time.sleep(0.2)


# What the clients see


def join(xmpp, client, room, nick):
    xmpp.run(client.join(room, nick))


_attempts = itertools.count(1)


def try_join(xmpp, client, room):
    """'joined', or the condition of the room's error presence (e.g. 'forbidden')."""
    occupant = f"{room}/Try{next(_attempts)}"

    async def attempt():
        presence = client.make_presence(pto=occupant)
        presence.append(ET.Element("{http://jabber.org/protocol/muc}x"))
        presence.send()
        return await client.wait_for(lambda p: p.get("from") == occupant
                                     and (p.get("type") == "error" or has_status(p, "110")))
    answer = xmpp.run(attempt())
    if answer.get("type") != "error":
        return "joined"
    error = next(child for child in answer if child.tag.split("}")[-1] == "error")
    return next(iter(error)).tag.split("}")[-1]


def wait_until_joined(xmpp, client, room, deadline):
    """time.time() when `client` could join `room`, or None if not by `deadline`."""
    while True:
        if try_join(xmpp, client, room) == "joined":
            return time.time()
        if time.time() > deadline:
            return None
        time.sleep(0.2)


def leave(xmpp, client, room, nick):
    occupant = f"{room}/{nick}"

    async def go():
        client.send_presence(pto=occupant, ptype="unavailable")
        await client.wait_for(lambda p: p.get("from") == occupant and p.get("type") == "unavailable"
                              and has_status(p, "110"))
    xmpp.run(go())


def ban_presence(xmpp, client, room, nick):
    """The unavailable presence with status 301 that `client` received for room/nick."""
    return xmpp.run(client.wait_for(lambda p: p.get("from") == f"{room}/{nick}"
                                    and p.get("type") == "unavailable" and has_status(p, "301")))


def assert_ban_presence(presence, reason):
    """XEP-0045 §9.1: unavailable, status 301 (not 307), item affiliation outcast role none, the reason."""
    assert has_status(presence, "301") and not has_status(presence, "307")
    item = muc_user(presence).find(f"{{{MUC_USER}}}item")
    assert (item.get("affiliation"), item.get("role")) == ("outcast", "none")
    text = item.find(f"{{{MUC_USER}}}reason")
    assert (text.text if text is not None else None) == reason


def leaves_of(client, room, nick):
    return [p for p in client.presences if p.get("from") == f"{room}/{nick}" and p.get("type") == "unavailable"]


def end_time(until):
    """SPEC: RFC 3339 UTC, whole seconds."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", until), until
    return datetime.strptime(until, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def ban(post, room, seconds, **target):
    """A ban that must succeed; its end time (None: until lifted)."""
    body = assert_json(post({"muc": room, "ban": seconds, **target}), 200)
    assert body["muc"] == room
    if seconds is True:
        assert body["until"] is None
        return None
    ends = end_time(body["until"])
    assert abs(ends - (time.time() + seconds)) <= 2, body
    return ends


def lifts(bans, room):
    source = f"{room.split('@')[1]}:http_muc_kick"
    return [e for e in log_entries(bans.server)
            if e[0] == source and e[1] == "info" and "Timed lift" in e[2] and room in e[2]]


def wait_for_lift_line(bans, room, deadline):
    while not lifts(bans, room) and time.time() < deadline:
        time.sleep(0.2)
    return lifts(bans, room)


def escape(text):
    """A name as Prosody's internal storage writes it in a path: every non-alphanumeric escaped."""
    return re.sub(r"[^A-Za-z0-9]", lambda m: "%%%02x" % ord(m.group()), text)


def stored_for(bans, room, account="bob@localhost"):
    """The account's ban record in the ban store as the admin shell prints it, or None."""
    key = hashlib.sha1(f"{room}\0{account}".encode()).hexdigest()
    output = bans.shell(f'>require"util.serialization".serialize(require"core.storagemanager"'
                        f'.open("{room.split("@")[1]}", "http_muc_kick_ban"):get("{key}"))')
    match = re.search(r"Result: (.*)", output, re.DOTALL)
    assert match, output
    return None if match.group(1).strip() == "nil" else match.group(1)


# Ban


@pytest.mark.parametrize("target", [{"nickname": "BobPhone"}, {"jid": "bob@localhost"},
                                    {"jid": "bob@localhost/laptop"}], ids=["nickname", "bare jid", "full jid"])
def test_ban_removes_every_occupant_of_the_account_with_status_301_and_the_reason(
        post, xmpp, connect, new_room, target):
    room = new_room(BANS)
    alice, bob_phone, bob_laptop = connect("alice"), connect("bob", "phone"), connect("bob", "laptop")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob_phone, room, "BobPhone")
    join(xmpp, bob_laptop, room, "BobLaptop")

    body = assert_json(post({"muc": room, **target, "ban": True, "reason": "Spamming the room"}), 200)

    assert body["banned"] == "bob@localhost" and body["until"] is None
    assert sorted(body["kicked"]) == ["BobLaptop", "BobPhone"]
    assert set(body) == {"muc", "kicked", "banned", "until"}
    for client in (alice, bob_phone):
        assert_ban_presence(ban_presence(xmpp, client, room, "BobPhone"), "Spamming the room")
    for client in (alice, bob_laptop):
        assert_ban_presence(ban_presence(xmpp, client, room, "BobLaptop"), "Spamming the room")
    assert not [p for p in alice.presences if has_status(p, "307")], "a 307 (kick) was sent too"
    assert not leaves_of(alice, room, "Alice"), "Alice was removed too"


def test_a_banned_account_cannot_join_again_forbidden(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice, bob = connect("alice"), connect("bob")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")

    ban(post, room, True, nickname="Bob")

    ban_presence(xmpp, bob, room, "Bob")
    assert try_join(xmpp, bob, room) == "forbidden"
    assert try_join(xmpp, connect("bob", "other"), room) == "forbidden"
    assert affiliation(bans, room, "bob@localhost") == "outcast"


def test_ban_by_jid_with_nobody_present_is_200_with_nobody_kicked(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")

    body = assert_json(post({"muc": room, "jid": "BOB@LOCALHOST", "ban": 600}), 200)

    assert body["kicked"] == [] and body["banned"] == "bob@localhost"
    assert abs(end_time(body["until"]) - (time.time() + 600)) <= 2
    assert try_join(xmpp, connect("bob"), room) == "forbidden"
    assert not leaves_of(alice, room, "Alice")


def test_banning_the_rooms_only_owner_is_403_and_nothing_changes(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice, bob = connect("alice"), connect("bob")
    join(xmpp, alice, room, "Alice")   # the first occupant creates the room and owns it
    join(xmpp, bob, room, "Bob")
    assert affiliation(bans, room, "alice@localhost") == "owner"

    body = assert_json(post({"muc": room, "nickname": "Alice", "ban": 60, "reason": "no"}), 403, "forbidden")

    assert "conflict" in body["error"], body
    assert affiliation(bans, room, "alice@localhost") == "owner"
    assert not leaves_of(bob, room, "Alice") and not leaves_of(alice, room, "Alice")
    assert stored_for(bans, room) is None
    # with a second owner, the first one can be banned
    set_affiliation(bans, room, "bob@localhost", "owner")
    assert assert_json(post({"muc": room, "nickname": "Alice", "ban": True}), 200)["kicked"] == ["Alice"]


def test_a_room_that_refuses_the_ban_is_403_with_its_condition_and_nothing_changes(
        bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice, carol = connect("alice"), connect("carol")
    join(xmpp, alice, room, "Alice")
    join(xmpp, carol, room, "Carol")

    body = assert_json(post({"muc": room, "nickname": "Carol", "ban": 60}), 403, "forbidden")

    assert "not-allowed" in body["error"], body
    assert affiliation(bans, room, "carol@localhost") is None
    assert not leaves_of(alice, room, "Carol") and not leaves_of(carol, room, "Carol")
    assert stored_for(bans, room) is None


# Timed bans


def test_a_timed_ban_ends_within_5_s_of_until_and_the_account_can_join_again(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice, bob = connect("alice"), connect("bob")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")

    ends = ban(post, room, 3, nickname="Bob")
    ban_presence(xmpp, bob, room, "Bob")
    assert try_join(xmpp, bob, room) == "forbidden"

    joined = wait_until_joined(xmpp, bob, room, ends + LIFT_BOUND)
    assert joined is not None, "still banned 5 s after until"
    assert joined >= ends - 1, "lifted before until"   # until has whole seconds
    assert affiliation(bans, room, "bob@localhost") is None
    assert stored_for(bans, room) is None, "the lifted ban is still stored"


def test_a_member_is_a_member_again_after_a_timed_ban(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "member")

    ends = ban(post, room, 3, jid="bob@localhost")
    assert affiliation(bans, room, "bob@localhost") == "outcast"

    assert wait_for_affiliation(bans, room, "bob@localhost", "member", ends + LIFT_BOUND), \
        "not a member again 5 s after until"


def test_an_affiliation_changed_during_a_timed_ban_is_left_alone(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "member")
    ends = ban(post, room, 3, jid="bob@localhost")

    set_affiliation(bans, room, "bob@localhost", "admin")   # someone else lifted the ban their way

    forgotten = [e for e in log_entries(bans.server) if e[0] == SOURCE and room in e[2] and "no longer" in e[2]]
    assert len(forgotten) == 1 and "set to admin by someone else" in forgotten[0][2], forgotten
    assert stored_for(bans, room) is None
    time.sleep(max(0.0, ends + LIFT_BOUND - time.time()))
    assert lifts(bans, room) == []
    assert affiliation(bans, room, "bob@localhost") == "admin"


def test_a_ban_given_again_replaces_the_end_time_and_keeps_the_affiliation_from_before(
        bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "member")

    ban(post, room, 3600, jid="bob@localhost")
    ends = ban(post, room, 3, jid="bob@localhost")

    assert wait_for_affiliation(bans, room, "bob@localhost", "member", ends + LIFT_BOUND), \
        "the shorter ban given again did not end on time, or the member was not restored"


def test_a_ban_for_good_after_a_timed_one_drops_the_timed_lift(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")

    ends = ban(post, room, 3, jid="bob@localhost")
    ban(post, room, True, jid="bob@localhost")

    time.sleep(max(0.0, ends + 1.5 - time.time()))   # the dropped lift would have run by now
    assert affiliation(bans, room, "bob@localhost") == "outcast"
    assert lifts(bans, room) == []


# Unban


def test_unban_lifts_the_ban_200_and_the_account_can_join_again(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice, bob = connect("alice"), connect("bob")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    ban(post, room, True, nickname="Bob")
    ban_presence(xmpp, bob, room, "Bob")

    body = assert_json(post({"muc": room, "jid": "BOB@localhost", "unban": True}), 200)

    assert body == {"muc": room, "unbanned": "bob@localhost"}
    assert affiliation(bans, room, "bob@localhost") is None
    assert try_join(xmpp, bob, room) == "joined"
    assert stored_for(bans, room) is None


def test_unban_of_an_account_that_is_not_banned_is_404(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "member")

    assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 404, "item-not-found")
    assert_json(post({"muc": room, "jid": "carol@localhost", "unban": True}), 404, "item-not-found")
    assert affiliation(bans, room, "bob@localhost") == "member"
    ban(post, room, True, jid="bob@localhost")
    assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 200)
    assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 404, "item-not-found")


def test_unban_restores_a_member_and_drops_the_pending_timed_lift(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "member")
    ends = ban(post, room, 3, jid="bob@localhost")

    assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 200)
    assert affiliation(bans, room, "bob@localhost") == "member"
    set_affiliation(bans, room, "bob@localhost", "outcast")   # banned again, not through the module

    time.sleep(max(0.0, ends + 1.5 - time.time()))   # the dropped lift would have run by now
    assert affiliation(bans, room, "bob@localhost") == "outcast"
    assert lifts(bans, room) == []


# Temporary rooms


def test_a_ban_in_a_temporary_room_ends_with_the_room(bans, post, xmpp, connect, new_room):
    room = new_room(TEMP)
    alice, bob = connect("alice"), connect("bob")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    ban(post, room, 3600, nickname="Bob")
    ban_presence(xmpp, bob, room, "Bob")
    assert try_join(xmpp, bob, room) == "forbidden"
    assert stored_for(bans, room), "the timed ban is not stored"

    leave(xmpp, alice, room, "Alice")   # the room is destroyed when it empties

    assert try_join(xmpp, bob, room) == "joined"
    assert stored_for(bans, room) is None


# Logs and metrics


def test_ban_unban_and_timed_lift_are_logged_at_info_with_room_account_end_reason_and_ip(
        bans, post, ip, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")

    ends = ban(post, room, 3, jid="bob@localhost", reason="flooding\nthe room")
    lifted = wait_for_lift_line(bans, room, ends + LIFT_BOUND)
    ban(post, room, True, jid="bob@localhost")
    assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 200)

    mine = [e for e in log_entries(bans.server) if e[0] == SOURCE and room in e[2]]
    banned = [e for e in mine if e[2].startswith("Banned")]
    unbanned = [e for e in mine if e[2].startswith("Unbanned")]
    assert len(banned) == 2 and len(unbanned) == 1 and len(lifted) == 1, mine
    assert {e[1] for e in banned + unbanned + lifted} == {"info"}
    until = datetime.fromtimestamp(ends, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for part in ("bob@localhost", until, '"flooding\\nthe room"', ip):   # the reason quoted, on one line
        assert part in banned[0][2], (part, banned[0])
    for part in ("bob@localhost", "until lifted", "no reason", ip):
        assert part in banned[1][2], (part, banned[1])
    for part in ("bob@localhost", "until lifted", ip):
        assert part in unbanned[0][2], (part, unbanned[0])
    for part in ("Timed lift", "bob@localhost", until, "flooding", ip):
        assert part in lifted[0][2], (part, lifted[0])


def scrape(bans):
    response = bans.server.request("GET", host="localhost", path="/metrics")
    assert response.status == 200, response
    counts = {}
    for name in ("bans", "unbans"):
        match = re.search(rf'^prosody_mod_http_muc_kick__{name}_total\{{host="{BANS}"\}} (\S+)$',
                          response.body, re.MULTILINE)
        counts[name] = float(match.group(1)) if match else None
    return counts


def test_bans_and_unbans_are_counted(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    before = scrape(bans)

    ban(post, room, True, jid="bob@localhost")
    ban(post, room, 60, jid="bob@localhost")
    assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 200)
    assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 404)
    after = scrape(bans)

    assert after["bans"] is not None and after["unbans"] is not None, after
    assert after["bans"] - (before["bans"] or 0) == 2
    assert after["unbans"] - (before["unbans"] or 0) == 1


# An owner acting over XMPP: the module undoes only its own ban


def owner_sets(xmpp, owner, room, account, value):
    """The room's owner changes an affiliation the way a client does (XEP-0045 §9, §10)."""
    admin = "http://jabber.org/protocol/muc#admin"

    async def go():
        iq = owner.make_iq_set(ito=room)
        query = ET.Element(f"{{{admin}}}query")
        ET.SubElement(query, f"{{{admin}}}item", affiliation=value, jid=account)
        iq.append(query)
        return (await iq.send(timeout=10))["type"]
    assert xmpp.run(go()) == "result"


def test_a_timed_ban_over_an_owners_ban_ends_with_the_owners_ban_in_place(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    owner_sets(xmpp, alice, room, "bob@localhost", "outcast")

    ends = ban(post, room, 3, jid="bob@localhost")   # 200: the account is banned

    lines = wait_for_lift_line(bans, room, ends + LIFT_BOUND)
    assert len(lines) == 1 and "stays banned" in lines[0][2], lines
    assert affiliation(bans, room, "bob@localhost") == "outcast"
    assert try_join(xmpp, connect("bob"), room) == "forbidden"
    banned = [e for e in log_entries(bans.server) if e[0] == SOURCE and room in e[2] and e[2].startswith("Banned")]
    assert len(banned) == 1 and "(was outcast)" in banned[0][2], banned


@pytest.mark.parametrize("then", ["lift", "unban"])
def test_an_owners_changes_during_the_modules_ban_are_never_undone_with_a_stale_affiliation(
        bans, post, xmpp, connect, new_room, then):
    room = new_room(BANS)
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    owner_sets(xmpp, alice, room, "bob@localhost", "admin")
    ends = ban(post, room, 4, jid="bob@localhost")

    owner_sets(xmpp, alice, room, "bob@localhost", "none")      # the owner takes admin away...
    owner_sets(xmpp, alice, room, "bob@localhost", "outcast")   # ...and bans bob their own way

    if then == "unban":   # the module's ban is gone: its unban treats bob like any banned account
        assert assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 200)
        assert affiliation(bans, room, "bob@localhost") is None
    else:
        time.sleep(max(0.0, ends + LIFT_BOUND - time.time()))
        assert lifts(bans, room) == []
        assert affiliation(bans, room, "bob@localhost") == "outcast"
    assert stored_for(bans, room) is None


def test_unban_of_the_modules_ban_over_an_owners_ban_is_none_never_the_ban_from_before(
        bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    owner_sets(xmpp, alice, room, "bob@localhost", "outcast")
    ban(post, room, True, jid="bob@localhost")

    assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 200)

    assert affiliation(bans, room, "bob@localhost") is None
    assert try_join(xmpp, connect("bob"), room) == "joined"


def test_a_change_made_while_the_module_was_not_loaded_is_respected(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "member")
    ends = ban(post, room, 3, jid="bob@localhost")

    assert "error" not in bans.shell(f"module:unload('http_muc_kick', '{BANS}')").lower()
    set_affiliation(bans, room, "bob@localhost", "admin")
    assert "error" not in bans.shell(f"module:load('http_muc_kick', '{BANS}')").lower()

    assert stored_for(bans, room) is None
    time.sleep(max(0.0, ends + LIFT_BOUND - time.time()))
    assert lifts(bans, room) == [] and affiliation(bans, room, "bob@localhost") == "admin"


# Accounts, not domains


def join_as_domain(bans, room, nick):
    """An occupant whose real JID is a bare domain (a gateway or component), sent in by the server."""
    output = bans.shell(
        f'>local st = require "util.stanza"; prosody.core_post_stanza(prosody.hosts["{GATEWAY}"], '
        f'st.presence({{ from = "{GATEWAY}", to = "{room}/{nick}" }})'
        f':tag("x", {{ xmlns = "http://jabber.org/protocol/muc" }}))')
    assert "error" not in output.lower(), output


def test_a_nickname_ban_of_an_occupant_that_is_a_domain_is_409_and_nothing_changes(
        bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice, bob = connect("alice"), connect("bob")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    join_as_domain(bans, room, "Gateway")
    xmpp.run(alice.wait_for(lambda p: p.get("from") == f"{room}/Gateway" and p.get("type") is None))
    logged = len(log_entries(bans.server))

    body = assert_json(post({"muc": room, "nickname": "Gateway", "ban": True}), 409, "conflict")

    assert "domain" in body["error"], body
    assert affiliation(bans, room, GATEWAY) is None
    assert affiliation(bans, room, "bob@localhost") is None
    assert not leaves_of(alice, room, "Bob") and not leaves_of(alice, room, "Gateway")
    since = [e for e in log_entries(bans.server)[logged:] if e[0] == SOURCE]
    assert not [e for e in since if e[2].startswith(("Banned", "Unbanned"))], since


def test_an_unban_that_a_domain_ban_defeats_is_409_naming_it_and_nothing_changes(
        bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "localhost", "outcast")   # bans every account of localhost but alice
    before = scrape(bans)

    for _ in range(2):   # banned only through the domain, then also on its own
        body = assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 409, "conflict")
        assert "localhost" in body["error"] and "domain" in body["error"], body
        assert try_join(xmpp, connect("bob"), room) == "forbidden"
        set_affiliation(bans, room, "bob@localhost", "outcast")

    assert affiliation(bans, room, "bob@localhost") == "outcast"
    assert scrape(bans)["unbans"] == before["unbans"]


def test_an_unban_that_restores_an_affiliation_of_its_own_is_not_defeated_by_a_domain_ban(
        bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "localhost", "outcast")
    set_affiliation(bans, room, "bob@localhost", "member")   # an affiliation of its own lets bob in
    ban(post, room, True, jid="bob@localhost")

    assert_json(post({"muc": room, "jid": "bob@localhost", "unban": True}), 200)

    assert affiliation(bans, room, "bob@localhost") == "member"
    assert try_join(xmpp, connect("bob"), room) == "joined"


def test_a_room_made_anew_under_a_name_holds_none_of_the_bans_of_the_one_before(bans, post, xmpp, connect, new_room):
    room = new_room(TEMP)   # temporary: gone with its last occupant
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "admin")
    ban(post, room, 3600, jid="bob@localhost")
    assert "error" not in bans.shell(f"module:unload('http_muc_kick', '{TEMP}')").lower()
    leave(xmpp, alice, room, "Alice")   # the room is destroyed while the module is not loaded
    assert "error" not in bans.shell(f"module:load('http_muc_kick', '{TEMP}')").lower()

    join(xmpp, connect("alice", "again"), room, "Alice")   # a new room of that name: bob has no affiliation there
    ends = ban(post, room, 3, jid="bob@localhost")

    assert wait_for_affiliation(bans, room, "bob@localhost", None, ends + LIFT_BOUND), \
        "the lift handed back the affiliation bob had in the room before"


@pytest.mark.parametrize("shape", [{"ban": True}, {"unban": True}, {}, {"every room": True}],
                         ids=["ban", "unban", "kick", "every room"])
@pytest.mark.parametrize("account", ["localhost", "LOCALHOST/gateway", "{room}", "{room}/Alice"],
                         ids=["domain", "domain session", "the room", "an occupant"])
def test_a_jid_that_is_no_account_is_400_in_every_shape_and_nothing_changes(
        bans, post, xmpp, connect, new_room, shape, account):
    room = new_room(BANS)
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    body = {"jid": account.format(room=room)}
    if "every room" not in shape:
        body.update(muc=room, **shape)

    reply = assert_json(post(body), 400, "bad-request")

    assert "`jid`" in reply["error"] and "account" in reply["error"], reply
    assert affiliation(bans, room, "localhost") is None and not leaves_of(alice, room, "Alice")


# Faults: never an outcome the module cannot keep


def test_a_ban_whose_record_cannot_be_stored_is_500_and_nothing_changes(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice, bob = connect("alice"), connect("bob")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    before = scrape(bans)
    bans.fail("http_muc_kick_ban set")
    try:
        for seconds in (60, True):
            assert_json(post({"muc": room, "nickname": "Bob", "ban": seconds}), 500, "internal-server-error")
    finally:
        bans.fail()

    assert affiliation(bans, room, "bob@localhost") is None
    assert not leaves_of(alice, room, "Bob")
    assert scrape(bans)["bans"] == before["bans"]
    errors = [e for e in log_entries(bans.server) if e[0] == SOURCE and e[1] == "error" and room in e[2]]
    assert len(errors) == 2 and "cannot write the ban of bob@localhost" in errors[0][2], errors
    assert_json(post({"muc": room, "nickname": "Bob", "ban": True}), 200)   # and with storage back


def test_a_lift_that_cannot_write_storage_is_retried_until_it_can(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "member")
    ends = ban(post, room, 3, jid="bob@localhost")
    bans.fail("http_muc_kick_ban set")
    try:
        deadline = ends + LIFT_BOUND
        while time.time() < deadline and not [e for e in log_entries(bans.server)
                                              if e[1] == "error" and "Timed lift" in e[2] and room in e[2]]:
            time.sleep(0.2)
        failed = [e for e in log_entries(bans.server) if e[1] == "error" and "Timed lift" in e[2] and room in e[2]]
        assert failed and "trying again" in failed[0][2], failed
    finally:
        bans.fail()

    lifted = wait_for_lift_line(bans, room, time.time() + 10 + LIFT_BOUND)   # retried every 10 s
    assert len(lifted) == 1 and lifted[0][1] == "info", lifted
    assert affiliation(bans, room, "bob@localhost") == "member"
    assert stored_for(bans, room) is None


# What a ban costs in storage: one record, whatever the number of bans held


def module_writes(bans, since):
    """(store, bytes) of every write through the test driver since log entry `since`."""
    writes = []
    for entry in log_entries(bans.server)[since:]:
        match = re.match(r"e2e storage: set (\S+) (\d+)$", entry[2])
        if match:
            writes.append((match.group(1), int(match.group(2))))
    return writes


def test_a_bans_storage_work_does_not_grow_with_the_bans_held(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    per_ban = []
    for n in range(300):
        since = len(log_entries(bans.server)) if n in (0, 299) else None
        assert_json(post({"muc": room, "jid": f"spam{n:04d}@localhost", "ban": 3600}), 200)
        if since is not None:
            per_ban.append([w for w in module_writes(bans, since) if w[0].startswith("http_muc_kick")])

    assert len(per_ban[0]) == 1 and per_ban[0] == per_ban[1], per_ban   # one record, the same size
    since = len(log_entries(bans.server))
    assert_json(post({"muc": room, "jid": "spam0150@localhost", "unban": True}), 200)
    assert [w for w in module_writes(bans, since) if w[0].startswith("http_muc_kick")] == \
        [("http_muc_kick_ban", 0)]


# Reload and restart (last in this file: they stop every session)


def test_module_reload_during_a_timed_ban_keeps_the_lift_and_lifts_once(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "member")
    ends = ban(post, room, 4, jid="bob@localhost")

    for _ in range(2):
        output = bans.shell(f"module:reload('http_muc_kick', '{BANS}')")
        assert re.search(r"reloaded", output, re.IGNORECASE) and "error" not in output.lower(), output
    assert time.time() < ends, "the reloads took longer than the ban: this test proves nothing"

    assert wait_for_affiliation(bans, room, "bob@localhost", "member", ends + LIFT_BOUND), \
        "the timed ban did not end after module:reload"
    time.sleep(1)   # a second timer of an unloaded instance would have run by now
    assert len(lifts(bans, room)) == 1, lifts(bans, room)


def test_a_timed_ban_survives_a_restart_and_ends_on_time(bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice, bob = connect("alice"), connect("bob")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    set_affiliation(bans, room, "bob@localhost", "member")
    ends = ban(post, room, 8, nickname="Bob")
    ban_presence(xmpp, bob, room, "Bob")
    assert "bob@localhost" in (stored_for(bans, room) or ""), "the timed ban is not in the component's storage"
    for client in (alice, bob):
        xmpp.run(client.stop(), timeout=5)

    bans.restart()

    assert time.time() < ends - 1, "the restart took longer than the ban: this test proves nothing"
    assert affiliation(bans, room, "bob@localhost") == "outcast"
    assert try_join(xmpp, connect("bob"), room) == "forbidden"
    lifted = wait_for_affiliation(bans, room, "bob@localhost", "member", ends + LIFT_BOUND)
    assert lifted is not None, "the timed ban did not end after the restart"
    assert lifted >= ends - 1, "lifted before until"
    assert try_join(xmpp, connect("bob", "again"), room) == "joined"


def test_a_timed_ban_that_ended_while_prosody_was_down_is_lifted_at_load(bans, post, xmpp, connect, new_room):
    room, temporary = new_room(BANS), new_room(TEMP)
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    join(xmpp, alice, temporary, "Alice")   # the temporary room lives until the crash
    set_affiliation(bans, room, "bob@localhost", "member")
    ends = ban(post, room, 3, jid="bob@localhost")
    ban(post, temporary, 3, jid="bob@localhost")
    logged_before = len(log_entries(bans.server))

    # killed, so that nothing of the module runs at shutdown (a stop destroys the emptied
    # temporary room, and its bans with it, before Prosody goes down)
    bans.restart(down_until=ends + 1.5, crash=True)
    started = time.time()

    assert wait_for_affiliation(bans, room, "bob@localhost", "member", started + LIFT_BOUND), \
        "the ban that ended while Prosody was down was not lifted at load"
    gone = wait_for_lift_line(bans, temporary, started + LIFT_BOUND)
    assert len(gone) == 1 and "the room is gone" in gone[0][2], gone
    assert stored_for(bans, room) is None and stored_for(bans, temporary) is None
    since = log_entries(bans.server)[logged_before:]
    assert not [e for e in since if e[1] == "error"], since


def test_a_room_prosody_cannot_read_from_storage_is_500_in_every_shape_and_nothing_changes(
        bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    alice = connect("alice")
    join(xmpp, alice, room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "outcast")
    xmpp.run(alice.stop(), timeout=5)
    bans.restart()   # the room is in storage only now
    logged = len(log_entries(bans.server))

    bans.fail("config get")   # mod_muc's room store: it hands out a stand-in room
    try:
        for body in ({"nickname": "Alice"}, {"jid": "alice@localhost"}, {"jid": "carol@localhost", "ban": True},
                     {"jid": "bob@localhost", "unban": True}):
            assert_json(post({"muc": room, **body}), 500, "internal-server-error")
    finally:
        bans.fail()

    errors = [e for e in log_entries(bans.server)[logged:] if e[0] == SOURCE and e[1] == "error"]
    assert len(errors) == 4 and all("could not read the room" in e[2] for e in errors), errors
    assert affiliation(bans, room, "bob@localhost") == "outcast"
    assert affiliation(bans, room, "carol@localhost") is None


def test_a_timed_ban_stored_in_the_old_one_record_per_room_format_is_carried_over_and_lifted(
        bans, post, xmpp, connect, new_room):
    room = new_room(BANS)
    join(xmpp, connect("alice"), room, "Alice")
    set_affiliation(bans, room, "bob@localhost", "outcast")
    set_affiliation(bans, room, "dave@localhost", "outcast")
    ends = int(time.time()) + 8
    old = (f'{{ ["bob@localhost"] = {{ before = "member"; ["until"] = {ends}; reason = "old"; by = "192.0.2.1" }};'
           f' ["dave@localhost"] = {{ before = "admin"; by = "192.0.2.1" }} }}')
    store = f'require"core.storagemanager".open("{BANS}", "http_muc_kick_bans")'
    output = bans.shell(f'>{store}:set("{room.split("@")[0]}", {old})')
    assert re.search(r"(Result|OK): true", output), output

    bans.restart()

    assert time.time() < ends - 1, "the restart took longer than the ban: this test proves nothing"
    assert "dave@localhost" in (stored_for(bans, room, "dave@localhost") or "")
    assert "Result: nil" in bans.shell(f'>{store}:get("{room.split("@")[0]}")'), "the old record stayed"
    lifted = wait_for_affiliation(bans, room, "bob@localhost", "member", ends + LIFT_BOUND)
    assert lifted is not None and lifted >= ends - 1, "the carried-over ban did not end on time"
    assert_json(post({"muc": room, "jid": "dave@localhost", "unban": True}), 200)
    assert affiliation(bans, room, "dave@localhost") == "admin"
