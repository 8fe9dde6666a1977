"""openapi.yaml against the live module: schemathesis (from PyPI, in a venv under target/) with
every check, on a real occupant that the fuzzer can find and kick.

Two runs. The main one fuzzes nolock.localhost (the same module with the failure lockout off):
on muc.localhost the fuzzer's deliberate requests without Authorization lock its IP out within
seconds, and every later case would be a 429 that tests nothing else. A short second run on
muc.localhost then walks into that lockout on purpose, so its 401s and 429s are checked too.
"""

import asyncio
import os
import re
import subprocess
import sys

import pytest

from harness import Occupant, kick_presence_from
from support import MUC, NOLOCK, NOLOCK_TOKEN, ROOT, TOKEN, Api

VENV = os.path.join(ROOT, "target", "schemathesis-venv")
SCHEMATHESIS = os.path.join(VENV, "bin", "schemathesis")
# The generator and the validators decide what is tested: pin them together.
REQUIREMENTS = ("schemathesis==4.32.5", "hypothesis==6.170.17", "jsonschema_rs==0.60.3")
SPEC = os.path.join(ROOT, "openapi.yaml")
MIN_CASES = 300
FUZZ_IP = "198.51.100.80"     # addresses no other test uses, so no other test's lockout moves
LOCKOUT_IP = "198.51.100.81"
ROOM = f"openapi@{NOLOCK}"
NICK = "Bob"   # the nickname of openapi.yaml's example, which the fuzzer reuses

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
# 404: no such room or occupant (most generated rooms); 413: a valid body over the size limit
expected-statuses = ["200", "401", "404", "413", "429"]

[phases.coverage]
# QUERY, PROPFIND...: Prosody cannot route them and answers with its own HTML 404
unexpected-methods = ["get", "put", "delete", "patch", "trace", "options"]

# Some generated kicks name the room of a real occupant (see the occupant fixture)
[dictionaries.rooms]
values = ["{room}"]

[parameters]
"body.muc" = {{ dictionary = "rooms", probability = 0.3 }}
"""


def ensure_schemathesis():
    marker = os.path.join(VENV, "requirements.txt")
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if os.path.exists(marker) and open(marker).read() == wanted:
        return
    subprocess.run([sys.executable, "-m", "venv", "--clear", VENV], check=True, timeout=120)
    subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "-q", *REQUIREMENTS],
                   check=True, timeout=600)
    with open(marker, "w") as f:
        f.write(wanted)


def schemathesis(tmp_path, server, host, token, ip, max_time, examples):
    """Runs the CLI against the live server; returns (exit code, output)."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(token=token, room=ROOM))
    command = [
        SCHEMATHESIS, "--config-file", str(config), "run", SPEC,
        "--url", f"http://127.0.0.1:{server.http_port}",
        "--header", f"Host: {host}",
        "--header", f"X-Forwarded-For: {ip}",
        "--checks", "all",
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


@pytest.fixture
def occupant(server, xmpp):
    """NICK in ROOM, joining again each time it is kicked, until the test ends."""
    server.prosodyctl("register", "fuzzed", "localhost", "fuzzed-pw")
    client = xmpp.run(Occupant("fuzzed@localhost/openapi", "fuzzed-pw").start(server.c2s_port))
    xmpp.run(client.join(ROOM, NICK))
    stop = []

    async def rejoin_after_kicks():
        kicked = kick_presence_from(f"{ROOM}/{NICK}")
        seen = 0
        while not stop:
            count = sum(1 for p in client.presences if kicked(p))
            if count > seen:
                seen = count
                await client.join(ROOM, NICK)
            client.changed.clear()
            try:
                await asyncio.wait_for(client.changed.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
        return seen

    task = asyncio.run_coroutine_threadsafe(rejoin_after_kicks(), xmpp.loop)
    try:
        yield lambda: sum(1 for p in client.presences if kick_presence_from(f"{ROOM}/{NICK}")(p))
    finally:
        stop.append(True)
        task.result(10)
        xmpp.run(client.stop(), timeout=5)


def test_openapi_yaml_holds_for_every_generated_request(tmp_path, server, occupant):
    ensure_schemathesis()
    code, output = schemathesis(tmp_path, server, NOLOCK, NOLOCK_TOKEN, FUZZ_IP,
                                max_time=45, examples=MIN_CASES)
    assert code == 0, output
    assert generated_cases(output) >= MIN_CASES, output
    assert occupant() > 0, "the fuzzer never kicked the real occupant:\n" + output


def test_openapi_yaml_holds_through_the_failure_lockout(tmp_path, server):
    ensure_schemathesis()
    code, output = schemathesis(tmp_path, server, MUC, TOKEN, LOCKOUT_IP, max_time=8, examples=50)
    assert code == 0, output
    locked = Api(server, LOCKOUT_IP).post({"muc": ROOM, "nickname": NICK})
    assert locked.status == 429, f"the run never reached the lockout ({locked}):\n{output}"
