"""With mod_muc_http_auth on the same component (README: "With mod_muc_http_auth"): the community
module asks an HTTP backend, when someone joins a room, whether that account may join it (a GET
with userJID and mucJID, answered {"allowed": true|false}). Checked here, with both modules on one
component, a real backend (an HTTP server in this process whose allowed set the tests change, and
which records every question) and real clients:

- it decides only at join time: a 307 does not keep out a client that rejoins by itself unless the
  backend's list changed first;
- it asks before Prosody checks bans: a banned account's join reaches the backend, which says yes,
  and the room refuses it;
- the two refusals differ: `forbidden` by the room, `not-authorized` by the component (the error's
  `by`; both come from the occupant JID the client asked for);
- `keep` applies a change of the backend's rules to the occupants already inside.

mod_muc_http_auth is no part of this project and in no Debian package (prosody-modules on Debian
12 and 13 leave it out): the tests run where it is installed (Prosody's usual plugin folders, or
MUC_HTTP_AUTH_DIR naming a folder that holds mod_muc_http_auth.lua or mod_muc_http_auth/), and are
skipped, saying so, elsewhere.
"""

import glob
import itertools
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import HERE, Prosody, has_status, kick_details
from test_every_room import shell_result
from support import PLUGIN_DIR, assert_json, join, kick_presences, wait_kick

AUTH = "auth.localhost"
TOKEN = "Bearer httpauth-s3cret"
USERS = (("alice", "alice-pw"), ("bob", "bob-pw"), ("carol", "carol-pw"))
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
MODULE = "mod_muc_http_auth"


def _find_module():
    """The file or folder of mod_muc_http_auth Prosody would load, or None."""
    places = [os.environ.get("MUC_HTTP_AUTH_DIR"), "/usr/local/lib/prosody/modules", "/usr/lib/prosody/modules",
              *sorted(glob.glob("/var/lib/prosody/custom_plugins/share/lua/*"))]
    for place in filter(None, places):
        if os.path.isfile(os.path.join(place, MODULE, MODULE + ".lua")):
            return os.path.join(place, MODULE)
        if os.path.isfile(os.path.join(place, MODULE + ".lua")):
            return os.path.join(place, MODULE + ".lua")
    return None


FOUND = _find_module()
pytestmark = pytest.mark.skipif(
    FOUND is None, reason="mod_muc_http_auth is not installed (no Debian package ships it: prosody-modules "
                          "on Debian 12 and 13 leave it out); set MUC_HTTP_AUTH_DIR to a folder holding "
                          "mod_muc_http_auth/mod_muc_http_auth.lua to run these tests")


