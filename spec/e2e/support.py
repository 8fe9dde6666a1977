"""Constants, the server's components and assertions shared by the e2e test files."""

import contextlib
import json
import os
import re

import pytest

from harness import Occupant, Prosody, kick_presence_from

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# E2E_PLUGIN_DIR runs the suite against another build (e.g. a deliberately broken one, to see a
# test fail); `make stage` installs into the default.
PLUGIN_DIR = os.environ.get("E2E_PLUGIN_DIR") or os.path.join(ROOT, "target", "plugins")

MUC = "muc.localhost"            # the module, two accepted tokens, default limits (+ a watcher)
SMALL = "small.localhost"        # the module, max_body_size 64, max_auth_failures 3
NOLOCK = "nolock.localhost"      # the module, max_auth_failures 0 (lockout off)
SCHEMES = "schemes.localhost"    # the module, tokens of several schemes
RAISE = "raise.localhost"        # the module + a muc-occupant-left hook that raises
OTHER = "other.localhost"        # a MUC component without the module
PERSIST = "persist.localhost"    # the module, rooms persistent by default
DUP = "dup.localhost"            # the module, the same value configured twice
ODD = "odd.localhost"            # the module, values whose first word is not an HTTP token
FLOATS = "floats.localhost"      # the module, numeric options written as whole-number floats

TOKEN = "Bearer s3cret"
OLD_TOKEN = "Bearer old-s3cret"
SMALL_TOKEN = "Bearer small-s3cret"
NOLOCK_TOKEN = "Bearer nolock-s3cret"
RAISE_TOKEN = "Bearer raise-s3cret"
SCHEMES_TOKENS = ("Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Bearer schemes-s3cret",
                  "schemes-bare-s3cret", "Bearer schemes-other-s3cret")
PERSIST_TOKEN = "Bearer persist-s3cret"
DUP_TOKEN = "Bearer dup-s3cret"
ODD_TOKENS = ("a/b odd-s3cret", "[x] odd-two-s3cret", "Basic odd-basic-s3cret")
FLOATS_TOKEN = "Bearer floats-s3cret"
SMALL_LIMIT = 64
SMALL_FAILURES = 3
FLOATS_BODY_SIZE = ("1024.0", 1024)    # (as configured, as enforced)
FLOATS_FAILURES = ("1e1", 10)

# Components whose module must refuse to load: host -> the option line (None: option absent).
REFUSED = {
    "refuse-missing.localhost": None,
    "refuse-empty-string.localhost": '""',
    "refuse-empty-list.localhost": "{}",
    "refuse-list-of-empty.localhost": '{ "" }',
    "refuse-list-with-empty.localhost": '{ "Bearer refused-one-s3cret", "" }',
    "refuse-number.localhost": "12345",
    "refuse-boolean.localhost": "true",
    "refuse-list-with-number.localhost": '{ "Bearer refused-two-s3cret", 42 }',
    "refuse-trailing-space.localhost": '"Bearer refused-three-s3cret "',
    "refuse-trailing-tab.localhost": '{ "Bearer refused-ok-s3cret", "Bearer refused-four-s3cret\\t" }',
}
# Components whose module must refuse to load for a numeric option: host -> (option, value).
REFUSED_NUMBERS = {
    "refuse-fraction.localhost": ("http_muc_kick_max_body_size", "1024.5"),
    "refuse-negative.localhost": ("http_muc_kick_max_auth_failures", "-1"),
}
REFUSED_NUMBERS_TOKEN = "Bearer refused-numbers-s3cret"
REFUSED_SECRETS = ("refused-one-s3cret", "refused-two-s3cret", "refused-three-s3cret",
                   "refused-four-s3cret", "refused-ok-s3cret", "refused-numbers-s3cret")

# Every configured secret: none may ever show up in a response or in the log.
SECRETS = (TOKEN, OLD_TOKEN, SMALL_TOKEN, NOLOCK_TOKEN, RAISE_TOKEN, *SCHEMES_TOKENS,
           PERSIST_TOKEN, DUP_TOKEN, *ODD_TOKENS, FLOATS_TOKEN)


def _lua_list(values):
    return "{ " + ", ".join(json.dumps(v) for v in values) + " }"


def components():
    parts = [f'''
Component "{MUC}" "muc"
    modules_enabled = {{ "http_muc_kick", "e2e_watch_leave" }}
    muc_room_locking = false
    muc_room_cache_size = 2000
    http_muc_kick_authorization_header = {_lua_list([TOKEN, OLD_TOKEN])}

Component "{SMALL}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = "{SMALL_TOKEN}"
    http_muc_kick_max_body_size = {SMALL_LIMIT}
    http_muc_kick_max_auth_failures = {SMALL_FAILURES}

Component "{NOLOCK}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = "{NOLOCK_TOKEN}"
    http_muc_kick_max_auth_failures = 0

Component "{SCHEMES}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = {_lua_list(SCHEMES_TOKENS)}

Component "{RAISE}" "muc"
    modules_enabled = {{ "http_muc_kick", "e2e_raise_on_leave" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = "{RAISE_TOKEN}"

Component "{OTHER}" "muc"
    muc_room_locking = false

Component "{PERSIST}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    muc_room_default_persistent = true
    http_muc_kick_authorization_header = "{PERSIST_TOKEN}"

Component "{DUP}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = {_lua_list([DUP_TOKEN, DUP_TOKEN])}

Component "{ODD}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = {_lua_list(ODD_TOKENS)}

Component "{FLOATS}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = "{FLOATS_TOKEN}"
    http_muc_kick_max_body_size = {FLOATS_BODY_SIZE[0]}
    http_muc_kick_max_auth_failures = {FLOATS_FAILURES[0]}
''']
    for host, value in REFUSED.items():
        option = "" if value is None else f"\n    http_muc_kick_authorization_header = {value}"
        parts.append(f'''
Component "{host}" "muc"
    modules_enabled = {{ "http_muc_kick" }}{option}
''')
    for host, (option, value) in REFUSED_NUMBERS.items():
        parts.append(f'''
Component "{host}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    http_muc_kick_authorization_header = "{REFUSED_NUMBERS_TOKEN}"
    {option} = {value}
''')
    return "".join(parts)


