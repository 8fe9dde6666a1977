"""Fixtures of the end-to-end suite: one real Prosody 0.12 for the whole session, real XMPP clients.

One server holds every component the suite needs (support.components()); each test gets its own
client IP (X-Forwarded-For, trusted from loopback by default) so the per-IP failure lockout of one
test never reaches another, and its own room names.
"""

import itertools
import os
import re

import pytest

from harness import Occupant, Prosody, XmppLoop
from support import MUC, PLUGIN_DIR, Api, components, fresh_sessions, log_entries

USERS = (("alice", "alice-pw"), ("bob", "bob-pw"), ("carol", "carol-pw"))

_server = None  # for the failure report hook


def pytest_collection_modifyitems(config, items):
    """Tests marked run_last (module reload, whole-log checks) go to the end, in rank order."""
    def rank(item):
        marker = item.get_closest_marker("run_last")
        return marker.args[0] if marker else 0
    items.sort(key=rank)  # stable: the rest keep their order


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _server is not None and os.path.exists(_server.log_path):
        entries = [e for e in log_entries(_server) if e[1] != "debug"]
        text = "\n".join("\t".join(e) for e in entries[-25:])
        report.sections.append(("prosody log (last non-debug entries)", text))


@pytest.fixture(scope="session")
def server():
    """The one Prosody of the session, started from the main thread, always stopped and removed."""
    global _server
    if not os.path.exists(os.path.join(PLUGIN_DIR, "mod_http_muc_kick", "mod_http_muc_kick.lua")):
        pytest.exit(f"{PLUGIN_DIR} has no mod_http_muc_kick: run `make stage` first", returncode=2)
    _server = Prosody(PLUGIN_DIR, components(), users=USERS)
    try:
        yield _server
    finally:
        _server.cleanup()


@pytest.fixture(scope="session")
def xmpp():
    loop = XmppLoop()
    yield loop
    loop.close()


def _client(server, xmpp, jid, password):
    client = xmpp.run(Occupant(jid, password).start(server.c2s_port))
    return client


@pytest.fixture(scope="session")
def clients(server, xmpp):
    """Logged-in sessions: alice/desk, bob/phone, bob/laptop, and carol/home (online, in no room)."""
    started = {}
    try:
        started["alice"] = _client(server, xmpp, "alice@localhost/desk", "alice-pw")
        started["bob_phone"] = _client(server, xmpp, "bob@localhost/phone", "bob-pw")
        started["bob_laptop"] = _client(server, xmpp, "bob@localhost/laptop", "bob-pw")
        started["carol"] = _client(server, xmpp, "carol@localhost/home", "carol-pw")
        yield started
    finally:
        for client in started.values():
            try:
                xmpp.run(client.stop(), timeout=5)
            except Exception:
                pass


@pytest.fixture
def alice(clients):
    return clients["alice"]


@pytest.fixture
def bob(clients):
    return clients["bob_phone"]


@pytest.fixture
def bob_laptop(clients):
    return clients["bob_laptop"]


_ips = itertools.count(1)


def _new_ip():
    n = next(_ips)
    return f"198.18.{n // 200}.{n % 200 + 10}"


@pytest.fixture
def ip():
    """A client IP (sent as X-Forwarded-For) of this test alone, in the benchmarking range."""
    return _new_ip()


_rooms = itertools.count(1)


@pytest.fixture
def new_room(request):
    """A factory of room JIDs no other test uses: new_room() or new_room(SMALL)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:32]

    def make(host=MUC, short=False):
        n = next(_rooms)
        return f"r{n}@{host}" if short else f"r{n}-{slug}@{host}"
    return make


@pytest.fixture
def connect(server, xmpp):
    """connect("bob", "phone"): a fresh logged-in session on this module's server, stopped at the
    end of the test."""
    with fresh_sessions(xmpp, lambda: server.c2s_port) as make:
        yield make


@pytest.fixture
def api(server, ip):
    """Requests to /muc_kick from this test's IP."""
    return Api(server, ip)


@pytest.fixture
def other_api(server):
    """Requests to /muc_kick from a second IP of this test alone."""
    return Api(server, _new_ip())
