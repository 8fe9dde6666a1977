"""openapi.yaml against the live module: schemathesis (from PyPI, in a venv under target/) with
every check, plus the claims schemathesis cannot check alone (exact ASCII patterns, the 405).

The main run fuzzes nolock.localhost, the same module with the failure lockout off: on
muc.localhost the fuzzer's deliberate requests without Authorization lock its IP out within
seconds, and every later case would be a 429 that tests nothing else. A short second run on
small.localhost (64-byte bodies, 3 failures) meets the size limit and then walks into the
lockout on purpose, so 413s and 429s are checked too.
"""

import asyncio
import fcntl
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import Occupant
from support import NOLOCK, NOLOCK_TOKEN, ROOT, SMALL, SMALL_TOKEN, Api

VENV = os.path.join(ROOT, "target", "schemathesis-venv")
# The generator and the validator decide what is tested: pin them together.
REQUIREMENTS = ("schemathesis==4.32.5", "hypothesis==6.170.17", "jsonschema_rs==0.60.3")
SPEC = os.path.join(ROOT, "openapi.yaml")
MIN_CASES = 300
FUZZ_IP = "198.51.100.80"     # addresses no other test uses: no other test's lockout moves
LOCKOUT_IP = "198.51.100.81"
EXACT_IP = "198.51.100.82"
ROOM = f"openapi@{NOLOCK}"
NICK = "Bob"                  # the nickname of openapi.yaml's examples, which the fuzzer reuses
MISSING_ROOM = f"nosuchroom@{NOLOCK}"

CONFIG = """
[generation]
# openapi.yaml's patterns are exact for ASCII; beyond it Prosody's stringprep decides (see there)
codec = "ascii"
database = "none"

[auth.openapi.configuredAuthorization]
api_key = "{token}"

[checks.negative_data_rejection]
# 404 would mean the module took a schema-invalid body as valid and looked the room up
expected-statuses = ["400", "401", "413", "429"]

[checks.positive_data_acceptance]
# 403: the room refuses a ban or an unban; 404: no such room, occupant or ban (most generated
# requests); 409: a ban or unban that would act on a whole domain; 413: a valid body over the
# size limit
expected-statuses = ["200", "401", "403", "404", "409", "413", "429"]

[phases.coverage]
# Not QUERY (nor PROPFIND...): Prosody cannot route it and answers with its own HTML 404
unexpected-methods = ["get", "put", "delete", "patch", "trace", "options"]

# A form-exploded query cannot carry a nested value: a generated "invalid" query whose muc is
# an object (Y: null) beside a valid jid goes out as jid=...&muc[Y]=null, a parameter of another name
# that the module rightly ignores, and answers 200. The views' 400s are checked one by one in
# test_views.py instead.
[[operations]]
include-path-regex = "^/muc_kick/(occupants|bans)$"
checks.negative_data_rejection.enabled = false
"""

# Some fuzzed kicks name the room of a real occupant (see the occupant fixture). Fuzzing only: in
# the coverage phase schemathesis 4.32 also puts the entry over a field it made invalid on purpose.
REAL_ROOM = """
[dictionaries.rooms]
values = ["{room}"]

[parameters]
"body.muc" = {{ dictionary = "rooms", probability = 0.3 }}
"""

# Reads [pointer into openapi.yaml, instance] pairs on stdin; prints whether each instance is valid.
VALIDATE = """
import functools, json, sys, yaml, jsonschema_rs
components = yaml.safe_load(open(sys.argv[1]))["components"]
validator = functools.cache(
    lambda pointer: jsonschema_rs.Draft202012Validator({"$ref": "#" + pointer, "components": components}))
print(json.dumps([validator(pointer).is_valid(instance) for pointer, instance in json.load(sys.stdin)]))
"""


@pytest.fixture(scope="session")
def venv():
    """target/schemathesis-venv with REQUIREMENTS, made once and remade when they change."""
    marker = os.path.join(VENV, "requirements.txt")
    wanted = "\n".join(REQUIREMENTS) + "\n"
    os.makedirs(os.path.dirname(VENV), exist_ok=True)
    with open(VENV + ".lock", "w") as lock:   # make test runs two suites at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (os.path.exists(marker) and open(marker).read() == wanted):
            subprocess.run([sys.executable, "-m", "venv", "--clear", VENV], check=True, timeout=120)
            subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", *REQUIREMENTS],
                           check=True, timeout=600)
            with open(marker, "w") as f:
                f.write(wanted)
    return os.path.join(VENV, "bin")