class Backend:
    """The HTTP backend mod_muc_http_auth asks: allowed[room] is the set of bare JIDs that may join
    room; every question is recorded as its query parameters."""

    def __init__(self):
        self.allowed = {}
        self.asked = []
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                with backend.lock:
                    backend.asked.append((url.path, query))
                    yes = query.get("userJID") in backend.allowed.get(query.get("mucJID"), ())
                body = json.dumps({"allowed": yes, "error": "" if yes else "not on the list"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/may-join"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def allow(self, room, *accounts):
        with self.lock:
            self.allowed[room] = set(accounts)

    def questions(self, room):
        """(path, userJID) of every question about room, in order."""
        with self.lock:
            return [(path, q.get("userJID")) for path, q in self.asked if q.get("mucJID") == room]

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def backend():
    instance = Backend()
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def server(backend):
    if not os.path.exists(os.path.join(PLUGIN_DIR, "mod_http_muc_kick", "occupants.lib.lua")):
        pytest.exit(f"{PLUGIN_DIR} has no mod_http_muc_kick/occupants.lib.lua: run `make stage` first", returncode=2)
    # a folder holding mod_muc_http_auth alone, so that no other module of its folder (Debian's
    # /usr/lib/prosody/modules is Prosody 0.12's own) shadows the running Prosody's
    only = tempfile.mkdtemp(prefix="muc_http_auth.")
    os.symlink(FOUND, os.path.join(only, os.path.basename(FOUND)))
    paths = ", ".join(json.dumps(os.path.abspath(p)) for p in (PLUGIN_DIR, os.path.join(HERE, "plugins"), only))
    components = f'''
Component "{AUTH}" "muc"
    modules_enabled = {{ "http_muc_kick", "muc_http_auth" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = "{TOKEN}"
    muc_http_auth_url = "{backend.url}"
'''
    instance = Prosody(PLUGIN_DIR, components, extra_global=f"plugin_paths = {{ {paths} }}", users=USERS)
    try:
        # both modules are loaded on the component, mod_muc_http_auth from the folder given here
        for name in ("http_muc_kick", "muc_http_auth"):
            path = shell_result(instance, f'return require "core.modulemanager".get_module("{AUTH}", "{name}").module.path')
            assert path.startswith(only if name == "muc_http_auth" else os.path.abspath(PLUGIN_DIR)), path
        yield instance
    finally:
        instance.cleanup()
        shutil.rmtree(only, ignore_errors=True)


@pytest.fixture
def post(api):
    return lambda body: api.post(body, token=TOKEN, host=AUTH)


def occupants(api, room):
    """The nicknames GET /muc_kick/occupants?muc=room lists, sorted."""
    response = api.call("GET", b"", token=TOKEN, host=AUTH,
                        path="/muc_kick/occupants?" + urllib.parse.urlencode({"muc": room}))
    return sorted(o["nickname"] for o in assert_json(response, 200)["occupants"])


def wait_kicks(client, room, nick, count, timeout=10):
    """Waits until client has seen count kicks (307) of room/nick."""
    deadline = time.monotonic() + timeout
    while len(kick_presences(client, room, nick)) < count:
        assert time.monotonic() < deadline, f"{len(kick_presences(client, room, nick))} kicks of {nick}, not {count}"
        time.sleep(0.05)


_rooms = itertools.count(1)


def new_room():
    return f"a{next(_rooms)}@{AUTH}"


def try_join(xmpp, client, room, nick):
    """The presence answering client's join of room as nick: its own presence (status 110) or an error."""
    occupant = f"{room}/{nick}"

    async def attempt():
        before = len(client.presences)
        presence = client.make_presence(pto=occupant)
        presence.append(ET.Element("{http://jabber.org/protocol/muc}x"))
        presence.send()
        return await client.wait_for(lambda p: p in client.presences[before:] and p.get("from") == occupant
                                     and (p.get("type") == "error" or has_status(p, "110")))
    return xmpp.run(attempt())


def refusal(presence):
    """(from, error type, error by, condition) of an error presence; None for a successful join."""
    if presence.get("type") != "error":
        assert has_status(presence, "110"), ET.tostring(presence)
        return None
    error = next(child for child in presence if child.tag.split("}")[-1] == "error")
    conditions = [c.tag for c in error if c.tag.startswith(f"{{{STANZAS}}}") and not c.tag.endswith("}text")]
    assert len(conditions) == 1, ET.tostring(presence)
    return presence.get("from"), error.get("type"), error.get("by"), conditions[0].split("}")[1]


def test_a_kicked_client_that_rejoins_is_let_back_in_unless_the_backend_changed_its_list_first(
        backend, connect, post, xmpp):
    room = new_room()
    backend.allow(room, "alice@localhost", "bob@localhost")
    alice, bob = connect("alice"), connect("bob", "phone")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")

    # kick first, list after: the client rejoining by itself right away is asked about and let in
    assert assert_json(post({"muc": room, "nickname": "Bob", "reason": "out"}), 200) == {"muc": room, "kicked": ["Bob"]}
    wait_kick(xmpp, bob, room, "Bob")
    assert refusal(try_join(xmpp, bob, room, "Bob")) is None
    assert backend.questions(room)[-1] == ("/may-join", "bob@localhost")

    # list first, kick after: the rejoin is refused by the component
    backend.allow(room, "alice@localhost")
    assert assert_json(post({"muc": room, "nickname": "Bob", "reason": "out"}), 200) == {"muc": room, "kicked": ["Bob"]}
    wait_kicks(bob, room, "Bob", 2)
    asked = len(backend.questions(room))
    assert refusal(try_join(xmpp, bob, room, "Bob")) == (f"{room}/Bob", "auth", AUTH, "not-authorized")
    assert backend.questions(room)[asked:] == [("/may-join", "bob@localhost")]
    assert assert_json(post({"muc": room, "nickname": "Bob"}), 404, "item-not-found")


def test_a_banned_accounts_join_is_asked_about_and_allowed_by_the_backend_then_refused_by_the_room(
        api, backend, connect, post, xmpp):
    room = new_room()
    backend.allow(room, "alice@localhost", "bob@localhost")
    alice, bob = connect("alice"), connect("bob", "phone")
    join(xmpp, alice, room, "Alice")
    body = assert_json(post({"muc": room, "jid": "bob@localhost", "ban": True}), 200)
    assert body == {"muc": room, "kicked": [], "banned": "bob@localhost", "until": None}

    asked = len(backend.questions(room))
    answer = try_join(xmpp, bob, room, "Bob")

    assert refusal(answer) == (f"{room}/Bob", "auth", room, "forbidden")
    # the backend was asked, and said yes: its log holds a join that never happened
    assert backend.questions(room)[asked:] == [("/may-join", "bob@localhost")]
    assert occupants(api, room) == ["Alice"]


def test_a_ban_refusal_is_forbidden_by_the_room_and_a_backend_refusal_not_authorized_by_the_component(
        backend, connect, post, xmpp):
    room = new_room()
    backend.allow(room, "alice@localhost", "bob@localhost")
    alice, bob, carol = connect("alice"), connect("bob", "phone"), connect("carol")
    join(xmpp, alice, room, "Alice")
    assert assert_json(post({"muc": room, "jid": "bob@localhost", "ban": True}), 200)["banned"] == "bob@localhost"

    banned = try_join(xmpp, bob, room, "Bob")
    refused = try_join(xmpp, carol, room, "Carol")

    assert refusal(banned) == (f"{room}/Bob", "auth", room, "forbidden")
    assert refusal(refused) == (f"{room}/Carol", "auth", AUTH, "not-authorized")
    # a banned account the backend refuses too never reaches the ban check: not-authorized
    backend.allow(room, "alice@localhost")
    assert refusal(try_join(xmpp, bob, room, "Bob2")) == (f"{room}/Bob2", "auth", AUTH, "not-authorized")


def test_keep_applies_a_change_of_the_backends_list_to_the_occupants_already_inside(
        api, backend, connect, post, xmpp):
    room = new_room()
    backend.allow(room, "alice@localhost", "bob@localhost", "carol@localhost")
    alice, bob, carol = connect("alice"), connect("bob", "phone"), connect("carol")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    join(xmpp, carol, room, "Carol")

    # the rules change: bob may no longer be there; nobody inside is asked again
    asked = len(backend.questions(room))
    backend.allow(room, "alice@localhost", "carol@localhost")
    time.sleep(0.3)
    assert backend.questions(room)[asked:] == [] and not kick_presences(alice, room, "Bob")

    response = post({"muc": room, "keep": sorted(backend.allowed[room]), "reason": "Rules changed"})

    assert assert_json(response, 200) == {"muc": room, "kicked": ["Bob"], "kept": ["Alice", "Carol"],
                                          "dry_run": False}
    for seen_by in (bob, alice, carol):
        assert kick_details(wait_kick(xmpp, seen_by, room, "Bob"))[:2] == ("none", "Rules changed")
    time.sleep(0.2)
    assert not kick_presences(alice, room, "Alice") and not kick_presences(alice, room, "Carol")
    assert refusal(try_join(xmpp, bob, room, "Bob")) == (f"{room}/Bob", "auth", AUTH, "not-authorized")
    assert occupants(api, room) == ["Alice", "Carol"]