class Api:
    """POSTs (and other methods) to /muc_kick from one client IP, with response checks."""

    def __init__(self, server, ip):
        self.server = server
        self.ip = ip

    def call(self, method, body=b"", token=TOKEN, host=MUC, headers=None, ip=None, path="/muc_kick"):
        sent = [("X-Forwarded-For", ip or self.ip)]
        if token is not None:
            sent.append(("Authorization", token))
        if headers:
            sent.extend(headers.items() if hasattr(headers, "items") else headers)
        response = self.server.request(method, body, sent, host=host, path=path)
        for secret in SECRETS:
            assert secret not in response.body, f"response body carries a configured value: {response}"
            for name, value in response.headers.items():
                assert secret not in value, f"header {name} carries a configured value"
        return response

    def post(self, body, **kwargs):
        return self.call("POST", body, **kwargs)

    def kick(self, room, nickname, **kwargs):
        return self.post({"muc": room, "nickname": nickname}, **kwargs)


# Assertions and helpers shared by the test files


def assert_json(response, status, condition=None):
    """SPEC: every response has Content-Type application/json and a JSON object body."""
    assert response.status == status, response
    content_type = response.header("content-type") or ""
    assert content_type.split(";")[0].strip() == "application/json", response.headers
    body = response.json()
    assert isinstance(body, dict), body
    if condition is not None:
        assert body.get("condition") == condition, body
        assert isinstance(body.get("error"), str) and body["error"], body
    return body


def is_module_json(response):
    """Whether a response looks like one of the module's JSON bodies."""
    try:
        return "condition" in response.json() or "kicked" in response.json()
    except ValueError:
        return False


def join(xmpp, client, room, nick):
    xmpp.run(client.join(room, nick))


def wait_kick(xmpp, client, room, nick):
    """The presence of `client` telling it room/nick was kicked (unavailable + 307)."""
    return xmpp.run(client.wait_for(kick_presence_from(f"{room}/{nick}")))


def kick_presences(client, room, nick):
    return [p for p in client.presences if kick_presence_from(f"{room}/{nick}")(p)]


def assert_still_there(api, xmpp, client, room, nick, reason=None, host=MUC, token=TOKEN):
    """Proves nick was still in room: a valid kick now finds it, and it is its only kick."""
    body = {"muc": room, "nickname": nick}
    if reason is not None:
        body["reason"] = reason
    response = api.post(body, host=host, token=token)
    assert assert_json(response, 200) == {"muc": room, "kicked": [nick]}, response
    presence = wait_kick(xmpp, client, room, nick)
    assert len(kick_presences(client, room, nick)) == 1
    return presence


def log_entries(server):
    """The log as (source, level, message) triples; continuation lines join their entry."""
    entries = []
    for line in server.log().splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3 and re.match(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d ", parts[0]):
            entries.append([parts[0][16:], parts[1], parts[2]])
        elif entries:
            entries[-1][2] += "\n" + line
    return [tuple(e) for e in entries]


def entries_with_ip(server, ip, source=None):
    pattern = re.compile(r"(?<![\d.])" + re.escape(ip) + r"(?![\d.])")
    return [e for e in log_entries(server)
            if pattern.search(e[2]) and (source is None or e[0] == source)]


@contextlib.contextmanager
def fresh_sessions(xmpp, c2s_port):
    """make(user, resource): a fresh logged-in session on the server whose port c2s_port() gives
    now (a test may restart it); every one is stopped on leaving."""
    started = []

    def make(user, resource="desk"):
        client = xmpp.run(Occupant(f"{user}@localhost/{resource}", f"{user}-pw").start(c2s_port()))
        started.append(client)
        return client
    try:
        yield make
    finally:
        for client in started:
            try:
                xmpp.run(client.stop(), timeout=5)
            except Exception:
                pass


def serve(components, users):
    """The body of a module-scoped `server` fixture: a Prosody of the test file's own, cleaned up."""
    if not os.path.exists(os.path.join(PLUGIN_DIR, "mod_http_muc_kick", "occupants.lib.lua")):
        pytest.exit(f"{PLUGIN_DIR} has no mod_http_muc_kick/occupants.lib.lua: run `make stage` first", returncode=2)
    instance = Prosody(PLUGIN_DIR, components, users=users)
    try:
        yield instance
    finally:
        instance.cleanup()