def schemathesis(venv, tmp_path, server, host, token, ip, phases, max_time, examples=MIN_CASES):
    """Runs the CLI against the live server, every check on (schemathesis' default; `--checks all`
    would also override the per-operation setting of CONFIG); returns (exit code, output)."""
    config = tmp_path / "schemathesis.toml"
    config.write_text((CONFIG + (REAL_ROOM if phases == "fuzzing" else "")).format(token=token, room=ROOM))
    command = [
        os.path.join(venv, "schemathesis"), "--config-file", str(config), "run", SPEC,
        "--url", f"http://127.0.0.1:{server.http_port}",
        "--header", f"Host: {host}",
        "--header", f"X-Forwarded-For: {ip}",
        "--phases", phases,
        "--max-examples", str(examples),
        "--max-time", str(max_time),
        "--request-timeout", "10",
        "--no-color",
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                          timeout=max_time + 60)
    return done.returncode, done.stdout + done.stderr


def generated_cases(output):
    match = re.search(r"(\d+) generated", output)
    return int(match.group(1)) if match else 0


def valid(venv, pairs):
    """Whether each instance is valid against the schema at its pointer in openapi.yaml."""
    done = subprocess.run([os.path.join(venv, "python"), "-c", VALIDATE, SPEC], input=json.dumps(pairs),
                          capture_output=True, text=True, check=True, timeout=60)
    return json.loads(done.stdout)


@pytest.fixture
def occupant(server, xmpp):
    """NICK in ROOM, back (unbanned) each time it is kicked or banned; returns a count of those.

    Another account creates the room and stays its owner, so that banning NICK is allowed.
    """
    clients = []
    for user in ("fuzzowner", "fuzzed"):
        server.prosodyctl("register", user, "localhost", f"{user}-pw")
        clients.append(xmpp.run(Occupant(f"{user}@localhost/openapi", f"{user}-pw").start(server.c2s_port)))
    owner, client = clients
    xmpp.run(owner.join(ROOM, "Owner"))
    xmpp.run(client.join(ROOM, NICK))
    unban = {"muc": ROOM, "jid": "fuzzed@localhost", "unban": True}
    api = Api(server, EXACT_IP)

    def removals():
        return sum(1 for p in client.presences
                   if p.get("from") == f"{ROOM}/{NICK}" and p.get("type") == "unavailable")

    stop = asyncio.Event()

    async def come_back():
        seen = 0
        while not stop.is_set():
            if removals() > seen:
                seen = removals()
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: api.post(unban, host=NOLOCK, token=NOLOCK_TOKEN))
                await client.join(ROOM, NICK)
            client.changed.clear()
            try:
                await asyncio.wait_for(client.changed.wait(), 0.2)
            except asyncio.TimeoutError:
                pass

    task = asyncio.run_coroutine_threadsafe(come_back(), xmpp.loop)
    try:
        yield removals
    finally:
        xmpp.loop.call_soon_threadsafe(stop.set)
        task.result(10)
        api.post(unban, host=NOLOCK, token=NOLOCK_TOKEN)
        for each in clients:
            xmpp.run(each.stop(), timeout=5)


def test_openapi_yaml_holds_for_its_examples_and_every_boundary(venv, tmp_path, server):
    code, output = schemathesis(venv, tmp_path, server, NOLOCK, NOLOCK_TOKEN, FUZZ_IP,
                                phases="examples,coverage", max_time=20)
    assert code == 0, output


def test_openapi_yaml_holds_for_every_generated_request(venv, tmp_path, server, occupant):
    code, output = schemathesis(venv, tmp_path, server, NOLOCK, NOLOCK_TOKEN, FUZZ_IP,
                                phases="fuzzing", max_time=30)
    assert code == 0, output
    assert generated_cases(output) >= MIN_CASES, output
    assert occupant() > 0, "the fuzzer never kicked the real occupant:\n" + output


def test_openapi_yaml_holds_through_the_size_limit_and_the_lockout(venv, tmp_path, server):
    """small.localhost: 64-byte bodies, locked out after 3 failures, so 413 and 429 come quickly."""
    code, output = schemathesis(venv, tmp_path, server, SMALL, SMALL_TOKEN, LOCKOUT_IP,
                                phases="examples,coverage,fuzzing", max_time=30, examples=50)
    assert code == 0, output
    locked = Api(server, LOCKOUT_IP).post({}, host=SMALL, token=SMALL_TOKEN)
    assert locked.status == 429, f"the run never reached the lockout ({locked}):\n{output}"


def _probe_bodies():
    """Each ASCII character at each place of each field, and the length and dot edges, by label."""
    bodies = {}
    for code in range(128):
        c = chr(code)
        for label, body in {
            "muc node": {"muc": f"r{c}x@{NOLOCK}", "jid": "a@b"},
            "muc domain": {"muc": f"r@x{c}y", "jid": "a@b"},
            "muc domain alone": {"muc": f"r@{c}", "jid": "a@b"},
            "nickname": {"muc": MISSING_ROOM, "nickname": f"a{c}b"},
            "jid node": {"muc": MISSING_ROOM, "jid": f"a{c}b@localhost"},
            "jid domain": {"muc": MISSING_ROOM, "jid": f"ab@x{c}y"},
            "jid domain alone": {"muc": MISSING_ROOM, "jid": c},
            "jid resource": {"muc": MISSING_ROOM, "jid": f"ab@localhost/x{c}y"},
            "reason": {"muc": MISSING_ROOM, "nickname": "a", "reason": f"a{c}b"},
        }.items():
            bodies[f"{label} {c!r}"] = body
    # hyphens in a label's third and fourth places: IDNA refuses them but in an A-label (xn--)
    for domain in (".", "..", "...", ".x", "x.", "x..", "-", "0", "a" * 1023, "a" * 1024,
                   "ab--c", "x.3d--gc20s.y", "a--b", "abc--d", "xn--bcher-kva", "x.XN--bcher-kva"):
        shown = repr(domain) if len(domain) < 10 else f"of {len(domain)}"
        bodies[f"muc domain {shown}"] = {"muc": f"r@{domain}", "jid": "a@b"}
        bodies[f"jid domain {shown}"] = {"muc": MISSING_ROOM, "jid": f"a@{domain}/r"}
    for length in (1023, 1024):
        bodies[f"muc node of {length}"] = {"muc": f"{'n' * length}@{NOLOCK}", "jid": "a@b"}
        bodies[f"nickname of {length}"] = {"muc": MISSING_ROOM, "nickname": "n" * length}
        bodies[f"jid resource of {length}"] = {"muc": MISSING_ROOM, "jid": f"a@b/{'r' * length}"}
    return bodies


def test_openapi_yaml_patterns_are_exact_for_ascii(venv, server):
    """What the schema calls valid is exactly what the module takes (404: looked up), for ASCII."""
    bodies = _probe_bodies()
    verdicts = valid(venv, [["/components/schemas/KickRequest", body] for body in bodies.values()])
    api = Api(server, EXACT_IP)
    with ThreadPoolExecutor(8) as pool:
        statuses = pool.map(lambda body: api.post(body, host=NOLOCK, token=NOLOCK_TOKEN).status,
                            bodies.values())
    wrong = []
    for label, schema_valid, status in zip(bodies, verdicts, statuses):
        if status != (404 if schema_valid else 400):
            wrong.append(f"{label}: schema says {'valid' if schema_valid else 'invalid'}, module {status}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "TRACE"])
def test_other_methods_get_the_documented_405(venv, server, method):
    response = Api(server, EXACT_IP).call(method, json.dumps({"muc": ROOM, "nickname": NICK}))
    declared = "/components/responses/MethodNotAllowed"
    assert response.status == 405, response
    assert valid(venv, [
        [f"{declared}/content/application~1json/schema", response.json()],
        ["/components/headers/Allow/schema", response.header("allow")],
    ]) == [True, True], response.headers
    assert response.header("content-type") == "application/json"


@pytest.mark.parametrize("path", ["occupants", "bans"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_other_methods_on_the_views_get_the_documented_405(venv, server, method, path):
    response = Api(server, EXACT_IP).call(method, b"", path=f"/muc_kick/{path}?muc={ROOM}")
    declared = "/components/responses/ViewMethodNotAllowed"
    assert response.status == 405, response
    assert valid(venv, [
        [f"{declared}/content/application~1json/schema", response.json()],
        ["/components/headers/AllowViews/schema", response.header("allow")],
    ]) == [True, True], response.headers


def test_the_views_of_a_real_room_match_their_documented_bodies(venv, server, occupant):
    api = Api(server, EXACT_IP)
    banned = api.post({"muc": ROOM, "jid": "someone@localhost", "ban": 60, "reason": "r"},
                      host=NOLOCK, token=NOLOCK_TOKEN)
    assert banned.status == 200, banned
    views = {}
    for schema, path in (("OccupantsView", f"occupants?muc={ROOM}"),
                         ("OccupantsView", "occupants?jid=fuzzed@localhost"),
                         ("BansView", f"bans?muc={ROOM}")):
        response = api.call("GET", b"", host=NOLOCK, token=NOLOCK_TOKEN, path=f"/muc_kick/{path}")
        assert response.status == 200, response
        views[path] = (schema, response.json())
    assert valid(venv, [[f"/components/schemas/{schema}", body] for schema, body in views.values()]) \
        == [True] * len(views), views
    # the documents are not empty: the schema is checked against real entries
    assert all(any(body.get(key) for key in ("occupants", "rooms", "bans")) for _, body in views.values()), views
    api.post({"muc": ROOM, "jid": "someone@localhost", "unban": True}, host=NOLOCK, token=NOLOCK_TOKEN)
